//! The one application state, handed to the router and to `leptos_routes`; server functions
//! read it with `expect_context::<AppState>()`.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio_util::sync::CancellationToken;

use crate::model::KioskInfo;
use crate::oidc::ProviderClient;
use crate::pairing::Hub;
use crate::settings::Settings;

/// The built-in demo provider, in a build that has one (the `demo` feature).
#[cfg(feature = "demo")]
pub type DemoProvider = Arc<crate::demo_idp::DemoIdp>;
/// A build without the demo provider never has one.
#[cfg(not(feature = "demo"))]
pub type DemoProvider = std::convert::Infallible;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub provider: Arc<ProviderClient>,
    pub hub: Hub,
    pub kiosk: KioskInfo,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// The demo provider, when no real one is configured.
    pub demo: Option<DemoProvider>,
    /// Where TVs and phones reach this server (`PUBLIC_URL`, else the chosen address).
    pub public_url: url::Url,
    /// The TV page's boot script and where its live fallback is served.
    pub tv_scripts: super::tiers::TvScripts,
    /// Signs and checks session cookies (ids are issued only by the server).
    pub sessions: Arc<super::session::SessionSigner>,
    /// Open push streams per client address.
    pub push_streams: crate::limits::streams::StreamLimiter,
    /// The forward-auth check for the app behind the front door.
    pub forward_auth: Arc<super::forward_auth::ForwardAuth>,
    /// The screens' messages in every language, parsed once.
    pub texts: Arc<crate::i18n::catalog::Catalog>,
}

impl AppState {
    /// This server's metrics (kept in the hub: one recorder per state, none global).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        self.hub.metrics()
    }
}

impl FromRef<AppState> for super::forward_auth::FrontDoor {
    fn from_ref(state: &AppState) -> Self {
        Self {
            check: state.forward_auth.clone(),
            hub: state.hub.clone(),
            provider: state.provider.clone(),
            settings: state.settings.clone(),
            sessions: state.sessions.clone(),
            leptos_options: state.leptos_options.clone(),
            texts: state.texts.clone(),
        }
    }
}
