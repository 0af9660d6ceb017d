//! Checkpoints made by the server (issue 14), on both stores: the embedded SQLite file
//! and a real nats-server from the test kit. The checkpointer signs off the append
//! path and keeps every size over the key-value port; the proofs verify against the
//! kept roots; a witness's cosignature is kept and served; the checkpoints survive a
//! restart; and a history re-signed from an earlier point is caught against a kept
//! checkpoint, by the checkpointer and by `verify` of an export.

use std::sync::Arc;
use std::time::Duration;

use roundtable_app::AppError;
use roundtable_app::CommandHandler;
use roundtable_app::checkpoints::{
    CheckpointPolicy, CheckpointStore, Checkpointer, consistency, inclusion,
};
use roundtable_audit::{Anchor, Tampering, verify_anchored};
use roundtable_checkpoint::merkle::{Hash, root_at};
use roundtable_checkpoint::{
    COSIGNATURE_V1, CheckpointSigner, ED25519, SignerKey, Witness, event_leaf_hash,
    verify_checkpoint, verify_consistency, verify_inclusion,
};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{CommandEnvelope, NegotiationId, RecordedEvent};
use roundtable_projector::KvViewStore;
use roundtable_projector::ViewStore;
use roundtable_store::Ports;
use roundtable_testkit::NatsServer;

const ID: &str = "harbourside-waste";
const DEPLOYMENT: &str = "roundtable.example.org";
const EVERY: u64 = 10;

fn minutes() -> Vec<CommandEnvelope> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/minutes/harbourside-waste.jsonl"
    ))
    .expect("the sample minutes");
    text.lines()
        .filter_map(|l| parse_line(l).expect("a line"))
        .map(|m| CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.expect("at"),
            command: m.command,
        })
        .collect()
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::new(SignerKey::from_seed(DEPLOYMENT, ED25519, [7; 32]).unwrap()).unwrap()
}

fn id() -> NegotiationId {
    NegotiationId::new(ID).unwrap()
}

fn policy() -> CheckpointPolicy {
    CheckpointPolicy {
        every_events: EVERY,
        // Only the event count and the signatures trigger in these tests, until flush.
        every: Duration::from_secs(3600),
        poll: Duration::from_millis(50),
    }
}

async fn record(ports: &Ports, commands: &[CommandEnvelope]) {
    let handler = CommandHandler::new(ports.events.clone());
    for cmd in commands {
        handler.handle(cmd).await.expect("accepted");
    }
}

fn hash(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

fn leaves(events: &[RecordedEvent]) -> Vec<Hash> {
    events
        .iter()
        .map(|e| event_leaf_hash(&e.hash).unwrap())
        .collect()
}

async fn export(ports: &Ports, checkpoints: &[String]) -> Vec<u8> {
    let views: Arc<dyn ViewStore> = Arc::new(KvViewStore::open(&*ports.kv).await.unwrap());
    roundtable_app::audit::export_carrying(
        &*ports.events,
        &*views,
        &id(),
        "test",
        Duration::ZERO,
        checkpoints,
    )
    .await
    .unwrap()
    .bytes
}

/// Signs and checks on `genuine`, returns the kept notes.
async fn genuine_history(genuine: &Ports) -> Vec<String> {
    let commands = minutes();
    record(genuine, &commands).await;
    let store = CheckpointStore::open(&*genuine.kv).await.unwrap();
    let mut cp = Checkpointer::new(genuine.events.clone(), store.clone(), signer(), policy());
    let first = cp.tick().await.unwrap();
    let events = genuine.events.read(&id(), 0, None).await.unwrap();
    let last = events.len() as u64;
    // Every EVERY events, and after every signature and the conclusion.
    let mut expected: Vec<u64> = (1..=last).filter(|v| v % EVERY == 0).collect();
    for e in &events {
        if ["agreement_signed", "negotiation_concluded"].contains(&e.event_type()) {
            expected.push(e.version);
        }
    }
    expected.sort_unstable();
    expected.dedup();
    let sizes: Vec<u64> = first.iter().map(|s| s.size).collect();
    assert_eq!(sizes, expected, "the sizes signed on the first tick");
    assert!(first.iter().all(|s| s.new));
    // A second tick signs nothing; a flush signs the tail (if any is uncovered).
    assert!(cp.tick().await.unwrap().is_empty());
    let tail = cp.flush().await.unwrap();
    if expected.last() != Some(&last) {
        assert_eq!(tail.iter().map(|s| s.size).collect::<Vec<_>>(), vec![last]);
        expected.push(last);
    } else {
        assert!(tail.is_empty());
    }

    // Every kept checkpoint verifies with the log key and has the tree's root.
    let history = store.history(&id()).await.unwrap();
    assert_eq!(history.iter().map(|c| c.size).collect::<Vec<_>>(), expected);
    let leaves = leaves(&events);
    for c in &history {
        let v = verify_checkpoint(&c.note, &[signer().verifier()]).unwrap();
        assert_eq!(v.checkpoint.size, c.size);
        assert_eq!(v.checkpoint.root, root_at(&leaves, c.size).unwrap());
        assert_eq!(
            c.last_event_hash.as_deref(),
            Some(events[c.size as usize - 1].hash.as_str())
        );
    }
    let latest = store.latest(&id()).await.unwrap().unwrap();
    assert_eq!(latest.size, last);

    // Proofs from the application layer verify against the kept roots.
    let old = &history[0];
    let p = inclusion(&*genuine.events, &id(), 3, Some(latest.size))
        .await
        .unwrap();
    let proof: Vec<Hash> = p.proof.iter().map(|h| hash(h)).collect();
    verify_inclusion(2, latest.size, &leaves[2], &proof, &hash(&latest.root)).unwrap();
    let c = consistency(&*genuine.events, &id(), old.size, latest.size)
        .await
        .unwrap();
    let proof: Vec<Hash> = c.proof.iter().map(|h| hash(h)).collect();
    verify_consistency(
        old.size,
        latest.size,
        &hash(&old.root),
        &hash(&latest.root),
        &proof,
    )
    .unwrap();
    assert!(matches!(
        inclusion(&*genuine.events, &id(), 0, None).await,
        Err(AppError::InvalidRequest(_))
    ));
    assert!(matches!(
        consistency(&*genuine.events, &id(), 2, last + 1).await,
        Err(AppError::VersionNotFound { .. })
    ));

    // A witness cosigns the latest after checking it extends the first; the server
    // keeps the line and serves it with the checkpoint.
    let wkey = SignerKey::from_seed("witness.example.net", COSIGNATURE_V1, [9; 32]).unwrap();
    let witness = Witness::new(wkey.clone(), vec![signer().verifier()]).unwrap();
    let held = verify_checkpoint(&old.note, &[signer().verifier()])
        .unwrap()
        .checkpoint;
    let w = witness
        .check(Some(&held), &latest.note, &proof, 1_800_000_000)
        .unwrap();
    let kept = store
        .add_cosignature(&id(), &witness.verifier().to_string(), &w.note)
        .await
        .unwrap();
    assert_eq!(kept.size, latest.size);
    assert_eq!(kept.timestamp, 1_800_000_000);
    let served = store.latest(&id()).await.unwrap().unwrap();
    assert_eq!(served.cosignatures, vec![w.cosignature.clone()]);
    let both = roundtable_checkpoint::verify_note(
        &roundtable_checkpoint::Note::parse(&served.cosigned_note()).unwrap(),
        &[signer().verifier(), witness.verifier()],
    )
    .unwrap();
    assert_eq!(both.len(), 2, "the log's signature and the cosignature");
    // A cosignature over another checkpoint's text, or by a log key, is refused.
    let other = witness.check(None, &old.note, &[], 1_800_000_000).unwrap();
    let forged_note = other.note.replacen(
        &format!("\n{}\n", old.size),
        &format!("\n{}\n", latest.size),
        1,
    );
    assert!(matches!(
        store
            .add_cosignature(&id(), &witness.verifier().to_string(), &forged_note)
            .await,
        Err(AppError::Cosignature(_))
    ));
    assert!(matches!(
        store
            .add_cosignature(&id(), &signer().verifier().to_string(), &w.note)
            .await,
        Err(AppError::Cosignature(_))
    ));

    // The genuine export, carrying the latest checkpoint, verifies against the key.
    let bytes = export(genuine, std::slice::from_ref(&served.note)).await;
    let report = verify_anchored(
        &bytes,
        &Anchor {
            checkpoints: Vec::new(),
            log_keys: vec![signer().verifier()],
        },
    );
    assert!(report.ok, "{report}");
    history.into_iter().map(|c| c.note).collect()
}

/// Re-signs the genuine history from version `from` on in `forged` (the first
/// `from - 1` events copied, the rest recorded again: new ids, times and hashes),
/// keeps the genuine checkpoints there, and checks that both the checkpointer and
/// `verify` catch it.
async fn rewritten_history_is_caught(genuine: &Ports, forged: &Ports, notes: &[String]) {
    let events = genuine.events.read(&id(), 0, None).await.unwrap();
    let from = 14_u64;
    for e in &events[..from as usize - 1] {
        forged.events.append(e).await.unwrap();
    }
    record(forged, &minutes()[from as usize - 1..]).await;
    let rewritten = forged.events.read(&id(), 0, None).await.unwrap();
    assert_eq!(rewritten.len(), events.len());
    assert_ne!(
        rewritten[from as usize - 1].hash,
        events[from as usize - 1].hash
    );
    assert_eq!(
        rewritten[from as usize - 2].hash,
        events[from as usize - 2].hash
    );

    let store = CheckpointStore::open(&*forged.kv).await.unwrap();
    for n in notes {
        assert!(store.put(n).await.unwrap());
    }
    // The checkpointer refuses to sign over the rewritten log.
    let mut cp = Checkpointer::new(forged.events.clone(), store.clone(), signer(), policy());
    match cp.flush().await {
        Err(AppError::Rewritten {
            negotiation,
            reason,
        }) => {
            assert_eq!(negotiation, id());
            assert!(reason.contains("rewritten"), "{reason}");
        }
        other => panic!("expected the rewritten log to be refused, got {other:?}"),
    }
    assert_eq!(store.history(&id()).await.unwrap().len(), notes.len());

    // Its export fails against the genuine checkpoints, naming where it parts: after
    // the largest kept size before the forgery.
    let bytes = export(forged, &[]).await;
    let report = verify_anchored(
        &bytes,
        &Anchor {
            checkpoints: notes.to_vec(),
            log_keys: vec![signer().verifier()],
        },
    );
    assert!(!report.ok);
    let failure = report.failure.expect("a failure");
    assert_eq!(failure.kind, Tampering::Forked, "{failure:?}");
    let before = (from - 1) / EVERY * EVERY;
    assert_eq!(failure.version, Some(before + 1), "{}", failure.reason);
    // The plain verify passes: the forged chain is self-consistent.
    assert!(roundtable_audit::verify(&bytes).ok);
}

#[tokio::test]
async fn on_the_embedded_store_checkpoints_are_kept_survive_a_restart_and_catch_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let genuine = roundtable_sqlite::open(dir.path()).unwrap();
    let notes = genuine_history(&genuine).await;
    drop(genuine);

    // Reopened: the history is there, and a new checkpointer checks it and signs
    // nothing again.
    let genuine = roundtable_sqlite::open(dir.path()).unwrap();
    let store = CheckpointStore::open(&*genuine.kv).await.unwrap();
    assert_eq!(store.history(&id()).await.unwrap().len(), notes.len());
    let mut cp = Checkpointer::new(genuine.events.clone(), store, signer(), policy());
    assert!(cp.flush().await.unwrap().is_empty());

    let other = tempfile::tempdir().unwrap();
    let forged = roundtable_sqlite::open(other.path()).unwrap();
    rewritten_history_is_caught(&genuine, &forged, &notes).await;
}

#[tokio::test]
async fn on_nats_checkpoints_are_kept_survive_a_restart_and_catch_a_rewrite() {
    let mut server = NatsServer::start().await.unwrap();
    let config = roundtable_nats::NatsConfig::default;
    let genuine = roundtable_nats::connect(&server.url(), config())
        .await
        .unwrap();
    let notes = genuine_history(&genuine).await;
    genuine.connection.close().await;
    drop(genuine);

    server.restart().await.unwrap();
    let genuine = roundtable_nats::connect(&server.url(), config())
        .await
        .unwrap();
    let store = CheckpointStore::open(&*genuine.kv).await.unwrap();
    assert_eq!(store.history(&id()).await.unwrap().len(), notes.len());
    let mut cp = Checkpointer::new(genuine.events.clone(), store, signer(), policy());
    assert!(cp.flush().await.unwrap().is_empty());

    let other = NatsServer::start().await.unwrap();
    let forged = roundtable_nats::connect(&other.url(), config())
        .await
        .unwrap();
    rewritten_history_is_caught(&genuine, &forged, &notes).await;
}

#[tokio::test]
async fn the_time_rule_signs_the_tail_and_run_until_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let ports = roundtable_sqlite::open(dir.path()).unwrap();
    record(&ports, &minutes()[..3]).await;
    let store = CheckpointStore::open(&*ports.kv).await.unwrap();
    let mut cp = Checkpointer::new(
        ports.events.clone(),
        store.clone(),
        signer(),
        CheckpointPolicy {
            every_events: 1_000,
            every: Duration::ZERO,
            poll: Duration::from_millis(20),
        },
    );
    let seen = std::sync::Mutex::new(Vec::new());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async {
        let _ = rx.await;
    };
    let run = cp.run_until(stop, |s| seen.lock().unwrap().push(s.size));
    tokio::pin!(run);
    // Run until the checkpoint of the three events is kept, then stop.
    loop {
        tokio::select! {
            () = &mut run => panic!("stopped before shutdown"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {
                if store.latest(&id()).await.unwrap().is_some() {
                    break;
                }
            }
        }
    }
    let _ = tx.send(());
    run.await;
    assert_eq!(*seen.lock().unwrap(), vec![3]);
    assert_eq!(store.history(&id()).await.unwrap().len(), 1);
}
