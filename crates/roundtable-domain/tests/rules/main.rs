//! Given/when/then tests of every rule and effect of DOMAIN.md, "Commands and the
//! rules they obey", "Decision rules", "`adopt` effects" and "After the signature"
//! (contract version 2: `rounds`, `assets`, `delivery`, `shortfalls`,
//! `partners_leaving`, `version1`).
//!
//! Each test states the commands already accepted (given), the one command judged
//! (when) and the event or the rejection expected (then). Rejections are matched on
//! their kind and code; messages are checked only for the ids they must name.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod adopt;
mod assets;
mod commitments;
mod decision_rules;
mod delivery;
mod endorsements;
mod keys;
mod lifecycle;
mod objections;
mod partners_leaving;
mod proposals;
mod rounds;
mod shortfalls;
mod signing;
mod version1;
