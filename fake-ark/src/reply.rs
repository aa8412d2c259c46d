//! Answers in the upstream's native shapes: the task API's `{"error":{...}}` and the OpenAPI's
//! `{"ResponseMetadata":{...},"Result":{...}}`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::{json, Value};

pub type Reply = Response<Full<Bytes>>;

pub fn json(status: u16, v: &Value) -> Reply {
    raw(status, "application/json", Bytes::from(v.to_string()))
}

pub fn raw(status: u16, content_type: &str, body: Bytes) -> Reply {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert("content-type", v);
    }
    r
}

/// The task API's error shape: `{"error":{"code","message","param","type"}}`.
pub fn task_error(status: u16, code: &str, message: &str, param: &str) -> Reply {
    let ty = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        _ => "InternalServerError",
    };
    json(status, &json!({"error": {"code": code, "message": message, "param": param, "type": ty}}))
}

/// The native error a `Fault::Status(status)` answers with: the code upstream uses for it. Like
/// upstream's, the 403/404/429 messages name the official model id, so the edge's rewriting of
/// official ids in passed-through errors gets exercised.
pub fn fault_error(status: u16, model: &str) -> Reply {
    let (code, message) = match status {
        400 => ("InvalidParameter", "The request is missing one or more required parameters.".to_string()),
        401 => ("AuthenticationError", "The API key in the request is missing or invalid.".to_string()),
        403 => ("AccessDenied", format!("You do not have access to the model {model}.")),
        404 => ("InvalidEndpointOrModel.NotFound", format!("The model {model} does not exist or is not accessible.")),
        429 => ("RateLimitExceeded", format!("The rate limit for the model {model} was exceeded; retry later.")),
        503 => ("ServiceUnavailable", "The service is temporarily unavailable; retry later.".to_string()),
        _ => ("InternalServiceError", "The service encountered an unexpected internal error.".to_string()),
    };
    task_error(status, code, &message, "")
}

/// Which Action answers, and where: the OpenAPI metadata every Action answer carries.
#[derive(Debug, Clone, Copy)]
pub struct ActionMeta<'a> {
    pub request_id: &'a str,
    pub action: &'a str,
    pub region: &'a str,
}

fn metadata(m: ActionMeta<'_>) -> Value {
    json!({"RequestId": m.request_id, "Action": m.action, "Version": "2024-01-01", "Service": "ark", "Region": m.region})
}

pub fn action_ok(meta: ActionMeta<'_>, result: Value) -> Reply {
    json(200, &json!({"ResponseMetadata": metadata(meta), "Result": result}))
}

/// An Action's error: `Error` (with its numeric `CodeN`) inside `ResponseMetadata`, and no `Result`.
pub fn action_error(meta: ActionMeta<'_>, status: u16, code: &str, message: &str) -> Reply {
    let mut meta = metadata(meta);
    meta["Error"] = json!({"CodeN": crate::unconfirmed::code_n(code), "Code": code, "Message": message});
    json(status, &json!({"ResponseMetadata": meta}))
}
