//! The embedded event store: Roundtable's [`EventStore`] port over one local SQLite
//! file, so a new user runs everything with no server.
//!
//! - [`SqliteStore::open`] / [`SqliteStore::open_in_dir`] open (or create) the file,
//!   check that it is a Roundtable database and bring its schema up to date.
//! - The [`EventStore`] implementation appends with optimistic concurrency inside one
//!   `BEGIN IMMEDIATE` transaction and reads events back exactly as appended.
//! - [`SqliteViewStore`] keeps the projected agreement views, and [`SqliteEventFeed`]
//!   reads every event in commit order with a checkpoint per consumer: the read side's
//!   ports ([`ViewStore`], [`EventFeed`]) in the same file.
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
//! adds `webhooks` and `webhook_dead_letters` ([`SqliteWebhookStore`]). Schema version
//! 4 adds `parked`: the entries the projector set aside, which mark their
//! negotiations' views as stale ([`SqliteViewStore`]). An older file is migrated when
//! opened, through `PRAGMA user_version`.
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
//! [`ViewStore`]: roundtable_store::ViewStore
//! [`EventFeed`]: roundtable_store::EventFeed

#![warn(missing_docs)]

mod errors;
mod feed;
mod parked;
mod port;
mod schema;
mod store;
mod views;
mod webhooks;

pub use feed::{POLL_INTERVAL, SqliteEventFeed};
pub use views::SqliteViewStore;
pub use webhooks::{SqliteWebhookStore, webhook_checkpoint};

pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use store::{BUSY_TIMEOUT, DB_FILE_NAME, SqliteStore};
