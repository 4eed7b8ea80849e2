//! Request guards: server functions refuse cross-site requests (their `Origin` must be this
//! server's) and oversized bodies, each with a 4xx and a plain sentence.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::AppState;

/// Server functions take no real input; anything bigger than this is not ours.
pub const MAX_API_BODY: usize = 16 * 1024;

/// Whether `origin` names the same server the request was sent to.
fn same_origin(origin: &str, host: Option<&str>, public: Option<&url::Url>) -> bool {
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    let origin_host = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return false,
    };
    if host.is_some_and(|h| h.eq_ignore_ascii_case(&origin_host)) {
        return true;
    }
    public.is_some_and(|p| p.origin() == origin.origin())
}

/// Fetch Metadata first (`Sec-Fetch-Site`, sent by current browsers even where the page's
/// `Referrer-Policy: no-referrer` turns `Origin` into `null`), else `Origin`. With neither,
/// the request is let through: the session cookie is SameSite=Strict, so a cross-site
/// request from an old browser carries no session and can only act on a fresh, empty one.
fn is_same_origin_request(
    headers: &http::HeaderMap,
    host: Option<&str>,
    public: Option<&url::Url>,
) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match header("origin") {
        Some("null") | None => true,
        Some(origin) => same_origin(origin, host, public),
    }
}

/// Middleware for `/api/*`: POSTs must come from this server's own pages.
pub async fn same_origin_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST {
        let headers = request.headers();
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if !is_same_origin_request(headers, host, state.settings.public_url.as_ref()) {
            tracing::warn!("cross-site request to a server function refused");
            return (
                StatusCode::FORBIDDEN,
                "Cross-site requests are not allowed.",
            )
                .into_response();
        }
        let too_big = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > MAX_API_BODY);
        if too_big {
            return (StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.").into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let public = url::Url::parse("https://kiosk.example").unwrap();
        assert!(same_origin(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:3000"),
            None
        ));
        assert!(!same_origin(
            "http://evil.example",
            Some("127.0.0.1:3000"),
            None
        ));
        assert!(!same_origin("null", Some("127.0.0.1:3000"), None));
        assert!(same_origin(
            "https://kiosk.example",
            Some("10.0.0.5:3000"),
            Some(&public)
        ));
        assert!(!same_origin(
            "https://kiosk.example.evil",
            Some("10.0.0.5:3000"),
            Some(&public)
        ));
    }

    #[test]
    fn fetch_metadata_wins_over_origin() {
        let check = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = http::HeaderMap::new();
            for (k, v) in pairs {
                headers.insert(*k, http::HeaderValue::from_static(v));
            }
            is_same_origin_request(&headers, Some("127.0.0.1:3000"), None)
        };
        assert!(check(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "null")
        ]));
        assert!(!check(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1:3000")
        ]));
        assert!(!check(&[("sec-fetch-site", "same-site")]));
        assert!(check(&[("origin", "http://127.0.0.1:3000")]));
        assert!(!check(&[("origin", "http://evil.example")]));
        assert!(check(&[]));
    }
}
