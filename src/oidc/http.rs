//! The HTTP side of talking to a provider: a client that never follows redirects (so a
//! provider cannot bounce the server to an internal address), with connect and overall
//! timeouts, idle connections dropped before providers drop them, bodies read up to a cap,
//! and a request sent a second time only where that is harmless. Responses are parsed from
//! JSON or, where a server sends one anyway, from a form-encoded body.

use std::time::Duration;

use serde_json::{Map, Value};

use super::config::ProviderConfig;
use super::error::{ErrorCode, OAuthError, ProviderError};

/// A provider's answer, read in full (up to the cap) and not yet interpreted.
#[derive(Clone, Debug)]
pub struct ProviderResponse {
    pub endpoint: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Idle pooled connections are closed after this long: sooner than the shortest idle limit
/// servers commonly use (5 s, Node's and Apache's), so a request never goes out on a
/// connection the provider is closing at that moment. A token request that died that way
/// could not be sent again (see [`Resend`]).
const POOL_IDLE: Duration = Duration::from_secs(4);

/// Whether a request may go out once more when its connection died before any answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// Sending it twice does no harm: a GET, a revocation (RFC 7009 §2.2), or a device
    /// authorization (the code of the first, if the provider made one, is never shown and
    /// expires by itself).
    IfUnanswered,
    /// A token request: the provider may have handled it before the connection died
    /// (redeemed the device code, rotated the refresh token), and a second one could then
    /// overlap another replica's poll or revoke a whole refresh token family. Sent once.
    Never,
}

/// Builds the HTTP client: rustls (no system OpenSSL), no redirects, bounded waits.
pub fn build_client(config: &ProviderConfig) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .pool_idle_timeout(POOL_IDLE)
        .user_agent(concat!("tvsignin/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::Unsupported(format!("cannot build the HTTP client: {e}")))
}

/// Sends a request and reads the body up to `limit` bytes.
///
/// A pooled connection can be closed by the provider (its idle timeout) just as a request
/// goes out on it. The request then fails before any answer arrives, usually unhandled, but
/// nobody can be sure. With [`Resend::IfUnanswered`] such a request is sent once more, on a
/// fresh connection; every other failure, and every failure of a [`Resend::Never`] request,
/// is returned as it is.
pub async fn send(
    request: reqwest::RequestBuilder,
    endpoint: &str,
    limit: usize,
    resend: Resend,
) -> Result<ProviderResponse, ProviderError> {
    let request = request.header(reqwest::header::ACCEPT, "application/json");
    let again = match resend {
        Resend::IfUnanswered => request.try_clone(),
        Resend::Never => None,
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => match again {
            Some(again) if closed_unanswered(&error) => {
                tracing::debug!(endpoint, error = %error, "connection closed unanswered; sending once more");
                again
                    .send()
                    .await
                    .map_err(|e| transport_error(endpoint, &e))?
            }
            _ => return Err(transport_error(endpoint, &error)),
        },
    };
    read(response, endpoint, limit).await
}

/// True when the connection was closed or reset after the request went out and before any
/// part of an answer came back: the mark of a pooled connection the server had given up on.
fn closed_unanswered(error: &reqwest::Error) -> bool {
    if error.is_timeout() || error.is_connect() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            return matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            );
        }
        source = cause.source();
    }
    false
}

async fn read(
    mut response: reqwest::Response,
    endpoint: &str,
    limit: usize,
) -> Result<ProviderResponse, ProviderError> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(length) = response.content_length() {
        if length > limit as u64 {
            return Err(ProviderError::TooLarge {
                endpoint: endpoint.to_owned(),
                limit,
            });
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(endpoint, &e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(ProviderError::TooLarge {
                endpoint: endpoint.to_owned(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(ProviderResponse {
        endpoint: endpoint.to_owned(),
        status,
        content_type,
        body,
    })
}

fn transport_error(endpoint: &str, error: &reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Timeout {
            endpoint: endpoint.to_owned(),
        }
    } else {
        // The error's Display can include the URL but never a request body, so no secret.
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            detail = format!("{detail}: {cause}");
            source = cause.source();
        }
        ProviderError::Unreachable {
            endpoint: endpoint.to_owned(),
            detail,
        }
    }
}

impl ProviderResponse {
    /// The body as a JSON object. A form-encoded body becomes an object of strings.
    pub fn object(&self) -> Result<Map<String, Value>, ProviderError> {
        let is_form = self.content_type.as_deref().is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if is_form {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&self.body)
                .map_err(|e| self.malformed(format!("bad form body: {e}")))?;
            return Ok(pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.malformed("the body is JSON but not an object".into())),
            Err(e) => Err(self.malformed(format!("not JSON: {e}"))),
        }
    }

    pub fn malformed(&self, detail: String) -> ProviderError {
        ProviderError::Malformed {
            endpoint: self.endpoint.clone(),
            detail,
        }
    }

    /// The OAuth error in the body, if there is one, whatever the HTTP status: servers send
    /// errors with 200, 400, 401, 403 and 429.
    pub fn oauth_error(&self) -> Option<OAuthError> {
        let map = self.object().ok()?;
        oauth_error_in(&map)
    }

    /// Parses a successful JSON/form body, or turns the response into the right error.
    pub fn success_object(&self) -> Result<Map<String, Value>, ProviderError> {
        let parsed = self.object();
        if let Ok(map) = &parsed {
            if let Some(error) = oauth_error_in(map) {
                return Err(ProviderError::OAuth(error));
            }
        }
        if !(200..300).contains(&self.status) {
            return Err(ProviderError::Status {
                endpoint: self.endpoint.clone(),
                status: self.status,
            });
        }
        parsed
    }
}

/// Reads `error` / `error_description` from a response object.
pub fn oauth_error_in(map: &Map<String, Value>) -> Option<OAuthError> {
    let code = map.get("error")?.as_str()?;
    if code.is_empty() {
        return None;
    }
    let description = map
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| d.chars().take(500).collect());
    Some(OAuthError {
        code: ErrorCode::parse(code),
        description,
    })
}

/// A string field.
pub fn string_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A non-negative integer that some servers send as a string (or as a float).
pub fn u64_field(map: &Map<String, Value>, key: &str) -> Option<u64> {
    match map.get(key)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, content_type: &str, body: &str) -> ProviderResponse {
        ProviderResponse {
            endpoint: "token".into(),
            status,
            content_type: Some(content_type.into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn form_bodies_parse_like_json() {
        let r = response(
            200,
            "application/x-www-form-urlencoded; charset=utf-8",
            "device_code=abc&interval=7",
        );
        let map = r.object().unwrap();
        assert_eq!(string_field(&map, "device_code").as_deref(), Some("abc"));
        assert_eq!(u64_field(&map, "interval"), Some(7));
    }

    #[test]
    fn errors_are_read_whatever_the_status() {
        for status in [200, 400, 401, 403, 429] {
            let r = response(status, "application/json", r#"{"error":"slow_down"}"#);
            assert_eq!(
                r.oauth_error().unwrap().code,
                ErrorCode::SlowDown,
                "status {status}"
            );
            assert!(matches!(r.success_object(), Err(ProviderError::OAuth(_))));
        }
    }

    #[test]
    fn a_5xx_without_an_error_is_a_status_error() {
        let r = response(503, "text/html", "<h1>down</h1>");
        assert!(matches!(
            r.success_object(),
            Err(ProviderError::Status { status: 503, .. })
        ));
        assert!(r.success_object().unwrap_err().is_transient());
    }

    /// How the loopback server below treats the requests on each connection.
    #[derive(Clone, Copy)]
    enum Conduct {
        /// Answers the first request, then closes the connection when the next one arrives,
        /// unanswered: a provider whose idle timeout fired as the request went out.
        AnswerOnceThenClose,
        /// Closes every connection as soon as a request has arrived.
        CloseUnanswered,
        /// Reads the request and never answers.
        Hang,
    }

    /// Starts the server; returns its address and a count of the connections it accepted.
    async fn loopback_server(
        conduct: Conduct,
    ) -> (
        std::net::SocketAddr,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut answered = 0;
                    let mut buffer = Vec::new();
                    loop {
                        // Read one whole request: the head, then Content-Length bytes of body.
                        let (head_end, length) = loop {
                            let text = String::from_utf8_lossy(&buffer).to_string();
                            if let Some(end) = text.find("\r\n\r\n") {
                                let length = text[..end]
                                    .lines()
                                    .find_map(|l| {
                                        let (k, v) = l.split_once(':')?;
                                        k.eq_ignore_ascii_case("content-length")
                                            .then(|| v.trim().parse::<usize>().ok())?
                                    })
                                    .unwrap_or(0);
                                break (end + 4, length);
                            }
                            let mut chunk = [0u8; 1024];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        };
                        while buffer.len() < head_end + length {
                            let mut chunk = [0u8; 1024];
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buffer.drain(..head_end + length);
                        match conduct {
                            Conduct::AnswerOnceThenClose if answered == 0 => {
                                let body = r#"{"ok":true}"#;
                                let reply = format!(
                                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                                    body.len()
                                );
                                socket.write_all(reply.as_bytes()).await.unwrap();
                                answered += 1;
                            }
                            Conduct::AnswerOnceThenClose | Conduct::CloseUnanswered => return,
                            Conduct::Hang => {
                                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        (address, connections)
    }

    fn test_client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(500))
            .build()
            .unwrap()
    }

    fn post(client: &reqwest::Client, address: std::net::SocketAddr) -> reqwest::RequestBuilder {
        client
            .post(format!("http://{address}/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "r")])
    }

    fn revoke(client: &reqwest::Client, address: std::net::SocketAddr) -> reqwest::RequestBuilder {
        client
            .post(format!("http://{address}/revoke"))
            .form(&[("token", "r")])
    }

    #[tokio::test]
    async fn a_request_on_a_connection_closed_unanswered_goes_once_more_on_a_new_one() {
        use std::sync::atomic::Ordering;
        let (address, connections) = loopback_server(Conduct::AnswerOnceThenClose).await;
        let client = test_client();
        let first = send(
            revoke(&client, address),
            "revocation_endpoint",
            1024,
            Resend::IfUnanswered,
        )
        .await
        .unwrap();
        assert_eq!(first.status, 200);
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        // The second request goes out on the pooled connection, which the server closes.
        let second = send(
            revoke(&client, address),
            "revocation_endpoint",
            1024,
            Resend::IfUnanswered,
        )
        .await
        .unwrap();
        assert_eq!(second.status, 200);
        assert_eq!(second.object().unwrap()["ok"], Value::Bool(true));
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_token_request_on_a_connection_closed_unanswered_is_never_sent_again() {
        use std::sync::atomic::Ordering;
        let (address, connections) = loopback_server(Conduct::AnswerOnceThenClose).await;
        let client = test_client();
        let first = send(
            post(&client, address),
            "token_endpoint",
            1024,
            Resend::Never,
        )
        .await
        .unwrap();
        assert_eq!(first.status, 200);
        // The server may have redeemed the code or rotated the refresh token before the
        // connection died: the request fails rather than go out twice.
        let error = send(
            post(&client, address),
            "token_endpoint",
            1024,
            Resend::Never,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, ProviderError::Unreachable { .. }),
            "{error:?}"
        );
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_gets_one_retry_and_no_more() {
        use std::sync::atomic::Ordering;
        let (address, connections) = loopback_server(Conduct::CloseUnanswered).await;
        let error = send(
            revoke(&test_client(), address),
            "revocation_endpoint",
            1024,
            Resend::IfUnanswered,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, ProviderError::Unreachable { .. }),
            "{error:?}"
        );
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_timeout_is_not_sent_again() {
        use std::sync::atomic::Ordering;
        let (address, connections) = loopback_server(Conduct::Hang).await;
        let error = send(
            revoke(&test_client(), address),
            "revocation_endpoint",
            1024,
            Resend::IfUnanswered,
        )
        .await
        .unwrap_err();
        assert!(matches!(error, ProviderError::Timeout { .. }), "{error:?}");
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn malformed_json_is_transient() {
        let r = response(200, "application/json", "{\"access_token\": ");
        let err = r.success_object().unwrap_err();
        assert!(matches!(err, ProviderError::Malformed { .. }));
        assert!(err.is_transient());
    }
}
