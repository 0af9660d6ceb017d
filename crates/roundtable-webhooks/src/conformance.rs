//! The webhooks' conformance suite: [`KvWebhookStore`] (registrations, dead letters,
//! the one replay semantics, written once over the key-value port) checked over any
//! adapter's ports, run by every adapter over its
//! `roundtable_store::conformance::Harness`:
//!
//! ```text
//! roundtable_webhooks::webhook_conformance_suite!(MyHarness);
//! ```

use chrono::{TimeZone, Utc};
use roundtable_domain::{Change, NegotiationId};
use roundtable_store::conformance::Harness;
use roundtable_store::conformance::fixtures::{changes_of, nid, sample};
use roundtable_store::{Selection, StoreError};

use crate::{DeadLetter, KvWebhookStore, Webhook, WebhookId, WebhookStore};

/// (negotiation, version) of each change.
fn versions(changes: &[Change]) -> Vec<(String, u64)> {
    changes
        .iter()
        .map(|c| (c.negotiation_id.to_string(), c.version))
        .collect()
}

/// A new client of the webhooks' storage over a new client of the harness's ports.
async fn open_webhooks<H: Harness>(h: &H) -> KvWebhookStore {
    KvWebhookStore::from_ports(&h.ports().await)
        .await
        .expect("open the webhooks")
}

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

/// A webhook registers once (again: `AlreadyExists`), is listed by id and read back,
/// and removal takes it, its dead letters and its replay flag.
pub async fn webhooks_register_once_and_are_removed_whole<H: Harness>() {
    let h = H::start().await;
    let store = open_webhooks(&h).await;
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
    let other = open_webhooks(&h).await;
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
    let store = open_webhooks(&h).await;
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
    let other = open_webhooks(&h).await;
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

/// Generates one `#[tokio::test]` per check of the webhooks' storage for a
/// `roundtable_store::conformance::Harness` type.
#[macro_export]
macro_rules! webhook_conformance_suite {
    ($harness:ty) => {
        $crate::webhook_conformance_suite!(@tests $harness;
            webhooks_register_once_and_are_removed_whole,
            dead_letters_replay_once_per_request,
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
