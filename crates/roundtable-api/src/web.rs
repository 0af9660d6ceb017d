//! The web app's place in the API: its state over the API's stores, sign-in links
//! checked with the API's token keys, and the two crates' principals converted one
//! into the other (they name the same thing; the web crate cannot depend on this one).

use std::sync::Arc;

use crate::ApiState;
use crate::auth::{AuthConfig, Principal};

/// The web app's state over `state`'s handler, stores, keys and sessions.
pub fn web_state(state: &ApiState) -> roundtable_web::WebState {
    roundtable_web::WebState {
        handler: state.handler.clone(),
        events: state.events.clone(),
        views: state.views.clone(),
        links: Arc::new(TokenLinks(state.auth.clone(), state.revocations.clone())),
        sessions: state.sessions.clone(),
        development: state.auth.is_development(),
    }
}

/// Sign-in links whose tokens are the API's bearer tokens, refused when revoked.
#[derive(Debug)]
pub struct TokenLinks(
    pub Arc<AuthConfig>,
    pub Option<Arc<crate::revocation::Revocations>>,
);

#[async_trait::async_trait]
impl roundtable_web::LinkVerifier for TokenLinks {
    async fn verify(&self, token: &str) -> Result<(roundtable_web::Principal, u64), String> {
        let claims = self
            .0
            .verify_claims(token)
            .map_err(|e| e.message().replace("bearer token", "sign-in link"))?;
        if let Some(revocations) = &self.1 {
            let revoked = revocations.is_revoked(&claims.jti).await.map_err(|e| {
                tracing::warn!(error = %e, "cannot read the token deny-list");
                "cannot check whether the sign-in link was revoked; try again".to_owned()
            })?;
            if revoked {
                return Err("the sign-in link has been revoked".to_owned());
            }
        }
        let principal = claims
            .principal()
            .map_err(|e| format!("the sign-in link names no valid principal: {e}"))?;
        Ok((to_web(&principal), claims.exp))
    }
}

/// The web app's principal for an API principal.
pub fn to_web(p: &Principal) -> roundtable_web::Principal {
    use roundtable_web::Principal as W;
    match p.clone() {
        Principal::Secretariat { negotiation } => W::Secretariat { negotiation },
        Principal::Partner {
            negotiation,
            partner,
        } => W::Partner {
            negotiation,
            partner,
        },
        Principal::Auditor { negotiation } => W::Auditor { negotiation },
        Principal::Integration { negotiation } => W::Integration { negotiation },
    }
}

/// The API principal for a web app's principal.
pub fn from_web(p: &roundtable_web::Principal) -> Principal {
    use roundtable_web::Principal as W;
    match p.clone() {
        W::Secretariat { negotiation } => Principal::Secretariat { negotiation },
        W::Partner {
            negotiation,
            partner,
        } => Principal::Partner {
            negotiation,
            partner,
        },
        W::Auditor { negotiation } => Principal::Auditor { negotiation },
        W::Integration { negotiation } => Principal::Integration { negotiation },
    }
}
