//! The options that bound what a client may hold of the service (docs/OPERATIONS.md,
//! "Connections and limits"): connections and timeouts, heavy requests, rate limits,
//! `/metrics` access (for `serve` and `api`), and the size of one negotiation (for
//! every command that records, so that an import obeys it as the API does).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use roundtable_api::{ConnectionLimits, Limits, MetricsAccess, Rate};
use roundtable_app::NegotiationLimits;

/// How large one negotiation may grow (global: `import` obeys them as `serve` does).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct NegotiationLimitOptions {
    /// The most events one negotiation may hold; a command beyond is rejected
    /// (`negotiation_limit_reached`). 0: no limit.
    #[arg(
        long,
        global = true,
        env = "ROUNDTABLE_MAX_NEGOTIATION_EVENTS",
        default_value_t = 100_000,
        value_name = "N"
    )]
    max_negotiation_events: u64,
    /// The most bytes one negotiation's events may take (as stored and exported); a
    /// command beyond is rejected (`negotiation_limit_reached`). 0: no limit.
    #[arg(
        long,
        global = true,
        env = "ROUNDTABLE_MAX_NEGOTIATION_BYTES",
        default_value_t = 64 * 1024 * 1024,
        value_name = "BYTES"
    )]
    max_negotiation_bytes: u64,
}

impl NegotiationLimitOptions {
    /// The limits these options set.
    pub(crate) fn limits(&self) -> NegotiationLimits {
        NegotiationLimits {
            max_events: Some(self.max_negotiation_events).filter(|&n| n > 0),
            max_bytes: Some(self.max_negotiation_bytes).filter(|&n| n > 0),
        }
    }
}

/// Connections, timeouts and request limits of the HTTP server.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HttpOptions {
    /// Seconds a connection may take to send a whole request head; then it is closed.
    #[arg(
        long,
        env = "ROUNDTABLE_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10.0,
        value_name = "SECS"
    )]
    header_read_timeout_secs: f64,
    /// Seconds a connection may go without a byte read or written; then it is closed.
    /// Must exceed --request-timeout-secs.
    #[arg(
        long,
        env = "ROUNDTABLE_IDLE_TIMEOUT_SECS",
        default_value_t = 120.0,
        value_name = "SECS"
    )]
    idle_timeout_secs: f64,
    /// The most connections open at once; beyond, a connection gets 503 and is
    /// closed. Lowered, with a warning, below the process's open-file limit.
    #[arg(
        long,
        env = "ROUNDTABLE_MAX_CONNECTIONS",
        default_value_t = 1_024,
        value_name = "N"
    )]
    max_connections: usize,
    /// Seconds a request may take until its response starts; then 503
    /// `request_timeout`. At least 31 (a view may wait 30 s for the projection).
    #[arg(
        long,
        env = "ROUNDTABLE_REQUEST_TIMEOUT_SECS",
        default_value_t = 60.0,
        value_name = "SECS"
    )]
    request_timeout_secs: f64,
    /// How many heavy requests (export, report, OCDS, verify, diff, views as of a
    /// point) may run at once; beyond, 503 `busy` with Retry-After.
    #[arg(
        long,
        env = "ROUNDTABLE_MAX_HEAVY_REQUESTS",
        default_value_t = 4,
        value_name = "N"
    )]
    max_heavy_requests: usize,
    /// Requests a minute per principal (token, web session); beyond, 429 with
    /// Retry-After. 0: no limit.
    #[arg(
        long,
        env = "ROUNDTABLE_RATE_LIMIT_PER_MINUTE",
        default_value_t = 0,
        value_name = "N"
    )]
    rate_limit_per_minute: u32,
    /// Requests a principal may send at once, on top of the rate (with
    /// --rate-limit-per-minute).
    #[arg(
        long,
        env = "ROUNDTABLE_RATE_LIMIT_BURST",
        default_value_t = 60,
        value_name = "N"
    )]
    rate_limit_burst: u32,
    /// A file holding a token `/metrics` then requires (`Authorization: Bearer ...`).
    #[arg(long, env = "ROUNDTABLE_METRICS_TOKEN_FILE", value_name = "FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Serve `/metrics` on this address only (such as one on the monitoring network),
    /// not on --listen.
    #[arg(long, env = "ROUNDTABLE_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

/// The sockets and files the process needs besides its HTTP connections.
const RESERVED_FILES: usize = 64;

fn secs(name: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("--{name} {value} must be a positive number of seconds"))
}

impl HttpOptions {
    /// The connection limits, checked, and lowered below the open-file limit.
    pub(crate) fn connections(&self) -> anyhow::Result<ConnectionLimits> {
        let header_read_timeout = secs("header-read-timeout-secs", self.header_read_timeout_secs)?;
        let idle_timeout = secs("idle-timeout-secs", self.idle_timeout_secs)?;
        let request_timeout = secs("request-timeout-secs", self.request_timeout_secs)?;
        if idle_timeout <= request_timeout {
            bail!(
                "--idle-timeout-secs {} must exceed --request-timeout-secs {}: a connection \
                 waiting for its response moves no byte",
                self.idle_timeout_secs,
                self.request_timeout_secs
            );
        }
        if self.max_connections == 0 {
            bail!("--max-connections must be at least 1");
        }
        let mut max_connections = self.max_connections;
        if let Some(files) = open_file_limit() {
            let room = files.saturating_sub(RESERVED_FILES).max(1);
            if max_connections > room {
                tracing::warn!(
                    max_connections,
                    open_file_limit = files,
                    lowered_to = room,
                    "the open-file limit is too low for --max-connections: raise LimitNOFILE (ulimit -n)"
                );
                eprintln!(
                    "roundtable: warning: the open-file limit is {files}: serving at most {room} \
                     connections, not {max_connections} (raise LimitNOFILE or ulimit -n)"
                );
                max_connections = room;
            }
        }
        Ok(ConnectionLimits {
            header_read_timeout,
            idle_timeout,
            max_connections,
        })
    }

    /// The request limits.
    pub(crate) fn limits(&self) -> anyhow::Result<Limits> {
        let request_timeout = secs("request-timeout-secs", self.request_timeout_secs)?;
        if self.max_heavy_requests == 0 {
            bail!("--max-heavy-requests must be at least 1");
        }
        let rate = (self.rate_limit_per_minute > 0).then(|| Rate {
            per_minute: self.rate_limit_per_minute,
            burst: self.rate_limit_burst.max(1),
        });
        let metrics = match (&self.metrics_token_file, self.metrics_listen) {
            (Some(_), Some(_)) => {
                bail!("give --metrics-token-file or --metrics-listen, not both")
            }
            (Some(file), None) => {
                let text = std::fs::read_to_string(file).with_context(|| {
                    format!("cannot read the metrics token file {}", file.display())
                })?;
                let token = text.trim();
                if token.len() < 16 {
                    bail!(
                        "the metrics token in {} must be at least 16 characters",
                        file.display()
                    );
                }
                MetricsAccess::Token(token.to_owned())
            }
            (None, Some(_)) => MetricsAccess::Elsewhere,
            (None, None) => MetricsAccess::Open,
        };
        Ok(Limits {
            request_timeout,
            heavy_requests: self.max_heavy_requests,
            rate,
            metrics,
        })
    }

    /// The separate address of `/metrics`, if any.
    pub(crate) fn metrics_listen(&self) -> Option<SocketAddr> {
        self.metrics_listen
    }
}

/// The soft limit on open files of this process (Linux: `/proc/self/limits`).
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_file_limit().is_some_and(|n| n > 0));
        }
    }
}
