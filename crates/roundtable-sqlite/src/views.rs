//! [`SqliteViewStore`]: the projected agreement views, in the `views` table of the
//! embedded store's file.

use std::path::Path;

use async_trait::async_trait;
use roundtable_domain::{AgreementView, NegotiationId};
use roundtable_store::{ParkedEntry, StoreError, StoredView, ViewStore};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::errors::store_error;
use crate::parked;
use crate::store::SqliteStore;

/// The read model of the embedded store: one row per negotiation in the `views` table
/// of the same file as the events, holding the agreement view as JSON
/// (`serde_json::to_vec(&view)`), the version it is at, and its revision.
///
/// Revisions come from one counter in the file (`view_revision`), so they increase
/// across every view and are never reused, not even after [`ViewStore::clear`]: a
/// writer holding a revision from before a rebuild conflicts instead of overwriting
/// the rebuilt view. An update is one `BEGIN IMMEDIATE` transaction that compares the
/// stored revision with the expected one, so of two writers (in this process or
/// another) updating against one revision exactly one wins.
///
/// The entries the projector parked are kept beside the views, in the `parked` table
/// (one row per feed position): a negotiation with a row there has a stale view until
/// [`ViewStore::clear`] drops both for a rebuild.
///
/// Cloning is cheap and shares the store's connections; work runs on Tokio's blocking
/// pool.
#[derive(Debug, Clone)]
pub struct SqliteViewStore {
    store: SqliteStore,
}

impl SqliteViewStore {
    /// The views kept in `store`'s file, over its connections.
    pub fn new(store: &SqliteStore) -> SqliteViewStore {
        SqliteViewStore {
            store: store.clone(),
        }
    }
}

/// A stored revision or version read back as `u64`.
fn unsigned(value: i64, negotiation: &str, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        negotiation: negotiation.to_owned(),
        position: "stored view".into(),
        reason: format!("negative {what} {value}"),
    })
}

fn put(
    conn: &mut Connection,
    path: &Path,
    negotiation: &NegotiationId,
    version: u64,
    body: &[u8],
    expected: Option<u64>,
) -> Result<u64, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "storing a view", &e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let current: Option<i64> = tx
        .prepare_cached("SELECT revision FROM views WHERE negotiation_id = ?1")
        .and_then(|mut s| s.query_row([negotiation.as_str()], |r| r.get(0)).optional())
        .map_err(err)?;
    let current = current
        .map(|r| unsigned(r, negotiation.as_str(), "revision"))
        .transpose()?;
    if current != expected {
        return Err(StoreError::Conflict {
            negotiation: negotiation.clone(),
            expected: expected.unwrap_or(0),
            actual: current.unwrap_or(0),
        });
    }
    let revision: i64 = tx
        .prepare_cached("UPDATE view_revision SET last = last + 1 WHERE id = 1 RETURNING last")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(err)?;
    let version = i64::try_from(version).map_err(|_| StoreError::Corrupt {
        negotiation: negotiation.to_string(),
        position: "view".into(),
        reason: format!("version {version} is too large"),
    })?;
    tx.prepare_cached(
        "INSERT INTO views (negotiation_id, revision, version, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (negotiation_id) DO UPDATE
         SET revision = excluded.revision, version = excluded.version, body = excluded.body",
    )
    .and_then(|mut s| s.execute(params![negotiation.as_str(), revision, version, body]))
    .map_err(err)?;
    tx.commit().map_err(err)?;
    unsigned(revision, negotiation.as_str(), "revision")
}

fn get(
    conn: &Connection,
    path: &Path,
    negotiation: &NegotiationId,
) -> Result<Option<StoredView>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "reading a view", &e);
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT revision, body FROM views WHERE negotiation_id = ?1")
        .and_then(|mut s| {
            s.query_row([negotiation.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(err)?;
    let Some((revision, body)) = row else {
        return Ok(None);
    };
    let revision = unsigned(revision, negotiation.as_str(), "revision")?;
    let view = AgreementView::from_json(&body).map_err(|e| StoreError::Corrupt {
        negotiation: negotiation.to_string(),
        position: format!("stored view at revision {revision}"),
        reason: format!("not an agreement view: {e}"),
    })?;
    Ok(Some(StoredView { view, revision }))
}

fn list(conn: &Connection, path: &Path) -> Result<Vec<NegotiationId>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "listing views", &e);
    let mut stmt = conn
        .prepare_cached("SELECT negotiation_id FROM views ORDER BY negotiation_id")
        .map_err(err)?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    ids.into_iter()
        .map(|id| {
            NegotiationId::new(&id).map_err(|e| StoreError::Corrupt {
                negotiation: id.clone(),
                position: "stored view".into(),
                reason: e.to_string(),
            })
        })
        .collect()
}

#[async_trait]
impl ViewStore for SqliteViewStore {
    /// Reads the negotiation's row and parses its view ([`AgreementView::from_json`]).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored body is not a view;
    /// [`StoreError::Unavailable`] when the file cannot be read.
    async fn get(&self, negotiation: &NegotiationId) -> Result<Option<StoredView>, StoreError> {
        let negotiation = negotiation.clone();
        self.store
            .blocking(move |inner| get(&inner.reader(), &inner.path, &negotiation))
            .await
    }

    /// Stores the view if the negotiation's stored revision is still `expected` (no row
    /// for `None`), with the next revision of the file's counter, in one `BEGIN
    /// IMMEDIATE` transaction, flushed to disk before it returns.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] (revisions in `expected` and `actual`, 0 for none)
    /// when the stored revision is another; [`StoreError::Unavailable`] when the file
    /// cannot be written.
    async fn put(&self, view: &AgreementView, expected: Option<u64>) -> Result<u64, StoreError> {
        let body = serde_json::to_vec(view).map_err(|e| StoreError::Corrupt {
            negotiation: view.negotiation_id.to_string(),
            position: format!("view at version {}", view.version),
            reason: format!("cannot serialize: {e}"),
        })?;
        let negotiation = view.negotiation_id.clone();
        let version = view.version;
        self.store
            .blocking(move |inner| {
                put(
                    &mut inner.writer(),
                    &inner.path,
                    &negotiation,
                    version,
                    &body,
                    expected,
                )
            })
            .await
    }

    /// The negotiations with a stored view, sorted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be read.
    async fn list(&self) -> Result<Vec<NegotiationId>, StoreError> {
        self.store
            .blocking(|inner| list(&inner.reader(), &inner.path))
            .await
    }

    /// Deletes every row of `views` and `parked` in one transaction; the revision
    /// counter keeps counting.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be written.
    async fn clear(&self) -> Result<(), StoreError> {
        self.store
            .blocking(|inner| {
                let mut conn = inner.writer();
                let cleared = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .and_then(|tx| {
                        tx.execute("DELETE FROM views", [])?;
                        tx.execute("DELETE FROM parked", [])?;
                        tx.commit()
                    });
                cleared.map_err(|e| store_error(&inner.path, "dropping the views", &e))
            })
            .await
    }

    /// Inserts a row into `parked`, unless its position is there already.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be written.
    async fn park(&self, entry: &ParkedEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.store
            .blocking(move |inner| parked::park(&inner.writer(), &inner.path, &entry))
            .await
    }

    /// The rows of `parked`, by position.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] when a row is not an entry.
    async fn parked(&self) -> Result<Vec<ParkedEntry>, StoreError> {
        self.store
            .blocking(|inner| parked::list(&inner.reader(), &inner.path))
            .await
    }

    /// The negotiation's first row in `parked` (by its index), if any.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`]; [`StoreError::Corrupt`] when the row is not an entry.
    async fn stale(&self, negotiation: &NegotiationId) -> Result<Option<ParkedEntry>, StoreError> {
        let negotiation = negotiation.clone();
        self.store
            .blocking(move |inner| {
                parked::first_of(&inner.reader(), &inner.path, negotiation.as_str())
            })
            .await
    }
}
