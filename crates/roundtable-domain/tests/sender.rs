//! "Secretariat only" is one rule: `check_sender` (what a front end checks early) and
//! `decide` (what records or rejects) give the same answer, code and message for every
//! command of the project's sample minutes sent by a partner instead.

use std::path::PathBuf;

use chrono::Utc;
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{
    Actor, CommandEnvelope, PartnerId, Projection, RecordedEvent, check_sender, decide,
    secretariat_action,
};
use uuid::Uuid;

fn sample(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_partner_sending_a_secretariats_command_is_refused_alike_early_and_by_decide() {
    let mut refused = std::collections::BTreeSet::new();
    for file in ["harbourside-waste.jsonl", "fieldbrook-sanitation.jsonl"] {
        let mut p = Projection::new();
        let mut partner: Option<PartnerId> = None;
        for line in sample(file).lines() {
            let Some(m) = parse_line(line).expect("a valid line") else {
                continue;
            };
            let cmd = CommandEnvelope {
                command_id: m.command_id,
                negotiation_id: m.negotiation_id,
                actor: m.actor,
                occurred_at: m.at.expect("sample lines carry their time"),
                command: m.command,
            };
            let name = cmd.command.name();
            assert_eq!(
                check_sender(&Actor::Secretariat, &cmd.command),
                Ok(()),
                "{name}"
            );
            if let (Some(who), Some(_)) = (&partner, p.view.as_ref()) {
                let as_partner = CommandEnvelope {
                    actor: Actor::Partner(who.clone()),
                    ..cmd.clone()
                };
                let early = check_sender(&as_partner.actor, &as_partner.command);
                assert_eq!(early.is_err(), secretariat_action(name).is_some(), "{name}");
                if let Err(rejection) = early {
                    assert_eq!(rejection.code, "secretariat_only");
                    let decided = decide(p.view.as_ref(), &as_partner).expect_err(name);
                    assert_eq!(decided, rejection, "{name}");
                    refused.insert(name);
                }
            }
            let event = decide(p.view.as_ref(), &cmd).expect("the sample is accepted");
            let sealed = RecordedEvent::seal(
                &cmd,
                event,
                p.version + 1,
                &p.last_hash.clone(),
                Uuid::now_v7(),
                Utc::now(),
            );
            p.apply(&sealed).expect("links");
            if partner.is_none() {
                partner = p
                    .view
                    .as_ref()
                    .and_then(|v| v.partners.keys().next().cloned());
            }
        }
    }
    // Every secretariat command the samples use was tried as a partner's.
    let expected: std::collections::BTreeSet<&str> = [
        "admit_partner",
        "adopt",
        "conclude",
        "open_round",
        "resolve_shortfall",
    ]
    .into_iter()
    .collect();
    assert!(expected.is_subset(&refused), "{refused:?}");
}
