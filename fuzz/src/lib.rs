//! Shared by the fuzz targets: turns fuzz input into the [`ProviderResponse`] the parsers
//! take, with the HTTP status and content type chosen by the input too.
//!
//! Input that starts like JSON (`{`, `[`, `"` or whitespace) is a `200 application/json` body
//! as it is, so the seed corpora are plain JSON files. Any other first byte picks the status
//! (`STATUSES[b0 % len]`), the second the content type (`CONTENT_TYPES[b1 % len]`), and the
//! rest is the body: e.g. `\x00\x03device_code=...` is a 200 form-encoded body.

use tvsignin::oidc::http::ProviderResponse;

/// Statuses providers really send (and a few no provider should).
pub const STATUSES: &[u16] = &[
    200, 201, 204, 299, 302, 400, 401, 403, 404, 408, 429, 500, 503, 100, 999,
];

/// Content types, from absent to misleading.
pub const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/x-www-form-urlencoded"),
    Some("Application/X-WWW-Form-UrlEncoded;charset=UTF-8"),
    Some("  application/x-www-form-urlencoded"),
    Some("text/html"),
    Some("text/plain"),
    Some(""),
    Some("application/jwt"),
];

fn looks_like_json(first: u8) -> bool {
    matches!(first, b'{' | b'[' | b'"' | b' ' | b'\t' | b'\r' | b'\n')
}

/// The response `endpoint` would have given for this input.
pub fn response(endpoint: &str, data: &[u8]) -> ProviderResponse {
    let (status, content_type, body) = match data {
        [first, ..] if looks_like_json(*first) => (200, Some("application/json"), data),
        [] => (200, Some("application/json"), data),
        [only] => (
            STATUSES[*only as usize % STATUSES.len()],
            Some("application/json"),
            &data[1..],
        ),
        [s, c, rest @ ..] => (
            STATUSES[*s as usize % STATUSES.len()],
            CONTENT_TYPES[*c as usize % CONTENT_TYPES.len()],
            rest,
        ),
    };
    ProviderResponse {
        endpoint: endpoint.to_owned(),
        status,
        content_type: content_type.map(str::to_owned),
        body: body.to_vec(),
    }
}

/// Exercises every way a caller looks at a provider error, so none of them can panic.
pub fn describe(error: &tvsignin::oidc::ProviderError) {
    let _ = (
        error.to_string(),
        error.kind(),
        error.is_transient(),
        error.user_message(),
        error.oauth(),
    );
}
