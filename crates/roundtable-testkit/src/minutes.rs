//! Minutes recorded without a store: each line decided by `roundtable_domain::decide`
//! against the view so far and sealed into the hash chain, as the stores would, for
//! tests that need a negotiation's events (exports, schemas, OCDS) and no adapter.

use chrono::Duration;
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{CommandEnvelope, Projection, RecordedEvent, decide};
use uuid::Uuid;

/// How long after its business time (`at`) each event is recorded.
pub const RECORDED_AFTER: Duration = Duration::milliseconds(1500);

/// The events of a minutes text (DOMAIN.md, "The import format"), in order: blank and
/// `#` lines skipped, every other line decided and sealed at the next version.
/// `event_id`s are UUIDs numbered by version (`0196…7000-8000-…<version>`, a valid
/// version 7 form) and `recorded_at` is [`RECORDED_AFTER`] the line's `at`, so the
/// same text always gives the same events, byte for byte.
///
/// # Errors
/// A message naming the line (1-based) when it does not parse, has no `at`, or is
/// rejected by the rules (with the rule broken); or when the chain does not link.
pub fn record(minutes: &str) -> Result<Vec<RecordedEvent>, String> {
    let mut projection = Projection::new();
    let mut out = Vec::new();
    for (n, line) in minutes.lines().enumerate() {
        let line_no = n + 1;
        let Some(m) = parse_line(line).map_err(|e| format!("line {line_no}: {e}"))? else {
            continue;
        };
        let occurred_at =
            m.at.ok_or_else(|| format!("line {line_no}: no \"at\" (business time)"))?;
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at,
            command: m.command,
        };
        let event = decide(projection.view.as_ref(), &cmd)
            .map_err(|r| format!("line {line_no} is rejected: {r:?}"))?;
        let version = projection.version + 1;
        let sealed = RecordedEvent::seal(
            &cmd,
            event,
            version,
            &projection.last_hash,
            Uuid::from_u128(0x0196_0000_0000_7000_8000_0000_0000_0000 + u128::from(version)),
            occurred_at + RECORDED_AFTER,
        );
        projection
            .apply(&sealed)
            .map_err(|e| format!("line {line_no}: the chain does not link: {e}"))?;
        out.push(sealed);
    }
    Ok(out)
}
