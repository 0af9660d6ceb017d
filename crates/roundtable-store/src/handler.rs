//! The command side: decide against the latest state and append, with optimistic
//! concurrency and idempotency (DOMAIN.md, "Commands and the rules they obey" and
//! "Every command has a command id").

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Instant;

use chrono::Utc;
use roundtable_domain::{
    CommandEnvelope, CommandId, NegotiationId, Projection, RecordedEvent, Rejection, decide,
};
use roundtable_metrics::commands::{self, AppendOutcome, Outcome, Retry};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{EventStore, StoreError};

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

/// One negotiation's state as this process knows it.
#[derive(Default)]
struct Aggregate {
    projection: Option<Projection>,
    commands: HashMap<CommandId, u64>,
}

impl Aggregate {
    /// Reads what was recorded since this process last looked.
    async fn catch_up<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        id: &NegotiationId,
    ) -> Result<(), StoreError> {
        let projection = self.projection.get_or_insert_with(Projection::new);
        let events = store.read(id, projection.version, None).await?;
        for e in &events {
            projection.apply(e).map_err(|err| StoreError::Corrupt {
                negotiation: id.to_string(),
                position: format!("version {}", e.version),
                reason: err.to_string(),
            })?;
            self.commands.insert(e.command_id.clone(), e.version);
        }
        Ok(())
    }
}

/// Decides commands and appends their events to an [`EventStore`].
///
/// State is cached per negotiation and brought up to date when the store reports a
/// conflict (another writer moved on) and before any rejection is returned, so that a
/// rejection is always judged against the latest recorded state. Commands on one
/// negotiation are handled one at a time per process; different negotiations run in
/// parallel.
pub struct CommandHandler<S: ?Sized> {
    store: Arc<S>,
    aggregates: SyncMutex<HashMap<NegotiationId, Arc<Mutex<Aggregate>>>>,
    max_attempts: usize,
}

impl<S: EventStore + ?Sized> CommandHandler<S> {
    /// A handler over `store`, trying a contested command up to 16 times.
    pub fn new(store: Arc<S>) -> Self {
        CommandHandler {
            store,
            aggregates: SyncMutex::new(HashMap::new()),
            max_attempts: 16,
        }
    }

    /// The store this handler writes to.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    fn aggregate(&self, id: &NegotiationId) -> Arc<Mutex<Aggregate>> {
        let mut map = self
            .aggregates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(id.clone()).or_default().clone()
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
        let (outcome, rejection) = match &result {
            Ok(Handled::Recorded(_)) => (Outcome::Accepted, None),
            Ok(Handled::AlreadyRecorded(_)) => (Outcome::Replayed, None),
            Err(HandleError::Rejected(r)) => (Outcome::Rejected, Some(r.kind.as_str())),
            Err(HandleError::PreconditionFailed { .. }) => (Outcome::PreconditionFailed, None),
            Err(HandleError::Conflict { .. }) => (Outcome::Conflict, None),
            Err(HandleError::Store(_)) => (Outcome::StoreError, None),
        };
        commands::handled(cmd.command.name(), outcome, rejection, started.elapsed());
        result
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
        for _ in 0..self.max_attempts {
            if let Some(&version) = agg.commands.get(&cmd.command_id) {
                return self
                    .recorded(id, version)
                    .await
                    .map(Handled::AlreadyRecorded);
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
                    let recorded = RecordedEvent::seal(
                        cmd,
                        event,
                        projection.version + 1,
                        &projection.last_hash,
                        Uuid::now_v7(),
                        Utc::now(),
                    );
                    let appending = Instant::now();
                    let appended = self.store.append(&recorded).await;
                    commands::appended(
                        match &appended {
                            Ok(()) => AppendOutcome::Ok,
                            Err(StoreError::Conflict { .. }) => AppendOutcome::Conflict,
                            Err(_) => AppendOutcome::Error,
                        },
                        appending.elapsed(),
                    );
                    match appended {
                        Ok(()) => {
                            // Cannot fail: sealed from this very projection.
                            let _ = projection.apply(&recorded);
                            agg.commands
                                .insert(recorded.command_id.clone(), recorded.version);
                            return Ok(Handled::Recorded(recorded));
                        }
                        Err(StoreError::Conflict { .. }) => {
                            tracing::debug!("conflict; re-reading and deciding again");
                            commands::retried(Retry::Conflict);
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
