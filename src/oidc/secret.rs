//! Secret protocol values. Their `Debug` and `Display` never show the value, so a stray
//! `{:?}` in a log line cannot leak a device code, a token, a client secret or a password.

use std::fmt;

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value, for the one place that must send it to the provider.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret_newtype!(
    /// RFC 8628 `device_code`: whoever holds it can collect the tokens.
    DeviceCode
);
secret_newtype!(
    /// OAuth 2.0 access token.
    AccessToken
);
secret_newtype!(
    /// OAuth 2.0 refresh token.
    RefreshToken
);
secret_newtype!(
    /// OpenID Connect ID token (a signed JWT).
    IdToken
);
secret_newtype!(
    /// The client secret of a confidential client.
    ClientSecret
);
secret_newtype!(
    /// A user's password (password grant only).
    Password
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let code = DeviceCode::new("GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS");
        assert_eq!(format!("{code:?}"), "DeviceCode([redacted])");
        assert_eq!(format!("{code}"), "[redacted]");
        let secret = ClientSecret::new("hunter2");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
