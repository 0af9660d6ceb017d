//! Reads: the list, the view (ETag, waiting for a version), the events (paged).

use std::time::Duration;

use axum::http::StatusCode;
use roundtable_api::TokenRole;
use roundtable_app::load;
use roundtable_projector::ViewStore;
use serde_json::json;

use crate::common::{Harness, n};

#[tokio::test]
async fn the_list_shows_what_the_principal_may_read_in_pages() {
    let h = Harness::new();
    for id in ["alpha", "beta", "gamma"] {
        h.seed(id).await;
    }
    h.project().await;
    let s = h.secretariat();
    let r = h.get(&s, "/v1/negotiations").await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<_> = r.body["negotiations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["negotiation_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["alpha", "beta", "gamma"]);
    assert_eq!(r.body["next"], serde_json::Value::Null);
    assert_eq!(
        r.body["negotiations"][0],
        json!({"negotiation_id": "alpha", "title": "Water", "service": "water_sanitation", "status": "open", "version": 5, "agreement_version": 0, "stale": false})
    );

    let r = h.get(&s, "/v1/negotiations?limit=2").await;
    assert_eq!(r.body["negotiations"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["next"], "beta");
    let r = h.get(&s, "/v1/negotiations?limit=2&after=beta").await;
    assert_eq!(r.body["negotiations"][0]["negotiation_id"], "gamma");
    assert_eq!(r.body["next"], serde_json::Value::Null);

    for token in [
        h.partner("beta", "lcc"),
        h.token(TokenRole::Auditor, Some("beta"), None),
    ] {
        let r = h.get(&token, "/v1/negotiations").await;
        let list = r.body["negotiations"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["negotiation_id"], "beta");
    }
}

#[tokio::test]
async fn the_view_comes_from_the_projection_with_its_version() {
    let h = Harness::new();
    h.seed("water").await;
    let s = h.secretariat();
    let r = h.get(&s, "/v1/negotiations/water").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "negotiation_not_found")
    );

    h.project().await;
    let r = h.get(&s, "/v1/negotiations/water").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some("\"5\""));
    assert_eq!(r.header("roundtable-view-version"), Some("5"));
    assert_eq!(r.header("roundtable-view-behind"), None);
    let folded = load(&*h.store, &n("water")).await.unwrap().view.unwrap();
    assert_eq!(r.body, serde_json::to_value(&folded).unwrap());

    // A command moves the log on; the projection has not caught up yet.
    let r = h
        .command(
            &h.partner("water", "union"),
            "water",
            json!({"do": "endorse", "proposal_id": "p-1"}),
        )
        .await;
    let version = r.body["version"].as_u64().unwrap();
    let r = h
        .get(
            &s,
            &format!("/v1/negotiations/water?min_version={version}&wait_ms=20"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 5);
    assert_eq!(r.header("roundtable-view-behind"), Some("true"));

    // Without a wait, it answers at once with what it has.
    let r = h
        .get(&s, &format!("/v1/negotiations/water?min_version={version}"))
        .await;
    assert_eq!(r.header("roundtable-view-behind"), Some("true"));

    // Once projected, the same request is answered with the new version.
    h.project().await;
    let r = h
        .get(
            &s,
            &format!("/v1/negotiations/water?min_version={version}&wait_ms=30000"),
        )
        .await;
    assert_eq!(r.body["version"], 6);
    assert_eq!(r.header("roundtable-view-behind"), None);
}

#[tokio::test]
async fn a_waiting_read_returns_when_the_projection_catches_up() {
    let h = Harness::new();
    h.seed("water").await;
    h.project().await;
    h.command(
        &h.partner("water", "union"),
        "water",
        json!({"do": "endorse", "proposal_id": "p-1"}),
    )
    .await;
    let views = h.views.clone();
    let store = h.store.clone();
    let projector = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let view = load(&*store, &n("water")).await.unwrap().view.unwrap();
        let current = views.get(&n("water")).await.unwrap().map(|s| s.revision);
        views.put(&view, current).await.unwrap();
    });
    // The wait is far longer than the projector needs, so the answer is the new view.
    let r = h
        .get(
            &h.secretariat(),
            "/v1/negotiations/water?min_version=6&wait_ms=30000",
        )
        .await;
    projector.await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 6);
    assert_eq!(r.header("roundtable-view-behind"), None);
}

#[tokio::test]
async fn a_wait_stops_where_the_log_ends() {
    let h = Harness::new();
    let s = h.secretariat();
    // Nothing recorded: nothing to wait for.
    let r = h
        .get(&s, "/v1/negotiations/water?min_version=1&wait_ms=30000")
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "negotiation_not_found")
    );
    // A version the log does not hold yet: the view as it is, marked behind.
    h.seed("water").await;
    h.project().await;
    let r = h
        .get(&s, "/v1/negotiations/water?min_version=99&wait_ms=30000")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 5);
    assert_eq!(r.header("roundtable-view-behind"), Some("true"));
}

#[tokio::test]
async fn events_are_paged_in_version_order_as_stored() {
    let h = Harness::new();
    h.seed("water").await;
    let s = h.secretariat();
    let r = h.get(&s, "/v1/negotiations/water/events?limit=2").await;
    assert_eq!(r.status, StatusCode::OK);
    let versions = |r: &crate::common::Reply| -> Vec<u64> {
        r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["version"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(versions(&r), [1, 2]);
    assert_eq!(r.body["next"], 2);
    let r = h
        .get(&s, "/v1/negotiations/water/events?after=2&limit=2")
        .await;
    assert_eq!(versions(&r), [3, 4]);
    let r = h
        .get(&s, "/v1/negotiations/water/events?after=4&limit=2")
        .await;
    assert_eq!(versions(&r), [5]);
    assert_eq!(r.body["next"], serde_json::Value::Null);
    let r = h.get(&s, "/v1/negotiations/water/events?after=5").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(versions(&r), Vec::<u64>::new());

    // Exactly what the store holds, hash included.
    let r = h.get(&s, "/v1/negotiations/water/events").await;
    let stored: Vec<_> = load_events(&h).await;
    assert_eq!(r.body["events"], serde_json::Value::Array(stored));

    let r = h.get(&s, "/v1/negotiations/nowhere/events").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "negotiation_not_found")
    );
    let r = h
        .get(&h.partner("other", "lcc"), "/v1/negotiations/water/events")
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
}

async fn load_events(h: &Harness) -> Vec<serde_json::Value> {
    use roundtable_store::EventStore;
    h.store
        .read(&n("water"), 0, None)
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_slice(&e.to_bytes()).unwrap())
        .collect()
}

#[tokio::test]
async fn the_view_gives_the_overdue_commitments_on_the_date_named() {
    let h = Harness::new();
    let handler = roundtable_app::CommandHandler::new(h.store.clone());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes/fieldbrook-sanitation.jsonl");
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let Some(m) = roundtable_domain::minutes::parse_line(line).unwrap() else {
            continue;
        };
        let cmd = roundtable_domain::CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.unwrap(),
            command: m.command,
        };
        handler.handle(&cmd).await.unwrap();
    }
    h.project().await;
    let s = h.secretariat();
    let url = "/v1/negotiations/fieldbrook-sanitation";

    let r = h.get(&s, &format!("{url}?today=2029-10-01")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["overdue"],
        json!({"today": "2029-10-01", "commitments": ["c-fbc-subsidy", "c-emptiers-tankers"]})
    );
    assert_eq!(r.header("roundtable-today"), Some("2029-10-01"));
    let r = h.get(&s, &format!("{url}?today=2029-09-30")).await;
    assert_eq!(r.body["overdue"]["commitments"], json!([]));

    // Without `today`, the view is the stored one: no overdue field.
    let r = h.get(&s, url).await;
    assert!(r.body.get("overdue").is_none());
    assert_eq!(r.header("roundtable-today"), None);

    // With time travel: what was overdue on a day, in the view as it stood then.
    // At version 62 c-brookline-plant (due 2028-06-30) was not fulfilled yet.
    let r = h
        .get(&s, &format!("{url}?as_of_version=62&today=2028-07-01"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 62);
    assert_eq!(
        r.body["overdue"]["commitments"],
        json!(["c-brookline-plant"])
    );

    for bad in ["2029-02-30", "1-10-2029", "2029-10-01T00:00:00Z", ""] {
        let r = h.get(&s, &format!("{url}?today={bad}")).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_today"),
            "{bad:?}"
        );
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .starts_with("query parameter today: "),
            "{}",
            r.body
        );
    }
}
