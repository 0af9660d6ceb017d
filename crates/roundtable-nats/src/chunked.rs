//! Values too large for one NATS message (in practice, large agreement views), kept
//! in their bucket as chunks under their own keys plus a small head under the key
//! ([`NatsKv`](crate::NatsKv) decides when).
//!
//! A write of a large value picks a write id (`<milliseconds>-<random>`; the previous
//! release used the view's version for the first part), puts the value in pieces
//! under `<key>.<write>.<n>`, then stores the head `{"chunked_view": {...}}` under
//! `<key>` with the same conditional update as a small value. Chunk keys are never
//! reused, so a head only ever names chunks of its own write: a reader can miss a
//! chunk (swept after the head moved on) but never mixes two values.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Room left under the server's `max_payload` (and the bucket's `max_value_size`) for
/// the subject and headers of a message.
pub(crate) const HEADROOM: usize = 4 * 1024;

/// Attempts at reading a large view whose head moves on while its chunks are read.
pub(crate) const READ_ATTEMPTS: usize = 8;

/// The value under a negotiation's key when its view is stored in chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Head {
    pub(crate) chunked_view: Chunks,
}

/// Where a chunked view is and how to check it is whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Chunks {
    /// The write the chunks belong to: their keys are `<negotiation_id>.<write>.<n>`.
    pub(crate) write: String,
    /// How many chunks, numbered from 0.
    pub(crate) chunks: usize,
    /// The value's size, all chunks together.
    pub(crate) bytes: usize,
    /// The view's version, in heads written by the previous release (which checked
    /// it against the view read back); not written any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<u64>,
}

/// The first bytes of every head: anything else under a negotiation's key is a view.
const HEAD_PREFIX: &[u8] = b"{\"chunked_view\":";

/// Largest head a value can be (write ids are short): a larger value is a view.
const MAX_HEAD: usize = 512;

impl Head {
    /// A head for `body` cut into pieces of at most `chunk_size` bytes.
    pub(crate) fn new(write: String, body: &[u8], chunk_size: usize) -> Head {
        Head {
            chunked_view: Chunks {
                write,
                chunks: body.len().div_ceil(chunk_size),
                bytes: body.len(),
                version: None,
            },
        }
    }

    /// The head in `value`, `None` when `value` is a view (or anything else).
    pub(crate) fn parse(value: &[u8]) -> Option<Head> {
        if value.len() > MAX_HEAD || !value.starts_with(HEAD_PREFIX) {
            return None;
        }
        serde_json::from_slice(value).ok()
    }

    pub(crate) fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("a head serializes"))
    }

    /// The key of chunk `n` of this head's value under `key`.
    pub(crate) fn chunk_key(&self, key: &str, n: usize) -> String {
        format!("{key}.{}.{n}", self.chunked_view.write)
    }
}

/// A new write id: never used before, valid in a key token.
pub(crate) fn write_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{millis}-{}", uuid::Uuid::new_v4().simple())
}

/// Whether `token` is a write id: digits, `-`, 32 lower-case hex digits.
fn is_write_id(token: &str) -> bool {
    token.split_once('-').is_some_and(|(n, id)| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether `key` is a chunk key (`<key>.<write>.<n>`) rather than a value's.
pub(crate) fn is_chunk_key(key: &str) -> bool {
    let mut parts = key.rsplitn(3, '.');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(n), Some(write), Some(base))
            if !base.is_empty()
                && is_write_id(write)
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
    )
}

/// The chunk size for a server taking messages of `max_payload` bytes into a bucket
/// taking values of `max_value_size` bytes (0 or less: no limit of its own).
pub(crate) fn chunk_size(max_payload: usize, max_value_size: i32) -> usize {
    let limit = match usize::try_from(max_value_size) {
        Ok(size) if size > 0 => size.min(max_payload),
        _ => max_payload,
    };
    limit.saturating_sub(HEADROOM).max(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_round_trips_and_a_view_is_not_a_head() {
        let head = Head::new(write_id(), &[b'x'; 2500], 1000);
        assert_eq!(head.chunked_view.chunks, 3);
        assert_eq!(head.chunked_view.bytes, 2500);
        assert_eq!(Head::parse(&head.to_bytes()), Some(head.clone()));
        assert_eq!(Head::parse(br#"{"negotiation_id":"a","version":1}"#), None);
        assert_eq!(Head::parse(br#"{"chunked_view":{"write":"x"}}"#), None);
        let key = head.chunk_key("big", 2);
        assert!(key.starts_with("big.") && key.ends_with(".2"), "{key}");
        assert!(is_chunk_key(&key));
        assert!(!is_chunk_key("big"));
        assert!(!is_chunk_key("big.x"));
        assert!(!is_chunk_key("big.x.y"));
        // Keys with tokens of their own (parked entries, dead letters) are not chunks.
        assert!(!is_chunk_key("entry.17"));
        assert!(!is_chunk_key("dead.wh-1.neg-a.3"));
        assert!(is_chunk_key(&head.chunk_key("dead.wh-1.neg-a.3", 0)));
    }

    /// The previous release wrote the view's version in the head and in the write id:
    /// its chunks are still chunks, and its heads still parse.
    #[test]
    fn heads_and_chunks_of_the_previous_release_are_recognised() {
        let old = br#"{"chunked_view":{"write":"7-0123456789abcdef0123456789abcdef","chunks":3,"bytes":2500,"version":7}}"#;
        let head = Head::parse(old).expect("an old head");
        assert_eq!(head.chunked_view.version, Some(7));
        assert_eq!(head.chunked_view.chunks, 3);
        assert!(is_chunk_key("neg-a.7-0123456789abcdef0123456789abcdef.2"));
    }

    #[test]
    fn chunks_fit_the_smaller_limit() {
        assert_eq!(chunk_size(1024 * 1024, -1), 1024 * 1024 - HEADROOM);
        assert_eq!(chunk_size(1024 * 1024, 0), 1024 * 1024 - HEADROOM);
        assert_eq!(chunk_size(1024 * 1024, 65_536), 65_536 - HEADROOM);
        assert_eq!(chunk_size(8 * 1024 * 1024, 2_000_000), 2_000_000 - HEADROOM);
    }
}
