//! The file's schema, recognising a Roundtable database, and migrating it through
//! `PRAGMA user_version`.

use std::path::Path;

use roundtable_store::StoreError;
use rusqlite::{Connection, TransactionBehavior};

use crate::errors::store_error;

/// `PRAGMA application_id` of a Roundtable database: the bytes `RTBL`.
///
/// Written into the SQLite header when the schema is created, it tells a Roundtable
/// file from any other SQLite file.
pub const APPLICATION_ID: i32 = 0x5254_424C;

/// Schema version this build writes and reads (`PRAGMA user_version`).
///
/// Files at an older version are migrated on open; a file at a newer version is
/// refused with [`StoreError::Incompatible`], since an older build could misread it.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`. Only ever append.
const MIGRATIONS: &[&str] = &[
    // 1: the event log. `position` is AUTOINCREMENT so that it is never reused, even
    // if a row were removed behind the triggers' back: a projector's checkpoint
    // stays meaningful. Events are immutable (DOMAIN.md, "Events"): the triggers
    // abort any UPDATE or DELETE.
    "CREATE TABLE events (
        position       INTEGER PRIMARY KEY AUTOINCREMENT,
        negotiation_id TEXT    NOT NULL,
        version        INTEGER NOT NULL CHECK (version >= 1),
        command_id     TEXT    NOT NULL,
        event_id       TEXT    NOT NULL,
        event_type     TEXT    NOT NULL,
        recorded_at    TEXT    NOT NULL,
        body           BLOB    NOT NULL,
        UNIQUE (negotiation_id, version),
        UNIQUE (negotiation_id, command_id)
    ) STRICT;
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN
        SELECT RAISE(ABORT, 'events are immutable: update refused');
    END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN
        SELECT RAISE(ABORT, 'events are immutable: delete refused');
    END;",
    // 2: the read side. `views` holds each negotiation's projected agreement view
    // (its JSON, with the version it is at) and the revision it is updated against;
    // `view_revision` hands out revisions, so that a revision is never reused, not
    // even after every view was dropped for a rebuild. `checkpoints` holds, per
    // consumer name, the position in `events` up to which a projector has
    // acknowledged the feed.
    "CREATE TABLE views (
        negotiation_id TEXT    PRIMARY KEY,
        revision       INTEGER NOT NULL,
        version        INTEGER NOT NULL,
        body           BLOB    NOT NULL
    ) STRICT;
    CREATE TABLE view_revision (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        last INTEGER NOT NULL
    ) STRICT;
    INSERT INTO view_revision (id, last) VALUES (1, 0);
    CREATE TABLE checkpoints (
        name     TEXT    PRIMARY KEY,
        position INTEGER NOT NULL
    ) STRICT;",
    // 3: webhooks. `webhooks` holds each registration as JSON; `webhook_dead_letters`
    // the deliveries given up after their last attempt, one per webhook, negotiation
    // and version, with whether a replay was asked for. Each webhook's feed is a
    // checkpoint row named `webhook-<id>` in `checkpoints`.
    "CREATE TABLE webhooks (
        id   TEXT PRIMARY KEY,
        body BLOB NOT NULL
    ) STRICT;
    CREATE TABLE webhook_dead_letters (
        webhook_id     TEXT    NOT NULL,
        negotiation_id TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        replay         INTEGER NOT NULL DEFAULT 0,
        body           BLOB    NOT NULL,
        PRIMARY KEY (webhook_id, negotiation_id, version)
    ) STRICT;",
    // 4: parked entries. `parked` holds each feed entry the projector could not project
    // (its position in `events`, its negotiation and version when known, and the
    // entry as JSON); a negotiation with a row here has a stale view.
    "CREATE TABLE parked (
        position       INTEGER PRIMARY KEY,
        negotiation_id TEXT,
        version        INTEGER,
        body           BLOB    NOT NULL
    ) STRICT;
    CREATE INDEX parked_by_negotiation ON parked (negotiation_id, position);",
    // 5: one key-value table for the read side and the webhooks (the key-value port,
    // written once over both stores). `kv` holds, per bucket and key, a value and the
    // revision it was written at; `kv_revision` hands out revisions (continuing
    // `view_revision`, so a view's revision never goes back). The rows of versions 2
    // to 4 move in under the bucket and key names the NATS store uses:
    // `ROUNDTABLE_VIEWS` (key: the negotiation id), `ROUNDTABLE_VIEWS_PARKED`
    // (`entry.<position>`, and `stale.<negotiation_id>` holding its first entry),
    // `ROUNDTABLE_WEBHOOKS` (`hook.<id>`, `dead.<id>.<negotiation_id>.<version>` with
    // the replay column folded into the JSON, and `replay.<id>` = `1` when a replay
    // is pending); then the old tables go.
    "CREATE TABLE kv (
        bucket   TEXT    NOT NULL,
        key      TEXT    NOT NULL,
        revision INTEGER NOT NULL,
        value    BLOB    NOT NULL,
        PRIMARY KEY (bucket, key)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE kv_revision (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        last INTEGER NOT NULL
    ) STRICT;
    INSERT INTO kv_revision (id, last) SELECT 1, last FROM view_revision;
    INSERT INTO kv (bucket, key, revision, value)
        SELECT 'ROUNDTABLE_VIEWS', negotiation_id, revision, body FROM views;
    CREATE TEMP TABLE moved (key TEXT NOT NULL, bucket TEXT NOT NULL, value BLOB NOT NULL);
    INSERT INTO moved SELECT 'entry.' || position, 'ROUNDTABLE_VIEWS_PARKED', body
        FROM parked ORDER BY position;
    INSERT INTO moved SELECT 'stale.' || p.negotiation_id, 'ROUNDTABLE_VIEWS_PARKED', p.body
        FROM parked p
        WHERE p.negotiation_id IS NOT NULL
          AND p.position = (SELECT min(q.position) FROM parked q
                            WHERE q.negotiation_id = p.negotiation_id);
    INSERT INTO moved SELECT 'hook.' || id, 'ROUNDTABLE_WEBHOOKS', body FROM webhooks;
    INSERT INTO moved SELECT
            'dead.' || webhook_id || '.' || negotiation_id || '.' || version,
            'ROUNDTABLE_WEBHOOKS',
            CAST(json_set(CAST(body AS TEXT), '$.replay',
                          json(CASE replay WHEN 0 THEN 'false' ELSE 'true' END)) AS BLOB)
        FROM webhook_dead_letters;
    INSERT INTO moved SELECT DISTINCT 'replay.' || webhook_id, 'ROUNDTABLE_WEBHOOKS', X'31'
        FROM webhook_dead_letters WHERE replay <> 0;
    INSERT INTO kv (bucket, key, revision, value)
        SELECT bucket, key, (SELECT last FROM kv_revision) + row_number() OVER (ORDER BY rowid), value
        FROM moved;
    UPDATE kv_revision SET last = last + (SELECT count(*) FROM moved);
    DROP TABLE moved;
    DROP TABLE views;
    DROP TABLE view_revision;
    DROP TABLE parked;
    DROP TABLE webhooks;
    DROP TABLE webhook_dead_letters;",
];

/// What the file's header and catalogue say it is.
struct Found {
    application_id: i32,
    user_version: i64,
    objects: i64,
}

/// What to do with a file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A Roundtable database at [`SCHEMA_VERSION`].
    Current,
    /// An empty file, or a Roundtable database at an older version: migrate it.
    Migrate,
}

fn inspect(conn: &Connection) -> rusqlite::Result<Found> {
    Ok(Found {
        application_id: conn.pragma_query_value(None, "application_id", |r| r.get(0))?,
        user_version: conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
        objects: conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?,
    })
}

fn judge(path: &Path, found: &Found) -> Result<Verdict, StoreError> {
    let path = path.display();
    if found.application_id == APPLICATION_ID {
        return match found.user_version {
            v if v == SCHEMA_VERSION => Ok(Verdict::Current),
            v if (0..SCHEMA_VERSION).contains(&v) => Ok(Verdict::Migrate),
            v => Err(StoreError::Incompatible(format!(
                "{path} has roundtable schema version {v}, newer than this build's \
                 {SCHEMA_VERSION}: upgrade roundtable to open it"
            ))),
        };
    }
    if found.application_id == 0 && found.user_version == 0 && found.objects == 0 {
        return Ok(Verdict::Migrate);
    }
    Err(StoreError::Incompatible(format!(
        "{path} is an sqlite database but not a roundtable one (application id {:#x}, \
         user version {}, {} schema objects)",
        found.application_id, found.user_version, found.objects
    )))
}

/// Checks that the file behind `conn` is a Roundtable database (or empty) that this
/// build can read, without writing anything.
///
/// # Errors
/// [`StoreError::Incompatible`] for another SQLite database, a non-SQLite file, or a
/// newer schema; as [`store_error`] for I/O and locking.
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<Verdict, StoreError> {
    let found = inspect(conn).map_err(|e| store_error(path, "reading the schema", &e))?;
    judge(path, &found)
}

/// Brings the schema to [`SCHEMA_VERSION`] in one `BEGIN IMMEDIATE` transaction.
///
/// The file is inspected again inside the transaction: another process may have
/// migrated it (or written something else into it) since [`check`].
///
/// # Errors
/// As [`check`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "migrating the schema", &e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let found = inspect(&tx).map_err(err)?;
    if judge(path, &found)? == Verdict::Current {
        return Ok(());
    }
    let from = usize::try_from(found.user_version).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(from) {
        tx.execute_batch(step).map_err(err)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(err)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(err)?;
    tx.commit().map_err(err)?;
    tracing::info!(
        path = %path.display(),
        from = found.user_version,
        to = SCHEMA_VERSION,
        "migrated roundtable database schema"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_file_is_migrated_and_keeps_its_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[0]).expect("schema 1");
            conn.execute(
                "INSERT INTO events
                    (negotiation_id, version, command_id, event_id, event_type, recorded_at, body)
                 VALUES ('old', 1, 'c', 'e', 't', 'r', x'7b7d')",
                [],
            )
            .expect("insert");
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .expect("application_id");
            conn.pragma_update(None, "user_version", 1)
                .expect("user_version");
        }
        let mut conn = Connection::open(&path).expect("open");
        assert_eq!(check(&conn, &path).expect("check"), Verdict::Migrate);
        migrate(&mut conn, &path).expect("migrate");
        assert_eq!(check(&conn, &path).expect("check"), Verdict::Current);
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("user_version");
        assert_eq!(version, SCHEMA_VERSION);
        let counts: (i64, i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM kv),
                        (SELECT last FROM kv_revision), (SELECT count(*) FROM checkpoints)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("query");
        assert_eq!(counts, (1, 0, 0, 0));
    }

    /// A file of schema version 4 (the previous release) with views, parked entries,
    /// webhooks and dead letters: every row moves to `kv` under the NATS store's
    /// bucket and key names, and revisions go on above the old counter.
    #[test]
    fn a_version_4_file_moves_its_rows_into_the_key_value_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v4.db");
        {
            let conn = Connection::open(&path).expect("open");
            for step in &MIGRATIONS[..4] {
                conn.execute_batch(step).expect("schema 1 to 4");
            }
            conn.execute_batch(
                r#"INSERT INTO views VALUES ('neg-a', 7, 3, x'7b7d');
                   UPDATE view_revision SET last = 9;
                   INSERT INTO parked VALUES (12, 'neg-a', 4, CAST('{"position":12}' AS BLOB));
                   INSERT INTO parked VALUES (15, 'neg-a', 5, CAST('{"position":15}' AS BLOB));
                   INSERT INTO parked VALUES (13, NULL, NULL, CAST('{"position":13}' AS BLOB));
                   INSERT INTO webhooks VALUES ('wh-1', CAST('{"id":"wh-1"}' AS BLOB));
                   INSERT INTO webhook_dead_letters VALUES ('wh-1', 'neg-a', 2, 1, CAST('{"replay":false,"attempts":3}' AS BLOB));
                   INSERT INTO webhook_dead_letters VALUES ('wh-1', 'neg-a', 3, 0, CAST('{"replay":false,"attempts":1}' AS BLOB));"#,
            )
            .expect("rows");
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .expect("application_id");
            conn.pragma_update(None, "user_version", 4)
                .expect("user_version");
        }
        let mut conn = Connection::open(&path).expect("open");
        migrate(&mut conn, &path).expect("migrate");
        let mut stmt = conn
            .prepare(
                "SELECT bucket, key, revision, CAST(value AS TEXT) FROM kv ORDER BY bucket, key",
            )
            .expect("prepare");
        let rows: Vec<(String, String, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let keys: Vec<(&str, &str)> = rows
            .iter()
            .map(|(b, k, _, _)| (b.as_str(), k.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("ROUNDTABLE_VIEWS", "neg-a"),
                ("ROUNDTABLE_VIEWS_PARKED", "entry.12"),
                ("ROUNDTABLE_VIEWS_PARKED", "entry.13"),
                ("ROUNDTABLE_VIEWS_PARKED", "entry.15"),
                ("ROUNDTABLE_VIEWS_PARKED", "stale.neg-a"),
                ("ROUNDTABLE_WEBHOOKS", "dead.wh-1.neg-a.2"),
                ("ROUNDTABLE_WEBHOOKS", "dead.wh-1.neg-a.3"),
                ("ROUNDTABLE_WEBHOOKS", "hook.wh-1"),
                ("ROUNDTABLE_WEBHOOKS", "replay.wh-1"),
            ]
        );
        let value = |key: &str| {
            rows.iter()
                .find(|(_, k, _, _)| k == key)
                .map(|(_, _, _, v)| v.clone())
                .expect("a row")
        };
        assert_eq!(value("neg-a"), "{}");
        assert_eq!(value("stale.neg-a"), r#"{"position":12}"#);
        assert_eq!(
            value("dead.wh-1.neg-a.2"),
            r#"{"replay":true,"attempts":3}"#
        );
        assert_eq!(
            value("dead.wh-1.neg-a.3"),
            r#"{"replay":false,"attempts":1}"#
        );
        assert_eq!(value("replay.wh-1"), "1");
        let mut revisions: Vec<i64> = rows.iter().map(|r| r.2).collect();
        assert_eq!(rows[0].2, 7, "a view keeps its revision");
        revisions.sort_unstable();
        revisions.dedup();
        assert_eq!(revisions.len(), rows.len(), "revisions are unique");
        assert!(rows[1..].iter().all(|r| r.2 > 9), "above the old counter");
        let last: i64 = conn
            .query_row("SELECT last FROM kv_revision", [], |r| r.get(0))
            .expect("counter");
        assert_eq!(last, 9 + 8);
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name IN
                 ('views', 'view_revision', 'parked', 'webhooks', 'webhook_dead_letters')",
                [],
                |r| r.get(0),
            )
            .expect("catalogue");
        assert_eq!(old, 0, "the old tables are gone");
    }
}
