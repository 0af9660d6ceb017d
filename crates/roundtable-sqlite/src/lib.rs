//! The embedded event store: Roundtable's [`EventStore`] port over one local SQLite
//! file, so a new user runs everything with no server.
//!
//! - [`SqliteStore::open`] / [`SqliteStore::open_in_dir`] open (or create) the file,
//!   check that it is a Roundtable database and bring its schema up to date.
//! - The [`EventStore`] implementation appends with optimistic concurrency inside one
//!   `BEGIN IMMEDIATE` transaction and reads events back exactly as appended.
//! - [`SqliteKv`] is the revisioned key-value port (the projector's views and parked
//!   entries, the webhooks and their dead letters are written over it, once for both
//!   stores), and [`SqliteEventFeed`] reads every event in commit order with a
//!   checkpoint per consumer ([`EventFeed`]), in the same file.
//! - [`open`] returns every port of a data directory as one [`Ports`].
//!
//! # The file
//!
//! Schema version 1 has one table, `events`: a global `position` (insertion order, which is also commit
//! order because writers are serialised), `negotiation_id`, `version`, `command_id`,
//! `event_id`, `event_type`, `recorded_at` and `body`, the event's stored bytes
//! ([`RecordedEvent::to_bytes`](roundtable_domain::RecordedEvent::to_bytes)), with
//! `UNIQUE(negotiation_id, version)` and `UNIQUE(negotiation_id, command_id)`.
//! Triggers abort every `UPDATE` and `DELETE` on it: events are immutable
//! (DOMAIN.md, "Events").
//!
//! Schema version 2 adds the read side, in tables of their own: `views` (one row per
//! negotiation: its agreement view as JSON, its version, and the revision it is
//! updated against), `view_revision` (the counter revisions come from) and
//! `checkpoints` (per consumer name, the `position` acknowledged). Schema version 3
//! adds `webhooks` and `webhook_dead_letters`. Schema version 4 adds `parked`: the
//! entries the projector set aside. Schema version 5 moves the rows of `views`,
//! `parked`, `webhooks` and `webhook_dead_letters` into one table, `kv` (bucket, key,
//! revision, value: [`SqliteKv`]), under the bucket and key names the NATS store
//! uses, with `kv_revision` continuing `view_revision`'s counter, and drops the old
//! tables. An older file is migrated when opened, through `PRAGMA user_version`.
//!
//! # Durability and sharing
//!
//! WAL journal mode with `synchronous = FULL`: an append is acknowledged only after
//! its commit is in the WAL and flushed to disk, so it survives a process kill and a
//! power loss. Several processes (the server, an import, an export) may share the
//! file: writers take turns, waiting up to [`BUSY_TIMEOUT`] for each other, and
//! readers never wait for writers.
//!
//! [`EventStore`]: roundtable_store::EventStore
//! [`EventFeed`]: roundtable_store::EventFeed

#![warn(missing_docs)]

mod errors;
mod feed;
mod kv;
mod port;
mod schema;
mod store;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use roundtable_store::{Connection, EventFeed, EventFeeds, NoChanges, Ports, StoreError};

pub use feed::{POLL_INTERVAL, SqliteEventFeed};
pub use kv::{SqliteBuckets, SqliteKv};
pub use webhooks::SqliteChangeFeeds;

pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use store::{BUSY_TIMEOUT, DB_FILE_NAME, SqliteStore};

/// Opens (or creates) the embedded store in `dir` (`dir/`[`DB_FILE_NAME`]) and returns
/// its ports, all over one [`SqliteStore`]: the event log, the event feeds
/// ([`SqliteEventFeed`]), the key-value buckets ([`SqliteBuckets`]), the webhooks'
/// change feeds ([`SqliteChangeFeeds`]), and no change sink ([`NoChanges`]: the
/// changes are derived from the log).
///
/// Blocking file I/O, as [`SqliteStore::open`].
///
/// # Errors
/// As [`SqliteStore::open`].
pub fn open(dir: &Path) -> Result<Ports, StoreError> {
    Ok(ports(&SqliteStore::open_in_dir(dir)?, dir))
}

/// The ports of an open `store`, described as the embedded store in `dir`.
pub fn ports(store: &SqliteStore, dir: &Path) -> Ports {
    Ports {
        events: Arc::new(store.clone()),
        feeds: Arc::new(Feeds(store.clone())),
        kv: Arc::new(SqliteBuckets::new(store)),
        changes: Arc::new(NoChanges),
        change_feeds: Arc::new(SqliteChangeFeeds::new(store)),
        watch: None,
        connection: Arc::new(Local(dir.to_owned(), store.clone())),
    }
}

/// The event feeds of one file.
struct Feeds(SqliteStore);

#[async_trait]
impl EventFeeds for Feeds {
    async fn open(&self, name: &str) -> Result<Box<dyn EventFeed>, StoreError> {
        Ok(Box::new(SqliteEventFeed::open(&self.0, name).await?))
    }
}

/// A local file: always there, nothing to drain.
struct Local(PathBuf, SqliteStore);

#[async_trait]
impl Connection for Local {
    fn describe(&self) -> String {
        format!("the embedded store in {}", self.0.display())
    }

    /// Whether the file still has its events table (the schema makes it; only a
    /// hand-edited or damaged file lacks it).
    async fn log_exists(&self) -> Result<bool, StoreError> {
        self.1
            .blocking(|inner| {
                inner
                    .reader()
                    .query_row(
                        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'events'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| n > 0)
                    .map_err(|e| errors::store_error(&inner.path, "looking for the events table", &e))
            })
            .await
    }
}
