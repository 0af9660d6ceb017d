//! Helpers for end-to-end tests: run the `roundtable` binary against a fresh store
//! (the embedded one in a temp dir, or a real `nats-server` on a free port).

#![allow(dead_code, unused_macros, unreachable_pub)]

/// Generates one `#[tokio::test]` per named async check `fn check(store: Store)`, for a
/// fresh embedded store (`embedded::check`) and a fresh NATS server (`nats::check`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::embedded()).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Store::nats().await).await;
                }
            )*
        }
    };
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use roundtable_domain::{AgreementView, Projection, RecordedEvent};
use roundtable_testkit::NatsServer;

/// The workspace root, found from this crate's manifest dir (never the working dir).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A file of the vendored third-party test data (`tests/data/`, with its licences).
pub fn test_data(name: &str) -> PathBuf {
    workspace_root().join("tests/data").join(name)
}

/// A file of the project's own sample minutes.
pub fn sample_minutes(name: &str) -> PathBuf {
    workspace_root().join("examples/minutes").join(name)
}

/// A store for one test: the embedded one in a temp dir, or a NATS server of its own.
pub enum Store {
    /// `--data-dir` in a temp dir.
    Embedded(tempfile::TempDir),
    /// `--nats-url` of a fresh server.
    Nats(NatsServer),
}

impl Store {
    pub fn embedded() -> Store {
        Store::Embedded(tempfile::tempdir().expect("temp dir"))
    }

    pub async fn nats() -> Store {
        Store::Nats(NatsServer::start().await.expect("nats-server starts"))
    }

    /// The global options that select this store.
    pub fn args(&self) -> Vec<String> {
        match self {
            Store::Embedded(dir) => vec!["--data-dir".into(), dir.path().display().to_string()],
            Store::Nats(server) => vec!["--nats-url".into(), server.url()],
        }
    }

    /// Runs `roundtable <global options> <args>` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("roundtable runs");
        Run::from(output)
    }

    /// The command, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundtable"));
        cmd.args(self.args()).args(args);
        cmd.env_remove("ROUNDTABLE_NATS_URL")
            .env_remove("ROUNDTABLE_DATA_DIR");
        cmd
    }

    /// Imports `file`; returns the run.
    pub fn import(&self, file: &Path, extra: &[&str]) -> Run {
        let path = file.display().to_string();
        let mut args = vec!["import", path.as_str()];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The agreement view through `view --json`.
    pub fn view(&self, negotiation: &str) -> AgreementView {
        let run = self.run(&["view", negotiation, "--json"]);
        assert_eq!(run.code, 0, "view failed: {}", run.stderr);
        AgreementView::from_json(run.stdout.as_bytes()).expect("view JSON parses")
    }

    /// The recorded events through `events --json`, each decoded (hash checked).
    pub fn events(&self, negotiation: &str) -> Vec<RecordedEvent> {
        let run = self.run(&["events", negotiation, "--json"]);
        if run.code == 1
            && (run.stderr.contains("no recorded events")
                || run.stderr.contains("there is no embedded store"))
        {
            return Vec::new();
        }
        assert_eq!(run.code, 0, "events failed: {}", run.stderr);
        run.stdout
            .lines()
            .map(|l| RecordedEvent::decode(l.as_bytes()).expect("event decodes with a valid hash"))
            .collect()
    }

    /// Events, checked to fold: gapless versions and an intact hash chain.
    pub fn verified_events(&self, negotiation: &str) -> (Vec<RecordedEvent>, Projection) {
        let events = self.events(negotiation);
        let projection = Projection::fold(&events).expect("versions gapless and hash chain intact");
        (events, projection)
    }
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Writes `lines` to a file in `dir` and returns its path.
pub fn write_minutes(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write minutes");
    path
}

/// The lines of a minutes file.
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read minutes")
        .lines()
        .map(str::to_owned)
        .collect()
}
