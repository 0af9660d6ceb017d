//! From SQLite's errors to [`StoreError`] variants a caller can match on.

use std::path::Path;

use roundtable_store::StoreError;
use rusqlite::ErrorCode;

use crate::store::BUSY_TIMEOUT;

/// Maps an SQLite error met while `doing` something with the file at `path`.
///
/// - not an SQLite file → [`StoreError::Incompatible`];
/// - still locked by another process after [`BUSY_TIMEOUT`] → [`StoreError::Unavailable`];
/// - a damaged file → [`StoreError::Corrupt`] (negotiation unknown, position the file);
/// - anything else (cannot open, permissions, disk full, I/O) → [`StoreError::Unavailable`].
pub(crate) fn store_error(path: &Path, doing: &str, err: &rusqlite::Error) -> StoreError {
    let path = path.display();
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::Incompatible(format!(
            "{path} is not a roundtable database: it is not an sqlite file ({err})"
        )),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::unavailable(format!(
                "{path}: {doing}: still locked by another process after {} s ({err})",
                BUSY_TIMEOUT.as_secs()
            ))
        }
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            negotiation: "?".into(),
            position: format!("file {path}"),
            reason: format!("{doing}: {err}"),
        },
        _ if err.to_string().contains("no such table: events") => StoreError::LogMissing(format!(
            "{path} has no events table any more (the file was altered or replaced); nothing was \
             recorded. Restore the file from a backup (docs/OPERATIONS.md, \"When the event log \
             is lost\")"
        )),
        _ => StoreError::unavailable(format!("{path}: {doing}: {err}")),
    }
}

/// Whether `err` is a UNIQUE (or primary key) constraint violation.
pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    err.sqlite_error().is_some_and(|e| {
        e.code == ErrorCode::ConstraintViolation
            && matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
    })
}
