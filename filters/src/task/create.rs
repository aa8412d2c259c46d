//! Create-task validation and rewrite. One pass over the body checks every rule with
//! a message naming the field, renames `CallbackURL`, normalizes `asset://` URIs and collects what
//! the shell must look up (callback host, asset owners) and what the store records.

use super::content::{check_content, snapshot_member, Content, ContentFacts};
use crate::callback::{check_url, CheckedUrl};
use crate::error::{ApiError, ErrorCode};
use crate::json::{kind, same_key};
use crate::model::{parse_model, PublicModel};
use crate::raw::{Member, RawObject};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

const RATIOS: [&str; 7] = ["adaptive", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"];
const BOOLEANS: [&str; 5] = ["camera_fixed", "watermark", "generate_audio", "return_last_frame", "draft"];
/// Fields of other Seedance models that 2.0 refuses: `tools` would also run a web search the
/// edge never bills.
const UNSUPPORTED: [&str; 2] = ["frames", "tools"];
/// Settings 2.0 only has one value for: that value is a no-op and is dropped, any other is refused.
const FIXED: [(&str, &str, &str); 3] = [
    ("camera_fixed", "false", "Seedance 2.0 does not support a fixed camera"),
    ("draft", "false", "Seedance 2.0 has no draft mode"),
    ("service_tier", "\"default\"", "Seedance 2.0 runs only on the default service tier"),
];
/// Every key the edge reads or rewrites at the top level.
const TOP_FIELDS: [&str; 18] = [
    "model",
    "content",
    "duration",
    "ratio",
    "resolution",
    "priority",
    "execution_expires_after",
    "seed",
    "camera_fixed",
    "watermark",
    "generate_audio",
    "return_last_frame",
    "draft",
    "service_tier",
    "safety_identifier",
    "callback_url",
    "frames",
    "tools",
];

/// A validated create-task request, ready to be sent to a channel. It borrows the request body:
/// members the edge does not rewrite are forwarded as the customer's own text.
#[derive(Debug, Clone)]
pub struct CreateTask<'a> {
    pub model: PublicModel,
    /// The trimmed callback URL, syntax-checked; its host still has to be resolved by the shell.
    pub callback: Option<CheckedUrl>,
    /// What the content names: assets, media URLs, video references.
    pub content: ContentFacts,
    pub resolution: Option<String>,
    pub ratio: Option<String>,
    /// Seconds requested; `-1` lets the model choose.
    pub duration: Option<i64>,
    pub execution_expires_after: Option<i64>,
    top: RawObject<'a>,
    items: Content<'a>,
}

/// The audit snapshot's ceiling: records are bounded whatever the request carried.
pub const SNAPSHOT_MAX_BYTES: usize = 16 * 1024;
/// A known field longer than this is not parsed: no valid value of a scalar field is that long.
const SMALL_FIELD: usize = 64 * 1024;

impl CreateTask<'_> {
    /// The body as the channel receives it: the official model id in place of the public name.
    pub fn upstream_body(&self, official_model: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.top.len_hint());
        self.top.write_with(&mut out, &|k, out| match k {
            "model" => {
                let _ = serde_json::to_writer(&mut *out, official_model);
                true
            }
            "content" => {
                self.items.write(out);
                true
            }
            _ => false,
        });
        out
    }

    /// What the audit record keeps of the upstream request (`properties.upstream_request`), at
    /// most [`SNAPSHOT_MAX_BYTES`] of JSON: inline media replaced by its length, long strings cut
    /// with their length noted, large unknown members noted by size; if that is still too much,
    /// the content and unknown members are summarised.
    pub fn audit_snapshot(&self, official_model: &str) -> Value {
        let mut full = Map::new();
        for (k, m) in self.top.others(&["model", "content"]) {
            full.insert(k.to_string(), snapshot_member(m));
        }
        full.insert("model".into(), Value::String(official_model.to_string()));
        let items = self.items.snapshot();
        full.insert("content".into(), items.clone());
        let full = Value::Object(full);
        let full_len = full.to_string().len();
        if full_len <= SNAPSHOT_MAX_BYTES {
            return full;
        }
        // Keep what the edge checked; name the rest.
        let mut kept = Map::new();
        let mut omitted = Vec::new();
        for (k, v) in full.as_object().into_iter().flatten() {
            if k == "content" {
                continue;
            }
            if TOP_FIELDS.contains(&k.as_str()) && v.to_string().len() <= 2048 {
                kept.insert(k.clone(), v.clone());
            } else {
                omitted.push(Value::String(k.chars().take(64).collect()));
            }
        }
        omitted.truncate(32);
        let types: Vec<Value> = items.as_array().into_iter().flatten().map(|i| i["type"].clone()).take(64).collect();
        kept.insert("content".into(), json!({"items": items.as_array().map_or(0, Vec::len), "types": types}));
        kept.insert("_omitted".into(), json!({"fields": omitted, "bytes": full_len}));
        let summary = Value::Object(kept);
        if summary.to_string().len() <= SNAPSHOT_MAX_BYTES {
            return summary;
        }
        json!({"model": official_model, "_omitted": {"bytes": full_len}})
    }
}

/// A top-level member for validation, never mistaken for an absent one: small members parsed; an
/// oversized array or object, or a value serde cannot hold (a number past f64, nesting past the
/// recursion limit), stood in for by a value of the same kind that fails the same rule.
fn small(m: &Member<'_>) -> Option<Value> {
    let Member::Raw(r) = m else { return m.value() };
    let text = r.get().trim_start();
    let stand_in = || match text.as_bytes().first() {
        Some(b'[') => Value::Array(Vec::new()),
        Some(b'{') => Value::Object(Map::new()),
        _ => Value::String(text.chars().take(64).collect()),
    };
    if m.len() > SMALL_FIELD {
        return Some(stand_in());
    }
    Some(m.value().unwrap_or_else(stand_in))
}

/// Validates and rewrites a create-task body, parsing it once and copying nothing large.
pub fn parse_create(raw: &[u8]) -> Result<CreateTask<'_>, ApiError> {
    let whole: &RawValue = serde_json::from_slice(raw)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("the request body is not valid JSON: {e}")))?;
    let mut top = RawObject::parse(whole)
        .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "the request body must be a JSON object"))?;
    top.drop_nulls();
    refuse_case_variants(&top, &TOP_FIELDS)?;
    // The fields the rules read, parsed (they are small); everything else stays borrowed text.
    let mut body: Map<String, Value> = Map::new();
    for key in TOP_FIELDS.iter().chain(["CallbackURL"].iter()) {
        if *key == "content" {
            continue;
        }
        if let Some(v) = top.get(key).and_then(small) {
            body.insert(key.to_string(), v);
        }
    }
    let model = parse_model(body.get("model"))?;
    top.set("model", Value::String(model.name().into()));

    let (items, content) = check_content(top.raw("content"))?;
    let duration = check_duration(body.get("duration"))?;
    let resolution = check_resolution(model, body.get("resolution"))?;
    let ratio = check_one_of("ratio", body.get("ratio"), &RATIOS)?;
    check_int_range("priority", body.get("priority"), 0, 9)?;
    let execution_expires_after =
        check_int_range("execution_expires_after", body.get("execution_expires_after"), 3600, 259_200)?;
    check_int_range("seed", body.get("seed"), -1, i64::from(u32::MAX))?;
    for key in BOOLEANS {
        if let Some(v) = body.get(key) {
            if !v.is_boolean() {
                return Err(ApiError::invalid(
                    key,
                    format!("{key} must be a boolean (true or false), not {}", kind(v)),
                ));
            }
        }
    }
    for dropped in check_seedance_2_fields(&body)? {
        top.remove(dropped);
    }
    if let Some(v) = body.get("safety_identifier") {
        match v.as_str() {
            Some(s) if s.chars().count() <= 64 => {}
            Some(_) => {
                return Err(ApiError::invalid("safety_identifier", "safety_identifier takes at most 64 characters"))
            }
            None => return Err(ApiError::invalid("safety_identifier", "safety_identifier must be a string")),
        }
    }

    // `CallbackURL` is the page's compatibility alias; `callback_url` wins when both are present
    // and the alias is dropped unjudged, since it is never forwarded.
    top.remove("CallbackURL");
    let callback = match body.get("callback_url").or(body.get("CallbackURL")) {
        None => None,
        Some(v) => {
            let checked = check_url("callback_url", v, false)?;
            top.set("callback_url", Value::String(checked.url.clone()));
            Some(checked)
        }
    };

    Ok(CreateTask { model, callback, content, resolution, ratio, duration, execution_expires_after, top, items })
}

/// Seedance 2.0's real field set: other models' fields are refused by name; one-value settings
/// holding that value are returned, to be dropped.
fn check_seedance_2_fields(body: &Map<String, Value>) -> Result<Vec<&'static str>, ApiError> {
    if let Some(key) = UNSUPPORTED.iter().find(|k| body.contains_key(**k)) {
        return Err(ApiError::invalid(*key, format!("Seedance 2.0 does not support {key}; remove the field")));
    }
    let mut noops = Vec::new();
    for (key, noop, why) in FIXED {
        let Some(v) = body.get(key) else { continue };
        let is_noop = match v {
            Value::Bool(b) => noop == "false" && !b,
            Value::String(s) => noop.trim_matches('"') == s,
            _ => false,
        };
        if is_noop {
            noops.push(key);
        } else {
            return Err(ApiError::invalid(key, format!("{why}: {key} may only be {noop} (or absent); got {v}")));
        }
    }
    Ok(noops)
}

/// The upstream decodes JSON keys case-insensitively (Go), so `Model` or `CALLBACK_URL` next to
/// the checked spelling could reach it unchecked and win. Such spellings are refused outright.
fn refuse_case_variants(obj: &RawObject<'_>, fields: &[&str]) -> Result<(), ApiError> {
    for key in obj.keys() {
        if let Some(canonical) = fields.iter().find(|f| **f != key && same_key(key, f)) {
            return Err(ApiError::invalid(
                key.to_string(),
                format!("{key} is another spelling of {canonical}; send the field once, as {canonical}"),
            ));
        }
    }
    Ok(())
}

fn check_duration(v: Option<&Value>) -> Result<Option<i64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    match v.as_i64() {
        Some(d) if d == -1 || (4..=15).contains(&d) => Ok(Some(d)),
        _ => Err(ApiError::with_param(
            ErrorCode::InvalidDuration,
            "duration",
            format!("duration must be an integer from 4 to 15 (seconds), or -1 to let the model choose; got {v}"),
        )),
    }
}

fn check_resolution(model: PublicModel, v: Option<&Value>) -> Result<Option<String>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let allowed = model.resolutions();
    match v.as_str() {
        Some(r) if allowed.contains(&r) => Ok(Some(r.to_string())),
        Some("1080p") => Err(ApiError::invalid(
            "resolution",
            format!("{} does not support 1080p; use one of: {}", model.name(), allowed.join(", ")),
        )),
        _ => {
            Err(ApiError::invalid("resolution", format!("resolution must be one of: {}; got {v}", allowed.join(", "))))
        }
    }
}

fn check_one_of(field: &str, v: Option<&Value>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(v) => Err(ApiError::invalid(field, format!("{field} must be one of: {}; got {v}", allowed.join(", ")))),
    }
}

fn check_int_range(field: &str, v: Option<&Value>, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::invalid(field, format!("{field} must be an integer from {min} to {max}; got {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(extra: Value) -> Vec<u8> {
        let mut b = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "a boat"}]});
        if let (Value::Object(b), Value::Object(e)) = (&mut b, extra) {
            b.extend(e);
        }
        b.to_string().into_bytes()
    }

    fn err(extra: Value) -> ApiError {
        parse_create(&body(extra)).unwrap_err()
    }

    #[test]
    fn duration_boundaries() {
        for ok in [json!(4), json!(15), json!(-1), json!(10)] {
            assert!(parse_create(&body(json!({ "duration": ok }))).is_ok(), "{ok}");
        }
        for bad in [json!(3), json!(16), json!(0), json!(-2), json!(4.5), json!("5"), json!(5.0), json!(true)] {
            let e = err(json!({ "duration": bad }));
            assert_eq!(e.code, ErrorCode::InvalidDuration, "{bad}");
            assert_eq!(e.param.as_deref(), Some("duration"));
        }
    }

    #[test]
    fn ratio_resolution_priority_expiry() {
        assert!(parse_create(&body(json!({"ratio": "21:9", "resolution": "1080p", "priority": 9}))).is_ok());
        assert_eq!(err(json!({"ratio": "2:1"})).param.as_deref(), Some("ratio"));
        assert_eq!(err(json!({"resolution": "4k"})).param.as_deref(), Some("resolution"));
        assert_eq!(err(json!({"priority": 10})).param.as_deref(), Some("priority"));
        assert_eq!(err(json!({"priority": -1})).param.as_deref(), Some("priority"));
        assert_eq!(err(json!({"priority": 1.5})).param.as_deref(), Some("priority"));
        for ok in [3600, 259_200] {
            let raw = body(json!({ "execution_expires_after": ok }));
            let t = parse_create(&raw).unwrap();
            assert_eq!(t.execution_expires_after, Some(ok));
        }
        for bad in [3599, 259_201] {
            assert_eq!(
                err(json!({ "execution_expires_after": bad })).param.as_deref(),
                Some("execution_expires_after")
            );
        }
    }

    #[test]
    fn fast_models_refuse_1080p() {
        let b = json!({"model": "dreamina-seedance-2-0-fast-filter-off", "content": [{"type": "text", "text": "x"}], "resolution": "1080p"});
        let e = parse_create(b.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("resolution"));
        assert!(e.message.contains("1080p"), "{}", e.message);
        let b = json!({"model": "dreamina-seedance-2-0-fast", "content": [{"type": "text", "text": "x"}], "resolution": "720p"});
        assert!(parse_create(b.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn booleans_are_booleans() {
        for key in BOOLEANS {
            assert_eq!(err(json!({ key: "true" })).param.as_deref(), Some(key));
            assert_eq!(err(json!({ key: 1 })).param.as_deref(), Some(key));
            assert!(parse_create(&body(json!({ key: false }))).is_ok());
        }
    }

    #[test]
    fn body_and_content_shape() {
        assert_eq!(parse_create(b"{nope").unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(parse_create(b"[1]").unwrap_err().code, ErrorCode::InvalidRequest);
        let no_model = json!({"content": [{"type": "text", "text": "x"}]}).to_string();
        assert_eq!(parse_create(no_model.as_bytes()).unwrap_err().param.as_deref(), Some("model"));
        for content in [json!([]), json!("x")] {
            let b = json!({"model": "dreamina-seedance-2-0", "content": content});
            let e = parse_create(b.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("content"), "{content}");
        }
        for content in [
            json!([1]),
            json!([{"type": "gif"}]),
            json!([{"text": "x"}]),
            json!([{"type": "text"}]),
            json!([{"type": "image_url", "image_url": {}}]),
        ] {
            let b = json!({"model": "dreamina-seedance-2-0", "content": content});
            let e = parse_create(b.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("content[0]"), "{content}");
        }
        let b = json!({"model": "dreamina-seedance-2-0"});
        assert_eq!(parse_create(b.to_string().as_bytes()).unwrap_err().param.as_deref(), Some("content"));
    }

    #[test]
    fn unknown_fields_pass_through_and_model_is_rewritten() {
        let raw = body(json!({"x_future": {"a": 1}, "seed": 7}));
        let t = parse_create(&raw).unwrap();
        let sent: Value = serde_json::from_slice(&t.upstream_body("dreamina-seedance-2-0-260128")).unwrap();
        assert_eq!(sent["model"], "dreamina-seedance-2-0-260128");
        assert_eq!(sent["x_future"]["a"], 1);
        assert_eq!(sent["seed"], 7);
    }

    #[test]
    fn other_spellings_of_checked_fields_are_refused() {
        for extra in [
            json!({"Model": "dreamina-seedance-2-0-fast-260128"}),
            json!({"CALLBACK_URL": "https://10.0.0.1/"}),
            json!({"Duration": 99}),
            json!({"reſolution": "1080p"}),
        ] {
            let key = extra.as_object().unwrap().keys().next().unwrap().clone();
            let e = err(extra);
            assert_eq!(e.param.as_deref(), Some(key.as_str()));
            assert!(e.message.contains("another spelling"), "{}", e.message);
        }
        let b = json!({"model": "dreamina-seedance-2-0", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "URL": "asset://asset-theirs"}}]});
        assert_eq!(parse_create(b.to_string().as_bytes()).unwrap_err().param.as_deref(), Some("content[0]"));
        let b =
            json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "Type": "image_url", "text": "x"}]});
        assert!(parse_create(b.to_string().as_bytes()).is_err());
        // The documented alias is not a case variant.
        assert!(parse_create(&body(json!({"CallbackURL": "https://example.com/cb"}))).is_ok());
    }

    #[test]
    fn aliases_normalize() {
        let b = json!({"model": "dreamina-seedance-2-0-fast-260128", "content": [{"type": "text", "text": "x"}]});
        assert_eq!(parse_create(b.to_string().as_bytes()).unwrap().model, PublicModel::Fast);
    }

    #[test]
    fn callback_alias_and_precedence() {
        let raw = body(json!({"CallbackURL": "  https://example.com/cb  "}));
        let t = parse_create(&raw).unwrap();
        let sent: Value = serde_json::from_slice(&t.upstream_body("m")).unwrap();
        assert_eq!(sent["callback_url"], "https://example.com/cb");
        assert!(sent.get("CallbackURL").is_none());
        let raw = body(json!({"CallbackURL": "http://10.0.0.1/", "callback_url": "https://example.com/a"}));
        let t = parse_create(&raw).unwrap();
        let sent: Value = serde_json::from_slice(&t.upstream_body("m")).unwrap();
        assert_eq!(sent["callback_url"], "https://example.com/a");
        assert!(sent.get("CallbackURL").is_none());
        assert_eq!(err(json!({"callback_url": "http://example.com/"})).param.as_deref(), Some("callback_url"));
        assert_eq!(err(json!({"callback_url": "   "})).param.as_deref(), Some("callback_url"));
        assert_eq!(err(json!({"callback_url": 5})).param.as_deref(), Some("callback_url"));
    }

    #[test]
    fn asset_uris_are_normalized_and_collected() {
        let b = json!({"model": "dreamina-seedance-2-0", "content": [
            {"type": "image_url", "role": "reference_image", "image_url": {"url": "Asset://asset-1"}},
            {"type": "video_url", "role": "reference_video", "video_url": {"url": "ASSET://asset-2"}},
            {"type": "image_url", "role": "reference_image", "image_url": {"url": "asset://asset-1"}}
        ]});
        let raw = b.to_string();
        let t = parse_create(raw.as_bytes()).unwrap();
        assert_eq!(t.content.asset_ids, vec!["asset-1", "asset-2"]);
        assert!(t.content.has_video);
        let sent: Value = serde_json::from_slice(&t.upstream_body("m")).unwrap();
        assert_eq!(sent["content"][0]["image_url"]["url"], "asset://asset-1");
        assert_eq!(sent["content"][1]["video_url"]["url"], "asset://asset-2");
        let b = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "image_url", "image_url": {"url": "asset://../x"}}]});
        assert_eq!(parse_create(b.to_string().as_bytes()).unwrap_err().param.as_deref(), Some("content[0]"));
    }

    #[test]
    fn unknown_members_travel_as_sent_and_the_snapshot_is_bounded() {
        let junk = format!("[{}0]", "0,".repeat(500_000));
        let long = "x".repeat(900_000);
        let raw = format!(
            r#"{{"model":"dreamina-seedance-2-0","content":[{{"type":"text","text":"a boat","x_item":{junk}}}],"x_junk":{junk},"x_long":"{long}","x_small":{{"a" : 1}}}}"#
        );
        let t = parse_create(raw.as_bytes()).unwrap();
        let sent = String::from_utf8(t.upstream_body("m")).unwrap();
        assert!(sent.contains(&format!(r#""x_junk":{junk}"#)), "unknown members are forwarded byte for byte");
        assert!(sent.contains(r#""x_small":{"a" : 1}"#));
        let v: Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(v["model"], "m");
        let snap = t.audit_snapshot("m").to_string();
        assert!(snap.len() <= SNAPSHOT_MAX_BYTES, "{}", snap.len());
        assert!(snap.contains("\"model\":\"m\""), "{snap}");
        // Oversized scalars are judged without being parsed.
        for key in ["seed", "duration", "watermark", "model"] {
            let raw = format!(
                r#"{{"model":"dreamina-seedance-2-0","content":[{{"type":"text","text":"x"}}],"{key}":{junk}}}"#
            );
            let raw = raw.replacen(
                r#""model":"dreamina-seedance-2-0","#,
                if key == "model" { "" } else { r#""model":"dreamina-seedance-2-0","# },
                1,
            );
            assert_eq!(parse_create(raw.as_bytes()).unwrap_err().param.as_deref(), Some(key));
        }
    }

    #[test]
    fn duplicate_keys_forward_what_was_checked() {
        let raw =
            br#"{"model":"dreamina-seedance-2-0","content":[{"type":"text","text":"x"}],"duration":99,"duration":5}"#;
        let t = parse_create(raw).unwrap();
        let sent = String::from_utf8(t.upstream_body("m")).unwrap();
        assert_eq!(sent.matches("duration").count(), 1, "{sent}");
        assert!(sent.contains(r#""duration":5"#), "{sent}");
    }

    /// Found by fuzzing: `DATA:` (the scheme in another case) or surrounding whitespace kept the
    /// whole inline media in the audit snapshot.
    #[test]
    fn audit_snapshot_drops_inline_media_in_any_spelling() {
        for url in [
            format!("DATA:image/png;base64,{}", "A".repeat(300)),
            format!(" data:image/png;base64,{} ", "A".repeat(300)),
        ] {
            let b = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "image_url", "image_url": {"url": url}}]});
            let raw = b.to_string();
            let snap = parse_create(raw.as_bytes()).unwrap().audit_snapshot("m");
            let kept = snap["content"][0]["image_url"]["url"].as_str().unwrap();
            assert!(kept.len() < 64 && kept.ends_with(&format!("<{} bytes inline>", url.trim().len())), "{kept}");
        }
    }

    /// Found by fuzzing: a float in a pass-through field must reach the upstream as sent.
    #[test]
    fn pass_through_numbers_arrive_unchanged() {
        for n in ["-7.574296490243655e+65", "0.1", "2.2250738585072014e-308", "1.7976931348623157e308"] {
            let raw =
                format!(r#"{{"model":"dreamina-seedance-2-0","content":[{{"type":"text","text":"x"}}],"x":{n}}}"#);
            let sent = String::from_utf8(parse_create(raw.as_bytes()).unwrap().upstream_body("m")).unwrap();
            assert!(sent.contains(&format!(r#""x":{n}"#)), "{sent}");
        }
    }

    #[test]
    fn null_is_absent() {
        // Exactly what the official Python SDK sends for a create with only the required fields.
        let b = json!({"model": "dreamina-seedance-2-0-fast", "content": [{"type": "text", "text": "x"}],
            "safety_identifier": null, "callback_url": null, "return_last_frame": null, "service_tier": null,
            "execution_expires_after": null, "priority": null, "generate_audio": null, "draft": null,
            "camera_fixed": null, "watermark": null, "seed": null, "resolution": null, "ratio": null,
            "duration": null, "frames": null, "output_format": null, "omni_reference_task_type": null});
        let raw = b.to_string();
        let t = parse_create(raw.as_bytes()).unwrap();
        assert!(t.callback.is_none() && t.resolution.is_none() && t.duration.is_none());
        let sent: Value = serde_json::from_slice(&t.upstream_body("m")).unwrap();
        assert_eq!(sent, json!({"model": "m", "content": [{"type": "text", "text": "x"}]}));
        let b = json!({"model": null, "content": [{"type": "text", "text": "x"}]});
        assert_eq!(parse_create(b.to_string().as_bytes()).unwrap_err().param.as_deref(), Some("model"));
        let b = json!({"model": "dreamina-seedance-2-0", "content": null});
        assert_eq!(parse_create(b.to_string().as_bytes()).unwrap_err().param.as_deref(), Some("content"));
    }

    #[test]
    fn seedance_2_field_set() {
        for (extra, field) in [
            (json!({"frames": 121}), "frames"),
            (json!({"tools": [{"type": "web_search"}]}), "tools"),
            (json!({"camera_fixed": true}), "camera_fixed"),
            (json!({"draft": true}), "draft"),
            (json!({"service_tier": "flex"}), "service_tier"),
            (json!({"service_tier": "scale"}), "service_tier"),
        ] {
            let e = err(extra.clone());
            assert_eq!(e.param.as_deref(), Some(field), "{extra}");
            assert!(e.message.contains(field), "{}", e.message);
        }
        let raw = body(json!({"camera_fixed": false, "draft": false, "service_tier": "default", "watermark": true}));
        let t = parse_create(&raw).unwrap();
        let sent: Value = serde_json::from_slice(&t.upstream_body("m")).unwrap();
        for dropped in ["camera_fixed", "draft", "service_tier"] {
            assert!(sent.get(dropped).is_none(), "{dropped} is a no-op and is not forwarded");
        }
        assert_eq!(sent["watermark"], true);
        assert_eq!(err(json!({"safety_identifier": "x".repeat(65)})).param.as_deref(), Some("safety_identifier"));
    }

    #[test]
    fn audit_snapshot_keeps_length_not_media() {
        let image = format!("data:image/png;base64,{}", "A".repeat(100_000));
        let b = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "image_url", "image_url": {"url": image}}],
                       "callback_url": "https://example.com/cb"});
        let raw = b.to_string();
        let t = parse_create(raw.as_bytes()).unwrap();
        let snap = t.audit_snapshot("dreamina-seedance-2-0-260128");
        let url = snap["content"][0]["image_url"]["url"].as_str().unwrap();
        assert!(url.starts_with("data:image/png;base64,<") && url.contains("100022 bytes"), "{url}");
        assert_eq!(snap["callback_url"], "https://example.com/cb");
        assert_eq!(snap["model"], "dreamina-seedance-2-0-260128");
        let sent: Value = serde_json::from_slice(&t.upstream_body("x")).unwrap();
        assert_eq!(sent["content"][0]["image_url"]["url"].as_str().unwrap().len(), 100_022);
    }
}
