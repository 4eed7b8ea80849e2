//! What the screens say and look like: the language (`LANGUAGE`) and the operator's brand
//! (`ORG_NAME`, `ACCENT_COLOR`, `LOGO_FILE`).

use std::path::PathBuf;

use super::{bad, RawSettings, SettingsError};

/// The largest logo accepted: it is sent to every TV.
const MAX_LOGO_BYTES: u64 = 512 * 1024;

/// The languages and brand of the screens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScreenSettings {
    /// `None`: each browser's `Accept-Language` decides.
    pub language: Option<&'static str>,
    pub org_name: Option<String>,
    /// `#rrggbb`, or `None` for the built-in colour.
    pub accent_color: Option<String>,
    pub logo: Option<Logo>,
}

/// The operator's logo, read at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logo {
    pub path: PathBuf,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl ScreenSettings {
    pub(super) fn parse(raw: &RawSettings) -> Result<Self, SettingsError> {
        Ok(Self {
            language: raw
                .get("LANGUAGE")
                .map(|v| crate::i18n::negotiate::parse_setting(v).map_err(|p| bad("LANGUAGE", p)))
                .transpose()?,
            org_name: raw
                .get("ORG_NAME")
                .map(|v| check_org_name(v).map_err(|p| bad("ORG_NAME", p)))
                .transpose()?,
            accent_color: raw
                .get("ACCENT_COLOR")
                .map(|v| check_color(v).map_err(|p| bad("ACCENT_COLOR", p)))
                .transpose()?,
            logo: raw
                .get("LOGO_FILE")
                .map(|v| read_logo(v).map_err(|p| bad("LOGO_FILE", p)))
                .transpose()?,
        })
    }

    /// The stylesheet served as `/brand.css` (a file of this server's, so the page's policy
    /// `style-src 'self'` allows it): the accent colour, with a text colour that contrasts
    /// with it, and the accent as text on the page's dark background only where it can be
    /// read there (WCAG AA, 4.5:1), else the page's own text colour. Empty without a colour.
    pub fn stylesheet(&self) -> String {
        let Some(accent) = &self.accent_color else {
            return String::new();
        };
        let luminance = relative_luminance(accent);
        let on_accent = if luminance > 0.179 {
            "#101418"
        } else {
            "#ffffff"
        };
        let as_text = if contrast(luminance, relative_luminance(PAGE_BACKGROUND)) >= 4.5 {
            accent.as_str()
        } else {
            PAGE_TEXT
        };
        format!(
            ":root {{ --accent: {accent}; --accent-fg: {on_accent}; --accent-text: {as_text}; }}\n"
        )
    }
}

fn check_org_name(value: &str) -> Result<String, String> {
    if value.chars().count() > 60 {
        return Err("is longer than 60 characters".into());
    }
    if value.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    Ok(value.to_owned())
}

/// `#rgb` or `#rrggbb`, returned as `#rrggbb` in lower case.
fn check_color(value: &str) -> Result<String, String> {
    let hex = value
        .strip_prefix('#')
        .filter(|h| (h.len() == 3 || h.len() == 6) && h.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| format!("{value:?} is not a colour like #0a7cff"))?;
    let full: String = if hex.len() == 3 {
        hex.chars().flat_map(|c| [c, c]).collect()
    } else {
        hex.to_owned()
    };
    Ok(format!("#{}", full.to_ascii_lowercase()))
}

/// The page's background and text colours (`style/main.css`).
const PAGE_BACKGROUND: &str = "#0d1117";
const PAGE_TEXT: &str = "#f5f7fa";

/// WCAG contrast ratio of two relative luminances.
fn contrast(a: f64, b: f64) -> f64 {
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// WCAG relative luminance of a `#rrggbb` colour.
fn relative_luminance(color: &str) -> f64 {
    let channel = |i: usize| {
        let v =
            f64::from(u8::from_str_radix(&color[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0)) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

fn read_logo(value: &str) -> Result<Logo, String> {
    let path = PathBuf::from(value);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let content_type = match extension.as_deref() {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => {
            return Err(format!(
                "{value:?} is not an .svg, .png, .webp or .jpg file"
            ))
        }
    };
    let size = std::fs::metadata(&path)
        .map_err(|e| format!("cannot read {value:?}: {e}"))?
        .len();
    if size > MAX_LOGO_BYTES {
        return Err(format!("{value:?} is larger than {MAX_LOGO_BYTES} bytes"));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {value:?}: {e}"))?;
    Ok(Logo {
        path,
        content_type,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screens(pairs: &[(&str, &str)]) -> Result<ScreenSettings, SettingsError> {
        ScreenSettings::parse(&RawSettings::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_follow_the_browser_and_the_built_in_look() {
        let s = screens(&[]).unwrap();
        assert_eq!(s, ScreenSettings::default());
        assert_eq!(s.stylesheet(), "");
    }

    #[test]
    fn brand_settings_are_read() {
        let dir = std::env::temp_dir().join(format!("tvsignin-logo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let logo = dir.join("acme.svg");
        std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
        let s = screens(&[
            ("LANGUAGE", "fr-FR"),
            ("ORG_NAME", "Acme Hotels"),
            ("ACCENT_COLOR", "#0A7"),
            ("LOGO_FILE", logo.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(s.language, Some("fr"));
        assert_eq!(s.org_name.as_deref(), Some("Acme Hotels"));
        assert_eq!(s.accent_color.as_deref(), Some("#00aa77"));
        assert_eq!(s.logo.as_ref().unwrap().content_type, "image/svg+xml");
        assert!(s.stylesheet().contains("--accent: #00aa77;"));
        // A dark accent gets white text, a light one dark text.
        // A dark accent gets white text, a light one dark text; as text on the dark page,
        // only the light one is used as it is.
        let dark = screens(&[("ACCENT_COLOR", "#003366")]).unwrap();
        assert!(dark.stylesheet().contains("--accent-fg: #ffffff"));
        assert!(dark.stylesheet().contains("--accent-text: #f5f7fa"));
        let light = screens(&[("ACCENT_COLOR", "#ffd166")]).unwrap();
        assert!(light.stylesheet().contains("--accent-fg: #101418"));
        assert!(light.stylesheet().contains("--accent-text: #ffd166"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_name_the_key() {
        for (pairs, key) in [
            (&[("LANGUAGE", "nl")], "LANGUAGE"),
            (&[("LANGUAGE", "!!")], "LANGUAGE"),
            (&[("ORG_NAME", "Acme\u{7}")], "ORG_NAME"),
            (
                &[("ACCENT_COLOR", "red; background: url(x)")],
                "ACCENT_COLOR",
            ),
            (&[("ACCENT_COLOR", "#12345")], "ACCENT_COLOR"),
            (&[("LOGO_FILE", "/nonexistent/logo.png")], "LOGO_FILE"),
            (&[("LOGO_FILE", "/etc/hostname")], "LOGO_FILE"),
        ] {
            let error = screens(pairs).unwrap_err();
            assert_eq!(error.key, key, "{pairs:?}: {error}");
        }
        let long = "x".repeat(61);
        assert_eq!(screens(&[("ORG_NAME", &long)]).unwrap_err().key, "ORG_NAME");
    }
}
