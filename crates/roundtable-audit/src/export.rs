//! The export format (`roundtable export ID > file`): one file, JSON Lines, that an
//! auditor verifies with no server and no store (docs/AUDIT.md, "Export format").
//!
//! ```text
//! line 1      the manifest: one JSON object (canonical JSON), see [`Manifest`]
//! line 2..    one event envelope per line, in version order, exactly the stored
//!             bytes (canonical JSON, as hashed: docs/HASHING.md)
//! ```
//!
//! Every line ends with `\n`. The manifest carries the view the exporter recorded
//! (`view`), so that a verifier can check that folding the events reproduces it.

use roundtable_domain::canonical::to_canonical;
use roundtable_domain::envelope::HASH_ALGORITHM;
use roundtable_domain::{AgreementView, ChainError, GENESIS_HASH, Projection, RecordedEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `format` of every export.
pub const FORMAT: &str = "roundtable-export";

/// The export format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What the hash of an event covers, as written in every manifest.
pub const HASHED_BYTES: &str = "lower-case hex SHA-256 of the canonical JSON (object keys sorted by their UTF-8 bytes, no white space, strings escaped as docs/HASHING.md says, UTF-8) of the event envelope without its \"hash\" key; prev_hash of version 1 is 64 zeros, of every later event the hash of the event before it";

/// The signature scheme, as written in every manifest.
pub const SIGNATURE_SCHEME: &str = "Ed25519 (RFC 8032, strict verification) by the partner's registered public key over the ASCII message roundtable-agreement:<negotiation_id>:<agreement_version>:<agreement_hash>, where agreement_hash is the lower-case hex SHA-256 of the canonical JSON of the agreement content (docs/AUDIT.md)";

/// The tool named in exports this build writes.
pub const TOOL: &str = concat!("roundtable ", env!("CARGO_PKG_VERSION"));

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// The negotiation exported.
    pub negotiation_id: String,
    /// How many event lines follow.
    pub event_count: u64,
    /// `hash` of version 1.
    pub first_hash: String,
    /// `hash` of the last event: the value to compare with an anchor kept elsewhere.
    pub last_hash: String,
    /// `prev_hash` of version 1 (64 zeros).
    pub genesis_prev_hash: String,
    /// `sha256`.
    pub hash_algorithm: String,
    /// The exact bytes each hash covers ([`HASHED_BYTES`]).
    pub hashed_bytes: String,
    /// How `agreement_signed` signatures are made ([`SIGNATURE_SCHEME`]).
    pub signature_scheme: String,
    /// The tool and version that wrote the export.
    pub tool: String,
    /// The agreement view after the last event, as the exporter recorded it (the JSON
    /// of `roundtable view --json`).
    pub view: Value,
    /// Signed checkpoints of this negotiation's log (C2SP signed notes, docs/AUDIT.md
    /// "Checkpoints"), oldest first. Absent in exports without any, including every
    /// export written before checkpoints existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<String>,
}

impl Manifest {
    /// The manifest of an export of `event_count` events of `negotiation_id`, from
    /// `first_hash` to `last_hash`, recording `view`, written by `tool`, with no
    /// checkpoint.
    pub fn new(
        negotiation_id: &str,
        event_count: u64,
        first_hash: &str,
        last_hash: &str,
        view: &AgreementView,
        tool: &str,
    ) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            negotiation_id: negotiation_id.to_owned(),
            event_count,
            first_hash: first_hash.to_owned(),
            last_hash: last_hash.to_owned(),
            genesis_prev_hash: GENESIS_HASH.to_owned(),
            hash_algorithm: HASH_ALGORITHM.to_owned(),
            hashed_bytes: HASHED_BYTES.to_owned(),
            signature_scheme: SIGNATURE_SCHEME.to_owned(),
            tool: tool.to_owned(),
            view: view_json(view),
            checkpoints: Vec::new(),
        }
    }
}

/// The first line of an export: `manifest` with `checkpoints`, as canonical JSON,
/// ending with `\n`. The event lines follow it, each [`RecordedEvent::to_bytes`] and
/// `\n` (so that an export can be written a page of events at a time).
pub fn manifest_line(manifest: &Manifest, checkpoints: &[String]) -> Vec<u8> {
    let mut manifest = manifest.clone();
    manifest.checkpoints = checkpoints.to_vec();
    let mut out = to_canonical(&serde_json::to_value(&manifest).unwrap_or(Value::Null));
    out.push(b'\n');
    out
}

/// Why an export cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// There is nothing to export.
    #[error("negotiation has no events to export")]
    Empty,
    /// The events do not form one intact chain.
    #[error("the events do not form an intact chain: {0}")]
    Chain(#[from] ChainError),
    /// The view given differs from a fresh fold of the events: the export would fail
    /// its own verification. Run `verify --negotiation` to see why.
    #[error("the projected view differs from a fresh fold of the events at {at}")]
    ViewMismatch {
        /// Where they first differ (a JSON path).
        at: String,
    },
}

/// Writes the export of one negotiation's `events` (in version order).
///
/// `projected_view` is the view the store shows (its read model), if any: it must
/// equal a fresh fold of the events, and is what the manifest records. Without it the
/// fold is recorded.
///
/// # Errors
/// [`ExportError`] when there are no events, they do not chain, or the projected view
/// disagrees with them.
pub fn export(
    events: &[RecordedEvent],
    projected_view: Option<&AgreementView>,
) -> Result<Vec<u8>, ExportError> {
    export_with_tool(events, projected_view, TOOL)
}

/// [`export`], naming another tool in the manifest (such as the binary's own version).
///
/// # Errors
/// As [`export`].
pub fn export_with_tool(
    events: &[RecordedEvent],
    projected_view: Option<&AgreementView>,
    tool: &str,
) -> Result<Vec<u8>, ExportError> {
    export_with_checkpoints(events, projected_view, tool, &[])
}

/// [`export_with_tool`], carrying signed checkpoints of the log in the manifest (each
/// a signed note; [`crate::anchor::sign_checkpoint`] makes one). A verifier that
/// trusts the log's key checks the events against them.
///
/// # Errors
/// As [`export`].
pub fn export_with_checkpoints(
    events: &[RecordedEvent],
    projected_view: Option<&AgreementView>,
    tool: &str,
    checkpoints: &[String],
) -> Result<Vec<u8>, ExportError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(ExportError::Empty);
    };
    let folded = Projection::fold(events)?.view.ok_or(ExportError::Empty)?;
    let view = match projected_view {
        Some(v) if *v != folded => {
            return Err(ExportError::ViewMismatch {
                at: first_difference(&view_json(&folded), &view_json(v))
                    .unwrap_or_else(|| "(an in-memory index)".into()),
            });
        }
        Some(v) => v,
        None => &folded,
    };
    let mut out = manifest_line(
        &Manifest::new(
            first.negotiation_id.as_str(),
            events.len() as u64,
            &first.hash,
            &last.hash,
            view,
            tool,
        ),
        checkpoints,
    );
    for e in events {
        out.extend_from_slice(&e.to_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// A view as JSON (what `roundtable view --json` prints).
pub fn view_json(view: &AgreementView) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// The first place two JSON values differ, as a path such as `clauses[2].text`
/// (`None` when equal).
pub fn first_difference(a: &Value, b: &Value) -> Option<String> {
    fn walk(a: &Value, b: &Value, path: &str) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                keys.into_iter().find_map(|k| {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match (x.get(k), y.get(k)) {
                        (Some(u), Some(v)) => walk(u, v, &p),
                        _ => Some(p),
                    }
                })
            }
            (Value::Array(x), Value::Array(y)) => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (u, v))| walk(u, v, &format!("{path}[{i}]")))
                .or_else(|| (x.len() != y.len()).then(|| format!("{path} (length)"))),
            _ => (a != b).then(|| {
                if path.is_empty() {
                    "(the whole value)".to_owned()
                } else {
                    path.to_owned()
                }
            }),
        }
    }
    walk(a, b, "")
}
