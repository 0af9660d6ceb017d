//! `open_negotiation`, `admit_partner`, commands on an unknown negotiation and on a
//! concluded one.

use roundtable_domain::command::OpenNegotiation;
use roundtable_domain::view::NegotiationStatus;
use roundtable_domain::vocab::{DecisionRule, PartnerKind, Role, Sector};
use roundtable_domain::{Command, CommandEnvelope, RejectionKind};

use crate::common::*;

/// One command of each of the fourteen kinds, each by the actor who may issue it.
fn one_of_each() -> Vec<CommandEnvelope> {
    vec![
        open(DecisionRule::Consent),
        admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Signatory,
        ),
        register_key("kiosks", &public_key("kiosks")),
        propose("city", "p-new", "coverage"),
        withdraw_proposal("city", "p-tariff"),
        endorse("operator", "p-tariff"),
        retract("city", "p-tariff"),
        object("union", "o-new", "p-tariff", true),
        withdraw_objection("union", "o-new"),
        adopt("p-tariff"),
        commit("city", "k-new"),
        withdraw_commitment("city", "k-new"),
        sign("city"),
        conclude(),
    ]
}

#[test]
fn one_of_each_covers_the_fourteen_commands() {
    // The fourteen of version 1 come first in `Command::NAMES`; the commands of
    // contract version 2 are covered in `rounds.rs`.
    let names: Vec<&str> = one_of_each().iter().map(|c| c.command.name()).collect();
    assert_eq!(names, Command::NAMES[..14]);
}

#[test]
fn every_command_but_open_on_an_unknown_negotiation_is_not_found() {
    for c in one_of_each().into_iter().skip(1) {
        let name = c.command.name();
        let r = given([])
            .when(c)
            .rejected(RejectionKind::NotFound, "negotiation_not_found");
        assert!(r.message.contains(NEGOTIATION), "{name}: {}", r.message);
    }
}

#[test]
fn every_command_on_a_concluded_negotiation_is_rejected() {
    for c in one_of_each() {
        let name = c.command.name();
        let r = given(concluded())
            .when(c)
            .rejected(RejectionKind::Conflict, "negotiation_concluded");
        assert!(r.message.contains(NEGOTIATION), "{name}: {}", r.message);
    }
}

#[test]
fn every_command_after_conclude_is_rejected_even_by_its_rightful_actor() {
    // The same commands are accepted just before `conclude`: it is the conclusion
    // that stops them, not some other rule.
    let before_conclude = {
        let mut cmds = concluded();
        cmds.pop();
        cmds
    };
    for c in [
        admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Signatory,
        ),
        propose("city", "p-new", "coverage"),
        commit("city", "k-new"),
    ] {
        given(before_conclude.clone()).when(c.clone()).accepted();
        given(concluded())
            .when(c)
            .rejected(RejectionKind::Conflict, "negotiation_concluded");
    }
}

#[test]
fn open_negotiation_defaults_to_consent() {
    let (e, accepted) = then_event!(given([]).when(open_default()), NegotiationOpened);
    assert_eq!(e.negotiation_id, nid());
    assert_eq!(e.title, "Lakeside water partnership");
    assert_eq!(e.service, "water_sanitation");
    assert_eq!(e.decision_rule, DecisionRule::Consent);
    let v = accepted.view;
    assert_eq!(v.status, NegotiationStatus::Open);
    assert_eq!(v.decision_rule, DecisionRule::Consent);
    assert_eq!((v.version, v.agreement_version), (1, 0));
    assert!(v.partners.is_empty());
}

#[test]
fn open_negotiation_keeps_the_rule_given() {
    for rule in [
        DecisionRule::Consent,
        DecisionRule::CrossSectorConsent,
        DecisionRule::Unanimity,
    ] {
        let (e, accepted) = then_event!(given([]).when(open(rule)), NegotiationOpened);
        assert_eq!(e.decision_rule, rule);
        assert_eq!(accepted.view.decision_rule, rule);
    }
}

#[test]
fn open_negotiation_twice_is_a_conflict() {
    let r = given([open(DecisionRule::Consent)])
        .when(open(DecisionRule::Unanimity))
        .rejected(RejectionKind::Conflict, "negotiation_exists");
    assert!(r.message.contains(NEGOTIATION), "{}", r.message);
}

#[test]
fn only_the_secretariat_opens_a_negotiation() {
    let r = given([])
        .when(open(DecisionRule::Consent).by("city"))
        .rejected(RejectionKind::Forbidden, "secretariat_only");
    assert!(r.message.contains("city"), "{}", r.message);
}

#[test]
fn open_negotiation_needs_a_title_and_a_service() {
    let with = |title: &str, service: &str| {
        cmd(
            "secretariat",
            Command::OpenNegotiation(OpenNegotiation {
                title: title.into(),
                service: service.into(),
                decision_rule: None,
            }),
        )
    };
    let r = given([])
        .when(with("  ", "water"))
        .rejected(RejectionKind::Invalid, "blank_field");
    assert!(r.message.contains("title"), "{}", r.message);
    let r = given([])
        .when(with("Lakeside", ""))
        .rejected(RejectionKind::Invalid, "blank_field");
    assert!(r.message.contains("service"), "{}", r.message);
    given([]).when(with(&"t".repeat(500), "water")).accepted();
    given([])
        .when(with(&"t".repeat(501), "water"))
        .rejected(RejectionKind::Invalid, "field_too_long");
}

#[test]
fn text_of_only_invisible_characters_is_blank() {
    let titled = |title: &str| {
        cmd(
            "secretariat",
            Command::OpenNegotiation(OpenNegotiation {
                title: title.into(),
                service: "water".into(),
                decision_rule: None,
            }),
        )
    };
    for invisible in [
        "\u{200B}",
        "\u{200B}\u{200C}\u{200D}",
        "\u{2060}\u{FEFF}",
        " \u{00AD} \u{FEFF}\t",
        "\u{202E}\u{2066}\u{200F}",
        "\u{E0020}\u{FE0F}",
    ] {
        let r = given([])
            .when(titled(invisible))
            .rejected(RejectionKind::Invalid, "blank_field");
        assert!(r.message.contains("title"), "{invisible:?}: {}", r.message);
    }
    // A visible character among them is text, stored exactly as given.
    let (e, _) = then_event!(
        given([]).when(titled("\u{200B}Lakeside\u{202E}")),
        NegotiationOpened
    );
    assert_eq!(e.title, "\u{200B}Lakeside\u{202E}");
}

#[test]
fn admit_partner_lists_the_partner() {
    let (e, accepted) = then_event!(
        given([open(DecisionRule::Consent)]).when(admit(
            "kiosks",
            PartnerKind::SmallScaleProvider,
            Role::Observer
        )),
        PartnerAdmitted
    );
    assert_eq!(e.partner_id, partner("kiosks"));
    assert_eq!(e.sector, Sector::PrivateSector);
    assert_eq!(e.kind, PartnerKind::SmallScaleProvider);
    assert_eq!(e.role, Role::Observer);
    let p = &accepted.view.partners["kiosks"];
    assert_eq!(
        (p.sector, p.kind, p.role, p.name.as_str()),
        (
            Sector::PrivateSector,
            PartnerKind::SmallScaleProvider,
            Role::Observer,
            "kiosks (name)"
        )
    );
}

#[test]
fn partners_are_listed_in_admission_order() {
    let (p, _) = run(&table(DecisionRule::Consent));
    let view = p.view.unwrap();
    let ids: Vec<&str> = view.partners.keys().map(|k| k.as_str()).collect();
    assert_eq!(ids, ["city", "operator", "union", "kiosks", "ngo"]);
}

#[test]
fn admitting_a_partner_twice_is_a_conflict() {
    let r = given(table(DecisionRule::Consent))
        .when(admit("city", PartnerKind::Regulator, Role::Observer))
        .rejected(RejectionKind::Conflict, "partner_exists");
    assert!(r.message.contains("city"), "{}", r.message);
}

#[test]
fn only_the_secretariat_admits_partners() {
    // Neither an admitted partner nor a stranger.
    for by in ["city", "stranger"] {
        given(table(DecisionRule::Consent))
            .when(
                admit(
                    "residents",
                    PartnerKind::CommunityOrganisation,
                    Role::Signatory,
                )
                .by(by),
            )
            .rejected(RejectionKind::Forbidden, "secretariat_only");
    }
}

#[test]
fn every_kind_is_accepted_in_its_sector_and_refused_in_the_others() {
    use PartnerKind::*;
    let table = [
        (Municipality, Sector::Government),
        (NationalGovernment, Sector::Government),
        (Regulator, Sector::Government),
        (PublicUtility, Sector::Government),
        (InternationalOperator, Sector::PrivateSector),
        (NationalFirm, Sector::PrivateSector),
        (SmallScaleProvider, Sector::PrivateSector),
        (Ngo, Sector::CivilSociety),
        (CommunityOrganisation, Sector::CivilSociety),
        (ConsumerGroup, Sector::CivilSociety),
        (TradeUnion, Sector::CivilSociety),
        (Donor, Sector::External),
        (Consultant, Sector::External),
    ];
    for (kind, home) in table {
        for sector in Sector::ALL {
            let when = given([open(DecisionRule::Consent)]).when(admit_in(
                "p1",
                sector,
                kind,
                Role::Signatory,
            ));
            if sector == home {
                let (e, _) = then_event!(when, PartnerAdmitted);
                assert_eq!((e.kind, e.sector), (kind, home));
            } else {
                let r = when.rejected(RejectionKind::Invalid, "kind_not_in_sector");
                assert!(
                    r.message.contains(kind.as_str()) && r.message.contains(sector.as_str()),
                    "{}",
                    r.message
                );
            }
        }
    }
}

#[test]
fn admit_partner_needs_a_name() {
    let mut c = admit("city", PartnerKind::Municipality, Role::Signatory);
    if let Command::AdmitPartner(a) = &mut c.command {
        a.name = " \t".into();
    }
    let r = given([open(DecisionRule::Consent)])
        .when(c)
        .rejected(RejectionKind::Invalid, "blank_field");
    assert!(r.message.contains("name"), "{}", r.message);
}

#[test]
fn secretariat_cannot_be_a_partner_id() {
    let json = serde_json::json!({
        "do": "admit_partner", "partner_id": "secretariat", "name": "x",
        "sector": "government", "kind": "municipality", "role": "signatory"
    });
    let err = serde_json::from_value::<Command>(json).unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
}

#[test]
fn a_rejected_command_leaves_no_trace() {
    let (mut p, events) = run(&table(DecisionRule::Consent));
    let before = p.clone();
    // Endorsing a proposal that does not exist yet is rejected...
    let early = endorse("city", "p-1");
    let r = step(&mut p, &early).unwrap_err();
    assert_eq!(r.code, "proposal_not_found");
    assert_eq!(p.view, before.view);
    assert_eq!(
        (p.version, &p.last_hash),
        (before.version, &before.last_hash)
    );
    // ...the next accepted command follows on without a gap...
    let made = step(&mut p, &propose("union", "p-1", "tariff")).unwrap();
    assert_eq!(made.version, events.len() as u64 + 1);
    assert_eq!(made.prev_hash, events.last().unwrap().hash);
    // ...and the same command sent again is judged afresh.
    let endorsed = step(&mut p, &early).unwrap();
    assert_eq!(endorsed.event_type(), "proposal_endorsed");
}
