//! Roundtable's web app: the pages secretariats, partners and auditors work in,
//! rendered on the server with `maud`, served by the same process and port as the
//! HTTP API (`roundtable serve`, `roundtable api`). docs/WEB.md describes it.
//!
//! The pages call the application layer (`roundtable-app`) and nothing else: a form
//! builds a [`roundtable_domain::Command`] and sends it with
//! [`roundtable_app::commands::send`]; `decide` judges it, and a rejection is shown
//! beside the form with the input kept. Reading and every form work without
//! JavaScript; with it, a negotiation's page follows the API's change stream
//! (`GET /v1/negotiations/{id}/changes`) and fetches its fragment again.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the negotiations the session may read (the secretariat's form to open one) |
//! | `POST /negotiations` | open a negotiation |
//! | `GET /negotiations/{id}` | a negotiation's page, for the session's role |
//! | `GET /negotiations/{id}/live` | the same page's live fragment (for the script) |
//! | `POST /negotiations/{id}` | one action (a form): the command is sent as the session's actor |
//! | `GET /negotiations/{id}/clauses/{clause_id}` | one clause's history: its versions with word diffs, its proposals, every endorsement and objection over time |
//! | `GET /negotiations/{id}/audit` | the timeline, the agreement as of a version or instant, a diff, the live verification, downloads |
//! | `GET /sign-in?token=...` | the page a one-time sign-in link opens |
//! | `POST /sign-in` | uses the link: starts a session |
//! | `POST /sign-in/dev` | development mode only: a session as any actor |
//! | `POST /sign-out` | ends the session |
//! | `GET /lang/{code}` | the language switch |
//! | `GET /assets/{file}` | the stylesheet and the script, compiled into the binary |

#![warn(missing_docs)]

mod forms;
pub mod i18n;
mod pages;
mod routes;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use roundtable_app::CommandHandler;
use roundtable_domain::{Actor, NegotiationId, PartnerId};
use roundtable_projector::ViewStore;
use roundtable_store::EventStore;

pub use i18n::{I18n, Lang};
pub use session::{Session, Sessions};

/// Who a session acts as: the same principals as the API's tokens (roundtable-api's
/// `auth::Principal`, which converts to and from this one), with the same scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The secretariat of one negotiation, or (`None`) of every negotiation.
    Secretariat {
        /// Its negotiation; `None`: all.
        negotiation: Option<NegotiationId>,
    },
    /// One partner of one negotiation: it acts only as itself and only there.
    Partner {
        /// Its negotiation.
        negotiation: NegotiationId,
        /// Itself.
        partner: PartnerId,
    },
    /// Reads one negotiation, or (`None`) all; sends no command.
    Auditor {
        /// Its negotiation; `None`: all.
        negotiation: Option<NegotiationId>,
    },
    /// A system reading one negotiation, or (`None`) all; sends no command.
    Integration {
        /// Its negotiation; `None`: all.
        negotiation: Option<NegotiationId>,
    },
}

impl Principal {
    /// The negotiation it is scoped to (`None`: every negotiation).
    pub fn negotiation(&self) -> Option<&NegotiationId> {
        match self {
            Principal::Secretariat { negotiation }
            | Principal::Auditor { negotiation }
            | Principal::Integration { negotiation } => negotiation.as_ref(),
            Principal::Partner { negotiation, .. } => Some(negotiation),
        }
    }

    /// Whether it may read `negotiation`.
    pub fn may_read(&self, negotiation: &NegotiationId) -> bool {
        self.negotiation().is_none_or(|n| n == negotiation)
    }

    /// The actor it is in `negotiation`, or `None` when it may not send commands there
    /// (an auditor or integration, or another negotiation).
    pub fn actor_in(&self, negotiation: &NegotiationId) -> Option<Actor> {
        if !self.may_read(negotiation) {
            return None;
        }
        match self {
            Principal::Secretariat { .. } => Some(Actor::Secretariat),
            Principal::Partner { partner, .. } => Some(Actor::Partner(partner.clone())),
            Principal::Auditor { .. } | Principal::Integration { .. } => None,
        }
    }

    /// Whether it is an auditor (or integration): the audit page is its main page.
    pub fn is_reader(&self) -> bool {
        matches!(
            self,
            Principal::Auditor { .. } | Principal::Integration { .. }
        )
    }
}

/// Checks the token of a sign-in link. The API implements it with its token keys
/// (roundtable-api's `AuthConfig`) and its deny-list, so a link names exactly what a
/// bearer token names and a revoked token signs no one in.
#[async_trait::async_trait]
pub trait LinkVerifier: Send + Sync {
    /// The principal the token names and its expiry (`exp`, seconds since the Unix
    /// epoch).
    ///
    /// # Errors
    /// Why the token is not valid (expired, wrong key, malformed), in words.
    async fn verify(&self, token: &str) -> Result<(Principal, u64), String>;
}

/// What the pages share.
#[derive(Clone)]
pub struct WebState {
    /// Decides and records commands (the API's handler).
    pub handler: Arc<CommandHandler<dyn EventStore>>,
    /// The event log.
    pub events: Arc<dyn EventStore>,
    /// The projected views.
    pub views: Arc<dyn ViewStore>,
    /// Checks sign-in links.
    pub links: Arc<dyn LinkVerifier>,
    /// The sessions of this process.
    pub sessions: Arc<Sessions>,
    /// Development mode: anyone may start a session as any actor (the API's
    /// `--insecure-dev-mode`, loopback only).
    pub development: bool,
}

/// The address a one-time sign-in link opens: `{base}/sign-in?token={token}` (a token
/// is URL-safe as it is). `base` is where people reach the server
/// (`https://roundtable.example.org`); a trailing `/` is dropped.
pub fn sign_in_link(base: &str, token: &str) -> String {
    format!("{}/sign-in?token={token}", base.trim_end_matches('/'))
}

/// The web app's routes (see the crate's table), with their state applied, ready to
/// merge into a router of any state (the API's).
pub fn router<S: Clone + Send + Sync + 'static>(state: WebState) -> Router<S> {
    Router::new()
        .route("/", get(routes::index))
        .route("/negotiations", post(routes::open))
        .route(
            "/negotiations/{negotiation_id}",
            get(routes::negotiation).post(routes::act),
        )
        .route("/negotiations/{negotiation_id}/live", get(routes::live))
        .route("/negotiations/{negotiation_id}/audit", get(routes::audit))
        .route(
            "/negotiations/{negotiation_id}/clauses/{clause_id}",
            get(routes::clause),
        )
        .route("/sign-in", get(routes::sign_in_page).post(routes::sign_in))
        .route("/sign-in/dev", post(routes::sign_in_dev))
        .route("/sign-out", post(routes::sign_out))
        .route("/lang/{code}", get(routes::lang))
        .route("/assets/{file}", get(routes::asset))
        .with_state(state)
}
