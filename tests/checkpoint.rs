//! End-to-end: the log key, signed checkpoints, proofs, and `verify` against a
//! checkpoint, through the binary on the embedded store (issue 14). A forged export
//! with every hash recomputed passes the plain verify but fails against a checkpoint
//! taken before the forgery, at the version where the histories part.

mod common;
#[path = "services/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Run, Store, sample_minutes};
use roundtable_checkpoint::merkle::Hash;
use roundtable_checkpoint::{verify_consistency, verify_inclusion};
use roundtable_domain::{
    Projection, RecordedEvent, canonical::to_canonical, envelope::content_hash,
};
use serde_json::Value;

const ID: &str = "harbourside-waste";

fn offline(dir: &Path, args: &[&str]) -> Run {
    Run::from(
        std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
            .args(args)
            .env_remove("ROUNDTABLE_NATS_URL")
            .env_remove("ROUNDTABLE_DATA_DIR")
            .current_dir(dir)
            .output()
            .expect("runs"),
    )
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Rewrites the export's history from the event holding `from` onwards, as a forger
/// with the file alone would: the amount changed, then every hash, every signed
/// agreement hash and the manifest recomputed. Returns the forged version.
fn forge(export: &Path, out: &Path, from: &str, to: &str) -> u64 {
    let text = std::fs::read_to_string(export).unwrap();
    let mut lines = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap());
    let mut manifest = lines.next().unwrap();
    let mut events: Vec<Value> = lines.collect();
    let at = events
        .iter()
        .position(|e| e["data"].to_string().contains(from))
        .unwrap();
    let data = events[at]["data"].to_string().replace(from, to);
    events[at]["data"] = serde_json::from_str(&data).unwrap();
    let rechain = |events: &mut Vec<Value>| {
        let mut prev = roundtable_domain::GENESIS_HASH.to_owned();
        for e in events.iter_mut() {
            let m = e.as_object_mut().unwrap();
            m.insert("prev_hash".into(), Value::String(prev.clone()));
            prev = content_hash(m);
            m.insert("hash".into(), Value::String(prev.clone()));
        }
    };
    let decode = |v: &[Value]| -> Vec<RecordedEvent> {
        v.iter()
            .map(|e| RecordedEvent::from_json(e.clone()).unwrap())
            .collect()
    };
    rechain(&mut events);
    for i in 0..events.len() {
        if events[i]["type"] == "agreement_signed"
            && events[i]["data"].get("agreement_hash").is_some()
        {
            let view = Projection::fold(&decode(&events[..i]))
                .unwrap()
                .view
                .unwrap();
            events[i]["data"]["agreement_hash"] =
                Value::String(roundtable_domain::signing::agreement_hash(&view));
            rechain(&mut events);
        }
    }
    manifest["first_hash"] = events[0]["hash"].clone();
    manifest["last_hash"] = events[events.len() - 1]["hash"].clone();
    manifest["view"] =
        serde_json::to_value(Projection::fold(&decode(&events)).unwrap().view).unwrap();
    let mut bytes = Vec::new();
    for v in std::iter::once(&manifest).chain(&events) {
        bytes.extend(to_canonical(v));
        bytes.push(b'\n');
    }
    std::fs::write(out, bytes).unwrap();
    at as u64 + 1
}

#[test]
fn a_forged_export_fails_against_a_checkpoint_taken_before_it() {
    let store = Store::embedded();
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("log.key");
    let public = dir.path().join("log.key.pub");

    // The operator's log key: private, mode 0600; its public key printed and kept.
    let made = store.run(&[
        "keys",
        "log-generate",
        "--name",
        "roundtable.example.org",
        "--key-file",
        &p(&key),
    ]);
    assert_eq!(made.code, 0, "{made:?}");
    assert!(
        made.stdout.starts_with("roundtable.example.org+"),
        "{}",
        made.stdout
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("PRIVATE+KEY+roundtable.example.org+")
    );
    assert_eq!(std::fs::read_to_string(&public).unwrap(), made.stdout);
    let again = store.run(&[
        "keys",
        "log-generate",
        "--name",
        "x.example",
        "--key-file",
        &p(&key),
    ]);
    assert_eq!(
        again.code, 2,
        "an existing key is never overwritten: {again:?}"
    );

    // Checkpoints of the genuine history, and its export.
    let cp = |size: Option<u64>, name: &str| {
        let file = dir.path().join(name);
        let mut args = vec![
            "checkpoint".to_owned(),
            ID.into(),
            "--log-key".into(),
            p(&key),
            "-o".into(),
            p(&file),
        ];
        if let Some(n) = size {
            args.extend(["--size".into(), n.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = store.run(&args);
        assert_eq!(r.code, 0, "{r:?}");
        file
    };
    let whole = cp(None, "whole.cp");
    let text = std::fs::read_to_string(&whole).unwrap();
    assert!(
        text.starts_with("roundtable.example.org/negotiations/harbourside-waste\n73\n"),
        "{text}"
    );
    assert!(text.contains("\nlast-event-hash "), "{text}");
    let genuine = dir.path().join("genuine.export");
    assert_eq!(store.run(&["export", ID, "-o", &p(&genuine)]).code, 0);

    // The forgery passes the plain verify, which says that it proved no more.
    let forged = dir.path().join("forged.export");
    let k = forge(&genuine, &forged, "1480000.00", "148000.00");
    let plain = offline(dir.path(), &["verify", &p(&forged)]);
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(
        plain.stdout.contains("self-consistency only"),
        "{}",
        plain.stdout
    );

    // Against the checkpoint of the whole genuine history it fails.
    let anchored = offline(
        dir.path(),
        &[
            "verify",
            &p(&forged),
            "--checkpoint",
            &p(&whole),
            "--log-key",
            &p(&public),
        ],
    );
    assert_eq!(anchored.code, 1, "{anchored:?}");
    assert!(
        anchored.stdout.contains("FAIL anchor"),
        "{}",
        anchored.stdout
    );
    assert!(
        anchored.stdout.contains("FAILED: forked at version 1"),
        "{}",
        anchored.stdout
    );
    // With checkpoints at the versions before and of the forged event, it is named.
    let before = cp(Some(k - 1), "before.cp");
    let at = cp(Some(k), "at.cp");
    let exact = offline(
        dir.path(),
        &[
            "verify",
            &p(&forged),
            "--checkpoint",
            &p(&before),
            "--checkpoint",
            &p(&at),
            "--log-key",
            &p(&public),
            "--json",
        ],
    );
    assert_eq!(exact.code, 1, "{exact:?}");
    let report: Value = serde_json::from_str(&exact.stdout).unwrap();
    assert_eq!(report["failure"]["kind"], "forked");
    assert_eq!(report["failure"]["version"], k);
    // The genuine export extends them all.
    let ok = offline(
        dir.path(),
        &[
            "verify",
            &p(&genuine),
            "--checkpoint",
            &p(&whole),
            "--checkpoint",
            &p(&before),
            "--log-key",
            &p(&public),
        ],
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(ok.stdout.contains("ok   anchor"), "{}", ok.stdout);
    assert!(
        !ok.stdout.contains("self-consistency only"),
        "{}",
        ok.stdout
    );

    // After a rotation old checkpoints still verify with the kept public keys, and a
    // checkpoint of the new key does too; the old key alone does not vouch for it.
    let old_public = made.stdout.trim().to_owned();
    let rotated = store.run(&["keys", "log-rotate", "--key-file", &p(&key)]);
    assert_eq!(rotated.code, 0, "{rotated:?}");
    assert_ne!(rotated.stdout.trim(), old_public);
    assert_eq!(std::fs::read_to_string(&public).unwrap().lines().count(), 2);
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let newer = cp(None, "newer.cp");
    for c in [&whole, &newer] {
        let r = offline(
            dir.path(),
            &[
                "verify",
                &p(&genuine),
                "--checkpoint",
                &p(c),
                "--log-key",
                &p(&public),
            ],
        );
        assert_eq!(r.code, 0, "{r:?}");
    }
    let r = offline(
        dir.path(),
        &[
            "verify",
            &p(&genuine),
            "--checkpoint",
            &p(&newer),
            "--log-key",
            &old_public,
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("no signature is by a trusted key"),
        "{}",
        r.stdout
    );
    // A private key is refused where the public one belongs.
    let r = offline(
        dir.path(),
        &[
            "verify",
            &p(&genuine),
            "--checkpoint",
            &p(&whole),
            "--log-key",
            &p(&key),
        ],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("private key"), "{}", r.stderr);
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

fn hash(v: &Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn proofs_from_the_cli_verify_against_the_checkpoint_roots() {
    let store = Store::embedded();
    assert_eq!(
        store
            .import(&sample_minutes("harbourside-waste.jsonl"), &[])
            .code,
        0
    );
    let incl = store.run(&["prove", ID, "--inclusion", "26", "--size", "60"]);
    assert_eq!(incl.code, 0, "{incl:?}");
    let j: Value = serde_json::from_str(&incl.stdout).unwrap();
    assert_eq!(
        (j["leaf_index"].as_u64(), j["tree_size"].as_u64()),
        (Some(25), Some(60))
    );
    verify_inclusion(
        25,
        60,
        &hash(&j["leaf_hash"]),
        &hashes(&j["proof"]),
        &hash(&j["root"]),
    )
    .unwrap();
    let cons = store.run(&["prove", ID, "--consistency", "26", "73"]);
    assert_eq!(cons.code, 0, "{cons:?}");
    let c: Value = serde_json::from_str(&cons.stdout).unwrap();
    verify_consistency(
        26,
        73,
        &hash(&c["old_root"]),
        &hash(&c["new_root"]),
        &hashes(&c["proof"]),
    )
    .unwrap();
    // The root at 73 is the one a checkpoint signs.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert_eq!(
        store
            .run(&[
                "keys",
                "log-generate",
                "--name",
                "d.example",
                "--key-file",
                &p(&key)
            ])
            .code,
        0
    );
    let note = store.run(&["checkpoint", ID, "--log-key", &p(&key)]);
    let root_line = note.stdout.lines().nth(2).unwrap().to_owned();
    use base64::Engine;
    let root = base64::engine::general_purpose::STANDARD.encode(hash(&c["new_root"]));
    assert_eq!(root_line, root);
    // Bad requests are named.
    let bad = store.run(&["prove", ID, "--inclusion", "80", "--size", "73"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("outside a tree of size 73"),
        "{}",
        bad.stderr
    );
    let bad = store.run(&["prove", ID, "--consistency", "10", "500"]);
    assert!(
        bad.stderr.contains(
            "version 500 of negotiation harbourside-waste does not exist: it has 73 events"
        ),
        "{}",
        bad.stderr
    );
}

/// `serve --log-key-file` signs checkpoints off the append path and serves them; the
/// export carries the latest, so `verify --log-key` alone catches a forged export and
/// `import-export --log-key` refuses it; `roundtable witness` cosigns over HTTP after
/// checking consistency with the checkpoint it holds, and refuses a split view.
#[tokio::test]
async fn serve_signs_checkpoints_and_a_witness_cosigns_them_over_http() {
    let store = Store::embedded();
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("log.key");
    let public = dir.path().join("log.key.pub");
    let wkey = dir.path().join("witness.key");
    let state = dir.path().join("witness-state");
    let made = store.run(&[
        "keys",
        "log-generate",
        "--name",
        "roundtable.example.org",
        "--key-file",
        &p(&key),
    ]);
    assert_eq!(made.code, 0, "{made:?}");
    let made = store.run(&[
        "keys",
        "witness-generate",
        "--name",
        "witness.example.net",
        "--key-file",
        &p(&wkey),
    ]);
    assert_eq!(made.code, 0, "{made:?}");
    let witness_public = made.stdout.trim().to_owned();

    let secret = harness::Secret::new();
    let serve = harness::Service::serve_with(
        &store,
        &secret,
        &[
            "--log-key-file",
            &p(&key),
            "--checkpoint-every-events",
            "20",
            "--checkpoint-every-secs",
            "0",
        ],
    )
    .await;
    let token = secret.token("auditor", None, None);
    let client = harness::http_client();
    let get = |path: &str| client.get(serve.url(path)).bearer_auth(&token).send();
    let events = store.events(ID).len() as u64;
    // Wait until the whole log is covered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let note = loop {
        let r = get(&format!("/v1/negotiations/{ID}/checkpoint"))
            .await
            .unwrap();
        if r.status() == 200 {
            let text = r.text().await.unwrap();
            if text.lines().nth(1) == Some(events.to_string().as_str()) {
                break text;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint of size {events}:\n{}",
            serve.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let log_keys = std::fs::read_to_string(&public).unwrap();
    let served_keys = get("/v1/log-key").await.unwrap().text().await.unwrap();
    assert_eq!(served_keys, log_keys);
    let verifier = roundtable_checkpoint::VerifierKey::parse(log_keys.trim()).unwrap();
    roundtable_checkpoint::verify_checkpoint(&note, std::slice::from_ref(&verifier)).unwrap();
    let history: Value = get(&format!("/v1/negotiations/{ID}/checkpoints"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sizes: Vec<u64> = history["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["size"].as_u64().unwrap())
        .collect();
    assert!(
        sizes.contains(&20) && sizes.contains(&40) && sizes.last() == Some(&events),
        "{sizes:?}"
    );

    // The export carries the latest checkpoint: the key alone anchors it.
    let export = dir.path().join("export.jsonl");
    let r = store.run(&["export", ID, "-o", &p(&export)]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = offline(
        dir.path(),
        &["verify", &p(&export), "--log-key", &p(&public)],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let forged = dir.path().join("forged.jsonl");
    forge(&export, &forged, "1480000.00", "148000.00");
    let r = offline(
        dir.path(),
        &["verify", &p(&forged), "--log-key", &p(&public)],
    );
    assert_eq!(
        r.code, 1,
        "the carried checkpoint catches the forgery: {r:?}"
    );
    assert!(r.stdout.contains("forked"), "{}", r.stdout);
    let empty = Store::embedded();
    let r = empty.run(&["import-export", &p(&forged), "--log-key", &p(&public)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("does not extend the checkpoints"),
        "{}",
        r.stderr
    );
    let r = empty.run(&["import-export", &p(&export), "--log-key", &p(&public)]);
    assert_eq!(r.code, 0, "{r:?}");

    // A witness holding the checkpoint of size 40 checks consistency and cosigns.
    std::fs::create_dir_all(&state).unwrap();
    let held = state.join("roundtable.example.org_negotiations_harbourside-waste.checkpoint");
    let at40 = store.run(&["checkpoint", ID, "--log-key", &p(&key), "--size", "40"]);
    assert_eq!(at40.code, 0, "{at40:?}");
    std::fs::write(&held, &at40.stdout).unwrap();
    let witness = |state: &Path| {
        offline(
            dir.path(),
            &[
                "witness",
                ID,
                "--server",
                &serve.url(""),
                "--token",
                &token,
                "--log-key",
                &p(&public),
                "--witness-key",
                &p(&wkey),
                "--state-dir",
                &p(state),
            ],
        )
    };
    let r = witness(&state);
    assert_eq!(r.code, 0, "{r:?}\n{}", serve.log());
    assert!(
        r.stdout.contains(&format!("at size {events}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("consistent with size 40 held"),
        "{}",
        r.stdout
    );
    let cosigned = get(&format!("/v1/negotiations/{ID}/checkpoint"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let witness_key = roundtable_checkpoint::VerifierKey::parse(&witness_public).unwrap();
    let both = roundtable_checkpoint::verify_note(
        &roundtable_checkpoint::Note::parse(&cosigned).unwrap(),
        &[verifier.clone(), witness_key],
    )
    .unwrap();
    assert_eq!(both.len(), 2, "{cosigned}");
    // It now holds the latest; running again cosigns the same size again.
    assert!(
        std::fs::read_to_string(&held)
            .unwrap()
            .contains(&format!("\n{events}\n"))
    );
    assert_eq!(witness(&state).code, 0);

    // A split view: the witness holds a checkpoint of the same size with another root,
    // signed by the same log key (the server showed it another history).
    let signer = roundtable_checkpoint::CheckpointSigner::new(
        roundtable_checkpoint::SignerKey::parse(std::fs::read_to_string(&key).unwrap().trim())
            .unwrap(),
    )
    .unwrap();
    let other = signer
        .sign(
            ID,
            events,
            [7; 32],
            Some(roundtable_checkpoint::LastEvent {
                hash: "ab".repeat(32),
                recorded_at: chrono::Utc::now(),
            }),
        )
        .unwrap();
    let split = dir.path().join("split-state");
    std::fs::create_dir_all(&split).unwrap();
    std::fs::write(
        split.join("roundtable.example.org_negotiations_harbourside-waste.checkpoint"),
        &other,
    )
    .unwrap();
    let r = witness(&split);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("split view"), "{}", r.stderr);
    drop(serve);
}
