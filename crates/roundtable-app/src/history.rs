//! A negotiation's recorded history: its events, the agreement as of any point, and
//! what changed between two versions. Everything here is folded from the event log,
//! never read from a stored snapshot (docs/AUDIT.md, "Time travel").

use roundtable_audit::{AgreementDiff, AsOfError};
use roundtable_domain::{AgreementView, EventBody, NegotiationId, RecordedEvent};
use roundtable_store::EventStore;

use crate::{AppError, AsOf};

/// The first `limit` events of `negotiation` (`None`: all), in version order.
///
/// # Errors
/// [`AppError::NotRecorded`] when it has no event at all (a `limit` of 0 on a
/// negotiation that exists gives an empty list); [`AppError::Store`] when the event
/// store fails.
pub async fn events(
    store: &dyn EventStore,
    negotiation: &NegotiationId,
    limit: Option<usize>,
) -> Result<Vec<RecordedEvent>, AppError> {
    let events = store
        .read(negotiation, 0, limit)
        .await
        .map_err(AppError::events)?;
    if events.is_empty()
        && store
            .last_version(negotiation)
            .await
            .map_err(AppError::events)?
            == 0
    {
        return Err(AppError::NotRecorded {
            negotiation: negotiation.clone(),
        });
    }
    Ok(events)
}

/// The agreement as it stood at some point, folded from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct PointInTime {
    /// The view after the first [`PointInTime::version`] events.
    pub view: AgreementView,
    /// How many events the view folds.
    pub version: u64,
    /// For a point given as an instant: the versions after the view whose time is
    /// nevertheless at or before the instant (entries made late or back-dated). The
    /// view stops before the first of them; every front end reports them.
    pub late_entries: Vec<u64>,
    /// The point asked for.
    pub as_of: AsOf,
}

/// The view of `negotiation` at `as_of` (docs/AUDIT.md, "Time travel").
///
/// # Errors
/// [`AppError::NotRecorded`] when it has no event; [`AppError::VersionNotFound`] for a
/// version past the last; [`AppError::NotYetOpened`] for version 0 or an instant
/// before its first event; [`AppError::Corrupt`] when the events do not fold;
/// [`AppError::Store`] when the event store fails.
pub async fn view_as_of(
    store: &dyn EventStore,
    negotiation: &NegotiationId,
    as_of: AsOf,
) -> Result<PointInTime, AppError> {
    let limit = match as_of {
        AsOf::Version(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        AsOf::Now | AsOf::Time(..) => None,
    };
    let events = events(store, negotiation, limit).await?;
    let (version, late_entries) = match as_of {
        AsOf::Now => (events.len() as u64, Vec::new()),
        AsOf::Version(n) => (n, Vec::new()),
        AsOf::Time(t, axis) => {
            let point = roundtable_audit::time_point(&events, t, axis);
            (point.version, point.late_entries)
        }
    };
    let Some(view) = fold_to(&events, version, negotiation)? else {
        return Err(AppError::NotYetOpened {
            negotiation: negotiation.clone(),
            when: as_of.describe(),
        });
    };
    Ok(PointInTime {
        view,
        version,
        late_entries,
        as_of,
    })
}

/// The agreement in force while a round is open: the view right after the last
/// `conclude` among the first `version` events (DOMAIN.md, "After the signature": until
/// the round concludes, the agreement in force is the one of the last conclusion).
/// `None` when nothing was ever concluded.
///
/// # Errors
/// [`AppError::NotRecorded`], [`AppError::Corrupt`] and [`AppError::Store`].
pub async fn in_force_view(
    store: &dyn EventStore,
    negotiation: &NegotiationId,
    version: u64,
) -> Result<Option<AgreementView>, AppError> {
    let events = events(store, negotiation, usize::try_from(version).ok()).await?;
    let Some(last) = events
        .iter()
        .rposition(|e| matches!(e.event.body, EventBody::NegotiationConcluded(_)))
    else {
        return Ok(None);
    };
    fold_to(&events, last as u64 + 1, negotiation)
}

/// What changed in a negotiation between two versions.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// The earlier version (0: before the negotiation was opened).
    pub from: u64,
    /// The later version.
    pub to: u64,
    /// What changed (docs/AUDIT.md, "What changed").
    pub diff: AgreementDiff,
}

/// What changed in `negotiation` from version `from` to version `to` (`None`: the
/// last), both folded from the log.
///
/// # Errors
/// [`AppError::NotRecorded`] when it has no event; [`AppError::InvalidRequest`] when
/// `from` is after `to` or `to` is 0; [`AppError::VersionNotFound`] when `to` is past
/// the last version; [`AppError::Corrupt`] and [`AppError::Store`] as
/// [`view_as_of`].
pub async fn diff(
    store: &dyn EventStore,
    negotiation: &NegotiationId,
    from: u64,
    to: Option<u64>,
) -> Result<Changes, AppError> {
    if to == Some(0) {
        return Err(AppError::InvalidRequest(
            "to 0 is before the negotiation was opened; it must be at least 1".to_owned(),
        ));
    }
    let limit = to.map(|to| usize::try_from(to).unwrap_or(usize::MAX));
    let events = events(store, negotiation, limit).await?;
    let last = events.len() as u64;
    let to = to.unwrap_or(last);
    if from > to {
        return Err(AppError::InvalidRequest(format!(
            "from {from} is after to {to}"
        )));
    }
    let before = fold_to(&events, from, negotiation)?;
    let Some(after) = fold_to(&events, to, negotiation)? else {
        // `to` is at least 1 and at most the last version, and version 1 opens the
        // negotiation: a log without a view there does not fold.
        return Err(AppError::Corrupt {
            negotiation: negotiation.clone(),
            reason: format!("no view at version {to} of {last}"),
        });
    };
    Ok(Changes {
        from,
        to,
        diff: roundtable_audit::diff(before.as_ref(), &after),
    })
}

/// The view after the first `version` of `events` (`None` for 0).
pub(crate) fn fold_to(
    events: &[RecordedEvent],
    version: u64,
    negotiation: &NegotiationId,
) -> Result<Option<AgreementView>, AppError> {
    roundtable_audit::as_of_version(events, version).map_err(|e| match e {
        AsOfError::NoSuchVersion { requested, last } => AppError::VersionNotFound {
            negotiation: negotiation.clone(),
            requested,
            last,
        },
        AsOfError::Chain(e) => AppError::Corrupt {
            negotiation: negotiation.clone(),
            reason: e.to_string(),
        },
    })
}
