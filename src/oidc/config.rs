//! What the provider client needs to know: where the provider is, who the client is, and how
//! it authenticates. Built from the app's settings; knows nothing about files or environment.

use std::time::Duration;
use url::Url;

use super::secret::ClientSecret;
use super::url_policy::{is_this_machine, UrlPolicy};

/// Where the discovery document comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderSource {
    /// Any OpenID provider: `<issuer>/.well-known/openid-configuration`.
    Issuer(Url),
    /// An IBM Security Verify tenant: `<tenant>/oauth2/.well-known/openid-configuration`.
    Tenant(Url),
    /// No discovery: every endpoint comes from the settings.
    Manual,
}

impl ProviderSource {
    /// The discovery document's URL, if the provider has one.
    pub fn discovery_url(&self) -> Option<String> {
        let join =
            |base: &Url, suffix: &str| format!("{}{}", base.as_str().trim_end_matches('/'), suffix);
        match self {
            Self::Issuer(issuer) => Some(join(issuer, "/.well-known/openid-configuration")),
            Self::Tenant(tenant) => Some(join(tenant, "/oauth2/.well-known/openid-configuration")),
            Self::Manual => None,
        }
    }

    /// The issuer the settings name (IBM Security Verify's is `<tenant>/oauth2`); `None`
    /// without discovery.
    pub fn issuer(&self) -> Option<String> {
        match self {
            Self::Issuer(u) => Some(u.as_str().trim_end_matches('/').to_owned()),
            Self::Tenant(u) => Some(format!("{}/oauth2", u.as_str().trim_end_matches('/'))),
            Self::Manual => None,
        }
    }

    /// A short human name for logs and the TV ("the sign-in service at ...").
    pub fn display(&self) -> String {
        match self {
            Self::Issuer(u) | Self::Tenant(u) => u.as_str().trim_end_matches('/').to_owned(),
            Self::Manual => "the configured endpoints".to_owned(),
        }
    }
}

/// How the client proves who it is at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the URL-encoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` only.
    None,
}

impl ClientAuthMethod {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// Endpoint overrides for providers that lack discovery or leave something out of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub device_authorization: Option<Url>,
    pub token: Option<Url>,
    pub userinfo: Option<Url>,
    pub revocation: Option<Url>,
    pub jwks_uri: Option<Url>,
}

/// Everything the provider client is configured with.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub source: ProviderSource,
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    pub scope: String,
    pub overrides: EndpointOverrides,
    /// `None`: chosen from discovery (see [`super::discovery::Endpoints::auth_method`]).
    pub auth_method: Option<ClientAuthMethod>,
    /// Extra parameters for the device authorization request (e.g. Auth0's `audience`).
    pub extra_auth_params: Vec<(String, String)>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
    /// Clock-skew allowance for ID token `exp`/`iat`.
    pub clock_skew: Duration,
    /// `ALLOW_HTTP_PROVIDER`: plain http to provider hosts other than this machine (a lab).
    pub allow_plain_http: bool,
}

impl ProviderConfig {
    /// A config with the defaults for everything but the essentials.
    pub fn new(source: ProviderSource, client_id: impl Into<String>) -> Self {
        Self {
            source,
            client_id: client_id.into(),
            client_secret: None,
            scope: "openid profile email".to_owned(),
            overrides: EndpointOverrides::default(),
            auth_method: None,
            extra_auth_params: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_response_bytes: 512 * 1024,
            clock_skew: Duration::from_secs(120),
            allow_plain_http: false,
        }
    }

    /// Which URLs this provider's client may use (see [`UrlPolicy`]).
    pub fn url_policy(&self) -> UrlPolicy {
        let provider_is_local = match &self.source {
            ProviderSource::Issuer(url) | ProviderSource::Tenant(url) => is_this_machine(url),
            // No discovery: every URL comes from the settings.
            ProviderSource::Manual => true,
        };
        UrlPolicy {
            allow_plain_http: self.allow_plain_http,
            provider_is_local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_urls() {
        let issuer = ProviderSource::Issuer(Url::parse("https://idp.example/realms/tv/").unwrap());
        assert_eq!(
            issuer.discovery_url().unwrap(),
            "https://idp.example/realms/tv/.well-known/openid-configuration"
        );
        let tenant = ProviderSource::Tenant(Url::parse("https://acme.verify.ibm.com").unwrap());
        assert_eq!(
            tenant.discovery_url().unwrap(),
            "https://acme.verify.ibm.com/oauth2/.well-known/openid-configuration"
        );
        assert_eq!(ProviderSource::Manual.discovery_url(), None);
    }
}
