//! Contract version 2: `report_shortfall` and `resolve_shortfall`.

use roundtable_domain::command::{ReportShortfall, ResolveShortfall};
use roundtable_domain::view::ShortfallStatus;
use roundtable_domain::vocab::Severity;
use roundtable_domain::{Command, RejectionKind};

use crate::common::*;

#[test]
fn any_admitted_partner_reports_a_shortfall_of_any_severity() {
    for (by, severity) in [
        ("ngo", Severity::Minor),
        ("kiosks", Severity::Major),
        ("union", Severity::Critical),
    ] {
        let (e, accepted) = then_event!(
            given(in_force()).when(report_shortfall(by, "s-1", "k-pipes", severity)),
            ShortfallReported
        );
        assert_eq!((e.shortfall_id.as_str(), e.severity), ("s-1", severity));
        let f = &accepted.view.shortfalls["s-1"];
        assert_eq!(f.reported_by, partner(by));
        assert_eq!(f.commitment_id, kid("k-pipes"));
        assert_eq!((f.status, f.penalty.clone()), (ShortfallStatus::Open, None));
        assert_eq!(f.description, "k-pipes fell short");
        assert_eq!(accepted.view.agreement_version, 3);
    }
}

#[test]
fn a_shortfall_is_on_an_active_or_fulfilled_commitment_in_force() {
    given(in_force())
        .and([fulfil("operator", "k-pipes", date(2028, 1, 1))])
        .when(report_shortfall("ngo", "s-1", "k-pipes", Severity::Major))
        .accepted();
    let withdrawn = {
        let mut cmds = renegotiating();
        cmds.push(withdraw_commitment("city", "k-meters"));
        cmds
    };
    let r = given(withdrawn)
        .when(report_shortfall("ngo", "s-1", "k-meters", Severity::Major))
        .rejected(RejectionKind::Conflict, "commitment_not_active");
    assert!(r.message.contains("withdrawn"), "{}", r.message);
    given(in_force())
        .when(report_shortfall("ngo", "s-1", "k-none", Severity::Major))
        .rejected(RejectionKind::NotFound, "commitment_not_found");
    let mut open = agreed();
    open.push(commit("city", "k-1"));
    given(open)
        .when(report_shortfall("ngo", "s-1", "k-1", Severity::Major))
        .rejected(RejectionKind::Conflict, "agreement_not_in_force");
    given(in_force())
        .when(report_shortfall("ngo", "s-1", "k-pipes", Severity::Major).by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
}

#[test]
fn a_shortfall_id_is_used_once_and_a_description_is_needed() {
    let r = given(in_force())
        .and([report_shortfall("ngo", "s-1", "k-pipes", Severity::Minor)])
        .when(report_shortfall(
            "union",
            "s-1",
            "k-meters",
            Severity::Major,
        ))
        .rejected(RejectionKind::Conflict, "shortfall_exists");
    assert!(r.message.contains("s-1"), "{}", r.message);
    let blank = cmd(
        "ngo",
        Command::ReportShortfall(ReportShortfall {
            shortfall_id: sid("s-1"),
            commitment_id: kid("k-pipes"),
            description: "  ".into(),
            severity: Severity::Minor,
        }),
    );
    given(in_force())
        .when(blank)
        .rejected(RejectionKind::Invalid, "blank_field");
}

#[test]
fn the_secretariat_resolves_an_open_shortfall_with_or_without_a_penalty() {
    let reported =
        || given(in_force()).and([report_shortfall("ngo", "s-1", "k-pipes", Severity::Major)]);
    let (e, accepted) = then_event!(
        reported().when(resolve_shortfall("s-1", Some(money("50", "USD")))),
        ShortfallResolved
    );
    assert_eq!(e.penalty, Some(money("50", "USD")));
    let f = &accepted.view.shortfalls["s-1"];
    assert_eq!(f.status, ShortfallStatus::Resolved);
    assert_eq!(f.penalty, Some(money("50", "USD")));
    assert_eq!(f.resolution.as_deref(), Some("s-1 settled"));
    reported().when(resolve_shortfall("s-1", None)).accepted();
    reported()
        .when(resolve_shortfall("s-1", None).by("city"))
        .rejected(RejectionKind::Forbidden, "secretariat_only");
    let r = reported()
        .when(resolve_shortfall("s-1", Some(money("5", "dollars"))))
        .rejected(RejectionKind::Invalid, "bad_amount");
    assert!(r.message.contains("penalty"), "{}", r.message);
    let blank = cmd(
        "secretariat",
        Command::ResolveShortfall(ResolveShortfall {
            shortfall_id: sid("s-1"),
            resolution: "".into(),
            penalty: None,
        }),
    );
    reported()
        .when(blank)
        .rejected(RejectionKind::Invalid, "blank_field");
}

#[test]
fn resolve_needs_an_open_shortfall() {
    let r = given(in_force())
        .when(resolve_shortfall("s-none", None))
        .rejected(RejectionKind::NotFound, "shortfall_not_found");
    assert!(r.message.contains("s-none"), "{}", r.message);
    given(in_force())
        .and([
            report_shortfall("ngo", "s-1", "k-pipes", Severity::Major),
            resolve_shortfall("s-1", None),
        ])
        .when(resolve_shortfall("s-1", None))
        .rejected(RejectionKind::Conflict, "shortfall_not_open");
}
