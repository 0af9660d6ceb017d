//! The one error shape of the API: `{"code": "...", "message": "..."}` with a status.
//!
//! Every error a client can see goes through [`ApiError`]'s `IntoResponse`: rejections
//! of the domain, handler and store errors, authentication, and the extractor
//! rejections (JSON syntax, path, query, body size) that axum would otherwise answer
//! in plain text. 5xx details are logged, never shown.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roundtable_app::AppError;
use roundtable_app::HandleError;
use roundtable_domain::{Rejection, RejectionKind};
use roundtable_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// Stable machine name of the error: the rule's code for a rejection
    /// (`blocking_objection_open`), or one of the API's codes (`unauthenticated`,
    /// `precondition_failed`...). See docs/API.md for the table.
    #[schema(examples("blocking_objection_open"))]
    pub code: String,
    /// What is wrong, in plain words, naming the offending value.
    #[schema(examples("proposal p-tariff-1 has an open blocking objection o-staff-1 by union"))]
    pub message: String,
}

/// An error answered to the client: a status, a stable `code` and a `message`.
///
/// Build one with the constructors; the status decides the extra headers
/// (`WWW-Authenticate` on 401, `Retry-After` on 503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    /// An `ETag` to send along (412: the version the negotiation is at).
    etag: Option<u64>,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            etag: None,
        }
    }

    /// 400: a malformed request (bad id in the path, bad query, bad header, bad JSON).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 `unauthenticated`: no token, or a token that is expired, malformed or signed
    /// with another key.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: the principal may not do this.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 422: well-formed JSON that is not a valid command.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 503 `store_unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            message,
        )
    }

    /// 503 `event_log_missing`: the event stream is gone (deleted, or the server lost
    /// its store), so nothing was recorded and a retry will not help until an operator
    /// restores it. `reason` (which names the server) is logged, not sent.
    pub fn log_missing(reason: &str) -> Self {
        tracing::error!(%reason, "the event stream is missing");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "event_log_missing",
            "the event stream is missing: nothing was recorded; the operator must restore it \
             before commands can be taken",
        )
    }

    /// 500 `internal`: `detail` is logged, the client sees a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the details are in the server log",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A store error met while reading (`what` says what was being read).
    pub fn from_store(error: StoreError, what: &str) -> Self {
        match error {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "store unavailable");
                Self::unavailable(format!("{what} is unreachable; try again later"))
            }
            StoreError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                format!("{what} changed while it was read; try again"),
            ),
            StoreError::LogMissing(reason) => Self::log_missing(&reason),
            other => Self::internal(other),
        }
    }
}

impl From<AppError> for ApiError {
    /// The one mapping of the application layer's answers to HTTP: 404 for what is not
    /// recorded (`negotiation_not_found`, `negotiation_not_yet_opened`,
    /// `version_not_found`), 400 `invalid_query` for a request that contradicts itself
    /// or a bad OCDS option, 409 `view_mismatch`, 503 for an unreachable store, 500 for
    /// a log that does not fold.
    fn from(e: AppError) -> Self {
        let message = e.to_string();
        match e {
            AppError::NotRecorded { negotiation } => Self::not_found(
                "negotiation_not_found",
                format!("negotiation {negotiation} has no recorded events"),
            ),
            AppError::NoView { .. } => Self::not_found("negotiation_not_found", message),
            AppError::NotYetOpened { .. } => Self::not_found("negotiation_not_yet_opened", message),
            AppError::VersionNotFound { .. } => Self::not_found("version_not_found", message),
            AppError::InvalidRequest(_) | AppError::Ocds(_) => {
                Self::bad_request("invalid_query", message)
            }
            AppError::ViewMismatch { negotiation, .. } => Self::new(
                StatusCode::CONFLICT,
                "view_mismatch",
                format!("{message}; GET /v1/negotiations/{negotiation}/verify says more"),
            ),
            AppError::Corrupt { .. } => Self::internal(message),
            AppError::NoCheckpoint { .. } => Self::not_found("checkpoint_not_found", message),
            AppError::Rewritten { .. } => Self::new(StatusCode::CONFLICT, "log_rewritten", message),
            AppError::Cosignature(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cosignature_refused",
                message,
            ),
            AppError::Store { port, source } => Self::from_store(source, port.describe()),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let status = match r.kind {
            RejectionKind::NotFound => StatusCode::NOT_FOUND,
            RejectionKind::Forbidden => StatusCode::FORBIDDEN,
            RejectionKind::Conflict => StatusCode::CONFLICT,
            RejectionKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, r.code, r.message)
    }
}

impl From<HandleError> for ApiError {
    fn from(e: HandleError) -> Self {
        match e {
            HandleError::Rejected(r) => r.into(),
            HandleError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                e.to_string(),
            ),
            HandleError::PreconditionFailed { actual, .. } => {
                let mut err = Self::new(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                    e.to_string(),
                );
                err.etag = Some(actual);
                err
            }
            HandleError::Store(StoreError::Unavailable(reason)) => {
                tracing::warn!(%reason, "event store unavailable");
                Self::unavailable(
                    "the event store is unreachable; the command may or may not have been \
                     recorded: retry with the same Idempotency-Key",
                )
            }
            HandleError::Store(StoreError::LogMissing(reason)) => Self::log_missing(&reason),
            HandleError::Store(StoreError::Conflict { .. }) => Self::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                e.to_string(),
            ),
            HandleError::Store(other) => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let etag = self.etag;
        let body = ErrorBody {
            code: self.code.into_owned(),
            message: self.message,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"roundtable\""),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        if let Some(version) = etag {
            headers.insert(header::ETAG, crate::etag(version));
        }
        response
    }
}
