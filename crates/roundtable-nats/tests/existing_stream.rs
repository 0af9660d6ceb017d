//! Connecting never changes an existing stream: an operator's replicas, placement or
//! descriptions stay as they are, even for a read-only command; a stream that breaks a
//! guarantee of the log is refused instead of being "fixed".

mod common;

use std::time::Duration;

use async_nats::jetstream::stream::{Config, StorageType};
use common::{jetstream, server};
use roundtable_nats::{NatsConfig, NatsStore};
use roundtable_store::StoreError;

fn operator_stream() -> Config {
    Config {
        name: "ROUNDTABLE_EVENTS".into(),
        subjects: vec!["roundtable.events.>".into()],
        storage: StorageType::File,
        deny_delete: true,
        deny_purge: true,
        description: Some("managed by the operations team".into()),
        max_consumers: 50,
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_existing_stream_is_left_as_the_operator_set_it() {
    let server = server().await;
    let js = jetstream(&server).await;
    js.create_stream(operator_stream())
        .await
        .expect("operator creates the stream");
    NatsStore::connect(&server.url(), NatsConfig::default())
        .await
        .expect("connect");
    let mut stream = js.get_stream("ROUNDTABLE_EVENTS").await.expect("stream");
    let info = stream.info().await.expect("info");
    assert_eq!(
        info.config.description.as_deref(),
        Some("managed by the operations team")
    );
    assert_eq!(info.config.max_consumers, 50);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(600));
}

#[tokio::test]
async fn a_stream_that_allows_purging_is_refused_not_changed() {
    let server = server().await;
    let js = jetstream(&server).await;
    js.create_stream(Config {
        deny_purge: false,
        ..operator_stream()
    })
    .await
    .expect("create");
    let result = NatsStore::connect(&server.url(), NatsConfig::default()).await;
    assert!(
        matches!(result, Err(StoreError::Incompatible(ref m)) if m.contains("purging")),
        "{result:?}"
    );
    let mut stream = js.get_stream("ROUNDTABLE_EVENTS").await.expect("stream");
    assert!(
        !stream.info().await.expect("info").config.deny_purge,
        "the stream was changed"
    );
}

#[tokio::test]
async fn a_stream_with_limits_that_discard_events_is_refused() {
    let server = server().await;
    let js = jetstream(&server).await;
    js.create_stream(Config {
        max_messages: 1000,
        ..operator_stream()
    })
    .await
    .expect("create");
    let result = NatsStore::connect(&server.url(), NatsConfig::default()).await;
    assert!(
        matches!(result, Err(StoreError::Incompatible(ref m)) if m.contains("limits")),
        "{result:?}"
    );
}
