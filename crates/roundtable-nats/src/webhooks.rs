//! [`NatsChangeFeeds`]: each webhook's feed of changes as a durable consumer on
//! `ROUNDTABLE_CHANGES`.

use std::fmt::Display;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, Message};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use roundtable_domain::NegotiationId;
use roundtable_store::{Change, ChangeFeed, ChangeFeeds, FeedChange, Selection, StoreError};

use crate::changes::NatsChangeSink;
use crate::store::NatsStore;

/// The durable consumer of a change feed (named by a webhook's id) on the changes
/// stream: `roundtable-webhook-<name>`.
pub fn webhook_consumer(name: &str) -> String {
    format!("roundtable-webhook-{name}")
}

/// How long the server waits for a webhook delivery's acknowledgement (or a sign of
/// progress) before handing the change to another process sharing the consumer.
pub const WEBHOOK_ACK_WAIT: Duration = Duration::from_secs(30);

/// The [`ChangeFeeds`] on NATS: each feed (named by a webhook's id) is the durable pull
/// consumer [`webhook_consumer`] on the changes stream (`ROUNDTABLE_CHANGES`, created
/// when missing), filtered to its negotiations' subjects, delivering from the
/// webhook's `created_at`, explicit acknowledgements, **at most one change in
/// flight** (so processes sharing it deliver in order), ack wait
/// [`WEBHOOK_ACK_WAIT`], kept alive while a delivery is retried. Its checkpoint lives
/// on the server.
#[derive(Debug, Clone)]
pub struct NatsChangeFeeds {
    js: jetstream::Context,
    changes: NatsChangeSink,
    url: String,
}

impl NatsChangeFeeds {
    /// The feeds on the stream of `changes`, on `store`'s connection.
    pub fn new(store: &NatsStore, changes: NatsChangeSink) -> NatsChangeFeeds {
        NatsChangeFeeds {
            js: store.js.clone(),
            changes,
            url: store.url.clone(),
        }
    }

    fn unavailable(
        &self,
        what: &str,
        e: impl Display + Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::unavailable_because(format!("nats at {}: {what}: {e}", self.url), e)
    }
}

/// `name` checked as part of a consumer's name: 1 to 64 ASCII letters, digits, `-`
/// and `_` (a webhook's id is `wh-` and 32 hex digits).
fn feed_name(name: &str) -> Result<&str, StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Incompatible(format!(
            "change feed name {name:?}: expected 1 to 64 letters, digits, '-' or '_'"
        )))
    }
}

#[async_trait]
impl ChangeFeeds for NatsChangeFeeds {
    /// Creates the changes stream when it is missing; the consumer itself is made by
    /// the first [`ChangeFeeds::open`], delivering from `since` then.
    async fn start(&self, name: &str, _since: DateTime<Utc>) -> Result<(), StoreError> {
        feed_name(name)?;
        self.changes.ensure_stream().await
    }

    async fn open(
        &self,
        name: &str,
        negotiations: &Selection<NegotiationId>,
        since: DateTime<Utc>,
        description: &str,
    ) -> Result<Box<dyn ChangeFeed>, StoreError> {
        let id = feed_name(name)?;
        self.changes.ensure_stream().await?;
        let stream = self
            .js
            .get_stream(self.changes.stream())
            .await
            .map_err(|e| self.unavailable("cannot get the changes stream", e))?;
        let filter_subjects = match negotiations {
            Selection::All => vec![format!("{}.>", self.changes.subject_prefix())],
            Selection::Only(ids) => ids.iter().map(|n| self.changes.subject(n)).collect(),
        };
        let name = webhook_consumer(id);
        let start_time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(
            since.timestamp_nanos_opt().unwrap_or(0),
        ))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let config = pull::Config {
            durable_name: Some(name.clone()),
            description: Some(description.to_owned()),
            deliver_policy: DeliverPolicy::ByStartTime { start_time },
            ack_policy: AckPolicy::Explicit,
            ack_wait: WEBHOOK_ACK_WAIT,
            max_ack_pending: 1,
            filter_subjects,
            ..Default::default()
        };
        let consumer = stream
            .get_or_create_consumer(&name, config)
            .await
            .map_err(|e| StoreError::Incompatible(format!("consumer {name}: {e}")))?;
        Ok(Box::new(NatsWebhookFeed {
            consumer,
            current: None,
            url: self.url.clone(),
        }))
    }

    async fn remove(&self, name: &str) -> Result<(), StoreError> {
        let id = feed_name(name)?;
        if let Ok(stream) = self.js.get_stream(self.changes.stream()).await {
            // Gone already is fine.
            let _ = stream.delete_consumer(&webhook_consumer(id)).await;
        }
        Ok(())
    }
}

/// One webhook's feed: its durable consumer, one change in hand at a time.
struct NatsWebhookFeed {
    consumer: PullConsumer,
    current: Option<Message>,
    url: String,
}

impl NatsWebhookFeed {
    fn unavailable(
        &self,
        what: &str,
        e: impl Display + Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::unavailable_because(format!("nats at {}: {what}: {e}", self.url), e)
    }
}

#[async_trait]
impl ChangeFeed for NatsWebhookFeed {
    async fn next(&mut self, wait: Duration) -> Result<Option<FeedChange>, StoreError> {
        loop {
            let mut batch = self
                .consumer
                .batch()
                .max_messages(1)
                .expires(wait.max(Duration::from_millis(100)))
                .messages()
                .await
                .map_err(|e| self.unavailable("cannot pull a change", e))?;
            let Some(message) = batch.next().await else {
                return Ok(None);
            };
            let message = message.map_err(|e| self.unavailable("cannot pull a change", e))?;
            let position = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            match serde_json::from_slice::<Change>(&message.payload) {
                Ok(change) => {
                    self.current = Some(message);
                    return Ok(Some(FeedChange { position, change }));
                }
                Err(e) => {
                    tracing::error!(subject = %message.subject, position, error = %e, "not a change; passed over");
                    message
                        .double_ack()
                        .await
                        .map_err(|e| self.unavailable("cannot acknowledge", e))?;
                }
            }
        }
    }

    async fn ack(&mut self, _position: u64) -> Result<(), StoreError> {
        if let Some(message) = self.current.take() {
            message
                .double_ack()
                .await
                .map_err(|e| self.unavailable("cannot acknowledge a change", e))?;
        }
        Ok(())
    }

    async fn working(&mut self) -> Result<(), StoreError> {
        if let Some(message) = &self.current {
            message
                .ack_with(AckKind::Progress)
                .await
                .map_err(|e| self.unavailable("cannot extend a change's ack wait", e))?;
        }
        Ok(())
    }
}
