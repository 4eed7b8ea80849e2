//! The banner the server logs at start-up in demo mode: several framed warning lines, hard to
//! miss in a terminal or a journal, because a server that was meant to use a real provider
//! (a `.env` that went missing, say) lands here.

use url::Url;

/// The banner's lines, framed, for a server that people reach at `public`.
pub fn banner(public: &Url) -> Vec<String> {
    let text = [
        "DEMO MODE - NOT FOR PRODUCTION".to_owned(),
        String::new(),
        "No identity provider is configured, so tvsignin signs people in".to_owned(),
        "with its built-in demo provider and its demo accounts.".to_owned(),
        format!("Anyone who can reach {public} can sign in with them."),
        String::new(),
        "For production, set ISSUER (or TENANT_URL) and CLIENT_ID;".to_owned(),
        "DEMO=false makes a missing provider stop the server instead.".to_owned(),
    ];
    let width = text
        .iter()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0);
    let rule = "*".repeat(width + 6);
    let mut lines = vec![rule.clone()];
    lines.extend(text.iter().map(|line| format!("*  {line:<width$}  *")));
    lines.push(rule);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_block_naming_the_address() {
        let lines = banner(&Url::parse("http://192.168.1.20:3000/").unwrap());
        let width = lines[0].chars().count();
        assert!(
            lines.iter().all(|l| l.chars().count() == width),
            "{lines:#?}"
        );
        assert!(lines[0].chars().all(|c| c == '*'));
        assert!(lines[1].contains("NOT FOR PRODUCTION"));
        assert!(lines
            .iter()
            .any(|l| l.contains("http://192.168.1.20:3000/")));
    }
}
