//! What only the embedded store promises: the file's shape, immutability enforced by
//! the file itself, sharing between processes, and clear errors for the wrong file.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{chain, commands, nid, seal_after};
use roundtable_domain::{CommandId, Projection};
use roundtable_sqlite::{APPLICATION_ID, DB_FILE_NAME, SCHEMA_VERSION, SqliteStore};
use roundtable_store::{EventStore, StoreError};
use rusqlite::{Connection, ErrorCode};

/// A connection behind the store's back, as a curious user with the sqlite3 shell.
fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("raw open");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

fn constraint_refused(result: rusqlite::Result<usize>) -> bool {
    matches!(result, Err(ref e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation))
}

#[tokio::test]
async fn updates_and_deletes_on_events_are_refused_by_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let events = chain("immutable", 2);
    for e in &events {
        store.append(e).await.expect("append");
    }
    let conn = raw(store.path());
    assert!(constraint_refused(conn.execute(
        "UPDATE events SET body = x'00' WHERE version = 2",
        []
    )));
    assert!(constraint_refused(
        conn.execute("UPDATE events SET version = version + 10", [])
    ));
    assert!(constraint_refused(
        conn.execute("DELETE FROM events WHERE version = 3", [])
    ));
    assert!(constraint_refused(conn.execute("DELETE FROM events", [])));
    // REPLACE removes the conflicting row through the delete trigger when recursive
    // triggers are on, as they are on the store's own connections.
    conn.pragma_update(None, "recursive_triggers", true)
        .expect("pragma");
    assert!(constraint_refused(conn.execute(
        "INSERT OR REPLACE INTO events
            (negotiation_id, version, command_id, event_id, event_type, recorded_at, body)
         VALUES ('immutable', 1, 'other', 'x', 'x', 'x', x'00')",
        []
    )));
    assert_eq!(
        store.read(&nid("immutable"), 0, None).await.expect("read"),
        events
    );
}

#[tokio::test]
async fn a_second_process_sees_appends_and_positions_follow_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = SqliteStore::open_in_dir(dir.path()).expect("open a");
    let b = SqliteStore::open_in_dir(dir.path()).expect("open b");
    let (x, y) = (nid("neg-x"), nid("neg-y"));
    let xs = chain("neg-x", 3);
    let ys = chain("neg-y", 1);
    // b looks first, so anything it sees later was appended by a after that.
    assert_eq!(b.last_version(&x).await, Ok(0));
    assert_eq!(b.negotiations().await, Ok(vec![]));
    a.append(&xs[0]).await.expect("append");
    a.append(&ys[0]).await.expect("append");
    a.append(&xs[1]).await.expect("append");
    assert_eq!(b.read(&x, 0, None).await, Ok(xs[..2].to_vec()));
    assert_eq!(b.last_version(&x).await, Ok(2));
    assert_eq!(b.negotiations().await, Ok(vec![x.clone(), y.clone()]));
    // b writes next; a, now stale, conflicts with the version b took.
    b.append(&ys[1]).await.expect("append from b");
    b.append(&xs[2]).await.expect("append from b");
    let stale = a.append(&xs[2]).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                expected: 2,
                actual: Some(3),
                ..
            })
        ),
        "{stale:?}"
    );
    a.append(&xs[3]).await.expect("append after catching up");
    assert_eq!(a.read(&x, 0, None).await, Ok(xs.clone()));
    assert_eq!(a.read(&y, 0, None).await, Ok(ys.clone()));

    // `position` is the global order of commits, for a projector to follow.
    let order: Vec<(String, i64)> = raw(a.path())
        .prepare("SELECT negotiation_id, version FROM events ORDER BY position")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<(String, i64)> = [
        ("neg-x", 1),
        ("neg-y", 1),
        ("neg-x", 2),
        ("neg-y", 2),
        ("neg-x", 3),
        ("neg-x", 4),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    assert_eq!(order, expected);
}

#[tokio::test]
async fn a_recorded_command_id_is_a_conflict_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let cmds = commands("dup", 3);
    let mut p = Projection::new();
    let events = seal_after(&mut p, &cmds[..3]);
    for e in &events {
        store.append(e).await.expect("append");
    }
    // The next version, but answering a command already recorded at version 2.
    let mut again = cmds[3].clone();
    again.command_id = CommandId::new("dup-1").expect("id");
    let next = seal_after(&mut p, &[again]);
    let result = store.append(&next[0]).await;
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict {
                expected: 3,
                actual: Some(3),
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(store.read(&nid("dup"), 0, None).await, Ok(events));
}

#[tokio::test]
async fn version_zero_is_never_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let mut e = chain("zero", 0).remove(0);
    e.version = 0;
    assert!(matches!(
        store.append(&e).await,
        Err(StoreError::Conflict {
            expected: 0,
            actual: Some(0),
            ..
        })
    ));
    assert_eq!(store.last_version(&nid("zero")).await, Ok(0));
}

/// Rewrites one body behind the store's back, with the trigger out of the way.
fn tamper(path: &Path, version: i64, body: &[u8]) {
    let conn = raw(path);
    conn.execute_batch("DROP TRIGGER IF EXISTS events_no_update")
        .expect("drop trigger");
    let changed = conn
        .execute(
            "UPDATE events SET body = ?1 WHERE negotiation_id = 'corrupt' AND version = ?2",
            rusqlite::params![body, version],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
}

fn assert_corrupt_at(result: Result<Vec<roundtable_domain::RecordedEvent>, StoreError>, at: &str) {
    match result {
        Err(StoreError::Corrupt {
            negotiation,
            position,
            ..
        }) => {
            assert_eq!(negotiation, "corrupt");
            assert_eq!(position, at);
        }
        other => panic!("expected corrupt at {at}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_corrupted_body_is_reported_as_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let n = nid("corrupt");
    let events = chain("corrupt", 3);
    for e in &events {
        store.append(e).await.expect("append");
    }

    // Not JSON at all, not even UTF-8.
    tamper(store.path(), 2, &[0xff, 0xfe, 0x00, 0x7b]);
    assert_corrupt_at(store.read(&n, 0, None).await, "version 2");
    // Reads that skip the damaged event still work.
    assert_eq!(store.read(&n, 2, None).await, Ok(events[2..].to_vec()));
    assert_eq!(store.read(&n, 0, Some(1)).await, Ok(events[..1].to_vec()));

    // Valid JSON, one character of the data changed: the hash no longer matches.
    let altered = String::from_utf8(events[1].to_bytes())
        .expect("utf-8")
        .replace("Partner 1", "Partner X");
    tamper(store.path(), 2, altered.as_bytes());
    assert_corrupt_at(store.read(&n, 1, None).await, "version 2");

    // An intact event, but not the one stored at this version.
    tamper(store.path(), 2, &events[2].to_bytes());
    assert_corrupt_at(store.read(&n, 0, None).await, "version 2");

    // Put back, it reads again: the store itself never changed anything.
    tamper(store.path(), 2, &events[1].to_bytes());
    assert_eq!(store.read(&n, 0, None).await, Ok(events));
}

#[tokio::test]
async fn acknowledged_appends_still_in_the_wal_survive_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let n = nid("killed");
    let events = chain("killed", 20);
    for e in &events {
        store.append(e).await.expect("append");
    }
    // The store stays open (not checkpointed, not closed) while its files are copied,
    // as a kill would leave them.
    let wal = dir.path().join(format!("{DB_FILE_NAME}-wal"));
    assert!(
        std::fs::metadata(&wal).expect("wal exists").len() > 0,
        "appends are in the wal"
    );
    let after = tempfile::tempdir().expect("tempdir");
    let main_only = tempfile::tempdir().expect("tempdir");
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("{DB_FILE_NAME}{suffix}");
        std::fs::copy(dir.path().join(&name), after.path().join(&name)).expect("copy");
    }
    std::fs::copy(
        dir.path().join(DB_FILE_NAME),
        main_only.path().join(DB_FILE_NAME),
    )
    .expect("copy");
    // The main file alone does not hold them: the WAL is what makes them durable.
    let in_main: rusqlite::Result<i64> = raw(&main_only.path().join(DB_FILE_NAME)).query_row(
        "SELECT count(*) FROM events",
        [],
        |r| r.get(0),
    );
    assert_ne!(in_main, Ok(21));

    let restarted = SqliteStore::open_in_dir(after.path()).expect("open after kill");
    assert_eq!(restarted.read(&n, 0, None).await, Ok(events));
    drop(store);
}

#[tokio::test]
async fn open_creates_directories_and_a_durable_schema_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("roundtable-data").join("nested");
    let events = chain("reopen", 1);
    {
        let store = SqliteStore::open_in_dir(&data).expect("open creates dirs");
        assert_eq!(store.path(), data.join(DB_FILE_NAME));
        for e in &events {
            store.append(e).await.expect("append");
        }
    }
    let store = SqliteStore::open(&data.join(DB_FILE_NAME)).expect("reopen");
    assert_eq!(store.read(&nid("reopen"), 0, None).await, Ok(events));
    let conn = raw(store.path());
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("application_id");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(
        (app, version, mode.as_str()),
        (APPLICATION_ID, SCHEMA_VERSION, "wal")
    );
}

#[tokio::test]
async fn processes_opening_a_new_file_at_once_create_the_schema_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || SqliteStore::open(&path))
        })
        .collect();
    let stores: Vec<SqliteStore> = opens
        .into_iter()
        .map(|t| t.join().expect("thread").expect("open"))
        .collect();
    let events = chain("together", 0);
    stores[0].append(&events[0]).await.expect("append");
    for s in &stores {
        assert_eq!(s.read(&nid("together"), 0, None).await, Ok(events.clone()));
    }
}

#[test]
fn a_file_that_is_not_a_database_is_incompatible_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    let text = "these are the minutes of the lakeside water negotiation\n".repeat(100);
    std::fs::write(&path, &text).expect("write");
    let result = SqliteStore::open(&path);
    assert!(
        matches!(result, Err(StoreError::Incompatible(_))),
        "{result:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

#[test]
fn another_applications_database_is_incompatible_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    raw(&path)
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)")
        .expect("create");
    let result = SqliteStore::open(&path);
    assert!(
        matches!(result, Err(StoreError::Incompatible(_))),
        "{result:?}"
    );
    let conn = raw(&path);
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .expect("query");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!((tables, mode.as_str()), (0, "delete"));
}

#[test]
fn a_newer_schema_is_incompatible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE_NAME);
    drop(SqliteStore::open(&path).expect("open"));
    raw(&path)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    let result = SqliteStore::open(&path);
    assert!(
        matches!(result, Err(StoreError::Incompatible(_))),
        "{result:?}"
    );
}

#[test]
fn a_path_that_cannot_be_opened_is_unavailable_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The parent "directory" is a file.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").expect("write");
    match SqliteStore::open_in_dir(&blocker.join("data")) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("not-a-dir"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    // The database path is a directory.
    let as_dir = dir.path().join("is-a-dir");
    std::fs::create_dir(&as_dir).expect("mkdir");
    match SqliteStore::open(&as_dir) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("is-a-dir"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// A handler loading a negotiation longer than one catch-up page (5,000 events) reads
/// every page: a retried first command is answered with its event, and a new command
/// becomes the next version.
#[tokio::test]
async fn a_long_negotiation_loads_page_by_page() {
    use roundtable_app::{CommandHandler, Handled};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let cmds = commands("long", 12_001);
    let mut p = Projection::new();
    let events = seal_after(&mut p, &cmds[..12_001]);
    for batch in events.chunks(1_000) {
        store.append_batch(batch).await.expect("append");
    }
    let handler = CommandHandler::new(std::sync::Arc::new(store));
    let again = handler.handle(&cmds[1]).await.expect("retry");
    assert_eq!(again, Handled::AlreadyRecorded(events[1].clone()));
    let next = handler.handle(&cmds[12_001]).await.expect("new");
    assert!(matches!(next, Handled::Recorded(ref e) if e.version == 12_002));
    let all = handler
        .store()
        .read(&nid("long"), 0, None)
        .await
        .expect("read");
    assert_eq!(all.len(), 12_002);
    Projection::fold(&all).expect("chain");
}

/// A handler keeps at most its capacity of negotiations in memory; one it dropped is
/// read again when it comes back, and still answers a retried command with its event.
#[tokio::test]
async fn a_handler_keeps_a_bounded_number_of_negotiations() {
    use roundtable_app::{CommandHandler, Handled};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let handler = CommandHandler::new(std::sync::Arc::new(store)).with_capacity(2);
    let mut first = Vec::new();
    for n in ["bounded-a", "bounded-b", "bounded-c", "bounded-d"] {
        let cmds = commands(n, 1);
        for c in &cmds {
            let handled = handler.handle(c).await.expect("handled");
            assert!(matches!(handled, Handled::Recorded(_)));
        }
        first.push((
            cmds,
            handler.handle(&commands(n, 1)[1]).await.expect("retry"),
        ));
        assert!(handler.cached() <= 2, "{} cached", handler.cached());
    }
    // bounded-a was dropped long ago: a retry reads it again and finds its event.
    let (cmds, retried) = &first[0];
    let again = handler.handle(&cmds[1]).await.expect("retry");
    assert_eq!(&again, retried);
    assert!(matches!(again, Handled::AlreadyRecorded(ref e) if e.version == 2));
    assert!(handler.cached() <= 2);
}
