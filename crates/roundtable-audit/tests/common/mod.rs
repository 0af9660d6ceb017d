//! Helpers of the audit tests: the project's sample minutes (Harbourside) folded through
//! `decide` line by line (the oracle), sealed into a real hash chain with fixed ids and clocks, and tools to
//! tamper with an export.
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::{Signer, SigningKey};
use roundtable_domain::envelope::content_hash;
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{
    Actor, AgreementView, Command, CommandEnvelope, CommandId, GENESIS_HASH, NegotiationId,
    Projection, RecordedEvent, decide,
};
use serde_json::Value;
use uuid::Uuid;

/// The text of a file of the repository, by its path from the workspace root (the
/// sample minutes in `examples/minutes/`, the vendored data in `tests/data/`).
pub(crate) fn repository_file(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The commands of a minutes text, in order (comments and blank lines skipped).
pub(crate) fn commands(text: &str) -> Vec<CommandEnvelope> {
    text.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let m = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1))?;
            Some(CommandEnvelope {
                command_id: m.command_id,
                negotiation_id: m.negotiation_id,
                actor: m.actor,
                occurred_at: m.at.expect("every line has an at"),
                command: m.command,
            })
        })
        .collect()
}

/// Seals the next event of `p` for `cmd` (event id from the version, recorded two
/// seconds after it occurred).
pub(crate) fn seal(
    p: &Projection,
    cmd: &CommandEnvelope,
    event: roundtable_domain::Event,
) -> RecordedEvent {
    let version = p.version + 1;
    RecordedEvent::seal(
        cmd,
        event,
        version,
        &p.last_hash,
        Uuid::from_u128(0x0196_0000_0000_7000_8000_0000_0000_0000 + u128::from(version)),
        cmd.occurred_at + Duration::seconds(2),
    )
}

/// Folds `cmds` through `decide`, panicking on a rejection; returns the events and
/// the view after each one (the oracle: `views[i]` is the view after `i + 1` lines).
pub(crate) fn run(cmds: &[CommandEnvelope]) -> (Vec<RecordedEvent>, Vec<AgreementView>) {
    let mut p = Projection::new();
    let mut events = Vec::new();
    let mut views = Vec::new();
    for (i, c) in cmds.iter().enumerate() {
        let event = decide(p.view.as_ref(), c)
            .unwrap_or_else(|r| panic!("command #{} ({}): {r:?}", i + 1, c.command.name()));
        let e = seal(&p, c, event);
        p.apply(&e).unwrap();
        events.push(e);
        views.push(p.view.clone().unwrap());
    }
    (events, views)
}

/// The sample minutes (`examples/minutes/harbourside-waste.jsonl`).
pub(crate) fn sample_text() -> String {
    repository_file("examples/minutes/harbourside-waste.jsonl")
}

/// The sample minutes: 73 events and the view after each.
pub(crate) fn sample() -> (Vec<RecordedEvent>, Vec<AgreementView>) {
    run(&commands(&sample_text()))
}

/// The contract version 2 sample minutes
/// (`examples/minutes/fieldbrook-sanitation.jsonl`): a partnership that concludes,
/// delivers, loses a partner, renegotiates its tariff in a round and concludes again.
/// 87 events and the view after each.
pub(crate) fn fieldbrook() -> (Vec<RecordedEvent>, Vec<AgreementView>) {
    run(&commands(&repository_file(
        "examples/minutes/fieldbrook-sanitation.jsonl",
    )))
}

/// The version of the first event of `events` of `event_type`.
pub(crate) fn first_of(events: &[RecordedEvent], event_type: &str) -> u64 {
    events
        .iter()
        .find(|e| e.event_type() == event_type)
        .unwrap_or_else(|| panic!("no {event_type}"))
        .version
}

pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub(crate) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// A command by `by` on `negotiation` at `at`, with a fresh id.
pub(crate) fn cmd(
    negotiation: &str,
    by: &str,
    at: DateTime<Utc>,
    command: Command,
) -> CommandEnvelope {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    CommandEnvelope {
        command_id: CommandId::new(format!("t-{}", N.fetch_add(1, Ordering::Relaxed))).unwrap(),
        negotiation_id: NegotiationId::new(negotiation).unwrap(),
        actor: Actor::parse(by).unwrap(),
        occurred_at: at,
        command,
    }
}

/// A command from a minutes-style JSON object (`do` and fields).
pub(crate) fn command(json: Value) -> Command {
    serde_json::from_value(json).unwrap()
}

/// A test key pair derived from `name`.
pub(crate) fn key_pair(name: &str) -> SigningKey {
    use sha2::Digest;
    let seed: [u8; 32] =
        sha2::Sha256::digest(format!("audit test key of {name}").as_bytes()).into();
    SigningKey::from_bytes(&seed)
}

/// The 32-byte seed of [`key_pair`] in hex (a secret key as the CLI would read it).
pub(crate) fn secret_hex(name: &str) -> String {
    hex::encode(key_pair(name).to_bytes())
}

pub(crate) fn public_hex(name: &str) -> String {
    hex::encode(key_pair(name).verifying_key().to_bytes())
}

pub(crate) fn sign_hex(name: &str, message: &str) -> String {
    hex::encode(key_pair(name).sign(message.as_bytes()).to_bytes())
}

/// An export split into its manifest and event objects.
pub(crate) struct Lines {
    pub(crate) manifest: Value,
    pub(crate) events: Vec<Value>,
}

impl Lines {
    pub(crate) fn parse(bytes: &[u8]) -> Lines {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut lines = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap());
        let manifest = lines.next().unwrap();
        Lines {
            manifest,
            events: lines.collect(),
        }
    }

    /// The export again (canonical lines).
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for v in std::iter::once(&self.manifest).chain(&self.events) {
            out.extend(roundtable_domain::canonical::to_canonical(v));
            out.push(b'\n');
        }
        out
    }

    /// Recomputes every `prev_hash` and `hash` in order, and the manifest's count and
    /// hashes: what a forger able to rewrite the whole file does.
    pub(crate) fn rechain(&mut self) {
        let mut prev = GENESIS_HASH.to_owned();
        for e in &mut self.events {
            let m = e.as_object_mut().unwrap();
            m.insert("prev_hash".into(), Value::String(prev.clone()));
            let h = content_hash(m);
            m.insert("hash".into(), Value::String(h.clone()));
            prev = h;
        }
        self.manifest["event_count"] = Value::from(self.events.len());
        self.manifest["first_hash"] = self.events[0]["hash"].clone();
        self.manifest["last_hash"] = Value::String(prev);
    }

    /// The event at `version` (1-based).
    pub(crate) fn event(&mut self, version: u64) -> &mut Value {
        &mut self.events[usize::try_from(version).unwrap() - 1]
    }
}
