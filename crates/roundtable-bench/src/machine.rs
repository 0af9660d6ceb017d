//! The machine a run measured on, as docs/BENCHMARKS.md describes it.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// What the figures depend on besides the code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name (`/proc/cpuinfo`).
    pub cpu: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory, MiB (`/proc/meminfo`).
    pub memory_mib: u64,
    /// `uname -sr`.
    pub kernel: String,
    /// File system and device of the work directory (`df -T`).
    pub disk: String,
    /// `nats-server --version`.
    pub nats_server: String,
    /// PostgreSQL server version and durability settings, or why it is missing.
    pub postgres: String,
    /// `rustc --version`.
    pub rustc: String,
    /// When the run started (UTC, RFC 3339).
    pub measured_at: String,
}

impl Machine {
    /// Describes this machine; `work_dir` is where the stores live, `nats_server` the
    /// server binary's version, `postgres` what [`crate::postgres::describe`] said.
    pub fn describe(work_dir: &Path, nats_server: String, postgres: Option<String>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let cpus = std::thread::available_parallelism().map_or(0, usize::from);
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024);
        let disk = output("df", &["-T", "-h", &work_dir.display().to_string()])
            .lines()
            .nth(1)
            .map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                match cols.as_slice() {
                    [device, fs, size, ..] => format!("{fs} on {device} ({size})"),
                    _ => l.to_owned(),
                }
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Machine {
            cpu,
            cpus,
            memory_mib,
            kernel: output("uname", &["-sr"]),
            disk,
            nats_server,
            postgres: postgres.unwrap_or_else(|| "not reachable: pg.* figures skipped".to_owned()),
            rustc: output("rustc", &["--version"]),
            measured_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// What `program args` prints, trimmed, or `unknown`.
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
