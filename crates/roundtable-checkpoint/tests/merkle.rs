//! The Merkle tree against published vectors (the RFC 6962 reference tree used by
//! certificate-transparency and transparency-dev, and transparency-dev's proof
//! vectors) and against a naive implementation written here straight from the
//! definitions of RFC 9162 section 2.1, over random sizes and indices.

use std::path::Path;

use proptest::prelude::*;
use roundtable_checkpoint::merkle::{
    Frontier, Hash, consistency_proof, empty_root, inclusion_proof, leaf_hash, root_at,
};
use roundtable_checkpoint::proof::{ProofError, verify_consistency, verify_inclusion};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// The naive implementation: lists of leaf inputs, recursion exactly as written in
// RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1, nothing shared with the crate.

fn sha(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Vec<u8>]) -> Hash {
    match d.len() {
        0 => sha(&[]),
        1 => sha(&[&[0], &d[0]]),
        n => {
            let k = k_of(n);
            sha(&[&[1], &mth(&d[..k]), &mth(&d[k..])])
        }
    }
}

fn naive_path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = naive_path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn naive_subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = naive_subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = naive_subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("event {i}").into_bytes()).collect()
}

fn hashes(d: &[Vec<u8>]) -> Vec<Hash> {
    d.iter().map(|l| leaf_hash(l)).collect()
}

// ---------------------------------------------------------------------------
// Published vectors.

fn hexh(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// The RFC 6962 reference tree: leaf inputs and the root at each size 1..=8
/// (transparency-dev/merkle testonly/constants.go; the same data as
/// certificate-transparency's merkle tree tests).
fn reference() -> (Vec<Vec<u8>>, Vec<Hash>) {
    let inputs = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    (
        inputs.iter().map(|s| hex::decode(s).unwrap()).collect(),
        roots.iter().map(|s| hexh(s)).collect(),
    )
}

#[test]
fn the_reference_tree_has_the_published_roots_at_every_size() {
    let (inputs, roots) = reference();
    let leaves = hashes(&inputs);
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let mut f = Frontier::new();
    assert_eq!(f.root(), empty_root());
    for (n, want) in roots.iter().enumerate() {
        f.push(leaves[n]);
        assert_eq!(f.size(), n as u64 + 1);
        assert_eq!(&f.root(), want, "frontier root at size {}", n + 1);
        assert_eq!(&root_at(&leaves, n as u64 + 1).unwrap(), want);
        assert_eq!(f.nodes().len(), (n + 1).count_ones() as usize);
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: i128,
    tree_size: i128,
    root: Option<String>,
    leaf_hash: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyVector {
    size1: i128,
    size2: i128,
    root1: Option<String>,
    root2: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

fn b64(s: &str) -> Option<Hash> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()?
        .try_into()
        .ok()
}

/// A root given in a vector: its 32 bytes, or, for the few vectors whose roots are
/// not 32 bytes (such as `"don't care"`), a stand-in that keeps which roots are equal.
/// No such root can be the root of a real tree, and neither can its stand-in.
fn b64_root(s: &str) -> Option<Hash> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    Some(
        raw.clone()
            .try_into()
            .unwrap_or_else(|_| sha(&[b"not a root", &raw])),
    )
}

fn b64_list(p: Option<&Vec<String>>) -> Option<Vec<Hash>> {
    p.map_or(Some(vec![]), |v| v.iter().map(|s| b64(s)).collect())
}

fn vector_files(kind: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/transparency-dev")
            .join(kind),
        &mut out,
    );
    out.sort();
    out
}

#[test]
fn transparency_dev_inclusion_vectors() {
    let files = vector_files("inclusion");
    assert!(files.len() > 90, "{} files", files.len());
    for f in files {
        let v: InclusionVector =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let got = (|| -> Result<(), String> {
            let index = u64::try_from(v.leaf_idx).map_err(|e| e.to_string())?;
            let size = u64::try_from(v.tree_size).map_err(|e| e.to_string())?;
            let root = v.root.as_deref().and_then(b64).ok_or("bad root")?;
            let leaf = v.leaf_hash.as_deref().and_then(b64).ok_or("bad leaf")?;
            let proof = b64_list(v.proof.as_ref()).ok_or("bad proof")?;
            verify_inclusion(index, size, &leaf, &proof, &root).map_err(|e| e.to_string())
        })();
        assert_eq!(
            got.is_err(),
            v.want_err,
            "{}: {}: {got:?}",
            f.display(),
            v.desc
        );
    }
}

#[test]
fn transparency_dev_consistency_vectors() {
    let files = vector_files("consistency");
    assert!(files.len() > 90, "{} files", files.len());
    for f in files {
        let v: ConsistencyVector =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let got = (|| -> Result<(), String> {
            let old = u64::try_from(v.size1).map_err(|e| e.to_string())?;
            let new = u64::try_from(v.size2).map_err(|e| e.to_string())?;
            let r1 = v.root1.as_deref().and_then(b64_root).ok_or("bad root1")?;
            let r2 = v.root2.as_deref().and_then(b64_root).ok_or("bad root2")?;
            let proof = b64_list(v.proof.as_ref()).ok_or("bad proof")?;
            verify_consistency(old, new, &r1, &r2, &proof).map_err(|e| e.to_string())
        })();
        assert_eq!(
            got.is_err(),
            v.want_err,
            "{}: {}: {got:?}",
            f.display(),
            v.desc
        );
    }
}

#[test]
fn proofs_of_the_reference_tree_match_the_naive_ones_and_verify() {
    let (inputs, roots) = reference();
    let leaves = hashes(&inputs);
    for n in 1..=8usize {
        for m in 0..n {
            let p = inclusion_proof(&leaves, m as u64, n as u64).unwrap();
            assert_eq!(p, naive_path(m, &inputs[..n]), "PATH({m}, D[{n}])");
            verify_inclusion(m as u64, n as u64, &leaves[m], &p, &roots[n - 1]).unwrap();
        }
        for m in 1..=n {
            let p = consistency_proof(&leaves, m as u64, n as u64).unwrap();
            assert_eq!(
                p,
                naive_subproof(m, &inputs[..n], true),
                "PROOF({m}, D[{n}])"
            );
            verify_consistency(m as u64, n as u64, &roots[m - 1], &roots[n - 1], &p).unwrap();
        }
    }
}

#[test]
fn bad_requests_are_named() {
    let leaves = hashes(&leaves(5));
    assert!(root_at(&leaves, 6).is_err());
    assert!(inclusion_proof(&leaves, 5, 5).is_err());
    assert!(consistency_proof(&leaves, 4, 3).is_err());
    let root = root_at(&leaves, 5).unwrap();
    assert_eq!(
        verify_inclusion(5, 5, &leaves[0], &[], &root),
        Err(ProofError::IndexOutsideTree { index: 5, size: 5 })
    );
    assert!(matches!(
        verify_consistency(3, 2, &root, &root, &[]),
        Err(ProofError::SizesOutOfOrder { old: 3, new: 2 })
    ));
    // From the empty tree there is nothing to prove.
    assert_eq!(
        verify_consistency(0, 5, &empty_root(), &root, &[]),
        Err(ProofError::FromEmptyTree { new: 5 })
    );
    verify_consistency(0, 0, &empty_root(), &empty_root(), &[]).unwrap();
    assert!(verify_consistency(0, 0, &root, &root, &[]).is_err());
    assert!(verify_consistency(5, 5, &root, &empty_root(), &[]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn frontier_and_root_match_the_naive_tree(n in 0usize..300) {
        let d = leaves(n);
        let h = hashes(&d);
        let mut f = Frontier::new();
        for x in &h {
            f.push(*x);
        }
        let want = mth(&d);
        prop_assert_eq!(f.root(), want);
        prop_assert_eq!(root_at(&h, n as u64).unwrap(), want);
        let restored = Frontier::from_parts(f.size(), f.nodes().to_vec()).unwrap();
        prop_assert_eq!(restored.root(), want);
        prop_assert_eq!(Frontier::of(&h, n as u64).unwrap(), f);
    }

    #[test]
    fn inclusion_proofs_match_the_naive_ones_and_only_they_verify(
        n in 1usize..300, m_seed in any::<u64>(), flip in any::<(u64, u8)>(),
    ) {
        let d = leaves(n);
        let h = hashes(&d);
        let m = (m_seed % n as u64) as usize;
        let root = mth(&d);
        let p = inclusion_proof(&h, m as u64, n as u64).unwrap();
        prop_assert_eq!(&p, &naive_path(m, &d));
        prop_assert!(verify_inclusion(m as u64, n as u64, &h[m], &p, &root).is_ok());
        // Any other leaf, index, or a changed proof hash fails.
        let other = (m + 1) % n;
        if other != m {
            prop_assert!(verify_inclusion(m as u64, n as u64, &h[other], &p, &root).is_err());
            prop_assert!(verify_inclusion(other as u64, n as u64, &h[m], &p, &root).is_err());
        }
        if !p.is_empty() {
            let mut bad = p.clone();
            let i = (flip.0 % bad.len() as u64) as usize;
            bad[i][usize::from(flip.1 % 32)] ^= 1;
            prop_assert!(verify_inclusion(m as u64, n as u64, &h[m], &bad, &root).is_err());
            prop_assert!(verify_inclusion(m as u64, n as u64, &h[m], &p[1..], &root).is_err());
        }
        let mut longer = p.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(m as u64, n as u64, &h[m], &longer, &root).is_err());
    }

    #[test]
    fn consistency_proofs_match_the_naive_ones_and_only_they_verify(
        n in 1usize..300, m_seed in any::<u64>(), flip in any::<(u64, u8)>(),
    ) {
        let d = leaves(n);
        let h = hashes(&d);
        let m = 1 + (m_seed % n as u64) as usize;
        let (old, new) = (mth(&d[..m]), mth(&d));
        let p = consistency_proof(&h, m as u64, n as u64).unwrap();
        prop_assert_eq!(&p, &naive_subproof(m, &d, true));
        prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &p).is_ok());
        // A forked history: the same sizes over leaves that differ in one place.
        let mut forked = d.clone();
        let at = (flip.0 % m as u64) as usize;
        forked[at] = b"forged".to_vec();
        let forked_new = mth(&forked);
        prop_assert!(verify_consistency(m as u64, n as u64, &old, &forked_new, &p).is_err());
        let fp = consistency_proof(&hashes(&forked), m as u64, n as u64).unwrap();
        prop_assert!(verify_consistency(m as u64, n as u64, &old, &forked_new, &fp).is_err());
        if !p.is_empty() {
            let mut bad = p.clone();
            let i = (flip.0 % bad.len() as u64) as usize;
            bad[i][usize::from(flip.1 % 32)] ^= 1;
            prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &bad).is_err());
        }
    }
}
