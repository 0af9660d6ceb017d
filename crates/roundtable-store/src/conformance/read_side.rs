//! Checks of the read side's ports: the [`ViewStore`] and the [`EventFeed`].

use std::time::Duration;

use roundtable_domain::{AgreementView, NegotiationId, Projection, RecordedEvent};

use super::{Harness, basic, chain, nid, propose};
use crate::{EventFeed, EventStore, FeedItem, StoreError};

/// How long one `next` waits in these checks.
const WAIT: Duration = Duration::from_millis(300);

/// Empty `next` rounds after which a check gives up waiting for entries (a guard
/// against a hang, far above any redelivery delay a harness sets).
const PATIENCE: usize = 200;

/// The views of `events` after each of them, in order.
fn views_of(events: &[RecordedEvent]) -> Vec<AgreementView> {
    let mut p = Projection::new();
    events
        .iter()
        .map(|e| {
            p.apply(e).expect("chain links");
            p.view.clone().expect("opened")
        })
        .collect()
}

fn json(view: &AgreementView) -> Vec<u8> {
    serde_json::to_vec(view).expect("a view serializes")
}

fn is_conflict<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict { .. }))
}

/// Events of `negotiation`: opened, `partners` admitted, and one proposal.
pub(super) fn sample(negotiation: &str, partners: u32) -> Vec<RecordedEvent> {
    let mut cmds = basic(negotiation, partners);
    cmds.push(propose(negotiation, "p1", "prop-1", 50));
    chain(&cmds)
}

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

/// A stored view reads back as the same view, serialized to the same bytes, with the
/// revision its `put` returned.
pub async fn views_read_back_byte_identical<H: Harness>() {
    let h = H::start().await;
    let views = h.views().await;
    let n = nid("view-round-trip");
    assert_eq!(views.get(&n).await.expect("get"), None);
    let view = views_of(&sample("view-round-trip", 3))
        .pop()
        .expect("a view");
    let revision = views.put(&view, None).await.expect("put");
    let stored = views.get(&n).await.expect("get").expect("stored");
    assert_eq!(stored.revision, revision);
    assert_eq!(json(&stored.view), json(&view));
    assert_eq!(stored.view, view);
    // Another client reads the same.
    let other = h.views().await;
    let again = other.get(&n).await.expect("get").expect("stored");
    assert_eq!((json(&again.view), again.revision), (json(&view), revision));
}

/// Creating a view that exists, or updating one that does not, conflicts and changes
/// nothing.
pub async fn creating_an_existing_view_conflicts<H: Harness>() {
    let h = H::start().await;
    let views = h.views().await;
    let all = views_of(&sample("view-create", 2));
    let revision = views.put(&all[1], None).await.expect("create");
    assert!(is_conflict(&views.put(&all[2], None).await));
    let other = h.views().await;
    assert!(is_conflict(&other.put(&all[2], None).await));
    let missing = views_of(&sample("view-missing", 1));
    assert!(is_conflict(&views.put(&missing[1], Some(revision)).await));
    let stored = views.get(&nid("view-create")).await.expect("get");
    let stored = stored.expect("stored");
    assert_eq!(
        (json(&stored.view), stored.revision),
        (json(&all[1]), revision)
    );
    assert_eq!(views.get(&nid("view-missing")).await.expect("get"), None);
}

/// An update against a revision that is no longer the stored one conflicts; one
/// against the stored revision succeeds with a higher revision.
pub async fn stale_view_revisions_conflict<H: Harness>() {
    let h = H::start().await;
    let views = h.views().await;
    let all = views_of(&sample("view-stale", 3));
    let first = views.put(&all[0], None).await.expect("create");
    let second = views.put(&all[1], Some(first)).await.expect("update");
    assert!(second > first, "revisions increase: {first} then {second}");
    // A writer still holding the first revision.
    let stale = h.views().await;
    assert!(is_conflict(&stale.put(&all[2], Some(first)).await));
    let third = stale.put(&all[2], Some(second)).await.expect("update");
    assert!(third > second);
    assert!(is_conflict(&views.put(&all[3], Some(second)).await));
    let stored = views.get(&nid("view-stale")).await.expect("get");
    let stored = stored.expect("stored");
    assert_eq!(
        (json(&stored.view), stored.revision),
        (json(&all[2]), third)
    );
}

/// `list` gives every stored view's id, sorted; `clear` drops them all, and a revision
/// from before the clear never matches again.
pub async fn views_are_listed_sorted_and_cleared<H: Harness>() {
    let h = H::start().await;
    let views = h.views().await;
    assert!(views.list().await.expect("list").is_empty());
    let mut revisions = Vec::new();
    for name in ["view-c", "view-a", "view-b"] {
        let view = views_of(&sample(name, 1)).pop().expect("a view");
        revisions.push((name, views.put(&view, None).await.expect("put")));
    }
    assert_eq!(
        views.list().await.expect("list"),
        vec![nid("view-a"), nid("view-b"), nid("view-c")]
    );
    views.clear().await.expect("clear");
    assert!(views.list().await.expect("list").is_empty());
    assert_eq!(views.get(&nid("view-a")).await.expect("get"), None);
    // Views are created again; a writer holding a revision from before the clear
    // conflicts rather than overwriting them.
    for (name, old) in revisions {
        let all = views_of(&sample(name, 1));
        let fresh = views.put(&all[0], None).await.expect("create again");
        assert_ne!(fresh, old, "{name}: a revision is never reused");
        assert!(is_conflict(&views.put(&all[1], Some(old)).await), "{name}");
        let stored = views.get(&nid(name)).await.expect("get").expect("stored");
        assert_eq!(
            (json(&stored.view), stored.revision),
            (json(&all[0]), fresh)
        );
    }
    assert_eq!(views.list().await.expect("list").len(), 3);
}

/// Parked entries are kept by position (parking one again changes nothing), listed in
/// position order, mark their negotiation's view as stale (the first one is what
/// `stale` gives) without touching the view, are seen by another client, and go with
/// `clear`.
pub async fn parked_entries_mark_views_stale_until_cleared<H: Harness>() {
    use chrono::{TimeZone, Utc};

    let h = H::start().await;
    let views = h.views().await;
    assert!(views.parked().await.expect("parked").is_empty());
    let view = views_of(&sample("parked-a", 1)).pop().expect("a view");
    let revision = views.put(&view, None).await.expect("put");
    let at = Utc
        .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
        .single()
        .expect("a time");
    let entry =
        |position: u64, negotiation: Option<&str>, version: Option<u64>| crate::ParkedEntry {
            position,
            negotiation_id: negotiation.map(nid),
            version,
            reason: format!("test entry at {position}"),
            parked_at: at,
        };
    let later = entry(41, Some("parked-a"), None);
    let first = entry(17, Some("parked-a"), Some(3));
    let foreign = entry(29, None, None);
    for e in [&later, &first, &foreign, &later] {
        views.park(e).await.expect("park");
    }
    let other = h.views().await;
    assert_eq!(
        other.parked().await.expect("parked"),
        vec![first.clone(), foreign.clone(), later.clone()]
    );
    assert_eq!(
        other.stale(&nid("parked-a")).await.expect("stale"),
        Some(first.clone()),
        "the first parked entry of the negotiation"
    );
    assert_eq!(other.stale(&nid("parked-b")).await.expect("stale"), None);
    let stored = other
        .get(&nid("parked-a"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        (json(&stored.view), stored.revision),
        (json(&view), revision)
    );
    views.clear().await.expect("clear");
    assert!(views.parked().await.expect("parked").is_empty());
    assert_eq!(views.stale(&nid("parked-a")).await.expect("stale"), None);
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
