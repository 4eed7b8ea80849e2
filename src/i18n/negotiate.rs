//! Which language a request gets: the `LANGUAGE` setting when set (kiosk browsers are often
//! set to the wrong locale), else the best match for the browser's `Accept-Language`, else
//! English.

use fluent_langneg::{accepted_languages, negotiate_languages, NegotiationStrategy};
use unic_langid::LanguageIdentifier;

use super::catalog::LANGUAGES;
use super::FALLBACK;

/// Checks a `LANGUAGE` value: one of the languages offered (a region is allowed and ignored:
/// `de-AT` is German). Returns the language's tag.
pub fn parse_setting(value: &str) -> Result<&'static str, String> {
    let requested: LanguageIdentifier = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a language tag"))?;
    LANGUAGES
        .iter()
        .copied()
        .find(|tag| *tag == requested.language.as_str())
        .ok_or_else(|| format!("{value:?} is not offered (one of {})", LANGUAGES.join(", ")))
}

/// The language for a request with these headers: `forced` when set, else as its
/// `Accept-Language` asks ([`pick`]).
pub fn for_request(forced: Option<&'static str>, headers: &http::HeaderMap) -> &'static str {
    let accept = headers
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    pick(forced, accept)
}

/// The language for a request: `forced` when set, else the browser's first language that is
/// offered (by language, then a related region), else English.
pub fn pick(forced: Option<&'static str>, accept_language: Option<&str>) -> &'static str {
    if let Some(lang) = forced {
        return lang;
    }
    let Some(header) = accept_language else {
        return FALLBACK;
    };
    let requested = accepted_languages::parse(header);
    let available: Vec<LanguageIdentifier> = LANGUAGES
        .iter()
        .filter_map(|tag| tag.parse().ok())
        .collect();
    let chosen = negotiate_languages(&requested, &available, None, NegotiationStrategy::Lookup);
    chosen
        .first()
        .and_then(|id| {
            LANGUAGES
                .iter()
                .copied()
                .find(|tag| *tag == id.language.as_str())
        })
        .unwrap_or(FALLBACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_language_is_matched_by_language_then_region() {
        assert_eq!(pick(None, Some("de-DE,de;q=0.9,en;q=0.8")), "de");
        assert_eq!(pick(None, Some("fr-CA")), "fr");
        assert_eq!(pick(None, Some("ja")), "ja");
        assert_eq!(pick(None, Some("es-419,es;q=0.9")), "es");
        // The first offered language in the browser's order.
        assert_eq!(pick(None, Some("nl-NL, fr;q=0.8, de;q=0.5")), "fr");
    }

    #[test]
    fn unknown_or_missing_languages_fall_back_to_english() {
        assert_eq!(pick(None, None), "en");
        assert_eq!(pick(None, Some("nl-NL,nl;q=0.9")), "en");
        assert_eq!(pick(None, Some("*")), "en");
        assert_eq!(pick(None, Some(";;,,garbage")), "en");
    }

    #[test]
    fn the_setting_overrides_the_browser() {
        assert_eq!(pick(Some("ja"), Some("de-DE,de")), "ja");
    }

    #[test]
    fn the_setting_accepts_offered_languages_only() {
        assert_eq!(parse_setting("de"), Ok("de"));
        assert_eq!(parse_setting("de-AT"), Ok("de"));
        assert_eq!(parse_setting(" fr "), Ok("fr"));
        assert!(parse_setting("nl").unwrap_err().contains("not offered"));
        assert!(parse_setting("not a tag!")
            .unwrap_err()
            .contains("not a language tag"));
        assert!(parse_setting("").is_err());
    }
}
