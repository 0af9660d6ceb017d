//! Checks of the event feed ([`EventFeed`]).

use std::time::Duration;

use roundtable_domain::{NegotiationId, RecordedEvent};

use super::Harness;
use super::fixtures::sample;
use crate::{EventFeed, EventStore, FeedItem};

/// How long one `next` waits in these checks.
const WAIT: Duration = Duration::from_millis(300);

/// Empty `next` rounds after which a check gives up waiting for entries (a guard
/// against a hang, far above any redelivery delay a harness sets).
const PATIENCE: usize = 200;

/// Takes entries from `feed` until `count` have come, waiting [`WAIT`] per round.
async fn take(feed: &mut dyn EventFeed, count: usize) -> Vec<FeedItem> {
    let mut items = Vec::new();
    let mut empty_rounds = 0;
    while items.len() < count {
        let batch = feed.next(count - items.len(), WAIT).await.expect("next");
        if batch.is_empty() {
            empty_rounds += 1;
            assert!(
                empty_rounds < PATIENCE,
                "only {} of {count} entries came: {:?}",
                items.len(),
                summary(&items)
            );
        }
        assert!(
            batch.len() <= count - items.len(),
            "next returned more than asked"
        );
        items.extend(batch);
    }
    items
}

/// (negotiation, version) of each entry.
fn summary(items: &[FeedItem]) -> Vec<(String, u64)> {
    items
        .iter()
        .map(|i| {
            let e = i.event.as_ref().expect("decodes");
            (e.negotiation_id.to_string(), e.version)
        })
        .collect()
}

fn positions(items: &[FeedItem]) -> Vec<u64> {
    items.iter().map(|i| i.position).collect()
}

async fn append_all(store: &impl EventStore, events: &[RecordedEvent]) {
    for e in events {
        store.append(e).await.expect("append");
    }
}

/// The feed delivers every event of every negotiation, in the order appended, at
/// increasing positions.
pub async fn the_feed_delivers_every_event_in_append_order<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let chains: Vec<Vec<RecordedEvent>> = ["feed-b", "feed-a", "feed-c"]
        .iter()
        .enumerate()
        .map(|(i, n)| sample(n, i as u32 + 1))
        .collect();
    let mut order = Vec::new();
    let longest = chains.iter().map(Vec::len).max().unwrap_or(0);
    for v in 0..longest {
        for c in &chains {
            if let Some(e) = c.get(v) {
                order.push(e.clone());
            }
        }
    }
    // Part before the feed is opened, part after.
    let (before, after) = order.split_at(order.len() / 2);
    append_all(&store, before).await;
    let mut feed = h.feed("conformance-order").await;
    append_all(&store, after).await;
    let items = take(&mut *feed, order.len()).await;
    let got: Vec<&RecordedEvent> = items
        .iter()
        .map(|i| i.event.as_ref().expect("decodes"))
        .collect();
    assert_eq!(got, order.iter().collect::<Vec<_>>());
    for item in &items {
        let e = item.event.as_ref().expect("decodes");
        assert_eq!(item.negotiation.as_ref(), Some(&e.negotiation_id));
    }
    let ps = positions(&items);
    assert!(
        ps.windows(2).all(|w| w[0] < w[1]),
        "positions increase: {ps:?}"
    );
    feed.ack(*ps.last().expect("entries")).await.expect("ack");
    assert_eq!(feed.lag().await.expect("lag"), 0);
}

/// After an ack, a new feed with the same name resumes after the checkpoint; a feed
/// with another name starts from the beginning.
pub async fn a_new_feed_resumes_after_the_checkpoint<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let events = sample("feed-resume", 4);
    append_all(&store, &events).await;
    let first = {
        let mut feed = h.feed("conformance-resume").await;
        let items = take(&mut *feed, events.len()).await;
        feed.ack(items[3].position).await.expect("ack");
        positions(&items)
    };
    let mut feed = h.feed("conformance-resume").await;
    let rest = take(&mut *feed, events.len() - 4).await;
    assert_eq!(positions(&rest), first[4..].to_vec());
    assert_eq!(
        summary(&rest),
        summary_of(&events[4..]),
        "the entries after the checkpoint, and only those"
    );
    feed.ack(*first.last().expect("entries"))
        .await
        .expect("ack");
    let more = sample("feed-resume-more", 1);
    append_all(&store, &more).await;
    let later = take(&mut *feed, more.len()).await;
    assert_eq!(summary(&later), summary_of(&more));
    feed.ack(later.last().expect("entries").position)
        .await
        .expect("ack");
    assert_eq!(feed.lag().await.expect("lag"), 0);
    // Another name has its own checkpoint.
    let mut other = h.feed("conformance-other").await;
    let all = take(&mut *other, events.len() + more.len()).await;
    assert_eq!(summary(&all[..events.len()]), summary_of(&events));
}

fn summary_of(events: &[RecordedEvent]) -> Vec<(String, u64)> {
    events
        .iter()
        .map(|e| (e.negotiation_id.to_string(), e.version))
        .collect()
}

/// Entries returned but never acknowledged (the consumer died) come again to the next
/// feed with the same name.
pub async fn unacknowledged_entries_come_again<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let events = sample("feed-again", 2);
    append_all(&store, &events).await;
    let first = {
        let mut feed = h.feed("conformance-again").await;
        take(&mut *feed, events.len()).await
    };
    let mut feed = h.feed("conformance-again").await;
    let again = take(&mut *feed, events.len()).await;
    assert_eq!(positions(&again), positions(&first));
    assert_eq!(summary(&again), summary_of(&events));
}

/// Lag counts the entries not yet acknowledged, returned or not, and reaches 0.
pub async fn lag_counts_unacknowledged_entries<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let mut feed = h.feed("conformance-lag").await;
    assert_eq!(feed.lag().await.expect("lag"), 0);
    let events = sample("feed-lag", 3);
    append_all(&store, &events).await;
    assert_eq!(feed.lag().await.expect("lag"), 5);
    let items = take(&mut *feed, events.len()).await;
    assert_eq!(
        feed.lag().await.expect("lag"),
        5,
        "returned is not acknowledged"
    );
    feed.ack(items[2].position).await.expect("ack");
    assert_eq!(feed.lag().await.expect("lag"), 2);
    feed.ack(items[4].position).await.expect("ack");
    assert_eq!(feed.lag().await.expect("lag"), 0);
}

/// On an empty store, `next` comes back empty after waiting (not forever), and again
/// once more entries were asked for than exist.
pub async fn an_empty_feed_comes_back_empty<H: Harness>() {
    let h = H::start().await;
    let mut feed = h.feed("conformance-empty").await;
    // A generous guard against a hang, not a measure of the wait.
    let guard = WAIT + Duration::from_secs(30);
    let items = tokio::time::timeout(guard, feed.next(10, WAIT))
        .await
        .expect("next returns")
        .expect("next");
    assert!(items.is_empty());
    let store = h.connect().await;
    let events = sample("feed-empty", 1);
    append_all(&store, &events).await;
    let items = take(&mut *feed, events.len()).await;
    feed.ack(items.last().expect("entries").position)
        .await
        .expect("ack");
    let items = tokio::time::timeout(guard, feed.next(10, WAIT))
        .await
        .expect("next returns")
        .expect("next");
    assert!(items.is_empty(), "{:?}", summary(&items));
    assert_eq!(feed.lag().await.expect("lag"), 0);
}

/// A reset forgets the checkpoint: everything is delivered again, from the first entry.
pub async fn a_reset_feed_starts_over<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let events = sample("feed-reset", 2);
    append_all(&store, &events).await;
    let mut feed = h.feed("conformance-reset").await;
    let first = take(&mut *feed, events.len()).await;
    feed.ack(first.last().expect("entries").position)
        .await
        .expect("ack");
    assert_eq!(feed.lag().await.expect("lag"), 0);
    feed.reset().await.expect("reset");
    assert_eq!(feed.lag().await.expect("lag"), events.len() as u64);
    let again = take(&mut *feed, events.len()).await;
    assert_eq!(positions(&again), positions(&first));
    feed.ack(again.last().expect("entries").position)
        .await
        .expect("ack");
    // A feed opened later with the same name starts from the new checkpoint.
    drop(feed);
    let mut later = h.feed("conformance-reset").await;
    assert_eq!(later.lag().await.expect("lag"), 0);
    let n: &NegotiationId = &events[0].negotiation_id;
    assert_eq!(store.last_version(n).await.expect("last"), 4);
}
