//! Contract version 2: `report_progress`, `fulfil`, and overdue commitments.

use roundtable_domain::command::{Fulfil, ReportProgress};
use roundtable_domain::view::CommitmentStatus;
use roundtable_domain::{Actor, Command, RejectionKind, overdue_commitments};

use crate::common::*;

#[test]
fn report_progress_adds_an_entry_and_changes_nothing_agreed() {
    let (e, accepted) = then_event!(
        given(in_force()).when(report_progress(
            "operator",
            "k-pipes",
            Some(money("250.50", "USD"))
        )),
        ProgressReported
    );
    assert_eq!(e.commitment_id, kid("k-pipes"));
    assert_eq!(e.delivered, Some(money("250.50", "USD")));
    assert_eq!(e.at, t0(), "the report's business time");
    let v = accepted.view;
    let k = &v.commitments["k-pipes"];
    assert_eq!(k.progress.len(), 1);
    assert_eq!(k.progress[0].note, "progress on k-pipes");
    assert_eq!(k.progress[0].delivered, Some(money("250.50", "USD")));
    assert_eq!(k.progress[0].at, t0());
    assert_eq!(k.progress[0].reported_by, Actor::parse("operator").unwrap());
    assert_eq!(k.status, CommitmentStatus::Active);
    assert_eq!(
        v.agreement_version, 3,
        "progress changes what was delivered, not what was agreed"
    );
    assert!(v.awaiting_signature.is_empty());
}

#[test]
fn the_committer_or_the_secretariat_reports_progress() {
    let (_, accepted) = then_event!(
        given(renegotiating()).when(report_progress("secretariat", "k-meters", None)),
        ProgressReported
    );
    assert_eq!(
        accepted.view.commitments["k-meters"].progress[0].reported_by,
        Actor::Secretariat
    );
    let r = given(in_force())
        .when(report_progress("union", "k-pipes", None))
        .rejected(RejectionKind::Forbidden, "not_committer");
    assert!(
        r.message.contains("operator") && r.message.contains("k-pipes"),
        "{}",
        r.message
    );
    given(in_force())
        .when(report_progress("stranger", "k-pipes", None))
        .rejected(RejectionKind::Forbidden, "not_admitted");
}

#[test]
fn progress_needs_an_agreement_in_force_and_an_active_commitment() {
    let mut open = agreed();
    open.push(commit("city", "k-1"));
    let r = given(open)
        .when(report_progress("city", "k-1", None))
        .rejected(RejectionKind::Conflict, "agreement_not_in_force");
    assert!(r.message.contains("open"), "{}", r.message);
    let r = given(in_force())
        .when(report_progress("city", "k-none", None))
        .rejected(RejectionKind::NotFound, "commitment_not_found");
    assert!(r.message.contains("k-none"), "{}", r.message);
    let r = given(in_force())
        .and([fulfil("city", "k-meters", date(2028, 1, 2))])
        .when(report_progress("city", "k-meters", None))
        .rejected(RejectionKind::Conflict, "commitment_not_active");
    assert!(r.message.contains("fulfilled"), "{}", r.message);
}

#[test]
fn delivered_must_be_a_valid_amount_in_the_commitments_currency() {
    let r = given(in_force())
        .when(report_progress(
            "operator",
            "k-pipes",
            Some(money("10", "EUR")),
        ))
        .rejected(RejectionKind::Invalid, "currency_mismatch");
    assert!(
        r.message.contains("EUR") && r.message.contains("USD"),
        "{}",
        r.message
    );
    given(in_force())
        .when(report_progress(
            "operator",
            "k-pipes",
            Some(money("-1", "USD")),
        ))
        .rejected(RejectionKind::Invalid, "bad_amount");
    // A commitment without an amount takes a delivered amount in any currency.
    given(in_force())
        .when(report_progress(
            "city",
            "k-meters",
            Some(money("10", "KES")),
        ))
        .accepted();
    let blank = cmd(
        "city",
        Command::ReportProgress(ReportProgress {
            commitment_id: kid("k-meters"),
            note: " ".into(),
            delivered: None,
        }),
    );
    given(in_force())
        .when(blank)
        .rejected(RejectionKind::Invalid, "blank_field");
}

#[test]
fn fulfil_marks_the_commitment_fulfilled_on_its_date() {
    let (e, accepted) = then_event!(
        given(in_force()).when(fulfil("operator", "k-pipes", date(2028, 5, 1))),
        CommitmentFulfilled
    );
    assert_eq!(
        (e.fulfilled_on, e.note.as_str()),
        (date(2028, 5, 1), "k-pipes delivered")
    );
    let v = accepted.view;
    let k = &v.commitments["k-pipes"];
    assert_eq!(k.status, CommitmentStatus::Fulfilled);
    assert_eq!(k.fulfilled_on, Some(date(2028, 5, 1)));
    assert_eq!(v.agreement_version, 3);
}

#[test]
fn only_the_committer_fulfils_an_active_commitment_in_force() {
    given(in_force())
        .when(fulfil("city", "k-pipes", date(2028, 5, 1)))
        .rejected(RejectionKind::Forbidden, "not_committer");
    given(in_force())
        .when(fulfil("operator", "k-pipes", date(2028, 5, 1)).by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
    given(in_force())
        .and([fulfil("operator", "k-pipes", date(2028, 5, 1))])
        .when(fulfil("operator", "k-pipes", date(2028, 5, 2)))
        .rejected(RejectionKind::Conflict, "commitment_not_active");
    let mut open = agreed();
    open.push(commit("city", "k-1"));
    given(open)
        .when(fulfil("city", "k-1", date(2028, 5, 1)))
        .rejected(RejectionKind::Conflict, "agreement_not_in_force");
    given(renegotiating())
        .when(fulfil("city", "k-meters", date(2028, 5, 1)))
        .accepted();
    let blank = cmd(
        "city",
        Command::Fulfil(Fulfil {
            commitment_id: kid("k-meters"),
            fulfilled_on: date(2028, 5, 1),
            note: "".into(),
        }),
    );
    given(in_force())
        .when(blank)
        .rejected(RejectionKind::Invalid, "blank_field");
}

#[test]
fn overdue_is_active_after_the_due_date_computed_against_a_named_day() {
    let (p, _) = run(&in_force());
    let v = p.view.unwrap();
    let ids = |day| {
        overdue_commitments(&v, day)
            .iter()
            .map(|k| k.commitment_id.to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        ids(date(2028, 6, 30)).is_empty(),
        "due today is not overdue yet"
    );
    assert_eq!(ids(date(2028, 7, 1)), ["k-pipes"]);
    assert_eq!(
        roundtable_domain::view::first_overdue_day(&v.commitments["k-pipes"]),
        Some(date(2028, 7, 1))
    );
    // Fulfilled is never overdue; the view itself holds no overdue flag.
    let (p, _) = run(&{
        let mut cmds = in_force();
        cmds.push(fulfil("operator", "k-pipes", date(2028, 7, 3)));
        cmds
    });
    let v = p.view.unwrap();
    assert!(overdue_commitments(&v, date(2029, 1, 1)).is_empty());
    assert!(!serde_json::to_string(&v).unwrap().contains("overdue"));
}
