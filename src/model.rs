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

    /// The pairing on screen, if any.
    pub fn pairing(&self) -> Option<&PairingView> {
        match self {
            TvStatus::Waiting { pairing } => Some(pairing),
            TvStatus::Unreachable { pairing } => pairing.as_ref(),
            _ => None,
        }
    }
}

/// Whether the page runs against the built-in demo provider (shown as a "Demo" badge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskInfo {
    pub demo: bool,
    pub provider_name: String,
}

/// What the TV page loads first: its status plus facts about the kiosk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TvSnapshot {
    pub status: TvStatus,
    pub kiosk: KioskInfo,
}
