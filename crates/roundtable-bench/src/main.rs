//! `roundtable-bench`: every benchmark in one run (docs/BENCHMARKS.md).
//!
//! ```text
//! roundtable-bench [--quick] [--out docs/BENCHMARKS.md] [--only <module>...]
//! roundtable-bench --render [--out docs/BENCHMARKS.md]
//! ```

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use roundtable_bench::report::{self, Results};
use roundtable_bench::run::{self, Module, Options};
use roundtable_bench::{Scale, postgres};

/// Benchmarks Roundtable against raw NATS JetStream and a PostgreSQL event store, in one
/// run, and writes docs/BENCHMARKS.md and docs/benchmarks.json.
#[derive(Debug, Parser)]
#[command(name = "roundtable-bench")]
struct Cli {
    /// A few seconds of everything: checks the harness, measures nothing worth keeping.
    #[arg(long)]
    quick: bool,
    /// The Markdown report; benchmarks.json and BENCHMARKS-analysis.md sit beside it.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    out: PathBuf,
    /// Run only these modules (repeatable).
    #[arg(long, value_enum)]
    only: Vec<Module>,
    /// The PostgreSQL database to compare with; it is dropped and created again.
    #[arg(long, env = "ROUNDTABLE_BENCH_POSTGRES", default_value = postgres::DEFAULT_URL)]
    postgres: String,
    /// The `roundtable` binary (default: beside this one).
    #[arg(long, env = "ROUNDTABLE_BENCH_BINARY")]
    roundtable: Option<PathBuf>,
    /// Write the report again from benchmarks.json and the analysis, measuring nothing.
    #[arg(long)]
    render: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.render {
        let results = Results::read(&report::json_path(&cli.out))?;
        report::write(&results, &cli.out)?;
        println!("wrote {}", cli.out.display());
        return Ok(());
    }
    let roundtable = match cli.roundtable {
        Some(path) => path,
        None => std::env::current_exe()
            .context("cannot find this executable")?
            .with_file_name("roundtable"),
    };
    if !roundtable.exists() {
        println!(
            "warning: no roundtable binary at {} (build it with cargo build --release -p roundtable); whole-process figures will fail",
            roundtable.display()
        );
    }
    let command = std::iter::once("roundtable-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let options = Options {
        scale: if cli.quick {
            Scale::quick()
        } else {
            Scale::full()
        },
        scale_name: if cli.quick { "quick" } else { "full" }.to_owned(),
        only: cli.only,
        postgres_url: cli.postgres,
        roundtable,
        command,
    };
    let results = run::run(&options).await?;
    report::print_summary(&results.report());
    report::write(&results, &cli.out)?;
    println!(
        "wrote {} and {}",
        cli.out.display(),
        report::json_path(&cli.out).display()
    );
    if !results.failures.is_empty() {
        bail!(
            "{} module run(s) failed: {}",
            results.failures.len(),
            results.failures.join("; ")
        );
    }
    Ok(())
}
