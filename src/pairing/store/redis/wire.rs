//! How a session record and its change message look in Redis: sealed with `STORE_KEY`
//! (see `seal`), bound to their session, generation and version, and without a QR drawing.
//! Nothing read back is believed unless it opens.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::TvStatus;
use crate::oidc::secret::{AccessToken, DeviceCode, IdToken, RefreshToken};
use crate::oidc::token::TokenSet;
use crate::pairing::store::{Change, DeviceGrant, SessionRecord, StoreError};
use crate::pairing::SessionId;
use crate::seal::{self, StoreKeys};

/// The record as stored: the generation in clear (so a record that cannot be opened still
/// tells which generation to start over from), everything else sealed.
#[derive(Serialize, Deserialize)]
struct Wire {
    generation: u64,
    sealed: String,
}

/// What is sealed: the whole record but its generation (which is bound in as associated
/// data). The status holds no QR drawing: that is made from the link when it is sent.
#[derive(Serialize, Deserialize)]
struct Sealed {
    status: TvStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_code: Option<DeviceCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<AccessToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<IdToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_in_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default)]
    tokens_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_home_at_ms: Option<u64>,
    #[serde(default)]
    recent_starts_ms: Vec<u64>,
    /// Forward auth: who signed in (see `pairing::identity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<Box<crate::pairing::identity::Identity>>,
}

fn corrupt(error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// The status as stored and sent between replicas: without a QR drawing.
fn bare_status(status: &TvStatus) -> TvStatus {
    let mut status = status.clone();
    match &mut status {
        TvStatus::Waiting { pairing }
        | TvStatus::Unreachable {
            pairing: Some(pairing),
        } => pairing.qr_svg.clear(),
        _ => {}
    }
    status
}

/// Seals `record` as version `version` of session `id`.
pub(super) fn encode(
    key: &StoreKeys,
    id: &SessionId,
    version: u64,
    record: &SessionRecord,
) -> Result<String, StoreError> {
    let tokens = record.tokens.as_ref();
    let device = record.device.as_ref();
    let sealed = Sealed {
        status: bare_status(&record.status),
        device_code: device.map(|d| d.device_code.clone()),
        interval_ms: device.map(|d| d.interval.as_millis() as u64),
        expires_at_ms: device.map(|d| d.expires_at_ms),
        access_token: tokens.map(|t| t.access_token.clone()),
        refresh_token: tokens.and_then(|t| t.refresh_token.clone()),
        id_token: tokens.and_then(|t| t.id_token.clone()),
        expires_in_secs: tokens.and_then(|t| t.expires_in).map(|d| d.as_secs()),
        scope: tokens.and_then(|t| t.scope.clone()),
        tokens_at_ms: record.tokens_at_ms,
        return_home_at_ms: record.return_home_at_ms,
        recent_starts_ms: record.recent_starts_ms.clone(),
        identity: record.identity.clone(),
    };
    let plain = serde_json::to_vec(&sealed).map_err(|e| corrupt(&e))?;
    let context = seal::record_context(id.as_str(), record.generation, version);
    let wire = Wire {
        generation: record.generation,
        sealed: key.seal(&context, &plain).map_err(|e| corrupt(&e))?,
    };
    serde_json::to_string(&wire).map_err(|e| corrupt(&e))
}

/// What a session that can't be read becomes: a TV at Home, one generation on (so no task of
/// the old one acts on it), written over at its next change. That happens when `STORE_KEY`
/// changed without the old key in `STORE_KEY_PREVIOUS`, or the data was damaged or tampered
/// with; the TV then starts over instead of getting errors.
pub(super) fn start_over(data: &str, error: &StoreError) -> SessionRecord {
    tracing::warn!(%error, "a stored session cannot be read (STORE_KEY changed without STORE_KEY_PREVIOUS, or damaged or altered data); that TV starts over");
    let generation = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|wire| wire.get("generation")?.as_u64())
        .map_or(0, |g| g.saturating_add(1));
    SessionRecord {
        generation,
        ..SessionRecord::default()
    }
}

/// Opens version `version` of session `id`'s record.
pub(super) fn decode(
    key: &StoreKeys,
    id: &SessionId,
    version: u64,
    data: &str,
) -> Result<SessionRecord, StoreError> {
    let wire: Wire = serde_json::from_str(data).map_err(|e| corrupt(&e))?;
    let context = seal::record_context(id.as_str(), wire.generation, version);
    let plain = key.open(&context, &wire.sealed).map_err(|e| corrupt(&e))?;
    let sealed: Sealed = serde_json::from_slice(&plain).map_err(|e| corrupt(&e))?;
    let device = match (sealed.device_code, sealed.interval_ms, sealed.expires_at_ms) {
        (Some(device_code), Some(interval), Some(expires_at_ms)) => Some(DeviceGrant {
            device_code,
            interval: Duration::from_millis(interval),
            expires_at_ms,
        }),
        _ => None,
    };
    let tokens = sealed.access_token.map(|access_token| TokenSet {
        access_token,
        refresh_token: sealed.refresh_token,
        id_token: sealed.id_token,
        expires_in: sealed.expires_in_secs.map(Duration::from_secs),
        scope: sealed.scope,
    });
    Ok(SessionRecord {
        generation: wire.generation,
        status: sealed.status,
        device,
        tokens,
        tokens_at_ms: sealed.tokens_at_ms,
        return_home_at_ms: sealed.return_home_at_ms,
        recent_starts_ms: sealed.recent_starts_ms,
        identity: sealed.identity,
    })
}

/// The message published for version `version` of a record, after the version (which the
/// save script puts in front): `session|generation|sealed status`.
pub(super) fn change_message(
    key: &StoreKeys,
    id: &SessionId,
    version: u64,
    record: &SessionRecord,
) -> Result<String, StoreError> {
    let status = serde_json::to_vec(&bare_status(&record.status)).map_err(|e| corrupt(&e))?;
    let context = seal::change_context(id.as_str(), record.generation, version);
    let sealed = key.seal(&context, &status).map_err(|e| corrupt(&e))?;
    Ok(format!("{}|{}|{sealed}", id.as_str(), record.generation))
}

/// What the value of a retire message says (sealed, bound to the id it retires).
const RETIRED: &[u8] = b"retired";

/// The message published when session `old` moves to a new id: `retired|old|seal`.
pub(super) fn retired_message(key: &StoreKeys, old: &SessionId) -> Result<String, StoreError> {
    let sealed = key
        .seal(&seal::retired_context(old.as_str()), RETIRED)
        .map_err(|e| corrupt(&e))?;
    Ok(format!("retired|{}|{sealed}", old.as_str()))
}

/// The session a retire message retires, if it opens with one of `keys` for that id. A
/// message anyone else published (a bare `retired|id`, a seal for another id) is ignored: it
/// would only end that session's push streams, but a stranger should not be able to do even
/// that.
pub(super) fn parse_retired(payload: &str, keys: &StoreKeys) -> Option<SessionId> {
    let (id, sealed) = payload.strip_prefix("retired|")?.split_once('|')?;
    let id = SessionId::parse(id)?;
    let opened = keys
        .open(&seal::retired_context(id.as_str()), sealed)
        .ok()?;
    (opened == RETIRED).then_some(id)
}

/// Parses a published change: `version|session|generation|sealed status`. The status is
/// opened only by a replica that serves the TV ([`Change::status`]).
pub(super) fn parse_change(payload: &str, keys: &Arc<StoreKeys>) -> Option<Change> {
    let mut parts = payload.splitn(4, '|');
    let version = parts.next()?.parse().ok()?;
    let id = SessionId::parse(parts.next()?)?;
    let generation = parts.next()?.parse().ok()?;
    let sealed_status = parts.next()?.to_owned();
    Some(Change {
        id,
        version,
        generation,
        sealed_status,
        keys: keys.clone(),
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::model::{PairingView, Profile};
    use crate::pairing::store::DeviceGrant;

    fn keys() -> StoreKeys {
        seal::StoreKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([9u8; 32]))
            .unwrap()
            .into()
    }

    fn id() -> SessionId {
        SessionId::parse(&"a".repeat(32)).unwrap()
    }

    fn pairing(qr_svg: &str) -> PairingView {
        PairingView {
            user_code: "ABCD-EFGH".into(),
            verification_uri: "https://idp.example/device".into(),
            verification_uri_complete: None,
            qr_svg: qr_svg.into(),
            expires_at_ms: 42,
            interval_secs: 5,
        }
    }

    fn record() -> SessionRecord {
        SessionRecord {
            generation: 4,
            status: TvStatus::Waiting {
                pairing: pairing("<svg/>"),
            },
            device: Some(DeviceGrant {
                device_code: DeviceCode::new("device-code-secret"),
                interval: Duration::from_secs(10),
                expires_at_ms: 42,
            }),
            tokens: Some(TokenSet {
                access_token: AccessToken::new("access-token-secret"),
                refresh_token: Some(RefreshToken::new("refresh-token-secret")),
                id_token: None,
                expires_in: Some(Duration::from_secs(60)),
                scope: Some("openid".into()),
            }),
            tokens_at_ms: 7,
            return_home_at_ms: None,
            recent_starts_ms: vec![1, 2],
            identity: Some(Box::new(crate::pairing::identity::Identity {
                sub: "alice".into(),
                email: Some("identity-email@example.test".into()),
                groups: vec!["identity-group".into()],
                ..Default::default()
            })),
        }
    }

    #[test]
    fn records_are_sealed_and_come_back_without_a_qr_drawing() {
        let record = record();
        let data = encode(&keys(), &id(), 3, &record).unwrap();
        for secret in [
            "device-code-secret",
            "access-token-secret",
            "refresh-token-secret",
            "ABCD-EFGH",
            "identity-email@example.test",
            "identity-group",
        ] {
            assert!(!data.contains(secret), "{secret} stored in clear");
        }
        let back = decode(&keys(), &id(), 3, &data).unwrap();
        assert_eq!(back.device, record.device);
        let tokens = back.tokens.unwrap();
        assert_eq!(tokens.access_token.expose(), "access-token-secret");
        assert_eq!(
            tokens.refresh_token.unwrap().expose(),
            "refresh-token-secret"
        );
        assert_eq!(tokens.expires_in, Some(Duration::from_secs(60)));
        // The SVG is never stored: it is drawn from the link when the status is sent.
        assert_eq!(
            back.status,
            TvStatus::Waiting {
                pairing: pairing("")
            }
        );
        assert_eq!((back.generation, back.tokens_at_ms), (4, 7));
        assert_eq!(back.recent_starts_ms, vec![1, 2]);
        assert_eq!(back.identity, record.identity);
    }

    #[test]
    fn a_record_opens_only_as_the_session_generation_and_version_it_was_sealed_for() {
        let data = encode(&keys(), &id(), 3, &record()).unwrap();
        let other = SessionId::parse(&"b".repeat(32)).unwrap();
        assert!(
            decode(&keys(), &other, 3, &data).is_err(),
            "another session"
        );
        assert!(decode(&keys(), &id(), 4, &data).is_err(), "another version");
        let mut wire: serde_json::Value = serde_json::from_str(&data).unwrap();
        wire["generation"] = 5.into();
        let moved = wire.to_string();
        assert!(
            decode(&keys(), &id(), 3, &moved).is_err(),
            "another generation"
        );
        // What starts over is one generation on from what the record claims, never less.
        assert_eq!(
            start_over(&moved, &StoreError::Corrupt("x".into())).generation,
            6
        );
        wire["generation"] = u64::MAX.into();
        let last = start_over(&wire.to_string(), &StoreError::Corrupt("x".into()));
        assert_eq!(last.generation, u64::MAX);
        // A record in clear (as an intruder in Redis would write one) does not open.
        let forged = serde_json::json!({
            "generation": 4,
            "status": {"state": "signed-in", "profile": {"display_name": "Mallory", "claims": []},
                       "sign_out_at_ms": 1, "warn_secs": 1},
        });
        assert!(decode(&keys(), &id(), 3, &forged.to_string()).is_err());
    }

    #[test]
    fn change_messages_are_sealed_and_bound() {
        let keys = Arc::new(keys());
        let signed_in = SessionRecord {
            generation: 3,
            status: TvStatus::SignedIn {
                profile: Profile {
                    display_name: "Alice Liddell".into(),
                    claims: vec![],
                },
                sign_out_at_ms: 1,
                warn_secs: 60,
            },
            ..SessionRecord::default()
        };
        let message = change_message(&keys, &id(), 12, &signed_in).unwrap();
        assert!(!message.contains("Alice"), "{message}");
        let change = parse_change(&format!("12|{message}"), &keys).unwrap();
        assert_eq!((change.version, change.generation), (12, 3));
        assert_eq!(change.status().unwrap(), signed_in.status);
        // The same seal under another version, generation or session does not open.
        let sealed = message.rsplit('|').next().unwrap();
        for (version, generation, session) in [
            (13, 3, "a".repeat(32)),
            (12, 4, "a".repeat(32)),
            (12, 3, "c".repeat(32)),
        ] {
            let moved = format!("{version}|{session}|{generation}|{sealed}");
            assert!(
                parse_change(&moved, &keys).unwrap().status().is_err(),
                "{moved}"
            );
        }
        // A status in clear is no change at all.
        let forged = parse_change(
            &format!("12|{}|3|{{\"state\":\"idle\"}}", "a".repeat(32)),
            &keys,
        )
        .unwrap();
        assert!(forged.status().is_err());
        assert!(parse_change("12|not-an-id|3|x", &keys).is_none());
        // A retire message is sealed for its id: in clear, or moved to another id, or
        // under another key, it retires nothing.
        let retire = retired_message(&keys, &id()).unwrap();
        assert_eq!(parse_retired(&retire, &keys), Some(id()));
        assert_eq!(
            parse_retired(&format!("retired|{}", id().as_str()), &keys),
            None
        );
        let seal_only = retire.rsplit('|').next().unwrap();
        let other = "c".repeat(32);
        assert_eq!(
            parse_retired(&format!("retired|{other}|{seal_only}"), &keys),
            None
        );
        let stranger: StoreKeys = seal::StoreKey::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .unwrap()
        .into();
        assert_eq!(parse_retired(&retire, &stranger), None);
        assert!(parse_change("x|y", &keys).is_none());
    }
}
