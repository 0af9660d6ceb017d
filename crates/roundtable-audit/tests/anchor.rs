//! Exports against checkpoints (issue 14): a history rewritten as a forger would,
//! every hash, the manifest and the signed agreement hashes recomputed, passes the
//! self-consistency checks but fails against a checkpoint the log signed before, at
//! the version where the histories part; the genuine export passes.

#[path = "common/mod.rs"]
mod common;

use roundtable_audit::anchor::{
    ANCHOR_CHECK, Anchor, prove_consistency, prove_inclusion, sign_checkpoint, verify_anchored,
};
use roundtable_audit::export::{export_with_checkpoints, view_json};
use roundtable_audit::verify::CheckOutcome;
use roundtable_audit::{Tampering, VerifyReport, export, verify};
use roundtable_checkpoint::merkle::Hash;
use roundtable_checkpoint::{
    CheckpointSigner, ED25519, SignerKey, verify_consistency, verify_inclusion,
};
use roundtable_domain::{Projection, RecordedEvent};
use serde_json::Value;

use common::*;

fn harbourside() -> (Vec<RecordedEvent>, Vec<roundtable_domain::AgreementView>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/minutes/harbourside-waste.jsonl"
    );
    run(&commands(&std::fs::read_to_string(path).unwrap()))
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::new(SignerKey::from_seed("roundtable.example.org", ED25519, [3; 32]).unwrap())
        .unwrap()
}

fn anchor(checkpoints: Vec<String>) -> Anchor {
    Anchor {
        checkpoints,
        log_keys: vec![signer().verifier()],
    }
}

/// The version of the first event whose data holds `needle`.
fn version_holding(events: &[RecordedEvent], needle: &str) -> u64 {
    events
        .iter()
        .find(|e| String::from_utf8(e.to_bytes()).unwrap().contains(needle))
        .map(|e| e.version)
        .expect("the event")
}

/// What a forger able to rewrite the whole file does: change one amount, then recompute
/// every hash, every signed agreement hash and the manifest, so that the result is a
/// self-consistent export of another history.
fn forge(bytes: &[u8], version: u64, from: &str, to: &str) -> Vec<u8> {
    let mut l = Lines::parse(bytes);
    let e = l.event(version);
    let text = serde_json::to_string(&e["data"]).unwrap().replace(from, to);
    e["data"] = serde_json::from_str(&text).unwrap();
    l.rechain();
    // The agreement hashes the signing events record follow from the new content.
    for i in 0..l.events.len() {
        if l.events[i]["type"] == "agreement_signed"
            && l.events[i]["data"].get("agreement_hash").is_some()
        {
            let before: Vec<RecordedEvent> = l.events[..i]
                .iter()
                .map(|v| RecordedEvent::from_json(v.clone()).unwrap())
                .collect();
            let view = Projection::fold(&before).unwrap().view.unwrap();
            l.events[i]["data"]["agreement_hash"] =
                Value::String(roundtable_domain::signing::agreement_hash(&view));
            l.rechain();
        }
    }
    let all: Vec<RecordedEvent> = l
        .events
        .iter()
        .map(|v| RecordedEvent::from_json(v.clone()).unwrap())
        .collect();
    l.manifest["view"] = view_json(&Projection::fold(&all).unwrap().view.unwrap());
    l.bytes()
}

#[track_caller]
fn forked_at(r: &VerifyReport, version: u64) -> String {
    assert!(!r.ok, "verified, expected forked:\n{r}");
    let f = r.failure.as_ref().unwrap();
    assert_eq!(
        (f.kind, f.check.as_str(), f.version),
        (Tampering::Forked, ANCHOR_CHECK, Some(version)),
        "{r}"
    );
    f.reason.clone()
}

#[test]
fn a_fully_rehashed_forgery_passes_alone_but_fails_against_an_earlier_checkpoint() {
    let (events, views) = harbourside();
    let genuine = export(&events, views.last()).unwrap();
    let k = version_holding(&events, "1480000.00");
    let forged = forge(&genuine, k, "1480000.00", "148000.00");
    assert_ne!(forged, genuine);
    // Today's checks: self-consistent, and the report says that is all it proved.
    let alone = verify(&forged);
    assert!(alone.ok, "{alone}");
    assert!(
        alone.to_string().contains("self-consistency only"),
        "{alone}"
    );
    // A checkpoint the log signed of the whole genuine history.
    let whole = sign_checkpoint(&signer(), &events, None).unwrap();
    let r = verify_anchored(&forged, &anchor(vec![whole.clone()]));
    let reason = forked_at(&r, 1);
    assert!(
        reason.contains(&format!("at or before version {}", events.len())),
        "{reason}"
    );
    // Checkpoints just before and at the forged version name it exactly.
    let before = sign_checkpoint(&signer(), &events, Some(k - 1)).unwrap();
    let at = sign_checkpoint(&signer(), &events, Some(k)).unwrap();
    let r = verify_anchored(
        &forged,
        &anchor(vec![whole.clone(), at.clone(), before.clone()]),
    );
    let reason = forked_at(&r, k);
    assert!(
        reason.contains(&format!("the histories part at version {k}")),
        "{reason}"
    );
    assert_eq!(
        r.failure.as_ref().unwrap().event_id,
        Some(events[k as usize - 1].event_id.to_string())
    );
    assert!(r.to_string().contains("FAILED: forked"), "{r}");
    // An earlier checkpoint only: the forgery is placed after it.
    let early = sign_checkpoint(&signer(), &events, Some(k - 5)).unwrap();
    let r = verify_anchored(&forged, &anchor(vec![early.clone(), whole.clone()]));
    let reason = forked_at(&r, k - 4);
    assert!(
        reason.contains(&format!("after version {}", k - 5)),
        "{reason}"
    );
    // A checkpoint from before the forged event says nothing against it.
    assert!(verify_anchored(&forged, &anchor(vec![early])).ok);
    // The genuine export passes against all of them.
    let r = verify_anchored(&genuine, &anchor(vec![whole, at, before]));
    assert!(r.ok, "{r}");
    let c = r.checks.iter().find(|c| c.name == ANCHOR_CHECK).unwrap();
    assert_eq!(c.outcome, CheckOutcome::Passed);
    assert!(
        c.detail
            .contains(&format!("commits to versions 1 to {}", events.len())),
        "{}",
        c.detail
    );
    assert!(!r.to_string().contains("self-consistency only"), "{r}");
}

#[test]
fn checkpoints_carried_by_the_export_anchor_it_once_the_key_is_trusted() {
    let (events, views) = harbourside();
    let carried: Vec<String> = [10, 40, events.len() as u64]
        .iter()
        .map(|&n| sign_checkpoint(&signer(), &events, Some(n)).unwrap())
        .collect();
    let bytes = export_with_checkpoints(&events, views.last(), "test", &carried).unwrap();
    // Old readers and the plain verify see a valid export.
    assert!(verify(&bytes).ok);
    let r = verify_anchored(&bytes, &anchor(vec![]));
    assert!(r.ok, "{r}");
    // A forger who keeps the carried checkpoints is caught by them.
    let k = version_holding(&events, "1480000.00");
    let forged = forge(&bytes, k, "1480000.00", "148000.00");
    assert!((11..=40).contains(&k), "{k}");
    let reason = forked_at(&verify_anchored(&forged, &anchor(vec![])), 11);
    assert!(reason.contains("after version 10"), "{reason}");
    // One who strips them is caught by the auditor's own.
    let mut l = Lines::parse(&forged);
    l.manifest.as_object_mut().unwrap().remove("checkpoints");
    let stripped = l.bytes();
    assert!(matches!(
        verify_anchored(&stripped, &anchor(vec![]))
            .failure
            .map(|f| f.kind),
        Some(Tampering::Malformed)
    ));
    forked_at(
        &verify_anchored(&stripped, &anchor(vec![carried[2].clone()])),
        1,
    );
    // An altered carried checkpoint is named.
    let mut l = Lines::parse(&bytes);
    let cp = l.manifest["checkpoints"][0]
        .as_str()
        .unwrap()
        .replacen("\n10\n", "\n11\n", 1);
    l.manifest["checkpoints"][0] = Value::String(cp);
    let r = verify_anchored(&l.bytes(), &anchor(vec![]));
    assert_eq!(r.failure.map(|f| f.kind), Some(Tampering::Edited));
}

#[test]
fn a_truncated_export_and_unusable_anchors_are_named() {
    let (events, views) = harbourside();
    let whole = sign_checkpoint(&signer(), &events, None).unwrap();
    let short = export(&events[..50], Some(&views[49])).unwrap();
    assert!(verify(&short).ok, "a shorter chain is still a chain");
    let r = verify_anchored(&short, &anchor(vec![whole.clone()]));
    let f = r.failure.unwrap();
    assert_eq!((f.kind, f.version), (Tampering::Truncated, Some(51)));
    // Signed by another key than the one trusted.
    let other = CheckpointSigner::new(
        SignerKey::from_seed("roundtable.example.org", ED25519, [4; 32]).unwrap(),
    )
    .unwrap();
    let genuine = export(&events, views.last()).unwrap();
    let r = verify_anchored(
        &genuine,
        &anchor(vec![sign_checkpoint(&other, &events, None).unwrap()]),
    );
    let f = r.failure.unwrap();
    assert_eq!(
        (f.kind, f.check.as_str()),
        (Tampering::Malformed, ANCHOR_CHECK)
    );
    assert!(
        f.reason.contains("no signature is by a trusted key"),
        "{}",
        f.reason
    );
}

#[test]
fn proofs_of_the_events_verify_against_the_checkpoint_roots() {
    let (events, _) = harbourside();
    let p = prove_inclusion(&events, 26, 60).unwrap();
    let h = |s: &str| -> Hash { hex::decode(s).unwrap().try_into().unwrap() };
    let proof: Vec<Hash> = p.proof.iter().map(|s| h(s)).collect();
    verify_inclusion(25, 60, &h(&p.leaf_hash), &proof, &h(&p.root)).unwrap();
    assert_eq!(p.event_hash, events[25].hash);
    let c = prove_consistency(&events, 26, 60).unwrap();
    let proof: Vec<Hash> = c.proof.iter().map(|s| h(s)).collect();
    verify_consistency(26, 60, &h(&c.old_root), &h(&c.new_root), &proof).unwrap();
    assert!(prove_inclusion(&events, 0, 60).is_err());
    assert!(prove_inclusion(&events, 61, 60).is_err());
    assert!(prove_consistency(&events, 60, 26).is_err());
    assert!(prove_consistency(&events, 26, 1000).is_err());
}
