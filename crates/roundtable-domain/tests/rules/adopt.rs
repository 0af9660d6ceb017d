//! `adopt`: who may, when, and its effects (DOMAIN.md, "`adopt` effects").

use roundtable_domain::view::{ObjectionStatus, ProposalStatus};
use roundtable_domain::vocab::DecisionRule;
use roundtable_domain::{CommandEnvelope, RejectionKind};

use crate::common::*;

/// The consent table with `p-1` open on clause `tariff` and endorsed by `city`.
fn endorsed() -> Vec<CommandEnvelope> {
    let mut cmds = table(DecisionRule::Consent);
    cmds.extend([
        propose_text("operator", "p-1", "tariff", "lifeline tariff"),
        endorse("city", "p-1"),
    ]);
    cmds
}

#[test]
fn adopt_agrees_the_clause_at_version_1() {
    let (e, accepted) = then_event!(given(endorsed()).when(adopt("p-1")), ProposalAdopted);
    assert_eq!(e.proposal_id, pid("p-1"));
    assert_eq!(e.clause_id, cid("tariff"));
    assert_eq!(e.clause_version, 1);
    assert_eq!(e.agreement_version, 1);
    assert!(e.superseded.is_empty() && e.mooted_objections.is_empty());
    assert!(e.noted_objections.is_empty());
    let v = accepted.view;
    let clause = &v.clauses["tariff"];
    assert_eq!(clause.version, 1);
    assert_eq!(clause.text, "lifeline tariff");
    assert_eq!(clause.adopted_from, pid("p-1"));
    assert_eq!(v.proposals["p-1"].status, ProposalStatus::Adopted);
    assert_eq!(v.agreement_version, 1);
}

#[test]
fn a_second_adoption_on_the_clause_is_version_2_and_replaces_the_text() {
    let given_amendment = given(endorsed()).and([
        adopt("p-1"),
        propose_text("union", "p-2", "tariff", "lifeline tariff, indexed"),
        endorse("union", "p-2"),
    ]);
    let (e, accepted) = then_event!(given_amendment.when(adopt("p-2")), ProposalAdopted);
    assert_eq!(e.clause_version, 2);
    assert_eq!(e.agreement_version, 2);
    let v = accepted.view;
    assert_eq!(v.proposals["p-2"].amends_version, Some(1));
    let clause = &v.clauses["tariff"];
    assert_eq!(
        (
            clause.version,
            clause.text.as_str(),
            clause.adopted_from.as_str()
        ),
        (2, "lifeline tariff, indexed", "p-2")
    );
    assert_eq!(
        v.proposals["p-1"].status,
        ProposalStatus::Adopted,
        "the earlier proposal stays adopted"
    );
    assert_eq!(v.clauses.len(), 1);
}

#[test]
fn clauses_keep_the_order_they_were_first_agreed() {
    let (_, accepted) = then_event!(
        given(endorsed())
            .and([
                adopt("p-1"),
                propose("city", "p-staff", "staff"),
                endorse("city", "p-staff"),
                adopt("p-staff"),
                propose("city", "p-1b", "tariff"),
                endorse("city", "p-1b"),
            ])
            .when(adopt("p-1b")),
        ProposalAdopted
    );
    let order: Vec<&str> = accepted.view.clauses.keys().map(|c| c.as_str()).collect();
    assert_eq!(order, ["tariff", "staff"]);
}

#[test]
fn adopt_supersedes_other_open_proposals_on_the_clause_and_moots_their_objections() {
    let (e, accepted) = then_event!(
        given(endorsed())
            .and([
                propose("city", "p-2", "tariff"),
                object("union", "o-2", "p-2", true),
                object("ngo", "o-2b", "p-2", false),
                object("operator", "o-2c", "p-2", true),
                withdraw_objection("operator", "o-2c"),
                propose("union", "p-3", "tariff"),
                propose("union", "p-gone", "tariff"),
                withdraw_proposal("union", "p-gone"),
                propose("union", "p-staff", "staff"),
                object("operator", "o-staff", "p-staff", true),
            ])
            .when(adopt("p-1")),
        ProposalAdopted
    );
    assert_eq!(e.superseded, [pid("p-2"), pid("p-3")]);
    assert_eq!(e.mooted_objections, [oid("o-2"), oid("o-2b")]);
    let v = accepted.view;
    assert_eq!(v.proposals["p-2"].status, ProposalStatus::Superseded);
    assert_eq!(v.proposals["p-3"].status, ProposalStatus::Superseded);
    assert_eq!(v.proposals["p-gone"].status, ProposalStatus::Withdrawn);
    assert_eq!(v.proposals["p-staff"].status, ProposalStatus::Open);
    assert_eq!(v.objections["o-2"].status, ObjectionStatus::Moot);
    assert_eq!(v.objections["o-2b"].status, ObjectionStatus::Moot);
    assert_eq!(v.objections["o-2c"].status, ObjectionStatus::Withdrawn);
    assert_eq!(v.objections["o-staff"].status, ObjectionStatus::Open);
}

#[test]
fn adopt_notes_the_concerns_on_the_adopted_proposal() {
    let (e, accepted) = then_event!(
        given(endorsed())
            .and([
                object("ngo", "o-concern", "p-1", false),
                object("union", "o-mild", "p-1", false),
                object("kiosks", "o-gone", "p-1", false),
                withdraw_objection("kiosks", "o-gone"),
            ])
            .when(adopt("p-1")),
        ProposalAdopted
    );
    assert_eq!(e.noted_objections, [oid("o-concern"), oid("o-mild")]);
    let v = accepted.view;
    assert_eq!(v.objections["o-concern"].status, ObjectionStatus::Noted);
    assert_eq!(v.objections["o-mild"].status, ObjectionStatus::Noted);
    assert_eq!(v.objections["o-gone"].status, ObjectionStatus::Withdrawn);
}

#[test]
fn agreement_version_goes_up_by_one_per_adoption() {
    let (e, accepted) = then_event!(
        given(agreed())
            .and([
                propose("union", "p-staff", "staff"),
                endorse("union", "p-staff"),
            ])
            .when(adopt("p-staff")),
        ProposalAdopted
    );
    assert_eq!(accepted.before.unwrap().agreement_version, 1);
    assert_eq!(e.agreement_version, 2);
    assert_eq!(accepted.view.agreement_version, 2);
}

#[test]
fn only_the_secretariat_adopts() {
    for by in ["city", "stranger"] {
        let r = given(endorsed())
            .when(adopt("p-1").by(by))
            .rejected(RejectionKind::Forbidden, "secretariat_only");
        assert!(r.message.contains(by), "{}", r.message);
    }
}

#[test]
fn adopt_needs_an_existing_open_proposal() {
    let r = given(endorsed())
        .when(adopt("p-none"))
        .rejected(RejectionKind::NotFound, "proposal_not_found");
    assert!(r.message.contains("p-none"), "{}", r.message);
    given(endorsed())
        .and([adopt("p-1")])
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    given(endorsed())
        .and([withdraw_proposal("operator", "p-1")])
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    given(endorsed())
        .and([
            propose("union", "p-2", "tariff"),
            endorse("union", "p-2"),
            adopt("p-1"),
        ])
        .when(adopt("p-2"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
}

#[test]
fn an_open_blocking_objection_prevents_adoption() {
    for rule in [
        DecisionRule::Consent,
        DecisionRule::CrossSectorConsent,
        DecisionRule::Unanimity,
    ] {
        // Everyone but the objector endorses; the objector blocks.
        let r = given(table(rule))
            .and([
                propose("city", "p-1", "tariff"),
                endorse("city", "p-1"),
                endorse("operator", "p-1"),
                object("union", "o-block", "p-1", true),
            ])
            .when(adopt("p-1"))
            .rejected(RejectionKind::Conflict, "blocking_objection_open");
        assert!(
            r.message.contains("p-1")
                && r.message.contains("o-block")
                && r.message.contains("union"),
            "{rule}: {}",
            r.message
        );
    }
}

#[test]
fn adoption_goes_ahead_once_the_blocking_objection_is_withdrawn() {
    given(endorsed())
        .and([
            object("union", "o-block", "p-1", true),
            withdraw_objection("union", "o-block"),
        ])
        .when(adopt("p-1"))
        .accepted();
}

#[test]
fn a_blocking_objection_on_another_proposal_does_not_prevent_adoption() {
    given(endorsed())
        .and([
            propose("union", "p-2", "tariff"),
            object("union", "o-block", "p-2", true),
        ])
        .when(adopt("p-1"))
        .accepted();
}
