//! The screens' words, from Fluent message files (`locales/<lang>/main.ftl`) that a translator
//! edits without reading Rust.
//!
//! The server picks one language per request (see [`negotiate`]) and puts only that
//! language's file in the page, inside the TV's first status ([`PageTexts`]); the browser
//! formats it with the same library, so the WebAssembly holds no messages at all and does
//! not grow with each language. Plural rules come from the library (CLDR).

use std::sync::Arc;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use unic_langid::LanguageIdentifier;

#[cfg(feature = "ssr")]
pub mod catalog;
#[cfg(feature = "ssr")]
pub mod negotiate;

/// The language every other one falls back to.
pub const FALLBACK: &str = "en";

/// One language's messages as the page carries them: its tag and its Fluent source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageTexts {
    pub lang: String,
    pub ftl: String,
}

/// Formats the messages of one language.
pub struct Messages {
    lang: String,
    bundle: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages")
            .field("lang", &self.lang)
            .finish()
    }
}

impl Messages {
    /// Reads a language's source. A message the source cannot parse is left out (the
    /// catalog's tests parse every file without errors).
    pub fn new(texts: &PageTexts) -> Self {
        let lang_id: LanguageIdentifier = texts
            .lang
            .parse()
            .unwrap_or_else(|_| LanguageIdentifier::default());
        let mut bundle = FluentBundle::new_concurrent(vec![lang_id]);
        // The languages offered are all left to right; isolation marks would only get in
        // the way of copying text.
        bundle.set_use_isolating(false);
        let resource = FluentResource::try_new(texts.ftl.clone()).unwrap_or_else(|(r, _)| r);
        // Repeated ids (the English fallback appended to a partial translation) keep the
        // first, translated one.
        let _ = bundle.add_resource(resource);
        Self {
            lang: texts.lang.clone(),
            bundle,
        }
    }

    /// The BCP 47 tag of this language (for `<html lang>`).
    pub fn lang(&self) -> &str {
        &self.lang
    }

    /// The message `id` with no arguments.
    pub fn tr(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with named arguments (strings or numbers).
    pub fn tr_with(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        self.format(id, Some(&fluent_args))
    }

    /// The message `id` split around the place where `placeable` goes, so that the value can
    /// be put in an element of its own (a ticking `<time>`) wherever the language puts it.
    pub fn tr_around(&self, id: &str, placeable: &str) -> (String, String) {
        const MARK: &str = "\u{E000}";
        let text = self.tr_with(id, &[(placeable, FluentValue::from(MARK))]);
        match text.split_once(MARK) {
            Some((before, after)) => (before.to_owned(), after.to_owned()),
            None => (text, String::new()),
        }
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            // A message missing everywhere is a programming error the catalog's tests catch;
            // its id is more use on screen than nothing.
            return id.to_owned();
        };
        let mut errors = Vec::new();
        self.bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned()
    }
}

/// Makes `texts` the messages of everything below.
pub fn provide_messages(texts: &PageTexts) {
    provide_context(Arc::new(Messages::new(texts)));
}

/// The messages provided above, or English ones where none were (never on the TV page).
pub fn use_messages() -> Arc<Messages> {
    use_context::<Arc<Messages>>().unwrap_or_else(|| {
        Arc::new(Messages::new(&PageTexts {
            lang: FALLBACK.to_owned(),
            ftl: String::new(),
        }))
    })
}
