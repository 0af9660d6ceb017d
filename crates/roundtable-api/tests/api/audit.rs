//! The auditor's reads on the sample minutes (Harbourside): the view as of a version or an
//! instant, the diff, the export (verified offline), the live verification (also of a
//! stored view altered behind the projector's back) and the HTML report; who may read
//! them; bad queries.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use roundtable_api::TokenRole;
use roundtable_projector::ViewStore;
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{Harness, n};

const SAMPLE: &str = "/v1/negotiations/harbourside-waste";

/// The sample minutes sent through the API, each line with its actor's token, then
/// projected.
async fn sample() -> Harness {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes/harbourside-waste.jsonl");
    let minutes =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = Harness::new();
    for (i, line) in minutes.lines().enumerate() {
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
        let r = h.command(&token, negotiation, Value::Object(fields)).await;
        assert_eq!(r.status, StatusCode::CREATED, "line {}: {r:?}", i + 1);
    }
    assert_eq!(h.recorded("harbourside-waste").await, 73);
    h.project().await;
    h
}

/// A response whose body need not be JSON.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

async fn get_raw(h: &Harness, token: &str, uri: &str) -> Raw {
    let response = h
        .app
        .clone()
        .oneshot(
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        headers,
        body: body.to_vec(),
    }
}

/// Alters the stored view's title behind the projector's back.
async fn alter_the_stored_view(h: &Harness) {
    let stored = h.views.get(&n("harbourside-waste")).await.unwrap().unwrap();
    let mut view = stored.view;
    view.title = "A title the minutes never gave".into();
    h.views.put(&view, Some(stored.revision)).await.unwrap();
}

#[tokio::test]
async fn the_view_as_of_a_version_or_an_instant_is_folded_from_the_log() {
    let h = sample().await;
    let auditor = h.token(TokenRole::Auditor, None, None);

    let r = h.get(&auditor, &format!("{SAMPLE}?as_of_version=24")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["version"], 24);
    assert_eq!(r.body["clauses"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["clauses"][0]["clause_id"], "collection");
    assert_eq!(r.header("roundtable-as-of"), Some("version=24"));
    assert_eq!(r.header("roundtable-view-version"), Some("24"));
    assert_eq!(
        r.header("etag"),
        None,
        "an ETag is for If-Match on the view now"
    );

    // Between the first two meeting days, on business time (the default) or named.
    for query in [
        "as_of=2027-05-04T18:00:00Z",
        "as_of=2027-05-04T18:00:00Z&time=occurred",
        "as_of=2027-05-04T19:00:00%2B01:00",
        "as_of=2027-05-04T19:00:00+01:00",
    ] {
        let r = h.get(&auditor, &format!("{SAMPLE}?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {r:?}");
        assert_eq!(r.body["version"], 26, "{query}");
        assert_eq!(
            r.header("roundtable-as-of"),
            Some("version=26; at=2027-05-04T18:00:00Z; time=occurred"),
            "{query}"
        );
        assert_eq!(r.header("roundtable-late-entries"), None);
    }
    let r = h.get(&auditor, &format!("{SAMPLE}?as_of_version=26")).await;
    let day_one = r.body;

    // The view now and at the last version are the same; the stored view is not read.
    alter_the_stored_view(&h).await;
    let r = h.get(&auditor, &format!("{SAMPLE}?as_of_version=73")).await;
    assert_eq!(r.body["version"], 73);
    assert_eq!(r.body["status"], "concluded");
    assert_eq!(
        r.body["title"],
        "Household waste collection in Harbourside's informal settlements"
    );
    let r = h.get(&auditor, SAMPLE).await;
    assert_eq!(r.body["title"], "A title the minutes never gave");
    let r = h
        .get(&auditor, &format!("{SAMPLE}?as_of=2027-05-04T18:00:00Z"))
        .await;
    assert_eq!(r.body, day_one);

    // Before the negotiation existed, past its end, and a negotiation never recorded.
    for query in [
        "as_of_version=0",
        "as_of=2027-01-01",
        "as_of=2000-01-01T00:00:00Z&time=recorded",
    ] {
        let r = h.get(&auditor, &format!("{SAMPLE}?{query}")).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "negotiation_not_yet_opened"),
            "{query}"
        );
    }
    let r = h.get(&auditor, &format!("{SAMPLE}?as_of_version=74")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "version_not_found")
    );
    assert!(r.body["message"].as_str().unwrap().contains("73 events"));
    let r = h
        .get(&auditor, "/v1/negotiations/nowhere?as_of_version=1")
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "negotiation_not_found")
    );
}

#[tokio::test]
async fn the_diff_from_the_first_adoption_to_the_end_lists_the_clauses_added_and_amended() {
    let h = sample().await;
    let partner = h.partner("harbourside-waste", "sanitation-union");
    for uri in [
        format!("{SAMPLE}/diff?from=23&to=73"),
        format!("{SAMPLE}/diff?from=23"),
    ] {
        let r = h.get(&partner, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {r:?}");
        assert_eq!(r.body["from_version"], 23);
        assert_eq!(r.body["to_version"], 73);
        assert_eq!(r.body["from_agreement_version"], 2);
        assert_eq!(r.body["to_agreement_version"], 16);
        let added: Vec<(&str, u64)> = r.body["clauses_added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["clause_id"].as_str().unwrap(),
                    c["version"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(added, [("pickers", 1), ("workers", 1), ("fees", 1)]);
        let changed: Vec<(&str, u64, u64)> = r.body["clauses_changed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["clause_id"].as_str().unwrap(),
                    c["from_version"].as_u64().unwrap(),
                    c["to_version"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(changed, [("collection", 1, 2)]);
        assert_eq!(r.body["status"], serde_json::json!(["open", "concluded"]));
    }
    // From before the opening: everything is new.
    let r = h.get(&partner, &format!("{SAMPLE}/diff?from=0&to=1")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], serde_json::json!([null, "open"]));
    // Equal versions: nothing changed.
    let r = h
        .get(&partner, &format!("{SAMPLE}/diff?from=73&to=73"))
        .await;
    assert_eq!(r.body["clauses_added"], serde_json::json!([]));
}

#[tokio::test]
async fn the_export_verifies_offline() {
    let h = sample().await;
    let integration = h.token(TokenRole::Integration, Some("harbourside-waste"), None);
    let r = get_raw(&h, &integration, &format!("{SAMPLE}/export")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"harbourside-waste.export.jsonl\"")
    );
    let text = r.text();
    assert_eq!(text.lines().count(), 74, "a manifest and 73 events");
    assert!(text.ends_with('\n'));
    let report = roundtable_audit::verify(&r.body);
    assert!(report.ok, "{report}");
    assert_eq!(report.events, 73);
    assert_eq!(report.negotiation_id.as_deref(), Some("harbourside-waste"));

    // An export that would not verify is refused.
    alter_the_stored_view(&h).await;
    let r = h.get(&integration, &format!("{SAMPLE}/export")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "view_mismatch")
    );
    assert!(
        r.body["message"].as_str().unwrap().contains("title"),
        "{r:?}"
    );
}

#[tokio::test]
async fn verify_passes_then_names_a_stored_view_altered_behind_the_projector() {
    let h = sample().await;
    let secretariat = h.token(TokenRole::Secretariat, Some("harbourside-waste"), None);
    let r = h.get(&secretariat, &format!("{SAMPLE}/verify")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["ok"], true, "{r:?}");
    assert_eq!(r.body["events"], 73);
    assert_eq!(r.body["negotiation_id"], "harbourside-waste");
    assert_eq!(r.body["failure"], Value::Null);
    let checks: Vec<(&str, &str)> = r.body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert!(checks.contains(&("view", "passed")), "{checks:?}");

    alter_the_stored_view(&h).await;
    let r = h.get(&secretariat, &format!("{SAMPLE}/verify")).await;
    assert_eq!(r.status, StatusCode::OK, "a failed check is still a report");
    assert_eq!(r.body["ok"], false);
    assert_eq!(r.body["failure"]["kind"], "view_mismatch");
    assert_eq!(r.body["failure"]["check"], "view");
    assert!(
        r.body["failure"]["reason"]
            .as_str()
            .unwrap()
            .contains("title"),
        "{r:?}"
    );
}

#[tokio::test]
async fn the_report_is_html_naming_every_partner() {
    let h = sample().await;
    let partner = h.partner("harbourside-waste", "residents");
    let r = get_raw(&h, &partner, &format!("{SAMPLE}/report")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.header("content-security-policy").is_some());
    let html = r.text();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..40]);
    let view = h.get(&partner, SAMPLE).await.body;
    let partners = view["partners"].as_array().unwrap();
    assert_eq!(partners.len(), 9);
    for p in partners {
        let name = p["name"].as_str().unwrap();
        let escaped = name.replace('&', "&amp;");
        assert!(
            html.contains(&escaped)
                || html.contains(&escaped.replace('\'', "&#39;"))
                || html.contains(&escaped.replace('\'', "&#x27;")),
            "{name}"
        );
    }
}

#[tokio::test]
async fn only_principals_in_scope_read_the_audit_routes() {
    let h = Harness::new();
    h.seed("water").await;
    h.seed("other").await;
    h.project().await;
    let routes = [
        "/v1/negotiations/water?as_of_version=2",
        "/v1/negotiations/water?as_of=2100-01-01T00:00:00Z",
        "/v1/negotiations/water/diff?from=1",
        "/v1/negotiations/water/export",
        "/v1/negotiations/water/verify",
        "/v1/negotiations/water/report",
    ];
    let readers = [
        h.secretariat(),
        h.token(TokenRole::Secretariat, Some("water"), None),
        h.partner("water", "union"),
        h.token(TokenRole::Auditor, Some("water"), None),
        h.token(TokenRole::Auditor, None, None),
        h.token(TokenRole::Integration, Some("water"), None),
    ];
    let outsiders = [
        h.partner("other", "lcc"),
        h.token(TokenRole::Auditor, Some("other"), None),
        h.token(TokenRole::Integration, Some("other"), None),
        h.token(TokenRole::Secretariat, Some("other"), None),
    ];
    for route in routes {
        for token in &readers {
            let r = get_raw(&h, token, route).await;
            assert_eq!(r.status, StatusCode::OK, "{route}");
        }
        for token in &outsiders {
            let r = h.get(token, route).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "forbidden"),
                "{route}"
            );
        }
        let r = h
            .send(Request::get(route).body(Body::empty()).unwrap())
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{route}"
        );
    }
    // Nothing of a negotiation never recorded.
    let s = h.secretariat();
    for route in ["diff?from=0", "export", "verify", "report"] {
        let r = h
            .get(&s, &format!("/v1/negotiations/nowhere/{route}"))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "negotiation_not_found"),
            "{route}"
        );
    }
}

#[tokio::test]
async fn bad_audit_queries_are_json_4xx_never_500() {
    let h = Harness::new();
    h.seed("water").await;
    h.project().await;
    let s = h.secretariat();
    for (query, status, code) in [
        ("?as_of_version=abc", 400, "invalid_query"),
        ("?as_of_version=-1", 400, "invalid_query"),
        ("?as_of_version=1.5", 400, "invalid_query"),
        ("?as_of_version=9223372036854775808", 400, "invalid_query"),
        (
            "?as_of_version=99999999999999999999999",
            400,
            "invalid_query",
        ),
        ("?as_of_version=", 400, "invalid_query"),
        ("?as_of=yesterday", 400, "invalid_query"),
        ("?as_of=2027-02-30T00:00:00Z", 400, "invalid_query"),
        ("?as_of=2027-02-01T18:00:00", 400, "invalid_query"),
        ("?as_of=%FF%FE", 400, "invalid_query"),
        ("?as_of=", 400, "invalid_query"),
        ("?as_of=2027-02-01&time=sideways", 400, "invalid_query"),
        ("?as_of=2027-02-01&time=", 400, "invalid_query"),
        ("?time=recorded", 400, "invalid_query"),
        ("?as_of_version=1&time=recorded", 400, "invalid_query"),
        ("?as_of_version=1&as_of=2027-02-01", 400, "invalid_query"),
        ("?as_of_version=1&min_version=1", 400, "invalid_query"),
        ("?as_of=2027-02-01&wait_ms=10", 400, "invalid_query"),
        ("?as_of_version=1&as_of_version=2", 400, "invalid_query"),
        ("?as_of_version=6", 404, "version_not_found"),
        ("/diff", 400, "invalid_query"),
        ("/diff?to=2", 400, "invalid_query"),
        ("/diff?from=abc", 400, "invalid_query"),
        ("/diff?from=-1", 400, "invalid_query"),
        ("/diff?from=3&to=2", 400, "invalid_query"),
        ("/diff?from=9&to=9", 404, "version_not_found"),
        ("/diff?from=0&to=0", 400, "invalid_query"),
        ("/diff?from=0&to=6", 404, "version_not_found"),
        ("/diff?from=6", 400, "invalid_query"),
        ("/diff?from=1&to=18446744073709551615", 400, "invalid_query"),
        ("/diff?from=1&extra=1", 400, "invalid_query"),
        ("/export?format=zip", 400, "invalid_query"),
        ("/verify?x", 400, "invalid_query"),
        ("/report?as_of_version=1", 400, "invalid_query"),
    ] {
        let r = h.get(&s, &format!("/v1/negotiations/water{query}")).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{query}: {r:?}"
        );
    }
    // A bad id is refused before anything is read.
    let r = h.get(&s, "/v1/negotiations/Water/verify").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_id")
    );
}

#[tokio::test]
async fn verify_waits_for_a_projection_a_moment_behind_and_reports_one_left_behind() {
    let h = Harness::new();
    h.seed("water").await;
    h.project().await;
    let s = h.secretariat();
    let r = h
        .command(
            &h.partner("water", "union"),
            "water",
            serde_json::json!({"do": "endorse", "proposal_id": "p-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    // The projector catches up a moment later: no mismatch.
    let (store, views) = (h.store.clone(), h.views.clone());
    let projector = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let view = roundtable_app::load(&*store, &n("water"))
            .await
            .unwrap()
            .view
            .unwrap();
        let current = views.get(&n("water")).await.unwrap().map(|s| s.revision);
        views.put(&view, current).await.unwrap();
    });
    let r = h.get(&s, "/v1/negotiations/water/verify").await;
    assert_eq!(r.body["ok"], true, "{r:?}");
    projector.await.unwrap();

    // A projector that stays behind is reported, after a bounded wait.
    let r = h
        .command(
            &h.partner("water", "lcc"),
            "water",
            serde_json::json!({"do": "endorse", "proposal_id": "p-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let started = std::time::Instant::now();
    let r = h.get(&s, "/v1/negotiations/water/verify").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(r.body["ok"], false);
    assert_eq!(r.body["failure"]["kind"], "view_mismatch");
    let r = h.get(&s, "/v1/negotiations/water/export").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "view_mismatch")
    );
}

#[tokio::test]
async fn the_ocds_package_and_its_compiled_record_are_served() {
    let h = sample().await;
    let auditor = h.token(TokenRole::Auditor, None, None);
    let r = get_raw(
        &h,
        &auditor,
        &format!("{SAMPLE}/ocds?ocid_prefix=ocds-a1b2c3"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let package: Value = serde_json::from_slice(&r.body).expect("JSON");
    let releases = package["releases"].as_array().expect("a release package");
    assert!(releases.len() > 1, "{}", releases.len());
    assert!(
        releases
            .iter()
            .all(|r| r["ocid"] == "ocds-a1b2c3-harbourside-waste")
    );
    let r = get_raw(&h, &auditor, &format!("{SAMPLE}/ocds?compiled=true")).await;
    assert_eq!(r.status, StatusCode::OK);
    let record: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert!(
        record["records"][0]["compiledRelease"].is_object(),
        "{record}"
    );
    // A bad prefix is the caller's mistake; another negotiation's partner may not read.
    let r = get_raw(
        &h,
        &auditor,
        &format!("{SAMPLE}/ocds?ocid_prefix=bad%20prefix"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let outsider = h.partner("another-one", "lcc");
    let r = get_raw(&h, &outsider, &format!("{SAMPLE}/ocds")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
