//! End-to-end availability through the real `roundtable` binary (issue 15, items 4, 5,
//! 12 and 14): `serve` on an address in use exits at once, non-zero, saying why; the
//! metrics on a separate address; the connection options in effect; an import obeys
//! the per-negotiation limits as the API does.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Store, write_minutes};

/// Waits for `child` to exit, up to `limit` (then kills it and fails).
fn exit_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process still runs after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_on_an_address_in_use_exits_at_once_non_zero_saying_why() {
    let store = Store::embedded();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for sub in ["serve", "api"] {
        let mut child = store
            .command(&[sub, "--listen", &addr, "--insecure-dev-mode"])
            .env_remove("ROUNDTABLE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = exit_within(&mut child, Duration::from_secs(60));
        let stderr = stderr_of(&mut child);
        assert!(!status.success(), "{sub} exited 0: {stderr}");
        assert_eq!(status.code(), Some(2), "{sub}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("in use"),
            "{sub}: {stderr}"
        );
    }
    drop(taken);
}

#[test]
fn metrics_on_a_separate_address_are_not_on_the_api_address() {
    let store = Store::embedded();
    let api = free_port();
    let metrics = free_port();
    let mut child = store
        .command(&[
            "serve",
            "--listen",
            &format!("127.0.0.1:{api}"),
            "--metrics-listen",
            &format!("127.0.0.1:{metrics}"),
            "--insecure-dev-mode",
        ])
        .env_remove("ROUNDTABLE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |port: u16, path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        if let Some(r) = get(api, "/readyz") {
            if r.starts_with("HTTP/1.1 200") {
                break true;
            }
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let here = get(api, "/metrics").unwrap_or_default();
    let there = get(metrics, "/metrics").unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "serve did not become ready");
    assert!(here.starts_with("HTTP/1.1 404"), "{here}");
    assert!(there.starts_with("HTTP/1.1 200"), "{there}");
    // The Prometheus text format (empty until something is recorded).
    assert!(there.contains("text/plain; version=0.0.4"), "{there}");
}

#[test]
fn an_import_obeys_the_per_negotiation_limits() {
    let store = Store::embedded();
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![
        r#"{"at": "2027-06-01T09:00:00Z", "negotiation_id": "small", "by": "secretariat", "do": "open_negotiation", "title": "Small", "service": "solid_waste"}"#.to_owned(),
    ];
    for i in 0..5 {
        lines.push(format!(
            r#"{{"negotiation_id": "small", "by": "secretariat", "do": "admit_partner", "partner_id": "p-{i}", "name": "Partner {i}", "sector": "civil_society", "kind": "ngo", "role": "signatory"}}"#
        ));
    }
    let file = write_minutes(dir.path(), "small.jsonl", &lines);
    let run = store.import(&file, &["--max-negotiation-events", "4", "--keep-going"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("negotiation_limit_reached")
            || run.stdout.contains("max events per negotiation 4"),
        "{run:?}"
    );
    assert_eq!(store.events("small").len(), 4, "{run:?}");
    // The byte limit: nothing more fits in 1 byte.
    let run = store.import(&file, &["--max-negotiation-bytes", "1"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("max bytes per negotiation 1"),
        "{run:?}"
    );
    assert_eq!(store.events("small").len(), 4);
}
