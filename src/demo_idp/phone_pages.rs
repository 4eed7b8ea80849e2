//! The phone pages, as plain server-rendered HTML: no JavaScript, CSS in one `<style>`
//! element, every interpolated value escaped with [`esc`]. Elements carry stable
//! `data-testid`s for the browser tests. The words come from `locales/<lang>/phone.ftl`, in
//! the language the caller picked (a [`Bundle`]); the demo users' names are data.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::users::DemoUser;
use crate::i18n::catalog::{Arg, Bundle};

/// What every form on a page needs.
pub struct PageCtx {
    /// Where forms post to (the phone page's path).
    pub action: String,
    /// The flow's CSRF token.
    pub csrf: String,
}

/// The code being confirmed on the consent page.
pub struct ConsentView<'a> {
    /// As shown: `XXXX-XXXX`.
    pub code: &'a str,
    pub ticket: &'a str,
    pub issued_wall: SystemTime,
    pub age: Duration,
    pub expires_in: Duration,
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:18px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#eef2f7;color:#0f172a}\
main{max-width:30rem;margin:0 auto;padding:.75rem}\
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 4px rgba(0,0,0,.15)}\
header{display:flex;align-items:center;gap:.6rem;margin-bottom:.75rem;font-weight:600}\
.badge{background:#f59e0b;color:#000;font-weight:800;text-transform:uppercase;letter-spacing:.06em;border-radius:6px;padding:.15rem .55rem;font-size:.85rem}\
h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 1rem}\
label{display:block;font-weight:600;margin:1rem 0 .35rem}\
input,select{width:100%;font-size:1.25rem;min-height:3.25rem;padding:.5rem .75rem;border:2px solid #94a3b8;border-radius:8px;background:#fff;color:inherit}\
input:focus,select:focus,button:focus{outline:3px solid #2563eb;outline-offset:2px}\
.code-input{font-family:ui-monospace,Menlo,Consolas,monospace;letter-spacing:.15em;text-transform:uppercase;text-align:center;font-size:1.6rem}\
button,.button{display:block;width:100%;min-height:3.5rem;font-size:1.25rem;font-weight:700;border:0;border-radius:8px;margin-top:1rem;cursor:pointer;text-align:center;text-decoration:none;padding:.9rem}\
.primary{background:#2563eb;color:#fff}\
.allow{background:#15803d;color:#fff}\
.deny{background:#e2e8f0;color:#0f172a;border:2px solid #94a3b8}\
.error{background:#fee2e2;color:#7f1d1d;border-radius:8px;padding:.75rem;font-weight:600}\
.device{background:#f8fafc;border:1px solid #cbd5e1;border-radius:8px;padding:.75rem}\
.device p{margin:.25rem 0}\
.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:700;letter-spacing:.1em}\
table{width:100%;border-collapse:collapse;margin-top:.5rem;font-size:1rem}\
td,th{text-align:left;padding:.45rem .3rem;border-bottom:1px solid #e2e8f0}\
.result{font-size:1.3rem;font-weight:600}\
.ok{color:#15803d}.declined{color:#7f1d1d}\
footer{font-size:.9rem;color:#475569;margin-top:1.25rem;border-top:1px solid #e2e8f0;padding-top:.75rem}";

/// Where a message's value goes before the message is escaped, so that the value can be
/// put in an element of its own (a private-use character, which no translation contains).
const MARK: &str = "\u{E000}";

/// Message `id` as HTML: escaped, with the value of its variable `name` set in `element`
/// (HTML made by the caller, its own values escaped) wherever the language puts it.
fn with_element(t: &Bundle, id: &str, name: &str, element: &str) -> String {
    esc(&t.format(id, &[(name, MARK.into())])).replacen(MARK, element, 1)
}

/// Message `id` with `args`, escaped for HTML.
fn text(t: &Bundle, id: &str, args: &[Arg<'_>]) -> String {
    esc(&t.format(id, args))
}

/// The frame every page shares: the Demo marker on top, the not-for-production line below.
fn layout(t: &Bundle, title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title><style>{CSS}</style></head>\
         <body><main><div class=\"card\">\
         <header><span class=\"badge\" data-testid=\"demo-badge\">{badge}</span><span>{header}</span></header>\n\
         {content}\n\
         <footer data-testid=\"demo-notice\">{footer}</footer>\
         </div></main></body></html>\n",
        lang = esc(t.lang()),
        title = text(t, "page-title", &[("page", title.into())]),
        badge = text(t, "demo-badge", &[]),
        header = text(t, "page-header", &[]),
        footer = text(t, "page-footer", &[]),
    )
}

fn error_box(error: Option<&str>) -> String {
    error.map_or_else(String::new, |e| {
        format!(
            "<p class=\"error\" role=\"alert\" data-testid=\"demo-error\">{}</p>",
            esc(e)
        )
    })
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

/// Step 1: enter (or confirm a pre-filled) code. `error` is a sentence already in the
/// page's language.
pub fn code_page(t: &Bundle, ctx: &PageCtx, prefill: &str, error: Option<&str>) -> String {
    let hint = if prefill.is_empty() {
        t.format("code-hint-empty", &[])
    } else {
        t.format("code-hint-check", &[])
    };
    let content = format!(
        "<h1>{heading}</h1>{error}\
         <form method=\"post\" action=\"{action}\">{csrf}{step}\
         <label for=\"user_code\">{label}</label>\
         <input id=\"user_code\" name=\"user_code\" class=\"code-input\" value=\"{prefill}\" \
         autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"32\" \
         placeholder=\"XXXX-XXXX\" data-testid=\"demo-code-input\">\
         <p>{hint}</p>\
         <button type=\"submit\" class=\"primary\" data-testid=\"demo-continue\">{button}</button>\
         </form>",
        heading = text(t, "code-heading", &[]),
        error = error_box(error),
        action = esc(&ctx.action),
        csrf = hidden("csrf", &ctx.csrf),
        step = hidden("step", "code"),
        label = text(t, "code-label", &[]),
        prefill = esc(prefill),
        hint = esc(&hint),
        button = text(t, "button-continue", &[]),
    );
    layout(t, &t.format("code-title", &[]), &content)
}

/// Step 2: which device is asking; pick a user, type the password, allow or deny.
pub fn consent_page(
    t: &Bundle,
    ctx: &PageCtx,
    view: &ConsentView<'_>,
    users: &[DemoUser],
    selected: Option<&str>,
    error: Option<&str>,
) -> String {
    let selected = selected.filter(|s| users.iter().any(|u| u.username == *s));
    let not_shown = text(t, "password-not-shown", &[]);
    let mut options = String::new();
    let mut accounts = String::new();
    for (i, user) in users.iter().enumerate() {
        let is_selected = selected.map_or(i == 0, |s| s == user.username);
        let _ = write!(
            options,
            "<option value=\"{value}\"{sel}>{name} ({value})</option>",
            value = esc(&user.username),
            sel = if is_selected { " selected" } else { "" },
            name = esc(&user.name),
        );
        // DEMO_USERS' passwords are the operator's, not the world's.
        let password = if user.password_public {
            format!("<td class=\"code\">{}</td>", esc(&user.password))
        } else {
            format!("<td>{not_shown}</td>")
        };
        let _ = write!(
            accounts,
            "<tr><td>{name}</td><td class=\"code\">{username}</td>{password}</tr>",
            name = esc(&user.name),
            username = esc(&user.username),
        );
    }
    let title = t.format("consent-title", &[]);
    let device = format!("<strong>{}</strong>", text(t, "device-name", &[]));
    let code = format!(
        "<span class=\"code\" data-testid=\"demo-code\">{}</span>",
        esc(view.code)
    );
    let content = format!(
        "<h1>{heading}</h1>{error}\
         <div class=\"device\" data-testid=\"demo-device\">\
         <p>{device}</p>\
         <p>{code}</p>\
         <p>{issued}</p>\
         <p>{expires} {warning}</p>\
         </div>\
         <form method=\"post\" action=\"{action}\">{csrf}{step}{user_code}{ticket}\
         <label for=\"username\">{label_user}</label>\
         <select id=\"username\" name=\"username\" data-testid=\"demo-user\">{options}</select>\
         <label for=\"password\">{label_password}</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"off\" data-testid=\"demo-password\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\" class=\"allow\" data-testid=\"demo-allow\">{allow}</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"deny\" data-testid=\"demo-deny\">{deny}</button>\
         </form>\
         <p>{caption}</p>\
         <table data-testid=\"demo-accounts\"><tr><th>{th_name}</th><th>{th_user}</th><th>{th_password}</th></tr>{accounts}</table>",
        heading = esc(&title),
        error = error_box(error),
        device = with_element(t, "consent-device", "device", &device),
        code = with_element(t, "consent-code", "code", &code),
        issued = esc(&issued(t, view.age, &utc_time(view.issued_wall))),
        expires = esc(&expires(t, view.expires_in)),
        warning = text(t, "consent-warning", &[]),
        action = esc(&ctx.action),
        csrf = hidden("csrf", &ctx.csrf),
        step = hidden("step", "consent"),
        user_code = hidden("user_code", view.code),
        ticket = hidden("ticket", view.ticket),
        label_user = text(t, "label-user", &[]),
        label_password = text(t, "label-password", &[]),
        allow = text(t, "button-allow", &[]),
        deny = text(t, "button-deny", &[]),
        caption = text(t, "accounts-caption", &[]),
        th_name = text(t, "accounts-name", &[]),
        th_user = text(t, "accounts-user", &[]),
        th_password = text(t, "accounts-password", &[]),
    );
    layout(t, &title, &content)
}

/// The end: signed in (as `who`), or declined.
pub fn result_page(t: &Bundle, approved: bool, who: Option<&str>) -> String {
    let (title, class, sentence) = if approved {
        (
            t.format("result-signed-in-title", &[]),
            "ok",
            t.format("result-signed-in", &[]),
        )
    } else {
        (
            t.format("result-declined-title", &[]),
            "declined",
            t.format("result-declined", &[]),
        )
    };
    let who = who.map_or_else(String::new, |w| {
        let name = format!("<strong>{}</strong>", esc(w));
        format!("<p>{}</p>", with_element(t, "result-who", "name", &name))
    });
    let content = format!(
        "<h1>{heading}</h1><p class=\"result {class}\" data-testid=\"demo-result\">{sentence}</p>{who}",
        heading = esc(&title),
        sentence = esc(&sentence),
    );
    layout(t, &title, &content)
}

/// A dead end with a way back to the start; `title` and `message` are already in the
/// page's language.
pub fn message_page(t: &Bundle, title: &str, message: &str, start_over: &str) -> String {
    let content = format!(
        "<h1>{heading}</h1><p class=\"error\" role=\"alert\" data-testid=\"demo-error\">{message}</p>\
         <a class=\"button primary\" href=\"{href}\" data-testid=\"demo-start-over\">{again}</a>",
        heading = esc(title),
        message = esc(message),
        href = esc(start_over),
        again = text(t, "button-start-again", &[]),
    );
    layout(t, title, &content)
}

/// `14:03:22 UTC`
fn utc_time(at: SystemTime) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// When the code was issued: its age in words (plural by the count), and the time.
fn issued(t: &Bundle, age: Duration, at: &str) -> String {
    match age.as_secs() {
        0..=4 => t.format("consent-issued-now", &[("at", at.into())]),
        s @ 5..=119 => t.format(
            "consent-issued-seconds",
            &[("count", s.into()), ("at", at.into())],
        ),
        s => t.format(
            "consent-issued-minutes",
            &[("count", (s / 60).into()), ("at", at.into())],
        ),
    }
}

/// How long the code has left, in words (plural by the count).
fn expires(t: &Bundle, left: Duration) -> String {
    match left.as_secs() {
        0..=1 => t.format("consent-expires-now", &[]),
        s @ 2..=119 => t.format("consent-expires-seconds", &[("count", s.into())]),
        s => t.format("consent-expires-minutes", &[("count", (s / 60).into())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::catalog::{Catalog, LANGUAGES, PHONE};

    fn ctx() -> PageCtx {
        PageCtx {
            action: "/demo-idp/device".into(),
            csrf: "t".into(),
        }
    }

    fn view(age: u64, left: u64) -> ConsentView<'static> {
        ConsentView {
            code: "BCDF-GHJK",
            ticket: "k",
            issued_wall: UNIX_EPOCH + Duration::from_secs(3723),
            age: Duration::from_secs(age),
            expires_in: Duration::from_secs(left),
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let catalog = Catalog::new(PHONE, &[]);
        let ctx = PageCtx {
            action: "/demo-idp/device".into(),
            csrf: "t\"><script>".into(),
        };
        let page = code_page(
            catalog.get("en"),
            &ctx,
            "<script>alert(1)</script>",
            Some("<b>bad</b>"),
        );
        assert!(
            !page.contains("<script>") && !page.contains("<b>"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // A name set in an element of its own is escaped too.
        let done = result_page(catalog.get("ja"), true, Some("<i>Eve</i>"));
        assert!(
            done.contains("<strong>&lt;i&gt;Eve&lt;/i&gt;</strong> としてサインインしました"),
            "{done}"
        );
    }

    #[test]
    fn every_page_is_marked_demo() {
        let catalog = Catalog::new(PHONE, &[]);
        let en = catalog.get("en");
        let users = super::super::users::demo_users(&[("eve".into(), "<pw>".into())]);
        let consent = consent_page(en, &ctx(), &view(65, 535), &users, Some("bob"), None);
        assert!(
            consent.contains("01:02:03 UTC")
                && consent.contains("65 seconds ago")
                && consent.contains("in 8 minutes"),
            "{consent}"
        );
        assert!(consent.contains("<option value=\"bob\" selected>"));
        assert!(consent.contains("alice-demo") && consent.contains("bob-demo"));
        assert!(
            !consent.contains("&lt;pw&gt;") && !consent.contains("<pw>"),
            "a DEMO_USERS password is never shown"
        );
        assert!(consent.contains("<td>not shown</td>"));
        for page in [
            code_page(en, &ctx(), "", None),
            consent,
            result_page(en, true, Some("Alice Demo")),
            result_page(en, false, None),
            message_page(en, "x", "y", "/"),
        ] {
            assert!(page.contains("data-testid=\"demo-badge\">Demo<"), "{page}");
            assert!(page.contains("not for production"));
            assert!(page.contains("<html lang=\"en\">"));
            assert!(page.contains("name=\"viewport\""));
            assert!(!page.contains("<script"));
        }
    }

    #[test]
    fn the_pages_speak_the_language_they_are_given() {
        let catalog = Catalog::new(PHONE, &[]);
        let users = super::super::users::demo_users(&[]);
        let de = catalog.get("de");
        let consent = consent_page(de, &ctx(), &view(65, 535), &users, None, None);
        assert!(consent.starts_with("<!doctype html>\n<html lang=\"de\">"));
        assert!(
            consent.contains("<h1>Auf dem Fernseher anmelden?</h1>"),
            "{consent}"
        );
        assert!(consent.contains("Vor 65 Sekunden ausgestellt (um 01:02:03 UTC)."));
        assert!(consent.contains("Der Code läuft in 8 Minuten ab."));
        assert!(consent.contains("<strong>tvsignin-Fernseher</strong> möchte sich anmelden."));
        assert!(consent.contains(">Zulassen</button>") && consent.contains(">Ablehnen</button>"));
        // The demo users' names are data, the same in every language.
        assert!(consent.contains(">Alice Demo (alice)</option>"));
        let ja = catalog.get("ja");
        let code = code_page(ja, &ctx(), "BCDF-GHJK", None);
        assert!(code.contains("<html lang=\"ja\">"));
        assert!(
            code.contains("<title>コードの入力 - デモ用サインイン</title>"),
            "{code}"
        );
        assert!(code.contains("<h1>テレビでサインイン</h1>"));
        assert!(code.contains(">次へ</button>"));
        let just_issued = consent_page(ja, &ctx(), &view(1, 1), &users, None, None);
        assert!(just_issued.contains("たった今（01:02:03 UTC）発行されました。"));
        assert!(just_issued.contains("このコードはまもなく期限切れになります。"));
        // One second and one minute take the singular where the language has one.
        let fr = catalog.get("fr");
        assert_eq!(
            issued(fr, Duration::from_secs(4), "x"),
            "Émis à l’instant (à x)."
        );
        assert_eq!(
            expires(fr, Duration::from_secs(60)),
            "Le code expire dans 60 secondes."
        );
        assert_eq!(
            expires(catalog.get("en"), Duration::from_secs(125)),
            "The code expires in 2 minutes."
        );
        // Every language has its own words for every page.
        for lang in LANGUAGES {
            let page = result_page(catalog.get(lang), false, None);
            assert!(page.contains(&format!("<html lang=\"{lang}\">")), "{page}");
        }
    }
}
