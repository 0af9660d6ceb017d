//! Roundtable's metrics, defined once: every name and label value is a constant in
//! [`names`], and the services record through the helpers of this crate ([`commands`], [`http`],
//! [`projector`], [`webhooks`], [`nats`]) rather than naming metrics themselves.
//!
//! Recording goes through the [`metrics`] facade: a library calls a helper, and
//! nothing happens unless the process installed a recorder. The process that serves
//! the HTTP API installs the Prometheus one (feature `exporter`,
//! [`Exporter::global`]) and renders it at `GET /metrics`. docs/OPERATIONS.md lists
//! the metrics with their meaning.
//!
//! Labels only ever carry bounded values (command names, outcomes, kinds): never a
//! negotiation id, partner id or anything a client chose.

#![warn(missing_docs)]

pub mod commands;
#[cfg(feature = "exporter")]
mod exporter;
pub mod http;
pub mod names;
pub mod nats;
pub mod projector;
pub mod webhooks;

#[cfg(feature = "exporter")]
pub use exporter::Exporter;

/// Writes the help text and unit of every metric to the installed recorder (the
/// exporter does it when installed), so that `/metrics` explains each one.
pub fn describe() {
    for (name, unit, help) in names::COUNTERS {
        metrics::describe_counter!(*name, *unit, *help);
    }
    for (name, unit, help) in names::GAUGES {
        metrics::describe_gauge!(*name, *unit, *help);
    }
    for (name, unit, help) in names::HISTOGRAMS {
        metrics::describe_histogram!(*name, *unit, *help);
    }
}
