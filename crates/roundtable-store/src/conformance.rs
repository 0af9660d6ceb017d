//! The conformance suite of the ports every adapter implements, written once.
//!
//! An adapter implements [`Harness`] (start a backing store, connect clients to it,
//! crash it, open its feeds and ports) and invokes
//! [`conformance_suite!`](crate::conformance_suite) in a test file:
//!
//! ```text
//! roundtable_store::conformance_suite!(MyHarness);
//! ```
//!
//! Each check is a plain async function, so a failure points at one guarantee: the
//! event log's in this file, the event feed's in `conformance/feed.rs`, the key-value
//! port's in `conformance/kv.rs`, the change feeds' in `conformance/change_feeds.rs`.
//! What is written once over these ports has its own suite beside it, run by every
//! adapter over the same [`Harness`]: the command handler's in `roundtable-app`
//! (`handler_conformance_suite!`), the stored views' in `roundtable-projector`
//! (`view_conformance_suite!`), the webhooks' in `roundtable-webhooks`
//! (`webhook_conformance_suite!`). [`fixtures`] are the negotiations they all record.

mod change_feeds;
mod feed;
pub mod fixtures;
mod kv;

pub use change_feeds::*;
pub use feed::*;
pub use kv::*;

use async_trait::async_trait;
use chrono::Utc;
use roundtable_domain::{NegotiationId, Projection, RecordedEvent, decide};
use uuid::Uuid;

use crate::{EventFeed, EventStore, Ports, StoreError};
use fixtures::{admit, basic, chain, nid, open};

/// A backing store for the suite: started fresh for each check.
#[async_trait]
pub trait Harness: Send + Sync + Sized + 'static {
    /// The adapter under test.
    type Store: EventStore;
    /// Starts an empty backing store.
    async fn start() -> Self;
    /// A new, independent client of the backing store, as another process would open.
    async fn connect(&self) -> Self::Store;
    /// Kills the backing store without a clean shutdown (the server process with
    /// SIGKILL, or the file closed mid-flight) and brings it back on the same data.
    /// Clients opened before may be unusable afterwards.
    async fn crash_and_restart(&mut self);
    /// A new feed of every recorded event under the consumer name `name`, as a
    /// projector process would open it. Where unacknowledged entries come again only
    /// after a timeout (a JetStream consumer's ack wait), the harness sets it to about
    /// a second.
    async fn feed(&self, name: &str) -> Box<dyn EventFeed>;
    /// Every port of a new client of the backing store, as the adapter's constructor
    /// returns them.
    async fn ports(&self) -> Ports;
}

/// Appended events read back identical, in order, from any version, with limits.
pub async fn append_and_read_back<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let n = nid("read-back");
    assert_eq!(store.last_version(&n).await.expect("last_version"), 0);
    assert!(store.read(&n, 0, None).await.expect("read").is_empty());
    let events = chain(&basic("read-back", 4));
    for e in &events {
        store.append(e).await.expect("append");
    }
    assert_eq!(store.read(&n, 0, None).await.expect("read"), events);
    assert_eq!(
        store.read(&n, 2, None).await.expect("read"),
        events[2..].to_vec()
    );
    assert_eq!(
        store.read(&n, 1, Some(2)).await.expect("read"),
        events[1..3].to_vec()
    );
    assert!(store.read(&n, 5, None).await.expect("read").is_empty());
    assert_eq!(store.last_version(&n).await.expect("last_version"), 5);
    // Another client sees the same.
    let other = h.connect().await;
    assert_eq!(other.read(&n, 0, None).await.expect("read"), events);
}

/// An append at a stale or future version is a conflict and records nothing.
pub async fn stale_and_gapped_appends_conflict<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let n = nid("stale");
    let events = chain(&basic("stale", 2));
    store.append(&events[0]).await.expect("append v1");
    // Version 1 again (a stale writer) and version 3 (a gap).
    let again = store.append(&events[0]).await;
    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                expected: 0,
                actual: Some(1),
                ..
            })
        ),
        "{again:?}"
    );
    let gap = store.append(&events[2]).await;
    assert!(
        matches!(
            gap,
            Err(StoreError::Conflict {
                expected: 2,
                actual: Some(1),
                ..
            })
        ),
        "{gap:?}"
    );
    assert_eq!(store.read(&n, 0, None).await.expect("read").len(), 1);
    store.append(&events[1]).await.expect("append v2");
    store.append(&events[2]).await.expect("append v3");
    assert_eq!(store.last_version(&n).await.expect("last_version"), 3);
}

/// Of many clients appending different events at one version at once, exactly one wins.
pub async fn racing_writers_have_one_winner<H: Harness>() {
    let h = H::start().await;
    let n = nid("race");
    let first = chain(&[open("race")]);
    let setup = h.connect().await;
    setup.append(&first[0]).await.expect("append v1");
    for round in 0..10u32 {
        // Read once, before any writer of the round appends: all decide on the same state.
        let base = setup.read(&n, 0, None).await.expect("read");
        let mut tasks = Vec::new();
        for w in 0..4u32 {
            let store = h.connect().await;
            let mut p = Projection::fold(&base).expect("fold");
            let cmd = admit("race", &format!("w{w}-r{round}"), round * 10 + w + 1);
            let event = decide(p.view.as_ref(), &cmd).expect("valid");
            let e = RecordedEvent::seal(
                &cmd,
                event,
                p.version + 1,
                &p.last_hash,
                Uuid::now_v7(),
                Utc::now(),
            );
            p.apply(&e).expect("links");
            tasks.push(tokio::spawn(async move { store.append(&e).await }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(()) => wins += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
    let all = setup.read(&n, 0, None).await.expect("read");
    assert_eq!(all.len(), 11);
    Projection::fold(&all).expect("gapless and linked");
}

/// Many negotiations interleaved stay separate.
pub async fn negotiations_are_separate<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let names: Vec<String> = (0..12).map(|i| format!("neg-{i:02}")).collect();
    let chains: Vec<Vec<RecordedEvent>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| chain(&basic(n, (i % 4) as u32)))
        .collect();
    let longest = chains.iter().map(Vec::len).max().unwrap_or(0);
    for v in 0..longest {
        for c in &chains {
            if let Some(e) = c.get(v) {
                store.append(e).await.expect("append");
            }
        }
    }
    let listed = store.negotiations().await.expect("list");
    assert_eq!(
        listed.iter().map(NegotiationId::as_str).collect::<Vec<_>>(),
        names.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for (name, c) in names.iter().zip(&chains) {
        assert_eq!(&store.read(&nid(name), 0, None).await.expect("read"), c);
        assert_eq!(
            store.last_version(&nid(name)).await.expect("last"),
            c.len() as u64
        );
    }
}

/// After the backing store is killed and restarted, everything acknowledged is there,
/// the chain verifies, and appending goes on at the right version.
pub async fn survives_a_crash<H: Harness>() {
    let mut h = H::start().await;
    let n = nid("crash");
    let events = chain(&basic("crash", 30));
    {
        let store = h.connect().await;
        for e in &events[..20] {
            store.append(e).await.expect("append");
        }
    }
    h.crash_and_restart().await;
    let store = h.connect().await;
    assert_eq!(
        store.read(&n, 0, None).await.expect("read"),
        events[..20].to_vec()
    );
    for e in &events[20..] {
        store.append(e).await.expect("append after restart");
    }
    let all = store.read(&n, 0, None).await.expect("read");
    assert_eq!(all, events);
    Projection::fold(&all).expect("chain");
}

/// A batch append records consecutive events all at once, reads back identical, and
/// is refused whole (nothing recorded) when it starts at a stale version or its events
/// are not consecutive.
pub async fn batches_append_whole_or_not_at_all<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let n = nid("batch");
    let events = chain(&basic("batch", 6));
    store.append(&events[0]).await.expect("first alone");
    store.append_batch(&events[1..4]).await.expect("batch");
    assert_eq!(
        store.read(&n, 0, None).await.expect("read"),
        events[..4].to_vec()
    );
    // Stale: starts at version 3, which is recorded.
    assert!(matches!(
        store.append_batch(&events[2..6]).await,
        Err(StoreError::Conflict { .. })
    ));
    // Not consecutive: versions 5 and 7.
    let gapped = vec![events[4].clone(), events[6].clone()];
    assert!(matches!(
        store.append_batch(&gapped).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.last_version(&n).await.expect("last"), 4);
    store
        .append_batch(&[])
        .await
        .expect("an empty batch is nothing");
    store.append_batch(&events[4..]).await.expect("the rest");
    assert_eq!(store.read(&n, 0, None).await.expect("read"), events);
    let other = h.connect().await;
    assert_eq!(other.read(&n, 0, None).await.expect("read"), events);
}

/// Generates one `#[tokio::test]` per check of the ports for a [`Harness`] type.
#[macro_export]
macro_rules! conformance_suite {
    ($harness:ty) => {
        $crate::conformance_suite!(@tests $harness;
            append_and_read_back,
            stale_and_gapped_appends_conflict,
            racing_writers_have_one_winner,
            negotiations_are_separate,
            survives_a_crash,
            batches_append_whole_or_not_at_all,
            the_feed_delivers_every_event_in_append_order,
            a_new_feed_resumes_after_the_checkpoint,
            unacknowledged_entries_come_again,
            lag_counts_unacknowledged_entries,
            an_empty_feed_comes_back_empty,
            a_reset_feed_starts_over,
            kv_values_read_back_with_their_revisions,
            kv_create_refuses_an_existing_key,
            kv_stale_revisions_conflict,
            kv_racing_writers_have_one_winner,
            kv_keys_are_listed_by_prefix_and_cleared,
            kv_large_values_round_trip,
            change_feeds_deliver_what_follows_their_start,
        );
    };
    (@tests $harness:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::$name::<$harness>().await;
            }
        )*
    };
}
