//! Importing an export (`roundtable import-export FILE`): the events of a verified
//! export, ready to be appended to an empty store. A tampered export is refused.

use roundtable_domain::{AgreementView, RecordedEvent};

use crate::export::Manifest;
use crate::verify::{VerifyReport, verify_export};

/// An export that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedExport {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its events, decoded, in version order: append them as they are (same ids,
    /// times, hashes), one by one.
    pub events: Vec<RecordedEvent>,
    /// The view folding them gives (equal to the one the manifest records).
    pub view: AgreementView,
    /// The verification report (every check passed).
    pub report: VerifyReport,
}

/// Why an export is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The export fails verification: nothing may be imported from it.
    #[error("the export fails verification, so nothing is imported: {}", .0.failure.as_ref().map_or_else(String::new, |f| format!("{} at version {}: {}", f.kind, f.version.map_or("?".into(), |v| v.to_string()), f.reason)))]
    Refused(Box<VerifyReport>),
}

/// Verifies `bytes` as an export and returns its events for an empty store.
///
/// The caller (the binary) checks that the store holds no event of
/// `manifest.negotiation_id` and appends `events` in order with the store's `append`;
/// a store that already holds the negotiation answers the first append with a
/// conflict.
///
/// # Errors
/// [`ImportError::Refused`] with the report when any check fails.
pub fn import_export(bytes: &[u8]) -> Result<VerifiedExport, ImportError> {
    match verify_export(bytes) {
        (report, Some((manifest, events, view))) if report.ok => Ok(VerifiedExport {
            manifest,
            events,
            view,
            report,
        }),
        (report, _) => Err(ImportError::Refused(Box::new(report))),
    }
}
