//! C2SP signed notes (c2sp.org/signed-note): a text ending in a newline, a blank
//! line, then one or more signature lines `— <key name> base64(key id || signature)`.
//!
//! Parsing is strict: valid UTF-8, no control characters other than newline, a final
//! newline, key names without spaces or `+`, canonical standard base64 of at least
//! five bytes, at most [`MAX_SIGNATURES`] signatures. The text is everything up to and
//! including the newline before the last blank line.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Signatures a note may carry (the spec asks verifiers to accept at least 16).
pub const MAX_SIGNATURES: usize = 64;

/// The signature line's prefix: an em dash (U+2014) and a space.
const DASH: &str = "\u{2014} ";

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 32-bit key id (the first four bytes of the decoded signature, big-endian).
    pub key_id: u32,
    /// The signature bytes after the key id (64 for Ed25519, 72 for a cosignature).
    pub signature: Vec<u8>,
}

impl fmt::Display for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        writeln!(f, "{DASH}{} {}", self.name, STANDARD.encode(raw))
    }
}

/// A signed note: its text and signatures, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Why a note, or a note's text, is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The bytes are not UTF-8.
    #[error("the note is not UTF-8 text (byte {at})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        at: usize,
    },
    /// A control character other than newline (tabs and carriage returns included).
    #[error(
        "the note holds control character U+{code:04X} at byte {at}; only newlines are allowed"
    )]
    ControlCharacter {
        /// The character's code point.
        code: u32,
        /// Its byte offset.
        at: usize,
    },
    /// The note (or its text) does not end with a newline.
    #[error("the note does not end with a newline")]
    NoFinalNewline,
    /// No blank line separates the text from signatures.
    #[error("the note has no blank line before its signatures")]
    NoSignatures,
    /// A signature line is malformed.
    #[error("signature line {line} is malformed: {reason}")]
    BadSignatureLine {
        /// The signature line's number (1 is the first signature line).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// More signatures than [`MAX_SIGNATURES`].
    #[error("the note carries {count} signatures, more than the {MAX_SIGNATURES} accepted")]
    TooManySignatures {
        /// Signatures found.
        count: usize,
    },
    /// A key name that is empty or holds a space or `+`.
    #[error("key name {name:?} is not valid: {reason}")]
    BadKeyName {
        /// The name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Checks a key name: non-empty, no Unicode spaces, no `+`, no control characters.
///
/// # Errors
/// [`NoteError::BadKeyName`].
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    let bad = |reason| {
        Err(NoteError::BadKeyName {
            name: name.chars().take(80).collect(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().any(char::is_whitespace) {
        return bad("it holds a space");
    }
    if name.contains('+') {
        return bad("it holds a plus sign");
    }
    if name.chars().any(char::is_control) {
        return bad("it holds a control character");
    }
    Ok(())
}

fn check_chars(s: &str) -> Result<(), NoteError> {
    match s.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((at, c)) => Err(NoteError::ControlCharacter {
            code: u32::from(c),
            at,
        }),
        None => Ok(()),
    }
}

impl Note {
    /// A note with `text` and no signatures yet (the text must end with a newline and
    /// hold no control character other than newline).
    ///
    /// # Errors
    /// [`NoteError::NoFinalNewline`] or [`NoteError::ControlCharacter`].
    pub fn new(text: impl Into<String>) -> Result<Note, NoteError> {
        let text = text.into();
        check_chars(&text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::NoFinalNewline);
        }
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note from bytes.
    ///
    /// # Errors
    /// [`NoteError`] naming the first thing wrong.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Note, NoteError> {
        let s = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8 {
            at: e.valid_up_to(),
        })?;
        Note::parse(s)
    }

    /// Parses a signed note.
    ///
    /// # Errors
    /// [`NoteError`] naming the first thing wrong.
    pub fn parse(s: &str) -> Result<Note, NoteError> {
        check_chars(s)?;
        if !s.ends_with('\n') {
            return Err(NoteError::NoFinalNewline);
        }
        let Some(split) = s.rfind("\n\n") else {
            return Err(NoteError::NoSignatures);
        };
        let text = &s[..=split];
        let block = &s[split + 2..];
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let lines: Vec<&str> = block.trim_end_matches('\n').split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures { count: lines.len() });
        }
        let signatures = lines
            .iter()
            .enumerate()
            .map(|(i, l)| parse_signature_line(l, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line.
    ///
    /// # Errors
    /// [`NoteError::BadKeyName`] for a name that cannot stand in a signature line,
    /// [`NoteError::TooManySignatures`] past [`MAX_SIGNATURES`].
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        check_key_name(&signature.name)?;
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                count: self.signatures.len() + 1,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }
}

impl fmt::Display for Note {
    /// The note as text: the text, a blank line, the signature lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

fn parse_signature_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
    let bad = |reason: String| NoteError::BadSignatureLine {
        line: number,
        reason,
    };
    let Some(rest) = line.strip_prefix(DASH) else {
        return Err(bad(format!(
            "it does not start with an em dash and a space: {:?}",
            line.chars().take(40).collect::<String>()
        )));
    };
    let Some((name, b64)) = rest.split_once(' ') else {
        return Err(bad(
            "it has no space between the key name and the signature".into(),
        ));
    };
    check_key_name(name).map_err(|e| bad(e.to_string()))?;
    let raw = STANDARD
        .decode(b64)
        .map_err(|e| bad(format!("the signature is not standard base64: {e}")))?;
    if raw.len() < 5 {
        return Err(bad(format!(
            "the signature decodes to {} bytes; a key id and a signature need at least 5",
            raw.len()
        )));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}
