//! Auditing a Roundtable negotiation from its record alone (docs/AUDIT.md):
//!
//! - [`asof`]: the agreement view after any version, or at any instant on either clock,
//!   computed by folding the log;
//! - [`diff`]: what changed between two views, with a word-level diff of clause text;
//! - [`export`]: one file holding a negotiation's events and a manifest;
//! - [`verify`]: checks an export with no server and no store (or the live store),
//!   naming the first bad event and the kind of tampering, re-checking the rules and
//!   every Ed25519 signature, and that folding reproduces the recorded view;
//! - [`anchor`]: verifying an export against checkpoints signed by the log's key, and
//!   making checkpoints and inclusion and consistency proofs of a negotiation's events;
//! - [`import`]: the events of a verified export, for an empty store;
//! - [`report`]: one self-contained HTML audit report.
//!
//! Pure: no IO, no clock. The binary reads and writes files and stores.

#![warn(missing_docs)]

pub mod anchor;
pub mod asof;
pub mod diff;
pub mod export;
pub mod import;
mod replay;
pub mod report;
pub mod signing;
pub mod verify;

pub use anchor::{Anchor, verify_anchored};
pub use asof::{AsOfError, TimeAxis, TimePoint, as_of_time, as_of_version, time_point};
pub use diff::{AgreementDiff, diff};
pub use export::{ExportError, Manifest, export};
pub use import::{ImportError, VerifiedExport, import_export};
pub use report::{STYLE_TOKENS, report_html};
pub use verify::{Failure, Tampering, VerifyReport, verify, verify_live};
