//! Grants and their opaque tokens. A grant is one sign-in: it holds one refresh token (rotated
//! on every use) and the access tokens issued under it, so revoking the refresh token ends
//! the grant and every access token with it (RFC 7009 §2.1).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::DemoTiming;

/// Most grants kept at once.
pub const MAX_GRANTS: usize = 100_000;
/// Most access tokens kept at once.
pub const MAX_ACCESS_TOKENS: usize = 200_000;

#[derive(Debug)]
struct Grant {
    username: String,
    scope: String,
    refresh_token: String,
    refresh_expires: Instant,
    access_tokens: Vec<String>,
}

#[derive(Debug)]
struct Access {
    grant: u64,
    scope: String,
    expires_at: Instant,
}

/// Fresh tokens for a grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub username: String,
    pub scope: String,
    pub expires_in: Duration,
}

/// Why a refresh failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshError {
    /// Unknown, expired, rotated away or revoked.
    Invalid,
    /// Asked for a scope the grant does not have.
    ScopeWidened,
    Full,
}

/// All grants and tokens.
#[derive(Debug, Default)]
pub struct Tokens {
    grants: HashMap<u64, Grant>,
    refresh: HashMap<String, u64>,
    access: HashMap<String, Access>,
    next_grant: u64,
}

impl Tokens {
    /// Whether a new grant fits.
    pub fn has_room(&self) -> bool {
        self.grants.len() < MAX_GRANTS && self.access.len() < MAX_ACCESS_TOKENS
    }

    /// A new grant with its first tokens (random values made by the caller).
    pub fn issue(
        &mut self,
        username: &str,
        scope: &str,
        access_token: String,
        refresh_token: String,
        now: Instant,
        timing: &DemoTiming,
    ) -> Issued {
        let id = self.next_grant;
        self.next_grant += 1;
        self.grants.insert(
            id,
            Grant {
                username: username.to_owned(),
                scope: scope.to_owned(),
                refresh_token: refresh_token.clone(),
                refresh_expires: now + timing.refresh_token_ttl,
                access_tokens: vec![access_token.clone()],
            },
        );
        self.refresh.insert(refresh_token.clone(), id);
        self.access.insert(
            access_token.clone(),
            Access {
                grant: id,
                scope: scope.to_owned(),
                expires_at: now + timing.access_token_ttl,
            },
        );
        Issued {
            access_token,
            refresh_token,
            username: username.to_owned(),
            scope: scope.to_owned(),
            expires_in: timing.access_token_ttl,
        }
    }

    /// RFC 6749 §6: new tokens for a refresh token, which is replaced by `refresh_token`.
    pub fn refresh(
        &mut self,
        old: &str,
        asked_scope: Option<&str>,
        access_token: String,
        refresh_token: String,
        now: Instant,
        timing: &DemoTiming,
    ) -> Result<Issued, RefreshError> {
        let id = *self.refresh.get(old).ok_or(RefreshError::Invalid)?;
        let grant = self.grants.get_mut(&id).ok_or(RefreshError::Invalid)?;
        if now >= grant.refresh_expires {
            return Err(RefreshError::Invalid);
        }
        let scope = match asked_scope.map(str::trim).filter(|s| !s.is_empty()) {
            Some(asked) if super::users::scope_within(asked, &grant.scope) => {
                asked.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
            }
            Some(_) => return Err(RefreshError::ScopeWidened),
            None => grant.scope.clone(),
        };
        if self.access.len() >= MAX_ACCESS_TOKENS {
            return Err(RefreshError::Full);
        }
        self.refresh.remove(old);
        grant.refresh_token = refresh_token.clone();
        grant.refresh_expires = now + timing.refresh_token_ttl;
        grant.access_tokens.push(access_token.clone());
        let username = grant.username.clone();
        self.refresh.insert(refresh_token.clone(), id);
        self.access.insert(
            access_token.clone(),
            Access {
                grant: id,
                scope: scope.clone(),
                expires_at: now + timing.access_token_ttl,
            },
        );
        Ok(Issued {
            access_token,
            refresh_token,
            username,
            scope,
            expires_in: timing.access_token_ttl,
        })
    }

    /// The user and scope behind a live access token.
    pub fn access(&self, token: &str, now: Instant) -> Option<(String, String)> {
        let access = self.access.get(token).filter(|a| now < a.expires_at)?;
        let grant = self.grants.get(&access.grant)?;
        Some((grant.username.clone(), access.scope.clone()))
    }

    /// RFC 7009: a refresh token ends its grant; an access token ends itself; anything else
    /// is ignored. The hint only sets which kind is looked for first.
    pub fn revoke(&mut self, token: &str, _hint: Option<&str>) {
        if let Some(id) = self.refresh.get(token).copied() {
            self.end_grant(id);
        } else if let Some(access) = self.access.remove(token) {
            if let Some(grant) = self.grants.get_mut(&access.grant) {
                grant.access_tokens.retain(|t| t != token);
            }
        }
    }

    fn end_grant(&mut self, id: u64) {
        if let Some(grant) = self.grants.remove(&id) {
            self.refresh.remove(&grant.refresh_token);
            for token in grant.access_tokens {
                self.access.remove(&token);
            }
        }
    }

    /// Drops expired access tokens and grants whose refresh token has expired.
    pub fn sweep(&mut self, now: Instant) {
        let ended: Vec<u64> = self
            .grants
            .iter()
            .filter(|(_, g)| now >= g.refresh_expires)
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            self.end_grant(id);
        }
        let access = &mut self.access;
        access.retain(|_, a| now < a.expires_at);
        for grant in self.grants.values_mut() {
            grant.access_tokens.retain(|t| access.contains_key(t));
        }
    }

    #[cfg(test)]
    fn counts(&self) -> (usize, usize, usize) {
        (self.grants.len(), self.refresh.len(), self.access.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn timing() -> DemoTiming {
        DemoTiming {
            access_token_ttl: S(60),
            refresh_token_ttl: S(600),
            ..DemoTiming::default()
        }
    }

    #[test]
    fn refresh_rotates_and_revocation_ends_the_grant() {
        let mut t = Tokens::default();
        let now = Instant::now();
        t.issue(
            "alice",
            "openid profile",
            "a1".into(),
            "r1".into(),
            now,
            &timing(),
        );
        assert_eq!(
            t.access("a1", now),
            Some(("alice".into(), "openid profile".into()))
        );
        let issued = t
            .refresh(
                "r1",
                Some("openid"),
                "a2".into(),
                "r2".into(),
                now,
                &timing(),
            )
            .unwrap();
        assert_eq!(issued.scope, "openid");
        assert_eq!(
            t.refresh("r1", None, "a3".into(), "r3".into(), now, &timing()),
            Err(RefreshError::Invalid),
            "rotated away"
        );
        assert_eq!(
            t.refresh(
                "r2",
                Some("openid email"),
                "a3".into(),
                "r3".into(),
                now,
                &timing()
            ),
            Err(RefreshError::ScopeWidened)
        );
        assert!(
            t.access("a1", now).is_some(),
            "older access tokens live until they expire"
        );
        t.revoke("a1", Some("access_token"));
        assert!(t.access("a1", now).is_none());
        assert!(t.access("a2", now).is_some());
        t.revoke("r2", None);
        assert!(t.access("a2", now).is_none());
        assert_eq!(t.counts(), (0, 0, 0));
        t.revoke("unknown", None);
    }

    #[test]
    fn expiry_and_sweeping() {
        let mut t = Tokens::default();
        let now = Instant::now();
        t.issue("bob", "openid", "a1".into(), "r1".into(), now, &timing());
        assert!(t.access("a1", now + S(60)).is_none());
        t.sweep(now + S(61));
        assert_eq!(t.counts(), (1, 1, 0));
        assert_eq!(
            t.refresh(
                "r1",
                None,
                "a2".into(),
                "r2".into(),
                now + S(600),
                &timing()
            ),
            Err(RefreshError::Invalid)
        );
        t.sweep(now + S(600));
        assert_eq!(t.counts(), (0, 0, 0));
    }
}
