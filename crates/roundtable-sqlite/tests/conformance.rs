//! The shared adapter suite of `roundtable-store`, run against the embedded store.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use roundtable_sqlite::{DB_FILE_NAME, SqliteEventFeed, SqliteStore};
use roundtable_store::conformance::Harness;
use roundtable_store::{EventFeed, Ports};
use tempfile::TempDir;

/// One "machine" with a data directory, on which processes open the store.
struct SqliteHarness {
    /// The data directory later `connect()` calls open.
    dir: TempDir,
    /// A process that keeps the file open for the harness's whole life, as a running
    /// server does next to an import. Without it, a test dropping its last store
    /// would close the last connection, which checkpoints the WAL into the main file
    /// and deletes it: a crash would then only ever find a cleanly closed file. With
    /// it, acknowledged appends are still in the `-wal` file when the crash comes, so
    /// restarting exercises SQLite's WAL recovery.
    _bystander: SqliteStore,
    /// Data directories from before each crash, removed at the end.
    dead: Vec<TempDir>,
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE_NAME)
}

async fn open(path: PathBuf) -> SqliteStore {
    tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await
        .expect("open task")
        .expect("open the store")
}

#[async_trait]
impl Harness for SqliteHarness {
    type Store = SqliteStore;

    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let bystander = open(db_path(dir.path())).await;
        SqliteHarness {
            dir,
            _bystander: bystander,
            dead: Vec::new(),
        }
    }

    async fn connect(&self) -> SqliteStore {
        open(db_path(self.dir.path())).await
    }

    /// What survives a process being killed (SIGKILL, not a power cut) is exactly the
    /// files as they are on disk at that instant: the main file, the `-wal` file with
    /// every acknowledged commit, and the `-shm` index, none of them checkpointed or
    /// closed. So the crash copies those files as they are *now*, while their
    /// connections (the bystander's at least) are still open, into a fresh directory,
    /// and every later `connect()` opens the copy, as a restarted process would. Old
    /// clients keep pointing at the old files, which nothing reads any more. (A power
    /// cut would also lose what was not flushed; `synchronous = FULL` flushes the WAL
    /// before acknowledging, which a test cannot observe without pulling the plug.)
    async fn crash_and_restart(&mut self) {
        let fresh = tempfile::tempdir().expect("tempdir");
        for suffix in ["", "-wal", "-shm"] {
            let name = format!("{DB_FILE_NAME}{suffix}");
            let from = self.dir.path().join(&name);
            if from.exists() {
                std::fs::copy(&from, fresh.path().join(&name)).expect("copy the file as it is");
            }
        }
        let old = std::mem::replace(&mut self.dir, fresh);
        self.dead.push(old);
        // The restarted machine has its long-running process again; opening it is the
        // first open of the copied files, which recovers the WAL.
        self._bystander = open(db_path(self.dir.path())).await;
    }

    async fn ports(&self) -> Ports {
        roundtable_sqlite::ports(&self.connect().await, self.dir.path())
    }

    async fn feed(&self, name: &str) -> Box<dyn EventFeed> {
        let store = self.connect().await;
        Box::new(
            SqliteEventFeed::open(&store, name)
                .await
                .expect("open the feed"),
        )
    }
}

roundtable_store::conformance_suite!(SqliteHarness);
roundtable_app::handler_conformance_suite!(SqliteHarness);
roundtable_projector::view_conformance_suite!(SqliteHarness);
roundtable_webhooks::webhook_conformance_suite!(SqliteHarness);
