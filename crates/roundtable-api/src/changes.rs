//! `GET /v1/negotiations/{id}/changes`: the negotiation's changes as Server-Sent
//! Events, resuming after `Last-Event-ID` (or `?after=`), then following live.
//!
//! Missed changes are derived from the event log itself ([`ChangeReader`]), so a
//! resumed stream has no gap and no repeat on either backend, whatever the projector
//! did. Then it follows: on NATS it reads the log again when a notification comes on
//! `roundtable.changes.<id>` (and every few seconds besides); on the embedded store it
//! polls the log every [`POLL`]. Each read takes at most [`PAGE`] events.
//!
//! Between them come the overdue announcements the timer kept (bucket
//! `ROUNDTABLE_OVERDUE`, when the state has it): each after the event whose version
//! it carries, with that version as its `id`; a stream resumed after version N gets
//! those made at a later version (docs/INTEGRATIONS.md, "Overdue commitments").

use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use roundtable_app::ChangeReader;
use roundtable_store::{Change, EventStore, KvStore, overdue};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{ApiState, negotiation_id};

/// How often the log is read for new events when nothing signals them (embedded).
pub const POLL: Duration = Duration::from_millis(200);

/// How often the log is read besides the NATS notifications, in case one is missed.
pub const POLL_WITH_SIGNALS: Duration = Duration::from_secs(5);

/// The most events read from the log at once.
pub const PAGE: usize = 100;

/// How often a heartbeat comment is sent on an idle stream.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Query of `GET /v1/negotiations/{negotiation_id}/changes`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ChangesQuery {
    /// Start after this version (`0`: from the first change); `Last-Event-ID` wins
    /// when both are given. Without either, only changes recorded from now on.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    after: Option<u64>,
}

/// The negotiation's changes as Server-Sent Events: `id` is the version, `event` the
/// event type, `data` the change as JSON; a `heartbeat` comment every 15 s.
#[utoipa::path(
    get,
    path = "/v1/negotiations/{negotiation_id}/changes",
    tag = "reads",
    params(
        ("negotiation_id" = String, Path, description = "the negotiation"),
        ("Last-Event-ID" = Option<u64>, Header, description = "resume after this version (what the last event's id was)"),
        ChangesQuery,
    ),
    responses(
        (status = 200, description = "an endless text/event-stream; each event's data is a Change", content_type = "text/event-stream", body = ChangeEvent),
        (status = 400, description = "bad id, query or Last-Event-ID", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "outside the principal's negotiation", body = ErrorBody),
        (status = 404, description = "no events recorded for this negotiation", body = ErrorBody),
        (status = 503, description = "the event store is unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn changes(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ChangesQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let negotiation = negotiation_id(path)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let principal = caller.principal(Some(&negotiation));
    if !principal.may_read(&negotiation) {
        return Err(principal.out_of_scope(&negotiation));
    }
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|v| i64::try_from(*v).is_ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_last_event_id",
                        format!("Last-Event-ID {v:?} is not a version"),
                    )
                })
        })
        .transpose()?;
    let unreachable = |e| ApiError::from_store(e, "the event store");
    let last = state
        .events
        .last_version(&negotiation)
        .await
        .map_err(unreachable)?;
    if last == 0 {
        return Err(ApiError::not_found(
            "negotiation_not_found",
            format!("negotiation {negotiation} has no recorded events"),
        ));
    }
    let after = last_event_id.or(query.after).unwrap_or(last);
    // Watch first, then read: a change recorded in between is read, not missed.
    let signal = match &state.watch {
        Some(watch) => match watch.watch(&negotiation).await {
            Ok(rx) => Some(rx),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch for changes; polling instead");
                None
            }
        },
        None => None,
    };
    let mut reader = ChangeReader::new(negotiation.clone());
    reader
        .skip_to(&*state.events, after)
        .await
        .map_err(unreachable)?;
    // The overdue announcements made at or before `after` are the client's already
    // (or from before it came); those after it come in version order with the rest.
    let mut announced = std::collections::HashSet::new();
    let mut waiting = Vec::new();
    if let Some(kv) = &state.overdue {
        for a in overdue::announcements(&**kv, Some(&negotiation))
            .await
            .map_err(unreachable)?
        {
            announced.insert(a.change.announcement_id());
            if a.change.version > after {
                waiting.push(a.change);
            }
        }
    }
    waiting.sort_by_key(|c| c.version);
    let follow = Follow {
        overdue: state.overdue.clone(),
        announced,
        waiting: waiting.into(),
        poll: if signal.is_some() {
            POLL_WITH_SIGNALS
        } else {
            POLL
        },
        reader,
        events: state.events.clone(),
        pending: VecDeque::new(),
        signal,
        shutdown: state.shutdown.clone(),
    };
    let stream = futures::stream::unfold(follow, Follow::next);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response())
}

/// One stream's state.
struct Follow {
    /// The overdue announcements' bucket, if the stream carries them.
    overdue: Option<Arc<dyn KvStore>>,
    /// The announcement ids sent (or before the stream's start).
    announced: std::collections::HashSet<String>,
    /// Announcements to send once the events up to their version are sent.
    waiting: VecDeque<Change>,
    reader: ChangeReader,
    events: Arc<dyn EventStore>,
    pending: VecDeque<Change>,
    signal: Option<mpsc::Receiver<()>>,
    shutdown: Option<watch::Receiver<bool>>,
    poll: Duration,
}

impl Follow {
    /// The next event, waiting for it as long as needed; `None` ends the stream (at
    /// shutdown, or when the log cannot be read: the client resumes with
    /// `Last-Event-ID`).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Follow)> {
        loop {
            if self.shutdown.as_ref().is_some_and(|s| *s.borrow()) {
                return None;
            }
            let due = self.waiting.front().is_some_and(|a| {
                self.pending
                    .front()
                    .map_or(a.version <= self.reader.version(), |next| {
                        a.version < next.version
                    })
            });
            let next = if due {
                self.waiting.pop_front()
            } else {
                self.pending.pop_front()
            };
            if let Some(change) = next {
                let event = Event::default()
                    .id(change.version.to_string())
                    .event(change.event_type.clone())
                    .json_data(&change);
                match event {
                    Ok(event) => return Some((Ok(event), self)),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot serialize a change");
                        return None;
                    }
                }
            }
            match self.reader.read(&*self.events, PAGE).await {
                Ok(changes) if !changes.is_empty() => {
                    self.pending.extend(changes);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(negotiation_id = %self.reader.negotiation(), error = %e, "cannot read changes; ending the stream");
                    return None;
                }
            }
            if self.take_announcements().await {
                continue;
            }
            let poll = self.poll;
            let closing = self.shutdown.clone();
            let signal = async {
                match self.signal.as_mut() {
                    Some(rx) => {
                        if rx.recv().await.is_none() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let shutdown = async {
                match closing {
                    Some(mut s) => {
                        let _ = s.wait_for(|closing| *closing).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = signal => {}
                () = tokio::time::sleep(poll) => {}
                () = shutdown => return None,
            }
        }
    }
}

impl Follow {
    /// Queues the overdue announcements not sent yet; `true` when there are any.
    async fn take_announcements(&mut self) -> bool {
        let Some(kv) = &self.overdue else {
            return false;
        };
        match overdue::announcements(&**kv, Some(self.reader.negotiation())).await {
            Ok(all) => {
                let mut fresh: Vec<Change> = all
                    .into_iter()
                    .map(|a| a.change)
                    .filter(|c| self.announced.insert(c.announcement_id()))
                    .collect();
                fresh.sort_by_key(|c| c.version);
                self.waiting.extend(fresh);
                !self.waiting.is_empty()
            }
            Err(e) => {
                tracing::warn!(negotiation_id = %self.reader.negotiation(), error = %e, "cannot read the overdue announcements");
                false
            }
        }
    }
}

/// One Server-Sent Event of `GET /v1/negotiations/{negotiation_id}/changes`, as an SSE
/// parser reads it off the stream: the response is `text/event-stream`, not one JSON
/// object, so the document describes its events. (Documentation type: [`changes`] writes
/// the events.)
pub struct ChangeEvent;

impl PartialSchema for ChangeEvent {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "one event of the stream; `heartbeat` comments come between events",
            ))
            .property(
                "id",
                string("the negotiation's version after the change; send it back as Last-Event-ID to resume")
                    .pattern(Some("^[0-9]+$")),
            )
            .property("event", string("the event type, as the change's event_type"))
            .property(
                "data",
                string("the change as JSON: a `Change` (#/components/schemas/Change)")
                    .content_media_type("application/json"),
            )
            .required("id")
            .required("event")
            .required("data")
            .into()
    }
}

impl ToSchema for ChangeEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ChangeEvent")
    }
}
