//! The webhooks' model and storage: registrations ([`Webhook`]), deliveries given up
//! ([`DeadLetter`]) and where both are kept ([`WebhookStore`], implemented once over
//! the key-value port by [`crate::KvWebhookStore`]).

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roundtable_domain::NegotiationId;
use roundtable_store::{Change, ChangeFeed, Selection, StoreError};
use serde::{Deserialize, Serialize};

/// A webhook's id: `wh-` and 32 lower-case hex digits, made by the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookId(String);

impl WebhookId {
    /// A new random id.
    pub fn generate() -> WebhookId {
        WebhookId(format!("wh-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Checks `raw`: 1 to 64 of `a-z`, `0-9`, `-`, starting with a letter or digit
    /// (so it is always one NATS subject token, key token and consumer name).
    ///
    /// # Errors
    /// A message naming the value.
    pub fn new(raw: &str) -> Result<WebhookId, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-');
        if ok {
            Ok(WebhookId(raw.to_owned()))
        } else {
            Err(format!(
                "webhook id {raw:?} must be 1 to 64 of a-z, 0-9 and '-', starting with a letter or digit"
            ))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WebhookId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        WebhookId::new(&s)
    }
}

impl From<WebhookId> for String {
    fn from(id: WebhookId) -> String {
        id.0
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered webhook: where changes are posted, which ones, and the secret they
/// are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// Where deliveries are posted (`http` or `https`).
    pub url: String,
    /// The negotiations whose changes it gets.
    pub negotiations: Selection<NegotiationId>,
    /// The event types whose changes it gets.
    pub event_types: Selection<String>,
    /// The shared secret of the signatures. Never shown by the API.
    pub secret: String,
    /// When it was registered: it gets the changes recorded from then on.
    pub created_at: DateTime<Utc>,
    /// Who registered it (the token's principal, in words).
    pub created_by: String,
}

impl Webhook {
    /// Whether `change` is one this webhook gets.
    pub fn matches(&self, change: &Change) -> bool {
        self.negotiations.contains(&change.negotiation_id)
            && self.event_types.contains(&change.event_type)
    }

    /// The stable id of the delivery of `change` to this webhook:
    /// `<webhook_id>:<negotiation_id>:<version>` for an event's change, and
    /// `<webhook_id>:<negotiation_id>:overdue:<commitment_id>:<due>` for an overdue
    /// announcement ([`Change::announcement_id`]). The same on every attempt and every
    /// replay, so a receiver de-duplicates on it.
    pub fn delivery_id(&self, change: &Change) -> String {
        format!("{}:{}", self.id, change.announcement_id())
    }
}

/// A delivery given up after its last attempt, kept until it is replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The webhook.
    pub webhook_id: WebhookId,
    /// The delivery id ([`Webhook::delivery_id`]).
    pub delivery_id: String,
    /// The change that was not delivered.
    pub change: Change,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed (`status 500`, `timed out`, `connection refused`...).
    pub last_error: String,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
    /// Whether a replay was asked for and has not been tried yet.
    pub replay: bool,
}

/// Where webhooks, their dead letters and their feeds' checkpoints are kept.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Stores a new webhook; its feed starts with the changes recorded from now on.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when the id exists; [`StoreError::Unavailable`].
    async fn register(&self, webhook: &Webhook) -> Result<(), StoreError>;

    /// The webhook with `id`, if any.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`].
    async fn get(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError>;

    /// Every webhook, by id.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`].
    async fn list(&self) -> Result<Vec<Webhook>, StoreError>;

    /// Removes a webhook, its dead letters and its feed's checkpoint; `false` when
    /// there was none.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn remove(&self, id: &WebhookId) -> Result<bool, StoreError>;

    /// Parks (or parks again) a delivery, keyed by webhook, negotiation and version.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn park(&self, letter: &DeadLetter) -> Result<(), StoreError>;

    /// The dead letters of a webhook, by negotiation and version.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`].
    async fn dead_letters(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError>;

    /// Marks every dead letter of the webhook for replay; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn request_replay(&self, id: &WebhookId) -> Result<usize, StoreError>;

    /// The dead letters marked for replay, by negotiation and version (cheap when
    /// there are none: the worker asks often).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`].
    async fn replays(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError>;

    /// Drops the dead letter of `change` (delivered on replay).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn unpark(&self, id: &WebhookId, change: &Change) -> Result<(), StoreError>;

    /// The webhook's durable feed of changes (every negotiation and type; the worker
    /// filters).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`].
    async fn feed(&self, webhook: &Webhook) -> Result<Box<dyn ChangeFeed>, StoreError>;
}
