//! For operators: the entries the projector parked (`GET /v1/parked`) and the
//! Prometheus metrics of this process (`GET /metrics`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use roundtable_metrics::Exporter;
use roundtable_projector::ParkedEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// The parked entries a principal may see, by position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParkedList {
    /// Entries the projector could not project: each one's negotiation (if known) has a
    /// stale view until the views are rebuilt (`roundtable project --rebuild`).
    pub parked: Vec<ParkedEntry>,
}

/// The feed entries the projector parked: messages on a negotiation's subject that
/// are not events, fail their hash, have a schema version this build does not know,
/// or do not follow on from the stored view. Each one marks its negotiation's view as
/// stale (`Roundtable-View-Stale: true` on the view, `stale: true` in the list).
///
/// A principal scoped to one negotiation sees that negotiation's entries; one scoped
/// to every negotiation also sees entries whose negotiation is unknown.
#[utoipa::path(
    get,
    path = "/v1/parked",
    tag = "operations",
    responses(
        (status = 200, description = "the parked entries in scope, by position", body = ParkedList),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 503, description = "the view store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn parked(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<ParkedList>, ApiError> {
    let principal = caller.principal(None);
    let parked = state
        .views
        .parked()
        .await
        .map_err(|e| ApiError::from_store(e, "the view store"))?
        .into_iter()
        .filter(|e| match &e.negotiation_id {
            Some(n) => principal.may_read(n),
            None => principal.negotiation().is_none(),
        })
        .collect();
    Ok(Json(ParkedList { parked }))
}

/// The metrics of this process in the Prometheus text format (docs/OPERATIONS.md,
/// "Monitoring"): commands by kind and outcome, append latency, conflicts and retries,
/// the projector's lag and parked entries, webhook deliveries, the NATS connection.
/// Needs no token by default, like the health checks: it holds counts, never a
/// negotiation id or anything a client wrote. Keep it on the internal network, or give
/// `--metrics-token-file` (then it needs `Authorization: Bearer <that token>`) or
/// `--metrics-listen` (then it is served on that address only, and 404 here).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses(
        (status = 200, description = "the metrics, Prometheus text format 0.0.4", content_type = "text/plain"),
        (status = 401, description = "a metrics token is configured and was not given", body = ErrorBody),
        (status = 404, description = "the metrics are served on another address", body = ErrorBody),
    ),
    security(())
)]
pub(crate) async fn metrics() -> Response {
    render_metrics().await
}

/// The metrics as text, for any router.
pub(crate) async fn render_metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(Exporter::CONTENT_TYPE),
        )],
        Exporter::global().render(),
    )
        .into_response()
}
