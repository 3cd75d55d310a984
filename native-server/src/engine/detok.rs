//! Incremental detokenization: emits text only once it is stable, so streamed pieces concatenate to exactly the
//! text a one-shot decode gives (leading spaces, multi-byte UTF-8 split across tokens).

use tokenizers::Tokenizer;

pub struct Detokenizer {
    ids: Vec<u32>,
    prefix: usize,
    read: usize,
}

impl Default for Detokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Detokenizer {
    pub fn new() -> Self {
        Self { ids: Vec::new(), prefix: 0, read: 0 }
    }

    fn decode(tok: &Tokenizer, ids: &[u32]) -> String {
        tok.decode(ids, false).unwrap_or_default()
    }

    /// Adds a token; returns newly stable text, if any.
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Option<String> {
        self.ids.push(id);
        let before = Self::decode(tok, &self.ids[self.prefix..self.read]);
        let now = Self::decode(tok, &self.ids[self.prefix..]);
        // U+FFFD at the end means a multi-byte character is still incomplete: wait for more bytes.
        if now.len() > before.len() && !now.ends_with('\u{FFFD}') && now.starts_with(&before) {
            let delta = now[before.len()..].to_string();
            self.prefix = self.read;
            self.read = self.ids.len();
            Some(delta)
        } else {
            None
        }
    }

    /// Whatever is left at the end of the sequence, complete or not.
    pub fn flush(&mut self, tok: &Tokenizer) -> Option<String> {
        let before = Self::decode(tok, &self.ids[self.prefix..self.read]);
        let now = Self::decode(tok, &self.ids[self.prefix..]);
        self.prefix = self.ids.len();
        self.read = self.ids.len();
        if now.len() > before.len() && now.starts_with(&before) {
            Some(now[before.len()..].to_string())
        } else {
            None
        }
    }
}
