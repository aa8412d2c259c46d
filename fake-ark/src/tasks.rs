//! The task API's records: create, get, list, delete, with statuses that move on timings
//! (computed lazily from the creation instant, so no timers run) or on command.

use crate::clock;
use crate::config::FakeArkConfig;
use crate::reply::{self, Reply};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// A status a test imposed, overriding the timings from then on.
#[derive(Debug, Clone)]
struct Forced {
    status: String,
    tokens: Option<u64>,
    resolution: Option<String>,
    at: i64,
}

#[derive(Debug, Clone)]
struct Task {
    id: String,
    /// Creation order, for "newest first" within one second.
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
}

/// Frame size per resolution, for a plausible token count. The real 2.0 formula is unconfirmed
/// (the edge bills what `usage` says), so this is the 1.x one: w·h·fps·duration / 1024.
fn frame(resolution: &str) -> (u64, u64) {
    match resolution {
        "480p" => (864, 480),
        "1080p" => (1920, 1080),
        _ => (1280, 720),
    }
}

/// Five lowercase base-36 characters, as upstream ids end (`cgt-20260611204121-462cw`).
/// Distinct for distinct `n` below 36^5, which is all a test run ever creates.
pub fn suffix(n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // An odd multiplier coprime with 36^5 scatters consecutive ids without ever colliding.
    let mut v = n.wrapping_mul(7919) % 60_466_176;
    let mut out = [b'0'; 5];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Task {
    fn requested_resolution(&self) -> String {
        self.request.get("resolution").and_then(Value::as_str).unwrap_or("720p").to_string()
    }

    /// The status now, and since when (Unix seconds).
    fn status(&self, cfg: &FakeArkConfig) -> (String, i64) {
        if let Some(f) = &self.forced {
            return (f.status.clone(), f.at);
        }
        let age = self.born.elapsed().as_millis() as u64;
        let since = |ms: u64| self.created_at + (ms / 1000) as i64;
        let Some(q) = cfg.queued_ms.filter(|q| age >= *q) else { return ("queued".into(), self.created_at) };
        match cfg.running_ms {
            Some(r) if age >= q + r => ("succeeded".into(), since(q + r)),
            _ => ("running".into(), since(q)),
        }
    }

    /// The GET shape of the reference.
    fn to_json(&self, cfg: &FakeArkConfig) -> Value {
        let (status, updated_at) = self.status(cfg);
        let resolution =
            self.forced.as_ref().and_then(|f| f.resolution.clone()).unwrap_or_else(|| self.requested_resolution());
        // -1 lets the model choose; it picks 5 s here.
        let duration = self.request.get("duration").and_then(Value::as_i64).filter(|d| *d > 0).unwrap_or(5);
        let get = |k: &str, default: Value| self.request.get(k).cloned().unwrap_or(default);
        let mut t = json!({
            "id": self.id,
            "model": get("model", Value::Null),
            "status": status,
            "created_at": self.created_at,
            "updated_at": updated_at,
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
            t["error"] = json!({
                "code": "OutputVideoSensitiveContentDetected",
                "message": "The output video may contain sensitive content.",
            });
        }
        if cfg.leak_internal_fields {
            // What an account-level answer can carry that no tenant may see.
            t["project_name"] = json!("proj-secret");
            t["ProjectName"] = json!("proj-secret");
            t["endpoint_id"] = json!("ep-20260611204121-abcde");
            t["account_id"] = json!("2100123456");
        }
        t
    }
}

/// The list query, as upstream reads it.
struct ListQuery {
    page_num: usize,
    page_size: usize,
    status: Option<String>,
    model: Option<String>,
    service_tier: Option<String>,
    /// `filter.task_ids`, repeated and/or comma-separated (upstream's comma handling is
    /// unconfirmed; accepting both is the lenient choice, and the edge never relies on it).
    ids: Option<Vec<String>>,
}

impl ListQuery {
    fn parse(raw: &str) -> ListQuery {
        let mut q = ListQuery { page_num: 1, page_size: 10, status: None, model: None, service_tier: None, ids: None };
        for (k, v) in crate::query::pairs(raw) {
            match k.as_str() {
                "page_num" => q.page_num = v.parse().unwrap_or(1).max(1),
                "page_size" => q.page_size = v.parse().unwrap_or(10).clamp(1, 500),
                "filter.status" => q.status = Some(v),
                "filter.model" => q.model = Some(v),
                "filter.service_tier" => q.service_tier = Some(v),
                "filter.task_ids" => q
                    .ids
                    .get_or_insert_with(Vec::new)
                    .extend(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)),
                _ => {}
            }
        }
        q
    }
}

impl Tasks {
    /// Validates and stores a create; answers `{"id":...}` or the native error.
    pub fn create(&mut self, cfg: &FakeArkConfig, body: &[u8]) -> Reply {
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
            return reply::task_error(400, "InvalidParameter", "The request body must be a JSON object.", "");
        };
        let Some(model) = request.get("model").and_then(Value::as_str) else {
            return reply::task_error(400, "MissingParameter", "The parameter model is required.", "model");
        };
        if !cfg.models.iter().any(|m| m == model) {
            return reply::task_error(
                404,
                "InvalidEndpointOrModel.NotFound",
                &format!("The model or endpoint {model} does not exist or you do not have access to it."),
                "model",
            );
        }
        if !request.get("content").is_some_and(Value::is_array) {
            return reply::task_error(400, "InvalidParameter", "The parameter content must be an array.", "content");
        }
        self.seq += 1;
        let created_at = clock::now_secs();
        let id = format!("cgt-{}-{}", clock::compact(created_at), suffix(self.seq));
        let task = Task { id: id.clone(), seq: self.seq, request, born: Instant::now(), created_at, forced: None };
        self.by_id.insert(id.clone(), task);
        reply::json(200, &json!({"id": id}))
    }

    pub fn get(&self, cfg: &FakeArkConfig, id: &str) -> Reply {
        match self.by_id.get(id) {
            Some(t) => reply::json(200, &t.to_json(cfg)),
            None => not_found(id),
        }
    }

    /// Account-wide unless filtered: the edge must scope it.
    pub fn list(&self, cfg: &FakeArkConfig, raw_query: &str) -> Reply {
        let q = ListQuery::parse(raw_query);
        let mut all: Vec<&Task> = self.by_id.values().collect();
        all.sort_by_key(|t| std::cmp::Reverse(t.seq));
        let matches = |t: &Value, key: &str, want: &Option<String>| want.as_ref().is_none_or(|w| t[key] == w.as_str());
        let items: Vec<Value> = all
            .into_iter()
            .filter(|t| q.ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
            .map(|t| t.to_json(cfg))
            .filter(|t| {
                matches(t, "status", &q.status)
                    && matches(t, "model", &q.model)
                    && matches(t, "service_tier", &q.service_tier)
            })
            .collect();
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip((q.page_num - 1) * q.page_size).take(q.page_size).collect();
        reply::json(200, &json!({"items": page, "total": total}))
    }

    /// queued → cancelled (kept); running → 409; terminal → record deleted.
    pub fn delete(&mut self, cfg: &FakeArkConfig, id: &str) -> Reply {
        let Some(t) = self.by_id.get_mut(id) else { return not_found(id) };
        match t.status(cfg).0.as_str() {
            "queued" => {
                t.forced =
                    Some(Forced { status: "cancelled".into(), tokens: None, resolution: None, at: clock::now_secs() });
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

    /// Imposes a status; `tokens` and `resolution` only matter for `succeeded`. False if unknown.
    pub fn force(&mut self, id: &str, status: &str, tokens: Option<u64>, resolution: Option<&str>) -> bool {
        let Some(t) = self.by_id.get_mut(id) else { return false };
        t.forced = Some(Forced {
            status: status.to_string(),
            tokens,
            resolution: resolution.map(str::to_string),
            at: clock::now_secs(),
        });
        true
    }
}

fn not_found(id: &str) -> Reply {
    reply::task_error(404, "ResourceNotFound", &format!("The specified task {id} is not found."), "id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_distinct_and_short() {
        let all: std::collections::BTreeSet<String> = (1..5000).map(suffix).collect();
        assert_eq!(all.len(), 4999);
        assert!(all.iter().all(|s| s.len() == 5 && s.bytes().all(|b| b.is_ascii_alphanumeric())));
    }

    #[test]
    fn list_query_takes_repeated_and_comma_ids() {
        let q = ListQuery::parse("filter.task_ids=a&filter.task_ids=b,c&filter.task_ids=d%2Ce&page_num=0&page_size=x");
        assert_eq!(q.ids, Some(vec!["a".into(), "b".into(), "c".into(), "d".into(), "e".into()]));
        assert_eq!((q.page_num, q.page_size), (1, 10));
    }
}
