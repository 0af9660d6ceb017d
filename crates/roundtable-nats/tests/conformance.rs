//! The shared event store conformance suite against a real `nats-server`.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use roundtable_nats::{FeedConfig, NatsEventFeed, NatsStore};
use roundtable_store::conformance::Harness;
use roundtable_store::{EventFeed, Ports};
use roundtable_testkit::NatsServer;

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

    async fn ports(&self) -> Ports {
        let store = std::sync::Arc::new(common::store(&self.server).await);
        let url = store.url().to_owned();
        roundtable_nats::ports(store, &url)
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
roundtable_app::handler_conformance_suite!(NatsHarness);
roundtable_projector::view_conformance_suite!(NatsHarness);
roundtable_webhooks::webhook_conformance_suite!(NatsHarness);
