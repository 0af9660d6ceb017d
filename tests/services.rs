//! End-to-end tests of the services (issue 3) through the real `roundtable` binary:
//! `serve`, or `api` and `project` as separate processes, on a real `nats-server` from
//! the test kit (the embedded store only for the fuzzer, which is faster there), driven
//! over HTTP with tokens minted by `roundtable token issue`.
//!
//! - the sample minutes (Harbourside) sent through the API end in the view the importer gives, and
//!   the projector announces each event once, in order;
//! - tokens outside their scope, and missing, expired or foreign tokens, record nothing;
//! - idempotency keys, `If-Match`, and bad input (4xx with the error shape, never 5xx);
//! - a projector SIGKILLed during a long import, restarted: the views equal a rebuild's;
//! - `nats-server` down for longer than a request's timeout while commands arrive;
//! - the OpenAPI document validates, and schemathesis finds no 5xx or schema violation.

mod common;
#[path = "services/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Store, sample_minutes, test_data};
use futures::StreamExt;
use harness::{Api, Secret, Service, minutes};
use roundtable_domain::Projection;
use serde_json::{Value, json};

/// The schemathesis release CI installs (.ci/run); the test runs whatever is installed.
const SCHEMATHESIS_PIN: &str = "schemathesis==4.32.5 openapi-spec-validator==0.9.0";

/// The negotiation of the sample minutes (Harbourside) and its final version.
const SAMPLE: &str = "harbourside-waste";
const SAMPLE_EVENTS: u64 = 73;

/// The JSON of `roundtable view ID --json` (the fold of the log).
fn folded_view(store: &Store, negotiation: &str) -> Value {
    let run = store.run(&["view", negotiation, "--json"]);
    assert_eq!(run.code, 0, "view failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("view --json is JSON")
}

/// Opens `negotiation` and admits `partners` (id, sector, kind; all signatories) as
/// the secretariat; returns the version reached.
async fn set_up(api: &Api, token: &str, negotiation: &str, partners: &[(&str, &str, &str)]) -> u64 {
    let open = json!({"do": "open_negotiation", "title": "Water for Wards 4, 7 and 9", "service": "water_sanitation"});
    let r = api.command(token, negotiation, &open, &[]).await;
    assert_eq!(r.status, 201, "{r:?}");
    for (id, sector, kind) in partners {
        let admit = json!({"do": "admit_partner", "partner_id": id, "name": format!("Partner {id}"),
                           "sector": sector, "kind": kind, "role": "signatory"});
        let r = api.command(token, negotiation, &admit, &[]).await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    1 + partners.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_minutes_sent_to_serve_on_nats_end_in_the_imported_view() {
    let store = Store::nats().await;
    let Store::Nats(server) = &store else {
        unreachable!()
    };
    // Subscribe before anything is recorded: core NATS delivers only to those listening.
    let nats = async_nats::connect(server.url())
        .await
        .expect("nats client");
    let mut changes = nats
        .subscribe("roundtable.changes.>")
        .await
        .expect("subscribe");
    nats.flush().await.expect("subscription registered");
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);

    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    let mut business_times = Vec::new();
    let mut sent = 0;
    for (line, mut fields) in minutes(&sample_minutes("harbourside-waste.jsonl")) {
        let negotiation = fields.remove("negotiation_id").expect("negotiation_id");
        let negotiation = negotiation.as_str().expect("a string id").to_owned();
        assert_eq!(negotiation, SAMPLE);
        let by = fields.remove("by").expect("by");
        let by = by.as_str().expect("a string actor").to_owned();
        let token = tokens
            .entry(by.clone())
            .or_insert_with(|| match by.as_str() {
                "secretariat" => secret.token("secretariat", Some(SAMPLE), None),
                partner => secret.token("partner", Some(SAMPLE), Some(partner)),
            })
            .clone();
        business_times.push(fields["at"].as_str().expect("at").to_owned());
        let key = format!("sample-line-{line}");
        let r = api
            .command(
                &token,
                SAMPLE,
                &Value::Object(fields),
                &[("idempotency-key", &key)],
            )
            .await;
        sent += 1;
        assert_eq!(r.status, 201, "line {line}: {r:?}");
        assert_eq!(r.body["version"], sent, "line {line}");
        assert_eq!(r.header("etag"), Some(format!("\"{sent}\"").as_str()));
        assert_eq!(r.body["event"]["actor"], by.as_str(), "line {line}");
    }
    assert_eq!(sent, SAMPLE_EVENTS);

    // The projection catches up: the view at version 73, served with its ETag.
    let auditor = secret.token("auditor", Some(SAMPLE), None);
    let r = api.view_at_least(&auditor, SAMPLE, SAMPLE_EVENTS).await;
    assert_eq!(r.header("etag"), Some("\"73\""), "{r:?}");
    assert_eq!(r.header("roundtable-view-behind"), None);
    let view = r.body;
    assert_eq!(
        (
            &view["status"],
            &view["version"],
            &view["agreement_version"]
        ),
        (&json!("concluded"), &json!(73), &json!(16))
    );
    // It is the fold of the log...
    assert_eq!(view, folded_view(&store, SAMPLE));
    // ...and what importing the same minutes gives, but for the hash of the last event
    // (event ids and recording times differ between two stores).
    let imported = Store::embedded();
    let run = imported.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let strip = |mut v: Value| {
        v.as_object_mut()
            .expect("view object")
            .remove("last_event_hash");
        v
    };
    assert_eq!(strip(view), strip(folded_view(&imported, SAMPLE)));

    // One notification per event, in version order, each naming the event and the
    // agreement version and status after it.
    let mut received: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.len() < SAMPLE_EVENTS as usize && Instant::now() < deadline {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(1), changes.next()).await {
            assert_eq!(m.subject.as_str(), "roundtable.changes.harbourside-waste");
            received.push(serde_json::from_slice(&m.payload).expect("notification is JSON"));
        }
    }
    // Nothing more comes (a bounded look for duplicates).
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), changes.next()).await {
        received.push(serde_json::from_slice(&m.payload).expect("notification is JSON"));
    }
    assert_eq!(
        received.len(),
        SAMPLE_EVENTS as usize,
        "one notification per event: {received:#?}"
    );
    let (events, _) = store.verified_events(SAMPLE);
    let mut fold = Projection::new();
    for (i, (note, event)) in received.iter().zip(&events).enumerate() {
        fold.apply(event).expect("chain");
        let after = fold.view.as_ref().expect("opened");
        assert_eq!(note["version"], i as u64 + 1, "in version order: {note}");
        assert_eq!(note["negotiation_id"], SAMPLE);
        assert_eq!(note["event_id"], event.event_id.to_string());
        assert_eq!(note["event_type"], event.event_type());
        assert_eq!(note["actor"], event.event.actor.to_string());
        assert_eq!(note["agreement_version"], after.agreement_version);
        assert_eq!(note["status"], json!(after.status));
    }
    // Each event kept its line's business time.
    for (event, at) in events.iter().zip(&business_times) {
        let at = chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339");
        assert_eq!(event.occurred_at, at, "event {}", event.version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_outside_their_scope_or_not_ours_record_nothing() {
    let store = Store::nats().await;
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);
    let everywhere = secret.token("secretariat", None, None);
    let partners = [
        ("lcc", "government", "municipality"),
        ("union", "civil_society", "trade_union"),
    ];
    set_up(&api, &everywhere, "water", &partners).await;
    set_up(&api, &everywhere, "sanitation", &partners).await;
    let lcc = secret.token("partner", Some("water"), Some("lcc"));
    let union = secret.token("partner", Some("water"), Some("union"));
    let propose = json!({"do": "propose", "proposal_id": "p-tariff", "clause_id": "tariff",
                         "text": "Kiosk water costs at most 0.5 USD per 20 litres."});
    assert_eq!(api.command(&lcc, "water", &propose, &[]).await.status, 201);
    let before = (
        api.events(&everywhere, "water").await,
        api.events(&everywhere, "sanitation").await,
    );

    // Acting as another partner: the actor is always the token's principal.
    let withdraw = json!({"do": "withdraw_proposal", "proposal_id": "p-tariff"});
    api.command(&union, "water", &withdraw, &[])
        .await
        .assert_error(403, "not_proposer");
    // ...whatever a header says (X-Roundtable-Actor counts only in development mode)...
    api.command(&union, "water", &withdraw, &[("x-roundtable-actor", "lcc")])
        .await
        .assert_error(403, "not_proposer");
    // ...and a body may not name an actor at all (docs/API.md: 422, not 403).
    let as_lcc = json!({"do": "withdraw_proposal", "proposal_id": "p-tariff", "by": "lcc"});
    api.command(&union, "water", &as_lcc, &[])
        .await
        .assert_error(422, "invalid_command");

    // Acting in another negotiation, even one where the same partner is admitted.
    let endorse = json!({"do": "endorse", "proposal_id": "p-tariff"});
    api.command(&lcc, "sanitation", &endorse, &[])
        .await
        .assert_error(403, "forbidden");
    api.get(&lcc, "/v1/negotiations/sanitation")
        .await
        .assert_error(403, "forbidden");
    api.get(&lcc, "/v1/negotiations/sanitation/events")
        .await
        .assert_error(403, "forbidden");
    let water_secretariat = secret.token("secretariat", Some("water"), None);
    let admit = json!({"do": "admit_partner", "partner_id": "kiosks", "name": "Kiosk operators",
                       "sector": "private_sector", "kind": "small_scale_provider", "role": "observer"});
    api.command(&water_secretariat, "sanitation", &admit, &[])
        .await
        .assert_error(403, "forbidden");

    // Adopting (and the secretariat's other commands) as a partner.
    let adopt = json!({"do": "adopt", "proposal_id": "p-tariff"});
    api.command(&lcc, "water", &adopt, &[])
        .await
        .assert_error(403, "secretariat_only");
    api.command(&lcc, "water", &admit, &[])
        .await
        .assert_error(403, "secretariat_only");
    api.command(&lcc, "water", &json!({"do": "conclude"}), &[])
        .await
        .assert_error(403, "secretariat_only");
    // A partner that was never admitted, and a read-only role.
    let ghost = secret.token("partner", Some("water"), Some("ghost"));
    api.command(&ghost, "water", &endorse, &[])
        .await
        .assert_error(403, "not_admitted");
    let auditor = secret.token("auditor", Some("water"), None);
    api.command(&auditor, "water", &endorse, &[])
        .await
        .assert_error(403, "read_only");

    // No token, a malformed header, an expired token, a token signed with another key.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = |exp: u64| roundtable_api::Claims {
        sub: "partner:union@water".into(),
        role: roundtable_api::TokenRole::Partner,
        negotiation_id: Some("water".into()),
        partner_id: Some("union".into()),
        exp,
        iat: now - 7200,
        nbf: None,
        iss: "roundtable".into(),
        aud: "roundtable".into(),
        jti: "test-token".into(),
    };
    let keys = roundtable_api::AuthConfig::hs256(secret.bytes()).expect("secret");
    let expired = keys.sign(&claims(now - 3600)).expect("sign");
    let valid = keys.sign(&claims(now + 3600)).expect("sign");
    let foreign = Secret::new().token("partner", Some("water"), Some("union"));
    let url = "/v1/negotiations/water/commands";
    let post = |auth: Option<&str>| {
        let mut b = api
            .request(reqwest::Method::POST, url, None)
            .header("content-type", "application/json")
            .body(endorse.to_string());
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b
    };
    let unauthenticated = [
        ("no token", None),
        ("basic auth", Some("Basic dW5pb246cGFzcw==".to_owned())),
        ("not a JWT", Some("Bearer not-a-token".to_owned())),
        ("expired", Some(format!("Bearer {expired}"))),
        ("another key", Some(format!("Bearer {foreign}"))),
    ];
    for (what, auth) in &unauthenticated {
        let r = api.send(post(auth.as_deref())).await.expect("answered");
        assert_eq!(
            (r.status, r.code()),
            (401, "unauthenticated"),
            "{what}: {r:?}"
        );
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "{what}: {r:?}"
        );
    }
    let r = api
        .send(
            api.request(reqwest::Method::GET, "/v1/negotiations/water", None)
                .bearer_auth(&expired),
        )
        .await
        .expect("answered");
    r.assert_error(401, "unauthenticated");

    // Nothing above was recorded.
    let after = (
        api.events(&everywhere, "water").await,
        api.events(&everywhere, "sanitation").await,
    );
    assert_eq!(after, before, "a refused request recorded something");
    // The same request with a valid token is accepted: the refusals were the tokens'.
    let r = api
        .send(post(Some(&format!("Bearer {valid}"))))
        .await
        .expect("answered");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["event"]["actor"], "union");
    assert_eq!(
        api.events(&everywhere, "water").await.len(),
        before.0.len() + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_if_match_and_bad_input_on_serve() {
    let store = Store::nats().await;
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);
    let token = secret.token("secretariat", Some("water"), None);
    let mut version = set_up(
        &api,
        &token,
        "water",
        &[("lcc", "government", "municipality")],
    )
    .await;

    // The same command twice with one Idempotency-Key: one event.
    let admit = json!({"do": "admit_partner", "partner_id": "union", "name": "Municipal Workers' Union",
                       "sector": "civil_society", "kind": "trade_union", "role": "signatory"});
    let key = [("idempotency-key", "admit-union-7f3a")];
    let first = api.command(&token, "water", &admit, &key).await;
    assert_eq!(first.status, 201, "{first:?}");
    version += 1;
    let again = api.command(&token, "water", &admit, &key).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the event recorded the first time");
    // The key decides, even when the retried body differs.
    let other = json!({"do": "admit_partner", "partner_id": "kiosks", "name": "Kiosk operators",
                       "sector": "private_sector", "kind": "small_scale_provider", "role": "observer"});
    let third = api.command(&token, "water", &other, &key).await;
    assert_eq!((third.status, &third.body), (200, &first.body), "{third:?}");
    let events = api.events(&token, "water").await;
    assert_eq!(events.len() as u64, version);
    let admitted: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "partner_admitted")
        .map(|e| e["data"]["partner_id"].clone())
        .collect();
    assert_eq!(admitted, [json!("lcc"), json!("union")]);

    // A stale If-Match: 412 with the current version; nothing recorded. Then the
    // current one, quoted or bare, is accepted.
    let lcc = secret.token("partner", Some("water"), Some("lcc"));
    let union = secret.token("partner", Some("water"), Some("union"));
    let propose = json!({"do": "propose", "proposal_id": "p-1", "clause_id": "coverage",
                         "text": "120 kiosks within 30 months."});
    let stale = format!("\"{}\"", version - 1);
    let r = api
        .command(&lcc, "water", &propose, &[("if-match", &stale)])
        .await;
    r.assert_error(412, "precondition_failed");
    assert_eq!(r.header("etag"), Some(format!("\"{version}\"").as_str()));
    api.command(&lcc, "water", &propose, &[("if-match", "*")])
        .await
        .assert_error(400, "invalid_if_match");
    let current = format!("\"{version}\"");
    let r = api
        .command(&lcc, "water", &propose, &[("if-match", &current)])
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    version += 1;
    let endorse = json!({"do": "endorse", "proposal_id": "p-1"});
    let r = api
        .command(
            &lcc,
            "water",
            &endorse,
            &[("if-match", &version.to_string())],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    version += 1;
    let recorded = api.events(&token, "water").await;
    assert_eq!(recorded.len() as u64, version);

    // Bad input: a 4xx with the error shape, never a 5xx, nothing recorded.
    let long_text = "x".repeat(roundtable_api::MAX_BODY_BYTES + 1);
    let oversized = json!({"do": "propose", "proposal_id": "p-big", "clause_id": "coverage", "text": long_text});
    let bodies: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("syntax error", br#"{"do": "endorse", "proposal_id": "#.to_vec(), 400, "malformed_json"),
        ("empty body", Vec::new(), 400, "malformed_json"),
        ("not UTF-8", b"{\"do\": \"endorse\", \"proposal_id\": \"\xff\xfe\"}".to_vec(), 400, "malformed_json"),
        ("an array", b"[]".to_vec(), 422, "invalid_command"),
        ("do is a number", br#"{"do": 7}"#.to_vec(), 422, "invalid_command"),
        ("unknown command", br#"{"do": "delete_everything"}"#.to_vec(), 422, "invalid_command"),
        ("unknown field", br#"{"do": "endorse", "proposal_id": "p-1", "weight": 3}"#.to_vec(), 422, "invalid_command"),
        ("missing field", br#"{"do": "propose", "proposal_id": "p-2"}"#.to_vec(), 422, "invalid_command"),
        ("id as a number", br#"{"do": "endorse", "proposal_id": 42}"#.to_vec(), 422, "invalid_command"),
        ("blocking as a string", br#"{"do": "object", "objection_id": "o-1", "proposal_id": "p-1", "grounds": "too few", "blocking": "yes"}"#.to_vec(), 422, "invalid_command"),
        ("at as a number", br#"{"do": "endorse", "proposal_id": "p-1", "at": 5}"#.to_vec(), 422, "invalid_command"),
        ("at not a time", br#"{"do": "endorse", "proposal_id": "p-1", "at": "yesterday"}"#.to_vec(), 422, "invalid_command"),
        ("amount as a float", br#"{"do": "commit", "commitment_id": "c-1", "kind": "finance", "description": "d", "amount": {"value": 1.5, "currency": "USD"}}"#.to_vec(), 422, "invalid_command"),
        ("negotiation_id in the body", br#"{"do": "endorse", "proposal_id": "p-1", "negotiation_id": "water"}"#.to_vec(), 422, "invalid_command"),
        ("oversized", oversized.to_string().into_bytes(), 413, "payload_too_large"),
    ];
    for (what, body, status, code) in bodies {
        let r = api.command_bytes(&lcc, "water", body, &[]).await;
        assert_eq!((r.status, r.code()), (status, code), "{what}: {r:?}");
    }
    // Bad ids in the body.
    for bad in [
        "Bad.Id",
        "p*",
        "p>",
        "",
        "UPPER",
        "é",
        "secretariat",
        &"a".repeat(65),
    ] {
        let admit = json!({"do": "admit_partner", "partner_id": bad, "name": "x",
                           "sector": "government", "kind": "regulator", "role": "observer"});
        let r = api.command(&token, "water", &admit, &[]).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "invalid_command"),
            "{bad:?}: {r:?}"
        );
        if bad == "secretariat" {
            continue; // reserved as a partner id only
        }
        let object = json!({"do": "object", "objection_id": bad, "proposal_id": "p-1",
                            "grounds": "too few", "blocking": false});
        let r = api.command(&union, "water", &object, &[]).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "invalid_command"),
            "{bad:?}: {r:?}"
        );
    }
    // Bad ids in the path, bad headers, bad queries, wrong routes and methods.
    let everywhere = secret.token("secretariat", None, None);
    for path in [
        "Water",
        "wa.ter",
        "a%2Eb",
        "wa%20ter",
        "w*",
        &"a".repeat(65),
    ] {
        let open = json!({"do": "open_negotiation", "title": "t", "service": "water_sanitation"});
        let r = api.command(&everywhere, path, &open, &[]).await;
        assert_eq!((r.status, r.code()), (400, "invalid_id"), "{path}: {r:?}");
        let r = api
            .get(&everywhere, &format!("/v1/negotiations/{path}"))
            .await;
        assert_eq!((r.status, r.code()), (400, "invalid_id"), "{path}: {r:?}");
    }
    let long_key = "k".repeat(201);
    for (what, headers, status, code) in [
        (
            "text/plain",
            vec![("content-type", "text/plain")],
            415,
            "unsupported_media_type",
        ),
        (
            "long key",
            vec![("idempotency-key", long_key.as_str())],
            400,
            "invalid_idempotency_key",
        ),
        (
            "empty key",
            vec![("idempotency-key", "")],
            400,
            "invalid_idempotency_key",
        ),
        (
            "key with a space",
            vec![("idempotency-key", "a b")],
            400,
            "invalid_idempotency_key",
        ),
        (
            "weak ETag",
            vec![("if-match", "W/\"5\"")],
            400,
            "invalid_if_match",
        ),
    ] {
        let r = api.command(&lcc, "water", &endorse, &headers).await;
        assert_eq!((r.status, r.code()), (status, code), "{what}: {r:?}");
    }
    for (path, status, code) in [
        ("/v1/negotiations/water?wait_ms=40000", 400, "invalid_query"),
        (
            "/v1/negotiations/water?min_version=-1",
            400,
            "invalid_query",
        ),
        ("/v1/negotiations?limit=0", 400, "invalid_query"),
        (
            "/v1/negotiations/water/events?after=x",
            400,
            "invalid_query",
        ),
        (
            "/v1/negotiations/water/events?colour=blue",
            400,
            "invalid_query",
        ),
        ("/v1/negotiations/water/commands", 405, "method_not_allowed"),
        ("/v2/negotiations", 404, "route_not_found"),
        ("/v1/negotiations/unknown-one", 404, "negotiation_not_found"),
    ] {
        let r = api.get(&everywhere, path).await;
        assert_eq!((r.status, r.code()), (status, code), "{path}: {r:?}");
    }
    assert_eq!(
        api.events(&token, "water").await,
        recorded,
        "a refused request recorded something"
    );
    let list = store.run(&["list", "--json"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert_eq!(
        list.stdout.lines().count(),
        1,
        "only water exists: {list:?}"
    );
}

/// The version of the stored freshwater view, through the API (0 while there is none).
async fn freshwater_version(api: &Api, token: &str) -> u64 {
    let r = api.get(token, "/v1/negotiations/nz-freshwater").await;
    r.body["version"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_during_a_long_import_ends_with_the_views_of_a_rebuild() {
    const FRESHWATER_EVENTS: u64 = 3748;
    let store = Store::nats().await;
    let secret = Secret::new();
    let api_service = Service::api(&store, &secret).await;
    let api = Api::new(&api_service);
    let token = secret.token("auditor", None, None);
    let mut projector = Service::project(&store);
    // A first negotiation, projected while the projector runs.
    assert_eq!(
        store
            .import(&sample_minutes("harbourside-waste.jsonl"), &[])
            .code,
        0
    );
    api.view_at_least(&token, SAMPLE, SAMPLE_EVENTS).await;

    // The long import; the projector is killed once its view is part-way.
    let file = test_data("polis-freshwater/polis-freshwater.jsonl");
    let mut import = store
        .command(&["import", &file.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import");
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let v = freshwater_version(&api, &token).await;
        if v >= 200 {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the projector did not reach version 200 of nz-freshwater"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let import_running = matches!(import.try_wait(), Ok(None));
    projector.kill();
    let output = tokio::task::spawn_blocking(move || import.wait_with_output())
        .await
        .expect("join")
        .expect("import finishes");
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let killed_at = freshwater_version(&api, &token).await;
    assert!(
        import_running && killed_at < FRESHWATER_EVENTS,
        "the projector was to be killed part-way through the import, but the import had \
         ended ({}) or the view was complete ({killed_at})",
        !import_running
    );
    println!("projector killed at view version {at_kill}..{killed_at} of {FRESHWATER_EVENTS}");

    // Restarted: it catches up.
    let started = Instant::now();
    let run = store.run(&["project", "--once"]);
    assert_eq!(run.code, 0, "{run:?}");
    println!(
        "project --once after the kill took {:?}: {}",
        started.elapsed(),
        run.stdout.trim()
    );
    let stats: Value = serde_json::from_str(run.stdout.trim()).expect("stats JSON");
    assert_eq!(
        (&stats["lag"], &stats["parked"]),
        (&json!(0), &json!(0)),
        "{stats}"
    );
    let read_all = || async {
        let list = api.get(&token, "/v1/negotiations").await;
        assert_eq!(list.status, 200, "{list:?}");
        let mut views = BTreeMap::new();
        for n in list.body["negotiations"].as_array().expect("list") {
            let id = n["negotiation_id"].as_str().expect("id").to_owned();
            let r = api.get(&token, &format!("/v1/negotiations/{id}")).await;
            assert_eq!(r.status, 200, "{r:?}");
            views.insert(id, (r.header("etag").map(str::to_owned), r.bytes));
        }
        (list.bytes, views)
    };
    let (list, views) = read_all().await;
    assert_eq!(
        views.keys().map(String::as_str).collect::<Vec<_>>(),
        [SAMPLE, "nz-freshwater"]
    );
    let freshwater: Value = serde_json::from_slice(&views["nz-freshwater"].1).expect("JSON");
    assert_eq!(freshwater["version"], FRESHWATER_EVENTS);
    for (id, (_, bytes)) in &views {
        let view: Value = serde_json::from_slice(bytes).expect("JSON");
        assert_eq!(
            view,
            folded_view(&store, id),
            "{id}: the projection is the fold"
        );
    }

    // A rebuild gives the same bytes.
    let run = store.run(&["project", "--rebuild"]);
    assert_eq!(run.code, 0, "{run:?}");
    let (list_after, views_after) = read_all().await;
    assert_eq!(
        views_after.keys().collect::<Vec<_>>(),
        views.keys().collect::<Vec<_>>()
    );
    for (id, (etag, bytes)) in &views {
        let (etag_after, bytes_after) = &views_after[id];
        assert_eq!(etag_after, etag, "{id}");
        assert!(bytes_after == bytes, "{id}: the rebuilt view differs");
    }
    assert_eq!(
        String::from_utf8_lossy(&list_after),
        String::from_utf8_lossy(&list)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_during_a_nats_outage_are_refused_or_recorded_once() {
    /// Longer than a NATS request's timeout (5 s): a command waiting on the store
    /// during the outage cannot be saved by the reconnection, so it gets 503.
    const OUTAGE: Duration = Duration::from_secs(7);
    const PARTNERS: usize = 60;
    let mut store = Store::nats().await;
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);
    let token = secret.token("secretariat", Some("outage"), None);
    set_up(&api, &token, "outage", &[]).await;

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let client = {
        let (api, token, acknowledged) = (api.clone(), token.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let mut answers = BTreeMap::new();
            let (mut unavailable, mut failed) = (0, 0);
            let deadline = Instant::now() + Duration::from_secs(90);
            for i in 1..=PARTNERS {
                let partner = format!("p-{i}");
                let key = format!("admit-{partner}");
                let admit = json!({"do": "admit_partner", "partner_id": partner, "name": format!("Partner {i}"),
                                   "sector": "civil_society", "kind": "community_organisation", "role": "observer"});
                loop {
                    assert!(Instant::now() < deadline, "{partner} never acknowledged");
                    let request = api
                        .request(
                            reqwest::Method::POST,
                            "/v1/negotiations/outage/commands",
                            Some(&token),
                        )
                        .header("content-type", "application/json")
                        .header("idempotency-key", &key)
                        .body(admit.to_string());
                    match api.send(request).await {
                        Ok(r) if r.status == 201 || r.status == 200 => {
                            answers.insert(partner.clone(), (r.status, r.body["event"].clone()));
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Ok(r) if r.status == 503 => {
                            assert_eq!(r.code(), "store_unavailable", "{r:?}");
                            assert_eq!(r.header("retry-after"), Some("1"));
                            unavailable += 1;
                        }
                        Ok(r) => panic!("{partner}: unexpected answer {r:?}"),
                        Err(_) => failed += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            (answers, unavailable, failed)
        })
    };

    // Take the server away once the commands flow, for longer than a request's timeout.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.load(Ordering::SeqCst) < 10 {
        assert!(Instant::now() < deadline, "commands do not flow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let Store::Nats(server) = &mut store else {
        unreachable!()
    };
    server.kill();
    let killed = Instant::now();
    let during = acknowledged.load(Ordering::SeqCst);
    // Readiness says so while the server is away.
    let ready = loop {
        let r = api
            .send(api.request(reqwest::Method::GET, "/readyz", None))
            .await
            .expect("the API answers");
        if r.status == 503 || killed.elapsed() > OUTAGE - Duration::from_secs(1) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ready.assert_error(503, "not_ready");
    tokio::time::sleep(OUTAGE.saturating_sub(killed.elapsed())).await;
    let acknowledged_in_outage = acknowledged.load(Ordering::SeqCst) - during;
    server.restart().await.expect("nats-server restarts");

    let (answers, unavailable, failed) = tokio::time::timeout(Duration::from_secs(120), client)
        .await
        .expect("the client finishes")
        .expect("the client task");
    println!(
        "outage: {unavailable} answers 503, {failed} connection errors, {acknowledged_in_outage} \
         acknowledged while the server was down"
    );
    assert!(unavailable >= 1, "no 503 while nats-server was down");
    assert_eq!(answers.len(), PARTNERS);

    // Every acknowledged command is in the log exactly once; versions have no gaps.
    let events = api.events(&token, "outage").await;
    assert_eq!(events.len(), 1 + PARTNERS, "{events:#?}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["version"], i as u64 + 1);
    }
    let mut admitted = BTreeMap::new();
    for e in &events[1..] {
        assert_eq!(e["type"], "partner_admitted");
        let partner = e["data"]["partner_id"]
            .as_str()
            .expect("partner")
            .to_owned();
        assert!(
            admitted.insert(partner.clone(), e.clone()).is_none(),
            "{partner} admitted twice"
        );
    }
    for (partner, (status, event)) in &answers {
        assert_eq!(
            admitted.get(partner),
            Some(event),
            "{partner} acknowledged ({status}) with another event than the log holds"
        );
    }
    let commands: BTreeSet<String> = events
        .iter()
        .map(|e| e["command_id"].as_str().expect("command id").to_owned())
        .collect();
    assert_eq!(commands.len(), events.len(), "a command recorded twice");
    let (chain, _) = store.verified_events("outage");
    assert_eq!(chain.len(), 1 + PARTNERS);

    // The same process serves normally again: ready, commands, and the projection.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = api
            .send(api.request(reqwest::Method::GET, "/readyz", None))
            .await
            .expect("the API answers");
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admit = json!({"do": "admit_partner", "partner_id": "late", "name": "Late partner",
                       "sector": "external", "kind": "donor", "role": "observer"});
    let r = api.command(&token, "outage", &admit, &[]).await;
    assert_eq!(r.status, 201, "{r:?}");
    // The projector of the same process resumed: the view catches up with the log.
    let view = api
        .view_at_least(&token, "outage", 2 + PARTNERS as u64)
        .await;
    assert_eq!(
        view.body["partners"].as_array().map(Vec::len),
        Some(PARTNERS + 1)
    );
}

/// A Python tool, run as `python3 -m MODULE`: its command, or a failure saying how to
/// install it.
fn python_tool(module: &str, what: &str) -> std::process::Command {
    let probe = std::process::Command::new("python3")
        .args(["-m", module, "--version"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {
            let mut cmd = std::process::Command::new("python3");
            cmd.args(["-m", module]);
            cmd
        }
        _ => panic!(
            "{what} is not installed: run `python3 -m pip install {SCHEMATHESIS_PIN}` \
             (as .ci/run does)"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid() {
    let store = Store::embedded();
    let serve = Service::serve(&store, &Secret::new()).await;
    let r = harness::http_client()
        .get(serve.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(r.status(), 200);
    let document = r.bytes().await.expect("body");
    let parsed: Value = serde_json::from_slice(&document).expect("JSON");
    assert_eq!(parsed["openapi"], "3.1.0");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, &document).expect("write");
    let out = python_tool("openapi_spec_validator", "openapi-spec-validator")
        .arg(&path)
        .output()
        .expect("openapi-spec-validator runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "the OpenAPI document is invalid:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let store = Store::embedded();
    // Something to read: a concluded negotiation, and an open one with a proposal.
    assert_eq!(
        store
            .import(&sample_minutes("harbourside-waste.jsonl"), &[])
            .code,
        0
    );
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);
    let token = secret.token("secretariat", None, None);
    set_up(
        &api,
        &token,
        "water",
        &[("lcc", "government", "municipality")],
    )
    .await;
    // Two runs at once. The Server-Sent Events of /changes never end, so that route has
    // a run of its own whose requests are cut after 2 s (the events read by then are
    // checked against the document); every other route is fuzzed with a 35 s request
    // timeout, above the longest wait_ms of a view.
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |route: &str, extra: &[&str]| {
        let mut cmd = python_tool("schemathesis.cli", "schemathesis");
        cmd.current_dir(dir.path())
            .arg("run")
            .arg(serve.url("/openapi.json"))
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([route, "/changes$"])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance,ignored_auth,\
                 unsupported_method,allow_header_conformance",
                "--generation-database",
                "none",
                "--no-color",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("schemathesis starts")
    };
    let started = Instant::now();
    let everything_else = run(
        "--exclude-path-regex",
        &[
            "--max-examples",
            "40",
            "--max-time",
            "30",
            "--request-timeout",
            "35",
        ],
    );
    let changes = run(
        "--include-path-regex",
        &[
            "--phases",
            "examples,coverage",
            "--max-examples",
            "10",
            "--max-time",
            "15",
            "--request-timeout",
            "2",
        ],
    );
    let (everything_else, changes) = tokio::task::spawn_blocking(move || {
        (
            everything_else.wait_with_output(),
            changes.wait_with_output(),
        )
    })
    .await
    .expect("join");
    println!("schemathesis took {:?}", started.elapsed());
    for (what, out) in [
        ("every route but /changes", everything_else),
        ("/changes", changes),
    ] {
        let out = out.expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("--- schemathesis on {what} ---\n{stdout}");
        assert!(
            out.status.success(),
            "schemathesis found failures on {what} (exit {:?}):\n{stdout}\n{}\n--- server log ---\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr),
            serve.log()
        );
        let generated: u64 = stdout
            .lines()
            .find_map(|l| l.trim().split_once(" generated, "))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or(0);
        assert!(
            generated > 0,
            "schemathesis tested nothing on {what}:\n{stdout}"
        );
        if what != "/changes" {
            assert!(
                !stdout.contains("No tests were run"),
                "a phase of schemathesis ran no test (out of time?):\n{stdout}"
            );
        }
    }
    assert!(
        !serve.log().contains("panicked"),
        "the server panicked:\n{}",
        serve.log()
    );
}

/// The event stream of `server`, if it exists.
async fn events_stream_exists(url: &str) -> bool {
    let client = async_nats::connect(url).await.expect("nats client");
    let js = async_nats::jetstream::new(client);
    js.get_stream("ROUNDTABLE_EVENTS").await.is_ok()
}

/// Waits until the stored view of `negotiation` is served marked stale (the service
/// looks for the log every 2 s).
async fn wait_until_stale(api: &Api, token: &str, negotiation: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = api
            .get(token, &format!("/v1/negotiations/{negotiation}"))
            .await;
        if r.headers.get("roundtable-view-stale").is_some() {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "the view was never marked stale: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Issue 15, item 6, on NATS: the event stream deleted under a running `serve` (the
/// stored views left behind). Commands are answered "the event stream is missing"
/// (not "retry"), the views are marked stale, `/readyz` says so, and a restarted
/// process refuses to make a new, empty stream over the evidence until told to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_stream_is_refused_and_never_replaced_quietly_on_nats() {
    let store = Store::nats().await;
    let Store::Nats(server) = &store else {
        unreachable!()
    };
    let imported = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(imported.code, 0, "{imported:?}");
    assert!(
        imported.stderr.contains("now holds event log"),
        "{}",
        imported.stderr
    );
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);
    let token = secret.token("secretariat", None, None);
    // The projector has stored the view.
    let deadline = Instant::now() + Duration::from_secs(20);
    while api
        .get(&token, "/v1/negotiations/harbourside-waste")
        .await
        .status
        != 200
    {
        assert!(Instant::now() < deadline, "no view projected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // An administrator deletes the stream (deletes of messages are denied; of the
    // stream, not).
    let client = async_nats::connect(server.url())
        .await
        .expect("nats client");
    async_nats::jetstream::new(client)
        .delete_stream("ROUNDTABLE_EVENTS")
        .await
        .expect("stream deleted");

    let open = json!({"do": "open_negotiation", "title": "After the loss", "service": "drainage"});
    let r = api.command(&token, "after-the-loss", &open, &[]).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.body["code"], "event_log_missing", "{r:?}");
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("the event stream is missing"), "{message}");
    assert!(!message.contains("may or may not"), "{message}");
    assert!(
        !events_stream_exists(&server.url()).await,
        "serve made a new stream"
    );
    let view = wait_until_stale(&api, &token, "harbourside-waste").await;
    assert_eq!(view["version"], 73, "{view}");
    let ready = reqwest::get(serve.url("/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), 503, "not ready without the event stream");
    drop(serve);

    // Restarted, a writer refuses to start a new history over the evidence.
    let again = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(
        again.stderr.contains("the event stream is missing"),
        "{}",
        again.stderr
    );
    assert!(
        again
            .stderr
            .contains("does not exist, but this deployment had one"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("--allow-new-log"), "{}", again.stderr);
    assert!(
        !events_stream_exists(&server.url()).await,
        "the refused import made a stream"
    );
    let reader = store.run(&["view", "harbourside-waste", "--json"]);
    assert_eq!(reader.code, 2, "{reader:?}");
    assert!(
        !events_stream_exists(&server.url()).await,
        "a reader made a stream"
    );

    // Told to, it starts a new log; the views of the lost one are dropped.
    let new_log = store.import(
        &sample_minutes("harbourside-waste.jsonl"),
        &["--allow-new-log"],
    );
    assert_eq!(new_log.code, 0, "{new_log:?}");
    assert!(
        new_log.stdout.contains("73 applied, 0 already recorded"),
        "{}",
        new_log.stdout
    );
    assert!(new_log.stderr.contains("(new log)"), "{}", new_log.stderr);
    let plain = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(
        plain.code, 0,
        "the new log is the deployment's log now: {plain:?}"
    );
}

/// Issue 15, item 6, on NATS: the server restarted on an empty store directory (every
/// stream and bucket gone). A running `serve` answers "the event stream is missing"
/// and makes no stream; a restarted process whose configuration pins the log
/// (`ROUNDTABLE_LOG_ID`) refuses the empty server instead of starting a new history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_on_an_empty_store_is_refused_where_the_log_is_pinned() {
    let mut store = Store::nats().await;
    let init = store.run(&["init"]);
    assert_eq!(init.code, 0, "{init:?}");
    let log_id = init
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("ROUNDTABLE_LOG_ID="))
        .expect("init prints the log id")
        .to_owned();
    let again = store.run(&["init"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains(&log_id),
        "init twice keeps the identity: {}",
        again.stdout
    );
    let imported = store.import(
        &sample_minutes("harbourside-waste.jsonl"),
        &["--log-id", &log_id],
    );
    assert_eq!(imported.code, 0, "{imported:?}");
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);
    let token = secret.token("secretariat", None, None);

    let Store::Nats(server) = &mut store else {
        unreachable!()
    };
    server.kill();
    std::fs::remove_dir_all(server.store_dir()).expect("store dir wiped");
    server
        .restart()
        .await
        .expect("server restarted on an empty store");

    let open = json!({"do": "open_negotiation", "title": "After the loss", "service": "drainage"});
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        let r = api.command(&token, "after-the-loss", &open, &[]).await;
        // Until the client has reconnected, the store is unreachable.
        if r.body["code"] != "store_unavailable" || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.body["code"], "event_log_missing", "{r:?}");
    drop(serve);
    let Store::Nats(server) = &store else {
        unreachable!()
    };
    assert!(
        !events_stream_exists(&server.url()).await,
        "serve made a new stream"
    );

    let pinned = store.import(
        &sample_minutes("harbourside-waste.jsonl"),
        &["--log-id", &log_id],
    );
    assert_eq!(pinned.code, 2, "{pinned:?}");
    assert!(
        pinned.stderr.contains("the event stream is missing"),
        "{}",
        pinned.stderr
    );
    assert!(
        pinned
            .stderr
            .contains(&format!("the configuration's log {log_id}")),
        "{}",
        pinned.stderr
    );
    assert!(
        !events_stream_exists(&server.url()).await,
        "the refused import made a stream"
    );
}

/// Issue 15, item 6, on the embedded store: the file's events table gone (the file
/// altered or replaced) with the views left in it. A running `serve` answers "the
/// event stream is missing"; a restarted writer or reader refuses the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_events_table_is_refused_on_the_embedded_store() {
    let store = Store::embedded();
    let Store::Embedded(dir) = &store else {
        unreachable!()
    };
    let imported = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(imported.code, 0, "{imported:?}");
    let projected = store.run(&["project", "--once"]);
    assert_eq!(projected.code, 0, "{projected:?}");
    let secret = Secret::new();
    let serve = Service::serve(&store, &secret).await;
    let api = Api::new(&serve);
    let token = secret.token("secretariat", None, None);

    let db = dir.path().join("roundtable.db");
    let conn = rusqlite::Connection::open(&db).expect("open the file");
    conn.execute_batch("DROP TABLE events;")
        .expect("events table dropped");
    drop(conn);

    let open = json!({"do": "open_negotiation", "title": "After the loss", "service": "drainage"});
    let r = api.command(&token, "after-the-loss", &open, &[]).await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.body["code"], "event_log_missing", "{r:?}");
    let view = wait_until_stale(&api, &token, "harbourside-waste").await;
    assert_eq!(view["version"], 73, "{view}");
    drop(serve);

    for run in [
        store.import(&sample_minutes("harbourside-waste.jsonl"), &[]),
        store.run(&["list"]),
    ] {
        assert_eq!(run.code, 2, "{run:?}");
        assert!(
            run.stderr.contains("the event stream is missing"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("does not exist, but this deployment had one"),
            "{}",
            run.stderr
        );
    }
}
