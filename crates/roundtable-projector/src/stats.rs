//! [`ProjectorStats`]: what a projector has done, and how far behind it is.

use serde::Serialize;

/// Counters of one [`Projector`](crate::Projector) since it was made, and where it
/// stands. Serializes to JSON with the same field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProjectorStats {
    /// Events this projector folded into stored views (including events it read from
    /// the event store to fill a gap). Over every projector sharing a consumer name,
    /// each event is applied exactly once.
    pub applied: u64,
    /// Entries whose event a stored view already held (applied earlier, by this or
    /// another projector): redeliveries, and entries after a gap that was filled.
    pub skipped: u64,
    /// Entries set aside because they cannot be applied: undecodable, not linking to
    /// the stored view, or whose view cannot be read or stored. Logged at error level.
    pub parked: u64,
    /// The feed position acknowledged last, if any.
    pub last_position: Option<u64>,
    /// Entries recorded but not yet acknowledged by this consumer name, as last
    /// measured: how far the views are behind the log.
    pub lag: Option<u64>,
}

impl ProjectorStats {
    /// The counts since `earlier` (taken from the same projector), with the current
    /// position and lag.
    pub fn since(&self, earlier: &ProjectorStats) -> ProjectorStats {
        ProjectorStats {
            applied: self.applied - earlier.applied,
            skipped: self.skipped - earlier.skipped,
            parked: self.parked - earlier.parked,
            last_position: self.last_position,
            lag: self.lag,
        }
    }
}
