//! Encryption and authentication of what a shared store holds (session records, with their
//! device codes and tokens, and the change messages between replicas): AES-256-GCM from
//! `ring`, a fresh random nonce per seal, and associated data naming what the value is (a
//! record, a change, or a retired id), its session, generation and version, so a sealed value cannot be
//! forged, moved to another session, or replayed as another version. Keys rotate:
//! `STORE_KEY` seals, and it or a `STORE_KEY_PREVIOUS` key opens.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// What a sealed value is bound to: its kind, session, generation and version. The parts
/// are joined with NUL, which none of them contains, so no two bindings read alike.
fn context(kind: &str, session: &str, generation: u64, version: u64) -> Vec<u8> {
    format!("tvsignin/{kind}/v1\0{session}\0{generation}\0{version}").into_bytes()
}

/// The binding of a stored session record.
pub fn record_context(session: &str, generation: u64, version: u64) -> Vec<u8> {
    context("record", session, generation, version)
}

/// The binding of a change message (the status it carries).
pub fn change_context(session: &str, generation: u64, version: u64) -> Vec<u8> {
    context("change", session, generation, version)
}

/// The binding of the message that retires a session id (it moved to a new one).
pub fn retired_context(session: &str) -> Vec<u8> {
    context("retired", session, 0, 0)
}

/// The key from `STORE_KEY`: 32 random bytes. `Debug` never shows it.
#[derive(Clone)]
pub struct StoreKey([u8; 32]);

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey([redacted])")
    }
}

/// A sealed value could not be opened (wrong key, or tampered with).
#[derive(Debug, thiserror::Error)]
#[error("cannot open a sealed value: {0}")]
pub struct SealError(&'static str);

impl StoreKey {
    /// Reads the key from standard base64 (`openssl rand -base64 32` makes one).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64 (make one with `openssl rand -base64 32`)".to_owned())?;
        let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "must be 32 bytes, not {} (make one with `openssl rand -base64 32`)",
                bytes.len()
            )
        })?;
        Ok(Self(key))
    }

    /// A MAC key for `purpose`, derived from this key with HKDF-SHA256, so one `STORE_KEY`
    /// serves several jobs without any two sharing a key.
    pub fn mac_key(&self, purpose: &[u8]) -> hmac::Key {
        let info = [purpose];
        let prk = Salt::new(HKDF_SHA256, b"tvsignin").extract(&self.0);
        let okm = prk
            .expand(&info, hmac::HMAC_SHA256)
            // Only fails for outputs longer than 255 hash lengths; this is one.
            .expect("HKDF output of one SHA-256 length");
        hmac::Key::from(okm)
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always a valid AES-256 key.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("32-byte AES-256 key"))
    }

    /// Encrypts `plain`, bound to `context`; the result is base64 of nonce, ciphertext, tag.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError("no random nonce"))?;
        let mut buffer = plain.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut buffer,
            )
            .map_err(|_| SealError("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts what [`StoreKey::seal`] made for the same `context`.
    pub fn open(&self, context: &[u8], sealed: &str) -> Result<Vec<u8>, SealError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| SealError("not base64"))?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError("too short"));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError("bad nonce"))?;
        let mut buffer = rest.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(context), &mut buffer)
            .map_err(|_| SealError("wrong key or tampered"))?;
        Ok(plain.to_vec())
    }
}

/// The keys a replica holds: the current one (`STORE_KEY`) seals every write; it and the
/// previous ones (`STORE_KEY_PREVIOUS`) open. A key can thus be replaced without signing
/// anyone out: each session is sealed again with the current key the next time it is written.
#[derive(Clone, Debug)]
pub struct StoreKeys {
    current: StoreKey,
    previous: Vec<StoreKey>,
}

impl StoreKeys {
    pub fn new(current: StoreKey, previous: Vec<StoreKey>) -> Self {
        Self { current, previous }
    }

    /// Seals with the current key.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Result<String, SealError> {
        self.current.seal(context, plain)
    }

    /// MAC keys for `purpose` (see [`StoreKey::mac_key`]): the current key's, then the
    /// previous keys'.
    pub fn mac_keys(&self, purpose: &[u8]) -> (hmac::Key, Vec<hmac::Key>) {
        (
            self.current.mac_key(purpose),
            self.previous.iter().map(|k| k.mac_key(purpose)).collect(),
        )
    }

    /// Opens with the current key, else with the first previous key that fits.
    pub fn open(&self, context: &[u8], sealed: &str) -> Result<Vec<u8>, SealError> {
        let first = match self.current.open(context, sealed) {
            Ok(plain) => return Ok(plain),
            Err(error) => error,
        };
        self.previous
            .iter()
            .find_map(|key| key.open(context, sealed).ok())
            .ok_or(first)
    }
}

impl From<StoreKey> for StoreKeys {
    fn from(current: StoreKey) -> Self {
        Self::new(current, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> StoreKey {
        StoreKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn round_trip_and_no_plain_text() {
        let sealed = key(1).seal(b"session-a", b"the-device-code").unwrap();
        assert!(!sealed.contains("the-device-code"));
        assert_eq!(
            key(1).open(b"session-a", &sealed).unwrap(),
            b"the-device-code"
        );
        // Two seals of the same value differ (fresh nonce).
        assert_ne!(
            sealed,
            key(1).seal(b"session-a", b"the-device-code").unwrap()
        );
    }

    #[test]
    fn wrong_key_context_or_tampering_fail() {
        let sealed = key(1).seal(b"session-a", b"secret").unwrap();
        assert!(key(2).open(b"session-a", &sealed).is_err());
        assert!(key(1).open(b"session-b", &sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(key(1).open(b"session-a", &STANDARD.encode(bytes)).is_err());
        assert!(key(1).open(b"session-a", "AAAA").is_err());
    }

    #[test]
    fn a_rotated_key_still_opens_what_the_previous_one_sealed() {
        let before = key(1).seal(b"session-a", b"token").unwrap();
        let rotated = StoreKeys::new(key(2), vec![key(3), key(1)]);
        assert_eq!(rotated.open(b"session-a", &before).unwrap(), b"token");
        // New seals use the current key only: the old key alone can't open them.
        let after = rotated.seal(b"session-a", b"token").unwrap();
        assert_eq!(key(2).open(b"session-a", &after).unwrap(), b"token");
        assert!(key(1).open(b"session-a", &after).is_err());
        // Without the old key among the previous ones, the old value stays shut.
        let dropped = StoreKeys::new(key(2), vec![key(3)]);
        assert!(dropped.open(b"session-a", &before).is_err());
        // The context still binds, whichever key opens.
        assert!(rotated.open(b"session-b", &before).is_err());
        assert!(format!("{rotated:?}").contains("[redacted]"));
    }

    #[test]
    fn contexts_tell_kind_session_generation_and_version_apart() {
        let a = "a".repeat(32);
        let b = "b".repeat(32);
        let all = [
            record_context(&a, 1, 2),
            record_context(&a, 1, 3),
            record_context(&a, 2, 2),
            record_context(&b, 1, 2),
            change_context(&a, 1, 2),
            record_context(&a, 12, 3),
            record_context(&a, 1, 23),
        ];
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        let sealed = key(1).seal(&all[0], b"x").unwrap();
        for other in &all[1..] {
            assert!(key(1).open(other, &sealed).is_err());
        }
    }

    #[test]
    fn key_must_be_32_bytes_of_base64() {
        assert!(StoreKey::from_base64("not base64!").is_err());
        let short = StoreKey::from_base64(&STANDARD.encode([0u8; 16])).unwrap_err();
        assert!(short.contains("32 bytes, not 16"), "{short}");
        assert_eq!(format!("{:?}", key(7)), "StoreKey([redacted])");
    }
}
