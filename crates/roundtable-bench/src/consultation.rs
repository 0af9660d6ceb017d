//! Synthetic minutes shaped like a real public consultation (DOMAIN.md, "The import
//! format"): the benchmarks' workload and the large-negotiation tests' input.
//!
//! The shape follows the Polis conversation vendored in `tests/data/polis-freshwater/`:
//! the secretariat opens a negotiation under `consent`; participants are admitted as
//! they first act; statements are proposed during the first half; every other line is one
//! participant's vote on one statement (an endorsement, or a non-blocking objection),
//! at most one vote per participant and statement; at the end the secretariat adopts
//! every fifth statement. Every line is accepted by the rules, so `n` lines record
//! exactly `n` events. The same seed gives the same lines, byte for byte.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roundtable_domain::CommandEnvelope;
use roundtable_domain::minutes::parse_line;

/// Kinds of partner, with their sector, that admitted participants cycle through.
const KINDS: [(&str, &str); 8] = [
    ("civil_society", "community_organisation"),
    ("civil_society", "ngo"),
    ("civil_society", "consumer_group"),
    ("government", "municipality"),
    ("private_sector", "small_scale_provider"),
    ("civil_society", "trade_union"),
    ("private_sector", "national_firm"),
    ("external", "donor"),
];

/// Words statements are made of, so that messages have realistic sizes (a statement is
/// 12 to 40 words, as in the Polis conversations).
const WORDS: [&str; 24] = [
    "water",
    "tariff",
    "kiosk",
    "standpipe",
    "settlement",
    "sanitation",
    "council",
    "operator",
    "connection",
    "meter",
    "community",
    "quality",
    "monitoring",
    "pipeline",
    "subsidy",
    "households",
    "informal",
    "supply",
    "hours",
    "maintenance",
    "public",
    "report",
    "latrine",
    "collection",
];

/// A consultation to generate: `partners` participants, `statements` proposals and
/// `events` lines in all (each one event once imported).
#[derive(Debug, Clone)]
pub struct Consultation {
    negotiation: String,
    partners: usize,
    statements: usize,
    events: usize,
    seed: u64,
}

impl Consultation {
    /// A consultation on negotiation `negotiation` (a valid negotiation id) with
    /// `partners` participants, `statements` statements and `events` lines, seed 1.
    ///
    /// The lines are: 1 `open_negotiation`, `partners` `admit_partner`, `statements`
    /// `propose`, `statements.div_ceil(5)` `adopt` at the end, and votes for the rest.
    /// [`Consultation::lines`] panics if the votes would be fewer than the partners
    /// (every participant votes at least once) or more than partners × statements.
    pub fn new(negotiation: &str, partners: usize, statements: usize, events: usize) -> Self {
        Consultation {
            negotiation: negotiation.to_owned(),
            partners,
            statements,
            events,
            seed: 1,
        }
    }

    /// The same consultation drawn with another seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The negotiation id.
    pub fn negotiation(&self) -> &str {
        &self.negotiation
    }

    /// Number of `adopt` lines at the end.
    pub fn adopted(&self) -> usize {
        self.statements.div_ceil(5)
    }

    /// Number of vote lines (endorsements and objections).
    pub fn votes(&self) -> usize {
        self.events
            .checked_sub(1 + self.partners + self.statements + self.adopted())
            .expect("events too few for the partners and statements")
    }

    /// The minutes, one JSON line each, in order (no trailing newlines).
    ///
    /// # Panics
    /// When the counts cannot make a valid consultation (see [`Consultation::new`]).
    pub fn lines(&self) -> Vec<String> {
        let votes = self.votes();
        assert!(
            self.partners >= 1 && self.statements >= 1,
            "a consultation needs a partner and a statement"
        );
        assert!(
            votes >= self.partners,
            "every participant must vote at least once"
        );
        assert!(
            // A participant never votes on its own statement.
            votes <= self.statements * self.partners.saturating_sub(1),
            "more votes than participant and statement pairs"
        );
        let mut g = Generator {
            rng: StdRng::seed_from_u64(self.seed),
            lines: Vec::with_capacity(self.events),
            at: Utc
                .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
                .single()
                .expect("valid date"),
            negotiation: self.negotiation.clone(),
            admitted: 0,
            proposed: Vec::with_capacity(self.statements),
            voted: HashSet::with_capacity(votes),
            partners: self.partners,
            statements: self.statements,
        };
        g.line(&format!(
            r#""by":"secretariat","do":"open_negotiation","title":"Consultation {} on water and sanitation services","service":"water_and_sanitation","decision_rule":"consent""#,
            self.negotiation
        ));
        g.admit();
        for vote in 0..votes {
            // Statements come during the first half of the votes.
            while g.proposed.len() < self.statements
                && g.proposed.len() * votes <= vote * self.statements * 2
            {
                let author = g.actor(vote, votes, self.partners);
                g.propose(author);
            }
            let voter = g.actor(vote, votes, self.partners);
            g.vote(voter);
        }
        while g.proposed.len() < self.statements {
            let author = g.rng.random_range(0..g.admitted);
            g.propose(author);
        }
        for s in (0..self.statements).step_by(5) {
            g.line(&format!(
                r#""by":"secretariat","do":"adopt","proposal_id":"s-{s}""#
            ));
        }
        debug_assert_eq!(g.lines.len(), self.events);
        g.lines
    }

    /// The minutes as one text, newline-terminated lines: what `roundtable import` reads.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for line in self.lines() {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// The minutes parsed into commands, as `roundtable import` parses them.
    ///
    /// # Panics
    /// Never for lines this generator wrote (a failure is a bug here).
    pub fn commands(&self) -> Vec<CommandEnvelope> {
        self.lines()
            .iter()
            .map(|line| {
                let m = parse_line(line)
                    .expect("generated line parses")
                    .expect("generated line is a command");
                CommandEnvelope {
                    command_id: m.command_id,
                    negotiation_id: m.negotiation_id,
                    actor: m.actor,
                    occurred_at: m.at.expect("generated lines carry `at`"),
                    command: m.command,
                }
            })
            .collect()
    }
}

struct Generator {
    rng: StdRng,
    lines: Vec<String>,
    at: DateTime<Utc>,
    negotiation: String,
    admitted: usize,
    proposed: Vec<usize>,
    voted: HashSet<(usize, usize)>,
    partners: usize,
    statements: usize,
}

impl Generator {
    fn line(&mut self, body: &str) {
        self.at += Duration::seconds(7);
        self.lines.push(format!(
            r#"{{"at":"{}","negotiation_id":"{}",{body}}}"#,
            self.at.format("%Y-%m-%dT%H:%M:%SZ"),
            self.negotiation
        ));
    }

    /// Admits the next participant.
    fn admit(&mut self) {
        let p = self.admitted;
        let (sector, kind) = KINDS[p % KINDS.len()];
        self.line(&format!(
            r#""by":"secretariat","do":"admit_partner","partner_id":"p-{p}","name":"Participant {p}","sector":"{sector}","kind":"{kind}","role":"signatory""#
        ));
        self.admitted += 1;
    }

    /// Who acts at vote `vote` of `votes`: a newly admitted participant while fewer
    /// than their share have been admitted, else one drawn from those admitted.
    fn actor(&mut self, vote: usize, votes: usize, partners: usize) -> usize {
        let due = (partners * (vote + 1)).div_ceil(votes);
        if self.admitted < due {
            self.admit();
            self.admitted - 1
        } else {
            self.rng.random_range(0..self.admitted)
        }
    }

    fn propose(&mut self, author: usize) {
        let s = self.proposed.len();
        let words = self.rng.random_range(12..=40);
        let mut text = format!("Statement {s}:");
        for _ in 0..words {
            let w = WORDS[self.rng.random_range(0..WORDS.len())];
            let _ = write!(text, " {w}");
        }
        text.push('.');
        self.line(&format!(
            r#""by":"p-{author}","do":"propose","proposal_id":"s-{s}","clause_id":"s-{s}","text":"{text}""#
        ));
        self.proposed.push(author);
    }

    /// One vote by `voter` on a statement it has not voted on and did not write.
    fn vote(&mut self, mut voter: usize) {
        let mut tried = 0;
        let statement = loop {
            let pick = (0..8).find_map(|_| {
                let s = self.rng.random_range(0..self.proposed.len());
                (self.proposed[s] != voter && !self.voted.contains(&(voter, s))).then_some(s)
            });
            let pick = pick.or_else(|| {
                (0..self.proposed.len())
                    .find(|&s| self.proposed[s] != voter && !self.voted.contains(&(voter, s)))
            });
            match pick {
                Some(s) => break s,
                // This participant has voted on everything: another one votes.
                None if tried < self.admitted => {
                    tried += 1;
                    voter = (voter + 1) % self.admitted;
                }
                // Everyone admitted has voted on everything proposed so far (early in
                // the minutes): a participant is admitted sooner, or a statement
                // proposed sooner, than the schedule says.
                None if self.admitted < self.partners => {
                    self.admit();
                    voter = self.admitted - 1;
                    tried = 0;
                }
                None => {
                    assert!(
                        self.proposed.len() < self.statements,
                        "no participant and statement pair left to vote on ({} admitted of {}, {} statements, {} votes)",
                        self.admitted,
                        self.partners,
                        self.proposed.len(),
                        self.voted.len()
                    );
                    self.propose(voter);
                    tried = 0;
                }
            }
        };
        self.voted.insert((voter, statement));
        // Every fifth statement is popular: most endorse it.
        let endorse_share = if statement % 5 == 0 { 0.85 } else { 0.55 };
        if self.rng.random_bool(endorse_share) {
            self.line(&format!(
                r#""by":"p-{voter}","do":"endorse","proposal_id":"s-{statement}""#
            ));
        } else {
            self.line(&format!(
                r#""by":"p-{voter}","do":"object","objection_id":"o-{statement}-{voter}","proposal_id":"s-{statement}","grounds":"Disagrees with statement {statement}.","blocking":false"#
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use roundtable_domain::{Projection, RecordedEvent, decide};

    use super::*;

    /// Folds the commands through the rules; every one must be accepted.
    fn fold(c: &Consultation) -> Projection {
        let mut p = Projection::new();
        for (i, cmd) in c.commands().iter().enumerate() {
            let event = decide(p.view.as_ref(), cmd)
                .unwrap_or_else(|r| panic!("line {} rejected: {r}", i + 1));
            let sealed = RecordedEvent::seal(
                cmd,
                event,
                p.version + 1,
                &p.last_hash,
                uuid::Uuid::nil(),
                cmd.occurred_at,
            );
            p.apply(&sealed).expect("applies");
        }
        p
    }

    #[test]
    fn every_line_is_accepted_and_counts_match() {
        let c = Consultation::new("bench-small", 40, 30, 600);
        let lines = c.lines();
        assert_eq!(lines.len(), 600);
        let p = fold(&c);
        assert_eq!(p.version, 600);
        let view = p.view.expect("opened");
        assert_eq!(view.partners.len(), 40);
        assert_eq!(view.proposals.len(), 30);
    }

    #[test]
    fn the_same_seed_gives_the_same_lines() {
        let a = Consultation::new("n", 10, 20, 100).lines();
        let b = Consultation::new("n", 10, 20, 100).lines();
        let c = Consultation::new("n", 10, 20, 100).seed(2).lines();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
