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
//! - The other ports share the store's connection ([`connect`] returns them all):
//!   [`NatsKv`] is the revisioned key-value port over one JetStream key-value bucket
//!   (values larger than a message kept in chunks), over which the projector keeps
//!   its views (`ROUNDTABLE_VIEWS`) and the webhooks their registrations
//!   (`ROUNDTABLE_WEBHOOKS`); [`NatsEventFeed`] reads every event through a durable
//!   pull consumer (by default `roundtable-projector`); [`NatsChangeSink`] publishes
//!   change notifications on `roundtable.changes.<negotiation_id>`, and
//!   [`NatsChangeFeeds`] gives each webhook a durable consumer of them.
//!
//! Modules: `config` (settings and the stream's shape), `version` (the server version
//! check), `subject` (negotiation ↔ subject), `index` (version → stream sequence, per
//! client), `store` (connecting and look-ups), `append`, `read`; and for the other
//! ports `kv` (with `chunked`), `feed`, `changes` and `webhooks`.

#![warn(missing_docs)]

mod append;
mod auth;
mod changes;
mod chunked;
mod config;
mod feed;
mod index;
mod kv;
mod read;
mod store;
mod subject;
mod version;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use roundtable_store::{Connection, EventFeed, EventFeeds, Ports, StoreError};

pub use append::MAX_ATOMIC_BATCH;
pub use auth::{NatsAuth, NatsTls, Secret};
pub use changes::{CHANGES_DUPLICATE_WINDOW, CHANGES_PREFIX, CHANGES_STREAM, NatsChangeSink};
pub use config::NatsConfig;
pub use feed::{DEFAULT_CONSUMER, FeedConfig, NatsEventFeed};
pub use kv::{NatsBuckets, NatsKv};
pub use store::{NatsStore, redacted};
pub use version::{INSTALL_HINT, MIN_SERVER_VERSION, ServerVersion};
pub use webhooks::{NatsChangeFeeds, WEBHOOK_ACK_WAIT, webhook_consumer};

/// Connects to the NATS server at `url` ([`NatsStore::connect`]) and returns its ports,
/// all over that one connection: the event log, the event feeds ([`NatsEventFeed`],
/// durable consumers named as asked), the key-value buckets ([`NatsBuckets`]), the
/// change notifications on `roundtable.changes.<negotiation_id>` ([`NatsChangeSink`],
/// also the change watch), and the webhooks' feeds on them ([`NatsChangeFeeds`]).
///
/// # Errors
/// As [`NatsStore::connect`].
pub async fn connect(url: &str, config: NatsConfig) -> Result<Ports, StoreError> {
    let store = Arc::new(NatsStore::connect(url, config).await?);
    Ok(ports(store, url))
}

/// The ports of a connected `store`, described as NATS JetStream at `url`.
pub fn ports(store: Arc<NatsStore>, url: &str) -> Ports {
    let changes = NatsChangeSink::new(&store);
    Ports {
        events: store.clone(),
        feeds: Arc::new(Feeds(store.clone())),
        kv: Arc::new(NatsBuckets::new(store.clone())),
        changes: Arc::new(changes.clone()),
        change_feeds: Arc::new(NatsChangeFeeds::new(&store, changes.clone())),
        watch: Some(Arc::new(changes)),
        connection: Arc::new(Link {
            store,
            url: url.to_owned(),
        }),
    }
}

/// The durable consumers of one connection.
struct Feeds(Arc<NatsStore>);

#[async_trait]
impl EventFeeds for Feeds {
    async fn open(&self, name: &str) -> Result<Box<dyn EventFeed>, StoreError> {
        Ok(Box::new(
            NatsEventFeed::open(&self.0, FeedConfig::named(name)).await?,
        ))
    }
}

/// The connection: up or not, drained at shutdown.
struct Link {
    store: Arc<NatsStore>,
    url: String,
}

#[async_trait]
impl Connection for Link {
    fn describe(&self) -> String {
        format!("NATS JetStream at {}", redacted(&self.url))
    }

    async fn check(&self) -> Result<(), String> {
        if self.store.is_connected() {
            Ok(())
        } else {
            Err(format!(
                "not connected to NATS at {}",
                redacted(self.store.url())
            ))
        }
    }

    async fn log_exists(&self) -> Result<bool, StoreError> {
        self.store.log_exists().await
    }

    async fn create_log(&self) -> Result<(), StoreError> {
        self.store.create_log().await
    }

    async fn close(&self) {
        if let Err(e) = self.store.drain().await {
            tracing::warn!(error = %e, "draining the NATS connection failed");
        }
    }
}
