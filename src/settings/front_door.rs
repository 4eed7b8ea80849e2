//! Settings of tvsignin as the front door of another app: where it is mounted (`BASE_PATH`),
//! where a signed-in TV goes next (`APP_URL`), and what the forward-auth check (`/auth`)
//! tells the proxy about the person: which claims, whether the access token, and whether a
//! signed assertion (JWT).

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::{bad, parse_bool, parse_secs, RawSettings, SettingsError};
use crate::assertion::AssertionKey;
use crate::base_path::BasePath;
use crate::model::AppLink;

/// The front door's settings.
#[derive(Clone, Debug, Default)]
pub struct FrontDoorSettings {
    /// Where tvsignin is mounted (`BASE_PATH`, else `PUBLIC_URL`'s path).
    pub base_path: BasePath,
    /// Where a signed-in TV continues to (`APP_URL`, `APP_CONTINUE_SECS`).
    pub app: Option<AppLink>,
    pub forward_auth: ForwardAuthSettings,
    /// The claims kept at sign-in for the check (`FORWARD_AUTH_GROUPS_CLAIM`).
    pub identity_claims: IdentityClaims,
}

/// What `X-Auth-Request-User` carries (`FORWARD_AUTH_USER_CLAIM`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserClaim {
    #[default]
    Sub,
    PreferredUsername,
    Email,
}

/// Which claims are kept when someone signs in, for the forward-auth check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityClaims {
    /// The claim holding the person's groups, dotted for nested ones (`realm_access.roles`).
    pub groups: String,
}

impl Default for IdentityClaims {
    fn default() -> Self {
        Self {
            groups: "groups".to_owned(),
        }
    }
}

/// What the forward-auth check answers.
#[derive(Clone, Debug)]
pub struct ForwardAuthSettings {
    pub user_claim: UserClaim,
    /// `X-Auth-Request-Access-Token` (`FORWARD_AUTH_ACCESS_TOKEN`).
    pub pass_access_token: bool,
    /// How often a signed-in session's access token is shown to the provider's userinfo
    /// endpoint again, so a revocation there ends access (`FORWARD_AUTH_RECHECK_SECS`).
    pub recheck_every: Duration,
    /// `X-Auth-Request-Jwt` (`FORWARD_AUTH_JWT`).
    pub assertion: Option<AssertionSettings>,
}

impl Default for ForwardAuthSettings {
    fn default() -> Self {
        Self {
            user_claim: UserClaim::Sub,
            pass_access_token: false,
            recheck_every: Duration::from_secs(60),
            assertion: None,
        }
    }
}

/// The signed assertion.
#[derive(Clone, Debug)]
pub struct AssertionSettings {
    /// From `FORWARD_AUTH_JWT_KEY_FILE`; `None`: a key made at start (one server only).
    pub key: Option<Arc<AssertionKey>>,
    pub ttl: Duration,
    /// `aud` (`FORWARD_AUTH_JWT_AUDIENCE`), when set.
    pub audience: Option<String>,
}

/// Reads the front door's keys. `public_url` is `PUBLIC_URL`, whose path is the default prefix;
/// `shared_store` says several replicas may answer (`REDIS_URL`), which must sign alike.
pub fn parse(
    raw: &RawSettings,
    public_url: Option<&Url>,
    shared_store: bool,
) -> Result<FrontDoorSettings, SettingsError> {
    Ok(FrontDoorSettings {
        base_path: parse_base_path(raw, public_url)?,
        app: parse_app(raw)?,
        forward_auth: parse_forward_auth(raw, shared_store)?,
        identity_claims: match raw.get("FORWARD_AUTH_GROUPS_CLAIM") {
            None => IdentityClaims::default(),
            Some(name) if is_claim_name(name) => IdentityClaims {
                groups: name.to_owned(),
            },
            Some(name) => {
                return Err(bad(
                    "FORWARD_AUTH_GROUPS_CLAIM",
                    format!("{name:?} is not a claim name (letters, digits, - _ : and dots for nested claims)"),
                ))
            }
        },
    })
}

fn is_claim_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b))
        })
}

fn parse_base_path(raw: &RawSettings, public_url: Option<&Url>) -> Result<BasePath, SettingsError> {
    let from_public = match public_url {
        Some(url) => BasePath::parse(url.path()).map_err(|problem| {
            bad(
                "PUBLIC_URL",
                format!("its path {problem} (it is where tvsignin is mounted)"),
            )
        })?,
        None => BasePath::default(),
    };
    let Some(text) = raw.get("BASE_PATH") else {
        return Ok(from_public);
    };
    let base = BasePath::parse(text).map_err(|problem| bad("BASE_PATH", problem))?;
    if !from_public.is_root() && from_public != base {
        return Err(bad(
            "BASE_PATH",
            format!(
                "{text:?} differs from PUBLIC_URL's path {:?}; set one, or both alike",
                from_public.as_str()
            ),
        ));
    }
    Ok(base)
}

fn parse_app(raw: &RawSettings) -> Result<Option<AppLink>, SettingsError> {
    let Some(text) = raw.get("APP_URL") else {
        if raw.get("APP_CONTINUE_SECS").is_some() {
            return Err(bad("APP_CONTINUE_SECS", "is set but APP_URL is not"));
        }
        return Ok(None);
    };
    let url = match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            url.to_string()
        }
        Ok(_) => {
            return Err(bad(
                "APP_URL",
                format!("{text:?} is not an http(s) URL or a path on this host"),
            ))
        }
        // A path on the host the TV reached tvsignin at, such as `/` or `/dashboard/`.
        Err(_) if text.starts_with('/') && !text.starts_with("//") => {
            let base =
                Url::parse("http://host.invalid/").map_err(|e| bad("APP_URL", e.to_string()))?;
            let joined = base
                .join(text)
                .map_err(|e| bad("APP_URL", format!("{text:?} is not a path ({e})")))?;
            joined[url::Position::BeforePath..].to_owned()
        }
        Err(e) => {
            return Err(bad(
                "APP_URL",
                format!("{text:?} is not a URL ({e}) or a path starting with /"),
            ))
        }
    };
    let continue_secs = match raw.get("APP_CONTINUE_SECS") {
        None => 5,
        Some(v) => v.parse::<u64>().ok().filter(|n| *n <= 600).ok_or_else(|| {
            bad(
                "APP_CONTINUE_SECS",
                format!("{v:?} is not a whole number of seconds from 0 to 600"),
            )
        })?,
    };
    Ok(Some(AppLink { url, continue_secs }))
}

fn parse_forward_auth(
    raw: &RawSettings,
    shared_store: bool,
) -> Result<ForwardAuthSettings, SettingsError> {
    let user_claim = match raw.get("FORWARD_AUTH_USER_CLAIM") {
        None | Some("sub") => UserClaim::Sub,
        Some("preferred_username") => UserClaim::PreferredUsername,
        Some("email") => UserClaim::Email,
        Some(other) => {
            return Err(bad(
                "FORWARD_AUTH_USER_CLAIM",
                format!("{other:?} is not sub, preferred_username or email"),
            ))
        }
    };
    let jwt = parse_bool(raw, "FORWARD_AUTH_JWT")?;
    let assertion = if jwt {
        let key = match raw.get("FORWARD_AUTH_JWT_KEY_FILE") {
            Some(path) => Some(Arc::new(read_key_file(path)?)),
            None if shared_store => {
                return Err(bad(
                    "FORWARD_AUTH_JWT_KEY_FILE",
                    "is required with FORWARD_AUTH_JWT and REDIS_URL: every replica must sign \
                     with the same key (a PKCS#8 P-256 key: openssl genpkey -algorithm EC \
                     -pkeyopt ec_paramgen_curve:P-256)",
                ))
            }
            None => None,
        };
        Some(AssertionSettings {
            key,
            ttl: parse_secs(raw, "FORWARD_AUTH_JWT_TTL_SECS", 60, 5)?,
            audience: raw.get("FORWARD_AUTH_JWT_AUDIENCE").map(str::to_owned),
        })
    } else {
        for key in [
            "FORWARD_AUTH_JWT_KEY_FILE",
            "FORWARD_AUTH_JWT_TTL_SECS",
            "FORWARD_AUTH_JWT_AUDIENCE",
        ] {
            if raw.get(key).is_some() {
                return Err(bad(key, "is set but FORWARD_AUTH_JWT is not true"));
            }
        }
        None
    };
    Ok(ForwardAuthSettings {
        user_claim,
        pass_access_token: parse_bool(raw, "FORWARD_AUTH_ACCESS_TOKEN")?,
        recheck_every: parse_secs(raw, "FORWARD_AUTH_RECHECK_SECS", 60, 1)?,
        assertion,
    })
}

fn read_key_file(path: &str) -> Result<AssertionKey, SettingsError> {
    let pem = std::fs::read_to_string(path).map_err(|e| {
        bad(
            "FORWARD_AUTH_JWT_KEY_FILE",
            format!("cannot read {path}: {e}"),
        )
    })?;
    AssertionKey::from_pem(&pem)
        .map_err(|problem| bad("FORWARD_AUTH_JWT_KEY_FILE", format!("{path}: {problem}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn front(pairs: &[(&str, &str)]) -> Result<FrontDoorSettings, SettingsError> {
        let raw = RawSettings::from_pairs(pairs.iter().copied());
        let public = raw.get("PUBLIC_URL").map(|u| Url::parse(u).unwrap());
        parse(&raw, public.as_ref(), raw.get("REDIS_URL").is_some())
    }

    #[test]
    fn the_prefix_comes_from_base_path_or_public_url() {
        let base = |pairs: &[(&str, &str)]| front(pairs).unwrap().base_path;
        assert!(base(&[]).is_root());
        assert_eq!(base(&[("BASE_PATH", "/tvsignin/")]).as_str(), "/tvsignin");
        assert_eq!(
            base(&[("PUBLIC_URL", "https://tv.example/tvsignin/")]).as_str(),
            "/tvsignin"
        );
        assert_eq!(
            base(&[
                ("PUBLIC_URL", "https://tv.example/"),
                ("BASE_PATH", "/tvsignin")
            ])
            .as_str(),
            "/tvsignin"
        );
        let refused = |pairs: &[(&str, &str)], key: &str| {
            let error = front(pairs).unwrap_err();
            assert_eq!(error.key, key, "{pairs:?}: {error}");
        };
        refused(
            &[("PUBLIC_URL", "https://tv.example/a"), ("BASE_PATH", "/b")],
            "BASE_PATH",
        );
        refused(&[("BASE_PATH", "tvsignin")], "BASE_PATH");
        refused(&[("PUBLIC_URL", "https://tv.example/a%20b")], "PUBLIC_URL");
    }

    #[test]
    fn app_url_is_a_url_or_a_path() {
        let app = |pairs: &[(&str, &str)]| front(pairs).unwrap().app;
        assert_eq!(app(&[]), None);
        assert_eq!(
            app(&[("APP_URL", "https://tv.example/dash?x=1")]),
            Some(AppLink {
                url: "https://tv.example/dash?x=1".into(),
                continue_secs: 5
            })
        );
        let path = app(&[("APP_URL", "/"), ("APP_CONTINUE_SECS", "0")]).unwrap();
        assert_eq!((path.url.as_str(), path.continue_secs), ("/", 0));
        assert_eq!(
            app(&[("APP_URL", "/a b/\"x\"")]).unwrap().url,
            "/a%20b/%22x%22"
        );
        for (pairs, key) in [
            (&[("APP_URL", "javascript:alert(1)")][..], "APP_URL"),
            (&[("APP_URL", "//evil.example/")][..], "APP_URL"),
            (&[("APP_URL", "dashboard")][..], "APP_URL"),
            (&[("APP_CONTINUE_SECS", "3")][..], "APP_CONTINUE_SECS"),
            (
                &[("APP_URL", "/"), ("APP_CONTINUE_SECS", "soon")][..],
                "APP_CONTINUE_SECS",
            ),
        ] {
            assert_eq!(front(pairs).unwrap_err().key, key, "{pairs:?}");
        }
    }

    #[test]
    fn forward_auth_options() {
        let auth = front(&[]).unwrap();
        assert_eq!(auth.forward_auth.user_claim, UserClaim::Sub);
        assert!(!auth.forward_auth.pass_access_token);
        assert!(auth.forward_auth.assertion.is_none());
        assert_eq!(auth.identity_claims.groups, "groups");
        let auth = front(&[
            ("FORWARD_AUTH_USER_CLAIM", "preferred_username"),
            ("FORWARD_AUTH_GROUPS_CLAIM", "realm_access.roles"),
            ("FORWARD_AUTH_ACCESS_TOKEN", "true"),
            ("FORWARD_AUTH_RECHECK_SECS", "5"),
            ("FORWARD_AUTH_JWT", "true"),
            ("FORWARD_AUTH_JWT_AUDIENCE", "dashboard"),
        ])
        .unwrap();
        assert_eq!(auth.forward_auth.user_claim, UserClaim::PreferredUsername);
        assert_eq!(auth.identity_claims.groups, "realm_access.roles");
        assert!(auth.forward_auth.pass_access_token);
        assert_eq!(auth.forward_auth.recheck_every, Duration::from_secs(5));
        let assertion = auth.forward_auth.assertion.unwrap();
        assert!(assertion.key.is_none());
        assert_eq!(assertion.audience.as_deref(), Some("dashboard"));
        assert_eq!(assertion.ttl, Duration::from_secs(60));
        for (pairs, key) in [
            (
                &[("FORWARD_AUTH_USER_CLAIM", "name")][..],
                "FORWARD_AUTH_USER_CLAIM",
            ),
            (
                &[("FORWARD_AUTH_GROUPS_CLAIM", "a..b")][..],
                "FORWARD_AUTH_GROUPS_CLAIM",
            ),
            (
                &[("FORWARD_AUTH_ACCESS_TOKEN", "maybe")][..],
                "FORWARD_AUTH_ACCESS_TOKEN",
            ),
            (
                &[("FORWARD_AUTH_RECHECK_SECS", "0")][..],
                "FORWARD_AUTH_RECHECK_SECS",
            ),
            (
                &[("FORWARD_AUTH_JWT_TTL_SECS", "30")][..],
                "FORWARD_AUTH_JWT_TTL_SECS",
            ),
            (
                &[
                    ("FORWARD_AUTH_JWT", "true"),
                    ("FORWARD_AUTH_JWT_KEY_FILE", "/nonexistent/key.pem"),
                ][..],
                "FORWARD_AUTH_JWT_KEY_FILE",
            ),
            (
                &[("FORWARD_AUTH_JWT", "true"), ("REDIS_URL", "redis://r/0")][..],
                "FORWARD_AUTH_JWT_KEY_FILE",
            ),
        ] {
            assert_eq!(front(pairs).unwrap_err().key, key, "{pairs:?}");
        }
    }
}
