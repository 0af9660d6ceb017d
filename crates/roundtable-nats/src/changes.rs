//! [`NatsChangeSink`]: change notifications on core NATS subjects.

use async_nats::Client;
use async_trait::async_trait;
use bytes::Bytes;
use roundtable_domain::NegotiationId;
use roundtable_store::{Change, ChangeSink, StoreError};

use crate::store::NatsStore;

/// The subject prefix of change notifications: `roundtable.changes`.
pub const CHANGES_PREFIX: &str = "roundtable.changes";

/// Publishes each [`Change`] as JSON on `<prefix>.<negotiation_id>` (by default
/// `roundtable.changes.<negotiation_id>`), with core NATS: no stream captures these
/// subjects, so a notification reaches the subscribers connected at that moment and
/// nobody else. Notifications are hints for integrations that would otherwise poll:
/// the events and the views remain the facts.
///
/// Shares the connection of the [`NatsStore`] it was made from; publishing only
/// buffers, and [`NatsStore::drain`] flushes what is buffered at shutdown.
#[derive(Debug, Clone)]
pub struct NatsChangeSink {
    client: Client,
    prefix: String,
    url: String,
}

impl NatsChangeSink {
    /// A sink on `store`'s connection, publishing under [`CHANGES_PREFIX`].
    pub fn new(store: &NatsStore) -> NatsChangeSink {
        NatsChangeSink {
            client: store.client.clone(),
            prefix: CHANGES_PREFIX.to_owned(),
            url: store.url.clone(),
        }
    }

    /// The same sink, publishing under `prefix` instead.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] unless `prefix` is one or more `.`-separated
    /// tokens without wildcards or white space.
    pub fn with_prefix(mut self, prefix: &str) -> Result<NatsChangeSink, StoreError> {
        let token_ok = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '.' | '*' | '>'))
        };
        if !prefix.split('.').all(token_ok) {
            return Err(StoreError::Incompatible(format!(
                "change subject prefix {prefix:?} must be '.'-separated tokens without wildcards or white space"
            )));
        }
        prefix.clone_into(&mut self.prefix);
        Ok(self)
    }

    /// The subject of `negotiation`'s changes: `<prefix>.<negotiation_id>`.
    pub fn subject(&self, negotiation: &NegotiationId) -> String {
        format!("{}.{}", self.prefix, negotiation.as_str())
    }
}

#[async_trait]
impl ChangeSink for NatsChangeSink {
    /// Publishes `change` as JSON on its negotiation's subject.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the connection is closed or its buffer full.
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        let subject = self.subject(&change.negotiation_id);
        let payload = serde_json::to_vec(change).map_err(|e| {
            StoreError::Unavailable(format!("cannot serialize the change of {subject}: {e}"))
        })?;
        self.client
            .publish(subject.clone(), Bytes::from(payload))
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "nats at {}: cannot publish on {subject}: {e}",
                    self.url
                ))
            })
    }
}
