//! End-to-end: the `roundtable` binary on real minutes, on the embedded store and on a
//! real `nats-server` (issue: the main job). Each check runs on both backends.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::{Store, read_lines, sample_minutes, test_data, write_minutes};
use roundtable_domain::view::{
    CommitmentStatus, NegotiationStatus, ObjectionStatus, ProposalStatus,
};

on_both_backends!(
    sample_minutes_conclude_as_the_rules_say,
    a_moved_line_stops_the_import_and_the_original_completes_it,
    bad_lines_are_rejected_by_line_and_record_nothing,
    freshwater_consultation_imports_whole,
    project_sample_minutes_conclude,
    a_dry_run_reports_without_recording,
    partner_text_cannot_drive_the_terminal,
    a_dry_run_alone_judges_every_line,
    a_binary_file_says_nothing_was_recorded,
    an_interleaved_file_fixed_and_run_again_records_each_line_once,
    events_say_the_chain_was_verified,
    a_token_for_a_partner_never_admitted_is_warned_about,
);

async fn sample_minutes_conclude_as_the_rules_say(store: Store) {
    let file = sample_minutes("harbourside-waste.jsonl");
    let run = store.import(&file, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("73 applied, 0 already recorded, 0 rejected"),
        "{}",
        run.stdout
    );

    let v = store.view("harbourside-waste");
    assert_eq!(v.status, NegotiationStatus::Concluded);
    assert_eq!(v.version, 73);
    assert_eq!(v.agreement_version, 16);
    assert_eq!(v.partners.len(), 9);
    let clauses: Vec<(&str, u32, &str)> = v
        .clauses
        .values()
        .map(|c| (c.clause_id.as_str(), c.version, c.adopted_from.as_str()))
        .collect();
    assert_eq!(
        clauses,
        vec![
            ("collection", 2, "p-collection-3"),
            ("pickers", 1, "p-pickers-1"),
            ("workers", 1, "p-workers-2"),
            ("fees", 1, "p-fees-1"),
        ]
    );
    let proposals: Vec<(&str, ProposalStatus)> = v
        .proposals
        .values()
        .map(|p| (p.proposal_id.as_str(), p.status))
        .collect();
    let (superseded, adopted, withdrawn) = (
        ProposalStatus::Superseded,
        ProposalStatus::Adopted,
        ProposalStatus::Withdrawn,
    );
    assert_eq!(
        proposals,
        vec![
            ("p-collection-1", superseded),
            ("p-collection-2", adopted),
            ("p-pickers-1", adopted),
            ("p-workers-1", withdrawn),
            ("p-workers-2", adopted),
            ("p-fees-1", adopted),
            ("p-collection-3", adopted),
        ]
    );
    let endorsers: Vec<&str> = v.proposals["p-collection-2"]
        .endorsed_by
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(endorsers, ["pickers-coop", "residents", "hcc"]);
    let objections: Vec<(&str, ObjectionStatus)> = v
        .objections
        .values()
        .map(|o| (o.objection_id.as_str(), o.status))
        .collect();
    let (moot, noted, withdrawn) = (
        ObjectionStatus::Moot,
        ObjectionStatus::Noted,
        ObjectionStatus::Withdrawn,
    );
    assert_eq!(
        objections,
        vec![
            ("o-collection-distance", moot),
            ("o-collection-canals", moot),
            ("o-collection-trucks", noted),
            ("o-pickers-offtake", withdrawn),
            ("o-pickers-safety", noted),
            ("o-workers-probation", moot),
        ]
    );
    let withdrawn: Vec<&str> = v
        .commitments
        .values()
        .filter(|c| c.status == CommitmentStatus::Withdrawn)
        .map(|c| c.commitment_id.as_str())
        .collect();
    assert_eq!(withdrawn, ["c-clearway-haulage"]);
    assert_eq!(v.commitments.len(), 10);
    let at = |version: u64| -> Vec<&str> {
        v.signatures
            .iter()
            .filter(|s| s.agreement_version == version)
            .map(|s| s.partner_id.as_str())
            .collect()
    };
    assert_eq!(
        at(15),
        ["hcc", "clearway", "pickers-coop", "greenhands", "residents"]
    );
    assert_eq!(
        at(16),
        [
            "hcc",
            "clearway",
            "pickers-coop",
            "greenhands",
            "residents",
            "sanitation-union"
        ]
    );
    assert_eq!(v.signatures.len(), 11);
    assert!(v.awaiting_signature.is_empty());

    let (events, projection) = store.verified_events("harbourside-waste");
    assert_eq!(events.len(), 73);
    assert_eq!(
        projection.view.expect("opened").last_event_hash,
        v.last_event_hash
    );
    if let Store::Nats(server) = &store {
        assert_eq!(
            messages_on(&server.url(), "roundtable.events.harbourside-waste").await,
            73
        );
    }

    // Importing the same file again records nothing and says so.
    let again = store.import(&file, &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("0 applied, 73 already recorded, 0 rejected"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("nothing new recorded"),
        "{}",
        again.stdout
    );
    assert_eq!(store.events("harbourside-waste").len(), 73);
}

async fn messages_on(url: &str, subject: &str) -> u64 {
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let stream = js
        .get_stream("ROUNDTABLE_EVENTS")
        .await
        .expect("stream exists");
    let mut subjects = stream.info_with_subjects(subject).await.expect("subjects");
    use futures::TryStreamExt;
    let mut count = 0;
    while let Some((name, n)) = subjects.try_next().await.expect("subject counts") {
        if name == subject {
            count = n as u64;
        }
    }
    count
}

async fn a_moved_line_stops_the_import_and_the_original_completes_it(store: Store) {
    let original = sample_minutes("harbourside-waste.jsonl");
    let mut lines = read_lines(&original);
    // Move the adoption of p-collection-2 to just after its proposal, before anyone endorses it.
    let adopt = lines
        .iter()
        .position(|l| l.contains(r#""do": "adopt", "proposal_id": "p-collection-2""#))
        .expect("adopt line");
    let propose = lines
        .iter()
        .position(|l| l.contains(r#""proposal_id": "p-collection-2", "clause_id""#))
        .expect("propose line");
    let moved = lines.remove(adopt);
    lines.insert(propose + 1, moved);
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = write_minutes(dir.path(), "moved.jsonl", &lines);

    let run = store.import(&broken, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let bad_line = propose + 2; // 1-based number of the moved line
    assert!(
        run.stdout
            .contains(&format!("line {bad_line}: adopt rejected:")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("stopped at line {bad_line}")),
        "{}",
        run.stdout
    );
    let recorded_before = lines[..bad_line - 1]
        .iter()
        .filter(|l| l.trim_start().starts_with('{'))
        .count();
    assert_eq!(store.events("harbourside-waste").len(), recorded_before);

    let fixed = store.import(&original, &[]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert!(
        fixed.stdout.contains(&format!(
            "{} applied, {recorded_before} already recorded, 0 rejected",
            73 - recorded_before
        )),
        "{}",
        fixed.stdout
    );
    let (events, projection) = store.verified_events("harbourside-waste");
    assert_eq!(events.len(), 73);
    let command_ids: BTreeSet<_> = events.iter().map(|e| e.command_id.clone()).collect();
    assert_eq!(command_ids.len(), 73, "no command recorded twice");
    assert_eq!(
        projection.view.expect("opened").status,
        NegotiationStatus::Concluded
    );
}

async fn bad_lines_are_rejected_by_line_and_record_nothing(store: Store) {
    let open = r#"{"at": "2027-05-01T09:00:00Z", "negotiation_id": "bad-input", "by": "secretariat", "do": "open_negotiation", "title": "Bad input", "service": "drainage"}"#;
    let admit = |id: &str| {
        format!(
            r#"{{"negotiation_id": "bad-input", "by": "secretariat", "do": "admit_partner", "partner_id": "{id}", "name": "X", "sector": "government", "kind": "municipality", "role": "signatory"}}"#
        )
    };
    let long = "x".repeat(65);
    let mut lines = vec![open.to_owned()];
    let bad: Vec<(String, &str)> = vec![
        (admit("city.council"), "'.'"),
        (admit("city*"), "'*'"),
        (admit("city>"), "'>'"),
        (admit("city council"), "' '"),
        (admit("City"), "'C'"),
        (admit("cité"), "'é'"),
        (admit(&long), "65 characters"),
        (admit("secretariat"), "reserved"),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "admit_partner", "partner_id": "#.to_owned(), "malformed JSON"),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "frobnicate"}"#.to_owned(), "unknown command"),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "admit_partner", "partner_id": "ok"}"#.to_owned(), "missing field"),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "admit_partner", "partner_id": "ok", "name": "X", "sector": "government", "kind": "ngo", "role": "signatory"}"#.to_owned(), "belongs to sector civil_society"),
        (r#"{"negotiation_id": "bad input", "by": "secretariat", "do": "conclude"}"#.to_owned(), "negotiation_id"),
        (r#"{"negotiation_id": "bad-input", "by": "Lcc", "do": "sign"}"#.to_owned(), "by \"Lcc\""),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "conclude", "at": "tomorrow"}"#.to_owned(), "\"at\""),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "conclude", "at": "9999-12-31T23:59:59-23:59"}"#.to_owned(), "is +10000-01-01T23:58:59Z in UTC, outside the accepted window"),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "conclude", "at": "0000-01-01T00:00:00+00:01"}"#.to_owned(), "outside the accepted window 1900-01-01T00:00:00Z"),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "commit", "commitment_id": "k", "description": "d", "kind": "finance", "due": "2027-1-1"}"#.to_owned(), "\"2027-1-1\" is not a date written YYYY-MM-DD"),
        (r#"{"negotiation_id": "bad-input", "by": "secretariat", "do": "conclude", "do": "sign"}"#.to_owned(), "repeated key \"do\" at column"),
        (r#"[1, 2, 3]"#.to_owned(), "JSON object"),
    ];
    lines.extend(bad.iter().map(|(l, _)| l.clone()));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_minutes(dir.path(), "bad.jsonl", &lines);
    let run = store.import(&file, &["--keep-going"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for (i, (_, why)) in bad.iter().enumerate() {
        let n = i + 2;
        let reported = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("line {n}: ")))
            .unwrap_or_else(|| panic!("line {n} not reported:\n{}", run.stdout));
        assert!(reported.contains("rejected: "), "{reported}");
        assert!(
            reported.contains(why),
            "line {n} should say {why:?}: {reported}"
        );
    }
    assert!(
        run.stdout.contains(&format!(
            "1 applied, 0 already recorded, {} rejected",
            bad.len()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(store.events("bad-input").len(), 1);

    // Without --keep-going the first bad line stops the import.
    let first = store.import(&file, &[]);
    assert_eq!(first.code, 1);
    assert!(
        first.stdout.contains("line 2: admit_partner rejected:"),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("line 3:"), "{}", first.stdout);
    assert_eq!(store.events("bad-input").len(), 1);
}

async fn freshwater_consultation_imports_whole(store: Store) {
    let run = store.import(&test_data("polis-freshwater/polis-freshwater.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let v = store.view("nz-freshwater");
    assert_eq!(v.status, NegotiationStatus::Open);
    assert_eq!(v.version, 3748);
    assert_eq!(v.clauses.len(), 39);
    assert_eq!(v.partners.len(), 116);
    let (events, _) = store.verified_events("nz-freshwater");
    assert_eq!(events.len(), 3748);
}

async fn project_sample_minutes_conclude(store: Store) {
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = store.run(&["view", "harbourside-waste"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("CONCLUDED"), "{}", text.stdout);
    assert!(text.stdout.contains("AGREED CLAUSES"), "{}", text.stdout);
    assert_eq!(
        store.view("harbourside-waste").status,
        NegotiationStatus::Concluded
    );
}

async fn a_dry_run_reports_without_recording(store: Store) {
    let original = sample_minutes("harbourside-waste.jsonl");
    let mut lines = read_lines(&original);
    // Make the union's blocking objection malformed: a real import with --keep-going
    // would go on to adopt over it; a dry run shows every consequence first.
    let objection = lines
        .iter()
        .position(|l| l.contains(r#""objection_id": "o-workers-probation""#))
        .expect("objection line");
    lines[objection] = lines[objection].replace(r#""blocking": true"#, r#""blocking": "true""#);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_minutes(dir.path(), "typo.jsonl", &lines);
    let dry = store.import(&file, &["--dry-run", "--keep-going"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(
        dry.stdout
            .contains(&format!("line {}: object rejected:", objection + 1)),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("dry run: nothing was recorded"),
        "{}",
        dry.stdout
    );
    assert!(
        store.events("harbourside-waste").is_empty(),
        "a dry run recorded something"
    );
    // Against a store that already holds the first part, a dry run counts it as recorded.
    let first_part: Vec<String> = read_lines(&original).into_iter().take(30).collect();
    let head = write_minutes(dir.path(), "head.jsonl", &first_part);
    assert_eq!(store.import(&head, &[]).code, 0);
    let recorded = store.events("harbourside-waste").len();
    let dry = store.import(&original, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains(&format!(
            "{} would be applied, {recorded} already recorded, 0 rejected",
            73 - recorded
        )),
        "{}",
        dry.stdout
    );
    assert_eq!(store.events("harbourside-waste").len(), recorded);
}

async fn partner_text_cannot_drive_the_terminal(store: Store) {
    let lines = vec![
        r#"{"at": "2027-05-01T09:00:00Z", "negotiation_id": "escapes", "by": "secretariat", "do": "open_negotiation", "title": "Escapes", "service": "drainage"}"#.to_owned(),
        r#"{"at": "2027-05-01T09:01:00Z", "negotiation_id": "escapes", "by": "secretariat", "do": "admit_partner", "partner_id": "ward", "name": "Ward committee", "sector": "civil_society", "kind": "community_organisation", "role": "signatory"}"#.to_owned(),
        r#"{"at": "2027-05-01T09:02:00Z", "negotiation_id": "escapes", "by": "ward", "do": "propose", "proposal_id": "p1", "clause_id": "c1", "text": "First paragraph.\nSecond paragraph."}"#.to_owned(),
        r#"{"at": "2027-05-01T09:03:00Z", "negotiation_id": "escapes", "by": "ward", "do": "propose", "proposal_id": "p2", "clause_id": "c1", "text": "Clear \u001b[2J the screen"}"#.to_owned(),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_minutes(dir.path(), "escapes.jsonl", &lines);
    let run = store.import(&file, &["--keep-going"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("line 4: propose rejected: text contains the control character U+001B"),
        "{}",
        run.stdout
    );
    let text = store.run(&["view", "escapes"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        !text.stdout.contains('\u{1b}'),
        "raw escape reached the terminal: {:?}",
        text.stdout
    );
    // Paragraphs of a text stay on lines of their own.
    assert!(
        text.stdout
            .contains("    First paragraph.\n    Second paragraph."),
        "{}",
        text.stdout
    );
}

/// Minutes of `negotiations` negotiations whose lines alternate between them: each is
/// opened, admits one partner, then records `proposals` proposals.
fn interleaved(negotiations: usize, proposals: usize) -> Vec<String> {
    let per: Vec<Vec<String>> = (0..negotiations)
        .map(|j| {
            let id = format!("inter-{j}");
            let mut lines = vec![
                format!(
                    r#"{{"at": "2027-05-01T09:00:00Z", "negotiation_id": "{id}", "by": "secretariat", "do": "open_negotiation", "title": "Interleaved {j}", "service": "drainage"}}"#
                ),
                format!(
                    r#"{{"at": "2027-05-01T09:01:00Z", "negotiation_id": "{id}", "by": "secretariat", "do": "admit_partner", "partner_id": "ward", "name": "Ward", "sector": "civil_society", "kind": "community_organisation", "role": "signatory"}}"#
                ),
            ];
            lines.extend((0..proposals).map(|i| {
                format!(
                    r#"{{"at": "2027-05-01T10:00:00Z", "negotiation_id": "{id}", "by": "ward", "do": "propose", "proposal_id": "p{i}", "clause_id": "c{}", "text": "Proposal {i}"}}"#,
                    i % 20
                )
            }));
            lines
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..per[0].len() {
        for lines in &per {
            out.push(lines[i].clone());
        }
    }
    out
}

async fn a_dry_run_alone_judges_every_line(store: Store) {
    let mut lines = interleaved(1, 6);
    // Two bad lines: a proposal by a partner never admitted, and a duplicate proposal id.
    lines[3] = lines[3].replace(r#""by": "ward""#, r#""by": "nobody""#);
    lines[6] = lines[6].replace(r#""proposal_id": "p4""#, r#""proposal_id": "p0""#);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_minutes(dir.path(), "two-bad.jsonl", &lines);
    let dry = store.import(&file, &["--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:?}");
    assert!(
        dry.stdout.contains("line 4: propose rejected:"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("line 7: propose rejected:"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("6 would be applied, 0 already recorded, 2 rejected"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("dry run: nothing was recorded"),
        "{}",
        dry.stdout
    );
    assert!(!dry.stdout.contains("stopped at"), "{}", dry.stdout);
    assert!(!dry.stdout.contains("stays recorded"), "{}", dry.stdout);
    assert!(
        store.events("inter-0").is_empty(),
        "a dry run recorded something"
    );
}

async fn a_binary_file_says_nothing_was_recorded(store: Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("binary.jsonl");
    let mut bytes = b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00\x00".to_vec();
    bytes.extend_from_slice(b"\n\x00\x01\x02\x03\n");
    std::fs::write(&file, &bytes).expect("write");
    let run = store.import(&file, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("line 1: (unreadable line) rejected: not valid UTF-8"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("stopped at line 1: nothing was recorded;"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("stays recorded"), "{}", run.stdout);
    // After some lines, the summary says how many stay recorded.
    let mut lines = interleaved(1, 3);
    lines.insert(3, "not json".to_owned());
    let file = write_minutes(dir.path(), "late.jsonl", &lines);
    let run = store.import(&file, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("stopped at line 4: the 3 lines applied before it stay recorded;"),
        "{}",
        run.stdout
    );
    let again = store.import(&file, &[]);
    assert!(
        again.stdout.contains(
            "stopped at line 4: nothing new was recorded (the lines before it were already);"
        ),
        "{}",
        again.stdout
    );
}

async fn an_interleaved_file_fixed_and_run_again_records_each_line_once(store: Store) {
    // Three negotiations, lines in turn: every group the import writes is one line.
    let good = interleaved(3, 100);
    let total = good.len();
    let bad_at = 200; // 0-based; line 201 of the file
    let mut broken = good.clone();
    broken[bad_at] = broken[bad_at].replace(r#""by": "ward""#, r#""by": "nobody""#);
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = write_minutes(dir.path(), "broken.jsonl", &broken);
    let good = write_minutes(dir.path(), "good.jsonl", &good);
    let first = store.import(&broken, &[]);
    assert_eq!(first.code, 1, "{first:?}");
    assert!(
        first
            .stdout
            .contains(&format!("stopped at line {}", bad_at + 1)),
        "{}",
        first.stdout
    );
    let fixed = store.import(&good, &[]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
    assert!(
        fixed.stdout.contains(&format!(
            "{} applied, {bad_at} already recorded, 0 rejected",
            total - bad_at
        )),
        "{}",
        fixed.stdout
    );
    let again = store.import(&good, &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains(&format!("0 applied, {total} already recorded, 0 rejected")),
        "{}",
        again.stdout
    );
    for j in 0..3 {
        let (events, _) = store.verified_events(&format!("inter-{j}"));
        assert_eq!(events.len(), total / 3);
        let ids: BTreeSet<_> = events.iter().map(|e| e.command_id.clone()).collect();
        assert_eq!(ids.len(), events.len(), "no command recorded twice");
    }
}

async fn events_say_the_chain_was_verified(store: Store) {
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = store.run(&["events", "harbourside-waste"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("chain verified: 73 events")),
        "{}",
        text.stdout
    );
    let json = store.run(&["events", "harbourside-waste", "--json"]);
    assert_eq!(json.code, 0, "{json:?}");
    assert!(
        json.stderr.contains("chain verified: 73 events"),
        "{}",
        json.stderr
    );
    assert_eq!(
        json.stdout.lines().count(),
        73,
        "standard output stays one event a line"
    );
}

async fn a_token_for_a_partner_never_admitted_is_warned_about(store: Store) {
    let run = store.import(&sample_minutes("harbourside-waste.jsonl"), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("jwt.secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef0123456789abcdef").expect("secret");
    let secret = secret.display().to_string();
    let issue = |negotiation: &str, partner: &str| {
        store.run(&[
            "token",
            "issue",
            "--jwt-secret-file",
            &secret,
            "--role",
            "partner",
            "--negotiation",
            negotiation,
            "--partner",
            partner,
        ])
    };
    let stranger = issue("harbourside-waste", "nobody");
    assert_eq!(stranger.code, 0, "{stranger:?}");
    assert_eq!(
        stranger.stdout.trim().split('.').count(),
        3,
        "a JWT is printed: {}",
        stranger.stdout
    );
    assert!(
        stranger.stderr.contains(
            "warning: partner nobody was never admitted in negotiation harbourside-waste"
        ),
        "{}",
        stranger.stderr
    );
    let unknown = issue("no-such-negotiation", "hcc");
    assert_eq!(unknown.code, 0, "{unknown:?}");
    assert!(
        unknown
            .stderr
            .contains("warning: negotiation no-such-negotiation has no recorded events"),
        "{}",
        unknown.stderr
    );
    let member = issue("harbourside-waste", "hcc");
    assert_eq!(member.code, 0, "{member:?}");
    assert!(!member.stderr.contains("warning"), "{}", member.stderr);
}

/// Every command's `--help` gives its exit codes, and the global options stand under a
/// heading of their own, apart from the command's.
#[test]
fn every_command_help_gives_exit_codes_and_groups_global_options() {
    let commands: &[&[&str]] = &[
        &[],
        &["import"],
        &["list"],
        &["view"],
        &["events"],
        &["diff"],
        &["export"],
        &["verify"],
        &["checkpoint"],
        &["prove"],
        &["report"],
        &["export-ocds"],
        &["import-export"],
        &["keys"],
        &["keys", "generate"],
        &["keys", "sign"],
        &["keys", "log-generate"],
        &["keys", "log-rotate"],
        &["serve"],
        &["api"],
        &["project"],
        &["token"],
        &["token", "issue"],
    ];
    for command in commands {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
            .args(*command)
            .arg("--help")
            .env_remove("ROUNDTABLE_NATS_URL")
            .output()
            .expect("roundtable runs");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command:?}: {output:?}");
        assert!(
            help.contains("Exit status: 0"),
            "{command:?} --help gives no exit codes:\n{help}"
        );
        let global = help
            .find("Global options:")
            .unwrap_or_else(|| panic!("{command:?} --help has no global options heading:\n{help}"));
        assert!(
            help[global..].contains("--data-dir"),
            "{command:?}:\n{help}"
        );
        assert!(
            !help[..global].contains("--data-dir"),
            "{command:?}:\n{help}"
        );
    }
}

/// A dry run into a directory with no store judges every line and leaves nothing
/// behind: no store file, no log identity, no note asking to pin one.
#[test]
fn a_dry_run_where_there_is_no_store_leaves_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let file = write_minutes(dir.path(), "dry.jsonl", &interleaved(1, 3));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
        .arg("--data-dir")
        .arg(&data)
        .arg("import")
        .arg(&file)
        .arg("--dry-run")
        .env_remove("ROUNDTABLE_NATS_URL")
        .output()
        .expect("roundtable runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("would be applied, 0 already recorded, 0 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run: nothing was recorded"), "{stdout}");
    assert!(
        !data.join(roundtable_sqlite::DB_FILE_NAME).exists(),
        "a dry run left a store in {}",
        data.display()
    );
    assert!(!stderr.contains("holds event log"), "{stderr}");
    // With no store there, a read still says nothing was imported.
    let view = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
        .arg("--data-dir")
        .arg(&data)
        .args(["view", "inter-0"])
        .env_remove("ROUNDTABLE_NATS_URL")
        .output()
        .expect("roundtable runs");
    assert_eq!(view.status.code(), Some(1), "{view:?}");
}
