//! The durable change feed on a real nats-server: the projector's changes land in the
//! stream `ROUNDTABLE_CHANGES`, and integrations consume them with consumers of their
//! own, from the beginning, after a restart, or from a point in time.

mod common;

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, stream::Stream};
use common::{Env, Recorder, example, import};
use futures::StreamExt;
use roundtable_domain::ChangeDetails;
use roundtable_nats::CHANGES_STREAM;
use roundtable_store::Change;

/// The first `lines` lines of the sample minutes, as a file of their own.
fn sample_head(dir: &tempfile::TempDir, lines: usize) -> std::path::PathBuf {
    let text = std::fs::read_to_string(example("harbourside-waste.jsonl")).expect("read");
    let head: Vec<&str> = text.lines().take(lines).collect();
    let path = dir.path().join("head.jsonl");
    std::fs::write(&path, head.join("\n")).expect("write");
    path
}

async fn changes_stream(env: &Env) -> Stream {
    jetstream::new(env.raw_nats().await)
        .get_stream(CHANGES_STREAM)
        .await
        .expect("the changes stream exists")
}

async fn consumer(stream: &Stream, name: &str, deliver: DeliverPolicy) -> PullConsumer {
    stream
        .get_or_create_consumer(
            name,
            pull::Config {
                durable_name: Some(name.to_owned()),
                deliver_policy: deliver,
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .expect("consumer")
}

/// Takes `count` messages (acknowledging each when `ack`), waiting as long as needed.
async fn take(consumer: &PullConsumer, count: usize, ack: bool) -> Vec<Change> {
    let mut out = Vec::new();
    while out.len() < count {
        let mut batch = consumer
            .batch()
            .max_messages(count - out.len())
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("pull");
        while let Some(message) = batch.next().await {
            let message = message.expect("message");
            out.push(serde_json::from_slice(&message.payload).expect("a change"));
            if ack {
                message.double_ack().await.expect("ack");
            }
        }
    }
    out
}

/// Nothing more is waiting for `consumer`.
async fn assert_drained(consumer: &mut PullConsumer) {
    let info = consumer.info().await.expect("info");
    assert_eq!(info.num_pending, 0, "nothing left for {}", info.name);
    assert_eq!(info.num_ack_pending, 0, "nothing unacknowledged");
}

fn versions(changes: &[Change]) -> Vec<u64> {
    changes.iter().map(|c| c.version).collect()
}

#[tokio::test]
async fn a_consumer_made_after_the_sample_concluded_gets_every_change_in_order_and_resumes() {
    let env = Env::nats().await;
    let client = env.client().await;
    let recorded = import(client.events.clone(), &example("harbourside-waste.jsonl")).await;
    assert_eq!(recorded, 73);
    let mut projector = client
        .projector("roundtable-projector", &Recorder::default())
        .await;
    projector.catch_up().await.expect("catch up");

    // Made after the negotiation concluded: it still gets all 73, in order.
    let stream = changes_stream(&env).await;
    let mut everything = consumer(&stream, "from-the-start", DeliverPolicy::All).await;
    let all = take(&everything, 73, true).await;
    assert_eq!(versions(&all), (1..=73).collect::<Vec<_>>());
    assert_drained(&mut everything).await;
    let events = client
        .events
        .read(
            &roundtable_domain::NegotiationId::new("harbourside-waste").expect("id"),
            0,
            None,
        )
        .await
        .expect("read");
    for (change, event) in all.iter().zip(&events) {
        assert_eq!(change.event_id, event.event_id);
        assert_eq!(change.event_type, event.event_type());
    }
    // Each says what changed, in words and structured.
    let summaries: Vec<&str> = all.iter().map(|c| c.summary.as_str()).collect();
    assert!(
        summaries.contains(&"objection o-workers-probation by sanitation-union raised, blocking"),
        "{summaries:#?}"
    );
    assert!(
        summaries
            .iter()
            .any(|s| s.starts_with("clause pickers agreed at version 1")),
        "{summaries:#?}"
    );
    assert!(
        summaries.contains(
            &"agreement signed by sanitation-union at agreement version 16; every signatory has signed"
        ),
        "{summaries:#?}"
    );
    assert!(matches!(
        all[72].details,
        ChangeDetails::NegotiationConcluded {
            agreement_version: 16,
            ..
        }
    ));
    let pickers = all
        .iter()
        .find(|c| c.summary.starts_with("clause pickers agreed"))
        .expect("pickers agreed");
    let json = serde_json::to_value(pickers).expect("json");
    assert_eq!(json["details"]["kind"], "clause_agreed");
    assert_eq!(json["details"]["clause_id"], "pickers");
    assert_eq!(json["details"]["clause_version"], 1);

    // A durable consumer stopped half-way resumes where it stopped.
    let first = {
        let half = consumer(&stream, "half-way", DeliverPolicy::All).await;
        take(&half, 40, true).await
    };
    let mut half = consumer(&stream, "half-way", DeliverPolicy::All).await;
    let rest = take(&half, 33, true).await;
    assert_eq!(versions(&first), (1..=40).collect::<Vec<_>>());
    assert_eq!(versions(&rest), (41..=73).collect::<Vec<_>>());
    assert_drained(&mut half).await;

    // Rebuilding the views announces nothing again: the changes stream already holds
    // every change (so this holds after its duplicate window too).
    let again = Recorder::default();
    let mut second = client.projector("roundtable-projector", &again).await;
    second.rebuild().await.expect("rebuild");
    assert!(
        again.changes().is_empty(),
        "{} announced again",
        again.changes().len()
    );
    let mut stream = changes_stream(&env).await;
    assert_eq!(stream.info().await.expect("info").state.messages, 73);
}

#[tokio::test]
async fn a_consumer_from_a_point_in_time_gets_only_later_changes() {
    let env = Env::nats().await;
    let client = env.client().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let head = import(client.events.clone(), &sample_head(&dir, 30)).await;
    let mut projector = client
        .projector("roundtable-projector", &Recorder::default())
        .await;
    projector.catch_up().await.expect("catch up");

    // The time the last change so far was stored: a consumer from just after it...
    let stream = changes_stream(&env).await;
    let last = stream
        .get_raw_message(head)
        .await
        .expect("the last change so far");
    assert_eq!(
        serde_json::from_slice::<Change>(&last.payload)
            .expect("change")
            .version,
        head
    );
    let after = last.time + Duration::from_nanos(1);

    let total = head + import(client.events.clone(), &example("harbourside-waste.jsonl")).await;
    projector.catch_up().await.expect("catch up");
    assert_eq!(total, 73);

    let mut later = consumer(
        &stream,
        "since",
        DeliverPolicy::ByStartTime { start_time: after },
    )
    .await;
    let changes = take(&later, (total - head) as usize, true).await;
    assert_eq!(versions(&changes), (head + 1..=total).collect::<Vec<_>>());
    assert_drained(&mut later).await;
}
