//! The sample minutes of `examples/minutes/fieldbrook-sanitation.jsonl`, folded through
//! `decide` alone (no store): a sanitation partnership that concludes, delivers for two
//! years, loses its tanker operator (whose commitment passes to the emptiers'
//! association), renegotiates its tariff in a round and concludes again. Every line
//! must be accepted, and the end state must be the one `examples/minutes/README.md`
//! states, field by field.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{NaiveDate, TimeZone, Utc};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::view::{
    AgreementView, CommitmentStatus, NegotiationStatus, ObjectionStatus, PartnerStatus,
    ProposalStatus, RoundStatus, ShortfallStatus,
};
use roundtable_domain::vocab::{Amount, Sector, Severity};
use roundtable_domain::{
    Actor, CommandEnvelope, Projection, RecordedEvent, decide, overdue_commitments,
};
use uuid::Uuid;

const SAMPLE: &str = "../../examples/minutes/fieldbrook-sanitation.jsonl";

fn run_sample() -> (Projection, BTreeSet<&'static str>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SAMPLE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut p = Projection::new();
    let mut commands = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let Some(m) = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1)) else {
            continue;
        };
        assert_eq!(
            m.negotiation_id.as_str(),
            "fieldbrook-sanitation",
            "line {}",
            n + 1
        );
        commands.insert(m.command.name());
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.unwrap_or_else(|| panic!("line {}: no at", n + 1)),
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
        p.apply(&recorded)
            .unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
    }
    (p, commands)
}

fn view() -> AgreementView {
    run_sample()
        .0
        .view
        .expect("the sample opens its negotiation")
}

fn kes(value: &str) -> Option<Amount> {
    Some(Amount {
        value: value.into(),
        currency: "KES".into(),
    })
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ids<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    items.into_iter().collect()
}

#[test]
fn every_line_is_accepted_and_the_renegotiated_agreement_is_in_force() {
    let v = view();
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert_eq!(v.decision_rule.as_str(), "cross_sector_consent");
    assert_eq!(v.version, 87, "events recorded");
    assert_eq!(v.agreement_version, 15);
    assert_eq!(v.in_force_agreement_version, Some(15));
    assert!(v.awaiting_signature.is_empty());
    assert_eq!(v.signatures.len(), 9, "5 at version 12, 4 at version 15");
    assert_eq!(
        v.signatures
            .iter()
            .filter(|s| s.agreement_version == 15)
            .count(),
        4
    );
}

#[test]
fn the_eight_commands_of_contract_version_2_but_terminate_are_used() {
    let (_, commands) = run_sample();
    for c in [
        "open_round",
        "declare_asset",
        "report_progress",
        "fulfil",
        "report_shortfall",
        "resolve_shortfall",
        "withdraw_partner",
    ] {
        assert!(commands.contains(c), "{c} is not used");
    }
    assert!(!commands.contains("terminate"));
}

#[test]
fn brookline_left_and_four_signatories_remain() {
    let v = view();
    assert_eq!(v.partners.len(), 7);
    for p in v.partners.values() {
        let expected = if p.partner_id.as_str() == "brookline" {
            PartnerStatus::Withdrawn
        } else {
            PartnerStatus::Active
        };
        assert_eq!(p.status, expected, "{}", p.partner_id);
    }
    assert_eq!(
        ids(v.signatories().map(|p| p.partner_id.as_str())),
        ["fbc", "emptiers", "hillside-cbo", "consumers"]
    );
}

#[test]
fn the_tariff_was_renegotiated_in_one_round() {
    let v = view();
    let rounds: Vec<_> = v.rounds.values().collect();
    assert_eq!(rounds.len(), 1);
    let r = rounds[0];
    assert_eq!(r.round_id.as_str(), "r-tariff-2029");
    assert_eq!(
        (
            r.status,
            r.from_agreement_version,
            r.concluded_agreement_version
        ),
        (RoundStatus::Concluded, 13, Some(15))
    );
    let clauses: Vec<(&str, u32, &str)> = v
        .clauses
        .values()
        .map(|c| (c.clause_id.as_str(), c.version, c.adopted_from.as_str()))
        .collect();
    assert_eq!(
        clauses,
        [
            ("service", 1, "p-service-1"),
            ("tariff", 2, "p-tariff-3"),
            ("monitoring", 1, "p-monitoring-1"),
        ]
    );
    let proposals: Vec<(&str, ProposalStatus)> = v
        .proposals
        .values()
        .map(|p| (p.proposal_id.as_str(), p.status))
        .collect();
    assert_eq!(
        proposals,
        [
            ("p-service-1", ProposalStatus::Adopted),
            ("p-tariff-1", ProposalStatus::Superseded),
            ("p-tariff-2", ProposalStatus::Adopted),
            ("p-monitoring-1", ProposalStatus::Adopted),
            ("p-tariff-3", ProposalStatus::Adopted),
        ]
    );
    assert_eq!(v.proposals["p-tariff-3"].amends_version, Some(1));
    let objections: Vec<(&str, ObjectionStatus)> = v
        .objections
        .values()
        .map(|o| (o.objection_id.as_str(), o.status))
        .collect();
    assert_eq!(
        objections,
        [
            ("o-tariff-flat", ObjectionStatus::Moot),
            ("o-tariff-subsidy", ObjectionStatus::Noted),
            ("o-tariff-index", ObjectionStatus::Noted),
        ]
    );
}

#[test]
fn every_sector_declared_assets_and_seven_are_drawn_on_by_no_active_commitment() {
    let v = view();
    assert_eq!(v.assets.len(), 12);
    let by_sector = |sector: Sector| -> Vec<&str> {
        v.assets
            .values()
            .filter(|a| v.partners[&a.partner_id].sector == sector)
            .map(|a| a.asset_id.as_str())
            .collect()
    };
    assert_eq!(
        by_sector(Sector::Government),
        ["a-fbc-land", "a-fbc-budget", "a-wsra-licensing"]
    );
    assert_eq!(
        by_sector(Sector::PrivateSector),
        [
            "a-brookline-trucks",
            "a-brookline-engineers",
            "a-emptiers-crews",
            "a-emptiers-routes",
            "a-emptiers-tankers"
        ]
    );
    assert_eq!(
        by_sector(Sector::CivilSociety),
        [
            "a-hillside-committees",
            "a-hillside-mapping",
            "a-consumers-panel"
        ]
    );
    assert_eq!(by_sector(Sector::External), ["a-aquafund-grant"]);
    assert_eq!(
        ids(v.unused_assets().iter().map(|a| a.asset_id.as_str())),
        [
            "a-fbc-land",
            "a-wsra-licensing",
            "a-brookline-trucks",
            "a-brookline-engineers",
            "a-hillside-mapping",
            "a-aquafund-grant",
            "a-emptiers-tankers",
        ]
    );
}

#[test]
fn commitments_end_delivered_transferred_or_active() {
    let v = view();
    let got: Vec<(&str, &str, CommitmentStatus, Option<NaiveDate>, usize)> = v
        .commitments
        .values()
        .map(|k| {
            (
                k.commitment_id.as_str(),
                k.partner_id.as_str(),
                k.status,
                k.fulfilled_on,
                k.progress.len(),
            )
        })
        .collect();
    use CommitmentStatus::*;
    assert_eq!(
        got,
        [
            ("c-fbc-site", "fbc", Fulfilled, Some(day(2028, 3, 27)), 0),
            ("c-fbc-subsidy", "fbc", Active, None, 1),
            ("c-brookline-tankers", "brookline", Transferred, None, 2),
            (
                "c-brookline-plant",
                "brookline",
                Fulfilled,
                Some(day(2028, 8, 29)),
                1
            ),
            ("c-emptiers-crews", "emptiers", Active, None, 1),
            ("c-hillside-reports", "hillside-cbo", Active, None, 1),
            ("c-consumers-panel", "consumers", Active, None, 0),
            (
                "c-aquafund-grant",
                "aquafund",
                Fulfilled,
                Some(day(2028, 2, 18)),
                1
            ),
            (
                "c-wsra-licence",
                "wsra",
                Fulfilled,
                Some(day(2027, 12, 14)),
                0
            ),
            ("c-emptiers-tankers", "emptiers", Active, None, 1),
            ("c-fbc-subsidy-2", "fbc", Active, None, 0),
        ]
    );
    let old = &v.commitments["c-brookline-tankers"];
    let new = &v.commitments["c-emptiers-tankers"];
    assert_eq!(
        old.transferred_to.as_ref().map(|k| k.as_str()),
        Some("c-emptiers-tankers")
    );
    assert_eq!(
        new.transferred_from.as_ref().map(|k| k.as_str()),
        Some("c-brookline-tankers")
    );
    assert_eq!(
        (&new.amount, new.due),
        (&kes("2400000.00"), Some(day(2029, 9, 30)))
    );
    assert_eq!((&new.kind, &new.clause_id), (&old.kind, &old.clause_id));
    assert!(new.assets.is_empty() && !old.assets.is_empty());
    // Delivery against the amount: what the progress reports carry.
    let delivered: Vec<&str> = old
        .progress
        .iter()
        .filter_map(|p| p.delivered.as_ref().map(|d| d.value.as_str()))
        .collect();
    assert_eq!(delivered, ["400000.00", "900000.00"]);
    assert_eq!(new.progress[0].delivered, kes("150000.00"));
    assert_eq!(
        v.commitments["c-hillside-reports"].progress[0].reported_by,
        Actor::Secretariat
    );
}

/// `(shortfall, commitment, reported by, severity, status, penalty)`.
type ShortfallRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Severity,
    ShortfallStatus,
    Option<Amount>,
);

#[test]
fn shortfalls_were_reported_by_the_community_and_the_consumers() {
    let v = view();
    let got: Vec<ShortfallRow<'_>> = v
        .shortfalls
        .values()
        .map(|f| {
            (
                f.shortfall_id.as_str(),
                f.commitment_id.as_str(),
                f.reported_by.as_str(),
                f.severity,
                f.status,
                f.penalty.clone(),
            )
        })
        .collect();
    use ShortfallStatus::*;
    assert_eq!(
        got,
        [
            (
                "s-ferry-row-wait",
                "c-brookline-tankers",
                "hillside-cbo",
                Severity::Major,
                Resolved,
                kes("25000.00")
            ),
            (
                "s-plant-late",
                "c-brookline-plant",
                "consumers",
                Severity::Critical,
                Resolved,
                kes("60000.00")
            ),
            (
                "s-subsidy-late",
                "c-fbc-subsidy",
                "consumers",
                Severity::Minor,
                Open,
                None
            ),
            (
                "s-tanker-fees",
                "c-brookline-tankers",
                "consumers",
                Severity::Major,
                Resolved,
                None
            ),
        ]
    );
}

#[test]
fn two_commitments_fall_overdue_on_the_first_of_october_2029() {
    let v = view();
    let overdue = |d| -> Vec<String> {
        overdue_commitments(&v, d)
            .iter()
            .map(|k| k.commitment_id.to_string())
            .collect()
    };
    assert!(overdue(day(2029, 9, 30)).is_empty());
    assert_eq!(
        overdue(day(2029, 10, 1)),
        ["c-fbc-subsidy", "c-emptiers-tankers"]
    );
    assert_eq!(
        overdue(day(2031, 10, 1)),
        ["c-fbc-subsidy", "c-emptiers-tankers", "c-fbc-subsidy-2"]
    );
}
