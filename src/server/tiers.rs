//! Which TV engines get what. Every page carries one inline boot script
//! (`src/js/boot.js`) that picks, by feature detection on the TV, the WebAssembly app or the
//! live fallback script (`src/js/fallback.js`, served here under a content-hashed name);
//! without scripts the page's `<noscript>` refresh applies. Also the pages' script policy:
//! `'wasm-unsafe-eval'` for current engines, `'unsafe-eval'` only for an engine whose boot
//! script found it could not compile WebAssembly under the first (Chromium before 95).

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use leptos::config::LeptosOptions;
use leptos::prelude::*;

use crate::base_path::BasePath;

/// Set by the boot script of an engine that does not know `'wasm-unsafe-eval'`.
pub const EVAL_COOKIE: &str = "tvsignin_wasm_eval";

const BOOT_JS: &str = include_str!("../js/boot.js");
const FALLBACK_JS: &str = include_str!("../js/fallback.js");

/// How long the WebAssembly has to take over before the fallback keeps the screen live.
const HYDRATION_WAIT_MS: u32 = 5_000;

/// The boot script, ready to inline, and where the fallback script is served.
#[derive(Clone, Debug)]
pub struct TvScripts {
    boot: Arc<str>,
    fallback_path: Arc<str>,
}

impl TvScripts {
    /// Finds the WebAssembly bundle's file names as Leptos does (content hashes from the
    /// options' `hash_file`, when cargo-leptos hashed them; see `site`).
    /// `base` is the prefix the browser reaches this server under (`BASE_PATH`).
    pub fn new(options: &LeptosOptions, base: &BasePath) -> Self {
        let (js, wasm) = bundle_names(options);
        let digest = ring::digest::digest(&ring::digest::SHA256, FALLBACK_JS.as_bytes());
        let hash: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let fallback_path = format!("/tv-fallback.{hash}.js");
        let pkg = &options.site_pkg_dir;
        let arguments = serde_json::json!([
            base.join(&format!("/{pkg}/{js}.js")),
            base.join(&format!("/{pkg}/{wasm}.wasm")),
            base.join(&fallback_path),
            HYDRATION_WAIT_MS,
            EVAL_COOKIE,
        ])
        .to_string();
        // `[a,b]` -> `(a,b)`: the boot script is a function expression called with them.
        let call = format!("({})", &arguments[1..arguments.len() - 1]);
        // Inlined in every page: without its comments and indentation.
        let boot: Vec<&str> = BOOT_JS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .collect();
        Self {
            boot: format!("{}{call};", boot.join("\n")).into(),
            fallback_path: fallback_path.into(),
        }
    }

    /// Where the fallback script is routed (after the prefix).
    pub fn fallback_path(&self) -> &str {
        &self.fallback_path
    }
}

fn bundle_names(options: &LeptosOptions) -> (String, String) {
    let mut js = options.output_name.to_string();
    let mut wasm = js.clone();
    if options.hash_files {
        let hashes = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(&*options.hash_file)))
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        for (file, hash) in hashes.lines().filter_map(|l| l.split_once(':')) {
            match file.trim() {
                "js" => js = format!("{js}.{}", hash.trim()),
                "wasm" => wasm = format!("{wasm}.{}", hash.trim()),
                _ => {}
            }
        }
    } else if option_env!("LEPTOS_OUTPUT_NAME").is_none() {
        // wasm-bindgen's own name, outside cargo-leptos.
        wasm.push_str("_bg");
    }
    (js, wasm)
}

/// `GET /tv-fallback.<hash>.js`: the name changes with the content, so it is cached for good.
pub async fn fallback_js() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        FALLBACK_JS,
    )
}

/// The engine's version as the boot script notes it: the major version after `Chrome/` in
/// the User-Agent, else `1`.
fn engine_version(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|agent| agent.split_once("Chrome/"))
        .map(|(_, rest)| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            &rest[..digits]
        })
        .filter(|digits| !digits.is_empty())
        .unwrap_or("1")
}

/// Whether the request carries the boot script's note that this engine, at this version,
/// cannot compile WebAssembly under `'wasm-unsafe-eval'`. A note from an older version of
/// the engine (the TV was updated since) no longer counts: the page gets the strict policy
/// and the boot script tries again.
fn needs_unsafe_eval(headers: &HeaderMap) -> bool {
    CookieJar::from_headers(headers)
        .get(EVAL_COOKIE)
        .is_some_and(|cookie| cookie.value() == engine_version(headers))
}

/// The page's Content-Security-Policy: only this server's scripts (inline ones must carry
/// the response's nonce), its WebAssembly, its styles; no framing.
pub fn page_policy(nonce: &str, headers: &HeaderMap) -> String {
    // Engines before Chromium 95 ignore 'wasm-unsafe-eval' and then refuse WebAssembly; for
    // them alone, 'unsafe-eval' (which current engines would also apply to eval()).
    let wasm = if needs_unsafe_eval(headers) {
        "'unsafe-eval'"
    } else {
        "'wasm-unsafe-eval'"
    };
    format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}' {wasm}; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The boot script with this response's nonce, after setting the page's policy to match.
/// Renders nothing where there is no app state (it is not a TV page then).
pub fn boot_script() -> impl IntoView {
    let nonce = leptos::nonce::use_nonce()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let headers = use_context::<http::request::Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default();
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        HeaderValue::from_str(&page_policy(&nonce, &headers)),
    ) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
    use_context::<super::AppState>().map(|state| {
        let boot = state.tv_scripts.boot.to_string();
        view! { <script nonce=nonce inner_html=boot></script> }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static(value));
        headers
    }

    fn engine(agent: &'static str, value: &'static str) -> HeaderMap {
        let mut headers = cookie(value);
        headers.insert(header::USER_AGENT, HeaderValue::from_static(agent));
        headers
    }

    const QT_87: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                         QtWebEngine/5.15.15 Chrome/87.0.4280.144 Safari/537.36";
    const CHROME_120: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                              Gecko) Chrome/120.0.0.0 Safari/537.36";

    #[test]
    fn the_engines_note_counts_only_for_the_version_that_wrote_it() {
        let unsafe_eval = |headers: &HeaderMap| page_policy("n", headers).contains("'unsafe-eval'");
        assert!(unsafe_eval(&engine(QT_87, "tvsignin_wasm_eval=87")));
        // The TV's browser was updated since: strict again, and the boot script tries again.
        assert!(!unsafe_eval(&engine(CHROME_120, "tvsignin_wasm_eval=87")));
        // A note from an engine without a Chrome version, and one that does not match.
        assert!(unsafe_eval(&engine("SomeTV/1.0", "tvsignin_wasm_eval=1")));
        assert!(!unsafe_eval(&engine(QT_87, "tvsignin_wasm_eval=1")));
        assert!(!unsafe_eval(&engine(QT_87, "tvsignin_wasm_eval=")));
        assert!(!unsafe_eval(&engine("Chrome/", "tvsignin_wasm_eval=")));
        assert_eq!(engine_version(&engine("x Chrome/94.0 y", "")), "94");
    }

    #[test]
    fn wasm_policy_follows_the_engines_note() {
        let modern = page_policy("n0nce", &HeaderMap::new());
        assert!(modern.contains("script-src 'self' 'nonce-n0nce' 'wasm-unsafe-eval';"));
        assert!(!modern.contains("'unsafe-eval'"));
        let old = page_policy("n0nce", &cookie("a=b; tvsignin_wasm_eval=1"));
        assert!(old.contains("'nonce-n0nce' 'unsafe-eval';"), "{old}");
        for other in [
            "tvsignin_wasm_eval=0",
            "xtvsignin_wasm_eval=1",
            "tvsignin_wasm_eval=1x",
        ] {
            assert!(
                page_policy("n", &cookie(other)).contains("'wasm-unsafe-eval'"),
                "{other}"
            );
        }
    }

    #[test]
    fn boot_script_is_called_with_the_bundle_and_fallback() {
        let options = LeptosOptions::builder()
            .output_name("tvsignin")
            .site_pkg_dir("pkg")
            .hash_files(false)
            .build();
        let scripts = TvScripts::new(&options, &BasePath::default());
        assert!(
            scripts.boot.starts_with("(function (jsUrl, "),
            "{}",
            scripts.boot
        );
        assert!(
            scripts.boot.ends_with(&format!(
                "}})(\"/pkg/tvsignin.js\",\"/pkg/tvsignin_bg.wasm\",\"{}\",{HYDRATION_WAIT_MS},\"{EVAL_COOKIE}\");",
                scripts.fallback_path()
            )),
            "{}",
            &scripts.boot[scripts.boot.len() - 200..]
        );
        assert!(scripts.fallback_path().starts_with("/tv-fallback."));
        assert!(!scripts.boot.contains("</script"));
        // Under a prefix every URL the boot script loads carries it; the route does not.
        let under = TvScripts::new(&options, &BasePath::parse("/tvsignin").unwrap());
        assert!(
            under.boot.ends_with(&format!(
                "}})(\"/tvsignin/pkg/tvsignin.js\",\"/tvsignin/pkg/tvsignin_bg.wasm\",\"/tvsignin{}\",{HYDRATION_WAIT_MS},\"{EVAL_COOKIE}\");",
                under.fallback_path()
            )),
            "{}",
            &under.boot[under.boot.len() - 200..]
        );
        assert_eq!(under.fallback_path(), scripts.fallback_path());
    }
}
