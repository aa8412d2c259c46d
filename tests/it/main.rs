//! Every integration test of the edge, as one binary: one link of pingora, redis and hickory
//! instead of one per file, so building the suite is far cheaper; each file below is a module.
//! The harness (real redis-server, fake-ark, DNS stub, nodes) lives in `support`.

mod support;

mod assets;
mod billing;
mod billing_export;
mod bodies;
mod cache_cluster;
mod cache_topologies;
mod callback_url;
mod citations;
mod cli;
mod compat;
mod conf_files;
// The demo walk-through links the simulator into the binary only with the `demo` feature.
#[cfg(feature = "demo")]
mod demo;
mod deploy_files;
mod failover;
mod hostile;
mod lifecycle;
mod limits;
mod list_index;
mod module_cycles;
mod observability;
mod reconcile;
mod redis_commands;
mod request_ids;
mod sdk;
mod startup;
mod store_cluster;
mod store_contract;
mod store_outage;
mod store_redis;
mod store_sentinel;
mod store_tls;
mod store_tls_cluster;
mod tasks;
mod tls;
mod upstream_dns;
mod upstream_tls;
