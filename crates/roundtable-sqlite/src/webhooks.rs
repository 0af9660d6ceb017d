//! [`SqliteChangeFeeds`]: each webhook's feed of changes as a checkpoint over the
//! events table, each change derived from the log.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roundtable_domain::{ChangeDeriver, ChangeError, NegotiationId, RecordedEvent};
use roundtable_store::{
    ChangeFeed, ChangeFeeds, EventFeed, EventStore, FeedChange, FeedItem, KvBuckets, KvStore,
    Selection, StoreError, overdue,
};
use rusqlite::params;

use crate::errors::store_error;
use crate::feed::SqliteEventFeed;
use crate::kv::SqliteBuckets;
use crate::store::SqliteStore;

fn checkpoint_name(name: &str) -> String {
    format!("webhook-{name}")
}

/// The [`ChangeFeeds`] of the embedded store: per feed name (a webhook's id) a row
/// `webhook-<name>` in `checkpoints`, set by [`ChangeFeeds::start`] to the last event
/// recorded, so the feed gets the changes recorded from then on.
///
/// Its feeds ([`LogChangeFeed`] over a [`SqliteEventFeed`]) derive each change from
/// the log. One process should deliver a file's webhooks at a time: the embedded
/// feeds are not divided between processes as NATS consumers are.
#[derive(Debug, Clone)]
pub struct SqliteChangeFeeds {
    store: SqliteStore,
}

impl SqliteChangeFeeds {
    /// The change feeds of `store`'s file.
    pub fn new(store: &SqliteStore) -> SqliteChangeFeeds {
        SqliteChangeFeeds {
            store: store.clone(),
        }
    }

    /// The bucket of the overdue announcements, in the same file.
    async fn overdue(&self) -> Result<Arc<dyn KvStore>, StoreError> {
        SqliteBuckets::new(&self.store)
            .open(overdue::OVERDUE_BUCKET, "overdue announcements")
            .await
    }
}

#[async_trait]
impl ChangeFeeds for SqliteChangeFeeds {
    /// Sets the checkpoint to the last position of `events` (the events recorded
    /// until now are not delivered); `since` is not needed.
    async fn start(&self, name: &str, _since: DateTime<Utc>) -> Result<(), StoreError> {
        overdue::start_feed(&*self.overdue().await?, &checkpoint_name(name)).await?;
        let name = checkpoint_name(name);
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .execute(
                        "INSERT INTO checkpoints (name, position)
                         SELECT ?1, COALESCE(MAX(position), 0) FROM events WHERE true
                         ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                        params![name],
                    )
                    .map(|_| ())
                    .map_err(|e| store_error(&inner.path, "starting a webhook's feed", &e))
            })
            .await
    }

    async fn open(
        &self,
        name: &str,
        negotiations: &Selection<NegotiationId>,
        _since: DateTime<Utc>,
        _description: &str,
    ) -> Result<Box<dyn ChangeFeed>, StoreError> {
        let feed = SqliteEventFeed::open(&self.store, &checkpoint_name(name)).await?;
        let events: Arc<dyn EventStore> = Arc::new(self.store.clone());
        Ok(Box::new(
            LogChangeFeed::new(Box::new(feed), events, negotiations.clone())
                .with_overdue(self.overdue().await?, &checkpoint_name(name)),
        ))
    }

    async fn remove(&self, name: &str) -> Result<(), StoreError> {
        overdue::remove_feed(&*self.overdue().await?, &checkpoint_name(name)).await?;
        let name = checkpoint_name(name);
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .execute("DELETE FROM checkpoints WHERE name = ?1", [name])
                    .map(|_| ())
                    .map_err(|e| store_error(&inner.path, "removing a webhook's feed", &e))
            })
            .await
    }
}

/// A [`ChangeFeed`] over an [`EventFeed`]: each event's change is derived by folding
/// its negotiation's log ([`ChangeDeriver`], kept per negotiation), so it has no gap
/// whatever the projector did. Events of negotiations `negotiations` does not select
/// are acknowledged and passed over.
struct LogChangeFeed {
    feed: Box<dyn EventFeed>,
    events: Arc<dyn EventStore>,
    negotiations: Selection<NegotiationId>,
    readers: HashMap<NegotiationId, ChangeDeriver>,
    buffered: VecDeque<FeedItem>,
    /// The overdue announcements' bucket and this feed's name there.
    overdue: Option<(Arc<dyn KvStore>, String)>,
    /// Announcements to return, after the checkpoint.
    pending_overdue: VecDeque<overdue::Announcement>,
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
    fn new(
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
    /// [`overdue::OVERDUE_BUCKET`]) after the checkpoint of the feed `name` there, once
    /// the log has nothing more: their [`FeedChange::position`] is the announcement's
    /// revision, and acknowledging one moves that checkpoint.
    #[must_use]
    fn with_overdue(mut self, kv: Arc<dyn KvStore>, name: &str) -> LogChangeFeed {
        self.overdue = Some((kv, name.to_owned()));
        self
    }

    /// The next overdue announcement after the checkpoint, if any.
    async fn next_overdue(&mut self) -> Result<Option<FeedChange>, StoreError> {
        let Some((kv, name)) = &self.overdue else {
            return Ok(None);
        };
        if self.pending_overdue.is_empty() {
            let seen = overdue::feed_checkpoint(&**kv, name).await?;
            let fresh = overdue::announcements(&**kv, None).await?;
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
                .or_insert_with(|| ChangeDeriver::new(id));
            if reader.version() >= event.version {
                // Delivered again: this reader already made its change, which the
                // caller had (it only asks for more once it acknowledged).
                self.feed.ack(item.position).await?;
                continue;
            }
            if reader.version() + 1 != event.version {
                catch_up(reader, &*self.events, event.version - 1).await?;
            }
            let change = reader
                .apply(&event)
                .map_err(|e| corrupt(reader.negotiation(), &e))?;
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
                return overdue::set_feed_checkpoint(&**kv, name, revision).await;
            }
        }
        self.feed.ack(position).await
    }

    async fn working(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Folds `reader` up to `version` from the log, 1,000 events at a time, when the feed
/// starts in the middle of a negotiation.
async fn catch_up(
    reader: &mut ChangeDeriver,
    events: &dyn EventStore,
    version: u64,
) -> Result<(), StoreError> {
    while reader.version() < version {
        let wanted = usize::try_from(version - reader.version()).unwrap_or(usize::MAX);
        let page: Vec<RecordedEvent> = events
            .read(
                reader.negotiation(),
                reader.version(),
                Some(wanted.min(1_000)),
            )
            .await?;
        if page.is_empty() {
            return Ok(());
        }
        for e in &page {
            reader
                .apply(e)
                .map_err(|err| corrupt(reader.negotiation(), &err))?;
        }
    }
    Ok(())
}

/// An event that does not follow on, as the store's `Corrupt`.
fn corrupt(negotiation: &NegotiationId, e: &ChangeError) -> StoreError {
    StoreError::Corrupt {
        negotiation: negotiation.to_string(),
        position: format!("version {}", e.version),
        reason: e.reason.clone(),
    }
}
