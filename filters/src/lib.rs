//! seedance-filters: the pure core of seedance-edge.
//!
//! Every function here takes parsed input plus facts the shell looked up (resolved addresses,
//! owner records, channel mappings) and returns a rewritten value or an [`ApiError`]. Nothing here
//! does I/O, awaits, or panics; the shell in `seedance-edge` does the waiting.
//!
//! - [`error`]: the one error type, mapped once to the contract's codes and both wire shapes.
//! - [`model`]: public names, aliases, families, Filter-Off mapping rules.
//! - [`task`]: create-task validation and rewrite, response rewrite, list query.
//! - [`callback`]: callback / asset URL syntax and the address classifier.
//! - [`asset`]: asset Actions, their bodies, and `asset://` URIs.
//! - [`raw`]: JSON objects kept as borrowed text until a rule needs a member (bounded memory).
//! - `query`: the one query-string decoder the list and Action queries share.
//! - [`redact`]: what of an upstream answer a tenant may see, and which answers refuse the channel.
//! - [`tokens`]: the token formula, a request's worst case, and whether a reported usage is billable.
//! - [`sku`]: SKU selection and prices in integer nano-USD.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![forbid(unsafe_code)]

pub mod asset;
pub mod callback;
pub mod error;
mod json;
pub mod model;
mod query;
pub mod raw;
pub mod redact;
pub mod sku;
pub mod task;
pub mod tokens;

pub use error::{ActionMeta, ApiError, ErrorCode};
pub use model::PublicModel;

/// The only OpenAPI version the asset Actions speak.
pub const ACTION_VERSION: &str = "2024-01-01";
