//! Signed notes, keys, checkpoints, cosignatures and the witness, against the C2SP
//! examples and Go's `golang.org/x/mod/sumdb/note` known answer, and every kind of
//! malformed input.

use roundtable_checkpoint::checkpoint::{Checkpoint, CheckpointError, LastEvent, LogCheckpoint};
use roundtable_checkpoint::keys::{COSIGNATURE_V1, ED25519, KeyError, SignerKey, VerifierKey};
use roundtable_checkpoint::merkle::{Frontier, consistency_proof, leaf_hash};
use roundtable_checkpoint::note::{Note, NoteError};
use roundtable_checkpoint::signed::{SignatureError, sign_text, verify_note};
use roundtable_checkpoint::{CheckpointSigner, Witness, WitnessError, verify_checkpoint};

const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/// An input and a test of the error it must give.
type Case<E> = (String, fn(&E) -> bool);

#[test]
fn the_go_known_answer_signs_and_verifies_byte_for_byte() {
    let skey = SignerKey::parse(GO_SKEY).unwrap();
    assert_eq!(skey.to_private_string(), GO_SKEY);
    assert_eq!(skey.verifier().to_string(), GO_VKEY);
    let mut note = Note::new(GO_TEXT).unwrap();
    note.add_signature(sign_text(&skey, GO_TEXT).unwrap())
        .unwrap();
    assert_eq!(note.to_string(), format!("{GO_TEXT}\n{GO_SIG}"));
    let parsed = Note::parse(&note.to_string()).unwrap();
    assert_eq!(parsed.text(), GO_TEXT);
    let v = verify_note(&parsed, &[VerifierKey::parse(GO_VKEY).unwrap()]).unwrap();
    assert_eq!(
        (v[0].name.as_str(), v[0].key_id),
        ("PeterNeumann", 0xc74f20a3)
    );
}

#[test]
fn the_c2sp_signed_note_example_verifies() {
    let vkey =
        VerifierKey::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
    let note = Note::parse("This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n").unwrap();
    assert_eq!(note.text(), "This is an example message.\n");
    verify_note(&note, std::slice::from_ref(&vkey)).unwrap();
    // One changed character of the text: the trusted key's signature fails.
    let altered = Note::parse("This is an exemple message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n").unwrap();
    assert!(matches!(
        verify_note(&altered, &[vkey]),
        Err(SignatureError::Invalid {
            key_id: 0x530d903a,
            ..
        })
    ));
    // Signed by nobody trusted.
    let other = VerifierKey::parse(GO_VKEY).unwrap();
    assert!(matches!(
        verify_note(&note, &[other]),
        Err(SignatureError::NoTrustedSignature { .. })
    ));
}

#[test]
fn the_c2sp_cosignature_example_carries_its_timestamp() {
    // c2sp.org/tlog-cosignature's example: the witness line's first 8 signature bytes
    // are the timestamp of its example message, 1679315147.
    let note = Note::parse("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n").unwrap();
    let w = &note.signatures()[1];
    assert_eq!(w.name, "witness.example.com/w1");
    assert_eq!(w.signature.len(), 72);
    assert_eq!(
        u64::from_be_bytes(w.signature[..8].try_into().unwrap()),
        1679315147
    );
    let cp = Checkpoint::parse_text(note.text()).unwrap();
    assert_eq!(
        (cp.origin.as_str(), cp.size),
        ("example.com/behind-the-sofa", 20852163)
    );
    assert_eq!(cp.to_text(), note.text());
}

#[test]
fn malformed_notes_are_named() {
    let sig = "\u{2014} a x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let cases: Vec<Case<NoteError>> = vec![
        (format!("text\n\n{}", sig.trim_end()), |e| {
            *e == NoteError::NoFinalNewline
        }),
        ("text\n".into(), |e| *e == NoteError::NoSignatures),
        (format!("te\txt\n\n{sig}"), |e| {
            matches!(e, NoteError::ControlCharacter { code: 9, at: 2 })
        }),
        (format!("text\r\n\n{sig}"), |e| {
            matches!(e, NoteError::ControlCharacter { code: 13, .. })
        }),
        ("text\n\n- a AAAAAAA=\n".into(), |e| {
            matches!(e, NoteError::BadSignatureLine { line: 1, .. })
        }),
        ("text\n\n\u{2014} a+b x08go/ZJ\n".into(), |e| {
            matches!(e, NoteError::BadSignatureLine { line: 1, .. })
        }),
        (format!("text\n\n{sig}\u{2014} b AAAA\n"), |e| {
            matches!(e, NoteError::BadSignatureLine { line: 2, .. })
        }),
        ("text\n\n\u{2014} a AAAAAAA\n".into(), |e| {
            matches!(e, NoteError::BadSignatureLine { .. })
        }),
        ("text\n\n\u{2014} a\n".into(), |e| {
            matches!(e, NoteError::BadSignatureLine { .. })
        }),
        (format!("text\n\n{}", sig.repeat(65)), |e| {
            matches!(e, NoteError::TooManySignatures { count: 65 })
        }),
    ];
    for (note, want) in cases {
        let e = Note::parse(&note).expect_err(&note);
        assert!(want(&e), "{note:?}: {e:?}");
        assert!(!e.to_string().is_empty());
    }
    assert!(matches!(
        Note::parse_bytes(b"a\xff\n\n"),
        Err(NoteError::NotUtf8 { at: 1 })
    ));
    // 16 signatures are accepted.
    assert_eq!(
        Note::parse(&format!("text\n\n{}", sig.repeat(16)))
            .unwrap()
            .signatures()
            .len(),
        16
    );
}

#[test]
fn malformed_keys_are_named() {
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+c74f20a3"),
        Err(KeyError::Shape { .. })
    ));
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::KeyIdMismatch {
            stated: 0xc74f20a4,
            computed: 0xc74f20a3
        })
    ));
    assert!(matches!(
        VerifierKey::parse("Other+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::KeyIdFormat(_))
    ));
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::Base64(_) | KeyError::UnknownType(_) | KeyError::Length(_))
    ));
    assert!(matches!(
        SignerKey::parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
        ),
        Err(KeyError::UnknownType(2))
    ));
    assert!(matches!(
        SignerKey::parse(GO_VKEY),
        Err(KeyError::Shape { .. })
    ));
    assert!(matches!(
        SignerKey::from_seed("a b", ED25519, [1; 32]),
        Err(KeyError::Name(_))
    ));
    // A signer never shows its secret.
    let k = SignerKey::parse(GO_SKEY).unwrap();
    assert!(!format!("{k:?}").contains("AYEK"));
}

fn log_key() -> SignerKey {
    SignerKey::from_seed("roundtable.example.org", ED25519, [7; 32]).unwrap()
}

fn leaves(n: u64) -> Vec<[u8; 32]> {
    (0..n)
        .map(|i| leaf_hash(format!("e{i}").as_bytes()))
        .collect()
}

fn last(v: u64) -> Option<LastEvent> {
    (v > 0).then(|| LastEvent {
        hash: format!("{v:064x}"),
        recorded_at: "2027-06-09T14:00:00.037Z".parse().unwrap(),
    })
}

fn signed(n: u64, all: &[[u8; 32]]) -> String {
    let root = Frontier::of(all, n).unwrap().root();
    CheckpointSigner::new(log_key())
        .unwrap()
        .sign("harbourside-waste", n, root, last(n))
        .unwrap()
}

#[test]
fn a_signed_checkpoint_round_trips_and_verifies_only_with_its_key() {
    let all = leaves(73);
    let note = signed(73, &all);
    let mut lines = note.lines();
    assert_eq!(
        lines.next(),
        Some("roundtable.example.org/negotiations/harbourside-waste")
    );
    assert_eq!(lines.next(), Some("73"));
    lines.next();
    assert_eq!(
        lines.next(),
        Some(format!("last-event-hash {:064x}", 73).as_str())
    );
    assert_eq!(
        lines.next(),
        Some("last-event-recorded-at 2027-06-09T14:00:00.037Z")
    );
    assert_eq!(lines.next(), Some(""));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("\u{2014} roundtable.example.org ")
    );
    let v = verify_checkpoint(&note, &[log_key().verifier()]).unwrap();
    assert_eq!(v.checkpoint.negotiation_id, "harbourside-waste");
    assert_eq!(v.checkpoint.size, 73);
    assert_eq!(v.checkpoint.last_event, last(73));
    // After a rotation the old key still verifies old checkpoints.
    let new_key = SignerKey::from_seed("roundtable.example.org", ED25519, [8; 32]).unwrap();
    verify_checkpoint(&note, &[new_key.verifier(), log_key().verifier()]).unwrap();
    assert!(matches!(
        verify_checkpoint(&note, &[new_key.verifier()]),
        Err(CheckpointError::Signature(
            SignatureError::NoTrustedSignature { .. }
        ))
    ));
    // A size changed in the text breaks the signature.
    let forged = note.replacen("\n73\n", "\n72\n", 1);
    assert!(matches!(
        verify_checkpoint(&forged, &[log_key().verifier()]),
        Err(CheckpointError::Signature(SignatureError::Invalid { .. }))
    ));
    // A key of another deployment cannot vouch for this origin.
    let other = SignerKey::from_seed("elsewhere.example", ED25519, [7; 32]).unwrap();
    let text = LogCheckpoint::parse_text(v.note.text()).unwrap().to_text();
    let mut n = Note::new(text).unwrap();
    n.add_signature(sign_text(&other, n.text()).unwrap())
        .unwrap();
    assert!(matches!(
        verify_checkpoint(&n.to_string(), &[other.verifier()]),
        Err(CheckpointError::ForeignOrigin { .. })
    ));
}

#[test]
fn malformed_checkpoints_are_named() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let h = format!("last-event-hash {}", "a".repeat(64));
    let at = "last-event-recorded-at 2027-06-09T14:00:00Z";
    let o = "d.example/negotiations/n-1";
    let cases: Vec<Case<CheckpointError>> = vec![
        (format!("{o}\n5\n"), |e| {
            matches!(
                e,
                CheckpointError::Line {
                    line: 3,
                    what: "missing"
                }
            )
        }),
        (format!("{o}\n05\n{root}\n{h}\n{at}\n"), |e| {
            matches!(e, CheckpointError::Size(_))
        }),
        (format!("{o}\n+5\n{root}\n{h}\n{at}\n"), |e| {
            matches!(e, CheckpointError::Size(_))
        }),
        (format!("{o}\n5\nAAAA\n{h}\n{at}\n"), |e| {
            matches!(e, CheckpointError::Root(_))
        }),
        (format!("{o}\n5\n{root}\n\n{h}\n"), |e| {
            matches!(
                e,
                CheckpointError::Line {
                    line: 4,
                    what: "empty"
                }
            )
        }),
        (format!("{o}\n5\n{root}\n{h}\n{at}"), |e| {
            matches!(e, CheckpointError::Note(NoteError::NoFinalNewline))
        }),
        (format!("d.example/n-1\n5\n{root}\n{h}\n{at}\n"), |e| {
            matches!(e, CheckpointError::Origin(_))
        }),
        (
            format!("d.example/negotiations/N_1\n5\n{root}\n{h}\n{at}\n"),
            |e| matches!(e, CheckpointError::Origin(_)),
        ),
        (format!("{o}\n5\n{root}\n{at}\n{h}\n"), |e| {
            matches!(e, CheckpointError::Extension { line: 4, .. })
        }),
        (format!("{o}\n5\n{root}\n{h}\n"), |e| {
            matches!(e, CheckpointError::Extension { line: 5, .. })
        }),
        (
            format!("{o}\n5\n{root}\n{h}\nlast-event-recorded-at 2027-06-09 14:00\n"),
            |e| matches!(e, CheckpointError::Extension { line: 5, .. }),
        ),
        (format!("{o}\n5\n{root}\n{h}\n{at}\nmore\n"), |e| {
            matches!(e, CheckpointError::Extension { line: 6, .. })
        }),
        (format!("{o}\n0\n{root}\n{h}\n"), |e| {
            matches!(e, CheckpointError::Extension { line: 4, .. })
        }),
        (
            format!("{o}\n5\n{root}\nlast-event-hash ABC\n{at}\n"),
            |e| matches!(e, CheckpointError::Extension { line: 4, .. }),
        ),
    ];
    for (text, want) in cases {
        let e = LogCheckpoint::parse_text(&text).expect_err(&text);
        assert!(want(&e), "{text:?}: {e:?}");
    }
    let ok = LogCheckpoint::parse_text(&format!("{o}\n5\n{root}\n{h}\n{at}\n")).unwrap();
    assert_eq!(ok.deployment, "d.example");
    assert_eq!(ok.to_text(), format!("{o}\n5\n{root}\n{h}\n{at}\n"));
}

fn witness() -> Witness {
    let key = SignerKey::from_seed("witness.example/auditor", COSIGNATURE_V1, [9; 32]).unwrap();
    Witness::new(key, vec![log_key().verifier()]).unwrap()
}

#[test]
fn a_witness_cosigns_a_checkpoint_that_extends_the_one_it_holds() {
    let all = leaves(90);
    let w = witness();
    let first = w
        .check(None, &signed(40, &all), &[], 1_800_000_000)
        .unwrap();
    let proof = consistency_proof(&all, 40, 90).unwrap();
    let second = w
        .check(
            Some(&first.checkpoint),
            &signed(90, &all),
            &proof,
            1_800_000_100,
        )
        .unwrap();
    assert_eq!(second.checkpoint.size, 90);
    // The cosigned note carries the log's signature and the witness's, and both verify.
    let note = Note::parse(&second.note).unwrap();
    assert_eq!(note.signatures().len(), 2);
    let v = verify_note(&note, &[log_key().verifier(), w.verifier()]).unwrap();
    assert_eq!(v[1].timestamp, Some(1_800_000_100));
    assert_eq!(v[1].sig_type, COSIGNATURE_V1);
    assert!(second.note.ends_with(&second.cosignature));
    // The same checkpoint again is consistent with itself.
    w.check(
        Some(&second.checkpoint),
        &signed(90, &all),
        &[],
        1_800_000_200,
    )
    .unwrap();
}

#[test]
fn a_witness_refuses_a_split_view_and_a_rollback() {
    let all = leaves(90);
    let w = witness();
    let held = w.check(None, &signed(40, &all), &[], 1).unwrap().checkpoint;
    // A second history: the same first 39 events, then another event 40 onwards.
    let mut forked = all.clone();
    forked[39] = leaf_hash(b"forged");
    let forked_note = signed(90, &forked);
    let forked_proof = consistency_proof(&forked, 40, 90).unwrap();
    let genuine_proof = consistency_proof(&all, 40, 90).unwrap();
    for proof in [forked_proof, genuine_proof] {
        let e = w.check(Some(&held), &forked_note, &proof, 2).unwrap_err();
        assert!(
            matches!(
                e,
                WitnessError::SplitView {
                    held_size: 40,
                    new_size: 90,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("split view of roundtable.example.org/negotiations/harbourside-waste")
        );
    }
    // Two roots for one size.
    let e = w
        .check(Some(&held), &signed(40, &forked), &[], 2)
        .unwrap_err();
    assert!(matches!(e, WitnessError::SplitView { .. }), "{e:?}");
    // Going back.
    let e = w.check(Some(&held), &signed(30, &all), &[], 2).unwrap_err();
    assert!(
        matches!(
            e,
            WitnessError::Rollback {
                held: 40,
                new: 30,
                ..
            }
        ),
        "{e:?}"
    );
    // Not signed by the log.
    let e = w
        .check(
            Some(&held),
            &signed(90, &all).replacen("\n90\n", "\n91\n", 1),
            &[],
            2,
        )
        .unwrap_err();
    assert!(matches!(e, WitnessError::Checkpoint(_)), "{e:?}");
    // A log key cannot serve as a witness key.
    assert!(Witness::new(log_key(), vec![]).is_err());
}

/// A signed-note reader written here from c2sp.org/signed-note alone, sharing nothing
/// with the crate: the text, and each signature line's name, key id and bytes.
fn independent_parse(note: &str) -> (String, Vec<(String, u32, Vec<u8>)>) {
    use base64::Engine;
    let cut = note.rfind("\n\n").expect("a blank line");
    let text = note[..cut + 1].to_owned();
    let sigs = note[cut + 2..]
        .lines()
        .map(|l| {
            let rest = l.strip_prefix("\u{2014} ").expect("an em dash and a space");
            let (name, b64) = rest.split_once(' ').expect("name and signature");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            let id = u32::from_be_bytes(raw[..4].try_into().unwrap());
            (name.to_owned(), id, raw[4..].to_vec())
        })
        .collect();
    (text, sigs)
}

#[test]
fn an_independent_reader_and_raw_ed25519_agree_with_the_cosigned_checkpoint() {
    use ed25519_dalek::{Signature, VerifyingKey};
    use sha2::{Digest, Sha256};
    let all = leaves(20);
    let w = witness();
    let cosigned = w
        .check(None, &signed(20, &all), &[], 1_700_000_000)
        .unwrap();
    let (text, sigs) = independent_parse(&cosigned.note);
    assert_eq!(sigs.len(), 2);
    let log_pub = log_key().verifier().public_key();
    let wit_pub = w.verifier().public_key();
    let id = |name: &str, t: u8, key: &[u8; 32]| {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([b'\n', t]);
        h.update(key);
        u32::from_be_bytes(h.finalize()[..4].try_into().unwrap())
    };
    assert_eq!(sigs[0].0, "roundtable.example.org");
    assert_eq!(sigs[0].1, id("roundtable.example.org", 0x01, &log_pub));
    VerifyingKey::from_bytes(&log_pub)
        .unwrap()
        .verify_strict(
            text.as_bytes(),
            &Signature::from_bytes(&sigs[0].2.clone().try_into().unwrap()),
        )
        .unwrap();
    assert_eq!(sigs[1].1, id("witness.example/auditor", 0x04, &wit_pub));
    let ts = u64::from_be_bytes(sigs[1].2[..8].try_into().unwrap());
    assert_eq!(ts, 1_700_000_000);
    let message = format!("cosignature/v1\ntime {ts}\n{text}");
    VerifyingKey::from_bytes(&wit_pub)
        .unwrap()
        .verify_strict(
            message.as_bytes(),
            &Signature::from_bytes(&sigs[1].2[8..].try_into().unwrap()),
        )
        .unwrap();
    // And the root line is the base64 of the tree's root.
    use base64::Engine;
    let root = Frontier::of(&all, 20).unwrap().root();
    assert_eq!(
        text.lines().nth(2),
        Some(
            base64::engine::general_purpose::STANDARD
                .encode(root)
                .as_str()
        )
    );
}

#[test]
fn two_witnesses_shown_two_histories_expose_the_split_view() {
    // The log shows history A to one witness and history B to another; each cosigns
    // what it saw, having nothing else to compare with.
    let a = leaves(60);
    let mut b = a.clone();
    b[44] = leaf_hash(b"the other story");
    let w1 = witness();
    let w2 = Witness::new(
        SignerKey::from_seed("witness.example/donor", COSIGNATURE_V1, [10; 32]).unwrap(),
        vec![log_key().verifier()],
    )
    .unwrap();
    let seen1 = w1.check(None, &signed(60, &a), &[], 5).unwrap();
    let seen2 = w2.check(None, &signed(60, &b), &[], 5).unwrap();
    // Anyone holding both cosigned checkpoints finds them inconsistent.
    let e =
        roundtable_checkpoint::witness::check_extends(&seen1.checkpoint, &seen2.checkpoint, &[])
            .unwrap_err();
    assert!(
        matches!(
            e,
            WitnessError::SplitView {
                held_size: 60,
                new_size: 60,
                ..
            }
        ),
        "{e:?}"
    );
    // And a witness that saw A refuses B when the log later offers it, with any proof.
    let later = signed(60, &b);
    assert!(matches!(
        w1.check(Some(&seen1.checkpoint), &later, &[], 6),
        Err(WitnessError::SplitView { .. })
    ));
    // Extending B further does not help: from A's checkpoint B's growth is no extension.
    let mut b80 = b.clone();
    b80.extend(leaves(80).into_iter().skip(60));
    let proof = consistency_proof(&b80, 60, 80).unwrap();
    assert!(matches!(
        w1.check(Some(&seen1.checkpoint), &signed(80, &b80), &proof, 7),
        Err(WitnessError::SplitView { .. })
    ));
}
