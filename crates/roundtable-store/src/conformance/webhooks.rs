//! Checks of the webhooks' storage (registrations, dead letters, the one replay
//! semantics) and of the change feeds ([`ChangeFeeds`]) they are delivered from.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use roundtable_domain::{NegotiationId, Projection, RecordedEvent};

use super::read_side::sample;
use super::{Harness, nid};
use crate::{Change, ChangeFeed, DeadLetter, Selection, StoreError, Webhook, WebhookId};

fn webhook(id: &str, negotiations: Selection<NegotiationId>) -> Webhook {
    Webhook {
        id: WebhookId::new(id).expect("valid id"),
        url: "http://127.0.0.1:9/hook".into(),
        negotiations,
        event_types: Selection::All,
        secret: "conformance-secret".into(),
        created_at: Utc::now(),
        created_by: "conformance".into(),
    }
}

/// The change of each event, as the projector announces it.
fn changes_of(events: &[RecordedEvent]) -> Vec<Change> {
    let mut p = Projection::new();
    events
        .iter()
        .map(|e| {
            p.apply(e).expect("chain links");
            Change::of(e, p.view.as_ref().expect("opened"))
        })
        .collect()
}

fn letter(hook: &Webhook, change: &Change, attempts: u32) -> DeadLetter {
    DeadLetter {
        webhook_id: hook.id.clone(),
        delivery_id: hook.delivery_id(change),
        change: change.clone(),
        attempts,
        last_error: "status 500".into(),
        parked_at: Utc
            .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
            .single()
            .expect("a time"),
        replay: false,
    }
}

/// (negotiation, version) of each change.
fn versions(changes: &[Change]) -> Vec<(String, u64)> {
    changes
        .iter()
        .map(|c| (c.negotiation_id.to_string(), c.version))
        .collect()
}

/// Records `chain[range]` and announces their changes, as the command side and the
/// projector do.
async fn record<H: Harness>(h: &H, chain: &[RecordedEvent], range: std::ops::Range<usize>) {
    let ports = h.ports().await;
    for e in &chain[range.clone()] {
        ports.events.append(e).await.expect("append");
    }
    ports
        .changes
        .publish_all(&changes_of(chain)[range])
        .await
        .expect("publish");
}

/// Takes `count` changes from `feed`, acknowledging each.
async fn take(feed: &mut dyn ChangeFeed, count: usize) -> Vec<Change> {
    let mut out = Vec::new();
    let mut empty = 0;
    while out.len() < count {
        match feed.next(Duration::from_millis(300)).await.expect("next") {
            Some(item) => {
                feed.ack(item.position).await.expect("ack");
                out.push(item.change);
            }
            None => {
                empty += 1;
                assert!(
                    empty < 100,
                    "only {} of {count} changes came: {:?}",
                    out.len(),
                    versions(&out)
                );
            }
        }
    }
    out
}

/// A webhook registers once (again: `AlreadyExists`), is listed by id and read back,
/// and removal takes it, its dead letters and its replay flag.
pub async fn webhooks_register_once_and_are_removed_whole<H: Harness>() {
    let h = H::start().await;
    let store = h.webhooks().await;
    assert!(store.list().await.expect("list").is_empty());
    let b = webhook("wh-b", Selection::All);
    let a = webhook("wh-a", Selection::Only(vec![nid("hooks-a")]));
    store.register(&b).await.expect("register");
    store.register(&a).await.expect("register");
    let again = store.register(&webhook("wh-a", Selection::All)).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    let other = h.webhooks().await;
    assert_eq!(
        other.list().await.expect("list"),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(other.get(&a.id).await.expect("get"), Some(a.clone()));
    let change = changes_of(&sample("hooks-a", 1)).remove(0);
    store.park(&letter(&a, &change, 3)).await.expect("park");
    assert_eq!(store.request_replay(&a.id).await.expect("replay"), 1);
    assert!(other.remove(&a.id).await.expect("remove"));
    assert!(!other.remove(&a.id).await.expect("remove again"));
    assert_eq!(store.get(&a.id).await.expect("get"), None);
    assert!(store.dead_letters(&a.id).await.expect("letters").is_empty());
    assert!(store.replays(&a.id).await.expect("replays").is_empty());
    assert_eq!(store.list().await.expect("list"), vec![b.clone()]);
    // The id can be registered again, from scratch.
    store.register(&a).await.expect("register again");
    assert!(store.dead_letters(&a.id).await.expect("letters").is_empty());
}

/// Dead letters are kept per webhook, negotiation and version (parking one again
/// replaces it), listed by negotiation then version; a replay request marks them all
/// and the marked ones are what `replays` gives until each is dropped (delivered) or
/// parked again unmarked (failed again); then there is nothing to replay.
pub async fn dead_letters_replay_once_per_request<H: Harness>() {
    let h = H::start().await;
    let store = h.webhooks().await;
    let hook = webhook("wh-dead", Selection::All);
    let other_hook = webhook("wh-other", Selection::All);
    store.register(&hook).await.expect("register");
    store.register(&other_hook).await.expect("register");
    let mut changes = changes_of(&sample("dead-b", 1));
    changes.extend(changes_of(&sample("dead-a", 10)));
    for c in changes.iter().rev() {
        store.park(&letter(&hook, c, 1)).await.expect("park");
    }
    store
        .park(&letter(&hook, &changes[0], 4))
        .await
        .expect("park again");
    store
        .park(&letter(&other_hook, &changes[1], 1))
        .await
        .expect("park for another webhook");
    let letters = store.dead_letters(&hook.id).await.expect("letters");
    let mut expected = versions(&changes);
    expected.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    assert_eq!(
        versions(&letters.iter().map(|l| l.change.clone()).collect::<Vec<_>>()),
        expected,
        "by negotiation, then version (10 after 9)"
    );
    let first = letters
        .iter()
        .find(|l| l.change == changes[0])
        .expect("kept");
    assert_eq!(first.attempts, 4, "parking again replaces");
    assert!(store.replays(&hook.id).await.expect("replays").is_empty());
    assert_eq!(
        store.request_replay(&hook.id).await.expect("replay"),
        changes.len()
    );
    let other = h.webhooks().await;
    let marked = other.replays(&hook.id).await.expect("replays");
    assert_eq!(marked.len(), changes.len());
    assert!(marked.iter().all(|l| l.replay));
    assert!(
        other
            .replays(&other_hook.id)
            .await
            .expect("replays")
            .is_empty()
    );
    // The first is delivered, the others fail again.
    other
        .unpark(&hook.id, &marked[0].change)
        .await
        .expect("unpark");
    for l in &marked[1..] {
        let mut again = l.clone();
        again.replay = false;
        again.attempts += 1;
        other.park(&again).await.expect("park again");
    }
    assert!(other.replays(&hook.id).await.expect("replays").is_empty());
    let left = store.dead_letters(&hook.id).await.expect("letters");
    assert_eq!(left.len(), changes.len() - 1);
    assert!(
        left.iter()
            .all(|l| !l.replay && l.change != marked[0].change)
    );
    assert_eq!(
        store
            .dead_letters(&other_hook.id)
            .await
            .expect("letters")
            .len(),
        1
    );
}

/// A started change feed delivers the changes of its negotiations recorded after it
/// started, in version order, none from before; a feed opened again with the name
/// resumes after the last acknowledged change; a removed feed starts over from its
/// new start.
pub async fn change_feeds_deliver_what_follows_their_start<H: Harness>() {
    let h = H::start().await;
    let ports = h.ports().await;
    let wanted = sample("feed-wanted", 4);
    let unwanted = sample("feed-unwanted", 1);
    record(&h, &wanted, 0..2).await;
    record(&h, &unwanted, 0..1).await;
    // Message times are whole milliseconds or coarser: let the clock move on.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = Utc::now();
    let only = Selection::Only(vec![nid("feed-wanted")]);
    ports
        .change_feeds
        .start("wh-feed", since)
        .await
        .expect("start");
    tokio::time::sleep(Duration::from_millis(50)).await;
    record(&h, &unwanted, 1..unwanted.len()).await;
    record(&h, &wanted, 2..4).await;
    let mut feed = ports
        .change_feeds
        .open("wh-feed", &only, since, "conformance")
        .await
        .expect("open");
    let got = take(&mut *feed, 2).await;
    assert_eq!(versions(&got), versions(&changes_of(&wanted)[2..4]));
    assert_eq!(
        got,
        changes_of(&wanted)[2..4].to_vec(),
        "the changes as announced"
    );
    drop(feed);
    record(&h, &wanted, 4..wanted.len()).await;
    let other = h.ports().await;
    let mut feed = other
        .change_feeds
        .open("wh-feed", &only, since, "conformance")
        .await
        .expect("open again");
    let rest = take(&mut *feed, 2).await;
    assert_eq!(versions(&rest), versions(&changes_of(&wanted)[4..]));
    assert!(
        feed.next(Duration::from_millis(300))
            .await
            .expect("next")
            .is_none(),
        "nothing else: the other negotiation is not selected"
    );
    drop(feed);
    other.change_feeds.remove("wh-feed").await.expect("remove");
    other
        .change_feeds
        .remove("wh-feed")
        .await
        .expect("removing nothing is fine");
}
