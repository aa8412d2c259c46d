//! seedance-edge: a Pingora filter module that resells BytePlus Dreamina Seedance 2.0.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![forbid(unsafe_code)]

pub mod store;
