//! A TV's push stream (`GET /events`), read event by event as the TV page reads it.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::tv::Tv;

/// A TV's open push stream (`GET /events`), read event by event. Like the TV page, it opens
/// the stream again under the TV's new cookie when the stream ends with `rotated` (the
/// session moved to a new id: Sign in, New code, Sign out).
pub struct Events {
    /// Which server it is open on (for messages).
    pub base: String,
    /// The same TV (its cookie in common), to open the stream again.
    tv: Tv,
    limit: Duration,
    /// The cookie the stream was opened with.
    opened_with: Option<String>,
    response: reqwest::Response,
    buffer: Vec<u8>,
    ended: bool,
    /// Every status received so far, in order.
    pub seen: Vec<Value>,
    /// How many times the stream ended with `rotated` and was opened again.
    pub reopened: usize,
}

/// One event off the stream.
enum Pushed {
    Status(Value),
    Rotated,
}

impl Events {
    /// Opens the TV's push stream on its server; it stays open for at most `limit`.
    pub async fn open(tv: &Tv, limit: Duration) -> Self {
        let tv = tv.on(tv.base());
        let opened_with = tv.cookie();
        let response = Self::request(&tv, limit).await;
        Self {
            base: tv.base().to_owned(),
            tv,
            limit,
            opened_with,
            response,
            buffer: Vec::new(),
            ended: false,
            seen: Vec::new(),
            reopened: 0,
        }
    }

    async fn request(tv: &Tv, limit: Duration) -> reqwest::Response {
        let response = tv.open_events(limit).await;
        assert_eq!(response.status(), 200, "GET /events on {}", tv.base());
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "/events is {kind:?}");
        response
    }

    /// After `rotated`: waits (5 s at most) for the action's answer to bring the TV its new
    /// cookie, as the page waits for its action to finish, then opens the stream again.
    async fn reopen(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.tv.cookie() == self.opened_with && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.opened_with = self.tv.cookie();
        self.response = Self::request(&self.tv, self.limit).await;
        self.buffer.clear();
        self.ended = false;
        self.reopened += 1;
    }

    /// The next `status` event, or None if none comes within `within` or the stream ends.
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            match self.take_event() {
                Some(Pushed::Status(status)) => {
                    self.seen.push(status.clone());
                    return Some(status);
                }
                Some(Pushed::Rotated) => {
                    self.reopen().await;
                    continue;
                }
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.ended || left.is_zero() {
                return None;
            }
            match tokio::time::timeout(left, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
                Ok(Ok(None) | Err(_)) => self.ended = true,
            }
        }
    }

    /// Reads statuses until one is `state`; panics after `limit`, naming what it saw.
    pub async fn wait_for(&mut self, state: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(status) if status["state"] == state => return status,
                Some(_) => {}
                None => panic!(
                    "no {state:?} on the push stream from {} within {limit:?} (stream {}); \
                     seen: {:?}",
                    self.base,
                    if self.ended { "ended" } else { "open" },
                    self.states()
                ),
            }
        }
    }

    /// The states seen so far, in order.
    pub fn states(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|s| s["state"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// Takes one complete `status` or `rotated` event off the buffer, skipping comments
    /// (keep-alives) and other events.
    fn take_event(&mut self) -> Option<Pushed> {
        loop {
            let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut event = "message";
            let mut data = Vec::new();
            for line in text.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if event == "rotated" {
                return Some(Pushed::Rotated);
            }
            if event == "status" && !data.is_empty() {
                let json = data.join("\n");
                return Some(Pushed::Status(serde_json::from_str(&json).unwrap_or_else(
                    |e| panic!("status event is not JSON ({e}): {json}"),
                )));
            }
        }
    }
}
