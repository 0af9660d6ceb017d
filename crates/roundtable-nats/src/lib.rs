//! The NATS JetStream adapter of Roundtable's event store ([`roundtable_store::EventStore`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), roundtable_store::StoreError> {
//! use roundtable_nats::{NatsConfig, NatsStore};
//! let store = NatsStore::connect("nats://127.0.0.1:4222", NatsConfig::default()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! - One stream (`ROUNDTABLE_EVENTS`, file storage, nothing ever discarded, deletes and
//!   purges denied), one subject per negotiation (`roundtable.events.<negotiation_id>`),
//!   one message per event: see [`NatsStore`] for the layout and the headers.
//! - Appends are conditional on the subject's last stream sequence
//!   (`Nats-Expected-Last-Subject-Sequence`), so of two writers racing for one version
//!   exactly one wins; the other gets [`roundtable_store::StoreError::Conflict`].
//! - Needs nats-server 2.10.0 or newer ([`MIN_SERVER_VERSION`]); older servers are
//!   refused on connect with [`roundtable_store::StoreError::Incompatible`].
//!
//! - The read side shares the store's connection: [`NatsViewStore`] keeps the
//!   projected views in the key-value bucket `ROUNDTABLE_VIEWS`, [`NatsEventFeed`]
//!   reads every event through a durable pull consumer (by default
//!   `roundtable-projector`), and [`NatsChangeSink`] publishes change notifications on
//!   `roundtable.changes.<negotiation_id>`.
//!
//! Modules: `config` (settings and the stream's shape), `version` (the server version
//! check), `subject` (negotiation ↔ subject), `index` (version → stream sequence, per
//! client), `store` (connecting and look-ups), `append`, `read`; and for the read side
//! `views`, `feed` and `changes`.

#![warn(missing_docs)]

mod append;
mod changes;
mod chunked;
mod config;
mod feed;
mod index;
mod read;
mod store;
mod subject;
mod version;
mod views;
mod webhooks;

pub use append::MAX_ATOMIC_BATCH;
pub use changes::{CHANGES_DUPLICATE_WINDOW, CHANGES_PREFIX, CHANGES_STREAM, NatsChangeSink};
pub use config::NatsConfig;
pub use feed::{DEFAULT_CONSUMER, FeedConfig, NatsEventFeed};
pub use store::{NatsStore, redacted};
pub use version::{INSTALL_HINT, MIN_SERVER_VERSION, ServerVersion};
pub use views::{NatsViewStore, PARKED_BUCKET, VIEWS_BUCKET};
pub use webhooks::{NatsWebhookStore, WEBHOOK_ACK_WAIT, WEBHOOKS_BUCKET, webhook_consumer};
