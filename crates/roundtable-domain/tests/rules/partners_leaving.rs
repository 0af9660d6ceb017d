//! Contract version 2: `withdraw_partner`, its transfers and every effect, and what a
//! withdrawn partner may no longer do.

use roundtable_domain::RejectionKind;
use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, PartnerStatus, ProposalStatus,
};
use roundtable_domain::vocab::{AssetKind, DecisionRule, PartnerKind, Role, Severity};

use crate::common::*;

#[test]
fn a_partner_leaves_passing_one_commitment_on_and_withdrawing_the_rest() {
    let given_cmds = {
        let mut cmds = in_force();
        cmds.extend([open_round("r-1"), commit("operator", "k-trucks")]);
        cmds
    };
    let (e, accepted) = then_event!(
        given(given_cmds).when(withdraw_partner(
            "operator",
            "operator",
            &[("k-pipes", "city", "k-pipes-city")]
        )),
        PartnerWithdrawn
    );
    assert_eq!(e.partner_id, partner("operator"));
    assert_eq!(e.transfers.len(), 1);
    let t = &e.transfers[0];
    assert_eq!(
        (
            t.commitment_id.as_str(),
            t.to.as_str(),
            t.new_commitment_id.as_str()
        ),
        ("k-pipes", "city", "k-pipes-city")
    );
    assert_eq!(t.amount, Some(money("1000", "USD")));
    assert_eq!(t.due, Some(date(2028, 6, 30)));
    assert_eq!(e.withdrawn_commitments, [kid("k-trucks")]);
    assert!(e.agreement_version_raised);
    assert_eq!(
        e.agreement_version, 5,
        "in_force() is at 3, k-trucks made it 4"
    );
    let v = accepted.view;
    assert_eq!(v.partners["operator"].status, PartnerStatus::Withdrawn);
    let old = &v.commitments["k-pipes"];
    assert_eq!(old.status, CommitmentStatus::Transferred);
    assert_eq!(old.transferred_to, Some(kid("k-pipes-city")));
    let new = &v.commitments["k-pipes-city"];
    assert_eq!(new.partner_id, partner("city"));
    assert_eq!(new.status, CommitmentStatus::Active);
    assert_eq!(
        (new.kind, &new.clause_id, &new.amount, new.due),
        (old.kind, &old.clause_id, &old.amount, old.due)
    );
    assert_eq!(new.description, old.description);
    assert!(new.assets.is_empty());
    assert_eq!(new.transferred_from, Some(kid("k-pipes")));
    assert_eq!(
        v.commitments["k-trucks"].status,
        CommitmentStatus::Withdrawn
    );
    assert_eq!(v.agreement_version, 5);
    assert_eq!(
        v.in_force_agreement_version,
        Some(3),
        "the agreement in force stays in force"
    );
    assert_eq!(v.status, NegotiationStatus::Renegotiating);
    assert!(v.partners.contains_key("operator"), "it stays listed");
}

#[test]
fn the_new_commitment_draws_on_no_assets_even_if_the_old_one_did() {
    let mut cmds = agreed();
    cmds.extend([
        declare_asset("operator", "a-fleet", AssetKind::Infrastructure),
        commit_assets("operator", "k-haul", &["a-fleet"]),
    ]);
    let (_, accepted) = then_event!(
        given(cmds).when(withdraw_partner(
            "secretariat",
            "operator",
            &[("k-haul", "union", "k-haul-2")]
        )),
        PartnerWithdrawn
    );
    assert!(accepted.view.commitments["k-haul-2"].assets.is_empty());
    let unused: Vec<&str> = accepted
        .view
        .unused_assets()
        .iter()
        .map(|a| a.asset_id.as_str())
        .collect();
    assert_eq!(unused, ["a-fleet"]);
}

#[test]
fn its_proposals_endorsements_and_objections_go_in_order() {
    let cmds = {
        let mut cmds = agreed();
        cmds.extend([
            propose("union", "p-own", "staff"),
            object("city", "o-on-own", "p-own", true),
            object("union", "o-self", "p-own", false),
            propose("city", "p-other", "hours"),
            endorse("union", "p-other"),
            propose("operator", "p-third", "fees"),
            object("union", "o-third", "p-third", true),
        ]);
        cmds
    };
    let (e, accepted) = then_event!(
        given(cmds).when(withdraw_partner("secretariat", "union", &[])),
        PartnerWithdrawn
    );
    assert_eq!(e.withdrawn_proposals, [pid("p-own")]);
    assert_eq!(e.mooted_objections, [oid("o-on-own"), oid("o-self")]);
    assert_eq!(e.retracted_endorsements, [pid("p-other")]);
    assert_eq!(e.withdrawn_objections, [oid("o-third")]);
    assert!(e.withdrawn_commitments.is_empty() && e.transfers.is_empty());
    assert!(!e.agreement_version_raised);
    assert_eq!(e.agreement_version, 1, "no commitment changed");
    let v = accepted.view;
    assert_eq!(v.proposals["p-own"].status, ProposalStatus::Withdrawn);
    assert_eq!(v.objections["o-on-own"].status, ObjectionStatus::Moot);
    assert_eq!(v.objections["o-self"].status, ObjectionStatus::Moot);
    assert!(v.proposals["p-other"].endorsed_by.is_empty());
    assert_eq!(v.objections["o-third"].status, ObjectionStatus::Withdrawn);
    assert_eq!(v.agreement_version, 1);
}

#[test]
fn a_withdrawn_partner_counts_for_no_rule_and_issues_no_command() {
    // Unanimity without the union: the two signatories left decide.
    let cmds = {
        let mut cmds = table(DecisionRule::Unanimity);
        cmds.extend([
            propose("city", "p-1", "tariff"),
            endorse("city", "p-1"),
            endorse("operator", "p-1"),
            withdraw_partner("union", "union", &[]),
        ]);
        cmds
    };
    given(cmds.clone()).when(adopt("p-1")).accepted();
    // Conclude: only the remaining signatories sign.
    let signed = {
        let mut c = cmds.clone();
        c.extend([adopt("p-1"), sign("city"), sign("operator")]);
        c
    };
    let (e, _) = then_event!(given(signed).when(conclude()), NegotiationConcluded);
    assert_eq!(e.signatories, [partner("city"), partner("operator")]);
    // It may issue no command at all.
    for c in [
        propose("union", "p-2", "staff"),
        endorse("union", "p-1"),
        commit("union", "k-1"),
        declare_asset("union", "a-1", AssetKind::Workforce),
        sign("union"),
        withdraw_partner("union", "union", &[]),
    ] {
        let name = c.command.name();
        let r = given(cmds.clone())
            .when(c)
            .rejected(RejectionKind::Forbidden, "partner_withdrawn");
        assert!(r.message.contains("union"), "{name}: {}", r.message);
    }
    let mut in_force_cmds = in_force();
    in_force_cmds.push(withdraw_partner("secretariat", "union", &[]));
    given(in_force_cmds)
        .when(report_shortfall("union", "s-1", "k-pipes", Severity::Minor))
        .rejected(RejectionKind::Forbidden, "partner_withdrawn");
}

#[test]
fn a_withdrawn_signatory_is_no_longer_awaited_and_cross_sector_ignores_it() {
    let cmds = {
        let mut cmds = table(DecisionRule::CrossSectorConsent);
        cmds.extend([
            propose("city", "p-1", "tariff"),
            endorse("city", "p-1"),
            endorse("operator", "p-1"),
        ]);
        cmds
    };
    given(cmds.clone())
        .when(adopt("p-1"))
        .rejected(RejectionKind::Conflict, "decision_rule_not_met");
    let (_, accepted) = then_event!(
        given(cmds.clone()).when(withdraw_partner("secretariat", "union", &[])),
        PartnerWithdrawn
    );
    let awaiting: Vec<&str> = accepted
        .view
        .awaiting_signature
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(awaiting, ["city", "operator"]);
    given(cmds)
        .and([withdraw_partner("secretariat", "union", &[])])
        .when(adopt("p-1"))
        .accepted();
}

#[test]
fn withdraw_partner_is_by_that_partner_or_the_secretariat() {
    let r = given(agreed())
        .when(withdraw_partner("city", "union", &[]))
        .rejected(RejectionKind::Forbidden, "not_that_partner");
    assert!(r.message.contains("union"), "{}", r.message);
    given(agreed())
        .when(withdraw_partner("stranger", "stranger", &[]))
        .rejected(RejectionKind::Forbidden, "not_admitted");
    let r = given(agreed())
        .when(withdraw_partner("secretariat", "stranger", &[]))
        .rejected(RejectionKind::NotFound, "partner_not_found");
    assert!(r.message.contains("stranger"), "{}", r.message);
    given(agreed())
        .and([withdraw_partner("secretariat", "ngo", &[])])
        .when(withdraw_partner("secretariat", "ngo", &[]))
        .rejected(RejectionKind::Conflict, "partner_already_withdrawn");
}

#[test]
fn withdraw_partner_is_accepted_in_every_status_but_terminated() {
    for cmds in [agreed(), in_force(), renegotiating()] {
        given(cmds)
            .when(withdraw_partner("secretariat", "ngo", &[]))
            .accepted();
    }
    let mut terminated = in_force();
    terminated.push(terminate());
    given(terminated)
        .when(withdraw_partner("secretariat", "ngo", &[]))
        .rejected(RejectionKind::Conflict, "negotiation_terminated");
}

#[test]
fn transfers_are_validated_one_by_one() {
    let cmds = || {
        let mut cmds = in_force();
        cmds.extend([
            withdraw_partner("secretariat", "ngo", &[]),
            open_round("r-1"),
            commit("operator", "k-trucks"),
            commit("union", "k-crews"),
            withdraw_commitment("operator", "k-trucks"),
            commit("operator", "k-spare"),
        ]);
        cmds
    };
    let when = |transfers: &[T<'_>]| {
        given(cmds()).when(withdraw_partner("operator", "operator", transfers))
    };
    let r = when(&[("k-none", "city", "k-new")])
        .rejected(RejectionKind::NotFound, "commitment_not_found");
    assert!(r.message.contains("k-none"), "{}", r.message);
    let r = when(&[("k-crews", "city", "k-new")])
        .rejected(RejectionKind::Conflict, "commitment_of_another_partner");
    assert!(
        r.message.contains("k-crews") && r.message.contains("union"),
        "{}",
        r.message
    );
    let r = when(&[("k-trucks", "city", "k-new")])
        .rejected(RejectionKind::Conflict, "commitment_not_active");
    assert!(r.message.contains("k-trucks"), "{}", r.message);
    let r = when(&[("k-pipes", "city", "k-a"), ("k-pipes", "union", "k-b")])
        .rejected(RejectionKind::Invalid, "duplicate_transfer");
    assert!(r.message.contains("k-pipes"), "{}", r.message);
    when(&[("k-pipes", "operator", "k-new")]).rejected(RejectionKind::Invalid, "transfer_to_self");
    let r = when(&[("k-pipes", "stranger", "k-new")])
        .rejected(RejectionKind::NotFound, "partner_not_found");
    assert!(r.message.contains("stranger"), "{}", r.message);
    let r = when(&[("k-pipes", "ngo", "k-new")])
        .rejected(RejectionKind::Conflict, "transfer_to_withdrawn");
    assert!(r.message.contains("ngo"), "{}", r.message);
    let r = when(&[("k-pipes", "city", "k-meters")])
        .rejected(RejectionKind::Conflict, "commitment_exists");
    assert!(r.message.contains("k-meters"), "{}", r.message);
    let r = when(&[("k-pipes", "city", "k-new"), ("k-spare", "union", "k-new")])
        .rejected(RejectionKind::Invalid, "duplicate_new_commitment");
    assert!(r.message.contains("k-new"), "{}", r.message);
    // Both passed on, to an observer and a signatory.
    let (e, accepted) = then_event!(
        when(&[
            ("k-pipes", "kiosks", "k-pipes-2"),
            ("k-spare", "union", "k-spare-2")
        ]),
        PartnerWithdrawn
    );
    assert!(e.withdrawn_commitments.is_empty());
    assert_eq!(
        accepted.view.commitments["k-pipes-2"].partner_id,
        partner("kiosks")
    );
    assert_eq!(
        accepted.view.commitments["k-spare-2"].partner_id,
        partner("union")
    );
}

#[test]
fn a_withdrawal_needs_a_reason_and_a_leaving_observer_changes_nothing_agreed() {
    let mut c = withdraw_partner("secretariat", "ngo", &[]);
    if let roundtable_domain::Command::WithdrawPartner(w) = &mut c.command {
        w.reason = " ".into();
    }
    given(agreed())
        .when(c)
        .rejected(RejectionKind::Invalid, "blank_field");
    let (e, accepted) = then_event!(
        given(in_force()).when(withdraw_partner("ngo", "ngo", &[])),
        PartnerWithdrawn
    );
    assert!(!e.agreement_version_raised);
    assert_eq!(accepted.view.agreement_version, 3);
    // An observer admitted later may still be admitted again under another id only.
    given(agreed())
        .and([withdraw_partner("secretariat", "ngo", &[])])
        .when(admit("ngo", PartnerKind::Ngo, Role::Observer))
        .rejected(RejectionKind::Conflict, "partner_exists");
}
