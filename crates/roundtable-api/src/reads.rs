//! The read side: the list of negotiations and each one's agreement view (both from
//! the projection, the [`roundtable_projector::ViewStore`]), and its events, paged (from
//! the event store). A view as of a past point is folded from the event log
//! ([`crate::audit`]).

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use roundtable_domain::view::NegotiationStatus;
use roundtable_domain::{AgreementView, NegotiationId};
use roundtable_projector::StoredView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::audit::{Clock, as_of_from_query, view_as_of};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::openapi::EventEnvelope;
use crate::{ApiState, etag, negotiation_id};

/// Longest wait for a view to catch up, in milliseconds.
pub const MAX_WAIT_MS: u64 = 30_000;

/// Largest page of events or negotiations.
pub const MAX_PAGE: usize = 1000;

/// Page size when `limit` is not given.
pub const DEFAULT_PAGE: usize = 100;

/// The response header with the version of the view served.
pub const VIEW_VERSION: &str = "roundtable-view-version";

/// The response header set when the view served has not reached `min_version`.
pub const VIEW_BEHIND: &str = "roundtable-view-behind";

/// The response header set when the view served is stale: the projector parked an
/// entry of this negotiation (`GET /v1/parked`), so the view may lack events.
pub const VIEW_STALE: &str = "roundtable-view-stale";

/// One line of the list of negotiations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NegotiationSummary {
    /// The negotiation.
    pub negotiation_id: NegotiationId,
    /// Its title.
    pub title: String,
    /// The service negotiated.
    pub service: String,
    /// `open` or `concluded`.
    pub status: NegotiationStatus,
    /// Number of events in the stored view.
    pub version: u64,
    /// The agreement version.
    pub agreement_version: u64,
    /// `true` when the projector parked an entry of this negotiation: its view stops
    /// before that entry and may lack events (`GET /v1/parked` says which).
    pub stale: bool,
}

/// A page of negotiations, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NegotiationPage {
    /// The negotiations of this page.
    pub negotiations: Vec<NegotiationSummary>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<NegotiationId>,
}

/// Query of `GET /v1/negotiations`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only negotiations whose id sorts after this one (the `next` of the previous page).
    #[param(value_type = Option<NegotiationId>)]
    after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// Lists the negotiations the principal may read, from the stored views.
#[utoipa::path(
    get,
    path = "/v1/negotiations",
    tag = "reads",
    params(ListQuery),
    responses(
        (status = 200, description = "a page of negotiations", body = NegotiationPage),
        (status = 400, description = "bad query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 503, description = "the view store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<NegotiationPage>, ApiError> {
    let Query(query) = query.map_err(query_rejection)?;
    let limit = limit(query.limit)?;
    let after = query
        .after
        .map(|a| {
            NegotiationId::new(a)
                .map_err(|e| ApiError::bad_request("invalid_query", format!("after: {e}")))
        })
        .transpose()?;
    let principal = caller.principal(None);
    let ids = state
        .views
        .list()
        .await
        .map_err(|e| ApiError::from_store(e, "the view store"))?;
    let stale: std::collections::HashSet<NegotiationId> = state
        .views
        .parked()
        .await
        .map_err(|e| ApiError::from_store(e, "the view store"))?
        .into_iter()
        .filter_map(|e| e.negotiation_id)
        .collect();
    let mut negotiations = Vec::new();
    let mut next = None;
    for id in ids
        .into_iter()
        .filter(|id| after.as_ref().is_none_or(|a| id > a))
        .filter(|id| principal.may_read(id))
    {
        if negotiations.len() == limit {
            next = negotiations
                .last()
                .map(|s: &NegotiationSummary| s.negotiation_id.clone());
            break;
        }
        let stored = state
            .views
            .get(&id)
            .await
            .map_err(|e| ApiError::from_store(e, "the view store"))?;
        if let Some(StoredView { view, .. }) = stored {
            negotiations.push(NegotiationSummary {
                stale: stale.contains(&view.negotiation_id),
                negotiation_id: view.negotiation_id,
                title: view.title,
                service: view.service,
                status: view.status,
                version: view.version,
                agreement_version: view.agreement_version,
            });
        }
    }
    Ok(Json(NegotiationPage { negotiations, next }))
}

/// Query of `GET /v1/negotiations/{negotiation_id}`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ViewQuery {
    /// Wait (up to `wait_ms`) until the view includes this version, such as the
    /// `version` a command answered. The server waits only for versions the event log
    /// already holds.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_version: Option<u64>,
    /// How long to wait for `min_version`, 0 to 30000 milliseconds (default 0).
    #[param(minimum = 0, maximum = 30000)]
    wait_ms: Option<u64>,
    /// Time travel: the view after this many events, folded from the event log (not
    /// the projection). 0 is before the negotiation was opened (404).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    as_of_version: Option<u64>,
    /// Time travel: the view as it stood at this instant, folded from the event log:
    /// RFC 3339 with an offset (send `+` as `%2B`), or a date meaning its start in UTC.
    #[param(value_type = Option<String>, format = DateTime, example = "2027-02-01T18:00:00Z")]
    as_of: Option<String>,
    /// The clock `as_of` is read on: `occurred` (business time, the default) or
    /// `recorded` (the server's clock). Only with `as_of`.
    #[param(inline)]
    time: Option<Clock>,
    /// The date overdue commitments are computed against, `YYYY-MM-DD` (DOMAIN.md,
    /// "Overdue"): the view then gains `overdue` (`{"today": ..., "commitments":
    /// [...]}`, the ids of the `active` commitments with a `due` date before it, in the
    /// order made) and the header `Roundtable-Today`. Overdue is never stored: it is
    /// computed for this answer only. Also with time travel.
    #[param(value_type = Option<String>, format = Date, example = "2029-10-01")]
    today: Option<String>,
}

/// The `today` query parameter, checked.
pub(crate) fn today_param(raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    raw.map(|t| {
        roundtable_domain::time::parse_date(t).map_err(|e| {
            ApiError::bad_request("invalid_today", format!("query parameter today: {e}"))
        })
    })
    .transpose()
}

/// The overdue commitments of a view on a named date, as `GET
/// /v1/negotiations/{negotiation_id}?today=...` adds them to the view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverdueOn {
    /// The date used.
    #[schema(value_type = String, format = Date, example = "2029-10-01")]
    pub today: NaiveDate,
    /// The ids of the commitments overdue on that date, in the order made.
    #[schema(value_type = Vec<String>, example = json!(["c-fbc-subsidy"]))]
    pub commitments: Vec<roundtable_domain::CommitmentId>,
}

/// `view` as JSON, with `overdue` on `today` when one is named, and the header.
pub(crate) fn view_response(view: &AgreementView, today: Option<NaiveDate>) -> Response {
    let Some(today) = today else {
        return Json(view).into_response();
    };
    let overdue = OverdueOn {
        today,
        commitments: roundtable_domain::overdue_commitments(view, today)
            .into_iter()
            .map(|c| c.commitment_id.clone())
            .collect(),
    };
    let mut body = serde_json::to_value(view).unwrap_or(Value::Null);
    if let (Value::Object(map), Ok(o)) = (&mut body, serde_json::to_value(&overdue)) {
        map.insert("overdue".to_owned(), o);
    }
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&today.to_string()) {
        response.headers_mut().insert(TODAY, value);
    }
    response
}

/// The header naming the date `overdue` was computed against.
pub(crate) const TODAY: &str = "roundtable-today";

/// The agreement view of one negotiation, from the projection; or, with
/// `as_of_version` or `as_of`, as it stood then, folded from the event log.
///
/// `ETag` and `Roundtable-View-Version` give the version of the view served. With
/// `min_version`, the server waits up to `wait_ms` for the projection to catch up; if
/// it has not, it answers with the view it has and `Roundtable-View-Behind: true`.
///
/// With `as_of_version` or `as_of` (and `time`), the view is the fold of a prefix of the
/// log (docs/AUDIT.md, "Time travel"); `Roundtable-As-Of` says which (`version=27`), and
/// there is no `ETag`. 404 `negotiation_not_yet_opened` when the negotiation did not
/// exist yet at that point, `version_not_found` past the last version.
///
/// With `today=YYYY-MM-DD`, the view gains `overdue` ([`OverdueOn`]): the commitments
/// overdue on that date (400 `invalid_today` for anything but a real date written
/// so).
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}",
    tag = "reads",
    params(
        ("negotiation_id" = NegotiationId, Path, description = "the negotiation"),
        ViewQuery,
    ),
    responses(
        (status = 200, description = "the agreement view", body = AgreementView,
            headers(
                ("ETag" = String, description = "the view's version, quoted: use it in If-Match"),
                ("Roundtable-View-Version" = String, description = "the view's version"),
                ("Roundtable-View-Behind" = String, description = "`true` when the view has not reached `min_version`"),
                ("Roundtable-View-Stale" = String, description = "`true` when the projector parked an entry of this negotiation (see `GET /v1/parked`): the view stops before it and may lack events"),
                ("Roundtable-As-Of" = String, description = "time travel only: the point the view shows, `version=27`, or for `as_of` `version=27; at=2027-02-01T18:00:00Z; time=occurred`"),
                ("Roundtable-Late-Entries" = String, description = "`as_of` only, when there are any: the versions (the first 100, comma-separated) after the view whose time is nevertheless at or before `as_of`"),
                ("Roundtable-Today" = String, description = "with `today` only: the date `overdue` was computed against"),
            )),
        (status = 400, description = "bad id or query (`invalid_today`: `today` is not a date written YYYY-MM-DD)", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no view of this negotiation (`negotiation_not_found`); time travel: no events (`negotiation_not_found`), not opened yet at that point (`negotiation_not_yet_opened`), a version past the last (`version_not_found`)", body = ErrorBody),
        (status = 503, description = "the view store (time travel: the event store) is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn view(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ViewQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    let as_of = as_of_from_query(
        query.as_of_version,
        query.as_of.as_deref(),
        query.time,
        query.min_version.is_some() || query.wait_ms.is_some(),
    )?;
    let today = today_param(query.today.as_deref())?;
    let wait_ms = query.wait_ms.unwrap_or(0);
    if wait_ms > MAX_WAIT_MS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("wait_ms {wait_ms} is above the limit of {MAX_WAIT_MS}"),
        ));
    }
    let principal = caller.principal(Some(&negotiation));
    if !principal.may_read(&negotiation) {
        return Err(principal.out_of_scope(&negotiation));
    }
    if let Some(at) = as_of {
        return view_as_of(&state, &negotiation, at, today).await;
    }
    let min_version = version_param("min_version", query.min_version)?.unwrap_or(0);
    let projected = roundtable_app::reads::view_at_least(
        &*state.events,
        &*state.views,
        &negotiation,
        min_version,
        Duration::from_millis(wait_ms),
    )
    .await?;
    let (view, behind, stale) = (projected.view, projected.behind, projected.stale);
    let version = view.version;
    let mut response = view_response(&view, today);
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag(version));
    headers.insert(VIEW_VERSION, HeaderValue::from(version));
    if behind {
        headers.insert(VIEW_BEHIND, HeaderValue::from_static("true"));
    }
    if stale.is_some() {
        headers.insert(VIEW_STALE, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// A page of events.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventPage {
    /// The events, in version order, as stored (see docs/EVENTS.md).
    #[schema(value_type = Vec<EventEnvelope>)]
    pub events: Vec<Value>,
    /// Pass as `after` for the next page; `null` when there is nothing after this page.
    pub next: Option<u64>,
}

/// Query of `GET /v1/negotiations/{negotiation_id}/events`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Only events with a version above this one (default 0: from the first).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    after: Option<u64>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// The recorded events of one negotiation, in version order, from the event store.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/events",
    tag = "reads",
    params(
        ("negotiation_id" = NegotiationId, Path, description = "the negotiation"),
        EventsQuery,
    ),
    responses(
        (status = 200, description = "a page of events", body = EventPage),
        (status = 400, description = "bad id or query", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded for this negotiation", body = ErrorBody),
        (status = 503, description = "the event store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn events(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(query_rejection)?;
    let limit = limit(query.limit)?;
    let after = version_param("after", query.after)?.unwrap_or(0);
    let principal = caller.principal(Some(&negotiation));
    if !principal.may_read(&negotiation) {
        return Err(principal.out_of_scope(&negotiation));
    }
    let unreachable = |e| ApiError::from_store(e, "the event store");
    let mut events = state
        .events
        .read(&negotiation, after, Some(limit + 1))
        .await
        .map_err(unreachable)?;
    if events.is_empty()
        && state
            .events
            .last_version(&negotiation)
            .await
            .map_err(unreachable)?
            == 0
    {
        return Err(ApiError::not_found(
            "negotiation_not_found",
            format!("negotiation {negotiation} has no recorded events"),
        ));
    }
    let more = events.len() > limit;
    events.truncate(limit);
    let next = if more {
        events.last().map(|e| e.version)
    } else {
        None
    };
    Ok(Json(EventPage {
        events: events.iter().map(|e| e.to_json()).collect(),
        next,
    }))
}

fn limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(
            "invalid_query",
            format!("limit {n} is out of range; it must be 1 to {MAX_PAGE}"),
        )),
    }
}

/// Versions are at most `i64::MAX`, the largest integer the OpenAPI document's
/// `int64` promises.
pub(crate) fn version_param(name: &str, value: Option<u64>) -> Result<Option<u64>, ApiError> {
    match value {
        Some(v) if v > MAX_VERSION => Err(ApiError::bad_request(
            "invalid_query",
            format!("{name} {v} is out of range; it must be at most {MAX_VERSION}"),
        )),
        other => Ok(other),
    }
}

/// The largest version a query may name.
const MAX_VERSION: u64 = i64::MAX as u64;

pub(crate) fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", e.body_text())
}
