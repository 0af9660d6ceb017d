//! `commit` and `withdraw_commitment`.

use chrono::NaiveDate;
use roundtable_domain::command::Commit;
use roundtable_domain::view::CommitmentStatus;
use roundtable_domain::vocab::{Amount, CommitmentKind, DecisionRule};
use roundtable_domain::{Command, CommandEnvelope, RejectionKind};

use crate::common::*;

fn consent() -> Vec<CommandEnvelope> {
    table(DecisionRule::Consent)
}

#[test]
fn commit_records_an_active_commitment_and_bumps_the_agreement_version() {
    let c = cmd(
        "operator",
        Command::Commit(Commit {
            commitment_id: kid("k-pipes"),
            description: "2 km of pipes".into(),
            kind: CommitmentKind::Finance,
            clause_id: None,
            amount: Some(Amount {
                value: "2400000.00".into(),
                currency: "USD".into(),
            }),
            due: NaiveDate::from_ymd_opt(2027, 12, 31),
            assets: Vec::new(),
        }),
    );
    let (e, accepted) = then_event!(given(agreed()).when(c), CommitmentMade);
    assert_eq!(e.commitment_id, kid("k-pipes"));
    assert_eq!(e.kind, CommitmentKind::Finance);
    assert_eq!(e.amount.as_ref().unwrap().value, "2400000.00");
    assert_eq!(e.due, NaiveDate::from_ymd_opt(2027, 12, 31));
    assert_eq!(e.agreement_version, 2, "agreed() is at agreement version 1");
    let v = accepted.view;
    assert_eq!(v.agreement_version, 2);
    let k = &v.commitments["k-pipes"];
    assert_eq!(k.status, CommitmentStatus::Active);
    assert_eq!(k.partner_id, partner("operator"));
    assert_eq!(k.description, "2 km of pipes");
}

#[test]
fn an_observer_may_commit_and_every_kind_is_accepted() {
    use CommitmentKind::*;
    for kind in [
        Finance,
        InKind,
        Staff,
        ServiceDelivery,
        Regulatory,
        Monitoring,
        Other,
    ] {
        let c = cmd(
            "kiosks",
            Command::Commit(Commit {
                kind,
                ..commitment("k-1")
            }),
        );
        let (e, accepted) = then_event!(given(consent()).when(c), CommitmentMade);
        assert_eq!(e.kind, kind);
        assert_eq!(e.agreement_version, 1);
        assert_eq!(accepted.view.commitments["k-1"].kind, kind);
    }
}

#[test]
fn commit_is_for_admitted_partners_only() {
    let r = given(consent())
        .when(commit("stranger", "k-1"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
    assert!(r.message.contains("stranger"), "{}", r.message);
    given(consent())
        .when(commit("city", "k-1").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
}

#[test]
fn commit_may_name_a_clause_that_has_a_proposal() {
    // An agreed clause.
    let (e, accepted) = then_event!(
        given(agreed()).when(commit_on("city", "k-1", "tariff")),
        CommitmentMade
    );
    assert_eq!(e.clause_id, Some(cid("tariff")));
    assert_eq!(
        accepted.view.commitments["k-1"].clause_id,
        Some(cid("tariff"))
    );
    // A clause with an open proposal but no agreed text yet.
    given(consent())
        .and([propose("union", "p-staff", "staff")])
        .when(commit_on("city", "k-1", "staff"))
        .accepted();
}

#[test]
fn commit_naming_a_clause_without_a_proposal_is_not_found() {
    let r = given(agreed())
        .when(commit_on("city", "k-1", "staff"))
        .rejected(RejectionKind::NotFound, "clause_not_found");
    assert!(r.message.contains("staff"), "{}", r.message);
}

#[test]
fn commit_refuses_a_bad_amount_value() {
    for bad in ["-1", "1e5", "1.", ".5", "", "1,000", " 1", "12.5.0", "NaN"] {
        let r = given(consent())
            .when(commit_amount("city", "k-1", bad, "USD"))
            .rejected(RejectionKind::Invalid, "bad_amount");
        assert!(r.message.contains(&format!("{bad:?}")), "{}", r.message);
    }
    for good in ["0", "0.00", "1250", "2400000.50"] {
        given(consent())
            .when(commit_amount("city", "k-1", good, "EUR"))
            .accepted();
    }
}

#[test]
fn commit_refuses_a_currency_that_is_not_iso_4217() {
    for bad in ["usd", "XYZ", "US", "", "DOLLARS"] {
        let r = given(consent())
            .when(commit_amount("city", "k-1", "10", bad))
            .rejected(RejectionKind::Invalid, "bad_amount");
        assert!(r.message.contains(&format!("{bad:?}")), "{}", r.message);
    }
    for good in ["KES", "XOF", "BRL", "INR"] {
        given(consent())
            .when(commit_amount("city", "k-1", "10", good))
            .accepted();
    }
}

#[test]
fn commit_needs_a_description() {
    let c = cmd(
        "city",
        Command::Commit(Commit {
            description: "  ".into(),
            ..commitment("k-1")
        }),
    );
    let r = given(consent())
        .when(c)
        .rejected(RejectionKind::Invalid, "blank_field");
    assert!(r.message.contains("description"), "{}", r.message);
}

#[test]
fn a_commitment_id_is_used_once() {
    let r = given(consent())
        .and([commit("city", "k-1")])
        .when(commit("union", "k-1"))
        .rejected(RejectionKind::Conflict, "commitment_exists");
    assert!(r.message.contains("k-1"), "{}", r.message);
    given(consent())
        .and([commit("city", "k-1"), withdraw_commitment("city", "k-1")])
        .when(commit("city", "k-1"))
        .rejected(RejectionKind::Conflict, "commitment_exists");
}

#[test]
fn withdraw_commitment_by_the_committer_bumps_the_agreement_version() {
    let (e, accepted) = then_event!(
        given(agreed())
            .and([commit("city", "k-1")])
            .when(withdraw_commitment("city", "k-1")),
        CommitmentWithdrawn
    );
    assert_eq!(e.commitment_id, kid("k-1"));
    assert_eq!(e.reason, "budget cut");
    assert_eq!(e.agreement_version, 3);
    let v = accepted.view;
    assert_eq!(v.agreement_version, 3);
    assert_eq!(v.commitments["k-1"].status, CommitmentStatus::Withdrawn);
}

#[test]
fn only_the_committer_withdraws_a_commitment() {
    let r = given(consent())
        .and([commit("city", "k-1")])
        .when(withdraw_commitment("union", "k-1"))
        .rejected(RejectionKind::Forbidden, "not_committer");
    assert!(
        r.message.contains("k-1") && r.message.contains("city"),
        "{}",
        r.message
    );
    given(consent())
        .and([commit("city", "k-1")])
        .when(withdraw_commitment("city", "k-1").by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
    given(consent())
        .and([commit("city", "k-1")])
        .when(withdraw_commitment("stranger", "k-1"))
        .rejected(RejectionKind::Forbidden, "not_admitted");
}

#[test]
fn withdraw_commitment_needs_an_active_commitment() {
    let r = given(consent())
        .when(withdraw_commitment("city", "k-none"))
        .rejected(RejectionKind::NotFound, "commitment_not_found");
    assert!(r.message.contains("k-none"), "{}", r.message);
    let r = given(consent())
        .and([commit("city", "k-1"), withdraw_commitment("city", "k-1")])
        .when(withdraw_commitment("city", "k-1"))
        .rejected(RejectionKind::Conflict, "commitment_not_active");
    assert!(r.message.contains("k-1"), "{}", r.message);
}

#[test]
fn withdraw_commitment_needs_a_reason() {
    let c = cmd(
        "city",
        Command::WithdrawCommitment(roundtable_domain::command::WithdrawCommitment {
            commitment_id: kid("k-1"),
            reason: "".into(),
        }),
    );
    let r = given(consent())
        .and([commit("city", "k-1")])
        .when(c)
        .rejected(RejectionKind::Invalid, "blank_field");
    assert!(r.message.contains("reason"), "{}", r.message);
}
