//! The benchmark harness of Roundtable (docs/BENCHMARKS.md).
//!
//! One run starts its own nats-server (2.10 or newer, found like the test kit finds
//! it), measures every workload first with the server's default fsync and then, on the
//! same store directory, with `sync_interval: always`, and prints every figure with its
//! ratio to its raw NATS counterpart. [`consultation`] writes the deterministic
//! synthetic minutes every workload uses; [`figure`] holds the figures.

use std::path::PathBuf;

pub mod consultation;
pub mod figure;
pub mod http;
pub mod machine;
pub mod postgres;
pub mod raw;
pub mod replay;
pub mod report;
pub mod run;
pub mod store_layer;
pub mod workload;

pub use figure::{Better, Figure, Fsync, Report};

/// How big each workload is.
#[derive(Debug, Clone)]
pub struct Scale {
    /// Commands (or raw publishes) in the sequential one-negotiation workloads.
    pub sequential: usize,
    /// Negotiations in the concurrent workloads.
    pub negotiations: usize,
    /// Commands per negotiation in the concurrent workloads.
    pub per_negotiation: usize,
    /// Concurrent publishers, command tasks or HTTP clients.
    pub concurrency: usize,
    /// Lines of the minutes file `import` reads.
    pub import_lines: usize,
    /// Events in the big stream that cold commands and rebuilds read.
    pub big_stream: usize,
    /// Events of the negotiation a cold command loads.
    pub cold_negotiation: usize,
    /// Offered load of the latency workload, commands per second.
    pub latency_rate: u32,
    /// How long the latency workload offers that load, seconds.
    pub latency_seconds: u64,
    /// Negotiations `serve` holds for the memory figure.
    pub serve_negotiations: usize,
}

impl Scale {
    /// The sizes the issue names: 1,000 negotiations, 64 publishers, a 45,000-line
    /// import, a 1,000,000-event stream, 1,000 commands/s, 10,000 negotiations in `serve`.
    pub fn full() -> Scale {
        Scale {
            sequential: 5_000,
            negotiations: 1_000,
            per_negotiation: 20,
            concurrency: 64,
            import_lines: 45_000,
            big_stream: 1_000_000,
            cold_negotiation: 1_000,
            latency_rate: 1_000,
            latency_seconds: 10,
            serve_negotiations: 10_000,
        }
    }

    /// A few seconds of everything: to check that the harness works, not to measure.
    pub fn quick() -> Scale {
        Scale {
            sequential: 200,
            negotiations: 20,
            per_negotiation: 20,
            concurrency: 8,
            import_lines: 1_000,
            big_stream: 5_000,
            cold_negotiation: 200,
            latency_rate: 100,
            latency_seconds: 2,
            serve_negotiations: 50,
        }
    }
}

/// What every workload gets: the server under test and where to work.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The fsync mode the server runs with now.
    pub fsync: Fsync,
    /// `nats://127.0.0.1:PORT` of the server under test.
    pub nats_url: String,
    /// The `roundtable` binary (release build) for whole-process workloads.
    pub roundtable: PathBuf,
    /// A scratch directory of this run (embedded stores, minutes files).
    pub work_dir: PathBuf,
    /// `postgres://...` of the PostgreSQL server to compare with.
    pub postgres_url: String,
    /// Workload sizes.
    pub scale: Scale,
}
