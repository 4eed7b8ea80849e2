//! The web server: settings, shared state, the pairing sessions behind each TV, the push
//! stream, the router and graceful shutdown.

pub mod assets;
pub mod demo_idp;
pub mod guard;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod open_files;
pub mod pairing;
pub mod push;
pub mod qr;
pub mod router;
pub mod session;
pub mod settings;
pub mod shutdown;
pub mod site;
pub mod start;
pub mod state;
pub mod store;
pub mod tiers;

pub use router::router;
pub use settings::Settings;
pub use state::AppState;
