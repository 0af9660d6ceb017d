//! The HTTP API of Roundtable (axum): commands, agreement views and events as JSON, with
//! bearer-token principals, idempotency keys, `If-Match`, and an OpenAPI document
//! generated from the code at `/openapi.json`. docs/API.md describes it for clients.
//!
//! The binary builds an [`ApiState`] over its stores and an [`AuthConfig`], and serves
//! [`router`]. The router spawns nothing of its own, so `axum::serve(...)
//! .with_graceful_shutdown(signal)` finishes the requests in flight and stops.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/negotiations/{id}/commands` | one command: 201 with the event, 200 when replayed, or the rejection |
//! | `GET /v1/negotiations` | the negotiations the principal may read |
//! | `GET /v1/negotiations/{id}` | the agreement view, with `ETag`, optionally waiting for a version; or as of a version or instant, folded from the log |
//! | `GET /v1/negotiations/{id}/events` | the events, paged |
//! | `GET /v1/negotiations/{id}/diff` | what changed between two versions ([`roundtable_audit::AgreementDiff`]) |
//! | `GET /v1/negotiations/{id}/export` | the export file, for offline verification |
//! | `GET /v1/negotiations/{id}/ocds` | the OCDS release package (PPP profile), or `?compiled=true` the record |
//! | `GET /v1/negotiations/{id}/verify` | the live verification report ([`roundtable_audit::VerifyReport`]) |
//! | `GET /v1/negotiations/{id}/report` | the HTML audit report |
//! | `GET /v1/negotiations/{id}/checkpoint`, `.../checkpoints` | the latest signed checkpoint (a C2SP signed note, with cosignatures), the history of them |
//! | `GET /v1/negotiations/{id}/proof/inclusion`, `.../proof/consistency` | RFC 9162 proofs |
//! | `POST`, `GET /v1/negotiations/{id}/checkpoint/cosignatures` | witnesses' cosignatures |
//! | `GET /v1/log-key` | the log's verifier keys |
//! | `GET /v1/negotiations/{id}/changes` | the changes as Server-Sent Events, resuming after `Last-Event-ID` |
//! | `POST /v1/webhooks`, `GET /v1/webhooks`, `DELETE /v1/webhooks/{id}` | webhooks, by the secretariat |
//! | `GET /v1/webhooks/{id}/dead-letters`, `POST .../dead-letters/replay` | deliveries given up, and delivering them again |
//! | `GET /v1/parked` | the feed entries the projector parked (their views are stale) |
//! | `GET /healthz`, `GET /readyz` | liveness, readiness |
//! | `GET /metrics` | the process's metrics, Prometheus text format |
//! | `GET /openapi.json` | the OpenAPI document |
//! | `/`, `/negotiations/...`, `/sign-in`... | the web app ([`roundtable_web`]): pages for people, on the same port |
//!
//! The `GET` routes of `/v1` also accept a web session's cookie instead of a bearer
//! token (the live page's change stream, the audit page's downloads); commands need a
//! token, or a form of the web app with its CSRF token.

#![warn(missing_docs)]

pub mod audit;
pub mod auth;
pub mod changes;
pub mod checkpoints;
pub mod commands;
pub mod error;
pub mod guards;
pub mod health;
pub mod openapi;
pub mod operations;
pub mod reads;
pub mod revocation;
pub mod server;
pub mod web;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use roundtable_app::CommandHandler;
use roundtable_domain::NegotiationId;
use roundtable_projector::ViewStore;
use roundtable_store::{ChangeWatch, EventStore};
use roundtable_webhooks::UrlPolicy;
use roundtable_webhooks::WebhookStore;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::{
    AuthConfig, AuthConfigError, Caller, Claims, MintError, MintedToken, Principal, TokenPolicy,
    TokenRole, is_loopback,
};
pub use error::{ApiError, ErrorBody};
pub use guards::{Guards, Limits, MetricsAccess, Rate, is_loopback_host, metrics_router};
pub use health::{Readiness, StoreReadiness};
pub use server::{ConnectionLimits, serve};

/// The most bytes one character of a JSON string can take: a character outside the
/// Basic Multilingual Plane written as an escaped surrogate pair, `\uD83D\uDE00`.
pub const MAX_ESCAPED_CHAR_BYTES: usize = 12;

/// The most characters of text one command carries: a proposal's text and rationale
/// ([`MAX_TEXT_CHARS`](roundtable_domain::MAX_TEXT_CHARS) each) and its title
/// ([`MAX_SHORT_CHARS`](roundtable_domain::MAX_SHORT_CHARS)), the largest of the
/// commands of DOMAIN.md; no command has more than two long texts.
pub const MAX_COMMAND_TEXT_CHARS: usize =
    2 * roundtable_domain::MAX_TEXT_CHARS + roundtable_domain::MAX_SHORT_CHARS;

/// Room for everything else of a command, in bytes: the field names, ids (at most
/// [`MAX_ID_LEN`](roundtable_domain::id::MAX_ID_LEN) characters each), the time, and
/// white space between tokens, even all escaped.
pub const COMMAND_OVERHEAD_BYTES: usize = 64 * 1024;

/// Largest request body accepted, in bytes: the largest legal command in any legal
/// encoding fits, every character of its text escaped
/// ([`MAX_COMMAND_TEXT_CHARS`] × [`MAX_ESCAPED_CHAR_BYTES`] + [`COMMAND_OVERHEAD_BYTES`]
/// = 551,536 bytes, about 539 KiB). A maximal proposal written as Python's `json.dumps`
/// writes it (ASCII only, every other character `\uXXXX`) is about 486 KB.
pub const MAX_BODY_BYTES: usize =
    MAX_COMMAND_TEXT_CHARS * MAX_ESCAPED_CHAR_BYTES + COMMAND_OVERHEAD_BYTES;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// Decides and records commands.
    pub handler: Arc<CommandHandler<dyn EventStore>>,
    /// The event log (for `/events`).
    pub events: Arc<dyn EventStore>,
    /// The projection (for the views and the list).
    pub views: Arc<dyn ViewStore>,
    /// How requests are authenticated.
    pub auth: Arc<AuthConfig>,
    /// What `/readyz` checks.
    pub ready: Arc<dyn Readiness>,
    /// Signals new changes to Server-Sent Events streams (NATS); `None`: they poll.
    pub watch: Option<Arc<dyn ChangeWatch>>,
    /// Where webhooks are kept; `None`: the webhook routes answer 503.
    pub webhooks: Option<Arc<dyn WebhookStore>>,
    /// Which webhook URLs are refused.
    pub webhook_policy: Arc<UrlPolicy>,
    /// Becomes `true` at shutdown: endless responses (Server-Sent Events) end, so
    /// that a graceful shutdown does not wait for them.
    pub shutdown: Option<watch::Receiver<bool>>,
    /// The web app's sessions (the `GET` routes accept them too).
    pub sessions: Arc<roundtable_web::Sessions>,
    /// The deny-list of revoked tokens; `None`: no token is refused as revoked.
    pub revocations: Option<Arc<revocation::Revocations>>,
    /// The signed checkpoints kept; `None`: the checkpoint routes answer 404
    /// `checkpoints_not_configured`.
    pub checkpoints: Option<Arc<roundtable_app::checkpoints::CheckpointStore>>,
    /// The log's verifier keys served at `/v1/log-key` (the current first).
    pub log_keys: Arc<Vec<roundtable_checkpoint::VerifierKey>>,
    /// The overdue announcements (bucket `ROUNDTABLE_OVERDUE`), which Server-Sent
    /// Events streams carry between the events' changes; `None`: they carry none.
    pub overdue: Option<Arc<dyn roundtable_store::KvStore>>,
    /// The request timeout, heavy-route and rate limits, and who may read `/metrics`.
    pub guards: Arc<Guards>,
}

impl ApiState {
    /// A state over `events` and `views`, with a new [`CommandHandler`] and a
    /// [`StoreReadiness`] over both stores.
    pub fn new(events: Arc<dyn EventStore>, views: Arc<dyn ViewStore>, auth: AuthConfig) -> Self {
        ApiState {
            handler: Arc::new(CommandHandler::new(events.clone())),
            ready: Arc::new(StoreReadiness::new(events.clone(), views.clone())),
            events,
            views,
            auth: Arc::new(auth),
            watch: None,
            webhooks: None,
            webhook_policy: Arc::new(UrlPolicy::default()),
            shutdown: None,
            sessions: Arc::new(roundtable_web::Sessions::new()),
            revocations: None,
            checkpoints: None,
            log_keys: Arc::new(Vec::new()),
            overdue: None,
            guards: Arc::new(Guards::default()),
        }
    }

    /// Refuses tokens on `revocations`' deny-list (bearer tokens and sign-in links).
    pub fn with_revocations(mut self, revocations: Arc<revocation::Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Serves the checkpoint routes over `store`, and `log_keys` at `/v1/log-key`;
    /// exports carry the latest kept checkpoint.
    pub fn with_checkpoints(
        mut self,
        store: roundtable_app::checkpoints::CheckpointStore,
        log_keys: Vec<roundtable_checkpoint::VerifierKey>,
    ) -> Self {
        self.checkpoints = Some(Arc::new(store));
        self.log_keys = Arc::new(log_keys);
        self
    }

    /// Lets Server-Sent Events streams carry the overdue announcements kept in
    /// `announcements` (the bucket [`roundtable_store::overdue::OVERDUE_BUCKET`]).
    pub fn with_overdue(mut self, announcements: Arc<dyn roundtable_store::KvStore>) -> Self {
        self.overdue = Some(announcements);
        self
    }

    /// Bounds requests as `limits` say (default: [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.guards = Arc::new(Guards::new(limits));
        self
    }

    /// Lets Server-Sent Events streams learn of new changes from `watch` rather than
    /// by polling the log every 200 ms.
    pub fn with_change_watch(mut self, watch: Arc<dyn ChangeWatch>) -> Self {
        self.watch = Some(watch);
        self
    }

    /// Serves the webhook routes over `store`, refusing URLs as `policy` says.
    pub fn with_webhooks(mut self, store: Arc<dyn WebhookStore>, policy: UrlPolicy) -> Self {
        self.webhooks = Some(store);
        self.webhook_policy = Arc::new(policy);
        self
    }

    /// Ends endless responses once `shutdown` holds `true`.
    pub fn with_shutdown(mut self, shutdown: watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Replaces what `/readyz` checks (the binary on NATS also checks the connection).
    pub fn with_readiness(mut self, ready: Arc<dyn Readiness>) -> Self {
        self.ready = ready;
        self
    }
}

/// The API's routes, with JSON errors for every failure (unknown route, wrong method,
/// oversized body, panic), a request id (`x-request-id`, set when absent and echoed)
/// and a tracing span per request carrying the negotiation id.
pub fn router(state: ApiState) -> Router {
    // Record from now on, not from the first scrape.
    let metrics = roundtable_metrics::Exporter::global();
    if !metrics.is_installed() {
        tracing::warn!("another metrics recorder is installed: /metrics serves nothing");
    }
    let document: Arc<str> = match serde_json::to_string(&openapi::document()) {
        Ok(json) => json.into(),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize the OpenAPI document");
            Arc::from("{}")
        }
    };
    let web = web::web_state(&state);
    let heavy = || axum::middleware::from_fn_with_state(state.clone(), guards::heavy);
    let v1 = Router::new()
        .route("/v1/negotiations", get(reads::list))
        .route(
            "/v1/negotiations/{negotiation_id}",
            get(reads::view).route_layer(heavy()),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/commands",
            post(commands::send),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/events",
            get(reads::events),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/diff",
            get(audit::diff).route_layer(heavy()),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/export",
            get(audit::export).route_layer(heavy()),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/ocds",
            get(audit::ocds).route_layer(heavy()),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/verify",
            get(audit::verify).route_layer(heavy()),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/report",
            get(audit::report).route_layer(heavy()),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/checkpoint",
            get(checkpoints::latest),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/checkpoints",
            get(checkpoints::history),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/checkpoint/cosignatures",
            get(checkpoints::cosignatures).post(checkpoints::add_cosignature),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/proof/inclusion",
            get(checkpoints::inclusion),
        )
        .route(
            "/v1/negotiations/{negotiation_id}/proof/consistency",
            get(checkpoints::consistency),
        )
        .route("/v1/log-key", get(checkpoints::log_key))
        .route(
            "/v1/negotiations/{negotiation_id}/changes",
            get(changes::changes),
        )
        .route("/v1/webhooks", post(webhooks::register).get(webhooks::list))
        .route("/v1/webhooks/{webhook_id}", delete(webhooks::remove))
        .route(
            "/v1/webhooks/{webhook_id}/dead-letters",
            get(webhooks::dead_letters),
        )
        .route(
            "/v1/webhooks/{webhook_id}/dead-letters/replay",
            post(webhooks::replay),
        )
        .route("/v1/parked", get(operations::parked))
        .merge(roundtable_web::router(web))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guards::rate_limit,
        ));
    let development = state.auth.is_development();
    let app = Router::new()
        .route(
            "/metrics",
            get(operations::metrics).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                guards::metrics_access,
            )),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        document.to_string(),
                    )
                }
            }),
        )
        .merge(v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guards::timeout,
        ));
    // Development mode: only requests addressed to the loopback (DNS rebinding).
    let app = if development {
        app.layer(axum::middleware::from_fn(guards::loopback_host))
    } else {
        app
    };
    app.layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http().make_span_with(span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// A strong ETag of a negotiation version: `"12"`.
pub(crate) fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The negotiation id of the path, checked against the grammar of DOMAIN.md.
pub(crate) fn negotiation_id(
    path: Result<Path<String>, PathRejection>,
) -> Result<NegotiationId, ApiError> {
    let Path(raw) = path
        .map_err(|e| ApiError::bad_request("invalid_id", format!("bad path: {}", e.body_text())))?;
    NegotiationId::new(raw).map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(
        "route_not_found",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

/// The span of one request: method, path, request id and, on the negotiation routes,
/// the negotiation id (only when it is a valid id, so nothing odd reaches the logs).
fn span(request: &Request<Body>) -> tracing::Span {
    let negotiation = request
        .uri()
        .path()
        .strip_prefix("/v1/negotiations/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| NegotiationId::new(id).ok());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match negotiation {
        Some(id) => tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id,
            negotiation_id = %id,
        ),
        None => tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id,
        ),
    }
}
