//! The auditor's reads (docs/AUDIT.md) over HTTP: the agreement view as it stood at a
//! version or an instant, what changed between two versions, the export, the live
//! verification and the HTML audit report.
//!
//! All of them fold the event log from its first event; none reads a stored snapshot.
//! The projection (the [`roundtable_projector::ViewStore`]) is read only to be checked
//! against that fold, as `roundtable export`, `verify --negotiation` and `report` do.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use roundtable_app::ocds::Package;
use roundtable_app::time::instant;
use roundtable_audit::{AgreementDiff, TimeAxis, VerifyReport};
use roundtable_domain::NegotiationId;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::reads::{VIEW_VERSION, query_rejection, version_param};
use crate::{ApiState, negotiation_id};

/// The response header naming the point a time-travel view shows: `version=27`, and
/// for an instant `version=27; at=2027-02-01T18:00:00Z; time=occurred`.
pub const AS_OF: &str = "roundtable-as-of";

/// The response header listing (the first 100 of) the late entries of a view as of an
/// instant: versions after the view whose time is at or before the instant.
pub const LATE_ENTRIES: &str = "roundtable-late-entries";

/// Most late entries named in [`LATE_ENTRIES`].
const MAX_LATE_ENTRIES: usize = 100;

/// Longest wait, in milliseconds, for the projection to reach the event log before
/// the two are compared (export, verify, report): a projector a moment behind a
/// command just recorded is not a mismatch ([`roundtable_app::audit::CATCH_UP`]).
pub const CATCH_UP_MS: u64 = 2_000;

const CATCH_UP: Duration = Duration::from_millis(CATCH_UP_MS);

/// The content type of an export.
pub const NDJSON: &str = "application/x-ndjson";

/// Which clock `as_of` is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Business time: the events' `occurred_at` (the minutes' `at`).
    Occurred,
    /// Server time: the events' `recorded_at`.
    Recorded,
}

impl From<Clock> for TimeAxis {
    fn from(clock: Clock) -> TimeAxis {
        match clock {
            Clock::Occurred => TimeAxis::Occurred,
            Clock::Recorded => TimeAxis::Recorded,
        }
    }
}

/// A point in a negotiation's history: the application layer's, never `Now` here
/// (a query without a point reads the projected view).
pub(crate) use roundtable_app::AsOf;

/// Reads the point a view's query names, if any (`None`: the projected view).
/// `waits` says whether `min_version` or `wait_ms` was given: they concern the
/// projection, so they do not go with a point in the past.
pub(crate) fn as_of_from_query(
    as_of_version: Option<u64>,
    as_of: Option<&str>,
    time: Option<Clock>,
    waits: bool,
) -> Result<Option<AsOf>, ApiError> {
    let point = match (as_of_version, as_of, time) {
        (Some(_), Some(_), _) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "give as_of_version or as_of, not both",
            ));
        }
        (_, None, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "time names the clock of as_of; it goes only with as_of",
            ));
        }
        (Some(n), None, None) => {
            AsOf::Version(version_param("as_of_version", Some(n))?.unwrap_or(n))
        }
        (None, Some(raw), time) => {
            AsOf::Time(parse_instant(raw)?, time.unwrap_or(Clock::Occurred).into())
        }
        (None, None, None) => return Ok(None),
    };
    if waits {
        return Err(ApiError::bad_request(
            "invalid_query",
            "min_version and wait_ms wait for the projection; they do not go with \
             as_of_version or as_of",
        ));
    }
    Ok(Some(point))
}

/// Parses `as_of` with the application layer's one parser; the message adds how to
/// send a `+` in a query string.
fn parse_instant(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    roundtable_app::parse_instant(raw)
        .map_err(|e| ApiError::bad_request("invalid_query", format!("as_of {e}; send + as %2B")))
}

/// The view of `negotiation` at `at`, folded from the log, with the headers that say
/// which point it is (the projected view's handler calls this when the query names a
/// point).
pub(crate) async fn view_as_of(
    state: &ApiState,
    negotiation: &NegotiationId,
    at: AsOf,
    today: Option<chrono::NaiveDate>,
) -> Result<Response, ApiError> {
    let point = roundtable_app::history::view_as_of(&*state.events, negotiation, at).await?;
    let version = point.version;
    let shown = match at {
        AsOf::Time(t, axis) => format!(
            "version={version}; at={}; time={}",
            instant(t),
            match axis {
                TimeAxis::Occurred => "occurred",
                TimeAxis::Recorded => "recorded",
            }
        ),
        AsOf::Version(_) | AsOf::Now => format!("version={version}"),
    };
    let mut response = crate::reads::view_response(&point.view, today);
    let headers = response.headers_mut();
    headers.insert(VIEW_VERSION, HeaderValue::from(version));
    if let Ok(value) = HeaderValue::from_str(&shown) {
        headers.insert(AS_OF, value);
    }
    if !point.late_entries.is_empty() {
        let list: Vec<String> = point
            .late_entries
            .iter()
            .take(MAX_LATE_ENTRIES)
            .map(u64::to_string)
            .collect();
        if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
            headers.insert(LATE_ENTRIES, value);
        }
    }
    Ok(response)
}

/// Query of `GET /v1/negotiations/{negotiation_id}/diff`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffQuery {
    /// The earlier version (0: before the negotiation was opened).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    from: u64,
    /// The later version, at least 1 and at least `from` (default: the last).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    to: Option<u64>,
}

/// The empty query of the export, verify and report routes (unknown parameters are
/// refused, as everywhere).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}

/// What changed between two versions of a negotiation, both folded from the event log:
/// clauses added and changed (word by word), proposals and objections made or whose
/// status changed, commitments made and withdrawn, signatures gained and made stale,
/// partners admitted and keys registered (docs/AUDIT.md, "What changed").
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/diff",
    tag = "audit",
    params(
        ("negotiation_id" = NegotiationId, Path, description = "the negotiation"),
        DiffQuery,
    ),
    responses(
        (status = 200, description = "the changes from version `from` to version `to`", body = AgreementDiff),
        (status = 400, description = "bad id or query (`from` missing or after `to`, `to` 0)", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded for this negotiation (`negotiation_not_found`), or `to` past the last version (`version_not_found`)", body = ErrorBody),
        (status = 503, description = "the event store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn diff(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<Json<AgreementDiff>, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    let from = version_param("from", Some(query.from))?.unwrap_or(query.from);
    let to = version_param("to", query.to)?;
    if to == Some(0) {
        // Refused before the token is looked at, as every malformed query is.
        return Err(ApiError::bad_request(
            "invalid_query",
            "to 0 is before the negotiation was opened; it must be at least 1",
        ));
    }
    authorize(&caller, &negotiation)?;
    let changes = roundtable_app::history::diff(&*state.events, &negotiation, from, to).await?;
    Ok(Json(changes.diff))
}

/// The export of one negotiation (docs/AUDIT.md, "The export format"): a manifest line,
/// then every event exactly as stored, one per line, for `roundtable verify FILE`
/// with no server and no store, and for `roundtable import-export`.
///
/// With a log key, the manifest carries the latest signed checkpoint kept (its
/// `checkpoints`), as `roundtable export` writes it.
///
/// As `roundtable export`, it refuses to write an export that would not verify: the
/// view the projection stores must equal a fresh fold of the events (409
/// `view_mismatch` otherwise; `GET .../verify` names the first difference).
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/export",
    tag = "audit",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation")),
    responses(
        (status = 200, description = "the export: JSON Lines, the manifest then one event envelope per line",
            content_type = "application/x-ndjson", body = String,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"<negotiation_id>.export.jsonl\"`"))),
        (status = 400, description = "bad id or query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded for this negotiation", body = ErrorBody),
        (status = 409, description = "`view_mismatch`: the projected view differs from a fresh fold of the events", body = ErrorBody),
        (status = 503, description = "a store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    query.map_err(query_rejection)?;
    authorize(&caller, &negotiation)?;
    // The latest checkpoint kept rides along, so that the key alone anchors the file.
    let checkpoints = match &state.checkpoints {
        Some(store) => store
            .latest(&negotiation)
            .await?
            .map(|c| vec![c.note])
            .unwrap_or_default(),
        None => Vec::new(),
    };
    // Checked and folded a page at a time; the event lines are read again as they are
    // sent, so that the export of any log holds one page in memory.
    let mut export = roundtable_app::audit::export_stream(
        state.events.clone(),
        &*state.views,
        &negotiation,
        roundtable_audit::export::TOOL,
        CATCH_UP,
        &checkpoints,
    )
    .await?;
    let head = bytes_of(std::mem::take(&mut export.manifest));
    let manifest = futures::stream::once(std::future::ready(Ok::<_, std::io::Error>(head)));
    let lines = export.event_lines().map(|chunk| {
        chunk.map(bytes_of).map_err(|e| {
            tracing::error!(error = %e, "export stopped part way");
            std::io::Error::other(e.to_string())
        })
    });
    let mut response = file(
        Vec::new(),
        NDJSON,
        &format!("attachment; filename=\"{negotiation}.export.jsonl\""),
    );
    *response.body_mut() = axum::body::Body::from_stream(manifest.chain(lines));
    Ok(response)
}

fn bytes_of(v: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(v)
}

/// The query of the OCDS route.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OcdsQuery {
    /// `true`: a record package holding the releases and their compiled release (the
    /// OCDS merge of the releases); default: the release package.
    compiled: Option<bool>,
    /// The ocid prefix (the ocid is `<prefix>-<negotiation_id>`); default
    /// `ocds-xxxxxx-roundtable`: use the prefix your organisation registered.
    ocid_prefix: Option<String>,
}

/// The negotiation as an OCDS release package with the public-private partnerships
/// profile, or (`compiled=true`) a record package with its compiled release, as
/// `roundtable export-ocds` writes it (docs/OCDS.md).
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/ocds",
    tag = "audit",
    params(("negotiation_id" = String, Path, description = "the negotiation"), OcdsQuery),
    responses(
        (status = 200, description = "an OCDS release package (or record package)", content_type = "application/json", body = Object),
        (status = 400, description = "a malformed query or ocid prefix", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token may not read this negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded for it", body = ErrorBody),
        (status = 503, description = "a store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn ocds(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<OcdsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    authorize(&caller, &negotiation)?;
    let mut options = roundtable_ocds::Options::new(Utc::now());
    if let Some(prefix) = query.ocid_prefix {
        options.ocid_prefix = prefix;
    }
    let which = if query.compiled.unwrap_or(false) {
        Package::Record
    } else {
        Package::Releases
    };
    let package =
        roundtable_app::ocds::package(&*state.events, &negotiation, &options, which).await?;
    Ok(Json(package).into_response())
}

/// Verifies the live record of one negotiation (`roundtable verify --negotiation`):
/// hashes, chain, rules and signatures of the stored events, then the view the
/// projection stores against a fresh fold (docs/AUDIT.md, "Verify").
///
/// 200 whether or not every check passes: `ok` and `failure` in the body say.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/verify",
    tag = "audit",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation")),
    responses(
        (status = 200, description = "the verification report, passed (`ok: true`) or failed", body = VerifyReport),
        (status = 400, description = "bad id or query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded for this negotiation", body = ErrorBody),
        (status = 503, description = "a store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn verify(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Json<VerifyReport>, ApiError> {
    let negotiation = negotiation_id(path)?;
    query.map_err(query_rejection)?;
    authorize(&caller, &negotiation)?;
    let report =
        roundtable_app::audit::verify_live(&*state.events, &*state.views, &negotiation, CATCH_UP)
            .await?;
    Ok(Json(report))
}

/// The audit report of one negotiation (`roundtable report`): one self-contained HTML
/// page (inline CSS and SVG, no script, nothing fetched) with the integrity result,
/// the agreement, the timeline, who took part, and the event log.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/report",
    tag = "audit",
    params(("negotiation_id" = NegotiationId, Path, description = "the negotiation")),
    responses(
        (status = 200, description = "the audit report", content_type = "text/html", body = String),
        (status = 400, description = "bad id or query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded for this negotiation", body = ErrorBody),
        (status = 503, description = "a store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn report(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    query.map_err(query_rejection)?;
    authorize(&caller, &negotiation)?;
    let html = roundtable_app::audit::report(&*state.events, &*state.views, &negotiation, CATCH_UP)
        .await?;
    let mut response = file(
        html.into_bytes(),
        "text/html; charset=utf-8",
        &format!("inline; filename=\"{negotiation}.report.html\""),
    );
    // The page needs nothing but its inline styles; say so, so that a browser runs and
    // fetches nothing even if some text were to slip through unescaped.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    Ok(response)
}

/// 403 unless the caller may read `negotiation`.
fn authorize(caller: &Caller, negotiation: &NegotiationId) -> Result<(), ApiError> {
    let principal = caller.principal(Some(negotiation));
    if principal.may_read(negotiation) {
        Ok(())
    } else {
        Err(principal.out_of_scope(negotiation))
    }
}

/// A response of `bytes` with a content type and a `Content-Disposition`.
fn file(bytes: Vec<u8>, content_type: &'static str, disposition: &str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_in_a_query_may_carry_a_plus_turned_space() {
        let t = |s: &str| parse_instant(s).map(instant);
        assert_eq!(
            t("2027-02-01T19:00:00 01:00").unwrap(),
            "2027-02-01T18:00:00Z"
        );
        let bad = parse_instant("yesterday").unwrap_err();
        assert_eq!(bad.code(), "invalid_query");
        assert!(bad.message().contains("send + as %2B"), "{}", bad.message());
    }

    #[test]
    fn a_point_is_a_version_or_an_instant_never_both_nor_with_a_wait() {
        let at = |v, a, t, w| as_of_from_query(v, a, t, w);
        assert_eq!(at(None, None, None, true).unwrap(), None);
        assert_eq!(
            at(Some(3), None, None, false).unwrap(),
            Some(AsOf::Version(3))
        );
        assert!(matches!(
            at(None, Some("2027-02-01"), None, false).unwrap(),
            Some(AsOf::Time(_, TimeAxis::Occurred))
        ));
        assert!(matches!(
            at(None, Some("2027-02-01"), Some(Clock::Recorded), false).unwrap(),
            Some(AsOf::Time(_, TimeAxis::Recorded))
        ));
        assert!(at(Some(3), Some("2027-02-01"), None, false).is_err());
        assert!(at(None, None, Some(Clock::Recorded), false).is_err());
        assert!(at(Some(3), None, None, true).is_err());
        assert!(at(Some(u64::MAX), None, None, false).is_err());
    }
}
