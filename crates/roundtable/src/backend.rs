//! Opening the event store (and its read model) that the global options select.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use roundtable_app::identity::{EvidenceBucket, LogIdentity, LogPolicy, OpenedLog, open_log};
use roundtable_app::load;
use roundtable_app::{CommandHandler, NegotiationLimits};
use roundtable_domain::{NegotiationId, Projection};
use roundtable_projector::KvViewStore;
use roundtable_projector::ViewStore;
use roundtable_store::{EventStore, Ports};

/// The buckets whose keys show that a deployment had a log (docs/OPERATIONS.md, "When
/// the event log is lost"), with the descriptions their owners create them with.
pub(crate) const EVIDENCE: &[EvidenceBucket<'static>] = &[
    EvidenceBucket {
        bucket: roundtable_projector::VIEWS_BUCKET,
        holds: "Roundtable agreement views, one key per negotiation, kept by the projector",
        from_the_log: true,
    },
    EvidenceBucket {
        bucket: roundtable_projector::PARKED_BUCKET,
        holds: "Roundtable feed entries the projector parked, and the negotiations whose views are stale",
        from_the_log: true,
    },
    EvidenceBucket {
        bucket: roundtable_webhooks::WEBHOOKS_BUCKET,
        holds: "Roundtable webhooks and their dead letters",
        from_the_log: false,
    },
];

/// What the global options say about the deployment's log identity.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogOptions {
    /// `--allow-new-log`: start a new log over evidence of a lost one.
    pub(crate) allow_new_log: bool,
    /// `--log-id`: the identity the store must hold.
    pub(crate) expected: Option<uuid::Uuid>,
}

/// The selected store: its ports, from the adapter's one constructor.
pub(crate) struct Backend {
    ports: Ports,
    log: OpenedLog,
    limits: NegotiationLimits,
}

impl Backend {
    /// NATS JetStream when `nats_url` is given (connecting with `nats`'s settings),
    /// else the embedded store in `data_dir`, its log checked against its identity
    /// ([`open_log`]: a lost log is refused, never silently replaced by a new one).
    /// `None` when the embedded store does not exist and `create` is false.
    /// `created_by` says how a new identity is recorded as made.
    pub(crate) async fn open(
        nats_url: Option<&str>,
        data_dir: &Path,
        nats: roundtable_nats::NatsConfig,
        create: bool,
        log: &LogOptions,
        created_by: &'static str,
    ) -> anyhow::Result<Option<Backend>> {
        let ports = if let Some(url) = nats_url {
            let config = roundtable_nats::NatsConfig {
                // The identity check below decides whether a missing stream is made.
                create_stream: false,
                ..nats
            };
            roundtable_nats::connect(url, config)
                .await
                .with_context(|| {
                    format!(
                        "cannot use NATS JetStream at {}",
                        roundtable_nats::redacted(url)
                    )
                })?
        } else {
            if !create && !data_dir.join(roundtable_sqlite::DB_FILE_NAME).exists() {
                return Ok(None);
            }
            roundtable_sqlite::open(data_dir).with_context(|| {
                format!("cannot open the embedded store in {}", data_dir.display())
            })?
        };
        let policy = LogPolicy {
            create,
            allow_new_log: log.allow_new_log,
            expected: log.expected,
            created_by,
            init: created_by == "init",
        };
        let opened = open_log(&ports, &policy, EVIDENCE).await?;
        if opened.created && created_by != "dry run" {
            if let Some(identity) = &opened.identity {
                eprintln!(
                    "note: {} now holds event log {} ({}); pin it in the deployment's configuration with ROUNDTABLE_LOG_ID={} so that a lost store is never taken for a new one",
                    ports.connection.describe(),
                    identity.log_id,
                    identity.created_by,
                    identity.log_id
                );
            }
        }
        Ok(Some(Backend {
            ports,
            log: opened,
            limits: NegotiationLimits::NONE,
        }))
    }

    /// The log's identity, when it has one.
    pub(crate) fn identity(&self) -> Option<&LogIdentity> {
        self.log.identity.as_ref()
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
