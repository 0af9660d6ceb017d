//! Views larger than one NATS message in the views bucket: kept as chunks under their
//! own keys and a small head written last (docs/NATS.md, "Large views"). Round trips,
//! racing writers and readers, shrinking back to one value, and a bucket with a
//! `max_value_size` of its own.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::kv;
use common::{events, jetstream, server, store};
use futures::TryStreamExt;
use roundtable_domain::{AgreementView, Projection};
use roundtable_nats::NatsBuckets;
use roundtable_projector::ViewStore;
use roundtable_projector::{KvViewStore, VIEWS_BUCKET};
use roundtable_store::StoreError;
use roundtable_testkit::NatsServer;

/// The view of `negotiation` opened with 5 partners, at `version`, its title padded
/// so that its JSON is about `bytes` long: `v<version>:` then `fill` repeated. A view
/// joined from two writes would break the pattern (or the JSON).
fn view(negotiation: &str, version: u64, bytes: usize, fill: char) -> AgreementView {
    let mut view = Projection::fold(events(negotiation, 5).iter())
        .expect("folds")
        .view
        .expect("opened");
    let base = serde_json::to_vec(&view).expect("json").len();
    let prefix = format!("v{version}:");
    view.title = prefix.clone()
        + &fill
            .to_string()
            .repeat(bytes.saturating_sub(base + prefix.len()));
    view.version = version;
    view
}

/// Whether `view` is whole: its title is `v<version>:` followed by one character
/// repeated.
fn is_whole(view: &AgreementView) -> bool {
    let Some(rest) = view.title.strip_prefix(&format!("v{}:", view.version)) else {
        return false;
    };
    let mut chars = rest.chars();
    chars.next().is_none_or(|first| chars.all(|c| c == first))
}

/// Every key of the views bucket, sorted, read with a plain client.
async fn keys(server: &NatsServer) -> Vec<String> {
    let kv = jetstream(server)
        .await
        .get_key_value(VIEWS_BUCKET)
        .await
        .expect("bucket");
    let mut keys: Vec<String> = kv
        .keys()
        .await
        .expect("keys")
        .try_collect()
        .await
        .expect("keys");
    keys.sort();
    keys
}

/// The largest value the views bucket keeps as one message, as a new client finds it.
async fn max_entry(server: &NatsServer) -> usize {
    NatsBuckets::new(Arc::new(store(server).await))
        .open_kv(VIEWS_BUCKET, "views")
        .await
        .expect("open the bucket")
        .max_entry()
}

/// The views over a bucket that keeps values larger than `bytes` in chunks.
async fn open_with(server: &NatsServer, bytes: usize) -> KvViewStore {
    KvViewStore::open(&NatsBuckets::new(Arc::new(store(server).await)).with_max_entry(bytes))
        .await
        .expect("open the views")
}

async fn open(server: &NatsServer) -> KvViewStore {
    KvViewStore::open(&NatsBuckets::new(Arc::new(store(server).await)))
        .await
        .expect("open the views")
}

#[tokio::test]
async fn a_view_larger_than_max_payload_round_trips() {
    let server = server().await;
    let views = open(&server).await;
    let max = max_entry(&server).await;
    assert!(
        max < 1024 * 1024 && max > 1000 * 1000,
        "max_entry {} from the default max_payload",
        max
    );
    let big = view("big", 7, 3_500_000, 'a');
    let revision = views.put(&big, None).await.expect("put a 3.5 MB view");
    let stored = views
        .get(&big.negotiation_id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.revision, revision);
    assert_eq!(stored.view, big);
    assert_eq!(
        views.list().await.expect("list"),
        vec![big.negotiation_id.clone()]
    );
    let first = keys(&server).await;
    assert_eq!(first.len(), 1 + 4, "the head and 4 chunks: {first:?}");
    let head = jetstream(&server)
        .await
        .get_key_value(VIEWS_BUCKET)
        .await
        .expect("bucket")
        .get("big")
        .await
        .expect("get")
        .expect("head");
    assert!(
        head.len() < 200,
        "a small head: {}",
        String::from_utf8_lossy(&head)
    );

    // Larger again: the old chunks go once the new head is stored.
    let bigger = view("big", 8, 4_500_000, 'b');
    let revision = views.put(&bigger, Some(revision)).await.expect("update");
    let stored = views
        .get(&bigger.negotiation_id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!((stored.revision, &stored.view), (revision, &bigger));
    let second = keys(&server).await;
    assert_eq!(second.len(), 1 + 5, "the head and 5 chunks: {second:?}");
    assert!(
        second.iter().all(|k| k == "big" || !first.contains(k)),
        "old chunks swept"
    );

    // A writer at a stale revision loses and leaves nothing behind.
    let stale = view("big", 8, 2_500_000, 'c');
    let lost = views.put(&stale, Some(revision - 1)).await;
    assert!(matches!(lost, Err(StoreError::Conflict { .. })), "{lost:?}");
    let lost = views.put(&stale, None).await;
    assert!(matches!(lost, Err(StoreError::Conflict { .. })), "{lost:?}");
    assert_eq!(keys(&server).await, second, "the losers' chunks are purged");
    assert_eq!(
        views
            .get(&bigger.negotiation_id)
            .await
            .expect("get")
            .expect("stored")
            .view,
        bigger
    );

    // Another client reads it too, and a rebuild's clear takes the chunks with it.
    let other = open(&server).await;
    assert_eq!(
        other
            .get(&bigger.negotiation_id)
            .await
            .expect("get")
            .expect("stored")
            .revision,
        revision
    );
    other.clear().await.expect("clear");
    assert!(keys(&server).await.is_empty());
    assert!(
        views
            .get(&bigger.negotiation_id)
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn a_view_shrinking_below_the_threshold_is_one_value_again() {
    let server = server().await;
    let views = open_with(&server, 4096).await;
    let large = view("shrinks", 7, 20_000, 'a');
    let revision = views.put(&large, None).await.expect("put");
    assert_eq!(keys(&server).await.len(), 1 + 5, "head and 5 chunks");

    let small = view("shrinks", 8, 3000, 'b');
    let revision = views.put(&small, Some(revision)).await.expect("shrink");
    assert_eq!(
        keys(&server).await,
        vec!["shrinks".to_owned()],
        "chunks swept"
    );
    let value = jetstream(&server)
        .await
        .get_key_value(VIEWS_BUCKET)
        .await
        .expect("bucket")
        .get("shrinks")
        .await
        .expect("get")
        .expect("value");
    assert_eq!(
        value,
        serde_json::to_vec(&small).expect("json"),
        "the view itself, as before"
    );
    let stored = views
        .get(&small.negotiation_id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!((stored.revision, &stored.view), (revision, &small));

    // And large again; a store that never saw the chunks (a second process) reads it.
    let grown = view("shrinks", 9, 9000, 'c');
    let revision = views.put(&grown, Some(revision)).await.expect("grow");
    assert_eq!(keys(&server).await.len(), 1 + 3);
    let other = open(&server).await;
    let stored = other
        .get(&grown.negotiation_id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!((stored.revision, &stored.view), (revision, &grown));
}

/// Writers on their own connections race to move one view on, version by version,
/// each write chunked and of a different size; readers read all along. No reader
/// ever sees a torn view, every version is stored exactly once, and at the end only
/// the last write's chunks are left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_never_leave_a_torn_view() {
    const WRITERS: usize = 4;
    const READERS: usize = 2;
    const LAST: u64 = 60;
    let server = server().await;
    let first = open_with(&server, 4096).await;
    first
        .put(&view("race", 1, 10_000, 'a'), None)
        .await
        .expect("first version");
    let done = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let views = open_with(&server, 4096).await;
        writers.push(tokio::spawn(async move {
            let fill = char::from(b'a' + u8::try_from(w).expect("few writers"));
            let mut stored = 0;
            loop {
                let current = views
                    .get(&common::nid("race"))
                    .await
                    .expect("get")
                    .expect("view");
                assert!(is_whole(&current.view), "writer read a torn view");
                let next = current.view.version + 1;
                if next > LAST {
                    return stored;
                }
                // 5 to 20 chunks: writes of different lengths interleave.
                let size = 20_000 + (next as usize * 7919 + w * 15_000) % 60_000;
                match views
                    .put(&view("race", next, size, fill), Some(current.revision))
                    .await
                {
                    Ok(_) => stored += 1,
                    Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("writer {w}: {e}"),
                }
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let views = open_with(&server, 4096).await;
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            let mut reads = 0;
            let mut last = 0;
            while !done.load(Ordering::Relaxed) {
                let current = views
                    .get(&common::nid("race"))
                    .await
                    .expect("read")
                    .expect("view");
                assert!(
                    is_whole(&current.view),
                    "reader saw a torn view at {}",
                    current.view.version
                );
                assert!(current.view.version >= last, "versions go forward");
                last = current.view.version;
                reads += 1;
            }
            reads
        }));
    }
    let mut stored = 0;
    for w in writers {
        stored += w.await.expect("writer");
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.await.expect("reader") > 0, "each reader read");
    }
    assert_eq!(stored, LAST - 1, "each version stored once");
    let last = first
        .get(&common::nid("race"))
        .await
        .expect("get")
        .expect("view");
    assert_eq!(last.view.version, LAST);
    assert!(is_whole(&last.view));
    let chunks = serde_json::to_vec(&last.view)
        .expect("json")
        .len()
        .div_ceil(4096);
    // Sweeps are best effort and run after the head: give the last one a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        keys(&server).await.len(),
        1 + chunks,
        "only the last write's chunks are left"
    );
}

#[tokio::test]
async fn a_bucket_with_a_smaller_max_value_size_gets_smaller_chunks() {
    let server = server().await;
    jetstream(&server)
        .await
        .create_key_value(kv::Config {
            bucket: VIEWS_BUCKET.to_owned(),
            history: 1,
            max_value_size: 64 * 1024,
            ..Default::default()
        })
        .await
        .expect("bucket made by an operator");
    let views = open(&server).await;
    assert_eq!(max_entry(&server).await, 60 * 1024);
    let big = view("limited", 7, 300_000, 'x');
    let revision = views.put(&big, None).await.expect("put");
    assert_eq!(keys(&server).await.len(), 1 + 5);
    let stored = views
        .get(&big.negotiation_id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!((stored.revision, stored.view), (revision, big));
}
