//! What webhook delivery records: call [`delivery`] once per attempt.
//!
//! ```
//! use std::time::Instant;
//! use roundtable_metrics::webhooks::{self, Delivery};
//!
//! let started = Instant::now();
//! // ... POST the change to the webhook's URL ...
//! webhooks::delivery(Delivery::Delivered, started.elapsed());
//! ```

use std::time::Duration;

use crate::names;

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver acknowledged it (2xx).
    Delivered,
    /// It failed (error status, timeout, connection refused) and will be tried again.
    Failed,
    /// It failed on its last attempt: set aside as a dead letter.
    DeadLettered,
}

impl Delivery {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Failed => "failed",
            Delivery::DeadLettered => "dead_lettered",
        }
    }
}

/// One delivery attempt: counted by outcome, its duration observed.
pub fn delivery(outcome: Delivery, took: Duration) {
    metrics::counter!(names::WEBHOOK_DELIVERIES, "outcome" => outcome.as_str()).increment(1);
    metrics::histogram!(names::WEBHOOK_DURATION).record(took.as_secs_f64());
}
