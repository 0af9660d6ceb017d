//! `roundtable`: one binary for users and deployments.
//!
//! Backend selection comes first, as global options: `--nats-url URL` (or
//! `ROUNDTABLE_NATS_URL`) uses NATS JetStream; otherwise `--data-dir DIR` (or
//! `ROUNDTABLE_DATA_DIR`, default `./roundtable-data`) uses the embedded store.

mod backend;
mod import;
mod render;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use roundtable_domain::NegotiationId;

use crate::backend::Backend;

/// Partnership negotiations as an immutable event log, and the agreement they make.
#[derive(Debug, Parser)]
#[command(name = "roundtable", version, about)]
struct Cli {
    /// Use NATS JetStream at this URL (e.g. nats://127.0.0.1:4222) instead of the embedded store.
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_URL")]
    nats_url: Option<String>,

    /// Directory of the embedded store (used when no NATS URL is given).
    #[arg(
        long,
        global = true,
        env = "ROUNDTABLE_DATA_DIR",
        default_value = "./roundtable-data"
    )]
    data_dir: PathBuf,

    /// JetStream stream replicas when the stream is first created (3 on a cluster).
    #[arg(
        long,
        global = true,
        env = "ROUNDTABLE_NATS_REPLICAS",
        default_value_t = 1
    )]
    replicas: usize,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Import minutes: a JSON Lines file, one command a line (DOMAIN.md, "The import format").
    ///
    /// Prints `line N: <command> rejected: <reason>` for each rejected line and a summary.
    /// Exit status 0 when nothing was rejected, 1 otherwise. Re-running a file skips the
    /// lines already recorded.
    Import {
        /// The minutes file.
        file: PathBuf,
        /// Report every rejected line and go on, instead of stopping at the first.
        #[arg(long)]
        keep_going: bool,
    },
    /// Print the agreement as it stands: for a secretariat, or `--json` (DOMAIN.md, "The agreement view").
    View {
        /// The negotiation.
        negotiation_id: String,
        /// Print the agreement view as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the recorded events of a negotiation, in order (`--json`: one envelope per line).
    Events {
        /// The negotiation.
        negotiation_id: String,
        /// Print each event's stored envelope as one JSON line.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let backend = Backend::open(cli.nats_url.as_deref(), &cli.data_dir, cli.replicas).await?;
    match cli.command {
        Cmd::Import { file, keep_going } => import::run(&backend, &file, keep_going).await,
        Cmd::View {
            negotiation_id,
            json,
        } => {
            let id = negotiation(&negotiation_id)?;
            let projection = backend.load(&id).await?;
            let Some(view) = projection.view else {
                eprintln!(
                    "error: negotiation {id} has no recorded events in {}",
                    backend.describe()
                );
                return Ok(ExitCode::from(1));
            };
            let text = if json {
                serde_json::to_string_pretty(&view)? + "\n"
            } else {
                render::agreement(&view)
            };
            quiet_on_closed_pipe(std::io::stdout().lock().write_all(text.as_bytes()))
        }
        Cmd::Events {
            negotiation_id,
            json,
        } => {
            let id = negotiation(&negotiation_id)?;
            let events = backend.store().read(&id, 0, None).await?;
            if events.is_empty() {
                eprintln!(
                    "error: negotiation {id} has no recorded events in {}",
                    backend.describe()
                );
                return Ok(ExitCode::from(1));
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = events
                .iter()
                .try_for_each(|e| {
                    if json {
                        render::write_json_line(&mut out, e)
                    } else {
                        render::write_event_line(&mut out, e)
                    }
                })
                .and_then(|()| out.flush());
            quiet_on_closed_pipe(written)
        }
    }
}

/// Output cut short by a closed pipe (`roundtable events x | head`) is not an error.
fn quiet_on_closed_pipe(result: std::io::Result<()>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

fn negotiation(raw: &str) -> anyhow::Result<NegotiationId> {
    NegotiationId::new(raw).context("invalid negotiation id")
}
