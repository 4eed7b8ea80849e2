//! Session ids this server issued, and no others: the cookie carries the id and an
//! HMAC-SHA256 tag over it (`ring`), so an id a client made up, or planted from elsewhere, is
//! refused and replaced. With Redis the key is derived from `STORE_KEY` (and the
//! `STORE_KEY_PREVIOUS` keys still verify), so every replica accepts every replica's ids;
//! in memory it is random per process, as the sessions themselves are.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use ring::rand::SystemRandom;

use super::SessionId;
use crate::seal::StoreKeys;

/// What the MAC key derived from `STORE_KEY` is for.
const PURPOSE: &[u8] = b"session cookie v1";

/// Signs and verifies session cookies. `Debug` never shows a key.
pub struct SessionSigner {
    current: hmac::Key,
    previous: Vec<hmac::Key>,
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSigner")
            .field("previous_keys", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// A cookie that verified.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub id: SessionId,
    /// Signed with a previous key: the cookie should be signed again with the current one.
    pub stale_key: bool,
}

impl SessionSigner {
    /// A key of this process alone (sessions kept in memory).
    pub fn random() -> Self {
        Self {
            current: hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
                .expect("the OS random generator works"),
            previous: Vec::new(),
        }
    }

    /// The fleet's key, from `STORE_KEY` (sessions kept in Redis).
    pub fn from_store_keys(keys: &StoreKeys) -> Self {
        let (current, previous) = keys.mac_keys(PURPOSE);
        Self { current, previous }
    }

    /// The cookie value for `id`: `<id>.<tag>`.
    pub fn cookie_value(&self, id: &SessionId) -> String {
        let tag = hmac::sign(&self.current, id.as_str().as_bytes());
        format!("{}.{}", id.as_str(), URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The id in a cookie value, if this server (or the fleet) issued it.
    pub fn verify(&self, value: &str) -> Option<Verified> {
        let (id, tag) = value.split_once('.')?;
        let id = SessionId::parse(id)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let signed_by = |key: &hmac::Key| hmac::verify(key, id.as_str().as_bytes(), &tag).is_ok();
        if signed_by(&self.current) {
            return Some(Verified {
                id,
                stale_key: false,
            });
        }
        self.previous.iter().any(signed_by).then_some(Verified {
            id,
            stale_key: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::seal::StoreKey;

    fn store_key(byte: u8) -> StoreKey {
        StoreKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn only_issued_ids_verify() {
        let signer = SessionSigner::random();
        let id = SessionId::generate();
        let value = signer.cookie_value(&id);
        assert_eq!(
            signer.verify(&value),
            Some(Verified {
                id: id.clone(),
                stale_key: false
            })
        );
        // Another server's key, a bare id, a changed id or tag, junk: all refused.
        assert_eq!(SessionSigner::random().verify(&value), None);
        assert_eq!(signer.verify(id.as_str()), None);
        let other = SessionId::generate();
        let (_, tag) = value.split_once('.').unwrap();
        assert_eq!(signer.verify(&format!("{}.{tag}", other.as_str())), None);
        assert_eq!(signer.verify(&format!("{}.AAAA", id.as_str())), None);
        for junk in ["", ".", "x.y", "../../etc/passwd"] {
            assert_eq!(signer.verify(junk), None, "{junk}");
        }
        assert!(!format!("{signer:?}").contains("key:"));
    }

    #[test]
    fn replicas_sharing_a_store_key_accept_each_others_ids_through_a_rotation() {
        let id = SessionId::generate();
        let a = SessionSigner::from_store_keys(&store_key(1).into());
        let b = SessionSigner::from_store_keys(&store_key(1).into());
        let value = a.cookie_value(&id);
        assert_eq!(b.verify(&value).map(|v| v.stale_key), Some(false));
        let rotated =
            SessionSigner::from_store_keys(&StoreKeys::new(store_key(2), vec![store_key(1)]));
        assert_eq!(
            rotated.verify(&value),
            Some(Verified {
                id: id.clone(),
                stale_key: true
            }),
            "a previous key still verifies, and asks for a fresh signature"
        );
        assert_eq!(
            rotated
                .verify(&rotated.cookie_value(&id))
                .map(|v| v.stale_key),
            Some(false)
        );
        let dropped = SessionSigner::from_store_keys(&store_key(2).into());
        assert_eq!(dropped.verify(&value), None);
    }
}
