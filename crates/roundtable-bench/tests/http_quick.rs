//! The HTTP figures at `Scale::quick()`, through the debug `roundtable` binary against a
//! test nats-server: every figure is there and positive (no timing is asserted).
//!
//! Build the binary first: `cargo build -p roundtable`.

use std::path::PathBuf;

use roundtable_bench::{Fsync, Report, Scale, Setup};
use roundtable_testkit::NatsServer;

/// `target/debug/roundtable` of this workspace (or of `CARGO_TARGET_DIR`).
fn roundtable_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let binary = target.join("debug").join("roundtable");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p roundtable` first",
        binary.display()
    );
    binary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_figure_is_measured() {
    let server = NatsServer::start().await.expect("a nats-server");
    let work = tempfile::Builder::new()
        .prefix("http-quick-")
        .tempdir()
        .expect("a scratch directory");
    let setup = Setup {
        fsync: Fsync::Default,
        nats_url: server.url(),
        roundtable: roundtable_binary(),
        work_dir: work.path().to_path_buf(),
        postgres_url: String::new(),
        scale: Scale::quick(),
    };
    let mut report = Report::default();
    let run = roundtable_bench::http::run(&setup, &mut report);
    tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the HTTP figures took over 5 minutes; logs in {}",
                work.path().display()
            )
        })
        .expect("the HTTP figures");
    for (key, fsync) in [
        ("http.nats.sequential", Fsync::Default),
        ("http.nats.concurrent", Fsync::Default),
        ("latency.notify.p50", Fsync::Default),
        ("latency.notify.p99", Fsync::Default),
        ("latency.notify.p999", Fsync::Default),
        ("memory.serve.rss", Fsync::Default),
        ("http.sqlite.sequential", Fsync::NotNats),
        ("http.sqlite.concurrent", Fsync::NotNats),
    ] {
        let figure = report
            .figures
            .iter()
            .find(|f| f.key == key && f.fsync == fsync)
            .unwrap_or_else(|| panic!("no figure {key} ({})", fsync.label()));
        assert!(figure.value > 0.0, "{key} is {}", figure.value);
    }
    let p99 = report
        .figures
        .iter()
        .find(|f| f.key == "latency.notify.p99")
        .expect("p99");
    assert_eq!(p99.target, Some(5.0));
    assert!(p99.counterpart.is_none());
}
