//! [`NatsWebhookStore`]: webhooks and their dead letters in a JetStream key-value
//! bucket, and each webhook's feed as a durable consumer on `ROUNDTABLE_CHANGES`.

use std::fmt::Display;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::kv::{self, CreateErrorKind};

use async_nats::jetstream::{self, AckKind, Message};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use roundtable_store::{
    Change, ChangeFeed, DeadLetter, FeedChange, Selection, StoreError, Webhook, WebhookId,
    WebhookStore,
};

use crate::changes::NatsChangeSink;
use crate::store::NatsStore;

/// The key-value bucket of webhooks: `ROUNDTABLE_WEBHOOKS`.
pub const WEBHOOKS_BUCKET: &str = "ROUNDTABLE_WEBHOOKS";

/// The durable consumer of a webhook on the changes stream:
/// `roundtable-webhook-<id>`.
pub fn webhook_consumer(id: &WebhookId) -> String {
    format!("roundtable-webhook-{id}")
}

/// How long the server waits for a webhook delivery's acknowledgement (or a sign of
/// progress) before handing the change to another process sharing the consumer.
pub const WEBHOOK_ACK_WAIT: Duration = Duration::from_secs(30);

/// The [`WebhookStore`] on NATS.
///
/// - Bucket [`WEBHOOKS_BUCKET`] (file storage, history 1, created when missing, never
///   reconfigured): `hook.<id>` holds a webhook as JSON, `dead.<id>.<negotiation>.<version>`
///   a dead letter, `replay.<id>` whether a replay was asked for (`1`) or not (`0`).
/// - Each webhook's feed is the durable pull consumer [`webhook_consumer`] on the
///   changes stream (`ROUNDTABLE_CHANGES`, created when missing), filtered to its
///   negotiations' subjects, delivering from the webhook's `created_at`, explicit
///   acknowledgements, **at most one change in flight** (so processes sharing it
///   deliver in order), ack wait [`WEBHOOK_ACK_WAIT`], kept alive while a delivery is
///   retried. Its checkpoint lives on the server.
#[derive(Debug, Clone)]
pub struct NatsWebhookStore {
    kv: kv::Store,
    js: jetstream::Context,
    changes: NatsChangeSink,
    url: String,
}

impl NatsWebhookStore {
    /// Opens the bucket on `store`'s connection (creating it when missing), with the
    /// feeds on the default changes stream.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`] when the bucket
    /// cannot be created or opened.
    pub async fn open(store: &NatsStore) -> Result<NatsWebhookStore, StoreError> {
        NatsWebhookStore::open_with(store, NatsChangeSink::new(store)).await
    }

    /// Like [`NatsWebhookStore::open`], with the feeds on the stream of `changes`.
    ///
    /// # Errors
    /// As [`NatsWebhookStore::open`].
    pub async fn open_with(
        store: &NatsStore,
        changes: NatsChangeSink,
    ) -> Result<NatsWebhookStore, StoreError> {
        let kv = crate::views::open_kv(
            store,
            WEBHOOKS_BUCKET,
            "Roundtable webhooks and their dead letters",
        )
        .await?;
        let url = store.url.clone();
        Ok(NatsWebhookStore {
            kv,
            js: store.js.clone(),
            changes,
            url,
        })
    }

    fn unavailable(&self, what: &str, e: impl Display) -> StoreError {
        StoreError::Unavailable(format!(
            "nats at {}: bucket {WEBHOOKS_BUCKET}: {what}: {e}",
            self.url
        ))
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| self.unavailable("cannot list keys", e))?
            .try_collect()
            .await
            .map_err(|e| self.unavailable("cannot list keys", e))?;
        Ok(keys.into_iter().filter(|k| k.starts_with(prefix)).collect())
    }

    async fn value<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self
            .kv
            .get(key)
            .await
            .map_err(|e| self.unavailable(&format!("cannot get {key}"), e))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                negotiation: "?".into(),
                position: format!("bucket {WEBHOOKS_BUCKET} key {key}"),
                reason: e.to_string(),
            })
    }

    async fn put<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let body = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            negotiation: "?".into(),
            position: key.to_owned(),
            reason: e.to_string(),
        })?;
        self.kv
            .put(key, Bytes::from(body))
            .await
            .map(|_| ())
            .map_err(|e| self.unavailable(&format!("cannot put {key}"), e))
    }

    async fn letters(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError> {
        let mut letters = Vec::new();
        for key in self.keys(&format!("dead.{id}.")).await? {
            if let Some(letter) = self.value::<DeadLetter>(&key).await? {
                letters.push(letter);
            }
        }
        letters.sort_by(|a, b| {
            (&a.change.negotiation_id, a.change.version)
                .cmp(&(&b.change.negotiation_id, b.change.version))
        });
        Ok(letters)
    }
}

fn letter_key(id: &WebhookId, change: &Change) -> String {
    format!("dead.{id}.{}.{}", change.negotiation_id, change.version)
}

#[async_trait]
impl WebhookStore for NatsWebhookStore {
    async fn register(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.changes.ensure_stream().await?;
        let body = serde_json::to_vec(webhook).map_err(|e| StoreError::Corrupt {
            negotiation: "?".into(),
            position: "webhook".into(),
            reason: e.to_string(),
        })?;
        match self
            .kv
            .create(format!("hook.{}", webhook.id), Bytes::from(body))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Err(StoreError::Incompatible(
                format!("webhook {} exists", webhook.id),
            )),
            Err(e) => Err(self.unavailable("cannot register a webhook", e)),
        }
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.value(&format!("hook.{id}")).await
    }

    async fn list(&self) -> Result<Vec<Webhook>, StoreError> {
        let mut hooks = Vec::new();
        for key in self.keys("hook.").await? {
            if let Some(hook) = self.value::<Webhook>(&key).await? {
                hooks.push(hook);
            }
        }
        hooks.sort_by(|a: &Webhook, b| a.id.cmp(&b.id));
        Ok(hooks)
    }

    async fn remove(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let existed = self.get(id).await?.is_some();
        for key in self.keys(&format!("dead.{id}.")).await? {
            self.kv
                .purge(&key)
                .await
                .map_err(|e| self.unavailable(&format!("cannot purge {key}"), e))?;
        }
        for key in [format!("replay.{id}"), format!("hook.{id}")] {
            self.kv
                .purge(&key)
                .await
                .map_err(|e| self.unavailable(&format!("cannot purge {key}"), e))?;
        }
        if let Ok(stream) = self.js.get_stream(self.changes.stream()).await {
            // Gone already is fine.
            let _ = stream.delete_consumer(&webhook_consumer(id)).await;
        }
        Ok(existed)
    }

    async fn park(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        self.put(&letter_key(&letter.webhook_id, &letter.change), letter)
            .await
    }

    async fn dead_letters(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError> {
        self.letters(id).await
    }

    async fn request_replay(&self, id: &WebhookId) -> Result<usize, StoreError> {
        let letters = self.letters(id).await?;
        for letter in &letters {
            let mut marked = letter.clone();
            marked.replay = true;
            self.park(&marked).await?;
        }
        self.kv
            .put(format!("replay.{id}"), Bytes::from_static(b"1"))
            .await
            .map_err(|e| self.unavailable("cannot ask for a replay", e))?;
        Ok(letters.len())
    }

    async fn replays(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError> {
        let key = format!("replay.{id}");
        let entry = self
            .kv
            .entry(key.clone())
            .await
            .map_err(|e| self.unavailable(&format!("cannot get {key}"), e))?;
        let Some(entry) = entry.filter(|e| e.value.as_ref() == b"1") else {
            return Ok(Vec::new());
        };
        let letters: Vec<DeadLetter> = self
            .letters(id)
            .await?
            .into_iter()
            .filter(|l| l.replay)
            .collect();
        if letters.is_empty() {
            // Done; a request made meanwhile moved the revision on and stays.
            let _ = self
                .kv
                .update(&key, Bytes::from_static(b"0"), entry.revision)
                .await;
        }
        Ok(letters)
    }

    async fn unpark(&self, id: &WebhookId, change: &Change) -> Result<(), StoreError> {
        let key = letter_key(id, change);
        self.kv
            .purge(&key)
            .await
            .map_err(|e| self.unavailable(&format!("cannot purge {key}"), e))
    }

    async fn feed(&self, webhook: &Webhook) -> Result<Box<dyn ChangeFeed>, StoreError> {
        self.changes.ensure_stream().await?;
        let stream = self
            .js
            .get_stream(self.changes.stream())
            .await
            .map_err(|e| self.unavailable("cannot get the changes stream", e))?;
        let filter_subjects = match &webhook.negotiations {
            Selection::All => vec![format!("{}.>", self.changes.subject_prefix())],
            Selection::Only(ids) => ids.iter().map(|n| self.changes.subject(n)).collect(),
        };
        let name = webhook_consumer(&webhook.id);
        let start_time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(
            webhook.created_at.timestamp_nanos_opt().unwrap_or(0),
        ))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let config = pull::Config {
            durable_name: Some(name.clone()),
            description: Some(format!("Roundtable webhook {} deliveries", webhook.id)),
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
}

/// One webhook's feed: its durable consumer, one change in hand at a time.
struct NatsWebhookFeed {
    consumer: PullConsumer,
    current: Option<Message>,
    url: String,
}

impl NatsWebhookFeed {
    fn unavailable(&self, what: &str, e: impl Display) -> StoreError {
        StoreError::Unavailable(format!("nats at {}: {what}: {e}", self.url))
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
