//! The command handler's conformance suite: what [`CommandHandler`] guarantees over
//! any adapter's event log (idempotent retries, decisions on the latest state, one
//! chain under concurrent writers, batches answered as one by one), run by every
//! adapter over its `roundtable_store::conformance::Harness`:
//!
//! ```text
//! roundtable_app::handler_conformance_suite!(MyHarness);
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use roundtable_domain::command::*;
use roundtable_domain::{
    Command, CommandEnvelope, NegotiationId, Projection, ProposalId, RecordedEvent,
};
use roundtable_store::conformance::Harness;
use roundtable_store::conformance::fixtures::{admit, basic, envelope, nid, propose};
use roundtable_store::{EventStore, StoreError};

use crate::{CommandHandler, HandleError, Handled};

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

/// Generates one `#[tokio::test]` per check of the command handler for a
/// `roundtable_store::conformance::Harness` type.
#[macro_export]
macro_rules! handler_conformance_suite {
    ($harness:ty) => {
        $crate::handler_conformance_suite!(@tests $harness;
            retried_commands_are_idempotent,
            stale_handlers_decide_on_the_latest_state,
            concurrent_handlers_keep_the_chain,
            batched_commands_answer_as_one_by_one,
            stale_batches_recover_from_conflicts,
            batches_and_single_commands_share_a_negotiation,
            interleaved_retries_read_each_event_about_once,
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
