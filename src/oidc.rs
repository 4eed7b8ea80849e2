//! The OpenID provider client: discovery, device authorization, the RFC 8628 polling rules,
//! token verification, userinfo, refresh, revocation and the password grant.
//!
//! Request building and response parsing are separate from I/O so they can be tested (and fuzzed)
//! on their own; the HTTP client never follows redirects and caps what it reads.

pub mod client;
pub mod config;
pub mod device;
pub mod discovery;
pub mod error;
pub mod http;
pub mod id_token;
pub mod polling;
pub mod secret;
pub mod token;
pub mod url_policy;
pub mod userinfo;

pub use client::ProviderClient;
pub use config::{ClientAuthMethod, ProviderConfig, ProviderSource};
pub use error::ProviderError;
