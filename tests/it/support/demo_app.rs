//! The whole app in demo mode, in this process, on a free loopback port: what the tests that
//! drive it over HTTP share. (`start_with` runs it with other settings and a store of the
//! test's choosing.)

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tvsignin::demo_idp::DemoTiming;
use tvsignin::pairing::store::SessionStore;
use tvsignin::server::start::{build_state_with_store, open_store, serve};
use tvsignin::server::AppState;
use tvsignin::settings::{RawSettings, Settings};

/// Every test is over in this time, whatever happens.
pub async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("test took longer than 60 s");
}

/// The app, in demo mode, on a free loopback port; stopped when dropped.
pub struct TestApp {
    pub base: String,
    /// The demo provider's issuer.
    pub issuer: String,
    pub state: AppState,
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    /// A client that follows no redirects (tests look at them).
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Starts the app with `extra` settings (and `DEMO=true`) and the demo provider asking for a
/// 1 s interval; returns once it answers `/healthz` (at most 10 s).
pub async fn start(extra: &[(&str, &str)]) -> TestApp {
    let app = start_with(extra, None).await;
    let demo = app.state.demo.as_ref().expect("demo mode");
    demo.set_timing(DemoTiming {
        interval: Duration::from_secs(1),
        ..demo.timing()
    });
    app
}

/// Starts the app with `extra` settings (a provider, Redis, ...) and `store` (else the
/// store the settings ask for); returns once it answers `/healthz` (at most 10 s).
pub async fn start_with(extra: &[(&str, &str)], store: Option<Arc<dyn SessionStore>>) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let bound = listener.local_addr().expect("local address");
    let port = bound.port();
    // Demo mode on purpose, so that settings that mark a production server (TRUST_PROXY)
    // may be tested with it too.
    let mut pairs = vec![("PUBLIC_URL".to_owned(), format!("http://127.0.0.1:{port}"))];
    let provider_set = extra
        .iter()
        .any(|(key, _)| ["ISSUER", "TENANT_URL", "TOKEN_ENDPOINT"].contains(key));
    if !provider_set {
        pairs.push(("DEMO".to_owned(), "true".to_owned()));
    }
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let settings = Settings::from_raw(&RawSettings::from_pairs(pairs)).expect("settings");
    let shutdown = CancellationToken::new();
    let store = match store {
        Some(store) => store,
        None => open_store(&settings, shutdown.clone())
            .await
            .expect("the session store"),
    };
    let issuer = extra.iter().find(|(key, _)| *key == "ISSUER").map_or_else(
        || format!("http://127.0.0.1:{port}/demo-idp"),
        |(_, v)| (*v).to_owned(),
    );
    let mut state =
        build_state_with_store(settings, bound, shutdown.clone(), store).expect("state");
    // No browser bundle needed: a site folder that does not exist skips precompression.
    state.leptos_options.site_root = "target/tests-no-site".into();
    tokio::spawn(serve(listener, state.clone()));
    let app = TestApp {
        base: format!("http://127.0.0.1:{port}"),
        issuer,
        addr: bound,
        state,
        http: http_client(),
        shutdown,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let quick = app
            .http
            .get(format!("{}/healthz", app.base))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if quick.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the app did not start within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app
}

impl TestApp {
    /// A fresh phone browser on the demo provider's pages.
    pub fn phone(&self) -> Phone {
        Phone {
            http: http_client(),
            cookie: None,
            action: format!("{}/demo-idp/device", self.base),
            forwarded_for: None,
        }
    }

    /// A phone that a proxy (trusted with `TRUST_PROXY`) says is at `address`.
    pub fn phone_at(&self, address: &str) -> Phone {
        Phone {
            forwarded_for: Some(address.to_owned()),
            ..self.phone()
        }
    }
}

/// A phone's browser: keeps the flow cookie, reads the forms' hidden fields.
pub struct Phone {
    http: reqwest::Client,
    cookie: Option<String>,
    action: String,
    /// Sent as `X-Forwarded-For`, as a proxy in front of the app would.
    forwarded_for: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// The value of the input named `name` (hidden fields and the code input).
    pub fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\"");
        let at = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name} in {}", self.html));
        let tag_end = at + self.html[at..].find('>').unwrap();
        let tag = &self.html[at..tag_end];
        unescape(
            tag.split("value=\"")
                .nth(1)
                .map(|v| v.split('"').next().unwrap())
                .unwrap_or(""),
        )
    }

    /// The text of the element with this `data-testid`.
    pub fn text(&self, testid: &str) -> String {
        let marker = format!("data-testid=\"{testid}\">");
        let at = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {testid} in {}", self.html))
            + marker.len();
        unescape(self.html[at..].split('<').next().unwrap())
    }
}

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Phone {
    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(cookie) = headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
        }
        Page {
            status,
            headers,
            html: response.text().await.unwrap(),
        }
    }

    fn with_headers(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(address) = &self.forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        request
    }

    pub async fn open(&mut self, url: &str) -> Page {
        let request = self.with_headers(self.http.get(url));
        let response = request.send().await.unwrap();
        self.read(response).await
    }

    pub async fn submit(&mut self, form: &[(&str, &str)]) -> Page {
        let request = self.with_headers(self.http.post(&self.action).form(form));
        let response = request.send().await.unwrap();
        self.read(response).await
    }

    /// Step 1: types `code` into the form on `page`.
    pub async fn enter_code(&mut self, page: &Page, code: &str) -> Page {
        let csrf = page.input("csrf");
        self.submit(&[("csrf", &csrf), ("step", "code"), ("user_code", code)])
            .await
    }

    /// Step 2: signs in as `username` and allows, or denies.
    pub async fn decide(
        &mut self,
        consent: &Page,
        username: &str,
        password: &str,
        decision: &str,
    ) -> Page {
        let (csrf, code, ticket) = (
            consent.input("csrf"),
            consent.input("user_code"),
            consent.input("ticket"),
        );
        let form = [
            ("csrf", csrf.as_str()),
            ("step", "consent"),
            ("user_code", &code),
            ("ticket", &ticket),
            ("username", username),
            ("password", password),
            ("decision", decision),
        ];
        self.submit(&form).await
    }

    /// The whole phone side: open the link, confirm the pre-filled code, decide.
    pub async fn sign_in(
        &mut self,
        link: &str,
        username: &str,
        password: &str,
        decision: &str,
    ) -> Page {
        let page = self.open(link).await;
        assert_eq!(page.status, StatusCode::OK);
        let code = page.input("user_code");
        let consent = self.enter_code(&page, &code).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
        self.decide(&consent, username, password, decision).await
    }
}
