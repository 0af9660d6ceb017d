//! Contract version 2: `declare_asset` and `commit`'s `assets`.

use roundtable_domain::command::DeclareAsset;
use roundtable_domain::vocab::{AssetKind, DecisionRule};
use roundtable_domain::{Command, RejectionKind};

use crate::common::*;

#[test]
fn declare_asset_lists_it_under_its_partner_and_changes_nothing_agreed() {
    for kind in AssetKind::ALL {
        let (e, accepted) = then_event!(
            given(agreed()).when(declare_asset("kiosks", "a-1", kind)),
            AssetDeclared
        );
        assert_eq!((e.asset_id.as_str(), e.kind), ("a-1", kind));
        let a = &accepted.view.assets["a-1"];
        assert_eq!(
            (a.partner_id.as_str(), a.kind, a.description.as_str()),
            ("kiosks", kind, "asset a-1")
        );
        assert_eq!(accepted.view.agreement_version, 1);
    }
}

#[test]
fn assets_are_declared_while_open_or_in_a_round_by_admitted_partners() {
    given(renegotiating())
        .when(declare_asset("city", "a-1", AssetKind::Finance))
        .accepted();
    let r = given(in_force())
        .when(declare_asset("city", "a-1", AssetKind::Finance))
        .rejected(RejectionKind::Conflict, "negotiation_concluded");
    assert!(r.message.contains(NEGOTIATION), "{}", r.message);
    given(agreed())
        .when(declare_asset("city", "a-1", AssetKind::Finance).by("secretariat"))
        .rejected(RejectionKind::Forbidden, "partners_only");
    given(agreed())
        .when(declare_asset("stranger", "a-1", AssetKind::Finance))
        .rejected(RejectionKind::Forbidden, "not_admitted");
}

#[test]
fn an_asset_id_is_used_once_and_a_description_is_needed() {
    let r = given(agreed())
        .and([declare_asset("city", "a-1", AssetKind::Finance)])
        .when(declare_asset("union", "a-1", AssetKind::Workforce))
        .rejected(RejectionKind::Conflict, "asset_exists");
    assert!(r.message.contains("a-1"), "{}", r.message);
    let blank = cmd(
        "city",
        Command::DeclareAsset(DeclareAsset {
            asset_id: aid("a-1"),
            kind: AssetKind::Legitimacy,
            description: "\t".into(),
        }),
    );
    let r = given(agreed())
        .when(blank)
        .rejected(RejectionKind::Invalid, "blank_field");
    assert!(r.message.contains("description"), "{}", r.message);
}

#[test]
fn a_commitment_draws_on_its_committers_own_declared_assets() {
    let (e, accepted) = then_event!(
        given(table(DecisionRule::Consent))
            .and([
                declare_asset("city", "a-land", AssetKind::Infrastructure),
                declare_asset("city", "a-staff", AssetKind::Workforce),
            ])
            .when(commit_assets("city", "k-1", &["a-staff", "a-land"])),
        CommitmentMade
    );
    assert_eq!(e.assets, [aid("a-staff"), aid("a-land")]);
    let v = accepted.view;
    assert_eq!(v.commitments["k-1"].assets, [aid("a-staff"), aid("a-land")]);
    assert!(v.unused_assets().is_empty());
}

#[test]
fn commit_refuses_unknown_foreign_and_repeated_assets() {
    let base = || {
        given(table(DecisionRule::Consent)).and([
            declare_asset("city", "a-land", AssetKind::Infrastructure),
            declare_asset("union", "a-crews", AssetKind::Workforce),
        ])
    };
    let r = base()
        .when(commit_assets("city", "k-1", &["a-none"]))
        .rejected(RejectionKind::NotFound, "asset_not_found");
    assert!(r.message.contains("a-none"), "{}", r.message);
    let r = base()
        .when(commit_assets("city", "k-1", &["a-crews"]))
        .rejected(RejectionKind::Forbidden, "not_own_asset");
    assert!(
        r.message.contains("a-crews") && r.message.contains("union"),
        "{}",
        r.message
    );
    base()
        .when(commit_assets("city", "k-1", &["a-land", "a-land"]))
        .rejected(RejectionKind::Invalid, "duplicate_asset");
}

#[test]
fn unused_assets_are_those_no_active_commitment_draws_on() {
    let (p, _) = run(&{
        let mut cmds = table(DecisionRule::Consent);
        cmds.extend([
            declare_asset("city", "a-land", AssetKind::Infrastructure),
            declare_asset("city", "a-budget", AssetKind::Finance),
            declare_asset("union", "a-crews", AssetKind::Workforce),
            commit_assets("city", "k-1", &["a-land"]),
            commit_assets("union", "k-2", &["a-crews"]),
            withdraw_commitment("union", "k-2"),
        ]);
        cmds
    });
    let v = p.view.unwrap();
    let unused: Vec<&str> = v
        .unused_assets()
        .iter()
        .map(|a| a.asset_id.as_str())
        .collect();
    assert_eq!(unused, ["a-budget", "a-crews"]);
}
