//! The replay workloads at `Scale::quick()`, twice on one server (the second pass reuses
//! the big stream): every figure comes out positive, and the rebuilt views are the
//! fold of the log. Needs the debug `roundtable` binary (`cargo build -p roundtable`)
//! and a nats-server 2.10 or newer (`ROUNDTABLE_NATS_SERVER`). No timing is checked.

use std::path::PathBuf;
use std::process::Command;

use roundtable_bench::{Fsync, Report, Scale, Setup, replay};
use roundtable_nats::{NatsBuckets, NatsConfig, NatsStore};
use roundtable_projector::KvViewStore;
use roundtable_projector::ViewStore;
use roundtable_testkit::NatsServer;

/// The debug `roundtable` binary of this workspace.
fn roundtable() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let binary = target.join("debug/roundtable");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p roundtable` first",
        binary.display()
    );
    binary
}

/// `roundtable --nats-url URL args...`, which must succeed: its standard output.
fn roundtable_at(url: &str, args: &[&str]) -> String {
    let out = Command::new(roundtable())
        .arg("--nats-url")
        .arg(url)
        .args(args)
        .env_remove("ROUNDTABLE_DATA_DIR")
        .output()
        .expect("roundtable runs");
    assert!(
        out.status.success(),
        "roundtable {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_measures_every_figure_and_rebuilds_the_views_of_the_log() {
    let server = NatsServer::start().await.expect("nats-server starts");
    let work = tempfile::tempdir().expect("temporary directory");
    let mut setup = Setup {
        fsync: Fsync::Default,
        nats_url: server.url(),
        roundtable: roundtable(),
        work_dir: work.path().to_owned(),
        postgres_url: String::new(),
        scale: Scale::quick(),
    };
    let mut report = Report::default();
    replay::run(&setup, &mut report)
        .await
        .expect("default pass");
    setup.fsync = Fsync::Always;
    replay::run(&setup, &mut report).await.expect("second pass");

    for fsync in [Fsync::Default, Fsync::Always] {
        for key in [
            "raw.read",
            "rebuild.nats",
            "memory.rebuild.rss",
            "raw.cold",
            "command.cold",
            "command.warm",
            "import.nats",
        ] {
            let figure = report
                .figures
                .iter()
                .find(|f| f.key == key && f.fsync == fsync)
                .unwrap_or_else(|| panic!("no {key} figure under {fsync:?}"));
            assert!(figure.value > 0.0, "{key} under {fsync:?}: {figure:?}");
        }
    }
    for key in [
        "import.sqlite",
        "rebuild.sqlite",
        "memory.rebuild.sqlite.rss",
    ] {
        let figure = report
            .figures
            .iter()
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("no {key} figure"));
        assert_eq!(figure.fsync, Fsync::NotNats);
        assert!(figure.value > 0.0, "{key}: {figure:?}");
    }
    assert_eq!(
        report
            .figures
            .iter()
            .filter(|f| f.key == "import.sqlite")
            .count(),
        1,
        "the embedded store is measured once"
    );

    // The second pass's cold commands came after its rebuild: catch up, then every
    // stored view must be the fold of its negotiation's log.
    roundtable_at(&server.url(), &["project", "--once"]);
    let store = std::sync::Arc::new(
        NatsStore::connect(&server.url(), NatsConfig::default())
            .await
            .expect("connects"),
    );
    let views = KvViewStore::open(&NatsBuckets::new(store.clone()))
        .await
        .expect("views bucket");
    let ids = views.list().await.expect("lists views");
    let big: Vec<_> = ids
        .iter()
        .filter(|id| id.as_str().starts_with("replay-"))
        .collect();
    assert_eq!(big.len(), 25, "5,000 events in negotiations of 200");
    for id in &ids {
        let stored = views.get(id).await.expect("reads").expect("stored");
        let folded = roundtable_app::load(&*store, id).await.expect("folds");
        assert_eq!(
            serde_json::to_value(&stored.view).expect("json"),
            serde_json::to_value(folded.view.as_ref().expect("opened")).expect("json"),
            "view of {id}"
        );
    }
    // And through the binary, for a negotiation the cold commands moved on.
    let commanded = big
        .iter()
        .find(|id| {
            futures::executor::block_on(views.get(id))
                .ok()
                .flatten()
                .is_some_and(|v| v.view.version > 200)
        })
        .expect("a negotiation got cold and warm commands");
    let printed: serde_json::Value = serde_json::from_str(&roundtable_at(
        &server.url(),
        &["view", commanded.as_str(), "--json"],
    ))
    .expect("view prints json");
    let stored = views.get(commanded).await.expect("reads").expect("stored");
    assert_eq!(printed, serde_json::to_value(&stored.view).expect("json"));
    store.drain().await.ok();
}
