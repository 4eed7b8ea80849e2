//! The Redis session store (`REDIS_URL`): any replica can serve any TV.
//!
//! Keys (all under `tvsignin:`): `s:<session>` is a hash with the record (`d`), its version
//! (`v`), the owning replica (`o`) and when a TV last looked at it (`t`, Unix ms), with a
//! TTL; `owned:<replica>` lists what a replica owns; `replica:<replica>` is its heartbeat (a
//! 5 s lease, renewed every second). (`seen`, a sorted set of last-seen times kept by
//! earlier versions for any id at all, is only trimmed now.) Every write runs as one Lua
//! script that checks the version, moves the lease if asked, and publishes the new status on
//! the `tvsignin:changes` channel, so every replica pushes it to the TVs it serves; a move
//! to a new session id (`ROTATE`) also publishes `retired|<old id>`. When a heartbeat
//! lapses, the next replica to beat adopts that replica's sessions (a script moves each to
//! exactly one).
//! Device codes and tokens are sealed with `STORE_KEY` before they leave the process
//! (and opened with it or a `STORE_KEY_PREVIOUS` key).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::seal::StoreKeys;
use super::{
    now_ms, Change, DeviceGrant, Heartbeat, Lease, SessionRecord, SessionStore, StoreError,
    StoreEvent, Stored, Write,
};
use crate::model::TvStatus;
use crate::oidc::secret::{AccessToken, DeviceCode, IdToken, RefreshToken};
use crate::oidc::token::TokenSet;
use crate::server::session::SessionId;
use crate::server::settings::RedisSettings;

/// How long a replica's lease lasts without a heartbeat.
pub const LEASE: Duration = Duration::from_secs(5);
/// A task stops polling this long before its lease could lapse.
const LEASE_MARGIN: Duration = Duration::from_millis(1500);
/// At most this many sessions are adopted per heartbeat, so several replicas share the work.
const ADOPT_PER_BEAT: usize = 1000;
/// Entries older than this are trimmed from the `seen` set earlier versions kept.
const FORGET_SEEN_AFTER: Duration = Duration::from_secs(60 * 60);
/// Sessions marked as seen per `TOUCH` call.
const TOUCH_PER_CALL: usize = 1000;
const CHANNEL: &str = "tvsignin:changes";

fn session_key(id: &SessionId) -> String {
    format!("tvsignin:s:{}", id.as_str())
}

/// Compare-and-set write: KEYS[1] the session; ARGV: expected version, data, TTL ms, lease
/// op, this replica, session id, the message after the version.
const SAVE: &str = r"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local version = current + 1
redis.call('HSET', KEYS[1], 'v', version, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local owner = redis.call('HGET', KEYS[1], 'o')
if ARGV[4] == 'claim' then
  if owner and owner ~= ARGV[5] then redis.call('SREM', 'tvsignin:owned:' .. owner, ARGV[6]) end
  redis.call('HSET', KEYS[1], 'o', ARGV[5])
  redis.call('SADD', 'tvsignin:owned:' .. ARGV[5], ARGV[6])
elseif ARGV[4] == 'release' and owner then
  redis.call('SREM', 'tvsignin:owned:' .. owner, ARGV[6])
  redis.call('HDEL', KEYS[1], 'o')
end
redis.call('PUBLISH', 'tvsignin:changes', version .. '|' .. ARGV[7])
return version
";

/// Moves a session to a new id: KEYS[1] the old session, KEYS[2] the new one; ARGV: expected
/// version of the old one, data, TTL ms, lease op, this replica, old id, new id, now (Unix
/// ms), the new record's message after the version. The old record, its last-seen time and
/// its place in its owner's set go; the new record starts at version 1, seen now, owned by
/// this replica (claim), by the old owner (keep) or by nobody (release).
const ROTATE: &str = r"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local owner = redis.call('HGET', KEYS[1], 'o')
if owner then redis.call('SREM', 'tvsignin:owned:' .. owner, ARGV[6]) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], 'v', 1, 'd', ARGV[2], 't', ARGV[8])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local keeper = nil
if ARGV[4] == 'claim' then keeper = ARGV[5] elseif ARGV[4] == 'keep' then keeper = owner end
if keeper then
  redis.call('HSET', KEYS[2], 'o', keeper)
  redis.call('SADD', 'tvsignin:owned:' .. keeper, ARGV[7])
end
redis.call('PUBLISH', 'tvsignin:changes', 'retired|' .. ARGV[6])
redis.call('PUBLISH', 'tvsignin:changes', '1|' .. ARGV[9])
return 1
";

/// Marks sessions as seen: KEYS the sessions, ARGV[1] now (Unix ms). Ids with no record
/// get nothing.
const TOUCH: &str = r"
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 't', ARGV[1]) end
end
return 0
";

/// Renews this replica's lease and adopts from replicas whose lease lapsed. ARGV: this
/// replica, lease ms, adoption limit, forget last-seen before (Unix ms).
const HEARTBEAT: &str = r"
local me = ARGV[1]
local limit = tonumber(ARGV[3])
redis.call('SET', 'tvsignin:replica:' .. me, '1', 'PX', ARGV[2])
redis.call('SADD', 'tvsignin:replicas', me)
redis.call('ZREMRANGEBYSCORE', 'tvsignin:seen', '-inf', '(' .. ARGV[4])
local adopted = {}
for _, other in ipairs(redis.call('SMEMBERS', 'tvsignin:replicas')) do
  if #adopted >= limit then break end
  if other ~= me and redis.call('EXISTS', 'tvsignin:replica:' .. other) == 0 then
    local set = 'tvsignin:owned:' .. other
    for _, id in ipairs(redis.call('SPOP', set, limit - #adopted)) do
      local key = 'tvsignin:s:' .. id
      if redis.call('HGET', key, 'o') == other then
        redis.call('HSET', key, 'o', me)
        redis.call('SADD', 'tvsignin:owned:' .. me, id)
        table.insert(adopted, id)
      end
    end
    if redis.call('SCARD', set) == 0 then redis.call('SREM', 'tvsignin:replicas', other) end
  end
end
return adopted
";

/// The record as stored: public fields in clear, secrets sealed.
#[derive(Serialize, Deserialize)]
struct Wire {
    generation: u64,
    status: TvStatus,
    /// Sealed [`Secrets`], if there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_ms: Option<u64>,
    #[serde(default)]
    tokens_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_home_at_ms: Option<u64>,
    #[serde(default)]
    recent_starts_ms: Vec<u64>,
}

/// What is sealed: never stored or sent in clear.
#[derive(Serialize, Deserialize, Default)]
struct Secrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_code: Option<DeviceCode>,
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
}

fn encode(key: &StoreKeys, id: &SessionId, record: &SessionRecord) -> Result<String, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let sealed = if record.device.is_some() || record.tokens.is_some() {
        let tokens = record.tokens.as_ref();
        let secrets = Secrets {
            device_code: record.device.as_ref().map(|d| d.device_code.clone()),
            access_token: tokens.map(|t| t.access_token.clone()),
            refresh_token: tokens.and_then(|t| t.refresh_token.clone()),
            id_token: tokens.and_then(|t| t.id_token.clone()),
            expires_in_secs: tokens.and_then(|t| t.expires_in).map(|d| d.as_secs()),
            scope: tokens.and_then(|t| t.scope.clone()),
        };
        let plain = serde_json::to_vec(&secrets).map_err(|e| corrupt(&e))?;
        Some(
            key.seal(id.as_str().as_bytes(), &plain)
                .map_err(|e| corrupt(&e))?,
        )
    } else {
        None
    };
    let wire = Wire {
        generation: record.generation,
        status: record.status.clone(),
        sealed,
        interval_ms: record
            .device
            .as_ref()
            .map(|d| d.interval.as_millis() as u64),
        expires_at_ms: record.device.as_ref().map(|d| d.expires_at_ms),
        tokens_at_ms: record.tokens_at_ms,
        return_home_at_ms: record.return_home_at_ms,
        recent_starts_ms: record.recent_starts_ms.clone(),
    };
    serde_json::to_string(&wire).map_err(|e| corrupt(&e))
}

/// What a session that can't be read becomes: a TV at Home, one generation on (so no task of
/// the old one acts on it), written over at its next change. That happens when `STORE_KEY`
/// changed without the old key in `STORE_KEY_PREVIOUS`, or the data is damaged; the TV then
/// starts over instead of getting errors.
fn start_over(data: &str, error: &StoreError) -> SessionRecord {
    tracing::warn!(%error, "a stored session cannot be read (STORE_KEY changed without STORE_KEY_PREVIOUS, or damaged data); that TV starts over");
    let generation = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|wire| wire.get("generation")?.as_u64())
        .map_or(0, |g| g + 1);
    SessionRecord {
        generation,
        ..SessionRecord::default()
    }
}

fn decode(key: &StoreKeys, id: &SessionId, data: &str) -> Result<SessionRecord, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let wire: Wire = serde_json::from_str(data).map_err(|e| corrupt(&e))?;
    let secrets = match &wire.sealed {
        Some(sealed) => {
            let plain = key
                .open(id.as_str().as_bytes(), sealed)
                .map_err(|e| corrupt(&e))?;
            serde_json::from_slice(&plain).map_err(|e| corrupt(&e))?
        }
        None => Secrets::default(),
    };
    let device = match (secrets.device_code, wire.interval_ms, wire.expires_at_ms) {
        (Some(device_code), Some(interval), Some(expires_at_ms)) => Some(DeviceGrant {
            device_code,
            interval: Duration::from_millis(interval),
            expires_at_ms,
        }),
        _ => None,
    };
    let tokens = secrets.access_token.map(|access_token| TokenSet {
        access_token,
        refresh_token: secrets.refresh_token,
        id_token: secrets.id_token,
        expires_in: secrets.expires_in_secs.map(Duration::from_secs),
        scope: secrets.scope,
    });
    Ok(SessionRecord {
        generation: wire.generation,
        status: wire.status,
        device,
        tokens,
        tokens_at_ms: wire.tokens_at_ms,
        return_home_at_ms: wire.return_home_at_ms,
        recent_starts_ms: wire.recent_starts_ms,
    })
}

/// Parses a published message: a change (`version|session|generation|status JSON`) or a
/// retired session (`retired|session`).
fn parse_event(payload: &str) -> Option<StoreEvent> {
    match payload.strip_prefix("retired|") {
        Some(id) => SessionId::parse(id).map(StoreEvent::Retired),
        None => parse_change(payload).map(StoreEvent::Changed),
    }
}

/// Parses a published change: `version|session|generation|status JSON`.
fn parse_change(payload: &str) -> Option<Change> {
    let mut parts = payload.splitn(4, '|');
    let version = parts.next()?.parse().ok()?;
    let id = SessionId::parse(parts.next()?)?;
    let generation = parts.next()?.parse().ok()?;
    let status_json = parts.next()?.to_owned();
    Some(Change {
        id,
        version,
        generation,
        status_json,
    })
}

struct ReplicaLease {
    /// This replica's name in Redis; a new one is taken after a lapse.
    id: String,
    /// Until when the lease is certainly held (from when the last renewal was sent).
    valid_until: Option<Instant>,
}

pub struct RedisStore {
    connection: ConnectionManager,
    key: StoreKeys,
    lease: Mutex<ReplicaLease>,
    events: Mutex<Option<mpsc::UnboundedReceiver<StoreEvent>>>,
    save: Script,
    rotate: Script,
    touch: Script,
    heartbeat: Script,
}

/// The message after the version for a change to `id`: `session|generation|status JSON`.
fn change_message(id: &SessionId, record: &SessionRecord) -> Result<String, StoreError> {
    let status =
        serde_json::to_string(&record.status).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(format!("{}|{}|{}", id.as_str(), record.generation, status))
}

fn lease_op(lease: Lease) -> &'static str {
    match lease {
        Lease::Keep => "keep",
        Lease::Claim => "claim",
        Lease::Release => "release",
    }
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn new_replica_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl RedisStore {
    /// Connects as the settings say (fails when Redis cannot be reached or trusted within a
    /// few seconds) and starts listening for other replicas' changes until `shutdown`. Over
    /// TLS (`rediss://`) the server's certificate must chain to `REDIS_CA_FILE`'s
    /// certificates if set, else to the system's.
    pub async fn connect(
        settings: &RedisSettings,
        shutdown: CancellationToken,
    ) -> Result<Self, StoreError> {
        let url = settings.url.as_str();
        let key = settings.key.clone();
        let client = match &settings.ca_pem {
            None => redis::Client::open(url),
            Some(pem) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
        }
        .map_err(unavailable)?;
        probe(&client, settings).await?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(3))
            .set_response_timeout(Duration::from_secs(3))
            .set_number_of_retries(2);
        // The probe has answered PING already.
        let connection = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| StoreError::Unavailable("no answer within 10 s".into()))?
        .map_err(unavailable)?;
        let (sender, receiver) = mpsc::unbounded_channel();
        // Subscribed before the first write, so nothing this replica should hear is missed.
        let pubsub = subscribe(&client).await.map_err(unavailable)?;
        tokio::spawn(listen(client, pubsub, sender, shutdown));
        Ok(Self {
            connection,
            key,
            lease: Mutex::new(ReplicaLease {
                id: new_replica_id(),
                valid_until: None,
            }),
            events: Mutex::new(Some(receiver)),
            save: Script::new(SAVE),
            rotate: Script::new(ROTATE),
            touch: Script::new(TOUCH),
            heartbeat: Script::new(HEARTBEAT),
        })
    }

    fn lease(&self) -> std::sync::MutexGuard<'_, ReplicaLease> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn replica_id(&self) -> String {
        self.lease().id.clone()
    }
}

/// One plain connection and PING, before the retrying connection manager: a refused
/// connection, an untrusted certificate or a failed handshake is reported as it is, at once.
async fn probe(client: &redis::Client, settings: &RedisSettings) -> Result<(), StoreError> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(3))
        .set_response_timeout(Duration::from_secs(3));
    let result = async {
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    }
    .await;
    result.map(drop).map_err(|error| {
        let hint = if settings.uses_tls() || error.is_connection_refusal() {
            ""
        } else {
            " (if this Redis speaks TLS, the URL must start with rediss://)"
        };
        StoreError::Unavailable(format!("{error}{hint}"))
    })
}

async fn subscribe(client: &redis::Client) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    Ok(pubsub)
}

/// Forwards published changes until shutdown, resubscribing (and asking for a resync)
/// whenever the subscription drops.
async fn listen(
    client: redis::Client,
    first: redis::aio::PubSub,
    sender: mpsc::UnboundedSender<StoreEvent>,
    shutdown: CancellationToken,
) {
    use futures::StreamExt;
    let mut pubsub = Some(first);
    let mut retry = Duration::from_millis(200);
    loop {
        let current = match pubsub.take() {
            Some(p) => p,
            None => {
                let attempt = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    attempt = subscribe(&client) => attempt,
                };
                match attempt {
                    Ok(p) => {
                        retry = Duration::from_millis(200);
                        if sender.send(StoreEvent::Resync).is_err() {
                            return;
                        }
                        p
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot subscribe to Redis; retrying in {retry:?}");
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(retry) => {}
                        }
                        retry = (retry * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
            }
        };
        let mut messages = current.into_on_message();
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return,
                message = messages.next() => message,
            };
            let Some(message) = message else { break };
            let Ok(payload) = message.get_payload::<String>() else {
                continue;
            };
            match parse_event(&payload) {
                Some(event) => {
                    if sender.send(event).is_err() {
                        return;
                    }
                }
                None => tracing::warn!("ignoring a malformed change message"),
            }
        }
        tracing::warn!("the Redis subscription dropped; resubscribing");
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    async fn load(&self, id: &SessionId) -> Result<Option<Stored>, StoreError> {
        let mut connection = self.connection.clone();
        let (version, data): (Option<u64>, Option<String>) = connection
            .hget(session_key(id), &["v", "d"])
            .await
            .map_err(unavailable)?;
        match (version, data) {
            (Some(version), Some(data)) => Ok(Some(Stored {
                version,
                record: decode(&self.key, id, &data)
                    .unwrap_or_else(|error| start_over(&data, &error)),
            })),
            _ => Ok(None),
        }
    }

    async fn save(&self, id: &SessionId, write: Write<'_>) -> Result<Option<u64>, StoreError> {
        let data = encode(&self.key, id, write.record)?;
        let message = change_message(id, write.record)?;
        let lease = lease_op(write.lease);
        let mut connection = self.connection.clone();
        let version: i64 = self
            .save
            .key(session_key(id))
            .arg(write.expected)
            .arg(data)
            .arg(write.ttl.as_millis().max(1) as u64)
            .arg(lease)
            .arg(self.replica_id())
            .arg(id.as_str())
            .arg(message)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(version).ok())
    }

    async fn rotate(
        &self,
        old: &SessionId,
        new: &SessionId,
        write: Write<'_>,
    ) -> Result<Option<u64>, StoreError> {
        // Sealed for the new id: a sealed value opens only under the session it was made for.
        let data = encode(&self.key, new, write.record)?;
        let message = change_message(new, write.record)?;
        let mut connection = self.connection.clone();
        let version: i64 = self
            .rotate
            .key(session_key(old))
            .key(session_key(new))
            .arg(write.expected)
            .arg(data)
            .arg(write.ttl.as_millis().max(1) as u64)
            .arg(lease_op(write.lease))
            .arg(self.replica_id())
            .arg(old.as_str())
            .arg(new.as_str())
            .arg(now_ms())
            .arg(message)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(version).ok())
    }

    async fn touch(&self, ids: &[SessionId]) -> Result<(), StoreError> {
        let now = now_ms();
        let mut connection = self.connection.clone();
        // Large fleets: one call per thousand sessions.
        for chunk in ids.chunks(TOUCH_PER_CALL) {
            let mut call = self.touch.prepare_invoke();
            for id in chunk {
                call.key(session_key(id));
            }
            let _: i64 = call
                .arg(now)
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn last_seen_ms(&self, id: &SessionId) -> Result<Option<u64>, StoreError> {
        let mut connection = self.connection.clone();
        connection
            .hget(session_key(id), "t")
            .await
            .map_err(unavailable)
    }

    async fn heartbeat(&self) -> Result<Heartbeat, StoreError> {
        let (me, lost) = {
            let mut lease = self.lease();
            let lapsed = lease.valid_until.is_some_and(|v| Instant::now() >= v);
            if lapsed {
                // Others may be adopting our sessions already: start over under a new name,
                // and let whoever beats first (maybe us) adopt the old one's sessions.
                tracing::warn!("this replica's lease lapsed; its sessions go to the fleet");
                lease.id = new_replica_id();
                lease.valid_until = None;
            }
            (lease.id.clone(), lapsed)
        };
        let sent = Instant::now();
        let forget_before = now_ms().saturating_sub(FORGET_SEEN_AFTER.as_millis() as u64);
        let mut connection = self.connection.clone();
        let result: Result<Vec<String>, _> = self
            .heartbeat
            .arg(&me)
            .arg(LEASE.as_millis() as u64)
            .arg(ADOPT_PER_BEAT)
            .arg(forget_before)
            .invoke_async(&mut connection)
            .await;
        let adopted = match result {
            Ok(adopted) => adopted,
            Err(_) if lost => {
                return Ok(Heartbeat {
                    adopted: Vec::new(),
                    lost,
                })
            }
            Err(error) => return Err(unavailable(error)),
        };
        {
            let mut lease = self.lease();
            if lease.id == me {
                lease.valid_until = Some(sent + LEASE);
            }
        }
        Ok(Heartbeat {
            adopted: adopted
                .iter()
                .filter_map(|id| SessionId::parse(id))
                .collect(),
            lost,
        })
    }

    fn lease_valid(&self) -> bool {
        self.lease()
            .valid_until
            .is_some_and(|v| Instant::now() + LEASE_MARGIN < v)
    }

    fn take_events(&self) -> Option<mpsc::UnboundedReceiver<StoreEvent>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    async fn release(&self) {
        let me = self.replica_id();
        let mut connection = self.connection.clone();
        let result: redis::RedisResult<()> = connection.del(format!("tvsignin:replica:{me}")).await;
        match result {
            Ok(()) => tracing::info!("lease released; other replicas take over at once"),
            Err(error) => tracing::warn!(%error, "cannot release the lease; it lapses by itself"),
        }
        self.lease().valid_until = None;
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::model::PairingView;

    fn key() -> StoreKeys {
        super::super::seal::StoreKey::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        )
        .unwrap()
        .into()
    }

    fn id() -> SessionId {
        SessionId::parse(&"a".repeat(32)).unwrap()
    }

    #[test]
    fn secrets_are_sealed_and_come_back() {
        let record = SessionRecord {
            generation: 4,
            status: TvStatus::Waiting {
                pairing: PairingView {
                    user_code: "ABCD-EFGH".into(),
                    verification_uri: "https://idp.example/device".into(),
                    verification_uri_complete: None,
                    qr_svg: "<svg/>".into(),
                    expires_at_ms: 42,
                    interval_secs: 5,
                },
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
        };
        let data = encode(&key(), &id(), &record).unwrap();
        for secret in [
            "device-code-secret",
            "access-token-secret",
            "refresh-token-secret",
        ] {
            assert!(!data.contains(secret), "{secret} stored in clear");
        }
        assert!(data.contains("ABCD-EFGH"));
        let back = decode(&key(), &id(), &data).unwrap();
        assert_eq!(back.device, record.device);
        let tokens = back.tokens.unwrap();
        assert_eq!(tokens.access_token.expose(), "access-token-secret");
        assert_eq!(
            tokens.refresh_token.unwrap().expose(),
            "refresh-token-secret"
        );
        assert_eq!(tokens.expires_in, Some(Duration::from_secs(60)));
        assert_eq!(back.status, record.status);
        assert_eq!((back.generation, back.tokens_at_ms), (4, 7));
        assert_eq!(back.recent_starts_ms, vec![1, 2]);
        // Another session's id cannot open it.
        let other = SessionId::parse(&"b".repeat(32)).unwrap();
        assert!(decode(&key(), &other, &data).is_err());
    }

    #[test]
    fn change_messages() {
        let change =
            parse_change(&format!("12|{}|3|{{\"state\":\"idle\"}}", "c".repeat(32))).unwrap();
        assert_eq!((change.version, change.generation), (12, 3));
        assert_eq!(change.status().unwrap(), TvStatus::Idle);
        assert!(parse_change("12|not-an-id|3|{}").is_none());
        assert!(parse_change("x|y").is_none());
        let id = "d".repeat(32);
        match parse_event(&format!("retired|{id}")) {
            Some(StoreEvent::Retired(retired)) => assert_eq!(retired.as_str(), id),
            other => panic!("{other:?}"),
        }
        assert!(parse_event("retired|nope").is_none());
        assert!(matches!(
            parse_event(&format!("2|{id}|1|{{\"state\":\"idle\"}}")),
            Some(StoreEvent::Changed(_))
        ));
    }
}
