//! DOMAIN.md, "Decision rules", as checked by `adopt`.

use roundtable_domain::vocab::{DecisionRule, PartnerKind, Role};
use roundtable_domain::{CommandEnvelope, RejectionKind};

use crate::common::*;

const RULES: [DecisionRule; 3] = [
    DecisionRule::Consent,
    DecisionRule::CrossSectorConsent,
    DecisionRule::Unanimity,
];

/// [`table`] under `rule` with `p-1` proposed by `kiosks` and endorsed by `endorsers`.
fn endorsed_by(rule: DecisionRule, endorsers: &[&str]) -> Vec<CommandEnvelope> {
    let mut cmds = table(rule);
    cmds.push(propose("kiosks", "p-1", "tariff"));
    cmds.extend(endorsers.iter().map(|by| endorse(by, "p-1")));
    cmds
}

#[test]
fn consent_needs_one_signatory() {
    for one in ["city", "operator", "union"] {
        given(endorsed_by(DecisionRule::Consent, &[one]))
            .when(adopt("p-1"))
            .accepted();
    }
}

#[test]
fn no_endorsement_adopts_nothing_under_any_rule() {
    for rule in RULES {
        let r = given(endorsed_by(rule, &[]))
            .when(adopt("p-1"))
            .rejected(RejectionKind::Conflict, "no_signatory_endorsement");
        assert!(r.message.contains("p-1"), "{rule}: {}", r.message);
    }
}

#[test]
fn observers_endorsements_never_count() {
    for rule in RULES {
        given(endorsed_by(rule, &["kiosks", "ngo"]))
            .when(adopt("p-1"))
            .rejected(RejectionKind::Conflict, "no_signatory_endorsement");
    }
}

#[test]
fn without_signatories_nothing_is_adopted() {
    for rule in RULES {
        let r = given([
            open(rule),
            admit("kiosks", PartnerKind::SmallScaleProvider, Role::Observer),
            admit("ngo", PartnerKind::Ngo, Role::Observer),
            propose("kiosks", "p-1", "tariff"),
            endorse("kiosks", "p-1"),
            endorse("ngo", "p-1"),
        ])
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "no_signatory_endorsement");
        assert!(r.message.contains("p-1"), "{}", r.message);
    }
}

#[test]
fn cross_sector_consent_needs_every_sector_that_has_a_signatory() {
    given(endorsed_by(
        DecisionRule::CrossSectorConsent,
        &["city", "operator", "union"],
    ))
    .when(adopt("p-1"))
    .accepted();
}

#[test]
fn cross_sector_consent_with_a_sector_missing_is_not_met() {
    let r = given(endorsed_by(
        DecisionRule::CrossSectorConsent,
        &["city", "operator"],
    ))
    .when(adopt("p-1"))
    .rejected(RejectionKind::Conflict, "decision_rule_not_met");
    assert!(
        r.message.contains("p-1") && r.message.contains("civil_society"),
        "{}",
        r.message
    );
    assert!(
        !r.message.contains("government") && !r.message.contains("private_sector"),
        "only the missing sector is named: {}",
        r.message
    );
    let r = given(endorsed_by(DecisionRule::CrossSectorConsent, &["union"]))
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "decision_rule_not_met");
    assert!(
        r.message.contains("government") && r.message.contains("private_sector"),
        "{}",
        r.message
    );
}

#[test]
fn cross_sector_consent_does_not_count_an_observer_for_its_sector() {
    // `ngo` is civil society but an observer; `kiosks` private sector but an observer.
    given(endorsed_by(
        DecisionRule::CrossSectorConsent,
        &["city", "operator", "ngo"],
    ))
    .when(adopt("p-1"))
    .rejected(RejectionKind::Conflict, "decision_rule_not_met");
    given(endorsed_by(
        DecisionRule::CrossSectorConsent,
        &["city", "union", "kiosks"],
    ))
    .when(adopt("p-1"))
    .rejected(RejectionKind::Conflict, "decision_rule_not_met");
}

#[test]
fn cross_sector_consent_ignores_sectors_without_signatories() {
    // Private sector is present only as an observer: not required.
    given([
        open(DecisionRule::CrossSectorConsent),
        admit("city", PartnerKind::Municipality, Role::Signatory),
        admit("union", PartnerKind::TradeUnion, Role::Signatory),
        admit("kiosks", PartnerKind::SmallScaleProvider, Role::Observer),
        propose("kiosks", "p-1", "tariff"),
        endorse("city", "p-1"),
        endorse("union", "p-1"),
    ])
    .when(adopt("p-1"))
    .accepted();
    // Only one sector has signatories at all.
    given([
        open(DecisionRule::CrossSectorConsent),
        admit("city", PartnerKind::Municipality, Role::Signatory),
        admit("regulator", PartnerKind::Regulator, Role::Signatory),
        propose("city", "p-1", "tariff"),
        endorse("regulator", "p-1"),
    ])
    .when(adopt("p-1"))
    .accepted();
}

#[test]
fn cross_sector_consent_never_requires_the_external_sector() {
    let mut cmds = table(DecisionRule::CrossSectorConsent);
    cmds.extend([
        admit("donor", PartnerKind::Donor, Role::Signatory),
        propose("city", "p-1", "tariff"),
        endorse("city", "p-1"),
        endorse("operator", "p-1"),
        endorse("union", "p-1"),
    ]);
    given(cmds).when(adopt("p-1")).accepted();
}

#[test]
fn an_external_signatory_alone_does_not_stand_for_a_sector() {
    let mut cmds = table(DecisionRule::CrossSectorConsent);
    cmds.extend([
        admit("donor", PartnerKind::Donor, Role::Signatory),
        propose("city", "p-1", "tariff"),
        endorse("donor", "p-1"),
    ]);
    let r = given(cmds)
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "decision_rule_not_met");
    assert!(r.message.contains("government"), "{}", r.message);
    // Under consent an external signatory is a signatory like any other.
    let mut cmds = table(DecisionRule::Consent);
    cmds.extend([
        admit("donor", PartnerKind::Donor, Role::Signatory),
        propose("city", "p-1", "tariff"),
        endorse("donor", "p-1"),
    ]);
    given(cmds).when(adopt("p-1")).accepted();
}

#[test]
fn unanimity_needs_every_signatory() {
    given(endorsed_by(
        DecisionRule::Unanimity,
        &["union", "operator", "city"],
    ))
    .when(adopt("p-1"))
    .accepted();
}

#[test]
fn unanimity_with_one_signatory_missing_is_not_met() {
    for missing in ["city", "operator", "union"] {
        let endorsers: Vec<&str> = ["city", "operator", "union", "kiosks", "ngo"]
            .into_iter()
            .filter(|p| *p != missing)
            .collect();
        let r = given(endorsed_by(DecisionRule::Unanimity, &endorsers))
            .when(adopt("p-1"))
            .rejected(RejectionKind::Conflict, "decision_rule_not_met");
        assert!(
            r.message.contains("p-1") && r.message.contains(missing),
            "{}",
            r.message
        );
    }
}

#[test]
fn unanimity_counts_current_endorsements_only() {
    let mut cmds = endorsed_by(DecisionRule::Unanimity, &["city", "operator", "union"]);
    cmds.push(retract("operator", "p-1"));
    let r = given(cmds)
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "decision_rule_not_met");
    assert!(r.message.contains("operator"), "{}", r.message);
}

#[test]
fn unanimity_needs_a_signatory_admitted_after_the_others_endorsed() {
    let mut cmds = endorsed_by(DecisionRule::Unanimity, &["city", "operator", "union"]);
    cmds.push(admit(
        "residents",
        PartnerKind::CommunityOrganisation,
        Role::Signatory,
    ));
    let r = given(cmds.clone())
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "decision_rule_not_met");
    assert!(r.message.contains("residents"), "{}", r.message);
    // An observer admitted late is not needed.
    let mut cmds = endorsed_by(DecisionRule::Unanimity, &["city", "operator", "union"]);
    cmds.push(admit("donor", PartnerKind::Donor, Role::Observer));
    given(cmds).when(adopt("p-1")).accepted();
}
