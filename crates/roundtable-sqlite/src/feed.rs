//! [`SqliteEventFeed`]: every event of the file in `position` order, with a
//! checkpoint per consumer name in the `checkpoints` table.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_store::{EventFeed, FeedItem, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::time::Instant;

use crate::errors::store_error;
use crate::store::SqliteStore;

/// How often [`SqliteEventFeed::next`] looks for new rows while it waits: SQLite has
/// no notifications, and another process may be the one appending.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The event feed of the embedded store: the `events` table read by `position` (the
/// global order of commits), with the checkpoint of each consumer name in the
/// `checkpoints` table of the same file.
///
/// A feed opened with a name starts after that name's checkpoint and then reads on
/// from the last entry it returned; [`EventFeed::ack`] moves the checkpoint (never
/// backwards: several processes may share a name). Entries returned but not
/// acknowledged come again to the next feed opened with the name, for instance after
/// a crash. Several feeds with one name each read every entry: the projector's version
/// check keeps that safe.
#[derive(Debug)]
pub struct SqliteEventFeed {
    store: SqliteStore,
    name: String,
    /// The position of the last entry returned (or the checkpoint at opening).
    cursor: u64,
}

impl SqliteEventFeed {
    /// A feed of `store`'s events under the consumer `name`, starting after its
    /// checkpoint (from the first event when it has none).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be read.
    pub async fn open(store: &SqliteStore, name: &str) -> Result<SqliteEventFeed, StoreError> {
        let owned = name.to_owned();
        let cursor = store
            .blocking(move |inner| checkpoint(&inner.reader(), &inner.path, &owned))
            .await?;
        Ok(SqliteEventFeed {
            store: store.clone(),
            name: name.to_owned(),
            cursor,
        })
    }

    /// The consumer name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The checkpoint of `name`, 0 when it has none.
fn checkpoint(conn: &Connection, path: &Path, name: &str) -> Result<u64, StoreError> {
    let position: Option<i64> = conn
        .prepare_cached("SELECT position FROM checkpoints WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
        .map_err(|e| store_error(path, "reading a checkpoint", &e))?;
    Ok(position.map_or(0, to_u64))
}

/// One raw row of `events`.
struct Row {
    position: i64,
    negotiation: String,
    version: i64,
    body: Vec<u8>,
}

fn select(conn: &Connection, path: &Path, after: u64, max: usize) -> Result<Vec<Row>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "reading the event feed", &e);
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT position, negotiation_id, version, body FROM events
             WHERE position > ?1 ORDER BY position LIMIT ?2",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(params![to_i64(after), limit], |r| {
            Ok(Row {
                position: r.get(0)?,
                negotiation: r.get(1)?,
                version: r.get(2)?,
                body: r.get(3)?,
            })
        })
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    Ok(rows)
}

/// Decodes a row into a feed entry; a body that is not the event its row names is an
/// entry with [`StoreError::Corrupt`].
fn item(row: Row) -> FeedItem {
    let negotiation = NegotiationId::new(&row.negotiation).ok();
    let corrupt = |reason: String| StoreError::Corrupt {
        negotiation: row.negotiation.clone(),
        position: format!("events position {}", row.position),
        reason,
    };
    let event = RecordedEvent::decode(&row.body)
        .map_err(|e| corrupt(e.to_string()))
        .and_then(|e| {
            if e.negotiation_id.as_str() == row.negotiation
                && i64::try_from(e.version).ok() == Some(row.version)
            {
                Ok(e)
            } else {
                Err(corrupt(format!(
                    "the row of {} at version {} holds the event of {} at version {}",
                    row.negotiation, row.version, e.negotiation_id, e.version
                )))
            }
        });
    FeedItem {
        position: to_u64(row.position),
        negotiation,
        event,
    }
}

#[async_trait]
impl EventFeed for SqliteEventFeed {
    /// Reads up to `max` events after the last entry returned, in `position` order,
    /// decoding and hash-checking each. When there is none, looks again every
    /// [`POLL_INTERVAL`] until `wait` has passed.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be read.
    async fn next(&mut self, max: usize, wait: Duration) -> Result<Vec<FeedItem>, StoreError> {
        let deadline = Instant::now() + wait;
        loop {
            let after = self.cursor;
            let items = self
                .store
                .blocking(move |inner| {
                    let rows = select(&inner.reader(), &inner.path, after, max)?;
                    Ok(rows.into_iter().map(item).collect::<Vec<_>>())
                })
                .await?;
            if let Some(last) = items.last() {
                self.cursor = last.position;
                return Ok(items);
            }
            let now = Instant::now();
            if max == 0 || now >= deadline {
                return Ok(items);
            }
            tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
        }
    }

    /// Moves this name's checkpoint to `position`, unless it is already further on,
    /// flushed to disk before it returns.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be written.
    async fn ack(&mut self, position: u64) -> Result<(), StoreError> {
        let name = self.name.clone();
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .prepare_cached(
                        "INSERT INTO checkpoints (name, position) VALUES (?1, ?2)
                         ON CONFLICT (name) DO UPDATE
                         SET position = max(position, excluded.position)",
                    )
                    .and_then(|mut s| s.execute(params![name, to_i64(position)]))
                    .map(|_| ())
                    .map_err(|e| store_error(&inner.path, "writing a checkpoint", &e))
            })
            .await
    }

    /// The number of events after this name's checkpoint.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be read.
    async fn lag(&mut self) -> Result<u64, StoreError> {
        let name = self.name.clone();
        self.store
            .blocking(move |inner| {
                let conn = inner.reader();
                let from = checkpoint(&conn, &inner.path, &name)?;
                let count: i64 = conn
                    .prepare_cached("SELECT count(*) FROM events WHERE position > ?1")
                    .and_then(|mut s| s.query_row([to_i64(from)], |r| r.get(0)))
                    .map_err(|e| store_error(&inner.path, "counting unprojected events", &e))?;
                Ok(to_u64(count))
            })
            .await
    }

    /// Deletes this name's checkpoint and starts again from the first event.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be written.
    async fn reset(&mut self) -> Result<(), StoreError> {
        let name = self.name.clone();
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .execute("DELETE FROM checkpoints WHERE name = ?1", [name])
                    .map(|_| ())
                    .map_err(|e| store_error(&inner.path, "deleting a checkpoint", &e))
            })
            .await?;
        self.cursor = 0;
        Ok(())
    }
}
