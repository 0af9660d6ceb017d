//! The Merkle tree over one negotiation's log, hashed as RFC 9162 section 2.1 says:
//! a leaf hashes to `SHA-256(0x00 || leaf)`, an inner node to
//! `SHA-256(0x01 || left || right)`, and a tree of `n > 1` leaves splits at `k`, the
//! largest power of two below `n` (the left subtree holds the first `k` leaves). The
//! empty tree's root is `SHA-256()` of nothing.
//!
//! **The leaf** of event version `v` is leaf index `v - 1`, and its leaf input is the
//! 32 bytes of that event's `hash` (the SHA-256 of its canonical envelope without
//! `hash`, docs/HASHING.md), decoded from hex. That hash already covers every byte of
//! the event and its `prev_hash`, so hashing it again commits the tree to the whole
//! event; and it lets an adapter extend the tree from the hashes it already keeps,
//! without re-reading event bodies. See [`event_leaf_hash`].
//!
//! [`Frontier`] is the incremental form: the roots of the perfect subtrees covering
//! the leaves so far (a compact range, at most 64 hashes), updated in `O(log n)` per
//! appended leaf. Proofs are generated from a [`LeafSource`] the caller provides (a
//! slice of leaf hashes, or the caller's own type), and verified by [`crate::proof`].

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf hash, an inner node hash or a root hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || leaf)`: the hash of a leaf input (RFC 9162 2.1.1).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an inner node (RFC 9162 2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 9162 2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why an event hash cannot be a leaf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event hash {value:?} is not 64 hex digits")]
pub struct LeafError {
    /// The value given (shortened).
    pub value: String,
}

/// The leaf hash of an event: `leaf_hash` of its `hash` (64 lower-case hex digits)
/// decoded to 32 bytes.
///
/// # Errors
/// [`LeafError`] when `event_hash_hex` is not 64 hex digits.
pub fn event_leaf_hash(event_hash_hex: &str) -> Result<Hash, LeafError> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(event_hash_hex, &mut raw).map_err(|_| LeafError {
        value: event_hash_hex.chars().take(80).collect(),
    })?;
    Ok(leaf_hash(&raw))
}

/// The largest power of two strictly below `n` (`n >= 2`): where RFC 9162 splits a
/// tree of `n` leaves.
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The leaf hashes of a log, by index (0 is version 1).
pub trait LeafSource {
    /// How many leaves there are.
    fn leaf_count(&self) -> u64;
    /// The leaf hash at `index` (`index < leaf_count()`).
    fn leaf_hash(&self, index: u64) -> Hash;
}

impl LeafSource for [Hash] {
    fn leaf_count(&self) -> u64 {
        self.len() as u64
    }
    fn leaf_hash(&self, index: u64) -> Hash {
        self[usize::try_from(index).unwrap_or(usize::MAX)]
    }
}

impl LeafSource for Vec<Hash> {
    fn leaf_count(&self) -> u64 {
        self.as_slice().leaf_count()
    }
    fn leaf_hash(&self, index: u64) -> Hash {
        self.as_slice().leaf_hash(index)
    }
}

/// Why a root or proof cannot be made from a leaf source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// A tree size beyond the leaves available.
    #[error("tree size {size} is beyond the {available} leaves of the log")]
    SizeBeyondLog {
        /// The size asked for.
        size: u64,
        /// The leaves there are.
        available: u64,
    },
    /// An inclusion proof of a leaf outside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutsideTree {
        /// The leaf index asked for (0-based).
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("a consistency proof needs the old size {old} to be at most the new size {new}")]
    SizesOutOfOrder {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
}

fn check_size(src: &(impl LeafSource + ?Sized), size: u64) -> Result<(), TreeError> {
    let available = src.leaf_count();
    if size > available {
        return Err(TreeError::SizeBeyondLog { size, available });
    }
    Ok(())
}

/// MTH over leaves `lo..hi` (`hi > lo`).
fn subtree(src: &(impl LeafSource + ?Sized), lo: u64, hi: u64) -> Hash {
    if hi - lo == 1 {
        return src.leaf_hash(lo);
    }
    let k = split(hi - lo);
    node_hash(&subtree(src, lo, lo + k), &subtree(src, lo + k, hi))
}

/// The root of the tree of the first `size` leaves of `src` (RFC 9162 2.1.1).
///
/// # Errors
/// [`TreeError::SizeBeyondLog`] when `size` exceeds the leaves of `src`.
pub fn root_at(src: &(impl LeafSource + ?Sized), size: u64) -> Result<Hash, TreeError> {
    check_size(src, size)?;
    Ok(if size == 0 {
        empty_root()
    } else {
        subtree(src, 0, size)
    })
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves
/// (RFC 9162 2.1.3.1, `PATH`): sibling hashes from the leaf upwards.
///
/// # Errors
/// [`TreeError`] when `size` exceeds the leaves or `index >= size`.
pub fn inclusion_proof(
    src: &(impl LeafSource + ?Sized),
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError> {
    check_size(src, size)?;
    if index >= size {
        return Err(TreeError::IndexOutsideTree { index, size });
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof);
    Ok(proof)
}

/// PATH(m, D[lo:hi]), appending in the RFC's order (the deepest sibling first).
fn path(src: &(impl LeafSource + ?Sized), m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) {
    let n = hi - lo;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(src, m, lo, lo + k, out);
        out.push(subtree(src, lo + k, hi));
    } else {
        path(src, m - k, lo + k, hi, out);
        out.push(subtree(src, lo, lo + k));
    }
}

/// The consistency proof from the tree of the first `old` leaves to the tree of the
/// first `new` leaves (RFC 9162 2.1.4.1, `PROOF`). Empty when `old` is 0 or equals
/// `new`.
///
/// # Errors
/// [`TreeError`] when `new` exceeds the leaves or `old > new`.
pub fn consistency_proof(
    src: &(impl LeafSource + ?Sized),
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, TreeError> {
    check_size(src, new)?;
    if old > new {
        return Err(TreeError::SizesOutOfOrder { old, new });
    }
    let mut proof = Vec::new();
    if old > 0 {
        subproof(src, old, 0, new, true, &mut proof);
    }
    Ok(proof)
}

/// SUBPROOF(m, D[lo:hi], b).
fn subproof(
    src: &(impl LeafSource + ?Sized),
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(subtree(src, lo, hi));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, lo, lo + k, whole, out);
        out.push(subtree(src, lo + k, hi));
    } else {
        subproof(src, m - k, lo + k, hi, false, out);
        out.push(subtree(src, lo, lo + k));
    }
}

/// The tree kept incrementally: the roots of the perfect subtrees that cover the
/// leaves appended so far, largest (leftmost) first, one per set bit of the size.
///
/// Push each leaf hash as its event is appended ([`Frontier::push`], `O(log n)`); the
/// root at the current size is [`Frontier::root`]. An adapter can store
/// ([`Frontier::size`], [`Frontier::nodes`]) and restore it with
/// [`Frontier::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

/// Why stored frontier parts are not a frontier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a frontier of size {size} has {expected} nodes, not {found}")]
pub struct FrontierError {
    /// The size given.
    pub size: u64,
    /// Nodes a frontier of that size has (the set bits of the size).
    pub expected: u32,
    /// Nodes given.
    pub found: usize,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The frontier of the first `size` leaves of `src`.
    ///
    /// # Errors
    /// [`TreeError::SizeBeyondLog`] when `size` exceeds the leaves of `src`.
    pub fn of(src: &(impl LeafSource + ?Sized), size: u64) -> Result<Frontier, TreeError> {
        check_size(src, size)?;
        let mut f = Frontier::new();
        for i in 0..size {
            f.push(src.leaf_hash(i));
        }
        Ok(f)
    }

    /// Restores a frontier from its size and nodes (largest subtree first).
    ///
    /// # Errors
    /// [`FrontierError`] when the number of nodes is not the number of set bits of
    /// `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Result<Frontier, FrontierError> {
        if nodes.len() != size.count_ones() as usize {
            return Err(FrontierError {
                size,
                expected: size.count_ones(),
                found: nodes.len(),
            });
        }
        Ok(Frontier { size, nodes })
    }

    /// Leaves appended so far: the tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree roots, largest first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends one leaf hash (see [`event_leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            // Each trailing set bit is a perfect subtree of the same height to merge.
            let left = self.nodes.pop().unwrap_or_default();
            h = node_hash(&left, &h);
            s >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// The root at the current size.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}
