//! The HTTP edge: the router and its middleware (session cookie, same-origin guard), the
//! TV page's boot tiers, the push stream, health and metrics endpoints, static assets, the
//! listener, start-up and graceful shutdown. Decisions about pairings live in `crate::pairing`.

pub mod assets;
pub mod base_path;
pub mod forward_auth;
pub mod guard;
pub mod listener;
pub mod metrics_endpoint;
pub mod open_files;
pub mod push;
pub mod router;
pub mod screens;
pub mod server_fns;
pub mod session;
pub mod shutdown;
pub mod site;
pub mod start;
pub mod state;
pub mod tiers;

pub use router::router;
pub use state::AppState;
