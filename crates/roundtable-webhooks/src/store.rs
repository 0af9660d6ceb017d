//! [`KvWebhookStore`]: webhooks, their dead letters and replays, written once over
//! the key-value port, with each webhook's feed from the store's [`ChangeFeeds`].

use std::sync::Arc;

use crate::{DeadLetter, Webhook, WebhookId, WebhookStore};
use async_trait::async_trait;
use roundtable_domain::ChangeDetails;
use roundtable_store::{Change, ChangeFeed, ChangeFeeds, KvBuckets, KvStore, Ports, StoreError};

/// The bucket of webhooks: `ROUNDTABLE_WEBHOOKS`.
pub const WEBHOOKS_BUCKET: &str = "ROUNDTABLE_WEBHOOKS";

/// The [`WebhookStore`] over any store's ports.
///
/// Bucket [`WEBHOOKS_BUCKET`]: `hook.<id>` holds a webhook as JSON,
/// `dead.<id>.<negotiation_id>.<version>` a dead letter as JSON (with whether a replay
/// of it was asked for), `replay.<id>` whether a replay is pending for the webhook
/// (`1`) or not (`0`), so that the worker's frequent question costs one get.
///
/// Replay, the one semantics on every store: [`WebhookStore::request_replay`] marks
/// every dead letter of the webhook and sets `replay.<id>`; the worker takes the
/// marked letters ([`WebhookStore::replays`]), delivers each once more, and drops it
/// when delivered ([`WebhookStore::unpark`]) or parks it again unmarked with one more
/// attempt; once none is marked the flag goes back to `0` (conditionally, so that a
/// request made meanwhile stays).
///
/// Each webhook's feed is the [`ChangeFeeds`] feed named by its id, started at
/// registration.
#[derive(Clone)]
pub struct KvWebhookStore {
    kv: Arc<dyn KvStore>,
    feeds: Arc<dyn ChangeFeeds>,
}

impl std::fmt::Debug for KvWebhookStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvWebhookStore")
            .field("bucket", &self.kv.bucket())
            .finish_non_exhaustive()
    }
}

fn hook_key(id: &WebhookId) -> String {
    format!("hook.{id}")
}

fn replay_key(id: &WebhookId) -> String {
    format!("replay.{id}")
}

fn letters_prefix(id: &WebhookId) -> String {
    format!("dead.{id}.")
}

fn letter_key(id: &WebhookId, change: &Change) -> String {
    match &change.details {
        ChangeDetails::CommitmentOverdue {
            commitment_id, due, ..
        } => format!(
            "dead.{id}.{}.{}.overdue.{commitment_id}.{due}",
            change.negotiation_id, change.version
        ),
        _ => format!("dead.{id}.{}.{}", change.negotiation_id, change.version),
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    bucket: &str,
    key: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        negotiation: "?".into(),
        position: format!("bucket {bucket} key {key}"),
        reason: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        negotiation: "?".into(),
        position: key.to_owned(),
        reason: format!("cannot serialize: {e}"),
    })
}

impl KvWebhookStore {
    /// Opens [`WEBHOOKS_BUCKET`] (creating it when missing), with the feeds of `feeds`.
    ///
    /// # Errors
    /// As [`KvBuckets::open`].
    pub async fn open(
        buckets: &dyn KvBuckets,
        feeds: Arc<dyn ChangeFeeds>,
    ) -> Result<KvWebhookStore, StoreError> {
        let kv = buckets
            .open(
                WEBHOOKS_BUCKET,
                "Roundtable webhooks and their dead letters",
            )
            .await?;
        Ok(KvWebhookStore::new(kv, feeds))
    }

    /// Over a store's `ports`: its key-value buckets and change feeds.
    ///
    /// # Errors
    /// As [`KvBuckets::open`].
    pub async fn from_ports(ports: &Ports) -> Result<KvWebhookStore, StoreError> {
        KvWebhookStore::open(&*ports.kv, ports.change_feeds.clone()).await
    }

    /// The webhooks in `kv`, with the feeds of `feeds`.
    pub fn new(kv: Arc<dyn KvStore>, feeds: Arc<dyn ChangeFeeds>) -> KvWebhookStore {
        KvWebhookStore { kv, feeds }
    }

    async fn letters(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError> {
        let mut letters = self
            .kv
            .entries(&letters_prefix(id))
            .await?
            .into_iter()
            .map(|(key, entry)| decode::<DeadLetter>(self.kv.bucket(), &key, &entry.value))
            .collect::<Result<Vec<_>, _>>()?;
        letters.sort_by(|a, b| {
            (&a.change.negotiation_id, a.change.version)
                .cmp(&(&b.change.negotiation_id, b.change.version))
        });
        Ok(letters)
    }
}

#[async_trait]
impl WebhookStore for KvWebhookStore {
    /// Creates `hook.<id>`, then starts the webhook's feed at the changes recorded
    /// from now on.
    async fn register(&self, webhook: &Webhook) -> Result<(), StoreError> {
        let key = hook_key(&webhook.id);
        match self.kv.create(&key, &encode(&key, webhook)?).await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists(_)) => {
                return Err(StoreError::AlreadyExists(format!("webhook {}", webhook.id)));
            }
            Err(e) => return Err(e),
        }
        self.feeds
            .start(webhook.id.as_str(), webhook.created_at)
            .await
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        let key = hook_key(id);
        self.kv
            .get(&key)
            .await?
            .map(|entry| decode(self.kv.bucket(), &key, &entry.value))
            .transpose()
    }

    async fn list(&self) -> Result<Vec<Webhook>, StoreError> {
        let mut hooks = self
            .kv
            .entries("hook.")
            .await?
            .into_iter()
            .map(|(key, entry)| decode::<Webhook>(self.kv.bucket(), &key, &entry.value))
            .collect::<Result<Vec<_>, _>>()?;
        hooks.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(hooks)
    }

    /// Removes the dead letters, the replay flag and the registration, then the feed.
    async fn remove(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let existed = self.kv.get(&hook_key(id)).await?.is_some();
        for key in self.kv.keys(&letters_prefix(id)).await? {
            self.kv.delete(&key, None).await?;
        }
        self.kv.delete(&replay_key(id), None).await?;
        self.kv.delete(&hook_key(id), None).await?;
        self.feeds.remove(id.as_str()).await?;
        Ok(existed)
    }

    async fn park(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        let key = letter_key(&letter.webhook_id, &letter.change);
        self.kv.put(&key, &encode(&key, letter)?).await.map(|_| ())
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
        self.kv.put(&replay_key(id), b"1").await?;
        Ok(letters.len())
    }

    async fn replays(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError> {
        let key = replay_key(id);
        let Some(flag) = self.kv.get(&key).await?.filter(|e| e.value == b"1") else {
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
            match self.kv.update(&key, b"0", flag.revision).await {
                Ok(_) | Err(StoreError::RevisionConflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(letters)
    }

    async fn unpark(&self, id: &WebhookId, change: &Change) -> Result<(), StoreError> {
        self.kv.delete(&letter_key(id, change), None).await
    }

    async fn feed(&self, webhook: &Webhook) -> Result<Box<dyn ChangeFeed>, StoreError> {
        self.feeds
            .open(
                webhook.id.as_str(),
                &webhook.negotiations,
                webhook.created_at,
                &format!("Roundtable webhook {} deliveries", webhook.id),
            )
            .await
    }
}
