//! The message files, built into the server, and the formatting of them: every language's
//! bundle is parsed once at start, English filling any gap, and formats with the library's
//! plural rules. The TV page gets its language's messages already formatted
//! ([`Bundle::page_texts`]), so the WebAssembly carries no formatter.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use unic_langid::LanguageIdentifier;

use super::{hole, PageTexts, FALLBACK};

/// One set of message files: each language offered, English first, with its source.
pub type Files = &'static [(&'static str, &'static str)];

/// The TV page's messages (and the server-rendered pages that share its words).
pub const SCREENS: Files = &[
    ("en", include_str!("../../locales/en/main.ftl")),
    ("de", include_str!("../../locales/de/main.ftl")),
    ("fr", include_str!("../../locales/fr/main.ftl")),
    ("es", include_str!("../../locales/es/main.ftl")),
    ("ja", include_str!("../../locales/ja/main.ftl")),
];

/// The demo provider's phone pages, formatted on the server with every value.
pub const PHONE: Files = &[
    ("en", include_str!("../../locales/en/phone.ftl")),
    ("de", include_str!("../../locales/de/phone.ftl")),
    ("fr", include_str!("../../locales/fr/phone.ftl")),
    ("es", include_str!("../../locales/es/phone.ftl")),
    ("ja", include_str!("../../locales/ja/phone.ftl")),
];

/// Every language offered.
pub const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "ja"];

/// The source of language `lang` in `files`.
pub fn source(files: Files, lang: &str) -> Option<&'static str> {
    files
        .iter()
        .find(|(tag, _)| *tag == lang)
        .map(|(_, ftl)| *ftl)
}

/// The ids of the messages in a Fluent source, in order.
pub fn message_ids(ftl: &str) -> Vec<String> {
    let resource = FluentResource::try_new(ftl.to_owned()).unwrap_or_else(|(r, _)| r);
    resource
        .entries()
        .filter_map(|entry| match entry {
            ast::Entry::Message(message) => Some(message.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

/// The variables (`$name`) a message uses, in order of first use, in every branch of its
/// selectors; and which of them a selector chooses by.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Variables {
    pub all: Vec<String>,
    pub selectors: Vec<String>,
}

/// Each message's [`Variables`] in a Fluent source.
pub fn variables(ftl: &str) -> Vec<(String, Variables)> {
    fn add(list: &mut Vec<String>, name: &str) {
        if !list.iter().any(|n| n == name) {
            list.push(name.to_owned());
        }
    }
    fn in_inline(e: &ast::InlineExpression<&str>, out: &mut Variables) {
        match e {
            ast::InlineExpression::VariableReference { id } => add(&mut out.all, id.name),
            ast::InlineExpression::Placeable { expression } => in_expression(expression, out),
            _ => {}
        }
    }
    fn in_expression(e: &ast::Expression<&str>, out: &mut Variables) {
        match e {
            ast::Expression::Inline(inline) => in_inline(inline, out),
            ast::Expression::Select { selector, variants } => {
                if let ast::InlineExpression::VariableReference { id } = selector {
                    add(&mut out.selectors, id.name);
                }
                in_inline(selector, out);
                for variant in variants {
                    in_pattern(&variant.value, out);
                }
            }
        }
    }
    fn in_pattern(p: &ast::Pattern<&str>, out: &mut Variables) {
        for element in &p.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                in_expression(expression, out);
            }
        }
    }
    let resource = FluentResource::try_new(ftl.to_owned()).unwrap_or_else(|(r, _)| r);
    resource
        .entries()
        .filter_map(|entry| match entry {
            ast::Entry::Message(m) => {
                let mut out = Variables::default();
                if let Some(value) = &m.value {
                    in_pattern(value, &mut out);
                }
                Some((m.id.name.to_owned(), out))
            }
            _ => None,
        })
        .collect()
}

/// A value for one message's variable.
pub type Arg<'a> = (&'a str, FluentValue<'a>);

/// One language's messages from one set of files, English filling the gaps.
pub struct Bundle {
    lang: &'static str,
    ids: Vec<(String, Variables)>,
    bundle: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle").field("lang", &self.lang).finish()
    }
}

impl Bundle {
    /// Language `lang` of `files`; English where `files` lacks `lang`.
    pub fn new(files: Files, lang: &str) -> Self {
        let english = source(files, FALLBACK).unwrap_or_default();
        let (lang, own) = match source(files, lang) {
            Some(own) => (
                LANGUAGES
                    .iter()
                    .copied()
                    .find(|l| *l == lang)
                    .unwrap_or(FALLBACK),
                own,
            ),
            None => (FALLBACK, english),
        };
        let lang_id: LanguageIdentifier = lang.parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![lang_id]);
        // The languages offered are all left to right; isolation marks would only get in
        // the way of copying text.
        bundle.set_use_isolating(false);
        // A message the source cannot parse is left out (the tests parse every file without
        // errors), and English fills it in: its file is added second, and a repeated id keeps
        // the first, translated one.
        let parsed = |ftl: &str| FluentResource::try_new(ftl.to_owned()).unwrap_or_else(|(r, _)| r);
        bundle.add_resource_overriding(parsed(own));
        if lang != FALLBACK {
            let _ = bundle.add_resource(parsed(english));
        }
        Self {
            lang,
            ids: variables(english),
            bundle,
        }
    }

    /// The BCP 47 tag of this language.
    pub fn lang(&self) -> &'static str {
        self.lang
    }

    /// The message `id` with `args`. A message missing everywhere is a programming error
    /// the tests catch; its id is more use on screen than nothing.
    pub fn format(&self, id: &str, args: &[Arg<'_>]) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        let mut errors = Vec::new();
        self.bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors)
            .into_owned()
    }

    /// Every message, formatted for the page: a variable in `known` (message id, variable,
    /// value) gets its value here, with the plural rules; any other variable is left as a
    /// hole the browser fills with text. A message that chooses by a variable the browser
    /// fills would always take its default branch; the tests forbid that.
    pub fn page_texts(&self, known: &[(&str, Arg<'_>)]) -> PageTexts {
        let messages = self
            .ids
            .iter()
            .map(|(id, vars)| {
                let holes: Vec<String> = vars.all.iter().map(|name| hole(name)).collect();
                let mut args: Vec<Arg<'_>> = Vec::new();
                for (name, marked) in vars.all.iter().zip(&holes) {
                    let value = known
                        .iter()
                        .find(|(message, (var, _))| message == id && var == name)
                        .map(|(_, (_, value))| value.clone())
                        .unwrap_or_else(|| FluentValue::from(marked.as_str()));
                    args.push((name.as_str(), value));
                }
                (id.clone(), self.format(id, &args))
            })
            .collect();
        PageTexts {
            lang: self.lang.to_owned(),
            messages,
        }
    }
}

/// Every language of one set of files, parsed once.
#[derive(Debug)]
pub struct Catalog {
    bundles: Vec<Bundle>,
    /// Each bundle's messages as a page carries them, in the same order.
    pages: Vec<PageTexts>,
}

impl Catalog {
    /// Every language of `files`, with each one's page texts formatted once here, `known`
    /// values filled in (see [`Bundle::page_texts`]).
    pub fn new(files: Files, known: &[(&str, Arg<'_>)]) -> Self {
        let bundles: Vec<Bundle> = LANGUAGES
            .iter()
            .map(|lang| Bundle::new(files, lang))
            .collect();
        let pages = bundles.iter().map(|b| b.page_texts(known)).collect();
        Self { bundles, pages }
    }

    /// The page texts of language `lang` (one of [`LANGUAGES`]), else English's.
    pub fn page(&self, lang: &str) -> &PageTexts {
        let index = self
            .bundles
            .iter()
            .position(|b| b.lang == lang)
            .unwrap_or(0);
        &self.pages[index]
    }

    /// Language `lang` (one of [`LANGUAGES`]), else English.
    pub fn get(&self, lang: &str) -> &Bundle {
        self.bundles
            .iter()
            .find(|b| b.lang == lang)
            .unwrap_or(&self.bundles[0])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::i18n::Messages;

    fn vars(ftl: &str) -> std::collections::BTreeMap<String, Variables> {
        variables(ftl).into_iter().collect()
    }

    /// Every set of files the server formats, with the variables the server itself fills
    /// in (and may choose a plural by); `None` where the server fills in every one.
    type ServerKnown = Option<&'static [(&'static str, &'static str)]>;
    const SETS: &[(&str, Files, ServerKnown)] = &[
        ("main.ftl", SCREENS, Some(&[("continue-note", "seconds")])),
        ("phone.ftl", PHONE, None),
    ];

    #[test]
    fn every_file_parses_without_errors() {
        for (name, files, _) in SETS {
            for (lang, ftl) in *files {
                if let Err((_, errors)) = FluentResource::try_new((*ftl).to_owned()) {
                    panic!("locales/{lang}/{name}: {errors:?}");
                }
            }
        }
    }

    #[test]
    fn every_language_has_every_english_message_and_no_other() {
        for (name, files, _) in SETS {
            let english = vars(source(files, FALLBACK).unwrap());
            assert_eq!(files.len(), LANGUAGES.len(), "{name}");
            for (lang, ftl) in *files {
                let own = vars(ftl);
                let missing: Vec<_> = english.keys().filter(|id| !own.contains_key(*id)).collect();
                let extra: Vec<_> = own.keys().filter(|id| !english.contains_key(*id)).collect();
                assert!(
                    missing.is_empty(),
                    "locales/{lang}/{name} lacks {missing:?}"
                );
                assert!(
                    extra.is_empty(),
                    "locales/{lang}/{name} has unknown {extra:?}"
                );
            }
        }
    }

    #[test]
    fn translations_use_only_the_english_placeables() {
        for (name, files, _) in SETS {
            let english = vars(source(files, FALLBACK).unwrap());
            for (lang, ftl) in *files {
                for (id, v) in vars(ftl) {
                    let known = english.get(&id).map(|e| e.all.clone()).unwrap_or_default();
                    let unknown: Vec<_> = v.all.iter().filter(|n| !known.contains(n)).collect();
                    assert!(
                        unknown.is_empty(),
                        "locales/{lang}/{name}: {id} uses unknown {unknown:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_values_the_server_knows_choose_a_plural() {
        // The browser fills holes with text; a selector on one would always take its
        // default branch. Pages formatted wholly on the server (the phone pages) may choose
        // by any value.
        for (name, files, server_known) in SETS {
            let Some(server_known) = server_known else {
                continue;
            };
            for (lang, ftl) in *files {
                for (id, v) in vars(ftl) {
                    for selector in &v.selectors {
                        assert!(
                            server_known.contains(&(id.as_str(), selector.as_str())),
                            "locales/{lang}/{name}: {id} chooses by ${selector}, which the browser fills in"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_checks_catch_a_gap_an_unknown_placeable_and_a_browser_plural() {
        let english = vars("a = A\nb = B { $n }\n");
        let partial = vars("a = A { $m ->\n [one] one\n *[other] other\n}\n");
        assert!(!partial.contains_key("b") && english.contains_key("b"));
        assert!(partial["a"].all.contains(&"m".to_owned()) && english["a"].all.is_empty());
        assert_eq!(partial["a"].selectors, vec!["m".to_owned()]);
        assert!(english["b"].selectors.is_empty());
    }

    #[test]
    fn a_missing_translation_falls_back_to_english() {
        const PARTIAL: Files = &[
            ("en", "button-cancel = Cancel\nbutton-sign-out = Sign out\n"),
            ("de", "button-cancel = Abbrechen\n"),
        ];
        let german = Bundle::new(PARTIAL, "de");
        assert_eq!(german.lang(), "de");
        assert_eq!(german.format("button-cancel", &[]), "Abbrechen");
        assert_eq!(german.format("button-sign-out", &[]), "Sign out");
        let texts = german.page_texts(&[]);
        assert_eq!(texts.messages["button-sign-out"], "Sign out");
        assert_eq!(texts.messages.len(), 2);
        // A language not offered gets English.
        assert_eq!(Catalog::new(SCREENS, &[]).get("xx").lang(), "en");
        assert_eq!(Bundle::new(PARTIAL, "fr").lang(), "en");
    }

    #[test]
    fn plurals_follow_each_language() {
        let catalog = Catalog::new(SCREENS, &[]);
        let say = |lang: &str, n: u64| {
            catalog
                .get(lang)
                .format("continue-note", &[("seconds", n.into())])
        };
        assert!(say("en", 1).contains("in a second"), "{}", say("en", 1));
        assert!(say("en", 30).contains("in 30 seconds"), "{}", say("en", 30));
        assert!(say("de", 1).contains("einer Sekunde"), "{}", say("de", 1));
        assert!(say("de", 2).contains("2 Sekunden"), "{}", say("de", 2));
        // French counts 1 as one, 2 as other; 0 has its own sentence in every language.
        assert!(say("fr", 1).contains("1 seconde…"), "{}", say("fr", 1));
        assert!(say("fr", 2).contains("2 secondes"), "{}", say("fr", 2));
        assert!(!say("fr", 0).contains('0'), "{}", say("fr", 0));
        assert!(say("ja", 5).contains('5'), "{}", say("ja", 5));
    }

    #[test]
    fn the_page_gets_server_values_formatted_and_holes_for_the_rest() {
        let catalog = Catalog::new(SCREENS, &[]);
        let texts = catalog
            .get("fr")
            .page_texts(&[("continue-note", ("seconds", 2.into()))]);
        assert_eq!(texts.lang, "fr");
        assert!(texts.messages["continue-note"].contains("2 secondes"));
        let m = Messages::new(texts);
        assert!(m.tr_with("welcome", &[("name", "Zoé")]).ends_with("Zoé"));
        let (before, after) = m.tr_around("code-expires", "time");
        assert!(
            !before.is_empty() && !before.contains('\u{E000}'),
            "{before}{after}"
        );
        let ja = Messages::new(catalog.get("ja").page_texts(&[]));
        let (before, after) = ja.tr_around("idle-warning", "time");
        assert_eq!(before, "あと ");
        assert!(after.starts_with(" でサインアウト"), "{after}");
        // Every message of the page is there, in every language.
        let english = message_ids(source(SCREENS, FALLBACK).unwrap());
        for lang in LANGUAGES {
            let texts = catalog.get(lang).page_texts(&[]);
            let ids: Vec<_> = texts.messages.keys().cloned().collect();
            assert_eq!(ids.len(), english.len(), "{lang}");
        }
    }

    #[test]
    fn every_message_the_code_asks_for_exists() {
        let english = vars(source(SCREENS, FALLBACK).unwrap());
        let mut asked = BTreeSet::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            // The demo provider's pages have their own files; the i18n module's tests use
            // made-up ids.
            if dir.ends_with("demo_idp") {
                continue;
            }
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for call in [".tr(\"", ".tr_with(\"", ".tr_around(\""] {
                        for piece in text.split(call).skip(1) {
                            if let Some(id) = piece.split('"').next() {
                                asked.insert((id.to_owned(), path.display().to_string()));
                            }
                        }
                    }
                }
            }
        }
        assert!(asked.len() > 20, "found too few uses: {asked:?}");
        let unknown: Vec<_> = asked
            .iter()
            .filter(|(id, _)| !english.contains_key(id))
            .collect();
        assert!(unknown.is_empty(), "no such message: {unknown:?}");
    }

    /// The message ids the demo provider's phone pages name: its string literals that look
    /// like one (`error-code-wrong`), outside the tests.
    fn phone_ids_in_code() -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for file in ["phone.rs", "phone_pages.rs"] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo_idp/");
            let text = std::fs::read_to_string(format!("{path}{file}")).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let bytes = code.as_bytes();
            for (at, _) in code.match_indices('"') {
                if at > 0 && bytes[at - 1] == b'\\' {
                    continue;
                }
                let rest = &code[at + 1..];
                let len = rest
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                    .unwrap_or(0);
                let word = &rest[..len];
                if rest[len..].starts_with('"') && word.contains('-') && !word.starts_with('-') {
                    found.insert(word.to_owned());
                }
            }
        }
        found
    }

    #[test]
    fn every_phone_message_is_used_and_every_one_used_exists() {
        let english: BTreeSet<String> = message_ids(source(PHONE, FALLBACK).unwrap())
            .into_iter()
            .collect();
        // Header values that look like ids.
        let mut used = phone_ids_in_code();
        used.remove("no-store");
        assert!(used.len() > 30, "found too few: {used:?}");
        let unknown: Vec<_> = used.difference(&english).collect();
        assert!(
            unknown.is_empty(),
            "no such message in phone.ftl: {unknown:?}"
        );
        let unused: Vec<_> = english.difference(&used).collect();
        assert!(
            unused.is_empty(),
            "phone.ftl messages no page uses: {unused:?}"
        );
    }
}
