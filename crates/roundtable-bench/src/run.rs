//! One run: one nats-server, every module with the server's default fsync, then the
//! same server restarted on the same store with `sync_interval: always` and every NATS
//! module again.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use roundtable_testkit::{NatsServer, SyncInterval};

use crate::machine::Machine;
use crate::report::Results;
use crate::{Fsync, Report, Scale, Setup};

/// A part of the benchmark that can be run alone (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Module {
    /// Raw JetStream publishes ([`crate::raw`]).
    Raw,
    /// Commands through the store layer on NATS and the embedded store ([`crate::store_layer`]).
    Store,
    /// The PostgreSQL event store ([`crate::postgres`]).
    Pg,
    /// The HTTP API: throughput, latency, `serve` memory ([`crate::http`]).
    Http,
    /// The big stream: raw read, rebuild, cold and warm commands, import ([`crate::replay`]).
    Replay,
}

impl Module {
    /// Every module, in the order a run measures them (raw first: the others' ratios
    /// need it).
    pub const ALL: [Module; 5] = [
        Module::Raw,
        Module::Store,
        Module::Pg,
        Module::Http,
        Module::Replay,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Module::Raw => "raw",
            Module::Store => "store",
            Module::Pg => "pg",
            Module::Http => "http",
            Module::Replay => "replay",
        }
    }

    async fn run(self, setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
        match self {
            Module::Raw => crate::raw::run(setup, report).await,
            Module::Store => crate::store_layer::run(setup, report).await,
            Module::Pg => crate::postgres::run(setup, report).await,
            Module::Http => crate::http::run(setup, report).await,
            Module::Replay => crate::replay::run(setup, report).await,
        }
    }
}

/// What one run measures and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workload sizes.
    pub scale: Scale,
    /// `full` or `quick`, for the report.
    pub scale_name: String,
    /// The modules to run (all when empty).
    pub only: Vec<Module>,
    /// `postgres://...` of the database to compare with (dropped and created again).
    pub postgres_url: String,
    /// The `roundtable` binary for whole-process workloads.
    pub roundtable: PathBuf,
    /// The command line, for the report.
    pub command: String,
}

/// Runs the selected modules in both fsync modes and returns what they measured.
/// A module that fails is reported (printed, and listed in the results) and the run
/// goes on.
///
/// # Errors
/// When the nats-server cannot be started or restarted, or the work directory made.
pub async fn run(options: &Options) -> anyhow::Result<Results> {
    let started = Instant::now();
    let modules: Vec<Module> = Module::ALL
        .into_iter()
        .filter(|m| options.only.is_empty() || options.only.contains(m))
        .collect();
    let work = tempfile::Builder::new()
        .prefix("roundtable-bench-")
        .tempdir()
        .context("cannot create the work directory")?;
    let mut server = NatsServer::start_with_sync(SyncInterval::Default)
        .await
        .context("cannot start nats-server")?;
    let machine = Machine::describe(
        work.path(),
        format!(
            "{} ({})",
            server.binary().version(),
            server.binary().path().display()
        ),
        crate::postgres::describe(&options.postgres_url).await,
    );
    println!(
        "roundtable-bench: {} scale, nats-server {} at {}, work in {}",
        options.scale_name,
        server.binary().version(),
        server.url(),
        work.path().display()
    );
    let mut report = Report::default();
    let mut failures = Vec::new();
    for fsync in [Fsync::Default, Fsync::Always] {
        if fsync == Fsync::Always {
            server
                .restart_with_sync(SyncInterval::Always)
                .await
                .context("cannot restart nats-server with sync_interval: always")?;
        }
        println!("--- nats fsync: {} ---", fsync.label());
        let setup = Setup {
            fsync,
            nats_url: server.url(),
            roundtable: options.roundtable.clone(),
            work_dir: work.path().to_owned(),
            postgres_url: options.postgres_url.clone(),
            scale: options.scale.clone(),
        };
        for module in &modules {
            let began = Instant::now();
            if let Err(e) = module.run(&setup, &mut report).await {
                let failure = format!("{} ({}): {e:#}", module.name(), fsync.label());
                println!("FAILED {failure}");
                failures.push(failure);
            }
            println!(
                "    ({} in {:.1} s)",
                module.name(),
                began.elapsed().as_secs_f64()
            );
        }
        crate::postgres::compare(&mut report, fsync);
    }
    server.stop().await;
    println!("run took {:.0} s", started.elapsed().as_secs_f64());
    Ok(Results {
        machine,
        scale: options.scale_name.clone(),
        command: options.command.clone(),
        failures,
        figures: report.figures,
    })
}
