//! What a route answers: status, JSON body, and what the access log and metrics need to know.
//! Every customer-visible error is rendered here, from the one [`ApiError`] type.

use bytes::Bytes;
use seedance_filters::{ActionMeta, ApiError, ErrorCode};
use serde_json::Value;

/// Which error shape a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"error":{…}}` — task routes.
    Task,
    /// `{"ResponseMetadata":{…,"Error":{…}}}` — asset Actions.
    Action,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// Upstream request id worth passing on (the customer can quote it to support).
    pub request_id: Option<String>,
    /// Set when the edge itself refused the request (for `seedance_rejections_total`).
    pub rejected: Option<ErrorCode>,
    /// `Retry-After` seconds, for refusals that clear by themselves.
    pub retry_after: Option<u64>,
}

impl Reply {
    pub fn json(status: u16, v: &Value) -> Reply {
        // Straight into bytes: `to_string` goes through `fmt::Write`, a detour on every answer.
        let body = serde_json::to_vec(v).unwrap_or_else(|_| v.to_string().into_bytes());
        Reply { status, body: Bytes::from(body), request_id: None, rejected: None, retry_after: None }
    }

    pub fn raw(status: u16, body: Bytes) -> Reply {
        Reply { status, body, request_id: None, rejected: None, retry_after: None }
    }

    /// A task-route error.
    pub fn error(e: &ApiError) -> Reply {
        Reply { rejected: Some(e.code), retry_after: e.retry_after_secs(), ..Reply::json(e.status(), &e.task_body()) }
    }

    /// An Action-route error.
    pub fn action_error(e: &ApiError, meta: ActionMeta<'_>) -> Reply {
        Reply {
            rejected: Some(e.code),
            retry_after: e.retry_after_secs(),
            ..Reply::json(e.status(), &e.action_body(meta))
        }
    }

    pub fn with_request_id(mut self, id: Option<String>) -> Reply {
        self.request_id = id;
        self
    }
}
