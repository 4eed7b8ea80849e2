//! Tags that stand for user codes in the logs. A user code on screen is an open invitation:
//! whoever types it first at the provider signs the TV in, so a log reader must not learn it
//! while it is valid. A tag is HMAC-SHA256 (`ring`) of the code under a key made at start-up
//! and kept only in memory, cut to 8 hex digits: it tells one pairing's log lines from
//! another's, and cannot be turned back into the code, not even by trying every code (a
//! plain hash could be, user codes being short). Tags from different replicas or runs differ.

use std::fmt;

use ring::hmac;
use ring::rand::SystemRandom;

/// Makes [`CodeTag`]s with this process's key.
pub struct CodeTagger {
    /// `None` only if the system's random generator failed at start-up: then every tag is
    /// the same placeholder, which still hides the code.
    key: Option<hmac::Key>,
}

impl fmt::Debug for CodeTagger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeTagger([redacted])")
    }
}

impl Default for CodeTagger {
    fn default() -> Self {
        Self::new()
    }
}

impl CodeTagger {
    /// A tagger with a fresh random key.
    pub fn new() -> Self {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new()).ok();
        if key.is_none() {
            tracing::warn!("no random key for user code tags; logging a placeholder instead");
        }
        Self { key }
    }

    /// The tag to log in place of `user_code`.
    pub fn tag(&self, user_code: &str) -> CodeTag {
        let mut short = [0u8; 4];
        if let Some(key) = &self.key {
            let full = hmac::sign(key, user_code.as_bytes());
            short.copy_from_slice(&full.as_ref()[..4]);
        }
        CodeTag(short)
    }
}

/// What the logs show for a user code: 8 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeTag([u8; 4]);

impl fmt::Display for CodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stable_short_and_keyed() {
        let tagger = CodeTagger::new();
        let tag = tagger.tag("WDJB-MJHT").to_string();
        assert_eq!(tag.len(), 8);
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()), "{tag}");
        assert!(!tag.contains("WDJB"));
        // The same code, the same tag: a pairing's log lines belong together.
        assert_eq!(tagger.tag("WDJB-MJHT"), tagger.tag("WDJB-MJHT"));
        assert_ne!(tagger.tag("WDJB-MJHT"), tagger.tag("WDJB-MJHU"));
        // Another key (another run or replica), another tag: nobody can precompute them.
        assert_ne!(CodeTagger::new().tag("WDJB-MJHT"), tagger.tag("WDJB-MJHT"));
    }
}
