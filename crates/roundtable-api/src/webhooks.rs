//! Webhooks, registered by the secretariat: `POST /v1/webhooks`, `GET /v1/webhooks`,
//! `DELETE /v1/webhooks/{id}`, and the dead letters of one
//! (`GET /v1/webhooks/{id}/dead-letters`, `POST .../dead-letters/replay`).
//! docs/INTEGRATIONS.md describes deliveries for receivers.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use roundtable_domain::{EventBody, NegotiationId};
use roundtable_store::Selection;
use roundtable_webhooks::{DeadLetter, Webhook, WebhookId, WebhookStore};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ErrorBody};

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET: usize = 16;
/// Longest secret accepted, in bytes.
pub const MAX_SECRET: usize = 512;

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWebhook {
    /// Where to post: `https://...` (or `http://...`). Refused when its host is, or
    /// resolves to, a link-local, metadata or loopback address, unless the operator
    /// allows the host.
    #[schema(examples("https://disclosure.example.org/roundtable"))]
    pub url: String,
    /// `"all"`, or the negotiation ids whose changes to deliver.
    #[schema(value_type = Object, examples(json!(["lakeside-water"])))]
    pub negotiations: Selection<NegotiationId>,
    /// `"all"` (the default), or the event types to deliver (`proposal_adopted`...).
    #[serde(default = "all")]
    #[schema(value_type = Object, examples(json!("all")))]
    pub event_types: Selection<String>,
    /// The shared secret deliveries are signed with, 16 to 512 bytes.
    pub secret: String,
}

fn all() -> Selection<String> {
    Selection::All
}

/// A webhook as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    /// Its id.
    pub id: String,
    /// Where deliveries go.
    pub url: String,
    /// `"all"` or the negotiation ids.
    #[schema(value_type = Object)]
    pub negotiations: Selection<NegotiationId>,
    /// `"all"` or the event types.
    #[schema(value_type = Object)]
    pub event_types: Selection<String>,
    /// When it was registered: it gets the changes recorded from then on.
    pub created_at: DateTime<Utc>,
    /// Who registered it.
    pub created_by: String,
}

impl From<&Webhook> for WebhookView {
    fn from(w: &Webhook) -> Self {
        WebhookView {
            id: w.id.to_string(),
            url: w.url.clone(),
            negotiations: w.negotiations.clone(),
            event_types: w.event_types.clone(),
            created_at: w.created_at,
            created_by: w.created_by.clone(),
        }
    }
}

/// The webhooks the principal may see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    /// By id.
    pub webhooks: Vec<WebhookView>,
}

/// A webhook's dead letters, by negotiation and version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterList {
    /// Each: `webhook_id`, `delivery_id`, `change`, `attempts`, `last_error`,
    /// `parked_at`, `replay` (a replay was asked for and is pending).
    #[schema(value_type = Vec<Object>)]
    pub dead_letters: Vec<DeadLetter>,
}

/// The answer to a replay request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Replaying {
    /// How many dead letters will be delivered again.
    pub replaying: usize,
}

fn store(state: &ApiState) -> Result<&dyn WebhookStore, ApiError> {
    state.webhooks.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks_unavailable",
            "this server keeps no webhooks",
        )
    })
}

/// The secretariat only.
fn secretariat(caller: &Caller) -> Result<Principal, ApiError> {
    let principal = caller.principal(None);
    match principal {
        Principal::Secretariat { .. } => Ok(principal),
        other => Err(ApiError::forbidden(
            "secretariat_only",
            format!(
                "only the secretariat manages webhooks, not {}",
                other.describe()
            ),
        )),
    }
}

/// Whether `principal` (a secretariat) may see and manage `webhook`: every
/// negotiation it selects is in the principal's scope.
fn may_manage(principal: &Principal, negotiations: &Selection<NegotiationId>) -> bool {
    match (principal.negotiation(), negotiations) {
        (None, _) => true,
        (Some(_), Selection::All) => false,
        (Some(scope), Selection::Only(ids)) => ids.iter().all(|id| id == scope),
    }
}

fn webhook_id(path: Result<Path<String>, PathRejection>) -> Result<WebhookId, ApiError> {
    let Path(raw) = path
        .map_err(|e| ApiError::bad_request("invalid_id", format!("bad path: {}", e.body_text())))?;
    WebhookId::new(&raw).map_err(|e| ApiError::bad_request("invalid_id", e))
}

async fn find(
    state: &ApiState,
    principal: &Principal,
    id: &WebhookId,
) -> Result<Webhook, ApiError> {
    let webhook = store(state)?
        .get(id)
        .await
        .map_err(|e| ApiError::from_store(e, "the webhook store"))?;
    match webhook {
        Some(w) if may_manage(principal, &w.negotiations) => Ok(w),
        _ => Err(ApiError::not_found(
            "webhook_not_found",
            format!("no webhook {id}"),
        )),
    }
}

/// Registers a webhook; it gets the changes recorded from now on.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "webhooks",
    request_body = RegisterWebhook,
    responses(
        (status = 201, description = "registered", body = WebhookView),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "not the secretariat, or a negotiation outside its scope", body = ErrorBody),
        (status = 422, description = "a bad field, or a refused URL (`webhook_url_refused`)", body = ErrorBody),
        (status = 503, description = "the webhook store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn register(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<Json<RegisterWebhook>, JsonRejection>,
) -> Result<Response, ApiError> {
    let principal = secretariat(&caller)?;
    let Json(body) = body.map_err(|e| match e {
        JsonRejection::JsonSyntaxError(_) | JsonRejection::BytesRejection(_) => {
            ApiError::bad_request("malformed_json", e.body_text())
        }
        other => ApiError::unprocessable("invalid_webhook", other.body_text()),
    })?;
    let webhooks = store(&state)?;
    if let Selection::Only(ids) = &body.negotiations {
        if ids.is_empty() {
            return Err(ApiError::unprocessable(
                "invalid_webhook",
                "negotiations is an empty list; give ids or \"all\"",
            ));
        }
    }
    if !may_manage(&principal, &body.negotiations) {
        return Err(ApiError::forbidden(
            "forbidden",
            format!(
                "{} may register webhooks only for its own negotiation",
                principal.describe()
            ),
        ));
    }
    if let Selection::Only(types) = &body.event_types {
        if types.is_empty() {
            return Err(ApiError::unprocessable(
                "invalid_webhook",
                "event_types is an empty list; give types or \"all\"",
            ));
        }
        if let Some(bad) = types
            .iter()
            .find(|t| !EventBody::TYPES.contains(&t.as_str()))
        {
            return Err(ApiError::unprocessable(
                "invalid_webhook",
                format!("unknown event type {bad:?}"),
            ));
        }
    }
    if !(MIN_SECRET..=MAX_SECRET).contains(&body.secret.len()) {
        return Err(ApiError::unprocessable(
            "invalid_webhook",
            format!(
                "the secret is {} bytes long; it must be {MIN_SECRET} to {MAX_SECRET}",
                body.secret.len()
            ),
        ));
    }
    state
        .webhook_policy
        .check(&body.url)
        .await
        .map_err(|e| ApiError::unprocessable("webhook_url_refused", e.to_string()))?;
    let webhook = Webhook {
        id: WebhookId::generate(),
        url: body.url,
        negotiations: body.negotiations,
        event_types: body.event_types,
        secret: body.secret,
        created_at: Utc::now(),
        created_by: principal.describe(),
    };
    webhooks
        .register(&webhook)
        .await
        .map_err(|e| ApiError::from_store(e, "the webhook store"))?;
    tracing::info!(webhook = %webhook.id, url = %webhook.url, "webhook registered");
    Ok((StatusCode::CREATED, Json(WebhookView::from(&webhook))).into_response())
}

/// The webhooks the secretariat may manage.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    responses(
        (status = 200, description = "the webhooks", body = WebhookList),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "not the secretariat", body = ErrorBody),
        (status = 503, description = "the webhook store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<WebhookList>, ApiError> {
    let principal = secretariat(&caller)?;
    let hooks = store(&state)?
        .list()
        .await
        .map_err(|e| ApiError::from_store(e, "the webhook store"))?;
    Ok(Json(WebhookList {
        webhooks: hooks
            .iter()
            .filter(|w| may_manage(&principal, &w.negotiations))
            .map(WebhookView::from)
            .collect(),
    }))
}

/// Removes a webhook, its dead letters and its place in the feed.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{webhook_id}",
    tag = "webhooks",
    params(("webhook_id" = String, Path, description = "the webhook")),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "a malformed webhook id (`invalid_id`)", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "not the secretariat", body = ErrorBody),
        (status = 404, description = "no such webhook", body = ErrorBody),
        (status = 503, description = "the webhook store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let principal = secretariat(&caller)?;
    let id = webhook_id(path)?;
    find(&state, &principal, &id).await?;
    store(&state)?
        .remove(&id)
        .await
        .map_err(|e| ApiError::from_store(e, "the webhook store"))?;
    tracing::info!(webhook = %id, "webhook removed");
    Ok(StatusCode::NO_CONTENT)
}

/// The deliveries given up after their last attempt.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}/dead-letters",
    tag = "webhooks",
    params(("webhook_id" = String, Path, description = "the webhook")),
    responses(
        (status = 200, description = "the dead letters", body = DeadLetterList),
        (status = 400, description = "a malformed webhook id (`invalid_id`)", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "not the secretariat", body = ErrorBody),
        (status = 404, description = "no such webhook", body = ErrorBody),
        (status = 503, description = "the webhook store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn dead_letters(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let principal = secretariat(&caller)?;
    let id = webhook_id(path)?;
    find(&state, &principal, &id).await?;
    let letters = store(&state)?
        .dead_letters(&id)
        .await
        .map_err(|e| ApiError::from_store(e, "the webhook store"))?;
    Ok(Json(DeadLetterList {
        dead_letters: letters,
    }))
}

/// Delivers the dead letters again (the delivery worker does it shortly, with the
/// usual retries; those delivered leave the list).
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/dead-letters/replay",
    tag = "webhooks",
    params(("webhook_id" = String, Path, description = "the webhook")),
    responses(
        (status = 202, description = "the replay is under way", body = Replaying),
        (status = 400, description = "a malformed webhook id (`invalid_id`)", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "not the secretariat", body = ErrorBody),
        (status = 404, description = "no such webhook", body = ErrorBody),
        (status = 503, description = "the webhook store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn replay(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let principal = secretariat(&caller)?;
    let id = webhook_id(path)?;
    find(&state, &principal, &id).await?;
    let replaying = store(&state)?
        .request_replay(&id)
        .await
        .map_err(|e| ApiError::from_store(e, "the webhook store"))?;
    tracing::info!(webhook = %id, replaying, "replay of dead letters asked for");
    Ok((StatusCode::ACCEPTED, Json(Replaying { replaying })).into_response())
}
