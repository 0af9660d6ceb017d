//! `propose` and `withdraw_proposal`.

use roundtable_domain::view::{ObjectionStatus, ProposalStatus};
use roundtable_domain::vocab::DecisionRule;
use roundtable_domain::{Command, MAX_TEXT_CHARS, RejectionKind};

use crate::common::*;

fn consent() -> Vec<roundtable_domain::CommandEnvelope> {
    table(DecisionRule::Consent)
}

#[test]
fn propose_opens_a_proposal_by_its_proposer() {
    let (e, accepted) = then_event!(
        given(consent()).when(propose_text(
            "union",
            "p-staff",
            "staff",
            "keep every worker"
        )),
        ProposalMade
    );
    assert_eq!(e.proposal_id, pid("p-staff"));
    assert_eq!(e.clause_id, cid("staff"));
    assert_eq!(e.text, "keep every worker");
    assert_eq!(e.amends_version, None, "a first proposal is no amendment");
    assert_eq!(accepted.event.actor.as_str(), "union");
    let p = &accepted.view.proposals["p-staff"];
    assert_eq!(p.status, ProposalStatus::Open);
    assert_eq!(p.proposed_by, partner("union"));
    assert!(p.endorsed_by.is_empty());
    assert!(
        accepted.view.clauses.is_empty(),
        "proposing agrees nothing yet"
    );
}

#[test]
fn an_observer_may_propose() {
    then_event!(
        given(consent()).when(propose("kiosks", "p-kiosks", "tariff")),
        ProposalMade
    );
}

#[test]
fn propose_keeps_title_and_rationale() {
    let mut c = propose("city", "p-1", "tariff");
    if let Command::Propose(p) = &mut c.command {
        p.title = Some("Lifeline tariff".into());
        p.rationale = Some("the poorest pay least".into());
    }
    let (e, accepted) = then_event!(given(consent()).when(c), ProposalMade);
    assert_eq!(e.title.as_deref(), Some("Lifeline tariff"));
    assert_eq!(e.rationale.as_deref(), Some("the poorest pay least"));
    assert_eq!(
        accepted.view.proposals["p-1"].title.as_deref(),
        Some("Lifeline tariff")
    );
}

#[test]
fn propose_on_an_agreed_clause_is_an_amendment_of_its_version() {
    let (e, _) = then_event!(
        given(agreed()).when(propose("union", "p-tariff-2", "tariff")),
        ProposalMade
    );
    assert_eq!(e.amends_version, Some(1));
    let (e, accepted) = then_event!(
        given(agreed())
            .and([
                propose("union", "p-tariff-2", "tariff"),
                endorse("union", "p-tariff-2"),
                adopt("p-tariff-2"),
            ])
            .when(propose("operator", "p-tariff-3", "tariff")),
        ProposalMade
    );
    assert_eq!(e.amends_version, Some(2));
    assert_eq!(
        accepted.view.proposals["p-tariff-3"].amends_version,
        Some(2)
    );
    // Another clause is not amended.
    let (e, _) = then_event!(
        given(agreed()).when(propose("union", "p-staff", "staff")),
        ProposalMade
    );
    assert_eq!(e.amends_version, None);
}

#[test]
fn propose_is_for_admitted_partners_only() {
    let r = given(consent())
        .when(propose("stranger", "p-1", "tariff"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
    assert!(r.message.contains("stranger"), "{}", r.message);
    given(consent())
        .when(propose("city", "p-1", "tariff").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
}

#[test]
fn a_proposal_id_is_used_once() {
    let r = given(consent())
        .and([propose("city", "p-1", "tariff")])
        .when(propose("union", "p-1", "staff"))
        .rejected(RejectionKind::Conflict, "proposal_exists");
    assert!(r.message.contains("p-1"), "{}", r.message);
    // Even once the first is withdrawn.
    given(consent())
        .and([
            propose("city", "p-1", "tariff"),
            withdraw_proposal("city", "p-1"),
        ])
        .when(propose("city", "p-1", "tariff"))
        .rejected(RejectionKind::Conflict, "proposal_exists");
}

#[test]
fn proposal_text_is_1_to_20000_characters() {
    assert_eq!(MAX_TEXT_CHARS, 20_000);
    for blank in ["", " ", "\n\t "] {
        let r = given(consent())
            .when(propose_text("city", "p-1", "tariff", blank))
            .rejected(RejectionKind::Invalid, "blank_field");
        assert!(r.message.contains("text"), "{}", r.message);
    }
    given(consent())
        .when(propose_text("city", "p-1", "tariff", "x"))
        .accepted();
    let (e, _) = then_event!(
        given(consent()).when(propose_text("city", "p-1", "tariff", &"x".repeat(20_000))),
        ProposalMade
    );
    assert_eq!(e.text.len(), 20_000);
    let r = given(consent())
        .when(propose_text("city", "p-1", "tariff", &"x".repeat(20_001)))
        .rejected(RejectionKind::Invalid, "field_too_long");
    assert!(r.message.contains("20001"), "{}", r.message);
}

#[test]
fn proposal_text_is_counted_in_characters_not_bytes() {
    // 20,000 two-byte characters are 40,000 bytes and still within the limit.
    given(consent())
        .when(propose_text("city", "p-1", "tariff", &"é".repeat(20_000)))
        .accepted();
    given(consent())
        .when(propose_text("city", "p-1", "tariff", &"é".repeat(20_001)))
        .rejected(RejectionKind::Invalid, "field_too_long");
}

#[test]
fn a_blank_title_is_refused() {
    let mut c = propose("city", "p-1", "tariff");
    if let Command::Propose(p) = &mut c.command {
        p.title = Some("  ".into());
    }
    given(consent())
        .when(c)
        .rejected(RejectionKind::Invalid, "blank_field");
}

#[test]
fn withdraw_proposal_moots_its_open_objections() {
    let (e, accepted) = then_event!(
        given(consent())
            .and([
                propose("city", "p-1", "tariff"),
                object("union", "o-block", "p-1", true),
                object("ngo", "o-concern", "p-1", false),
                object("operator", "o-gone", "p-1", true),
                withdraw_objection("operator", "o-gone"),
                propose("city", "p-2", "tariff"),
                object("union", "o-other", "p-2", true),
            ])
            .when(withdraw_proposal("city", "p-1")),
        ProposalWithdrawn
    );
    assert_eq!(e.proposal_id, pid("p-1"));
    assert_eq!(e.mooted_objections, [oid("o-block"), oid("o-concern")]);
    let v = accepted.view;
    assert_eq!(v.proposals["p-1"].status, ProposalStatus::Withdrawn);
    assert_eq!(v.objections["o-block"].status, ObjectionStatus::Moot);
    assert_eq!(v.objections["o-concern"].status, ObjectionStatus::Moot);
    assert_eq!(
        v.objections["o-gone"].status,
        ObjectionStatus::Withdrawn,
        "a withdrawn objection stays withdrawn"
    );
    assert_eq!(
        v.objections["o-other"].status,
        ObjectionStatus::Open,
        "objections on other proposals are untouched"
    );
    assert_eq!(v.proposals["p-2"].status, ProposalStatus::Open);
    assert_eq!(v.agreement_version, 0, "withdrawing changes no agreed text");
}

#[test]
fn only_the_proposer_withdraws_a_proposal() {
    let r = given(consent())
        .and([propose("city", "p-1", "tariff")])
        .when(withdraw_proposal("union", "p-1"))
        .rejected(RejectionKind::Forbidden, "not_proposer");
    assert!(
        r.message.contains("p-1") && r.message.contains("city"),
        "{}",
        r.message
    );
    given(consent())
        .and([propose("city", "p-1", "tariff")])
        .when(withdraw_proposal("city", "p-1").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
    given(consent())
        .and([propose("city", "p-1", "tariff")])
        .when(withdraw_proposal("stranger", "p-1"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
}

#[test]
fn withdraw_proposal_needs_an_existing_open_proposal() {
    let r = given(consent())
        .when(withdraw_proposal("city", "p-none"))
        .rejected(RejectionKind::NotFound, "proposal_not_found");
    assert!(r.message.contains("p-none"), "{}", r.message);
    let r = given(consent())
        .and([
            propose("city", "p-1", "tariff"),
            withdraw_proposal("city", "p-1"),
        ])
        .when(withdraw_proposal("city", "p-1"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    assert!(
        r.message.contains("p-1") && r.message.contains("withdrawn"),
        "{}",
        r.message
    );
    given(agreed())
        .when(withdraw_proposal("city", "p-tariff"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
}

#[test]
fn control_characters_are_refused_but_line_breaks_and_tabs_are_kept() {
    let r = given(consent())
        .when(propose_text(
            "city",
            "p-1",
            "tariff",
            "Clear \u{1b}[2J the screen",
        ))
        .rejected(RejectionKind::Invalid, "control_character");
    assert!(r.message.contains("U+001B"), "{}", r.message);
    given(consent())
        .when(propose_text(
            "city",
            "p-1",
            "tariff",
            "First paragraph.\r\n\tSecond paragraph.",
        ))
        .accepted();
}
