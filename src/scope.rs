//! The request [`Scope`]: what the route handlers and the BytePlus client learn about a request that
//! the access log needs (the upstream's status, request id and time, the task id a create got
//! back), kept in a task-local so that no handler signature has to carry it. A leaf below the
//! edge, the routes and the Pingora shell, which all write to it.

use std::cell::{Cell, RefCell};

/// What one request's upstream exchanges and handlers noted for the access log.
#[derive(Debug, Default)]
pub struct Scope {
    /// The request id, forwarded upstream as `X-Client-Request-Id`.
    pub request_id: String,
    /// Microseconds spent waiting on channels during this request (summed by the BytePlus client).
    upstream_micros: Cell<u64>,
    upstream: RefCell<UpstreamNote>,
    task_id: RefCell<Option<String>>,
}

/// The last upstream exchange of a request, as the access log reports it.
#[derive(Debug, Default, Clone)]
pub struct UpstreamNote {
    pub channel: Option<String>,
    /// HTTP status, or `None` when the channel never answered.
    pub status: Option<u16>,
    /// The upstream's own request id (`X-Request-Id` / `X-Tt-Logid`), for support cases.
    pub request_id: Option<String>,
}

impl Scope {
    pub fn new(request_id: String) -> Scope {
        Scope { request_id, ..Scope::default() }
    }
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `f` inside a request scope and hands the scope back with the result.
pub async fn scoped<T>(scope: Scope, f: impl std::future::Future<Output = T>) -> (T, Scope) {
    SCOPE
        .scope(scope, async {
            let out = f.await;
            let taken = SCOPE.with(|s| Scope {
                request_id: s.request_id.clone(),
                upstream_micros: Cell::new(s.upstream_micros.get()),
                upstream: RefCell::new(s.upstream.take()),
                task_id: RefCell::new(s.task_id.take()),
            });
            (out, taken)
        })
        .await
}

impl Scope {
    pub fn upstream_micros(&self) -> u64 {
        self.upstream_micros.get()
    }
    pub fn upstream(&self) -> UpstreamNote {
        self.upstream.borrow().clone()
    }
    pub fn task_id(&self) -> Option<String> {
        self.task_id.borrow().clone()
    }
}

/// The current request's id, when called while serving one (the reconciler has none).
pub fn request_id() -> Option<String> {
    SCOPE.try_with(|s| s.request_id.clone()).ok()
}

/// Adds an upstream exchange's time to the current request, if there is one.
pub fn add_upstream_time(d: std::time::Duration) {
    let _ = SCOPE.try_with(|s| s.upstream_micros.set(s.upstream_micros.get() + d.as_micros() as u64));
}

/// Records the current request's latest upstream exchange (a failed one has no status).
pub fn note_upstream(channel: &str, status: Option<u16>, request_id: Option<&str>) {
    let _ = SCOPE.try_with(|s| {
        *s.upstream.borrow_mut() =
            UpstreamNote { channel: Some(channel.to_string()), status, request_id: request_id.map(str::to_string) }
    });
}

/// Records the task a request created (GET and DELETE name theirs in the path).
pub fn note_task(id: &str) {
    let _ = SCOPE.try_with(|s| *s.task_id.borrow_mut() = Some(id.to_string()));
}
