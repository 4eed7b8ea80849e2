//! `GET /metrics`: this server's metrics (see `crate::metrics`) in the Prometheus text format,
//! with the gauges that are read at scrape time set first.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::state::AppState;
use crate::metrics::{Scrape, CONTENT_TYPE};

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let health = state.provider.health();
    let body = state.metrics().scrape(Scrape {
        tv_sessions: state.hub.len(),
        pairings_in_progress: state.hub.pairings_in_progress(),
        discovery_loaded: health.discovery_loaded,
        provider_healthy: health.is_ready(),
    });
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}
