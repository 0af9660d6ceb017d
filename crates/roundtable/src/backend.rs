//! Opening the event store (and its read model) that the global options select.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use roundtable_domain::{NegotiationId, Projection};
use roundtable_store::{EventStore, ViewStore, load};

/// The concrete store behind the port, for the pieces built on the same connection.
#[derive(Clone)]
pub(crate) enum Kind {
    /// NATS JetStream.
    Nats(Arc<roundtable_nats::NatsStore>),
    /// The embedded SQLite file.
    Embedded(roundtable_sqlite::SqliteStore),
}

/// The selected store, behind the port.
pub(crate) struct Backend {
    kind: Kind,
    store: Arc<dyn EventStore>,
    description: String,
}

impl Backend {
    /// NATS JetStream when `nats_url` is given, else the embedded store in `data_dir`.
    /// `None` when the embedded store does not exist and `create` is false.
    pub(crate) async fn open(
        nats_url: Option<&str>,
        data_dir: &Path,
        replicas: usize,
        create: bool,
    ) -> anyhow::Result<Option<Backend>> {
        if let Some(url) = nats_url {
            let config = roundtable_nats::NatsConfig {
                replicas,
                ..Default::default()
            };
            let store = roundtable_nats::NatsStore::connect(url, config)
                .await
                .with_context(|| format!("cannot use NATS JetStream at {url}"))?;
            let store = Arc::new(store);
            Ok(Some(Backend {
                store: store.clone(),
                kind: Kind::Nats(store),
                description: format!("NATS JetStream at {url}"),
            }))
        } else {
            if !create && !data_dir.join(roundtable_sqlite::DB_FILE_NAME).exists() {
                return Ok(None);
            }
            let store =
                roundtable_sqlite::SqliteStore::open_in_dir(data_dir).with_context(|| {
                    format!("cannot open the embedded store in {}", data_dir.display())
                })?;
            Ok(Some(Backend {
                store: Arc::new(store.clone()),
                kind: Kind::Embedded(store),
                description: format!("the embedded store in {}", data_dir.display()),
            }))
        }
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The concrete store, for the pieces built on the same connection.
    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }

    /// Where the events are, in words.
    pub(crate) fn describe(&self) -> &str {
        &self.description
    }

    /// Folds every event of `id` into its current projection.
    pub(crate) async fn load(&self, id: &NegotiationId) -> anyhow::Result<Projection> {
        Ok(load(&*self.store, id).await?)
    }

    /// The read model: the projector's stored views (a KV bucket on NATS, a table in
    /// the embedded file).
    pub(crate) async fn views(&self) -> anyhow::Result<Arc<dyn ViewStore>> {
        Ok(match &self.kind {
            Kind::Nats(store) => Arc::new(roundtable_nats::NatsViewStore::open(store).await?),
            Kind::Embedded(store) => Arc::new(roundtable_sqlite::SqliteViewStore::new(store)),
        })
    }
}
