//! The hub's read of a signed-in session for the forward-auth check: who signed in, the
//! access token the session keeps fresh, and when it signs out.

use std::time::Duration;

use super::identity::Identity;
use super::store::StoreError;
use super::{Hub, SessionId};
use crate::model::TvStatus;
use crate::oidc::secret::AccessToken;

/// A signed-in session as the forward-auth check sees it.
#[derive(Clone, Debug)]
pub struct SignedInSession {
    pub identity: Identity,
    pub access_token: AccessToken,
    /// When the access token expires, in Unix ms, if the provider said.
    pub access_expires_at_ms: Option<u64>,
    /// The idle sign-out, in Unix ms.
    pub sign_out_at_ms: u64,
}

impl Hub {
    /// The session, if it is signed in (with its identity and tokens). Reading it does not
    /// count as the TV looking at its screen.
    pub async fn signed_in_session(
        &self,
        id: &SessionId,
    ) -> Result<Option<SignedInSession>, StoreError> {
        let Some(stored) = self.inner.records.load(id).await? else {
            return Ok(None);
        };
        let record = stored.record;
        let TvStatus::SignedIn { sign_out_at_ms, .. } = record.status else {
            return Ok(None);
        };
        let (Some(identity), Some(tokens)) = (record.identity, record.tokens) else {
            return Ok(None);
        };
        let identity = *identity;
        Ok(Some(SignedInSession {
            identity,
            access_expires_at_ms: tokens
                .expires_in
                .map(|life| record.tokens_at_ms + life.as_millis() as u64),
            access_token: tokens.access_token,
            sign_out_at_ms,
        }))
    }

    /// How long a signed-in TV stays signed in without use (`IDLE_SIGN_OUT_SECS`).
    pub fn idle_sign_out(&self) -> Duration {
        self.inner.kiosk.idle_sign_out
    }
}
