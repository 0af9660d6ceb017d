//! The example integrations of docs/examples/, each run as a subprocess against real
//! servers:
//!
//! - `change_feed_consumer.py` (nats-py) on a real `nats-server` (test kit) where
//!   `roundtable serve` projected the sample minutes (Harbourside): a consumer started after the
//!   negotiation concluded gets every change from the beginning, in order; stopped half
//!   way and started again with the same durable name, it resumes with no gap and no
//!   repeat;
//! - `webhook_receiver.py`, a real HTTP server, registered as a webhook with
//!   `roundtable serve` (`POST /v1/webhooks`) before the sample minutes (Harbourside) are imported:
//!   its first answers are 500 and the deliveries are tried again, and it ends with
//!   every change applied once, in order; a receiver holding another secret refuses
//!   every delivery. Fed by Roundtable's own deliverer directly, a repeated delivery is
//!   applied once.
//!
//! Needs `python3 -m pip install nats-py==2.16.0` (.ci/run does it); without it the
//! test fails, saying so.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Store, sample_minutes, workspace_root};
use roundtable_app::ChangeReader;
use roundtable_store::{Change, Selection};
use roundtable_webhooks::{Deliverer, UrlPolicy, WebhookConfig};
use roundtable_webhooks::{Webhook, WebhookId};

const SAMPLE: &str = "harbourside-waste";
const SAMPLE_EVENTS: u64 = 73;

/// Fails with the pip line when a Python module is missing.
fn require_python_module(module: &str, pin: &str) {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 cannot import {module}: install it with `python3 -m pip install {pin}` (.ci/run does)"
    );
}

/// A child process killed and reaped on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the change feed consumer to completion and returns the versions it printed.
fn consume(url: &str, durable: &str, extra: &[&str]) -> Vec<u64> {
    let script = workspace_root().join("docs/examples/change_feed_consumer.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--server", url, "--durable", durable, SAMPLE])
        .args(extra)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "change_feed_consumer.py failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("consuming roundtable.changes.harbourside-waste")),
        "{stdout}"
    );
    lines
        .map(|line| {
            // harbourside-waste v23 proposal_adopted: clause collection agreed at version 1
            let version = line
                .strip_prefix("harbourside-waste v")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok());
            version.unwrap_or_else(|| panic!("not a change line: {line:?}\n{stdout}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_consumer_reads_every_change_and_resumes_without_gaps() {
    require_python_module("nats", "nats-py==2.16.0");
    let store = Store::nats().await;
    let Store::Nats(server) = &store else {
        unreachable!()
    };
    let url = server.url();
    // `roundtable serve` projects the events and publishes their changes.
    let serve = store
        .command(&["serve", "--listen", "127.0.0.1:0", "--insecure-dev-mode"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("roundtable serve starts");
    let _serve = Killed(serve);
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");

    // Wait until every change is in the stream ROUNDTABLE_CHANGES.
    let client = async_nats::connect(&url).await.expect("nats client");
    let js = async_nats::jetstream::new(client);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = match js.get_stream("ROUNDTABLE_CHANGES").await {
            Ok(mut stream) => stream.info().await.map_or(0, |i| i.state.messages),
            Err(_) => 0,
        };
        if stored >= SAMPLE_EVENTS {
            assert_eq!(stored, SAMPLE_EVENTS, "one change per event");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {stored} changes in ROUNDTABLE_CHANGES after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Started after the conclusion: every change from the beginning, in order.
    let all = consume(&url, "example-all", &["--idle", "2"]);
    assert_eq!(all, (1..=SAMPLE_EVENTS).collect::<Vec<_>>());

    // Stopped half way, started again with the same durable name: no gap, no repeat.
    let first = consume(&url, "example-resume", &["--count", "40", "--batch", "16"]);
    assert_eq!(first, (1..=40).collect::<Vec<_>>());
    let rest = consume(&url, "example-resume", &["--idle", "2"]);
    assert_eq!(rest, (41..=SAMPLE_EVENTS).collect::<Vec<_>>());
    // Nothing left for it.
    assert!(consume(&url, "example-resume", &["--idle", "1"]).is_empty());
}

/// The sample minutes' changes, derived from the log of an embedded store.
fn sample_changes() -> Vec<Change> {
    let store = Store::embedded();
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let events = store.events(SAMPLE);
    let mut reader = ChangeReader::new(events[0].negotiation_id.clone());
    events
        .iter()
        .map(|e| reader.apply(e).expect("the change of an event"))
        .collect()
}

fn webhook(id: &str, url: &str, secret: &str) -> Webhook {
    Webhook {
        id: WebhookId::new(id).expect("an id"),
        url: url.to_owned(),
        negotiations: Selection::All,
        event_types: Selection::All,
        secret: secret.to_owned(),
        created_at: Utc::now(),
        created_by: "the integrations test".to_owned(),
    }
}

/// `webhook_receiver.py` running with `secret`; its stdout lines arrive on the channel.
struct Receiver {
    _child: Killed,
    lines: mpsc::Receiver<String>,
    url: String,
    seen: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn start(secret: &str, fail_first: u32) -> Receiver {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret_file = dir.path().join("webhook.secret");
        std::fs::write(&secret_file, secret).expect("write the secret");
        let script = workspace_root().join("docs/examples/webhook_receiver.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--fail-first", &fail_first.to_string()])
            .arg("--secret-file")
            .arg(&secret_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let child = Killed(child);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the receiver starts");
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Receiver {
            _child: child,
            lines,
            url,
            seen: Vec::new(),
            _dir: dir,
        }
    }

    /// Collects lines until `done` holds for them, or `within` passes.
    fn wait_for(&mut self, within: Duration, done: impl Fn(&[String]) -> bool) -> &[String] {
        let deadline = Instant::now() + within;
        while !done(&self.seen) && Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line);
            }
        }
        &self.seen
    }
}

/// The versions of `negotiation` accepted, in the order the receiver printed them.
fn accepted(lines: &[String], webhook: &str) -> Vec<u64> {
    let prefix = format!("accepted {webhook}:harbourside-waste:");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// `roundtable serve` on a free loopback port, in development mode, delivering webhooks
/// to 127.0.0.1; returns the process and its base URL once it is ready.
async fn serve_with_webhooks(store: &Store) -> (Killed, String) {
    let mut child = store
        .command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--insecure-dev-mode",
            "--allow-webhook-host",
            "127.0.0.1",
            "--webhook-max-backoff-secs",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("roundtable serve starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let child = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("HTTP API on ").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("roundtable serve prints its address");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            Instant::now() < deadline,
            "roundtable serve not ready in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_receiver_gets_every_change_from_serve_once_and_refuses_another_secret() {
    let secret = "a-shared-secret-of-the-example-receiver";
    // Its first three answers are 500: the deliveries are tried again.
    let mut receiver = Receiver::start(secret, 3);
    // A receiver holding another secret than the webhook's: every delivery is refused.
    let mut impostor = Receiver::start("not-the-webhook-secret-at-all", 0);

    let store = Store::nats().await;
    let (_serve, base) = serve_with_webhooks(&store).await;
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for url in [&receiver.url, &impostor.url] {
        let r = client
            .post(format!("{base}/v1/webhooks"))
            .json(&serde_json::json!({"url": url, "negotiations": [SAMPLE], "secret": secret}))
            .send()
            .await
            .expect("POST /v1/webhooks");
        let status = r.status();
        let body: serde_json::Value = r.json().await.expect("a JSON answer");
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().expect("a webhook id").to_owned());
    }
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");

    let hook = ids[0].clone();
    let lines = receiver.wait_for(Duration::from_secs(120), |lines| {
        accepted(lines, &hook).len() as u64 >= SAMPLE_EVENTS
    });
    // Every change once, in order, after de-duplication.
    assert_eq!(
        accepted(lines, &hook),
        (1..=SAMPLE_EVENTS).collect::<Vec<_>>(),
        "{lines:#?}"
    );
    let failed = lines
        .iter()
        .filter(|l| l.starts_with("failed on purpose"))
        .count();
    assert_eq!(failed, 3, "{lines:#?}");
    let other = ids[1].clone();
    let refused = impostor.wait_for(Duration::from_secs(30), |lines| !lines.is_empty());
    assert!(
        refused.iter().all(|l| l.starts_with(&format!(
            "rejected {other}:harbourside-waste:1: signature does not match"
        ))),
        "{refused:#?}"
    );
    assert!(!refused.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_receiver_applies_a_repeated_delivery_once() {
    let secret = "a-shared-secret-of-the-example-receiver";
    let mut receiver = Receiver::start(secret, 0);
    let changes = sample_changes();
    // Roundtable's own deliverer (what serve's worker posts with); loopback allowed.
    let deliverer = Deliverer::new(
        &WebhookConfig::default(),
        UrlPolicy::allowing(["127.0.0.1"]),
    )
    .expect("an HTTP client");
    let hook = webhook("wh-example", &receiver.url, secret);
    for change in &changes[..30] {
        deliverer.attempt(&hook, change).await.expect("delivered");
    }
    // At least once: the same delivery again is acknowledged, and not applied twice.
    deliverer
        .attempt(&hook, &changes[22])
        .await
        .expect("a repeated delivery is acknowledged");
    // A stale or forged signature is refused.
    let forged = webhook("wh-example", &receiver.url, "not-the-shared-secret");
    let refused = deliverer
        .attempt(&forged, &changes[30])
        .await
        .expect_err("a wrong signature is refused");
    assert!(refused.contains("401"), "{refused}");
    let lines = receiver.wait_for(Duration::from_secs(10), |lines| lines.len() >= 32);
    assert_eq!(
        accepted(lines, "wh-example"),
        (1..=30).collect::<Vec<_>>(),
        "{lines:#?}"
    );
    assert_eq!(
        lines[30], "duplicate wh-example:harbourside-waste:23",
        "{lines:#?}"
    );
    assert_eq!(
        lines[31], "rejected wh-example:harbourside-waste:31: signature does not match",
        "{lines:#?}"
    );
}
