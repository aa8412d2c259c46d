//! seedance-edge: a Pingora filter module that resells BytePlus Dreamina Seedance 2.0 to many
//! tenants. The pure request/response logic lives in the `seedance-filters` crate; this crate is
//! the shell around it: the Pingora phases, routing, the store, channels, signing, billing,
//! metrics and the CLI.
//!
//! # Embedding
//!
//! An existing Pingora server serves the module beside its own routes (`examples/embed.rs`):
//!
//! 1. At start, once: [`Config::load`] the YAML file, [`open_store`], [`build_edge`], and wrap
//!    the edge in one [`SeedanceModule`]. Clone that module (it is cheap) rather than building a
//!    second edge: two edges of one process would keep two auth caches, two upstream pools and
//!    two metric registries.
//! 2. Before `run_forever`: add [`services`] of that module to the server (the reconciler that
//!    settles unpolled tasks and loads the configured tenants, and the admin listener when the
//!    configuration has one). Without them the configured tenants never reach the store (their
//!    tokens are refused) and a task nobody polls is never settled.
//! 3. In the host's `ProxyHttp`: keep an [`EdgeCtx`] in the host's CTX; in `request_filter`,
//!    hand each request for which [`SeedanceModule::handles`] is true to
//!    [`SeedanceModule::request_filter`] and return its result; in `logging`, call
//!    [`SeedanceModule::logging`] for those same requests.
//! 4. To apply an edited file without a restart: [`SeedanceModule::reload`].
//!
//! The standalone `seedance-edge` binary is this same module behind its own Pingora server.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use config::Config;
pub use edge::Edge;
pub use lifecycle::ReloadError;
pub use proxy::{EdgeCtx, SeedanceModule};
pub use server::{build_edge, open_store, services, StartupError};

// Modules below are reachable but hidden from the documentation: they are not an embedding API
// (nothing there is promised to stay), but the integration tests, benches, the binary's `main`
// and the demo drive the internals directly — seeding the store, pricing by hand, serving the
// module in-process — so they must stay `pub`. Some are also named by public field or variant
// types ([`Edge`]'s fields, [`StartupError`]'s causes).
#[doc(hidden)]
pub mod ark;
#[doc(hidden)]
pub mod auth;
#[doc(hidden)]
pub mod billing;
#[doc(hidden)]
pub mod budget;
#[doc(hidden)]
pub mod capacity;
#[doc(hidden)]
pub mod channel;
#[doc(hidden)]
pub mod circuit;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod clock;
#[doc(hidden)]
pub mod config;
#[cfg(feature = "demo")]
#[doc(hidden)]
pub mod demo;
#[doc(hidden)]
pub mod dns;
#[doc(hidden)]
pub mod journal;
#[doc(hidden)]
pub mod logfmt;
#[doc(hidden)]
pub mod metrics;
#[doc(hidden)]
pub mod server;
#[doc(hidden)]
pub mod store;

// Used only inside the crate.
mod admin;
mod edge;
mod labels;
mod lifecycle;
mod limits;
mod proxy;
mod request_id;
mod routes;
mod scope;
mod tls_certs;
