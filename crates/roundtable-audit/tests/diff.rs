//! What changed: the sample negotiation (Harbourside) between its first adoption and its
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
    let (events, _) = sample();
    let first_adoption = first_of(&events, "proposal_adopted");
    assert_eq!(
        first_adoption, 23,
        "line 27 of the minutes adopts p-collection-2"
    );
    let from = as_of_version(&events, first_adoption).unwrap().unwrap();
    let to = as_of_version(&events, 73).unwrap().unwrap();
    let d = diff(Some(&from), &to);

    assert_eq!((d.from_version, d.to_version), (23, 73));
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

    // Clauses: three added; collection, agreed at the first adoption, amended to
    // version 2 in between.
    let added: Vec<(&str, u32, &str)> = d
        .clauses_added
        .iter()
        .map(|c| (c.clause_id.as_str(), c.version, c.adopted_from.as_str()))
        .collect();
    assert_eq!(
        added,
        [
            ("pickers", 1, "p-pickers-1"),
            ("workers", 1, "p-workers-2"),
            ("fees", 1, "p-fees-1"),
        ]
    );
    let changed: Vec<(&str, u32, u32, &str, &str)> = d
        .clauses_changed
        .iter()
        .map(|c| {
            (
                c.clause_id.as_str(),
                c.from_version,
                c.to_version,
                c.from_adopted_from.as_str(),
                c.to_adopted_from.as_str(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [("collection", 1, 2, "p-collection-2", "p-collection-3")]
    );

    // Proposals: all made after the first adoption; p-collection-1/2 did not change.
    let proposals: Vec<(&str, Option<ProposalStatus>, ProposalStatus)> = d
        .proposals
        .iter()
        .map(|p| (p.proposal_id.as_str(), p.from, p.to))
        .collect();
    use ProposalStatus::*;
    assert_eq!(
        proposals,
        [
            ("p-pickers-1", None, Adopted),
            ("p-workers-1", None, Withdrawn),
            ("p-workers-2", None, Adopted),
            ("p-fees-1", None, Adopted),
            ("p-collection-3", None, Adopted),
        ]
    );

    // Objections: three raised after it; the three on collection (moot, moot and noted
    // by then) did not change.
    let objections: Vec<(&str, Option<ObjectionStatus>, ObjectionStatus)> = d
        .objections
        .iter()
        .map(|o| (o.objection_id.as_str(), o.from, o.to))
        .collect();
    assert_eq!(
        objections,
        [
            ("o-pickers-offtake", None, ObjectionStatus::Withdrawn),
            ("o-pickers-safety", None, ObjectionStatus::Noted),
            ("o-workers-probation", None, ObjectionStatus::Moot),
        ]
    );

    // Commitments: nine made (c-fund-equipment came before), one withdrawn.
    let made: Vec<(&str, CommitmentStatus)> = d
        .commitments_made
        .iter()
        .map(|k| (k.commitment_id.as_str(), k.status))
        .collect();
    use CommitmentStatus::{Active, Withdrawn as Gone};
    assert_eq!(
        made,
        [
            ("c-clearway-haulage", Gone),
            ("c-hcc-land", Active),
            ("c-epa-depot-licence", Active),
            ("c-fund-protection", Active),
            ("c-coop-sorting", Active),
            ("c-hcc-id-cards", Active),
            ("c-hcc-budget", Active),
            ("c-clearway-haulage-2", Active),
            ("c-union-training", Active),
        ]
    );
    let withdrawn: Vec<&str> = d
        .commitments_withdrawn
        .iter()
        .map(|k| k.commitment_id.as_str())
        .collect();
    assert_eq!(withdrawn, ["c-clearway-haulage"]);

    // Signatures: five at version 15, made stale by the union's late commitment, then
    // all six signatories at version 16.
    let sig =
        |s: &roundtable_domain::view::Signature| (s.partner_id.to_string(), s.agreement_version);
    let gained: Vec<(String, u64)> = d.signatures_gained.iter().map(sig).collect();
    let first_five = ["hcc", "clearway", "pickers-coop", "greenhands", "residents"];
    let mut expected: Vec<(String, u64)> =
        first_five.iter().map(|p| ((*p).to_owned(), 15)).collect();
    expected.extend(
        first_five
            .iter()
            .chain(&["sanitation-union"])
            .map(|p| ((*p).to_owned(), 16)),
    );
    assert_eq!(gained, expected);
    let stale: Vec<(String, u64)> = d.signatures_made_stale.iter().map(sig).collect();
    assert_eq!(stale, expected[..5]);

    let text = d.to_text();
    for needle in [
        "version 23 -> 73 (agreement version 2 -> 16)",
        "status: open -> concluded",
        "clauses added (3):",
        "fees v1 (from p-fees-1)",
        "clauses changed (1):",
        "collection v1 -> v2 (p-collection-2 -> p-collection-3)",
        "p-workers-1 on workers by clearway: new, withdrawn",
        "o-workers-probation on p-workers-1 by sanitation-union (blocking): new, moot",
        "commitments withdrawn (1):",
        "c-clearway-haulage by clearway (service_delivery, 1480000.00 USD), now withdrawn",
        "signatures made stale (5):",
        "sanitation-union at agreement version 16",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}

#[test]
fn an_amendment_shows_a_word_level_diff_of_the_clause() {
    let (events, _) = sample();
    let adoptions: Vec<u64> = events
        .iter()
        .filter(|e| e.event_type() == "proposal_adopted")
        .map(|e| e.version)
        .collect();
    // The last two adoptions: p-fees-1, then p-collection-3, which amends collection
    // (agreed at version 1 from p-collection-2).
    let [.., first, second] = adoptions[..] else {
        panic!("{adoptions:?}")
    };
    let from = as_of_version(&events, first).unwrap().unwrap();
    let to = as_of_version(&events, second).unwrap().unwrap();
    let d = diff(Some(&from), &to);
    assert!(d.clauses_added.is_empty());
    assert_eq!(d.clauses_changed.len(), 1);
    let c = &d.clauses_changed[0];
    assert_eq!(c.clause_id.as_str(), "collection");
    assert_eq!((c.from_version, c.to_version), (1, 2));
    assert_eq!(
        (c.from_adopted_from.as_str(), c.to_adopted_from.as_str()),
        ("p-collection-2", "p-collection-3")
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
    assert_eq!(old, from.clauses["collection"].text);
    assert_eq!(new, to.clauses["collection"].text);
    let inserted: String = c
        .words
        .iter()
        .filter(|w| w.op == WordOp::Inserted)
        .map(|w| w.text.as_str())
        .collect();
    assert!(inserted.contains("November"), "{inserted:?}");
    assert!(inserted.contains("March"), "{inserted:?}");
    // The words both versions share are not reported as changed.
    let equal: String = c
        .words
        .iter()
        .filter(|w| w.op == WordOp::Equal)
        .map(|w| w.text.as_str())
        .collect();
    assert!(
        equal.starts_with(
            "Cooperative members collect bagged household waste door to door with handcarts"
        ),
        "{equal:?}"
    );
    assert_eq!(
        d.proposals
            .iter()
            .map(|p| (p.proposal_id.as_str(), p.from, p.to))
            .collect::<Vec<_>>(),
        [("p-collection-3", None, ProposalStatus::Adopted)],
        "proposed after p-fees-1 was adopted"
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
    let (_, views) = sample();
    let last = &views[72];
    let d = diff(None, last);
    assert_eq!(d.partners_admitted.len(), 9);
    assert_eq!(d.clauses_added.len(), 4);
    assert_eq!(d.proposals.len(), last.proposals.len());
    assert_eq!(d.signatures_gained.len(), 11);
    let same = diff(Some(last), last);
    assert!(same.is_empty(), "{same:?}");
    assert!(same.to_text().contains("no changes"));
    // It serializes for the HTTP API.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["clauses_added"][0]["clause_id"], "collection");
}
