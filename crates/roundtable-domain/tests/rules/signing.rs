//! `sign` and `conclude`, and signatures going stale when the agreement version moves.

use roundtable_domain::view::{NegotiationStatus, Signature};
use roundtable_domain::vocab::{DecisionRule, PartnerKind, Role};
use roundtable_domain::{CommandEnvelope, RejectionKind};

use crate::common::*;

fn names(ids: &[roundtable_domain::PartnerId]) -> Vec<&str> {
    ids.iter().map(|p| p.as_str()).collect()
}

#[test]
fn sign_records_a_signature_at_the_current_agreement_version() {
    let (e, accepted) = then_event!(given(agreed()).when(sign("union")), AgreementSigned);
    assert_eq!(e.agreement_version, 1);
    assert_eq!(accepted.event.actor.as_str(), "union");
    let v = accepted.view;
    assert_eq!(
        v.signatures,
        [Signature {
            partner_id: partner("union"),
            agreement_version: 1
        }]
    );
    assert_eq!(names(&v.awaiting_signature), ["city", "operator"]);
    assert_eq!(
        names(&accepted.before.unwrap().awaiting_signature),
        ["city", "operator", "union"]
    );
}

#[test]
fn sign_needs_an_agreed_clause() {
    given(table(DecisionRule::Consent))
        .when(sign("city"))
        .rejected(RejectionKind::Conflict, "nothing_agreed");
    // An open proposal is not an agreed clause either.
    given(table(DecisionRule::Consent))
        .and([propose("city", "p-1", "tariff"), endorse("city", "p-1")])
        .when(sign("city"))
        .rejected(RejectionKind::Conflict, "nothing_agreed");
}

#[test]
fn sign_is_refused_while_a_proposal_is_open() {
    let r = given(agreed())
        .and([propose("union", "p-staff", "staff")])
        .when(sign("city"))
        .rejected(RejectionKind::Conflict, "proposals_open");
    assert!(r.message.contains("p-staff"), "{}", r.message);
    // Once it is withdrawn, signing goes ahead.
    given(agreed())
        .and([
            propose("union", "p-staff", "staff"),
            withdraw_proposal("union", "p-staff"),
        ])
        .when(sign("city"))
        .accepted();
}

#[test]
fn only_signatories_sign() {
    let r = given(agreed())
        .when(sign("ngo"))
        .rejected(RejectionKind::Forbidden, "observer_cannot_sign");
    assert!(r.message.contains("ngo"), "{}", r.message);
    let r = given(agreed())
        .when(sign("stranger"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
    assert!(r.message.contains("stranger"), "{}", r.message);
    given(agreed())
        .when(sign("city").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
}

#[test]
fn signing_twice_at_the_same_version_is_a_conflict() {
    let r = given(agreed())
        .and([sign("city")])
        .when(sign("city"))
        .rejected(RejectionKind::Conflict, "already_signed");
    assert!(
        r.message.contains("city") && r.message.contains('1'),
        "{}",
        r.message
    );
}

#[test]
fn a_version_bump_lets_a_signatory_sign_again() {
    for bump in [
        vec![commit("kiosks", "k-1")],
        vec![
            propose("union", "p-staff", "staff"),
            endorse("union", "p-staff"),
            adopt("p-staff"),
        ],
    ] {
        let (e, accepted) = then_event!(
            given(agreed())
                .and([sign("city")])
                .and(bump)
                .when(sign("city")),
            AgreementSigned
        );
        assert_eq!(e.agreement_version, 2);
        let v = accepted.view;
        let signed: Vec<(&str, u64)> = v
            .signatures
            .iter()
            .map(|s| (s.partner_id.as_str(), s.agreement_version))
            .collect();
        assert_eq!(signed, [("city", 1), ("city", 2)]);
    }
    // Withdrawing a commitment bumps it too.
    let (e, _) = then_event!(
        given(agreed())
            .and([commit("kiosks", "k-1"), sign("city")])
            .and([withdraw_commitment("kiosks", "k-1")])
            .when(sign("city")),
        AgreementSigned
    );
    assert_eq!(e.agreement_version, 3);
}

#[test]
fn a_version_bump_makes_every_signature_stale() {
    let (_, accepted) = then_event!(
        given(agreed())
            .and([sign("city"), sign("operator"), sign("union")])
            .when(commit("kiosks", "k-1")),
        CommitmentMade
    );
    let before = accepted.before.unwrap();
    assert!(before.awaiting_signature.is_empty());
    assert_eq!(
        names(&accepted.view.awaiting_signature),
        ["city", "operator", "union"]
    );
    let r = given(agreed())
        .and([
            sign("city"),
            sign("operator"),
            sign("union"),
            commit("kiosks", "k-1"),
        ])
        .when(conclude())
        .rejected(RejectionKind::Conflict, "signatures_missing");
    assert!(
        r.message.contains("city") && r.message.contains("operator") && r.message.contains("union"),
        "{}",
        r.message
    );
}

#[test]
fn steps_that_change_nothing_agreed_do_not_make_signatures_stale() {
    let signed_all = || {
        given(agreed()).and([
            sign("city"),
            sign("operator"),
            sign("union"),
            admit("donor", PartnerKind::Donor, Role::Observer),
        ])
    };
    let (e, _) = then_event!(signed_all().when(conclude()), NegotiationConcluded);
    assert_eq!(e.agreement_version, 1);
}

#[test]
fn conclude_when_every_signatory_has_signed() {
    let (e, accepted) = then_event!(
        given(agreed())
            .and([sign("union"), sign("city"), sign("operator")])
            .when(conclude()),
        NegotiationConcluded
    );
    assert_eq!(e.agreement_version, 1);
    assert_eq!(
        e.signatories,
        [partner("city"), partner("operator"), partner("union")],
        "in admission order"
    );
    let v = accepted.view;
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert!(v.awaiting_signature.is_empty());
}

#[test]
fn conclude_needs_a_signatory() {
    let r = given([
        open(DecisionRule::Consent),
        admit("ngo", PartnerKind::Ngo, Role::Observer),
    ])
    .when(conclude())
    .rejected(RejectionKind::Conflict, "no_signatories");
    assert!(r.message.contains("signator"), "{}", r.message);
    given([open(DecisionRule::Consent)])
        .when(conclude())
        .rejected(RejectionKind::Conflict, "no_signatories");
}

#[test]
fn conclude_with_someone_missing_names_who() {
    let r = given(agreed())
        .and([sign("city"), sign("union")])
        .when(conclude())
        .rejected(RejectionKind::Conflict, "signatures_missing");
    assert!(r.message.contains("operator"), "{}", r.message);
    assert!(
        !r.message.contains("city") && !r.message.contains("union"),
        "only the missing are named: {}",
        r.message
    );
}

#[test]
fn conclude_needs_a_signatory_admitted_late_to_sign_too() {
    let late: Vec<CommandEnvelope> = vec![
        sign("city"),
        sign("operator"),
        sign("union"),
        admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Signatory,
        ),
    ];
    let r = given(agreed())
        .and(late.clone())
        .when(conclude())
        .rejected(RejectionKind::Conflict, "signatures_missing");
    assert!(r.message.contains("residents"), "{}", r.message);
    given(agreed())
        .and(late)
        .and([sign("residents")])
        .when(conclude())
        .accepted();
}

#[test]
fn only_the_secretariat_concludes() {
    let r = given(agreed())
        .and([sign("city"), sign("operator"), sign("union")])
        .when(conclude().by("city"))
        .rejected(RejectionKind::Forbidden, "secretariat_only");
    assert!(r.message.contains("city"), "{}", r.message);
}

#[test]
fn awaiting_signature_lists_signatories_in_admission_order() {
    let (_, accepted) = then_event!(
        given(table(DecisionRule::Consent)).when(admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Signatory
        )),
        PartnerAdmitted
    );
    assert_eq!(
        names(&accepted.view.awaiting_signature),
        ["city", "operator", "union", "residents"]
    );
}
