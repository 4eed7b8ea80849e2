//! The demo provider's phone pages in the phone's language: `Accept-Language` picks it (and
//! the answer says it varies with it), the `LANGUAGE` setting overrides it, and no English
//! sentence is left on a translated page.

use reqwest::header::VARY;
use reqwest::StatusCode;
use serde_json::Value;

use tvsignin::i18n::catalog::{source, variables, Catalog, PHONE};

use crate::support::app::{start, TestApp};
use crate::support::demo_phone::Page;
use crate::support::within;

/// A new code from the demo provider: (the link with the code, the code).
async fn new_code(app: &TestApp) -> (String, String) {
    let response = app
        .http
        .post(format!("{}/device_authorization", app.issuer))
        .form(&[("client_id", "tvsignin-demo"), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (
        body["verification_uri_complete"]
            .as_str()
            .unwrap()
            .to_owned(),
        body["user_code"].as_str().unwrap().to_owned(),
    )
}

/// The English sentences of the phone pages (messages without values) that `lang` says
/// differently.
fn english_sentences_translated_in(lang: &str) -> Vec<String> {
    let catalog = Catalog::new(PHONE, &[]);
    let (english, own) = (catalog.get("en"), catalog.get(lang));
    variables(source(PHONE, "en").unwrap())
        .into_iter()
        .filter(|(_, vars)| vars.all.is_empty())
        .map(|(id, _)| (english.format(&id, &[]), own.format(&id, &[])))
        .filter(|(english, own)| english.contains(' ') && english != own)
        .map(|(english, _)| english)
        .collect()
}

fn assert_no_english(page: &Page, lang: &str) {
    let shown = page.visible_text();
    let sentences = english_sentences_translated_in(lang);
    assert!(sentences.len() > 20, "{sentences:?}");
    let left: Vec<_> = sentences.iter().filter(|s| shown.contains(*s)).collect();
    assert!(
        left.is_empty(),
        "English on the {lang} page: {left:?}\n{shown}"
    );
}

fn assert_varies_with_the_language(page: &Page) {
    let vary: Vec<_> = page
        .headers
        .get_all(VARY)
        .iter()
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .collect();
    assert!(
        vary.iter().any(|v| v.contains("accept-language")),
        "{vary:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_pages_speak_the_phone_s_language() {
    within(60, async {
        let app = start(&[]).await;
        for (accept, lang, heading, consent_heading) in [
            (
                "de-DE,de;q=0.9,en;q=0.5",
                "de",
                "<h1>Auf dem Fernseher anmelden</h1>",
                "<h1>Auf dem Fernseher anmelden?</h1>",
            ),
            (
                "ja-JP,ja;q=0.9",
                "ja",
                "<h1>テレビでサインイン</h1>",
                "<h1>テレビでサインインしますか？</h1>",
            ),
        ] {
            let (link, code) = new_code(&app).await;
            let mut phone = app.phone_speaking(accept);
            let page = phone.open(&link).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.html.contains(&format!("<html lang=\"{lang}\">")));
            assert!(page.html.contains(heading), "{}", page.html);
            assert_varies_with_the_language(&page);
            assert_no_english(&page, lang);

            let consent = phone.enter_code(&page, &code).await;
            assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
            assert!(consent.html.contains(consent_heading), "{}", consent.html);
            assert_varies_with_the_language(&consent);
            assert_no_english(&consent, lang);

            // An error is in the phone's language too.
            let wrong = phone.decide(&consent, "alice", "bob-demo", "allow").await;
            assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
            let said = Catalog::new(PHONE, &[])
                .get(lang)
                .format("error-password-wrong-public", &[]);
            assert_eq!(wrong.text("demo-error"), said);
            assert_no_english(&wrong, lang);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_overrides_the_phone() {
    within(60, async {
        let app = start(&[("LANGUAGE", "ja")]).await;
        let (link, _) = new_code(&app).await;
        let page = app.phone_speaking("de-DE,de").open(&link).await;
        assert!(page.html.contains("<html lang=\"ja\">"));
        assert!(page.html.contains("<h1>テレビでサインイン</h1>"));
        assert_no_english(&page, "ja");
        // The same answer for every phone: nothing for a cache to keep apart.
        let vary: Vec<_> = page.headers.get_all(VARY).iter().collect();
        assert!(
            !vary.iter().any(|v| v
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-language")),
            "{vary:?}"
        );
    })
    .await;
}
