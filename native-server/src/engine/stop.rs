//! Stop strings over streamed text: holds back any tail that could still become a stop string.

pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

pub enum StopOutcome {
    /// Text safe to emit now.
    Continue(String),
    /// A stop string matched: emit this text (everything before it) and finish.
    Stopped(String),
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        Self { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), pending: String::new() }
    }

    pub fn push(&mut self, text: &str) -> StopOutcome {
        self.pending.push_str(text);
        if self.stops.is_empty() {
            return StopOutcome::Continue(std::mem::take(&mut self.pending));
        }
        if let Some(at) = self.stops.iter().filter_map(|s| self.pending.find(s.as_str())).min() {
            let out = self.pending[..at].to_string();
            self.pending.clear();
            return StopOutcome::Stopped(out);
        }
        // Keep the longest suffix of pending that is a proper prefix of some stop string.
        let mut hold = 0;
        for s in &self.stops {
            for (i, _) in s.char_indices().skip(1) {
                if self.pending.ends_with(&s[..i]) {
                    hold = hold.max(i);
                }
            }
        }
        let cut = self.pending.len() - hold;
        let out = self.pending[..cut].to_string();
        self.pending.drain(..cut);
        StopOutcome::Continue(out)
    }

    pub fn flush(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_split_across_pieces() {
        let mut m = StopMatcher::new(vec!["END".into()]);
        let mut out = String::new();
        for piece in ["hello E", "N", "D more"] {
            match m.push(piece) {
                StopOutcome::Continue(t) => out.push_str(&t),
                StopOutcome::Stopped(t) => {
                    out.push_str(&t);
                    assert_eq!(out, "hello ");
                    return;
                }
            }
        }
        panic!("stop not found");
    }

    #[test]
    fn false_prefix_is_released() {
        let mut m = StopMatcher::new(vec!["END".into()]);
        let StopOutcome::Continue(a) = m.push("x E") else { panic!() };
        assert_eq!(a, "x ");
        let StopOutcome::Continue(b) = m.push("ya") else { panic!() };
        assert_eq!(b, "Eya");
    }
}
