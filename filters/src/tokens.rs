//! Seedance 2.0 tokens: the formula the upstream's `usage.completion_tokens` follows,
//! the worst case a request can cost, and whether a reported usage is believable enough to bill.
//!
//! The edge bills what `usage` says, never the formula — but the formula bounds it: usage that is
//! negative, not an integer, or more than [`USAGE_BOUND_FACTOR`] times the task's worst case is
//! not money the edge writes into a ledger (and a wild value must not overflow the stored amount).

use serde_json::Value;

/// Reported usage above this multiple of the formula's worst case is quarantined, not billed.
pub const USAGE_BOUND_FACTOR: u64 = 10;
/// The longest output (and the longest total of reference video) a request can ask for.
pub const MAX_SECONDS: u64 = 15;

/// Frame size (W×H) by resolution and ratio; `9:16` and `3:4` are the swapped landscape sizes.
pub fn frame(resolution: &str, ratio: &str) -> Option<(u64, u64)> {
    let landscape = |r: &str| -> Option<(u64, u64)> {
        Some(match (resolution, r) {
            ("480p", "16:9") => (864, 496),
            ("480p", "4:3") => (752, 560),
            ("480p", "1:1") => (640, 640),
            ("480p", "21:9") => (992, 432),
            ("720p", "16:9") => (1280, 720),
            ("720p", "4:3") => (1112, 834),
            ("720p", "1:1") => (960, 960),
            ("720p", "21:9") => (1470, 630),
            ("1080p", "16:9") => (1920, 1080),
            ("1080p", "4:3") => (1664, 1248),
            ("1080p", "1:1") => (1440, 1440),
            ("1080p", "21:9") => (2206, 946),
            _ => return None,
        })
    };
    match ratio {
        "9:16" => landscape("16:9").map(|(w, h)| (h, w)),
        "3:4" => landscape("4:3").map(|(w, h)| (h, w)),
        r => landscape(r),
    }
}

/// The largest frame of a resolution (what `adaptive` or an unknown ratio may turn into).
pub fn largest_frame(resolution: &str) -> Option<(u64, u64)> {
    ["16:9", "4:3", "1:1", "21:9"].iter().filter_map(|r| frame(resolution, r)).max_by_key(|(w, h)| w * h)
}

/// `floor(W·H·(24·(in+out)+1)/1024)`: tokens for `out_s` seconds of output with `in_s` seconds of
/// reference video.
pub fn formula(frame: (u64, u64), in_s: u64, out_s: u64) -> u64 {
    let (w, h) = frame;
    w * h * (24 * (in_s + out_s) + 1) / 1024
}

/// What is known of a task when its worst case is computed: the request's or the upstream's
/// resolution, ratio and duration, and whether it carries reference video (whose length the edge
/// does not know: the maximum is assumed).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskShape<'a> {
    pub resolution: Option<&'a str>,
    pub ratio: Option<&'a str>,
    /// Seconds; `-1` (model's choice) or absent is the maximum.
    pub duration: Option<i64>,
    pub has_video: bool,
}

impl TaskShape<'_> {
    /// The most tokens such a task can cost. An unknown resolution is the largest one sold.
    pub fn worst_case_tokens(&self) -> u64 {
        let resolution = self.resolution.unwrap_or("1080p");
        let frame = self
            .ratio
            .and_then(|r| frame(resolution, r))
            .or_else(|| largest_frame(resolution))
            .or_else(|| largest_frame("1080p"))
            .unwrap_or((2206, 946));
        let out_s = match self.duration {
            Some(d) if d > 0 => (d as u64).min(MAX_SECONDS),
            _ => MAX_SECONDS,
        };
        let in_s = if self.has_video { MAX_SECONDS } else { 0 };
        formula(frame, in_s, out_s)
    }
}

/// Why a reported usage is not billed automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageProblem {
    Negative,
    NotInteger,
    OverBound,
}

impl UsageProblem {
    pub const ALL: [UsageProblem; 3] = [UsageProblem::Negative, UsageProblem::NotInteger, UsageProblem::OverBound];

    pub fn as_str(self) -> &'static str {
        match self {
            UsageProblem::Negative => "negative",
            UsageProblem::NotInteger => "not_integer",
            UsageProblem::OverBound => "over_bound",
        }
    }
}

/// What a succeeded task's `usage` says the edge may bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usage {
    Billable(u64),
    /// No usage yet: settle later.
    Missing,
    /// Reported, but not believable: mark for review, bill nothing. `raw` is what was reported.
    Suspect {
        problem: UsageProblem,
        raw: String,
    },
}

/// Reads `usage.completion_tokens` (BytePlus's billable field; `total_tokens` only if it is
/// absent) and judges it against `ceiling` (the task's worst case).
pub fn billable_usage(task: &Value, ceiling: u64) -> Usage {
    let Some(v) = task.pointer("/usage/completion_tokens").or_else(|| task.pointer("/usage/total_tokens")) else {
        return Usage::Missing;
    };
    let raw = || {
        let mut s = v.to_string();
        s.truncate(64);
        s
    };
    let suspect = |problem| Usage::Suspect { problem, raw: raw() };
    match v {
        Value::Null => Usage::Missing,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(t), _) if t > ceiling.saturating_mul(USAGE_BOUND_FACTOR) => suspect(UsageProblem::OverBound),
            (Some(t), _) => Usage::Billable(t),
            (None, Some(_)) => suspect(UsageProblem::Negative),
            _ if n.as_f64().is_some_and(|f| f < 0.0) => suspect(UsageProblem::Negative),
            _ => suspect(UsageProblem::NotInteger),
        },
        _ => suspect(UsageProblem::NotInteger),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reference_worked_examples() {
        assert_eq!(formula(frame("480p", "16:9").unwrap(), 0, 4), 40_594);
        assert_eq!(formula(frame("720p", "16:9").unwrap(), 0, 5), 108_900);
        assert_eq!(formula(frame("720p", "16:9").unwrap(), 4, 4), 173_700);
        assert_eq!(frame("720p", "9:16"), Some((720, 1280)));
        assert_eq!(frame("480p", "3:4"), Some((560, 752)));
        assert_eq!(frame("4k", "16:9"), None);
        assert_eq!(largest_frame("1080p"), Some((2206, 946)));
    }

    #[test]
    fn worst_case_assumes_the_maximum_for_what_is_unknown() {
        let known = TaskShape { resolution: Some("480p"), ratio: Some("16:9"), duration: Some(4), has_video: false };
        assert_eq!(known.worst_case_tokens(), 40_594);
        let adaptive = TaskShape { ratio: Some("adaptive"), ..known };
        assert_eq!(adaptive.worst_case_tokens(), formula(largest_frame("480p").unwrap(), 0, 4));
        let model_picks = TaskShape { duration: Some(-1), ..known };
        assert_eq!(model_picks.worst_case_tokens(), formula((864, 496), 0, 15));
        let with_video = TaskShape { has_video: true, ..known };
        assert_eq!(with_video.worst_case_tokens(), formula((864, 496), 15, 4));
        assert_eq!(TaskShape::default().worst_case_tokens(), formula((2206, 946), 0, 15));
    }

    #[test]
    fn completion_tokens_are_billed_before_total_tokens() {
        let t = json!({"usage": {"completion_tokens": 40_594, "total_tokens": 99_999}});
        assert_eq!(billable_usage(&t, 40_594), Usage::Billable(40_594));
        let t = json!({"usage": {"total_tokens": 1234}});
        assert_eq!(billable_usage(&t, 40_594), Usage::Billable(1234));
        assert_eq!(billable_usage(&json!({"status": "succeeded"}), 1), Usage::Missing);
        assert_eq!(billable_usage(&json!({"usage": {"completion_tokens": null}}), 1), Usage::Missing);
    }

    #[test]
    fn unbelievable_usage_is_suspect_not_billed() {
        let judge = |v: Value| match billable_usage(&json!({"usage": {"completion_tokens": v}}), 40_594) {
            Usage::Suspect { problem, .. } => Some(problem),
            _ => None,
        };
        assert_eq!(judge(json!(-5)), Some(UsageProblem::Negative));
        assert_eq!(judge(json!(-0.5)), Some(UsageProblem::Negative));
        assert_eq!(judge(json!(12.5)), Some(UsageProblem::NotInteger));
        assert_eq!(judge(json!("40594")), Some(UsageProblem::NotInteger));
        assert_eq!(judge(json!(10_000_000_000_000_000u64)), Some(UsageProblem::OverBound));
        assert_eq!(judge(json!(u64::MAX)), Some(UsageProblem::OverBound));
        assert_eq!(judge(json!(405_941)), Some(UsageProblem::OverBound));
        assert_eq!(judge(json!(405_940)), None, "exactly ten times the worst case is still billed");
    }
}
