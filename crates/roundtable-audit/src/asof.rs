//! Time travel: the agreement view as it stood after any version, or at any instant,
//! computed by folding the log (never from stored snapshots).
//!
//! Semantics (docs/AUDIT.md, "Time travel"): the view *as of* a point is always the
//! view after some prefix of the log, in version order, because only prefixes are
//! states the negotiation actually passed through.
//!
//! - By version `n`: the first `n` events.
//! - By instant `t` on a [`TimeAxis`]: the longest prefix whose events all have their
//!   time at or before `t`. On [`TimeAxis::Recorded`] (the server's clock) events are
//!   recorded in version order, so this is simply every event recorded by `t`. On
//!   [`TimeAxis::Occurred`] (business time) minutes may be entered late or back-dated;
//!   the prefix then stops at the first event that happened after `t`, so the view
//!   never shows anything that had not happened by `t`. Events entered later whose
//!   business time is at or before `t` are listed in [`TimePoint::late_entries`].

use chrono::{DateTime, Utc};
use roundtable_domain::{AgreementView, ChainError, Projection, RecordedEvent};
use serde::{Deserialize, Serialize};

/// Which clock an instant is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeAxis {
    /// Business time: the event's `occurred_at` (the minutes' `at`).
    Occurred,
    /// Server time: the event's `recorded_at`.
    Recorded,
}

impl TimeAxis {
    /// The time of `e` on this axis.
    pub fn time_of(self, e: &RecordedEvent) -> DateTime<Utc> {
        match self {
            TimeAxis::Occurred => e.occurred_at,
            TimeAxis::Recorded => e.recorded_at,
        }
    }

    /// The envelope field this axis reads (`occurred_at` or `recorded_at`).
    pub fn field(self) -> &'static str {
        match self {
            TimeAxis::Occurred => "occurred_at",
            TimeAxis::Recorded => "recorded_at",
        }
    }
}

/// Where an instant falls in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimePoint {
    /// The number of events in the prefix (0: the negotiation did not exist yet).
    pub version: u64,
    /// Versions after the prefix whose time is nevertheless at or before the instant
    /// (entered late or back-dated); empty on [`TimeAxis::Recorded`] for a sound log.
    pub late_entries: Vec<u64>,
}

/// Why a view as of some point cannot be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsOfError {
    /// The log has fewer events than asked for.
    #[error("version {requested} does not exist: the negotiation has {last} events")]
    NoSuchVersion {
        /// The version asked for.
        requested: u64,
        /// The last version of the log.
        last: u64,
    },
    /// The events do not form a chain (run `verify`).
    #[error("the events do not fold: {0}")]
    Chain(#[from] ChainError),
}

/// The view after the first `n` events: `None` for `n = 0` (nothing recorded yet).
///
/// # Errors
/// [`AsOfError::NoSuchVersion`] when `n` is past the last event;
/// [`AsOfError::Chain`] when the events are not one intact chain.
pub fn as_of_version(events: &[RecordedEvent], n: u64) -> Result<Option<AgreementView>, AsOfError> {
    let last = events.len() as u64;
    if n > last {
        return Err(AsOfError::NoSuchVersion { requested: n, last });
    }
    let count = usize::try_from(n).map_err(|_| AsOfError::NoSuchVersion { requested: n, last })?;
    Ok(Projection::fold(&events[..count])?.view)
}

/// Where instant `t` falls on `axis`: the prefix as of `t` (see the module docs).
pub fn time_point(events: &[RecordedEvent], t: DateTime<Utc>, axis: TimeAxis) -> TimePoint {
    let version = events.iter().take_while(|e| axis.time_of(e) <= t).count() as u64;
    let late_entries = events
        .iter()
        .skip(usize::try_from(version).unwrap_or(usize::MAX))
        .filter(|e| axis.time_of(e) <= t)
        .map(|e| e.version)
        .collect();
    TimePoint {
        version,
        late_entries,
    }
}

/// The view as of instant `t` on `axis` (see the module docs): `None` when nothing had
/// happened by then.
///
/// # Errors
/// [`AsOfError::Chain`] when the events are not one intact chain.
pub fn as_of_time(
    events: &[RecordedEvent],
    t: DateTime<Utc>,
    axis: TimeAxis,
) -> Result<Option<AgreementView>, AsOfError> {
    as_of_version(events, time_point(events, t, axis).version)
}

/// Every view of the log, one per version: `views[i]` is the view after version
/// `i + 1`. Folds once, so it costs one replay (and memory for every view).
///
/// # Errors
/// [`AsOfError::Chain`] when the events are not one intact chain.
pub fn every_version(events: &[RecordedEvent]) -> Result<Vec<AgreementView>, AsOfError> {
    let mut p = Projection::new();
    let mut views = Vec::with_capacity(events.len());
    for e in events {
        p.apply(e)?;
        views.extend(p.view.clone());
    }
    Ok(views)
}
