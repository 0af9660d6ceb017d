//! The vendored third-party minutes (`tests/data/` at the workspace root), folded through
//! `decide` alone (no store): the domain must accept every line and end where
//! `tests/data/README.md` says. The project's own sample minutes have theirs in
//! `sample_minutes.rs`.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::view::NegotiationStatus;
use roundtable_domain::{CommandEnvelope, Projection, RecordedEvent, decide};
use uuid::Uuid;

fn test_data(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    std::fs::read_to_string(root.join(name)).expect("the vendored test data of the repository")
}

fn run(text: &str) -> Projection {
    let mut p = Projection::new();
    for (n, line) in text.lines().enumerate() {
        let Some(m) = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1)) else {
            continue;
        };
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.unwrap(),
            command: m.command,
        };
        let event =
            decide(p.view.as_ref(), &cmd).unwrap_or_else(|r| panic!("line {}: {r:?}", n + 1));
        let recorded = RecordedEvent::seal(
            &cmd,
            event,
            p.version + 1,
            &p.last_hash.clone(),
            Uuid::nil(),
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        p.apply(&recorded).unwrap();
    }
    p
}

#[test]
fn freshwater_consultation_stays_open_with_39_clauses() {
    let p = run(&test_data("polis-freshwater/polis-freshwater.jsonl"));
    let v = p.view.unwrap();
    assert_eq!(v.status, NegotiationStatus::Open);
    assert_eq!(v.version, 3748);
    assert_eq!(v.clauses.len(), 39);
    assert_eq!(v.partners.len(), 116);
}
