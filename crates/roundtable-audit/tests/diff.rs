//! What changed: the sample negotiation (Harbourside) between its first adoption and its
//! conclusion, spelt out from the minutes; an amendment's word-level diff.

#[path = "common/mod.rs"]
mod common;

use roundtable_audit::diff::{WordOp, render_words, word_diff};
use roundtable_audit::{as_of_version, diff};
use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, ProposalStatus, RoundStatus,
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

/// The versions of every event of `event_type`, in order.
fn versions_of(events: &[roundtable_domain::RecordedEvent], event_type: &str) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.event_type() == event_type)
        .map(|e| e.version)
        .collect()
}

#[test]
fn fieldbrook_after_the_signature_delivery_shortfalls_and_a_partner_leaving() {
    use roundtable_domain::view::ShortfallStatus;
    let (events, views) = fieldbrook();
    assert_eq!(events.len(), 87);
    let concluded = versions_of(&events, "negotiation_concluded");
    let opened = versions_of(&events, "round_opened");
    assert_eq!(
        (concluded.as_slice(), opened.as_slice()),
        (&[53, 86][..], &[73][..])
    );
    // From the first conclusion to the eve of the round: two years of service.
    let from = &views[52];
    let to = &views[71];
    let d = diff(Some(from), to);
    assert_eq!(d.status, None, "concluded before and after");
    assert_eq!(
        d.in_force_agreement_version, None,
        "no conclusion in between"
    );
    assert!(d.rounds.is_empty());
    assert!(
        d.assets_declared.is_empty(),
        "declared before the conclusion"
    );

    // Seven progress reports, in the order of the commitments, with their amounts.
    let progress: Vec<(&str, &str, Option<&str>, String)> = d
        .progress_reported
        .iter()
        .map(|p| {
            (
                p.commitment_id.as_str(),
                p.partner_id.as_str(),
                p.delivered.as_ref().map(|a| a.value.as_str()),
                p.at.format("%Y-%m-%d").to_string(),
            )
        })
        .collect();
    assert_eq!(
        progress,
        [
            (
                "c-fbc-subsidy",
                "fbc",
                Some("1800000.00"),
                "2028-10-03".into()
            ),
            (
                "c-brookline-tankers",
                "brookline",
                Some("400000.00"),
                "2028-04-30".into()
            ),
            (
                "c-brookline-tankers",
                "brookline",
                Some("900000.00"),
                "2029-03-01".into()
            ),
            ("c-brookline-plant", "brookline", None, "2028-07-15".into()),
            ("c-emptiers-crews", "emptiers", None, "2029-01-15".into()),
            (
                "c-hillside-reports",
                "hillside-cbo",
                None,
                "2028-07-10".into()
            ),
            (
                "c-aquafund-grant",
                "aquafund",
                Some("600000.00"),
                "2028-01-25".into()
            ),
        ]
    );
    assert_eq!(
        d.progress_reported[5].reported_by.to_string(),
        "secretariat",
        "the secretariat reported for the toilet committees"
    );

    // Four fulfilled, one of them (the drying beds) after its due date.
    let fulfilled: Vec<(&str, String, Option<String>)> = d
        .commitments_fulfilled
        .iter()
        .map(|k| {
            (
                k.commitment_id.as_str(),
                k.fulfilled_on.to_string(),
                k.due.map(|d| d.to_string()),
            )
        })
        .collect();
    assert_eq!(
        fulfilled,
        [
            ("c-fbc-site", "2028-03-27".into(), Some("2028-03-31".into())),
            (
                "c-brookline-plant",
                "2028-08-29".into(),
                Some("2028-06-30".into())
            ),
            (
                "c-aquafund-grant",
                "2028-02-18".into(),
                Some("2028-01-31".into())
            ),
            (
                "c-wsra-licence",
                "2027-12-14".into(),
                Some("2027-12-31".into())
            ),
        ]
    );

    // Brookline left; its tankers passed to the Emptiers' Association.
    let transferred: Vec<(&str, &str, &str, Option<&str>)> = d
        .commitments_transferred
        .iter()
        .map(|k| {
            (
                k.commitment_id.as_str(),
                k.from_partner_id.as_str(),
                k.to_commitment_id.as_str(),
                k.to_partner_id.as_ref().map(|p| p.as_str()),
            )
        })
        .collect();
    assert_eq!(
        transferred,
        [(
            "c-brookline-tankers",
            "brookline",
            "c-emptiers-tankers",
            Some("emptiers")
        )]
    );
    let made: Vec<(&str, &str, CommitmentStatus)> = d
        .commitments_made
        .iter()
        .map(|k| (k.commitment_id.as_str(), k.partner_id.as_str(), k.status))
        .collect();
    assert_eq!(
        made,
        [("c-emptiers-tankers", "emptiers", CommitmentStatus::Active)]
    );
    assert!(
        d.commitments_withdrawn.is_empty(),
        "transferred or fulfilled, none withdrawn"
    );
    let left: Vec<&str> = d
        .partners_withdrawn
        .iter()
        .map(|p| p.partner_id.as_str())
        .collect();
    assert_eq!(left, ["brookline"]);
    assert_eq!(
        d.partners_withdrawn[0].name,
        "Brookline Sanitation Services Ltd"
    );

    // Four shortfalls reported; three resolved, two with a penalty.
    let reported: Vec<(&str, &str, &str, ShortfallStatus)> = d
        .shortfalls_reported
        .iter()
        .map(|s| {
            (
                s.shortfall_id.as_str(),
                s.reported_by.as_str(),
                s.severity.as_str(),
                s.status,
            )
        })
        .collect();
    assert_eq!(
        reported,
        [
            (
                "s-ferry-row-wait",
                "hillside-cbo",
                "major",
                ShortfallStatus::Resolved
            ),
            (
                "s-plant-late",
                "consumers",
                "critical",
                ShortfallStatus::Resolved
            ),
            (
                "s-subsidy-late",
                "consumers",
                "minor",
                ShortfallStatus::Open
            ),
            (
                "s-tanker-fees",
                "consumers",
                "major",
                ShortfallStatus::Resolved
            ),
        ]
    );
    let resolved: Vec<(&str, Option<&str>)> = d
        .shortfalls_resolved
        .iter()
        .map(|s| {
            (
                s.shortfall_id.as_str(),
                s.penalty.as_ref().map(|a| a.value.as_str()),
            )
        })
        .collect();
    assert_eq!(
        resolved,
        [
            ("s-ferry-row-wait", Some("25000.00")),
            ("s-plant-late", Some("60000.00")),
            ("s-tanker-fees", None),
        ]
    );
    assert!(
        d.shortfalls_resolved[2]
            .resolution
            .as_deref()
            .is_some_and(|r| r.contains("refunded")),
        "{:?}",
        d.shortfalls_resolved[2]
    );

    let text = d.to_text();
    for needle in [
        "progress reported (7):",
        "2028-04-30 on c-brookline-tankers by brookline, delivered 400000.00 KES: 1,140 emptyings",
        "commitments fulfilled (4):",
        "c-brookline-plant by brookline on 2028-08-29 (due 2028-06-30)",
        "commitments transferred (1):",
        "c-brookline-tankers of brookline -> c-emptiers-tankers of emptiers",
        "shortfalls reported (4):",
        "s-plant-late on c-brookline-plant by consumers (critical), now resolved, penalty 60000.00 KES",
        "shortfalls resolved (3):",
        "partners withdrawn (1):",
        "brookline (Brookline Sanitation Services Ltd, private_sector, signatory)",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    // The JSON keeps every version 1 field and adds the new ones.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(
        json["commitments_transferred"][0]["to_commitment_id"],
        "c-emptiers-tankers"
    );
    assert_eq!(
        json["shortfalls_resolved"][1]["penalty"]["value"],
        "60000.00"
    );
    assert_eq!(json["in_force_agreement_version"], serde_json::Value::Null);
    assert!(json["clauses_changed"].as_array().unwrap().is_empty());
    let back: roundtable_audit::AgreementDiff = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
}

#[test]
fn fieldbrook_across_the_round_the_tariff_and_the_agreement_in_force() {
    let (events, views) = fieldbrook();
    let view = |v: u64| &views[usize::try_from(v).unwrap() - 1];
    // Opening the round: concluded -> renegotiating, the round open.
    let opening = diff(Some(view(72)), view(73));
    assert_eq!(
        opening.status,
        Some((
            Some(NegotiationStatus::Concluded),
            NegotiationStatus::Renegotiating
        ))
    );
    let rounds: Vec<(&str, Option<RoundStatus>, RoundStatus, Option<u64>)> = opening
        .rounds
        .iter()
        .map(|r| {
            (
                r.round_id.as_str(),
                r.from,
                r.to,
                r.concluded_agreement_version,
            )
        })
        .collect();
    assert_eq!(rounds, [("r-tariff-2029", None, RoundStatus::Open, None)]);
    assert_eq!(
        opening.in_force_agreement_version, None,
        "still the first agreement"
    );
    assert!(
        opening
            .to_text()
            .contains("status: concluded -> renegotiating")
    );

    // The whole round, from its eve to its conclusion.
    let d = diff(Some(view(72)), view(86));
    assert_eq!(d.status, None);
    let in_force_before = view(72).in_force_agreement_version;
    assert_eq!(
        in_force_before,
        Some(12),
        "three clauses and nine commitments"
    );
    assert_eq!(d.in_force_agreement_version, Some((Some(12), Some(15))));
    type Row<'a> = (&'a str, Option<RoundStatus>, RoundStatus, u64, Option<u64>);
    let rounds: Vec<Row> = d
        .rounds
        .iter()
        .map(|r| {
            (
                r.round_id.as_str(),
                r.from,
                r.to,
                r.from_agreement_version,
                r.concluded_agreement_version,
            )
        })
        .collect();
    assert_eq!(
        rounds,
        [("r-tariff-2029", None, RoundStatus::Concluded, 13, Some(15))],
        "opened at 13 (Brookline's leaving changed a commitment), concluded at 15"
    );
    assert_eq!(
        d.clauses_changed
            .iter()
            .map(|c| (c.clause_id.as_str(), c.from_version, c.to_version))
            .collect::<Vec<_>>(),
        [("tariff", 1, 2)]
    );
    let inserted: String = d.clauses_changed[0]
        .words
        .iter()
        .filter(|w| w.op == WordOp::Inserted)
        .map(|w| w.text.as_str())
        .collect();
    assert!(inserted.contains("650"), "{inserted:?}");
    let assets: Vec<(&str, &str)> = d
        .assets_declared
        .iter()
        .map(|a| (a.asset_id.as_str(), a.partner_id.as_str()))
        .collect();
    assert_eq!(assets, [("a-emptiers-tankers", "emptiers")]);
    assert!(d.progress_reported.is_empty() && d.shortfalls_reported.is_empty());
    let text = d.to_text();
    for needle in [
        "agreement version in force: 12 -> 15",
        "rounds (1):",
        "r-tariff-2029 (from agreement version 13): new, concluded at agreement version 15; the lifeline fee",
        "assets declared (1):",
        "a-emptiers-tankers by emptiers (infrastructure): the three tankers",
        "tariff v1 -> v2",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }

    // From the round's opening to its end: the round goes open -> concluded.
    let closing = diff(Some(view(85)), view(86));
    assert_eq!(
        closing
            .rounds
            .iter()
            .map(|r| (r.from, r.to))
            .collect::<Vec<_>>(),
        [(Some(RoundStatus::Open), RoundStatus::Concluded)]
    );
    assert!(
        closing
            .to_text()
            .contains("r-tariff-2029 (from agreement version 13): open -> concluded")
    );

    // After the round: one progress report on the transferred tankers.
    let last = diff(Some(view(86)), view(87));
    assert_eq!(last.progress_reported.len(), 1);
    let p = &last.progress_reported[0];
    assert_eq!(
        (
            p.commitment_id.as_str(),
            p.partner_id.as_str(),
            p.delivered.as_ref().map(|a| a.value.as_str())
        ),
        ("c-emptiers-tankers", "emptiers", Some("150000.00"))
    );
    assert!(!last.is_empty());
    assert!(diff(Some(view(87)), view(87)).is_empty());

    // From nothing: every asset and the partner who left.
    let all = diff(None, view(87));
    assert_eq!(all.assets_declared.len(), 12);
    assert_eq!(all.partners_withdrawn.len(), 1);
    assert_eq!(all.in_force_agreement_version, Some((None, Some(15))));
    assert_eq!(events.len() as u64, view(87).version);
}
