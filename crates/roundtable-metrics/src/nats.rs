//! What the NATS adapter records about its connection.

use crate::names;

/// An event of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// Connected (or reconnected).
    Connected,
    /// The connection dropped; the client is reconnecting.
    Disconnected,
    /// Anything else the client reports (lame-duck mode, slow consumer, server error).
    Other,
}

/// Records `event`, and the connection state it implies.
pub fn connection(event: ConnectionEvent) {
    let label = match event {
        ConnectionEvent::Connected => {
            metrics::gauge!(names::NATS_CONNECTED).set(1.0);
            "connected"
        }
        ConnectionEvent::Disconnected => {
            metrics::gauge!(names::NATS_CONNECTED).set(0.0);
            "disconnected"
        }
        ConnectionEvent::Other => "other",
    };
    metrics::counter!(names::NATS_EVENTS, "event" => label).increment(1);
}
