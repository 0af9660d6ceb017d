//! `roundtable`: one binary for users and deployments.
//!
//! Backend selection comes first, as global options: `--nats-url URL` (or
//! `ROUNDTABLE_NATS_URL`) uses NATS JetStream; otherwise `--data-dir DIR` (or
//! `ROUNDTABLE_DATA_DIR`, default `./roundtable-data`) uses the embedded store.

mod audit;
mod backend;
mod checkpoint;
mod config;
mod import;
mod limits;
mod logwatch;
mod nats;
mod ocds;
mod render;
mod services;
mod witness;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use roundtable_domain::NegotiationId;

use crate::backend::Backend;

/// The heading of the options every command takes (the store, logs, the config file),
/// apart from each command's own.
const GLOBAL: &str = "Global options";

/// Partnership negotiations as an immutable event log, and the agreement they make.
#[derive(Debug, Parser)]
#[command(
    name = "roundtable",
    version,
    about,
    after_help = "Exit status: 0 done; 1 what was asked for is not in the record, or a check failed; 2 the input or the store could not be used. `roundtable <command> --help` says what each command's mean."
)]
struct Cli {
    /// Use NATS JetStream at this URL (e.g. nats://127.0.0.1:4222) instead of the embedded store.
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_URL", help_heading = GLOBAL)]
    nats_url: Option<String>,

    /// Directory of the embedded store (used when no NATS URL is given).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "ROUNDTABLE_DATA_DIR",
        default_value = "./roundtable-data"
    )]
    data_dir: PathBuf,

    /// Log format on standard error.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "ROUNDTABLE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,

    /// A TOML file of settings (the long names of these options): defaults below flags
    /// and the environment.
    #[arg(long, global = true, env = "ROUNDTABLE_CONFIG", value_name = "FILE", help_heading = GLOBAL)]
    config: Option<PathBuf>,

    /// JetStream stream replicas when the stream is first created (3 on a cluster).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "ROUNDTABLE_NATS_REPLICAS",
        default_value_t = 1
    )]
    replicas: usize,

    /// Start a new, empty event log even though the store shows that there was one
    /// (stored views, parked entries, webhooks, a log identity): only after a loss
    /// that cannot be restored (docs/OPERATIONS.md, "When the event log is lost").
    #[arg(long, global = true, env = "ROUNDTABLE_ALLOW_NEW_LOG", help_heading = GLOBAL)]
    allow_new_log: bool,

    /// The deployment's log identity (a UUID, printed by `roundtable init`): refuse a
    /// store that does not hold this log, such as a server restarted on an empty store.
    #[arg(long, global = true, env = "ROUNDTABLE_LOG_ID", value_name = "UUID", help_heading = GLOBAL)]
    log_id: Option<uuid::Uuid>,

    #[command(flatten)]
    nats: nats::NatsOptions,

    #[command(flatten)]
    negotiation_limits: limits::NegotiationLimitOptions,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Make the deployment's event log and give it its identity (a UUID), once, and
    /// print it: pin it with ROUNDTABLE_LOG_ID. On a store that has a log, prints its
    /// identity and changes nothing.
    #[command(
        after_help = "Exit status: 0 the log exists with its identity (printed); 2 the store could not be used, or it shows an earlier log that is missing (restore it, or --force)."
    )]
    Init {
        /// Start a new, empty log even though the store shows an earlier one that is
        /// missing (as --allow-new-log): its views and parked entries are dropped.
        #[arg(long)]
        force: bool,
    },
    /// Import minutes: a JSON Lines file, one command a line (see docs/DECISIONS.md).
    ///
    /// Each line is `{"at": TIME, "negotiation_id": ID, "by": ACTOR, "do": COMMAND, ...fields}`.
    /// Prints `line N: <command> rejected: <reason>` for each rejected line and a summary.
    /// Re-running a file skips the lines already recorded, wherever they stand.
    #[command(
        after_help = "Exit status: 0 no line rejected; 1 some line rejected (the summary says what was recorded); 2 the file or the store could not be used (the lines before the one named are recorded: run the same file again)."
    )]
    Import {
        /// The minutes file.
        file: PathBuf,
        /// Report every rejected line and go on, instead of stopping at the first. Later
        /// lines are then judged without the rejected ones: a line that a rejected one
        /// would have prevented (an adoption over a mistyped blocking objection) can be
        /// recorded. Use --dry-run first to see every problem without recording.
        #[arg(long)]
        keep_going: bool,
        /// Judge every line (as with --keep-going) against the recorded state and the
        /// lines before it, and report, but record nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List the negotiations in the store, with their status and versions.
    #[command(
        after_help = "Exit status: 0 listed (none is not an error); 2 the store could not be used."
    )]
    List {
        /// Print one JSON object per negotiation and line.
        #[arg(long)]
        json: bool,
    },
    /// Print the agreement as it stands: for a secretariat, or `--json` (the agreement view).
    ///
    /// With --as-of-version or --as-of, the view as it stood then, folded from the log.
    #[command(
        after_help = "Exit status: 0 printed; 1 the negotiation has no recorded events (or there is no embedded store yet); 2 a malformed id or option, or an unusable store."
    )]
    View {
        /// The negotiation.
        negotiation_id: String,
        /// Print the agreement view as JSON.
        #[arg(long)]
        json: bool,
        /// The view after this many events.
        #[arg(long, value_name = "N", conflicts_with = "as_of")]
        as_of_version: Option<u64>,
        /// The view at this instant (RFC 3339, or a date meaning its start in UTC): after
        /// the last event that had happened by then, on the clock --time names.
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
        /// Which clock --as-of reads: `occurred` (business time, from the minutes or the
        /// caller) or `recorded` (when the server recorded the event).
        #[arg(long, value_enum, default_value = "occurred", requires = "as_of")]
        time: Clock,
        /// The date overdue commitments are computed against, YYYY-MM-DD (default:
        /// today in UTC). The view says which date it used.
        #[arg(long, value_name = "YYYY-MM-DD")]
        today: Option<chrono::NaiveDate>,
    },
    /// What changed between two versions: clauses (word by word), proposal and
    /// objection statuses, commitments, signatures gained and made stale.
    #[command(
        after_help = "Exit status: 0 printed; 1 the negotiation has no recorded events (or there is no embedded store yet); 2 bad versions, a malformed id or an unusable store."
    )]
    Diff {
        /// The negotiation.
        negotiation_id: String,
        /// The earlier version (0: before the negotiation was opened).
        #[arg(long)]
        from: u64,
        /// The later version (default: the last).
        #[arg(long)]
        to: Option<u64>,
        /// Print the diff as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a negotiation's events with a manifest, for offline verification
    /// (`roundtable verify FILE`) and for `import-export`.
    #[command(
        after_help = "Exit status: 0 written; 1 the negotiation has no recorded events (or there is no embedded store yet); 2 a malformed id, an unusable store or an unwritable file."
    )]
    Export {
        /// The negotiation.
        negotiation_id: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Verify an export offline (no server, no store), or with --negotiation the live
    /// store and its projected view. Names the first bad event and the kind of tampering.
    #[command(
        after_help = "Exit status: 0 verified; 1 a check failed (the report names the first bad event); 2 the file or the store could not be read."
    )]
    Verify {
        /// The export to verify.
        #[arg(
            required_unless_present = "negotiation",
            conflicts_with = "negotiation"
        )]
        file: Option<PathBuf>,
        /// Verify this negotiation in the live store instead.
        #[arg(long)]
        negotiation: Option<String>,
        /// A checkpoint signed by the log (a file written by `roundtable checkpoint`),
        /// that the export must extend; repeat for more. Needs --log-key.
        #[arg(
            long,
            value_name = "CP",
            requires = "log_key",
            conflicts_with = "negotiation"
        )]
        checkpoint: Vec<PathBuf>,
        /// The log's verifier key, or a file of them one a line (the .pub file beside
        /// the log key, old keys included). Checkpoints the export carries count too.
        #[arg(long, value_name = "KEY", conflicts_with = "negotiation")]
        log_key: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a checkpoint of a negotiation's log signed by the operator's log key: a
    /// C2SP signed note of the Merkle tree of its events (docs/AUDIT.md).
    #[command(
        after_help = "Exit status: 0 written; 1 the negotiation has no recorded events (or there is no embedded store yet); 2 an unusable key file, size or store."
    )]
    Checkpoint {
        /// The negotiation.
        negotiation_id: String,
        /// The log key file (`roundtable keys log-generate`).
        #[arg(long, value_name = "FILE")]
        log_key: PathBuf,
        /// Checkpoint the first N events instead of all.
        #[arg(long, value_name = "N")]
        size: Option<u64>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Print an inclusion proof of one event, or a consistency proof between two tree
    /// sizes, as JSON (RFC 9162; docs/AUDIT.md).
    #[command(
        after_help = "Exit status: 0 printed; 1 the negotiation has no recorded events (or there is no embedded store yet); 2 bad versions or sizes, or an unusable store."
    )]
    Prove {
        /// The negotiation.
        negotiation_id: String,
        /// Prove that the event at this version is in the tree of --size events.
        #[arg(
            long,
            value_name = "VERSION",
            conflicts_with = "consistency",
            required_unless_present = "consistency"
        )]
        inclusion: Option<u64>,
        /// The tree size of the inclusion proof (default: every event).
        #[arg(long, value_name = "N", requires = "inclusion")]
        size: Option<u64>,
        /// Prove that the tree of OLD events is a prefix of the tree of NEW events.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        consistency: Option<Vec<u64>>,
    },
    /// Write the audit report: one self-contained HTML file.
    #[command(
        after_help = "Exit status: 0 written; 1 the negotiation has no recorded events (or there is no embedded store yet); 2 a malformed id, an unusable store or an unwritable file."
    )]
    Report {
        /// The negotiation.
        negotiation_id: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write a negotiation as Open Contracting Data Standard releases with the PPP
    /// profile (docs/OCDS.md): a release package, or with --compiled a record package
    /// holding the compiled release.
    #[command(
        after_help = "Exit status: 0 written; 1 the negotiation has no recorded events (or there is no embedded store yet); 2 a malformed id or option, an unusable store or an unwritable file."
    )]
    ExportOcds(ocds::OcdsArgs),
    /// Load a verified export into a store that does not hold its negotiation yet; a
    /// tampered export is refused.
    #[command(
        after_help = "Exit status: 0 imported; 1 the export does not verify, or the store already holds its negotiation; 2 the file or the store could not be used."
    )]
    ImportExport {
        /// The export.
        file: PathBuf,
        /// A checkpoint signed by the log that the export must extend (as for
        /// `verify`); repeat for more. Needs --log-key.
        #[arg(long, value_name = "CP", requires = "log_key")]
        checkpoint: Vec<PathBuf>,
        /// The log's verifier key, or a file of them: the export must then extend its
        /// checkpoints (those given and those it carries), or it is refused.
        #[arg(long, value_name = "KEY")]
        log_key: Option<String>,
    },
    /// Ed25519 keys for partners who sign with a key of their own.
    #[command(subcommand)]
    #[command(
        after_help = "Exit status: 0 done; 2 a file could not be read or written, or a bad option."
    )]
    Keys(KeysCmd),
    /// Witness a negotiation's log on a server: fetch its latest checkpoint, check it
    /// extends the last one this witness cosigned (a consistency proof), cosign it and
    /// send the cosignature; a checkpoint that does not extend it is refused as a split
    /// view. Run it from cron.
    ///
    /// Exit status: 0 cosigned; 1 refused (split view, rollback, bad signature); 2 an
    /// error (server unreachable, bad key).
    Witness(witness::WitnessArgs),
    /// Serve the HTTP API and run the projector, in one process (one machine).
    #[command(
        after_help = "Exit status: 0 stopped by SIGINT or SIGTERM after a clean shutdown; 2 could not start (store, address, token keys) or failed while running."
    )]
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROUNDTABLE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        auth: services::AuthOptions,
        #[command(flatten)]
        webhooks: services::WebhookOptions,
        #[command(flatten)]
        checkpoints: services::CheckpointOptions,
        #[command(flatten)]
        http: limits::HttpOptions,
    },
    /// Serve the HTTP API only (run `roundtable project` beside it).
    #[command(
        after_help = "Exit status: 0 stopped by SIGINT or SIGTERM after a clean shutdown; 2 could not start (store, address, token keys) or failed while running."
    )]
    Api {
        /// Address to listen on.
        #[arg(long, env = "ROUNDTABLE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        auth: services::AuthOptions,
        #[command(flatten)]
        webhooks: services::WebhookOptions,
        #[command(flatten)]
        checkpoints: services::CheckpointOptions,
        #[command(flatten)]
        http: limits::HttpOptions,
    },
    /// Keep the stored agreement views up to date from the event log.
    ///
    /// Runs until SIGINT or SIGTERM, resuming from its checkpoint; with --once or
    /// --rebuild it catches up, prints its counts as JSON and exits.
    #[command(
        after_help = "Exit status: 0 caught up (--once, --rebuild, --status) or stopped by SIGINT or SIGTERM; 2 the store could not be used."
    )]
    Project {
        /// Drop the stored views and rebuild them from the log, then exit.
        #[arg(long, conflicts_with_all = ["once", "status"])]
        rebuild: bool,
        /// Catch up with the log, then exit.
        #[arg(long, conflicts_with = "status")]
        once: bool,
        /// Print how many recorded events are not projected yet, then exit.
        #[arg(long)]
        status: bool,
    },
    /// Tokens for the HTTP API.
    #[command(subcommand)]
    #[command(after_help = "Exit status: 0 printed; 2 no usable token key, or a bad option.")]
    Token(TokenCmd),
    /// Print the recorded events of a negotiation, in order (`--json`: one envelope per line),
    /// checking versions and the hash chain as it goes.
    #[command(
        after_help = "Exit status: 0 printed, chain verified; 1 the negotiation has no recorded events (or there is no embedded store yet), or the chain is broken (the events before the break are printed); 2 a malformed id or an unusable store."
    )]
    Events {
        /// The negotiation.
        negotiation_id: String,
        /// Print each event's stored envelope as one JSON line.
        #[arg(long)]
        json: bool,
    },
}

/// The clock `--as-of` reads.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Clock {
    /// Business time (`occurred_at`).
    Occurred,
    /// Server time (`recorded_at`).
    Recorded,
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Print a signed token (JWT) naming a principal: the secretariat, a partner of a
    /// negotiation, an auditor or an integration.
    #[command(
        after_help = "Exit status: 0 printed (with a warning on standard error when the store says the partner was never admitted); 2 no usable token key, or a bad option."
    )]
    Issue(services::TokenArgs),
    /// Revoke a token before it expires, by its id (`jti`, printed by `token issue`):
    /// every server over this store refuses it from its next request on.
    Revoke {
        /// The token's id.
        jti: String,
        /// Why (kept with the entry).
        #[arg(long)]
        reason: Option<String>,
    },
    /// List the revoked tokens, one JSON object per line.
    Revoked,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Print a new key pair as JSON: keep `secret_key` private; the secretariat registers
    /// `public_key` (admit_partner's public_key, or register_key).
    #[command(after_help = "Exit status: 0 printed; 2 no randomness available.")]
    Generate,
    /// Make the operator's log key (Ed25519, a C2SP note key named after the
    /// deployment) that signs checkpoints; written with mode 0600, its public key
    /// appended to FILE.pub and printed.
    #[command(
        after_help = "Exit status: 0 written; 2 the key file exists already or cannot be written."
    )]
    LogGenerate {
        /// The deployment's name, such as roundtable.example.org (checkpoint origins
        /// are <name>/negotiations/<id>).
        #[arg(long)]
        name: String,
        /// Where to write the private key.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
    /// Replace the log key by a new one of the same name; the old public key stays in
    /// FILE.pub, so checkpoints signed before still verify.
    #[command(after_help = "Exit status: 0 rotated; 2 the key file cannot be read or written.")]
    LogRotate {
        /// The log key file.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
    /// Generate a witness's cosignature key (c2sp.org/tlog-cosignature, type 0x04) for
    /// `roundtable witness`; written with mode 0600, its public key appended to
    /// FILE.pub and printed.
    WitnessGenerate {
        /// The witness's name, such as witness.example.net.
        #[arg(long)]
        name: String,
        /// Where to write the private key.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
    /// Print the signature of the agreement as it stands now, for a `sign` command.
    #[command(
        after_help = "Exit status: 0 printed; 1 the negotiation has no recorded events; 2 an unusable secret file or store."
    )]
    Sign {
        /// The negotiation.
        negotiation_id: String,
        /// A file holding the secret key (64 hex digits).
        #[arg(long)]
        secret_file: PathBuf,
    },
}

fn main() -> ExitCode {
    // `--config FILE` (or ROUNDTABLE_CONFIG) supplies defaults below flags and the
    // environment.
    let command = match config::with_file_defaults(<Cli as clap::CommandFactory>::command()) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logs(&cli);
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
    let secret = cli
        .nats_url
        .clone()
        .filter(|u| roundtable_nats::redacted(u) != *u);
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let mut message = format!("{e:#}");
            if let Some(url) = secret {
                message = message.replace(&url, &roundtable_nats::redacted(&url));
            }
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Structured logs on standard error: `RUST_LOG` filters (default `info` for the
/// services, `warn` for one-shot commands); `--log-format json` for log collectors.
fn init_logs(cli: &Cli) {
    use std::io::IsTerminal;
    let service = matches!(
        cli.command,
        Cmd::Serve { .. } | Cmd::Api { .. } | Cmd::Project { .. }
    );
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if service { "info" } else { "warn" })
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per event, with the span fields (negotiation_id...).
    Json,
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands that need no store at all.
    match &cli.command {
        Cmd::Verify {
            file: Some(file),
            json,
            checkpoint,
            log_key,
            ..
        } => {
            let anchor = match log_key {
                Some(key) => Some(checkpoint::anchor(checkpoint, key)?),
                None => None,
            };
            return audit::verify_file(file, anchor.as_ref(), *json);
        }
        Cmd::Keys(KeysCmd::Generate) => return audit::generate_key(),
        Cmd::Keys(KeysCmd::LogGenerate { name, key_file }) => {
            return checkpoint::generate(name, key_file);
        }
        Cmd::Keys(KeysCmd::LogRotate { key_file }) => return checkpoint::rotate(key_file),
        Cmd::Keys(KeysCmd::WitnessGenerate { name, key_file }) => {
            return checkpoint::generate_witness(name, key_file);
        }
        Cmd::Witness(args) => return witness::run(args).await,
        Cmd::Token(TokenCmd::Issue(args)) => {
            let code = services::issue_token(args)?;
            if let (Some(negotiation), Some(partner)) = (args.negotiation(), args.partner()) {
                warn_if_never_admitted(&cli, negotiation, partner).await;
            }
            return Ok(code);
        }
        _ => {}
    }
    let nats_url = cli.nats_url.as_deref().filter(|u| !u.trim().is_empty());
    // Only an import may create the embedded store; reads never leave a file behind.
    let create = matches!(
        cli.command,
        Cmd::Init { .. }
            | Cmd::Import { .. }
            | Cmd::ImportExport { .. }
            | Cmd::Serve { .. }
            | Cmd::Api { .. }
            | Cmd::Project { .. }
    );
    if let Cmd::View { negotiation_id, .. } | Cmd::Events { negotiation_id, .. } = &cli.command {
        negotiation(negotiation_id)?;
    }
    let log = backend::LogOptions {
        allow_new_log: cli.allow_new_log || matches!(cli.command, Cmd::Init { force: true }),
        expected: cli.log_id,
    };
    let created_by = if matches!(cli.command, Cmd::Init { .. }) {
        "init"
    } else {
        "first start"
    };
    let nats_config = cli.nats.config(cli.replicas)?;
    // A dry run where no embedded store exists yet judges every line against an empty
    // one in a scratch directory, removed afterwards: it records nothing, so it leaves
    // no store and no log identity behind.
    let scratch = match &cli.command {
        Cmd::Import { dry_run: true, .. }
            if nats_url.is_none()
                && !cli.data_dir.join(roundtable_sqlite::DB_FILE_NAME).exists() =>
        {
            Some(tempfile::tempdir().context("cannot make a scratch directory for the dry run")?)
        }
        _ => None,
    };
    let data_dir = scratch
        .as_ref()
        .map_or_else(|| cli.data_dir.clone(), |d| d.path().to_path_buf());
    let created_by = if scratch.is_some() {
        "dry run"
    } else {
        created_by
    };
    let Some(backend) =
        Backend::open(nats_url, &data_dir, nats_config, create, &log, created_by).await?
    else {
        eprintln!(
            "error: there is no embedded store in {} yet: nothing has been imported there (see --data-dir)",
            cli.data_dir.display()
        );
        return Ok(ExitCode::from(1));
    };
    let backend = backend.with_limits(cli.negotiation_limits.limits());
    match cli.command {
        Cmd::Init { .. } => {
            let Some(identity) = backend.identity() else {
                anyhow::bail!("internal: {} has a log but no identity", backend.describe());
            };
            println!(
                "event log {} of {} (made by {} at {})",
                identity.log_id,
                backend.describe(),
                identity.created_by,
                identity.created_at.to_rfc3339()
            );
            println!("ROUNDTABLE_LOG_ID={}", identity.log_id);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Import {
            file,
            keep_going,
            dry_run,
        } => {
            let mode = if dry_run {
                import::Mode::DryRun
            } else {
                import::Mode::Record
            };
            import::run(&backend, &file, keep_going, mode).await
        }
        Cmd::List { json } => list(&backend, json).await,
        Cmd::View {
            negotiation_id,
            json,
            as_of_version,
            as_of,
            time,
            today,
        } => {
            let id = negotiation(&negotiation_id)?;
            let at = match (as_of_version, as_of) {
                (Some(n), _) => roundtable_app::AsOf::Version(n),
                (None, Some(t)) => {
                    let axis = match time {
                        Clock::Occurred => roundtable_audit::TimeAxis::Occurred,
                        Clock::Recorded => roundtable_audit::TimeAxis::Recorded,
                    };
                    roundtable_app::AsOf::Time(audit::parse_time("--as-of", &t)?, axis)
                }
                (None, None) => roundtable_app::AsOf::Now,
            };
            let point = match roundtable_app::history::view_as_of(&**backend.store(), &id, at).await
            {
                Ok(point) => point,
                Err(e) => return audit::not_found(&backend, e),
            };
            let text = if json {
                if let Some(late) = audit::late_entries(&point) {
                    eprintln!("note: {late}");
                }
                serde_json::to_string_pretty(&point.view)? + "\n"
            } else {
                let head = audit::describe(&point)
                    .map(|h| format!("{h}\n"))
                    .unwrap_or_default();
                let view = &point.view;
                let in_force = if view.status
                    == roundtable_domain::view::NegotiationStatus::Renegotiating
                {
                    roundtable_app::history::in_force_view(&**backend.store(), &id, view.version)
                        .await?
                } else {
                    None
                };
                let reading = render::Reading {
                    today: today.unwrap_or_else(|| chrono::Utc::now().date_naive()),
                    today_given: today.is_some(),
                    in_force: in_force.as_ref(),
                };
                head + &render::agreement(view, &reading)
            };
            quiet_on_closed_pipe(std::io::stdout().lock().write_all(text.as_bytes()))
        }
        Cmd::Diff {
            negotiation_id,
            from,
            to,
            json,
        } => audit::diff(&backend, &negotiation(&negotiation_id)?, from, to, json).await,
        Cmd::Export {
            negotiation_id,
            output,
        } => audit::export(&backend, &negotiation(&negotiation_id)?, output.as_deref()).await,
        Cmd::Verify {
            negotiation: Some(id),
            json,
            ..
        } => audit::verify_live(&backend, &negotiation(&id)?, json).await,
        Cmd::Verify { .. } => anyhow::bail!("give an export file, or --negotiation ID"),
        Cmd::Report {
            negotiation_id,
            output,
        } => audit::report(&backend, &negotiation(&negotiation_id)?, output.as_deref()).await,
        Cmd::ExportOcds(args) => ocds::export(&backend, &args).await,
        Cmd::ImportExport {
            file,
            checkpoint,
            log_key,
        } => {
            let anchor = match &log_key {
                Some(key) => Some(checkpoint::anchor(&checkpoint, key)?),
                None => None,
            };
            audit::import_export(&backend, &file, anchor.as_ref()).await
        }
        Cmd::Keys(KeysCmd::Sign {
            negotiation_id,
            secret_file,
        }) => audit::sign_agreement(&backend, &negotiation(&negotiation_id)?, &secret_file).await,
        Cmd::Keys(KeysCmd::Generate) => audit::generate_key(),
        Cmd::Keys(KeysCmd::LogGenerate { name, key_file }) => {
            checkpoint::generate(&name, &key_file)
        }
        Cmd::Keys(KeysCmd::LogRotate { key_file }) => checkpoint::rotate(&key_file),
        Cmd::Keys(KeysCmd::WitnessGenerate { name, key_file }) => {
            checkpoint::generate_witness(&name, &key_file)
        }
        Cmd::Witness(args) => witness::run(&args).await,
        Cmd::Checkpoint {
            negotiation_id,
            log_key,
            size,
            output,
        } => {
            checkpoint::checkpoint(
                &backend,
                &negotiation(&negotiation_id)?,
                &log_key,
                size,
                output.as_deref(),
            )
            .await
        }
        Cmd::Prove {
            negotiation_id,
            inclusion,
            size,
            consistency,
        } => {
            checkpoint::prove(
                &backend,
                &negotiation(&negotiation_id)?,
                inclusion,
                size,
                consistency.as_deref(),
            )
            .await
        }
        Cmd::Token(TokenCmd::Issue(_)) => unreachable_token(),
        Cmd::Token(TokenCmd::Revoke { jti, reason }) => {
            services::revoke_token(&backend, &jti, reason.as_deref()).await
        }
        Cmd::Token(TokenCmd::Revoked) => services::list_revoked(&backend).await,
        Cmd::Serve {
            listen,
            auth,
            webhooks,
            checkpoints,
            http,
        } => services::serve(&backend, listen, &auth, &webhooks, &http, &checkpoints).await,
        Cmd::Api {
            listen,
            auth,
            webhooks,
            checkpoints,
            http,
        } => services::api(&backend, listen, &auth, &webhooks, &http, &checkpoints).await,
        Cmd::Project {
            rebuild,
            once,
            status,
        } => {
            let mode = if rebuild {
                services::ProjectMode::Rebuild
            } else if once {
                services::ProjectMode::Once
            } else if status {
                services::ProjectMode::Status
            } else {
                services::ProjectMode::Follow
            };
            services::project(&backend, mode).await
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
            let mut chain = roundtable_domain::Projection::new();
            let mut broken = None;
            let mut written = Ok(());
            for e in &events {
                if let Err(err) = chain.apply(e) {
                    broken = Some(err);
                    break;
                }
                written = if json {
                    render::write_json_line(&mut out, e)
                } else {
                    render::write_event_line(&mut out, e)
                };
                if written.is_err() {
                    break;
                }
            }
            if let Some(err) = broken {
                let _ = out.flush();
                eprintln!(
                    "error: the event chain of {id} is broken after {} verified events: {err}",
                    chain.version
                );
                return Ok(ExitCode::from(1));
            }
            // Say what was checked: on standard output beside the text, on standard
            // error beside JSON lines (which stay one event each).
            let verified = format!(
                "chain verified: {} events (versions 1 to {} gapless, every hash and link checked)",
                events.len(),
                chain.version
            );
            let written = if json {
                eprintln!("{verified}");
                written
            } else {
                written.and_then(|()| writeln!(out, "{verified}"))
            };
            let written = written.and_then(|()| out.flush());
            quiet_on_closed_pipe(written)
        }
    }
}

async fn list(backend: &Backend, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    for id in backend.store().negotiations().await? {
        let Some(view) = backend.load(&id).await?.view else {
            continue;
        };
        if json {
            let row = serde_json::json!({
                "negotiation_id": view.negotiation_id,
                "title": view.title,
                "service": view.service,
                "status": view.status,
                "version": view.version,
                "agreement_version": view.agreement_version,
            });
            out.push_str(&row.to_string());
            out.push('\n');
        } else {
            let status = view.status.as_str();
            out.push_str(&format!(
                "{:<24} {status:<10} {:>7} events  agreement v{:<4} {}\n",
                view.negotiation_id, view.version, view.agreement_version, view.title
            ));
        }
    }
    if out.is_empty() && !json {
        out.push_str("no negotiations recorded yet\n");
    }
    quiet_on_closed_pipe(std::io::stdout().lock().write_all(out.as_bytes()))
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

/// `token issue` is answered before any store is opened.
fn unreachable_token() -> anyhow::Result<ExitCode> {
    anyhow::bail!("internal: token issue is handled before the store is opened")
}

/// How long `token issue` waits for the store to say whether a partner was admitted.
const ADMISSION_CHECK_FOR: std::time::Duration = std::time::Duration::from_secs(3);

/// Warns on standard error when the store the global options select can tell that
/// `partner` was never admitted in `negotiation` (or that the negotiation has no
/// events): a token for it would be refused on every command. Silent when the store
/// cannot tell (no embedded store there, NATS unreachable within a few seconds): a
/// token may well be minted before the partner is admitted, or on another machine.
async fn warn_if_never_admitted(cli: &Cli, negotiation: &str, partner: &str) {
    let (Ok(negotiation), Ok(partner)) = (
        NegotiationId::new(negotiation),
        roundtable_domain::PartnerId::new(partner),
    ) else {
        return;
    };
    let nats_url = cli.nats_url.as_deref().filter(|u| !u.trim().is_empty());
    let look = async {
        let log = backend::LogOptions {
            allow_new_log: false,
            expected: cli.log_id,
        };
        let nats = cli.nats.config(cli.replicas).ok()?;
        let backend = Backend::open(nats_url, &cli.data_dir, nats, false, &log, "")
            .await
            .ok()??;
        let projection = backend.load(&negotiation).await.ok()?;
        let admitted = projection
            .view
            .as_ref()
            .map(|v| v.partners.contains_key(&partner));
        Some((backend.describe(), admitted))
    };
    match tokio::time::timeout(ADMISSION_CHECK_FOR, look).await {
        Ok(Some((store, None))) => eprintln!(
            "warning: negotiation {negotiation} has no recorded events in {store}: the token is issued, but partner {partner} cannot act there until it is opened and the partner admitted"
        ),
        Ok(Some((store, Some(false)))) => eprintln!(
            "warning: partner {partner} was never admitted in negotiation {negotiation} ({store}): the token is issued, but its commands will be refused until the secretariat admits it"
        ),
        _ => {}
    }
}
