//! Signatures that prove themselves: keys generated here, a valid signature verifies
//! offline; the same signature for another agreement version, or presented by another
//! partner, is rejected by `decide` and by `verify`.

#[path = "common/mod.rs"]
mod common;

use roundtable_audit::signing::{
    agreement_hash, public_key_of, sign_agreement, signing_message, verify_signature,
    view_signing_message,
};
use roundtable_audit::{Tampering, export, verify};
use roundtable_domain::{AgreementView, CommandEnvelope, RejectionKind, decide};
use serde_json::json;

use common::*;

const N: &str = "harbour-sign";

fn c(by: &str, minute: u32, body: serde_json::Value) -> CommandEnvelope {
    cmd(N, by, at(2027, 4, 1, 9, minute), command(body))
}

/// A small negotiation: the city admitted with a key, the union given one later,
/// the NGO without; one clause agreed, a commitment, so agreement version 2.
fn agreed() -> Vec<CommandEnvelope> {
    vec![
        c(
            "secretariat",
            0,
            json!({"do": "open_negotiation", "title": "Harbour water", "service": "water"}),
        ),
        c(
            "secretariat",
            1,
            json!({"do": "admit_partner", "partner_id": "city", "name": "City", "sector": "government", "kind": "municipality", "role": "signatory", "public_key": public_hex("city")}),
        ),
        c(
            "secretariat",
            2,
            json!({"do": "admit_partner", "partner_id": "union", "name": "Union", "sector": "civil_society", "kind": "trade_union", "role": "signatory"}),
        ),
        c(
            "secretariat",
            3,
            json!({"do": "admit_partner", "partner_id": "ngo", "name": "NGO", "sector": "civil_society", "kind": "ngo", "role": "signatory"}),
        ),
        c(
            "secretariat",
            4,
            json!({"do": "register_key", "partner_id": "union", "public_key": public_hex("union")}),
        ),
        c(
            "city",
            5,
            json!({"do": "propose", "proposal_id": "p-1", "clause_id": "supply", "text": "Water for all."}),
        ),
        c("city", 6, json!({"do": "endorse", "proposal_id": "p-1"})),
        c(
            "secretariat",
            7,
            json!({"do": "adopt", "proposal_id": "p-1"}),
        ),
        c(
            "ngo",
            8,
            json!({"do": "commit", "commitment_id": "k-1", "description": "Outreach", "kind": "in_kind"}),
        ),
    ]
}

fn view_after(cmds: &[CommandEnvelope]) -> AgreementView {
    run(cmds).1.last().unwrap().clone()
}

fn sign(by: &str, minute: u32, signature: Option<String>) -> CommandEnvelope {
    let mut body = json!({"do": "sign"});
    if let Some(s) = signature {
        body["signature"] = json!(s);
    }
    c(by, minute, body)
}

/// Everyone signs version 2 (city and union with their keys) and it is concluded.
fn signed() -> Vec<CommandEnvelope> {
    let mut cmds = agreed();
    let v = view_after(&cmds);
    cmds.push(sign(
        "city",
        10,
        Some(sign_hex("city", &view_signing_message(&v))),
    ));
    cmds.push(sign(
        "union",
        11,
        Some(sign_agreement(&secret_hex("union"), &v).unwrap()),
    ));
    cmds.push(sign("ngo", 12, None));
    cmds.push(c("secretariat", 13, json!({"do": "conclude"})));
    cmds
}

#[test]
fn signatures_made_with_partners_keys_verify_offline() {
    let (events, views) = run(&signed());
    assert_eq!(
        public_key_of(&secret_hex("city")).unwrap(),
        public_hex("city")
    );
    let r = verify(&export(&events, Some(views.last().unwrap())).unwrap());
    assert!(r.ok, "{r}");
    assert_eq!(r.signatures_verified, 2);
    // And each recorded signature checks with nothing but the event and the key.
    let before = view_after(&agreed());
    for e in events
        .iter()
        .filter(|e| e.event_type() == "agreement_signed")
    {
        let data = e.to_json()["data"].clone();
        assert_eq!(data["agreement_hash"], agreement_hash(&before));
        if let Some(sig) = data["signature"].as_str() {
            let message = signing_message(
                &e.negotiation_id,
                2,
                data["agreement_hash"].as_str().unwrap(),
            );
            assert_eq!(
                message,
                format!("roundtable-agreement:{N}:2:{}", agreement_hash(&before))
            );
            let key = public_hex(e.event.actor.as_str());
            verify_signature(&key, message.as_bytes(), sig).unwrap();
        }
    }
}

#[test]
fn decide_rejects_a_signature_for_another_version_or_by_another_partner() {
    let cmds = agreed();
    let now = view_after(&cmds);
    // The city's signature of version 1 (before the commitment).
    let earlier = view_after(&cmds[..8]);
    assert_eq!(earlier.agreement_version, 1);
    let old = sign_hex("city", &view_signing_message(&earlier));
    let r = decide(Some(&now), &sign("city", 10, Some(old))).unwrap_err();
    assert_eq!(
        (r.kind, r.code.as_str()),
        (RejectionKind::Forbidden, "signature_invalid")
    );
    // The union's valid signature of version 2, presented by the city.
    let unions = sign_hex("union", &view_signing_message(&now));
    let r = decide(Some(&now), &sign("city", 10, Some(unions.clone()))).unwrap_err();
    assert_eq!(r.code, "signature_invalid");
    // A partner with a key cannot sign without a signature.
    let r = decide(Some(&now), &sign("union", 10, None)).unwrap_err();
    assert_eq!(
        (r.kind, r.code.as_str()),
        (RejectionKind::Invalid, "signature_required")
    );
    // The union's own is accepted.
    assert!(decide(Some(&now), &sign("union", 10, Some(unions))).is_ok());
}

/// Replaces the signature of the city's `agreement_signed` in an export of `signed()`
/// and re-chains the whole file, as a forger who can rewrite it would.
fn forge_city_signature(signature: String) -> Vec<u8> {
    let (events, views) = run(&signed());
    let bytes = export(&events, Some(views.last().unwrap())).unwrap();
    let mut l = Lines::parse(&bytes);
    let e = l
        .events
        .iter_mut()
        .find(|e| e["type"] == "agreement_signed" && e["actor"] == "city")
        .unwrap();
    e["data"]["signature"] = json!(signature);
    l.rechain();
    l.bytes()
}

#[test]
fn verify_rejects_a_signature_for_another_agreement_version() {
    let earlier = view_after(&agreed()[..8]);
    let old = sign_hex("city", &view_signing_message(&earlier));
    let r = verify(&forge_city_signature(old));
    assert!(!r.ok);
    let f = r.failure.as_ref().unwrap();
    assert_eq!(f.kind, Tampering::BadSignature, "{r}");
    assert_eq!(f.version, Some(10));
    assert!(f.reason.contains("signature_invalid"), "{r}");
}

#[test]
fn verify_rejects_a_signature_by_another_partner() {
    let now = view_after(&agreed());
    let unions = sign_hex("union", &view_signing_message(&now));
    let r = verify(&forge_city_signature(unions));
    let f = r.failure.as_ref().unwrap();
    assert_eq!(
        (f.kind, f.version),
        (Tampering::BadSignature, Some(10)),
        "{r}"
    );
}

#[test]
fn verify_rejects_a_signature_removed_or_an_agreement_hash_altered() {
    let (events, views) = run(&signed());
    let bytes = export(&events, Some(views.last().unwrap())).unwrap();
    // The signature dropped from the city's event: its key required one.
    let mut l = Lines::parse(&bytes);
    let e = l.event(10);
    e["data"].as_object_mut().unwrap().remove("signature");
    l.rechain();
    let r = verify(&l.bytes());
    assert_eq!(
        r.failure.as_ref().unwrap().kind,
        Tampering::BadSignature,
        "{r}"
    );
    // The recorded agreement hash of the NGO's (unsigned) event altered.
    let mut l = Lines::parse(&bytes);
    l.event(12)["data"]["agreement_hash"] = json!("00".repeat(32));
    l.rechain();
    let r = verify(&l.bytes());
    let f = r.failure.as_ref().unwrap();
    assert_eq!(
        (f.kind, f.version),
        (Tampering::BadSignature, Some(12)),
        "{r}"
    );
    assert!(f.reason.contains("agreement_hash"), "{r}");
}

/// The test vector of docs/AUDIT.md, "Signatures": if this changes, so must the page.
#[test]
fn the_documented_test_vector_holds() {
    let cmds = vec![
        c(
            "secretariat",
            0,
            json!({"do": "open_negotiation", "title": "Harbour water", "service": "water"}),
        ),
        c(
            "secretariat",
            1,
            json!({"do": "admit_partner", "partner_id": "city", "name": "City", "sector": "government", "kind": "municipality", "role": "signatory", "public_key": public_hex("city")}),
        ),
        c(
            "secretariat",
            3,
            json!({"do": "admit_partner", "partner_id": "ngo", "name": "NGO", "sector": "civil_society", "kind": "ngo", "role": "signatory"}),
        ),
        c(
            "city",
            5,
            json!({"do": "propose", "proposal_id": "p-1", "clause_id": "supply", "text": "Water for all."}),
        ),
        c("city", 6, json!({"do": "endorse", "proposal_id": "p-1"})),
        c(
            "secretariat",
            7,
            json!({"do": "adopt", "proposal_id": "p-1"}),
        ),
        c(
            "ngo",
            8,
            json!({"do": "commit", "commitment_id": "k-1", "description": "Outreach", "kind": "in_kind", "amount": {"value": "1500.00", "currency": "EUR"}, "due": "2027-12-31", "clause_id": "supply"}),
        ),
    ];
    let v = view_after(&cmds);
    let content = roundtable_domain::canonical::to_canonical(
        &roundtable_audit::signing::agreement_content(&v),
    );
    assert_eq!(
        String::from_utf8(content).unwrap(),
        r#"{"agreement_version":2,"clauses":[{"clause_id":"supply","text":"Water for all.","version":1}],"commitments":[{"amount":{"currency":"EUR","value":"1500.00"},"clause_id":"supply","commitment_id":"k-1","description":"Outreach","due":"2027-12-31","kind":"in_kind","partner_id":"ngo"}],"decision_rule":"consent","negotiation_id":"harbour-sign","service":"water","signatories":[{"kind":"municipality","name":"City","partner_id":"city","sector":"government"},{"kind":"ngo","name":"NGO","partner_id":"ngo","sector":"civil_society"}],"title":"Harbour water"}"#
    );
    let hash = "e8870d565e5449e9c3b1191246bdfc56137c168597b716973920aec22869acf9";
    assert_eq!(agreement_hash(&v), hash);
    let message = view_signing_message(&v);
    assert_eq!(
        message,
        format!("roundtable-agreement:harbour-sign:2:{hash}")
    );
    let secret = "d2a451361988735fe3d686305f79f596647da0481b85d5799c3cd2928c55f8ea";
    let public = "4fa4894c46f60a8e07b9e4f777df29bb6fc1627ae7b9bf2b21443b09fcfb201c";
    let signature = "ba2701ffa8a3b5e114999369226ff1cd345b8082ad545b038bee96baa9c18361fdcf2625b8e93bb8f391ac57f0574f33051c22b63071135e8b5a4d1f0af31c03";
    assert_eq!(secret_hex("city"), secret);
    assert_eq!(public_key_of(secret).unwrap(), public);
    assert_eq!(sign_agreement(secret, &v).unwrap(), signature);
    verify_signature(public, message.as_bytes(), signature).unwrap();
}
