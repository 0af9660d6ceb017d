//! A negotiation the size of a large public consultation (issue 6, "Large
//! negotiations"), through the real `roundtable` binary on both backends: 2,000
//! partners and 50,000 events, whose view (about 3.4 MB of JSON) is larger than NATS's
//! default `max_payload` of 1 MiB. It imports, the projector stores the view (on NATS in
//! chunks, docs/NATS.md "Large views"), and the API serves it whole, equal to the fold
//! of the log and to the rules' fold of the minutes.

#[macro_use]
mod common;
#[path = "services/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::Instant;

use common::Store;
use harness::{Api, Secret, Service};
use roundtable_bench::consultation::Consultation;
use roundtable_domain::{AgreementView, Projection, RecordedEvent, decide};
use roundtable_store::Change;
use serde_json::Value;

const NEGOTIATION: &str = "big-consultation";
const PARTNERS: usize = 2000;
const STATEMENTS: usize = 400;
const EVENTS: u64 = 50_000;

/// Largest change notification expected of the consultation: far below `max_payload`.
const MAX_CHANGE: usize = 64 * 1024;

/// The view the rules give for `consultation`, folded in this process, and the sizes
/// of its largest event and change notification. Event ids and hashes are this fold's
/// own, so `last_event_hash` differs from a recorded log's.
fn fold(consultation: &Consultation) -> (AgreementView, usize, usize) {
    let mut p = Projection::new();
    let (mut largest_event, mut largest_change) = (0, 0);
    for cmd in consultation.commands() {
        let event = decide(p.view.as_ref(), &cmd).expect("every generated line is accepted");
        let sealed = RecordedEvent::seal(
            &cmd,
            event,
            p.version + 1,
            &p.last_hash,
            uuid::Uuid::now_v7(),
            cmd.occurred_at,
        );
        p.apply(&sealed).expect("links");
        let view = p.view.as_ref().expect("opened");
        let change = serde_json::to_vec(&Change::of(&sealed, view)).expect("change JSON");
        largest_event = largest_event.max(sealed.to_bytes().len());
        largest_change = largest_change.max(change.len());
    }
    (p.view.expect("opened"), largest_event, largest_change)
}

on_both_backends!(a_consultation_of_50000_events_imports_projects_and_serves);

async fn a_consultation_of_50000_events_imports_projects_and_serves(store: Store) {
    let started = Instant::now();
    let consultation = Consultation::new(NEGOTIATION, PARTNERS, STATEMENTS, EVENTS as usize);
    let dir = tempfile::tempdir().expect("temp dir");
    let minutes = dir.path().join("consultation.jsonl");
    std::fs::write(&minutes, consultation.text()).expect("write the minutes");

    let import = store.import(&minutes, &[]);
    assert_eq!(import.code, 0, "import failed: {}", import.stderr);
    let imported = started.elapsed();

    let project = store.run(&["project", "--once"]);
    assert_eq!(project.code, 0, "project failed: {}", project.stderr);
    let stats: Value = serde_json::from_str(project.stdout.trim()).expect("stats JSON");
    assert_eq!(stats["applied"], EVENTS, "{stats}");
    assert_eq!(stats["parked"], 0, "{stats}");
    let projected = started.elapsed();

    if let Store::Nats(server) = &store {
        // The view is too large for one message: the bucket holds a small head.
        let kv = async_nats::jetstream::new(
            async_nats::connect(server.url())
                .await
                .expect("nats client"),
        )
        .get_key_value("ROUNDTABLE_VIEWS")
        .await
        .expect("views bucket");
        let head = kv.get(NEGOTIATION).await.expect("get").expect("a head");
        assert!(
            head.starts_with(b"{\"chunked_view\":") && head.len() < 512,
            "{}",
            String::from_utf8_lossy(&head)
        );
    }

    let secret = Secret::new();
    let service = Service::api(&store, &secret).await;
    let api = Api::new(&service);
    let token = secret.token("secretariat", Some(NEGOTIATION), None);
    let served = api
        .get(&token, &format!("/v1/negotiations/{NEGOTIATION}"))
        .await;
    assert_eq!(served.status, 200, "{served:?}");
    assert_eq!(served.header("roundtable-view-version"), Some("50000"));
    assert!(
        served.bytes.len() > 1024 * 1024,
        "{} bytes",
        served.bytes.len()
    );
    let view = AgreementView::from_json(&served.bytes).expect("a view");
    assert_eq!(view.version, EVENTS);
    assert_eq!(view.partners.len(), PARTNERS);
    assert_eq!(view.proposals.len(), STATEMENTS);
    let list = api.get(&token, "/v1/negotiations").await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(
        list.body["negotiations"][0]["version"], EVENTS,
        "{}",
        list.body
    );
    let served_at = started.elapsed();

    // The same as the binary's fold of the recorded log, and as this process's fold
    // of the minutes (apart from the hash, which covers event ids of its own).
    assert_eq!(
        view,
        store.view(NEGOTIATION),
        "the projection equals the log's fold"
    );
    let (mut expected, largest_event, largest_change) = fold(&consultation);
    expected.last_event_hash.clone_from(&view.last_event_hash);
    assert_eq!(view, expected, "the projection equals the rules' fold");
    assert!(
        largest_change < MAX_CHANGE,
        "a change of {largest_change} bytes"
    );
    eprintln!(
        "large consultation on {}: {} bytes of view, largest event {largest_event} bytes, largest change {largest_change} bytes; import {imported:?}, project {:?}, serve {:?}, checks {:?}",
        match store {
            Store::Embedded(_) => "the embedded store",
            Store::Nats(_) => "NATS",
        },
        served.bytes.len(),
        projected - imported,
        served_at - projected,
        started.elapsed() - served_at
    );
}
