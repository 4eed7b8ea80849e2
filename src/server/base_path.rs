//! Serving under a prefix (`BASE_PATH`): requests for `<prefix>/...` reach the app's routes
//! with the prefix taken off, so the routes, the server functions' fixed paths and the
//! static files stay the same wherever the app is mounted; `<prefix>` alone is redirected to
//! `<prefix>/`; anything else is not ours (404), except `/healthz` and `/readyz`, which probes
//! that talk to the process directly may also ask at the root.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use tower::ServiceExt;

use crate::base_path::BasePath;

/// Paths answered at the root as well as under the prefix.
const ALSO_AT_ROOT: &[&str] = &["/healthz", "/readyz"];

/// The URL people reach tvsignin at, with the prefix as its path (`PUBLIC_URL` may carry it
/// already; the settings made sure the two agree).
pub fn with_base(mut url: url::Url, base: &BasePath) -> url::Url {
    url.set_path(&base.home());
    url
}

/// `app` served under `base` (unchanged at the root).
pub fn mount(app: Router, base: &BasePath) -> Router {
    if base.is_root() {
        return app;
    }
    let base = base.clone();
    Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let (app, base) = (app.clone(), base.clone());
        async move { Ok::<_, Infallible>(route(app, &base, request).await) }
    }))
}

async fn route(app: Router, base: &BasePath, mut request: Request) -> Response {
    let path = request.uri().path();
    let inner = match path.strip_prefix(base.as_str()) {
        Some("") => {
            let query = request
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            return Redirect::permanent(&format!("{}{query}", base.home())).into_response();
        }
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ if ALSO_AT_ROOT.contains(&path) => path.to_owned(),
        _ => return not_ours(),
    };
    let Some(uri) = without_prefix(request.uri(), &inner) else {
        return not_ours();
    };
    *request.uri_mut() = uri;
    match app.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The request's URI with its path replaced by `path` (the query kept).
fn without_prefix(uri: &Uri, path: &str) -> Option<Uri> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    Uri::builder().path_and_query(path_and_query).build().ok()
}

fn not_ours() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from("Not found."),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::routing::get;

    use super::*;

    async fn get_path(app: &Router, path: &str) -> (StatusCode, String) {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = location.unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        (status, text)
    }

    #[tokio::test]
    async fn routes_see_the_path_after_the_prefix() {
        let inner = Router::new()
            .route("/", get(|| async { "home" }))
            .route("/api/x", get(|uri: Uri| async move { uri.to_string() }))
            .route("/healthz", get(|| async { "ok" }));
        let app = mount(inner.clone(), &BasePath::parse("/tv/signin").unwrap());
        let cases = [
            ("/tv/signin/", StatusCode::OK, "home"),
            ("/tv/signin/api/x?a=1", StatusCode::OK, "/api/x?a=1"),
            ("/tv/signin", StatusCode::PERMANENT_REDIRECT, "/tv/signin/"),
            (
                "/tv/signin?x=1",
                StatusCode::PERMANENT_REDIRECT,
                "/tv/signin/?x=1",
            ),
            ("/tv/signin/healthz", StatusCode::OK, "ok"),
            ("/healthz", StatusCode::OK, "ok"),
            ("/", StatusCode::NOT_FOUND, "Not found."),
            ("/api/x", StatusCode::NOT_FOUND, "Not found."),
            ("/tv/signinx/", StatusCode::NOT_FOUND, "Not found."),
            ("/tv/", StatusCode::NOT_FOUND, "Not found."),
        ];
        for (path, status, text) in cases {
            assert_eq!(
                get_path(&app, path).await,
                (status, text.to_owned()),
                "{path}"
            );
        }
        // At the root nothing changes.
        let root = mount(inner, &BasePath::default());
        assert_eq!(get_path(&root, "/api/x").await.1, "/api/x");
    }
}
