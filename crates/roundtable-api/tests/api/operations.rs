//! For operators: `/metrics` and the parked entries, which mark views as stale.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use roundtable_api::TokenRole;
use roundtable_projector::{ParkedEntry, ViewStore};
use serde_json::json;
use tower::ServiceExt;

use crate::common::{Harness, n};

fn entry(position: u64, negotiation: Option<&str>) -> ParkedEntry {
    ParkedEntry {
        position,
        negotiation_id: negotiation.map(n),
        version: None,
        reason: "stored event of lake at stream ROUNDTABLE_EVENTS sequence 9 is corrupt: not a JSON event object".into(),
        parked_at: chrono::Utc::now(),
    }
}

/// The value of the sample `name{labels}` in a Prometheus text body.
fn sample(body: &str, name_and_labels: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_are_served_without_a_token_and_count_commands_by_kind_and_outcome() {
    let h = Harness::new();
    h.seed("metered").await;
    let r = h
        .command(
            &h.partner("metered", "union"),
            "metered",
            json!({"do": "adopt", "proposal_id": "p-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let response = h
        .app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    // Other tests of this process count too: at least ours are there.
    for (metric, at_least) in [
        (
            r#"roundtable_commands_total{command="open_negotiation",outcome="accepted"}"#,
            1.0,
        ),
        (
            r#"roundtable_commands_total{command="admit_partner",outcome="accepted"}"#,
            3.0,
        ),
        (
            r#"roundtable_command_duration_seconds_count{command="propose"}"#,
            1.0,
        ),
        (
            r#"roundtable_append_duration_seconds_count{outcome="ok"}"#,
            5.0,
        ),
    ] {
        let value = sample(&body, metric).unwrap_or_else(|| panic!("no {metric} in\n{body}"));
        assert!(value >= at_least, "{metric} = {value}");
    }
    assert!(body.contains("# HELP roundtable_commands_total"), "{body}");
    assert!(
        body.contains("# TYPE roundtable_append_duration_seconds histogram"),
        "{body}"
    );
}

#[tokio::test]
async fn parked_entries_are_listed_in_scope_and_mark_views_stale() {
    let h = Harness::new();
    h.seed("lake").await;
    h.seed("river").await;
    h.project().await;
    let s = h.secretariat();
    // Nothing parked: no stale mark anywhere.
    let r = h.get(&s, "/v1/negotiations/lake").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("roundtable-view-stale"), None);
    assert_eq!(h.get(&s, "/v1/parked").await.body, json!({"parked": []}));

    for e in [
        entry(9, Some("lake")),
        entry(4, None),
        entry(12, Some("sea")),
    ] {
        h.views.park(&e).await.unwrap();
    }
    let r = h.get(&s, "/v1/negotiations/lake").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("roundtable-view-stale"), Some("true"));
    assert_eq!(r.body["version"], 5, "the last good view is still served");
    let r = h.get(&s, "/v1/negotiations/river").await;
    assert_eq!(r.header("roundtable-view-stale"), None);
    let list = h.get(&s, "/v1/negotiations").await;
    let flags: Vec<(String, bool)> = list.body["negotiations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["negotiation_id"].as_str().unwrap().to_owned(),
                s["stale"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(flags, vec![("lake".into(), true), ("river".into(), false)]);

    // Every entry for a principal of every negotiation, by position.
    let all = h.get(&s, "/v1/parked").await;
    assert_eq!(all.status, StatusCode::OK);
    let positions: Vec<u64> = all.body["parked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, vec![4, 9, 12]);
    assert_eq!(all.body["parked"][0]["negotiation_id"], json!(null));
    assert_eq!(all.body["parked"][1]["negotiation_id"], "lake");
    // A partner sees its own negotiation's entries only.
    let mine = h.get(&h.partner("lake", "lcc"), "/v1/parked").await;
    assert_eq!(mine.body["parked"].as_array().unwrap().len(), 1);
    assert_eq!(mine.body["parked"][0]["position"], 9);
    let auditor = h.token(TokenRole::Auditor, Some("river"), None);
    assert_eq!(
        h.get(&auditor, "/v1/parked").await.body,
        json!({"parked": []})
    );
    // A token is needed.
    let anonymous = h
        .send(Request::get("/v1/parked").body(Body::empty()).unwrap())
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
