//! Who signed in, for the forward-auth check that hands the person to the app behind the
//! proxy: the few claims kept in the sealed session record at sign-in ([`Identity`]; never
//! sent to the TV, whose screen shows only `SHOW_CLAIMS`). The hub reads them back for that
//! check in `signed_in`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::oidc::client::SignedInUser;
use crate::settings::front_door::IdentityClaims;

/// The claims the forward-auth check passes on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub sub: String,
    /// The display name (see `UserInfo::display_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// From the claim `FORWARD_AUTH_GROUPS_CLAIM` names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Identity {
    /// What is kept of a person who just signed in.
    pub fn of(user: &SignedInUser, claims: &IdentityClaims) -> Self {
        let text = |name: &str| {
            user.raw
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Self {
            sub: user.sub.clone(),
            name: Some(user.display_name.clone()).filter(|n| !n.is_empty()),
            email: text("email"),
            preferred_username: text("preferred_username"),
            groups: groups(&user.raw, &claims.groups),
        }
    }
}

/// The groups under a dotted claim name: a list of names, or one name.
fn groups(claims: &Map<String, Value>, dotted: &str) -> Vec<String> {
    let mut parts = dotted.split('.');
    let first = parts.next().and_then(|name| claims.get(name));
    let found = parts.fold(first, |value, name| value.and_then(|v| v.get(name)));
    let name = |value: &Value| match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match found {
        Some(Value::Array(list)) => list.iter().filter_map(name).collect(),
        Some(one) => name(one).into_iter().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(raw: Value) -> SignedInUser {
        let Value::Object(raw) = raw else { panic!() };
        SignedInUser {
            sub: raw["sub"].as_str().unwrap().to_owned(),
            display_name: "Alice Liddell".into(),
            claims: Vec::new(),
            raw,
        }
    }

    #[test]
    fn identity_keeps_the_claims_the_check_needs() {
        let alice = user(json!({
            "sub": "alice", "email": "alice@example.test", "preferred_username": " alice ",
            "groups": ["staff", "kiosk-admins", 7, {"x": 1}, " "],
            "realm_access": {"roles": ["viewer"]}, "team": "design",
            "phone_number": "+44 20 7946 0958",
        }));
        let default = Identity::of(&alice, &IdentityClaims::default());
        assert_eq!(
            default,
            Identity {
                sub: "alice".into(),
                name: Some("Alice Liddell".into()),
                email: Some("alice@example.test".into()),
                preferred_username: Some("alice".into()),
                groups: vec!["staff".into(), "kiosk-admins".into(), "7".into()],
            }
        );
        let claims = |groups: &str| IdentityClaims {
            groups: groups.into(),
        };
        assert_eq!(
            Identity::of(&alice, &claims("realm_access.roles")).groups,
            ["viewer"]
        );
        assert_eq!(Identity::of(&alice, &claims("team")).groups, ["design"]);
        assert!(Identity::of(&alice, &claims("realm_access.none"))
            .groups
            .is_empty());
        assert!(Identity::of(&alice, &claims("email.x")).groups.is_empty());
        let bare = Identity::of(&user(json!({"sub": "bob"})), &IdentityClaims::default());
        assert_eq!((bare.email, bare.groups.len()), (None, 0));
    }
}
