//! Roundtable through its HTTP API: the `roundtable` binary's `serve` (API, projector
//! and webhook worker in one process) started as a child process on a free loopback
//! port, with HS256 tokens, driven by a keep-alive HTTP/1.1 client.
//!
//! On NATS, under each fsync mode: sequential commands on one negotiation, concurrent
//! commands over many negotiations, the time from a command's request to its change
//! notification at a fixed offered load, and the peak memory of `serve` holding many
//! negotiations. Once (under the default fsync), the first two on the embedded store.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::StreamExt;
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, ETAG};
use roundtable_api::{AuthConfig, TokenRole};
use roundtable_domain::{NegotiationId, PartnerId};
use serde_json::{Map, Value};
use tokio::process::{Child, Command};

use crate::consultation::Consultation;
use crate::workload;
use crate::{Figure, Fsync, Report, Setup};

/// The HS256 secret `serve` verifies tokens with (HS256 is the cheapest to verify).
const SECRET: &str = "roundtable-bench-hs256-secret-not-for-production-use";

/// Failed commands tolerated in one workload before the module fails.
const MAX_FAILED: usize = 5;

/// How long `serve` may take to answer `/readyz` and to catch its projector up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long the import of the memory workload's negotiations may take.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long the latency workload waits for notifications after the last answer: at
/// most this long in all, and no longer than [`STRAGGLER_SILENCE`] without a new one.
const STRAGGLER_WAIT: Duration = Duration::from_secs(120);

/// See [`STRAGGLER_WAIT`].
const STRAGGLER_SILENCE: Duration = Duration::from_secs(5);

/// Commands per second each negotiation of the latency workload gets.
const LATENCY_RATE_PER_NEGOTIATION: u32 = 20;

/// Runs the HTTP figures under `setup.fsync` on NATS, and under the default fsync also
/// on the embedded store.
///
/// # Errors
/// When `serve` cannot be started or does not get ready, or more than a few commands
/// of a workload fail (the first failures are named).
pub async fn run(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    let tag = format!("{}-{}", setup.fsync.label(), run_id());
    let client = client(setup.scale.concurrency)?;
    let auth = AuthConfig::hs256(SECRET.as_bytes()).context("the bench HS256 secret")?;
    let mut tokens = Tokens::new(auth)?;

    // Throughput through `roundtable api`: the command path alone, as deployed beside
    // a projector process (which may run on another machine). The latency figure
    // needs notifications, so it runs on `serve` (API and projector in one process).
    let api = Serve::start(
        setup,
        Backend::Nats,
        Process::Api,
        &format!("api-nats-{tag}"),
    )
    .await?;
    let settled = api.settle(&client).await?;
    let fsync = setup.fsync;
    let nats = Target {
        client: &client,
        serve: &api,
        fsync,
        store: "nats",
        settled,
    };
    sequential(&nats, setup, &tag, &mut tokens, report).await?;
    concurrent(&nats, setup, &tag, &mut tokens, report).await?;
    api.stop().await;

    let serve = Serve::start(
        setup,
        Backend::Nats,
        Process::Serve,
        &format!("serve-nats-{tag}"),
    )
    .await?;
    // The latency figure must not wait behind the throughput workloads' backlog.
    let backlog = serve.settle(&client).await?;
    let nats = Target {
        client: &client,
        serve: &serve,
        fsync,
        store: "nats",
        settled: backlog,
    };
    latency(&nats, setup, &tag, backlog, &mut tokens, report).await?;
    serve.stop().await;

    if fsync == Fsync::Default {
        let dir = setup.work_dir.join(format!("http-embedded-{tag}"));
        let api = Serve::start(
            setup,
            Backend::Embedded(dir),
            Process::Api,
            &format!("api-sqlite-{tag}"),
        )
        .await?;
        let settled = api.settle(&client).await?;
        let sqlite = Target {
            client: &client,
            serve: &api,
            fsync: Fsync::NotNats,
            store: "sqlite",
            settled,
        };
        sequential(&sqlite, setup, &tag, &mut tokens, report).await?;
        concurrent(&sqlite, setup, &tag, &mut tokens, report).await?;
        api.stop().await;
    }
    // Last: it fills the stream with many negotiations.
    memory(setup, &client, &tag, &mut tokens, report).await
}

/// A running `serve` and how the figures measured on it are labelled.
struct Target<'a> {
    client: &'a reqwest::Client,
    serve: &'a Serve,
    fsync: Fsync,
    /// `nats` or `sqlite`: the middle of the figures' keys.
    store: &'static str,
    /// How long `serve` took to get ready and catch its projector up.
    settled: Duration,
}

impl Target<'_> {
    fn key(&self, what: &str) -> String {
        format!("http.{}.{what}", self.store)
    }

    /// Compared with the raw NATS figure `raw`: against `target` on NATS; on the
    /// embedded store with no target (the ratio is to raw NATS under default fsync).
    fn against(&self, figure: Figure, raw: &str, target: f64) -> Figure {
        let target = (self.fsync != Fsync::NotNats).then_some(target);
        figure.against(raw, target)
    }
}

/// `http.<store>.sequential`: one negotiation's commands, one request at a time.
async fn sequential(
    target: &Target<'_>,
    setup: &Setup,
    tag: &str,
    tokens: &mut Tokens,
    report: &mut Report,
) -> anyhow::Result<()> {
    let consultation = workload::sequential(&setup.scale, &format!("http-{}", target.store), tag);
    let requests = requests(&consultation, &target.serve.base, tokens)?;
    let count = requests.len();
    let mut tally = Tally::default();
    let before = ServerTimes::scrape(target.client, target.serve).await;
    let started = Instant::now();
    for request in requests {
        tally.record(send(target.client, request).await);
        if tally.failed > MAX_FAILED {
            break;
        }
    }
    let elapsed = started.elapsed();
    let after = ServerTimes::scrape(target.client, target.serve).await;
    tally.check(&target.key("sequential"), target.serve)?;
    let rate = tally.ok as f64 / elapsed.as_secs_f64();
    let figure = Figure::rate(
        &target.key("sequential"),
        "commands through POST /v1/negotiations/{id}/commands of `roundtable api`, one at a time on one negotiation",
        target.fsync,
        rate,
        "commands/s",
    )
    .note(format!(
        "{count} commands on one negotiation, one HTTP/1.1 keep-alive connection, a partner or secretariat HS256 token each; {:.0} us a command end to end{}; {}",
        elapsed.as_secs_f64() * 1e6 / tally.ok.max(1) as f64,
        after.since(&before),
        target.settle_note()
    ));
    report.add(target.against(figure, "raw.publish.sequential", 0.5));
    Ok(())
}

/// `http.<store>.concurrent`: many negotiations' commands from concurrent clients.
async fn concurrent(
    target: &Target<'_>,
    setup: &Setup,
    tag: &str,
    tokens: &mut Tokens,
    report: &mut Report,
) -> anyhow::Result<()> {
    let consultations = workload::concurrent(&setup.scale, &format!("http-{}", target.store), tag);
    let mut streams = Vec::with_capacity(consultations.len());
    for c in &consultations {
        streams.push(requests(c, &target.serve.base, tokens)?);
    }
    let count: usize = streams.iter().map(Vec::len).sum();
    let clients = setup.scale.concurrency.max(1);
    let (tally, elapsed) = in_parallel(target.client, streams, clients).await?;
    tally.check(&target.key("concurrent"), target.serve)?;
    let rate = tally.ok as f64 / elapsed.as_secs_f64();
    let figure = Figure::rate(
        &target.key("concurrent"),
        "commands through the HTTP API of `roundtable api` from concurrent clients over many negotiations",
        target.fsync,
        rate,
        "commands/s",
    )
    .note(format!(
        "{count} commands over {} negotiations from {clients} concurrent keep-alive clients, each negotiation's commands in order",
        consultations.len()
    ));
    report.add(target.against(figure, "raw.publish.concurrent", 0.3));
    Ok(())
}

/// Sends every stream's requests in order from `clients` tasks, round-robin over the
/// streams each task owns (so a task keeps several negotiations going, one request in
/// flight at a time). Returns the tally and the wall time.
async fn in_parallel(
    client: &reqwest::Client,
    streams: Vec<Vec<Request>>,
    clients: usize,
) -> anyhow::Result<(Tally, Duration)> {
    let mut owned: Vec<Vec<Vec<Request>>> = (0..clients).map(|_| Vec::new()).collect();
    for (i, stream) in streams.into_iter().enumerate() {
        owned[i % clients].push(stream);
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for mine in owned.into_iter().filter(|m| !m.is_empty()) {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut iters: Vec<_> = mine.into_iter().map(Vec::into_iter).collect();
            loop {
                let mut sent = false;
                for it in &mut iters {
                    if let Some(request) = it.next() {
                        tally.record(send(&client, request).await);
                        sent = true;
                        if tally.failed > MAX_FAILED {
                            return tally;
                        }
                    }
                }
                if !sent {
                    return tally;
                }
            }
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.context("an HTTP client task failed")?);
    }
    Ok((tally, started.elapsed()))
}

/// `latency.notify.p50/p99/p999`: from a command's scheduled send time to the arrival of
/// its change notification on `roundtable.changes.<negotiation_id>`, at a fixed offered
/// load spread over several negotiations.
async fn latency(
    target: &Target<'_>,
    setup: &Setup,
    tag: &str,
    backlog: Duration,
    tokens: &mut Tokens,
    report: &mut Report,
) -> anyhow::Result<()> {
    let rate = setup.scale.latency_rate.max(1);
    let total = (u64::from(rate) * setup.scale.latency_seconds.max(1)) as usize;
    // Each negotiation gets 20 commands/s (one every 50 ms), and at least 20 commands.
    let negotiations = ((rate / LATENCY_RATE_PER_NEGOTIATION).max(1) as usize)
        .min(total / 20)
        .max(1);
    let per = (total / negotiations).max(20);
    let consultations: Vec<Consultation> = (0..negotiations)
        .map(|i| workload::shaped(&format!("http-lat{i}-{tag}"), per))
        .collect();
    let mut streams = Vec::with_capacity(negotiations);
    for c in &consultations {
        streams.push(requests(c, &target.serve.base, tokens)?);
    }
    let sent_total = negotiations * per;

    // Subscribe first (core NATS: the projector publishes through JetStream, and core
    // subscribers get every message too).
    let nats = async_nats::connect(&setup.nats_url)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", setup.nats_url))?;
    let mut subscriptions = Vec::with_capacity(negotiations);
    for c in &consultations {
        let subject = format!("roundtable.changes.{}", c.negotiation());
        subscriptions.push(
            nats.subscribe(subject.clone())
                .await
                .with_context(|| format!("cannot subscribe to {subject}"))?,
        );
    }
    nats.flush()
        .await
        .context("cannot flush the NATS subscriptions")?;
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let arrived = Arc::new(AtomicUsize::new(0));
    let counter = arrived.clone();
    let listener = tokio::spawn(async move {
        let mut all = futures::stream::select_all(subscriptions);
        let mut seen: HashMap<(String, u64), Instant> = HashMap::new();
        loop {
            tokio::select! {
                message = all.next() => {
                    let Some(message) = message else { break };
                    let at = Instant::now();
                    if let Some(key) = change_key(&message.payload) {
                        seen.entry(key).or_insert(at);
                        counter.store(seen.len(), Ordering::Relaxed);
                    }
                }
                _ = &mut stop_rx => break,
            }
        }
        seen
    });

    // Offer the load: command `j` of negotiation `k` is due at (j * negotiations + k) / rate.
    let start = Instant::now() + Duration::from_millis(200);
    let mut tasks = Vec::with_capacity(negotiations);
    for (k, stream) in streams.into_iter().enumerate() {
        let client = target.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut sent = Vec::with_capacity(stream.len());
            for (j, request) in stream.into_iter().enumerate() {
                let due = start
                    + Duration::from_secs_f64((j * negotiations + k) as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
                let negotiation = request.negotiation.clone();
                let answer = send(&client, request).await;
                if let Ok(version) = &answer {
                    sent.push((negotiation, *version, due));
                }
                tally.record(answer);
                if tally.failed > MAX_FAILED {
                    break;
                }
            }
            (tally, sent)
        }));
    }
    let mut tally = Tally::default();
    let mut sent = Vec::with_capacity(sent_total);
    for task in tasks {
        let (t, s) = task.await.context("a latency client task failed")?;
        tally.merge(t);
        sent.extend(s);
    }
    let offered_for = start.elapsed();
    tally.check("latency.notify", target.serve)?;

    // Wait for the stragglers' notifications (the projector may be behind), as long
    // as they keep coming.
    let waited = Instant::now();
    let mut progress = (arrived.load(Ordering::Relaxed), Instant::now());
    while arrived.load(Ordering::Relaxed) < sent.len() && !listener.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = arrived.load(Ordering::Relaxed);
        if now > progress.0 {
            progress = (now, Instant::now());
        }
        if progress.1.elapsed() > STRAGGLER_SILENCE || waited.elapsed() > STRAGGLER_WAIT {
            break;
        }
    }
    let waited = waited.elapsed();
    let _ = stop_tx.send(());
    let seen = listener.await.context("the notification listener failed")?;
    drop(nats);

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
        .context("cannot make a latency histogram")?;
    let mut missing = 0usize;
    for (negotiation, version, due) in &sent {
        match seen.get(&(negotiation.to_string(), *version)) {
            Some(at) => {
                let micros = at.saturating_duration_since(*due).as_micros();
                histogram.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
            }
            None => missing += 1,
        }
    }
    if missing > MAX_FAILED {
        bail!(
            "latency.notify: {missing} of {} recorded commands got no change notification on roundtable.changes.<id> ({:.1} s after the last answer)",
            sent.len(),
            waited.as_secs_f64()
        );
    }
    let note = format!(
        "{} commands offered open-loop at {rate}/s over {negotiations} negotiations (each one's commands in order, so a command waits for the previous one of its negotiation), answered within {:.1} s (nominal {:.1} s), the last notification {:.1} s later; timed from the command's scheduled send to its notification on a core NATS subscription; {missing} notifications missing; started once the projector had caught up with the concurrent workload ({:.1} s after it)",
        sent.len(),
        offered_for.as_secs_f64(),
        total as f64 / f64::from(rate),
        waited.as_secs_f64(),
        backlog.as_secs_f64(),
    );
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    for (key, q, what) in [
        ("latency.notify.p50", 0.50, "median"),
        ("latency.notify.p99", 0.99, "99th percentile"),
        ("latency.notify.p999", 0.999, "99.9th percentile"),
    ] {
        let mut figure = Figure::cost(
            key,
            &format!("command request to change notification, {what}"),
            target.fsync,
            ms(q),
            "ms",
        )
        .note(note.clone());
        if key == "latency.notify.p99" {
            figure = figure
                .within(5.0)
                .note(format!("{note}; target: under 5 ms at 1,000 commands/s"));
        }
        report.add(figure);
    }
    Ok(())
}

/// The `(negotiation_id, version)` of a change notification.
fn change_key(payload: &[u8]) -> Option<(String, u64)> {
    #[derive(serde::Deserialize)]
    struct Change {
        negotiation_id: String,
        version: u64,
    }
    let change: Change = serde_json::from_slice(payload).ok()?;
    Some((change.negotiation_id, change.version))
}

/// `memory.serve.rss`: peak RSS of a fresh `serve` that has loaded
/// `scale.serve_negotiations` negotiations (imported first), one command each.
async fn memory(
    setup: &Setup,
    client: &reqwest::Client,
    tag: &str,
    tokens: &mut Tokens,
    report: &mut Report,
) -> anyhow::Result<()> {
    let n = setup.scale.serve_negotiations.max(1);
    let ids: Vec<String> = (0..n).map(|i| format!("http-mem{i}-{tag}")).collect();
    let file = setup.work_dir.join(format!("http-memory-{tag}.jsonl"));
    std::fs::write(&file, memory_minutes(&ids))
        .with_context(|| format!("cannot write {}", file.display()))?;
    let imported = Instant::now();
    let import = Command::new(&setup.roundtable)
        .arg("--nats-url")
        .arg(&setup.nats_url)
        .arg("import")
        .arg(&file)
        .env_remove("ROUNDTABLE_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(IMPORT_TIMEOUT, import)
        .await
        .with_context(|| format!("roundtable import took over {IMPORT_TIMEOUT:?}"))?
        .with_context(|| format!("cannot run {} import", setup.roundtable.display()))?;
    if !output.status.success() {
        bail!(
            "roundtable import of {} failed ({}): {}",
            file.display(),
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr), 2000)
        );
    }
    let imported = imported.elapsed();
    let _ = std::fs::remove_file(&file);

    let serve = Serve::start(
        setup,
        Backend::Nats,
        Process::Serve,
        &format!("serve-memory-{tag}"),
    )
    .await?;
    let settled = serve.settle(client).await?;
    // One command on each negotiation, so that serve holds its state: admit a partner.
    let streams = ids
        .iter()
        .map(|id| {
            let body = serde_json::json!({
                "do": "admit_partner", "partner_id": "p-1", "name": "Participant 1",
                "sector": "civil_society", "kind": "ngo", "role": "signatory",
            });
            Ok(vec![Request {
                url: format!("{}/v1/negotiations/{id}/commands", serve.base),
                negotiation: Arc::from(id.as_str()),
                token: tokens.secretariat.clone(),
                key: "bench-memory".to_owned(),
                body: Bytes::from(serde_json::to_vec(&body)?),
            }])
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (tally, loaded) = in_parallel(client, streams, setup.scale.concurrency.max(1)).await?;
    tally.check("memory.serve.rss", &serve)?;
    let (peak, now) = serve.memory_kib()?;
    serve.stop().await;
    report.add(
        Figure::cost(
            "memory.serve.rss",
            "peak resident memory of serve holding many negotiations",
            setup.fsync,
            peak as f64 / 1024.0,
            "MiB",
        )
        .note(format!(
            "VmHWM of serve after loading {n} negotiations of 4 events each (3 imported in {:.1} s, then one admit_partner each through the API in {:.1} s, which loads and caches the negotiation); VmRSS then {:.1} MiB; start-up and projector catch-up took {:.1} s",
            imported.as_secs_f64(),
            loaded.as_secs_f64(),
            now as f64 / 1024.0,
            settled.as_secs_f64(),
        )),
    );
    Ok(())
}

/// Minutes opening each negotiation, admitting a partner and taking its proposal.
fn memory_minutes(ids: &[String]) -> String {
    let mut text = String::with_capacity(ids.len() * 700);
    for id in ids {
        let head = format!(r#"{{"at":"2026-01-05T09:00:00Z","negotiation_id":"{id}","#);
        text.push_str(&head);
        text.push_str(
            r#""by":"secretariat","do":"open_negotiation","title":"Water and sanitation services for the settlement","service":"water_and_sanitation","decision_rule":"consent"}"#,
        );
        text.push('\n');
        text.push_str(&head);
        text.push_str(
            r#""by":"secretariat","do":"admit_partner","partner_id":"p-0","name":"Participant 0","sector":"civil_society","kind":"community_organisation","role":"signatory"}"#,
        );
        text.push('\n');
        text.push_str(&head);
        text.push_str(
            r#""by":"p-0","do":"propose","proposal_id":"s-0","clause_id":"s-0","text":"Statement 0: water kiosk tariff for households in the informal settlement, with public monitoring and a quarterly report."}"#,
        );
        text.push('\n');
    }
    text
}

/// One command ready to send.
struct Request {
    url: String,
    negotiation: Arc<str>,
    /// `Bearer <jwt>`.
    token: Arc<str>,
    /// The Idempotency-Key.
    key: String,
    body: Bytes,
}

/// `consultation`'s lines as HTTP requests: the body is the line without
/// `negotiation_id` (in the path) and `by` (the token's principal).
fn requests(
    consultation: &Consultation,
    base: &str,
    tokens: &mut Tokens,
) -> anyhow::Result<Vec<Request>> {
    let negotiation: Arc<str> = Arc::from(consultation.negotiation());
    let url = format!("{base}/v1/negotiations/{negotiation}/commands");
    consultation
        .lines()
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut fields: Map<String, Value> =
                serde_json::from_str(line).context("a generated minutes line")?;
            fields.remove("negotiation_id");
            let token = match fields.remove("by") {
                Some(Value::String(by)) if by == "secretariat" => tokens.secretariat.clone(),
                Some(Value::String(by)) => tokens.partner(&negotiation, &by)?,
                other => bail!("a generated line with `by` {other:?}"),
            };
            Ok(Request {
                url: url.clone(),
                negotiation: negotiation.clone(),
                token,
                key: format!("bench-{i}"),
                body: Bytes::from(serde_json::to_vec(&fields)?),
            })
        })
        .collect()
}

/// Sends one command; its recorded version, or why it failed.
async fn send(client: &reqwest::Client, request: Request) -> Result<u64, String> {
    let response = client
        .post(&request.url)
        .header(AUTHORIZATION, &*request.token)
        .header(CONTENT_TYPE, "application/json")
        .header("idempotency-key", request.key)
        .body(request.body)
        .send()
        .await
        .map_err(|e| format!("{}: {e}", request.url))?;
    let status = response.status();
    let version = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
    // Read the body, also on success, so that the connection is reused.
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{}: {e}", request.url))?;
    match (status.as_u16(), version) {
        (201, Some(version)) => Ok(version),
        (200, _) => Err(format!(
            "{}: replayed (idempotency key reused)",
            request.url
        )),
        _ => Err(format!(
            "{}: {status}: {}",
            request.url,
            tail(&String::from_utf8_lossy(&body), 300)
        )),
    }
}

/// Commands that succeeded and failed, with the first failures.
#[derive(Default)]
struct Tally {
    ok: usize,
    failed: usize,
    errors: Vec<String>,
}

impl Tally {
    fn record(&mut self, answer: Result<u64, String>) {
        match answer {
            Ok(_) => self.ok += 1,
            Err(e) => {
                self.failed += 1;
                if self.errors.len() < 3 {
                    self.errors.push(e);
                }
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.failed += other.failed;
        for e in other.errors {
            if self.errors.len() < 3 {
                self.errors.push(e);
            }
        }
    }

    /// An error naming the first failures when more than a few failed.
    fn check(&self, what: &str, serve: &Serve) -> anyhow::Result<()> {
        if self.failed > MAX_FAILED || self.ok == 0 {
            bail!(
                "{what}: {} commands failed ({} recorded); first: {}; serve's log ends: {}",
                self.failed,
                self.ok,
                self.errors.join(" | "),
                serve.log_tail()
            );
        }
        Ok(())
    }
}

/// Tokens, minted in-process with the secret `serve` verifies.
struct Tokens {
    auth: AuthConfig,
    /// `Bearer` and a secretariat token for every negotiation.
    secretariat: Arc<str>,
    partners: HashMap<(Arc<str>, String), Arc<str>>,
}

impl Tokens {
    fn new(auth: AuthConfig) -> anyhow::Result<Tokens> {
        let token = auth
            .mint(
                TokenRole::Secretariat,
                None,
                None,
                Duration::from_secs(86_400),
            )
            .context("cannot mint the secretariat token")?;
        Ok(Tokens {
            auth,
            secretariat: Arc::from(format!("Bearer {token}")),
            partners: HashMap::new(),
        })
    }

    /// `Bearer` and a token of `partner` in `negotiation`.
    fn partner(&mut self, negotiation: &Arc<str>, partner: &str) -> anyhow::Result<Arc<str>> {
        let key = (negotiation.clone(), partner.to_owned());
        if let Some(token) = self.partners.get(&key) {
            return Ok(token.clone());
        }
        let token = self
            .auth
            .mint(
                TokenRole::Partner,
                Some(NegotiationId::new(negotiation.as_ref()).context("negotiation id")?),
                Some(PartnerId::new(partner).context("partner id")?),
                Duration::from_secs(86_400),
            )
            .with_context(|| format!("cannot mint a token for {partner} in {negotiation}"))?;
        let token: Arc<str> = Arc::from(format!("Bearer {token}"));
        self.partners.insert(key, token.clone());
        Ok(token)
    }
}

/// Where `serve` keeps its events.
enum Backend {
    /// NATS JetStream at `setup.nats_url`.
    Nats,
    /// The embedded store in this directory.
    Embedded(PathBuf),
}

/// Which `roundtable` service a [`Serve`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Process {
    /// `roundtable serve`: the HTTP API and the projector.
    Serve,
    /// `roundtable api`: the HTTP API only.
    Api,
}

/// A `roundtable serve` (or `api`) child process.
struct Serve {
    process: Process,
    child: Mutex<Child>,
    pid: u32,
    base: String,
    log: PathBuf,
}

impl Serve {
    /// Starts `serve` on a free loopback port, its standard error in `work_dir/<name>.log`.
    async fn start(
        setup: &Setup,
        backend: Backend,
        process: Process,
        name: &str,
    ) -> anyhow::Result<Serve> {
        let port = free_port()?;
        let log = setup.work_dir.join(format!("{name}.log"));
        let err = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(&setup.roundtable);
        match &backend {
            Backend::Nats => {
                command.arg("--nats-url").arg(&setup.nats_url);
            }
            Backend::Embedded(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                command
                    .env_remove("ROUNDTABLE_NATS_URL")
                    .arg("--data-dir")
                    .arg(dir);
            }
        }
        command
            .arg(match process {
                Process::Serve => "serve",
                Process::Api => "api",
            })
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("ROUNDTABLE_JWT_SECRET", SECRET)
            .env_remove("ROUNDTABLE_JWT_SECRET_FILE")
            .env_remove("ROUNDTABLE_JWT_PUBLIC_KEY")
            .env_remove("ROUNDTABLE_INSECURE_DEV_MODE")
            .env_remove("ROUNDTABLE_CONFIG")
            .env_remove("ROUNDTABLE_LISTEN")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {} serve", setup.roundtable.display()))?;
        let pid = child.id().context("serve exited at once")?;
        Ok(Serve {
            process,
            child: Mutex::new(child),
            pid,
            base: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    /// Waits until `/readyz` answers 200 and the projector has caught up with the log
    /// (`roundtable_projector_lag` 0 on `/metrics`); returns how long that took.
    async fn settle(&self, client: &reqwest::Client) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let deadline = started + SETTLE_TIMEOUT;
        loop {
            self.check_running()?;
            let ready = client.get(format!("{}/readyz", self.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "serve did not get ready in {SETTLE_TIMEOUT:?}; its log ends: {}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if self.process == Process::Api {
            return Ok(started.elapsed());
        }
        loop {
            self.check_running()?;
            let metrics = match client.get(format!("{}/metrics", self.base)).send().await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if projector_lag(&metrics) == Some(0) {
                return Ok(started.elapsed());
            }
            if Instant::now() > deadline {
                bail!(
                    "serve's projector did not catch up in {SETTLE_TIMEOUT:?} (lag {:?}); its log ends: {}",
                    projector_lag(&metrics),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn check_running(&self) -> anyhow::Result<()> {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Ok(Some(status)) = child.try_wait() {
            bail!("serve exited ({status}); its log ends: {}", self.log_tail());
        }
        Ok(())
    }

    /// Peak (VmHWM) and current (VmRSS) resident memory, in KiB.
    fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
        let path = format!("/proc/{}/status", self.pid);
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .with_context(|| format!("no {name} in {path}"))
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log)
            .map(|log| tail(&log, 1500))
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log.display()))
    }

    /// Kills the process and reaps it.
    async fn stop(self) {
        let mut child = self
            .child
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = child.kill().await;
    }
}

impl Target<'_> {
    fn settle_note(&self) -> String {
        format!(
            "serve took {:.1} s to start and catch its projector up first",
            self.settled.as_secs_f64()
        )
    }
}

/// The command handler's own timings from `/metrics` (sums and counts of its
/// histograms), to tell where a command's time goes.
#[derive(Debug, Default, Clone, Copy)]
struct ServerTimes {
    handle_sum: f64,
    handle_count: f64,
    append_sum: f64,
    append_count: f64,
}

impl ServerTimes {
    /// Scraped now; zeros when `/metrics` does not answer.
    async fn scrape(client: &reqwest::Client, serve: &Serve) -> ServerTimes {
        let text = match client.get(format!("{}/metrics", serve.base)).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        ServerTimes {
            handle_sum: metric_sum(&text, "roundtable_command_duration_seconds_sum"),
            handle_count: metric_sum(&text, "roundtable_command_duration_seconds_count"),
            append_sum: metric_sum(&text, "roundtable_append_duration_seconds_sum"),
            append_count: metric_sum(&text, "roundtable_append_duration_seconds_count"),
        }
    }

    /// `, of which the handler Xus (append Yus)` per command since `before`, or nothing.
    fn since(&self, before: &ServerTimes) -> String {
        let handled = self.handle_count - before.handle_count;
        let appended = self.append_count - before.append_count;
        if handled < 1.0 || appended < 1.0 {
            return String::new();
        }
        format!(
            ", of which the command handler {:.0} us (its append to the store {:.0} us), per roundtable_command_duration_seconds and roundtable_append_duration_seconds",
            (self.handle_sum - before.handle_sum) * 1e6 / handled,
            (self.append_sum - before.append_sum) * 1e6 / appended,
        )
    }
}

/// The sum over every label set of the metric `name` in Prometheus text.
fn metric_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = match rest.strip_prefix('{') {
                Some(labelled) => &labelled[labelled.find('}')? + 1..],
                None => rest,
            };
            rest.strip_prefix(' ')?.trim().parse::<f64>().ok()
        })
        .sum()
}

/// The value of `roundtable_projector_lag` in Prometheus text.
fn projector_lag(metrics: &str) -> Option<u64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix("roundtable_projector_lag")?;
        let value = rest.strip_prefix(' ')?.trim();
        value.parse::<f64>().ok().map(|v| v as u64)
    })
}

/// A keep-alive HTTP/1.1 client with room for `concurrency` idle connections.
fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency.max(1) * 2 + 128)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot make the HTTP client")
}

/// A loopback port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A short id that keeps this run's negotiations apart from earlier runs' on the same
/// server.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}", (nanos as u64) & 0xff_ffff_ffff)
}

/// The last `max` bytes of `text` (at a character boundary).
fn tail(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projector_lag_is_read_from_prometheus_text() {
        let text = "# TYPE roundtable_projector_lag gauge\nroundtable_projector_lag 12\nroundtable_projector_lag_other 3\n";
        assert_eq!(projector_lag(text), Some(12));
        assert_eq!(projector_lag("roundtable_projector_lag_x 1\n"), None);
    }

    #[test]
    fn metric_sums_add_every_label_set() {
        let text = "x_sum{command=\"a\"} 0.5\nx_sum{command=\"b\"} 1.5\nx_sum_other 9\nx_sum 1\n";
        assert!((metric_sum(text, "x_sum") - 3.0).abs() < 1e-9);
    }

    #[test]
    fn request_bodies_drop_the_negotiation_and_the_actor() {
        let auth = AuthConfig::hs256(SECRET.as_bytes()).unwrap();
        let mut tokens = Tokens::new(auth).unwrap();
        let c = workload::shaped("n-1", 40);
        let requests = requests(&c, "http://x", &mut tokens).unwrap();
        assert_eq!(requests.len(), 40);
        for r in &requests {
            let body: Map<String, Value> = serde_json::from_slice(&r.body).unwrap();
            assert!(!body.contains_key("by") && !body.contains_key("negotiation_id"));
            assert!(body.contains_key("do") && body.contains_key("at"));
            assert_eq!(r.url, "http://x/v1/negotiations/n-1/commands");
        }
        assert_eq!(requests[0].token, tokens.secretariat);
    }

    #[test]
    fn memory_minutes_are_three_lines_a_negotiation() {
        let text = memory_minutes(&["a".to_owned(), "b".to_owned()]);
        assert_eq!(text.lines().count(), 6);
        for line in text.lines() {
            let m = roundtable_domain::minutes::parse_line(line).unwrap();
            assert!(m.is_some());
        }
    }
}
