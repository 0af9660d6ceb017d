//! What changed: the Lakeside negotiation between its first adoption and its
//! conclusion, spelt out from the minutes; an amendment's word-level diff.

#[path = "common/mod.rs"]
mod common;

use roundtable_audit::diff::{WordOp, render_words, word_diff};
use roundtable_audit::{as_of_version, diff};
use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, ProposalStatus,
};

use common::*;

#[test]
fn from_the_first_adoption_to_the_conclusion() {
    let (events, _) = lakeside();
    let first_adoption = first_of(&events, "proposal_adopted");
    assert_eq!(
        first_adoption, 24,
        "line 27 of the minutes adopts p-coverage-2"
    );
    let from = as_of_version(&events, first_adoption).unwrap().unwrap();
    let to = as_of_version(&events, 84).unwrap().unwrap();
    let d = diff(Some(&from), &to);

    assert_eq!((d.from_version, d.to_version), (24, 84));
    assert_eq!((d.from_agreement_version, d.to_agreement_version), (2, 16));
    assert_eq!(
        d.status,
        Some((Some(NegotiationStatus::Open), NegotiationStatus::Concluded))
    );
    assert!(
        d.partners_admitted.is_empty(),
        "everyone was admitted first"
    );
    assert!(d.keys_registered.is_empty());

    // Clauses: four added (monitoring amended in between, so at version 2); coverage,
    // agreed at the first adoption, unchanged.
    let added: Vec<(&str, u32, &str)> = d
        .clauses_added
        .iter()
        .map(|c| (c.clause_id.as_str(), c.version, c.adopted_from.as_str()))
        .collect();
    assert_eq!(
        added,
        [
            ("tariff", 1, "p-tariff-2"),
            ("small-providers", 1, "p-vendors-2"),
            ("staff", 1, "p-staff-2"),
            ("monitoring", 2, "p-monitoring-2"),
        ]
    );
    assert!(d.clauses_changed.is_empty());

    // Proposals: all made after the first adoption; p-coverage-1/2 did not change.
    let proposals: Vec<(&str, Option<ProposalStatus>, ProposalStatus)> = d
        .proposals
        .iter()
        .map(|p| (p.proposal_id.as_str(), p.from, p.to))
        .collect();
    use ProposalStatus::*;
    assert_eq!(
        proposals,
        [
            ("p-tariff-1", None, Superseded),
            ("p-tariff-2", None, Adopted),
            ("p-vendors-1", None, Superseded),
            ("p-vendors-2", None, Adopted),
            ("p-staff-1", None, Withdrawn),
            ("p-staff-2", None, Adopted),
            ("p-monitoring-1", None, Adopted),
            ("p-monitoring-2", None, Adopted),
        ]
    );

    // Objections: five raised after it, all moot by the end; the two on coverage
    // (moot and withdrawn by then) did not change.
    let objections: Vec<(&str, Option<ObjectionStatus>, ObjectionStatus)> = d
        .objections
        .iter()
        .map(|o| (o.objection_id.as_str(), o.from, o.to))
        .collect();
    assert_eq!(
        objections,
        [
            ("o-tariff-indexation", None, ObjectionStatus::Moot),
            ("o-tariff-level", None, ObjectionStatus::Moot),
            ("o-vendors-exclusivity", None, ObjectionStatus::Moot),
            ("o-vendors-quality", None, ObjectionStatus::Moot),
            ("o-staff-terms", None, ObjectionStatus::Moot),
        ]
    );

    // Commitments: eight made (c-oba-connections came before), one withdrawn.
    let made: Vec<(&str, CommitmentStatus)> = d
        .commitments_made
        .iter()
        .map(|k| (k.commitment_id.as_str(), k.status))
        .collect();
    use CommitmentStatus::{Active, Withdrawn as Gone};
    assert_eq!(
        made,
        [
            ("c-aquaglobal-capex", Active),
            ("c-lcc-sites", Active),
            ("c-civil-trenching", Gone),
            ("c-kiosk-operations", Active),
            ("c-nwrb-testing", Active),
            ("c-cwt-liaison", Active),
            ("c-civil-trenching-2", Active),
            ("c-mwu-training", Active),
        ]
    );
    let withdrawn: Vec<&str> = d
        .commitments_withdrawn
        .iter()
        .map(|k| k.commitment_id.as_str())
        .collect();
    assert_eq!(withdrawn, ["c-civil-trenching"]);

    // Signatures: five at version 15, made stale by the union's late commitment, then
    // all seven signatories at version 16.
    let sig =
        |s: &roundtable_domain::view::Signature| (s.partner_id.to_string(), s.agreement_version);
    let gained: Vec<(String, u64)> = d.signatures_gained.iter().map(sig).collect();
    let first_five = [
        "lcc",
        "aquaglobal",
        "lakeside-civil",
        "kiosk-assoc",
        "clean-water-trust",
    ];
    let mut expected: Vec<(String, u64)> =
        first_five.iter().map(|p| ((*p).to_owned(), 15)).collect();
    expected.extend(
        first_five
            .iter()
            .chain(&["settlements-fed", "mwu"])
            .map(|p| ((*p).to_owned(), 16)),
    );
    assert_eq!(gained, expected);
    let stale: Vec<(String, u64)> = d.signatures_made_stale.iter().map(sig).collect();
    assert_eq!(stale, expected[..5]);

    let text = d.to_text();
    for needle in [
        "version 24 -> 84 (agreement version 2 -> 16)",
        "status: open -> concluded",
        "clauses added (4):",
        "monitoring v2 (from p-monitoring-2)",
        "p-staff-1 on staff by lcc: new, withdrawn",
        "o-tariff-level on p-tariff-1 by settlements-fed (blocking): new, moot",
        "commitments withdrawn (1):",
        "c-civil-trenching by lakeside-civil (service_delivery, 1150000.00 USD), now withdrawn",
        "signatures made stale (5):",
        "mwu at agreement version 16",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}

#[test]
fn an_amendment_shows_a_word_level_diff_of_the_clause() {
    let (events, _) = lakeside();
    let adoptions: Vec<u64> = events
        .iter()
        .filter(|e| e.event_type() == "proposal_adopted")
        .map(|e| e.version)
        .collect();
    // The last two adoptions: p-monitoring-1, then its amendment p-monitoring-2.
    let [.., first, second] = adoptions[..] else {
        panic!("{adoptions:?}")
    };
    let from = as_of_version(&events, first).unwrap().unwrap();
    let to = as_of_version(&events, second).unwrap().unwrap();
    let d = diff(Some(&from), &to);
    assert!(d.clauses_added.is_empty());
    assert_eq!(d.clauses_changed.len(), 1);
    let c = &d.clauses_changed[0];
    assert_eq!(c.clause_id.as_str(), "monitoring");
    assert_eq!((c.from_version, c.to_version), (1, 2));
    assert_eq!(
        (c.from_adopted_from.as_str(), c.to_adopted_from.as_str()),
        ("p-monitoring-1", "p-monitoring-2")
    );
    let old: String = c
        .words
        .iter()
        .filter(|w| w.op != WordOp::Inserted)
        .map(|w| w.text.as_str())
        .collect();
    let new: String = c
        .words
        .iter()
        .filter(|w| w.op != WordOp::Deleted)
        .map(|w| w.text.as_str())
        .collect();
    assert_eq!(old, from.clauses["monitoring"].text);
    assert_eq!(new, to.clauses["monitoring"].text);
    let inserted: String = c
        .words
        .iter()
        .filter(|w| w.op == WordOp::Inserted)
        .map(|w| w.text.as_str())
        .collect();
    assert!(inserted.contains("regulator"), "{inserted:?}");
    assert!(inserted.contains("publishes"), "{inserted:?}");
    // The words both versions share are not reported as changed.
    let equal: String = c
        .words
        .iter()
        .filter(|w| w.op == WordOp::Equal)
        .map(|w| w.text.as_str())
        .collect();
    assert!(
        equal.starts_with(
            "Ward water committees check kiosk opening hours, prices and queues and report"
        ),
        "{equal:?}"
    );
    assert_eq!(
        d.proposals
            .iter()
            .map(|p| (p.proposal_id.as_str(), p.from, p.to))
            .collect::<Vec<_>>(),
        [("p-monitoring-2", None, ProposalStatus::Adopted)],
        "proposed after p-monitoring-1 was adopted"
    );
    assert!(d.to_text().contains("{+"), "{}", d.to_text());
}

#[test]
fn word_diff_marks_deleted_and_inserted_words() {
    let w = word_diff("pay 60 kiosks now", "pay 120 kiosks now");
    assert_eq!(render_words(&w), "pay [-60-]{+120+} kiosks now");
    assert_eq!(render_words(&word_diff("same", "same")), "same");
}

#[test]
fn a_diff_from_nothing_lists_everything_and_a_view_against_itself_nothing() {
    let (_, views) = lakeside();
    let last = &views[83];
    let d = diff(None, last);
    assert_eq!(d.partners_admitted.len(), 11);
    assert_eq!(d.clauses_added.len(), 5);
    assert_eq!(d.proposals.len(), last.proposals.len());
    assert_eq!(d.signatures_gained.len(), 12);
    let same = diff(Some(last), last);
    assert!(same.is_empty(), "{same:?}");
    assert!(same.to_text().contains("no changes"));
    // It serializes for the HTTP API.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["clauses_added"][0]["clause_id"], "coverage");
}
