//! Prints what checkpoints cost for a negotiation of 50,000 events: frontier updates
//! per second, checkpoints signed and verified per second, and the size and time of
//! inclusion and consistency proofs (issue 14, "nothing slower where it matters").
//!
//! `cargo run --release -p roundtable-checkpoint --example proof_sizes`

use std::time::Instant;

use roundtable_checkpoint::merkle::{Frontier, consistency_proof, inclusion_proof, leaf_hash};
use roundtable_checkpoint::{
    CheckpointSigner, ED25519, LastEvent, SignerKey, verify_checkpoint, verify_consistency,
    verify_inclusion,
};

const N: u64 = 50_000;

fn main() {
    let leaves: Vec<[u8; 32]> = (0..N).map(|i| leaf_hash(&i.to_be_bytes())).collect();

    let t = Instant::now();
    let mut f = Frontier::new();
    for l in &leaves {
        f.push(*l);
    }
    let root = f.root();
    let push = t.elapsed();
    println!(
        "frontier: {N} leaves in {:.1} ms ({:.0} appends/s), {} nodes kept",
        push.as_secs_f64() * 1e3,
        N as f64 / push.as_secs_f64(),
        f.nodes().len()
    );

    let signer =
        CheckpointSigner::new(SignerKey::from_seed("bench.example", ED25519, [1; 32]).unwrap())
            .unwrap();
    let last = LastEvent {
        hash: "ab".repeat(32),
        recorded_at: "2027-06-09T14:00:00Z".parse().unwrap(),
    };
    let rounds = 2_000;
    let t = Instant::now();
    let mut note = String::new();
    for _ in 0..rounds {
        note = signer
            .sign("bench-negotiation", N, root, Some(last.clone()))
            .unwrap();
    }
    let sign = t.elapsed();
    let t = Instant::now();
    for _ in 0..rounds {
        verify_checkpoint(&note, &[signer.verifier()]).unwrap();
    }
    let verify = t.elapsed();
    println!(
        "checkpoints: {:.0} signed/s, {:.0} verified/s, {} bytes each",
        f64::from(rounds) / sign.as_secs_f64(),
        f64::from(rounds) / verify.as_secs_f64(),
        note.len()
    );

    for index in [0, N / 2, N - 1] {
        let t = Instant::now();
        let p = inclusion_proof(&leaves, index, N).unwrap();
        let make = t.elapsed();
        let t = Instant::now();
        verify_inclusion(
            index,
            N,
            &leaves[usize::try_from(index).unwrap()],
            &p,
            &root,
        )
        .unwrap();
        let check = t.elapsed();
        println!(
            "inclusion of leaf {index} in {N}: {} hashes ({} bytes), made in {:.2} ms from the leaves, verified in {:.1} us",
            p.len(),
            p.len() * 32,
            make.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e6
        );
    }
    for old in [1, 1_000, 25_000, 49_999] {
        let old_root = Frontier::of(&leaves, old).unwrap().root();
        let t = Instant::now();
        let p = consistency_proof(&leaves, old, N).unwrap();
        let make = t.elapsed();
        let t = Instant::now();
        verify_consistency(old, N, &old_root, &root, &p).unwrap();
        let check = t.elapsed();
        println!(
            "consistency {old} -> {N}: {} hashes ({} bytes), made in {:.2} ms from the leaves, verified in {:.1} us",
            p.len(),
            p.len() * 32,
            make.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e6
        );
    }
}
