//! A Roundtable negotiation as Open Contracting Data Standard (OCDS 1.1) data with the
//! public-private partnerships (PPP) profile, for governments that disclose their PPPs
//! that way (docs/OCDS.md):
//!
//! - [`release_package`]: a release package, one release at each milestone of the
//!   negotiation (its opening, each clause agreed, each amendment, its conclusion) and
//!   of the partnership's life after it (contract version 2: each delivery report,
//!   fulfilment and shortfall as the contract's implementation, a partner leaving, each
//!   renegotiation round concluded as a contract amendment, the termination);
//! - [`record_package`]: a record package whose record holds those releases and their
//!   compiled release ([`compile`], OCDS merging as the reference tool `ocdsmerge` does
//!   it), which is what `roundtable export-ocds --compiled` writes.
//!
//! The mapping of partners to party roles is in [`parties`], of the negotiation to
//! releases in [`release`].
//!
//! Pure: no IO, no clock (the package's publication date comes in with [`Options`]).

#![warn(missing_docs)]

mod merge;
pub mod parties;
pub mod release;

use chrono::{DateTime, SecondsFormat, Utc};
use roundtable_domain::{ChainError, NegotiationId, RecordedEvent};
use serde_json::{Map, Value, json};

pub use merge::compile;
pub use release::releases;

/// The OCDS version the packages declare.
pub const OCDS_VERSION: &str = "1.1";

/// The PPP profile's extension, as the packages declare it (the profile's 1.0.0-beta4).
pub const PPP_EXTENSION: &str =
    "https://standard.open-contracting.org/profiles/ppp/extension/1__0__0__beta4/extension.json";

/// The ocid prefix used when none is given: a publisher replaces `ocds-xxxxxx` with the
/// prefix it registered with the Open Contracting Partnership.
pub const DEFAULT_OCID_PREFIX: &str = "ocds-xxxxxx-roundtable";

/// Why a negotiation cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcdsError {
    /// There are no events.
    #[error("the negotiation has no recorded events")]
    NoEvents,
    /// The events do not fold into one negotiation.
    #[error("the events do not fold: {0}")]
    Chain(ChainError),
    /// The ocid prefix is not usable.
    #[error(
        "ocid prefix {0:?} must be 1 to 100 characters of letters, digits and '-' (such as ocds-a1b2c3)"
    )]
    BadPrefix(String),
}

/// Who publishes and how: the package metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The ocid prefix; the ocid is `<prefix>-<negotiation_id>`.
    pub ocid_prefix: String,
    /// The package's `publishedDate`.
    pub published_date: DateTime<Utc>,
    /// The publisher's name.
    pub publisher: String,
    /// The package's `uri` (default `urn:roundtable:ocds:<ocid>`).
    pub uri: Option<String>,
    /// The license of the data, a URL, if any.
    pub license: Option<String>,
}

impl Options {
    /// The defaults, published at `published_date`.
    pub fn new(published_date: DateTime<Utc>) -> Options {
        Options {
            ocid_prefix: DEFAULT_OCID_PREFIX.to_owned(),
            published_date,
            publisher: "Roundtable".to_owned(),
            uri: None,
            license: None,
        }
    }
}

/// The ocid of `negotiation` under `prefix`: `<prefix>-<negotiation_id>`.
///
/// # Errors
/// [`OcdsError::BadPrefix`] unless the prefix is 1 to 100 letters, digits and `-`.
pub fn ocid(prefix: &str, negotiation: &NegotiationId) -> Result<String, OcdsError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 100
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        return Err(OcdsError::BadPrefix(prefix.to_owned()));
    }
    Ok(format!("{prefix}-{negotiation}"))
}

fn negotiation_of(events: &[RecordedEvent]) -> Result<&NegotiationId, OcdsError> {
    events
        .first()
        .map(|e| &e.negotiation_id)
        .ok_or(OcdsError::NoEvents)
}

fn package(ocid: &str, opts: &Options) -> Map<String, Value> {
    let mut package = Map::new();
    package.insert(
        "uri".into(),
        json!(
            opts.uri
                .clone()
                .unwrap_or_else(|| format!("urn:roundtable:ocds:{ocid}"))
        ),
    );
    package.insert("version".into(), json!(OCDS_VERSION));
    package.insert("extensions".into(), json!([PPP_EXTENSION]));
    package.insert(
        "publishedDate".into(),
        json!(
            opts.published_date
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    );
    package.insert("publisher".into(), json!({"name": opts.publisher}));
    if let Some(license) = &opts.license {
        package.insert("license".into(), json!(license));
    }
    package
}

/// The release package of one negotiation's events (in version order).
///
/// # Errors
/// [`OcdsError`] when there are no events, they do not fold, or the prefix is bad.
pub fn release_package(events: &[RecordedEvent], opts: &Options) -> Result<Value, OcdsError> {
    let ocid = ocid(&opts.ocid_prefix, negotiation_of(events)?)?;
    let mut package = package(&ocid, opts);
    package.insert("releases".into(), Value::Array(releases(events, &ocid)?));
    Ok(Value::Object(package))
}

/// The record package of one negotiation: one record with every release and the
/// compiled release.
///
/// # Errors
/// As [`release_package`].
pub fn record_package(events: &[RecordedEvent], opts: &Options) -> Result<Value, OcdsError> {
    let ocid = ocid(&opts.ocid_prefix, negotiation_of(events)?)?;
    let releases = releases(events, &ocid)?;
    let compiled = compile(&releases).ok_or(OcdsError::NoEvents)?;
    let mut package = package(&ocid, opts);
    package.insert(
        "records".into(),
        json!([{"ocid": ocid, "releases": releases, "compiledRelease": compiled}]),
    );
    Ok(Value::Object(package))
}
