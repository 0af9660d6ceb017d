//! The shared event store conformance suite against a real `nats-server`.

mod common;

use async_trait::async_trait;
use roundtable_nats::NatsStore;
use roundtable_store::conformance::Harness;
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
}

roundtable_store::conformance_suite!(NatsHarness);
