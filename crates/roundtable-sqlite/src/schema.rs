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
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM views),
                        (SELECT last FROM view_revision), (SELECT count(*) FROM checkpoints)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("query");
        assert_eq!(counts, (1, 0, 0, 0));
    }
}
