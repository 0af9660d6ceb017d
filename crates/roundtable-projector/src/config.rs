//! [`ProjectorConfig`]: how much a projector takes at once, keeps in memory, and
//! waits.

use std::time::Duration;

/// Settings of a [`Projector`](crate::Projector). [`ProjectorConfig::default`] suits
/// production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectorConfig {
    /// Most entries taken from the feed at once. The events of one negotiation in a
    /// batch are stored with one update of its view, so larger batches catch up faster.
    pub batch_size: usize,
    /// How long one wait for new entries lasts when the feed is idle; also the longest
    /// a shutdown waits for the projector to notice it.
    pub poll_wait: Duration,
    /// How many views are kept in memory (the most recently used), so that an event
    /// of an active negotiation costs no read of its stored view.
    pub cache_capacity: usize,
    /// How many times one negotiation's update is tried again when other projectors
    /// keep updating its view first, before the batch is given up and tried again.
    pub max_conflicts: usize,
    /// The longest pause between attempts after a store failed.
    pub max_backoff: Duration,
    /// How often progress (and lag) is logged at info level while there is work.
    pub progress_every: Duration,
    /// Most entries taken at once while catching up (a rebuild, a restart after
    /// downtime): after each full batch the next asks for four times as many, up to
    /// this, and back to `batch_size` once a batch comes back short. Each view is
    /// stored once per batch, so with many negotiations interleaved in the log larger
    /// batches store each view far less often. Keep it within the feed's limit of
    /// unacknowledged entries (20,000 on NATS by default) and small enough to be
    /// applied within the feed's ack wait (30 s by default).
    pub rebuild_batch_size: usize,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        ProjectorConfig {
            batch_size: 500,
            poll_wait: Duration::from_secs(1),
            cache_capacity: 1024,
            max_conflicts: 32,
            max_backoff: Duration::from_secs(5),
            progress_every: Duration::from_secs(10),
            rebuild_batch_size: 10_000,
        }
    }
}
