//! The sample minutes of `examples/minutes/harbourside-waste.jsonl`, folded through
//! `decide` alone (no store), as `tests/scenarios.rs` folds the vendored freshwater
//! minutes: every line must be accepted, all thirteen commands of DOMAIN.md must
//! appear, and the end state must be the one `examples/minutes/README.md` states.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use roundtable_domain::event::EventBody;
use roundtable_domain::minutes::parse_line;
use roundtable_domain::view::{
    AgreementView, CommitmentStatus, NegotiationStatus, ObjectionStatus, ProposalStatus,
};
use roundtable_domain::{Command, CommandEnvelope, Projection, RecordedEvent, decide};
use uuid::Uuid;

const SAMPLE: &str = "../../examples/minutes/harbourside-waste.jsonl";

/// What folding the sample gives.
struct Outcome {
    projection: Projection,
    commands: BTreeSet<&'static str>,
    event_types: BTreeSet<&'static str>,
}

fn run_sample() -> Outcome {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SAMPLE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut p = Projection::new();
    let mut commands = BTreeSet::new();
    let mut event_types = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let Some(m) = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1)) else {
            continue;
        };
        // One projection folds every line, so every line must name the one negotiation.
        assert_eq!(
            m.negotiation_id.as_str(),
            "harbourside-waste",
            "line {}",
            n + 1
        );
        commands.insert(m.command.name());
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m
                .at
                .unwrap_or_else(|| panic!("line {}: the sample gives every line an at", n + 1)),
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
        event_types.insert(recorded.event_type());
        p.apply(&recorded)
            .unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
    }
    Outcome {
        projection: p,
        commands,
        event_types,
    }
}

fn view() -> AgreementView {
    run_sample()
        .projection
        .view
        .expect("the sample opens its negotiation")
}

#[test]
fn every_line_is_accepted_and_the_negotiation_concludes() {
    let v = view();
    assert_eq!(v.negotiation_id.as_str(), "harbourside-waste");
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert_eq!(v.decision_rule.as_str(), "cross_sector_consent");
    assert_eq!(v.version, 73, "events recorded");
    assert_eq!(v.agreement_version, 16);
    assert_eq!(v.partners.len(), 9);
    assert_eq!(v.signatories().count(), 6);
    assert!(v.awaiting_signature.is_empty());
}

#[test]
fn all_thirteen_commands_and_event_types_are_used() {
    // Keys (`register_key`, `partner_key_registered`) came later; the minutes, written
    // by a secretariat without key material, do not use them.
    let out = run_sample();
    let all_commands: BTreeSet<&str> = Command::NAMES
        .into_iter()
        .filter(|c| *c != "register_key")
        .collect();
    assert_eq!(out.commands, all_commands);
    let all_types: BTreeSet<&str> = EventBody::TYPES
        .into_iter()
        .filter(|t| *t != "partner_key_registered")
        .collect();
    assert_eq!(out.event_types, all_types);
}

#[test]
fn four_clauses_agreed_one_of_them_amended() {
    let v = view();
    let clauses: Vec<(&str, u32, &str)> = v
        .clauses
        .values()
        .map(|c| (c.clause_id.as_str(), c.version, c.adopted_from.as_str()))
        .collect();
    assert_eq!(
        clauses,
        [
            ("collection", 2, "p-collection-3"),
            ("pickers", 1, "p-pickers-1"),
            ("workers", 1, "p-workers-2"),
            ("fees", 1, "p-fees-1"),
        ]
    );
    assert_eq!(v.proposals["p-collection-3"].amends_version, Some(1));
    assert_eq!(v.proposals["p-collection-2"].amends_version, None);
}

#[test]
fn proposals_and_objections_end_where_the_readme_says() {
    let v = view();
    let proposal = |id: &str| v.proposals[id].status;
    assert_eq!(proposal("p-collection-1"), ProposalStatus::Superseded);
    assert_eq!(proposal("p-collection-2"), ProposalStatus::Adopted);
    assert_eq!(proposal("p-collection-3"), ProposalStatus::Adopted);
    assert_eq!(proposal("p-pickers-1"), ProposalStatus::Adopted);
    assert_eq!(proposal("p-workers-1"), ProposalStatus::Withdrawn);
    assert_eq!(proposal("p-workers-2"), ProposalStatus::Adopted);
    assert_eq!(proposal("p-fees-1"), ProposalStatus::Adopted);
    assert_eq!(v.proposals.len(), 7);

    // greenhands retracted its endorsement of the roadside skips before objecting.
    let endorsers: Vec<&str> = v.proposals["p-collection-1"]
        .endorsed_by
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(endorsers, ["hcc"]);

    let objection = |id: &str| (v.objections[id].blocking, v.objections[id].status);
    assert_eq!(
        objection("o-collection-distance"),
        (true, ObjectionStatus::Moot)
    );
    assert_eq!(
        objection("o-collection-canals"),
        (false, ObjectionStatus::Moot)
    );
    assert_eq!(
        objection("o-collection-trucks"),
        (false, ObjectionStatus::Noted)
    );
    assert_eq!(
        objection("o-pickers-offtake"),
        (true, ObjectionStatus::Withdrawn)
    );
    assert_eq!(
        objection("o-pickers-safety"),
        (false, ObjectionStatus::Noted)
    );
    assert_eq!(
        objection("o-workers-probation"),
        (true, ObjectionStatus::Moot)
    );
    assert_eq!(v.objections.len(), 6);
}

#[test]
fn commitments_and_signatures_end_where_the_readme_says() {
    let v = view();
    assert_eq!(v.commitments.len(), 10);
    let withdrawn: Vec<&str> = v
        .commitments
        .values()
        .filter(|c| c.status == CommitmentStatus::Withdrawn)
        .map(|c| c.commitment_id.as_str())
        .collect();
    assert_eq!(withdrawn, ["c-clearway-haulage"]);

    // Five signatures at version 15 went stale when the union committed (version 16);
    // all six signatories then signed version 16.
    assert_eq!(v.signatures.len(), 11);
    let at = |version: u64| {
        v.signatures
            .iter()
            .filter(|s| s.agreement_version == version)
            .count()
    };
    assert_eq!(at(15), 5);
    assert_eq!(at(16), 6);
}

/// Every stored event of the sample decodes the same on the fast path (`decode` of
/// canonical bytes) and the full one (`from_json`); an altered byte is refused as a hash
/// mismatch, and bytes re-encoded non-canonically (same content, same hash) still
/// decode, through the full path.
#[test]
fn stored_bytes_decode_the_same_on_both_paths() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SAMPLE);
    let text = std::fs::read_to_string(&path).expect("sample");
    let mut p = Projection::new();
    let mut checked = 0;
    for line in text.lines() {
        let Some(m) = parse_line(line).expect("parses") else {
            continue;
        };
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.expect("at"),
            command: m.command,
        };
        let event = decide(p.view.as_ref(), &cmd).expect("accepted");
        let recorded = RecordedEvent::seal(
            &cmd,
            event,
            p.version + 1,
            &p.last_hash,
            Uuid::now_v7(),
            Utc::now(),
        );
        p.apply(&recorded).expect("applies");
        let bytes = recorded.to_bytes();
        assert_eq!(
            bytes,
            roundtable_domain::canonical::to_canonical(&recorded.to_json()),
            "stored bytes are the canonical JSON of the envelope"
        );
        let fast = RecordedEvent::decode(&bytes).expect("decodes");
        let full = RecordedEvent::from_json(serde_json::from_slice(&bytes).expect("json"))
            .expect("decodes");
        assert_eq!(fast, recorded);
        assert_eq!(full, recorded);
        // Pretty-printed: not canonical, same content and hash.
        let pretty = serde_json::to_vec_pretty(&recorded.to_json()).expect("json");
        assert_eq!(RecordedEvent::decode(&pretty).expect("decodes"), recorded);
        // One byte of the actor changed: refused.
        let text = String::from_utf8(bytes).expect("utf-8");
        let altered = text.replacen("\"actor\":\"", "\"actor\":\"x", 1);
        assert!(matches!(
            RecordedEvent::decode(altered.as_bytes()),
            Err(roundtable_domain::DecodeError::HashMismatch { .. })
        ));
        checked += 1;
    }
    assert!(checked > 50, "{checked} events checked");
}
