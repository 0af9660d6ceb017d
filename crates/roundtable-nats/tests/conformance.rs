//! The shared event store conformance suite against a real `nats-server`.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use roundtable_nats::{FeedConfig, NatsBuckets, NatsEventFeed, NatsStore};
use roundtable_projector::KvViewStore;
use roundtable_store::conformance::Harness;
use roundtable_store::{EventFeed, Ports, ViewStore, WebhookStore};
use roundtable_testkit::NatsServer;
use roundtable_webhooks::KvWebhookStore;

/// One `nats-server` per check, with a fresh store directory.
struct NatsHarness {
    server: NatsServer,
}

#[async_trait]
impl Harness for NatsHarness {
    type Store = NatsStore;

    async fn start() -> Self {
        NatsHarness {
            server: common::server().await,
        }
    }

    async fn connect(&self) -> NatsStore {
        common::store(&self.server).await
    }

    async fn crash_and_restart(&mut self) {
        self.server.kill();
        self.server.restart().await.expect("restart nats-server");
        common::wait_for_jetstream(&self.server).await;
    }

    async fn views(&self) -> Box<dyn ViewStore> {
        let store = std::sync::Arc::new(common::store(&self.server).await);
        Box::new(
            KvViewStore::open(&NatsBuckets::new(store))
                .await
                .expect("open the views"),
        )
    }

    async fn ports(&self) -> Ports {
        let store = std::sync::Arc::new(common::store(&self.server).await);
        let url = store.url().to_owned();
        roundtable_nats::ports(store, &url)
    }

    async fn webhooks(&self) -> Box<dyn WebhookStore> {
        let ports = self.ports().await;
        let store = KvWebhookStore::from_ports(&ports).await;
        Box::new(store.expect("open the webhooks"))
    }

    /// Unacknowledged entries come again after one second.
    async fn feed(&self, name: &str) -> Box<dyn EventFeed> {
        let store = common::store(&self.server).await;
        let config = FeedConfig {
            ack_wait: Duration::from_secs(1),
            ..FeedConfig::named(name)
        };
        Box::new(
            NatsEventFeed::open(&store, config)
                .await
                .expect("open the feed"),
        )
    }
}

roundtable_store::conformance_suite!(NatsHarness);
