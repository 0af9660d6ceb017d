//! `roundtable import`: minutes in, one event per accepted line (DOMAIN.md, "The import format").

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use roundtable_domain::CommandEnvelope;
use roundtable_domain::minutes::{LineError, parse_line};
use roundtable_store::{CommandHandler, HandleError, Handled};

use crate::backend::Backend;

/// Lines above which a progress bar is drawn (on a terminal only).
const PROGRESS_FROM_LINES: usize = 500;

#[derive(Debug, Default)]
struct Summary {
    applied: u64,
    already: u64,
    rejected: u64,
    skipped: u64,
}

/// Imports `file`; exit status 0 when no line was rejected, 1 otherwise.
pub(crate) async fn run(
    backend: &Backend,
    file: &Path,
    keep_going: bool,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read minutes file {}", file.display()))?;
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let total = if bytes.ends_with(b"\n") {
        lines.len() - 1
    } else {
        lines.len()
    };
    let handler = CommandHandler::new(backend.store().clone());
    let progress = progress_bar(total);
    let mut summary = Summary::default();
    let mut stopped_at = None;

    for (index, raw) in lines.iter().take(total).enumerate() {
        let n = index + 1;
        progress.inc(1);
        let parsed = std::str::from_utf8(raw)
            .map_err(|e| LineError {
                command: None,
                message: format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
            })
            .and_then(parse_line);
        let line = match parsed {
            Ok(None) => {
                summary.skipped += 1;
                continue;
            }
            Ok(Some(line)) => line,
            Err(e) => {
                progress.suspend(|| {
                    report(
                        n,
                        e.command.as_deref().unwrap_or("(unreadable line)"),
                        &e.message,
                    )
                });
                summary.rejected += 1;
                if keep_going {
                    continue;
                }
                stopped_at = Some(n);
                break;
            }
        };
        let name = line.command.name();
        let cmd = CommandEnvelope {
            command_id: line.command_id,
            negotiation_id: line.negotiation_id,
            actor: line.actor,
            occurred_at: line.at.unwrap_or_else(Utc::now),
            command: line.command,
        };
        match handler.handle(&cmd).await {
            Ok(Handled::Recorded(_)) => summary.applied += 1,
            Ok(Handled::AlreadyRecorded(_)) => summary.already += 1,
            Err(HandleError::Rejected(r)) => {
                progress.suspend(|| report(n, name, &r.message));
                summary.rejected += 1;
                if !keep_going {
                    stopped_at = Some(n);
                    break;
                }
            }
            Err(e) => {
                progress.finish_and_clear();
                print_summary(file, &summary, None);
                return Err(anyhow::Error::new(e).context(format!(
                    "line {n}: {name} could not be recorded; the lines before it are recorded \
                     (and this one may be): run the same file again to continue"
                )));
            }
        }
    }
    progress.finish_and_clear();
    print_summary(file, &summary, stopped_at);
    Ok(if summary.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report(n: usize, command: &str, reason: &str) {
    println!("line {n}: {command} rejected: {reason}");
}

fn print_summary(file: &Path, s: &Summary, stopped_at: Option<usize>) {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    println!(
        "{name}: {} applied, {} already recorded, {} rejected ({} blank or comment lines skipped)",
        s.applied, s.already, s.rejected, s.skipped
    );
    if let Some(n) = stopped_at {
        println!(
            "stopped at line {n}: what came before it stays recorded; fix the line and run the same file again"
        );
    } else if s.applied == 0 && s.rejected == 0 && s.already > 0 {
        println!("nothing new recorded: every command line was already recorded");
    }
}

fn progress_bar(total: usize) -> ProgressBar {
    if total < PROGRESS_FROM_LINES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} importing [{bar:40}] line {pos}/{len} ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
