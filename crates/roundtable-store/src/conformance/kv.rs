//! Checks of the key-value port ([`KvStore`]) every adapter implements once.

use std::sync::Arc;

use super::Harness;
use crate::{KvStore, StoreError};

async fn bucket<H: Harness>(h: &H, name: &str) -> Arc<dyn KvStore> {
    h.ports()
        .await
        .kv
        .open(name, "conformance checks")
        .await
        .expect("open the bucket")
}

/// A value of `len` bytes that a value joined from two writes would not match.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect()
}

/// Values read back exactly as written with the revision their write returned, from
/// this client and another; every write has a higher revision than the one before.
pub async fn kv_values_read_back_with_their_revisions<H: Harness>() {
    let h = H::start().await;
    let kv = bucket(&h, "CONFORMANCE_KV").await;
    assert_eq!(kv.get("a.one").await.expect("get"), None);
    let first = kv.create("a.one", b"first").await.expect("create");
    let second = kv.put("a.two", b"second").await.expect("put");
    assert!(second > first, "revisions increase: {first} then {second}");
    let third = kv.update("a.one", b"third", first).await.expect("update");
    assert!(third > second);
    let fourth = kv.put("a.two", b"").await.expect("put again");
    assert!(fourth > third);
    let other = bucket(&h, "CONFORMANCE_KV").await;
    for store in [&kv, &other] {
        let one = store.get("a.one").await.expect("get").expect("stored");
        assert_eq!((one.value.as_slice(), one.revision), (&b"third"[..], third));
        let two = store.get("a.two").await.expect("get").expect("stored");
        assert_eq!((two.value.as_slice(), two.revision), (&b""[..], fourth));
    }
    // Buckets are separate.
    let elsewhere = bucket(&h, "CONFORMANCE_OTHER").await;
    assert_eq!(elsewhere.get("a.one").await.expect("get"), None);
    assert!(elsewhere.keys("").await.expect("keys").is_empty());
}

/// Creating a key that holds a value fails with `AlreadyExists` and changes nothing;
/// after a delete the key can be created again.
pub async fn kv_create_refuses_an_existing_key<H: Harness>() {
    let h = H::start().await;
    let kv = bucket(&h, "CONFORMANCE_KV").await;
    let revision = kv.create("hook.a", b"a").await.expect("create");
    let again = kv.create("hook.a", b"b").await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    let other = bucket(&h, "CONFORMANCE_KV").await;
    let again = other.create("hook.a", b"c").await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    let stored = kv.get("hook.a").await.expect("get").expect("stored");
    assert_eq!(
        (stored.value.as_slice(), stored.revision),
        (&b"a"[..], revision)
    );
    kv.delete("hook.a", None).await.expect("delete");
    assert_eq!(kv.get("hook.a").await.expect("get"), None);
    kv.delete("hook.a", None)
        .await
        .expect("deleting nothing is fine");
    let fresh = kv.create("hook.a", b"d").await.expect("create again");
    assert!(fresh > revision);
}

/// Updates and deletes against a revision that is no longer the key's conflict and
/// change nothing; against the key's revision they succeed.
pub async fn kv_stale_revisions_conflict<H: Harness>() {
    let h = H::start().await;
    let kv = bucket(&h, "CONFORMANCE_KV").await;
    let first = kv.create("mark", b"1").await.expect("create");
    let second = kv.update("mark", b"2", first).await.expect("update");
    let stale = kv.update("mark", b"3", first).await;
    assert!(
        matches!(stale, Err(StoreError::RevisionConflict { expected, .. }) if expected == first),
        "{stale:?}"
    );
    let missing = kv.update("missing", b"x", second).await;
    assert!(
        matches!(missing, Err(StoreError::RevisionConflict { .. })),
        "{missing:?}"
    );
    assert_eq!(kv.get("missing").await.expect("get"), None);
    let stale_delete = kv.delete("mark", Some(first)).await;
    assert!(
        matches!(stale_delete, Err(StoreError::RevisionConflict { .. })),
        "{stale_delete:?}"
    );
    let stored = kv.get("mark").await.expect("get").expect("stored");
    assert_eq!(
        (stored.value.as_slice(), stored.revision),
        (&b"2"[..], second)
    );
    kv.delete("mark", Some(second))
        .await
        .expect("delete at its revision");
    assert_eq!(kv.get("mark").await.expect("get"), None);
    assert!(kv.keys("").await.expect("keys").is_empty());
}

/// Of many clients creating one key, or updating it against one revision, at once,
/// exactly one wins each round.
pub async fn kv_racing_writers_have_one_winner<H: Harness>() {
    let h = H::start().await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(bucket(&h, "CONFORMANCE_KV").await);
    }
    let mut revision = None;
    for round in 0..8u8 {
        let tasks: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(w, kv)| {
                let kv = kv.clone();
                let value = vec![round, w as u8];
                tokio::spawn(async move {
                    match revision {
                        None => kv.create("race", &value).await,
                        Some(r) => kv.update("race", &value, r).await,
                    }
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.expect("task") {
                Ok(r) => winners.push(r),
                Err(StoreError::AlreadyExists(_) | StoreError::RevisionConflict { .. }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        revision = winners.pop();
    }
    let stored = clients[0].get("race").await.expect("get").expect("stored");
    assert_eq!(Some(stored.revision), revision);
    assert_eq!(stored.value[0], 7);
}

/// `keys` lists the keys with a prefix, sorted; `entries` gives their values too;
/// `clear` drops every key, and revisions from before it never come again.
pub async fn kv_keys_are_listed_by_prefix_and_cleared<H: Harness>() {
    let h = H::start().await;
    let kv = bucket(&h, "CONFORMANCE_KV").await;
    let mut last = 0;
    for key in [
        "dead.b.n.2",
        "hook.b",
        "dead.a.n.1",
        "hook.a",
        "dead.b.n.10",
        "replay.b",
    ] {
        last = kv.put(key, key.as_bytes()).await.expect("put");
    }
    assert_eq!(
        kv.keys("dead.b.").await.expect("keys"),
        vec!["dead.b.n.10", "dead.b.n.2"]
    );
    assert_eq!(
        kv.keys("hook.").await.expect("keys"),
        vec!["hook.a", "hook.b"]
    );
    assert_eq!(kv.keys("").await.expect("keys").len(), 6);
    assert!(kv.keys("nothing.").await.expect("keys").is_empty());
    let entries = kv.entries("dead.").await.expect("entries");
    let listed: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(k, e)| (k.as_str(), e.value.as_slice()))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("dead.a.n.1", &b"dead.a.n.1"[..]),
            ("dead.b.n.10", &b"dead.b.n.10"[..]),
            ("dead.b.n.2", &b"dead.b.n.2"[..]),
        ]
    );
    kv.clear().await.expect("clear");
    assert!(kv.keys("").await.expect("keys").is_empty());
    assert_eq!(kv.get("hook.a").await.expect("get"), None);
    let fresh = kv
        .create("hook.a", b"again")
        .await
        .expect("create after clear");
    assert!(
        fresh > last,
        "a revision is never reused: {fresh} after {last}"
    );
}

/// A value larger than one message of any backend (2.5 MB) reads back whole, is
/// replaced by smaller and larger values, and `keys` shows only its key.
pub async fn kv_large_values_round_trip<H: Harness>() {
    let h = H::start().await;
    let kv = bucket(&h, "CONFORMANCE_KV").await;
    let big = pattern(2_500_000, 1);
    let first = kv
        .create("neg-big", &big)
        .await
        .expect("create a large value");
    let other = bucket(&h, "CONFORMANCE_KV").await;
    let stored = other.get("neg-big").await.expect("get").expect("stored");
    assert_eq!(stored.revision, first);
    assert!(stored.value == big, "the large value reads back whole");
    let small = kv.update("neg-big", b"small", first).await.expect("shrink");
    let stored = other.get("neg-big").await.expect("get").expect("stored");
    assert_eq!(
        (stored.value.as_slice(), stored.revision),
        (&b"small"[..], small)
    );
    let bigger = pattern(3_100_000, 7);
    let third = other.update("neg-big", &bigger, small).await.expect("grow");
    let stale = kv.update("neg-big", &big, small).await;
    assert!(
        matches!(stale, Err(StoreError::RevisionConflict { .. })),
        "{stale:?}"
    );
    let stored = kv.get("neg-big").await.expect("get").expect("stored");
    assert_eq!(stored.revision, third);
    assert!(stored.value == bigger, "the winner's value, whole");
    assert_eq!(kv.keys("").await.expect("keys"), vec!["neg-big"]);
    kv.delete("neg-big", None).await.expect("delete");
    assert_eq!(kv.get("neg-big").await.expect("get"), None);
}
