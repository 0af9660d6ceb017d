//! The sample minutes of `../shared/scenarios/`, folded through `decide` alone (no
//! store): the domain must accept every line and end where the scenarios README says.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::view::{NegotiationStatus, ObjectionStatus, ProposalStatus};
use roundtable_domain::{CommandEnvelope, Projection, RecordedEvent, decide};
use uuid::Uuid;

fn scenario(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scenarios");
    std::fs::read_to_string(root.join(name)).expect("the shared scenarios sit beside the checkout")
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
fn lakeside_concludes_at_agreement_version_16() {
    let p = run(&scenario("lakeside-water.jsonl"));
    let v = p.view.unwrap();
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert_eq!(v.version, 84);
    assert_eq!(v.agreement_version, 16);
    assert_eq!(v.partners.len(), 11);
    assert_eq!(v.clauses.len(), 5);
    assert_eq!(v.clauses["monitoring"].version, 2);
    assert_eq!(
        v.clauses["monitoring"].adopted_from.as_str(),
        "p-monitoring-2"
    );
    assert_eq!(
        v.proposals["p-coverage-1"].status,
        ProposalStatus::Superseded
    );
    assert_eq!(v.proposals["p-staff-1"].status, ProposalStatus::Withdrawn);
    assert_eq!(
        v.objections["o-coverage-too-few"].status,
        ObjectionStatus::Moot
    );
    assert_eq!(v.objections["o-staff-terms"].status, ObjectionStatus::Moot);
    assert_eq!(
        v.objections["o-coverage-cost"].status,
        ObjectionStatus::Withdrawn
    );
    assert!(v.awaiting_signature.is_empty());
    let current = v
        .signatures
        .iter()
        .filter(|s| s.agreement_version == 16)
        .count();
    assert_eq!(current, 7);
    assert_eq!(v.signatures.len(), 12);
}

#[test]
fn freshwater_consultation_stays_open_with_39_clauses() {
    let p = run(&scenario("polis-freshwater.jsonl"));
    let v = p.view.unwrap();
    assert_eq!(v.status, NegotiationStatus::Open);
    assert_eq!(v.version, 3748);
    assert_eq!(v.clauses.len(), 39);
    assert_eq!(v.partners.len(), 116);
}
