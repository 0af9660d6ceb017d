//! The big stream: `big_stream` valid events in many negotiations of exactly
//! `cold_negotiation` events each, their events interleaved, generated in-process and
//! published raw.
//!
//! Every event is decided by the rules and sealed deterministically (event ids and
//! `recorded_at` derive from the negotiation and version), so the same plan gives the
//! same bytes: a later pass can re-seal the next event of any negotiation and publish it
//! as a valid append without reading the stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use roundtable_domain::{CommandEnvelope, NegotiationId, Projection, RecordedEvent, decide};
use roundtable_nats::{NatsConfig, NatsStore};
use roundtable_store::EventStore;

use crate::Scale;
use crate::consultation::Consultation;

/// Commands each negotiation keeps after its stored events: the cold and warm commands.
pub(crate) const NEXT: usize = 2;

/// Negotiations generated and published together, their events interleaved: each
/// negotiation's events are spread over `GROUP × size` stream sequences.
const GROUP: usize = 50;

/// Publishes in flight before the oldest acknowledgement is awaited.
const IN_FLIGHT: usize = 4_000;

/// The negotiations of the big stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// How many.
    pub(crate) negotiations: usize,
    /// Events each holds once filled.
    pub(crate) size: usize,
}

impl Plan {
    /// `big_stream / cold_negotiation` negotiations of `cold_negotiation` events (the
    /// remainder of the division is left out).
    pub(crate) fn new(scale: &Scale) -> Plan {
        let size = scale.cold_negotiation.max(20);
        Plan {
            negotiations: (scale.big_stream / size).max(1),
            size,
        }
    }

    /// Events of the whole plan.
    pub(crate) fn events(&self) -> usize {
        self.negotiations * self.size
    }

    /// The id of negotiation `i`.
    pub(crate) fn id(&self, i: usize) -> String {
        format!("replay-{i:06}")
    }

    /// Its minutes: `size` stored lines, then [`NEXT`] more. Partners and statements
    /// grow with the square root of the size, so that votes fill under half of the
    /// participant and statement pairs.
    pub(crate) fn consultation(&self, i: usize) -> Consultation {
        let people = (2 * self.size).isqrt() + 2;
        Consultation::new(&self.id(i), people, people, self.size + NEXT).seed(i as u64 + 1)
    }

    /// The first `upto` events of negotiation `i`, sealed.
    pub(crate) fn negotiation(&self, i: usize, upto: usize) -> anyhow::Result<Vec<RecordedEvent>> {
        let commands = self.consultation(i).commands();
        Ok(seal(&commands, upto, i as u64)?.1)
    }
}

/// Decides, seals and applies the first `upto` commands, deterministically: the event
/// id is a UUIDv7 of the command's time and of `salt` and the version; `recorded_at`
/// is the command's time.
pub(crate) fn seal(
    commands: &[CommandEnvelope],
    upto: usize,
    salt: u64,
) -> anyhow::Result<(Projection, Vec<RecordedEvent>)> {
    let mut projection = Projection::new();
    let mut events = Vec::with_capacity(upto);
    for cmd in commands.iter().take(upto) {
        let event = decide(projection.view.as_ref(), cmd)
            .map_err(|r| anyhow::anyhow!("{} rejected: {r}", cmd.negotiation_id))?;
        let version = projection.version + 1;
        let sealed = RecordedEvent::seal(
            cmd,
            event,
            version,
            &projection.last_hash,
            event_id(cmd, salt, version),
            cmd.occurred_at,
        );
        projection.apply(&sealed)?;
        events.push(sealed);
    }
    Ok((projection, events))
}

fn event_id(cmd: &CommandEnvelope, salt: u64, version: u64) -> uuid::Uuid {
    let millis = u64::try_from(cmd.occurred_at.timestamp_millis()).unwrap_or(0);
    let mixed = splitmix(salt.wrapping_mul(0x1_0000_0001) ^ version).to_le_bytes();
    let more = splitmix(version ^ 0xA5A5).to_le_bytes();
    let bytes = [
        mixed[0], mixed[1], mixed[2], mixed[3], mixed[4], mixed[5], mixed[6], mixed[7], more[0],
        more[1],
    ];
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What [`fill`] did.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Filled {
    /// The stream held the plan already.
    Already,
    /// Published this many events in this long.
    Now(usize, Duration),
}

/// Makes the event stream hold the plan, unless it does already (its last negotiation
/// has events). Generates on two threads and publishes from one connection, up to
/// [`IN_FLIGHT`] acknowledgements outstanding, with no headers: the events are valid by
/// construction, and one connection keeps each subject's order.
///
/// # Errors
/// When the stream holds part of the plan only (a fill was interrupted: use a fresh
/// store), or a publish fails.
pub(crate) async fn fill(url: &str, plan: Plan) -> anyhow::Result<Filled> {
    let store = NatsStore::connect(url, NatsConfig::default()).await?;
    let first = id(plan, 0)?;
    let last = id(plan, plan.negotiations - 1)?;
    if store.last_version(&last).await? > 0 {
        return Ok(Filled::Already);
    }
    anyhow::ensure!(
        store.last_version(&first).await? == 0,
        "the event stream holds part of the big stream only (an interrupted fill?): start from a fresh store"
    );
    store.drain().await.ok();

    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Vec<(String, Bytes)>>>(3);
    let groups = plan.negotiations.div_ceil(GROUP);
    let next = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (tx, next) = (tx.clone(), next.clone());
        threads.push(std::thread::spawn(move || {
            loop {
                let g = next.fetch_add(1, Ordering::Relaxed);
                if g >= groups {
                    break;
                }
                let range = g * GROUP..((g + 1) * GROUP).min(plan.negotiations);
                if tx.blocking_send(group(plan, range)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);

    let client = async_nats::connect(url)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    let js = async_nats::jetstream::new(client.clone());
    let mut acks = VecDeque::with_capacity(IN_FLIGHT);
    let mut published = 0;
    while let Some(batch) = rx.recv().await {
        for (subject, payload) in batch? {
            if acks.len() >= IN_FLIGHT {
                let ack: async_nats::jetstream::context::PublishAckFuture =
                    acks.pop_front().expect("not empty");
                ack.await.context("publishing the big stream")?;
            }
            acks.push_back(
                js.publish(subject, payload)
                    .await
                    .context("publishing the big stream")?,
            );
            published += 1;
        }
    }
    for ack in acks {
        ack.await.context("publishing the big stream")?;
    }
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a generator thread panicked"))?;
    }
    client.drain().await.ok();
    Ok(Filled::Now(published, started.elapsed()))
}

/// The events of negotiations `range`, interleaved: version 1 of each, then version 2
/// of each, and so on.
fn group(plan: Plan, range: std::ops::Range<usize>) -> anyhow::Result<Vec<(String, Bytes)>> {
    let mut columns = Vec::with_capacity(range.len());
    for i in range {
        let subject = format!("roundtable.events.{}", plan.id(i));
        let bytes: Vec<Bytes> = plan
            .negotiation(i, plan.size)?
            .iter()
            .map(|e| Bytes::from(e.to_bytes()))
            .collect();
        columns.push((subject, bytes));
    }
    let mut out = Vec::with_capacity(columns.len() * plan.size);
    for v in 0..plan.size {
        for (subject, bytes) in &columns {
            out.push((subject.clone(), bytes[v].clone()));
        }
    }
    Ok(out)
}

/// Negotiation `i`'s id, validated.
pub(crate) fn id(plan: Plan, i: usize) -> anyhow::Result<NegotiationId> {
    NegotiationId::new(plan.id(i)).map_err(|e| anyhow::anyhow!("{e}"))
}
