//! `/healthz` (the process answers) and `/readyz` (the stores answer too).

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use roundtable_domain::NegotiationId;
use roundtable_projector::ViewStore;
use roundtable_store::EventStore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};

/// What `/readyz` asks: can requests be served now?
#[async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// `Ok` when ready; otherwise what is not reachable, in words.
    async fn check(&self) -> Result<(), String>;
}

/// Ready when the event store and the view store both answer a read.
///
/// On NATS both are JetStream, so this is "NATS is reachable and the stream and bucket
/// exist"; embedded, "the SQLite file can be read".
pub struct StoreReadiness {
    events: Arc<dyn EventStore>,
    views: Arc<dyn ViewStore>,
}

impl StoreReadiness {
    /// Checks `events` and `views`.
    pub fn new(events: Arc<dyn EventStore>, views: Arc<dyn ViewStore>) -> Self {
        StoreReadiness { events, views }
    }
}

#[async_trait]
impl Readiness for StoreReadiness {
    async fn check(&self) -> Result<(), String> {
        let probe = NegotiationId::new("readyz-probe").map_err(|e| e.to_string())?;
        self.events
            .last_version(&probe)
            .await
            .map_err(|e| format!("event store: {e}"))?;
        self.views
            .get(&probe)
            .await
            .map_err(|e| format!("view store: {e}"))?;
        Ok(())
    }
}

/// The body of a healthy `/healthz` or ready `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok` (healthz) or `ready` (readyz).
    pub status: String,
}

/// Liveness: the process answers. Needs no token.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "the process answers", body = Status)),
    security(())
)]
pub(crate) async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// Readiness: the event store (NATS or the embedded file) and the view store answer.
/// Needs no token, so it says only `store unavailable`, naming no URL or file; the
/// reason goes to the server's log.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "ready", body = Status),
        (status = 503, description = "a store is unreachable (code `not_ready`)", body = ErrorBody),
    ),
    security(())
)]
pub(crate) async fn readyz(State(state): State<ApiState>) -> Result<Json<Status>, ApiError> {
    match state.ready.check().await {
        Ok(()) => Ok(Json(Status {
            status: "ready".into(),
        })),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "not ready: store unavailable",
            ))
        }
    }
}
