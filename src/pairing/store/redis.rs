//! The Redis session store (`REDIS_URL`): any replica can serve any TV.
//!
//! Keys (all under `tvsignin:`): `s:<session>` is a hash with the record (`d`), its version
//! (`v`), the owning replica (`o`), the owner epoch (`e`) and when a TV last looked at it
//! (`t`, Unix ms), with a TTL; `owned:<replica>` lists what a replica owns;
//! `replica:<replica>` is its heartbeat (a lease renewed every second). (`seen`, a sorted set
//! of last-seen times kept by earlier versions for any id at all, is only trimmed now.) Every
//! write runs as one Lua script that checks the version (and, for a task's write, that this
//! replica still owns the session under the task's epoch), moves the lease if asked, and
//! publishes the new status on the `tvsignin:changes` channel, so every replica pushes it to
//! the TVs it serves; a move to a new session id (`ROTATE`) also publishes a sealed
//! `retired|<old id>|<seal>`.
//! When a heartbeat lapses, the next replica to beat adopts that replica's sessions (a script
//! moves each to exactly one, and bumps its epoch, which fences the old owner out).
//!
//! Nothing read from Redis is trusted as it is: records and change messages are sealed with
//! `STORE_KEY` (and opened with it or a `STORE_KEY_PREVIOUS` key), bound to their session,
//! generation and version (`wire`). A record that does not open is a TV that starts over; a
//! change message that does not open is ignored.

mod wire;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::wire::{
    change_message, decode, encode, parse_change, parse_retired, retired_message, start_over,
};
use super::{
    now_ms, Heartbeat, Lease, OwnerEpoch, Saved, SessionStore, StoreError, StoreEvent, Stored,
    Write,
};
use crate::pairing::SessionId;
use crate::seal::StoreKeys;
use crate::settings::RedisSettings;

/// A provider may still be working on a request its client gave up on, and Redis expires a
/// lease by its own clock: the margin exceeds the request timeout by this much.
const LEASE_SLACK: Duration = Duration::from_secs(2);
/// A lease outlives its margin by three renewals (one a second), so a replica pauses its
/// polls only after missing a few.
const LEASE_SPARE: Duration = Duration::from_secs(3);
/// The provider request timeout when none is given (`HTTP_TIMEOUT_SECS`'s default).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// At most this many sessions are adopted per heartbeat, so several replicas share the work.
const ADOPT_PER_BEAT: usize = 1000;
/// Entries older than this are trimmed from the `seen` set earlier versions kept.
const FORGET_SEEN_AFTER: Duration = Duration::from_secs(60 * 60);
/// Sessions marked as seen per `TOUCH` call.
const TOUCH_PER_CALL: usize = 1000;
const CHANNEL: &str = "tvsignin:changes";

/// How long a replica's lease lasts, and how much of it must be left to start a provider
/// request. The margin exceeds the request timeout, so a poll or refresh started under a
/// valid lease has ended, at the provider too, before another replica can adopt the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimes {
    pub lease: Duration,
    pub margin: Duration,
}

impl LeaseTimes {
    pub fn for_request_timeout(request_timeout: Duration) -> Self {
        let margin = request_timeout + LEASE_SLACK;
        Self {
            lease: margin + LEASE_SPARE,
            margin,
        }
    }
}

fn session_key(id: &SessionId) -> String {
    format!("tvsignin:s:{}", id.as_str())
}

/// The key counting a client address's new codes: `addr:` and a MAC of the address under
/// `STORE_KEY`, so Redis holds no client addresses.
fn address_key(keys: &StoreKeys, address: IpAddr) -> String {
    let (mac, _) = keys.mac_keys(b"tvsignin/address/v1");
    let tag = ring::hmac::sign(&mac, address.to_string().as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16]);
    format!("tvsignin:addr:{tag}")
}

/// Compare-and-set write: KEYS[1] the session; ARGV: expected version, data, TTL ms, lease
/// op, this replica, session id, the message after the version, the fence epoch ('' for
/// none). Returns {version, epoch}, or {-1} when the version moved on, {-2} when fenced.
const SAVE: &str = r"
local owner = redis.call('HGET', KEYS[1], 'o')
local epoch = tonumber(redis.call('HGET', KEYS[1], 'e') or '0')
if ARGV[8] ~= '' and (owner ~= ARGV[5] or epoch ~= tonumber(ARGV[8])) then return {-2} end
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return {-1} end
local version = current + 1
redis.call('HSET', KEYS[1], 'v', version, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[4] == 'claim' then
  if owner and owner ~= ARGV[5] then redis.call('SREM', 'tvsignin:owned:' .. owner, ARGV[6]) end
  redis.call('HSET', KEYS[1], 'o', ARGV[5])
  redis.call('SADD', 'tvsignin:owned:' .. ARGV[5], ARGV[6])
  epoch = redis.call('HINCRBY', KEYS[1], 'e', 1)
elseif ARGV[4] == 'release' then
  if owner then
    redis.call('SREM', 'tvsignin:owned:' .. owner, ARGV[6])
    redis.call('HDEL', KEYS[1], 'o')
  end
  epoch = redis.call('HINCRBY', KEYS[1], 'e', 1)
end
redis.call('PUBLISH', 'tvsignin:changes', version .. '|' .. ARGV[7])
return {version, epoch}
";

/// Moves a session to a new id: KEYS[1] the old session, KEYS[2] the new one; ARGV: expected
/// version of the old one, data, TTL ms, lease op, this replica, old id, new id, now (Unix
/// ms), the new record's message after the version, the old id's retire message. The old record, its last-seen time and
/// its place in its owner's set go; the new record starts at version 1, seen now, owned by
/// this replica (claim), by the old owner (keep) or by nobody (release), its epoch bumped by
/// a claim or a release as `SAVE` does. Returns {1, epoch}, or {-1} when the version moved on.
const ROTATE: &str = r"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return {-1} end
local owner = redis.call('HGET', KEYS[1], 'o')
local epoch = tonumber(redis.call('HGET', KEYS[1], 'e') or '0')
if owner then redis.call('SREM', 'tvsignin:owned:' .. owner, ARGV[6]) end
redis.call('DEL', KEYS[1], KEYS[2])
local keeper = nil
if ARGV[4] == 'claim' then
  keeper = ARGV[5]
  epoch = epoch + 1
elseif ARGV[4] == 'keep' then
  keeper = owner
else
  epoch = epoch + 1
end
redis.call('HSET', KEYS[2], 'v', 1, 'd', ARGV[2], 't', ARGV[8], 'e', epoch)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if keeper then
  redis.call('HSET', KEYS[2], 'o', keeper)
  redis.call('SADD', 'tvsignin:owned:' .. keeper, ARGV[7])
end
redis.call('PUBLISH', 'tvsignin:changes', ARGV[10])
redis.call('PUBLISH', 'tvsignin:changes', '1|' .. ARGV[9])
return {1, epoch}
";

/// Counts a new code for a client address (GCRA): KEYS[1] the address's key; ARGV the
/// interval between codes and the burst's tolerance, in ms. On Redis's own clock, so every
/// replica counts alike. Returns 0 when allowed, else the ms until a code is.
const COUNT_NEW_CODE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait > 0 then return wait end
tat = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], tat, 'PX', math.max(tat - now, 1))
return 0
";

/// Marks sessions as seen: KEYS the sessions, ARGV[1] now (Unix ms). Ids with no record
/// get nothing.
const TOUCH: &str = r"
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 't', ARGV[1]) end
end
return 0
";

/// Renews this replica's lease and adopts from replicas whose lease lapsed, bumping each
/// adopted session's epoch. ARGV: this replica, lease ms, adoption limit, forget last-seen
/// before (Unix ms). Returns session ids and their new epochs, alternating.
const HEARTBEAT: &str = r"
local me = ARGV[1]
local limit = tonumber(ARGV[3])
redis.call('SET', 'tvsignin:replica:' .. me, '1', 'PX', ARGV[2])
redis.call('SADD', 'tvsignin:replicas', me)
redis.call('ZREMRANGEBYSCORE', 'tvsignin:seen', '-inf', '(' .. ARGV[4])
local adopted = {}
local count = 0
for _, other in ipairs(redis.call('SMEMBERS', 'tvsignin:replicas')) do
  if count >= limit then break end
  if other ~= me and redis.call('EXISTS', 'tvsignin:replica:' .. other) == 0 then
    local set = 'tvsignin:owned:' .. other
    for _, id in ipairs(redis.call('SPOP', set, limit - count)) do
      local key = 'tvsignin:s:' .. id
      if redis.call('HGET', key, 'o') == other then
        redis.call('HSET', key, 'o', me)
        local epoch = redis.call('HINCRBY', key, 'e', 1)
        redis.call('SADD', 'tvsignin:owned:' .. me, id)
        table.insert(adopted, id)
        table.insert(adopted, tostring(epoch))
        count = count + 1
      end
    end
    if redis.call('SCARD', set) == 0 then redis.call('SREM', 'tvsignin:replicas', other) end
  end
end
return adopted
";

/// Parses a published message: a sealed change (see `wire::parse_change`) or a retired
/// session (`wire::parse_retired`, which only ends that session's push streams here: the TV
/// reconnects and reads its record again).
fn parse_event(payload: &str, keys: &Arc<StoreKeys>) -> Option<StoreEvent> {
    if payload.starts_with("retired|") {
        parse_retired(payload, keys).map(StoreEvent::Retired)
    } else {
        parse_change(payload, keys).map(StoreEvent::Changed)
    }
}

struct ReplicaLease {
    /// This replica's name in Redis; a new one is taken after a lapse.
    id: String,
    /// Until when the lease is certainly held (from when the last renewal was sent).
    valid_until: Option<Instant>,
}

pub struct RedisStore {
    connection: ConnectionManager,
    key: Arc<StoreKeys>,
    times: LeaseTimes,
    lease: Mutex<ReplicaLease>,
    events: Mutex<Option<mpsc::UnboundedReceiver<StoreEvent>>>,
    save: Script,
    rotate: Script,
    touch: Script,
    heartbeat: Script,
    count_new_code: Script,
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
        let key = Arc::new(settings.key.clone());
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
        tokio::spawn(listen(client, pubsub, key.clone(), sender, shutdown));
        Ok(Self {
            connection,
            key,
            times: LeaseTimes::for_request_timeout(DEFAULT_REQUEST_TIMEOUT),
            lease: Mutex::new(ReplicaLease {
                id: new_replica_id(),
                valid_until: None,
            }),
            events: Mutex::new(Some(receiver)),
            save: Script::new(SAVE),
            rotate: Script::new(ROTATE),
            touch: Script::new(TOUCH),
            heartbeat: Script::new(HEARTBEAT),
            count_new_code: Script::new(COUNT_NEW_CODE),
        })
    }

    /// Sizes the lease for provider requests that take up to `request_timeout`
    /// (`HTTP_TIMEOUT_SECS`); set before the first heartbeat.
    pub fn with_request_timeout(mut self, request_timeout: Duration) -> Self {
        self.times = LeaseTimes::for_request_timeout(request_timeout);
        self
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
    keys: Arc<StoreKeys>,
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
            match parse_event(&payload, &keys) {
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
                record: decode(&self.key, id, version, &data)
                    .unwrap_or_else(|error| start_over(&data, &error)),
            })),
            _ => Ok(None),
        }
    }

    async fn save(&self, id: &SessionId, write: Write<'_>) -> Result<Saved, StoreError> {
        // The version this write makes if it succeeds: both seals are bound to it.
        let version = write.expected + 1;
        let data = encode(&self.key, id, version, write.record)?;
        let message = change_message(&self.key, id, version, write.record)?;
        let fence = write.fence.map(|e| e.0.to_string()).unwrap_or_default();
        let lease = lease_op(write.lease);
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = self
            .save
            .key(session_key(id))
            .arg(write.expected)
            .arg(data)
            .arg(write.ttl.as_millis().max(1) as u64)
            .arg(lease)
            .arg(self.replica_id())
            .arg(id.as_str())
            .arg(message)
            .arg(fence)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        match answer.as_slice() {
            [-2] => Ok(Saved::Fenced),
            [-1] => Ok(Saved::Conflict),
            [written, epoch] if *written as u64 == version => Ok(Saved::Written {
                version,
                epoch: OwnerEpoch(*epoch as u64),
            }),
            other => Err(StoreError::Corrupt(format!(
                "the save script answered {other:?}"
            ))),
        }
    }

    async fn rotate(
        &self,
        old: &SessionId,
        new: &SessionId,
        write: Write<'_>,
    ) -> Result<Saved, StoreError> {
        // Sealed for the new id at version 1: a sealed value opens only under the session and
        // version it was made for.
        let data = encode(&self.key, new, 1, write.record)?;
        let message = change_message(&self.key, new, 1, write.record)?;
        let retired = retired_message(&self.key, old)?;
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = self
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
            .arg(retired)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        match answer.as_slice() {
            [-1] => Ok(Saved::Conflict),
            [1, epoch] => Ok(Saved::Written {
                version: 1,
                epoch: OwnerEpoch(*epoch as u64),
            }),
            other => Err(StoreError::Corrupt(format!(
                "the rotate script answered {other:?}"
            ))),
        }
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
            .arg(self.times.lease.as_millis() as u64)
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
        // After a lapse the new lease counts only from the next beat: by then the hub has
        // stopped every task of the old one, so none of them polls under the new lease.
        if !lost {
            let mut lease = self.lease();
            if lease.id == me {
                lease.valid_until = Some(sent + self.times.lease);
            }
        }
        Ok(Heartbeat {
            adopted: adopted
                .chunks_exact(2)
                .filter_map(|pair| {
                    Some((
                        SessionId::parse(&pair[0])?,
                        OwnerEpoch(pair[1].parse().ok()?),
                    ))
                })
                .collect(),
            lost,
        })
    }

    fn lease_valid(&self) -> bool {
        self.lease()
            .valid_until
            .is_some_and(|v| Instant::now() + self.times.margin < v)
    }

    fn take_events(&self) -> Option<mpsc::UnboundedReceiver<StoreEvent>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    async fn release(&self) {
        // No poll may start from here on: the others may adopt as soon as the key is gone.
        self.lease().valid_until = None;
        let me = self.replica_id();
        let mut connection = self.connection.clone();
        let result: redis::RedisResult<()> = connection.del(format!("tvsignin:replica:{me}")).await;
        match result {
            Ok(()) => tracing::info!("lease released; other replicas take over at once"),
            Err(error) => tracing::warn!(%error, "cannot release the lease; it lapses by itself"),
        }
    }

    fn counts_addresses(&self) -> bool {
        true
    }

    async fn count_new_code(
        &self,
        key: IpAddr,
        per_minute: u32,
    ) -> Result<Option<Duration>, StoreError> {
        let interval = 60_000 / u64::from(per_minute.max(1));
        if interval == 0 {
            // More than one a millisecond: no limit worth a round trip (load tests set this).
            return Ok(None);
        }
        let tolerance = interval * u64::from(per_minute.max(1) - 1);
        let mut connection = self.connection.clone();
        let wait_ms: u64 = self
            .count_new_code
            .key(address_key(&self.key, key))
            .arg(interval)
            .arg(tolerance)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_margin_exceeds_the_request_timeout() {
        for secs in [1, 3, 15, 120] {
            let timeout = Duration::from_secs(secs);
            let times = LeaseTimes::for_request_timeout(timeout);
            assert!(times.margin > timeout, "{times:?}");
            // Renewed every second: a couple of renewals may be missed before polls pause.
            assert!(
                times.lease >= times.margin + Duration::from_secs(2),
                "{times:?}"
            );
        }
    }
}
