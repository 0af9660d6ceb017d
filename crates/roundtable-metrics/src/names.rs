//! The name of every metric and the values its labels take.

use metrics::Unit;

/// Commands handled, by `command` (its name: `propose`, `adopt`...) and `outcome`
/// (an [`Outcome`](crate::commands::Outcome): `accepted`, `replayed`, `rejected`,
/// `precondition_failed`, `conflict`, `store_error`).
pub const COMMANDS: &str = "roundtable_commands_total";

/// Commands rejected by a rule, by `command` and `kind` (`not_found`, `forbidden`,
/// `conflict`, `invalid`: the rejection's kind, as in the API's status codes).
pub const COMMAND_REJECTIONS: &str = "roundtable_command_rejections_total";

/// Seconds the command handler took for one command, from the first read to the
/// answer, by `command`.
pub const COMMAND_DURATION: &str = "roundtable_command_duration_seconds";

/// Seconds one append to the event store took, by `outcome` (`ok`, `conflict`,
/// `error`).
pub const APPEND_DURATION: &str = "roundtable_append_duration_seconds";

/// Appends the event store refused because another writer recorded first (optimistic
/// concurrency); each one makes the handler re-read and decide again.
pub const APPEND_CONFLICTS: &str = "roundtable_append_conflicts_total";

/// Times the handler re-read the log and decided a command again, by `reason`
/// (`conflict`: after a refused append; `stale_state`: before answering a rejection or
/// a failed precondition judged on its cached state).
pub const COMMAND_RETRIES: &str = "roundtable_command_retries_total";

/// Events the projector applied to stored views.
pub const PROJECTOR_APPLIED: &str = "roundtable_projector_applied_total";

/// Feed entries the projector skipped because their view already held them.
pub const PROJECTOR_SKIPPED: &str = "roundtable_projector_skipped_total";

/// Feed entries the projector parked (could not decode or apply), by `reason`
/// (`undecodable`, `unapplicable`, `view_store`).
pub const PROJECTOR_PARKED: &str = "roundtable_projector_parked_total";

/// Entries recorded and not yet acknowledged by the projector's consumer name, as
/// last measured.
pub const PROJECTOR_LAG: &str = "roundtable_projector_lag";

/// Batches the projector could not finish because a store failed (tried again after
/// a pause).
pub const PROJECTOR_FAILURES: &str = "roundtable_projector_batch_failures_total";

/// Webhook delivery attempts, by `outcome` (`delivered`, `failed`: will be tried
/// again; `dead_lettered`: given up after the last attempt).
pub const WEBHOOK_DELIVERIES: &str = "roundtable_webhook_deliveries_total";

/// Seconds one webhook delivery attempt took, whatever its outcome.
pub const WEBHOOK_DURATION: &str = "roundtable_webhook_delivery_duration_seconds";

/// HTTP connections and requests the server turned away or cut off, by `reason`
/// (`connection_limit`: a connection beyond the limit; `idle_timeout`: a connection
/// closed after moving nothing for too long; `busy`: a heavy route at its concurrency
/// limit; `rate_limited`: a principal over its rate; `request_timeout`: a request that
/// took longer than the request timeout).
pub const HTTP_REFUSED: &str = "roundtable_http_refused_total";

/// 1 while the process's NATS connection is up, 0 while it is down (reconnecting).
pub const NATS_CONNECTED: &str = "roundtable_nats_connected";

/// Events of the NATS connection, by `event` (`connected`, `disconnected`, `other`:
/// lame-duck mode, slow consumer, server error).
pub const NATS_EVENTS: &str = "roundtable_nats_connection_events_total";

/// Every counter: name, unit, help.
pub const COUNTERS: &[(&str, Unit, &str)] = &[
    (
        COMMANDS,
        Unit::Count,
        "Commands handled, by command and outcome.",
    ),
    (
        COMMAND_REJECTIONS,
        Unit::Count,
        "Commands rejected by a rule, by command and rejection kind.",
    ),
    (
        APPEND_CONFLICTS,
        Unit::Count,
        "Appends refused because another writer recorded first.",
    ),
    (
        COMMAND_RETRIES,
        Unit::Count,
        "Times a command was decided again after re-reading the log, by reason.",
    ),
    (
        PROJECTOR_APPLIED,
        Unit::Count,
        "Events the projector applied to stored views.",
    ),
    (
        PROJECTOR_SKIPPED,
        Unit::Count,
        "Feed entries skipped because their view already held them.",
    ),
    (
        PROJECTOR_PARKED,
        Unit::Count,
        "Feed entries parked because they cannot be projected, by reason.",
    ),
    (
        PROJECTOR_FAILURES,
        Unit::Count,
        "Projector batches left unfinished by a store failure and tried again.",
    ),
    (
        WEBHOOK_DELIVERIES,
        Unit::Count,
        "Webhook delivery attempts, by outcome.",
    ),
    (
        HTTP_REFUSED,
        Unit::Count,
        "HTTP connections and requests turned away or cut off, by reason.",
    ),
    (
        NATS_EVENTS,
        Unit::Count,
        "Events of the NATS connection, by event.",
    ),
];

/// Every gauge: name, unit, help.
pub const GAUGES: &[(&str, Unit, &str)] = &[
    (
        PROJECTOR_LAG,
        Unit::Count,
        "Entries recorded and not yet acknowledged by the projector.",
    ),
    (
        NATS_CONNECTED,
        Unit::Count,
        "1 while the NATS connection is up, 0 while it is down.",
    ),
];

/// Every histogram: name, unit, help.
pub const HISTOGRAMS: &[(&str, Unit, &str)] = &[
    (
        COMMAND_DURATION,
        Unit::Seconds,
        "Time to handle one command, by command.",
    ),
    (
        APPEND_DURATION,
        Unit::Seconds,
        "Time of one append to the event store, by outcome.",
    ),
    (
        WEBHOOK_DURATION,
        Unit::Seconds,
        "Time of one webhook delivery attempt.",
    ),
];

/// The bucket bounds of every histogram, in seconds: from 1 ms (an embedded append)
/// to 10 s (a request that waited out a leader election).
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
