//! `endorse` and `retract_endorsement`.

use roundtable_domain::vocab::DecisionRule;
use roundtable_domain::{CommandEnvelope, RejectionKind};

use crate::common::*;

/// The consent table with `p-1` open on clause `tariff`, proposed by `city`.
fn proposed() -> Vec<CommandEnvelope> {
    let mut cmds = table(DecisionRule::Consent);
    cmds.push(propose("city", "p-1", "tariff"));
    cmds
}

#[test]
fn endorse_records_the_endorser() {
    let (e, accepted) = then_event!(
        given(proposed())
            .and([endorse("union", "p-1")])
            .when(endorse("city", "p-1")),
        ProposalEndorsed
    );
    assert_eq!(e.proposal_id, pid("p-1"));
    assert_eq!(accepted.event.actor.as_str(), "city");
    let endorsers: Vec<&str> = accepted.view.proposals["p-1"]
        .endorsed_by
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(endorsers, ["union", "city"], "in the order they endorsed");
}

#[test]
fn an_observer_may_endorse() {
    let (_, accepted) = then_event!(
        given(proposed()).when(endorse("ngo", "p-1")),
        ProposalEndorsed
    );
    assert!(accepted.view.proposals["p-1"].endorsed_by.contains("ngo"));
}

#[test]
fn endorse_is_for_admitted_partners_only() {
    let r = given(proposed())
        .when(endorse("stranger", "p-1"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
    assert!(r.message.contains("stranger"), "{}", r.message);
    given(proposed())
        .when(endorse("city", "p-1").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
}

#[test]
fn endorse_needs_an_existing_open_proposal() {
    let r = given(proposed())
        .when(endorse("city", "p-none"))
        .rejected(RejectionKind::NotFound, "proposal_not_found");
    assert!(r.message.contains("p-none"), "{}", r.message);
    // Withdrawn, adopted, superseded.
    given(proposed())
        .and([withdraw_proposal("city", "p-1")])
        .when(endorse("union", "p-1"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    given(agreed())
        .when(endorse("union", "p-tariff"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    let r = given(proposed())
        .and([
            propose("union", "p-2", "tariff"),
            endorse("city", "p-1"),
            adopt("p-1"),
        ])
        .when(endorse("operator", "p-2"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    assert!(
        r.message.contains("p-2") && r.message.contains("superseded"),
        "{}",
        r.message
    );
}

#[test]
fn a_partner_endorses_a_proposal_once() {
    let r = given(proposed())
        .and([endorse("union", "p-1")])
        .when(endorse("union", "p-1"))
        .rejected(RejectionKind::Conflict, "already_endorsed");
    assert!(
        r.message.contains("union") && r.message.contains("p-1"),
        "{}",
        r.message
    );
}

#[test]
fn endorse_after_retracting_is_accepted_again() {
    given(proposed())
        .and([endorse("union", "p-1"), retract("union", "p-1")])
        .when(endorse("union", "p-1"))
        .accepted();
}

#[test]
fn a_partner_holding_an_open_objection_cannot_endorse() {
    for blocking in [true, false] {
        let r = given(proposed())
            .and([object("union", "o-1", "p-1", blocking)])
            .when(endorse("union", "p-1"))
            .rejected(RejectionKind::Conflict, "objection_open");
        assert!(r.message.contains("o-1"), "{}", r.message);
    }
    // Another partner's objection does not stop it.
    given(proposed())
        .and([object("union", "o-1", "p-1", true)])
        .when(endorse("operator", "p-1"))
        .accepted();
    // An objection on another proposal does not stop it.
    given(proposed())
        .and([
            propose("operator", "p-2", "staff"),
            object("union", "o-2", "p-2", true),
        ])
        .when(endorse("union", "p-1"))
        .accepted();
}

#[test]
fn endorse_once_the_objection_is_withdrawn() {
    given(proposed())
        .and([
            object("union", "o-1", "p-1", true),
            withdraw_objection("union", "o-1"),
        ])
        .when(endorse("union", "p-1"))
        .accepted();
}

#[test]
fn retract_endorsement_removes_the_endorser() {
    let (e, accepted) = then_event!(
        given(proposed())
            .and([endorse("union", "p-1"), endorse("city", "p-1")])
            .when(retract("union", "p-1")),
        EndorsementRetracted
    );
    assert_eq!(e.proposal_id, pid("p-1"));
    let endorsers: Vec<&str> = accepted.view.proposals["p-1"]
        .endorsed_by
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(endorsers, ["city"]);
}

#[test]
fn retract_without_endorsement_is_a_conflict() {
    let r = given(proposed())
        .when(retract("union", "p-1"))
        .rejected(RejectionKind::Conflict, "not_endorsed");
    assert!(
        r.message.contains("union") && r.message.contains("p-1"),
        "{}",
        r.message
    );
    // Someone else's endorsement is not the retracting partner's.
    given(proposed())
        .and([endorse("city", "p-1")])
        .when(retract("union", "p-1"))
        .rejected(RejectionKind::Conflict, "not_endorsed");
    // Retracting twice.
    given(proposed())
        .and([endorse("union", "p-1"), retract("union", "p-1")])
        .when(retract("union", "p-1"))
        .rejected(RejectionKind::Conflict, "not_endorsed");
}

#[test]
fn retract_needs_an_existing_open_proposal() {
    let r = given(proposed())
        .when(retract("city", "p-none"))
        .rejected(RejectionKind::NotFound, "proposal_not_found");
    assert!(r.message.contains("p-none"), "{}", r.message);
    given(agreed())
        .when(retract("city", "p-tariff"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    given(proposed())
        .and([endorse("union", "p-1"), withdraw_proposal("city", "p-1")])
        .when(retract("union", "p-1"))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
}

#[test]
fn retract_is_for_admitted_partners_only() {
    given(proposed())
        .when(retract("stranger", "p-1"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
    given(proposed())
        .when(retract("city", "p-1").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
}
