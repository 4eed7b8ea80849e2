//! The provider's discovery document and the endpoints the client ends up using: what
//! discovery says, with the settings' overrides on top, once the document has been checked
//! to speak for the configured issuer and every URL passes [`super::url_policy`].

use serde_json::{Map, Value};
use url::Url;

use super::config::{ClientAuthMethod, EndpointOverrides, ProviderConfig};
use super::error::ProviderError;
use super::http::{string_field, ProviderResponse};
use super::url_policy::UrlPolicy;

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

/// The override from the settings, else the discovered URL; either must pass the policy.
fn pick(
    name: &str,
    override_url: &Option<Url>,
    discovered: &Option<String>,
    policy: UrlPolicy,
) -> Result<Option<Url>, ProviderError> {
    let (url, from_discovery) = match (override_url, discovered) {
        (Some(url), _) => (url.clone(), false),
        (None, None) => return Ok(None),
        (None, Some(raw)) => (
            Url::parse(raw).map_err(|e| {
                ProviderError::Unsupported(format!("discovery's {name} is not a valid URL ({e})"))
            })?,
            true,
        ),
    };
    policy
        .check(&url, from_discovery)
        .map_err(|refusal| ProviderError::UntrustedUrl {
            name: if from_discovery {
                format!("discovery's {name}")
            } else {
                name.to_owned()
            },
            url: url.to_string(),
            reason: refusal.explain(),
        })?;
    Ok(Some(url))
}

/// OpenID Connect Discovery §4.3: the document's `issuer` must be the issuer the settings
/// name (for an IBM Security Verify tenant, `<TENANT_URL>/oauth2`), or anyone who can serve
/// that document could stand in for the provider. A trailing slash is not a difference.
fn check_issuer(found: Option<&str>, config: &ProviderConfig) -> Result<(), ProviderError> {
    let Some(expected) = config.source.issuer() else {
        return Ok(());
    };
    match found {
        Some(found) if found.trim_end_matches('/') == expected => Ok(()),
        _ => Err(ProviderError::IssuerMismatch {
            expected,
            found: found.map_or_else(
                || "nothing".to_owned(),
                |f| format!("{:?}", f.chars().take(200).collect::<String>()),
            ),
        }),
    }
}

impl Endpoints {
    /// Merges discovery (if any) with the overrides, after checking that discovery speaks
    /// for the configured issuer and that every URL is one the client may use.
    pub fn resolve(
        metadata: Option<&ProviderMetadata>,
        config: &ProviderConfig,
    ) -> Result<Self, ProviderError> {
        if let Some(metadata) = metadata {
            check_issuer(metadata.issuer.as_deref(), config)?;
        }
        let empty = ProviderMetadata::default();
        let m = metadata.unwrap_or(&empty);
        let o: &EndpointOverrides = &config.overrides;
        let policy = config.url_policy();
        let token =
            pick("token_endpoint", &o.token, &m.token_endpoint, policy)?.ok_or_else(|| {
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
                policy,
            )?,
            token,
            userinfo: pick(
                "userinfo_endpoint",
                &o.userinfo,
                &m.userinfo_endpoint,
                policy,
            )?,
            revocation: pick(
                "revocation_endpoint",
                &o.revocation,
                &m.revocation_endpoint,
                policy,
            )?,
            jwks_uri: pick("jwks_uri", &o.jwks_uri, &m.jwks_uri, policy)?,
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

    fn discovered(issuer: Option<&str>, token: &str) -> ProviderMetadata {
        ProviderMetadata {
            issuer: issuer.map(str::to_owned),
            token_endpoint: Some(token.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn discovery_must_name_the_configured_issuer() {
        let issuer = |u: &str| ProviderSource::Issuer(Url::parse(u).unwrap());
        let tenant = |u: &str| ProviderSource::Tenant(Url::parse(u).unwrap());
        let token = "https://idp.example/token";
        // (source, discovery's issuer, accepted)
        let cases = [
            (
                issuer("https://idp.example/realms/tv"),
                Some("https://idp.example/realms/tv"),
                true,
            ),
            (
                issuer("https://idp.example"),
                Some("https://idp.example/"),
                true,
            ),
            (
                issuer("https://idp.example/"),
                Some("https://idp.example"),
                true,
            ),
            (
                tenant("https://acme.verify.ibm.com"),
                Some("https://acme.verify.ibm.com/oauth2"),
                true,
            ),
            (
                tenant("https://acme.verify.ibm.com"),
                Some("https://acme.verify.ibm.com"),
                false,
            ),
            (
                issuer("https://idp.example/realms/tv"),
                Some("https://idp.example/realms/other"),
                false,
            ),
            (
                issuer("https://idp.example"),
                Some("https://evil.example"),
                false,
            ),
            (
                issuer("https://idp.example"),
                Some("http://idp.example"),
                false,
            ),
            (issuer("https://idp.example"), None, false),
        ];
        for (source, found, accepted) in cases {
            let config = ProviderConfig::new(source.clone(), "tv");
            let result = Endpoints::resolve(Some(&discovered(found, token)), &config);
            match (result, accepted) {
                (Ok(endpoints), true) => assert_eq!(endpoints.issuer.as_deref(), found),
                (
                    Err(ProviderError::IssuerMismatch {
                        expected,
                        found: text,
                    }),
                    false,
                ) => {
                    assert_eq!(Some(expected), source.issuer());
                    assert!(text.starts_with('"') || text == "nothing", "{text}");
                }
                (other, _) => panic!("{source:?} {found:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn discovered_urls_must_be_https_or_local() {
        let config = |base: &str| {
            ProviderConfig::new(ProviderSource::Issuer(Url::parse(base).unwrap()), "tv")
        };
        let remote = config("https://idp.example");
        let doc = |token: &str, jwks: &str| ProviderMetadata {
            jwks_uri: Some(jwks.to_owned()),
            ..discovered(Some("https://idp.example"), token)
        };
        let ok = doc("https://idp.example/token", "https://keys.example/jwks");
        assert!(Endpoints::resolve(Some(&ok), &remote).is_ok());
        for (m, field) in [
            (
                doc("http://idp.example/token", "https://keys.example/jwks"),
                "token_endpoint",
            ),
            (
                doc("https://idp.example/token", "http://keys.example/jwks"),
                "jwks_uri",
            ),
            (
                doc("https://idp.example/token", "http://127.0.0.1:6379/"),
                "jwks_uri",
            ),
            (
                doc("file:///etc/passwd", "https://keys.example/jwks"),
                "token_endpoint",
            ),
        ] {
            match Endpoints::resolve(Some(&m), &remote) {
                Err(ProviderError::UntrustedUrl { name, .. }) => {
                    assert_eq!(name, format!("discovery's {field}"))
                }
                other => panic!("{m:?}: {other:?}"),
            }
        }
        // A lab may allow plain http elsewhere; loopback from a remote document stays refused.
        let mut lab = remote.clone();
        lab.allow_plain_http = true;
        let plain = doc("http://idp.example/token", "http://keys.example/jwks");
        assert!(Endpoints::resolve(Some(&plain), &lab).is_ok());
        let sneaky = doc("http://idp.example/token", "http://127.0.0.1:6379/");
        assert!(Endpoints::resolve(Some(&sneaky), &lab).is_err());
        // A provider on this machine may use plain http on this machine.
        let local = config("http://127.0.0.1:4000");
        let m = ProviderMetadata {
            issuer: Some("http://127.0.0.1:4000".into()),
            ..doc("http://127.0.0.1:4000/token", "http://127.0.0.1:4000/jwks")
        };
        assert!(Endpoints::resolve(Some(&m), &local).is_ok());
        // The settings' overrides follow the same rules, named by their key's meaning.
        let mut overridden = remote.clone();
        overridden.overrides.token = Some(Url::parse("http://idp.example/token").unwrap());
        assert!(matches!(
            Endpoints::resolve(Some(&ok), &overridden),
            Err(ProviderError::UntrustedUrl { name, .. }) if name == "token_endpoint"
        ));
    }
}
