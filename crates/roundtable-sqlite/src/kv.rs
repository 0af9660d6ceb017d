//! [`SqliteKv`]: the revisioned key-value port over the `kv` table of the embedded
//! store's file, one bucket name per group of rows ([`SqliteBuckets`]).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use roundtable_store::kv::check_key;
use roundtable_store::{KvBuckets, KvEntry, KvStore, StoreError};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::errors::store_error;
use crate::store::SqliteStore;

/// Opens buckets of the `kv` table of one file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteBuckets {
    store: SqliteStore,
}

impl SqliteBuckets {
    /// The buckets kept in `store`'s file, over its connections.
    pub fn new(store: &SqliteStore) -> SqliteBuckets {
        SqliteBuckets {
            store: store.clone(),
        }
    }
}

#[async_trait]
impl KvBuckets for SqliteBuckets {
    /// The rows of `kv` whose `bucket` is `name`: nothing to create, so this never
    /// fails for a valid name.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] for a name that is not letters, digits, `-`, `_`.
    async fn open(&self, name: &str, _description: &str) -> Result<Arc<dyn KvStore>, StoreError> {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(StoreError::Incompatible(format!(
                "bucket name {name:?} must be 1 or more letters, digits, '-' or '_'"
            )));
        }
        Ok(Arc::new(SqliteKv {
            store: self.store.clone(),
            bucket: name.to_owned(),
        }))
    }
}

/// One bucket of the embedded store: the rows of the `kv` table (schema version 5)
/// with this bucket name, each a key, its value and the revision it was written at.
///
/// Revisions come from one counter in the file (`kv_revision`), so they increase
/// across every key and bucket and are never reused, not even after
/// [`KvStore::clear`]. Every write is one `BEGIN IMMEDIATE` transaction that compares
/// the stored revision with the expected one, so of two writers (in this process or
/// another) exactly one wins. Values are kept whole, however large.
#[derive(Debug, Clone)]
pub struct SqliteKv {
    store: SqliteStore,
    bucket: String,
}

fn unsigned(value: i64, key: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        negotiation: "?".into(),
        position: format!("key {key}"),
        reason: format!("negative revision {value}"),
    })
}

fn current(tx: &Transaction<'_>, bucket: &str, key: &str) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT revision FROM kv WHERE bucket = ?1 AND key = ?2")?
        .query_row([bucket, key], |r| r.get(0))
        .optional()
}

fn next_revision(tx: &Transaction<'_>) -> rusqlite::Result<i64> {
    tx.prepare_cached("UPDATE kv_revision SET last = last + 1 WHERE id = 1 RETURNING last")?
        .query_row([], |r| r.get(0))
}

/// What a conditional write expects of the key.
#[derive(Clone, Copy)]
enum Expect {
    Nothing,
    Revision(u64),
    Anything,
}

fn write(
    conn: &mut Connection,
    path: &Path,
    bucket: &str,
    key: &str,
    value: &[u8],
    expect: Expect,
) -> Result<u64, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, &format!("writing key {key}"), &e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let found = current(&tx, bucket, key).map_err(err)?;
    match (expect, found) {
        (Expect::Nothing, Some(_)) => {
            return Err(StoreError::AlreadyExists(format!(
                "key {key} of bucket {bucket}"
            )));
        }
        (Expect::Revision(r), found) if found.map(|f| unsigned(f, key)).transpose()? != Some(r) => {
            return Err(StoreError::RevisionConflict {
                key: format!("{bucket}/{key}"),
                expected: r,
            });
        }
        _ => {}
    }
    let revision = next_revision(&tx).map_err(err)?;
    tx.prepare_cached(
        "INSERT INTO kv (bucket, key, revision, value) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (bucket, key) DO UPDATE
         SET revision = excluded.revision, value = excluded.value",
    )
    .and_then(|mut s| s.execute(params![bucket, key, revision, value]))
    .map_err(err)?;
    tx.commit().map_err(err)?;
    unsigned(revision, key)
}

/// The exclusive upper bound of the keys starting with `prefix` (keys are ASCII).
fn after_prefix(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl SqliteKv {
    async fn write(&self, key: &str, value: &[u8], expect: Expect) -> Result<u64, StoreError> {
        check_key(key)?;
        let (bucket, key, value) = (self.bucket.clone(), key.to_owned(), value.to_vec());
        self.store
            .blocking(move |inner| {
                write(
                    &mut inner.writer(),
                    &inner.path,
                    &bucket,
                    &key,
                    &value,
                    expect,
                )
            })
            .await
    }
}

#[async_trait]
impl KvStore for SqliteKv {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn get(&self, key: &str) -> Result<Option<KvEntry>, StoreError> {
        let (bucket, key) = (self.bucket.clone(), key.to_owned());
        self.store
            .blocking(move |inner| {
                let row: Option<(i64, Vec<u8>)> = inner
                    .reader()
                    .prepare_cached("SELECT revision, value FROM kv WHERE bucket = ?1 AND key = ?2")
                    .and_then(|mut s| {
                        s.query_row([&bucket, &key], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()
                    })
                    .map_err(|e| store_error(&inner.path, &format!("reading key {key}"), &e))?;
                row.map(|(revision, value)| {
                    Ok(KvEntry {
                        value,
                        revision: unsigned(revision, &key)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn create(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        self.write(key, value, Expect::Nothing).await
    }

    async fn update(&self, key: &str, value: &[u8], revision: u64) -> Result<u64, StoreError> {
        self.write(key, value, Expect::Revision(revision)).await
    }

    async fn put(&self, key: &str, value: &[u8]) -> Result<u64, StoreError> {
        self.write(key, value, Expect::Anything).await
    }

    async fn delete(&self, key: &str, revision: Option<u64>) -> Result<(), StoreError> {
        let (bucket, key) = (self.bucket.clone(), key.to_owned());
        self.store
            .blocking(move |inner| {
                let err = |e: rusqlite::Error| {
                    store_error(&inner.path, &format!("deleting key {key}"), &e)
                };
                let mut conn = inner.writer();
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(err)?;
                if let Some(expected) = revision {
                    let found = current(&tx, &bucket, &key).map_err(err)?;
                    if found.map(|f| unsigned(f, &key)).transpose()? != Some(expected) {
                        return Err(StoreError::RevisionConflict {
                            key: format!("{bucket}/{key}"),
                            expected,
                        });
                    }
                }
                tx.execute(
                    "DELETE FROM kv WHERE bucket = ?1 AND key = ?2",
                    [&bucket, &key],
                )
                .map_err(err)?;
                tx.commit().map_err(err)
            })
            .await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (bucket, prefix) = (self.bucket.clone(), prefix.to_owned());
        self.store
            .blocking(move |inner| {
                let err = |e: rusqlite::Error| store_error(&inner.path, "listing keys", &e);
                let conn = inner.reader();
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT key FROM kv WHERE bucket = ?1 AND key >= ?2 AND key < ?3
                         ORDER BY key",
                    )
                    .map_err(err)?;
                stmt.query_map(params![bucket, prefix, after_prefix(&prefix)], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)
            })
            .await
    }

    /// One query for every key with `prefix`.
    async fn entries(&self, prefix: &str) -> Result<Vec<(String, KvEntry)>, StoreError> {
        let (bucket, prefix) = (self.bucket.clone(), prefix.to_owned());
        self.store
            .blocking(move |inner| {
                let err = |e: rusqlite::Error| store_error(&inner.path, "listing keys", &e);
                let conn = inner.reader();
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT key, revision, value FROM kv
                         WHERE bucket = ?1 AND key >= ?2 AND key < ?3 ORDER BY key",
                    )
                    .map_err(err)?;
                let rows = stmt
                    .query_map(params![bucket, prefix, after_prefix(&prefix)], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                        ))
                    })
                    .map_err(err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                rows.into_iter()
                    .map(|(key, revision, value)| {
                        let revision = unsigned(revision, &key)?;
                        Ok((key, KvEntry { value, revision }))
                    })
                    .collect()
            })
            .await
    }

    async fn clear(&self) -> Result<(), StoreError> {
        let bucket = self.bucket.clone();
        self.store
            .blocking(move |inner| {
                inner
                    .writer()
                    .execute("DELETE FROM kv WHERE bucket = ?1", [&bucket])
                    .map(|_| ())
                    .map_err(|e| store_error(&inner.path, &format!("clearing bucket {bucket}"), &e))
            })
            .await
    }
}
