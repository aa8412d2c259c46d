//! seedance-edge: a Pingora filter module that resells BytePlus Dreamina Seedance 2.0 to many
//! tenants. The pure request/response logic lives in the `seedance-filters` crate; this crate is
//! the shell around it: the Pingora phases, routing, the store, channels, signing, billing,
//! metrics and the CLI.
//!
//! Embedding: an existing Pingora `ProxyHttp` hands `/volcark/` requests to [`SeedanceModule`]
//! (see `examples/embed.rs`); the standalone binary wraps the same module.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![forbid(unsafe_code)]

pub mod admin;
pub mod ark;
pub mod auth;
pub mod billing;
pub mod budget;
pub mod capacity;
pub mod channel;
pub mod circuit;
pub mod cli;
pub mod clock;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod dns;
pub mod edge;
pub mod journal;
pub mod labels;
pub mod lifecycle;
pub mod limits;
pub mod logfmt;
pub mod metrics;
pub mod proxy;
pub mod request_id;
pub mod routes;
pub mod scope;
pub mod server;
pub mod store;
pub mod tls_certs;

pub use edge::Edge;
pub use proxy::{EdgeCtx, SeedanceModule};
