//! A negotiation as Open Contracting Data Standard releases with the public-private
//! partnerships profile (docs/OCDS.md).

use roundtable_domain::NegotiationId;
use roundtable_ocds::{OcdsError, Options};
use roundtable_store::EventStore;
use serde_json::Value;

use crate::AppError;
use crate::history::events;

/// Which OCDS package to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    /// The release package: one release per step of the negotiation.
    Releases,
    /// The record package: the releases and their compiled release (their OCDS merge).
    Record,
}

/// The OCDS package of `negotiation`, folded from its events.
///
/// # Errors
/// [`AppError::Ocds`] for a bad ocid prefix; [`AppError::NotRecorded`],
/// [`AppError::Corrupt`] and [`AppError::Store`] otherwise.
pub async fn package(
    log: &dyn EventStore,
    negotiation: &NegotiationId,
    options: &Options,
    package: Package,
) -> Result<Value, AppError> {
    let events = events(log, negotiation, None).await?;
    let built = match package {
        Package::Releases => roundtable_ocds::release_package(&events, options),
        Package::Record => roundtable_ocds::record_package(&events, options),
    };
    built.map_err(|e| match e {
        OcdsError::NoEvents => AppError::NotRecorded {
            negotiation: negotiation.clone(),
        },
        OcdsError::Chain(c) => AppError::Corrupt {
            negotiation: negotiation.clone(),
            reason: c.to_string(),
        },
        other => AppError::Ocds(other),
    })
}
