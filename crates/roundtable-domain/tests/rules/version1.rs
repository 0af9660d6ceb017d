//! Contract version 2 keeps version 1 valid: a version 1 history folds to its version 1
//! view plus the new fields at their defaults, and a view stored by the previous
//! release (JSON without the new fields) still reads and goes on deciding.

use std::path::PathBuf;

use roundtable_domain::view::{NegotiationStatus, PartnerStatus};
use roundtable_domain::{AgreementView, Projection, RejectionKind};

use crate::common::*;

fn frozen_v1_view() -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/logs/every-type.v1.view.json");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_version_1_history_gets_the_new_fields_at_their_defaults() {
    let (p, _) = run(&concluded());
    let v = p.view.unwrap();
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert_eq!(v.in_force_agreement_version, Some(1), "set by its conclude");
    assert!(
        v.partners
            .values()
            .all(|p| p.status == PartnerStatus::Active)
    );
    assert!(v.rounds.is_empty() && v.assets.is_empty() && v.shortfalls.is_empty());
    for k in v.commitments.values() {
        assert!(k.assets.is_empty() && k.progress.is_empty());
        assert_eq!((k.fulfilled_on, &k.transferred_to), (None, &None));
    }
    let (p, _) = run(&agreed());
    assert_eq!(
        p.view.unwrap().in_force_agreement_version,
        None,
        "not concluded"
    );
}

#[test]
fn a_view_stored_by_the_previous_release_still_reads() {
    let bytes = frozen_v1_view();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        json.get("rounds").is_none(),
        "written before contract version 2"
    );
    let v = AgreementView::from_json(&bytes).expect("an old stored view reads");
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert!(
        v.partners
            .values()
            .all(|p| p.status == PartnerStatus::Active)
    );
    assert!(v.rounds.is_empty() && v.assets.is_empty() && v.shortfalls.is_empty());
    assert_eq!(
        v.in_force_agreement_version,
        Some(v.agreement_version),
        "a concluded version 1 view has its agreement in force"
    );
    // Resumed as state, it goes on deciding under contract version 2.
    let p = Projection::from_view(v.clone());
    assert_eq!(p.version, v.version);
    let mut c = open_round("r-1");
    c.negotiation_id = v.negotiation_id.clone();
    match roundtable_domain::decide(p.view.as_ref(), &c).map(|e| e.body) {
        Ok(roundtable_domain::EventBody::RoundOpened(e)) => {
            assert_eq!(e.from_agreement_version, v.agreement_version);
        }
        other => panic!("expected round_opened, got {other:?}"),
    }
}

#[test]
fn a_version_1_command_on_a_concluded_negotiation_still_says_so() {
    given(concluded())
        .when(propose("city", "p-late", "late"))
        .rejected(RejectionKind::Conflict, "negotiation_concluded");
}
