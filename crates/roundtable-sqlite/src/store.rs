//! Opening the file and owning its connections.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use roundtable_store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::errors::store_error;
use crate::schema::{self, Verdict};

/// File name of the database inside a data directory ([`SqliteStore::open_in_dir`]).
pub const DB_FILE_NAME: &str = "roundtable.db";

/// How long one connection waits for another (this process's or another's) to
/// release the file's write lock before giving up with [`StoreError::Unavailable`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The embedded event store: one local SQLite file, shared by every process that
/// opens it.
///
/// Cloning is cheap and shares the connections. Each store holds two connections:
/// one writer, through which every append goes (serialised within the process by a
/// mutex, and across processes by SQLite's write lock), and one read-only reader, so
/// that reads never queue behind an append waiting for another process's lock. In
/// WAL mode a read sees every append committed before it started, whichever process
/// made it. Database work runs on Tokio's blocking pool, never on the async runtime.
///
/// Guarantees: those of [`EventStore`](roundtable_store::EventStore) (optimistic
/// concurrency on the exact last version, command ids unique per negotiation, events
/// immutable: DOMAIN.md, "Events" and "Every command has a command id"), and every
/// acknowledged append is on disk (WAL, `synchronous = FULL`).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// What the store's clones share.
pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl Inner {
    /// The writer connection. A panic while it was held (a bug) poisons the mutex, but
    /// cannot leave a transaction open: dropping a rusqlite `Transaction` rolls back.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The read-only connection.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the Roundtable database at `path`, creating its parent directories and the
    /// file if missing, and creating or migrating its schema (`PRAGMA user_version`).
    ///
    /// The file is put in WAL journal mode (persistent, so every process uses it), and
    /// both connections use `synchronous = FULL` and a busy timeout of
    /// [`BUSY_TIMEOUT`]. Two processes may open the same new file at once: the
    /// schema is created exactly once.
    ///
    /// This is blocking file I/O (up to [`BUSY_TIMEOUT`] when another process holds
    /// the write lock): call it at start-up or inside `tokio::task::spawn_blocking`.
    ///
    /// # Errors
    /// - [`StoreError::Unavailable`], naming the path, when the directory or file
    ///   cannot be created or opened, when WAL mode cannot be used (a network file
    ///   system, say), or when another process keeps the file locked longer than
    ///   [`BUSY_TIMEOUT`];
    /// - [`StoreError::Incompatible`] when the file is not an SQLite file, is another
    ///   application's SQLite database, or has a schema newer than [`SCHEMA_VERSION`](crate::SCHEMA_VERSION);
    /// - [`StoreError::Corrupt`] when SQLite finds the file damaged.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::unavailable(format!(
                    "cannot create directory {} for the database: {e}",
                    parent.display()
                ))
            })?;
        }
        let mut writer = connect(path)?;
        let verdict = schema::check(&writer, path)?;
        use_wal(&writer, path)?;
        if verdict == Verdict::Migrate {
            schema::migrate(&mut writer, path)?;
        }
        let reader = connect(path)?;
        reader
            .pragma_update(None, "query_only", true)
            .map_err(|e| store_error(path, "opening the reader", &e))?;
        tracing::debug!(path = %path.display(), "opened roundtable database");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
            }),
        })
    }

    /// Opens `dir/`[`DB_FILE_NAME`] (`roundtable.db`), as the CLI does with its
    /// `--data-dir` (default `./roundtable-data`).
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn open_in_dir(dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(&dir.join(DB_FILE_NAME))
    }

    /// The database file's path, as given to [`SqliteStore::open`].
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on Tokio's blocking pool. A panic in `f` is a bug and is resumed here.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || f(&inner)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StoreError::unavailable(format!(
                "{}: database task cancelled: {e}",
                self.inner.path.display()
            ))),
        }
    }
}

/// Opens one connection with the per-connection settings every connection needs.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "opening", &e);
    // No SQLITE_OPEN_URI: a path is a path, even if it starts with `file:`.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // Every commit is flushed to disk before it is acknowledged.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    // So that `INSERT OR REPLACE` cannot remove an event without firing the
    // delete trigger.
    conn.pragma_update(None, "recursive_triggers", true)
        .map_err(err)?;
    Ok(conn)
}

/// Puts the file in WAL journal mode (a persistent property of the file).
///
/// Switching needs the file to itself, and SQLite answers "busy" at once, without
/// waiting (its busy timeout does not apply), while another process opens or
/// switches the same new file: that is tried again until [`BUSY_TIMEOUT`].
fn use_wal(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mode = loop {
        match switch_to_wal(conn) {
            Ok(mode) => break mode,
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(store_error(path, "switching to WAL journal mode", &e)),
        }
    };
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StoreError::unavailable(format!(
            "{}: cannot use WAL journal mode (sqlite kept {mode}); is it on a network file system?",
            path.display()
        )))
    }
}

/// The journal mode after asking for WAL (when it is not WAL already).
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<String> {
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(mode);
    }
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_durable_and_patient() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_in_dir(&dir.path().join("nested")).expect("open");
        for conn in [store.inner.writer(), store.inner.reader()] {
            let sync: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .expect("synchronous");
            assert_eq!(sync, 2, "synchronous = FULL");
            let mode: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .expect("journal_mode");
            assert_eq!(mode, "wal");
            let timeout: i64 = conn
                .pragma_query_value(None, "busy_timeout", |r| r.get(0))
                .expect("busy_timeout");
            assert_eq!(timeout, 10_000);
        }
        assert_eq!(store.path(), dir.path().join("nested").join(DB_FILE_NAME));
    }
}
