//! The event store most teams would build: one PostgreSQL table, a unique key on
//! negotiation and version, appends that insert version n+1 (a unique violation is a
//! concurrency conflict), through tokio-postgres with one connection per task and the
//! server's durable defaults (`synchronous_commit = on`).
//!
//! The payloads are the same event bytes the raw NATS workloads publish (`bytea`: no
//! JSON parsing on the server, the favourable case for PostgreSQL).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::{StreamExt, pin_mut};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

use crate::raw::rate;
use crate::store_layer::NATS_CONCURRENT;
use crate::{Figure, Fsync, Report, Setup, workload};

/// Key of the sequential append figure.
pub const SEQUENTIAL: &str = "pg.append.sequential";
/// Key of the concurrent append figure.
pub const CONCURRENT: &str = "pg.append.concurrent";
/// Key of the read figure.
pub const READ: &str = "pg.read";
/// Key of the NATS store layer's concurrent figure compared with PostgreSQL's.
pub const NATS_VS_PG: &str = "store.nats.concurrent.vs_pg";

/// The database URL used when none is given.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/roundtable_bench";

const SCHEMA: &str = "CREATE TABLE events (
    position bigserial PRIMARY KEY,
    negotiation_id text NOT NULL,
    version bigint NOT NULL,
    payload bytea NOT NULL,
    UNIQUE (negotiation_id, version)
)";

const INSERT: &str = "INSERT INTO events (negotiation_id, version, payload) VALUES ($1, $2, $3)";

/// Measures [`SEQUENTIAL`], [`CONCURRENT`] and [`READ`] once (in the
/// [`Fsync::Default`] pass; they are not NATS figures). When the server cannot be
/// reached, says so and adds nothing.
///
/// # Errors
/// When the server is reachable but a statement fails.
pub async fn run(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    if setup.fsync != Fsync::Default {
        return Ok(());
    }
    let config: Config = setup
        .postgres_url
        .parse()
        .with_context(|| format!("bad PostgreSQL URL {}", setup.postgres_url))?;
    if let Err(e) = recreate_database(&config).await {
        println!(
            "PostgreSQL at {} is not reachable, skipping the pg.* figures: {e:#}",
            setup.postgres_url
        );
        return Ok(());
    }
    let client = connect(&config).await?;
    client
        .batch_execute(SCHEMA)
        .await
        .context("cannot create table events")?;
    let settings = settings(&client).await.unwrap_or_default();

    let payloads = workload::payloads(&workload::sequential(&setup.scale, "bench-pgs", "default"));
    let negotiation = "bench-pgs-seq";
    let statement = client.prepare(INSERT).await?;
    let started = Instant::now();
    for (i, payload) in payloads.iter().enumerate() {
        client
            .execute(
                &statement,
                &[&negotiation, &(i as i64 + 1), &payload.as_ref()],
            )
            .await
            .context("sequential insert failed")?;
    }
    let elapsed = started.elapsed();
    report.add(
        Figure::rate(
            SEQUENTIAL,
            "PostgreSQL event store: inserts on one negotiation, each awaited",
            Fsync::NotNats,
            rate(payloads.len(), elapsed),
            "events/s",
        )
        .note(format!("{} inserts; {settings}", payloads.len())),
    );

    let streams: Vec<Vec<Bytes>> = workload::concurrent(&setup.scale, "bench-pgs", "default")
        .iter()
        .map(workload::payloads)
        .collect();
    let (count, conflicts, elapsed) =
        concurrent(&config, &streams, setup.scale.concurrency).await?;
    report.add(
        Figure::rate(
            CONCURRENT,
            "PostgreSQL event store: concurrent writers over many negotiations, each insert awaited",
            Fsync::NotNats,
            rate(count, elapsed),
            "events/s",
        )
        .note(format!(
            "{count} inserts, {} connections over {} negotiations, {conflicts} conflicts; {settings}",
            setup.scale.concurrency,
            streams.len()
        )),
    );

    let started = Instant::now();
    let (rows, bytes) = read_all(&client).await?;
    let elapsed = started.elapsed();
    report.add(
        Figure::rate(
            READ,
            "PostgreSQL event store: the whole table in position order",
            Fsync::NotNats,
            rate(rows, elapsed),
            "events/s",
        )
        .note(format!(
            "{rows} rows, {} MiB of payload, one streamed query",
            bytes / (1 << 20)
        )),
    );
    Ok(())
}

/// Adds [`NATS_VS_PG`]: the store layer's concurrent figure under `fsync`, compared with
/// PostgreSQL's concurrent appends (target 2x). Does nothing when either is missing.
pub fn compare(report: &mut Report, fsync: Fsync) {
    let Some(nats) = report
        .figures
        .iter()
        .find(|f| f.key == NATS_CONCURRENT && f.fsync == fsync)
    else {
        return;
    };
    if report.get(CONCURRENT, fsync).is_none() {
        return;
    }
    let figure = Figure::rate(
        NATS_VS_PG,
        "store.nats.concurrent compared with the PostgreSQL event store's concurrent appends",
        fsync,
        nats.value,
        &nats.unit,
    )
    .against(CONCURRENT, Some(2.0))
    .note("same workload and payloads; PostgreSQL with synchronous_commit on");
    report.add(figure);
}

/// The server's version and durability settings, or `None` when it cannot be reached.
pub async fn describe(url: &str) -> Option<String> {
    let config: Config = url.parse().ok()?;
    let mut admin = config.clone();
    admin.dbname("postgres");
    let client = tokio::time::timeout(Duration::from_secs(5), connect(&admin))
        .await
        .ok()?
        .ok()?;
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .ok()?
        .get(0);
    let settings = settings(&client).await.unwrap_or_default();
    Some(format!("PostgreSQL {version} ({settings})"))
}

async fn settings(client: &Client) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for name in [
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
        "shared_buffers",
    ] {
        let value: String = client.query_one(&format!("SHOW {name}"), &[]).await?.get(0);
        parts.push(format!("{name} = {value}"));
    }
    Ok(parts.join(", "))
}

/// Drops and creates the database `config` names, through the `postgres` database.
async fn recreate_database(config: &Config) -> anyhow::Result<()> {
    let name = config
        .get_dbname()
        .context("the PostgreSQL URL names no database")?
        .to_owned();
    if name == "postgres" || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!(
            "refusing to drop database {name:?}: use a database of its own, such as roundtable_bench"
        );
    }
    let mut admin = config.clone();
    admin.dbname("postgres");
    let client = tokio::time::timeout(Duration::from_secs(5), connect(&admin))
        .await
        .context("timed out connecting")??;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .with_context(|| format!("cannot drop database {name}"))?;
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("cannot create database {name}"))?;
    Ok(())
}

async fn connect(config: &Config) -> anyhow::Result<Client> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .context("cannot connect to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("PostgreSQL connection error: {e}");
        }
    });
    Ok(client)
}

/// `streams[i]` appended to negotiation `bench-pgs-c<i>` by `tasks` connections (see
/// [`workload::schedule`]); returns the inserts, the conflicts and the time taken.
async fn concurrent(
    config: &Config,
    streams: &[Vec<Bytes>],
    tasks: usize,
) -> anyhow::Result<(usize, usize, Duration)> {
    let plan = workload::schedule(streams, tasks);
    let mut clients = Vec::with_capacity(plan.len());
    for _ in 0..plan.len() {
        clients.push(connect(config).await?);
    }
    let count: usize = streams.iter().map(Vec::len).sum();
    let started = Instant::now();
    let handles: Vec<_> = plan
        .into_iter()
        .zip(clients)
        .map(|(order, client)| {
            let subjects = streams.len();
            tokio::spawn(async move {
                let statement = client.prepare(INSERT).await?;
                let mut last = vec![0i64; subjects];
                let mut conflicts = 0usize;
                for (i, payload) in order {
                    let negotiation = format!("bench-pgs-c{i}");
                    let version = last[i] + 1;
                    match client
                        .execute(&statement, &[&negotiation, &version, &payload.as_ref()])
                        .await
                    {
                        Ok(_) => last[i] = version,
                        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => conflicts += 1,
                        Err(e) => {
                            return Err(anyhow::Error::new(e).context("concurrent insert failed"));
                        }
                    }
                }
                anyhow::Ok(conflicts)
            })
        })
        .collect();
    let mut conflicts = 0;
    for handle in handles {
        conflicts += handle.await.context("writer task panicked")??;
    }
    Ok((count, conflicts, started.elapsed()))
}

/// Reads every row in position order, streamed; returns rows and payload bytes.
async fn read_all(client: &Client) -> anyhow::Result<(usize, usize)> {
    let rows = client
        .query_raw(
            "SELECT position, negotiation_id, version, payload FROM events ORDER BY position",
            std::iter::empty::<i64>(),
        )
        .await
        .context("cannot read events")?;
    pin_mut!(rows);
    let (mut count, mut bytes) = (0usize, 0usize);
    while let Some(row) = rows.next().await {
        let row = row?;
        let payload: &[u8] = row.get(3);
        count += 1;
        bytes += payload.len();
    }
    Ok((count, bytes))
}
