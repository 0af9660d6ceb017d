//! Bringing one negotiation's stored view up to the events of a batch: at most once
//! per event, filling gaps from the log, with optimistic updates.

use roundtable_domain::{NegotiationId, Projection, RecordedEvent};
use roundtable_metrics::projector::ParkReason;
use roundtable_store::{Change, EventStore, StoreError};

use crate::Projector;
use crate::batch::Group;
use crate::cache::Cached;

/// Whether a store error may go away by trying again (the backend is unreachable,
/// or other writers kept winning); anything else will not, and the entries concerned
/// are parked.
pub(crate) fn is_transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(_) | StoreError::Conflict { .. })
}

impl Projector {
    /// Applies the events of `group` that its stored view lacks, in one update.
    ///
    /// 1. The view comes from the cache, else from the view store (none: a new
    ///    negotiation).
    /// 2. If it already holds the group's highest version, every event is skipped
    ///    (redelivered, or applied by another projector); a cached view is checked
    ///    against the store first, in case a rebuild dropped it.
    /// 3. The events from the view's version up to the highest are applied in order:
    ///    the group's own when they follow on without a gap, else read from the log
    ///    (another projector has not stored the earlier ones yet, or they came out of
    ///    order).
    /// 4. The view is stored conditionally on the revision it was read at. On a
    ///    conflict (another projector stored it first) it is read again and the whole
    ///    is tried again; after a successful update one change per applied event goes
    ///    to the change sink, in version order.
    ///
    /// # Errors
    /// Transient store errors ([`is_transient`]): the group is to be tried again.
    /// Other failures park the entries concerned and return `Ok`.
    #[tracing::instrument(skip_all, fields(negotiation_id = %group.negotiation, events = group.events.len()))]
    pub(crate) async fn update(&mut self, group: &Group) -> Result<(), StoreError> {
        let id = &group.negotiation;
        let target = group.target();
        let mut from_store = false;
        for _ in 0..self.config.max_conflicts.max(1) {
            let cached = self.cache.take(id).filter(|_| !from_store);
            let from_cache = cached.is_some();
            let state = match cached {
                Some(c) => Some(c),
                None => match self.views.get(id).await {
                    Ok(stored) => stored.map(|s| Cached {
                        projection: Projection::from_view(s.view),
                        revision: s.revision,
                    }),
                    Err(e) if is_transient(&e) => return Err(e),
                    Err(e) => {
                        self.park_group(group, ParkReason::ViewStore, 0, &e);
                        return Ok(());
                    }
                },
            };
            let (mut projection, revision) = match state {
                Some(c) => (c.projection, Some(c.revision)),
                None => (Projection::new(), None),
            };
            let base = projection.version;
            if base >= target {
                if from_cache {
                    from_store = true;
                    continue;
                }
                self.stats.skipped += group.events.len() as u64;
                if let Some(revision) = revision {
                    self.cache.put(
                        id.clone(),
                        Cached {
                            projection,
                            revision,
                        },
                    );
                }
                return Ok(());
            }
            let events = match missing(&*self.events, group, base, target).await {
                Ok(events) => events,
                Err(e) if is_transient(&e) => return Err(e),
                Err(e) => {
                    self.stats.skipped += group.at_or_below(base);
                    self.park_group(group, ParkReason::Unapplicable, base, &e);
                    return Ok(());
                }
            };
            let (changes, failure) = apply(&mut projection, &events);
            let reached = base + changes.len() as u64;
            let Some(view) = projection.view.as_ref().filter(|_| reached > base) else {
                let e = failure.unwrap_or_else(|| corrupt(id, base + 1, "nothing to apply"));
                self.stats.skipped += group.at_or_below(base);
                self.park_group(group, ParkReason::Unapplicable, base, &e);
                return Ok(());
            };
            match self.views.put(view, revision).await {
                Ok(revision) => {
                    self.stats.applied += changes.len() as u64;
                    self.stats.skipped += group.at_or_below(base);
                    if let Some(e) = &failure {
                        self.park_group(group, ParkReason::Unapplicable, reached, e);
                    }
                    self.cache.put(
                        id.clone(),
                        Cached {
                            projection,
                            revision,
                        },
                    );
                    tracing::debug!(from = base, to = reached, revision, "view stored");
                    let changes = match self.not_yet_announced(id, changes).await {
                        Ok(changes) => changes,
                        Err((e, changes)) => {
                            self.unannounced = std::mem::take(&mut self.unconfirmed);
                            self.unannounced.extend(changes);
                            return Err(e);
                        }
                    };
                    // Sent now, confirmed once for the whole batch before it is
                    // acknowledged (Projector::step).
                    let sent = self.changes.send_all(&changes).await;
                    self.unconfirmed.extend(changes);
                    if let Err(e) = sent {
                        // The view is stored; its changes go out before anything
                        // else on the next step, and the group is tried again.
                        tracing::warn!(from = base, to = reached, error = %e, "change notifications not published; trying again");
                        self.unannounced = std::mem::take(&mut self.unconfirmed);
                        return Err(e);
                    }
                    return Ok(());
                }
                Err(StoreError::Conflict { .. }) => {
                    tracing::debug!(
                        base,
                        "another projector stored the view first; reading it again"
                    );
                    from_store = true;
                }
                Err(e) if is_transient(&e) => return Err(e),
                Err(e) => {
                    self.stats.skipped += group.at_or_below(base);
                    self.park_group(group, ParkReason::ViewStore, base, &e);
                    return Ok(());
                }
            }
        }
        Err(StoreError::Conflict {
            negotiation: id.clone(),
            expected: target,
            actual: None,
        })
    }

    /// While rebuilding, the changes the sink does not hold yet (a rebuild announces
    /// nothing integrations were already told); otherwise all of them. The sink is
    /// asked once per negotiation and rebuild. On an error, the changes come back with
    /// it, to be published (again) before anything else.
    async fn not_yet_announced(
        &mut self,
        id: &NegotiationId,
        changes: Vec<Change>,
    ) -> Result<Vec<Change>, (StoreError, Vec<Change>)> {
        let Some(announced) = self.announced.as_mut() else {
            return Ok(changes);
        };
        let last = match announced.get(id) {
            Some(&last) => last,
            None => match self.changes.last_announced(id).await {
                Ok(last) => {
                    let last = last.unwrap_or(0);
                    announced.insert(id.clone(), last);
                    last
                }
                Err(e) => return Err((e, changes)),
            },
        };
        Ok(changes.into_iter().filter(|c| c.version > last).collect())
    }

    /// Parks every event of `group` above version `above`.
    fn park_group(&mut self, group: &Group, kind: ParkReason, above: u64, reason: &StoreError) {
        let entries: Vec<(u64, u64)> = group.above(above).collect();
        for (position, version) in entries {
            self.park(
                position,
                Some(&group.negotiation),
                Some(version),
                kind,
                reason,
            );
        }
    }
}

/// The events after `base` up to `target`: the group's own when they are all
/// there, else read from the log.
async fn missing(
    store: &dyn EventStore,
    group: &Group,
    base: u64,
    target: u64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut own: Vec<&RecordedEvent> = group
        .events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e.version > base)
        .collect();
    own.sort_by_key(|e| e.version);
    own.dedup_by_key(|e| e.version);
    let wanted = target - base;
    if own.len() as u64 == wanted {
        return Ok(own.into_iter().cloned().collect());
    }
    tracing::debug!(
        base,
        target,
        "gap before the batch's events; reading them from the log"
    );
    let id = &group.negotiation;
    let limit = usize::try_from(wanted).unwrap_or(usize::MAX);
    let events = store.read(id, base, Some(limit)).await?;
    if events.last().map(|e| e.version) != Some(target) {
        return Err(StoreError::unavailable(format!(
            "the log of {id} read after version {base} ends at version {}, before version {target}, which the feed delivered",
            events.last().map_or(base, |e| e.version)
        )));
    }
    Ok(events)
}

/// Applies `events` in order and notes the change each makes; stops at the first
/// that does not follow on (returned as the failure).
fn apply(
    projection: &mut Projection,
    events: &[RecordedEvent],
) -> (Vec<Change>, Option<StoreError>) {
    let mut changes = Vec::with_capacity(events.len());
    for e in events {
        if let Err(err) = projection.apply(e) {
            return (
                changes,
                Some(corrupt(&e.negotiation_id, e.version, &err.to_string())),
            );
        }
        match projection.view.as_ref() {
            Some(view) => changes.push(Change::of(e, view)),
            None => {
                return (
                    changes,
                    Some(corrupt(
                        &e.negotiation_id,
                        e.version,
                        "an event before the negotiation was opened",
                    )),
                );
            }
        }
    }
    (changes, None)
}

fn corrupt(id: &NegotiationId, version: u64, reason: &str) -> StoreError {
    StoreError::Corrupt {
        negotiation: id.to_string(),
        position: format!("version {version}"),
        reason: format!("cannot be applied to the stored view: {reason}"),
    }
}
