//! Signed checkpoints, proofs and cosignatures over HTTP (docs/API.md,
//! "Checkpoints"; docs/AUDIT.md, "Checkpoints"): the latest checkpoint and the history
//! of them, inclusion and consistency proofs, the log's verifier keys, and the
//! cosignatures witnesses send. Each route calls `roundtable_app::checkpoints`, as
//! the CLI does.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roundtable_app::checkpoints::{CheckpointStore, Cosignature, StoredCheckpoint};
use roundtable_audit::anchor::{ConsistencyProof, InclusionProof};
use roundtable_domain::NegotiationId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::reads::{query_rejection, version_param};
use crate::{ApiState, negotiation_id};

/// The content type of a signed note.
pub const NOTE: &str = "text/plain; charset=utf-8";

fn store(state: &ApiState) -> Result<&CheckpointStore, ApiError> {
    state.checkpoints.as_deref().ok_or_else(|| {
        ApiError::not_found(
            "checkpoints_not_configured",
            "this server signs no checkpoints: it was started without a log key (serve --log-key-file)",
        )
    })
}

fn authorize(caller: &Caller, negotiation: &NegotiationId) -> Result<(), ApiError> {
    let principal = caller.principal(Some(negotiation));
    if principal.may_read(negotiation) {
        Ok(())
    } else {
        Err(principal.out_of_scope(negotiation))
    }
}

fn note_response(text: String) -> Response {
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NOTE));
    response
}

/// Query of `GET /v1/negotiations/{negotiation_id}/checkpoint`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CheckpointQuery {
    /// The checkpoint of this tree size (default: the latest).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    size: Option<u64>,
}

/// The latest signed checkpoint of the negotiation's log (or the one at `size`), as a
/// C2SP signed note (c2sp.org/tlog-checkpoint): origin, tree size, base64 root, the
/// last event's hash and time, a blank line, the log's signature line, then every
/// cosignature witnesses sent for it. `roundtable verify FILE --checkpoint CP
/// --log-key KEY` takes it as it is.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/checkpoint",
    tag = "checkpoints",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation"), CheckpointQuery),
    responses(
        (status = 200, description = "the signed note, with cosignatures", content_type = "text/plain", body = String),
        (status = 400, description = "bad id or query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "`checkpoint_not_found`: none kept (yet, or at that size); `checkpoints_not_configured`: the server has no log key", body = ErrorBody),
        (status = 503, description = "the checkpoint store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn latest(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<CheckpointQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    let size = version_param("size", query.size)?;
    authorize(&caller, &negotiation)?;
    let cp = store(&state)?.get(&negotiation, size).await?;
    Ok(note_response(cp.cosigned_note()))
}

/// Every checkpoint kept of a negotiation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckpointHistory {
    /// The negotiation.
    pub negotiation_id: String,
    /// Its checkpoints, smallest size first.
    pub checkpoints: Vec<StoredCheckpoint>,
}

/// Every checkpoint the server signed of the negotiation's log, smallest first (each
/// size once), with their cosignatures. A client keeps the last it saw and asks for a
/// consistency proof from it to the next.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/checkpoints",
    tag = "checkpoints",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation")),
    responses(
        (status = 200, description = "the history of checkpoints (empty when none is kept yet)", body = CheckpointHistory),
        (status = 400, description = "bad id or query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "`checkpoints_not_configured`: the server has no log key", body = ErrorBody),
        (status = 503, description = "the checkpoint store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn history(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<crate::audit::NoQuery>, QueryRejection>,
) -> Result<Json<CheckpointHistory>, ApiError> {
    let negotiation = negotiation_id(path)?;
    query.map_err(query_rejection)?;
    authorize(&caller, &negotiation)?;
    let checkpoints = store(&state)?.history(&negotiation).await?;
    Ok(Json(CheckpointHistory {
        negotiation_id: negotiation.to_string(),
        checkpoints,
    }))
}

/// Query of the inclusion proof.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct InclusionQuery {
    /// The event's version (1 to `size`).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    version: u64,
    /// The tree size (default: every event recorded).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    size: Option<u64>,
}

/// The RFC 9162 inclusion proof (2.1.3) of the event at `version` in the tree of the
/// first `size` events: verify it against the root of a checkpoint of that size.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/proof/inclusion",
    tag = "checkpoints",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation"), InclusionQuery),
    responses(
        (status = 200, description = "the proof, hashes in hex from the leaf upwards", body = InclusionProof),
        (status = 400, description = "bad id or query (`version` 0 or after `size`)", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded (`negotiation_not_found`), or `size` past the last version (`version_not_found`)", body = ErrorBody),
        (status = 503, description = "the event store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn inclusion(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<InclusionProof>, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    let version = version_param("version", Some(query.version))?.unwrap_or(query.version);
    let size = version_param("size", query.size)?;
    authorize(&caller, &negotiation)?;
    let proof =
        roundtable_app::checkpoints::inclusion(&*state.events, &negotiation, version, size).await?;
    Ok(Json(proof))
}

/// Query of the consistency proof.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConsistencyQuery {
    /// The old tree size.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    old: u64,
    /// The new tree size, at least `old` (default: every event recorded).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    new: Option<u64>,
}

/// The RFC 9162 consistency proof (2.1.4) that the tree of the first `old` events is
/// a prefix of the tree of the first `new`: what a witness checks before it cosigns.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/proof/consistency",
    tag = "checkpoints",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation"), ConsistencyQuery),
    responses(
        (status = 200, description = "the proof, hashes in hex", body = ConsistencyProof),
        (status = 400, description = "bad id or query (`old` after `new`)", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded (`negotiation_not_found`), or `new` past the last version (`version_not_found`)", body = ErrorBody),
        (status = 503, description = "the event store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn consistency(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    let old = version_param("old", Some(query.old))?.unwrap_or(query.old);
    let new = version_param("new", query.new)?;
    authorize(&caller, &negotiation)?;
    let new = match new {
        Some(n) => n,
        None => state
            .events
            .last_version(&negotiation)
            .await
            .map_err(|e| ApiError::from_store(e, "the event store"))?,
    };
    let proof =
        roundtable_app::checkpoints::consistency(&*state.events, &negotiation, old, new).await?;
    Ok(Json(proof))
}

/// The log's verifier keys, one a line (c2sp.org/signed-note verifier keys: the
/// current one first, then the keys it had before a rotation, so that older
/// checkpoints keep verifying). Get them once, over a channel you trust, and pin
/// them: a key fetched from the server it is meant to check proves nothing by itself.
#[utoipa::path(
    get,
    path = "/v1/log-key",
    tag = "checkpoints",
    responses(
        (status = 200, description = "verifier keys, one a line", content_type = "text/plain", body = String),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "`checkpoints_not_configured`: the server has no log key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn log_key(
    State(state): State<ApiState>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    store(&state)?;
    let text: String = state.log_keys.iter().map(|k| format!("{k}\n")).collect();
    Ok(note_response(text))
}

/// The body of `POST .../checkpoint/cosignatures`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CosignRequest {
    /// The witness's verifier key (type 0x04, c2sp.org/tlog-cosignature).
    #[schema(examples("witness.example.org+1b2c3d4e+BG..."))]
    pub witness_key: String,
    /// The checkpoint's signed note with the witness's cosignature line added (as
    /// `roundtable witness` sends it); lines by other keys are ignored.
    pub note: String,
}

/// The cosignatures kept of one checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CosignatureList {
    /// The checkpoint's size.
    pub size: u64,
    /// Its cosignatures, in the order of the witnesses' key ids.
    pub cosignatures: Vec<Cosignature>,
}

/// Adds a witness's cosignature of a kept checkpoint. The server checks that the
/// note's checkpoint text is exactly the one it keeps at that size and that the
/// cosignature line by `witness_key` verifies; it then serves the line with the
/// checkpoint. It cannot check that the witness checked consistency: whoever trusts
/// the witness's key trusts that.
#[utoipa::path(
    post,
    path = "/v1/negotiations/{negotiation_id}/checkpoint/cosignatures",
    tag = "checkpoints",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation")),
    request_body = CosignRequest,
    responses(
        (status = 201, description = "kept", body = Cosignature),
        (status = 400, description = "bad id or malformed JSON", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "`checkpoint_not_found`: no checkpoint kept at the note's size", body = ErrorBody),
        (status = 422, description = "`cosignature_refused`: not a cosignature key, another checkpoint's text, or a line that does not verify", body = ErrorBody),
        (status = 503, description = "the checkpoint store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_cosignature(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<CosignRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Json(body) = body.map_err(|e| match e {
        JsonRejection::JsonSyntaxError(_) | JsonRejection::BytesRejection(_) => {
            ApiError::bad_request("malformed_json", e.body_text())
        }
        other => ApiError::unprocessable("cosignature_refused", other.body_text()),
    })?;
    authorize(&caller, &negotiation)?;
    let kept = store(&state)?
        .add_cosignature(&negotiation, &body.witness_key, &body.note)
        .await?;
    Ok((StatusCode::CREATED, Json(kept)).into_response())
}

/// The cosignatures witnesses sent for the checkpoint at `size` (default: the latest).
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/checkpoint/cosignatures",
    tag = "checkpoints",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation"), CheckpointQuery),
    responses(
        (status = 200, description = "the cosignatures", body = CosignatureList),
        (status = 400, description = "bad id or query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "`checkpoint_not_found`", body = ErrorBody),
        (status = 503, description = "the checkpoint store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cosignatures(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<CheckpointQuery>, QueryRejection>,
) -> Result<Json<CosignatureList>, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    let size = version_param("size", query.size)?;
    authorize(&caller, &negotiation)?;
    let store = store(&state)?;
    let cp = store.get(&negotiation, size).await?;
    let cosignatures = store.cosignatures(&negotiation, cp.size).await?;
    Ok(Json(CosignatureList {
        size: cp.size,
        cosignatures,
    }))
}
