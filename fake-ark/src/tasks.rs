//! The task API's records: create, get, list, delete, with statuses that move on timings
//! (computed lazily from the creation instant, so no timers run) or on command. A create is
//! judged by `create.rs`; what is stored is the values upstream would actually use, because a
//! GET reports those and `usage` is computed from them.

use crate::clock;
use crate::config::FakeArkConfig;
use crate::create::{self, Spec, MAX_REFERENCE_VIDEO_TOTAL_SECS};
use crate::reply::{self, Reply};
use crate::unconfirmed;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// A status a test imposed, overriding the timings from then on.
#[derive(Debug, Clone)]
struct Forced {
    status: String,
    tokens: Option<u64>,
    resolution: Option<String>,
    /// A `usage` object reported verbatim, however wrong (an upstream bug the edge must survive).
    usage: Option<Value>,
    at: i64,
}

#[derive(Debug, Clone)]
struct Task {
    id: String,
    /// Creation order, for "newest first" within one second.
    seq: u64,
    spec: Spec,
    born: Instant,
    created_at: i64,
    forced: Option<Forced>,
}

#[derive(Default)]
pub struct Tasks {
    by_id: BTreeMap<String, Task>,
    seq: u64,
}

/// Frame size (W, H) of Seedance 2.0 output, from the reference's table. 9:16 and 3:4 are the
/// swapped 16:9 and 4:3; only the product matters for tokens. An unknown resolution (a test may
/// force anything) counts as 720p.
pub fn frame(resolution: &str, ratio: &str) -> (u64, u64) {
    let row = match ratio {
        "4:3" | "3:4" => [(752, 560), (1112, 834), (1664, 1248), (3326, 2494)],
        "1:1" => [(640, 640), (960, 960), (1440, 1440), (2880, 2880)],
        "21:9" => [(992, 432), (1470, 630), (2206, 946), (4398, 1886)],
        _ => [(864, 496), (1280, 720), (1920, 1080), (3840, 2160)],
    };
    let (w, h) = match resolution {
        "480p" => row[0],
        "1080p" => row[2],
        "4k" => row[3],
        _ => row[1],
    };
    if matches!(ratio, "9:16" | "3:4") {
        (h, w)
    } else {
        (w, h)
    }
}

/// `completion_tokens` of a succeeded Seedance 2.0 task, as observed exactly upstream:
/// floor(W·H·(24·(in_s + out_s) + 1) / 1024), `in_s` being the seconds of reference video.
pub fn tokens(resolution: &str, ratio: &str, input_secs: u64, output_secs: u64) -> u64 {
    let (w, h) = frame(resolution, ratio);
    w * h * (24 * (input_secs + output_secs) + 1) / 1024
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

    /// The GET shape of the reference: the values actually used, not the ones asked.
    fn to_json(&self, cfg: &FakeArkConfig) -> Value {
        let (status, updated_at) = self.status(cfg);
        let spec = &self.spec;
        let mut t = if status == "failed" {
            // Upstream's failed answer is short: no content, usage, or generation settings.
            json!({
                "id": self.id,
                "model": spec.model,
                "status": status,
                "error": {
                    "code": "OutputVideoSensitiveContentDetected",
                    "message": format!(
                        "The request failed because the output video may contain sensitive information. Request id: 021{}",
                        self.id.trim_start_matches("cgt-").replace('-', "")
                    ),
                },
                "created_at": self.created_at,
                "updated_at": updated_at,
                "service_tier": "default",
                "execution_expires_after": spec.execution_expires_after,
            })
        } else {
            self.full_json(&status, updated_at, cfg)
        };
        if cfg.leak_internal_fields {
            // What an account-level answer can carry that no tenant may see.
            t["project_name"] = json!("proj-secret");
            t["ProjectName"] = json!("proj-secret");
            t["endpoint_id"] = json!("ep-20260611204121-abcde");
            t["account_id"] = json!(cfg.account_id);
        }
        t
    }

    fn full_json(&self, status: &str, updated_at: i64, cfg: &FakeArkConfig) -> Value {
        let spec = &self.spec;
        let resolution =
            self.forced.as_ref().and_then(|f| f.resolution.clone()).unwrap_or_else(|| spec.resolution.clone());
        let mut t = json!({
            "id": self.id,
            "model": spec.model,
            "status": status,
            "created_at": self.created_at,
            "updated_at": updated_at,
            "seed": spec.seed.unwrap_or(unconfirmed::PICKED_SEED),
            "resolution": resolution,
            "ratio": spec.ratio,
            "duration": spec.duration,
            "framespersecond": 24,
            "service_tier": "default",
            "execution_expires_after": spec.execution_expires_after,
            "generate_audio": spec.generate_audio,
            "draft": false,
            "priority": spec.priority,
        });
        if let Some(s) = &spec.safety_identifier {
            t["safety_identifier"] = json!(s);
        }
        if status == "succeeded" {
            let input_secs =
                (spec.reference_videos as u64 * cfg.reference_video_secs).min(MAX_REFERENCE_VIDEO_TOTAL_SECS);
            let formula = tokens(&resolution, &spec.ratio, input_secs, spec.duration);
            let tokens = self.forced.as_ref().and_then(|f| f.tokens).unwrap_or(formula);
            let mut content = json!({"video_url": format!("https://fake-ark.invalid/videos/{}.mp4", self.id)});
            if spec.return_last_frame {
                content["last_frame_url"] = json!(format!("https://fake-ark.invalid/frames/{}.png", self.id));
            }
            t["content"] = content;
            t["usage"] = match self.forced.as_ref().and_then(|f| f.usage.clone()) {
                Some(raw) => raw,
                None => json!({"completion_tokens": tokens, "total_tokens": tokens}),
            };
        }
        t
    }
}

/// The list query, as upstream reads it.
#[derive(Debug)]
struct ListQuery {
    page_num: usize,
    page_size: usize,
    status: Option<String>,
    model: Option<String>,
    /// `default` matches every task (2.0 runs nothing else), `flex` none.
    flex_only: bool,
    /// `filter.task_ids`, one per repeated key (commas: see `unconfirmed::SPLIT_TASK_IDS_ON_COMMAS`).
    ids: Option<Vec<String>>,
}

/// A list query upstream refuses: (param, message).
type BadQuery = (&'static str, String);

fn page_param(key: &'static str, v: &str) -> Result<usize, BadQuery> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=500).contains(n))
        .ok_or((key, format!("The parameter `{key}` must be an integer in [1, 500].")))
}

impl ListQuery {
    fn parse(raw: &str) -> Result<ListQuery, BadQuery> {
        let mut q = ListQuery { page_num: 1, page_size: 20, status: None, model: None, flex_only: false, ids: None };
        for (k, v) in crate::query::pairs(raw) {
            match k.as_str() {
                "page_num" => q.page_num = page_param("page_num", &v)?,
                "page_size" => q.page_size = page_param("page_size", &v)?,
                "filter.status" if unconfirmed::LIST_STATUSES.contains(&v.as_str()) => q.status = Some(v),
                "filter.status" => {
                    let allowed = unconfirmed::LIST_STATUSES;
                    return Err((
                        "filter.status",
                        format!("The parameter `filter.status` must be one of {allowed:?}."),
                    ));
                }
                "filter.model" => q.model = Some(v),
                "filter.service_tier" => match v.as_str() {
                    "default" => {}
                    "flex" => q.flex_only = true,
                    _ => {
                        let message = "The parameter `filter.service_tier` must be `default` or `flex`.".to_string();
                        return Err(("filter.service_tier", message));
                    }
                },
                "filter.task_ids" => {
                    let ids = q.ids.get_or_insert_with(Vec::new);
                    if unconfirmed::SPLIT_TASK_IDS_ON_COMMAS {
                        ids.extend(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
                    } else {
                        ids.push(v);
                    }
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

impl Tasks {
    /// Validates and stores a create; answers `{"id":...}` or the native error.
    pub fn create(&mut self, cfg: &FakeArkConfig, body: &[u8]) -> Reply {
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
            return reply::task_error(400, "InvalidParameter", "The request body must be a JSON object.", "");
        };
        let spec = match create::validate(cfg, &request) {
            Ok(spec) => spec,
            Err(r) => return reply::task_error(r.status, &r.code, &r.message, &r.param),
        };
        if let Some(max) = cfg.max_queued {
            if self.queued(cfg) >= max {
                let message = format!(
                    "Your account {} already has {max} queued tasks, the most it may hold. Retry when some have started.",
                    cfg.account_id
                );
                return reply::task_error(429, unconfirmed::QUEUE_FULL_CODE, &message, "");
            }
        }
        self.seq += 1;
        let created_at = clock::now_secs();
        let id = format!("cgt-{}-{}", clock::compact(created_at), suffix(self.seq));
        let task = Task { id: id.clone(), seq: self.seq, spec, born: Instant::now(), created_at, forced: None };
        self.by_id.insert(id.clone(), task);
        reply::json(200, &json!({"id": id}))
    }

    /// Tasks queued right now.
    fn queued(&self, cfg: &FakeArkConfig) -> usize {
        self.by_id.values().filter(|t| t.status(cfg).0 == "queued").count()
    }

    pub fn get(&self, cfg: &FakeArkConfig, id: &str) -> Reply {
        match self.by_id.get(id) {
            Some(t) => reply::json(200, &t.to_json(cfg)),
            None => not_found(id),
        }
    }

    /// Account-wide unless filtered: the edge must scope it.
    pub fn list(&self, cfg: &FakeArkConfig, raw_query: &str) -> Reply {
        let q = match ListQuery::parse(raw_query) {
            Ok(q) => q,
            Err((param, message)) => return reply::task_error(400, "InvalidParameter", &message, param),
        };
        // Scoped to ids (how the edge asks): look those up instead of sorting every task, so a
        // long history does not make the simulator the slowest part of a list.
        let mut all: Vec<&Task> = match &q.ids {
            Some(ids) => {
                let mut seen = std::collections::HashSet::new();
                ids.iter().filter(|id| seen.insert(id.as_str())).filter_map(|id| self.by_id.get(id)).collect()
            }
            None => self.by_id.values().collect(),
        };
        all.sort_by_key(|t| t.seq);
        if unconfirmed::LIST_NEWEST_FIRST {
            all.reverse();
        }
        let matches = |t: &Value, key: &str, want: &Option<String>| want.as_ref().is_none_or(|w| t[key] == w.as_str());
        let items: Vec<Value> = all
            .into_iter()
            .filter(|t| !q.flex_only && q.ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
            .map(|t| t.to_json(cfg))
            .filter(|t| matches(t, "status", &q.status) && matches(t, "model", &q.model))
            .collect();
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip((q.page_num - 1) * q.page_size).take(q.page_size).collect();
        reply::json(200, &json!({"items": page, "total": total}))
    }

    /// queued → cancelled (kept); running → 409; cancelled → refused; other terminal → deleted.
    pub fn delete(&mut self, cfg: &FakeArkConfig, id: &str) -> Reply {
        let Some(t) = self.by_id.get_mut(id) else { return not_found(id) };
        match t.status(cfg).0.as_str() {
            "queued" => {
                t.forced = Some(Forced {
                    status: "cancelled".into(),
                    tokens: None,
                    resolution: None,
                    usage: None,
                    at: clock::now_secs(),
                });
                reply::json(200, &json!({}))
            }
            "running" => reply::task_error(
                409,
                "InvalidAction.RunningTaskDeletion",
                "Cannot delete task because it is currently running.",
                "",
            ),
            "cancelled" => {
                let (status, code, message) = unconfirmed::CANCELLED_DELETION;
                reply::task_error(status, code, message, "")
            }
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
            usage: None,
            at: clock::now_secs(),
        });
        true
    }

    /// Succeeds a task reporting `usage` verbatim. False if unknown.
    pub fn force_usage(&mut self, id: &str, usage: Value) -> bool {
        let Some(t) = self.by_id.get_mut(id) else { return false };
        t.forced = Some(Forced {
            status: "succeeded".into(),
            tokens: None,
            resolution: None,
            usage: Some(usage),
            at: clock::now_secs(),
        });
        true
    }
}

fn not_found(id: &str) -> Reply {
    reply::task_error(404, unconfirmed::TASK_NOT_FOUND_CODE, &format!("The specified task {id} is not found."), "id")
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
    fn list_query_takes_repeated_and_comma_ids_and_checks_ranges() {
        let q = ListQuery::parse("filter.task_ids=a&filter.task_ids=b,c&filter.task_ids=d%2Ce").unwrap();
        assert_eq!(q.ids, Some(vec!["a".into(), "b".into(), "c".into(), "d".into(), "e".into()]));
        assert_eq!((q.page_num, q.page_size), (1, 20), "upstream's defaults");
        let q = ListQuery::parse("page_num=500&page_size=500&filter.service_tier=flex").unwrap();
        assert_eq!((q.page_num, q.page_size, q.flex_only), (500, 500, true));
        for bad in ["page_num=0", "page_num=501", "page_size=0", "page_size=501", "page_size=x", "filter.status=done"] {
            assert!(ListQuery::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ListQuery::parse("filter.service_tier=cheap").unwrap_err().0, "filter.service_tier");
    }

    #[test]
    fn token_formula_matches_the_worked_examples() {
        assert_eq!(tokens("480p", "16:9", 0, 4), 40_594);
        assert_eq!(tokens("720p", "16:9", 0, 5), 108_900);
        assert_eq!(tokens("720p", "16:9", 4, 4), 173_700);
        assert_eq!(frame("720p", "9:16"), (720, 1280));
        assert_eq!(frame("1080p", "3:4"), (1248, 1664));
        assert_eq!(tokens("1080p", "21:9", 0, 5), 2206 * 946 * 121 / 1024);
        assert_eq!(tokens("480p", "1:1", 0, 10), 640 * 640 * 241 / 1024);
        assert_eq!(tokens("weird", "16:9", 0, 5), 108_900, "an unknown forced resolution counts as 720p");
    }
}
