//! What the command handler records.

use std::time::Duration;

use crate::names;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted: its event was recorded now.
    Accepted,
    /// Its command id was recorded before: answered with that event.
    Replayed,
    /// A rule rejected it.
    Rejected,
    /// The negotiation was not at the version the caller expected (`If-Match`).
    PreconditionFailed,
    /// Other writers won every attempt.
    Conflict,
    /// The store failed; whether it was recorded is unknown.
    StoreError,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Replayed => "replayed",
            Outcome::Rejected => "rejected",
            Outcome::PreconditionFailed => "precondition_failed",
            Outcome::Conflict => "conflict",
            Outcome::StoreError => "store_error",
        }
    }
}

/// One command handled: counted by command and outcome, its duration observed, and a
/// rejection also counted by its kind (`rejection`: `not_found`, `forbidden`...).
pub fn handled(
    command: &'static str,
    outcome: Outcome,
    rejection: Option<&'static str>,
    took: Duration,
) {
    metrics::counter!(names::COMMANDS, "command" => command, "outcome" => outcome.as_str())
        .increment(1);
    if let Some(kind) = rejection {
        metrics::counter!(names::COMMAND_REJECTIONS, "command" => command, "kind" => kind)
            .increment(1);
    }
    metrics::histogram!(names::COMMAND_DURATION, "command" => command).record(took.as_secs_f64());
}

/// How one append to the store ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Recorded.
    Ok,
    /// Refused: another writer recorded first.
    Conflict,
    /// The store failed.
    Error,
}

/// One append: its duration by outcome, and a conflict counted.
pub fn appended(outcome: AppendOutcome, took: Duration) {
    let label = match outcome {
        AppendOutcome::Ok => "ok",
        AppendOutcome::Conflict => {
            metrics::counter!(names::APPEND_CONFLICTS).increment(1);
            "conflict"
        }
        AppendOutcome::Error => "error",
    };
    metrics::histogram!(names::APPEND_DURATION, "outcome" => label).record(took.as_secs_f64());
}

/// Why the handler decided a command again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Its append was refused by a concurrent writer.
    Conflict,
    /// A rejection or failed precondition was judged on cached state: re-read first.
    StaleState,
}

/// The handler re-read the log and decides again.
pub fn retried(reason: Retry) {
    let reason = match reason {
        Retry::Conflict => "conflict",
        Retry::StaleState => "stale_state",
    };
    metrics::counter!(names::COMMAND_RETRIES, "reason" => reason).increment(1);
}
