//! The RFC 8628 polling rules (§3.4-3.5), in one place.
//!
//! [`poll_step`] is a pure function: given what the last poll returned and the time, it says
//! whether to poll again and after how long, or to stop and why. [`before_poll`] refuses to
//! poll past the code's deadline. [`run_polling`] drives them with an injected [`Timer`], so
//! tests run the whole loop without sleeping for real.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::error::{ErrorCode, ProviderError};

/// `slow_down` adds this to the interval for this and every later request (§3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Network trouble backs off exponentially up to this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the polling loop carries between polls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollState {
    /// The current interval: the provider's, plus 5 s per `slow_down`.
    pub interval: Duration,
    /// The current back-off after network trouble, if in trouble.
    pub backoff: Option<Duration>,
    /// When the device code expires (`expires_in` from when it was issued).
    pub deadline: Instant,
}

impl PollState {
    pub fn new(interval: Duration, issued_at: Instant, expires_in: Duration) -> Self {
        Self {
            interval,
            backoff: None,
            deadline: issued_at + expires_in,
        }
    }
}

/// What one poll of the token endpoint gave, reduced to what the rules need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollResponse {
    /// Tokens arrived.
    Tokens,
    /// The provider answered with this OAuth error (whatever the HTTP status).
    Error(ErrorCode),
    /// No usable answer: transport error, timeout, 5xx without an error, malformed body.
    Trouble,
}

/// What a failed poll means to the rules: the provider's OAuth error as it is; network
/// trouble, an overload or an answer too large to read are trouble to back off from; any
/// other unusable answer ends polling (named by [`ProviderError::kind`]).
pub fn response_to(error: &ProviderError) -> PollResponse {
    match error {
        ProviderError::OAuth(e) => PollResponse::Error(e.code.clone()),
        e if e.is_transient() || matches!(e, ProviderError::TooLarge { .. }) => {
            PollResponse::Trouble
        }
        e => PollResponse::Error(ErrorCode::Other(e.kind().to_owned())),
    }
}

/// Logs a failed poll that the provider did not answer with an OAuth error (those are
/// its answers, not trouble), in the words of [`response_to`]'s split.
pub fn log_poll_error(error: &ProviderError, response: &PollResponse) {
    match (error, response) {
        (ProviderError::OAuth(_), _) => {}
        (_, PollResponse::Trouble) => {
            tracing::warn!(%error, "token endpoint trouble; backing off")
        }
        _ => tracing::warn!(%error, "token endpoint gave an unusable answer"),
    }
}

/// Why polling ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollEnd {
    Approved,
    Denied,
    Expired,
    /// Any other error: the pairing cannot go on.
    Rejected(ErrorCode),
}

/// What to do after a poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollDecision {
    /// Wait this long, then poll again.
    PollAfter(Duration),
    Stop(PollEnd),
}

/// The rules. Tokens end polling at once (a redeemed code must never be polled again: some
/// providers then revoke the whole grant).
pub fn poll_step(state: &mut PollState, response: &PollResponse, now: Instant) -> PollDecision {
    match response {
        PollResponse::Tokens => PollDecision::Stop(PollEnd::Approved),
        PollResponse::Error(ErrorCode::AccessDenied) => PollDecision::Stop(PollEnd::Denied),
        PollResponse::Error(ErrorCode::ExpiredToken) => PollDecision::Stop(PollEnd::Expired),
        _ if now >= state.deadline => PollDecision::Stop(PollEnd::Expired),
        PollResponse::Error(ErrorCode::AuthorizationPending) => {
            state.backoff = None;
            PollDecision::PollAfter(state.interval)
        }
        PollResponse::Error(ErrorCode::SlowDown) => {
            state.backoff = None;
            state.interval += SLOW_DOWN_STEP;
            PollDecision::PollAfter(state.interval)
        }
        PollResponse::Error(other) => PollDecision::Stop(PollEnd::Rejected(other.clone())),
        PollResponse::Trouble => {
            let next = match state.backoff {
                None => state.interval * 2,
                Some(b) => b * 2,
            };
            let next = next.min(MAX_BACKOFF.max(state.interval));
            state.backoff = Some(next);
            PollDecision::PollAfter(next)
        }
    }
}

/// Checked before each poll: past the deadline the code is expired, without asking.
pub fn before_poll(state: &PollState, now: Instant) -> Option<PollEnd> {
    (now >= state.deadline).then_some(PollEnd::Expired)
}

/// Time and sleep, injected so the loop can be tested without waiting.
pub trait Timer: Send + Sync {
    fn now(&self) -> Instant;
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Tokio's clock: the real one, or, in a test that pauses tokio's time, its virtual one.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A virtual clock, for tests: sleeping advances it at once and records the wait, so the loop
/// runs (against a real provider, even) without sleeping for real.
#[derive(Debug)]
pub struct VirtualTimer {
    start: Instant,
    elapsed: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
}

impl VirtualTimer {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    /// Every wait asked for so far, in whole seconds.
    pub fn sleeps(&self) -> Vec<u64> {
        let sleeps = self.sleeps.lock().unwrap_or_else(|e| e.into_inner());
        sleeps.iter().map(Duration::as_secs).collect()
    }
}

impl Default for VirtualTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl Timer for VirtualTimer {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        *self.elapsed.lock().unwrap_or_else(|e| e.into_inner()) += duration;
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(duration);
        Box::pin(async {})
    }
}

/// Progress the loop reports while it runs (the TV shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollProgress {
    /// The provider answered; waiting for the person.
    Pending { interval: Duration },
    /// The provider could not be reached or answered nonsense; retrying after `retry_in`.
    Trouble { retry_in: Duration },
}

/// How the loop ended.
#[derive(Debug)]
pub enum PollOutcome<T> {
    Approved(T),
    Denied,
    Expired,
    Rejected(ErrorCode),
    Cancelled,
}

/// Polls until the rules say stop or `cancel` fires. `poll` performs one request and returns
/// the tokens or what went wrong; `progress` is told about every step. The first poll waits
/// one interval, as §3.4 asks.
pub async fn run_polling<T, F, Fut>(
    mut state: PollState,
    timer: &dyn Timer,
    cancel: &CancellationToken,
    mut poll: F,
    mut progress: impl FnMut(PollProgress),
) -> PollOutcome<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PollResponse>>,
{
    let mut wait = state.interval;
    loop {
        // Never sleep past the deadline: the TV should learn of the expiry when it happens.
        let left = state.deadline.saturating_duration_since(timer.now());
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return PollOutcome::Cancelled,
            _ = timer.sleep(wait.min(left)) => {}
        }
        if let Some(PollEnd::Expired) = before_poll(&state, timer.now()) {
            return PollOutcome::Expired;
        }
        let (response, tokens) = tokio::select! {
            biased;
            _ = cancel.cancelled() => return PollOutcome::Cancelled,
            result = poll() => match result {
                Ok(tokens) => (PollResponse::Tokens, Some(tokens)),
                Err(response) => (response, None),
            },
        };
        match poll_step(&mut state, &response, timer.now()) {
            PollDecision::PollAfter(next) => {
                wait = next;
                progress(if response == PollResponse::Trouble {
                    PollProgress::Trouble { retry_in: next }
                } else {
                    PollProgress::Pending {
                        interval: state.interval,
                    }
                });
            }
            PollDecision::Stop(PollEnd::Approved) => match tokens {
                Some(tokens) => return PollOutcome::Approved(tokens),
                None => return PollOutcome::Rejected(ErrorCode::Other("no tokens".into())),
            },
            PollDecision::Stop(PollEnd::Denied) => return PollOutcome::Denied,
            PollDecision::Stop(PollEnd::Expired) => return PollOutcome::Expired,
            PollDecision::Stop(PollEnd::Rejected(code)) => return PollOutcome::Rejected(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    struct Row {
        name: &'static str,
        interval: u64,
        backoff: Option<u64>,
        /// Seconds left before the deadline when the response arrives (negative: past it).
        left: i64,
        response: PollResponse,
        expect: PollDecision,
        expect_interval: u64,
        expect_backoff: Option<u64>,
    }

    fn err(code: &str) -> PollResponse {
        PollResponse::Error(ErrorCode::parse(code))
    }

    #[test]
    fn poll_step_table() {
        use PollDecision::*;
        let rows = [
            Row {
                name: "pending waits one interval",
                interval: 5,
                backoff: None,
                left: 100,
                response: err("authorization_pending"),
                expect: PollAfter(S(5)),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "slow_down adds 5 s",
                interval: 5,
                backoff: None,
                left: 100,
                response: err("slow_down"),
                expect: PollAfter(S(10)),
                expect_interval: 10,
                expect_backoff: None,
            },
            Row {
                name: "second slow_down adds 5 s more",
                interval: 10,
                backoff: None,
                left: 100,
                response: err("slow_down"),
                expect: PollAfter(S(15)),
                expect_interval: 15,
                expect_backoff: None,
            },
            Row {
                name: "pending after slow_down keeps the longer interval",
                interval: 15,
                backoff: None,
                left: 100,
                response: err("authorization_pending"),
                expect: PollAfter(S(15)),
                expect_interval: 15,
                expect_backoff: None,
            },
            Row {
                name: "tokens stop at once",
                interval: 5,
                backoff: None,
                left: 100,
                response: PollResponse::Tokens,
                expect: Stop(PollEnd::Approved),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "tokens win even at the deadline",
                interval: 5,
                backoff: None,
                left: -1,
                response: PollResponse::Tokens,
                expect: Stop(PollEnd::Approved),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "access_denied stops",
                interval: 5,
                backoff: None,
                left: 100,
                response: err("access_denied"),
                expect: Stop(PollEnd::Denied),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "expired_token stops",
                interval: 5,
                backoff: None,
                left: 100,
                response: err("expired_token"),
                expect: Stop(PollEnd::Expired),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "invalid_grant stops",
                interval: 5,
                backoff: None,
                left: 100,
                response: err("invalid_grant"),
                expect: Stop(PollEnd::Rejected(ErrorCode::InvalidGrant)),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "invalid_client stops",
                interval: 5,
                backoff: None,
                left: 100,
                response: err("invalid_client"),
                expect: Stop(PollEnd::Rejected(ErrorCode::InvalidClient)),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "an unknown error stops",
                interval: 5,
                backoff: None,
                left: 100,
                response: err("made_up_error"),
                expect: Stop(PollEnd::Rejected(ErrorCode::Other("made_up_error".into()))),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "first trouble doubles the interval",
                interval: 5,
                backoff: None,
                left: 100,
                response: PollResponse::Trouble,
                expect: PollAfter(S(10)),
                expect_interval: 5,
                expect_backoff: Some(10),
            },
            Row {
                name: "more trouble doubles again",
                interval: 5,
                backoff: Some(10),
                left: 100,
                response: PollResponse::Trouble,
                expect: PollAfter(S(20)),
                expect_interval: 5,
                expect_backoff: Some(20),
            },
            Row {
                name: "trouble back-off is capped",
                interval: 5,
                backoff: Some(40),
                left: 1000,
                response: PollResponse::Trouble,
                expect: PollAfter(S(60)),
                expect_interval: 5,
                expect_backoff: Some(60),
            },
            Row {
                name: "recovery resets the back-off",
                interval: 5,
                backoff: Some(40),
                left: 100,
                response: err("authorization_pending"),
                expect: PollAfter(S(5)),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "pending past the deadline is expired",
                interval: 5,
                backoff: None,
                left: 0,
                response: err("authorization_pending"),
                expect: Stop(PollEnd::Expired),
                expect_interval: 5,
                expect_backoff: None,
            },
            Row {
                name: "trouble past the deadline is expired",
                interval: 5,
                backoff: Some(20),
                left: -3,
                response: PollResponse::Trouble,
                expect: Stop(PollEnd::Expired),
                expect_interval: 5,
                expect_backoff: Some(20),
            },
        ];
        let start = Instant::now() + S(10_000);
        for row in rows {
            let now = start;
            let deadline = if row.left >= 0 {
                now + S(row.left as u64)
            } else {
                now - S((-row.left) as u64)
            };
            let mut state = PollState {
                interval: S(row.interval),
                backoff: row.backoff.map(S),
                deadline,
            };
            let decision = poll_step(&mut state, &row.response, now);
            assert_eq!(decision, row.expect, "{}", row.name);
            assert_eq!(
                state.interval,
                S(row.expect_interval),
                "{}: interval",
                row.name
            );
            assert_eq!(
                state.backoff,
                row.expect_backoff.map(S),
                "{}: backoff",
                row.name
            );
        }
    }

    #[test]
    fn before_poll_table() {
        let now = Instant::now() + S(100);
        for (left, expect) in [
            (10i64, None),
            (0, Some(PollEnd::Expired)),
            (-5, Some(PollEnd::Expired)),
        ] {
            let deadline = if left >= 0 {
                now + S(left as u64)
            } else {
                now - S((-left) as u64)
            };
            let state = PollState {
                interval: S(5),
                backoff: None,
                deadline,
            };
            assert_eq!(before_poll(&state, now), expect, "left {left}");
        }
    }

    async fn run(
        script: Vec<Result<&'static str, PollResponse>>,
        expires_in: u64,
    ) -> (PollOutcome<&'static str>, Vec<u64>, usize) {
        let timer = VirtualTimer::new();
        let cancel = CancellationToken::new();
        let state = PollState::new(S(5), timer.now(), S(expires_in));
        let script = Mutex::new(script.into_iter());
        let polls = Mutex::new(0usize);
        let outcome = run_polling(
            state,
            &timer,
            &cancel,
            || {
                *polls.lock().unwrap() += 1;
                let next = script
                    .lock()
                    .unwrap()
                    .next()
                    .expect("polled after the script ended");
                async move { next }
            },
            |_| {},
        )
        .await;
        let polls = *polls.lock().unwrap();
        (outcome, timer.sleeps(), polls)
    }

    #[tokio::test]
    async fn loop_follows_slow_down_and_stops_on_tokens() {
        let pending = || Err(PollResponse::Error(ErrorCode::AuthorizationPending));
        let slow = || Err(PollResponse::Error(ErrorCode::SlowDown));
        let (outcome, sleeps, polls) = run(
            vec![pending(), slow(), slow(), pending(), Ok("tokens")],
            600,
        )
        .await;
        assert!(matches!(outcome, PollOutcome::Approved("tokens")));
        assert_eq!(sleeps, vec![5, 5, 10, 15, 15]);
        assert_eq!(polls, 5, "never polls after tokens arrive");
    }

    #[tokio::test]
    async fn loop_backs_off_on_trouble_then_recovers() {
        let trouble = || Err(PollResponse::Trouble);
        let (outcome, sleeps, _) = run(vec![trouble(), trouble(), Ok("tokens")], 600).await;
        assert!(matches!(outcome, PollOutcome::Approved(_)));
        assert_eq!(sleeps, vec![5, 10, 20]);
    }

    #[tokio::test]
    async fn loop_stops_at_the_deadline_without_asking() {
        let pending = || Err(PollResponse::Error(ErrorCode::AuthorizationPending));
        // 12 s of life, 5 s interval: polls at 5 and 10, then the 15 s check is past the deadline.
        let (outcome, _, polls) = run(vec![pending(), pending()], 12).await;
        assert!(matches!(outcome, PollOutcome::Expired));
        assert_eq!(polls, 2);
    }

    #[tokio::test]
    async fn cancellation_stops_before_the_next_poll() {
        let timer = VirtualTimer::new();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let outcome: PollOutcome<()> = run_polling(
            PollState::new(S(5), timer.now(), S(600)),
            &timer,
            &cancel,
            || async { panic!("polled after cancellation") },
            |_| {},
        )
        .await;
        assert!(matches!(outcome, PollOutcome::Cancelled));
    }
}
