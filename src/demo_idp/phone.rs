//! The phone side: `GET /device` shows the code form (pre-filled from `?user_code=`), and
//! `POST /device` takes the code, then the person's choice.
//!
//! Each browser gets a random flow id in an HttpOnly, SameSite=Lax cookie scoped to the
//! provider's path. Forms carry a CSRF token that is an HMAC of that id, and the consent form
//! a ticket binding the id to the code accepted in step 1, so step 2 cannot be used to guess
//! codes. Wrong codes are counted per browser and per client address, and every form post
//! takes one from the address's allowance (`super::limit`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::crypto::{display_user_code, normalize_user_code};
use super::limit::{retry_secs, Caller};
use super::phone_pages::{self, ConsentView, PageCtx};
use super::store::{DecideError, Lookup, MAX_WRONG_PER_ADDRESS, MAX_WRONG_PER_BROWSER};
use super::DemoIdp;

const COOKIE: &str = "demo_idp_flow";
/// The pages' own policy, so they work whatever policy the rest of the app sends.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
const TOO_MANY: &str = "Too many wrong codes. Wait 5 minutes, then try again.";
const TOO_MANY_TRIES: &str =
    "Too many tries from this network address. Wait a minute, then try again.";

fn html(status: StatusCode, body: String, set_cookie: Option<String>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Some(value) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, value);
    }
    response
}

/// The flow id from the cookie, if it looks like one of ours.
fn flow_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| {
            (16..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The existing flow, or a new one and the cookie that sets it.
fn flow(idp: &DemoIdp, headers: &HeaderMap) -> Option<(String, Option<String>)> {
    if let Some(id) = flow_cookie(headers) {
        return Some((id, None));
    }
    let id = idp.keys.token(32).ok()?;
    let secure = if idp.public_is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={id}; Path={}; HttpOnly; SameSite=Lax; Max-Age=3600{secure}",
        idp.public_path()
    );
    Some((id, Some(cookie)))
}

fn ctx(idp: &DemoIdp, flow: &str) -> PageCtx {
    PageCtx {
        action: format!("{}/device", idp.public_path()),
        csrf: idp.keys.mac("csrf", &[flow]),
    }
}

fn unavailable(idp: &DemoIdp) -> Response {
    let start = format!("{}/device", idp.public_path());
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        phone_pages::message_page(
            "Try again",
            "The demo sign-in is not available right now.",
            &start,
        ),
        None,
    )
}

/// `GET /device[?user_code=...]`
pub async fn show(
    State(idp): State<Arc<DemoIdp>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((flow, set_cookie)) = flow(&idp, &headers) else {
        return unavailable(&idp);
    };
    let query: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str(&q).ok())
        .unwrap_or_default();
    let typed = query
        .iter()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let prefill = match normalize_user_code(typed) {
        Some(code) => display_user_code(&code),
        None => typed.chars().take(32).collect(),
    };
    html(
        StatusCode::OK,
        phone_pages::code_page(&ctx(&idp, &flow), &prefill, None),
        set_cookie,
    )
}

/// `POST /device`: `step=code` (check the code) or `step=consent` (allow or deny).
pub async fn submit(
    State(idp): State<Arc<DemoIdp>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let start = format!("{}/device", idp.public_path());
    if let Err(wait) = idp.limiter.take(caller) {
        let mut response = html(
            StatusCode::TOO_MANY_REQUESTS,
            phone_pages::message_page("Too many tries", TOO_MANY_TRIES, &start),
            None,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_secs(wait)));
        return response;
    }
    let Some((flow, set_cookie)) = flow(&idp, &headers) else {
        return unavailable(&idp);
    };
    if set_cookie.is_some() {
        let message = "This page needs cookies to keep your sign-in safe. Allow cookies for this site, then start again.";
        return html(
            StatusCode::BAD_REQUEST,
            phone_pages::message_page("Cookies needed", message, &start),
            set_cookie,
        );
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut form: HashMap<String, String> = HashMap::new();
    for (key, value) in pairs {
        form.entry(key).or_insert(value);
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if !idp.keys.verify_mac("csrf", &[&flow], field("csrf")) {
        let message = "This form has expired or did not come from this page. Start again.";
        return html(
            StatusCode::FORBIDDEN,
            phone_pages::message_page("Start again", message, &start),
            None,
        );
    }
    let ctx = ctx(&idp, &flow);
    // Behind a trusted proxy, the phone's own address, not the proxy's.
    let address = match caller {
        Caller::Address(ip) => ip.to_string(),
        Caller::ThisMachine => "this machine".to_owned(),
        Caller::Unknown => "unknown".to_owned(),
    };
    match field("step") {
        "code" => check_code(&idp, &ctx, &flow, &address, field("user_code")),
        "consent" => consent(&idp, &ctx, &flow, &form, &start),
        _ => html(
            StatusCode::BAD_REQUEST,
            phone_pages::message_page("Start again", "Something went wrong. Start again.", &start),
            None,
        ),
    }
}

fn check_code(idp: &DemoIdp, ctx: &PageCtx, flow: &str, address: &str, typed: &str) -> Response {
    let browser_key = format!("flow:{flow}");
    let address_key = format!("addr:{address}");
    let keys = [
        (browser_key.as_str(), MAX_WRONG_PER_BROWSER),
        (address_key.as_str(), MAX_WRONG_PER_ADDRESS),
    ];
    let typed_back: String = typed.chars().take(32).collect();
    let code_page = |status, error: &str| {
        html(
            status,
            phone_pages::code_page(ctx, &typed_back, Some(error)),
            None,
        )
    };
    let now = Instant::now();
    let mut state = idp.state();
    if state.wrong_codes_exhausted(&keys, now) {
        return code_page(StatusCode::TOO_MANY_REQUESTS, TOO_MANY);
    }
    if typed.trim().is_empty() {
        return code_page(StatusCode::BAD_REQUEST, "Type the code shown on the TV.");
    }
    let code = normalize_user_code(typed);
    let lookup = code
        .as_deref()
        .map_or(Lookup::Unknown, |c| state.lookup(c, now));
    match lookup {
        Lookup::Pending {
            issued_wall,
            age,
            expires_in,
        } => {
            drop(state);
            let code = code.unwrap_or_default();
            let ticket = idp.keys.mac("ticket", &[flow, &code]);
            let shown = display_user_code(&code);
            let view = ConsentView {
                code: &shown,
                ticket: &ticket,
                issued_wall,
                age,
                expires_in,
            };
            html(
                StatusCode::OK,
                phone_pages::consent_page(ctx, &view, &idp.users, None, None),
                None,
            )
        }
        Lookup::Expired => code_page(
            StatusCode::BAD_REQUEST,
            "That code has expired. Start again on the TV to get a new one.",
        ),
        Lookup::Used => code_page(
            StatusCode::BAD_REQUEST,
            "That code has already been used. Start again on the TV if you still need to sign in.",
        ),
        Lookup::Unknown => {
            state.record_wrong_code(&keys, now);
            if state.wrong_codes_exhausted(&keys, now) {
                code_page(StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
            } else {
                code_page(
                    StatusCode::BAD_REQUEST,
                    "That code isn't right. Check the code on the TV and try again.",
                )
            }
        }
    }
}

fn consent(
    idp: &DemoIdp,
    ctx: &PageCtx,
    flow: &str,
    form: &HashMap<String, String>,
    start: &str,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let dead_end = |status, title: &str, message: &str| {
        html(
            status,
            phone_pages::message_page(title, message, start),
            None,
        )
    };
    let code = match normalize_user_code(field("user_code")) {
        Some(code)
            if idp
                .keys
                .verify_mac("ticket", &[flow, &code], field("ticket")) =>
        {
            code
        }
        _ => {
            return dead_end(
                StatusCode::FORBIDDEN,
                "Start again",
                "This form has expired or did not come from this page. Start again.",
            )
        }
    };
    let now = Instant::now();
    let lookup = idp.state().lookup(&code, now);
    let Lookup::Pending {
        issued_wall,
        age,
        expires_in,
    } = lookup
    else {
        return decide_failed(
            start,
            if lookup == Lookup::Expired {
                DecideError::Expired
            } else {
                DecideError::Used
            },
        );
    };
    let (username, error) = match field("decision") {
        "deny" => return finish(idp, &code, None, start),
        "allow" => match idp.user(field("username")) {
            Some(user) if idp.keys.same_secret(field("password"), &user.password) => {
                return finish(idp, &code, Some((&user.username, &user.name)), start)
            }
            Some(user) if field("password").is_empty() => (
                Some(user.username.as_str()),
                if user.password_public {
                    "Type the password (the demo passwords are listed below)."
                } else {
                    "Type the password."
                },
            ),
            Some(user) => (
                Some(user.username.as_str()),
                if user.password_public {
                    "Wrong password. The demo passwords are listed below."
                } else {
                    "Wrong password."
                },
            ),
            None => (None, "Pick one of the demo users."),
        },
        _ => (None, "Choose Allow or Deny."),
    };
    let shown = display_user_code(&code);
    let ticket = field("ticket");
    let view = ConsentView {
        code: &shown,
        ticket,
        issued_wall,
        age,
        expires_in,
    };
    html(
        StatusCode::BAD_REQUEST,
        phone_pages::consent_page(ctx, &view, &idp.users, username, Some(error)),
        None,
    )
}

/// Records the decision and shows the end page.
fn finish(idp: &DemoIdp, code: &str, user: Option<(&str, &str)>, start: &str) -> Response {
    match idp
        .state()
        .decide(code, user.map(|(username, _)| username), Instant::now())
    {
        Ok(()) => html(
            StatusCode::OK,
            phone_pages::result_page(user.is_some(), user.map(|(_, name)| name)),
            None,
        ),
        Err(e) => decide_failed(start, e),
    }
}

fn decide_failed(start: &str, error: DecideError) -> Response {
    let message = match error {
        DecideError::Expired => "That code has expired. Start again on the TV to get a new one.",
        DecideError::Used | DecideError::Unknown => {
            "That code has already been used. Start again on the TV if you still need to sign in."
        }
    };
    html(
        StatusCode::BAD_REQUEST,
        phone_pages::message_page("Code not usable", message, start),
        None,
    )
}
