//! Replay at scale: reading, rebuilding and commanding inside a big stream, and
//! `import` through the binary.
//!
//! Figures (each NATS one once per fsync mode; the embedded ones once, with the default
//! pass):
//! - `raw.read`: a raw ordered consumer reading the whole event stream;
//! - `rebuild.nats`: `roundtable project --rebuild` over that stream, as a process,
//!   against `raw.read` (target 0.5), and `memory.rebuild.rss`, its peak RSS;
//! - `command.cold`: one command on a negotiation of `cold_negotiation` events inside
//!   the big stream, by a fresh store connection and command handler (load, decide,
//!   append), against `raw.cold` (target 1.0: no slower); `command.warm`: the next
//!   command on the same handler; `raw.cold`: an ordered consumer reading that many
//!   messages of one subject, plus one publish expecting the subject's last sequence;
//! - `import.nats`: `roundtable import` of an `import_lines` minutes file, as a
//!   process, against `raw.publish.sequential` (target 0.8);
//! - `import.sqlite`, `rebuild.sqlite`, `memory.rebuild.sqlite.rss`: the same on the
//!   embedded store.
//!
//! The big stream ([`big`]) is filled once, by the first pass; the next pass (the
//! server restarted on the same store) finds it and reuses it.

mod big;
mod child;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::HeaderMap;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures::StreamExt;
use roundtable_app::{CommandHandler, Handled};
use roundtable_domain::NegotiationId;
use roundtable_nats::{NatsBuckets, NatsConfig, NatsStore};
use roundtable_projector::KvViewStore;
use roundtable_projector::ViewStore;
use roundtable_sqlite::SqliteStore;
use roundtable_store::EventStore;

use self::big::{Filled, Plan};
use crate::consultation::Consultation;
use crate::{Figure, Fsync, Report, Setup};

/// The event stream `NatsStore` keeps.
const STREAM: &str = "ROUNDTABLE_EVENTS";

/// Cold commands (and raw cold reads) measured per pass; the median is reported.
const REPS: usize = 5;

/// How long a raw read waits for its next message before giving up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Measures every replay figure under `setup.fsync`, against the server at
/// `setup.nats_url`; with [`Fsync::Default`], the embedded store's too.
///
/// # Errors
/// When the server or the binary fails, or a result is not what the rules give (a
/// command not recorded, an import rejecting a line, a rebuilt view unlike the fold).
pub async fn run(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    let plan = Plan::new(&setup.scale);
    let url = setup.nats_url.as_str();
    let filled = big::fill(url, plan).await?;
    let filled_now = matches!(filled, Filled::Now(..));
    let fill = match filled {
        Filled::Already => "filled by an earlier pass".to_owned(),
        Filled::Now(n, took) => format!(
            "filled now: {n} events in {:.1} s, {:.0} events/s (generated on 2 threads, pipelined publishes)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        ),
    };
    let stream_note = format!(
        "stream of {} negotiations x {} events, interleaved in groups of 50 negotiations; {fill}",
        plan.negotiations, plan.size
    );

    let (messages, took) = raw_read(url).await?;
    report.add(
        Figure::rate(
            "raw.read",
            "raw ordered consumer reading the whole event stream (no decoding)",
            setup.fsync,
            per_second(messages, took),
            "events/s",
        )
        .note(format!("{messages} messages; {stream_note}")),
    );

    if filled_now {
        first_projection(setup, report).await?;
    }
    rebuild_nats(setup, report, plan, messages).await?;
    cold(setup, report, plan).await?;
    import_nats(setup, report).await?;
    if setup.fsync == Fsync::Default {
        embedded(setup, report, plan).await?;
    }
    Ok(())
}

/// Reads the whole event stream with an ordered consumer, up to its last sequence when
/// the read starts: (messages, time).
async fn raw_read(url: &str) -> anyhow::Result<(u64, Duration)> {
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js.get_stream(STREAM).await?;
    let last = stream.info().await?.state.last_sequence;
    let started = Instant::now();
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let mut n = 0;
    while let Some(message) = tokio::time::timeout(READ_TIMEOUT, messages.next()).await? {
        n += 1;
        if message?.info().map_err(anyhow::Error::msg)?.stream_sequence >= last {
            break;
        }
    }
    let took = started.elapsed();
    client.drain().await.ok();
    Ok((n, took))
}

/// The first projection of the freshly filled stream (`project --once`): every view
/// made and every change announced, as when the events were first recorded. A
/// rebuild after it announces nothing again, as in production.
async fn first_projection(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    let run = child::run(
        &setup.roundtable,
        ["--nats-url", setup.nats_url.as_str(), "project", "--once"],
    )
    .await?;
    let stats = Stats::parse(&run.stdout)?;
    let events = stats.applied + stats.skipped + stats.parked;
    report.add(
        Figure::rate(
            "project.first.nats",
            "first projection of the whole stream (`roundtable project --once`), announcing every change",
            setup.fsync,
            per_second(events, run.elapsed),
            "events/s",
        )
        .against("raw.read", None)
        .note(format!(
            "{events} entries ({} applied, {} parked) in {:.1} s, process start to exit; peak RSS {:.0} MiB",
            stats.applied,
            stats.parked,
            run.elapsed.as_secs_f64(),
            mib(run.peak_kib)
        )),
    );
    Ok(())
}

/// `project --rebuild` over the whole stream, then checks one rebuilt view against the
/// fold of its log.
async fn rebuild_nats(
    setup: &Setup,
    report: &mut Report,
    plan: Plan,
    messages: u64,
) -> anyhow::Result<()> {
    let url = setup.nats_url.as_str();
    let run = child::run(
        &setup.roundtable,
        ["--nats-url", url, "project", "--rebuild"],
    )
    .await?;
    let stats = Stats::parse(&run.stdout)?;
    let events = stats.applied + stats.skipped + stats.parked;
    report.add(
        Figure::rate(
            "rebuild.nats",
            "`roundtable project --rebuild` of every view from the whole stream, as a process",
            setup.fsync,
            per_second(events, run.elapsed),
            "events/s",
        )
        .against("raw.read", Some(0.5))
        .note(format!(
            "{events} entries ({} applied, {} skipped, {} parked; raw read {messages}) in {:.1} s, process start to exit",
            stats.applied,
            stats.skipped,
            stats.parked,
            run.elapsed.as_secs_f64()
        )),
    );
    report.add(
        Figure::cost(
            "memory.rebuild.rss",
            "peak RSS of `roundtable project --rebuild` over the whole stream",
            setup.fsync,
            mib(run.peak_kib),
            "MiB",
        )
        .note(format!(
            "VmHWM sampled every 10 ms; {} negotiations",
            plan.negotiations
        )),
    );

    let store = Arc::new(NatsStore::connect(url, NatsConfig::default()).await?);
    let views = KvViewStore::open(&NatsBuckets::new(store.clone())).await?;
    let id = big::id(plan, plan.negotiations / 2)?;
    let folded = roundtable_app::load(&*store, &id).await?;
    let stored = views
        .get(&id)
        .await?
        .with_context(|| format!("no view of {id} after the rebuild"))?;
    anyhow::ensure!(
        serde_json::to_value(&stored.view)? == serde_json::to_value(&folded.view)?,
        "the rebuilt view of {id} differs from the fold of its log"
    );
    store.drain().await.ok();
    Ok(())
}

/// The counts `project --once` and `--rebuild` print as their last line.
#[derive(Debug, serde::Deserialize)]
struct Stats {
    applied: u64,
    skipped: u64,
    parked: u64,
}

impl Stats {
    fn parse(stdout: &str) -> anyhow::Result<Stats> {
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .context("`project` printed nothing")?;
        serde_json::from_str(line).with_context(|| format!("`project` printed {line:?}"))
    }
}

/// Cold and warm commands on negotiations of the big stream, and their raw counterpart.
async fn cold(setup: &Setup, report: &mut Report, plan: Plan) -> anyhow::Result<()> {
    let url = setup.nats_url.as_str();
    let wanted = (2 * REPS).min(plan.negotiations);
    let candidates = untouched(url, plan, wanted).await?;
    anyhow::ensure!(
        candidates.len() >= 2,
        "fewer than 2 negotiations of the big stream are still at {} events",
        plan.size
    );
    let (mut commands, mut warm, mut raw, mut connects) = (vec![], vec![], vec![], vec![]);
    for pair in candidates.chunks_exact(2) {
        let (c, w, connect) = command_cold(url, plan, pair[0]).await?;
        commands.push(c);
        warm.push(w);
        connects.push(connect);
        raw.push(raw_cold(url, plan, pair[1]).await?);
    }
    let reps = commands.len();
    let sizes = format!(
        "{} events of one negotiation inside a stream of {} or more; median of {reps}, each on another negotiation of that size",
        plan.size,
        plan.events()
    );
    report.add(
        Figure::cost(
            "raw.cold",
            "raw: ordered consumer reading one negotiation's subject, plus one publish expecting its last sequence",
            setup.fsync,
            millis(median(raw)),
            "ms",
        )
        .note(format!("{sizes}; fresh connection (connecting not timed)")),
    );
    report.add(
        Figure::cost(
            "command.cold",
            "cold command: fresh NatsStore and CommandHandler load, decide and append",
            setup.fsync,
            millis(median(commands)),
            "ms",
        )
        .against("raw.cold", Some(1.0))
        .note(format!(
            "{sizes}; connecting (not timed) took a median {:.1} ms",
            millis(median(connects))
        )),
    );
    report.add(
        Figure::cost(
            "command.warm",
            "warm command: the next command on the same handler",
            setup.fsync,
            millis(median(warm)),
            "ms",
        )
        .note(format!("median of {reps}")),
    );
    Ok(())
}

/// Up to `wanted` negotiations of the plan still at exactly `plan.size` events (no
/// earlier pass commanded them), from the middle of the stream on.
async fn untouched(url: &str, plan: Plan, wanted: usize) -> anyhow::Result<Vec<usize>> {
    let store = NatsStore::connect(url, NatsConfig::default()).await?;
    let start = plan.negotiations / 2;
    let mut found = Vec::new();
    for k in 0..plan.negotiations {
        if found.len() >= wanted {
            break;
        }
        let i = (start + k) % plan.negotiations;
        if store.last_version(&big::id(plan, i)?).await? == plan.size as u64 {
            found.push(i);
        }
    }
    store.drain().await.ok();
    Ok(found)
}

/// A cold then a warm command on negotiation `i`: (cold, warm, connecting).
async fn command_cold(
    url: &str,
    plan: Plan,
    i: usize,
) -> anyhow::Result<(Duration, Duration, Duration)> {
    let next = plan.consultation(i).commands().split_off(plan.size);
    let started = Instant::now();
    let store = Arc::new(NatsStore::connect(url, NatsConfig::default()).await?);
    let connect = started.elapsed();
    let handler = CommandHandler::new(store.clone());
    let mut took = Vec::new();
    for (k, cmd) in next.iter().enumerate() {
        let started = Instant::now();
        let handled = handler.handle(cmd).await?;
        took.push(started.elapsed());
        anyhow::ensure!(
            matches!(&handled, Handled::Recorded(e) if e.version == (plan.size + k + 1) as u64),
            "{}: the command after version {} was not recorded as the next version: {handled:?}",
            plan.id(i),
            plan.size + k
        );
    }
    store.drain().await.ok();
    Ok((took[0], took[1], connect))
}

/// The raw counterpart on negotiation `i`: read its subject with an ordered consumer to
/// the end, then publish its next event (sealed beforehand, not timed) expecting the
/// last sequence read.
async fn raw_cold(url: &str, plan: Plan, i: usize) -> anyhow::Result<Duration> {
    let sealed = plan.negotiation(i, plan.size + 1)?;
    let next = sealed.last().context("no events")?;
    let payload = bytes::Bytes::from(next.to_bytes());
    let subject = format!("roundtable.events.{}", plan.id(i));
    let msg_id = format!("{}:{}", next.negotiation_id, next.command_id);
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client.clone());
    let stream = js.get_stream_no_info(STREAM).await?;

    let started = Instant::now();
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: subject.clone(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    let (mut n, mut last) = (0, 0);
    while let Some(message) = tokio::time::timeout(READ_TIMEOUT, messages.next()).await? {
        let message = message?;
        let info = message.info().map_err(anyhow::Error::msg)?;
        n += 1;
        last = info.stream_sequence;
        if info.pending == 0 {
            break;
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id.as_str());
    headers.insert(
        "Nats-Expected-Last-Subject-Sequence",
        last.to_string().as_str(),
    );
    let ack = js
        .publish_with_headers(subject.clone(), headers, payload)
        .await?
        .await?;
    let took = started.elapsed();

    anyhow::ensure!(
        n == plan.size && !ack.duplicate,
        "{subject}: read {n} messages (expected {}), duplicate ack: {}",
        plan.size,
        ack.duplicate
    );
    client.drain().await.ok();
    Ok(took)
}

/// `roundtable --nats-url URL import FILE`.
async fn import_nats(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    let url = setup.nats_url.as_str();
    let store = NatsStore::connect(url, NatsConfig::default()).await?;
    let base = format!("import-{}", setup.fsync.label());
    let mut id = base.clone();
    for k in 2.. {
        let nid = NegotiationId::new(id.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
        if store.last_version(&nid).await? == 0 {
            break;
        }
        id = format!("{base}-{k}");
    }
    store.drain().await.ok();
    let lines = setup.scale.import_lines;
    let file = minutes(&setup.work_dir, &id, lines)?;
    let run = child::run(
        &setup.roundtable,
        [
            "--nats-url".as_ref(),
            url.as_ref(),
            "import".as_ref(),
            file.as_os_str(),
        ],
    )
    .await?;
    imported(&run.stdout, lines)?;
    report.add(
        Figure::rate(
            "import.nats",
            "`roundtable import` of a minutes file, as a process",
            setup.fsync,
            per_second(lines as u64, run.elapsed),
            "lines/s",
        )
        .against("raw.publish.sequential", Some(0.8))
        .note(format!(
            "{lines} lines, one negotiation, 2,000 partners at full scale; {:.1} s process start to exit",
            run.elapsed.as_secs_f64()
        )),
    );
    Ok(())
}

/// Writes the minutes of negotiation `id`, `lines` lines, into `dir`.
fn minutes(dir: &Path, id: &str, lines: usize) -> anyhow::Result<std::path::PathBuf> {
    let (partners, statements) = if lines >= 45_000 {
        (2_000, 400)
    } else {
        ((lines / 20).max(1), (lines / 25).max(2))
    };
    let file = dir.join(format!("replay-{id}.jsonl"));
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        &file,
        Consultation::new(id, partners, statements, lines).text(),
    )
    .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(file)
}

/// Checks `import`'s summary: every line applied.
fn imported(stdout: &str, lines: usize) -> anyhow::Result<()> {
    let expected = format!(": {lines} applied, 0 already recorded, 0 rejected");
    anyhow::ensure!(
        stdout.contains(&expected),
        "import did not apply every line ({expected:?} not in its output):\n{stdout}"
    );
    Ok(())
}

/// The embedded store: `import`, then a fill from the big stream's plan, then
/// `project --rebuild` over both.
async fn embedded(setup: &Setup, report: &mut Report, plan: Plan) -> anyhow::Result<()> {
    let dir = setup.work_dir.join("replay-sqlite");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let lines = setup.scale.import_lines;
    let file = minutes(&setup.work_dir, "import-sqlite", lines)?;
    let data_dir = ["--data-dir".as_ref(), dir.as_os_str()];
    let run = child::run(
        &setup.roundtable,
        data_dir
            .iter()
            .copied()
            .chain(["import".as_ref(), file.as_os_str()]),
    )
    .await?;
    imported(&run.stdout, lines)?;
    report.add(
        Figure::rate(
            "import.sqlite",
            "`roundtable import` of a minutes file into the embedded store, as a process",
            Fsync::NotNats,
            per_second(lines as u64, run.elapsed),
            "lines/s",
        )
        .note(format!(
            "{lines} lines, one negotiation; {:.1} s process start to exit",
            run.elapsed.as_secs_f64()
        )),
    );

    let negotiations = (plan.negotiations / 10).max(1);
    let (events, took) = fill_sqlite(&dir, plan, negotiations).await?;
    let run = child::run(
        &setup.roundtable,
        data_dir
            .iter()
            .copied()
            .chain(["project".as_ref(), "--rebuild".as_ref()]),
    )
    .await?;
    let stats = Stats::parse(&run.stdout)?;
    let entries = stats.applied + stats.skipped + stats.parked;
    anyhow::ensure!(
        entries == (lines + events) as u64,
        "the embedded rebuild saw {entries} entries, not {}",
        lines + events
    );
    report.add(
        Figure::rate(
            "rebuild.sqlite",
            "`roundtable project --rebuild` of every view of the embedded store, as a process",
            Fsync::NotNats,
            per_second(entries, run.elapsed),
            "events/s",
        )
        .note(format!(
            "{entries} events: the {lines}-line import, then {negotiations} negotiations x {} events appended in-process in rounds of 50 versions each ({:.1} s); {:.1} s process start to exit",
            plan.size,
            took.as_secs_f64(),
            run.elapsed.as_secs_f64()
        )),
    );
    report.add(Figure::cost(
        "memory.rebuild.sqlite.rss",
        "peak RSS of `roundtable project --rebuild` on the embedded store",
        Fsync::NotNats,
        mib(run.peak_kib),
        "MiB",
    ));
    Ok(())
}

/// Appends the first `negotiations` negotiations of the plan to the embedded store in
/// `dir`, 50 versions of each in turn: (events, time).
async fn fill_sqlite(
    dir: &Path,
    plan: Plan,
    negotiations: usize,
) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    let store = SqliteStore::open_in_dir(dir)?;
    let dir = dir.to_owned();
    let mut events = 0;
    for first in (0..negotiations).step_by(50) {
        let range = first..(first + 50).min(negotiations);
        let sealed = tokio::task::spawn_blocking(move || {
            range
                .map(|i| plan.negotiation(i, plan.size))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .await??;
        for from in (0..plan.size).step_by(50) {
            for negotiation in &sealed {
                let chunk = &negotiation[from..(from + 50).min(plan.size)];
                store
                    .append_batch(chunk)
                    .await
                    .with_context(|| format!("appending to {}", dir.display()))?;
                events += chunk.len();
            }
        }
    }
    drop(store);
    Ok((events, started.elapsed()))
}

fn per_second(n: u64, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64().max(1e-9)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn mib(kib: Option<u64>) -> f64 {
    kib.unwrap_or(0) as f64 / 1024.0
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}
