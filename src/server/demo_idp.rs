//! The built-in demo OpenID provider, served under `/demo-idp` when no real provider is
//! configured. Not for production: its users and passwords are shown on its own pages.

use axum::Router;
use url::Url;

/// How the demo provider is set up.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Its issuer, as the server itself reaches it (loopback).
    pub issuer: Url,
    /// Where phones reach this server (verification links use it).
    pub public_base: Url,
    pub client_id: String,
    pub extra_users: Vec<(String, String)>,
}

/// The demo provider's state.
pub struct DemoIdp {
    #[allow(dead_code)]
    config: DemoConfig,
}

impl DemoIdp {
    pub fn new(config: DemoConfig) -> Self {
        Self { config }
    }

    pub fn router(self: std::sync::Arc<Self>) -> Router {
        Router::new()
    }
}
