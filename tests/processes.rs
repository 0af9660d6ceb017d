//! End-to-end: several `roundtable` processes on one store, a killed import, and
//! backends that are missing or too old.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use common::{Run, Store, sample_minutes, test_data, write_minutes};
use roundtable_domain::EventBody;

fn admit(partner: &str, name: &str) -> String {
    format!(
        r#"{{"negotiation_id": "contested", "by": "secretariat", "do": "admit_partner", "partner_id": "{partner}", "name": "{name}", "sector": "civil_society", "kind": "ngo", "role": "signatory"}}"#
    )
}

fn counts(run: &Run) -> (u64, u64, u64) {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(" applied, "))
        .unwrap_or_else(|| panic!("no summary: {run:?}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect();
    (
        nums[nums.len() - 4],
        nums[nums.len() - 3],
        nums[nums.len() - 2],
    )
}

/// Two processes importing conflicting minutes into one negotiation at once.
async fn two_importers_race(store: Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = r#"{"at": "2027-06-01T09:00:00Z", "negotiation_id": "contested", "by": "secretariat", "do": "open_negotiation", "title": "Contested", "service": "solid_waste"}"#.to_owned();
    let mut a = vec![open.clone()];
    let mut b = vec![open];
    for i in 0..40 {
        // Both files admit shared-N, under different names: only one may win each.
        a.push(admit(&format!("shared-{i}"), &format!("From A {i}")));
        b.push(admit(&format!("shared-{i}"), &format!("From B {i}")));
        a.push(admit(&format!("only-a-{i}"), "A"));
        b.push(admit(&format!("only-b-{i}"), "B"));
    }
    let fa = write_minutes(dir.path(), "a.jsonl", &a);
    let fb = write_minutes(dir.path(), "b.jsonl", &b);
    let spawn = |f: &std::path::Path| {
        store
            .command(&["import", &f.display().to_string(), "--keep-going"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn import")
    };
    let (ca, cb) = (spawn(&fa), spawn(&fb));
    let ra = Run::from(ca.wait_with_output().expect("a finishes"));
    let rb = Run::from(cb.wait_with_output().expect("b finishes"));
    assert!(
        !ra.stderr.contains("panicked") && !rb.stderr.contains("panicked"),
        "{ra:?} {rb:?}"
    );
    let (applied_a, already_a, rejected_a) = counts(&ra);
    let (applied_b, already_b, rejected_b) = counts(&rb);

    let (events, projection) = store.verified_events("contested");
    let view = projection.view.expect("opened");
    // 1 open + 40 shared + 40 + 40 own partners.
    assert_eq!(events.len(), 121);
    assert_eq!(view.partners.len(), 120);
    assert_eq!(
        applied_a + applied_b,
        121,
        "every event comes from exactly one accepted line"
    );
    assert_eq!(
        already_a + already_b,
        1,
        "the identical open line is recorded once"
    );
    assert_eq!(
        rejected_a + rejected_b,
        40,
        "each shared partner is admitted once"
    );
    let mut admitted: BTreeMap<String, u32> = BTreeMap::new();
    for e in &events {
        if let EventBody::PartnerAdmitted(p) = &e.event.body {
            *admitted.entry(p.partner_id.to_string()).or_default() += 1;
        }
    }
    assert!(
        admitted.values().all(|n| *n == 1),
        "a partner admitted twice: {admitted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_importers_race_on_the_embedded_store() {
    two_importers_race(Store::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_importers_race_on_nats() {
    two_importers_race(Store::nats().await).await;
}

/// An import killed with SIGKILL leaves a store that reopens with an intact chain;
/// running the file again completes it with no event twice.
async fn killed_import_resumes(store: Store) {
    let file = test_data("polis-freshwater/polis-freshwater.jsonl");
    let mut child = store
        .command(&["import", &file.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn import");
    // Wait until part of the file is recorded, then kill the importer mid-flight.
    let mut recorded = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        recorded = store.events("nz-freshwater").len();
        if recorded > 300 {
            break;
        }
    }
    child.kill().expect("SIGKILL the importer");
    child.wait().expect("reap");
    let (before, _) = store.verified_events("nz-freshwater");
    assert!(
        before.len() >= recorded,
        "acknowledged events survive the kill"
    );

    let run = store.import(&file, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let (applied, already, rejected) = counts(&run);
    assert_eq!(rejected, 0);
    assert_eq!(already, before.len() as u64);
    assert_eq!(applied + already, 3748);
    let (after, _) = store.verified_events("nz-freshwater");
    assert_eq!(after.len(), 3748);
    assert_eq!(
        after[..before.len()],
        before[..],
        "nothing recorded before the kill changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_resumes_on_the_embedded_store() {
    killed_import_resumes(Store::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_resumes_on_nats() {
    killed_import_resumes(Store::nats().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_negotiation_is_a_clear_error() {
    let store = Store::embedded();
    // Reading an empty data dir says so and leaves no store file behind.
    for sub in ["view", "events", "list"] {
        let run = store.run(&[sub, "nobody-here"][..if sub == "list" { 1 } else { 2 }]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr.contains("there is no embedded store"),
            "{}",
            run.stderr
        );
    }
    if let Store::Embedded(dir) = &store {
        assert!(
            !dir.path().join("roundtable.db").exists(),
            "a read created the store"
        );
    }
    // Once something is recorded, an unknown negotiation is named.
    assert_eq!(
        store
            .import(&sample_minutes("harbourside-waste.jsonl"), &[])
            .code,
        0
    );
    for sub in ["view", "events"] {
        let run = store.run(&[sub, "nobody-here"]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr
                .contains("negotiation nobody-here has no recorded events"),
            "{}",
            run.stderr
        );
    }
    let listed = store.run(&["list"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert!(
        listed.stdout.contains("harbourside-waste") && listed.stdout.contains("concluded"),
        "{}",
        listed.stdout
    );
    let run = store.run(&["view", "Not.An.Id"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("negotiation_id \"Not.An.Id\""),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_nats_server_is_a_clear_error() {
    // A port nothing listens on: bind, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
        .args([
            "--nats-url",
            &url,
            "import",
            &sample_minutes("harbourside-waste.jsonl")
                .display()
                .to_string(),
        ])
        .output()
        .expect("runs");
    let run = Run::from(output);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains(&url), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_older_than_2_10_is_refused() {
    let old = std::path::Path::new("/usr/sbin/nats-server");
    if !old.exists() {
        println!(
            "no nats-server 2.9 at {} on this machine: nothing to refuse",
            old.display()
        );
        return;
    }
    let server = roundtable_testkit::NatsServer::start_with_binary(old)
        .await
        .expect("old server starts");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
        .args(["--nats-url", &server.url(), "view", "harbourside-waste"])
        .output()
        .expect("runs");
    let run = Run::from(output);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("2.9.10"), "{}", run.stderr);
    assert!(run.stderr.contains("2.10"), "{}", run.stderr);
}

/// A nats-server that goes away for a moment during an import: the importer retries
/// (safe, since every line's command id is idempotent) and completes, nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_rides_out_a_short_nats_outage() {
    let Store::Nats(mut server) = Store::nats().await else {
        unreachable!("nats")
    };
    let url = server.url();
    let file = test_data("polis-freshwater/polis-freshwater.jsonl");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
        .args(["--nats-url", &url, "import", &file.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import");
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server
        .restart()
        .await
        .expect("restart on the same port and store");
    let run = Run::from(child.wait_with_output().expect("import finishes"));
    assert_eq!(run.code, 0, "{run:?}");
    let (applied, already, rejected) = counts(&run);
    assert_eq!((applied + already, rejected), (3748, 0), "{run:?}");
    let store = Store::Nats(server);
    let (events, _) = store.verified_events("nz-freshwater");
    assert_eq!(events.len(), 3748);
    let ids: std::collections::BTreeSet<_> = events.iter().map(|e| e.command_id.clone()).collect();
    assert_eq!(ids.len(), 3748, "a line recorded twice");
}

/// The changes stream exists as soon as a projector starts, so an integration can
/// create its durable consumer before the first change is projected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_changes_stream_exists_before_the_first_change() {
    let store = Store::nats().await;
    let Store::Nats(server) = &store else {
        unreachable!("nats")
    };
    let status = store.run(&["project", "--status"]);
    assert_eq!(status.code, 0, "{status:?}");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let mut stream = js
        .get_stream("ROUNDTABLE_CHANGES")
        .await
        .expect("the changes stream was created");
    assert_eq!(stream.info().await.expect("info").state.messages, 0);
}

/// The binary authenticates to NATS with a user and password given as flags, in the
/// environment or in the config file, and is refused without them or with a wrong
/// password, without the password in what it prints.
#[tokio::test]
async fn nats_credentials_come_from_flags_the_environment_and_the_config_file() {
    let password = "pa55-w0rd-of-the-binary";
    let server = roundtable_testkit::NatsServer::start_with_config(&format!(
        "authorization {{ users = [ {{ user: roundtable, password: \"{password}\" }} ] }}"
    ))
    .await
    .expect("nats-server starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let password_file = dir.path().join("nats.password");
    std::fs::write(&password_file, format!("{password}\n")).expect("write");
    let config = dir.path().join("roundtable.toml");
    std::fs::write(
        &config,
        format!(
            "nats_user = \"roundtable\"\nnats_password_file = {}\n",
            serde_json::Value::String(password_file.display().to_string())
        ),
    )
    .expect("write");
    let url = server.url();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"));
        for var in [
            "ROUNDTABLE_NATS_URL",
            "ROUNDTABLE_DATA_DIR",
            "ROUNDTABLE_CONFIG",
            "ROUNDTABLE_NATS_USER",
            "ROUNDTABLE_NATS_PASSWORD",
            "ROUNDTABLE_NATS_PASSWORD_FILE",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(["--nats-url", url.as_str()])
            .args(args)
            .envs(env.iter().copied());
        Run::from(cmd.output().expect("roundtable runs"))
    };
    let file = password_file.display().to_string();
    let by_flags = run(
        &[
            "--nats-user",
            "roundtable",
            "--nats-password-file",
            &file,
            "list",
        ],
        &[],
    );
    assert_eq!(by_flags.code, 0, "{by_flags:?}");
    let by_env = run(
        &["list"],
        &[
            ("ROUNDTABLE_NATS_USER", "roundtable"),
            ("ROUNDTABLE_NATS_PASSWORD", password),
        ],
    );
    assert_eq!(by_env.code, 0, "{by_env:?}");
    let config = config.display().to_string();
    let by_file = run(&["--config", &config, "list"], &[]);
    assert_eq!(by_file.code, 0, "{by_file:?}");

    let wrong = run(
        &[
            "--nats-user",
            "roundtable",
            "--nats-password",
            "wr0ng-pa55-xyz",
            "list",
        ],
        &[],
    );
    assert_eq!(wrong.code, 2, "{wrong:?}");
    assert!(!wrong.stderr.contains("wr0ng-pa55-xyz"), "{wrong:?}");
    assert!(!wrong.stdout.contains("wr0ng-pa55-xyz"), "{wrong:?}");
    let none = run(&["list"], &[]);
    assert_eq!(none.code, 2, "{none:?}");
    assert!(!none.stderr.contains(password), "{none:?}");
    let half = run(&["--nats-user", "roundtable", "list"], &[]);
    assert_eq!(half.code, 2, "{half:?}");
    assert!(half.stderr.contains("--nats-password"), "{half:?}");
}
