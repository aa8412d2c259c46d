//! Answers in the upstream's native shapes.

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

/// The task API's error shape.
pub fn task_error(status: u16, code: &str, message: &str, param: &str) -> Reply {
    let ty = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        _ => "InternalServerError",
    };
    json(status, &json!({"error": {"code": code, "message": message, "param": param, "type": ty}}))
}

/// The OpenAPI metadata every Action answer carries.
pub fn metadata(request_id: &str, action: &str, region: &str) -> Value {
    json!({"RequestId": request_id, "Action": action, "Version": "2024-01-01", "Service": "ark", "Region": region})
}

pub fn action_ok(request_id: &str, action: &str, region: &str, result: Value) -> Reply {
    json(200, &json!({"ResponseMetadata": metadata(request_id, action, region), "Result": result}))
}

pub fn action_error(status: u16, request_id: &str, action: &str, region: &str, code: &str, message: &str) -> Reply {
    let mut meta = metadata(request_id, action, region);
    meta["Error"] = json!({"Code": code, "Message": message});
    json(status, &json!({"ResponseMetadata": meta}))
}
