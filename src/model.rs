//! Types the browser sees: the TV's status, the pairing it shows and the signed-in profile.
//! Nothing secret lives here: no device code, no token.

use serde::{Deserialize, Serialize};

/// What the TV shows for one pairing: the user code and where to enter it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingView {
    /// The user code exactly as the provider issued it.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// SVG of the QR code (rendered on the server so the browser needs no QR library; drawn
    /// when the status is sent, empty while stored).
    pub qr_svg: String,
    /// When the code expires, in Unix milliseconds.
    pub expires_at_ms: u64,
    /// Seconds between the server's polls, as the provider asked.
    pub interval_secs: u64,
}

/// One row of the claims table; nested claims are flattened (`ext.tenantId`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub name: String,
    pub value: String,
}

/// The signed-in person, as userinfo described them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: String,
    /// Only the claims the server's `SHOW_CLAIMS` names, in its order (possibly none): the
    /// others never reach the browser.
    pub claims: Vec<Claim>,
}

/// The TV's state. `data-state` on the status element carries [`TvStatus::state_name`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum TvStatus {
    Idle,
    Starting,
    Waiting {
        pairing: PairingView,
    },
    Denied,
    Expired,
    /// The provider cannot be reached; the server keeps retrying on its own.
    Unreachable {
        pairing: Option<PairingView>,
    },
    /// Too many new codes in a short time; the TV asks to try again in a moment.
    Throttled {
        retry_after_secs: u64,
    },
    SignedIn {
        profile: Profile,
        /// When the shared screen signs out by itself unless someone uses it, in Unix ms.
        sign_out_at_ms: u64,
        /// How long before `sign_out_at_ms` the TV starts warning, in seconds.
        warn_secs: u64,
    },
}

impl TvStatus {
    /// The stable name used in `data-state` and in the push stream.
    pub fn state_name(&self) -> &'static str {
        match self {
            TvStatus::Idle => "idle",
            TvStatus::Starting => "starting",
            TvStatus::Waiting { .. } => "waiting",
            TvStatus::Denied => "denied",
            TvStatus::Expired => "expired",
            TvStatus::Unreachable { .. } => "unreachable",
            TvStatus::Throttled { .. } => "throttled",
            TvStatus::SignedIn { .. } => "signed-in",
        }
    }

    /// Whether something is under way that the screen must follow (a code being fetched,
    /// a code on screen, the provider being retried).
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            TvStatus::Starting | TvStatus::Waiting { .. } | TvStatus::Unreachable { .. }
        )
    }

    /// Names what the screen shows for this status: equal keys, the same screen. The page
    /// carries it in `data-screen` and the push stream as each event's id, so a script that
    /// cannot parse the status (the live fallback) still sees when its screen is out of date.
    pub fn screen_key(&self) -> String {
        let state = self.state_name();
        match self {
            TvStatus::Waiting { pairing }
            | TvStatus::Unreachable {
                pairing: Some(pairing),
            } => {
                format!("{state}:{}:{}", pairing.user_code, pairing.expires_at_ms)
            }
            TvStatus::Throttled { retry_after_secs } => format!("{state}:{retry_after_secs}"),
            TvStatus::SignedIn { sign_out_at_ms, .. } => format!("{state}:{sign_out_at_ms}"),
            _ => state.to_owned(),
        }
    }

    /// The pairing on screen, if any.
    pub fn pairing(&self) -> Option<&PairingView> {
        match self {
            TvStatus::Waiting { pairing } => Some(pairing),
            TvStatus::Unreachable { pairing } => pairing.as_ref(),
            _ => None,
        }
    }
}

/// Whether the page runs against the built-in demo provider (shown as a "Demo" badge), and
/// whose screen it is, and where a signed-in TV continues to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskInfo {
    pub demo: bool,
    pub provider_name: String,
    /// The operator's name (`ORG_NAME`), in the header, the title and the phishing warning.
    pub org_name: Option<String>,
    /// Whether the operator's logo (`LOGO_FILE`) is shown in the header.
    pub has_logo: bool,
    /// `APP_URL`: the signed-in screen goes there by itself.
    pub app: Option<AppLink>,
}

/// The app a signed-in TV continues to (`APP_URL`), after `continue_secs` on the signed-in
/// screen (`APP_CONTINUE_SECS`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLink {
    /// An absolute http(s) URL, or a path on the host the TV is on.
    pub url: String,
    pub continue_secs: u64,
}

/// What the TV page loads first: its status plus facts about the kiosk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TvSnapshot {
    pub status: TvStatus,
    pub kiosk: KioskInfo,
    /// The words of the screens, in this TV's language only.
    pub texts: crate::i18n::PageTexts,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairing(code: &str) -> PairingView {
        PairingView {
            user_code: code.into(),
            verification_uri: "https://idp.example/device".into(),
            verification_uri_complete: None,
            qr_svg: String::new(),
            expires_at_ms: 1_000,
            interval_secs: 5,
        }
    }

    #[test]
    fn screen_keys_change_with_what_the_screen_shows() {
        let waiting = |code: &str| TvStatus::Waiting {
            pairing: pairing(code),
        };
        let signed_in = |at: u64| TvStatus::SignedIn {
            profile: Profile {
                display_name: "Alice".into(),
                claims: vec![],
            },
            sign_out_at_ms: at,
            warn_secs: 60,
        };
        // Same screen, same key, whatever the QR drawing holds.
        let mut drawn = pairing("ABCD-EFGH");
        drawn.qr_svg = "<svg/>".into();
        assert_eq!(
            waiting("ABCD-EFGH").screen_key(),
            TvStatus::Waiting { pairing: drawn }.screen_key()
        );
        let keys = [
            TvStatus::Idle.screen_key(),
            TvStatus::Starting.screen_key(),
            waiting("ABCD-EFGH").screen_key(),
            waiting("WXYZ-QRST").screen_key(),
            TvStatus::Unreachable {
                pairing: Some(pairing("ABCD-EFGH")),
            }
            .screen_key(),
            TvStatus::Unreachable { pairing: None }.screen_key(),
            TvStatus::Denied.screen_key(),
            TvStatus::Expired.screen_key(),
            TvStatus::Throttled {
                retry_after_secs: 30,
            }
            .screen_key(),
            signed_in(10_000).screen_key(),
            // Activity postpones the sign-out: the screen's countdown changes.
            signed_in(20_000).screen_key(),
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
        assert!(
            keys.iter().all(|k| !k.contains('\n')),
            "SSE ids are one line"
        );
    }
}
