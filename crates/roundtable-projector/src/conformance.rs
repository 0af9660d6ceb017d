//! The stored views' conformance suite: [`KvViewStore`] (views and parked entries,
//! written once over the key-value port) checked over any adapter's ports, run by
//! every adapter over its `roundtable_store::conformance::Harness`:
//!
//! ```text
//! roundtable_projector::view_conformance_suite!(MyHarness);
//! ```

use roundtable_domain::AgreementView;
use roundtable_store::StoreError;
use roundtable_store::conformance::Harness;
use roundtable_store::conformance::fixtures::{nid, sample, views_of};

use crate::{KvViewStore, ViewStore};

/// A new client of the views over a new client of the harness's ports.
async fn open_views<H: Harness>(h: &H) -> KvViewStore {
    KvViewStore::open(&*h.ports().await.kv)
        .await
        .expect("open the views")
}

fn json(view: &AgreementView) -> Vec<u8> {
    serde_json::to_vec(view).expect("a view serializes")
}

fn is_conflict<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict { .. }))
}

/// A stored view reads back as the same view, serialized to the same bytes, with the
/// revision its `put` returned.
pub async fn views_read_back_byte_identical<H: Harness>() {
    let h = H::start().await;
    let views = open_views(&h).await;
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
    let other = open_views(&h).await;
    let again = other.get(&n).await.expect("get").expect("stored");
    assert_eq!((json(&again.view), again.revision), (json(&view), revision));
}

/// Creating a view that exists, or updating one that does not, conflicts and changes
/// nothing.
pub async fn creating_an_existing_view_conflicts<H: Harness>() {
    let h = H::start().await;
    let views = open_views(&h).await;
    let all = views_of(&sample("view-create", 2));
    let revision = views.put(&all[1], None).await.expect("create");
    assert!(is_conflict(&views.put(&all[2], None).await));
    let other = open_views(&h).await;
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
    let views = open_views(&h).await;
    let all = views_of(&sample("view-stale", 3));
    let first = views.put(&all[0], None).await.expect("create");
    let second = views.put(&all[1], Some(first)).await.expect("update");
    assert!(second > first, "revisions increase: {first} then {second}");
    // A writer still holding the first revision.
    let stale = open_views(&h).await;
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
    let views = open_views(&h).await;
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
    let views = open_views(&h).await;
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
    let other = open_views(&h).await;
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

/// Generates one `#[tokio::test]` per check of the stored views for a
/// `roundtable_store::conformance::Harness` type.
#[macro_export]
macro_rules! view_conformance_suite {
    ($harness:ty) => {
        $crate::view_conformance_suite!(@tests $harness;
            views_read_back_byte_identical,
            creating_an_existing_view_conflicts,
            stale_view_revisions_conflict,
            views_are_listed_sorted_and_cleared,
            parked_entries_mark_views_stale_until_cleared,
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
