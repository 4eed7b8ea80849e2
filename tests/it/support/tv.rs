//! A TV browser for tests that drive the app over HTTP: it keeps the session cookie the app
//! sets (a new one whenever an action moves the session) and calls the server functions as
//! the page does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;

/// A TV browser: keeps the session cookie the app sets, and calls the server functions as
/// the page does.
pub struct Tv {
    base: String,
    http: reqwest::Client,
    /// Shared with the same TV talking to other servers (see [`Tv::on`]).
    cookie: Arc<Mutex<Option<String>>>,
}

impl Tv {
    pub fn new(base: &str) -> Self {
        Self::with_client(base, Self::client(None))
    }

    /// A TV whose connections come from `local` (any 127.x.y.z address is this machine), so
    /// the server sees another client address.
    #[cfg(feature = "demo")]
    pub fn from_address(base: &str, local: std::net::IpAddr) -> Self {
        Self::with_client(base, Self::client(Some(local)))
    }

    fn client(local: Option<std::net::IpAddr>) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            // A restarted server closes its connections: never reuse a pooled one.
            .pool_max_idle_per_host(0)
            .local_address(local)
            .build()
            .expect("client")
    }

    fn with_client(base: &str, http: reqwest::Client) -> Self {
        Self {
            base: base.to_owned(),
            http,
            cookie: Arc::new(Mutex::new(None)),
        }
    }

    /// The same TV (the same session cookie, kept in common) talking to another server at
    /// `base`, e.g. another replica of the app behind one load balancer.
    pub fn on(&self, base: &str) -> Tv {
        Self {
            base: base.to_owned(),
            http: self.http.clone(),
            cookie: Arc::clone(&self.cookie),
        }
    }

    /// The server this TV talks to.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.cookie.lock().unwrap().clone() {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    fn keep_cookie(&self, response: &reqwest::Response) {
        if let Some((name, value, _)) = session_cookie(response.headers()) {
            *self.cookie.lock().unwrap() = Some(format!("{name}={value}"));
        }
    }

    /// The session cookie (`name=value`), once the app has set one.
    pub fn cookie(&self) -> Option<String> {
        self.cookie.lock().unwrap().clone()
    }

    /// The session id: the session cookie's value without its signature (`<id>.<tag>`).
    pub fn session_id(&self) -> Option<String> {
        self.cookie().and_then(|pair| {
            let (_, value) = pair.split_once('=')?;
            Some(value.split('.').next().unwrap_or(value).to_owned())
        })
    }

    /// Sends this cookie (`name=value`) from now on, as if someone had planted it.
    #[cfg(feature = "demo")]
    pub fn set_cookie(&self, pair: &str) {
        *self.cookie.lock().unwrap() = Some(pair.to_owned());
    }

    /// Whether the server answers `/healthz`.
    pub async fn is_up(&self) -> bool {
        self.http
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// GET / (the page), which sets the session cookie.
    pub async fn open_page(&self) {
        self.page().await;
        assert!(
            self.cookie.lock().unwrap().is_some(),
            "GET / set no session cookie"
        );
    }

    /// GET / (the page) with this TV's cookie: its HTML.
    pub async fn page(&self) -> String {
        let response = self
            .with_cookie(self.http.get(format!("{}/", self.base)))
            .send()
            .await
            .expect("GET /");
        assert_eq!(response.status(), 200, "GET /");
        self.keep_cookie(&response);
        response.text().await.expect("the page's HTML")
    }

    /// Opens the push stream (`GET /events`), open for at most `limit`.
    pub async fn open_events(&self, limit: Duration) -> reqwest::Response {
        self.with_cookie(self.http.get(format!("{}/events", self.base)))
            .timeout(limit)
            .send()
            .await
            .expect("GET /events")
    }

    /// POSTs a server function and returns its JSON. The request carries what a browser on
    /// this server's own page sends: `Sec-Fetch-Site: same-origin` and this server's `Origin`.
    pub async fn call(&self, endpoint: &str) -> Value {
        self.call_with(endpoint, &[]).await
    }

    /// As [`Tv::call`], with `extra` headers (what a proxy adds, say).
    pub async fn call_with(&self, endpoint: &str, extra: &[(&str, &str)]) -> Value {
        let mut request = self
            .with_cookie(self.http.post(format!("{}/api/{endpoint}", self.base)))
            .header("sec-fetch-site", "same-origin")
            .header("origin", &self.base)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("");
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /api/{endpoint}: {e}"));
        self.keep_cookie(&response);
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "POST /api/{endpoint}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("/api/{endpoint} JSON: {e}: {text}"))
    }

    /// The TV's status (the `status` of the snapshot).
    pub async fn status(&self) -> Value {
        self.call("status").await["status"].clone()
    }

    /// Polls the status until it is `state`; panics after `limit`.
    pub async fn wait_for(&self, state: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.status().await;
            if status["state"] == state {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no {state:?} within {limit:?}; last: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The user code of a `waiting` status.
pub fn user_code(status: &Value) -> String {
    status["pairing"]["user_code"]
        .as_str()
        .unwrap_or_else(|| panic!("no pairing in {status}"))
        .to_owned()
}

/// The session cookie a response sets, plain or `__Host-` prefixed: (name, value,
/// attributes), if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<(String, String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("tvsignin_session="))
        .map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), value.to_owned(), attributes.to_owned())
        })
}
