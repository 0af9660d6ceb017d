//! What the adapter's test files share: a server per test, clients, and sealed events.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::{TimeZone, Utc};
use roundtable_domain::command::{AdmitPartner, Command, OpenNegotiation};
use roundtable_domain::vocab::{PartnerKind, Role, Sector};
use roundtable_domain::{
    Actor, CommandEnvelope, CommandId, NegotiationId, PartnerId, Projection, RecordedEvent, decide,
};
use roundtable_nats::{NatsConfig, NatsStore};
use roundtable_testkit::NatsServer;
use uuid::Uuid;

/// Starts a fresh `nats-server` (2.10 or newer) for one test.
pub(crate) async fn server() -> NatsServer {
    NatsServer::start().await.expect("start nats-server")
}

/// A new store client of `server` with the default configuration.
pub(crate) async fn store(server: &NatsServer) -> NatsStore {
    NatsStore::connect(&server.url(), NatsConfig::default())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", server.url()))
}

/// A plain JetStream client of `server`, to look at the stream from outside the adapter.
pub(crate) async fn jetstream(server: &NatsServer) -> jetstream::Context {
    let client = async_nats::connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", server.url()));
    jetstream::new(client)
}

/// Waits (at most 30 s) until JetStream on `server` answers API requests.
pub(crate) async fn wait_for_jetstream(server: &NatsServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = async {
            let client = async_nats::connect(server.url()).await.ok()?;
            jetstream::new(client).query_account().await.ok()
        };
        if tokio::time::timeout(Duration::from_secs(5), ready)
            .await
            .ok()
            .flatten()
            .is_some()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "JetStream on {} not ready within 30 s",
            server.url()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A valid negotiation id.
pub(crate) fn nid(s: &str) -> NegotiationId {
    NegotiationId::new(s).expect("valid test id")
}

/// Opening `negotiation` and admitting `partners` signatories, with command ids
/// `<prefix>-0`, `<prefix>-1`...
pub(crate) fn commands(negotiation: &str, partners: u32, prefix: &str) -> Vec<CommandEnvelope> {
    (0..=partners)
        .map(|i| {
            let (actor, command) = if i == 0 {
                (
                    "secretariat",
                    Command::OpenNegotiation(OpenNegotiation {
                        title: format!("Adapter test {negotiation}"),
                        service: "water_sanitation".into(),
                        decision_rule: None,
                    }),
                )
            } else {
                (
                    "secretariat",
                    Command::AdmitPartner(AdmitPartner {
                        partner_id: PartnerId::new(format!("p{i}")).expect("id"),
                        name: format!("Partner {i}"),
                        sector: Sector::Government,
                        kind: PartnerKind::Municipality,
                        role: Role::Signatory,
                        public_key: None,
                    }),
                )
            };
            CommandEnvelope {
                command_id: CommandId::new(format!("{prefix}-{i}")).expect("id"),
                negotiation_id: nid(negotiation),
                actor: Actor::parse(actor).expect("actor"),
                occurred_at: Utc
                    .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
                    .single()
                    .expect("time")
                    + chrono::Duration::minutes(i64::from(i)),
                command,
            }
        })
        .collect()
}

/// The events `cmds` record, sealed in order as the handler would.
pub(crate) fn seal(cmds: &[CommandEnvelope]) -> Vec<RecordedEvent> {
    let mut p = Projection::new();
    cmds.iter()
        .map(|cmd| {
            let event = decide(p.view.as_ref(), cmd).expect("valid command");
            let e = RecordedEvent::seal(
                cmd,
                event,
                p.version + 1,
                &p.last_hash.clone(),
                Uuid::now_v7(),
                Utc::now(),
            );
            p.apply(&e).expect("links");
            e
        })
        .collect()
}

/// Opening `negotiation` and admitting `partners`, sealed.
pub(crate) fn events(negotiation: &str, partners: u32) -> Vec<RecordedEvent> {
    seal(&commands(
        negotiation,
        partners,
        &format!("cmd-{negotiation}"),
    ))
}
