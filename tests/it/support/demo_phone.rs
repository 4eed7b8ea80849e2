//! A phone's browser on the demo provider's pages: it keeps the flow cookie and fills in the
//! HTML forms (the code, then sign-in and consent) as a person would.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::StatusCode;

use super::app::{http_client, TestApp};

impl TestApp {
    /// A fresh phone browser on the demo provider's pages.
    pub fn phone(&self) -> Phone {
        Phone {
            http: http_client(),
            cookie: None,
            action: format!("{}/demo-idp/device", self.base),
            forwarded_for: None,
            accept_language: None,
        }
    }

    /// A phone whose browser asks for `languages` (`Accept-Language`).
    pub fn phone_speaking(&self, languages: &str) -> Phone {
        Phone {
            accept_language: Some(languages.to_owned()),
            ..self.phone()
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
    /// Sent as `Accept-Language`, as a browser set to these languages would.
    accept_language: Option<String>,
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

    /// The text a person sees: the body without its tags, one space between the pieces.
    pub fn visible_text(&self) -> String {
        let body = self.html.split("<body>").nth(1).unwrap_or(&self.html);
        let mut text = String::new();
        for piece in body.split('<') {
            let shown = piece.split_once('>').map_or(piece, |(_, after)| after);
            text.push_str(&unescape(shown));
            text.push(' ');
        }
        text
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
        if let Some(languages) = &self.accept_language {
            request = request.header("accept-language", languages);
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
