//! Running the `roundtable` binary as a whole process: its wall time, output, and peak
//! resident memory (the kernel's high-water mark, `VmHWM` of `/proc/<pid>/status`,
//! sampled until it exits).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::AsyncReadExt;

/// How often the child's memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// One finished run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    /// From spawning to exit.
    pub(crate) elapsed: Duration,
    /// The highest `VmHWM` sampled, in KiB (`None` when never readable).
    pub(crate) peak_kib: Option<u64>,
    /// What it printed.
    pub(crate) stdout: String,
}

/// Runs `binary args...` with no Roundtable settings from this process's environment,
/// and fails unless it exits with status 0.
pub(crate) async fn run<I, S>(binary: &Path, args: I) -> anyhow::Result<Run>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = tokio::process::Command::new(binary);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("ROUNDTABLE_") {
            command.env_remove(key);
        }
    }
    let shown = format!("{} {:?}", binary.display(), command.as_std().get_args());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {shown}"))?;
    let pid = child.id();
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let out = tokio::spawn(async move {
        let mut s = String::new();
        stdout.read_to_string(&mut s).await.map(|_| s)
    });
    let err = tokio::spawn(async move {
        let mut s = String::new();
        stderr.read_to_string(&mut s).await.map(|_| s)
    });
    let mut peak_kib = None;
    let status = loop {
        if let Some(kib) = pid.and_then(high_water_kib) {
            peak_kib = peak_kib.max(Some(kib));
        }
        tokio::select! {
            status = child.wait() => break status?,
            () = tokio::time::sleep(SAMPLE_EVERY) => {}
        }
    };
    let elapsed = started.elapsed();
    let stdout = out.await??;
    let stderr = err.await??;
    anyhow::ensure!(
        status.success(),
        "{shown} exited with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    Ok(Run {
        elapsed,
        peak_kib,
        stdout,
    })
}

/// `VmHWM` of process `pid`, in KiB.
fn high_water_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
