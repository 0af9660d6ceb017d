//! End-to-end: the auditor's commands through the binary (issue: auditors), on both
//! backends: time travel, diff, export, offline verify with tampering, import of an
//! export, the report, and signatures made with a partner's own key.

#[macro_use]
mod common;

use common::{Run, Store, sample_minutes, write_minutes};
use roundtable_domain::view::NegotiationStatus;

on_both_backends!(
    time_travel_and_diff_follow_the_log,
    exports_verify_offline_and_tampering_is_named,
    signatures_made_with_partner_keys_verify_offline,
);

fn harbourside(store: &Store) {
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
}

fn view_json(run: &Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{run:?}");
    serde_json::from_str(&run.stdout).expect("view JSON")
}

async fn time_travel_and_diff_follow_the_log(store: Store) {
    harbourside(&store);
    let v = view_json(&store.run(&[
        "view",
        "harbourside-waste",
        "--json",
        "--as-of-version",
        "24",
    ]));
    assert_eq!(v["version"], 24);
    assert_eq!(v["clauses"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["status"], "open");
    // Between the first and second meeting days: the view after the first day.
    let day1 = view_json(&store.run(&[
        "view",
        "harbourside-waste",
        "--json",
        "--as-of",
        "2027-05-04T18:00:00Z",
    ]));
    assert_eq!(day1["version"], 26);
    // Every event was recorded just now, long after its business time.
    let recorded = view_json(&store.run(&[
        "view",
        "harbourside-waste",
        "--json",
        "--as-of",
        "2100-01-01",
        "--time",
        "recorded",
    ]));
    assert_eq!(recorded["version"], 73);
    let none_yet = store.run(&[
        "view",
        "harbourside-waste",
        "--as-of",
        "2020-01-01",
        "--time",
        "recorded",
    ]);
    assert_eq!(
        none_yet.code, 1,
        "nothing was recorded by 2020: {none_yet:?}"
    );
    let before = store.run(&["view", "harbourside-waste", "--as-of", "2027-01-01"]);
    assert_eq!(before.code, 1, "{before:?}");
    assert!(
        before.stderr.contains("had not been opened yet"),
        "{}",
        before.stderr
    );
    let bad = store.run(&["view", "harbourside-waste", "--as-of", "yesterday"]);
    assert_eq!(bad.code, 2, "{bad:?}");

    let diff = store.run(&[
        "diff",
        "harbourside-waste",
        "--from",
        "24",
        "--to",
        "73",
        "--json",
    ]);
    let d: serde_json::Value = view_json(&diff);
    let added: Vec<&str> = d["clauses_added"]
        .as_array()
        .expect("clauses_added")
        .iter()
        .filter_map(|c| c["clause_id"].as_str())
        .collect();
    assert_eq!(added, ["pickers", "workers", "fees"]);
    let text = store.run(&["diff", "harbourside-waste", "--from", "24"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("status: open -> concluded"),
        "{}",
        text.stdout
    );
}

async fn exports_verify_offline_and_tampering_is_named(store: Store) {
    harbourside(&store);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("harbourside.export");
    let run = store.run(&[
        "export",
        "harbourside-waste",
        "--output",
        &file.display().to_string(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    // Offline: no store options at all.
    let verify = |path: &std::path::Path| {
        Run::from(
            std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
                .args(["verify", &path.display().to_string()])
                .env_remove("ROUNDTABLE_NATS_URL")
                .env_remove("ROUNDTABLE_DATA_DIR")
                .current_dir(dir.path())
                .output()
                .expect("runs"),
        )
    };
    let ok = verify(&file);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout
            .contains("verified: negotiation harbourside-waste, 73 events"),
        "{}",
        ok.stdout
    );
    assert!(
        !dir.path().join("roundtable-data").exists(),
        "offline verify touched a store"
    );

    let lines: Vec<String> = std::fs::read_to_string(&file)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect();
    let mut edited = lines.clone();
    assert!(edited[10].contains("2027-05-04T"), "{}", edited[10]);
    edited[10] = edited[10].replacen("2027-05-04T", "2027-05-14T", 1);
    let mut removed = lines.clone();
    removed.remove(20);
    let mut swapped = lines.clone();
    swapped.swap(30, 31);
    let truncated: Vec<String> = lines[..60].to_vec();
    for (name, tampered, kind) in [
        ("edited", edited, "edited"),
        ("removed", removed, "removed"),
        ("swapped", swapped, "reordered"),
        ("truncated", truncated, "truncated"),
    ] {
        let path = write_minutes(dir.path(), name, &tampered);
        let run = verify(&path);
        assert_eq!(run.code, 1, "{name}: {run:?}");
        assert!(
            run.stdout.contains(&format!("FAILED: {kind} at")),
            "{name}: {}",
            run.stdout
        );
    }

    // A verified export loads into an empty store; a tampered one is refused.
    let other = Store::embedded();
    let refused = other.run(&[
        "import-export",
        &dir.path().join("edited").display().to_string(),
    ]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("is refused"), "{}", refused.stderr);
    let loaded = other.run(&["import-export", &file.display().to_string()]);
    assert_eq!(loaded.code, 0, "{loaded:?}");
    assert_eq!(
        other.view("harbourside-waste"),
        store.view("harbourside-waste")
    );
    let again = other.run(&["import-export", &file.display().to_string()]);
    assert_eq!(again.code, 1, "{again:?}");

    // The live store verifies, and the report is one self-contained page.
    let live = store.run(&["verify", "--negotiation", "harbourside-waste"]);
    assert_eq!(live.code, 0, "{live:?}");
    let report = store.run(&["report", "harbourside-waste"]);
    assert_eq!(report.code, 0, "{report:?}");
    assert!(
        report.stdout.starts_with("<!DOCTYPE html>")
            || report.stdout.starts_with("<!doctype html>"),
        "{}",
        &report.stdout[..100]
    );
    assert!(
        !report.stdout.contains("<script src=") && !report.stdout.contains("<link "),
        "the report loads something"
    );
    for partner in [
        "Harbourside City Council",
        "Municipal Sanitation Workers' Union",
        "Urban Resilience Fund",
    ] {
        let escaped = partner.replace('\'', "&#39;");
        assert!(
            report.stdout.contains(partner) || report.stdout.contains(&escaped),
            "{partner} missing"
        );
    }
}

async fn signatures_made_with_partner_keys_verify_offline(store: Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = Run::from(
        std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
            .args(["keys", "generate"])
            .output()
            .expect("runs"),
    );
    assert_eq!(keys.code, 0, "{keys:?}");
    let pair: serde_json::Value = serde_json::from_str(&keys.stdout).expect("key JSON");
    let secret = pair["secret_key"].as_str().expect("secret");
    let public = pair["public_key"].as_str().expect("public");
    let secret_file = dir.path().join("city.key");
    std::fs::write(&secret_file, secret).expect("write key");

    let head = |n: u32, rest: &str| {
        format!(r#"{{"at": "2027-06-0{n}T09:00:00Z", "negotiation_id": "signed", {rest}}}"#)
    };
    let lines = vec![
        head(
            1,
            r#""by": "secretariat", "do": "open_negotiation", "title": "Signed", "service": "drainage""#,
        ),
        head(
            1,
            &format!(
                r#""by": "secretariat", "do": "admit_partner", "partner_id": "city", "name": "City", "sector": "government", "kind": "municipality", "role": "signatory", "public_key": "{public}""#
            ),
        ),
        head(
            2,
            r#""by": "city", "do": "propose", "proposal_id": "p1", "clause_id": "c1", "text": "Drains are cleared monthly.""#,
        ),
        head(2, r#""by": "city", "do": "endorse", "proposal_id": "p1""#),
        head(
            3,
            r#""by": "secretariat", "do": "adopt", "proposal_id": "p1""#,
        ),
    ];
    let file = write_minutes(dir.path(), "signed.jsonl", &lines);
    assert_eq!(store.import(&file, &[]).code, 0);
    // Signing without the signature is refused for a partner with a key.
    let unsigned = write_minutes(
        dir.path(),
        "unsigned.jsonl",
        &[head(4, r#""by": "city", "do": "sign""#)],
    );
    let run = store.import(&unsigned, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let sig = store.run(&[
        "keys",
        "sign",
        "signed",
        "--secret-file",
        &secret_file.display().to_string(),
    ]);
    assert_eq!(sig.code, 0, "{sig:?}");
    let signature = sig.stdout.trim();
    let signed = write_minutes(
        dir.path(),
        "sign.jsonl",
        &[
            head(
                4,
                &format!(r#""by": "city", "do": "sign", "signature": "{signature}""#),
            ),
            head(5, r#""by": "secretariat", "do": "conclude""#),
        ],
    );
    let run = store.import(&signed, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(store.view("signed").status, NegotiationStatus::Concluded);
    let export = dir.path().join("signed.export");
    assert_eq!(
        store
            .run(&["export", "signed", "-o", &export.display().to_string()])
            .code,
        0
    );
    let verified = store.run(&["verify", &export.display().to_string()]);
    assert_eq!(verified.code, 0, "{verified:?}");
    assert!(
        verified.stdout.contains("1 signatures"),
        "{}",
        verified.stdout
    );
}

/// `verify --negotiation` passes on a healthy store and fails when the projector's
/// stored view is altered behind its back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_live_catches_a_stored_view_altered_behind_the_projector() {
    let store = Store::embedded();
    harbourside(&store);
    let once = store.run(&["project", "--once"]);
    assert_eq!(once.code, 0, "{once:?}");
    let healthy = store.run(&["verify", "--negotiation", "harbourside-waste"]);
    assert_eq!(healthy.code, 0, "{healthy:?}");
    assert!(
        healthy.stdout.contains("ok   view"),
        "the projected view was compared: {}",
        healthy.stdout
    );

    let Store::Embedded(dir) = &store else {
        unreachable!("embedded")
    };
    let db = rusqlite::Connection::open(dir.path().join("roundtable.db")).expect("open the file");
    let body: Vec<u8> = db
        .query_row(
            "SELECT value FROM kv WHERE bucket = 'ROUNDTABLE_VIEWS' AND key = 'harbourside-waste'",
            [],
            |r| r.get(0),
        )
        .expect("a stored view");
    let forged = String::from_utf8(body)
        .expect("JSON")
        .replace("\"status\":\"concluded\"", "\"status\":\"open\"");
    let changed = db
        .execute(
            "UPDATE kv SET value = ?1 WHERE bucket = 'ROUNDTABLE_VIEWS' AND key = 'harbourside-waste'",
            [forged.as_bytes()],
        )
        .expect("update behind the projector's back");
    assert_eq!(changed, 1);
    drop(db);
    let caught = store.run(&["verify", "--negotiation", "harbourside-waste"]);
    assert_eq!(caught.code, 1, "{caught:?}");
    assert!(
        caught.stdout.contains("FAILED: view_mismatch"),
        "{}",
        caught.stdout
    );
}
