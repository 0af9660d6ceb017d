//! The example integrations of docs/examples/, each run as a subprocess against real
//! servers:
//!
//! - `change_feed_consumer.py` (nats-py) on a real `nats-server` (test kit) where
//!   `roundtable serve` projected the Lakeside minutes: a consumer started after the
//!   negotiation concluded gets every change from the beginning, in order; stopped half
//!   way and started again with the same durable name, it resumes with no gap and no
//!   repeat;
//! - `webhook_receiver.py`, a real HTTP server, gets the Lakeside changes from
//!   Roundtable's own webhook deliverer (`roundtable_webhooks::Deliverer`, the signing
//!   and posting code `serve` uses): its first answers are 500 and the deliveries are
//!   tried again, a repeated delivery is applied once, and a delivery signed with
//!   another secret is refused.
//!
//! Needs `python3 -m pip install nats-py==2.16.0` (.ci/run does it); without it the
//! test fails, saying so.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Store, shared_scenario, workspace_root};
use roundtable_store::{Change, ChangeReader, Selection, Webhook, WebhookId};
use roundtable_webhooks::{Deliverer, UrlPolicy, WebhookConfig};

const LAKESIDE: &str = "lakeside-water";
const LAKESIDE_EVENTS: u64 = 84;

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
        .args(["--server", url, "--durable", durable, LAKESIDE])
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
            .is_some_and(|l| l.starts_with("consuming roundtable.changes.lakeside-water")),
        "{stdout}"
    );
    lines
        .map(|line| {
            // lakeside-water v23 proposal_adopted: clause coverage agreed at version 1
            let version = line
                .strip_prefix("lakeside-water v")
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
    let run = store.import(&shared_scenario("lakeside-water.jsonl"), &[]);
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
        if stored >= LAKESIDE_EVENTS {
            assert_eq!(stored, LAKESIDE_EVENTS, "one change per event");
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
    assert_eq!(all, (1..=LAKESIDE_EVENTS).collect::<Vec<_>>());

    // Stopped half way, started again with the same durable name: no gap, no repeat.
    let first = consume(&url, "example-resume", &["--count", "40", "--batch", "16"]);
    assert_eq!(first, (1..=40).collect::<Vec<_>>());
    let rest = consume(&url, "example-resume", &["--idle", "2"]);
    assert_eq!(rest, (41..=LAKESIDE_EVENTS).collect::<Vec<_>>());
    // Nothing left for it.
    assert!(consume(&url, "example-resume", &["--idle", "1"]).is_empty());
}

/// The Lakeside changes, derived from the log of an embedded store.
fn lakeside_changes() -> Vec<Change> {
    let store = Store::embedded();
    let run = store.import(&shared_scenario("lakeside-water.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let events = store.events(LAKESIDE);
    let mut reader = ChangeReader::new(events[0].negotiation_id.clone());
    events
        .iter()
        .map(|e| reader.apply(e).expect("the change of an event"))
        .collect()
}

fn webhook(url: &str, secret: &str) -> Webhook {
    Webhook {
        id: WebhookId::new("wh-example").expect("an id"),
        url: url.to_owned(),
        negotiations: Selection::All,
        event_types: Selection::All,
        secret: secret.to_owned(),
        created_at: Utc::now(),
        created_by: "the integrations test".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_receiver_verifies_signatures_and_applies_each_change_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = "a-shared-secret-of-the-example-receiver";
    let secret_file = dir.path().join("webhook.secret");
    std::fs::write(&secret_file, secret).expect("write the secret");
    let script = workspace_root().join("docs/examples/webhook_receiver.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--port", "0", "--fail-first", "3", "--secret-file"])
        .arg(&secret_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let stdout = child.stdout.take().expect("piped stdout");
    let receiver = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the receiver starts");
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();

    let changes = lakeside_changes();
    assert_eq!(changes.len() as u64, LAKESIDE_EVENTS);
    // Loopback is refused by default (server-side request forgery); a test allows it.
    let deliverer = Deliverer::new(
        &WebhookConfig::default(),
        UrlPolicy::allowing(["127.0.0.1"]),
    )
    .expect("an HTTP client");
    let hook = webhook(&base, secret);
    let mut failures = 0;
    for change in &changes {
        // As the worker does: the same delivery again until it is acknowledged.
        let mut attempts = 0;
        while let Err(e) = deliverer.attempt(&hook, change).await {
            assert!(e.contains("500"), "{e}");
            failures += 1;
            attempts += 1;
            assert!(attempts < 5, "change {} never accepted", change.version);
        }
    }
    assert_eq!(failures, 3, "the receiver fails its first three answers");
    // At least once: a delivery made again is acknowledged and not applied twice.
    deliverer
        .attempt(&hook, &changes[22])
        .await
        .expect("a repeated delivery is acknowledged");
    // Signed with another secret: refused.
    let forged = webhook(&base, "not-the-shared-secret");
    let refused = deliverer
        .attempt(&forged, &changes[0])
        .await
        .expect_err("a wrong signature is refused");
    assert!(refused.contains("401"), "{refused}");

    // Collect what the receiver printed.
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < 84 + 3 + 1 + 1 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(line);
        }
    }
    drop(receiver);
    let accepted: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("accepted wh-example:lakeside-water:"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(
        accepted,
        (1..=LAKESIDE_EVENTS).collect::<Vec<_>>(),
        "{lines:#?}"
    );
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        count("failed on purpose wh-example:lakeside-water:1"),
        3,
        "{lines:#?}"
    );
    assert_eq!(
        count("duplicate wh-example:lakeside-water:23"),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        count("rejected wh-example:lakeside-water:1: signature does not match"),
        1,
        "{lines:#?}"
    );
}
