//! The checkpoint routes (issue 14) over the embedded store: the latest checkpoint as
//! a signed note, the history, inclusion and consistency proofs that verify against
//! the served roots, the log's verifier keys, a witness's cosignature added and served
//! with the checkpoint, the export carrying the latest checkpoint, and the errors.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use roundtable_api::{ApiState, AuthConfig, TokenRole, router};
use roundtable_app::CommandHandler;
use roundtable_app::checkpoints::{CheckpointPolicy, CheckpointStore, Checkpointer};
use roundtable_checkpoint::merkle::Hash;
use roundtable_checkpoint::{
    COSIGNATURE_V1, CheckpointSigner, ED25519, LogCheckpoint, Note, SignerKey, Witness,
    verify_checkpoint, verify_consistency, verify_inclusion, verify_note,
};
use roundtable_projector::KvViewStore;
use roundtable_projector::ViewStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::SECRET;

struct Raw {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.status, self.text))
    }
}

async fn raw(app: &Router, request: Request<Body>) -> Raw {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        content_type,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

fn hash(v: &Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn checkpoints_proofs_log_key_and_cosignatures_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let ports = roundtable_sqlite::open(dir.path()).unwrap();
    let views: Arc<dyn ViewStore> = Arc::new(KvViewStore::open(&*ports.kv).await.unwrap());
    let log_key = SignerKey::from_seed("rt.example.org", ED25519, [3; 32]).unwrap();
    let signer = CheckpointSigner::new(log_key.clone()).unwrap();
    let store = CheckpointStore::open(&*ports.kv).await.unwrap();
    let state = ApiState::new(
        ports.events.clone(),
        views.clone(),
        AuthConfig::hs256(SECRET).unwrap(),
    )
    .with_checkpoints(store.clone(), vec![signer.verifier()]);
    let token = state
        .auth
        .mint(TokenRole::Auditor, None, None, Duration::from_secs(600))
        .unwrap();
    let app = router(state);
    let get = |uri: String| {
        Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };

    // Nothing recorded, nothing kept yet.
    let r = raw(&app, get("/v1/negotiations/water/checkpoint".into())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json()["code"], "checkpoint_not_found");

    // Seven events, checkpoints every three.
    let handler = CommandHandler::new(ports.events.clone());
    let lines = [
        r#"{"at": "2027-05-04T08:00:00Z", "negotiation_id": "water", "by": "secretariat", "do": "open_negotiation", "title": "Water", "service": "water_sanitation"}"#,
        r#"{"at": "2027-05-04T09:00:00Z", "negotiation_id": "water", "by": "secretariat", "do": "admit_partner", "partner_id": "ward", "name": "Ward committee", "sector": "civil_society", "kind": "community_organisation", "role": "signatory"}"#,
        r#"{"at": "2027-05-04T09:10:00Z", "negotiation_id": "water", "by": "secretariat", "do": "admit_partner", "partner_id": "city", "name": "City", "sector": "government", "kind": "municipality", "role": "signatory"}"#,
        r#"{"at": "2027-05-06T09:00:00Z", "negotiation_id": "water", "by": "ward", "do": "propose", "proposal_id": "p1", "clause_id": "c1", "text": "Taps are repaired within a week."}"#,
        r#"{"at": "2027-05-07T09:00:00Z", "negotiation_id": "water", "by": "ward", "do": "endorse", "proposal_id": "p1"}"#,
        r#"{"at": "2027-05-07T10:00:00Z", "negotiation_id": "water", "by": "city", "do": "endorse", "proposal_id": "p1"}"#,
        r#"{"at": "2027-05-08T10:00:00Z", "negotiation_id": "water", "by": "city", "do": "propose", "proposal_id": "p2", "clause_id": "c2", "text": "Kiosks open at six."}"#,
    ];
    for line in lines {
        let m = roundtable_domain::minutes::parse_line(line)
            .unwrap()
            .unwrap();
        handler
            .handle(&roundtable_domain::CommandEnvelope {
                command_id: m.command_id,
                negotiation_id: m.negotiation_id,
                actor: m.actor,
                occurred_at: m.at.unwrap(),
                command: m.command,
            })
            .await
            .unwrap();
    }
    let last = ports
        .events
        .last_version(&roundtable_domain::NegotiationId::new("water").unwrap())
        .await
        .unwrap();
    assert!(last >= 6, "{last}");
    let mut cp = Checkpointer::new(
        ports.events.clone(),
        store.clone(),
        signer.clone(),
        CheckpointPolicy {
            every_events: 3,
            every: Duration::from_secs(3600),
            poll: Duration::from_millis(50),
        },
    );
    cp.flush().await.unwrap();

    // The latest: a signed note of the whole log.
    let r = raw(&app, get("/v1/negotiations/water/checkpoint".into())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    let latest = verify_checkpoint(&r.text, &[signer.verifier()])
        .unwrap()
        .checkpoint;
    assert_eq!(latest.size, last);
    assert_eq!(latest.negotiation_id, "water");
    let at3 = raw(&app, get("/v1/negotiations/water/checkpoint?size=3".into())).await;
    assert_eq!(
        verify_checkpoint(&at3.text, &[signer.verifier()])
            .unwrap()
            .checkpoint
            .size,
        3
    );
    let r = raw(&app, get("/v1/negotiations/water/checkpoint?size=4".into())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = raw(&app, get("/v1/negotiations/water/checkpoint?sice=4".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The history: every size once, smallest first.
    let r = raw(&app, get("/v1/negotiations/water/checkpoints".into())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let history = r.json();
    let sizes: Vec<u64> = history["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["size"].as_u64().unwrap())
        .collect();
    let mut expected: Vec<u64> = (1..=last).filter(|s| s % 3 == 0).collect();
    if last % 3 != 0 {
        expected.push(last);
    }
    assert_eq!(sizes, expected);

    // Proofs verify against the served roots.
    let r = raw(
        &app,
        get(format!(
            "/v1/negotiations/water/proof/inclusion?version=2&size={last}"
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = r.json();
    verify_inclusion(
        1,
        last,
        &hash(&p["leaf_hash"]),
        &hashes(&p["proof"]),
        &latest.root,
    )
    .unwrap();
    let r = raw(
        &app,
        get("/v1/negotiations/water/proof/consistency?old=3".into()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = r.json();
    assert_eq!(c["new_size"].as_u64(), Some(last));
    let old = verify_checkpoint(&at3.text, &[signer.verifier()])
        .unwrap()
        .checkpoint;
    verify_consistency(3, last, &old.root, &latest.root, &hashes(&c["proof"])).unwrap();
    for (uri, status) in [
        (
            "/v1/negotiations/water/proof/inclusion?version=0",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/negotiations/water/proof/inclusion?version=99",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/negotiations/water/proof/inclusion?version=1&size=99",
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/negotiations/water/proof/consistency?old=5&new=4",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/negotiations/water/proof/consistency",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/negotiations/nothing/proof/consistency?old=1&new=1",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = raw(&app, get(uri.into())).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text);
        assert!(r.json()["code"].is_string(), "{uri}");
    }

    // The log's verifier key.
    let r = raw(&app, get("/v1/log-key".into())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, format!("{}\n", signer.verifier()));

    // A witness checks consistency from size 3, cosigns, and sends its line.
    let witness = Witness::new(
        SignerKey::from_seed("witness.example.net", COSIGNATURE_V1, [5; 32]).unwrap(),
        vec![signer.verifier()],
    )
    .unwrap();
    let latest_note = raw(&app, get("/v1/negotiations/water/checkpoint".into()))
        .await
        .text;
    let w = witness
        .check(
            Some(&old),
            &latest_note,
            &hashes(&c["proof"]),
            1_800_000_000,
        )
        .unwrap();
    let post = |body: Value| {
        Request::post("/v1/negotiations/water/checkpoint/cosignatures")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let r = raw(
        &app,
        post(json!({"witness_key": witness.verifier().to_string(), "note": w.note})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["size"].as_u64(), Some(last));
    // Served with the checkpoint, and listed.
    let served = raw(&app, get("/v1/negotiations/water/checkpoint".into()))
        .await
        .text;
    let verified = verify_note(
        &Note::parse(&served).unwrap(),
        &[signer.verifier(), witness.verifier()],
    )
    .unwrap();
    assert_eq!(verified.len(), 2);
    assert_eq!(verified[1].timestamp, Some(1_800_000_000));
    let r = raw(
        &app,
        get("/v1/negotiations/water/checkpoint/cosignatures".into()),
    )
    .await;
    let list = r.json();
    assert_eq!(list["size"].as_u64(), Some(last));
    assert_eq!(list["cosignatures"][0]["signature"], w.cosignature.as_str());
    // A tampered line, the log's own key, or malformed JSON are refused.
    let mut bad = w.note.clone();
    // A character inside the signature bytes of the last line.
    let at = bad.len() - 10;
    let swapped = if &bad[at..at + 1] == "A" { "B" } else { "A" };
    bad.replace_range(at..at + 1, swapped);
    for (body, status) in [
        (
            json!({"witness_key": witness.verifier().to_string(), "note": bad}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"witness_key": signer.verifier().to_string(), "note": w.note}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"note": w.note}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let r = raw(&app, post(body)).await;
        assert_eq!(r.status, status, "{}", r.text);
    }

    // The export carries the latest checkpoint.
    let view = roundtable_app::load(
        &*ports.events,
        &roundtable_domain::NegotiationId::new("water").unwrap(),
    )
    .await
    .unwrap()
    .view
    .unwrap();
    views.put(&view, None).await.unwrap();
    let r = raw(&app, get("/v1/negotiations/water/export".into())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let manifest: Value = serde_json::from_str(r.text.lines().next().unwrap()).unwrap();
    let carried = manifest["checkpoints"][0].as_str().unwrap();
    let carried = LogCheckpoint::parse_text(Note::parse(carried).unwrap().text()).unwrap();
    assert_eq!(carried.size, last);
    let report = roundtable_audit::verify_anchored(
        r.text.as_bytes(),
        &roundtable_audit::Anchor {
            checkpoints: Vec::new(),
            log_keys: vec![signer.verifier()],
        },
    );
    assert!(report.ok, "{report}");
}

#[tokio::test]
async fn without_a_log_key_the_checkpoint_routes_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let ports = roundtable_sqlite::open(dir.path()).unwrap();
    let views: Arc<dyn ViewStore> = Arc::new(KvViewStore::open(&*ports.kv).await.unwrap());
    let state = ApiState::new(
        ports.events.clone(),
        views,
        AuthConfig::hs256(SECRET).unwrap(),
    );
    let token = state
        .auth
        .mint(TokenRole::Auditor, None, None, Duration::from_secs(600))
        .unwrap();
    let app = router(state);
    for uri in ["/v1/negotiations/water/checkpoint", "/v1/log-key"] {
        let r = raw(
            &app,
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.json()["code"], "checkpoints_not_configured", "{uri}");
    }
}
