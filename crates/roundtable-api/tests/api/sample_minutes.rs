//! The project's sample minutes (Harbourside) sent through the API, one request per line, each with its
//! actor's token: the same negotiation as importing them.

use std::path::PathBuf;

use axum::http::StatusCode;
use roundtable_api::TokenRole;
use roundtable_app::load;
use serde_json::Value;

use crate::common::{Harness, n};

fn minutes() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes/harbourside-waste.jsonl");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn the_sample_minutes_through_the_api_end_concluded_at_version_73() {
    let h = Harness::new();
    let mut sent = 0;
    for (i, line) in minutes().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Value::Object(mut fields) = serde_json::from_str(line).unwrap() else {
            panic!("line {} is not an object", i + 1);
        };
        let negotiation = fields.remove("negotiation_id").unwrap();
        let negotiation = negotiation.as_str().unwrap();
        let by = fields.remove("by").unwrap();
        let token = match by.as_str().unwrap() {
            "secretariat" => h.token(TokenRole::Secretariat, Some(negotiation), None),
            partner => h.partner(negotiation, partner),
        };
        // The line's position is its idempotency key: sending the file twice records it once.
        let key = format!("sample-line-{}", i + 1);
        let r = h
            .command_with(
                &token,
                negotiation,
                Value::Object(fields.clone()),
                &[("idempotency-key", &key)],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "line {}: {r:?}", i + 1);
        sent += 1;
        assert_eq!(r.body["version"], sent);
    }
    assert_eq!(sent, 73);
    let folded = load(&*h.store, &n("harbourside-waste")).await.unwrap();
    let view = folded.view.unwrap();
    assert_eq!(view.version, 73);
    assert_eq!(view.agreement_version, 16);
    assert_eq!(
        view.status,
        roundtable_domain::view::NegotiationStatus::Concluded
    );

    h.project().await;
    let auditor = h.token(TokenRole::Auditor, None, None);
    let r = h
        .get(
            &auditor,
            "/v1/negotiations/harbourside-waste?min_version=73",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some("\"73\""));
    assert_eq!(r.body["status"], "concluded");
    assert_eq!(r.body, serde_json::to_value(&view).unwrap());

    // Every event is there, 73 of them over a few pages.
    let mut after = 0;
    let mut events = 0;
    loop {
        let r = h
            .get(
                &auditor,
                &format!("/v1/negotiations/harbourside-waste/events?after={after}&limit=30"),
            )
            .await;
        events += r.body["events"].as_array().unwrap().len();
        match r.body["next"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(events, 73);
}
