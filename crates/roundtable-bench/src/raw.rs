//! The raw limit: plain JetStream publishes with `Nats-Expected-Last-Subject-Sequence`,
//! through async-nats alone, on a stream of their own (`BENCH_RAW`, file storage).
//!
//! The payloads are the stored bytes of the events Roundtable records for the same
//! workloads ([`crate::workload`]), so the message sizes are Roundtable's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream::{self, message::PublishMessage, stream};
use bytes::Bytes;

use crate::{Figure, Report, Setup, workload};

/// The stream the raw workloads publish to.
pub const STREAM: &str = "BENCH_RAW";
/// Its subjects: `bench.raw.<workload>.<n>`.
pub const SUBJECTS: &str = "bench.raw.>";
/// Key of the one-by-one publishing figure.
pub const SEQUENTIAL: &str = "raw.publish.sequential";
/// Key of the concurrent publishing figure.
pub const CONCURRENT: &str = "raw.publish.concurrent";

/// Measures [`SEQUENTIAL`] and [`CONCURRENT`] on the server of `setup`, under its fsync mode.
///
/// # Errors
/// When the server cannot be reached or refuses a publish.
pub async fn run(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    let client = async_nats::connect(&setup.nats_url)
        .await
        .with_context(|| format!("cannot connect to {}", setup.nats_url))?;
    let js = jetstream::new(client.clone());
    // A fresh stream each time: each mode's run starts from the same empty stream.
    let _ = js.delete_stream(STREAM).await;
    js.create_stream(stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![SUBJECTS.to_owned()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .context("cannot create the raw benchmark stream")?;

    let tag = setup.fsync.label();
    let scale = &setup.scale;

    let payloads = workload::payloads(&workload::sequential(scale, "bench-raw", tag));
    let started = Instant::now();
    sequential(&js, &format!("bench.raw.seq.{tag}"), &payloads).await?;
    let elapsed = started.elapsed();
    report.add(
        Figure::rate(
            SEQUENTIAL,
            "raw JetStream publishes on one subject, each awaited, with expected last subject sequence",
            setup.fsync,
            rate(payloads.len(), elapsed),
            "events/s",
        )
        .note(format!(
            "{} publishes, mean payload {:.0} bytes",
            payloads.len(),
            workload::mean_size(&payloads)
        )),
    );

    let streams: Vec<Vec<Bytes>> = workload::concurrent(scale, "bench-raw", tag)
        .iter()
        .map(workload::payloads)
        .collect();
    let total: usize = streams.iter().map(Vec::len).sum();
    let mean = workload::mean_size(streams.iter().flatten());
    let elapsed = concurrent(
        &js,
        &format!("bench.raw.c.{tag}"),
        &streams,
        scale.concurrency,
    )
    .await?;
    report.add(
        Figure::rate(
            CONCURRENT,
            "raw JetStream publishes by concurrent publishers over many subjects, each awaited, with expected last subject sequence",
            setup.fsync,
            rate(total, elapsed),
            "events/s",
        )
        .note(format!(
            "{total} publishes, {} publishers over {} subjects, mean payload {mean:.0} bytes",
            scale.concurrency,
            streams.len()
        )),
    );

    let _ = js.delete_stream(STREAM).await;
    client.flush().await.ok();
    Ok(())
}

/// Publishes `payloads` one by one on `subject`, each expecting the previous one's
/// sequence (0 for the first), awaiting each acknowledgement.
async fn sequential(
    js: &jetstream::Context,
    subject: &str,
    payloads: &[Bytes],
) -> anyhow::Result<()> {
    let mut last = 0;
    for payload in payloads {
        last = publish(js, subject.to_owned(), payload.clone(), last).await?;
    }
    Ok(())
}

/// `streams[i]` published on `<prefix>.<i>` by `tasks` concurrent publishers (see
/// [`workload::schedule`]), each awaiting its acknowledgement before its next publish.
/// Returns the time from the first publish to the last acknowledgement.
async fn concurrent(
    js: &jetstream::Context,
    prefix: &str,
    streams: &[Vec<Bytes>],
    tasks: usize,
) -> anyhow::Result<Duration> {
    let plan = workload::schedule(streams, tasks);
    let prefix: Arc<str> = Arc::from(prefix);
    let started = Instant::now();
    let handles: Vec<_> = plan
        .into_iter()
        .map(|order| {
            let js = js.clone();
            let prefix = prefix.clone();
            let subjects = streams.len();
            tokio::spawn(async move {
                let mut last = vec![0u64; subjects];
                for (i, payload) in order {
                    last[i] = publish(&js, format!("{prefix}.{i}"), payload, last[i]).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.await.context("publisher task panicked")??;
    }
    Ok(started.elapsed())
}

/// One publish on `subject` expecting `last` as its last sequence; returns the new one.
async fn publish(
    js: &jetstream::Context,
    subject: String,
    payload: Bytes,
    last: u64,
) -> anyhow::Result<u64> {
    let message = PublishMessage::build()
        .payload(payload)
        .expected_last_subject_sequence(last);
    let ack = js
        .send_publish(subject.clone(), message)
        .await
        .with_context(|| format!("cannot publish on {subject}"))?
        .await
        .with_context(|| format!("publish on {subject} expecting {last} refused"))?;
    if ack.duplicate {
        bail!("publish on {subject} taken for a duplicate");
    }
    Ok(ack.sequence)
}

/// `count` per second of `elapsed`.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}
