//! Checks of the change feeds ([`crate::ChangeFeeds`]) webhooks are delivered from.

use std::time::Duration;

use chrono::Utc;
use roundtable_domain::RecordedEvent;

use super::Harness;
use super::fixtures::{changes_of, nid, sample};
use crate::{Change, ChangeFeed, Selection};

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
