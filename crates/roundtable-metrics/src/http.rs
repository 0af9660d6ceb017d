//! What the HTTP server records when it turns a connection or a request away
//! ([`names::HTTP_REFUSED`]).

use crate::names;

fn refused(reason: &'static str) {
    metrics::counter!(names::HTTP_REFUSED, "reason" => reason).increment(1);
}

/// A connection beyond the connection limit was refused.
pub fn connection_refused() {
    refused("connection_limit");
}

/// A connection that moved nothing for the idle timeout was closed.
pub fn connection_timed_out() {
    refused("idle_timeout");
}

/// A heavy route was at its concurrency limit.
pub fn busy() {
    refused("busy");
}

/// A principal was over its rate limit.
pub fn rate_limited() {
    refused("rate_limited");
}

/// A request took longer than the request timeout.
pub fn request_timed_out() {
    refused("request_timeout");
}
