//! The provider as the pairing core sees it: the five requests a session needs (device
//! authorization, one poll, completing the sign-in, refresh, revocation), behind a small
//! trait that [`ProviderClient`] implements, so tests can drive the core with a scripted one.

use std::time::Duration;

use crate::metrics::Metrics;
use crate::oidc::client::SignedInUser;
use crate::oidc::device::DeviceAuthorization;
use crate::oidc::secret::{DeviceCode, RefreshToken};
use crate::oidc::token::TokenSet;
use crate::oidc::{ProviderClient, ProviderError};

/// What the pairing core asks of the provider.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// RFC 8628 §3.1: a device code and a user code.
    async fn start_device_authorization(&self) -> Result<DeviceAuthorization, ProviderError>;

    /// RFC 8628 §3.4: one poll of the token endpoint (never resent).
    async fn poll(&self, device_code: &DeviceCode) -> Result<TokenSet, ProviderError>;

    /// Who signed in with these fresh tokens (ID token and userinfo, checked).
    async fn complete_sign_in(&self, tokens: &TokenSet) -> Result<SignedInUser, ProviderError>;

    /// RFC 6749 §6: new tokens for a refresh token (never resent).
    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, ProviderError>;

    /// RFC 7009: revokes the tokens; `false` when the provider has no revocation endpoint.
    async fn revoke(&self, tokens: &TokenSet) -> Result<bool, ProviderError>;

    /// The client id sign-ins are counted under (`tvsignin_sign_ins_total`).
    fn client_id(&self) -> &str;

    /// The longest one request may take (a stopping replica waits that long for them).
    fn request_timeout(&self) -> Duration;
}

#[async_trait::async_trait]
impl Provider for ProviderClient {
    async fn start_device_authorization(&self) -> Result<DeviceAuthorization, ProviderError> {
        ProviderClient::start_device_authorization(self).await
    }

    async fn poll(&self, device_code: &DeviceCode) -> Result<TokenSet, ProviderError> {
        self.poll_token(device_code).await
    }

    async fn complete_sign_in(&self, tokens: &TokenSet) -> Result<SignedInUser, ProviderError> {
        ProviderClient::complete_sign_in(self, tokens).await
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, ProviderError> {
        ProviderClient::refresh(self, refresh_token).await
    }

    async fn revoke(&self, tokens: &TokenSet) -> Result<bool, ProviderError> {
        ProviderClient::revoke(self, tokens).await
    }

    fn client_id(&self) -> &str {
        &self.config().client_id
    }

    fn request_timeout(&self) -> Duration {
        self.config().request_timeout
    }
}

/// Revokes tokens nobody will use any more, logging (never failing) when that cannot be done:
/// they are dropped either way.
pub async fn revoke(provider: &dyn Provider, metrics: &Metrics, tokens: TokenSet) {
    match provider.revoke(&tokens).await {
        Ok(true) => tracing::info!("tokens revoked"),
        Ok(false) => tracing::info!("the provider has no revocation endpoint; tokens dropped"),
        Err(error) => {
            tracing::warn!(%error, "revocation failed; tokens dropped anyway");
            metrics.provider_error("revocation", &error);
        }
    }
}
