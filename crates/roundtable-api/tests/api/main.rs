//! The HTTP API through `tower::ServiceExt::oneshot` (and a few tests over a real
//! socket), over the SQLite event store and an in-memory view store.

mod audit;
mod auth;
mod changes;
mod checkpoints;
mod commands;
mod common;
mod inputs;
mod limits;
mod nats;
mod openapi;
mod operations;
mod reads;
mod sample_minutes;
mod socket;
mod web;
mod webhooks;
