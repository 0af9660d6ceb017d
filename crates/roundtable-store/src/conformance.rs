//! The conformance suite every [`EventStore`] adapter runs, written once.
//!
//! An adapter implements [`Harness`] (start a backing store, connect clients to it,
//! crash it, open its views and event feeds) and invokes
//! [`conformance_suite!`](crate::conformance_suite) in a test file:
//!
//! ```text
//! roundtable_store::conformance_suite!(MyHarness);
//! ```
//!
//! Each check is a plain async function here, so a failure points at one guarantee.
//! The checks of the event log are in this file; those of the read side (the
//! [`ViewStore`] and the [`EventFeed`]) in `conformance/read_side.rs`; those of the
//! key-value port ([`crate::KvStore`]) in `conformance/kv.rs`; those of the webhooks'
//! storage ([`WebhookStore`]) and the change feeds ([`crate::ChangeFeeds`]) in
//! `conformance/webhooks.rs`. The views and the webhooks are written once over the
//! key-value port (in `roundtable-projector` and `roundtable-webhooks`): a harness
//! builds them over its adapter's ports, so these checks hold for every adapter.

mod kv;
mod read_side;
mod webhooks;

pub use kv::*;
pub use read_side::*;
pub use webhooks::*;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use roundtable_domain::command::*;
use roundtable_domain::vocab::{PartnerKind, Role, Sector};
use roundtable_domain::{
    Actor, CommandEnvelope, CommandId, NegotiationId, PartnerId, Projection, ProposalId,
    RecordedEvent, decide,
};
use uuid::Uuid;

use crate::{
    CommandHandler, EventFeed, EventStore, HandleError, Handled, Ports, StoreError, ViewStore,
    WebhookStore,
};

/// A backing store for the suite: started fresh for each check.
#[async_trait]
pub trait Harness: Send + Sync + Sized + 'static {
    /// The adapter under test.
    type Store: EventStore;
    /// Starts an empty backing store.
    async fn start() -> Self;
    /// A new, independent client of the backing store, as another process would open.
    async fn connect(&self) -> Self::Store;
    /// Kills the backing store without a clean shutdown (the server process with
    /// SIGKILL, or the file closed mid-flight) and brings it back on the same data.
    /// Clients opened before may be unusable afterwards.
    async fn crash_and_restart(&mut self);
    /// A new client of the backing store's read model (the stored views), as a
    /// projector or API process would open it.
    async fn views(&self) -> Box<dyn ViewStore>;
    /// A new feed of every recorded event under the consumer name `name`, as a
    /// projector process would open it. Where unacknowledged entries come again only
    /// after a timeout (a JetStream consumer's ack wait), the harness sets it to about
    /// a second.
    async fn feed(&self, name: &str) -> Box<dyn EventFeed>;
    /// Every port of a new client of the backing store, as the adapter's constructor
    /// returns them.
    async fn ports(&self) -> Ports;
    /// A new client of the webhooks' storage (`roundtable-webhooks`' store over
    /// [`Harness::ports`]).
    async fn webhooks(&self) -> Box<dyn WebhookStore>;
}

fn nid(s: &str) -> NegotiationId {
    NegotiationId::new(s).expect("valid test id")
}

fn envelope(negotiation: &str, by: &str, n: u32, command: Command) -> CommandEnvelope {
    CommandEnvelope {
        command_id: CommandId::new(format!("test-{negotiation}-{by}-{n}-{}", command.name()))
            .expect("valid id"),
        negotiation_id: nid(negotiation),
        actor: Actor::parse(by).expect("valid actor"),
        occurred_at: Utc
            .with_ymd_and_hms(2027, 3, 1, 9, 0, 0)
            .single()
            .expect("valid time")
            + chrono::Duration::minutes(i64::from(n)),
        command,
    }
}

fn open(negotiation: &str) -> CommandEnvelope {
    envelope(
        negotiation,
        "secretariat",
        0,
        Command::OpenNegotiation(OpenNegotiation {
            title: format!("Conformance {negotiation}"),
            service: "solid_waste".into(),
            decision_rule: None,
        }),
    )
}

fn admit(negotiation: &str, partner: &str, n: u32) -> CommandEnvelope {
    envelope(
        negotiation,
        "secretariat",
        n,
        Command::AdmitPartner(AdmitPartner {
            partner_id: PartnerId::new(partner).expect("valid id"),
            name: format!("Partner {partner}"),
            sector: Sector::Government,
            kind: PartnerKind::Municipality,
            role: Role::Signatory,
            public_key: None,
        }),
    )
}

fn propose(negotiation: &str, by: &str, proposal: &str, n: u32) -> CommandEnvelope {
    envelope(
        negotiation,
        by,
        n,
        Command::Propose(Propose {
            proposal_id: ProposalId::new(proposal).expect("valid id"),
            clause_id: roundtable_domain::ClauseId::new("collection").expect("valid id"),
            text: format!("Text of {proposal}"),
            title: None,
            rationale: None,
        }),
    )
}

/// Seals the events of `cmds` in order, as the handler would, without a store.
fn chain(cmds: &[CommandEnvelope]) -> Vec<RecordedEvent> {
    let mut p = Projection::new();
    let mut out = Vec::new();
    for cmd in cmds {
        let event = decide(p.view.as_ref(), cmd).expect("test commands are valid");
        let e = RecordedEvent::seal(
            cmd,
            event,
            p.version + 1,
            &p.last_hash.clone(),
            Uuid::now_v7(),
            Utc::now(),
        );
        p.apply(&e).expect("chain links");
        out.push(e);
    }
    out
}

fn basic(negotiation: &str, partners: u32) -> Vec<CommandEnvelope> {
    let mut cmds = vec![open(negotiation)];
    for i in 1..=partners {
        cmds.push(admit(negotiation, &format!("p{i}"), i));
    }
    cmds
}

/// Appended events read back identical, in order, from any version, with limits.
pub async fn append_and_read_back<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let n = nid("read-back");
    assert_eq!(store.last_version(&n).await.expect("last_version"), 0);
    assert!(store.read(&n, 0, None).await.expect("read").is_empty());
    let events = chain(&basic("read-back", 4));
    for e in &events {
        store.append(e).await.expect("append");
    }
    assert_eq!(store.read(&n, 0, None).await.expect("read"), events);
    assert_eq!(
        store.read(&n, 2, None).await.expect("read"),
        events[2..].to_vec()
    );
    assert_eq!(
        store.read(&n, 1, Some(2)).await.expect("read"),
        events[1..3].to_vec()
    );
    assert!(store.read(&n, 5, None).await.expect("read").is_empty());
    assert_eq!(store.last_version(&n).await.expect("last_version"), 5);
    // Another client sees the same.
    let other = h.connect().await;
    assert_eq!(other.read(&n, 0, None).await.expect("read"), events);
}

/// An append at a stale or future version is a conflict and records nothing.
pub async fn stale_and_gapped_appends_conflict<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let n = nid("stale");
    let events = chain(&basic("stale", 2));
    store.append(&events[0]).await.expect("append v1");
    // Version 1 again (a stale writer) and version 3 (a gap).
    let again = store.append(&events[0]).await;
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
    let gap = store.append(&events[2]).await;
    assert!(
        matches!(
            gap,
            Err(StoreError::Conflict {
                expected: 2,
                actual: Some(1),
                ..
            })
        ),
        "{gap:?}"
    );
    assert_eq!(store.read(&n, 0, None).await.expect("read").len(), 1);
    store.append(&events[1]).await.expect("append v2");
    store.append(&events[2]).await.expect("append v3");
    assert_eq!(store.last_version(&n).await.expect("last_version"), 3);
}

/// Of many clients appending different events at one version at once, exactly one wins.
pub async fn racing_writers_have_one_winner<H: Harness>() {
    let h = H::start().await;
    let n = nid("race");
    let first = chain(&[open("race")]);
    let setup = h.connect().await;
    setup.append(&first[0]).await.expect("append v1");
    for round in 0..10u32 {
        // Read once, before any writer of the round appends: all decide on the same state.
        let base = setup.read(&n, 0, None).await.expect("read");
        let mut tasks = Vec::new();
        for w in 0..4u32 {
            let store = h.connect().await;
            let mut p = Projection::fold(&base).expect("fold");
            let cmd = admit("race", &format!("w{w}-r{round}"), round * 10 + w + 1);
            let event = decide(p.view.as_ref(), &cmd).expect("valid");
            let e = RecordedEvent::seal(
                &cmd,
                event,
                p.version + 1,
                &p.last_hash,
                Uuid::now_v7(),
                Utc::now(),
            );
            p.apply(&e).expect("links");
            tasks.push(tokio::spawn(async move { store.append(&e).await }));
        }
        let mut wins = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(()) => wins += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
    let all = setup.read(&n, 0, None).await.expect("read");
    assert_eq!(all.len(), 11);
    Projection::fold(&all).expect("gapless and linked");
}

/// The handler answers a retried command with the first event and records nothing new,
/// also from a second handler (another process) whose cache is stale.
pub async fn retried_commands_are_idempotent<H: Harness>() {
    let h = H::start().await;
    let a = CommandHandler::new(Arc::new(h.connect().await));
    let b = CommandHandler::new(Arc::new(h.connect().await));
    let n = nid("idem");
    let cmds = basic("idem", 2);
    // b loads the negotiation early, so its cache goes stale.
    let first = a.handle(&cmds[0]).await.expect("open");
    assert!(matches!(first, Handled::Recorded(_)));
    assert!(
        matches!(b.handle(&cmds[0]).await, Ok(Handled::AlreadyRecorded(ref e)) if e == first.event())
    );
    let admitted = a.handle(&cmds[1]).await.expect("admit");
    a.handle(&cmds[2]).await.expect("admit");
    let again = a.handle(&cmds[1]).await.expect("retry");
    assert_eq!(again, Handled::AlreadyRecorded(admitted.event().clone()));
    let from_b = b.handle(&cmds[1]).await.expect("retry elsewhere");
    assert_eq!(from_b, Handled::AlreadyRecorded(admitted.event().clone()));
    assert_eq!(a.store().read(&n, 0, None).await.expect("read").len(), 3);
}

/// A handler with a stale cache judges against the latest state: what another writer
/// recorded makes a command acceptable (not wrongly rejected) or rejected.
pub async fn stale_handlers_decide_on_the_latest_state<H: Harness>() {
    let h = H::start().await;
    let a = CommandHandler::new(Arc::new(h.connect().await));
    let b = CommandHandler::new(Arc::new(h.connect().await));
    let n = nid("stale-handler");
    for c in basic("stale-handler", 2) {
        a.handle(&c).await.expect("setup");
    }
    b.handle(&basic("stale-handler", 0)[0])
        .await
        .expect("b loads");
    a.handle(&propose("stale-handler", "p1", "prop-1", 10))
        .await
        .expect("propose");
    // b has not seen prop-1; endorsing it must still be accepted.
    let endorse = envelope(
        "stale-handler",
        "p2",
        11,
        Command::Endorse(ProposalRef {
            proposal_id: ProposalId::new("prop-1").expect("id"),
        }),
    );
    b.handle(&endorse)
        .await
        .expect("accepted after catching up");
    // And a duplicate proposal id is rejected by a, whose cache lacks b's event.
    let dup = propose("stale-handler", "p2", "prop-1", 12);
    assert!(matches!(
        a.handle(&dup).await,
        Err(HandleError::Rejected(_))
    ));
    let all = a.store().read(&n, 0, None).await.expect("read");
    assert_eq!(all.len(), 5);
    Projection::fold(&all).expect("chain");
}

/// Concurrent handlers on one negotiation end with gapless versions, an intact chain,
/// and every accepted command once.
pub async fn concurrent_handlers_keep_the_chain<H: Harness>() {
    let h = H::start().await;
    let n = nid("concurrent");
    let setup = CommandHandler::new(Arc::new(h.connect().await));
    for c in basic("concurrent", 0) {
        setup.handle(&c).await.expect("open");
    }
    let mut tasks = Vec::new();
    for w in 0..3u32 {
        let handler = CommandHandler::new(Arc::new(h.connect().await));
        tasks.push(tokio::spawn(async move {
            let mut recorded = 0;
            for i in 0..15u32 {
                // Each writer admits its own partners and, twice, a partner every writer admits.
                let partner = if i % 7 == 0 {
                    format!("shared-{i}")
                } else {
                    format!("w{w}-{i}")
                };
                let mut cmd = admit("concurrent", &partner, 100 + i);
                cmd.command_id = CommandId::new(format!("w{w}-{i}")).expect("id");
                match handler.handle(&cmd).await {
                    Ok(Handled::Recorded(_)) => recorded += 1,
                    Ok(Handled::AlreadyRecorded(_)) => panic!("distinct command ids"),
                    Err(HandleError::Rejected(r)) => assert_eq!(r.code, "partner_exists"),
                    Err(other) => panic!("{other:?}"),
                }
            }
            recorded
        }));
    }
    let mut recorded = 0;
    for t in tasks {
        recorded += t.await.expect("task");
    }
    let all = setup.store().read(&n, 0, None).await.expect("read");
    assert_eq!(all.len() as u64, 1 + recorded);
    let p = Projection::fold(&all).expect("gapless, linked");
    let view = p.view.expect("opened");
    // 3 writers x 12 own partners, plus shared-0, shared-7 and shared-14 once each.
    assert_eq!(view.partners.len(), 3 * 12 + 3);
}

/// Many negotiations interleaved stay separate.
pub async fn negotiations_are_separate<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let names: Vec<String> = (0..12).map(|i| format!("neg-{i:02}")).collect();
    let chains: Vec<Vec<RecordedEvent>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| chain(&basic(n, (i % 4) as u32)))
        .collect();
    let longest = chains.iter().map(Vec::len).max().unwrap_or(0);
    for v in 0..longest {
        for c in &chains {
            if let Some(e) = c.get(v) {
                store.append(e).await.expect("append");
            }
        }
    }
    let listed = store.negotiations().await.expect("list");
    assert_eq!(
        listed.iter().map(NegotiationId::as_str).collect::<Vec<_>>(),
        names.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for (name, c) in names.iter().zip(&chains) {
        assert_eq!(&store.read(&nid(name), 0, None).await.expect("read"), c);
        assert_eq!(
            store.last_version(&nid(name)).await.expect("last"),
            c.len() as u64
        );
    }
}

/// After the backing store is killed and restarted, everything acknowledged is there,
/// the chain verifies, and appending goes on at the right version.
pub async fn survives_a_crash<H: Harness>() {
    let mut h = H::start().await;
    let n = nid("crash");
    let events = chain(&basic("crash", 30));
    {
        let store = h.connect().await;
        for e in &events[..20] {
            store.append(e).await.expect("append");
        }
    }
    h.crash_and_restart().await;
    let store = h.connect().await;
    assert_eq!(
        store.read(&n, 0, None).await.expect("read"),
        events[..20].to_vec()
    );
    for e in &events[20..] {
        store.append(e).await.expect("append after restart");
    }
    let all = store.read(&n, 0, None).await.expect("read");
    assert_eq!(all, events);
    Projection::fold(&all).expect("chain");
}

/// A batch append records consecutive events all at once, reads back identical, and
/// is refused whole (nothing recorded) when it starts at a stale version or its events
/// are not consecutive.
pub async fn batches_append_whole_or_not_at_all<H: Harness>() {
    let h = H::start().await;
    let store = h.connect().await;
    let n = nid("batch");
    let events = chain(&basic("batch", 6));
    store.append(&events[0]).await.expect("first alone");
    store.append_batch(&events[1..4]).await.expect("batch");
    assert_eq!(
        store.read(&n, 0, None).await.expect("read"),
        events[..4].to_vec()
    );
    // Stale: starts at version 3, which is recorded.
    assert!(matches!(
        store.append_batch(&events[2..6]).await,
        Err(StoreError::Conflict { .. })
    ));
    // Not consecutive: versions 5 and 7.
    let gapped = vec![events[4].clone(), events[6].clone()];
    assert!(matches!(
        store.append_batch(&gapped).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.last_version(&n).await.expect("last"), 4);
    store
        .append_batch(&[])
        .await
        .expect("an empty batch is nothing");
    store.append_batch(&events[4..]).await.expect("the rest");
    assert_eq!(store.read(&n, 0, None).await.expect("read"), events);
    let other = h.connect().await;
    assert_eq!(other.read(&n, 0, None).await.expect("read"), events);
}

/// `handle_batch` answers every command as `handle` would in sequence: accepted ones
/// recorded in order, a retried command id with its first event (also one pending in
/// the same batch), a rejected one with the rule (after appending what came before),
/// and with `stop_at_error` nothing after the first error is recorded.
pub async fn batched_commands_answer_as_one_by_one<H: Harness>() {
    let h = H::start().await;
    let handler = CommandHandler::new(Arc::new(h.connect().await));
    let n = nid("batched");
    let mut cmds = basic("batched", 5);
    cmds.push(propose("batched", "p1", "prop-1", 20));
    // The same command twice in one batch: the second is answered with the first's event.
    cmds.push(cmds[2].clone());
    // A duplicate proposal id: rejected.
    cmds.push(propose("batched", "p2", "prop-1", 21));
    cmds.push(propose("batched", "p2", "prop-2", 22));
    let results = handler.handle_batch(&cmds, 3, false).await;
    assert_eq!(results.len(), cmds.len());
    let recorded = handler.store().read(&n, 0, None).await.expect("read");
    assert_eq!(recorded.len(), 8, "open, 5 admitted, 2 proposals");
    Projection::fold(&recorded).expect("chain");
    for (i, r) in results.iter().enumerate() {
        match i {
            7 => assert_eq!(
                r.as_ref().expect("retry"),
                &Handled::AlreadyRecorded(recorded[2].clone())
            ),
            8 => assert!(matches!(r, Err(HandleError::Rejected(_))), "{r:?}"),
            _ => {
                let event = r.as_ref().expect("accepted").event();
                assert!(matches!(r, Ok(Handled::Recorded(_))));
                assert_eq!(event.command_id, cmds[i].command_id);
                assert!(recorded.contains(event));
            }
        }
    }
    // The whole batch again: every command is already recorded or rejected, nothing new.
    let again = handler.handle_batch(&cmds, 1000, false).await;
    assert!(again.iter().enumerate().all(|(i, r)| if i == 8 {
        matches!(r, Err(HandleError::Rejected(_)))
    } else {
        matches!(r, Ok(Handled::AlreadyRecorded(_)))
    }));
    // A fresh handler (another process) stops at the rejection and records nothing after.
    let other = CommandHandler::new(Arc::new(h.connect().await));
    let tail = vec![
        propose("batched", "p3", "prop-3", 30),
        propose("batched", "p3", "prop-1", 31),
        propose("batched", "p4", "prop-4", 32),
    ];
    let stopped = other.handle_batch(&tail, 1000, true).await;
    assert_eq!(stopped.len(), 2);
    assert!(matches!(stopped[0], Ok(Handled::Recorded(_))));
    assert!(matches!(stopped[1], Err(HandleError::Rejected(_))));
    let all = handler.store().read(&n, 0, None).await.expect("read");
    assert_eq!(all.len(), 9);
    Projection::fold(&all).expect("chain");
}

/// Batches from a handler with a stale cache conflict, and the handler recovers: every
/// command ends recorded exactly once, in a gapless chain.
pub async fn stale_batches_recover_from_conflicts<H: Harness>() {
    let h = H::start().await;
    let a = CommandHandler::new(Arc::new(h.connect().await));
    let b = CommandHandler::new(Arc::new(h.connect().await));
    let n = nid("stale-batch");
    let cmds = basic("stale-batch", 8);
    assert!(
        a.handle_batch(&cmds[..3], 1000, true)
            .await
            .iter()
            .all(Result::is_ok)
    );
    // b caches version 3, then a moves on.
    assert!(
        b.handle_batch(&cmds[..3], 1000, true)
            .await
            .iter()
            .all(|r| matches!(r, Ok(Handled::AlreadyRecorded(_))))
    );
    assert!(
        a.handle_batch(&cmds[3..6], 1000, true)
            .await
            .iter()
            .all(Result::is_ok)
    );
    // b's batch starts at a stale version: its append conflicts, then it recovers.
    let results = b.handle_batch(&cmds[3..], 1000, true).await;
    assert_eq!(results.len(), 6);
    for (r, cmd) in results.iter().zip(&cmds[3..]) {
        let event = r.as_ref().expect("handled").event();
        assert_eq!(event.command_id, cmd.command_id);
    }
    assert!(
        results[..3]
            .iter()
            .all(|r| matches!(r, Ok(Handled::AlreadyRecorded(_))))
    );
    assert!(
        results[3..]
            .iter()
            .all(|r| matches!(r, Ok(Handled::Recorded(_))))
    );
    let all = a.store().read(&n, 0, None).await.expect("read");
    assert_eq!(all.len(), 9);
    Projection::fold(&all).expect("chain");
}

/// A batch and single commands on the same negotiation in one process interleave: every
/// command is recorded once, none fails, and the chain stays gapless.
pub async fn batches_and_single_commands_share_a_negotiation<H: Harness>() {
    let h = H::start().await;
    let handler = Arc::new(CommandHandler::new(Arc::new(h.connect().await)));
    let n = nid("shared-run");
    let cmds = basic("shared-run", 120);
    handler.handle(&cmds[0]).await.expect("open");
    let batch = {
        let handler = handler.clone();
        let cmds = cmds[1..101].to_vec();
        tokio::spawn(async move { handler.handle_batch(&cmds, 10, true).await })
    };
    let singles = {
        let handler = handler.clone();
        let cmds = cmds[101..].to_vec();
        tokio::spawn(async move {
            let mut out = Vec::new();
            for cmd in &cmds {
                out.push(handler.handle(cmd).await);
                tokio::task::yield_now().await;
            }
            out
        })
    };
    let batch = batch.await.expect("batch task");
    let singles = singles.await.expect("singles task");
    assert_eq!(batch.len(), 100);
    for r in batch.iter().chain(singles.iter()) {
        assert!(matches!(r, Ok(Handled::Recorded(_))), "{r:?}");
    }
    let all = handler.store().read(&n, 0, None).await.expect("read");
    assert_eq!(all.len(), 121);
    Projection::fold(&all).expect("chain");
}

/// An event store that counts the events its reads return.
struct CountingStore<S> {
    inner: S,
    read: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl<S: EventStore> EventStore for CountingStore<S> {
    async fn append(&self, event: &RecordedEvent) -> Result<(), StoreError> {
        self.inner.append(event).await
    }

    async fn append_batch(&self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        self.inner.append_batch(events).await
    }

    async fn read(
        &self,
        negotiation: &NegotiationId,
        after_version: u64,
        limit: Option<usize>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read(negotiation, after_version, limit).await?;
        self.read
            .fetch_add(events.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(events)
    }

    async fn negotiations(&self) -> Result<Vec<NegotiationId>, StoreError> {
        self.inner.negotiations().await
    }

    async fn last_version(&self, negotiation: &NegotiationId) -> Result<u64, StoreError> {
        self.inner.last_version(negotiation).await
    }
}

/// Commands on several negotiations handled again in turn, one per `handle_batch`
/// call (as the importer does with a file whose lines alternate between
/// negotiations), are each answered with their first event, and the handler reads
/// each recorded event about once, not the rest of its negotiation per command: a
/// re-run of an interleaved file costs what a grouped one does.
pub async fn interleaved_retries_read_each_event_about_once<H: Harness>() {
    let h = H::start().await;
    let negotiations = ["turn-a", "turn-b", "turn-c"];
    let per: Vec<Vec<CommandEnvelope>> = negotiations.iter().map(|n| basic(n, 120)).collect();
    let mut interleaved = Vec::new();
    for i in 0..per[0].len() {
        for cmds in &per {
            interleaved.push(cmds[i].clone());
        }
    }
    let first = CommandHandler::new(Arc::new(h.connect().await));
    for cmd in &interleaved {
        let r = first
            .handle_batch(std::slice::from_ref(cmd), 1000, true)
            .await;
        assert!(matches!(r.as_slice(), [Ok(Handled::Recorded(_))]), "{r:?}");
    }
    // Another process runs the same commands again, in the same order.
    let store = Arc::new(CountingStore {
        inner: h.connect().await,
        read: std::sync::atomic::AtomicUsize::new(0),
    });
    let again = CommandHandler::new(store.clone());
    for cmd in &interleaved {
        let r = again
            .handle_batch(std::slice::from_ref(cmd), 1000, true)
            .await;
        match r.as_slice() {
            [Ok(Handled::AlreadyRecorded(event))] => {
                assert_eq!(event.command_id, cmd.command_id);
            }
            other => panic!(
                "{} not answered as already recorded: {other:?}",
                cmd.command_id
            ),
        }
    }
    let total = interleaved.len();
    let read = store.read.load(std::sync::atomic::Ordering::Relaxed);
    // Each negotiation is loaded once (every event), then each answer reads its event.
    assert!(
        read <= 3 * total,
        "answering {total} retried commands read {read} events (quadratic: each read the rest of its negotiation)"
    );
}

/// Generates one `#[tokio::test]` per conformance check for a [`Harness`] type.
#[macro_export]
macro_rules! conformance_suite {
    ($harness:ty) => {
        $crate::conformance_suite!(@tests $harness;
            append_and_read_back,
            stale_and_gapped_appends_conflict,
            racing_writers_have_one_winner,
            retried_commands_are_idempotent,
            stale_handlers_decide_on_the_latest_state,
            concurrent_handlers_keep_the_chain,
            negotiations_are_separate,
            survives_a_crash,
            batches_append_whole_or_not_at_all,
            batched_commands_answer_as_one_by_one,
            stale_batches_recover_from_conflicts,
            batches_and_single_commands_share_a_negotiation,
            interleaved_retries_read_each_event_about_once,
            views_read_back_byte_identical,
            creating_an_existing_view_conflicts,
            stale_view_revisions_conflict,
            views_are_listed_sorted_and_cleared,
            parked_entries_mark_views_stale_until_cleared,
            the_feed_delivers_every_event_in_append_order,
            a_new_feed_resumes_after_the_checkpoint,
            unacknowledged_entries_come_again,
            lag_counts_unacknowledged_entries,
            an_empty_feed_comes_back_empty,
            a_reset_feed_starts_over,
            kv_values_read_back_with_their_revisions,
            kv_create_refuses_an_existing_key,
            kv_stale_revisions_conflict,
            kv_racing_writers_have_one_winner,
            kv_keys_are_listed_by_prefix_and_cleared,
            kv_large_values_round_trip,
            webhooks_register_once_and_are_removed_whole,
            dead_letters_replay_once_per_request,
            change_feeds_deliver_what_follows_their_start,
        );
    };
    (@tests $harness:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::conformance::$name::<$harness>().await;
            }
        )*
    };
}
