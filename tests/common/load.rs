//! The load of the fault-injection suite (tests/faults.rs): what each client sends, a
//! ledger of every attempt and every acknowledgement, and the checks of the log and
//! the views against it once the faults are over.
//!
//! Each client acts as one partner of one negotiation and sends commands that are
//! valid whatever else happens in the negotiation (its own proposals, endorsements,
//! retractions and commitments), one at a time: it moves on only once the command is
//! acknowledged, so the next one's preconditions hold. A command that is not
//! acknowledged (timeout, unavailable store, a process gone) is sent again with the
//! same idempotency key until it is. Every fifth acknowledged command is sent once
//! more on purpose, as a client would whose response was lost although the first
//! attempt succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use roundtable_domain::{Command, CommandId, NegotiationId, Projection, RecordedEvent};
use roundtable_projector::ViewStore;
use roundtable_store::EventStore;
use serde_json::{Value, json};

/// One client: the partner it acts as, in which negotiation.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    /// Its number (0, 1, ...): part of every id it makes.
    pub(crate) index: usize,
    /// The negotiation it writes to.
    pub(crate) negotiation: NegotiationId,
    /// The partner it acts as (admitted when the negotiation is set up).
    pub(crate) partner: String,
}

impl Client {
    /// The `n`th command of this client: the JSON body an HTTP client sends
    /// (`do` and the fields) and its idempotency key.
    ///
    /// The cycle (propose, endorse, commit, retract the endorsement) is valid for any
    /// interleaving with other clients, provided every earlier command of this client
    /// was recorded.
    pub(crate) fn command(&self, n: u64) -> (String, Value) {
        let c = self.index;
        let key = format!("c{c}-n{n}");
        let proposal = |k: u64| format!("p-c{c}-{k}");
        let body = match n % 4 {
            0 => {
                json!({"do": "propose", "proposal_id": proposal(n), "clause_id": format!("clause-{c}"),
                        "text": format!("Clause text {n} from client {c}")})
            }
            1 => json!({"do": "endorse", "proposal_id": proposal(n - 1)}),
            2 => json!({"do": "commit", "commitment_id": format!("k-c{c}-{n}"), "kind": "in_kind",
                        "description": format!("In-kind support {n} from client {c}")}),
            _ => json!({"do": "retract_endorsement", "proposal_id": proposal(n - 3)}),
        };
        (key, body)
    }
}

/// The command of an HTTP-style body (`do` and its fields).
pub(crate) fn parse(body: &Value) -> Command {
    let mut fields = body.as_object().expect("a JSON object").clone();
    let name = fields
        .remove("do")
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("do");
    Command::from_fields(&name, fields).expect("a valid command")
}

/// What a client was told once about a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The event's id.
    pub(crate) event_id: String,
    /// Its version.
    pub(crate) version: u64,
    /// Whether the answer said it was recorded before (a replay), not now.
    pub(crate) replayed: bool,
}

/// Everything known about one command (by its negotiation and the command id the log
/// holds).
#[derive(Debug, Clone, Default)]
pub(crate) struct Entry {
    /// Its negotiation.
    pub(crate) negotiation: Option<NegotiationId>,
    /// Attempts made.
    pub(crate) attempts: u64,
    /// Each acknowledgement received (more than one after a deliberate resend or a
    /// retry whose first answer was lost).
    pub(crate) acks: Vec<Ack>,
    /// Rejections received (there should be none: every command is valid).
    pub(crate) rejections: Vec<String>,
}

/// Every command sent and what came back, shared by the clients of one run.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    entries: Mutex<BTreeMap<String, Entry>>,
    acknowledged: AtomicU64,
}

impl Ledger {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> T) -> T {
        f(&mut self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// An attempt at `command_id` of `negotiation` is about to be made.
    pub(crate) fn attempt(&self, command_id: &str, negotiation: &NegotiationId) {
        self.with(|e| {
            let entry = e.entry(key(negotiation, command_id)).or_default();
            entry.negotiation = Some(negotiation.clone());
            entry.attempts += 1;
        });
    }

    /// `command_id` of `negotiation` was acknowledged with `ack`.
    pub(crate) fn ack(&self, command_id: &str, negotiation: &NegotiationId, ack: Ack) {
        self.with(|e| {
            let entry = e.entry(key(negotiation, command_id)).or_default();
            if entry.acks.is_empty() {
                self.acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            entry.acks.push(ack);
        });
    }

    /// `command_id` of `negotiation` was rejected.
    pub(crate) fn reject(&self, command_id: &str, negotiation: &NegotiationId, reason: String) {
        self.with(|e| {
            e.entry(key(negotiation, command_id))
                .or_default()
                .rejections
                .push(reason);
        });
    }

    /// Commands acknowledged so far (each once).
    pub(crate) fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::SeqCst)
    }

    /// A copy of every entry, by `<negotiation>/<command id>`.
    pub(crate) fn entries(&self) -> BTreeMap<String, Entry> {
        self.with(|e| e.clone())
    }
}

/// What the checks found, and the counts the issue asks to print.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Distinct commands sent.
    pub(crate) sent: u64,
    /// Attempts, all commands together.
    pub(crate) attempts: u64,
    /// Commands acknowledged at least once.
    pub(crate) acknowledged: u64,
    /// Attempts beyond each command's first: retries after a failure or a timeout,
    /// and deliberate resends of acknowledged commands.
    pub(crate) retried: u64,
    /// Acknowledged commands found in the log.
    pub(crate) found: u64,
    /// Acknowledged commands missing from the log.
    pub(crate) lost: u64,
    /// Commands whose id is in the log more than once.
    pub(crate) duplicated: u64,
    /// Commands acknowledged twice with different events.
    pub(crate) contradicted: u64,
    /// Acknowledged commands whose event in the log is not the one acknowledged.
    pub(crate) misreported: u64,
    /// Acknowledgements that were replays: the command was recorded by an earlier
    /// attempt (deliberate resends of acknowledged commands included).
    pub(crate) replays: u64,
    /// Commands whose first acknowledgement was a replay: an earlier attempt was
    /// recorded although its client timed out or its answer was lost.
    pub(crate) recorded_while_unanswered: u64,
    /// Commands recorded although never acknowledged (their client gave up or was cut
    /// off at the end): allowed, reported.
    pub(crate) recorded_unacknowledged: u64,
    /// Rejections received (every command is valid: should be none).
    pub(crate) rejected: u64,
    /// Events in the log of the run's negotiations.
    pub(crate) events: u64,
    /// Stored views compared with a fresh fold of their log.
    pub(crate) views_checked: u64,
    /// Problems, in words.
    pub(crate) problems: Vec<String>,
}

impl Report {
    /// The counts on one line, for the test's output.
    pub(crate) fn summary(&self, run: &str) -> String {
        format!(
            "{run}: sent {}, acknowledged {}, retried {} ({} attempts; {} answered from the log, \
             {} first recorded by an attempt whose answer never came), found in the log {}, lost {}, \
             duplicated {}, contradicted {}, misreported {}, recorded but unacknowledged {}, \
             rejected {}, events {}, views equal to a fresh fold {}",
            self.sent,
            self.acknowledged,
            self.retried,
            self.attempts,
            self.replays,
            self.recorded_while_unanswered,
            self.found,
            self.lost,
            self.duplicated,
            self.contradicted,
            self.misreported,
            self.recorded_unacknowledged,
            self.rejected,
            self.events,
            self.views_checked
        )
    }

    /// Panics with every problem found, after printing the counts.
    pub(crate) fn assert_clean(&self, run: &str) {
        println!("{}", self.summary(run));
        assert!(
            self.problems.is_empty()
                && self.lost == 0
                && self.duplicated == 0
                && self.contradicted == 0
                && self.misreported == 0
                && self.rejected == 0,
            "{}\n{}",
            self.summary(run),
            self.problems.join("\n")
        );
        assert!(self.acknowledged > 0, "{run}: nothing was acknowledged");
    }
}

/// Checks the log of `negotiations` in `store` against `ledger`: each negotiation's
/// events decode (hash checked), have gapless versions and a linked chain (a fresh
/// fold); every acknowledged command is in the log exactly once, as the event it was
/// acknowledged with; no command is in the log twice; no command was acknowledged
/// with two different events. When `views` is given, every negotiation's stored view
/// must equal the fresh fold, byte for byte as JSON.
pub(crate) async fn check(
    store: &dyn EventStore,
    views: Option<&dyn ViewStore>,
    negotiations: &[NegotiationId],
    ledger: &Ledger,
) -> Report {
    let entries = ledger.entries();
    let mut report = Report::default();
    let mut in_log: BTreeMap<String, Vec<RecordedEvent>> = BTreeMap::new();
    for n in negotiations {
        let events = match store.read(n, 0, None).await {
            Ok(events) => events,
            Err(e) => {
                report
                    .problems
                    .push(format!("{n}: the log cannot be read: {e}"));
                continue;
            }
        };
        report.events += events.len() as u64;
        let folded = match Projection::fold(&events) {
            Ok(p) => p,
            Err(e) => {
                report
                    .problems
                    .push(format!("{n}: versions or chain broken: {e}"));
                continue;
            }
        };
        for e in events {
            in_log
                .entry(key(n, e.command_id.as_str()))
                .or_default()
                .push(e);
        }
        if let Some(views) = views {
            let fresh = folded
                .view
                .as_ref()
                .map(|v| serde_json::to_vec(v).expect("json"));
            match views.get(n).await {
                Ok(Some(stored)) => {
                    if Some(serde_json::to_vec(&stored.view).expect("json")) == fresh {
                        report.views_checked += 1;
                    } else {
                        report.problems.push(format!(
                            "{n}: the stored view (version {}) differs from a fresh fold (version {})",
                            stored.view.version, folded.version
                        ));
                    }
                }
                Ok(None) => report.problems.push(format!("{n}: no stored view")),
                Err(e) => report
                    .problems
                    .push(format!("{n}: the view cannot be read: {e}")),
            }
        }
    }
    for (id, events) in &in_log {
        if events.len() > 1 {
            report.duplicated += 1;
            report.problems.push(format!(
                "command {id} is in the log {} times (versions {:?})",
                events.len(),
                events.iter().map(|e| e.version).collect::<Vec<_>>()
            ));
        }
    }
    for (id, entry) in &entries {
        report.sent += 1;
        report.attempts += entry.attempts;
        report.retried += entry.attempts.saturating_sub(1);
        report.rejected += entry.rejections.len() as u64;
        for reason in &entry.rejections {
            report
                .problems
                .push(format!("command {id} was rejected: {reason}"));
        }
        report.replays += entry.acks.iter().filter(|a| a.replayed).count() as u64;
        if entry.acks.first().is_some_and(|a| a.replayed) {
            report.recorded_while_unanswered += 1;
        }
        let distinct: BTreeSet<(&str, u64)> = entry
            .acks
            .iter()
            .map(|a| (a.event_id.as_str(), a.version))
            .collect();
        if distinct.len() > 1 {
            report.contradicted += 1;
            report.problems.push(format!(
                "command {id} was acknowledged with different events: {distinct:?}"
            ));
        }
        let logged = in_log.get(id);
        match (entry.acks.first(), logged) {
            (Some(ack), Some(events)) => {
                report.acknowledged += 1;
                report.found += 1;
                if !events
                    .iter()
                    .any(|e| e.event_id.to_string() == ack.event_id && e.version == ack.version)
                {
                    report.misreported += 1;
                    report.problems.push(format!(
                        "command {id} was acknowledged as version {} ({}), the log holds {:?}",
                        ack.version,
                        ack.event_id,
                        events.iter().map(|e| e.version).collect::<Vec<_>>()
                    ));
                }
            }
            (Some(ack), None) => {
                report.acknowledged += 1;
                report.lost += 1;
                report.problems.push(format!(
                    "command {id} was acknowledged as version {} but is not in the log",
                    ack.version
                ));
            }
            (None, Some(_)) => report.recorded_unacknowledged += 1,
            (None, None) => {}
        }
    }
    report
}

/// How the ledger and the checks name a command: command ids are unique within a
/// negotiation only.
fn key(negotiation: &NegotiationId, command_id: &str) -> String {
    format!("{negotiation}/{command_id}")
}

/// The command id of the handler path: the client's key itself.
pub(crate) fn command_id(key: &str) -> CommandId {
    CommandId::new(key).expect("a valid command id")
}
