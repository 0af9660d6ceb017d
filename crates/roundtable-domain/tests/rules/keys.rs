//! Public keys (`admit_partner {public_key}`, `register_key`) and signatures that
//! prove themselves (`sign {signature}`): docs/AUDIT.md, "Signatures".

use roundtable_domain::signing::{agreement_hash, signing_message, view_signing_message};
use roundtable_domain::vocab::{DecisionRule, PartnerKind, Role};
use roundtable_domain::{AgreementView, CommandEnvelope, RejectionKind};

use crate::common::*;

/// [`agreed`], with `city` holding its test key.
fn agreed_with_city_key() -> Vec<CommandEnvelope> {
    let mut cmds = agreed();
    cmds.push(register_key("city", &public_key("city")));
    cmds
}

/// The view after `cmds`.
fn view_after(cmds: &[CommandEnvelope]) -> AgreementView {
    run(cmds).0.view.expect("opened")
}

/// `name`'s key's signature of the agreement as it stands after `cmds`.
fn signature_after(cmds: &[CommandEnvelope], name: &str) -> String {
    signature(name, &view_signing_message(&view_after(cmds)))
}

#[test]
fn a_partner_admitted_with_a_key_shows_it_in_the_view() {
    let key = public_key("city");
    let (e, accepted) = then_event!(
        given([open(DecisionRule::Consent)]).when(admit_with_key(
            "city",
            PartnerKind::Municipality,
            Role::Signatory,
            &key
        )),
        PartnerAdmitted
    );
    assert_eq!(e.public_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        accepted.view.partners["city"].public_key.as_deref(),
        Some(key.as_str())
    );
    // Without one, the view says so.
    let (e, accepted) = then_event!(
        given([open(DecisionRule::Consent)]).when(admit(
            "city",
            PartnerKind::Municipality,
            Role::Signatory
        )),
        PartnerAdmitted
    );
    assert_eq!(e.public_key, None);
    assert_eq!(accepted.view.partners["city"].public_key, None);
}

#[test]
fn keys_are_stored_in_lower_case_hex() {
    let upper = public_key("city").to_uppercase();
    let (e, _) = then_event!(
        given(table(DecisionRule::Consent)).when(register_key("city", &upper)),
        PartnerKeyRegistered
    );
    assert_eq!(e.public_key, public_key("city"));
}

#[test]
fn a_malformed_key_is_invalid() {
    let good = public_key("city");
    let not_on_curve = {
        // y = 2 is not the y coordinate of a point of the curve.
        let mut b = [0u8; 32];
        b[0] = 2;
        hex::encode(b)
    };
    // The identity point has small order: a weak key.
    let weak = {
        let mut b = [0u8; 32];
        b[0] = 1;
        hex::encode(b)
    };
    for bad in [
        String::new(),
        good[..62].to_owned(),
        format!("{good}00"),
        good.replacen(&good[..1], "g", 1),
        not_on_curve,
        weak,
    ] {
        let r = given([open(DecisionRule::Consent)])
            .when(admit_with_key(
                "city",
                PartnerKind::Municipality,
                Role::Signatory,
                &bad,
            ))
            .rejected(RejectionKind::Invalid, "bad_public_key");
        assert!(r.message.contains("public key"), "{}", r.message);
        given(table(DecisionRule::Consent))
            .when(register_key("city", &bad))
            .rejected(RejectionKind::Invalid, "bad_public_key");
    }
}

#[test]
fn register_key_gives_a_key_and_replaces_the_previous_one() {
    let (e, accepted) = then_event!(
        given(table(DecisionRule::Consent)).when(register_key("union", &public_key("union"))),
        PartnerKeyRegistered
    );
    assert_eq!(e.partner_id, partner("union"));
    assert_eq!(e.replaces, None);
    assert_eq!(
        accepted.view.partners["union"].public_key,
        Some(public_key("union"))
    );
    let before = accepted.before.unwrap();
    assert_eq!(accepted.view.version, before.version + 1);
    assert_eq!(
        accepted.view.agreement_version, before.agreement_version,
        "a key changes nothing agreed"
    );

    let (e, accepted) = then_event!(
        given(table(DecisionRule::Consent))
            .and([register_key("union", &public_key("union"))])
            .when(register_key("union", &public_key("union-2"))),
        PartnerKeyRegistered
    );
    assert_eq!(e.replaces, Some(public_key("union")));
    assert_eq!(
        accepted.view.partners["union"].public_key,
        Some(public_key("union-2"))
    );
}

#[test]
fn only_the_secretariat_registers_keys_and_only_for_admitted_partners() {
    let r = given(table(DecisionRule::Consent))
        .when(register_key("union", &public_key("union")).by("union"))
        .rejected(RejectionKind::Forbidden, "secretariat_only");
    assert!(r.message.contains("union"), "{}", r.message);
    let r = given(table(DecisionRule::Consent))
        .when(register_key("stranger", &public_key("stranger")))
        .rejected(RejectionKind::NotFound, "partner_not_found");
    assert!(r.message.contains("stranger"), "{}", r.message);
    given(concluded())
        .when(register_key("union", &public_key("union")))
        .rejected(RejectionKind::Conflict, "negotiation_concluded");
}

#[test]
fn a_partner_with_a_key_signs_with_a_valid_signature() {
    let cmds = agreed_with_city_key();
    let view = view_after(&cmds);
    let sig = signature_after(&cmds, "city");
    let (e, accepted) = then_event!(given(cmds).when(sign_with("city", &sig)), AgreementSigned);
    assert_eq!(e.agreement_version, 1);
    assert_eq!(e.signature.as_deref(), Some(sig.as_str()));
    assert_eq!(e.agreement_hash, Some(agreement_hash(&view)));
    assert!(accepted.view.has_signed(&partner("city"), 1));
}

#[test]
fn the_signed_message_names_the_negotiation_version_and_hash() {
    let view = view_after(&agreed());
    let message = view_signing_message(&view);
    assert_eq!(
        message,
        format!(
            "roundtable-agreement:{NEGOTIATION}:1:{}",
            agreement_hash(&view)
        )
    );
    assert_eq!(
        message,
        signing_message(&view.negotiation_id, 1, &agreement_hash(&view))
    );
    assert_eq!(agreement_hash(&view).len(), 64);
}

#[test]
fn a_partner_with_a_key_must_sign_with_a_signature() {
    let r = given(agreed_with_city_key())
        .when(sign("city"))
        .rejected(RejectionKind::Invalid, "signature_required");
    assert!(
        r.message.contains("city") && r.message.contains("roundtable-agreement:"),
        "{}",
        r.message
    );
}

#[test]
fn a_signature_for_another_agreement_version_is_refused() {
    // Signed at version 1, presented at version 2 (after a commitment).
    let cmds = agreed_with_city_key();
    let old = signature_after(&cmds, "city");
    let r = given(cmds)
        .and([commit("kiosks", "k-1")])
        .when(sign_with("city", &old))
        .rejected(RejectionKind::Forbidden, "signature_invalid");
    assert!(r.message.contains("city"), "{}", r.message);
}

#[test]
fn a_signature_by_another_partner_is_refused() {
    let mut cmds = agreed_with_city_key();
    cmds.push(register_key("union", &public_key("union")));
    // The union's valid signature, presented as the city's.
    let union_sig = signature_after(&cmds, "union");
    given(cmds.clone())
        .when(sign_with("city", &union_sig))
        .rejected(RejectionKind::Forbidden, "signature_invalid");
    // And the union's own is accepted.
    given(cmds).when(sign_with("union", &union_sig)).accepted();
}

#[test]
fn a_signature_made_with_a_replaced_key_is_refused() {
    let cmds = agreed_with_city_key();
    let old_key_sig = signature_after(&cmds, "city");
    let mut rotated = cmds;
    rotated.push(register_key("city", &public_key("city-2")));
    given(rotated.clone())
        .when(sign_with("city", &old_key_sig))
        .rejected(RejectionKind::Forbidden, "signature_invalid");
    let new_key_sig = signature_after(&rotated, "city-2");
    given(rotated)
        .when(sign_with("city", &new_key_sig))
        .accepted();
}

#[test]
fn a_malformed_signature_is_invalid() {
    let cmds = agreed_with_city_key();
    let good = signature_after(&cmds, "city");
    for bad in [
        "".to_owned(),
        "zz".repeat(64),
        good[..126].to_owned(),
        format!("{good}00"),
    ] {
        given(cmds.clone())
            .when(sign_with("city", &bad))
            .rejected(RejectionKind::Invalid, "signature_malformed");
    }
}

#[test]
fn a_signature_without_a_registered_key_is_refused() {
    let sig = signature_after(&agreed(), "city");
    let r = given(agreed())
        .when(sign_with("city", &sig))
        .rejected(RejectionKind::Conflict, "no_public_key");
    assert!(r.message.contains("city"), "{}", r.message);
}

#[test]
fn a_partner_without_a_key_signs_as_before_and_the_hash_is_recorded() {
    let view = view_after(&agreed());
    let (e, _) = then_event!(given(agreed()).when(sign("city")), AgreementSigned);
    assert_eq!(e.signature, None);
    assert_eq!(e.agreement_hash, Some(agreement_hash(&view)));
}

#[test]
fn signature_rules_come_after_the_state_rules() {
    // Nothing to sign yet: the state is reported, not the missing signature.
    given(table(DecisionRule::Consent))
        .and([register_key("city", &public_key("city"))])
        .when(sign("city"))
        .rejected(RejectionKind::Conflict, "nothing_agreed");
    let cmds = agreed_with_city_key();
    let sig = signature_after(&cmds, "city");
    given(cmds)
        .and([sign_with("city", &sig)])
        .when(sign_with("city", &sig))
        .rejected(RejectionKind::Conflict, "already_signed");
}

#[test]
fn the_agreement_hash_covers_what_is_signed_and_nothing_else() {
    let base = view_after(&agreed());
    // Endorsements, objections, proposals in flight, keys: not part of the agreement.
    let mut cmds = agreed();
    cmds.push(register_key("city", &public_key("city")));
    cmds.push(propose("union", "p-staff", "staff"));
    cmds.push(withdraw_proposal("union", "p-staff"));
    assert_eq!(agreement_hash(&view_after(&cmds)), agreement_hash(&base));
    // A commitment is.
    let mut cmds = agreed();
    cmds.push(commit("kiosks", "k-1"));
    assert_ne!(agreement_hash(&view_after(&cmds)), agreement_hash(&base));
    // So is a signatory admitted late (the parties are named).
    let mut cmds = agreed();
    cmds.push(admit(
        "residents",
        PartnerKind::CommunityOrganisation,
        Role::Signatory,
    ));
    assert_ne!(agreement_hash(&view_after(&cmds)), agreement_hash(&base));
    // An observer is not.
    let mut cmds = agreed();
    cmds.push(admit("donor", PartnerKind::Donor, Role::Observer));
    assert_eq!(agreement_hash(&view_after(&cmds)), agreement_hash(&base));
}
