//! The append workloads every store runs: one long consultation handled one command at
//! a time, and many short ones handled by concurrent tasks. The raw NATS and
//! PostgreSQL figures publish or insert the very events Roundtable records for them
//! (sealed here in-process), so that message sizes match.

use bytes::Bytes;
use chrono::Utc;
use roundtable_domain::{CommandEnvelope, Projection, RecordedEvent, decide};
use uuid::Uuid;

use crate::Scale;
use crate::consultation::Consultation;

/// A consultation of exactly `events` lines on `negotiation`: one statement per 25
/// events (at least 5), and enough partners that at most half of the possible
/// (participant, statement) votes are cast.
///
/// # Panics
/// When `events` is below 20 (too few for a consultation with votes).
pub fn shaped(negotiation: &str, events: usize) -> Consultation {
    assert!(
        events >= 20,
        "a benchmark consultation needs 20 events or more"
    );
    let mut partners = (events / 100).max(4);
    let statements = (events / 25).max(5);
    loop {
        let adopted = statements.div_ceil(5);
        let votes = events - 1 - partners - statements - adopted;
        if 2 * votes <= statements * (partners - 1) {
            assert!(votes >= partners, "cannot shape {events} events");
            return Consultation::new(negotiation, partners, statements, events);
        }
        partners += 1;
    }
}

/// The sequential workload: one negotiation of `scale.sequential` events, its id tagged
/// with `tag` (the fsync mode) so that each mode writes a negotiation of its own.
pub fn sequential(scale: &Scale, prefix: &str, tag: &str) -> Consultation {
    shaped(&format!("{prefix}-seq-{tag}"), scale.sequential)
}

/// The concurrent workload: `scale.negotiations` negotiations of `scale.per_negotiation`
/// events each.
pub fn concurrent(scale: &Scale, prefix: &str, tag: &str) -> Vec<Consultation> {
    (0..scale.negotiations)
        .map(|i| shaped(&format!("{prefix}-c{i}-{tag}"), scale.per_negotiation))
        .collect()
}

/// Decides and seals `commands` in order, as the command handler would, without a store.
///
/// # Panics
/// When a command is rejected (the generator writes only accepted lines).
pub fn seal(commands: &[CommandEnvelope]) -> Vec<RecordedEvent> {
    let mut projection = Projection::new();
    commands
        .iter()
        .map(|cmd| {
            let event = decide(projection.view.as_ref(), cmd)
                .unwrap_or_else(|r| panic!("generated command rejected: {}", r.message));
            let recorded = RecordedEvent::seal(
                cmd,
                event,
                projection.version + 1,
                &projection.last_hash,
                Uuid::now_v7(),
                Utc::now(),
            );
            projection
                .apply(&recorded)
                .expect("sealed from this projection");
            recorded
        })
        .collect()
}

/// The stored bytes of every event of `consultation`.
pub fn payloads(consultation: &Consultation) -> Vec<Bytes> {
    seal(&consultation.commands())
        .iter()
        .map(|e| Bytes::from(e.to_bytes()))
        .collect()
}

/// The mean length of `payloads`, in bytes.
pub fn mean_size<'a>(payloads: impl IntoIterator<Item = &'a Bytes>) -> f64 {
    let (count, total) = payloads
        .into_iter()
        .fold((0usize, 0usize), |(n, t), p| (n + 1, t + p.len()));
    if count == 0 {
        0.0
    } else {
        total as f64 / count as f64
    }
}

/// Splits `streams` (one list of items per negotiation) among `tasks` tasks: task `t`
/// gets negotiations `t`, `t + tasks`, ... and walks them round-robin, item `k` of each
/// before item `k + 1` of any, so every task keeps many negotiations in flight.
pub fn schedule<T: Clone>(streams: &[Vec<T>], tasks: usize) -> Vec<Vec<(usize, T)>> {
    let tasks = tasks.max(1);
    (0..tasks)
        .map(|t| {
            let mine: Vec<usize> = (t..streams.len()).step_by(tasks).collect();
            let longest = mine.iter().map(|&i| streams[i].len()).max().unwrap_or(0);
            let mut order = Vec::new();
            for k in 0..longest {
                for &i in &mine {
                    if let Some(item) = streams[i].get(k) {
                        order.push((i, item.clone()));
                    }
                }
            }
            order
        })
        .filter(|order| !order.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shaped_consultations_have_the_asked_length_and_are_accepted() {
        for events in [20, 200, 1_000, 5_000] {
            let c = shaped("shape", events);
            assert_eq!(seal(&c.commands()).len(), events);
        }
    }

    #[test]
    fn the_schedule_keeps_each_negotiation_in_order_and_covers_all() {
        let streams: Vec<Vec<usize>> = (0..10)
            .map(|i| (0..3).map(|k| i * 10 + k).collect())
            .collect();
        let plan = schedule(&streams, 4);
        assert_eq!(plan.len(), 4);
        assert_eq!(plan.iter().map(Vec::len).sum::<usize>(), 30);
        for order in &plan {
            for i in 0..10 {
                let items: Vec<usize> = order
                    .iter()
                    .filter(|(n, _)| *n == i)
                    .map(|(_, x)| *x)
                    .collect();
                assert!(items.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
