//! Commands: recorded, replayed, rejected, preconditions, store down.

use std::sync::Arc;

use axum::http::StatusCode;
use roundtable_api::{ApiState, AuthConfig, router};
use roundtable_domain::RecordedEvent;
use serde_json::json;

use crate::common::{Failing, Harness, SECRET, down, send, send_any};

#[tokio::test]
async fn a_recorded_command_answers_201_with_its_event_and_version() {
    let h = Harness::new();
    h.seed("water").await;
    let r = h
        .command(
            &h.partner("water", "union"),
            "water",
            json!({"do": "endorse", "proposal_id": "p-1", "at": "2027-03-02T10:30:00+01:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["version"], 6);
    assert_eq!(r.header("etag"), Some("\"6\""));
    let event = RecordedEvent::from_json(r.body["event"].clone()).unwrap();
    assert_eq!(event.version, 6);
    assert_eq!(event.event_type(), "proposal_endorsed");
    assert_eq!(r.body["event"]["occurred_at"], "2027-03-02T09:30:00Z");
    assert!(
        r.body["event"]["command_id"]
            .as_str()
            .unwrap()
            .starts_with("r-")
    );
    // The document's EventEnvelope names exactly the keys of a served event.
    let doc = serde_json::to_value(roundtable_api::openapi::document()).unwrap();
    let mut documented: Vec<_> = doc["components"]["schemas"]["EventEnvelope"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut served: Vec<_> = r.body["event"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    documented.sort_unstable();
    served.sort_unstable();
    assert_eq!(documented, served);
}

#[tokio::test]
async fn one_idempotency_key_sent_twice_records_one_event() {
    let h = Harness::new();
    h.seed("water").await;
    let union = h.partner("water", "union");
    let body = json!({"do": "endorse", "proposal_id": "p-1"});
    let key = [("idempotency-key", "6f1c1b9e-endorse")];
    let first = h.command_with(&union, "water", body.clone(), &key).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(first.header("idempotent-replayed"), None);
    let second = h.command_with(&union, "water", body.clone(), &key).await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.body, second.body);
    assert_eq!(h.recorded("water").await, 6);

    // Even a different body under the same key answers with the first event: the key decides.
    let third = h
        .command_with(&union, "water", json!({"do": "sign"}), &key)
        .await;
    assert_eq!(third.status, StatusCode::OK);
    assert_eq!(third.body, first.body);

    // The same key from another partner is that partner's own command.
    let lcc = h.partner("water", "lcc");
    let other = h.command_with(&lcc, "water", body.clone(), &key).await;
    assert_eq!(other.status, StatusCode::CREATED, "{other:?}");
    assert_eq!(other.body["event"]["actor"], "lcc");
    assert_ne!(
        other.body["event"]["command_id"],
        first.body["event"]["command_id"]
    );
    assert_eq!(h.recorded("water").await, 7);
}

#[tokio::test]
async fn a_rejected_command_is_judged_afresh_on_retry() {
    let h = Harness::new();
    h.seed("water").await;
    let s = h.secretariat();
    let key = [("idempotency-key", "adopt-p-1")];
    let adopt = json!({"do": "adopt", "proposal_id": "p-1"});
    let r = h.command_with(&s, "water", adopt.clone(), &key).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "no_signatory_endorsement");
    for partner in ["lcc", "union"] {
        let r = h
            .command(
                &h.partner("water", partner),
                "water",
                json!({"do": "endorse", "proposal_id": "p-1"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = h.command_with(&s, "water", adopt, &key).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
}

#[tokio::test]
async fn if_match_on_an_older_version_gets_412_and_the_current_one_201() {
    let h = Harness::new();
    h.seed("water").await;
    let union = h.partner("water", "union");
    let body = json!({"do": "endorse", "proposal_id": "p-1"});
    let r = h
        .command_with(&union, "water", body.clone(), &[("if-match", "\"4\"")])
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{r:?}");
    assert_eq!(r.code(), "precondition_failed");
    assert_eq!(r.header("etag"), Some("\"5\""));
    assert_eq!(h.recorded("water").await, 5);
    let r = h
        .command_with(&union, "water", body.clone(), &[("if-match", "\"5\"")])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.header("etag"), Some("\"6\""));
    let r = h
        .command_with(
            &h.partner("water", "lcc"),
            "water",
            body,
            &[("if-match", "6")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    for bad in ["W/\"7\"", "*", "seven", "\"7\", \"8\""] {
        let r = h
            .command_with(&union, "water", json!({"do": "sign"}), &[("if-match", bad)])
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.code(), "invalid_if_match");
    }
    assert_eq!(h.recorded("water").await, 7);
}

#[tokio::test]
async fn rejections_map_to_404_403_409_422_with_the_rule_code() {
    let h = Harness::new();
    h.seed("water").await;
    let s = h.secretariat();
    let lcc = h.partner("water", "lcc");
    let donor = h.partner("water", "donor");
    let cases = [
        (
            &s,
            "nowhere",
            json!({"do": "conclude"}),
            StatusCode::NOT_FOUND,
            "negotiation_not_found",
        ),
        (
            &lcc,
            "water",
            json!({"do": "endorse", "proposal_id": "p-404"}),
            StatusCode::NOT_FOUND,
            "proposal_not_found",
        ),
        (
            &s,
            "water",
            json!({"do": "endorse", "proposal_id": "p-1"}),
            StatusCode::FORBIDDEN,
            "partners_only",
        ),
        (
            &donor,
            "water",
            json!({"do": "object", "objection_id": "o-1", "proposal_id": "p-1", "grounds": "no", "blocking": true}),
            StatusCode::FORBIDDEN,
            "observer_cannot_block",
        ),
        (
            &s,
            "water",
            json!({"do": "open_negotiation", "title": "t", "service": "s"}),
            StatusCode::CONFLICT,
            "negotiation_exists",
        ),
        (
            &lcc,
            "water",
            json!({"do": "propose", "proposal_id": "p-2", "clause_id": "c", "text": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "blank_field",
        ),
    ];
    for (token, negotiation, body, status, code) in cases {
        let r = h.command(token, negotiation, body.clone()).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {r:?}");
    }
    assert_eq!(h.recorded("water").await, 5);
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_and_readyz_says_not_ready() {
    let state = ApiState::new(
        Arc::new(down()),
        Arc::new(down()),
        AuthConfig::hs256(SECRET).unwrap(),
    );
    let token = state
        .auth
        .mint(
            roundtable_api::TokenRole::Secretariat,
            None,
            None,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    let app = router(state);
    let request = |method: &str, uri: &str, body: Option<serde_json::Value>| {
        let mut r = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            r = r.header("content-type", "application/json");
        }
        r.body(axum::body::Body::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        ))
        .unwrap()
    };
    let r = send(
        &app,
        request(
            "POST",
            "/v1/negotiations/water/commands",
            Some(json!({"do": "open_negotiation", "title": "t", "service": "s"})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "store_unavailable");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    for uri in [
        "/v1/negotiations",
        "/v1/negotiations/water",
        "/v1/negotiations/water/events",
    ] {
        let r = send(&app, request("GET", uri, None)).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert_eq!(r.code(), "store_unavailable");
    }
    let r = send(&app, request("GET", "/readyz", None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "not_ready");
    let r = send(&app, request("GET", "/healthz", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ready_when_the_stores_answer() {
    let h = Harness::new();
    let r = h
        .send(
            axum::http::Request::get("/readyz")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
}

#[tokio::test]
async fn a_corrupt_store_answers_500_without_its_details() {
    let corrupt = || {
        Failing(roundtable_store::StoreError::Corrupt {
            negotiation: "water".into(),
            position: "version 3".into(),
            reason: "secret detail: hash mismatch".into(),
        })
    };
    let state = ApiState::new(
        Arc::new(corrupt()),
        Arc::new(corrupt()),
        AuthConfig::hs256(SECRET).unwrap(),
    );
    let token = state
        .auth
        .mint(
            roundtable_api::TokenRole::Secretariat,
            None,
            None,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    let app = router(state);
    for (method, uri, body) in [
        (
            "POST",
            "/v1/negotiations/water/commands",
            r#"{"do": "conclude"}"#,
        ),
        ("GET", "/v1/negotiations/water/events", ""),
        ("GET", "/v1/negotiations/water", ""),
    ] {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let r = send_any(&app, request).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_eq!(r.code(), "internal");
        assert!(
            !r.body["message"].as_str().unwrap().contains("secret"),
            "{r:?}"
        );
    }
}
