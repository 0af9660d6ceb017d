//! What this client knows of where each negotiation's events sit in the stream.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use roundtable_domain::NegotiationId;

/// Per negotiation, version → stream sequence of the message holding that event,
/// learned from appends and reads.
///
/// A recorded event never moves, so an entry stays true for as long as the stream
/// lives; it lets an append name the expected last subject sequence, and a read start
/// at the right place, without asking the server first. Costs about 40 bytes per event
/// seen. Entries are dropped for a negotiation whose entries the server contradicts
/// (the stream was recreated under this client).
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
    /// of the negotiation is dropped first.
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
}
