//! What this client knows of where each negotiation's latest events sit in the stream.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use roundtable_domain::NegotiationId;

/// How many of a negotiation's newest versions the index keeps.
const KEPT_PER_NEGOTIATION: usize = 16;

/// Per negotiation, version → stream sequence of the message holding that event, for
/// its [`KEPT_PER_NEGOTIATION`] newest versions seen, learned from appends and reads.
///
/// A recorded event never moves, so an entry stays true for as long as the stream
/// lives; it lets an append name the expected last subject sequence, and a catch-up
/// read start right after the version already folded, without asking the server first.
/// Only the newest versions are kept, so the index costs at most about 600 bytes per
/// negotiation however many events it has (an older version is looked up on the
/// server, which only a retried command's earlier event needs). Entries are dropped
/// for a negotiation whose entries the server contradicts (the stream was recreated
/// under this client).
#[derive(Debug, Default)]
pub(crate) struct SequenceIndex {
    map: Mutex<HashMap<NegotiationId, BTreeMap<u64, u64>>>,
}

impl SequenceIndex {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<NegotiationId, BTreeMap<u64, u64>>) -> T) -> T {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }

    /// The stream sequence of `version` of `negotiation`, when known.
    pub(crate) fn sequence(&self, negotiation: &NegotiationId, version: u64) -> Option<u64> {
        self.with(|m| m.get(negotiation)?.get(&version).copied())
    }

    /// Records that `version` of `negotiation` is at stream sequence `sequence`. An entry
    /// that contradicts what is known (another sequence for the version, or sequences
    /// out of version order) means the stream changed under this client: what was known
    /// of the negotiation is dropped first. Beyond the newest
    /// [`KEPT_PER_NEGOTIATION`] versions, the oldest entry is dropped.
    pub(crate) fn record(&self, negotiation: &NegotiationId, version: u64, sequence: u64) {
        self.with(|m| {
            let entries = m.entry(negotiation.clone()).or_default();
            let consistent = entries.get(&version).is_none_or(|&s| s == sequence)
                && entries
                    .range(..version)
                    .next_back()
                    .is_none_or(|(_, &s)| s < sequence)
                && entries
                    .range(version + 1..)
                    .next()
                    .is_none_or(|(_, &s)| s > sequence);
            if !consistent {
                entries.clear();
            }
            entries.insert(version, sequence);
            while entries.len() > KEPT_PER_NEGOTIATION {
                entries.pop_first();
            }
        });
    }

    /// Forgets everything known of `negotiation`.
    pub(crate) fn forget(&self, negotiation: &NegotiationId) {
        self.with(|m| m.remove(negotiation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_drops_contradictions() {
        let idx = SequenceIndex::default();
        let a = NegotiationId::new("a").expect("id");
        let b = NegotiationId::new("b").expect("id");
        idx.record(&a, 1, 10);
        idx.record(&a, 2, 12);
        idx.record(&b, 1, 11);
        assert_eq!(idx.sequence(&a, 1), Some(10));
        assert_eq!(idx.sequence(&a, 2), Some(12));
        assert_eq!(idx.sequence(&a, 3), None);
        assert_eq!(idx.sequence(&b, 1), Some(11));
        // Version 3 before version 2 in the stream cannot be: start over.
        idx.record(&a, 3, 11);
        assert_eq!(idx.sequence(&a, 1), None);
        assert_eq!(idx.sequence(&a, 3), Some(11));
        idx.forget(&a);
        assert_eq!(idx.sequence(&a, 3), None);
        assert_eq!(idx.sequence(&b, 1), Some(11));
    }

    #[test]
    fn keeps_only_the_newest_versions() {
        let idx = SequenceIndex::default();
        let a = NegotiationId::new("a").expect("id");
        for v in 1..=100u64 {
            idx.record(&a, v, v * 10);
        }
        let kept = KEPT_PER_NEGOTIATION as u64;
        assert_eq!(idx.sequence(&a, 100), Some(1000));
        assert_eq!(idx.sequence(&a, 101 - kept), Some((101 - kept) * 10));
        assert_eq!(idx.sequence(&a, 100 - kept), None);
        assert_eq!(idx.sequence(&a, 1), None);
    }
}
