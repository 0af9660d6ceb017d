//! Contract version 2, "Statuses of a negotiation": `open_round`, `conclude` ending a
//! round, the version 1 commands while `renegotiating`, and `terminate`.

use roundtable_domain::view::{NegotiationStatus, RoundStatus};
use roundtable_domain::vocab::{AssetKind, PartnerKind, Role, Severity};
use roundtable_domain::{Command, CommandEnvelope, RejectionKind};

use crate::common::*;

/// One command of each of the eight kinds of contract version 2, each by its actor.
fn one_of_each_v2() -> Vec<CommandEnvelope> {
    vec![
        open_round("r-9"),
        declare_asset("city", "a-9", AssetKind::Infrastructure),
        report_progress("operator", "k-pipes", None),
        fulfil("city", "k-meters", date(2028, 1, 1)),
        report_shortfall("union", "s-9", "k-pipes", Severity::Minor),
        resolve_shortfall("s-9", None),
        withdraw_partner("secretariat", "ngo", &[]),
        terminate(),
    ]
}

#[test]
fn one_of_each_v2_covers_the_eight_new_commands() {
    let names: Vec<&str> = one_of_each_v2().iter().map(|c| c.command.name()).collect();
    assert_eq!(names, Command::NAMES[14..]);
}

#[test]
fn every_new_command_on_an_unknown_negotiation_is_not_found() {
    for c in one_of_each_v2() {
        let name = c.command.name();
        let r = given([])
            .when(c)
            .rejected(RejectionKind::NotFound, "negotiation_not_found");
        assert!(r.message.contains(NEGOTIATION), "{name}: {}", r.message);
    }
}

#[test]
fn open_round_renegotiates_a_concluded_agreement() {
    let (e, accepted) = then_event!(given(in_force()).when(open_round("r-1")), RoundOpened);
    assert_eq!(e.round_id, rid("r-1"));
    assert_eq!(e.reason, "reasons for r-1");
    assert_eq!(e.from_agreement_version, 3);
    let v = accepted.view;
    assert_eq!(v.status, NegotiationStatus::Renegotiating);
    assert_eq!(
        v.in_force_agreement_version,
        Some(3),
        "still the one in force"
    );
    let r = &v.rounds["r-1"];
    assert_eq!(
        (
            r.status,
            r.from_agreement_version,
            r.concluded_agreement_version
        ),
        (RoundStatus::Open, 3, None)
    );
    assert_eq!(
        v.agreement_version, 3,
        "opening a round changes nothing agreed"
    );
}

#[test]
fn open_round_needs_a_concluded_negotiation_and_a_new_id() {
    let r = given(agreed())
        .when(open_round("r-1"))
        .rejected(RejectionKind::Conflict, "negotiation_not_concluded");
    assert!(r.message.contains("open"), "{}", r.message);
    let r = given(renegotiating())
        .when(open_round("r-2"))
        .rejected(RejectionKind::Conflict, "round_open");
    assert!(r.message.contains("r-1"), "{}", r.message);
    let r = given(renegotiating())
        .and([conclude()])
        .when(open_round("r-1"))
        .rejected(RejectionKind::Conflict, "round_exists");
    assert!(r.message.contains("r-1"), "{}", r.message);
    given(renegotiating())
        .and([conclude()])
        .when(open_round("r-2"))
        .accepted();
}

#[test]
fn only_the_secretariat_opens_a_round_and_gives_a_reason() {
    given(in_force())
        .when(open_round("r-1").by("city"))
        .rejected(RejectionKind::Forbidden, "secretariat_only");
    let blank = cmd(
        "secretariat",
        Command::OpenRound(roundtable_domain::command::OpenRound {
            round_id: rid("r-1"),
            reason: " \n ".into(),
        }),
    );
    let r = given(in_force())
        .when(blank)
        .rejected(RejectionKind::Invalid, "blank_field");
    assert!(r.message.contains("reason"), "{}", r.message);
    let long = cmd(
        "secretariat",
        Command::OpenRound(roundtable_domain::command::OpenRound {
            round_id: rid("r-1"),
            reason: "x".repeat(20_001),
        }),
    );
    given(in_force())
        .when(long)
        .rejected(RejectionKind::Invalid, "field_too_long");
}

#[test]
fn a_round_that_changed_nothing_is_concluded_at_once() {
    let (e, accepted) = then_event!(
        given(renegotiating()).when(conclude()),
        NegotiationConcluded
    );
    assert_eq!(e.agreement_version, 3);
    assert_eq!(e.round_id, Some(rid("r-1")));
    let v = accepted.view;
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert_eq!(v.in_force_agreement_version, Some(3));
    let r = &v.rounds["r-1"];
    assert_eq!(
        (r.status, r.concluded_agreement_version),
        (RoundStatus::Concluded, Some(3))
    );
}

#[test]
fn the_version_1_commands_are_accepted_again_in_a_round() {
    // An amendment adopted in the round: every signatory must sign it again, and the
    // agreement in force stays the old one until then.
    let (p, _) = run(&{
        let mut cmds = renegotiating();
        cmds.extend([
            admit(
                "residents",
                PartnerKind::CommunityOrganisation,
                Role::Observer,
            ),
            propose("union", "p-tariff-2", "tariff"),
            endorse("city", "p-tariff-2"),
            object("residents", "o-price", "p-tariff-2", false),
            adopt("p-tariff-2"),
            commit("residents", "k-survey"),
            withdraw_commitment("residents", "k-survey"),
        ]);
        cmds
    });
    let v = p.view.unwrap();
    assert_eq!(v.status, NegotiationStatus::Renegotiating);
    assert_eq!(v.agreement_version, 6);
    assert_eq!(v.in_force_agreement_version, Some(3));
    assert_eq!(v.clauses["tariff"].version, 2);
    assert_eq!(
        v.awaiting_signature
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>(),
        ["city", "operator", "union"]
    );
    let before_signing = {
        let mut cmds = renegotiating();
        cmds.extend([
            propose("union", "p-tariff-2", "tariff"),
            endorse("city", "p-tariff-2"),
            adopt("p-tariff-2"),
        ]);
        cmds
    };
    let r = given(before_signing.clone())
        .and([sign("city"), sign("operator")])
        .when(conclude())
        .rejected(RejectionKind::Conflict, "signatures_missing");
    assert!(r.message.contains("union"), "{}", r.message);
    let (e, accepted) = then_event!(
        given(before_signing)
            .and([sign("city"), sign("operator"), sign("union")])
            .when(conclude()),
        NegotiationConcluded
    );
    assert_eq!((e.agreement_version, e.round_id), (4, Some(rid("r-1"))));
    assert_eq!(accepted.view.in_force_agreement_version, Some(4));
    assert_eq!(
        accepted.view.rounds["r-1"].concluded_agreement_version,
        Some(4)
    );
}

#[test]
fn a_signatory_admitted_in_a_round_must_sign_before_it_concludes() {
    let cmds = {
        let mut cmds = renegotiating();
        cmds.push(admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Signatory,
        ));
        cmds
    };
    let r = given(cmds.clone())
        .when(conclude())
        .rejected(RejectionKind::Conflict, "signatures_missing");
    assert!(r.message.contains("residents"), "{}", r.message);
    given(cmds)
        .and([sign("residents")])
        .when(conclude())
        .accepted();
}

#[test]
fn the_version_1_commands_wait_for_a_round_while_concluded() {
    for c in [
        propose("city", "p-new", "coverage"),
        commit("city", "k-new"),
        admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Observer,
        ),
        sign("city"),
        conclude(),
    ] {
        let name = c.command.name();
        given(renegotiating())
            .when(c.clone())
            .accepted_or_signed(name);
        let r = given(in_force())
            .when(c)
            .rejected(RejectionKind::Conflict, "negotiation_concluded");
        assert!(r.message.contains(NEGOTIATION), "{name}: {}", r.message);
    }
}

/// `sign` in a round that changed nothing is refused as already signed: that is the
/// version 1 rule, which still holds; everything else is accepted.
trait AcceptedOrSigned {
    fn accepted_or_signed(self, name: &str);
}

impl AcceptedOrSigned for crate::common::Then {
    fn accepted_or_signed(self, name: &str) {
        if name == "sign" {
            self.rejected(RejectionKind::Conflict, "already_signed");
        } else {
            self.accepted();
        }
    }
}

#[test]
fn terminate_ends_the_negotiation_from_every_status() {
    let statuses: [(Vec<CommandEnvelope>, NegotiationStatus); 3] = [
        (agreed(), NegotiationStatus::Open),
        (in_force(), NegotiationStatus::Concluded),
        (renegotiating(), NegotiationStatus::Renegotiating),
    ];
    for (given_cmds, before) in statuses {
        let (e, accepted) = then_event!(given(given_cmds).when(terminate()), NegotiationTerminated);
        assert_eq!(accepted.before.unwrap().status, before);
        assert_eq!(accepted.view.status, NegotiationStatus::Terminated);
        assert!(accepted.view.awaiting_signature.is_empty());
        if before == NegotiationStatus::Renegotiating {
            assert_eq!(e.abandoned_round, Some(rid("r-1")));
            assert_eq!(accepted.view.rounds["r-1"].status, RoundStatus::Abandoned);
        } else {
            assert_eq!(e.abandoned_round, None);
        }
    }
}

#[test]
fn terminate_is_the_secretariats_and_needs_a_reason() {
    given(in_force())
        .when(terminate().by("city"))
        .rejected(RejectionKind::Forbidden, "secretariat_only");
    let blank = cmd(
        "secretariat",
        Command::Terminate(roundtable_domain::command::Terminate { reason: "".into() }),
    );
    given(in_force())
        .when(blank)
        .rejected(RejectionKind::Invalid, "blank_field");
}

#[test]
fn every_command_after_terminate_is_rejected() {
    let terminated = {
        let mut cmds = in_force();
        cmds.push(terminate());
        cmds
    };
    let v1 = [
        open_default(),
        admit(
            "residents",
            PartnerKind::CommunityOrganisation,
            Role::Signatory,
        ),
        propose("city", "p-new", "coverage"),
        commit("city", "k-new"),
        sign("city"),
        conclude(),
    ];
    for c in v1.into_iter().chain(one_of_each_v2()) {
        let name = c.command.name();
        let r = given(terminated.clone())
            .when(c)
            .rejected(RejectionKind::Conflict, "negotiation_terminated");
        assert!(r.message.contains(NEGOTIATION), "{name}: {}", r.message);
    }
}
