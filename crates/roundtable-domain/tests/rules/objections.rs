//! `object` and `withdraw_objection`.

use roundtable_domain::view::ObjectionStatus;
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
fn a_signatory_raises_a_blocking_objection() {
    let (e, accepted) = then_event!(
        given(proposed()).when(object_on_grounds(
            "union",
            "o-1",
            "p-1",
            true,
            "staff are laid off"
        )),
        ObjectionRaised
    );
    assert_eq!(e.objection_id, oid("o-1"));
    assert_eq!(e.proposal_id, pid("p-1"));
    assert_eq!(e.grounds, "staff are laid off");
    assert!(e.blocking);
    let o = &accepted.view.objections["o-1"];
    assert_eq!(o.status, ObjectionStatus::Open);
    assert_eq!(o.raised_by, partner("union"));
    assert!(o.blocking);
}

#[test]
fn an_observer_raises_a_concern() {
    let (e, accepted) = then_event!(
        given(proposed()).when(object("ngo", "o-1", "p-1", false)),
        ObjectionRaised
    );
    assert!(!e.blocking);
    assert!(!accepted.view.objections["o-1"].blocking);
}

#[test]
fn an_observer_cannot_block() {
    let r = given(proposed())
        .when(object("ngo", "o-1", "p-1", true))
        .rejected(RejectionKind::Forbidden, "observer_cannot_block");
    assert!(r.message.contains("ngo"), "{}", r.message);
}

#[test]
fn a_signatory_may_raise_a_mere_concern() {
    let (e, _) = then_event!(
        given(proposed()).when(object("operator", "o-1", "p-1", false)),
        ObjectionRaised
    );
    assert!(!e.blocking);
}

#[test]
fn object_is_for_admitted_partners_only() {
    let r = given(proposed())
        .when(object("stranger", "o-1", "p-1", false))
        .rejected(RejectionKind::Forbidden, "not_admitted");
    assert!(r.message.contains("stranger"), "{}", r.message);
    given(proposed())
        .when(object("union", "o-1", "p-1", false).by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
}

#[test]
fn object_needs_grounds() {
    for blank in ["", "   "] {
        let r = given(proposed())
            .when(object_on_grounds("union", "o-1", "p-1", true, blank))
            .rejected(RejectionKind::Invalid, "blank_field");
        assert!(r.message.contains("grounds"), "{}", r.message);
    }
    given(proposed())
        .when(object_on_grounds(
            "union",
            "o-1",
            "p-1",
            true,
            &"g".repeat(20_001),
        ))
        .rejected(RejectionKind::Invalid, "field_too_long");
}

#[test]
fn object_needs_an_existing_open_proposal() {
    let r = given(proposed())
        .when(object("union", "o-1", "p-none", true))
        .rejected(RejectionKind::NotFound, "proposal_not_found");
    assert!(r.message.contains("p-none"), "{}", r.message);
    given(proposed())
        .and([withdraw_proposal("city", "p-1")])
        .when(object("union", "o-1", "p-1", true))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
    given(agreed())
        .when(object("union", "o-1", "p-tariff", false))
        .rejected(RejectionKind::Conflict, "proposal_not_open");
}

#[test]
fn an_objection_id_is_used_once() {
    let r = given(proposed())
        .and([object("union", "o-1", "p-1", true)])
        .when(object("operator", "o-1", "p-1", true))
        .rejected(RejectionKind::Conflict, "objection_exists");
    assert!(r.message.contains("o-1"), "{}", r.message);
    // Even once it is withdrawn, and on another proposal.
    given(proposed())
        .and([
            object("union", "o-1", "p-1", true),
            withdraw_objection("union", "o-1"),
            propose("operator", "p-2", "staff"),
        ])
        .when(object("union", "o-1", "p-2", true))
        .rejected(RejectionKind::Conflict, "objection_exists");
}

#[test]
fn a_partner_cannot_object_to_what_it_endorses() {
    let r = given(proposed())
        .and([endorse("union", "p-1")])
        .when(object("union", "o-1", "p-1", false))
        .rejected(RejectionKind::Conflict, "endorsement_held");
    assert!(
        r.message.contains("union") && r.message.contains("p-1"),
        "{}",
        r.message
    );
    // After retracting, it may.
    given(proposed())
        .and([endorse("union", "p-1"), retract("union", "p-1")])
        .when(object("union", "o-1", "p-1", true))
        .accepted();
}

#[test]
fn withdraw_objection_by_the_objector() {
    let (e, accepted) = then_event!(
        given(proposed())
            .and([object("union", "o-1", "p-1", true)])
            .when(withdraw_objection_noting("union", "o-1", Some("answered"))),
        ObjectionWithdrawn
    );
    assert_eq!(e.objection_id, oid("o-1"));
    assert_eq!(e.note.as_deref(), Some("answered"));
    assert_eq!(
        accepted.view.objections["o-1"].status,
        ObjectionStatus::Withdrawn
    );
    // The note is optional.
    let (e, _) = then_event!(
        given(proposed())
            .and([object("union", "o-1", "p-1", true)])
            .when(withdraw_objection("union", "o-1")),
        ObjectionWithdrawn
    );
    assert_eq!(e.note, None);
}

#[test]
fn a_blank_note_is_refused() {
    given(proposed())
        .and([object("union", "o-1", "p-1", true)])
        .when(withdraw_objection_noting("union", "o-1", Some(" ")))
        .rejected(RejectionKind::Invalid, "blank_field");
}

#[test]
fn only_the_objector_withdraws_an_objection() {
    let r = given(proposed())
        .and([object("union", "o-1", "p-1", true)])
        .when(withdraw_objection("operator", "o-1"))
        .rejected(RejectionKind::Forbidden, "not_objector");
    assert!(
        r.message.contains("o-1") && r.message.contains("union"),
        "{}",
        r.message
    );
    given(proposed())
        .and([object("union", "o-1", "p-1", true)])
        .when(withdraw_objection("union", "o-1").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
    given(proposed())
        .and([object("union", "o-1", "p-1", true)])
        .when(withdraw_objection("stranger", "o-1"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
}

#[test]
fn withdraw_objection_needs_an_existing_objection() {
    let r = given(proposed())
        .when(withdraw_objection("union", "o-none"))
        .rejected(RejectionKind::NotFound, "objection_not_found");
    assert!(r.message.contains("o-none"), "{}", r.message);
}

#[test]
fn withdraw_objection_needs_it_open() {
    // Withdrawn already.
    let r = given(proposed())
        .and([
            object("union", "o-1", "p-1", true),
            withdraw_objection("union", "o-1"),
        ])
        .when(withdraw_objection("union", "o-1"))
        .rejected(RejectionKind::Conflict, "objection_not_open");
    assert!(
        r.message.contains("o-1") && r.message.contains("withdrawn"),
        "{}",
        r.message
    );
    // Moot: its proposal was withdrawn.
    let r = given(proposed())
        .and([
            object("union", "o-1", "p-1", true),
            withdraw_proposal("city", "p-1"),
        ])
        .when(withdraw_objection("union", "o-1"))
        .rejected(RejectionKind::Conflict, "objection_not_open");
    assert!(r.message.contains("moot"), "{}", r.message);
    // Noted: a concern on a proposal adopted anyway.
    let r = given(proposed())
        .and([
            object("ngo", "o-1", "p-1", false),
            endorse("city", "p-1"),
            adopt("p-1"),
        ])
        .when(withdraw_objection("ngo", "o-1"))
        .rejected(RejectionKind::Conflict, "objection_not_open");
    assert!(r.message.contains("noted"), "{}", r.message);
}
