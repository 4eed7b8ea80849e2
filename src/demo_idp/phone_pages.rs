//! The phone pages, as plain server-rendered HTML: no JavaScript, CSS in one `<style>`
//! element, every interpolated value escaped with [`esc`]. Elements carry stable
//! `data-testid`s for the browser tests.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::users::DemoUser;

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

/// The frame every page shares: the Demo marker on top, the not-for-production line below.
fn layout(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title} - Demo sign-in</title><style>{CSS}</style></head>\
         <body><main><div class=\"card\">\
         <header><span class=\"badge\" data-testid=\"demo-badge\">Demo</span><span>tvsignin sign-in</span></header>\n\
         {content}\n\
         <footer data-testid=\"demo-notice\">This is a demo provider built into tvsignin, not for production: \
         its built-in users' passwords are shown on this page.</footer>\
         </div></main></body></html>\n",
        title = esc(title),
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

/// Step 1: enter (or confirm a pre-filled) code.
pub fn code_page(ctx: &PageCtx, prefill: &str, error: Option<&str>) -> String {
    let hint = if prefill.is_empty() {
        "Type the code shown on the TV."
    } else {
        "Check that this is the code shown on the TV."
    };
    let content = format!(
        "<h1>Sign in on the TV</h1>{error}\
         <form method=\"post\" action=\"{action}\">{csrf}{step}\
         <label for=\"user_code\">Code</label>\
         <input id=\"user_code\" name=\"user_code\" class=\"code-input\" value=\"{prefill}\" \
         autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"32\" \
         placeholder=\"XXXX-XXXX\" data-testid=\"demo-code-input\">\
         <p>{hint}</p>\
         <button type=\"submit\" class=\"primary\" data-testid=\"demo-continue\">Continue</button>\
         </form>",
        error = error_box(error),
        action = esc(&ctx.action),
        csrf = hidden("csrf", &ctx.csrf),
        step = hidden("step", "code"),
        prefill = esc(prefill),
        hint = esc(hint),
    );
    layout("Enter the code", &content)
}

/// Step 2: which device is asking; pick a user, type the password, allow or deny.
pub fn consent_page(
    ctx: &PageCtx,
    view: &ConsentView<'_>,
    users: &[DemoUser],
    selected: Option<&str>,
    error: Option<&str>,
) -> String {
    let selected = selected.filter(|s| users.iter().any(|u| u.username == *s));
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
            "<td>not shown</td>".to_owned()
        };
        let _ = write!(
            accounts,
            "<tr><td>{name}</td><td class=\"code\">{username}</td>{password}</tr>",
            name = esc(&user.name),
            username = esc(&user.username),
        );
    }
    let content = format!(
        "<h1>Sign in on the TV?</h1>{error}\
         <div class=\"device\" data-testid=\"demo-device\">\
         <p><strong>{device}</strong> is asking to sign in.</p>\
         <p>Code <span class=\"code\" data-testid=\"demo-code\">{code}</span>, issued {ago} (at {at}).</p>\
         <p>It expires {expires}. Only continue if you started this on the TV in front of you.</p>\
         </div>\
         <form method=\"post\" action=\"{action}\">{csrf}{step}{user_code}{ticket}\
         <label for=\"username\">Sign in as</label>\
         <select id=\"username\" name=\"username\" data-testid=\"demo-user\">{options}</select>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"off\" data-testid=\"demo-password\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\" class=\"allow\" data-testid=\"demo-allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"deny\" data-testid=\"demo-deny\">Deny</button>\
         </form>\
         <p>Demo accounts:</p>\
         <table data-testid=\"demo-accounts\"><tr><th>Name</th><th>User</th><th>Password</th></tr>{accounts}</table>",
        error = error_box(error),
        device = esc("tvsignin TV"),
        code = esc(view.code),
        ago = esc(&ago(view.age)),
        at = esc(&utc_time(view.issued_wall)),
        expires = esc(&within(view.expires_in)),
        action = esc(&ctx.action),
        csrf = hidden("csrf", &ctx.csrf),
        step = hidden("step", "consent"),
        user_code = hidden("user_code", view.code),
        ticket = hidden("ticket", view.ticket),
    );
    layout("Sign in on the TV?", &content)
}

/// The end: signed in, or declined.
pub fn result_page(approved: bool, who: Option<&str>) -> String {
    let (title, class, text) = if approved {
        (
            "Signed in",
            "ok",
            "You're signed in on the TV. You can close this page.",
        )
    } else {
        (
            "Sign-in declined",
            "declined",
            "Sign-in declined. The TV was not signed in. You can close this page.",
        )
    };
    let who = who.map_or_else(String::new, |w| {
        format!("<p>Signed in as <strong>{}</strong>.</p>", esc(w))
    });
    let content = format!(
        "<h1>{title}</h1><p class=\"result {class}\" data-testid=\"demo-result\">{text}</p>{who}",
        title = esc(title),
        class = esc(class),
        text = esc(text),
    );
    layout(title, &content)
}

/// A dead end with a way back to the start.
pub fn message_page(title: &str, message: &str, start_over: &str) -> String {
    let content = format!(
        "<h1>{title}</h1><p class=\"error\" role=\"alert\" data-testid=\"demo-error\">{message}</p>\
         <a class=\"button primary\" href=\"{href}\" data-testid=\"demo-start-over\">Start again</a>",
        title = esc(title),
        message = esc(message),
        href = esc(start_over),
    );
    layout(title, &content)
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

fn ago(age: Duration) -> String {
    match age.as_secs() {
        0..=4 => "just now".to_owned(),
        s @ 5..=119 => format!("{s} seconds ago"),
        s => format!("{} minutes ago", s / 60),
    }
}

fn within(left: Duration) -> String {
    match left.as_secs() {
        0..=1 => "in a moment".to_owned(),
        s @ 2..=119 => format!("in {s} seconds"),
        s => format!("in {} minutes", s / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let ctx = PageCtx {
            action: "/demo-idp/device".into(),
            csrf: "t\"><script>".into(),
        };
        let page = code_page(&ctx, "<script>alert(1)</script>", Some("<b>bad</b>"));
        assert!(
            !page.contains("<script>") && !page.contains("<b>"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn every_page_is_marked_demo() {
        let ctx = PageCtx {
            action: "/demo-idp/device".into(),
            csrf: "t".into(),
        };
        let users = super::super::users::demo_users(&[("eve".into(), "<pw>".into())]);
        let view = ConsentView {
            code: "BCDF-GHJK",
            ticket: "k",
            issued_wall: UNIX_EPOCH + Duration::from_secs(3723),
            age: Duration::from_secs(65),
            expires_in: Duration::from_secs(535),
        };
        let consent = consent_page(&ctx, &view, &users, Some("bob"), None);
        assert!(
            consent.contains("01:02:03 UTC")
                && consent.contains("65 seconds ago")
                && consent.contains("in 8 minutes")
        );
        assert!(consent.contains("<option value=\"bob\" selected>"));
        assert!(consent.contains("alice-demo") && consent.contains("bob-demo"));
        assert!(
            !consent.contains("&lt;pw&gt;") && !consent.contains("<pw>"),
            "a DEMO_USERS password is never shown"
        );
        for page in [
            code_page(&ctx, "", None),
            consent,
            result_page(true, Some("Alice Demo")),
            result_page(false, None),
            message_page("x", "y", "/"),
        ] {
            assert!(page.contains("data-testid=\"demo-badge\">Demo<"), "{page}");
            assert!(page.contains("not for production"));
            assert!(page.contains("name=\"viewport\""));
            assert!(!page.contains("<script"));
        }
    }
}
