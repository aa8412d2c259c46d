//! Real parts for integration tests: redis-server on a free loopback port, a loopback DNS stub,
//! deadline polling, and the proxy harness.
#![allow(dead_code)]

#[cfg(feature = "demo")]
pub mod demo;
pub mod dns;
pub mod edge_node;
pub mod fixtures;
pub mod harness;
pub mod node;
pub mod redis;
pub mod redis_cluster;
pub mod tls_front;
pub mod turns;
pub mod wait;
