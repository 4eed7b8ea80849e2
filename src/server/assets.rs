//! The browser bundle under `/pkg`: served precompressed (brotli, gzip), with `Vary:
//! Accept-Encoding` so that caches keep the encodings apart, and, when cargo-leptos hashed the
//! file names, cached for a year. The compressed copies are made once at start-up next to the
//! originals (an installed package brings its own, from `packaging/deb/precompress.mjs`, as
//! the service cannot write there), so no request pays for compression.
//!
//! cargo-leptos's `--precompress` would make them at build time, but it runs before
//! `scripts/build.sh` patches the JavaScript glue (its copies of the glue would be of the
//! unpatched file), and its gzip copies are larger: 306,404 bytes for the WebAssembly against
//! 264,214 made here (the brotli copies are the same size).

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::http::HeaderValue;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

const COMPRESSIBLE: &[&str] = &["js", "wasm", "css", "svg", "json"];

/// Writes `<file>.br` and `<file>.gz` for every compressible file in `dir` that lacks a
/// current copy. Returns how many files were compressed.
pub fn precompress(dir: &Path) -> std::io::Result<usize> {
    let mut done = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let path = entry?.path();
        let compressible = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !compressible {
            continue;
        }
        let (br, gz) = (with_suffix(&path, "br"), with_suffix(&path, "gz"));
        let (br_stale, gz_stale) = (is_stale(&br, &path), is_stale(&gz, &path));
        if !br_stale && !gz_stale {
            continue;
        }
        // Read only what needs compressing: on most starts every copy is current.
        let data = std::fs::read(&path)?;
        if br_stale {
            let mut out = Vec::new();
            {
                let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
                writer.write_all(&data)?;
            }
            write_atomically(&br, &out)?;
        }
        if gz_stale {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&data)?;
            write_atomically(&gz, &encoder.finish()?)?;
        }
        done += 1;
    }
    Ok(done)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn is_stale(copy: &Path, original: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(copy), modified(original)) {
        (Some(c), Some(o)) => c < o,
        _ => true,
    }
}

fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = with_suffix(path, "tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(tmp, path)
}

/// The `/pkg` service. `immutable` only when file names carry content hashes.
pub fn pkg_router(site_root: &str, pkg_dir: &str, hashed: bool) -> Router {
    let dir = Path::new(site_root).join(pkg_dir);
    let cache = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Router::new()
        .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
        .layer(SetResponseHeaderLayer::overriding(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static(cache),
        ))
        // ServeDir names the encoding of a compressed copy but not that the answer depends on
        // Accept-Encoding; the compression layer outside adds this only to what it compresses.
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;
    use tower_http::compression::CompressionLayer;

    #[tokio::test]
    async fn the_copies_made_at_start_are_what_is_sent() {
        let site = std::env::temp_dir().join(format!("tvsignin-site-{}", std::process::id()));
        let pkg = site.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let script: String = (0..400)
            .map(|i| {
                format!(
                    "export function f{i}(x) {{ return x * {i} + {}; }}\n",
                    i % 7
                )
            })
            .collect();
        std::fs::write(pkg.join("app.js"), script).unwrap();
        assert_eq!(precompress(&pkg).unwrap(), 1);
        // As in the app's router, with on-the-fly compression outside: its output (brotli at
        // quality 4, gzip at level 6) differs from the copies, so it cannot pass for them.
        let app = pkg_router(site.to_str().unwrap(), "pkg", true).layer(CompressionLayer::new());
        for (accepted, encoding, file) in [
            ("br", Some("br"), "app.js.br"),
            ("gzip", Some("gzip"), "app.js.gz"),
            ("identity", None, "app.js"),
        ] {
            let request = Request::get("/app.js")
                .header(header::ACCEPT_ENCODING, accepted)
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{accepted}");
            let headers = response.headers().clone();
            assert_eq!(
                headers
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().unwrap()),
                encoding,
                "{accepted}: {headers:?}"
            );
            let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
            assert_eq!(vary, ["accept-encoding"], "{accepted}: {headers:?}");
            assert_eq!(
                headers[header::CACHE_CONTROL],
                "public, max-age=31536000, immutable"
            );
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert!(
                body == std::fs::read(pkg.join(file)).unwrap(),
                "{accepted}: the answer is not {file}"
            );
        }
        std::fs::remove_dir_all(site).unwrap();
    }

    #[test]
    fn compressed_copies_are_made_once() {
        let dir = std::env::temp_dir().join(format!("tvsignin-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.js"), "console.log('hi');".repeat(100)).unwrap();
        std::fs::write(dir.join("notes.txt"), "not compressed").unwrap();
        assert_eq!(precompress(&dir).unwrap(), 1);
        assert!(dir.join("app.js.br").exists() && dir.join("app.js.gz").exists());
        assert!(!dir.join("notes.txt.br").exists());
        assert_eq!(precompress(&dir).unwrap(), 0, "up-to-date copies are kept");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
