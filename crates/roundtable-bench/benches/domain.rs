//! In-process costs of the command and read paths, per event, on the synthetic
//! consultation: deciding and sealing a command, encoding an event to its stored
//! bytes, decoding (and hash-checking) stored bytes, and folding events into the view.
//! Run: `cargo bench -p roundtable-bench --bench domain`.

use std::hint::black_box;

use chrono::Utc;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use roundtable_bench::consultation::Consultation;
use roundtable_domain::{CommandEnvelope, Projection, RecordedEvent, decide};
use uuid::Uuid;

/// The consultation's events, sealed in order.
fn sealed(cmds: &[CommandEnvelope]) -> Vec<RecordedEvent> {
    let mut p = Projection::new();
    cmds.iter()
        .map(|cmd| {
            let event = decide(p.view.as_ref(), cmd).expect("accepted");
            let e = RecordedEvent::seal(
                cmd,
                event,
                p.version + 1,
                &p.last_hash,
                Uuid::now_v7(),
                Utc::now(),
            );
            p.apply(&e).expect("applies");
            e
        })
        .collect()
}

fn per_event(c: &mut Criterion) {
    let cmds = Consultation::new("criterion", 200, 60, 5_000).commands();
    let events = sealed(&cmds);
    let bytes: Vec<Vec<u8>> = events.iter().map(RecordedEvent::to_bytes).collect();
    let n = events.len() as u64;
    let mut group = c.benchmark_group("per_event");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.bench_function("decide_and_seal", |b| {
        b.iter(|| black_box(sealed(black_box(&cmds))));
    });
    group.bench_function("encode", |b| {
        b.iter(|| {
            for e in &events {
                black_box(e.to_bytes());
            }
        });
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            for raw in &bytes {
                black_box(RecordedEvent::decode(raw).expect("decodes"));
            }
        });
    });
    group.bench_function("fold", |b| {
        b.iter_batched(
            || events.clone(),
            |events| black_box(Projection::fold(&events).expect("folds")),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, per_event);
criterion_main!(benches);
