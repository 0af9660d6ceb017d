//! The auditor's reads (docs/AUDIT.md) over HTTP: the agreement view as it stood at a
//! version or an instant, what changed between two versions, the export, the live
//! verification and the HTML audit report.
//!
//! All of them fold the event log from its first event; none reads a stored snapshot.
//! The projection (the [`roundtable_store::ViewStore`]) is read only to be checked
//! against that fold, as `roundtable export`, `verify --negotiation` and `report` do.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use roundtable_audit::export::ExportError;
use roundtable_audit::{AgreementDiff, AsOfError, TimeAxis, VerifyReport};
use roundtable_domain::{AgreementView, NegotiationId, RecordedEvent};
use serde::Deserialize;
use tokio::time::Instant;
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
/// command just recorded is not a mismatch.
pub const CATCH_UP_MS: u64 = 2_000;

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

/// A point in a negotiation's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AsOf {
    /// After this many events.
    Version(u64),
    /// At this instant, on this clock.
    Time(DateTime<Utc>, TimeAxis),
}

impl AsOf {
    /// The point the view's query names, if any (`None`: the projected view).
    /// `waits` says whether `min_version` or `wait_ms` was given: they concern the
    /// projection, so they do not go with a point in the past.
    pub(crate) fn from_query(
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
}

/// Parses `as_of`: RFC 3339 with an offset, or a date (its start, UTC), as the CLI's
/// `--as-of`. A `+` sent unescaped in a query string arrives as a space; a space where
/// the offset's sign belongs is read as `+`.
fn parse_instant(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let mut parsed = DateTime::parse_from_rfc3339(raw).ok();
    if parsed.is_none() {
        if let Some(sign) = raw.len().checked_sub(6) {
            if raw.is_char_boundary(sign) && raw[sign..].starts_with(' ') {
                let fixed = format!("{}+{}", &raw[..sign], &raw[sign + 1..]);
                parsed = DateTime::parse_from_rfc3339(&fixed).ok();
            }
        }
    }
    if let Some(t) = parsed {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(t) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    let shown: String = raw.chars().take(64).collect();
    Err(ApiError::bad_request(
        "invalid_query",
        format!(
            "as_of {shown:?} is not a time such as 2027-02-01T18:00:00Z (RFC 3339, with \
             an offset; send + as %2B) or a date such as 2027-02-01"
        ),
    ))
}

/// The view of `negotiation` at `at`, folded from the log, with the headers that say
/// which point it is (the projected view's handler calls this when the query names a
/// point).
pub(crate) async fn view_as_of(
    state: &ApiState,
    negotiation: &NegotiationId,
    at: AsOf,
) -> Result<Response, ApiError> {
    let limit = match at {
        AsOf::Version(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        AsOf::Time(..) => None,
    };
    let events = read_events(state, negotiation, limit).await?;
    let (version, late_entries) = match at {
        AsOf::Version(n) => (n, Vec::new()),
        AsOf::Time(t, axis) => {
            let point = roundtable_audit::time_point(&events, t, axis);
            (point.version, point.late_entries)
        }
    };
    let Some(view) = fold_to(&events, version, negotiation)? else {
        let when = match at {
            AsOf::Version(_) => "at version 0".to_owned(),
            AsOf::Time(t, axis) => format!("at {} by {}", instant(t), axis.field()),
        };
        return Err(ApiError::not_found(
            "negotiation_not_yet_opened",
            format!("negotiation {negotiation} had not been opened yet {when}"),
        ));
    };
    let point = match at {
        AsOf::Version(_) => format!("version={version}"),
        AsOf::Time(t, axis) => format!(
            "version={version}; at={}; time={}",
            instant(t),
            match axis {
                TimeAxis::Occurred => "occurred",
                TimeAxis::Recorded => "recorded",
            }
        ),
    };
    let mut response = Json(view).into_response();
    let headers = response.headers_mut();
    headers.insert(VIEW_VERSION, HeaderValue::from(version));
    if let Ok(value) = HeaderValue::from_str(&point) {
        headers.insert(AS_OF, value);
    }
    if !late_entries.is_empty() {
        let list: Vec<String> = late_entries
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
        return Err(ApiError::bad_request(
            "invalid_query",
            "to 0 is before the negotiation was opened; it must be at least 1",
        ));
    }
    authorize(&caller, &negotiation)?;
    let limit = to.map(|to| usize::try_from(to).unwrap_or(usize::MAX));
    let events = read_events(&state, &negotiation, limit).await?;
    let last = events.len() as u64;
    let to = to.unwrap_or(last);
    if from > to {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("from {from} is after to {to}"),
        ));
    }
    let before = fold_to(&events, from, &negotiation)?;
    let Some(after) = fold_to(&events, to, &negotiation)? else {
        // `to` is at least 1 and at most the last version: version 1 opens the
        // negotiation, so there is a view.
        return Err(ApiError::internal(format!(
            "negotiation {negotiation} has no view at version {to} of {last}"
        )));
    };
    Ok(Json(roundtable_audit::diff(before.as_ref(), &after)))
}

/// The export of one negotiation (docs/AUDIT.md, "The export format"): a manifest line,
/// then every event exactly as stored, one per line, for `roundtable verify FILE`
/// with no server and no store, and for `roundtable import-export`.
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
    let (events, projected) = events_and_view(&state, &negotiation).await?;
    let bytes = roundtable_audit::export::export_with_tool(
        &events,
        projected.as_ref(),
        roundtable_audit::export::TOOL,
    )
    .map_err(|e| match e {
        ExportError::Empty => not_recorded(&negotiation),
        ExportError::ViewMismatch { at } => ApiError::new(
            StatusCode::CONFLICT,
            "view_mismatch",
            format!(
                "the projected view of {negotiation} differs from a fresh fold of its \
                 events at {at}, so the export would not verify; \
                 GET /v1/negotiations/{negotiation}/verify says more"
            ),
        ),
        ExportError::Chain(e) => {
            ApiError::internal(format!("the events of {negotiation} do not chain: {e}"))
        }
    })?;
    Ok(file(
        bytes,
        NDJSON,
        &format!("attachment; filename=\"{negotiation}.export.jsonl\""),
    ))
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
    let events = read_events(&state, &negotiation, None).await?;
    let mut options = roundtable_ocds::Options::new(Utc::now());
    if let Some(prefix) = query.ocid_prefix {
        options.ocid_prefix = prefix;
    }
    let package = if query.compiled.unwrap_or(false) {
        roundtable_ocds::record_package(&events, &options)
    } else {
        roundtable_ocds::release_package(&events, &options)
    };
    let package = package.map_err(|e| match e {
        roundtable_ocds::OcdsError::NoEvents => not_recorded(&negotiation),
        roundtable_ocds::OcdsError::BadPrefix(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.to_string())
        }
        roundtable_ocds::OcdsError::Chain(c) => {
            ApiError::internal(format!("the events of {negotiation} do not chain: {c}"))
        }
    })?;
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
    let (events, projected) = events_and_view(&state, &negotiation).await?;
    Ok(Json(roundtable_audit::verify_live(
        &events,
        projected.as_ref(),
    )))
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
    let (events, projected) = events_and_view(&state, &negotiation).await?;
    let integrity = roundtable_audit::verify_live(&events, projected.as_ref());
    let last = events.len() as u64;
    let Some(view) = fold_to(&events, last, &negotiation)? else {
        return Err(not_recorded(&negotiation));
    };
    let html = roundtable_audit::report_html(&events, &view, &integrity);
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

fn not_recorded(negotiation: &NegotiationId) -> ApiError {
    ApiError::not_found(
        "negotiation_not_found",
        format!("negotiation {negotiation} has no recorded events"),
    )
}

/// The first `limit` events of `negotiation` (`None`: all); 404 when it has none at
/// all. (With `limit` 0 the answer is empty for a negotiation that exists.)
async fn read_events(
    state: &ApiState,
    negotiation: &NegotiationId,
    limit: Option<usize>,
) -> Result<Vec<RecordedEvent>, ApiError> {
    let unreachable = |e| ApiError::from_store(e, "the event store");
    let events = state
        .events
        .read(negotiation, 0, limit)
        .await
        .map_err(unreachable)?;
    if events.is_empty()
        && state
            .events
            .last_version(negotiation)
            .await
            .map_err(unreachable)?
            == 0
    {
        return Err(not_recorded(negotiation));
    }
    Ok(events)
}

/// The view after the first `version` of `events` (`None` for 0); 404
/// `version_not_found` past the last one.
fn fold_to(
    events: &[RecordedEvent],
    version: u64,
    negotiation: &NegotiationId,
) -> Result<Option<AgreementView>, ApiError> {
    roundtable_audit::as_of_version(events, version).map_err(|e| match e {
        AsOfError::NoSuchVersion { requested, last } => ApiError::not_found(
            "version_not_found",
            format!(
                "version {requested} of negotiation {negotiation} does not exist: it has \
                 {last} events"
            ),
        ),
        AsOfError::Chain(e) => {
            ApiError::internal(format!("the events of {negotiation} do not fold: {e}"))
        }
    })
}

/// Every event of `negotiation` and the view the projection stores, read so that they
/// belong together: when the stored view is behind the events read, it is read again
/// (for up to [`CATCH_UP_MS`]) until it catches up; when it is ahead, the events are
/// read again. A view still behind after that is returned as it is, for the checks to
/// report. No stored view at all is `None` (the view is then not checked, as on the
/// command line).
async fn events_and_view(
    state: &ApiState,
    negotiation: &NegotiationId,
) -> Result<(Vec<RecordedEvent>, Option<AgreementView>), ApiError> {
    let deadline = Instant::now() + Duration::from_millis(CATCH_UP_MS);
    let mut pause = Duration::from_millis(10);
    let mut events = read_events(state, negotiation, None).await?;
    loop {
        let view = state
            .views
            .get(negotiation)
            .await
            .map_err(|e| ApiError::from_store(e, "the view store"))?
            .map(|stored| stored.view);
        let recorded = events.len() as u64;
        let projected = match &view {
            None => return Ok((events, None)),
            Some(v) => v.version,
        };
        if projected == recorded || Instant::now() >= deadline {
            return Ok((events, view));
        }
        if projected > recorded {
            // Events were recorded after they were read.
            events = read_events(state, negotiation, None).await?;
            if events.len() as u64 == projected {
                return Ok((events, view));
            }
        }
        let now = Instant::now();
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(now))).await;
        pause = (pause * 2).min(Duration::from_millis(200));
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

/// An instant as RFC 3339 in UTC, with as many fraction digits as it has.
fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_rfc_3339_or_dates_and_a_plus_turned_space_is_a_plus() {
        let t = |s: &str| parse_instant(s).map(instant);
        assert_eq!(t("2027-02-01T18:00:00Z").unwrap(), "2027-02-01T18:00:00Z");
        assert_eq!(
            t("2027-02-01T19:00:00+01:00").unwrap(),
            "2027-02-01T18:00:00Z"
        );
        assert_eq!(
            t("2027-02-01T19:00:00 01:00").unwrap(),
            "2027-02-01T18:00:00Z"
        );
        assert_eq!(t("2027-02-01").unwrap(), "2027-02-01T00:00:00Z");
        for bad in ["", "yesterday", "2027-02-30", "2027-02-01T18:00:00", "é"] {
            assert_eq!(parse_instant(bad).unwrap_err().code(), "invalid_query");
        }
    }

    #[test]
    fn a_point_is_a_version_or_an_instant_never_both_nor_with_a_wait() {
        let at = |v, a, t, w| AsOf::from_query(v, a, t, w);
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
