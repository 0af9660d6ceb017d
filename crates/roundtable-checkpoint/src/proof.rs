//! Verifying inclusion and consistency proofs, exactly as RFC 9162 sections 2.1.3.2
//! and 2.1.4.2 describe, with no access to the tree.

use crate::merkle::{Hash, empty_root, node_hash};

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutsideTree {
        /// The leaf index (0-based).
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size is larger than the new one.
    #[error("the old tree size {old} is larger than the new size {new}")]
    SizesOutOfOrder {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// A consistency proof from the empty tree: every tree extends it, so there is
    /// nothing to prove (and transparency-dev's verifier refuses it too).
    #[error(
        "a consistency proof from the empty tree to size {new} proves nothing; every tree extends the empty one"
    )]
    FromEmptyTree {
        /// The new size.
        new: u64,
    },
    /// The proof has more or fewer hashes than the sizes call for.
    #[error("the proof has {found} hashes; these sizes need {expected}")]
    WrongLength {
        /// Hashes the sizes call for.
        expected: usize,
        /// Hashes given.
        found: usize,
    },
    /// The proof, folded, does not give the root it should.
    #[error("the proof gives root {computed}, not the expected {expected}")]
    RootMismatch {
        /// The root expected (hex).
        expected: String,
        /// The root the proof gives (hex).
        computed: String,
    },
}

fn mismatch(expected: &Hash, computed: &Hash) -> ProofError {
    ProofError::RootMismatch {
        expected: hex::encode(expected),
        computed: hex::encode(computed),
    }
}

/// Hashes an inclusion proof of `size` leaves holds for leaf `index`.
fn inclusion_length(index: u64, size: u64) -> usize {
    // The path has one hash per level below the root, except where the leaf's subtree
    // is the rightmost, unpaired one.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// The root that `proof` gives for `leaf` at `index` in a tree of `size` leaves.
///
/// # Errors
/// [`ProofError::IndexOutsideTree`], or [`ProofError::WrongLength`].
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutsideTree { index, size });
    }
    let expected = inclusion_length(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength {
                expected,
                found: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves whose
/// root is `root` (RFC 9162 2.1.3.2).
///
/// # Errors
/// [`ProofError`] naming why it does not verify.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if computed != *root {
        return Err(mismatch(root, &computed));
    }
    Ok(())
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix of the tree
/// of `new` leaves with root `new_root` (RFC 9162 2.1.4.2).
///
/// When `old == new` the proof must be empty and the roots equal (the empty root for
/// size 0); from size 0 to a larger size there is nothing to prove
/// ([`ProofError::FromEmptyTree`]: the caller knows every tree extends the empty one).
///
/// # Errors
/// [`ProofError`] naming why it does not verify.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if old == 0 && new > 0 {
        return Err(ProofError::FromEmptyTree { new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                found: proof.len(),
            });
        }
        // Nothing to prove but the roots themselves: one root for one size, and the
        // empty tree's root for size 0.
        let want = if old == 0 { empty_root() } else { *new_root };
        if *old_root != want {
            return Err(mismatch(&want, old_root));
        }
        if *new_root != want {
            return Err(mismatch(&want, new_root));
        }
        return Ok(());
    }
    let expected = consistency_length(old, new);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    // Step 2: when the old tree is a perfect subtree, its root starts the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength {
                expected,
                found: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    if fr != *old_root {
        return Err(mismatch(old_root, &fr));
    }
    if sr != *new_root {
        return Err(mismatch(new_root, &sr));
    }
    Ok(())
}

/// Hashes a consistency proof from `old` to `new` leaves holds (`0 < old < new`).
fn consistency_length(old: u64, new: u64) -> usize {
    // Below the old tree's lowest perfect subtree both trees agree; above it the
    // proof is an inclusion path of that subtree's node, plus that node itself unless
    // it is the whole old tree (whose root the verifier holds).
    let shift = old.trailing_zeros();
    let index = (old - 1) >> shift;
    let last = (new - 1) >> shift;
    let inner = 64 - (index ^ last).leading_zeros();
    let border = (index >> inner).count_ones();
    let start = u32::from(!old.is_power_of_two());
    (start + inner + border) as usize
}
