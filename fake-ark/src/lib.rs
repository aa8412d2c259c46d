//! fake-ark: a BytePlus ModelArk simulator (task API + asset OpenAPI Actions) for seedance-edge's
//! tests, benches and demo. A real HTTP/1.1 server on loopback, so the edge is exercised over the
//! wire: tasks move queued → running → succeeded on timings or on command, DELETE behaves as
//! upstream does, faults can be injected on create (status codes, unparseable bodies, dropped
//! connections, delays), asset Actions verify the AK/SK signature, and every request received is
//! recorded for tests to inspect.
//!
//! Shapes follow BytePlus's published API documentation. Where that leaves a point unconfirmed
//! (or says nothing), the choice lives in one place, `unconfirmed.rs`, so a later observation of the
//! live service changes one line there.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod assets;
mod clock;
mod config;
mod control;
mod create;
mod query;
mod reply;
mod server;
pub mod sign;
mod state;
mod tasks;
mod unconfirmed;

pub use config::{FakeArkConfig, Fault, FaultParseError, DEFAULT_MODELS};
pub use server::TASKS_PATH;

use state::Shared;
use std::net::SocketAddr;
use std::sync::Arc;

/// One request as fake-ark received it (header names lowercase).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of a header (`name` lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A running simulator; dropping it stops the server and closes its connections.
pub struct FakeArk {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeArk {
    /// Serves on a free loopback port, in a task on the current tokio runtime.
    pub async fn start(cfg: FakeArkConfig) -> std::io::Result<FakeArk> {
        FakeArk::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
    }

    /// Serves on `addr` (the binary's `--listen`).
    pub async fn start_on(addr: SocketAddr, cfg: FakeArkConfig) -> std::io::Result<FakeArk> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(cfg));
        let server = tokio::spawn(server::serve(listener, shared.clone()));
        Ok(FakeArk { addr, shared, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> &FakeArkConfig {
        &self.shared.cfg
    }

    /// Every request received so far, in order, including refused ones (control requests excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Create-task POSTs received so far, whatever their outcome (refused, faulted or created).
    pub fn creates(&self) -> usize {
        self.shared.lock().creates
    }

    /// Forces a task's status from now on (timings no longer apply to it). Unknown ids are ignored.
    pub fn set_status(&self, id: &str, status: &str) {
        self.shared.lock().tasks.force(id, status, None, None);
    }

    /// Moves a task to a terminal `status`. On `succeeded`, `usage` reports `tokens` (or the
    /// 1.x formula when `None`) and the task's `resolution` becomes `resolution` (upstream may
    /// finish at a different resolution than requested).
    pub fn finish(&self, id: &str, status: &str, tokens: Option<u64>, resolution: Option<&str>) {
        self.shared.lock().tasks.force(id, status, tokens, resolution);
    }

    /// Succeeds a task whose `usage` is reported exactly as given — negative, fractional, absurd —
    /// as a buggy upstream might.
    pub fn finish_with_usage(&self, id: &str, usage: serde_json::Value) {
        self.shared.lock().tasks.force_usage(id, usage);
    }

    /// The next create-task POST (after auth) fails this way, once.
    pub fn fault_next_create(&self, fault: Fault) {
        self.shared.lock().next_fault = Some(fault);
    }

    /// Forces an asset's status (`Processing`, `Active`, `Failed`; upstream has no `Pending`).
    /// A `Failed` asset carries a default `Error`; see `fail_asset` to name one. Unknown ids are
    /// ignored.
    pub fn set_asset_status(&self, id: &str, status: &str) {
        self.shared.lock().assets.force(id, status, None);
    }

    /// Fails an asset with this `Error{Code,Message}`, as upstream does when it cannot ingest the
    /// media (`InvalidParameter.DownloadFailed`, `…FormatUnsupported`, `…FpsTooLow`).
    pub fn fail_asset(&self, id: &str, code: &str, message: &str) {
        self.shared.lock().assets.force(id, "Failed", Some((code.to_string(), message.to_string())));
    }
}

impl Drop for FakeArk {
    fn drop(&mut self) {
        self.server.abort();
    }
}
