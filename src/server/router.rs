//! `router(state)`: every route of the app, shared by `main` and the tests.
//!
//! Every request gets an `x-request-id` (kept if the client sent one, else a new UUID), echoed
//! on the response and recorded in the request's log span with the method and the path. The
//! query string is left out of logs: it can carry user codes.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Json, Router};
use leptos::nonce::provide_nonce;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use super::session::ensure_session;
use super::state::AppState;
use super::{assets, base_path, forward_auth, guard, metrics_endpoint, push, screens, tiers};
use crate::app::{shell, App};

/// For responses that are not pages (pages get a policy with a per-response nonce).
const FALLBACK_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Builds the app's router (under `BASE_PATH`, see `base_path`).
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let base = state.settings.front_door.base_path.clone();
    // Pages and server functions learn the prefix from their context.
    let context = {
        let base = base.clone();
        move || {
            provide_nonce();
            leptos::prelude::provide_context(base.clone());
        }
    };
    let site = &state.leptos_options;
    let pkg = assets::pkg_router(&site.site_root, &site.site_pkg_dir, site.hash_files);
    let mut app = Router::new()
        .nest_service("/pkg", pkg)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(screens::BRAND_CSS_PATH, get(screens::brand_css))
        .route(screens::LOGO_PATH, get(screens::logo))
        .route(state.tv_scripts.fallback_path(), get(tiers::fallback_js))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::same_origin_only,
        ))
        .layer(CompressionLayer::new())
        // Added after the compression layer, so outside it: event streams are never compressed,
        // and the layer's body wrapper (about 6 KB) would live as long as each TV's stream.
        .route("/events", get(push::events))
        .layer(RequestBodyLimitLayer::new(guard::MAX_API_BODY * 4))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ensure_session,
        ));
    #[cfg(feature = "demo")]
    if let Some(demo) = &state.demo {
        app = app.nest_service(
            "/demo-idp",
            std::sync::Arc::clone(demo)
                .router()
                .layer(CompressionLayer::new()),
        );
    }
    // Outside the session layer: a scraper gets no cookie and no TV session.
    app = app.route(
        "/metrics",
        get(metrics_endpoint::render).layer(CompressionLayer::new()),
    );
    // The forward-auth check and its companions read the cookie and never set one.
    app = app.merge(forward_auth::routes());
    base_path::mount(app.with_state(state), &base)
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(FALLBACK_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Outermost last: the id is set, then the span made, then the id copied to the response.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The log span of one request: method, path (never the query) and request id.
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

async fn healthz() -> &'static str {
    "ok"
}

/// Readiness for a load balancer or an orchestrator. Anyone who can reach the port may ask,
/// so the answer says what is wrong in a fixed word; the error itself (internal addresses,
/// what the provider answered) is in the server's log, where it was written when it happened.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let health = state.provider.health();
    // An issuer mismatch is checked first: discovery is not used then, so it is also
    // "not loaded", but the operator needs to know why.
    let reason = if health.issuer_mismatch {
        Some("issuer_mismatch")
    } else if !health.discovery_loaded {
        Some("discovery_not_loaded")
    } else if health.last_error.is_some() {
        Some("provider_unreachable")
    } else {
        None
    };
    let body = serde_json::json!({
        "ready": health.is_ready(),
        "provider": state.provider.config().source.display(),
        "reason": reason,
    });
    let status = if health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
