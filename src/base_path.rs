//! Where tvsignin is mounted on its host (`BASE_PATH`): at the root, or under a prefix such as
//! `/tvsignin` on the host of the app it signs people in to, so that its session cookie reaches
//! that app's forward-auth check. Every URL the pages, the scripts and the server functions use
//! is made with [`BasePath::join`]. The server renders the prefix into the page (a `<meta>`
//! tag, see [`META_NAME`]); the WebAssembly app and the live fallback script read it from there.

use std::sync::Arc;

use leptos::prelude::*;

/// The `<meta name=...>` that carries the prefix to the browser (absent at the root).
pub const META_NAME: &str = "tvsignin-base";

/// A path prefix: empty at the root, else `/segment[/segment...]` with no trailing slash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasePath(Arc<str>);

impl BasePath {
    /// Reads a prefix such as `/tvsignin` or `/apps/tv/` (`/` and the empty text are the root).
    /// Only plain segments are allowed (letters, digits, `-`, `.`, `_`, `~`; no `.` or `..`),
    /// so the prefix can go into HTML, scripts, cookies and proxy configurations unescaped.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text == "/" {
            return Ok(Self::default());
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("{text:?} must start with /"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        for segment in rest.split('/') {
            let plain = !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !plain {
                return Err(format!(
                    "{text:?} is not a plain path (segments of letters, digits, - . _ ~)"
                ));
            }
        }
        Ok(Self(format!("/{rest}").into()))
    }

    /// `""` at the root, else the prefix without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The prefix in front of `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The TV page: `/` at the root, else the prefix with a trailing slash.
    pub fn home(&self) -> String {
        self.join("/")
    }
}

/// The prefix of the page being rendered (the server provides it) or hydrated (read from the
/// page's `<meta>` once).
pub fn use_base_path() -> BasePath {
    if let Some(base) = use_context::<BasePath>() {
        return base;
    }
    #[cfg(feature = "hydrate")]
    {
        from_document()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        BasePath::default()
    }
}

/// The prefix the server rendered into this page.
#[cfg(feature = "hydrate")]
pub fn from_document() -> BasePath {
    let content = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector(&format!("meta[name=\"{META_NAME}\"]"))
                .ok()
                .flatten()
        })
        .and_then(|meta| meta.get_attribute("content"))
        .unwrap_or_default();
    BasePath::parse(&content).unwrap_or_default()
}

/// The `<meta>` that tells the browser the prefix; nothing at the root.
#[component]
pub fn BasePathMeta() -> impl IntoView {
    let base = use_base_path();
    (!base.is_root()).then(|| {
        let content = base.as_str().to_owned();
        let icon = base.join("/favicon.ico");
        view! {
            <meta name=META_NAME content=content />
            // Browsers look for /favicon.ico at the host's root, which is the app's.
            <link rel="icon" href=icon />
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for (text, expected) in [
            ("", ""),
            ("/", ""),
            ("/tvsignin", "/tvsignin"),
            ("/tvsignin/", "/tvsignin"),
            (" /apps/tv-1.0_~x ", "/apps/tv-1.0_~x"),
        ] {
            assert_eq!(
                BasePath::parse(text).unwrap().as_str(),
                expected,
                "{text:?}"
            );
        }
        for bad in [
            "tvsignin",
            "//tvsignin",
            "/a//b",
            "/a/../b",
            "/./a",
            "/a b",
            "/a\"b",
            "/a?b",
            "/a#b",
            "/a%2Fb",
            "/<script>",
        ] {
            assert!(BasePath::parse(bad).is_err(), "{bad:?}");
        }
        let base = BasePath::parse("/tvsignin").unwrap();
        assert_eq!(base.join("/api/start"), "/tvsignin/api/start");
        assert_eq!(base.home(), "/tvsignin/");
        assert_eq!(BasePath::default().home(), "/");
        assert!(BasePath::default().is_root() && !base.is_root());
    }
}
