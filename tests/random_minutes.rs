//! End-to-end: random minutes with rule-breaking lines, imported with `--keep-going`,
//! reject exactly the lines the rules reject and end in the view the rules give.
//!
//! The oracle is the domain itself, folded in memory line by line (no store, no
//! binary): the test checks that the importer, the handler and each store apply the
//! rules exactly as they are written, line numbers and re-recognised lines included.

mod common;

use std::collections::{BTreeSet, HashSet};

use chrono::{TimeZone, Utc};
use common::{Store, write_minutes};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{AgreementView, CommandEnvelope, Projection, RecordedEvent, decide};
use uuid::Uuid;

/// xorshift64*: a tiny deterministic generator, so every seed is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const SECTORS: [(&str, &str, &str); 6] = [
    ("city", "government", "municipality"),
    ("operator", "private_sector", "international_operator"),
    ("kiosks", "private_sector", "small_scale_provider"),
    ("ngo", "civil_society", "ngo"),
    ("union", "civil_society", "trade_union"),
    ("donor", "external", "donor"),
];

fn random_minutes(seed: u64, lines: usize) -> Vec<String> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let rule = r.pick(&["consent", "cross_sector_consent", "unanimity"]);
    let mut out = vec![format!(
        r#"{{"at": "2027-01-01T08:00:00Z", "negotiation_id": "rand-n", "by": "secretariat", "do": "open_negotiation", "title": "Random {seed}", "service": "sanitation", "decision_rule": "{rule}"}}"#
    )];
    let actors = [
        "city",
        "operator",
        "kiosks",
        "ngo",
        "union",
        "donor",
        "secretariat",
        "stranger",
    ];
    let proposals = ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9"];
    let clauses = ["c1", "c2", "c3"];
    let objections = ["o1", "o2", "o3", "o4", "o5"];
    let commitments = ["k1", "k2", "k3"];
    for i in 1..lines {
        let at = Utc
            .with_ymd_and_hms(2027, 1, 1, 8, 0, 0)
            .single()
            .expect("time")
            + chrono::Duration::minutes(i as i64);
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if i > 3 && r.chance(4) {
            // A line repeated word for word: recognised as already recorded, or rejected again.
            let again = out[r.below(out.len())].clone();
            out.push(again);
            continue;
        }
        if r.chance(3) {
            out.push(r.pick(&[
                r#"{"negotiation_id": "rand-n", "by": "city", "do": "endorse", "proposal_id": "Q1"}"#,
                r#"{"negotiation_id": "rand-n", "by": "city", "do": "endorse""#,
                r#"{"negotiation_id": "rand-n", "by": "city", "do": "vote", "proposal_id": "q1"}"#,
                r#"{"negotiation_id": "rand.n", "by": "city", "do": "sign"}"#,
            ]).to_owned());
            continue;
        }
        let choice = if i <= SECTORS.len() { 0 } else { r.below(13) };
        // Mostly the actor a command expects, sometimes the wrong one.
        let secretariat_command = matches!(choice, 0 | 9) || (choice == 12 && r.chance(50));
        let by = if r.chance(12) {
            r.pick(&actors)
        } else if secretariat_command {
            "secretariat"
        } else {
            r.pick(&actors[..6])
        };
        let head = format!(r#"{{"at": "{at}", "negotiation_id": "rand-n", "by": "{by}", "#);
        let body = match choice {
            0 => {
                // The first lines admit each partner once; later admissions repeat them.
                let (id, sector, kind) = SECTORS[if i <= SECTORS.len() {
                    i - 1
                } else {
                    r.below(SECTORS.len())
                }];
                let sector = if r.chance(10) { "government" } else { sector };
                let role = if r.chance(70) {
                    "signatory"
                } else {
                    "observer"
                };
                format!(
                    r#""do": "admit_partner", "partner_id": "{id}", "name": "{id} org", "sector": "{sector}", "kind": "{kind}", "role": "{role}"}}"#
                )
            }
            1 | 2 => format!(
                r#""do": "propose", "proposal_id": "{}", "clause_id": "{}", "text": "Text {i}"}}"#,
                r.pick(&proposals),
                r.pick(&clauses)
            ),
            3 => format!(
                r#""do": "withdraw_proposal", "proposal_id": "{}"}}"#,
                r.pick(&proposals)
            ),
            4 | 5 => format!(
                r#""do": "endorse", "proposal_id": "{}"}}"#,
                r.pick(&proposals)
            ),
            6 => format!(
                r#""do": "retract_endorsement", "proposal_id": "{}"}}"#,
                r.pick(&proposals)
            ),
            7 => format!(
                r#""do": "object", "objection_id": "{}", "proposal_id": "{}", "grounds": "Because {i}", "blocking": {}}}"#,
                r.pick(&objections),
                r.pick(&proposals),
                r.chance(50)
            ),
            8 => format!(
                r#""do": "withdraw_objection", "objection_id": "{}"}}"#,
                r.pick(&objections)
            ),
            9 => format!(
                r#""do": "adopt", "proposal_id": "{}"}}"#,
                r.pick(&proposals)
            ),
            10 => format!(
                r#""do": "commit", "commitment_id": "{}", "description": "Help {i}", "kind": "finance", "clause_id": "{}", "amount": {{"value": "{}.50", "currency": "{}"}}}}"#,
                r.pick(&commitments),
                r.pick(&["c1", "c2", "c9"]),
                i * 100,
                r.pick(&["USD", "EUR", "XYZ"])
            ),
            11 => format!(
                r#""do": "withdraw_commitment", "commitment_id": "{}", "reason": "Changed {i}"}}"#,
                r.pick(&commitments)
            ),
            _ if by == "secretariat" => r#""do": "conclude"}"#.to_owned(),
            _ => r#""do": "sign"}"#.to_owned(),
        };
        out.push(format!("{head}{body}"));
    }
    out
}

struct Expected {
    types: BTreeSet<&'static str>,
    rejected: BTreeSet<usize>,
    applied: usize,
    already: usize,
    view: AgreementView,
}

/// The oracle: the domain's own rules over the lines, in memory.
fn expected(lines: &[String]) -> Expected {
    let mut p = Projection::new();
    let mut seen = HashSet::new();
    let (mut rejected, mut applied, mut already) = (BTreeSet::new(), 0, 0);
    let mut types = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let m = match parse_line(line) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(_) => {
                rejected.insert(i + 1);
                continue;
            }
        };
        if seen.contains(&m.command_id) {
            already += 1;
            continue;
        }
        let cmd = CommandEnvelope {
            command_id: m.command_id,
            negotiation_id: m.negotiation_id,
            actor: m.actor,
            occurred_at: m.at.expect("every generated line has a time"),
            command: m.command,
        };
        if cmd.negotiation_id.as_str() != "rand-n" {
            rejected.insert(i + 1);
            continue;
        }
        match decide(p.view.as_ref(), &cmd) {
            Ok(event) => {
                types.insert(event.body.type_name());
                let e = RecordedEvent::seal(
                    &cmd,
                    event,
                    p.version + 1,
                    &p.last_hash.clone(),
                    Uuid::nil(),
                    Utc::now(),
                );
                p.apply(&e).expect("links");
                seen.insert(cmd.command_id);
                applied += 1;
            }
            Err(_) => {
                rejected.insert(i + 1);
            }
        }
    }
    Expected {
        types,
        rejected,
        applied,
        already,
        view: p.view.expect("the first line opens"),
    }
}

fn comparable(view: &AgreementView) -> serde_json::Value {
    let mut v = serde_json::to_value(view).expect("view serializes");
    // The only field that depends on server-side ids and clocks.
    v.as_object_mut().expect("object").remove("last_event_hash");
    v
}

async fn random_minutes_follow_the_rules(nats: bool, seeds: std::ops::Range<u64>) {
    let dir = tempfile::tempdir().expect("temp dir");
    for seed in seeds {
        let lines = random_minutes(seed, 120);
        let want = expected(&lines);
        // A fresh store per seed: the oracle starts from nothing.
        let store = if nats {
            Store::nats().await
        } else {
            Store::embedded()
        };
        let file = write_minutes(dir.path(), &format!("seed-{seed}.jsonl"), &lines);
        let run = store.import(&file, &["--keep-going"]);
        assert!(
            !run.stderr.contains("panicked"),
            "seed {seed}: {}",
            run.stderr
        );
        let got: BTreeSet<usize> = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("line ")?.split(':').next()?.parse().ok())
            .collect();
        assert_eq!(
            got, want.rejected,
            "seed {seed}: rejected lines differ\n{}",
            run.stdout
        );
        assert_eq!(
            run.code,
            if want.rejected.is_empty() { 0 } else { 1 },
            "seed {seed}"
        );
        assert!(
            run.stdout.contains(&format!(
                "{} applied, {} already recorded, {} rejected",
                want.applied,
                want.already,
                want.rejected.len()
            )),
            "seed {seed}: {}",
            run.stdout
        );
        let view = store.view("rand-n");
        assert_eq!(
            comparable(&view),
            comparable(&want.view),
            "seed {seed}: views differ"
        );
        store.verified_events("rand-n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_minutes_follow_the_rules_on_the_embedded_store() {
    random_minutes_follow_the_rules(false, 0..12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_minutes_follow_the_rules_on_nats() {
    random_minutes_follow_the_rules(true, 100..106).await;
}

#[test]
fn the_generator_breaks_rules_and_keeps_some() {
    // Guard against a generator that only ever produces rejections, or never reaches
    // the interesting rules: over the seeds the tests use, most event types occur.
    let mut types = BTreeSet::new();
    for seed in (0..12).chain(100..106) {
        let want = expected(&random_minutes(seed, 120));
        assert!(want.applied >= 15, "seed {seed}: {} applied", want.applied);
        assert!(
            want.rejected.len() >= 20,
            "seed {seed}: {} rejected",
            want.rejected.len()
        );
        types.extend(want.types);
    }
    for needed in [
        "proposal_adopted",
        "objection_raised",
        "proposal_endorsed",
        "commitment_made",
        "proposal_withdrawn",
    ] {
        assert!(types.contains(needed), "no {needed} in {types:?}");
    }
    assert!(types.len() >= 10, "{types:?}");
}
