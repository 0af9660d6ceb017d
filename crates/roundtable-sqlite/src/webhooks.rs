//! [`SqliteChangeFeeds`]: each webhook's feed of changes as a checkpoint over the
//! events table, each change derived from the log.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roundtable_domain::NegotiationId;
use roundtable_store::{
    ChangeFeed, ChangeFeeds, EventStore, KvBuckets, KvStore, LogChangeFeed, Selection, StoreError,
    WebhookId, overdue,
};
use rusqlite::params;

use crate::errors::store_error;
use crate::feed::SqliteEventFeed;
use crate::kv::SqliteBuckets;
use crate::store::SqliteStore;

/// The checkpoint name of a webhook's feed: `webhook-<id>`.
pub fn webhook_checkpoint(id: &WebhookId) -> String {
    checkpoint_name(id.as_str())
}

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
