//! The id of one TV session: the key of its record in the store. The HTTP edge keeps it in a
//! signed cookie (`server::session`); the pairing core only ever sees ids the edge checked.

/// A TV browser's session id (122 random bits from the OS generator, as hex).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Accepts only ids this server could have made.
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 32
            && value
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_junk_is_refused() {
        let id = SessionId::generate();
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(SessionId::generate(), id);
        for junk in [
            "",
            "abc",
            "../../etc/passwd",
            &"A".repeat(32),
            &"g".repeat(32),
        ] {
            assert_eq!(SessionId::parse(junk), None, "{junk}");
        }
    }
}
