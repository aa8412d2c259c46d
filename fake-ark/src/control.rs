//! The control API (`/_control/...`) through which a test or demo drives a fake-ark *process*
//! the way in-process tests use `FakeArk`'s methods. Not recorded in `requests()`.
//!
//! - `POST /_control/tasks/{id}` `{"status":"succeeded","tokens":N,"resolution":"720p"}`
//! - `POST /_control/assets/{id}` `{"status":"Active"}` or `{"status":"Failed","code":C,"message":M}`
//!   (code and message optional: a default `Error` is reported)
//! - `POST /_control/fault` `{"fault":"500"|"429"|"unparseable"|"drop"|"delay:MS"}`
//! - `GET /_control/requests` → `[{"method","path","query","headers","body"}...]`
//! - `GET /_control/creates` → `{"creates":N}`

use crate::config::Fault;
use crate::reply::{self, Reply};
use crate::state::Shared;
use serde_json::{json, Value};

pub fn handle(shared: &Shared, method: &str, rest: &str, body: &[u8]) -> Reply {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (resource, id) = rest.split_once('/').unwrap_or((rest, ""));
    match (method, resource) {
        ("POST", "tasks") => {
            let Some(status) = v["status"].as_str() else { return bad("status is required") };
            let found = shared.lock().tasks.force(id, status, v["tokens"].as_u64(), v["resolution"].as_str());
            reply::json(if found { 200 } else { 404 }, &json!({"ok": found}))
        }
        ("POST", "assets") => {
            let Some(status) = v["status"].as_str() else { return bad("status is required") };
            let error = v["code"].as_str().map(|c| (c.to_string(), v["message"].as_str().unwrap_or(c).to_string()));
            let found = shared.lock().assets.force(id, status, error);
            reply::json(if found { 200 } else { 404 }, &json!({"ok": found}))
        }
        ("POST", "fault") => match v["fault"].as_str().unwrap_or_default().parse::<Fault>() {
            Ok(f) => {
                shared.lock().next_fault = Some(f);
                reply::json(200, &json!({"ok": true}))
            }
            Err(e) => bad(&e.to_string()),
        },
        ("GET", "requests") => {
            let list: Vec<Value> = shared
                .lock()
                .requests
                .iter()
                .map(|r| {
                    json!({
                        "method": r.method,
                        "path": r.path,
                        "query": r.query,
                        "headers": r.headers,
                        "body": String::from_utf8_lossy(&r.body),
                    })
                })
                .collect();
            reply::json(200, &Value::Array(list))
        }
        ("GET", "creates") => reply::json(200, &json!({"creates": shared.lock().creates})),
        _ => reply::json(404, &json!({"error": "unknown control route"})),
    }
}

fn bad(message: &str) -> Reply {
    reply::json(400, &json!({"error": message}))
}
