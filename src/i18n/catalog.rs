//! The message files, built into the server: which languages there are, and each one's
//! source with English filling any gap.

use fluent_bundle::FluentResource;
use fluent_syntax::ast;

use super::{PageTexts, FALLBACK};

/// Every language offered, English first, with its message file.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("en", include_str!("../../locales/en/main.ftl")),
    ("de", include_str!("../../locales/de/main.ftl")),
    ("fr", include_str!("../../locales/fr/main.ftl")),
    ("es", include_str!("../../locales/es/main.ftl")),
    ("ja", include_str!("../../locales/ja/main.ftl")),
];

/// The source of language `lang` (one of [`LANGUAGES`]).
pub fn source(lang: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .find(|(tag, _)| *tag == lang)
        .map(|(_, ftl)| *ftl)
}

/// The ids of the messages in a Fluent source.
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

/// What the page carries for `lang`: its file, followed by the English file when the
/// translation lacks any message (the first definition wins, so English only fills gaps).
pub fn page_texts(lang: &str) -> PageTexts {
    let english = source(FALLBACK).unwrap_or_default();
    let Some(own) = source(lang).filter(|_| lang != FALLBACK) else {
        return PageTexts {
            lang: FALLBACK.to_owned(),
            ftl: english.to_owned(),
        };
    };
    let ids = message_ids(own);
    let complete = message_ids(english).iter().all(|id| ids.contains(id));
    PageTexts {
        lang: lang.to_owned(),
        ftl: if complete {
            own.to_owned()
        } else {
            format!("{own}\n{english}")
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use fluent_syntax::ast::{Expression, InlineExpression, Pattern, PatternElement};
    use fluent_syntax::parser;

    use super::*;
    use crate::i18n::{Messages, PageTexts};

    /// Each message's variables (`$name`), in every branch of its selectors.
    fn variables(ftl: &str) -> BTreeMap<String, BTreeSet<String>> {
        fn in_inline(e: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
            match e {
                InlineExpression::VariableReference { id } => {
                    out.insert(id.name.to_owned());
                }
                InlineExpression::Placeable { expression } => in_expression(expression, out),
                _ => {}
            }
        }
        fn in_expression(e: &Expression<&str>, out: &mut BTreeSet<String>) {
            match e {
                Expression::Inline(inline) => in_inline(inline, out),
                Expression::Select { selector, variants } => {
                    in_inline(selector, out);
                    for variant in variants {
                        in_pattern(&variant.value, out);
                    }
                }
            }
        }
        fn in_pattern(p: &Pattern<&str>, out: &mut BTreeSet<String>) {
            for element in &p.elements {
                if let PatternElement::Placeable { expression } = element {
                    in_expression(expression, out);
                }
            }
        }
        let resource = parser::parse(ftl).expect("parses");
        resource
            .body
            .iter()
            .filter_map(|entry| match entry {
                ast::Entry::Message(m) => {
                    let mut out = BTreeSet::new();
                    if let Some(value) = &m.value {
                        in_pattern(value, &mut out);
                    }
                    Some((m.id.name.to_owned(), out))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_file_parses_without_errors() {
        for (lang, ftl) in LANGUAGES {
            if let Err((_, errors)) = parser::parse(*ftl) {
                panic!("locales/{lang}/main.ftl: {errors:?}");
            }
        }
    }

    #[test]
    fn every_language_has_every_english_message_and_no_other() {
        let english = variables(source(FALLBACK).unwrap());
        for (lang, ftl) in LANGUAGES {
            let own = variables(ftl);
            let missing: Vec<_> = english.keys().filter(|id| !own.contains_key(*id)).collect();
            let extra: Vec<_> = own.keys().filter(|id| !english.contains_key(*id)).collect();
            assert!(
                missing.is_empty(),
                "locales/{lang}/main.ftl lacks {missing:?}"
            );
            assert!(
                extra.is_empty(),
                "locales/{lang}/main.ftl has unknown {extra:?}"
            );
        }
    }

    #[test]
    fn translations_use_only_the_english_placeables() {
        let english = variables(source(FALLBACK).unwrap());
        for (lang, ftl) in LANGUAGES {
            for (id, vars) in variables(ftl) {
                let known = english.get(&id).cloned().unwrap_or_default();
                let unknown: Vec<_> = vars.difference(&known).collect();
                assert!(
                    unknown.is_empty(),
                    "locales/{lang}/main.ftl: {id} uses unknown {unknown:?}"
                );
            }
        }
    }

    #[test]
    fn the_checks_catch_a_gap_and_an_unknown_placeable() {
        let english = variables("a = A\nb = B { $n }\n");
        let partial = variables("a = A { $m }\n");
        assert!(!partial.contains_key("b") && english.contains_key("b"));
        assert!(partial["a"].contains("m") && !english["a"].contains("m"));
    }

    #[test]
    fn a_missing_translation_falls_back_to_english() {
        // A complete language is carried alone.
        let german = page_texts("de");
        assert_eq!(german.ftl, source("de").unwrap());
        assert_eq!(page_texts("xx").lang, "en");
        // A partial one gets English after it, for its gaps only.
        let partial = PageTexts {
            lang: "de".into(),
            ftl: format!("button-cancel = Abbrechen\n{}", source(FALLBACK).unwrap()),
        };
        let messages = Messages::new(&partial);
        assert_eq!(messages.tr("button-cancel"), "Abbrechen");
        assert_eq!(messages.tr("button-sign-out"), "Sign out");
    }

    #[test]
    fn plurals_follow_each_language() {
        let say = |lang: &str, n: u64| {
            Messages::new(&page_texts(lang)).tr_with("status-throttled", &[("seconds", n.into())])
        };
        assert!(say("en", 1).contains("(1 second)."), "{}", say("en", 1));
        assert!(say("en", 30).contains("(30 seconds)."));
        assert!(say("de", 1).contains("1 Sekunde "));
        assert!(say("de", 2).contains("2 Sekunden "));
        // French counts 0 and 1 as one.
        assert!(say("fr", 0).contains("0 seconde."), "{}", say("fr", 0));
        assert!(say("fr", 2).contains("2 secondes."));
        assert!(say("ja", 5).contains("5 秒"));
    }

    #[test]
    fn a_value_can_be_set_apart_wherever_the_language_puts_it() {
        let (before, after) = Messages::new(&page_texts("ja")).tr_around("idle-warning", "time");
        assert_eq!(before, "あと ");
        assert!(after.starts_with(" でサインアウト"), "{after}");
        let (before, after) = Messages::new(&page_texts("en")).tr_around("code-expires", "time");
        assert_eq!((before.as_str(), after.as_str()), ("Code expires in ", ""));
    }

    #[test]
    fn every_message_the_code_asks_for_exists() {
        let english = variables(source(FALLBACK).unwrap());
        let mut asked = BTreeSet::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
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
}
