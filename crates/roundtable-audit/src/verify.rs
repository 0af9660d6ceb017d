//! Verification: `roundtable verify FILE` (an export, no server, no store) and
//! `roundtable verify --negotiation ID` (the live store and its projected view).
//!
//! The checks, in order (docs/AUDIT.md, "Verify"); the first that fails stops the
//! run and is reported with the first bad event and the kind of tampering:
//!
//! 1. `manifest`: the first line is a manifest of this format.
//! 2. `hashes`: every event's content hashes to its `hash` (else `edited`).
//! 3. `chain`: versions run 1, 2, 3... and every `prev_hash` is the hash of the event
//!    before (else `removed`, `inserted`, `reordered` or `edited`: see [`Tampering`]).
//! 4. `complete`: the events end where the manifest says (else `truncated`, or
//!    `inserted` for events appended after it).
//! 5. `rules`: every event is what the rules give for the command it answered,
//!    judged again against the state before it (else `rule_broken`).
//! 6. `signatures`: every signature of `agreement_signed` verifies against the
//!    signatory's key at that time and the agreement hash recomputed from the fold
//!    (else `bad_signature`).
//! 7. `view`: folding the events reproduces the view the export recorded, or the live
//!    store's projected view (else `view_mismatch`).

use std::collections::HashSet;
use std::fmt;

use roundtable_domain::{
    AgreementView, EventBody, GENESIS_HASH, Projection, RecordedEvent, envelope::content_hash,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::export::{FORMAT, FORMAT_VERSION, Manifest, first_difference, view_json};
use crate::replay::{Replayed, SIGNATURE_CODES, replay};

/// What kind of problem the first failing check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum Tampering {
    /// An event's content was changed: it no longer matches its hash, or it was changed
    /// and hashed again, so that the next event (or the manifest) no longer links to it.
    Edited,
    /// An event is missing from the middle: a gap in the versions.
    Removed,
    /// An event was added: a version appears twice, an event belongs to another
    /// negotiation, or events follow the last one the manifest lists.
    Inserted,
    /// Events are out of version order.
    Reordered,
    /// The export ends before the last event its manifest lists.
    Truncated,
    /// A line is not an event (or the manifest is not one) this build can read.
    Malformed,
    /// An event is not what the rules give for the command it answered.
    RuleBroken,
    /// A signature does not verify, or is missing where a key required one.
    BadSignature,
    /// Folding the events does not give the recorded (or projected) view.
    ViewMismatch,
    /// The events do not extend a checkpoint the log signed: the history was
    /// rewritten (every hash recomputed) from some version on.
    Forked,
}

impl Tampering {
    /// The `snake_case` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tampering::Edited => "edited",
            Tampering::Removed => "removed",
            Tampering::Inserted => "inserted",
            Tampering::Reordered => "reordered",
            Tampering::Truncated => "truncated",
            Tampering::Malformed => "malformed",
            Tampering::RuleBroken => "rule_broken",
            Tampering::BadSignature => "bad_signature",
            Tampering::ViewMismatch => "view_mismatch",
            Tampering::Forked => "forked",
        }
    }
}

impl fmt::Display for Tampering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first failure: which event, what kind, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Failure {
    /// The kind of tampering.
    pub kind: Tampering,
    /// The check that failed (`hashes`, `chain`, `complete`, `rules`...).
    pub check: String,
    /// The version of the first bad event (for a removed or truncated event, the
    /// version that is missing), when known.
    pub version: Option<u64>,
    /// Its line in the export (1 is the manifest), when it is in the file.
    pub line: Option<usize>,
    /// Its `event_id`, when it is in the file.
    pub event_id: Option<String>,
    /// What is wrong, naming the values involved.
    pub reason: String,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum CheckOutcome {
    /// Passed.
    Passed,
    /// Failed: see [`VerifyReport::failure`].
    Failed,
    /// Not run, because an earlier check failed or it does not apply.
    Skipped,
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Check {
    /// `manifest`, `hashes`, `chain`, `complete`, `rules`, `signatures`, `view`.
    pub name: String,
    /// The outcome.
    pub outcome: CheckOutcome,
    /// What was checked, in words.
    pub detail: String,
}

/// The result of `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct VerifyReport {
    /// Whether every check passed.
    pub ok: bool,
    /// The negotiation, when known.
    pub negotiation_id: Option<String>,
    /// Event lines read.
    pub events: u64,
    /// Hash of the last event read: compare it with an anchor kept elsewhere.
    pub last_hash: Option<String>,
    /// Ed25519 signatures verified.
    pub signatures_verified: u64,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The first failure, if any.
    pub failure: Option<Failure>,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let mark = match c.outcome {
                CheckOutcome::Passed => "ok  ",
                CheckOutcome::Failed => "FAIL",
                CheckOutcome::Skipped => "skip",
            };
            writeln!(f, "{mark} {:<10} {}", c.name, c.detail)?;
        }
        if let Some(x) = &self.failure {
            let mut at = Vec::new();
            if let Some(v) = x.version {
                at.push(format!("version {v}"));
            }
            if let Some(l) = x.line {
                at.push(format!("line {l}"));
            }
            if let Some(id) = &x.event_id {
                at.push(format!("event {id}"));
            }
            if at.is_empty() {
                // Nothing more precise than the check that failed (an unreadable file).
                at.push(format!("the {}", x.check));
            }
            writeln!(f, "FAILED: {} at {}: {}", x.kind, at.join(", "), x.reason)?;
        } else {
            writeln!(
                f,
                "verified: negotiation {}, {} events, {} signatures, last hash {}",
                self.negotiation_id.as_deref().unwrap_or("?"),
                self.events,
                self.signatures_verified,
                self.last_hash.as_deref().unwrap_or("-")
            )?;
            if !self
                .checks
                .iter()
                .any(|c| c.name == crate::anchor::ANCHOR_CHECK)
            {
                writeln!(
                    f,
                    "proved: self-consistency only. No checkpoint anchored these events, so a history rewritten with every hash recomputed would pass too; verify against a checkpoint signed by the log (--checkpoint CP --log-key KEY) to prove it is the history the log recorded"
                )?;
            }
        }
        Ok(())
    }
}

/// One event line, read but not yet trusted.
struct Entry {
    line: usize,
    value: Map<String, Value>,
    version: Option<u64>,
    hash: Option<String>,
    prev_hash: Option<String>,
    event_id: Option<String>,
    negotiation_id: Option<String>,
}

impl Entry {
    fn new(line: usize, value: Map<String, Value>) -> Entry {
        let s = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        Entry {
            line,
            version: value.get("version").and_then(Value::as_u64),
            hash: s("hash"),
            prev_hash: s("prev_hash"),
            event_id: s("event_id"),
            negotiation_id: s("negotiation_id"),
            value,
        }
    }

    fn failure(&self, kind: Tampering, check: &str, reason: String) -> Failure {
        Failure {
            kind,
            check: check.to_owned(),
            version: self.version,
            line: Some(self.line),
            event_id: self.event_id.clone(),
            reason,
        }
    }
}

/// What the manifest promises (absent for the live store).
struct Expected {
    negotiation_id: String,
    event_count: u64,
    first_hash: String,
    last_hash: String,
    view: Value,
}

/// Runs the checks and collects the report.
struct Run {
    report: VerifyReport,
}

const CHECKS: [(&str, &str); 7] = [
    ("manifest", "the first line is a roundtable-export manifest"),
    ("hashes", "every event's content matches its hash"),
    (
        "chain",
        "versions run 1, 2, 3... and each prev_hash is the previous event's hash",
    ),
    (
        "complete",
        "the events end with the count and last hash the manifest lists",
    ),
    (
        "rules",
        "every event is what the rules give for the command it answered",
    ),
    (
        "signatures",
        "every Ed25519 signature verifies against the signatory's key and the agreement it signed",
    ),
    (
        "view",
        "folding the events reproduces the view recorded in the export",
    ),
];

impl Run {
    fn new(checks: &[(&str, &str)]) -> Run {
        Run {
            report: VerifyReport {
                ok: false,
                negotiation_id: None,
                events: 0,
                last_hash: None,
                signatures_verified: 0,
                checks: checks
                    .iter()
                    .map(|(name, detail)| Check {
                        name: (*name).to_owned(),
                        outcome: CheckOutcome::Skipped,
                        detail: (*detail).to_owned(),
                    })
                    .collect(),
                failure: None,
            },
        }
    }

    fn set(&mut self, name: &str, outcome: CheckOutcome) {
        if let Some(c) = self.report.checks.iter_mut().find(|c| c.name == name) {
            c.outcome = outcome;
        }
    }

    fn pass(&mut self, name: &str) {
        self.set(name, CheckOutcome::Passed);
    }

    fn fail(mut self, failure: Failure) -> VerifyReport {
        self.set(&failure.check.clone(), CheckOutcome::Failed);
        self.report.failure = Some(failure);
        self.report.ok = false;
        self.report
    }

    fn stop(self, failure: Failure) -> Box<VerifyReport> {
        Box::new(self.fail(failure))
    }

    fn done(mut self) -> VerifyReport {
        self.report.ok = true;
        self.report
    }
}

/// Verifies an export (the bytes of a file written by [`crate::export::export`]),
/// with no server and no store.
pub fn verify(bytes: &[u8]) -> VerifyReport {
    verify_export(bytes).0
}

/// [`verify`], also returning the decoded events and the fold when every check passed.
pub(crate) fn verify_export(
    bytes: &[u8],
) -> (
    VerifyReport,
    Option<(Manifest, Vec<RecordedEvent>, AgreementView)>,
) {
    let mut run = Run::new(&CHECKS);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return (
                run.fail(Failure {
                    kind: Tampering::Malformed,
                    check: "manifest".into(),
                    version: None,
                    line: None,
                    event_id: None,
                    reason: format!("the export is not UTF-8 text: {e}"),
                }),
                None,
            );
        }
    };
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let manifest_failure = |reason: String| Failure {
        kind: Tampering::Malformed,
        check: "manifest".into(),
        version: None,
        line: Some(1),
        event_id: None,
        reason,
    };
    let Some(first) = lines.first() else {
        return (
            run.fail(manifest_failure("the export is empty".into())),
            None,
        );
    };
    let manifest: Manifest = match roundtable_domain::json::parse_unique(first) {
        Ok(v) if v.get("format").and_then(Value::as_str) != Some(FORMAT) => {
            return (
                run.fail(manifest_failure(format!(
                    "the first line is not a {FORMAT} manifest (format {})",
                    v.get("format").map_or("missing".into(), Value::to_string)
                ))),
                None,
            );
        }
        Ok(v) if v.get("format_version").and_then(Value::as_u64) != Some(FORMAT_VERSION.into()) => {
            return (
                run.fail(manifest_failure(format!(
                    "format version {} is not one this build reads ({FORMAT_VERSION})",
                    v.get("format_version")
                        .map_or("missing".into(), Value::to_string)
                ))),
                None,
            );
        }
        Ok(v) => match serde_json::from_value(v) {
            Ok(m) => m,
            Err(e) => {
                return (
                    run.fail(manifest_failure(format!("bad manifest: {e}"))),
                    None,
                );
            }
        },
        Err(e) if e.is_data() => {
            return (
                run.fail(manifest_failure(format!(
                    "the manifest gives a key twice: {e}"
                ))),
                None,
            );
        }
        Err(e) => {
            return (
                run.fail(manifest_failure(format!("the manifest is not JSON: {e}"))),
                None,
            );
        }
    };
    run.pass("manifest");
    run.report.negotiation_id = Some(manifest.negotiation_id.clone());
    let mut entries = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(1) {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match roundtable_domain::json::parse_unique(line) {
            Ok(Value::Object(m)) => entries.push(Entry::new(line_no, m)),
            // No release writes a key twice; which value the hash was meant to cover
            // cannot be told.
            Err(e) if e.is_data() => {
                run.report.events = entries.len() as u64;
                let version = entries.last().and_then(|e| e.version).map(|v| v + 1);
                return (
                    run.fail(Failure {
                        kind: Tampering::Edited,
                        check: "hashes".into(),
                        version,
                        line: Some(line_no),
                        event_id: None,
                        reason: format!(
                            "the line gives a key twice, {}: it was altered",
                            e.to_string().replace(" at line 1 column ", " at column ")
                        ),
                    }),
                    None,
                );
            }
            Ok(_) | Err(_) => {
                let last = line_no == lines.len();
                let (kind, check, reason) = if last && !ends_with_newline {
                    (
                        Tampering::Truncated,
                        "complete",
                        "the last line is cut off in the middle of an event".to_owned(),
                    )
                } else {
                    (
                        Tampering::Edited,
                        "hashes",
                        "the line is not a JSON event object: it was altered".to_owned(),
                    )
                };
                run.report.events = entries.len() as u64;
                let version = entries.last().and_then(|e| e.version).map(|v| v + 1);
                return (
                    run.fail(Failure {
                        kind,
                        check: check.into(),
                        version,
                        line: Some(line_no),
                        event_id: None,
                        reason,
                    }),
                    None,
                );
            }
        }
    }
    let expected = Expected {
        negotiation_id: manifest.negotiation_id.clone(),
        event_count: manifest.event_count,
        first_hash: manifest.first_hash.clone(),
        last_hash: manifest.last_hash.clone(),
        view: manifest.view.clone(),
    };
    match check_entries(run, &entries, Some(&expected)) {
        Err(report) => (*report, None),
        Ok((run, events, view)) => (run.done(), Some((manifest, events, view))),
    }
}

/// Verifies the live store: `events` as read (their hashes were checked on read) and
/// the view the projector stored (`None`: no stored view to compare).
///
/// Runs the `hashes`, `chain`, `rules` and `signatures` checks, then compares the
/// projected view with a fresh fold (`view`, failing with `view_mismatch`).
pub fn verify_live(
    events: &[RecordedEvent],
    projected_view: Option<&AgreementView>,
) -> VerifyReport {
    let mut run = Run::new(&[
        CHECKS[1],
        CHECKS[2],
        CHECKS[4],
        CHECKS[5],
        (
            "view",
            "the projected view equals a fresh fold of the events",
        ),
    ]);
    run.report.negotiation_id = events.first().map(|e| e.negotiation_id.to_string());
    let entries: Vec<Entry> = events
        .iter()
        .enumerate()
        .map(|(i, e)| match e.to_json() {
            Value::Object(m) => Entry::new(i + 1, m),
            _ => Entry::new(i + 1, Map::new()),
        })
        .map(|mut e| {
            // Lines mean nothing for the live store.
            e.line = 0;
            e
        })
        .collect();
    let (mut run, _, folded) = match check_entries(run, &entries, None) {
        Err(mut report) => {
            if let Some(f) = report.failure.as_mut() {
                f.line = None;
            }
            return *report;
        }
        Ok(x) => x,
    };
    match projected_view {
        None => {}
        Some(projected) if *projected == folded => run.pass("view"),
        Some(projected) => {
            let at = first_difference(&view_json(&folded), &view_json(projected))
                .unwrap_or_else(|| "(an in-memory index)".into());
            return run.fail(Failure {
                kind: Tampering::ViewMismatch,
                check: "view".into(),
                version: Some(projected.version),
                line: None,
                event_id: None,
                reason: format!(
                    "the projected view (version {}) differs from a fresh fold of the {} events at {at}",
                    projected.version,
                    events.len()
                ),
            });
        }
    }
    run.done()
}

/// Checks hashes, chain, completeness (with a manifest), rules and signatures, and
/// the recorded view (with a manifest). Returns the decoded events and the fold.
fn check_entries(
    mut run: Run,
    entries: &[Entry],
    expected: Option<&Expected>,
) -> Result<(Run, Vec<RecordedEvent>, AgreementView), Box<VerifyReport>> {
    run.report.events = entries.len() as u64;
    run.report.last_hash = entries.last().and_then(|e| e.hash.clone());
    // Hashes first, for every event: an edited event is named even when it also breaks
    // the chain further on.
    for e in entries {
        let computed = content_hash(&e.value);
        if e.hash.as_deref() != Some(computed.as_str()) {
            let reason = match &e.hash {
                Some(stored) => format!(
                    "its content does not match its hash: stored {stored}, the content hashes to {computed}"
                ),
                None => "it has no hash".to_owned(),
            };
            return Err(run.stop(e.failure(Tampering::Edited, "hashes", reason)));
        }
    }
    run.pass("hashes");
    if let Some(f) = chain_failure(entries, expected) {
        return Err(run.stop(f));
    }
    run.pass("chain");
    if let Some(x) = expected {
        if let Some(f) = completeness_failure(entries, x) {
            return Err(run.stop(f));
        }
        run.pass("complete");
    }
    // Decode (upcast) and replay the rules.
    let mut events = Vec::with_capacity(entries.len());
    for e in entries {
        match RecordedEvent::from_json(Value::Object(e.value.clone())) {
            Ok(r) => events.push(r),
            Err(err) => {
                return Err(run.stop(e.failure(
                    Tampering::Malformed,
                    "rules",
                    format!("the event cannot be read: {err}"),
                )));
            }
        }
    }
    let mut p = Projection::new();
    let mut signatures = 0u64;
    for (e, entry) in events.iter().zip(entries) {
        let is_signature = matches!(e.event.body, EventBody::AgreementSigned(_));
        let failure = match replay(p.view.as_ref(), e) {
            Replayed::Same => None,
            Replayed::Rejected(r) if SIGNATURE_CODES.contains(&r.code.as_str()) => Some((
                Tampering::BadSignature,
                format!("{} ({}): {}", e.event_type(), r.code, r.message),
            )),
            Replayed::Rejected(r) => Some((
                Tampering::RuleBroken,
                format!(
                    "the rules reject the {} it records ({}): {}",
                    crate::replay::command_of(e).command.name(),
                    r.code,
                    r.message
                ),
            )),
            Replayed::Differs { decided } => {
                let recorded = serde_json::to_value(&e.event.body).unwrap_or(Value::Null);
                let given = serde_json::to_value(&decided.body).unwrap_or(Value::Null);
                let at = first_difference(&recorded, &given).unwrap_or_else(|| "actor".into());
                let kind = if is_signature {
                    Tampering::BadSignature
                } else {
                    Tampering::RuleBroken
                };
                Some((
                    kind,
                    format!(
                        "the {} it records differs from what the rules give, at {at}: recorded {}, the rules give {}",
                        e.event_type(),
                        pick(&recorded, &at),
                        pick(&given, &at)
                    ),
                ))
            }
        };
        if let Some((kind, reason)) = failure {
            let check = if kind == Tampering::BadSignature {
                "signatures"
            } else {
                "rules"
            };
            return Err(run.stop(entry.failure(kind, check, reason)));
        }
        if let EventBody::AgreementSigned(d) = &e.event.body {
            if d.signature.is_some() {
                signatures += 1;
            }
        }
        if let Err(err) = p.apply(e) {
            return Err(run.stop(entry.failure(Tampering::Malformed, "chain", err.to_string())));
        }
    }
    run.report.signatures_verified = signatures;
    run.pass("rules");
    run.pass("signatures");
    let Some(folded) = p.view else {
        return Err(run.stop(Failure {
            kind: Tampering::Malformed,
            check: "chain".into(),
            version: None,
            line: None,
            event_id: None,
            reason: "there are no events".into(),
        }));
    };
    if let Some(x) = expected {
        let fresh = view_json(&folded);
        if let Some(at) = first_difference(&fresh, &x.view) {
            return Err(run.stop(Failure {
                kind: Tampering::ViewMismatch,
                check: "view".into(),
                version: Some(folded.version),
                line: Some(1),
                event_id: None,
                reason: format!(
                    "the view recorded in the manifest differs from the fold of the events at {at}: recorded {}, the fold gives {}",
                    pick(&x.view, &at),
                    pick(&fresh, &at)
                ),
            }));
        }
        run.pass("view");
    }
    Ok((run, events, folded))
}

/// The value at a path written by [`first_difference`], shortened for messages.
fn pick(root: &Value, path: &str) -> String {
    let mut v = Some(root);
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            v = v.and_then(|x| x.get(key));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let i: usize = idx.trim_end_matches(']').parse().unwrap_or(usize::MAX);
            v = v.and_then(|x| x.get(i));
        }
    }
    let s = v.map_or_else(|| "nothing".to_owned(), Value::to_string);
    if s.chars().count() > 120 {
        format!("{}...", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// The chain check, naming the first bad event and the kind of tampering.
fn chain_failure(entries: &[Entry], expected: Option<&Expected>) -> Option<Failure> {
    let negotiation = expected
        .map(|x| x.negotiation_id.clone())
        .or_else(|| entries.first().and_then(|e| e.negotiation_id.clone()));
    let linked: HashSet<&str> = entries
        .iter()
        .filter_map(|e| e.prev_hash.as_deref())
        .collect();
    let mut prev: Option<&Entry> = None;
    for (i, e) in entries.iter().enumerate() {
        let Some(version) = e.version else {
            return Some(e.failure(
                Tampering::Malformed,
                "chain",
                "the event has no version".into(),
            ));
        };
        if e.negotiation_id != negotiation {
            return Some(e.failure(
                Tampering::Inserted,
                "chain",
                format!(
                    "it belongs to negotiation {}, not {}",
                    e.negotiation_id.as_deref().unwrap_or("(none)"),
                    negotiation.as_deref().unwrap_or("(none)")
                ),
            ));
        }
        let expected_version = prev.and_then(|p| p.version).map_or(1, |v| v + 1);
        let expected_prev = prev.and_then(|p| p.hash.as_deref()).unwrap_or(GENESIS_HASH);
        let later = &entries[i + 1..];
        match version.cmp(&expected_version) {
            std::cmp::Ordering::Equal => {
                if e.prev_hash.as_deref() == Some(expected_prev) {
                    prev = Some(e);
                    continue;
                }
                if later.first().and_then(|n| n.version) == Some(version) {
                    return Some(e.failure(
                        Tampering::Inserted,
                        "chain",
                        format!(
                            "version {version} appears twice (lines {} and {}); this one does not link to the event before it",
                            e.line,
                            later[0].line
                        ),
                    ));
                }
                return Some(match prev {
                    Some(p) => p.failure(
                        Tampering::Edited,
                        "chain",
                        format!(
                            "version {} was changed and its hash recomputed: version {version} records its hash as {}, but it now hashes to {}",
                            expected_version - 1,
                            e.prev_hash.as_deref().unwrap_or("(none)"),
                            expected_prev
                        ),
                    ),
                    None => e.failure(
                        Tampering::Edited,
                        "chain",
                        format!(
                            "version 1 must have prev_hash {GENESIS_HASH}, not {}",
                            e.prev_hash.as_deref().unwrap_or("(none)")
                        ),
                    ),
                });
            }
            std::cmp::Ordering::Greater => {
                if let Some(later_one) = later.iter().find(|n| n.version == Some(expected_version))
                {
                    return Some(e.failure(
                        Tampering::Reordered,
                        "chain",
                        format!(
                            "version {version} stands where version {expected_version} should; version {expected_version} comes later, on line {}",
                            later_one.line
                        ),
                    ));
                }
                let missing = if version - expected_version == 1 {
                    format!("version {expected_version} is")
                } else {
                    format!("versions {expected_version} to {} are", version - 1)
                };
                return Some(Failure {
                    kind: Tampering::Removed,
                    check: "chain".into(),
                    version: Some(expected_version),
                    line: Some(e.line),
                    event_id: None,
                    reason: format!(
                        "{missing} missing: the next event present, version {version} ({}), links to {}",
                        e.event_id.as_deref().unwrap_or("?"),
                        e.prev_hash.as_deref().unwrap_or("(none)")
                    ),
                });
            }
            std::cmp::Ordering::Less => {
                let Some(twin) = entries[..i]
                    .iter()
                    .rev()
                    .find(|o| o.version == Some(version))
                else {
                    return Some(e.failure(
                        Tampering::Reordered,
                        "chain",
                        format!(
                            "version {version} comes after version {}",
                            expected_version - 1
                        ),
                    ));
                };
                // Of the two, the one no other event links to is the extra one.
                let twin_linked = twin.hash.as_deref().is_some_and(|h| linked.contains(h));
                let this_linked = e.hash.as_deref().is_some_and(|h| linked.contains(h));
                let extra = if !twin_linked && this_linked { twin } else { e };
                return Some(extra.failure(
                    Tampering::Inserted,
                    "chain",
                    format!(
                        "version {version} appears twice (lines {} and {}); no event links to this one",
                        twin.line, e.line
                    ),
                ));
            }
        }
    }
    None
}

/// The export ends where its manifest says.
fn completeness_failure(entries: &[Entry], x: &Expected) -> Option<Failure> {
    let count = entries.len() as u64;
    let last = entries.last();
    let last_hash = last.and_then(|e| e.hash.as_deref());
    if count < x.event_count {
        return Some(Failure {
            kind: Tampering::Truncated,
            check: "complete".into(),
            version: Some(count + 1),
            line: Some(entries.len() + 2),
            event_id: None,
            reason: format!(
                "the export ends after version {count}, but the manifest lists {} events ending with {}: versions {} to {} are missing",
                x.event_count,
                x.last_hash,
                count + 1,
                x.event_count
            ),
        });
    }
    if count > x.event_count {
        let extra = &entries[usize::try_from(x.event_count).unwrap_or(0)];
        return Some(extra.failure(
            Tampering::Inserted,
            "complete",
            format!(
                "the manifest lists {} events, but the export holds {count}: this one was added after the last",
                x.event_count
            ),
        ));
    }
    if last_hash != Some(x.last_hash.as_str()) {
        let e = last?;
        return Some(e.failure(
            Tampering::Edited,
            "complete",
            format!(
                "the last event was changed and its hash recomputed: the manifest lists {} as the last hash, the event hashes to {}",
                x.last_hash,
                last_hash.unwrap_or("(none)")
            ),
        ));
    }
    if entries.first().and_then(|e| e.hash.as_deref()) != Some(x.first_hash.as_str()) {
        let e = entries.first()?;
        return Some(e.failure(
            Tampering::Edited,
            "complete",
            format!(
                "the first event does not have the hash the manifest lists ({})",
                x.first_hash
            ),
        ));
    }
    None
}
