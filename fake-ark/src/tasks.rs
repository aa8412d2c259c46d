//! The task API: create, get, list, delete, with statuses that move on timings or on command.

use crate::config::{FakeArkConfig, Fault};
use crate::reply::{self, Reply};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Clone)]
struct Forced {
    status: String,
    tokens: Option<u64>,
    resolution: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Task {
    id: String,
    seq: u64,
    request: Map<String, Value>,
    born: Instant,
    created_at: i64,
    forced: Option<Forced>,
}

#[derive(Default)]
pub struct Tasks {
    by_id: BTreeMap<String, Task>,
    seq: u64,
    pub creates: usize,
    pub next_fault: Option<Fault>,
}

/// Outcome of a create that the server must act on (a drop cannot be a response).
pub enum Created {
    Reply(Reply),
    Drop,
    Delay(u64),
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn is_terminal(s: &str) -> bool {
    matches!(s, "succeeded" | "failed" | "expired" | "cancelled")
}

/// Pixels of a frame per resolution, for a plausible token count (the real formula is
/// unconfirmed; the edge bills what `usage` says).
fn frame(resolution: &str) -> (u64, u64) {
    match resolution {
        "480p" => (864, 480),
        "1080p" => (1920, 1080),
        _ => (1280, 720),
    }
}

impl Task {
    fn requested_resolution(&self) -> String {
        self.request.get("resolution").and_then(Value::as_str).unwrap_or("720p").to_string()
    }

    fn status(&self, cfg: &FakeArkConfig) -> String {
        if let Some(f) = &self.forced {
            return f.status.clone();
        }
        let age = self.born.elapsed().as_millis() as u64;
        let Some(q) = cfg.queued_ms else { return "queued".into() };
        if age < q {
            return "queued".into();
        }
        match cfg.running_ms {
            Some(r) if age >= q + r => "succeeded".into(),
            _ => "running".into(),
        }
    }

    fn to_json(&self, cfg: &FakeArkConfig) -> Value {
        let status = self.status(cfg);
        let resolution =
            self.forced.as_ref().and_then(|f| f.resolution.clone()).unwrap_or_else(|| self.requested_resolution());
        let duration = self.request.get("duration").and_then(Value::as_i64).filter(|d| *d > 0).unwrap_or(5);
        let get = |k: &str, default: Value| self.request.get(k).cloned().unwrap_or(default);
        let mut t = json!({
            "id": self.id,
            "model": get("model", Value::Null),
            "status": status,
            "created_at": self.created_at,
            "updated_at": self.created_at + (self.born.elapsed().as_secs() as i64),
            "seed": get("seed", json!(74719)),
            "resolution": resolution,
            "ratio": get("ratio", json!("16:9")),
            "duration": duration,
            "framespersecond": 24,
            "service_tier": get("service_tier", json!("default")),
            "execution_expires_after": get("execution_expires_after", json!(172_800)),
            "generate_audio": get("generate_audio", json!(true)),
            "draft": get("draft", json!(false)),
            "priority": get("priority", json!(0)),
        });
        if let Some(s) = self.request.get("safety_identifier") {
            t["safety_identifier"] = s.clone();
        }
        if status == "succeeded" {
            let (w, h) = frame(&resolution);
            let formula = w * h * 24 * duration as u64 / 1024;
            let tokens = self.forced.as_ref().and_then(|f| f.tokens).unwrap_or(formula);
            let mut content = json!({"video_url": format!("https://fake-ark.invalid/videos/{}.mp4", self.id)});
            if self.request.get("return_last_frame") == Some(&Value::Bool(true)) {
                content["last_frame_url"] = json!(format!("https://fake-ark.invalid/frames/{}.png", self.id));
            }
            t["content"] = content;
            t["usage"] = json!({"completion_tokens": tokens, "total_tokens": tokens});
        }
        if status == "failed" {
            t["error"] = json!({"code": "OutputVideoSensitiveContentDetected", "message": "The output video may contain sensitive content."});
        }
        if cfg.leak_internal_fields {
            t["project_name"] = json!("proj-secret");
            t["ProjectName"] = json!("proj-secret");
            t["endpoint_id"] = json!("ep-20260611-abcde");
        }
        t
    }
}

impl Tasks {
    pub fn create(&mut self, cfg: &FakeArkConfig, body: &[u8]) -> Created {
        self.creates += 1;
        match self.next_fault.take() {
            Some(Fault::Drop) => return Created::Drop,
            Some(Fault::Unparseable) => {
                return Created::Reply(reply::raw(200, "text/html", "<html>upstream hiccup</html>".into()))
            }
            Some(Fault::Status(code)) => {
                let (c, m) = match code {
                    429 => (
                        "RateLimitExceeded",
                        "Request rate limit exceeded for dreamina-seedance-2-0-260128; retry later.",
                    ),
                    500 => ("InternalServiceError", "The service encountered an unexpected internal error."),
                    503 => ("ServiceUnavailable", "The service is temporarily unavailable."),
                    _ => ("InvalidParameter", "The request is invalid."),
                };
                return Created::Reply(reply::task_error(code, c, m, ""));
            }
            Some(Fault::Delay(ms)) => return Created::Delay(ms),
            None => {}
        }
        self.create_now(cfg, body)
    }

    pub fn create_now(&mut self, cfg: &FakeArkConfig, body: &[u8]) -> Created {
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
            return Created::Reply(reply::task_error(
                400,
                "InvalidParameter",
                "The request body must be a JSON object.",
                "",
            ));
        };
        let model = request.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
        if !cfg.models.contains(&model) {
            return Created::Reply(reply::task_error(
                404,
                "InvalidEndpointOrModel.NotFound",
                &format!("The model or endpoint {model} does not exist or you do not have access to it."),
                "model",
            ));
        }
        if !request.get("content").is_some_and(Value::is_array) {
            return Created::Reply(reply::task_error(400, "InvalidParameter", "content must be an array.", "content"));
        }
        self.seq += 1;
        let created_at = now_secs();
        let id = format!("cgt-{}-{:05x}", civil(created_at), (self.seq * 7919 + created_at as u64) % 0xfffff);
        let task = Task { id: id.clone(), seq: self.seq, request, born: Instant::now(), created_at, forced: None };
        self.by_id.insert(id.clone(), task);
        Created::Reply(reply::json(200, &json!({"id": id})))
    }

    pub fn get(&self, cfg: &FakeArkConfig, id: &str) -> Reply {
        match self.by_id.get(id) {
            Some(t) => reply::json(200, &t.to_json(cfg)),
            None => not_found(id),
        }
    }

    pub fn list(&self, cfg: &FakeArkConfig, query: &str) -> Reply {
        let (mut page_num, mut page_size) = (1usize, 10usize);
        let (mut status, mut model, mut ids): (Option<String>, Option<String>, Option<Vec<String>>) =
            (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = crate::decode(v);
            match k {
                "page_num" => page_num = v.parse().unwrap_or(1).max(1),
                "page_size" => page_size = v.parse().unwrap_or(10).clamp(1, 500),
                "filter.status" => status = Some(v),
                "filter.model" => model = Some(v),
                "filter.task_ids" => ids.get_or_insert_with(Vec::new).extend(v.split(',').map(str::to_string)),
                _ => {}
            }
        }
        let mut all: Vec<&Task> = self.by_id.values().collect();
        all.sort_by_key(|t| std::cmp::Reverse(t.seq));
        let items: Vec<Value> = all
            .into_iter()
            .filter(|t| ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
            .map(|t| t.to_json(cfg))
            .filter(|t| status.as_ref().is_none_or(|s| t["status"] == s.as_str()))
            .filter(|t| model.as_ref().is_none_or(|m| t["model"] == m.as_str()))
            .collect();
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip((page_num - 1) * page_size).take(page_size).collect();
        reply::json(200, &json!({"items": page, "total": total}))
    }

    pub fn delete(&mut self, cfg: &FakeArkConfig, id: &str) -> Reply {
        let Some(t) = self.by_id.get_mut(id) else { return not_found(id) };
        match t.status(cfg).as_str() {
            "queued" => {
                t.forced = Some(Forced { status: "cancelled".into(), tokens: None, resolution: None });
                reply::json(200, &json!({}))
            }
            "running" => reply::task_error(
                409,
                "InvalidAction.RunningTaskDeletion",
                "Cannot delete task because it is currently running.",
                "",
            ),
            _ => {
                self.by_id.remove(id);
                reply::json(200, &json!({}))
            }
        }
    }

    pub fn force(&mut self, id: &str, status: &str, tokens: Option<u64>, resolution: Option<&str>) -> bool {
        let Some(t) = self.by_id.get_mut(id) else { return false };
        t.forced = Some(Forced { status: status.to_string(), tokens, resolution: resolution.map(str::to_string) });
        if !is_terminal(status) {
            // Non-terminal states carry no usage.
            if let Some(f) = &mut t.forced {
                f.tokens = None;
            }
        }
        true
    }
}

fn not_found(id: &str) -> Reply {
    reply::task_error(404, "ResourceNotFound", &format!("The task {id} was not found."), "id")
}

/// `YYYYMMDDHHMMSS` of a Unix time (UTC), as upstream task ids carry it.
pub fn civil(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}
