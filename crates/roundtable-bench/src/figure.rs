//! What a benchmark run measured, and each figure's ratio to its raw NATS counterpart.

use serde::{Deserialize, Serialize};

/// How the NATS server under test writes to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// The server's default: JetStream syncs its files every two minutes, so an
    /// acknowledged message may be lost if the machine (not just the process) crashes.
    Default,
    /// `sync_interval: always`: one fsync per message before it is acknowledged.
    Always,
    /// Not a NATS figure (the embedded store, PostgreSQL, in-process code).
    NotNats,
}

impl Fsync {
    /// `default`, `always` or `-`.
    pub fn label(self) -> &'static str {
        match self {
            Fsync::Default => "default",
            Fsync::Always => "always",
            Fsync::NotNats => "-",
        }
    }
}

/// Whether a bigger or a smaller value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Throughput: operations per second.
    Higher,
    /// Latency, duration or memory.
    Lower,
}

/// One measured figure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figure {
    /// Stable key, e.g. `raw.publish.sequential` or `store.nats.concurrent`.
    pub key: String,
    /// What was measured, in words.
    pub what: String,
    /// The NATS fsync mode it ran under.
    pub fsync: Fsync,
    /// The value, in `unit`.
    pub value: f64,
    /// `events/s`, `commands/s`, `ms`, `MiB`...
    pub unit: String,
    /// Whether higher is better.
    pub better: Better,
    /// Key of the raw NATS figure (same fsync mode) it is compared with, if any.
    pub counterpart: Option<String>,
    /// The target, as a ratio to the counterpart (for throughput, at least this; for
    /// latency, at most this), if the issue set one.
    pub target: Option<f64>,
    /// Anything the reader must know (sample size, what the counterpart is).
    pub note: String,
}

impl Figure {
    /// A throughput figure (higher is better).
    pub fn rate(key: &str, what: &str, fsync: Fsync, value: f64, unit: &str) -> Figure {
        Figure {
            key: key.to_owned(),
            what: what.to_owned(),
            fsync,
            value,
            unit: unit.to_owned(),
            better: Better::Higher,
            counterpart: None,
            target: None,
            note: String::new(),
        }
    }

    /// A latency, duration or memory figure (lower is better).
    pub fn cost(key: &str, what: &str, fsync: Fsync, value: f64, unit: &str) -> Figure {
        Figure {
            better: Better::Lower,
            ..Figure::rate(key, what, fsync, value, unit)
        }
    }

    /// Compared with the raw figure `key` (same fsync mode), against `target`.
    #[must_use]
    pub fn against(mut self, key: &str, target: Option<f64>) -> Figure {
        self.counterpart = Some(key.to_owned());
        self.target = target;
        self
    }

    /// With an absolute target in its own unit and no counterpart (for latency, at
    /// most `limit`; for throughput, at least `limit`), e.g. "p99 under 5 ms".
    #[must_use]
    pub fn within(mut self, limit: f64) -> Figure {
        self.counterpart = None;
        self.target = Some(limit);
        self
    }

    /// With a note.
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Figure {
        self.note = note.into();
        self
    }
}

/// Every figure of one run.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Report {
    /// In the order measured.
    pub figures: Vec<Figure>,
}

impl Report {
    /// Adds a figure and prints it at once, with its ratio when its counterpart is known.
    pub fn add(&mut self, figure: Figure) {
        let line = self.line(&figure);
        println!("{line}");
        self.figures.push(figure);
    }

    /// The figure `key` under `fsync`.
    pub fn get(&self, key: &str, fsync: Fsync) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.key == key && (f.fsync == fsync || f.fsync == Fsync::NotNats))
    }

    /// `figure`'s value divided by its counterpart's (same fsync mode; for a figure
    /// that is not a NATS one, the counterpart under the server's default fsync), when
    /// both exist.
    pub fn ratio(&self, figure: &Figure) -> Option<f64> {
        let fsync = match figure.fsync {
            Fsync::NotNats => Fsync::Default,
            mode => mode,
        };
        let base = self.get(figure.counterpart.as_deref()?, fsync)?;
        (base.value > 0.0).then(|| figure.value / base.value)
    }

    /// Whether `figure` meets its target (`None` when it has none or no ratio). A
    /// target without a counterpart ([`Figure::within`]) is compared with the value.
    pub fn meets(&self, figure: &Figure) -> Option<bool> {
        let target = figure.target?;
        let ratio = match figure.counterpart {
            Some(_) => self.ratio(figure)?,
            None => figure.value,
        };
        Some(match figure.better {
            Better::Higher => ratio >= target,
            Better::Lower => ratio <= target,
        })
    }

    /// One printed line: fsync, key, value, ratio and target.
    pub fn line(&self, figure: &Figure) -> String {
        let ratio = self
            .ratio(figure)
            .map(|r| format!("{r:.2}x {}", figure.counterpart.as_deref().unwrap_or("")))
            .unwrap_or_default();
        let target = match (figure.target, self.meets(figure)) {
            (Some(t), Some(met)) => {
                let verdict = if met { "met" } else { "MISSED" };
                match (&figure.counterpart, figure.better) {
                    (Some(_), _) => format!("target {t}: {verdict}"),
                    (None, Better::Lower) => format!("target < {t} {}: {verdict}", figure.unit),
                    (None, Better::Higher) => format!("target > {t} {}: {verdict}", figure.unit),
                }
            }
            _ => String::new(),
        };
        format!(
            "{:<8} {:<40} {:>12.1} {:<10} {:<44} {}",
            figure.fsync.label(),
            figure.key,
            figure.value,
            figure.unit,
            ratio,
            target
        )
    }
}
