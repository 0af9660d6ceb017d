//! `roundtable export-ocds`: a negotiation as an OCDS release package with the PPP
//! profile, or with `--compiled` a record package holding the compiled release
//! (docs/OCDS.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use roundtable_app::ocds::Package;
use roundtable_domain::NegotiationId;
use roundtable_ocds::{DEFAULT_OCID_PREFIX, Options};

use crate::backend::Backend;

/// The options of `export-ocds`.
#[derive(Debug, clap::Args)]
pub(crate) struct OcdsArgs {
    /// The negotiation.
    negotiation_id: String,
    /// Write a record package with the releases and their compiled release (the OCDS
    /// merge of the releases) instead of the release package.
    #[arg(long)]
    compiled: bool,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The ocid prefix: the ocid is `<prefix>-<negotiation_id>`. Use the prefix your
    /// organisation registered with the Open Contracting Partnership (`ocds-` and six
    /// characters), optionally followed by more, such as `ocds-a1b2c3-roundtable`.
    #[arg(long, env = "ROUNDTABLE_OCID_PREFIX", default_value = DEFAULT_OCID_PREFIX)]
    ocid_prefix: String,
    /// The publisher's name, in the package.
    #[arg(long, env = "ROUNDTABLE_OCDS_PUBLISHER", default_value = "Roundtable")]
    publisher: String,
    /// The package's publishedDate (RFC 3339); default: now.
    #[arg(long, value_name = "TIME")]
    published_date: Option<String>,
    /// The package's uri (default: urn:roundtable:ocds:<ocid>).
    #[arg(long)]
    uri: Option<String>,
    /// The license of the data, a URL, written in the package.
    #[arg(long)]
    license: Option<String>,
}

/// `roundtable export-ocds ID [--compiled] [-o FILE]`.
pub(crate) async fn export(backend: &Backend, args: &OcdsArgs) -> anyhow::Result<ExitCode> {
    let id = NegotiationId::new(args.negotiation_id.as_str()).context("invalid negotiation id")?;
    let published_date = match &args.published_date {
        Some(t) => crate::audit::parse_time("--published-date", t)?,
        None => Utc::now(),
    };
    let opts = Options {
        ocid_prefix: args.ocid_prefix.clone(),
        published_date,
        publisher: args.publisher.clone(),
        uri: args.uri.clone(),
        license: args.license.clone(),
    };
    let (which, what) = if args.compiled {
        (Package::Record, "the OCDS record package")
    } else {
        (Package::Releases, "the OCDS release package")
    };
    let package = match roundtable_app::ocds::package(&**backend.store(), &id, &opts, which).await {
        Ok(package) => package,
        Err(e) => return crate::audit::not_found(backend, e),
    };
    let mut text = serde_json::to_string_pretty(&package)?;
    text.push('\n');
    crate::audit::write_to(args.output.as_deref(), text.as_bytes(), what)
}
