//! The application layer: the use cases every front end of Roundtable calls (the HTTP
//! API, the `roundtable` command line and the web app), written once over the ports of
//! `roundtable-store`.
//!
//! A front end parses its own input (a query string, command-line flags, a form),
//! calls one function here and presents the answer (JSON and headers, text and an exit
//! code, HTML). No front end folds the log, parses a point in time or polls a store on
//! its own. The use cases:
//!
//! - [`CommandHandler`]: the command side over any event log: load (or catch up) the
//!   negotiation, `decide`, seal the event into the hash chain, append with
//!   optimistic concurrency, retry on conflict, and answer retries of a recorded
//!   command with the event recorded the first time; its clock and event ids are
//!   injected ([`Clock`], [`EventIds`]);
//! - [`adoption`]: what an open proposal still needs before it can be adopted;
//! - [`commands`]: sending one command, with its idempotency key and expected version;
//! - [`changes`]: the change reader, one negotiation's changes read from its log;
//! - [`identity`]: the deployment's log identity, and the refusal to start a new log
//!   quietly where there is evidence of an earlier one;
//! - [`time`]: the one parser of instants and the point in a history a reader asks for
//!   ([`AsOf`]);
//! - [`history`]: the recorded events, the view as of a version or an instant (with
//!   its late entries), and what changed between two versions;
//! - [`audit`]: the export, the live verification and the audit report, each against
//!   the projected view read so that it belongs with the events;
//! - [`checkpoints`]: the signed checkpoints the server keeps (and signs off the
//!   append path), witnesses' cosignatures, inclusion and consistency proofs;
//! - [`ocds`]: the OCDS release or record package;
//! - [`reads`]: the projected view, waiting until it includes a version.
//!
//! Errors are [`AppError`]: each variant is one answer a front end maps to a status
//! code or an exit code.

#![warn(missing_docs)]

pub mod adoption;
pub mod audit;
pub mod changes;
pub mod checkpoints;
pub mod commands;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod handler;
pub mod history;
pub mod identity;
pub mod ocds;
pub mod reads;
pub mod time;

pub use changes::ChangeReader;
pub use error::{AppError, Port};
pub use handler::{
    Clock, CommandHandler, DEFAULT_CACHED_NEGOTIATIONS, EventIds, HandleError, Handled,
    NegotiationLimits, SystemClock, V7EventIds, load,
};
pub use time::{AsOf, InvalidInstant, parse_instant};
