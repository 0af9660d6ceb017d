//! `roundtable import`: minutes in, one event per accepted line (DOMAIN.md, "The import format").

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use roundtable_app::{CommandHandler, HandleError, Handled};
use roundtable_domain::minutes::{LineError, parse_line};
use roundtable_domain::{
    CommandEnvelope, CommandId, NegotiationId, Projection, RecordedEvent, decide,
};
use roundtable_store::{EventStore, StoreError};
use uuid::Uuid;

use crate::backend::Backend;

/// Lines above which a progress bar is drawn (on a terminal only).
const PROGRESS_FROM_LINES: usize = 500;
/// How long an import keeps retrying a line while the store is unreachable. Retrying
/// is safe: a line's command id makes a second attempt idempotent.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// What the import does with each accepted line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Record it.
    Record,
    /// Only judge it against the recorded state plus the lines before it; record nothing.
    DryRun,
}

#[derive(Debug, Default)]
struct Summary {
    applied: u64,
    already: u64,
    rejected: u64,
    skipped: u64,
    negotiations: BTreeSet<NegotiationId>,
}

/// How one command line was answered.
enum Outcome {
    Applied,
    Already,
    Rejected(String),
}

impl From<Handled> for Outcome {
    fn from(handled: Handled) -> Outcome {
        match handled {
            Handled::Recorded(_) => Outcome::Applied,
            Handled::AlreadyRecorded(_) => Outcome::Already,
        }
    }
}

/// Imports `file`; exit status 0 when no line was rejected, 1 otherwise.
pub(crate) async fn run(
    backend: &Backend,
    file: &Path,
    keep_going: bool,
    mode: Mode,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read minutes file {}", file.display()))?;
    // A byte-order mark, as some editors write, is not part of the first line.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    if text.is_empty() || text.ends_with(b"\n") {
        lines.pop();
    }
    // A dry run records nothing, so it judges every line: stopping would only hide
    // the problems after the first.
    let keep_going = keep_going || mode == Mode::DryRun;
    let mut judge = Judge::new(backend);
    let progress = progress_bar(lines.len());
    let mut summary = Summary::default();
    let mut stopped_at = None;
    // Command lines read but not yet recorded: consecutive lines on one negotiation
    // are recorded together (one atomic batch, one transaction).
    let mut pending: Vec<Line> = Vec::new();

    for (index, raw) in lines.iter().enumerate() {
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
                // The lines before it are judged first, in order.
                let outcomes = judge.record_all(&mut pending, keep_going, &progress).await;
                match settle_all(outcomes, &mut summary, keep_going, &progress, mode) {
                    Flow::Go => {}
                    Flow::Stop(at) => {
                        stopped_at = Some(at);
                        break;
                    }
                    Flow::Fail(err) => {
                        progress.finish_and_clear();
                        print_summary(file, &summary, None, mode);
                        return Err(err);
                    }
                }
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
        let cmd = CommandEnvelope {
            command_id: line.command_id,
            negotiation_id: line.negotiation_id,
            actor: line.actor,
            occurred_at: line.at.unwrap_or_else(Utc::now),
            command: line.command,
        };
        let outcomes = match mode {
            Mode::Record => {
                let other_negotiation = pending
                    .last()
                    .is_some_and(|l| l.cmd.negotiation_id != cmd.negotiation_id);
                let outcomes = if other_negotiation || pending.len() >= BATCH {
                    judge.record_all(&mut pending, keep_going, &progress).await
                } else {
                    Vec::new()
                };
                pending.push(Line { n, cmd });
                outcomes
            }
            Mode::DryRun => {
                let outcome = judge.dry_run(&cmd).await.map_err(HandleError::Store);
                vec![(Line { n, cmd }, outcome)]
            }
        };
        match settle_all(outcomes, &mut summary, keep_going, &progress, mode) {
            Flow::Go => {}
            Flow::Stop(at) => {
                stopped_at = Some(at);
                pending.clear();
                break;
            }
            Flow::Fail(err) => {
                progress.finish_and_clear();
                print_summary(file, &summary, None, mode);
                return Err(err);
            }
        }
    }
    if stopped_at.is_none() {
        let outcomes = judge.record_all(&mut pending, keep_going, &progress).await;
        match settle_all(outcomes, &mut summary, keep_going, &progress, mode) {
            Flow::Go => {}
            Flow::Stop(at) => stopped_at = Some(at),
            Flow::Fail(err) => {
                progress.finish_and_clear();
                print_summary(file, &summary, None, mode);
                return Err(err);
            }
        }
    }
    progress.finish_and_clear();
    print_summary(file, &summary, stopped_at, mode);
    Ok(if summary.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Most command lines recorded together: nats-server's default limit on an atomic batch.
const BATCH: usize = roundtable_nats::MAX_ATOMIC_BATCH;

/// One command line.
struct Line {
    n: usize,
    cmd: CommandEnvelope,
}

/// Whether the import goes on after some lines were judged.
enum Flow {
    Go,
    /// Stopped at this line (rejected, without `--keep-going`).
    Stop(usize),
    /// A line could not be recorded (the store failed for good).
    Fail(anyhow::Error),
}

/// Counts and reports judged lines in order; stops at the first rejection unless
/// `keep_going`, and at the first failure.
fn settle_all(
    outcomes: Vec<(Line, Result<Outcome, HandleError>)>,
    summary: &mut Summary,
    keep_going: bool,
    progress: &ProgressBar,
    mode: Mode,
) -> Flow {
    for (line, outcome) in outcomes {
        let name = line.cmd.command.name();
        match outcome {
            Ok(Outcome::Applied) => {
                summary.applied += 1;
                summary.negotiations.insert(line.cmd.negotiation_id.clone());
            }
            Ok(Outcome::Already) => {
                summary.already += 1;
                summary.negotiations.insert(line.cmd.negotiation_id.clone());
            }
            Ok(Outcome::Rejected(reason)) => {
                progress.suspend(|| report(line.n, name, &reason));
                summary.rejected += 1;
                if !keep_going {
                    return Flow::Stop(line.n);
                }
            }
            Err(e) if mode == Mode::DryRun => {
                return Flow::Fail(anyhow::Error::new(e).context(format!(
                    "line {}: {name} could not be judged (dry run: nothing was recorded)",
                    line.n
                )));
            }
            Err(e @ HandleError::Store(StoreError::LogMissing(_))) => {
                return Flow::Fail(anyhow::Error::new(e).context(format!(
                    "line {}: {name} was not recorded: the event log is gone (nothing can be recorded until it is restored)",
                    line.n
                )));
            }
            Err(e) => {
                let advice = if matches!(e, HandleError::Store(StoreError::Unavailable(_))) {
                    "the lines before it are recorded (and this one may be): run the same file again to continue"
                } else {
                    "the lines before it are recorded; this one was not"
                };
                return Flow::Fail(anyhow::Error::new(e).context(format!(
                    "line {}: {name} could not be recorded; {advice}",
                    line.n
                )));
            }
        }
    }
    Flow::Go
}

/// Records lines through the command handler, or (dry run) judges them in memory
/// against the recorded state.
struct Judge<'a> {
    backend: &'a Backend,
    handler: CommandHandler<dyn EventStore>,
    dry: HashMap<NegotiationId, (Projection, HashSet<CommandId>)>,
}

impl<'a> Judge<'a> {
    fn new(backend: &'a Backend) -> Self {
        Judge {
            backend,
            handler: backend.handler(),
            dry: HashMap::new(),
        }
    }

    /// Records the pending lines (all on one negotiation) through
    /// [`CommandHandler::handle_batch`], and answers each. Lines the store could not
    /// take are tried again one by one, with retries while it is unavailable. Without
    /// `keep_going`, the answers end at the first line not recorded.
    async fn record_all(
        &self,
        pending: &mut Vec<Line>,
        keep_going: bool,
        progress: &ProgressBar,
    ) -> Vec<(Line, Result<Outcome, HandleError>)> {
        let lines = std::mem::take(pending);
        if lines.is_empty() {
            return Vec::new();
        }
        let cmds: Vec<CommandEnvelope> = lines.iter().map(|l| l.cmd.clone()).collect();
        let results = self.handler.handle_batch(&cmds, BATCH, !keep_going).await;
        let mut out = Vec::with_capacity(lines.len());
        let mut results = results.into_iter();
        let mut failed = false;
        for line in lines {
            let outcome = match results.next() {
                Some(Err(HandleError::Store(_))) | None if !failed => {
                    // From the first line the store failed on: one by one, with retries.
                    failed = true;
                    self.record(&line.cmd, line.n, progress).await
                }
                Some(result) if !failed => answer(result),
                _ => self.record(&line.cmd, line.n, progress).await,
            };
            let stop = !keep_going && !matches!(outcome, Ok(Outcome::Applied | Outcome::Already));
            out.push((line, outcome));
            if stop {
                break;
            }
        }
        out
    }

    async fn record(
        &self,
        cmd: &CommandEnvelope,
        n: usize,
        progress: &ProgressBar,
    ) -> Result<Outcome, HandleError> {
        let deadline = Instant::now() + RETRY_FOR;
        let mut pause = Duration::from_millis(200);
        loop {
            match self.handler.handle(cmd).await {
                Ok(handled) => return Ok(Outcome::from(handled)),
                Err(HandleError::Rejected(r)) => return Ok(Outcome::Rejected(r.message)),
                Err(HandleError::Store(StoreError::Unavailable(why)))
                    if Instant::now() + pause < deadline =>
                {
                    progress.suspend(|| eprintln!("line {n}: the event store is unavailable ({why}); retrying in {pause:?}"));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn dry_run(&mut self, cmd: &CommandEnvelope) -> Result<Outcome, StoreError> {
        let id = &cmd.negotiation_id;
        if !self.dry.contains_key(id) {
            let events = self.backend.store().read(id, 0, None).await?;
            let projection = Projection::fold(&events).map_err(|e| StoreError::Corrupt {
                negotiation: id.to_string(),
                position: "its recorded events".into(),
                reason: e.to_string(),
            })?;
            let seen = events.iter().map(|e| e.command_id.clone()).collect();
            self.dry.insert(id.clone(), (projection, seen));
        }
        let Some((projection, seen)) = self.dry.get_mut(id) else {
            return Ok(Outcome::Rejected("internal: state not loaded".into()));
        };
        if seen.contains(&cmd.command_id) {
            return Ok(Outcome::Already);
        }
        match decide(projection.view.as_ref(), cmd) {
            Ok(event) => {
                let sealed = RecordedEvent::seal(
                    cmd,
                    event,
                    projection.version + 1,
                    &projection.last_hash,
                    Uuid::nil(),
                    Utc::now(),
                );
                // Sealed from this very projection: applying cannot fail.
                let _ = projection.apply(&sealed);
                seen.insert(cmd.command_id.clone());
                Ok(Outcome::Applied)
            }
            Err(rejection) => Ok(Outcome::Rejected(rejection.message)),
        }
    }
}

/// A handler's answer as a line's outcome: a rejection is an outcome, not a failure.
fn answer(result: Result<Handled, HandleError>) -> Result<Outcome, HandleError> {
    match result {
        Ok(handled) => Ok(Outcome::from(handled)),
        Err(HandleError::Rejected(r)) => Ok(Outcome::Rejected(r.message)),
        Err(e) => Err(e),
    }
}

fn report(n: usize, command: &str, reason: &str) {
    println!("line {n}: {command} rejected: {reason}");
}

fn print_summary(file: &Path, s: &Summary, stopped_at: Option<usize>, mode: Mode) {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let applied = match mode {
        Mode::Record => "applied",
        Mode::DryRun => "would be applied",
    };
    println!(
        "{name}: {} {applied}, {} already recorded, {} rejected ({} blank or comment lines skipped)",
        s.applied, s.already, s.rejected, s.skipped
    );
    if !s.negotiations.is_empty() {
        let ids: Vec<&str> = s.negotiations.iter().map(NegotiationId::as_str).collect();
        println!("negotiations: {}", ids.join(", "));
    }
    if mode == Mode::DryRun {
        println!("dry run: nothing was recorded");
    }
    if let Some(n) = stopped_at {
        // Say only what is true of the lines before it.
        let before = match (s.applied, s.already) {
            (0, 0) => "nothing was recorded".to_owned(),
            (0, _) => "nothing new was recorded (the lines before it were already)".to_owned(),
            (1, _) => "the line applied before it stays recorded".to_owned(),
            (applied, _) => format!("the {applied} lines applied before it stay recorded"),
        };
        println!("stopped at line {n}: {before}; fix the line and run the same file again");
    } else if s.applied == 0 && s.rejected == 0 && s.already > 0 {
        println!("nothing new recorded: every command line was already recorded");
    } else if s.applied == 0 && s.rejected == 0 && s.already == 0 {
        println!("the file holds no command lines");
    }
}

fn progress_bar(total: usize) -> ProgressBar {
    if total < PROGRESS_FROM_LINES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} importing [{bar:40}] line {pos}/{len}, {eta} left")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
