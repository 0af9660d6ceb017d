//! The shared event store conformance suite against a three-node JetStream cluster:
//! the stream and the views bucket with 3 replicas, clients given every node's URL, and
//! a crash that kills every node at once.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use roundtable_nats::{FeedConfig, NatsConfig, NatsEventFeed, NatsStore};
use roundtable_store::conformance::Harness;
use roundtable_store::{EventFeed, Ports};
use roundtable_testkit::NatsCluster;

/// One cluster per check, with fresh store directories.
struct ClusterHarness {
    cluster: NatsCluster,
}

impl ClusterHarness {
    async fn store(&self) -> NatsStore {
        // Three nodes fsyncing every message on a shared, busy machine (other test
        // binaries run their own clusters at the same time) can take seconds to answer:
        // the checks are about outcomes, not speed, so wait longer than in production.
        let config = NatsConfig {
            replicas: 3,
            ping_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(20),
            ..NatsConfig::default()
        };
        let urls = self.cluster.urls();
        // Right after a start or a restart the stream may still be electing a leader.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match NatsStore::connect(&urls, config.clone()).await {
                Ok(store) => return store,
                Err(e) => assert!(
                    std::time::Instant::now() < deadline,
                    "connect to {urls}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[async_trait]
impl Harness for ClusterHarness {
    type Store = NatsStore;

    async fn start() -> Self {
        ClusterHarness {
            cluster: NatsCluster::start(3).await.expect("start a cluster"),
        }
    }

    async fn connect(&self) -> NatsStore {
        self.store().await
    }

    /// Every node killed at once, as in a power loss of the whole site.
    async fn crash_and_restart(&mut self) {
        self.cluster.kill_all();
        self.cluster
            .restart_all()
            .await
            .expect("restart the cluster");
        self.cluster
            .wait_for_stream_leader("ROUNDTABLE_EVENTS", None, Duration::from_secs(30))
            .await
            .expect("the stream has a leader again");
    }

    async fn ports(&self) -> Ports {
        let store = std::sync::Arc::new(self.store().await);
        let url = store.url().to_owned();
        roundtable_nats::ports(store, &url)
    }

    /// Unacknowledged entries come again after one second.
    async fn feed(&self, name: &str) -> Box<dyn EventFeed> {
        let store = self.store().await;
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

roundtable_store::conformance_suite!(ClusterHarness);
roundtable_app::handler_conformance_suite!(ClusterHarness);
roundtable_projector::view_conformance_suite!(ClusterHarness);
roundtable_webhooks::webhook_conformance_suite!(ClusterHarness);
