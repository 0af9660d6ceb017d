//! The webhooks' port: registrations, dead letters and each webhook's durable feed of
//! changes ([`WebhookStore`], [`ChangeFeed`]), and [`LogChangeFeed`], a change feed
//! over any [`EventFeed`] that derives each change from the log.
//!
//! On NATS: a key-value bucket and one durable consumer per webhook on the stream
//! `ROUNDTABLE_CHANGES`; embedded: tables in the store's file and a checkpoint per
//! webhook over the events table.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roundtable_domain::NegotiationId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Change, ChangeReader, EventFeed, EventStore, StoreError};

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

/// Every item, or only those listed. JSON: `"all"` or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<T> {
    /// Every item, also those that appear later.
    All,
    /// Only these.
    Only(Vec<T>),
}

impl<T: PartialEq> Selection<T> {
    /// Whether `item` is selected.
    pub fn contains(&self, item: &T) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(items) => items.contains(item),
        }
    }
}

impl<T: Serialize> Serialize for Selection<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Selection::All => s.serialize_str("all"),
            Selection::Only(items) => items.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Selection<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Word(String),
            List(Vec<T>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "all" => Ok(Selection::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected \"all\" or a list, got {w:?}"
            ))),
            Raw::List(items) => Ok(Selection::Only(items)),
        }
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

/// One change taken from a [`ChangeFeed`]: its position, to acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChange {
    /// Position in the feed (a stream sequence, an events row).
    pub position: u64,
    /// The change.
    pub change: Change,
}

/// One webhook's durable feed of changes: it resumes after the last acknowledged
/// change, across restarts. Changes of a negotiation come in version order.
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits up to `wait` for the next change after those returned; `None` when
    /// none came. The same change is returned again until acknowledged only after a
    /// restart (or, on NATS, when not kept in hand with [`ChangeFeed::working`]).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn next(&mut self, wait: Duration) -> Result<Option<FeedChange>, StoreError>;

    /// Acknowledges the change at `position` (the last returned): the feed's
    /// checkpoint moves past it.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn ack(&mut self, position: u64) -> Result<(), StoreError>;

    /// Says the last change returned is still being worked on (NATS: in progress, so
    /// the server does not hand it to another process); call it at least every 10 s.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn working(&mut self) -> Result<(), StoreError>;
}

/// Opens the durable feeds of changes the webhooks are delivered from, one per name
/// (a webhook's id).
///
/// On NATS: a durable consumer `roundtable-webhook-<name>` on the changes stream,
/// delivering from a start time; embedded: a checkpoint `webhook-<name>` over the
/// events table, each change derived from the log ([`LogChangeFeed`]).
#[async_trait]
pub trait ChangeFeeds: Send + Sync + 'static {
    /// Starts the feed `name` at the changes recorded from now on (`since`: now, as
    /// the caller's clock says), replacing any earlier feed of that name.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`].
    async fn start(&self, name: &str, since: DateTime<Utc>) -> Result<(), StoreError>;

    /// The feed `name` of the changes of `negotiations`, resuming after its last
    /// acknowledged change (after `since` when it was never started); `description`
    /// is kept where the backend shows one.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Incompatible`].
    async fn open(
        &self,
        name: &str,
        negotiations: &Selection<NegotiationId>,
        since: DateTime<Utc>,
        description: &str,
    ) -> Result<Box<dyn ChangeFeed>, StoreError>;

    /// Forgets the feed `name` and its checkpoint; a feed that does not exist is not
    /// an error.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    async fn remove(&self, name: &str) -> Result<(), StoreError>;
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

/// A [`ChangeFeed`] over an [`EventFeed`]: each event's change is derived by folding
/// its negotiation's log ([`ChangeReader`], kept per negotiation), so it has no gap
/// whatever the projector did. Events of negotiations `negotiations` does not select
/// are acknowledged and passed over. The embedded store's webhook feed.
pub struct LogChangeFeed {
    feed: Box<dyn EventFeed>,
    events: Arc<dyn EventStore>,
    negotiations: crate::webhooks::Selection<NegotiationId>,
    readers: HashMap<NegotiationId, ChangeReader>,
    buffered: VecDeque<crate::FeedItem>,
    /// The overdue announcements' bucket and this feed's name there.
    overdue: Option<(Arc<dyn crate::KvStore>, String)>,
    /// Announcements to return, after the checkpoint.
    pending_overdue: VecDeque<crate::overdue::Announcement>,
    /// The revision of the announcement last returned and not acknowledged.
    overdue_in_hand: Option<u64>,
}

impl fmt::Debug for LogChangeFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogChangeFeed")
            .field("negotiations", &self.negotiations)
            .field("buffered", &self.buffered.len())
            .finish_non_exhaustive()
    }
}

impl LogChangeFeed {
    /// A change feed reading `feed` (a named, checkpointed feed of every event) and
    /// folding from `events`.
    pub fn new(
        feed: Box<dyn EventFeed>,
        events: Arc<dyn EventStore>,
        negotiations: Selection<NegotiationId>,
    ) -> LogChangeFeed {
        LogChangeFeed {
            feed,
            events,
            negotiations,
            readers: HashMap::new(),
            buffered: VecDeque::new(),
            overdue: None,
            pending_overdue: VecDeque::new(),
            overdue_in_hand: None,
        }
    }

    /// Also returns the overdue announcements kept in `kv` (the bucket
    /// [`crate::overdue::OVERDUE_BUCKET`]) after the checkpoint of the feed `name`
    /// there, once the log has nothing more: their [`FeedChange::position`] is the
    /// announcement's revision, and acknowledging one moves that checkpoint.
    #[must_use]
    pub fn with_overdue(mut self, kv: Arc<dyn crate::KvStore>, name: &str) -> LogChangeFeed {
        self.overdue = Some((kv, name.to_owned()));
        self
    }

    /// The next overdue announcement after the checkpoint, if any.
    async fn next_overdue(&mut self) -> Result<Option<FeedChange>, StoreError> {
        let Some((kv, name)) = &self.overdue else {
            return Ok(None);
        };
        if self.pending_overdue.is_empty() {
            let seen = crate::overdue::feed_checkpoint(&**kv, name).await?;
            let fresh = crate::overdue::announcements(&**kv, None).await?;
            self.pending_overdue.extend(fresh.into_iter().filter(|a| {
                a.revision > seen && self.negotiations.contains(&a.change.negotiation_id)
            }));
        }
        Ok(self.pending_overdue.pop_front().map(|a| {
            self.overdue_in_hand = Some(a.revision);
            FeedChange {
                position: a.revision,
                change: a.change,
            }
        }))
    }
}

#[async_trait]
impl ChangeFeed for LogChangeFeed {
    async fn next(&mut self, wait: Duration) -> Result<Option<FeedChange>, StoreError> {
        loop {
            if self.buffered.is_empty() {
                let items = self.feed.next(100, wait).await?;
                if items.is_empty() {
                    return self.next_overdue().await;
                }
                self.buffered.extend(items);
            }
            let Some(item) = self.buffered.pop_front() else {
                continue;
            };
            let event = match item.event {
                Ok(e) if self.negotiations.contains(&e.negotiation_id) => e,
                Ok(_) => {
                    self.feed.ack(item.position).await?;
                    continue;
                }
                Err(e) => {
                    tracing::error!(position = item.position, error = %e, "an entry of the event feed cannot be decoded; passed over");
                    self.feed.ack(item.position).await?;
                    continue;
                }
            };
            let id = event.negotiation_id.clone();
            let reader = self
                .readers
                .entry(id.clone())
                .or_insert_with(|| ChangeReader::new(id));
            if reader.version() >= event.version {
                // Delivered again: this reader already made its change, which the
                // caller had (it only asks for more once it acknowledged).
                self.feed.ack(item.position).await?;
                continue;
            }
            if reader.version() + 1 != event.version {
                reader.skip_to(&*self.events, event.version - 1).await?;
            }
            let change = reader.apply(&event)?;
            self.overdue_in_hand = None;
            return Ok(Some(FeedChange {
                position: item.position,
                change,
            }));
        }
    }

    async fn ack(&mut self, position: u64) -> Result<(), StoreError> {
        if let (Some(revision), Some((kv, name))) = (self.overdue_in_hand, &self.overdue) {
            if revision == position {
                self.overdue_in_hand = None;
                return crate::overdue::set_feed_checkpoint(&**kv, name, revision).await;
            }
        }
        self.feed.ack(position).await
    }

    async fn working(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
