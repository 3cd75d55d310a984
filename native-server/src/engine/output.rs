//! What happens to each sampled token on its way to the client: EOS check, special-token hiding, incremental
//! detokenization, stop strings, tool-call parsing, events. Independent of the model, so it is tested alone.

use super::chat::Prompter;
use super::detok::Detokenizer;
use super::stop::{StopMatcher, StopOutcome};
use super::tools::ToolStream;
use super::{Event, FinishReason, Usage};

pub struct Output {
    detok: Detokenizer,
    stop: StopMatcher,
    tools: ToolStream,
    ignore_eos: bool,
    pub events: tokio::sync::mpsc::UnboundedSender<Event>,
}

impl Output {
    pub fn new(stop: Vec<String>, tools: bool, ignore_eos: bool, events: tokio::sync::mpsc::UnboundedSender<Event>) -> Self {
        Self { detok: Detokenizer::new(), stop: StopMatcher::new(stop), tools: ToolStream::new(tools), ignore_eos, events }
    }

    fn send(&self, text: String) {
        if !text.is_empty() {
            let _ = self.events.send(Event::Content(text));
        }
    }

    /// Visible text through stop strings and the tool parser; true when a stop string matched.
    fn emit(&mut self, text: String) -> bool {
        let (t, stopped) = match self.stop.push(&text) {
            StopOutcome::Continue(t) => (t, false),
            StopOutcome::Stopped(t) => (t, true),
        };
        let out = self.tools.push(&t);
        self.send(out);
        stopped
    }

    /// Handles one generated token; `Some(reason)` when the sequence should end here (events already sent).
    pub fn token(&mut self, p: &Prompter, tok: u32, usage: &Usage) -> Option<FinishReason> {
        if !self.ignore_eos && p.eos_ids.contains(&tok) {
            return Some(self.finish(p, FinishReason::Stop, false, usage));
        }
        if !p.hidden_ids.contains(&tok) {
            if let Some(text) = self.detok.push(&p.tokenizer, tok) {
                if self.emit(text) {
                    return Some(self.finish(p, FinishReason::Stop, true, usage));
                }
            }
        }
        None
    }

    /// Flushes held-back text, parses tool calls, sends Done; returns the final finish reason.
    pub fn finish(&mut self, p: &Prompter, mut reason: FinishReason, stopped_by_string: bool, usage: &Usage) -> FinishReason {
        if !stopped_by_string {
            if let Some(text) = self.detok.flush(&p.tokenizer) {
                if self.emit(text) {
                    reason = FinishReason::Stop;
                }
            }
            let rest = self.stop.flush();
            let out = self.tools.push(&rest);
            self.send(out);
        }
        let (rest, calls) = self.tools.finish();
        self.send(rest);
        if !calls.is_empty() {
            reason = FinishReason::ToolCalls;
            let _ = self.events.send(Event::ToolCalls(calls));
        }
        let _ = self.events.send(Event::Done { finish_reason: reason, usage: usage.clone() });
        reason
    }
}
