//! What a checkpoint costs (docs/BENCHMARKS.md, "Checkpoints"), for a negotiation of
//! 50,000 events: hashing the log into the Merkle frontier, signing one checkpoint
//! (root, note text, Ed25519), verifying it, and making and verifying inclusion and
//! consistency proofs. Pure CPU; the store's read of the log is measured elsewhere
//! (`replay`).
//!
//! `cargo bench -p roundtable-checkpoint --bench checkpoint`

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use roundtable_checkpoint::merkle::{self, Frontier, Hash, event_leaf_hash};
use roundtable_checkpoint::{
    CheckpointSigner, ED25519, LastEvent, SignerKey, verify_checkpoint, verify_consistency,
    verify_inclusion,
};
use sha2::{Digest, Sha256};

const EVENTS: u64 = 50_000;

fn event_hashes() -> Vec<String> {
    (0..EVENTS)
        .map(|i| hex::encode(Sha256::digest(i.to_be_bytes())))
        .collect()
}

fn bench(c: &mut Criterion) {
    let hashes = event_hashes();
    let leaves: Vec<Hash> = hashes.iter().map(|h| event_leaf_hash(h).unwrap()).collect();
    let signer =
        CheckpointSigner::new(SignerKey::from_seed("rt.example.org", ED25519, [1; 32]).unwrap())
            .unwrap();
    let at: DateTime<Utc> = "2027-05-04T08:00:00Z".parse().unwrap();

    c.bench_function("checkpoint.frontier_50k_events", |b| {
        b.iter(|| {
            let mut f = Frontier::new();
            for h in &hashes {
                f.push(event_leaf_hash(h).unwrap());
            }
            black_box(f.root())
        });
    });

    let mut frontier = Frontier::of(&leaves, EVENTS).unwrap();
    c.bench_function("checkpoint.sign_one", |b| {
        b.iter(|| {
            let note = signer
                .sign(
                    "harbourside-waste",
                    frontier.size(),
                    frontier.root(),
                    Some(LastEvent {
                        hash: hashes[hashes.len() - 1].clone(),
                        recorded_at: at,
                    }),
                )
                .unwrap();
            black_box(note)
        });
    });
    // The append path's share when checkpointing follows the log: one leaf more.
    c.bench_function("checkpoint.push_one_leaf", |b| {
        b.iter(|| frontier.push(black_box(leaves[7])));
    });

    let note = signer
        .sign(
            "harbourside-waste",
            EVENTS,
            merkle::root_at(&leaves, EVENTS).unwrap(),
            Some(LastEvent {
                hash: hashes[hashes.len() - 1].clone(),
                recorded_at: at,
            }),
        )
        .unwrap();
    let keys = [signer.verifier()];
    c.bench_function("checkpoint.verify_one", |b| {
        b.iter(|| black_box(verify_checkpoint(&note, &keys).unwrap()));
    });

    let root = merkle::root_at(&leaves, EVENTS).unwrap();
    let index = 31_337;
    let inclusion = merkle::inclusion_proof(&leaves, index, EVENTS).unwrap();
    let old = 40_000;
    let old_root = merkle::root_at(&leaves, old).unwrap();
    let consistency = merkle::consistency_proof(&leaves, old, EVENTS).unwrap();
    eprintln!(
        "proof sizes for {EVENTS} events: inclusion {} hashes ({} bytes), consistency from {old} {} hashes ({} bytes); signed note {} bytes",
        inclusion.len(),
        inclusion.len() * 32,
        consistency.len(),
        consistency.len() * 32,
        note.len()
    );
    c.bench_function("checkpoint.inclusion_proof_50k", |b| {
        b.iter(|| black_box(merkle::inclusion_proof(&leaves, index, EVENTS).unwrap()));
    });
    c.bench_function("checkpoint.consistency_proof_40k_50k", |b| {
        b.iter(|| black_box(merkle::consistency_proof(&leaves, old, EVENTS).unwrap()));
    });
    c.bench_function("checkpoint.verify_inclusion", |b| {
        b.iter(|| {
            verify_inclusion(index, EVENTS, &leaves[index as usize], &inclusion, &root).unwrap();
        });
    });
    c.bench_function("checkpoint.verify_consistency", |b| {
        b.iter(|| verify_consistency(old, EVENTS, &old_root, &root, &consistency).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
