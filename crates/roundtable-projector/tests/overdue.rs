//! The overdue timer on both stores: a commitment's first overdue day is announced
//! once, on the change stream (NATS: `ROUNDTABLE_CHANGES`) and in the announcements
//! bucket; never again after a restart or by a second timer; never for a commitment
//! fulfilled before its due date. The clock is fixed by each test.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use chrono::NaiveDate;
use common::{Client, Env, Recorder, example, import};
use futures::StreamExt;
use roundtable_domain::change::{COMMITMENT_OVERDUE, ChangeDetails};
use roundtable_projector::OverdueTimer;
use roundtable_store::{Change, overdue};

const FIELDBROOK: &str = "fieldbrook-sanitation.jsonl";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// A timer over `client`'s views, bucket and sink whose "today" is `today`.
async fn timer(client: &Client, today: NaiveDate) -> OverdueTimer {
    OverdueTimer::open(&*client.buckets(), client.views.clone(), client.sink())
        .await
        .expect("timer")
        .with_clock(Arc::new(move || today))
}

/// Imports the first `lines` lines of the Fieldbrook minutes (all when `None`) and
/// projects them.
async fn fieldbrook(env: &Env, client: &Client, lines: Option<usize>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(example(FIELDBROOK)).expect("read");
    let head: Vec<&str> = text.lines().take(lines.unwrap_or(usize::MAX)).collect();
    let path = dir.path().join("fieldbrook.jsonl");
    std::fs::write(&path, head.join("\n")).expect("write");
    import(client.events.clone(), &path).await;
    let recorder = Recorder::default();
    let mut projector = client.projector(common::NAME, &recorder).await;
    projector.catch_up().await.expect("catch up");
    let _ = env;
}

fn commitments(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match &c.details {
            ChangeDetails::CommitmentOverdue { commitment_id, .. } => commitment_id.to_string(),
            other => panic!("not an overdue announcement: {other:?}"),
        })
        .collect()
}

/// The overdue announcements on the NATS changes stream, from its first message.
async fn on_the_changes_stream(env: &Env) -> Vec<Change> {
    let js = async_nats::jetstream::new(env.raw_nats().await);
    let stream = js
        .get_stream(roundtable_nats::CHANGES_STREAM)
        .await
        .expect("the changes stream");
    let total = stream.get_info().await.expect("info").state.messages;
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut out = Vec::new();
    let mut seen = 0;
    while seen < total {
        let mut batch = consumer
            .batch()
            .max_messages(500)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("pull");
        while let Some(message) = batch.next().await {
            seen += 1;
            let change: Change =
                serde_json::from_slice(&message.expect("message").payload).expect("a change");
            if change.event_type == COMMITMENT_OVERDUE {
                out.push(change);
            }
        }
    }
    out
}

async fn announced_once_and_never_again(env: Env) {
    let client = env.client().await;
    fieldbrook(&env, &client, None).await;

    assert!(
        timer(&client, day(2029, 9, 30))
            .await
            .tick()
            .await
            .expect("tick")
            .is_empty(),
        "nothing is overdue on the last day before"
    );
    let first = timer(&client, day(2029, 10, 1))
        .await
        .tick()
        .await
        .expect("tick");
    assert_eq!(
        commitments(&first),
        ["c-fbc-subsidy", "c-emptiers-tankers"],
        "announced on their first overdue day"
    );
    let subsidy = &first[0];
    assert_eq!(subsidy.event_type, "commitment_overdue");
    assert_eq!(
        subsidy.summary,
        "commitment c-fbc-subsidy by fbc overdue since 2029-10-01: it was due on 2029-09-30 and is still active"
    );
    let last = client
        .events
        .last_version(&subsidy.negotiation_id)
        .await
        .expect("last version");
    assert_eq!(
        subsidy.version, last,
        "the version of the last event: no event is recorded"
    );
    assert_eq!(
        subsidy.announcement_id(),
        "fieldbrook-sanitation:overdue:c-fbc-subsidy:2029-09-30"
    );

    // The same timer, a restarted one days later, and two at once: nothing again.
    assert!(
        timer(&client, day(2029, 10, 1))
            .await
            .tick()
            .await
            .expect("tick")
            .is_empty()
    );
    let restarted = env.client().await;
    assert!(
        timer(&restarted, day(2029, 10, 5))
            .await
            .tick()
            .await
            .expect("tick")
            .is_empty(),
        "a restarted timer announces nothing twice"
    );
    let (a, b) = (
        timer(&restarted, day(2030, 1, 1)).await,
        timer(&env.client().await, day(2030, 1, 1)).await,
    );
    let (a, b) = tokio::join!(a.tick(), b.tick());
    assert!(a.expect("tick").is_empty() && b.expect("tick").is_empty());

    let kept = overdue::announcements(&**timer(&restarted, day(2030, 1, 1)).await.marks(), None)
        .await
        .expect("announcements");
    assert_eq!(
        kept.iter().map(|a| a.change.clone()).collect::<Vec<_>>(),
        first,
        "the bucket keeps each announcement once, as announced"
    );
    if env.is_nats() {
        assert_eq!(
            on_the_changes_stream(&env).await,
            first,
            "the changes stream holds each announcement once"
        );
    }
}

#[tokio::test]
async fn overdue_is_announced_once_and_never_again_sqlite() {
    announced_once_and_never_again(Env::sqlite().await).await;
}

#[tokio::test]
async fn overdue_is_announced_once_and_never_again_nats() {
    announced_once_and_never_again(Env::nats().await).await;
}

async fn two_timers_racing_announce_once(env: Env) {
    let client = env.client().await;
    fieldbrook(&env, &client, None).await;
    let other = env.client().await;
    let (a, b) = (
        timer(&client, day(2029, 10, 1)).await,
        timer(&other, day(2029, 10, 1)).await,
    );
    let (a, b) = tokio::join!(a.tick(), b.tick());
    let mut both = commitments(&a.expect("tick"));
    both.extend(commitments(&b.expect("tick")));
    both.sort();
    assert_eq!(both, ["c-emptiers-tankers", "c-fbc-subsidy"]);
    if env.is_nats() {
        assert_eq!(on_the_changes_stream(&env).await.len(), 2);
    }
}

#[tokio::test]
async fn two_timers_racing_announce_once_sqlite() {
    two_timers_racing_announce_once(Env::sqlite().await).await;
}

#[tokio::test]
async fn two_timers_racing_announce_once_nats() {
    two_timers_racing_announce_once(Env::nats().await).await;
}

async fn fulfilled_before_due_never_announced(env: Env) {
    let client = env.client().await;
    // Up to line 64: c-fbc-site (due 2028-03-31) is not fulfilled yet; it is on
    // 2028-03-27 (line 65), and c-brookline-plant (due 2028-06-30) is fulfilled late,
    // on 2028-08-29 (line 72).
    fieldbrook(&env, &client, Some(64)).await;
    let before = timer(&client, day(2028, 3, 31))
        .await
        .tick()
        .await
        .expect("tick");
    assert!(
        commitments(&before).is_empty(),
        "nothing overdue on the due date itself: {before:?}"
    );
    fieldbrook(&env, &client, Some(70)).await;
    let late = timer(&client, day(2028, 7, 1))
        .await
        .tick()
        .await
        .expect("tick");
    assert_eq!(
        commitments(&late),
        ["c-brookline-plant"],
        "a commitment still active after its due date is announced"
    );
    fieldbrook(&env, &client, None).await;
    let later = timer(&client, day(2031, 1, 1))
        .await
        .tick()
        .await
        .expect("tick");
    let all = overdue::announcements(&**timer(&client, day(2031, 1, 1)).await.marks(), None)
        .await
        .expect("announcements");
    let all: Vec<Change> = all.into_iter().map(|a| a.change).collect();
    assert_eq!(
        commitments(&all),
        ["c-brookline-plant", "c-fbc-subsidy", "c-emptiers-tankers"],
        "c-fbc-site, c-wsra-licence and c-aquafund-grant were fulfilled before their due dates: never announced"
    );
    assert_eq!(commitments(&later), ["c-fbc-subsidy", "c-emptiers-tankers"]);
}

#[tokio::test]
async fn a_commitment_fulfilled_before_its_due_date_is_never_announced_sqlite() {
    fulfilled_before_due_never_announced(Env::sqlite().await).await;
}

#[tokio::test]
async fn a_commitment_fulfilled_before_its_due_date_is_never_announced_nats() {
    fulfilled_before_due_never_announced(Env::nats().await).await;
}
