//! What the projector records.

use crate::names;

/// Why an entry was parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkReason {
    /// It does not decode: not an event, a wrong hash, an unknown schema version.
    Undecodable,
    /// It decodes but does not follow on from the stored view.
    Unapplicable,
    /// Its view cannot be read or stored (for instance too large).
    ViewStore,
}

impl ParkReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ParkReason::Undecodable => "undecodable",
            ParkReason::Unapplicable => "unapplicable",
            ParkReason::ViewStore => "view_store",
        }
    }
}

/// `n` events applied to stored views.
pub fn applied(n: u64) {
    metrics::counter!(names::PROJECTOR_APPLIED).increment(n);
}

/// `n` entries skipped (their view held them already).
pub fn skipped(n: u64) {
    metrics::counter!(names::PROJECTOR_SKIPPED).increment(n);
}

/// One entry parked.
pub fn parked(reason: ParkReason) {
    metrics::counter!(names::PROJECTOR_PARKED, "reason" => reason.as_str()).increment(1);
}

/// The lag just measured.
pub fn lag(entries: u64) {
    // Lags fit in an f64 exactly far beyond any real backlog.
    metrics::gauge!(names::PROJECTOR_LAG).set(entries as f64);
}

/// A batch left unfinished by a store failure.
pub fn batch_failed() {
    metrics::counter!(names::PROJECTOR_FAILURES).increment(1);
}
