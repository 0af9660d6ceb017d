//! The identity of a deployment's event log, and the rule that a lost log is never
//! replaced by a new, empty one without being told to.
//!
//! A deployment's log gets an identity once: a UUID made by `roundtable init`, or by
//! the first start of a deployment that shows no sign of an earlier log. It is kept in
//! the key-value port beside the log ([`LOG_BUCKET`], key [`IDENTITY_KEY`]) and can be
//! pinned in the deployment's configuration (`ROUNDTABLE_LOG_ID`), which survives the
//! loss of the store itself.
//!
//! [`open_log`] is what every front end calls before it uses a store:
//! - the log holds events: it is the deployment's log (given an identity now if it had
//!   none, as a log recorded before this release);
//! - the log is missing or empty, but something shows that there was one (the
//!   identity, stored views, parked entries, webhooks): refused with
//!   [`StoreError::LogMissing`], naming the evidence, unless a new log is explicitly
//!   allowed (`--allow-new-log`, `roundtable init --force`); the views of the lost
//!   history are then dropped, so that none is served as current;
//! - nothing at all: a fresh deployment, given its identity now (unless the
//!   configuration pins one, which a fresh store cannot hold: refused).
//!
//! While a service runs, [`mark_views_stale`] marks every stored view stale once the
//! log is found missing, so that readers are told the views may describe a lost
//! history.
//!
//! This is written once over the ports, for every adapter.

use chrono::{DateTime, Utc};
use roundtable_domain::NegotiationId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use roundtable_projector::{ParkedEntry, ViewStore};
use roundtable_store::{Ports, StoreError};

/// The key-value bucket holding the log's identity.
pub const LOG_BUCKET: &str = "ROUNDTABLE_LOG";
/// The key of the identity in [`LOG_BUCKET`].
pub const IDENTITY_KEY: &str = "identity";

/// The identity of one deployment's event log, as stored (JSON) under
/// [`IDENTITY_KEY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogIdentity {
    /// The log's id: a random (version 4) UUID, made once.
    pub log_id: Uuid,
    /// When it was made (the clock of the process that made it).
    pub created_at: DateTime<Utc>,
    /// How it was made: `init`, `first start`, `adopted` (a log with events recorded
    /// before identities existed) or `new log` (allowed over evidence of a lost one).
    pub created_by: String,
}

impl LogIdentity {
    fn new(created_by: &str) -> LogIdentity {
        LogIdentity {
            log_id: Uuid::new_v4(),
            created_at: Utc::now(),
            created_by: created_by.to_owned(),
        }
    }
}

/// What [`open_log`] may do.
#[derive(Debug, Clone, Default)]
pub struct LogPolicy {
    /// Whether the caller writes (import, serve, init): it gives a fresh deployment's
    /// log its identity. A reader records no identity.
    pub create: bool,
    /// Start a new log even though there is evidence of an earlier one (the old views
    /// and parked entries are dropped; webhooks are kept). For after a loss that
    /// cannot be restored.
    pub allow_new_log: bool,
    /// The identity the deployment's configuration pins (`ROUNDTABLE_LOG_ID`): the
    /// store must hold this log.
    pub expected: Option<Uuid>,
    /// How a new identity is recorded as made (`init` or `first start`).
    pub created_by: &'static str,
    /// `roundtable init`: with [`LogPolicy::expected`], a log with events and no
    /// identity (restored from a stream backup) is confirmed as that log.
    pub init: bool,
}

/// A key-value bucket whose keys are evidence of an earlier log: given by the caller,
/// which knows the read side's and the webhooks' bucket names.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceBucket<'a> {
    /// The bucket's name.
    pub bucket: &'a str,
    /// What it holds, in words (`stored views`).
    pub holds: &'a str,
    /// Whether its keys are made from the log (views, parked entries): evidence
    /// whenever the log is missing or empty, and dropped when a new log is allowed.
    /// Otherwise (webhook registrations, which may come before any event) they are
    /// evidence only where the log has no identity either, and are kept.
    pub from_the_log: bool,
}

/// The buckets [`open_log`] looks into.
pub type EvidenceBuckets<'a> = &'a [EvidenceBucket<'a>];

/// What [`open_log`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedLog {
    /// The log's identity; `None` only for a reader of a store with no log at all.
    pub identity: Option<LogIdentity>,
    /// Whether the identity was made by this call (a fresh deployment, `init`, an
    /// adopted log, or a new log allowed over evidence).
    pub created: bool,
}

/// Checks the store's event log against its identity, and creates the log and its
/// identity where `policy` allows (see the module's documentation).
///
/// # Errors
/// [`StoreError::LogMissing`] when the log is missing or empty and there is evidence
/// of an earlier one (the message names it and the way on), or the store holds
/// another log than the one pinned, or a reader finds the log missing;
/// [`StoreError::Unavailable`] and the adapter's errors from the ports.
pub async fn open_log(
    ports: &Ports,
    policy: &LogPolicy,
    evidence_buckets: EvidenceBuckets<'_>,
) -> Result<OpenedLog, StoreError> {
    let where_ = ports.connection.describe();
    let log = ports
        .kv
        .open(LOG_BUCKET, "Roundtable: the identity of the event log")
        .await?;
    let stored =
        match log.get(IDENTITY_KEY).await? {
            Some(entry) => Some(serde_json::from_slice::<LogIdentity>(&entry.value).map_err(
                |e| StoreError::Corrupt {
                    negotiation: "?".into(),
                    position: format!("key {IDENTITY_KEY} of bucket {LOG_BUCKET}"),
                    reason: format!("not a log identity: {e}"),
                },
            )?),
            None => None,
        };
    if let (Some(expected), Some(found)) = (policy.expected, &stored) {
        if found.log_id != expected && !policy.allow_new_log {
            return Err(StoreError::LogMissing(format!(
                "{where_} holds log {}, not the deployment's log {expected} (ROUNDTABLE_LOG_ID): \
                 is this the right store? Restore the deployment's log (docs/OPERATIONS.md, \
                 \"When the event log is lost\")",
                found.log_id
            )));
        }
    }
    let exists = ports.connection.log_exists().await?;
    let has_events = exists && !ports.events.negotiations().await?.is_empty();
    if has_events {
        if let Some(identity) = stored {
            return Ok(OpenedLog {
                identity: Some(identity),
                created: false,
            });
        }
        if let Some(expected) = policy.expected {
            if policy.init {
                // A log restored without its identity (a stream backup holds only the
                // stream): the operator says it is the deployment's log.
                let mut identity = LogIdentity::new("init (restored log)");
                identity.log_id = expected;
                let identity = record(&*log, identity).await?;
                return Ok(OpenedLog {
                    identity: Some(identity),
                    created: true,
                });
            }
            return Err(StoreError::LogMissing(format!(
                "{where_} holds events but no log identity, not the deployment's log {expected} \
                 (ROUNDTABLE_LOG_ID): if it is that log restored from a backup, say so with \
                 `roundtable init --log-id {expected}`"
            )));
        }
        if !policy.create {
            return Ok(OpenedLog {
                identity: None,
                created: false,
            });
        }
        // A log recorded before identities existed: it is the deployment's log.
        let identity = LogIdentity::new("adopted");
        let identity = record(&*log, identity).await?;
        tracing::info!(log_id = %identity.log_id, "the event log had no identity; it has one now");
        return Ok(OpenedLog {
            identity: Some(identity),
            created: true,
        });
    }
    // No events: a fresh deployment, or a lost log.
    let mut evidence = Vec::new();
    if let Some(identity) = &stored {
        if !exists {
            evidence.push(format!("the identity of log {}", identity.log_id));
        }
    }
    if let Some(expected) = policy.expected {
        if stored.as_ref().is_none_or(|s| s.log_id != expected) {
            evidence.push(format!(
                "the configuration's log {expected} (ROUNDTABLE_LOG_ID)"
            ));
        }
    }
    for b in evidence_buckets {
        if !b.from_the_log && exists && stored.is_some() {
            continue;
        }
        let kv = ports.kv.open(b.bucket, b.holds).await?;
        let keys = kv.keys("").await?.len();
        if keys > 0 {
            evidence.push(format!("{keys} keys of {} (bucket {})", b.holds, b.bucket));
        }
    }
    if !evidence.is_empty() && !policy.allow_new_log {
        let state = if exists { "is empty" } else { "does not exist" };
        let old = stored
            .as_ref()
            .map_or_else(String::new, |s| format!(" (log {})", s.log_id));
        return Err(StoreError::LogMissing(format!(
            "the event log of {where_} {state}, but this deployment had one{old}: found {}. \
             Nothing was created. Restore the log from a backup (docs/OPERATIONS.md, \"When the \
             event log is lost\"); to start a new, empty history instead, run again with \
             --allow-new-log (or `roundtable init --force`)",
            evidence.join(", ")
        )));
    }
    if !exists {
        // A fresh deployment (or a new log allowed): the log is made, as a first
        // start always made it, also for a reader, which then reads it empty.
        ports.connection.create_log().await?;
    }
    if !policy.create {
        return Ok(OpenedLog {
            identity: stored,
            created: false,
        });
    }
    if evidence.is_empty() {
        if let Some(identity) = stored {
            // Made by `init`, nothing recorded yet.
            return Ok(OpenedLog {
                identity: Some(identity),
                created: false,
            });
        }
    }
    if !evidence.is_empty() {
        // Allowed: the views of the lost history must not be served as current.
        for b in evidence_buckets.iter().filter(|b| b.from_the_log) {
            ports.kv.open(b.bucket, b.holds).await?.clear().await?;
        }
        tracing::warn!(evidence = %evidence.join(", "), "starting a new event log over evidence of a lost one, as allowed");
    }
    let created_by = if evidence.is_empty() {
        policy.created_by
    } else {
        "new log"
    };
    let mut identity = LogIdentity::new(created_by);
    if let Some(expected) = policy.expected {
        identity.log_id = expected;
    }
    log.put(IDENTITY_KEY, &encode(&identity)?).await?;
    tracing::info!(log_id = %identity.log_id, created_by, "a new event log: pin its identity with ROUNDTABLE_LOG_ID");
    Ok(OpenedLog {
        identity: Some(identity),
        created: true,
    })
}

/// Stores `identity` unless another process stored one first; returns the one stored.
async fn record(
    log: &dyn roundtable_store::KvStore,
    identity: LogIdentity,
) -> Result<LogIdentity, StoreError> {
    match log.create(IDENTITY_KEY, &encode(&identity)?).await {
        Ok(_) => Ok(identity),
        Err(StoreError::AlreadyExists(_)) => match log.get(IDENTITY_KEY).await? {
            Some(entry) => serde_json::from_slice(&entry.value).map_err(|e| StoreError::Corrupt {
                negotiation: "?".into(),
                position: format!("key {IDENTITY_KEY} of bucket {LOG_BUCKET}"),
                reason: format!("not a log identity: {e}"),
            }),
            None => Err(StoreError::unavailable(format!(
                "key {IDENTITY_KEY} of bucket {LOG_BUCKET} vanished while it was read"
            ))),
        },
        Err(e) => Err(e),
    }
}

fn encode(identity: &LogIdentity) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(identity).map_err(|e| StoreError::Corrupt {
        negotiation: "?".into(),
        position: format!("key {IDENTITY_KEY} of bucket {LOG_BUCKET}"),
        reason: format!("cannot serialize: {e}"),
    })
}

/// The position of the parked entries [`mark_views_stale`] writes: 0, which no feed
/// entry has (positions start at 1), so they never hide a real one.
pub const MISSING_LOG_POSITION: u64 = 0;

/// Marks every stored view stale (one parked entry per negotiation, at position
/// [`MISSING_LOG_POSITION`], saying why): for when the event log has disappeared under
/// a running service. The marks stay until the views are rebuilt from a restored log
/// (`roundtable project --rebuild`). Returns the negotiations marked.
///
/// # Errors
/// [`StoreError::Unavailable`] from the view store.
pub async fn mark_views_stale(
    views: &dyn ViewStore,
    reason: &str,
) -> Result<Vec<NegotiationId>, StoreError> {
    let negotiations = views.list().await?;
    let now = Utc::now();
    for negotiation in &negotiations {
        views
            .park(&ParkedEntry {
                position: MISSING_LOG_POSITION,
                negotiation_id: Some(negotiation.clone()),
                version: None,
                reason: reason.to_owned(),
                parked_at: now,
            })
            .await?;
    }
    Ok(negotiations)
}
