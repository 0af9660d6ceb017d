//! Roundtable through the store layer: [`CommandHandler`] deciding, sealing and
//! appending the workloads' commands, over NATS JetStream and over the embedded store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use roundtable_app::{CommandHandler, Handled};
use roundtable_domain::CommandEnvelope;
use roundtable_nats::{NatsConfig, NatsStore};
use roundtable_sqlite::SqliteStore;
use roundtable_store::EventStore;

use crate::raw::{self, rate};
use crate::{Figure, Fsync, Report, Setup, workload};

/// Key of the sequential figure on NATS.
pub const NATS_SEQUENTIAL: &str = "store.nats.sequential";
/// Key of the concurrent figure on NATS.
pub const NATS_CONCURRENT: &str = "store.nats.concurrent";
/// Key of the sequential figure on the embedded store.
pub const SQLITE_SEQUENTIAL: &str = "store.sqlite.sequential";
/// Key of the concurrent figure on the embedded store.
pub const SQLITE_CONCURRENT: &str = "store.sqlite.concurrent";

/// Measures the NATS figures under the fsync mode of `setup`, and the embedded store's
/// once (in the [`Fsync::Default`] pass).
///
/// # Errors
/// When a store cannot be opened or a command is not recorded.
pub async fn run(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    let tag = setup.fsync.label();
    let store = NatsStore::connect(&setup.nats_url, NatsConfig::default())
        .await
        .with_context(|| format!("cannot connect the NATS store to {}", setup.nats_url))?;
    let handler = Arc::new(CommandHandler::new(Arc::new(store)));
    let (count, elapsed) = sequential(&handler, setup, "bench-nts", tag).await?;
    report.add(
        Figure::rate(
            NATS_SEQUENTIAL,
            "commands on one negotiation through the store layer on NATS, one at a time",
            setup.fsync,
            rate(count, elapsed),
            "commands/s",
        )
        .against(raw::SEQUENTIAL, Some(0.8))
        .note(format!(
            "{count} commands: decide, seal, append, awaited one by one"
        )),
    );
    let (count, elapsed) = concurrent(&handler, setup, "bench-nts", tag).await?;
    report.add(
        Figure::rate(
            NATS_CONCURRENT,
            "commands over many negotiations through the store layer on NATS, concurrent tasks",
            setup.fsync,
            rate(count, elapsed),
            "commands/s",
        )
        .against(raw::CONCURRENT, Some(0.6))
        .note(concurrent_note(count, setup)),
    );
    handler.store().drain().await.ok();

    if setup.fsync != Fsync::Default {
        return Ok(());
    }
    let path = setup.work_dir.join("bench-store.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let opened = path.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&opened))
        .await?
        .with_context(|| format!("cannot open the embedded store {}", path.display()))?;
    let handler = Arc::new(CommandHandler::new(Arc::new(store)));
    let (count, elapsed) = sequential(&handler, setup, "bench-sql", tag).await?;
    report.add(
        Figure::rate(
            SQLITE_SEQUENTIAL,
            "commands on one negotiation through the store layer on the embedded store, one at a time",
            Fsync::NotNats,
            rate(count, elapsed),
            "commands/s",
        )
        .against(raw::SEQUENTIAL, None)
        .note(format!(
            "{count} commands; SQLite WAL, synchronous = FULL; ratio to raw NATS with its default fsync"
        )),
    );
    let (count, elapsed) = concurrent(&handler, setup, "bench-sql", tag).await?;
    report.add(
        Figure::rate(
            SQLITE_CONCURRENT,
            "commands over many negotiations through the store layer on the embedded store, concurrent tasks",
            Fsync::NotNats,
            rate(count, elapsed),
            "commands/s",
        )
        .against(raw::CONCURRENT, None)
        .note(format!(
            "{}; ratio to raw NATS with its default fsync",
            concurrent_note(count, setup)
        )),
    );
    Ok(())
}

fn concurrent_note(count: usize, setup: &Setup) -> String {
    format!(
        "{count} commands, {} tasks over {} negotiations of {} events",
        setup.scale.concurrency, setup.scale.negotiations, setup.scale.per_negotiation
    )
}

/// Handles the sequential workload on one negotiation; returns commands and time taken.
async fn sequential<S: EventStore + ?Sized>(
    handler: &CommandHandler<S>,
    setup: &Setup,
    prefix: &str,
    tag: &str,
) -> anyhow::Result<(usize, Duration)> {
    let commands = workload::sequential(&setup.scale, prefix, tag).commands();
    let started = Instant::now();
    for cmd in &commands {
        record(handler, cmd).await?;
    }
    Ok((commands.len(), started.elapsed()))
}

/// Handles the concurrent workload with `scale.concurrency` tasks; returns commands
/// and the time from the first command to the last answer.
async fn concurrent<S: EventStore + ?Sized>(
    handler: &Arc<CommandHandler<S>>,
    setup: &Setup,
    prefix: &str,
    tag: &str,
) -> anyhow::Result<(usize, Duration)> {
    let streams: Vec<Vec<CommandEnvelope>> = workload::concurrent(&setup.scale, prefix, tag)
        .iter()
        .map(|c| c.commands())
        .collect();
    let count = streams.iter().map(Vec::len).sum();
    let plan = workload::schedule(&streams, setup.scale.concurrency);
    let started = Instant::now();
    let tasks: Vec<_> = plan
        .into_iter()
        .map(|order| {
            let handler = handler.clone();
            tokio::spawn(async move {
                for (_, cmd) in &order {
                    record(&handler, cmd).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.context("command task panicked")??;
    }
    Ok((count, started.elapsed()))
}

/// Handles `cmd`, which must be recorded now.
async fn record<S: EventStore + ?Sized>(
    handler: &CommandHandler<S>,
    cmd: &CommandEnvelope,
) -> anyhow::Result<()> {
    match handler.handle(cmd).await {
        Ok(Handled::Recorded(_)) => Ok(()),
        Ok(Handled::AlreadyRecorded(_)) => bail!(
            "command {} on {} was already recorded: the benchmark needs a fresh negotiation",
            cmd.command_id,
            cmd.negotiation_id
        ),
        Err(e) => Err(e).with_context(|| {
            format!(
                "command {} on {} not recorded",
                cmd.command_id, cmd.negotiation_id
            )
        }),
    }
}
