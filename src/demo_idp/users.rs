//! The demo users (`alice` / `alice-demo`, `bob` / `bob-demo`, plus DEMO_USERS) and the claims
//! each scope releases about them. Only the built-in passwords are public: a password from
//! DEMO_USERS is the operator's, and never shown.

use serde_json::{json, Map, Value};

/// Scopes this provider knows; others are dropped from requests (RFC 6749 §3.3 lets a server
/// grant fewer scopes than asked, and the granted `scope` is returned).
pub const KNOWN_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
/// The scope when a request names none.
pub const DEFAULT_SCOPE: &str = "openid profile email";

/// One person who can sign in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    pub name: String,
    pub team: String,
    /// The built-in password, which the phone page lists; false for DEMO_USERS' passwords.
    pub password_public: bool,
}

/// The built-in users, then the extra ones (an extra user named like a built-in one changes
/// that user's password).
pub fn demo_users(extra: &[(String, String)]) -> Vec<DemoUser> {
    let mut users = vec![
        DemoUser {
            username: "alice".into(),
            password: "alice-demo".into(),
            name: "Alice Demo".into(),
            team: "Platform".into(),
            password_public: true,
        },
        DemoUser {
            username: "bob".into(),
            password: "bob-demo".into(),
            name: "Bob Demo".into(),
            team: "Design".into(),
            password_public: true,
        },
    ];
    for (username, password) in extra {
        match users.iter_mut().find(|u| &u.username == username) {
            Some(user) => {
                user.password = password.clone();
                user.password_public = false;
            }
            None => users.push(DemoUser {
                username: username.clone(),
                password: password.clone(),
                name: username.clone(),
                team: "Guests".into(),
                password_public: false,
            }),
        }
    }
    users
}

impl DemoUser {
    /// The stable subject identifier.
    pub fn sub(&self) -> String {
        format!("demo-{}", self.username)
    }

    pub fn email(&self) -> String {
        format!("{}@example.com", self.username)
    }

    /// The claims `scope` releases (userinfo and, with [`id_token_claims`], the ID token).
    pub fn claims(&self, scope: &str) -> Map<String, Value> {
        let has = |s: &str| scope.split(' ').any(|x| x == s);
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(self.sub()));
        if has("profile") {
            claims.insert("name".into(), json!(self.name));
            claims.insert("preferred_username".into(), json!(self.username));
            // For the forward-auth check's X-Auth-Request-Groups.
            claims.insert(
                "groups".into(),
                json!([self.team.to_lowercase(), "demo-users"]),
            );
        }
        if has("email") {
            claims.insert("email".into(), json!(self.email()));
            claims.insert("email_verified".into(), json!(true));
        }
        claims.insert(
            "ext".into(),
            json!({ "team": self.team, "provider": "tvsignin demo" }),
        );
        claims
    }
}

/// The known scopes of a request, space-separated, in the order asked; the default when the
/// request names none.
pub fn granted_scope(requested: Option<&str>) -> String {
    let requested = requested
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SCOPE);
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_ascii_whitespace() {
        if KNOWN_SCOPES.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    granted.join(" ")
}

/// Whether every scope in `asked` is in `granted` (a refresh may narrow, never widen).
pub fn scope_within(asked: &str, granted: &str) -> bool {
    asked
        .split_ascii_whitespace()
        .all(|s| granted.split(' ').any(|g| g == s))
}

/// ID token claims: the standard ones plus the user's claims for the scope.
pub fn id_token_claims(
    user: &DemoUser,
    scope: &str,
    issuer: &str,
    client_id: &str,
    now: u64,
    ttl: u64,
) -> Map<String, Value> {
    let mut claims = user.claims(scope);
    claims.remove("ext");
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(now));
    claims.insert("exp".into(), json!(now + ttl));
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_extra_users() {
        let users = demo_users(&[
            ("carol".into(), "c-pw".into()),
            ("bob".into(), "new".into()),
        ]);
        let names: Vec<_> = users
            .iter()
            .map(|u| {
                (
                    u.username.as_str(),
                    u.password.as_str(),
                    u.name.as_str(),
                    u.password_public,
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("alice", "alice-demo", "Alice Demo", true),
                ("bob", "new", "Bob Demo", false),
                ("carol", "c-pw", "carol", false)
            ]
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(granted_scope(None), "openid profile email");
        assert_eq!(
            granted_scope(Some("openid  email openid api:read")),
            "openid email"
        );
        assert!(scope_within("openid", "openid profile"));
        assert!(!scope_within("openid email", "openid profile"));
        let claims = demo_users(&[])[0].claims("openid email");
        assert_eq!(claims["email"], "alice@example.com");
        assert!(claims.get("name").is_none());
        assert_eq!(claims["ext"]["team"], "Platform");
        let profile = demo_users(&[])[1].claims("openid profile");
        assert_eq!(profile["groups"], json!(["design", "demo-users"]));
    }
}
