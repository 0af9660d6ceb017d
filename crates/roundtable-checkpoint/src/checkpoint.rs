//! Checkpoints (c2sp.org/tlog-checkpoint): the note text of a signed tree head, and
//! Roundtable's profile of it for one negotiation's log.
//!
//! ```text
//! <deployment>/negotiations/<negotiation_id>       origin
//! <tree size>                                      decimal, no leading zeros
//! <base64 root hash>                               32 bytes, standard base64
//! last-event-hash <64 hex digits>                  the hash of event <tree size>
//! last-event-recorded-at <RFC 3339, UTC, Z>        its recorded_at
//! ```
//!
//! The two extension lines are present exactly when the tree is not empty. The
//! log's key is named after the deployment (one key signs every negotiation's
//! checkpoints), and a checkpoint is accepted only from a key whose name is the
//! deployment of its origin.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::keys::{ED25519, KeyError, SignerKey, VerifierKey};
use crate::merkle::Hash;
use crate::note::{Note, NoteError, check_key_name};
use crate::signed::{SignatureError, Verified, sign_text, verify_note};

/// The part of an origin between the deployment and the negotiation id.
pub const ORIGIN_INFIX: &str = "/negotiations/";

const LAST_HASH: &str = "last-event-hash ";
const LAST_AT: &str = "last-event-recorded-at ";

/// The text of a checkpoint, as c2sp.org/tlog-checkpoint defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity.
    pub origin: String,
    /// Leaves in the tree.
    pub size: u64,
    /// The RFC 9162 root at that size.
    pub root: Hash,
    /// Extension lines, in order, without their newlines.
    pub extensions: Vec<String>,
}

/// Why a checkpoint is malformed or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note around it is malformed.
    #[error("malformed note: {0}")]
    Note(#[from] NoteError),
    /// Fewer than three lines, or an empty line.
    #[error("line {line} of the checkpoint is {what}")]
    Line {
        /// The line number (1 is the origin).
        line: usize,
        /// What is wrong with it (`missing`, `empty`).
        what: &'static str,
    },
    /// The tree size is not a decimal number without leading zeros.
    #[error("tree size {0:?} is not a decimal number without leading zeros")]
    Size(String),
    /// The root hash is not the base64 of 32 bytes.
    #[error("root hash {0:?} is not the standard base64 of 32 bytes")]
    Root(String),
    /// The origin is not `<deployment>/negotiations/<negotiation_id>`.
    #[error("origin {0:?} is not <deployment>/negotiations/<negotiation id>")]
    Origin(String),
    /// The extension lines are not the two Roundtable writes.
    #[error("extension line {line} is {found:?}; expected {expected}")]
    Extension {
        /// The line number in the checkpoint.
        line: usize,
        /// What was found (shortened), or `(none)`.
        found: String,
        /// What the profile requires there.
        expected: &'static str,
    },
    /// The signatures do not verify against the log's keys.
    #[error("the checkpoint's signatures are not accepted: {0}")]
    Signature(#[from] SignatureError),
    /// The key that signed it is not named after the origin's deployment.
    #[error("key {key} signed a checkpoint of origin {origin}, which is not of its deployment")]
    ForeignOrigin {
        /// The key name.
        key: String,
        /// The origin.
        origin: String,
    },
    /// The signing key is not an Ed25519 log key.
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Checkpoint {
    /// Parses a checkpoint's note text (final newline included).
    ///
    /// # Errors
    /// [`CheckpointError`] naming the first line that is wrong.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let note = Note::new(text)?;
        let lines: Vec<&str> = note.text().trim_end_matches('\n').split('\n').collect();
        if note.text().ends_with("\n\n") {
            return Err(CheckpointError::Line {
                line: lines.len() + 1,
                what: "empty",
            });
        }
        for i in 0..3 {
            match lines.get(i) {
                None => {
                    return Err(CheckpointError::Line {
                        line: i + 1,
                        what: "missing",
                    });
                }
                Some(&"") => {
                    return Err(CheckpointError::Line {
                        line: i + 1,
                        what: "empty",
                    });
                }
                Some(_) => {}
            }
        }
        if let Some(i) = lines.iter().position(|l| l.is_empty()) {
            return Err(CheckpointError::Line {
                line: i + 1,
                what: "empty",
            });
        }
        let size_line = lines[1];
        let size_ok = size_line.bytes().all(|b| b.is_ascii_digit())
            && (size_line == "0" || !size_line.starts_with('0'));
        let size = size_line
            .parse::<u64>()
            .ok()
            .filter(|_| size_ok)
            .ok_or_else(|| CheckpointError::Size(shorten(size_line)))?;
        let root: Hash = STANDARD
            .decode(lines[2])
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| CheckpointError::Root(shorten(lines[2])))?;
        Ok(Checkpoint {
            origin: lines[0].to_owned(),
            size,
            root,
            extensions: lines[3..].iter().map(|l| (*l).to_owned()).collect(),
        })
    }

    /// The note text: origin, size, base64 root, extension lines, each ending in a
    /// newline.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }
}

/// The last event a Roundtable checkpoint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEvent {
    /// Its `hash` (64 lower-case hex digits).
    pub hash: String,
    /// Its `recorded_at`.
    pub recorded_at: DateTime<Utc>,
}

/// A checkpoint of one negotiation's log, in Roundtable's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheckpoint {
    /// The deployment's name (also the log key's name), such as `roundtable.example.org`.
    pub deployment: String,
    /// The negotiation.
    pub negotiation_id: String,
    /// Events in the tree: the last version covered.
    pub size: u64,
    /// The root of the Merkle tree of its first `size` events ([`crate::merkle`]).
    pub root: Hash,
    /// The event at version `size` (`None` exactly when `size` is 0).
    pub last_event: Option<LastEvent>,
}

/// The origin of a negotiation's log: `<deployment>/negotiations/<negotiation_id>`.
pub fn origin(deployment: &str, negotiation_id: &str) -> String {
    format!("{deployment}{ORIGIN_INFIX}{negotiation_id}")
}

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl LogCheckpoint {
    /// The generic checkpoint.
    pub fn to_checkpoint(&self) -> Checkpoint {
        let extensions = match &self.last_event {
            Some(e) => vec![
                format!("{LAST_HASH}{}", e.hash),
                format!("{LAST_AT}{}", timestamp(&e.recorded_at)),
            ],
            None => Vec::new(),
        };
        Checkpoint {
            origin: origin(&self.deployment, &self.negotiation_id),
            size: self.size,
            root: self.root,
            extensions,
        }
    }

    /// The note text ([`Checkpoint::to_text`]).
    pub fn to_text(&self) -> String {
        self.to_checkpoint().to_text()
    }

    /// Reads Roundtable's profile from a generic checkpoint.
    ///
    /// # Errors
    /// [`CheckpointError::Origin`] or [`CheckpointError::Extension`].
    pub fn from_checkpoint(c: &Checkpoint) -> Result<LogCheckpoint, CheckpointError> {
        let bad_origin = || CheckpointError::Origin(shorten(&c.origin));
        let (deployment, id) = c.origin.rsplit_once(ORIGIN_INFIX).ok_or_else(bad_origin)?;
        check_key_name(deployment).map_err(|_| bad_origin())?;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad_origin());
        }
        let ext = |i: usize, prefix: &'static str, expected: &'static str| {
            let found = c.extensions.get(i);
            found
                .and_then(|l| l.strip_prefix(prefix))
                .ok_or_else(|| CheckpointError::Extension {
                    line: 4 + i,
                    found: found.map_or_else(|| "(none)".to_owned(), |l| shorten(l)),
                    expected,
                })
        };
        let last_event = if c.size == 0 {
            if let Some(l) = c.extensions.first() {
                return Err(CheckpointError::Extension {
                    line: 4,
                    found: shorten(l),
                    expected: "no extension line in an empty tree's checkpoint",
                });
            }
            None
        } else {
            const HASH: &str = "last-event-hash followed by 64 lower-case hex digits";
            const AT: &str = "last-event-recorded-at followed by an RFC 3339 UTC time ending in Z";
            let hash = ext(0, LAST_HASH, HASH)?;
            if hash.len() != 64
                || !hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(CheckpointError::Extension {
                    line: 4,
                    found: shorten(&c.extensions[0]),
                    expected: HASH,
                });
            }
            let at = ext(1, LAST_AT, AT)?;
            let recorded_at = DateTime::parse_from_rfc3339(at)
                .ok()
                .map(|t| t.with_timezone(&Utc))
                .filter(|t| timestamp(t) == at)
                .ok_or_else(|| CheckpointError::Extension {
                    line: 5,
                    found: shorten(&c.extensions[1]),
                    expected: AT,
                })?;
            if let Some(l) = c.extensions.get(2) {
                return Err(CheckpointError::Extension {
                    line: 6,
                    found: shorten(l),
                    expected: "no further extension line",
                });
            }
            Some(LastEvent {
                hash: hash.to_owned(),
                recorded_at,
            })
        };
        Ok(LogCheckpoint {
            deployment: deployment.to_owned(),
            negotiation_id: id.to_owned(),
            size: c.size,
            root: c.root,
            last_event,
        })
    }

    /// Parses the note text of a Roundtable checkpoint.
    ///
    /// # Errors
    /// [`CheckpointError`] naming what is wrong.
    pub fn parse_text(text: &str) -> Result<LogCheckpoint, CheckpointError> {
        LogCheckpoint::from_checkpoint(&Checkpoint::parse_text(text)?)
    }
}

/// Signs checkpoints with the operator's log key (an Ed25519 note key, type `0x01`,
/// named after the deployment). Holds no state: a service makes one at start and
/// calls [`CheckpointSigner::sign`] whenever it takes a checkpoint.
#[derive(Debug, Clone)]
pub struct CheckpointSigner {
    key: SignerKey,
}

impl CheckpointSigner {
    /// A signer with the log key `key`.
    ///
    /// # Errors
    /// [`CheckpointError::Key`] when `key` is not an Ed25519 note key.
    pub fn new(key: SignerKey) -> Result<CheckpointSigner, CheckpointError> {
        key.require_type(ED25519)?;
        Ok(CheckpointSigner { key })
    }

    /// The deployment (the key's name).
    pub fn deployment(&self) -> &str {
        self.key.name()
    }

    /// The verifier key to publish.
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The signed note of the checkpoint of `negotiation_id` at `size` with `root`.
    ///
    /// # Errors
    /// [`CheckpointError::Origin`] for a negotiation id that cannot stand in an
    /// origin; [`CheckpointError::Extension`] when `last_event` is given for an empty
    /// tree or missing for another.
    pub fn sign(
        &self,
        negotiation_id: &str,
        size: u64,
        root: Hash,
        last_event: Option<LastEvent>,
    ) -> Result<String, CheckpointError> {
        let cp = LogCheckpoint {
            deployment: self.deployment().to_owned(),
            negotiation_id: negotiation_id.to_owned(),
            size,
            root,
            last_event,
        };
        let text = cp.to_text();
        // Parse what is about to be signed: a log signs only what verifiers accept.
        LogCheckpoint::parse_text(&text)?;
        let mut note = Note::new(text)?;
        note.add_signature(sign_text(&self.key, note.text())?)?;
        Ok(note.to_string())
    }
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The checkpoint.
    pub checkpoint: LogCheckpoint,
    /// The note, with every signature line it carried.
    pub note: Note,
    /// The log key's signature that verified.
    pub signed_by: Verified,
}

/// Verifies a signed checkpoint against the log's keys (the current one and any
/// earlier ones kept after a rotation; only Ed25519 keys of type `0x01` count) and
/// parses it. The verifying key's name must be the origin's deployment.
///
/// # Errors
/// [`CheckpointError`]: a malformed note or checkpoint, a signature by a trusted key
/// that fails, no signature by one, or a key of another deployment.
pub fn verify_checkpoint(
    note_text: &str,
    log_keys: &[VerifierKey],
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let note = Note::parse(note_text)?;
    let checkpoint = LogCheckpoint::parse_text(note.text())?;
    let keys: Vec<VerifierKey> = log_keys
        .iter()
        .filter(|k| k.sig_type() == ED25519)
        .cloned()
        .collect();
    let verified = verify_note(&note, &keys)?;
    let signed_by = verified.into_iter().next().ok_or_else(|| {
        CheckpointError::Signature(SignatureError::NoTrustedSignature {
            signed: Vec::new(),
            trusted: Vec::new(),
        })
    })?;
    if signed_by.name != checkpoint.deployment {
        return Err(CheckpointError::ForeignOrigin {
            key: signed_by.name,
            origin: origin(&checkpoint.deployment, &checkpoint.negotiation_id),
        });
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        note,
        signed_by,
    })
}
