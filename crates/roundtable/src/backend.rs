//! Opening the event store (and its read model) that the global options select.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use roundtable_domain::{NegotiationId, Projection};
use roundtable_projector::KvViewStore;
use roundtable_store::{CommandHandler, EventStore, NegotiationLimits, Ports, ViewStore, load};

/// The selected store: its ports, from the adapter's one constructor.
pub(crate) struct Backend {
    ports: Ports,
    limits: NegotiationLimits,
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
        let ports = if let Some(url) = nats_url {
            let config = roundtable_nats::NatsConfig {
                replicas,
                ..Default::default()
            };
            roundtable_nats::connect(url, config)
                .await
                .with_context(|| format!("cannot use NATS JetStream at {url}"))?
        } else {
            if !create && !data_dir.join(roundtable_sqlite::DB_FILE_NAME).exists() {
                return Ok(None);
            }
            roundtable_sqlite::open(data_dir).with_context(|| {
                format!("cannot open the embedded store in {}", data_dir.display())
            })?
        };
        Ok(Some(Backend {
            ports,
            limits: NegotiationLimits::NONE,
        }))
    }

    /// The same backend, whose command handlers refuse commands past `limits`.
    pub(crate) fn with_limits(mut self, limits: NegotiationLimits) -> Backend {
        self.limits = limits;
        self
    }

    /// A command handler over the event log, with the negotiation limits.
    pub(crate) fn handler(&self) -> CommandHandler<dyn EventStore> {
        CommandHandler::new(self.ports.events.clone()).with_limits(self.limits)
    }

    /// The event log.
    pub(crate) fn store(&self) -> &Arc<dyn EventStore> {
        &self.ports.events
    }

    /// Every port of the store.
    pub(crate) fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Where the events are, in words.
    pub(crate) fn describe(&self) -> String {
        self.ports.connection.describe()
    }

    /// Folds every event of `id` into its current projection.
    pub(crate) async fn load(&self, id: &NegotiationId) -> anyhow::Result<Projection> {
        Ok(load(&*self.ports.events, id).await?)
    }

    /// The read model: the projector's stored views, over the store's key-value port.
    pub(crate) async fn views(&self) -> anyhow::Result<Arc<dyn ViewStore>> {
        Ok(Arc::new(KvViewStore::open(&*self.ports.kv).await?))
    }
}
