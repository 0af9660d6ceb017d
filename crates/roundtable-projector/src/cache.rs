//! A bounded, least-recently-used cache of projections with their stored revisions.

use std::collections::HashMap;

use roundtable_domain::{NegotiationId, Projection};

/// A view as this projector last stored or read it: ready to apply the next event
/// to, and the revision to update it against.
pub(crate) struct Cached {
    pub(crate) projection: Projection,
    pub(crate) revision: u64,
}

/// Holds up to `capacity` projections; the least recently used goes first.
///
/// An entry is taken out while its negotiation is being updated and put back once
/// the update is stored, so a failed update never leaves a view in the cache that
/// the store does not hold.
pub(crate) struct ViewCache {
    capacity: usize,
    tick: u64,
    entries: HashMap<NegotiationId, (Cached, u64)>,
}

impl ViewCache {
    pub(crate) fn new(capacity: usize) -> ViewCache {
        ViewCache {
            capacity,
            tick: 0,
            entries: HashMap::new(),
        }
    }

    /// Removes and returns the entry of `id`.
    pub(crate) fn take(&mut self, id: &NegotiationId) -> Option<Cached> {
        self.entries.remove(id).map(|(cached, _)| cached)
    }

    /// Keeps `cached` as the entry of `id`, evicting the least recently used entry
    /// when full.
    pub(crate) fn put(&mut self, id: NegotiationId, cached: Cached) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&id) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.tick += 1;
        self.entries.insert(id, (cached, self.tick));
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NegotiationId {
        NegotiationId::new(s).expect("id")
    }

    fn cached(revision: u64) -> Cached {
        Cached {
            projection: Projection::new(),
            revision,
        }
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let mut cache = ViewCache::new(2);
        cache.put(id("a"), cached(1));
        cache.put(id("b"), cached(2));
        // Use a again: b is now the oldest.
        let a = cache.take(&id("a")).expect("a");
        cache.put(id("a"), a);
        cache.put(id("c"), cached(3));
        assert!(cache.take(&id("b")).is_none());
        assert_eq!(cache.take(&id("a")).map(|c| c.revision), Some(1));
        assert_eq!(cache.take(&id("c")).map(|c| c.revision), Some(3));
        assert!(cache.take(&id("c")).is_none(), "taken out");
    }

    #[test]
    fn a_zero_capacity_keeps_nothing() {
        let mut cache = ViewCache::new(0);
        cache.put(id("a"), cached(1));
        assert!(cache.take(&id("a")).is_none());
    }
}
