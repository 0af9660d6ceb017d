//! Settings of deliveries: retries, time-outs, how often the worker looks around.

use std::time::Duration;

/// How a delivery is retried: exponential backoff with full jitter. Attempt `n`
/// (1-based) that fails is followed by a pause drawn uniformly from
/// `0..=min(max_backoff, initial_backoff * 2^(n-1))`; after `max_attempts` attempts
/// the delivery is parked in the dead-letter list.
///
/// The defaults (50 attempts, 1 s doubling up to 5 minutes) keep retrying for about
/// 1 h 45 min on average, well over an hour in all but vanishingly rare draws, so a
/// receiver down for an hour loses nothing and gets every change in order when it
/// comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a delivery is parked (at least 1).
    pub max_attempts: u32,
    /// The first pause's ceiling.
    pub initial_backoff: Duration,
    /// The largest pause's ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 50,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The ceiling of the pause after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The pause after failed attempt `attempt`: uniform in `0..=ceiling` (full
    /// jitter), from the operating system's random numbers.
    pub fn pause(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        let draw = getrandom::u64().unwrap_or(nanos / 2);
        Duration::from_nanos(draw % (nanos + 1).max(1))
    }
}

/// Settings of a [`crate::WebhookWorker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Retries.
    pub retry: RetryPolicy,
    /// The longest one attempt (connect, send, answer) may take before it counts as
    /// failed.
    pub attempt_timeout: Duration,
    /// How long one wait for a new change lasts; also how often replays are looked
    /// for, and the longest a shutdown waits for an idle webhook.
    pub poll_wait: Duration,
    /// How often the list of webhooks is read again (new ones start, removed ones stop).
    pub refresh_every: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            retry: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(10),
            poll_wait: Duration::from_secs(1),
            refresh_every: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_stay_under_their_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_secs(1));
        assert_eq!(p.ceiling(2), Duration::from_secs(2));
        assert_eq!(p.ceiling(9), Duration::from_secs(256));
        assert_eq!(p.ceiling(10), Duration::from_secs(300));
        assert_eq!(p.ceiling(200), Duration::from_secs(300));
        for attempt in 1..60 {
            assert!(p.pause(attempt) <= p.ceiling(attempt));
        }
        // The expected total of the default policy's pauses is over an hour.
        let expected: Duration = (1..p.max_attempts).map(|a| p.ceiling(a) / 2).sum();
        assert!(expected > Duration::from_secs(3600), "{expected:?}");
    }
}
