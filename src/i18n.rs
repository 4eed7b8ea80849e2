//! The screens' words, from Fluent message files (`locales/<lang>/*.ftl`) that a translator
//! edits without reading Rust.
//!
//! The server picks one language per request (see [`negotiate`]) and formats that language's
//! messages with Fluent and its plural rules ([`catalog`]). The TV page carries them ready
//! made in its first status ([`PageTexts`]): a value only the browser knows (a name, a code,
//! a ticking time) is left as a hole that [`Messages`] fills in with plain text. So the
//! WebAssembly holds neither messages nor a formatter, and does not grow with each language.

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod catalog;
#[cfg(feature = "ssr")]
pub mod negotiate;

/// The language every other one falls back to.
pub const FALLBACK: &str = "en";

const HOLE_OPEN: char = '\u{E000}';
const HOLE_CLOSE: char = '\u{E001}';

/// How a formatted message marks the place of the value `name` the browser fills in
/// (private-use characters, which no translation contains).
pub fn hole(name: &str) -> String {
    format!("{HOLE_OPEN}{name}{HOLE_CLOSE}")
}

/// One language's messages as the page carries them: its tag and each message formatted,
/// with holes for the values the browser fills in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageTexts {
    pub lang: String,
    pub messages: BTreeMap<String, String>,
}

/// The messages of one language, ready to show.
#[derive(Debug)]
pub struct Messages {
    texts: PageTexts,
}

impl Messages {
    pub fn new(texts: PageTexts) -> Self {
        Self { texts }
    }

    /// The BCP 47 tag of this language (for `<html lang>`).
    pub fn lang(&self) -> &str {
        &self.texts.lang
    }

    /// The message `id`. A message missing everywhere is a programming error the catalog's
    /// tests catch; its id is more use on screen than nothing.
    pub fn tr(&self, id: &str) -> String {
        self.tr_with(id, &[])
    }

    /// The message `id` with its holes filled by `values` (name, text).
    pub fn tr_with(&self, id: &str, values: &[(&str, &str)]) -> String {
        let Some(text) = self.texts.messages.get(id) else {
            return id.to_owned();
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(open) = rest.find(HOLE_OPEN) {
            out.push_str(&rest[..open]);
            let after = &rest[open + HOLE_OPEN.len_utf8()..];
            let Some(close) = after.find(HOLE_CLOSE) else {
                rest = after;
                break;
            };
            let name = &after[..close];
            if let Some((_, value)) = values.iter().find(|(n, _)| *n == name) {
                out.push_str(value);
            }
            rest = &after[close + HOLE_CLOSE.len_utf8()..];
        }
        out.push_str(rest);
        out
    }

    /// The message `id` split around the hole `name`, so that the value can be put in an
    /// element of its own (a ticking `<time>`) wherever the language puts it.
    pub fn tr_around(&self, id: &str, name: &str) -> (String, String) {
        const MARK: &str = "\u{E002}";
        let text = self.tr_with(id, &[(name, MARK)]);
        match text.split_once(MARK) {
            Some((before, after)) => (before.to_owned(), after.to_owned()),
            None => (text, String::new()),
        }
    }
}

/// Makes `texts` the messages of everything below.
pub fn provide_messages(texts: PageTexts) {
    provide_context(Arc::new(Messages::new(texts)));
}

/// The messages provided above, or none (ids shown) where none were (never on the TV page).
pub fn use_messages() -> Arc<Messages> {
    use_context::<Arc<Messages>>().unwrap_or_else(|| {
        Arc::new(Messages::new(PageTexts {
            lang: FALLBACK.to_owned(),
            messages: BTreeMap::new(),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(pairs: &[(&str, &str)]) -> Messages {
        Messages::new(PageTexts {
            lang: "en".into(),
            messages: pairs
                .iter()
                .map(|(id, text)| ((*id).to_owned(), (*text).to_owned()))
                .collect(),
        })
    }

    #[test]
    fn holes_are_filled_with_text_and_unknown_ones_left_empty() {
        let text = format!("Welcome, {}! {}", hole("name"), hole("other"));
        let m = messages(&[("welcome", &text)]);
        assert_eq!(
            m.tr_with("welcome", &[("name", "Alice")]),
            "Welcome, Alice! "
        );
        // A value is text, never read for holes of its own.
        let tricky = hole("other");
        assert_eq!(
            m.tr_with("welcome", &[("name", &tricky), ("other", "x")]),
            format!("Welcome, {tricky}! x")
        );
    }

    #[test]
    fn a_message_splits_around_its_hole() {
        let text = format!("あと {} でサインアウト", hole("time"));
        let m = messages(&[("idle", &text)]);
        assert_eq!(
            m.tr_around("idle", "time"),
            ("あと ".to_owned(), " でサインアウト".to_owned())
        );
        assert_eq!(m.tr("missing-id"), "missing-id");
    }
}
