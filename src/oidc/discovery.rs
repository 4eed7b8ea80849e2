//! The provider's discovery document and the endpoints the client ends up using: what
//! discovery says, with the settings' overrides on top.

use serde_json::{Map, Value};
use url::Url;

use super::config::{ClientAuthMethod, EndpointOverrides, ProviderConfig};
use super::error::ProviderError;
use super::http::{string_field, ProviderResponse};

/// The parts of an OpenID Provider Metadata document this client uses. Every field is
/// optional: providers leave things out, and overrides can fill the gaps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub grant_types_supported: Option<Vec<String>>,
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
}

fn string_list(map: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    let list = map.get(key)?.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

impl ProviderMetadata {
    pub fn parse(response: &ProviderResponse) -> Result<Self, ProviderError> {
        let map = response.success_object()?;
        Ok(Self::from_object(&map))
    }

    pub fn from_object(map: &Map<String, Value>) -> Self {
        Self {
            issuer: string_field(map, "issuer"),
            device_authorization_endpoint: string_field(map, "device_authorization_endpoint"),
            token_endpoint: string_field(map, "token_endpoint"),
            userinfo_endpoint: string_field(map, "userinfo_endpoint"),
            revocation_endpoint: string_field(map, "revocation_endpoint"),
            jwks_uri: string_field(map, "jwks_uri"),
            grant_types_supported: string_list(map, "grant_types_supported"),
            token_endpoint_auth_methods_supported: string_list(
                map,
                "token_endpoint_auth_methods_supported",
            ),
            id_token_signing_alg_values_supported: string_list(
                map,
                "id_token_signing_alg_values_supported",
            ),
        }
    }
}

/// The endpoints and choices the client actually uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub issuer: Option<String>,
    pub device_authorization: Option<Url>,
    pub token: Url,
    pub userinfo: Option<Url>,
    pub revocation: Option<Url>,
    pub jwks_uri: Option<Url>,
    pub auth_method: ClientAuthMethod,
    pub grant_types_supported: Option<Vec<String>>,
    pub id_token_algs: Vec<String>,
}

fn pick(
    name: &str,
    override_url: &Option<Url>,
    discovered: &Option<String>,
) -> Result<Option<Url>, ProviderError> {
    if let Some(url) = override_url {
        return Ok(Some(url.clone()));
    }
    match discovered {
        None => Ok(None),
        Some(raw) => Url::parse(raw).map(Some).map_err(|e| {
            ProviderError::Unsupported(format!("discovery's {name} is not a valid URL ({e})"))
        }),
    }
}

impl Endpoints {
    /// Merges discovery (if any) with the overrides.
    pub fn resolve(
        metadata: Option<&ProviderMetadata>,
        config: &ProviderConfig,
    ) -> Result<Self, ProviderError> {
        let empty = ProviderMetadata::default();
        let m = metadata.unwrap_or(&empty);
        let o: &EndpointOverrides = &config.overrides;
        let token = pick("token_endpoint", &o.token, &m.token_endpoint)?.ok_or_else(|| {
            ProviderError::Unsupported(
                "the provider has no token_endpoint; set TOKEN_ENDPOINT".to_owned(),
            )
        })?;
        let auth_method =
            choose_auth_method(config, m.token_endpoint_auth_methods_supported.as_deref());
        Ok(Self {
            issuer: m.issuer.clone(),
            device_authorization: pick(
                "device_authorization_endpoint",
                &o.device_authorization,
                &m.device_authorization_endpoint,
            )?,
            token,
            userinfo: pick("userinfo_endpoint", &o.userinfo, &m.userinfo_endpoint)?,
            revocation: pick("revocation_endpoint", &o.revocation, &m.revocation_endpoint)?,
            jwks_uri: pick("jwks_uri", &o.jwks_uri, &m.jwks_uri)?,
            auth_method,
            grant_types_supported: m.grant_types_supported.clone(),
            id_token_algs: m
                .id_token_signing_alg_values_supported
                .clone()
                .unwrap_or_else(|| vec!["RS256".to_owned()]),
        })
    }

    /// The device authorization endpoint, or an error telling which setting to add.
    pub fn device_authorization(&self) -> Result<&Url, ProviderError> {
        self.device_authorization.as_ref().ok_or_else(|| {
            ProviderError::Unsupported(
                "the provider does not advertise a device_authorization_endpoint; \
                 set DEVICE_AUTHORIZATION_ENDPOINT"
                    .to_owned(),
            )
        })
    }
}

/// The settings' method wins; without one a public client uses `none`, and a confidential
/// client uses `client_secret_basic` unless discovery lists only `client_secret_post`.
pub fn choose_auth_method(
    config: &ProviderConfig,
    supported: Option<&[String]>,
) -> ClientAuthMethod {
    if let Some(method) = config.auth_method {
        return method;
    }
    if config.client_secret.is_none() {
        return ClientAuthMethod::None;
    }
    let lists = |name: &str| supported.is_some_and(|s| s.iter().any(|m| m == name));
    if supported.is_none() || lists("client_secret_basic") || !lists("client_secret_post") {
        ClientAuthMethod::ClientSecretBasic
    } else {
        ClientAuthMethod::ClientSecretPost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::config::ProviderSource;
    use crate::oidc::secret::ClientSecret;

    fn config(secret: bool) -> ProviderConfig {
        let mut c = ProviderConfig::new(ProviderSource::Manual, "tv");
        if secret {
            c.client_secret = Some(ClientSecret::new("s"));
        }
        c
    }

    #[test]
    fn auth_method_defaults() {
        let post_only = vec!["client_secret_post".to_owned()];
        let both = vec![
            "client_secret_post".to_owned(),
            "client_secret_basic".to_owned(),
        ];
        assert_eq!(
            choose_auth_method(&config(false), Some(&both)),
            ClientAuthMethod::None
        );
        assert_eq!(
            choose_auth_method(&config(true), None),
            ClientAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            choose_auth_method(&config(true), Some(&both)),
            ClientAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            choose_auth_method(&config(true), Some(&post_only)),
            ClientAuthMethod::ClientSecretPost
        );
        let mut forced = config(true);
        forced.auth_method = Some(ClientAuthMethod::ClientSecretPost);
        assert_eq!(
            choose_auth_method(&forced, Some(&both)),
            ClientAuthMethod::ClientSecretPost
        );
    }

    #[test]
    fn overrides_fill_gaps_in_discovery() {
        let metadata = ProviderMetadata {
            token_endpoint: Some("https://idp.example/token".into()),
            ..Default::default()
        };
        let mut c = config(false);
        c.overrides.device_authorization = Some(Url::parse("https://idp.example/device").unwrap());
        let e = Endpoints::resolve(Some(&metadata), &c).unwrap();
        assert_eq!(
            e.device_authorization().unwrap().as_str(),
            "https://idp.example/device"
        );
        assert_eq!(e.token.as_str(), "https://idp.example/token");
        assert!(e.userinfo.is_none());

        let no_device = Endpoints::resolve(Some(&metadata), &config(false)).unwrap();
        let err = no_device.device_authorization().unwrap_err().to_string();
        assert!(err.contains("DEVICE_AUTHORIZATION_ENDPOINT"), "{err}");
        assert!(Endpoints::resolve(None, &config(false)).is_err());
    }
}
