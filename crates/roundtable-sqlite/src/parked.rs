//! The `parked` table: entries the projector set aside, kept with the views.

use std::path::Path;

use roundtable_store::{ParkedEntry, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::errors::store_error;

/// Keeps `entry` (a position already kept stays as it was).
pub(crate) fn park(conn: &Connection, path: &Path, entry: &ParkedEntry) -> Result<(), StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "keeping a parked entry", &e);
    let body = serde_json::to_vec(entry).map_err(|e| corrupt(entry.position, &e))?;
    let position = i64::try_from(entry.position).map_err(|e| corrupt(entry.position, &e))?;
    let version = entry
        .version
        .map(i64::try_from)
        .transpose()
        .map_err(|e| corrupt(entry.position, &e))?;
    conn.prepare_cached(
        "INSERT INTO parked (position, negotiation_id, version, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (position) DO NOTHING",
    )
    .and_then(|mut s| {
        s.execute(params![
            position,
            entry.negotiation_id.as_ref().map(|n| n.as_str()),
            version,
            body
        ])
    })
    .map(|_| ())
    .map_err(err)
}

/// Every parked entry, by position.
pub(crate) fn list(conn: &Connection, path: &Path) -> Result<Vec<ParkedEntry>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "listing parked entries", &e);
    let mut stmt = conn
        .prepare_cached("SELECT position, body FROM parked ORDER BY position")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    rows.into_iter().map(|(p, body)| decode(p, &body)).collect()
}

/// The first parked entry of `negotiation`, if any.
pub(crate) fn first_of(
    conn: &Connection,
    path: &Path,
    negotiation: &str,
) -> Result<Option<ParkedEntry>, StoreError> {
    let err = |e: rusqlite::Error| store_error(path, "reading parked entries", &e);
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT position, body FROM parked WHERE negotiation_id = ?1
             ORDER BY position LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row([negotiation], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(err)?;
    row.map(|(p, body)| decode(p, &body)).transpose()
}

fn decode(position: i64, body: &[u8]) -> Result<ParkedEntry, StoreError> {
    serde_json::from_slice(body).map_err(|e| StoreError::Corrupt {
        negotiation: "?".into(),
        position: format!("parked entry at position {position}"),
        reason: format!("not a parked entry: {e}"),
    })
}

fn corrupt(position: u64, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        negotiation: "?".into(),
        position: format!("parked entry at position {position}"),
        reason: e.to_string(),
    }
}
