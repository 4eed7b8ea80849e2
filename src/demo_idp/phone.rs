//! The phone side: `GET /device` shows the code form (pre-filled from `?user_code=`), and
//! `POST /device` takes the code, then the person's choice.
//!
//! Each browser gets a random flow id in an HttpOnly, SameSite=Lax cookie scoped to the
//! provider's path. Forms carry a CSRF token that is an HMAC of that id, and the consent form
//! a ticket binding the id to the code accepted in step 1, so step 2 cannot be used to guess
//! codes. Wrong codes are counted per browser and per client address, and every form post
//! takes one from the address's allowance (`super::limit`).
//!
//! Every page is in the phone's language: the `LANGUAGE` setting when set, else the best
//! match for the phone's `Accept-Language` (then the answer says `Vary: Accept-Language`).

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
use super::store::{
    DecideError, Lookup, ATTEMPT_WINDOW, MAX_WRONG_PER_ADDRESS, MAX_WRONG_PER_BROWSER,
};
use super::DemoIdp;
use crate::i18n::catalog::Bundle;
use crate::i18n::negotiate;

const COOKIE: &str = "demo_idp_flow";
/// The pages' own policy, so they work whatever policy the rest of the app sends.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
/// Which language a phone's request gets: `forced` (the `LANGUAGE` setting) when set, else
/// the best match for its `Accept-Language`; and whether the answer depends on that header.
fn language(forced: Option<&'static str>, headers: &HeaderMap) -> (&'static str, bool) {
    (negotiate::for_request(forced, headers), forced.is_none())
}

/// The words of one answer: the phone's language, and whether the answer varies with the
/// phone's `Accept-Language`.
struct Speech<'a> {
    t: &'a Bundle,
    varies: bool,
}

impl<'a> Speech<'a> {
    fn of(idp: &'a DemoIdp, headers: &HeaderMap) -> Self {
        let (lang, varies) = language(idp.config.language, headers);
        Self {
            t: idp.texts.get(lang),
            varies,
        }
    }

    /// Message `id`, without values.
    fn say(&self, id: &str) -> String {
        self.t.format(id, &[])
    }

    /// The sentence for too many wrong codes, with the wait in minutes.
    fn too_many_wrong(&self) -> String {
        let minutes = ATTEMPT_WINDOW.as_secs().div_ceil(60);
        self.t
            .format("error-too-many-wrong", &[("minutes", minutes.into())])
    }

    /// A dead end titled `title` saying `message` (both message ids).
    fn message_page(&self, title: &str, message: &str, start_over: &str) -> String {
        phone_pages::message_page(self.t, &self.say(title), &self.say(message), start_over)
    }
}

fn html(
    speech: &Speech<'_>,
    status: StatusCode,
    body: String,
    set_cookie: Option<String>,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if speech.varies {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    }
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

fn unavailable(idp: &DemoIdp, speech: &Speech<'_>) -> Response {
    let start = format!("{}/device", idp.public_path());
    html(
        speech,
        StatusCode::SERVICE_UNAVAILABLE,
        speech.message_page("error-unavailable-title", "error-unavailable", &start),
        None,
    )
}

/// `GET /device[?user_code=...]`
pub async fn show(
    State(idp): State<Arc<DemoIdp>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let speech = Speech::of(&idp, &headers);
    let Some((flow, set_cookie)) = flow(&idp, &headers) else {
        return unavailable(&idp, &speech);
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
        &speech,
        StatusCode::OK,
        phone_pages::code_page(speech.t, &ctx(&idp, &flow), &prefill, None),
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
    let speech = Speech::of(&idp, &headers);
    let start = format!("{}/device", idp.public_path());
    if let Err(wait) = idp.limiter.take(caller) {
        let mut response = html(
            &speech,
            StatusCode::TOO_MANY_REQUESTS,
            speech.message_page("error-too-many-tries-title", "error-too-many-tries", &start),
            None,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_secs(wait)));
        return response;
    }
    let Some((flow, set_cookie)) = flow(&idp, &headers) else {
        return unavailable(&idp, &speech);
    };
    if set_cookie.is_some() {
        return html(
            &speech,
            StatusCode::BAD_REQUEST,
            speech.message_page("error-cookies-title", "error-cookies", &start),
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
        return html(
            &speech,
            StatusCode::FORBIDDEN,
            speech.message_page("error-expired-form-title", "error-expired-form", &start),
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
        "code" => check_code(&idp, &speech, &ctx, &flow, &address, field("user_code")),
        "consent" => consent(&idp, &speech, &ctx, &flow, &form, &start),
        _ => html(
            &speech,
            StatusCode::BAD_REQUEST,
            speech.message_page("error-expired-form-title", "error-unknown-step", &start),
            None,
        ),
    }
}

fn check_code(
    idp: &DemoIdp,
    speech: &Speech<'_>,
    ctx: &PageCtx,
    flow: &str,
    address: &str,
    typed: &str,
) -> Response {
    let browser_key = format!("flow:{flow}");
    let address_key = format!("addr:{address}");
    let keys = [
        (browser_key.as_str(), MAX_WRONG_PER_BROWSER),
        (address_key.as_str(), MAX_WRONG_PER_ADDRESS),
    ];
    let typed_back: String = typed.chars().take(32).collect();
    let code_page = |status, error: String| {
        html(
            speech,
            status,
            phone_pages::code_page(speech.t, ctx, &typed_back, Some(&error)),
            None,
        )
    };
    let now = Instant::now();
    let mut state = idp.state();
    if state.wrong_codes_exhausted(&keys, now) {
        return code_page(StatusCode::TOO_MANY_REQUESTS, speech.too_many_wrong());
    }
    if typed.trim().is_empty() {
        return code_page(StatusCode::BAD_REQUEST, speech.say("error-code-empty"));
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
                speech,
                StatusCode::OK,
                phone_pages::consent_page(speech.t, ctx, &view, &idp.users, None, None),
                None,
            )
        }
        Lookup::Expired => code_page(StatusCode::BAD_REQUEST, speech.say("error-code-expired")),
        Lookup::Used => code_page(StatusCode::BAD_REQUEST, speech.say("error-code-used")),
        Lookup::Unknown => {
            state.record_wrong_code(&keys, now);
            if state.wrong_codes_exhausted(&keys, now) {
                code_page(StatusCode::TOO_MANY_REQUESTS, speech.too_many_wrong())
            } else {
                code_page(StatusCode::BAD_REQUEST, speech.say("error-code-wrong"))
            }
        }
    }
}

fn consent(
    idp: &DemoIdp,
    speech: &Speech<'_>,
    ctx: &PageCtx,
    flow: &str,
    form: &HashMap<String, String>,
    start: &str,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let dead_end = |status, title: &str, message: &str| {
        html(
            speech,
            status,
            speech.message_page(title, message, start),
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
                "error-expired-form-title",
                "error-expired-form",
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
            speech,
            start,
            if lookup == Lookup::Expired {
                DecideError::Expired
            } else {
                DecideError::Used
            },
        );
    };
    let (username, error) = match field("decision") {
        "deny" => return finish(idp, speech, &code, None, start),
        "allow" => match idp.user(field("username")) {
            Some(user) if idp.keys.same_secret(field("password"), &user.password) => {
                return finish(
                    idp,
                    speech,
                    &code,
                    Some((&user.username, &user.name)),
                    start,
                )
            }
            Some(user) if field("password").is_empty() => (
                Some(user.username.as_str()),
                if user.password_public {
                    speech.say("error-password-empty-public")
                } else {
                    speech.say("error-password-empty")
                },
            ),
            Some(user) => (
                Some(user.username.as_str()),
                if user.password_public {
                    speech.say("error-password-wrong-public")
                } else {
                    speech.say("error-password-wrong")
                },
            ),
            None => (None, speech.say("error-pick-user")),
        },
        _ => (None, speech.say("error-choose")),
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
        speech,
        StatusCode::BAD_REQUEST,
        phone_pages::consent_page(speech.t, ctx, &view, &idp.users, username, Some(&error)),
        None,
    )
}

/// Records the decision and shows the end page.
fn finish(
    idp: &DemoIdp,
    speech: &Speech<'_>,
    code: &str,
    user: Option<(&str, &str)>,
    start: &str,
) -> Response {
    match idp
        .state()
        .decide(code, user.map(|(username, _)| username), Instant::now())
    {
        Ok(()) => html(
            speech,
            StatusCode::OK,
            phone_pages::result_page(speech.t, user.is_some(), user.map(|(_, name)| name)),
            None,
        ),
        Err(e) => decide_failed(speech, start, e),
    }
}

fn decide_failed(speech: &Speech<'_>, start: &str, error: DecideError) -> Response {
    let message = match error {
        DecideError::Expired => "error-code-expired",
        DecideError::Used | DecideError::Unknown => "error-code-used",
    };
    html(
        speech,
        StatusCode::BAD_REQUEST,
        speech.message_page("error-code-not-usable-title", message, start),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(accept: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(
                header::ACCEPT_LANGUAGE,
                HeaderValue::from_str(accept).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn the_phone_gets_its_own_language_and_the_answer_varies_with_it() {
        assert_eq!(
            language(None, &asking(Some("de-DE,de;q=0.9,en;q=0.5"))),
            ("de", true)
        );
        assert_eq!(language(None, &asking(Some("ja"))), ("ja", true));
        assert_eq!(
            language(None, &asking(Some("nl-NL, fr;q=0.8"))),
            ("fr", true)
        );
        // Not offered, or not said: English.
        assert_eq!(language(None, &asking(Some("nl"))), ("en", true));
        assert_eq!(language(None, &asking(None)), ("en", true));
    }

    #[test]
    fn language_overrides_the_phone_and_then_the_answer_does_not_vary() {
        assert_eq!(language(Some("es"), &asking(Some("de-DE"))), ("es", false));
        assert_eq!(language(Some("fr"), &asking(None)), ("fr", false));
    }

    #[test]
    fn the_answer_says_vary_only_when_the_phone_chose() {
        let catalog = crate::i18n::catalog::Catalog::new(crate::i18n::catalog::PHONE, &[]);
        for (varies, expected) in [(true, Some("Accept-Language")), (false, None)] {
            let speech = Speech {
                t: catalog.get("de"),
                varies,
            };
            let response = html(&speech, StatusCode::OK, String::new(), None);
            assert_eq!(
                response
                    .headers()
                    .get(header::VARY)
                    .map(|v| v.to_str().unwrap()),
                expected
            );
        }
        let speech = Speech {
            t: catalog.get("de"),
            varies: false,
        };
        assert_eq!(
            speech.too_many_wrong(),
            "Zu viele falsche Codes. Warten Sie 5 Minuten und versuchen Sie es dann erneut."
        );
    }
}
