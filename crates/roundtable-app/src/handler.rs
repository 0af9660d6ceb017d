//! The command side: decide against the latest state and append, with optimistic
//! concurrency and idempotency (DOMAIN.md, "Commands and the rules they obey" and
//! "Every command has a command id").

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use roundtable_domain::{
    CommandEnvelope, CommandId, Event, NegotiationId, Projection, RecordedEvent, Rejection, decide,
};
use roundtable_metrics::commands::{self, AppendOutcome, Outcome, Retry};
use sha2::Digest;
use tokio::sync::Mutex;
use uuid::Uuid;

use roundtable_store::{EventStore, StoreError};

/// How a command was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Accepted now: this event was recorded.
    Recorded(RecordedEvent),
    /// Its command id was already recorded: this is the event recorded the first time,
    /// and nothing new was recorded.
    AlreadyRecorded(RecordedEvent),
}

impl Handled {
    /// The event, new or earlier.
    pub fn event(&self) -> &RecordedEvent {
        match self {
            Handled::Recorded(e) | Handled::AlreadyRecorded(e) => e,
        }
    }
}

/// Why a command was not recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HandleError {
    /// A rule of DOMAIN.md rejected it, judged against the latest recorded state.
    #[error("{0}")]
    Rejected(Rejection),
    /// Other writers kept moving the negotiation on; gave up after `attempts` tries.
    #[error(
        "negotiation {negotiation} kept changing under concurrent writers; gave up after {attempts} attempts"
    )]
    Conflict {
        /// The negotiation.
        negotiation: NegotiationId,
        /// How many times it re-read and re-decided.
        attempts: usize,
    },
    /// The caller expected the negotiation at another version (HTTP `If-Match`).
    #[error("negotiation {negotiation} is at version {actual}, not {expected}")]
    PreconditionFailed {
        /// The negotiation.
        negotiation: NegotiationId,
        /// The version the caller expected.
        expected: u64,
        /// The version recorded.
        actual: u64,
    },
    /// The store failed; whether the command was recorded is unknown, so retry it
    /// with the same command id.
    #[error(transparent)]
    Store(StoreError),
}

/// The time a command's event is recorded at (its `recorded_at`), injected into a
/// [`CommandHandler`] so that tests can fix it. Business time (`occurred_at`) comes
/// with the command, not from here.
pub trait Clock: Send + Sync + 'static {
    /// The time now, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock: [`Utc::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Where the id of each new event comes from, injected into a [`CommandHandler`] so
/// that tests can fix it. Ids must be unique across every writer of a log.
pub trait EventIds: Send + Sync + 'static {
    /// A new event id.
    fn next(&self) -> Uuid;
}

/// UUID version 7 ids (RFC 9562: a millisecond timestamp and random bits), so that
/// event ids sort roughly by the time they were made.
#[derive(Debug, Clone, Copy, Default)]
pub struct V7EventIds;

impl EventIds for V7EventIds {
    fn next(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// Events read per request while catching up, so that loading a negotiation of any
/// length holds one page of events at a time besides its state.
const CATCH_UP_PAGE: usize = 5_000;

/// A command id's fingerprint: the first 16 bytes of its SHA-256. An aggregate keeps
/// these rather than the ids (up to 200 bytes each), so that remembering every command
/// of a long negotiation costs about 40 bytes per event. A match is confirmed against
/// the recorded event's own command id before a command is answered as already
/// recorded (a 128-bit collision is not expected, but would not go unnoticed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CommandKey(u128);

impl CommandKey {
    fn of(id: &CommandId) -> CommandKey {
        let digest = sha2::Sha256::digest(id.as_str().as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        CommandKey(u128::from_le_bytes(first))
    }
}

/// How large one negotiation's log may grow: a deployment's limit, not a rule of the
/// domain, checked by [`CommandHandler`] before each event is appended, so that every
/// front end (HTTP, the command line's import, the web app) refuses alike. A command
/// that would pass a limit is rejected with the code [`NegotiationLimits::CODE`]
/// (kind `conflict`), naming the limit; a retry of a command already recorded is still
/// answered with its event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NegotiationLimits {
    /// The most events one negotiation may hold; `None`: no limit.
    pub max_events: Option<u64>,
    /// The most bytes its events may take, summed over their stored form (canonical
    /// JSON, as exported); `None`: no limit.
    pub max_bytes: Option<u64>,
}

impl NegotiationLimits {
    /// The rejection code of a command refused by a limit.
    pub const CODE: &'static str = "negotiation_limit_reached";

    /// No limit.
    pub const NONE: NegotiationLimits = NegotiationLimits {
        max_events: None,
        max_bytes: None,
    };

    /// The rejection of `event` when appending it to `agg` would pass a limit.
    fn check(&self, agg: &Aggregate, event: &RecordedEvent) -> Result<(), Rejection> {
        if let Some(max) = self.max_events {
            if event.version > max {
                return Err(Rejection::conflict(
                    Self::CODE,
                    format!(
                        "negotiation {} holds {} events, the most this deployment allows \
                         (max events per negotiation {max}); nothing was recorded",
                        event.negotiation_id,
                        event.version - 1
                    ),
                ));
            }
        }
        if let Some(max) = self.max_bytes {
            let size = event.to_bytes().len() as u64;
            if agg.bytes.saturating_add(size) > max {
                return Err(Rejection::conflict(
                    Self::CODE,
                    format!(
                        "negotiation {} holds {} bytes of events; this event of {size} bytes \
                         would pass the most this deployment allows (max bytes per \
                         negotiation {max}); nothing was recorded",
                        event.negotiation_id, agg.bytes
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// One negotiation's state as this process knows it.
#[derive(Default)]
struct Aggregate {
    projection: Option<Projection>,
    /// The version recorded for each command, by fingerprint.
    commands: HashMap<CommandKey, u64>,
    /// The bytes of its events (counted only when a byte limit is set).
    bytes: u64,
    /// Whether `bytes` is counted.
    count_bytes: bool,
}

impl Aggregate {
    /// Forgets the cached state: the next command reads the negotiation again.
    fn forget(&mut self) {
        self.projection = None;
        self.commands.clear();
        self.bytes = 0;
    }

    /// Counts `event` as recorded (or pending) in this aggregate's byte total.
    fn count(&mut self, event: &RecordedEvent) {
        if self.count_bytes {
            self.bytes = self.bytes.saturating_add(event.to_bytes().len() as u64);
        }
    }

    /// The version recorded for `id`, if this process has seen it recorded.
    fn recorded_version(&self, id: &CommandId) -> Option<u64> {
        self.commands.get(&CommandKey::of(id)).copied()
    }

    /// Reads what was recorded since this process last looked, a page at a time.
    async fn catch_up<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        id: &NegotiationId,
    ) -> Result<(), StoreError> {
        loop {
            let projection = self.projection.get_or_insert_with(Projection::new);
            let events = store
                .read(id, projection.version, Some(CATCH_UP_PAGE))
                .await?;
            for e in &events {
                projection.apply(e).map_err(|err| StoreError::Corrupt {
                    negotiation: id.to_string(),
                    position: format!("version {}", e.version),
                    reason: err.to_string(),
                })?;
                self.commands
                    .insert(CommandKey::of(&e.command_id), e.version);
                if self.count_bytes {
                    self.bytes = self.bytes.saturating_add(e.to_bytes().len() as u64);
                }
            }
            if events.len() < CATCH_UP_PAGE {
                return Ok(());
            }
        }
    }
}

/// How many negotiations a [`CommandHandler`] keeps in memory by default.
pub const DEFAULT_CACHED_NEGOTIATIONS: usize = 10_000;

/// A cached aggregate and when it was last used.
struct Slot {
    aggregate: Arc<Mutex<Aggregate>>,
    used: u64,
}

/// The cached aggregates, least recently used first out.
#[derive(Default)]
struct Aggregates {
    slots: HashMap<NegotiationId, Slot>,
    clock: u64,
}

/// Decides commands and appends their events to an [`EventStore`].
///
/// State is cached per negotiation and brought up to date when the store reports a
/// conflict (another writer moved on) and before any rejection is returned, so that a
/// rejection is always judged against the latest recorded state. Commands on one
/// negotiation are handled one at a time per process; different negotiations run in
/// parallel. At most [`DEFAULT_CACHED_NEGOTIATIONS`] negotiations are kept (see
/// [`CommandHandler::with_capacity`]): beyond that, the least recently used ones not in
/// use are dropped, and read again from the store if they come back.
pub struct CommandHandler<S: ?Sized> {
    store: Arc<S>,
    aggregates: SyncMutex<Aggregates>,
    capacity: usize,
    max_attempts: usize,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn EventIds>,
    limits: NegotiationLimits,
}

impl<S: EventStore + ?Sized> CommandHandler<S> {
    /// A handler over `store`, trying a contested command up to 16 times, with the
    /// system clock and UUID v7 event ids.
    pub fn new(store: Arc<S>) -> Self {
        CommandHandler {
            store,
            aggregates: SyncMutex::new(Aggregates::default()),
            capacity: DEFAULT_CACHED_NEGOTIATIONS,
            max_attempts: 16,
            clock: Arc::new(SystemClock),
            ids: Arc::new(V7EventIds),
            limits: NegotiationLimits::NONE,
        }
    }

    /// The same handler recording events at the times `clock` gives.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same handler giving new events the ids `ids` makes.
    #[must_use]
    pub fn with_event_ids(mut self, ids: Arc<dyn EventIds>) -> Self {
        self.ids = ids;
        self
    }

    /// The same handler refusing commands that would make a negotiation pass `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: NegotiationLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits this handler enforces.
    pub fn limits(&self) -> NegotiationLimits {
        self.limits
    }

    /// The same handler keeping at most `negotiations` negotiations in memory (at least
    /// 1). Memory then grows with the size of the negotiations in use, not with how
    /// many a long-running process has ever touched.
    #[must_use]
    pub fn with_capacity(mut self, negotiations: usize) -> Self {
        self.capacity = negotiations.max(1);
        self
    }

    /// How many negotiations are in memory now.
    pub fn cached(&self) -> usize {
        self.aggregates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .slots
            .len()
    }

    /// The store this handler writes to.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    fn aggregate(&self, id: &NegotiationId) -> Arc<Mutex<Aggregate>> {
        let mut cache = self
            .aggregates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.clock += 1;
        let now = cache.clock;
        if let Some(slot) = cache.slots.get_mut(id) {
            slot.used = now;
            return slot.aggregate.clone();
        }
        if cache.slots.len() >= self.capacity {
            // Drop the least recently used eighth that no command is using, at once, so
            // that the scan is paid once per many insertions.
            let mut idle: Vec<(u64, NegotiationId)> = cache
                .slots
                .iter()
                .filter(|(_, slot)| Arc::strong_count(&slot.aggregate) == 1)
                .map(|(id, slot)| (slot.used, id.clone()))
                .collect();
            idle.sort_unstable_by_key(|(used, _)| *used);
            let excess = cache.slots.len() + 1 - self.capacity;
            for (_, old) in idle.into_iter().take(excess.max(self.capacity / 8)) {
                cache.slots.remove(&old);
            }
        }
        let aggregate = Arc::new(Mutex::new(Aggregate {
            count_bytes: self.limits.max_bytes.is_some(),
            ..Aggregate::default()
        }));
        cache.slots.insert(
            id.clone(),
            Slot {
                aggregate: aggregate.clone(),
                used: now,
            },
        );
        aggregate
    }

    /// Handles one command: exactly one event recorded, or none.
    ///
    /// # Errors
    /// [`HandleError::Rejected`] with the broken rule; [`HandleError::Conflict`] when
    /// concurrent writers won every attempt; [`HandleError::Store`] when the store
    /// failed (retrying with the same command id is safe).
    pub async fn handle(&self, cmd: &CommandEnvelope) -> Result<Handled, HandleError> {
        self.handle_expecting(cmd, None).await
    }

    /// Like [`CommandHandler::handle`], but only if the negotiation is still at
    /// `expected_version` (the number of its events) when the event is appended: the
    /// client-side optimistic concurrency of HTTP `If-Match`. A retry of an already
    /// recorded command is answered with its event whatever the version.
    ///
    /// # Errors
    /// As [`CommandHandler::handle`], plus [`HandleError::PreconditionFailed`].
    #[tracing::instrument(skip_all, fields(negotiation_id = %cmd.negotiation_id, command = cmd.command.name()))]
    pub async fn handle_expecting(
        &self,
        cmd: &CommandEnvelope,
        expected_version: Option<u64>,
    ) -> Result<Handled, HandleError> {
        let started = Instant::now();
        let result = self.decide_and_append(cmd, expected_version).await;
        record_metrics(cmd, &result, started);
        result
    }

    /// Handles `cmds` in order, as many [`CommandHandler::handle`] calls would, but
    /// appends the accepted events of consecutive commands on one negotiation together
    /// with [`EventStore::append_batch`]: one write (one atomic JetStream batch, one
    /// SQLite transaction) for up to `max_batch` events instead of one per event.
    ///
    /// Each result is the one `handle` would have given for that command after the
    /// commands before it: a retried command id is answered with its first event, and
    /// a command the rules reject is judged again against the latest recorded state
    /// (the events before it are appended first), so a rejection is never caused by a
    /// stale cache. With `stop_at_error`, handling stops after the first error (a
    /// rejection, a conflict or a store failure) and the results end with it; nothing
    /// after it is recorded. When a batch's append fails, the handler forgets what it
    /// cached of the negotiation and handles that batch's commands again one by one
    /// (an event that was recorded after all is then answered as already recorded).
    ///
    /// `max_batch` is clamped to at least 1; 1,000 matches nats-server's default limit
    /// on an atomic batch.
    pub async fn handle_batch(
        &self,
        cmds: &[CommandEnvelope],
        max_batch: usize,
        stop_at_error: bool,
    ) -> Vec<Result<Handled, HandleError>> {
        let mut results = Vec::with_capacity(cmds.len());
        let mut start = 0;
        while start < cmds.len() {
            let id = &cmds[start].negotiation_id;
            let end = start
                + cmds[start..]
                    .iter()
                    .take_while(|c| c.negotiation_id == *id)
                    .count();
            let stopped = self
                .handle_run(
                    &cmds[start..end],
                    max_batch.max(1),
                    stop_at_error,
                    &mut results,
                )
                .await;
            if stopped {
                break;
            }
            start = end;
        }
        results
    }

    /// [`CommandHandler::handle_batch`] for commands on one negotiation; `true` when it
    /// stopped at an error.
    ///
    /// The negotiation's lock is held while events are pending, so that no other
    /// command of this process decides on a state that includes events not yet
    /// appended; it is released only to hand a command to [`CommandHandler::handle`]'s
    /// path (a retry, a rejection to judge again, a failed batch).
    async fn handle_run(
        &self,
        cmds: &[CommandEnvelope],
        max_batch: usize,
        stop_at_error: bool,
        results: &mut Vec<Result<Handled, HandleError>>,
    ) -> bool {
        let Some(first) = cmds.first() else {
            return false;
        };
        let id = &first.negotiation_id;
        let aggregate = self.aggregate(id);
        // Commands decided but not yet appended: their index in `cmds`, their event.
        let mut pending: Vec<(usize, RecordedEvent)> = Vec::new();
        let mut agg = aggregate.lock().await;
        // Recorded events read to answer retried commands, a page at a time: a file
        // imported again is answered from a few reads, not one read per line.
        let mut replay: Vec<RecordedEvent> = Vec::new();
        let mut i = 0;
        while i < cmds.len() {
            let cmd = &cmds[i];
            let started = Instant::now();
            if agg.projection.is_none() {
                if let Err(e) = agg.catch_up(&*self.store, id).await {
                    agg.forget();
                    let result = Err(HandleError::Store(e));
                    record_metrics(cmd, &result, started);
                    results.push(result);
                    if stop_at_error {
                        return true;
                    }
                    i += 1;
                    continue;
                }
            }
            // A retried command whose event is stored (not pending): its event.
            let stored = agg
                .projection
                .as_ref()
                .map_or(0, |p| p.version - pending.len() as u64);
            // (Only with nothing pending, so that results stay in the commands' order.)
            if let Some(version) = agg
                .recorded_version(&cmd.command_id)
                .filter(|&v| v <= stored && pending.is_empty())
            {
                // The page holds consecutive versions from its first.
                let cached = |replay: &[RecordedEvent]| {
                    let first = replay.first()?.version;
                    let at = usize::try_from(version.checked_sub(first)?).ok()?;
                    replay
                        .get(at)
                        .filter(|e| e.version == version && e.command_id == cmd.command_id)
                        .cloned()
                };
                let mut earlier = cached(&replay);
                if earlier.is_none() {
                    // A page no longer than the commands left in this run: a run of one
                    // command (a file whose lines alternate between negotiations) reads
                    // one event, not the rest of the negotiation each time.
                    let page = (cmds.len() - i).min(CATCH_UP_PAGE);
                    if let Ok(page) = self.store.read(id, version - 1, Some(page)).await {
                        replay = page;
                        earlier = cached(&replay);
                    }
                }
                if let Some(event) = earlier {
                    let result = Ok(Handled::AlreadyRecorded(event));
                    record_metrics(cmd, &result, started);
                    results.push(result);
                    i += 1;
                    continue;
                }
            }
            // A retried command id, or a rejection against the cache, is answered as
            // `handle` answers it, once what is pending is appended.
            let accepted = if agg.recorded_version(&cmd.command_id).is_some() {
                None
            } else {
                let projection = agg.projection.get_or_insert_with(Projection::new);
                decide(projection.view.as_ref(), cmd)
                    .ok()
                    .map(|event| self.seal_next(projection, cmd, event))
                    // Over a limit: judged again, one by one, against the latest state.
                    .filter(|recorded| self.limits.check(&agg, recorded).is_ok())
            };
            let one_by_one = match accepted {
                Some(recorded) => {
                    let projection = agg.projection.get_or_insert_with(Projection::new);
                    // Cannot fail: sealed from this very projection.
                    let _ = projection.apply(&recorded);
                    agg.commands
                        .insert(CommandKey::of(&recorded.command_id), recorded.version);
                    agg.count(&recorded);
                    pending.push((i, recorded));
                    if pending.len() < max_batch {
                        Vec::new()
                    } else {
                        self.flush(&mut agg, cmds, &mut pending, results).await
                    }
                }
                None => {
                    let mut failed = self.flush(&mut agg, cmds, &mut pending, results).await;
                    failed.push(i);
                    failed
                }
            };
            if !one_by_one.is_empty() {
                drop(agg);
                if self
                    .one_by_one(cmds, &one_by_one, stop_at_error, results)
                    .await
                {
                    return true;
                }
                agg = aggregate.lock().await;
            }
            i += 1;
        }
        let failed = self.flush(&mut agg, cmds, &mut pending, results).await;
        drop(agg);
        self.one_by_one(cmds, &failed, stop_at_error, results).await
    }

    /// Handles the commands at `indices` one at a time, as `handle` does; `true` when it
    /// stopped at an error.
    async fn one_by_one(
        &self,
        cmds: &[CommandEnvelope],
        indices: &[usize],
        stop_at_error: bool,
        results: &mut Vec<Result<Handled, HandleError>>,
    ) -> bool {
        for &n in indices {
            let result = self.handle_expecting(&cmds[n], None).await;
            let failed = result.is_err();
            results.push(result);
            if failed && stop_at_error {
                return true;
            }
        }
        false
    }

    /// Appends the pending events in one batch and pushes their results. When the
    /// append fails, forgets the cached negotiation and returns the indices of those
    /// commands, for the caller to handle one by one once it has let go of the lock.
    async fn flush(
        &self,
        agg: &mut Aggregate,
        cmds: &[CommandEnvelope],
        pending: &mut Vec<(usize, RecordedEvent)>,
        results: &mut Vec<Result<Handled, HandleError>>,
    ) -> Vec<usize> {
        let batch = std::mem::take(pending);
        if batch.is_empty() {
            return Vec::new();
        }
        let started = Instant::now();
        let events: Vec<RecordedEvent> = batch.iter().map(|(_, e)| e.clone()).collect();
        let appended = self.store.append_batch(&events).await;
        record_append(&appended, started);
        match appended {
            Ok(()) => {
                for (i, event) in batch {
                    let result = Ok(Handled::Recorded(event));
                    record_metrics(&cmds[i], &result, started);
                    results.push(result);
                }
                Vec::new()
            }
            Err(e) => {
                tracing::debug!(error = %e, events = batch.len(), "batch append failed; handling its commands one by one");
                agg.forget();
                batch.into_iter().map(|(i, _)| i).collect()
            }
        }
    }

    /// `event` sealed as the next version after `projection`, with a new event id
    /// and the time now, from the injected [`EventIds`] and [`Clock`].
    fn seal_next(
        &self,
        projection: &Projection,
        cmd: &CommandEnvelope,
        event: Event,
    ) -> RecordedEvent {
        RecordedEvent::seal(
            cmd,
            event,
            projection.version + 1,
            &projection.last_hash,
            self.ids.next(),
            self.clock.now(),
        )
    }

    async fn decide_and_append(
        &self,
        cmd: &CommandEnvelope,
        expected_version: Option<u64>,
    ) -> Result<Handled, HandleError> {
        let id = &cmd.negotiation_id;
        let aggregate = self.aggregate(id);
        let mut agg = aggregate.lock().await;
        let mut fresh = false;
        if agg.projection.is_none() {
            agg.catch_up(&*self.store, id)
                .await
                .map_err(HandleError::Store)?;
            fresh = true;
        }
        for attempt in 0..self.max_attempts {
            if let Some(version) = agg.recorded_version(&cmd.command_id) {
                let earlier = self.recorded(id, version).await?;
                if earlier.command_id == cmd.command_id {
                    return Ok(Handled::AlreadyRecorded(earlier));
                }
                // Another command id with the same fingerprint: decide as new.
                tracing::warn!(command_id = %cmd.command_id, other = %earlier.command_id, "command id fingerprints collide");
            }
            let projection = agg.projection.get_or_insert_with(Projection::new);
            if let Some(expected) = expected_version {
                if projection.version != expected {
                    if fresh {
                        return Err(HandleError::PreconditionFailed {
                            negotiation: id.clone(),
                            expected,
                            actual: projection.version,
                        });
                    }
                    commands::retried(Retry::StaleState);
                    agg.catch_up(&*self.store, id)
                        .await
                        .map_err(HandleError::Store)?;
                    fresh = true;
                    continue;
                }
            }
            match decide(projection.view.as_ref(), cmd) {
                Err(rejection) if fresh => return Err(HandleError::Rejected(rejection)),
                Err(_) => commands::retried(Retry::StaleState),
                Ok(event) => {
                    let recorded = self.seal_next(projection, cmd, event);
                    match self.limits.check(&agg, &recorded) {
                        Err(rejection) if fresh => return Err(HandleError::Rejected(rejection)),
                        Err(_) => {
                            // Judged against the latest state before it is refused.
                            agg.catch_up(&*self.store, id)
                                .await
                                .map_err(HandleError::Store)?;
                            fresh = true;
                            continue;
                        }
                        Ok(()) => {}
                    }
                    let projection = agg.projection.get_or_insert_with(Projection::new);
                    let appending = Instant::now();
                    let appended = self.store.append(&recorded).await;
                    record_append(&appended, appending);
                    match appended {
                        Ok(()) => {
                            // Cannot fail: sealed from this very projection.
                            let _ = projection.apply(&recorded);
                            agg.commands
                                .insert(CommandKey::of(&recorded.command_id), recorded.version);
                            agg.count(&recorded);
                            return Ok(Handled::Recorded(recorded));
                        }
                        Err(StoreError::Conflict { .. }) => {
                            tracing::debug!("conflict; re-reading and deciding again");
                            commands::retried(Retry::Conflict);
                            // Writers that keep colliding take turns: after the first
                            // lost race, wait a random while (up to 1, 2, 4... 64 ms).
                            if attempt > 0 {
                                tokio::time::sleep(backoff(attempt)).await;
                            }
                        }
                        Err(e) => return Err(HandleError::Store(e)),
                    }
                }
            }
            agg.catch_up(&*self.store, id)
                .await
                .map_err(HandleError::Store)?;
            fresh = true;
        }
        Err(HandleError::Conflict {
            negotiation: id.clone(),
            attempts: self.max_attempts,
        })
    }

    async fn recorded(
        &self,
        id: &NegotiationId,
        version: u64,
    ) -> Result<RecordedEvent, HandleError> {
        let mut events = self
            .store
            .read(id, version - 1, Some(1))
            .await
            .map_err(HandleError::Store)?;
        events.pop().ok_or_else(|| {
            HandleError::Store(StoreError::Corrupt {
                negotiation: id.to_string(),
                position: format!("version {version}"),
                reason: "event recorded earlier can no longer be read".into(),
            })
        })
    }
}

/// A random pause in `[0, 2^min(attempt, 6)]` ms ("full jitter"), so that writers
/// that keep losing races on one negotiation spread out instead of colliding again.
fn backoff(attempt: usize) -> std::time::Duration {
    let cap_ms = 1u64 << attempt.min(6);
    let random = u64::from_le_bytes(
        Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .unwrap_or_default(),
    );
    std::time::Duration::from_micros(random % (cap_ms * 1000 + 1))
}

/// Counts one append (of one event or a batch) and how long it took.
fn record_append(appended: &Result<(), StoreError>, started: Instant) {
    let outcome = match appended {
        Ok(()) => AppendOutcome::Ok,
        Err(StoreError::Conflict { .. }) => AppendOutcome::Conflict,
        Err(_) => AppendOutcome::Error,
    };
    commands::appended(outcome, started.elapsed());
}

/// Counts a command handled in a batch as `handle` counts it.
fn record_metrics(cmd: &CommandEnvelope, result: &Result<Handled, HandleError>, started: Instant) {
    let (outcome, rejection) = match result {
        Ok(Handled::Recorded(_)) => (Outcome::Accepted, None),
        Ok(Handled::AlreadyRecorded(_)) => (Outcome::Replayed, None),
        Err(HandleError::Rejected(r)) => (Outcome::Rejected, Some(r.kind.as_str())),
        Err(HandleError::PreconditionFailed { .. }) => (Outcome::PreconditionFailed, None),
        Err(HandleError::Conflict { .. }) => (Outcome::Conflict, None),
        Err(HandleError::Store(_)) => (Outcome::StoreError, None),
    };
    commands::handled(cmd.command.name(), outcome, rejection, started.elapsed());
}

/// Folds every recorded event of `negotiation` into its current projection.
///
/// # Errors
/// [`StoreError`] from the read, or `Corrupt` when the chain does not fold.
pub async fn load<S: EventStore + ?Sized>(
    store: &S,
    negotiation: &NegotiationId,
) -> Result<Projection, StoreError> {
    let events = store.read(negotiation, 0, None).await?;
    Projection::fold(&events).map_err(|e| StoreError::Corrupt {
        negotiation: negotiation.to_string(),
        position: "fold".into(),
        reason: e.to_string(),
    })
}
