//! A batch of feed entries, grouped by negotiation, being worked through.

use std::collections::HashMap;

use roundtable_domain::{NegotiationId, RecordedEvent};
use roundtable_store::FeedItem;

/// The decoded events of one negotiation in a batch, with their feed positions, in
/// the order the feed gave them.
pub(crate) struct Group {
    pub(crate) negotiation: NegotiationId,
    pub(crate) events: Vec<(u64, RecordedEvent)>,
}

impl Group {
    /// The highest version among the events.
    pub(crate) fn target(&self) -> u64 {
        self.events
            .iter()
            .map(|(_, e)| e.version)
            .max()
            .unwrap_or(0)
    }

    /// How many of the events are at or below `version`.
    pub(crate) fn at_or_below(&self, version: u64) -> u64 {
        self.events
            .iter()
            .filter(|(_, e)| e.version <= version)
            .count() as u64
    }

    /// The (position, version) of the events above `version`.
    pub(crate) fn above(&self, version: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.events
            .iter()
            .filter(move |(_, e)| e.version > version)
            .map(|(p, e)| (*p, e.version))
    }
}

/// A batch taken from the feed: its groups, how many are done, and the position to
/// acknowledge once all are.
pub(crate) struct Batch {
    pub(crate) groups: Vec<Group>,
    pub(crate) done: usize,
    pub(crate) last_position: u64,
    pub(crate) size: usize,
}

impl Batch {
    /// Groups the decoded entries by negotiation (groups in order of their first
    /// entry) and hands each undecodable one to `park`.
    pub(crate) fn of(items: Vec<FeedItem>, mut park: impl FnMut(FeedItem)) -> Batch {
        let size = items.len();
        let last_position = items.iter().map(|i| i.position).max().unwrap_or(0);
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<NegotiationId, usize> = HashMap::new();
        for item in items {
            let (position, event) = match item.event {
                Ok(event) => (item.position, event),
                Err(_) => {
                    park(item);
                    continue;
                }
            };
            let i = *index
                .entry(event.negotiation_id.clone())
                .or_insert_with(|| {
                    groups.push(Group {
                        negotiation: event.negotiation_id.clone(),
                        events: Vec::new(),
                    });
                    groups.len() - 1
                });
            groups[i].events.push((position, event));
        }
        Batch {
            groups,
            done: 0,
            last_position,
            size,
        }
    }
}
