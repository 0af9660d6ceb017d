//! The [`EventStore`] port over the `events` table.

use std::path::Path;

use async_trait::async_trait;
use chrono::SecondsFormat;
use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_store::{EventStore, StoreError};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::errors::{is_unique_violation, store_error};
use crate::store::SqliteStore;

/// One row to insert, prepared on the async side.
struct NewRow {
    negotiation: NegotiationId,
    version: u64,
    command_id: String,
    event_id: String,
    event_type: &'static str,
    recorded_at: String,
    body: Vec<u8>,
}

impl NewRow {
    fn of(e: &RecordedEvent) -> NewRow {
        NewRow {
            negotiation: e.negotiation_id.clone(),
            version: e.version,
            command_id: e.command_id.to_string(),
            event_id: e.event_id.to_string(),
            event_type: e.event_type(),
            recorded_at: e.recorded_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            body: e.to_bytes(),
        }
    }
}

fn corrupt(negotiation: &str, position: String, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        negotiation: negotiation.to_owned(),
        position,
        reason: reason.into(),
    }
}

/// `MAX(version)` of a negotiation, 0 when it has none.
fn last_version(
    conn: &Connection,
    path: &Path,
    negotiation: &NegotiationId,
) -> Result<u64, StoreError> {
    let max: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM events WHERE negotiation_id = ?1")
        .and_then(|mut s| s.query_row([negotiation.as_str()], |r| r.get(0)))
        .map_err(|e| store_error(path, "reading the last version", &e))?;
    u64::try_from(max).map_err(|_| {
        corrupt(
            negotiation.as_str(),
            "last version".into(),
            format!("negative version {max}"),
        )
    })
}

/// The append transaction: check the last version, insert every row, commit. `rows`
/// are consecutive versions of one negotiation (checked by the caller); all of them
/// are recorded or none.
fn append(conn: &mut Connection, path: &Path, rows: &[NewRow]) -> Result<(), StoreError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let err = |e: rusqlite::Error| store_error(path, "appending", &e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let actual = last_version(&tx, path, &first.negotiation)?;
    let expected = first.version.saturating_sub(1);
    let conflict = || StoreError::Conflict {
        negotiation: first.negotiation.clone(),
        expected,
        actual: Some(actual),
    };
    // Version 0 can never be appended: it has no "previous version" to match.
    if first.version == 0 || actual != expected {
        return Err(conflict());
    }
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO events
                    (negotiation_id, version, command_id, event_id, event_type, recorded_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(err)?;
        for row in rows {
            let version = i64::try_from(row.version).map_err(|_| conflict())?;
            let inserted = insert.execute(params![
                row.negotiation.as_str(),
                version,
                row.command_id,
                row.event_id,
                row.event_type,
                row.recorded_at,
                row.body,
            ]);
            match inserted {
                Ok(_) => {}
                // The version was free, so this is the command id: already recorded.
                // Dropping the transaction rolls every row of it back.
                Err(e) if is_unique_violation(&e) => return Err(conflict()),
                Err(e) => return Err(err(e)),
            }
        }
    }
    tx.commit().map_err(err)
}

/// The raw rows of a read: (version, body).
fn select(
    conn: &Connection,
    path: &Path,
    negotiation: &NegotiationId,
    after_version: u64,
    limit: Option<usize>,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "reading events", &e);
    let after = i64::try_from(after_version).unwrap_or(i64::MAX);
    // SQLite: a negative LIMIT means no limit.
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut stmt = conn
        .prepare_cached(
            "SELECT version, body FROM events
             WHERE negotiation_id = ?1 AND version > ?2
             ORDER BY version LIMIT ?3",
        )
        .map_err(err)?;
    let mut rows = stmt
        .query(params![negotiation.as_str(), after, limit])
        .map_err(err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(err)? {
        let version: i64 = r.get(0).map_err(err)?;
        let body = r.get_ref(1).map_err(err)?;
        let body = body.as_bytes().map_err(|e| {
            corrupt(
                negotiation.as_str(),
                format!("version {version}"),
                format!("body is not bytes: {e}"),
            )
        })?;
        out.push((version, body.to_vec()));
    }
    Ok(out)
}

/// Decodes one stored body and checks it is the event its row says it is.
fn decode(
    negotiation: &NegotiationId,
    version: i64,
    body: &[u8],
) -> Result<RecordedEvent, StoreError> {
    let position = || format!("version {version}");
    let e = RecordedEvent::decode(body)
        .map_err(|e| corrupt(negotiation.as_str(), position(), e.to_string()))?;
    if &e.negotiation_id != negotiation || i64::try_from(e.version).ok() != Some(version) {
        return Err(corrupt(
            negotiation.as_str(),
            position(),
            format!(
                "body is the event of {} at version {}",
                e.negotiation_id, e.version
            ),
        ));
    }
    Ok(e)
}

fn negotiations(conn: &Connection, path: &Path) -> Result<Vec<NegotiationId>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "listing negotiations", &e);
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT negotiation_id FROM events ORDER BY negotiation_id")
        .map_err(err)?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    ids.into_iter()
        .map(|id| {
            NegotiationId::new(&id)
                .map_err(|e| corrupt(&id, "negotiation id".into(), e.to_string()))
        })
        .collect()
}

#[async_trait]
impl EventStore for SqliteStore {
    /// Appends `event` as the next version of its negotiation, in one
    /// `BEGIN IMMEDIATE` transaction: writers (in this process or another) take
    /// turns, so checking the last version and inserting cannot interleave.
    ///
    /// The row stores `event.to_bytes()` as its body. Acknowledged once the commit is
    /// flushed to disk.
    ///
    /// # Errors
    /// - [`StoreError::Conflict`] with `actual` = the negotiation's last version, when
    ///   that is not `event.version - 1` (or `event.version` is 0), or when the
    ///   negotiation already has an event for `event.command_id`; nothing is written.
    /// - [`StoreError::Unavailable`] when the file cannot be written or another
    ///   process holds the write lock longer than [`BUSY_TIMEOUT`](crate::BUSY_TIMEOUT).
    async fn append(&self, event: &RecordedEvent) -> Result<(), StoreError> {
        let row = NewRow::of(event);
        self.blocking(move |inner| append(&mut inner.writer(), &inner.path, &[row]))
            .await
    }

    /// Appends consecutive events of one negotiation in one `BEGIN IMMEDIATE`
    /// transaction: all of them or none, with one fsync at the commit.
    ///
    /// # Errors
    /// As [`EventStore::append`] for the first event; [`StoreError::Conflict`] also when
    /// the events are not consecutive versions of one negotiation. Nothing is written
    /// on any error.
    async fn append_batch(&self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        roundtable_store::check_batch(events)?;
        let rows: Vec<NewRow> = events.iter().map(NewRow::of).collect();
        self.blocking(move |inner| append(&mut inner.writer(), &inner.path, &rows))
            .await
    }

    /// Reads the events of `negotiation` after `after_version`, by version, at most
    /// `limit` of them (`None`: all).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming the negotiation and version when a body does not
    /// decode, fails its hash check, or is another position's event;
    /// [`StoreError::Unavailable`] when the file cannot be read.
    async fn read(
        &self,
        negotiation: &NegotiationId,
        after_version: u64,
        limit: Option<usize>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let negotiation = negotiation.clone();
        self.blocking(move |inner| {
            // Decode (hashing every event) after releasing the connection.
            let rows = select(
                &inner.reader(),
                &inner.path,
                &negotiation,
                after_version,
                limit,
            )?;
            rows.iter()
                .map(|(version, body)| decode(&negotiation, *version, body))
                .collect()
        })
        .await
    }

    /// The distinct negotiation ids with at least one event, sorted (byte order, which
    /// for ids of `a-z`, `0-9` and `-` is their string order).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be read; [`StoreError::Corrupt`]
    /// for a stored id that is not a valid negotiation id.
    async fn negotiations(&self) -> Result<Vec<NegotiationId>, StoreError> {
        self.blocking(|inner| negotiations(&inner.reader(), &inner.path))
            .await
    }

    /// The negotiation's highest version, 0 when it has no events.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be read.
    async fn last_version(&self, negotiation: &NegotiationId) -> Result<u64, StoreError> {
        let negotiation = negotiation.clone();
        self.blocking(move |inner| last_version(&inner.reader(), &inner.path, &negotiation))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_file_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_in_dir(dir.path()).expect("open");
        let n = NegotiationId::new("nothing").expect("id");
        assert_eq!(store.last_version(&n).await, Ok(0));
        assert_eq!(store.read(&n, 0, None).await, Ok(vec![]));
        assert_eq!(store.negotiations().await, Ok(vec![]));
    }
}
