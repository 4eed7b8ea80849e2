//! Fleet mode, black-box: replicas of the real binary sharing one real `redis-server` behave
//! as one app. A TV's push stream on one replica shows what another replica does; exactly one
//! replica polls for a pairing, and another adopts it when that one dies or stops, never
//! while the old owner's poll or refresh is still at the provider, after which the old owner
//! can write nothing in it; a restart loses nothing; Redis holds
//! no device code or token in clear text, and its keys expire; records and change messages
//! forged or replayed in Redis are refused; a TLS-only Redis works and an untrusted
//! certificate is refused; `STORE_KEY` rotates without signing anyone out, and a session no
//! key opens starts over; bad fleet settings stop start-up naming the key. Each test is
//! bounded and runs on loopback.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::support::events::Events;
use crate::support::fleet::{holds_in_clear, store_key, FleetSettings, Replica};
use crate::support::local_idp::{
    overlapping_polls, phone, provider_hook, provider_stat, slow_downs, userinfo, LocalIdp,
    PhoneAction, ALICE,
};
use crate::support::process::binary;
use crate::support::redis::{Redis, StoredKey, TlsFiles};
use crate::support::tv::user_code;
use crate::support::{free_port, within, work_dir};

/// How long a push stream may stay open in these tests.
const STREAM: Duration = Duration::from_secs(100);

/// The local provider, asking for a 1 s polling interval and answering `slow_down` to a
/// device code polled again sooner than that: two replicas polling one pairing show up in
/// its `slow_downs` count.
async fn provider() -> LocalIdp {
    LocalIdp::start(&[("IDP_INTERVAL", "1"), ("IDP_SLOW_DOWN", "1")]).await
}

/// The local provider, a `redis-server` of the test's own in a working directory `name`, and the
/// settings its replicas share. Bind every part to a name (`_redis` will do): dropping the
/// provider or Redis handle stops that process.
async fn fleet_for(name: &str) -> (LocalIdp, PathBuf, Redis, FleetSettings) {
    let idp = provider().await;
    let dir = work_dir(module_path!(), name);
    let redis = Redis::start(&dir).await;
    let fleet = FleetSettings::new(&idp.issuer, &redis, &dir);
    (idp, dir, redis, fleet)
}

/// Alice's latest access token, as the local provider issued it.
async fn alice_access_token(idp: &LocalIdp) -> String {
    provider_hook(
        &idp.issuer,
        "/__test/last-access-token?sub=alice",
        "access_token",
    )
    .await
}

/// Waits until userinfo refuses `token` (it was revoked); panics after 5 s.
async fn assert_revoked_soon(issuer: &str, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while userinfo(issuer, token).await.0 != 401 {
        assert!(
            Instant::now() < deadline,
            "the access token still works 5 s after sign-out"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Alice allows the code of a `waiting` status on her phone.
async fn approve(waiting: &Value) {
    let code = user_code(waiting);
    let uri = waiting["pairing"]["verification_uri_complete"]
        .as_str()
        .unwrap_or_else(|| panic!("no verification_uri_complete in {waiting}"));
    let (user, password) = ALICE;
    let (exit, said) = phone(uri, &code, user, password, PhoneAction::Allow).await;
    assert_eq!(exit, 0, "phone: {said}");
}

fn display_name(status: &Value) -> &str {
    status["profile"]["display_name"]
        .as_str()
        .unwrap_or_else(|| panic!("no profile in {status}"))
}

/// From the first `waiting` on, until `signed-in`, the stream showed only that same code:
/// the pairing went on, with no blip and no new code.
fn assert_steady_waiting(seen: &[Value], code: &str) {
    let states: Vec<&str> = seen
        .iter()
        .map(|s| s["state"].as_str().unwrap_or("?"))
        .collect();
    let first = states
        .iter()
        .position(|s| *s == "waiting")
        .unwrap_or_else(|| panic!("never waiting: {states:?}"));
    for status in &seen[first..] {
        match status["state"].as_str() {
            Some("signed-in") => return,
            Some("waiting") => assert_eq!(user_code(status), code, "the code changed: {states:?}"),
            _ => panic!("the TV left waiting before it was signed in: {states:?}"),
        }
    }
}

/// No polling faster than the interval on any device code: one pairing, one poller.
async fn assert_no_slow_down(idp: &LocalIdp) {
    assert_eq!(
        slow_downs(&idp.issuer).await,
        0,
        "a device code was polled sooner than its interval after its previous poll: \
         two replicas polled one pairing at once, or an adopter ignored the interval"
    );
}

#[tokio::test]
async fn a_push_stream_on_one_replica_shows_what_another_replica_does() {
    within(90, async {
        let (idp, _dir, _redis, fleet) = fleet_for("cross_replica_push").await;
        let (a, b) = tokio::join!(Replica::start("a", &fleet), Replica::start("b", &fleet));

        // The TV gets its session from A and opens its push stream there...
        let tv_a = a.tv();
        assert_eq!(tv_a.status().await["state"], "idle");
        assert!(tv_a.cookie().is_some(), "A set no session cookie");
        let mut events = Events::open(&tv_a, STREAM).await;
        let first = events
            .next(Duration::from_secs(5))
            .await
            .expect("the push stream sends the current status first");
        assert_eq!(first["state"], "idle", "{first}");

        // ...while its "Sign in" lands on B.
        let tv_b = tv_a.on(&b.base);
        let started = tv_b.call("start").await;
        assert!(
            matches!(started["state"].as_str(), Some("starting" | "waiting")),
            "start on B: {started}"
        );
        let waiting = events.wait_for("waiting", Duration::from_secs(15)).await;
        let code = user_code(&waiting);
        for tv in [&tv_a, &tv_b] {
            let status = tv.status().await;
            assert_eq!(
                status["state"],
                "waiting",
                "status on {}: {status}",
                tv.base()
            );
            assert_eq!(user_code(&status), code, "status on {}", tv.base());
        }

        // B handled the start, so B polls, and only B.
        b.wait_for_polls(1, Duration::from_secs(10)).await;
        assert_eq!(a.polls().await, 0, "A polled a pairing B owns");

        // The phone approves: A's stream shows it as soon as B knows.
        approve(&waiting).await;
        let ((streamed, streamed_at), (polled, polled_at)) = tokio::join!(
            async {
                let status = events.wait_for("signed-in", Duration::from_secs(20)).await;
                (status, Instant::now())
            },
            async {
                let status = tv_b.wait_for("signed-in", Duration::from_secs(20)).await;
                (status, Instant::now())
            },
        );
        assert!(
            streamed_at <= polled_at + Duration::from_secs(2),
            "A's stream showed the sign-in {:?} after B reported it",
            streamed_at - polled_at
        );
        assert_steady_waiting(&events.seen, &code);
        assert_eq!(display_name(&streamed), "Alice Liddell");
        assert_eq!(streamed["profile"], polled["profile"]);
        let on_a = tv_a.status().await;
        assert_eq!(on_a["state"], "signed-in", "status on A: {on_a}");
        assert_eq!(on_a["profile"], polled["profile"]);
        assert_eq!(a.polls().await, 0, "A polled a pairing B owns");
        assert_no_slow_down(&idp).await;

        // Sign out on B: A's stream goes back to Home at once.
        let out = tv_b.call("sign_out").await;
        assert_eq!(out["state"], "idle", "sign_out on B: {out}");
        events.wait_for("idle", Duration::from_secs(3)).await;
        assert_eq!(tv_a.status().await["state"], "idle");
    })
    .await;
}

#[tokio::test]
async fn new_codes_per_client_address_are_counted_for_the_whole_fleet() {
    within(90, async {
        let (_idp, _dir, redis, mut fleet) = fleet_for("address_limit").await;
        fleet.more.push(("PAIRING_RATE_LIMIT", "2".into()));
        let (a, b) = tokio::join!(Replica::start("a", &fleet), Replica::start("b", &fleet));
        // TVs of their own (no cookie in common), all from 127.0.0.1.
        let starts = |answer: &Value, what: &str| {
            assert!(
                matches!(answer["state"].as_str(), Some("starting" | "waiting")),
                "{what}: {answer}"
            );
        };
        let first = a.tv();
        starts(&first.call("start").await, "the first TV's start on A");
        // Its Sign in again, on B, while its pairing is under way: nothing new, nothing counted.
        starts(
            &first.on(&b.base).call("start").await,
            "the first TV again, on B",
        );
        starts(&a.tv().call("start").await, "a second TV's start on A");
        // The address has had its two this minute, on B too.
        let refused = b.tv().call("start").await;
        assert_eq!(refused["state"], "throttled", "a third TV, on B: {refused}");
        let wait = refused["retry_after_secs"].as_u64().unwrap();
        assert!((20..=31).contains(&wait), "retry after {wait} s");
        // One counter, and it does not name the address.
        let counters: Vec<String> = redis
            .keys()
            .await
            .into_iter()
            .filter(|k| k.starts_with("tvsignin:addr:"))
            .collect();
        assert_eq!(counters.len(), 1, "{counters:?}");
        assert!(!counters[0].contains("127.0.0.1"), "{counters:?}");
    })
    .await;
}

#[tokio::test]
async fn a_killed_replicas_pairing_is_adopted_and_still_signs_in() {
    within(90, async {
        let (idp, _dir, _redis, fleet) = fleet_for("takeover_after_kill").await;
        let (mut a, b, c) = tokio::join!(
            Replica::start("a", &fleet),
            Replica::start("b", &fleet),
            Replica::start("c", &fleet)
        );

        // The TV watches on B and starts on A: A owns the pairing.
        let tv_b = b.tv();
        assert_eq!(tv_b.status().await["state"], "idle");
        let mut events = Events::open(&tv_b, STREAM).await;
        let tv_a = tv_b.on(&a.base);
        tv_a.call("start").await;
        let waiting = events.wait_for("waiting", Duration::from_secs(15)).await;
        let code = user_code(&waiting);

        // While A lives, A polls and nobody else does.
        a.wait_for_polls(3, Duration::from_secs(15)).await;
        assert_eq!(
            (b.polls().await, c.polls().await),
            (0, 0),
            "(B, C) polled a pairing A owns"
        );

        // A dies without a word; the person approves meanwhile. A survivor adopts the
        // pairing once A's lease runs out, and polls on.
        a.kill().await;
        let killed = Instant::now();
        let lease = fleet.lease();
        let ((), adopted_after) = tokio::join!(approve(&waiting), async {
            loop {
                if b.polls().await + c.polls().await > 0 {
                    return killed.elapsed();
                }
                assert!(
                    killed.elapsed() < lease + Duration::from_secs(7),
                    "no survivor polled within {:?} of A dying",
                    lease + Duration::from_secs(7)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        eprintln!("adopted and polled {adopted_after:?} after the owner died");
        // The lease, a heartbeat, the spread over one interval and the interval itself.
        assert!(
            adopted_after <= lease + Duration::from_secs(3),
            "the first poll after A died came only {adopted_after:?} later (lease {lease:?})"
        );
        let left = (lease + Duration::from_secs(15)).saturating_sub(killed.elapsed());
        let signed_in = events.wait_for("signed-in", left).await;
        eprintln!("signed in {:?} after the owner died", killed.elapsed());
        assert_eq!(display_name(&signed_in), "Alice Liddell");
        assert_steady_waiting(&events.seen, &code);

        // Exactly one survivor adopted the pairing, and never polled it too fast.
        let (polls_b, polls_c) = (b.polls().await, c.polls().await);
        assert!(polls_b + polls_c > 0, "nobody polled after A died");
        assert!(
            polls_b == 0 || polls_c == 0,
            "both B ({polls_b} polls) and C ({polls_c} polls) polled the adopted pairing"
        );
        assert_no_slow_down(&idp).await;
        for tv in [&tv_b, &tv_b.on(&c.base)] {
            let status = tv.status().await;
            assert_eq!(status["state"], "signed-in", "on {}: {status}", tv.base());
            assert_eq!(status["profile"], signed_in["profile"]);
        }
    })
    .await;
}

#[tokio::test]
async fn a_stopping_replica_hands_its_pairing_over_at_once() {
    within(90, async {
        let (idp, _dir, _redis, fleet) = fleet_for("handover_on_stop").await;
        let (mut a, b) = tokio::join!(Replica::start("a", &fleet), Replica::start("b", &fleet));

        let tv_b = b.tv();
        assert_eq!(tv_b.status().await["state"], "idle");
        let mut events = Events::open(&tv_b, STREAM).await;
        tv_b.on(&a.base).call("start").await;
        let waiting = events.wait_for("waiting", Duration::from_secs(15)).await;
        let code = user_code(&waiting);
        a.wait_for_polls(2, Duration::from_secs(15)).await;
        assert_eq!(b.polls().await, 0, "B polled a pairing A owns");

        // SIGTERM: A hands the pairing over as it stops, well before its lease would run out
        // (which, renewed every second, is at least 7 s after the signal).
        let told = Instant::now();
        let (stopped, adopted_after) = tokio::join!(a.terminate(), async {
            b.wait_for_polls(1, Duration::from_secs(10)).await;
            told.elapsed()
        });
        assert!(stopped.success(), "A stopped by SIGTERM exits 0: {stopped}");
        assert!(
            adopted_after < Duration::from_millis(3500),
            "B first polled {adopted_after:?} after A was told to stop: that is the lease \
             running out, not a hand-over"
        );

        approve(&waiting).await;
        let signed_in = events.wait_for("signed-in", Duration::from_secs(15)).await;
        assert_eq!(display_name(&signed_in), "Alice Liddell");
        assert_steady_waiting(&events.seen, &code);
        assert_no_slow_down(&idp).await;
    })
    .await;
}

#[tokio::test]
async fn a_restart_loses_neither_a_pairing_nor_a_sign_in() {
    within(90, async {
        let (idp, _dir, _redis, fleet) = fleet_for("restart").await;

        // A TV mid-pairing when its server dies.
        let mut first = Replica::start("first", &fleet).await;
        let tv = first.tv();
        tv.call("start").await;
        let waiting = tv.wait_for("waiting", Duration::from_secs(15)).await;
        let code = user_code(&waiting);
        first.wait_for_polls(1, Duration::from_secs(10)).await;
        first.kill().await;
        let killed = Instant::now();

        // A new process (same Redis, same STORE_KEY): the TV comes back to the same code.
        let mut second = Replica::start("second", &fleet).await;
        let tv = tv.on(&second.base);
        let back = tv.status().await;
        assert_eq!(back["state"], "waiting", "after a restart: {back}");
        assert_eq!(user_code(&back), code, "after a restart");
        let mut events = Events::open(&tv, STREAM).await;
        let current = events
            .next(Duration::from_secs(5))
            .await
            .expect("the push stream sends the current status first");
        assert_eq!(current["state"], "waiting", "{current}");
        assert_eq!(user_code(&current), code);

        // ...and can finish: the new process adopts the pairing and polls it.
        approve(&back).await;
        let left = Duration::from_secs(25).saturating_sub(killed.elapsed());
        let signed_in = events.wait_for("signed-in", left).await;
        assert_steady_waiting(&events.seen, &code);
        assert_eq!(display_name(&signed_in), "Alice Liddell");
        assert!(second.polls().await > 0, "the new process never polled");
        assert_no_slow_down(&idp).await;
        let profile = signed_in["profile"].clone();
        let access_token = alice_access_token(&idp).await;
        assert_eq!(userinfo(&idp.issuer, &access_token).await.0, 200);

        // Restart again, gracefully this time: still signed in, as the same person.
        drop(events);
        let stopped = second.terminate().await;
        assert!(stopped.success(), "stopped by SIGTERM: {stopped}");
        let third = Replica::start("third", &fleet).await;
        let tv = tv.on(&third.base);
        let after = tv.status().await;
        assert_eq!(
            after["state"], "signed-in",
            "after a second restart: {after}"
        );
        assert_eq!(after["profile"], profile);

        // Sign-out still works, and revokes the tokens kept across both restarts.
        let out = tv.call("sign_out").await;
        assert_eq!(out["state"], "idle", "sign_out: {out}");
        assert_eq!(tv.status().await["state"], "idle");
        assert_revoked_soon(&idp.issuer, &access_token).await;
    })
    .await;
}

/// Fails if any key's name or contents hold one of `secrets` in clear text.
fn assert_no_secret_stored(keys: &[StoredKey], secrets: &[(&str, &str)]) {
    for (what, secret) in secrets {
        assert!(
            secret.len() >= 16,
            "the {what} is too short to search for: {secret:?}"
        );
        for key in keys {
            assert!(
                !holds_in_clear(key.name.as_bytes(), secret),
                "the {what} is in the name of Redis key {}",
                key.name
            );
            assert!(
                !holds_in_clear(&key.contents, secret),
                "the {what} is in clear text in Redis key {} ({})",
                key.name,
                key.kind
            );
        }
    }
}

/// Keys expire: no plain value is kept forever (only small bookkeeping collections may be),
/// and every key of the TV's session has a time to live. The session's keys are those named
/// after its id, else (ids hashed, say) the values that appeared since `before`.
fn assert_keys_expire(keys: &[StoredKey], before: &[String], session: &str) {
    let summary = || {
        keys.iter()
            .map(|k| format!("{} ({}, PTTL {})", k.name, k.kind, k.pttl))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!keys.is_empty(), "Redis holds nothing");
    let forever: Vec<&str> = keys
        .iter()
        .filter(|k| k.pttl < 0 && k.kind == "string")
        .map(|k| k.name.as_str())
        .collect();
    assert!(
        forever.is_empty(),
        "values without an expiry: {forever:?}\nall keys:\n{}",
        summary()
    );
    let mut own: Vec<&StoredKey> = keys.iter().filter(|k| k.name.contains(session)).collect();
    if own.is_empty() {
        own = keys
            .iter()
            .filter(|k| !before.contains(&k.name) && matches!(k.kind.as_str(), "string" | "hash"))
            .collect();
    }
    assert!(
        !own.is_empty(),
        "no key for the TV's session {session}:\n{}",
        summary()
    );
    for key in own {
        assert!(
            key.pttl > 0,
            "the session's key {} ({}) does not expire\nall keys:\n{}",
            key.name,
            key.kind,
            summary()
        );
    }
}

/// The commands the test itself sends to read Redis.
const TEST_READS: &[&str] = &[
    "PING", "SCAN", "TYPE", "PTTL", "GET", "HGETALL", "LRANGE", "SMEMBERS", "ZRANGE", "XRANGE",
    "DUMP",
];

/// The command of one MONITOR line (`<time> [<db> <client>] "CMD" "arg" ...`).
fn command_name(line: &[u8]) -> Option<String> {
    let line = String::from_utf8_lossy(line);
    let (_, rest) = line.split_once("] \"")?;
    let (name, _) = rest.split_once('"')?;
    Some(name.to_owned())
}

#[tokio::test]
async fn device_codes_and_tokens_are_encrypted_in_redis_and_keys_expire() {
    within(90, async {
        let (idp, dir, redis, fleet) = fleet_for("encrypted_at_rest").await;
        // Every command Redis receives, values included, from before the app starts.
        let monitor = redis.monitor(&dir.join("redis-monitor.log")).await;
        let replica = Replica::start("only", &fleet).await;

        let tv = replica.tv();
        assert_eq!(tv.status().await["state"], "idle");
        let before = redis.keys().await;

        // Mid-pairing: the device code is in use (polled), so it is stored somewhere.
        tv.call("start").await;
        // The pairing lives under the session id that came with the start's answer.
        let session = tv.session_id().expect("a session cookie");
        let waiting = tv.wait_for("waiting", Duration::from_secs(15)).await;
        let code = user_code(&waiting);
        let device_code = provider_hook(
            &idp.issuer,
            &format!("/__test/device-code?user_code={code}"),
            "device_code",
        )
        .await;
        replica.wait_for_polls(1, Duration::from_secs(10)).await;
        let mid_pairing = redis.dump().await;
        assert_no_secret_stored(&mid_pairing, &[("device code", &device_code)]);
        assert_keys_expire(&mid_pairing, &before, &session);

        // Signed in: the tokens are stored.
        approve(&waiting).await;
        let signed_in = tv.wait_for("signed-in", Duration::from_secs(20)).await;
        assert_eq!(display_name(&signed_in), "Alice Liddell");
        let access_token = alice_access_token(&idp).await;
        let refresh_token = provider_hook(
            &idp.issuer,
            "/__test/last-refresh-token?sub=alice",
            "refresh_token",
        )
        .await;
        let secrets = [
            ("device code", device_code.as_str()),
            ("access token", access_token.as_str()),
            ("refresh token", refresh_token.as_str()),
        ];
        let with_tokens = redis.dump().await;
        assert_no_secret_stored(&with_tokens, &secrets);
        assert_keys_expire(&with_tokens, &before, &session);

        // Nor did any secret travel to Redis in clear text in any command, even briefly.
        let commands = monitor.stop().await;
        let lines = commands.split(|b| *b == b'\n').count();
        let from_the_app = commands
            .split(|b| *b == b'\n')
            .filter_map(command_name)
            .filter(|name| !TEST_READS.contains(&name.to_ascii_uppercase().as_str()))
            .count();
        assert!(
            from_the_app > 5,
            "MONITOR saw almost nothing but the test's own reads ({from_the_app} other \
             commands): is the app using this Redis?"
        );
        for (what, secret) in secrets {
            let found: Vec<String> = commands
                .split(|b| *b == b'\n')
                .filter(|line| holds_in_clear(line, secret))
                .take(3)
                .map(|line| String::from_utf8_lossy(line).into_owned())
                .collect();
            assert!(
                found.is_empty(),
                "the {what} was sent to Redis in clear text:\n{}",
                found.join("\n")
            );
        }
        eprintln!(
            "searched {} keys and {lines} commands",
            with_tokens.len() + mid_pairing.len()
        );
    })
    .await;
}

/// Runs the binary in `dir` with these settings (plus a provider and an address of its own,
/// where nothing listens) until it stops by itself: (exit success, exit code, stderr).
async fn run_to_end(
    dir: &std::path::Path,
    settings: &[(&str, &str)],
    limit: Duration,
) -> (bool, Option<i32>, String) {
    let mut command = binary(dir);
    command
        .env("ISSUER", format!("http://127.0.0.1:{}", free_port()))
        .env("CLIENT_ID", "tv-public")
        .env("LISTEN_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in settings {
        command.env(key, value);
    }
    let output = tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{settings:?}: still running after {limit:?}"))
        .expect("run the binary");
    (
        output.status.success(),
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn replicas_share_a_redis_that_speaks_only_tls_and_check_its_certificate() {
    within(120, async {
        let idp = provider().await;
        let dir = work_dir(module_path!(), "tls_redis");
        let tls = TlsFiles::generate(&dir, "redis");
        let redis = Redis::start_tls(&dir, &tls).await;
        assert!(redis.url.starts_with("rediss://"), "{}", redis.url);
        let fleet = FleetSettings::new(&idp.issuer, &redis, &dir);
        let (a, b) = tokio::join!(Replica::start("a", &fleet), Replica::start("b", &fleet));

        // The stream is on A and the start on B: every change crosses Redis, over TLS only.
        let tv_a = a.tv();
        assert_eq!(tv_a.status().await["state"], "idle");
        assert!(tv_a.cookie().is_some(), "A set no session cookie");
        let mut events = Events::open(&tv_a, STREAM).await;
        events.wait_for("idle", Duration::from_secs(5)).await;
        let tv_b = tv_a.on(&b.base);
        let started = tv_b.call("start").await;
        assert!(
            matches!(started["state"].as_str(), Some("starting" | "waiting")),
            "start on B: {started}"
        );
        let waiting = events.wait_for("waiting", Duration::from_secs(15)).await;
        approve(&waiting).await;
        let signed_in = events.wait_for("signed-in", Duration::from_secs(20)).await;
        assert_eq!(display_name(&signed_in), "Alice Liddell");
        let sessions: Vec<String> = redis
            .keys()
            .await
            .into_iter()
            .filter(|k| k.starts_with("tvsignin:s:"))
            .collect();
        assert_eq!(
            sessions.len(),
            1,
            "one session in the TLS server: {sessions:?}"
        );

        // Start-up stops, naming REDIS_URL, when the server's certificate can't be trusted or
        // the client would talk plain text to a TLS port. ("cert": an untrusted certificate,
        // or a system store that could not be read.)
        let key = store_key();
        let other = TlsFiles::generate(&dir, "other");
        let other_ca = other.ca.to_string_lossy().into_owned();
        let plain = redis.url.replacen("rediss://", "redis://", 1);
        let (tls_url, other_ca, plain) = (redis.url.as_str(), other_ca.as_str(), plain.as_str());
        let cases = [
            (
                "a CA that did not sign the server's certificate",
                vec![("REDIS_URL", tls_url), ("REDIS_CA_FILE", other_ca)],
                "cert",
            ),
            (
                "the system's CAs, which do not know the test CA",
                vec![("REDIS_URL", tls_url)],
                "cert",
            ),
            (
                "redis:// to a port that speaks TLS",
                vec![("REDIS_URL", plain)],
                "rediss://",
            ),
        ];
        for (what, mut settings, says) in cases {
            settings.push(("STORE_KEY", key.as_str()));
            let (success, code, stderr) =
                run_to_end(&dir, &settings, Duration::from_secs(20)).await;
            assert!(!success, "{what}: exit {code:?}\n{stderr}");
            let line = stderr
                .lines()
                .find(|l| l.contains("cannot use the session store at REDIS_URL"))
                .unwrap_or_else(|| panic!("{what}: REDIS_URL not named:\n{stderr}"));
            assert!(line.contains(says), "{what}: `{says}` not in: {line}");
            assert!(!stderr.contains(&key), "{what}: STORE_KEY is in the output");
        }
    })
    .await;
}

#[tokio::test]
async fn a_new_store_key_with_the_old_one_as_previous_signs_nobody_out() {
    within(90, async {
        let (idp, _dir, _redis, before) = fleet_for("key_rotation").await;

        // Alice signs in while the fleet uses the old key.
        let mut first = Replica::start("first", &before).await;
        let tv = first.tv();
        tv.call("start").await;
        let waiting = tv.wait_for("waiting", Duration::from_secs(15)).await;
        approve(&waiting).await;
        let signed_in = tv.wait_for("signed-in", Duration::from_secs(20)).await;
        let access_token = alice_access_token(&idp).await;
        assert!(first.terminate().await.success());

        // A new key, the old one kept as previous: still signed in, as the same person.
        let rotating = FleetSettings {
            store_key: store_key(),
            store_key_previous: Some(before.store_key.clone()),
            ..before.clone()
        };
        let mut second = Replica::start("second", &rotating).await;
        let tv = tv.on(&second.base);
        let after = tv.status().await;
        assert_eq!(after["state"], "signed-in", "after the rotation: {after}");
        assert_eq!(after["profile"], signed_in["profile"]);
        // A key press writes the session, sealed with the new key from now on.
        assert_eq!(tv.call("activity").await["state"], "signed-in");
        assert!(second.terminate().await.success());

        // The old key dropped: the session opens with the new key alone, and sign-out still
        // revokes the tokens sealed under the old one.
        let rotated = FleetSettings {
            store_key_previous: None,
            ..rotating
        };
        let third = Replica::start("third", &rotated).await;
        let tv = tv.on(&third.base);
        let now = tv.status().await;
        assert_eq!(now["state"], "signed-in", "with the new key alone: {now}");
        assert_eq!(userinfo(&idp.issuer, &access_token).await.0, 200);
        assert_eq!(tv.call("sign_out").await["state"], "idle");
        assert_revoked_soon(&idp.issuer, &access_token).await;
    })
    .await;
}

#[tokio::test]
async fn a_session_sealed_with_a_key_no_replica_has_starts_over() {
    within(60, async {
        let (_idp, _dir, _redis, old) = fleet_for("unknown_key").await;
        let mut first = Replica::start("first", &old).await;
        let tv = first.tv();
        tv.call("start").await;
        let waiting = tv.wait_for("waiting", Duration::from_secs(15)).await;
        assert!(first.terminate().await.success());

        // A new key and no STORE_KEY_PREVIOUS: the TV is back at Home, not shown errors...
        let new = FleetSettings {
            store_key: store_key(),
            ..old
        };
        let second = Replica::start("second", &new).await;
        let tv = tv.on(&second.base);
        assert_eq!(tv.status().await["state"], "idle");
        // ...and can pair again, with a new code.
        tv.call("start").await;
        let again = tv.wait_for("waiting", Duration::from_secs(15)).await;
        assert_ne!(user_code(&again), user_code(&waiting));
        assert!(
            second.log().contains("a stored session cannot be read"),
            "not logged:\n{}",
            second.log()
        );
    })
    .await;
}

/// A bad configuration: what is wrong, its settings, and the key the error must name.
type BadSettings<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn bad_fleet_settings_stop_start_up_naming_the_key() {
    within(90, async {
        let key = store_key();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let (short, long) = (b64(&[7; 16]), b64(&[7; 48]));
        // Nothing listens there, but no case gets as far as connecting.
        let redis_url = format!("redis://127.0.0.1:{}/", free_port());
        let cases: [BadSettings; 8] = [
            (
                "REDIS_URL without STORE_KEY",
                &[("REDIS_URL", &redis_url)],
                "STORE_KEY",
            ),
            (
                "STORE_KEY not base64",
                &[
                    ("REDIS_URL", &redis_url),
                    ("STORE_KEY", "not base64 at all!"),
                ],
                "STORE_KEY",
            ),
            (
                "STORE_KEY of 16 bytes",
                &[("REDIS_URL", &redis_url), ("STORE_KEY", &short)],
                "STORE_KEY",
            ),
            (
                "STORE_KEY of 48 bytes",
                &[("REDIS_URL", &redis_url), ("STORE_KEY", &long)],
                "STORE_KEY",
            ),
            (
                "REDIS_URL with an http scheme",
                &[("REDIS_URL", "http://127.0.0.1:6379/"), ("STORE_KEY", &key)],
                "REDIS_URL",
            ),
            (
                "REDIS_URL not a URL",
                &[("REDIS_URL", "127.0.0.1:6379"), ("STORE_KEY", &key)],
                "REDIS_URL",
            ),
            (
                "REDIS_URL turning certificate checks off",
                &[
                    ("REDIS_URL", "rediss://127.0.0.1:6379/#insecure"),
                    ("STORE_KEY", &key),
                ],
                "REDIS_URL",
            ),
            (
                "REDIS_CA_FILE that is missing",
                &[
                    ("REDIS_URL", "rediss://127.0.0.1:6379/"),
                    ("REDIS_CA_FILE", "/nonexistent/ca.pem"),
                    ("STORE_KEY", &key),
                ],
                "REDIS_CA_FILE",
            ),
        ];
        let dir = work_dir(module_path!(), "bad_settings");
        for (what, settings, named) in cases {
            let (success, code, stderr) = run_to_end(&dir, settings, Duration::from_secs(20)).await;
            assert!(!success, "{what}: exit {code:?}\n{stderr}");
            assert!(
                stderr
                    .lines()
                    .any(|line| line.contains(&format!("bad setting {named}:"))),
                "{what}: no `bad setting {named}:` line on stderr:\n{stderr}"
            );
            assert!(!stderr.contains(&key), "{what}: STORE_KEY is in the output");
        }
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_redis_stops_start_up_naming_redis_url() {
    within(60, async {
        let key = store_key();
        let redis_url = format!("redis://127.0.0.1:{}/", free_port());
        let started = Instant::now();
        let (success, code, stderr) = run_to_end(
            &work_dir(module_path!(), "unreachable_redis"),
            &[("REDIS_URL", &redis_url), ("STORE_KEY", &key)],
            Duration::from_secs(20),
        )
        .await;
        eprintln!("stopped after {:?}", started.elapsed());
        assert!(!success, "exit {code:?}\n{stderr}");
        assert!(
            stderr.contains("REDIS_URL"),
            "REDIS_URL not named:\n{stderr}"
        );
        assert!(!stderr.contains(&key), "STORE_KEY is in the output");
    })
    .await;
}

/// The local provider with a slow token endpoint: every poll and refresh is held `delay`
/// before it is answered (and still counted as in flight if its client went away
/// meanwhile), and the provider counts polls of one device code that arrive while another
/// is in flight. `more` adds settings.
async fn slow_provider(delay: Duration, more: &[(&str, &str)]) -> LocalIdp {
    let delay_ms = delay.as_millis().to_string();
    let mut settings = vec![
        ("IDP_INTERVAL", "1"),
        ("IDP_SLOW_DOWN", "1"),
        ("IDP_TOKEN_DELAY_MS", delay_ms.as_str()),
    ];
    settings.extend_from_slice(more);
    LocalIdp::start(&settings).await
}

/// Waits until the provider's count `name` reaches `at_least` (at most `limit`).
async fn provider_count_reaches(idp: &LocalIdp, name: &str, at_least: u64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let count = provider_stat(&idp.issuer, name).await;
        if count >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} at the provider is {count}, not {at_least}, after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the provider has received more than `after` polls; returns the new count.
async fn next_poll_arrives(idp: &LocalIdp, after: u64, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    loop {
        let polls = provider_stat(&idp.issuer, "polls").await;
        if polls > after {
            return polls;
        }
        assert!(
            Instant::now() < deadline,
            "no new poll reached the provider within {limit:?} (still {polls})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no poll is being answered at the provider (at most `limit`).
async fn no_poll_in_flight(idp: &LocalIdp, limit: Duration) {
    let deadline = Instant::now() + limit;
    while provider_stat(&idp.issuer, "polls_in_flight").await > 0 {
        assert!(
            Instant::now() < deadline,
            "a poll was still being answered after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_no_overlap(idp: &LocalIdp, when: &str) {
    assert_eq!(
        overlapping_polls(&idp.issuer).await,
        0,
        "{when}: the device code was polled while another poll of it was still at the provider"
    );
}

#[tokio::test]
async fn a_device_code_is_never_polled_twice_at_once_across_a_hand_over_or_a_take_over() {
    within(150, async {
        // Each poll takes 9 s at the provider, longer than a take-over used to take.
        const DELAY: Duration = Duration::from_secs(9);
        let idp = slow_provider(DELAY, &[]).await;
        let dir = work_dir(module_path!(), "no_overlapping_polls");
        let redis = Redis::start(&dir).await;
        let mut fleet = FleetSettings::new(&idp.issuer, &redis, &dir);
        // The replicas wait up to 11 s for a provider answer, so a 9 s poll succeeds.
        fleet.http_timeout_secs = 11;
        let (mut a, b, c) = tokio::join!(
            Replica::start("a", &fleet),
            Replica::start("b", &fleet),
            Replica::start("c", &fleet)
        );
        let tv = a.tv();
        assert_eq!(tv.status().await["state"], "idle");
        tv.call("start").await;
        // The TV watches on B and on C (whichever dies, it is still watching), under the id
        // Sign in moved it to.
        let _watching = (
            Events::open(&tv.on(&b.base), STREAM).await,
            Events::open(&tv.on(&c.base), STREAM).await,
        );
        let waiting = tv.wait_for("waiting", Duration::from_secs(15)).await;

        // A is told to stop while its poll is at the provider. It hands the pairing over
        // only once that poll has been answered: the adopter's first poll never overlaps it.
        let polls = next_poll_arrives(&idp, 0, Duration::from_secs(10)).await;
        let told = Instant::now();
        assert!(
            a.terminate().await.success(),
            "A stopped by SIGTERM exits 0"
        );
        let polls = next_poll_arrives(&idp, polls, DELAY + Duration::from_secs(10)).await;
        let handed_over = told.elapsed();
        eprintln!("the adopter's first poll came {handed_over:?} after A was told to stop");
        assert_no_overlap(&idp, "hand-over on SIGTERM").await;
        assert!(
            handed_over < DELAY + Duration::from_secs(4),
            "the pairing went on only {handed_over:?} after A was told to stop: that is its \
             lease running out, not a hand-over once its poll was answered"
        );

        // The adopter dies (SIGKILL) with its first poll at the provider. The survivor
        // takes over when the dead one's lease runs out, which outlasts any request.
        let adopted = |replica: &Replica| {
            replica
                .log()
                .contains("adopted sessions from a replica that stopped")
        };
        assert!(
            adopted(&b) != adopted(&c),
            "exactly one of B and C adopts the pairing (B: {}, C: {})",
            adopted(&b),
            adopted(&c)
        );
        let (mut owner, survivor) = if adopted(&b) { (b, c) } else { (c, b) };
        owner.kill().await;
        let killed = Instant::now();
        let lease = fleet.lease();
        next_poll_arrives(&idp, polls, lease + Duration::from_secs(10)).await;
        let taken_over = killed.elapsed();
        eprintln!("the survivor's first poll came {taken_over:?} after the owner died");
        assert_no_overlap(&idp, "take-over after SIGKILL").await;

        // The dead owner's poll is over, so it cannot redeem the code: the person approves,
        // and the survivor signs the TV in.
        no_poll_in_flight(&idp, DELAY + Duration::from_secs(2)).await;
        approve(&waiting).await;
        let tv = tv.on(&survivor.base);
        let signed_in = tv
            .wait_for("signed-in", DELAY * 2 + Duration::from_secs(10))
            .await;
        assert_eq!(display_name(&signed_in), "Alice Liddell");
        assert_no_overlap(&idp, "signing in").await;
        assert_no_slow_down(&idp).await;
    })
    .await;
}

/// A forged status a TV must never show: signed in as someone who never signed in here.
fn mallory() -> Value {
    serde_json::json!({
        "state": "signed-in",
        "profile": {"display_name": "Mallory", "claims": []},
        "sign_out_at_ms": 4_000_000_000_000u64,
        "warn_secs": 60,
    })
}

#[tokio::test]
async fn records_and_change_messages_that_redis_did_not_get_from_a_replica_are_refused() {
    within(90, async {
        let (_idp, _dir, redis, fleet) = fleet_for("tampered_redis").await;
        let replica = Replica::start("only", &fleet).await;
        let tv = replica.tv();
        assert_eq!(tv.status().await["state"], "idle");
        let session = tv.session_id().expect("a session cookie");
        let mut events = Events::open(&tv, STREAM).await;
        events.wait_for("idle", Duration::from_secs(5)).await;

        // Someone who can write to Redis, but has no STORE_KEY, announces a change: the TV
        // signed in as Mallory. No replica believes it.
        for (version, generation) in [(1, 0), (1000, 1)] {
            let message = format!("{version}|{session}|{generation}|{}", mallory());
            redis
                .cli(&["PUBLISH", "tvsignin:changes", &message])
                .await;
        }
        // And that the TV's session id was retired (moved on), which would end its stream.
        redis
            .cli(&["PUBLISH", "tvsignin:changes", &format!("retired|{session}")])
            .await;
        let heard = events.next(Duration::from_secs(2)).await;
        assert!(
            heard.is_none(),
            "a forged change message reached the TV's push stream: {heard:?}"
        );
        assert_eq!(
            events.reopened, 0,
            "a forged retire message ended the TV's push stream"
        );
        // Real changes still arrive.
        tv.call("start").await;
        events.wait_for("waiting", Duration::from_secs(15)).await;
        // Sign in moved the session to a new id (against session fixation): its key now.
        let session = tv.session_id().expect("a session cookie");
        let key = format!("tvsignin:s:{session}");
        assert!(
            !events.seen.iter().any(|s| s.to_string().contains("Mallory")),
            "{:?}",
            events.seen
        );

        // The record of the code, put back after the TV went back to Home under the same id
        // (a replay of an older version): not believed, the TV starts over. (New code would
        // move the session to another id; Cancel keeps it.)
        let first_record = redis.cli_text(&["HGET", &key, "d"]).await;
        assert!(!first_record.is_empty(), "no record at {key}");
        tv.call("cancel").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let status = tv.status().await;
            if status["state"] == "idle" {
                break;
            }
            assert!(Instant::now() < deadline, "not back at Home: {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(tv.session_id().as_deref(), Some(session.as_str()));
        redis.cli(&["HSET", &key, "d", &first_record]).await;
        let replayed = tv.status().await;
        assert_eq!(
            replayed["state"], "idle",
            "a record replayed at a later version was believed: {replayed}"
        );

        // A record written by hand: a code of the intruder's and a QR "drawing" that is
        // markup of theirs. Not believed, and nothing of it reaches the TV's page.
        let planted = r#"<svg><foreignObject><img src="x" id="planted-in-redis" onerror="alert(1)"></foreignObject></svg>"#;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let forged = serde_json::json!({
            "generation": 50,
            "status": {"state": "waiting", "pairing": {
                "user_code": "EVIL-CODE",
                "verification_uri": "https://intruder.example/device",
                "verification_uri_complete": null,
                "qr_svg": planted,
                "expires_at_ms": now_ms + 600_000,
                "interval_secs": 5,
            }},
        });
        redis
            .cli(&["HSET", &key, "d", &forged.to_string()])
            .await;
        let page = tv.page().await;
        assert!(
            !page.contains("planted-in-redis"),
            "markup stored in Redis reached the TV's page"
        );
        assert!(
            !page.contains("EVIL-CODE"),
            "a record written into Redis by hand was believed"
        );
        let status = tv.status().await;
        assert_eq!(status["state"], "idle", "a forged record: {status}");
        assert!(
            replica.log().contains("a stored session cannot be read"),
            "not logged:\n{}",
            replica.log()
        );
    })
    .await;
}

#[tokio::test]
async fn a_refresh_under_way_when_its_replica_stops_is_stored_before_the_hand_over() {
    within(150, async {
        // Access tokens live 20 s, so the owner refreshes 10 s after the sign-in; every
        // refresh takes 6 s at the provider, whose public client rotates refresh tokens (a
        // used one presented again revokes the whole grant).
        const DELAY: Duration = Duration::from_secs(6);
        let idp = slow_provider(DELAY, &[("IDP_ACCESS_TOKEN_TTL", "20")]).await;
        let dir = work_dir(module_path!(), "refresh_hand_over");
        let redis = Redis::start(&dir).await;
        let mut fleet = FleetSettings::new(&idp.issuer, &redis, &dir);
        fleet.http_timeout_secs = 8;
        let (mut a, b) = tokio::join!(Replica::start("a", &fleet), Replica::start("b", &fleet));
        let tv = a.tv();
        assert_eq!(tv.status().await["state"], "idle");
        tv.call("start").await;
        let waiting = tv.wait_for("waiting", Duration::from_secs(15)).await;
        approve(&waiting).await;
        tv.wait_for("signed-in", Duration::from_secs(30)).await;

        // A is told to stop while its refresh is at the provider: it stores the rotated
        // refresh token before B takes the session over.
        provider_count_reaches(&idp, "refreshes", 1, Duration::from_secs(20)).await;
        assert!(
            a.terminate().await.success(),
            "A stopped by SIGTERM exits 0"
        );

        // B refreshes in its turn, with the token A stored: the grant lives on.
        provider_count_reaches(&idp, "refreshes", 2, Duration::from_secs(30)).await;
        let deadline = Instant::now() + DELAY + Duration::from_secs(3);
        while provider_stat(&idp.issuer, "refreshes_in_flight").await > 0 {
            assert!(Instant::now() < deadline, "B's refresh never ended");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let access_token = alice_access_token(&idp).await;
        assert_eq!(
            userinfo(&idp.issuer, &access_token).await.0,
            200,
            "the newest access token is dead: a used refresh token was sent again, and \
             the provider revoked the grant"
        );
        let tv = tv.on(&b.base);
        assert_eq!(tv.status().await["state"], "signed-in");
        assert_eq!(tv.call("sign_out").await["state"], "idle");
        assert_revoked_soon(&idp.issuer, &access_token).await;
    })
    .await;
}

#[tokio::test]
async fn a_replica_whose_sessions_were_adopted_can_no_longer_write_them() {
    use tvsignin::pairing::store::redis::RedisStore;
    use tvsignin::pairing::store::{Lease, Saved, SessionRecord, SessionStore, Write};
    use tvsignin::seal::StoreKey;
    use tvsignin::server::session::SessionId;
    use tvsignin::settings::RedisSettings;

    within(30, async {
        let dir = work_dir(module_path!(), "fencing");
        let redis = Redis::start(&dir).await;
        let settings = RedisSettings {
            url: url::Url::parse(&redis.url).expect("the Redis URL"),
            ca_pem: None,
            key: StoreKey::from_base64(&store_key())
                .expect("a store key")
                .into(),
        };
        let shutdown = tokio_util::sync::CancellationToken::new();
        let connect = || async {
            RedisStore::connect(&settings, shutdown.clone())
                .await
                .expect("connect to Redis")
        };
        let (a, b) = (connect().await, connect().await);
        a.heartbeat().await.expect("A's first heartbeat");
        let id = SessionId::generate();
        let record = SessionRecord::default();
        let write = |expected, lease, fence| Write {
            expected,
            record: &record,
            ttl: Duration::from_secs(60),
            lease,
            fence,
        };

        // A starts a pairing: it owns the session, and its task writes under that epoch.
        let Saved::Written { epoch, .. } = a.save(&id, write(0, Lease::Claim, None)).await.unwrap()
        else {
            panic!("A's claim was not written");
        };
        let saved = a
            .save(&id, write(1, Lease::Keep, Some(epoch)))
            .await
            .unwrap();
        assert!(
            matches!(saved, Saved::Written { version: 2, .. }),
            "{saved:?}"
        );

        // A's lease runs out in Redis (A is paused, or cut off from Redis) and B adopts.
        let leases = redis
            .cli_text(&["--scan", "--pattern", "tvsignin:replica:*"])
            .await;
        assert_eq!(leases.lines().count(), 1, "only A has a lease: {leases}");
        redis.cli(&["DEL", &leases]).await;
        let beat = b.heartbeat().await.expect("B's heartbeat");
        assert_eq!(beat.adopted.len(), 1, "{beat:?}");
        let (adopted, adopted_epoch) = beat.adopted[0].clone();
        assert_eq!(adopted, id);
        assert_ne!(adopted_epoch, epoch);

        // A has not noticed yet (its lease still looks valid to it), but none of its
        // task's writes lands any more, even one that read the latest version.
        assert!(a.lease_valid(), "A's own view of its lease");
        for lease in [Lease::Keep, Lease::Release] {
            assert_eq!(
                a.save(&id, write(2, lease, Some(epoch))).await.unwrap(),
                Saved::Fenced,
                "A's task wrote a session B adopted ({lease:?})"
            );
        }
        // B's task writes; a write made for a request (a key press that reached A) still
        // lands, whoever runs the task.
        let saved = b
            .save(&id, write(2, Lease::Keep, Some(adopted_epoch)))
            .await
            .unwrap();
        assert!(
            matches!(saved, Saved::Written { version: 3, .. }),
            "{saved:?}"
        );
        let saved = a.save(&id, write(3, Lease::Keep, None)).await.unwrap();
        assert!(
            matches!(saved, Saved::Written { version: 4, .. }),
            "{saved:?}"
        );
        shutdown.cancel();
    })
    .await;
}
