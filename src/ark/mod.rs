//! The BytePlus client: everything that speaks to a channel's upstream. Routes describe *what* to
//! ask as an [`UpstreamRequest`]; this module knows *how*: the channel's [`Endpoint`]s and
//! credentials ([`Account`]), the API key or the AK/SK signature (`sign`), the exchange over
//! Pingora's connector to every address of the host (`transport`, `resolve`), what a failure means for the customer ([`CallError`])
//! and the upstream metrics and timing ([`Client`]).
//!
//! Not here: which channel a request goes to (the channel module), and what the answer means
//! for the task or the bill (the routes, billing).

mod account;
mod client;
mod endpoint;
mod lookup;
mod refusal;
mod request;
mod resolve;
mod sign;
mod transport;

pub use account::Account;
pub use client::Client;
pub use endpoint::{Endpoint, EndpointError};
pub use lookup::{fetch_scoped, Accounts, LookupError, UPSTREAM_TASKS_PATH};
pub use refusal::{upstream_failure, CallError};
pub use request::{Method, UpstreamRequest, UpstreamRoute};
pub use sign::{sign, Credentials};
pub use transport::{TransportError, UpstreamResponse};
