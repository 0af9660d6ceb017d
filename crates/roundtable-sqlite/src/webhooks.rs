//! [`SqliteWebhookStore`]: webhooks and their dead letters in the embedded store's
//! file, and each webhook's feed as a checkpoint over the events table.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use roundtable_store::{
    Change, ChangeFeed, DeadLetter, EventStore, LogChangeFeed, StoreError, Webhook, WebhookId,
    WebhookStore,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::errors::{is_unique_violation, store_error};
use crate::feed::SqliteEventFeed;
use crate::store::SqliteStore;

/// The checkpoint name of a webhook's feed: `webhook-<id>`.
pub fn webhook_checkpoint(id: &WebhookId) -> String {
    format!("webhook-{id}")
}

/// The [`WebhookStore`] of the embedded store: tables `webhooks` and
/// `webhook_dead_letters` of the store's file (schema version 3), and per webhook a
/// row `webhook-<id>` in `checkpoints`, set at registration to the last event
/// recorded, so the webhook gets the changes recorded from then on.
///
/// Its feeds ([`LogChangeFeed`] over a [`SqliteEventFeed`]) derive each change from
/// the log. One process should deliver a file's webhooks at a time: the embedded
/// feeds are not divided between processes as NATS consumers are.
#[derive(Debug, Clone)]
pub struct SqliteWebhookStore {
    store: SqliteStore,
}

impl SqliteWebhookStore {
    /// The webhooks kept in `store`'s file.
    pub fn new(store: &SqliteStore) -> SqliteWebhookStore {
        SqliteWebhookStore {
            store: store.clone(),
        }
    }
}

fn corrupt(what: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        negotiation: "?".into(),
        position: what.to_owned(),
        reason: reason.to_string(),
    }
}

fn version(change: &Change) -> Result<i64, StoreError> {
    i64::try_from(change.version).map_err(|_| corrupt("dead letter", "version too large"))
}

fn letters(
    conn: &Connection,
    path: &Path,
    id: &WebhookId,
    only_replays: bool,
) -> Result<Vec<DeadLetter>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "reading dead letters", &e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT body, replay FROM webhook_dead_letters WHERE webhook_id = ?1 AND (?2 = 0 OR replay = 1)
             ORDER BY negotiation_id, version",
        )
        .map_err(err)?;
    let bodies = stmt
        .query_map(params![id.as_str(), i64::from(only_replays)], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    bodies
        .iter()
        .map(|(b, replay)| {
            let mut letter: DeadLetter =
                serde_json::from_slice(b).map_err(|e| corrupt("dead letter", e))?;
            // The column is the truth (a replay request only sets the column).
            letter.replay = *replay != 0;
            Ok(letter)
        })
        .collect()
}

#[async_trait]
impl WebhookStore for SqliteWebhookStore {
    async fn register(&self, webhook: &Webhook) -> Result<(), StoreError> {
        let body = serde_json::to_vec(webhook).map_err(|e| corrupt("webhook", e))?;
        let id = webhook.id.clone();
        self.store
            .blocking(move |inner| {
                let err =
                    |e: rusqlite::Error| store_error(&inner.path, "registering a webhook", &e);
                let mut conn = inner.writer();
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(err)?;
                match tx.execute(
                    "INSERT INTO webhooks (id, body) VALUES (?1, ?2)",
                    params![id.as_str(), body],
                ) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::Incompatible(format!("webhook {id} exists")));
                    }
                    Err(e) => return Err(err(e)),
                }
                tx.execute(
                    "INSERT INTO checkpoints (name, position)
                     SELECT ?1, COALESCE(MAX(position), 0) FROM events WHERE true
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                    params![webhook_checkpoint(&id)],
                )
                .map_err(err)?;
                tx.commit().map_err(err)
            })
            .await
    }

    async fn get(&self, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
        let id = id.clone();
        self.store
            .blocking(move |inner| {
                let body: Option<Vec<u8>> = inner
                    .reader()
                    .query_row(
                        "SELECT body FROM webhooks WHERE id = ?1",
                        [id.as_str()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| store_error(&inner.path, "reading a webhook", &e))?;
                body.map(|b| serde_json::from_slice(&b).map_err(|e| corrupt("webhook", e)))
                    .transpose()
            })
            .await
    }

    async fn list(&self) -> Result<Vec<Webhook>, StoreError> {
        self.store
            .blocking(|inner| {
                let err = |e: rusqlite::Error| store_error(&inner.path, "listing webhooks", &e);
                let conn = inner.reader();
                let mut stmt = conn
                    .prepare_cached("SELECT body FROM webhooks ORDER BY id")
                    .map_err(err)?;
                let bodies = stmt
                    .query_map([], |r| r.get::<_, Vec<u8>>(0))
                    .map_err(err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                bodies
                    .iter()
                    .map(|b| serde_json::from_slice(b).map_err(|e| corrupt("webhook", e)))
                    .collect()
            })
            .await
    }

    async fn remove(&self, id: &WebhookId) -> Result<bool, StoreError> {
        let id = id.clone();
        self.store
            .blocking(move |inner| {
                let err = |e: rusqlite::Error| store_error(&inner.path, "removing a webhook", &e);
                let mut conn = inner.writer();
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(err)?;
                let n = tx
                    .execute("DELETE FROM webhooks WHERE id = ?1", [id.as_str()])
                    .map_err(err)?;
                tx.execute(
                    "DELETE FROM webhook_dead_letters WHERE webhook_id = ?1",
                    [id.as_str()],
                )
                .map_err(err)?;
                tx.execute(
                    "DELETE FROM checkpoints WHERE name = ?1",
                    [webhook_checkpoint(&id)],
                )
                .map_err(err)?;
                tx.commit().map_err(err)?;
                Ok(n > 0)
            })
            .await
    }

    async fn park(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        let body = serde_json::to_vec(letter).map_err(|e| corrupt("dead letter", e))?;
        let id = letter.webhook_id.clone();
        let negotiation = letter.change.negotiation_id.clone();
        let version = version(&letter.change)?;
        let replay = i64::from(letter.replay);
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .execute(
                        "INSERT INTO webhook_dead_letters (webhook_id, negotiation_id, version, replay, body)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (webhook_id, negotiation_id, version)
                         DO UPDATE SET replay = excluded.replay, body = excluded.body",
                        params![id.as_str(), negotiation.as_str(), version, replay, body],
                    )
                    .map(|_| ())
                    .map_err(|e| store_error(&inner.path, "parking a delivery", &e))
            })
            .await
    }

    async fn dead_letters(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError> {
        let id = id.clone();
        self.store
            .blocking(move |inner| letters(&inner.reader(), &inner.path, &id, false))
            .await
    }

    async fn request_replay(&self, id: &WebhookId) -> Result<usize, StoreError> {
        let id = id.clone();
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .execute(
                        "UPDATE webhook_dead_letters SET replay = 1 WHERE webhook_id = ?1",
                        [id.as_str()],
                    )
                    .map_err(|e| store_error(&inner.path, "asking for a replay", &e))
            })
            .await
    }

    async fn replays(&self, id: &WebhookId) -> Result<Vec<DeadLetter>, StoreError> {
        let id = id.clone();
        self.store
            .blocking(move |inner| letters(&inner.reader(), &inner.path, &id, true))
            .await
    }

    async fn unpark(&self, id: &WebhookId, change: &Change) -> Result<(), StoreError> {
        let id = id.clone();
        let negotiation = change.negotiation_id.clone();
        let version = version(change)?;
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .execute(
                        "DELETE FROM webhook_dead_letters
                         WHERE webhook_id = ?1 AND negotiation_id = ?2 AND version = ?3",
                        params![id.as_str(), negotiation.as_str(), version],
                    )
                    .map(|_| ())
                    .map_err(|e| store_error(&inner.path, "dropping a dead letter", &e))
            })
            .await
    }

    async fn feed(&self, webhook: &Webhook) -> Result<Box<dyn ChangeFeed>, StoreError> {
        let feed = SqliteEventFeed::open(&self.store, &webhook_checkpoint(&webhook.id)).await?;
        let events: Arc<dyn EventStore> = Arc::new(self.store.clone());
        Ok(Box::new(LogChangeFeed::new(
            Box::new(feed),
            events,
            webhook.negotiations.clone(),
        )))
    }
}
