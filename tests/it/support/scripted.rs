//! A scripted provider on 127.0.0.1: discovery, device, token and userinfo endpoints that
//! answer from a per-endpoint queue of replies, and a log of every request they received.
//! For tests of how the client (and the command line) copes with what real providers do.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use url::Url;

use tvsignin::oidc::{ProviderClient, ProviderConfig, ProviderSource};

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const DEVICE: &str = "/device";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
/// Where the redirect test points: anything that reaches it followed a redirect.
pub const ELSEWHERE: &str = "/elsewhere";

#[derive(Clone, Debug)]
enum ReplyBody {
    Bytes(Vec<u8>),
    /// Never ends: 16 KiB chunks for as long as the client keeps reading.
    Endless,
    /// Sends the start of a JSON object, then nothing more, ever.
    Stalled,
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: ReplyBody,
    delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self::raw(status, "application/json", body.to_string())
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: ReplyBody::Bytes(body.into()),
            delay: Duration::ZERO,
        }
    }

    /// This status and nothing else: no body, no content type (how some providers refuse).
    pub fn empty(status: u16) -> Self {
        Self {
            headers: Vec::new(),
            ..Self::raw(status, "", "")
        }
    }

    /// A JSON body that never ends (sent chunked, so without a Content-Length).
    pub fn endless() -> Self {
        Self {
            body: ReplyBody::Endless,
            ..Self::raw(200, "application/json", "")
        }
    }

    /// Headers at once, then a body that stops after a few bytes and never finishes.
    pub fn stalled() -> Self {
        Self {
            body: ReplyBody::Stalled,
            ..Self::raw(200, "application/json", "")
        }
    }

    /// An OAuth error with this HTTP status.
    pub fn error(status: u16, code: &str) -> Self {
        Self::json(
            status,
            json!({ "error": code, "error_description": format!("scripted {code}") }),
        )
    }

    pub fn pending() -> Self {
        Self::error(400, "authorization_pending")
    }

    pub fn tokens() -> Self {
        Self::json(
            200,
            json!({ "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-1" }),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answers only after `delay` (to outlast the client's request timeout).
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request as the provider saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When it arrived.
    pub at: Instant,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Seen {
    /// Every value of a form field (a field sent twice shows up twice).
    pub fn field(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

struct Inner {
    base: String,
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    seen: Mutex<Vec<(String, Seen)>>,
}

/// A running scripted provider; stopped when dropped.
pub struct Scripted {
    pub base: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::serve_on(listener)
    }

    /// The provider on `listener` (a port chosen beforehand, say).
    pub fn serve_on(listener: tokio::net::TcpListener) -> Self {
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let inner = Arc::new(Inner {
            base: base.clone(),
            scripts: Mutex::default(),
            seen: Mutex::default(),
        });
        let app = Router::new().fallback(answer).with_state(inner.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("scripted provider");
        });
        Self { base, inner, task }
    }

    /// What `path` answers, in order; the last reply then repeats forever.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        assert!(!replies.is_empty(), "a script needs at least one reply");
        self.inner
            .scripts
            .lock()
            .unwrap()
            .insert(path.to_owned(), replies.into());
    }

    /// The requests `path` received, oldest first.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        let seen = self.inner.seen.lock().unwrap();
        seen.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| s.clone())
            .collect()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.seen(path).len()
    }

    /// A client of this provider (via discovery) with the settings tweaked by `tweak`.
    pub fn client(&self, tweak: impl FnOnce(&mut ProviderConfig)) -> ProviderClient {
        let source = ProviderSource::Issuer(Url::parse(&self.base).unwrap());
        let mut config = ProviderConfig::new(source, "tv");
        config.connect_timeout = Duration::from_secs(2);
        config.request_timeout = Duration::from_secs(5);
        tweak(&mut config);
        ProviderClient::new(config).expect("client")
    }
}

/// What an endpoint says when the test did not script it.
fn default_reply(base: &str, path: &str) -> Reply {
    match path {
        DISCOVERY => Reply::json(
            200,
            json!({
                "issuer": base,
                "device_authorization_endpoint": format!("{base}{DEVICE}"),
                "token_endpoint": format!("{base}{TOKEN}"),
                "userinfo_endpoint": format!("{base}{USERINFO}"),
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            }),
        ),
        DEVICE => Reply::json(
            200,
            json!({
                "device_code": "dc-1", "user_code": "WDJB-MJHT",
                "verification_uri": format!("{base}/activate"), "expires_in": 600, "interval": 1,
            }),
        ),
        TOKEN => Reply::pending(),
        ELSEWHERE => Reply::tokens(),
        USERINFO => Reply::json(200, json!({ "sub": "u-1", "name": "Una User" })),
        _ => Reply::raw(404, "text/plain", "not found"),
    }
}

async fn answer(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let form = if method == Method::POST {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        Vec::new()
    };
    inner.seen.lock().unwrap().push((
        path.clone(),
        Seen {
            at: Instant::now(),
            authorization,
            form,
        },
    ));
    let reply = {
        let mut scripts = inner.scripts.lock().unwrap();
        match scripts.get_mut(&path) {
            Some(queue) if queue.len() > 1 => queue.pop_front().unwrap(),
            Some(queue) => queue.front().unwrap().clone(),
            None => default_reply(&inner.base, &path),
        }
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    let body = match reply.body {
        ReplyBody::Bytes(bytes) => Body::from(bytes),
        ReplyBody::Endless => Body::from_stream(futures::stream::repeat_with(|| {
            Ok::<_, Infallible>(Bytes::from(vec![b' '; 16 * 1024]))
        })),
        ReplyBody::Stalled => {
            let start = futures::stream::once(async {
                Ok::<_, Infallible>(Bytes::from_static(b"{\"access_token\": "))
            });
            Body::from_stream(futures::StreamExt::chain(start, futures::stream::pending()))
        }
    };
    response.body(body).unwrap()
}
