//! The response rewrite: the customer sees the public model
//! name it created the task with, and nothing that names the upstream account, project,
//! endpoint, credential or official model version.

use crate::json::fold_char;
use crate::raw::{Member, RawObject};
use crate::redact::{is_internal_key, strip_internal};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A task answer as the customer receives it, and what billing reads of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskAnswer {
    /// The rewritten JSON object.
    pub body: Vec<u8>,
    /// The members the settlement reads (`status`, `usage`, `resolution`, `ratio`, `duration`),
    /// as an object.
    pub facts: Value,
}

/// The members billing reads from a task answer.
const FACTS: [&str; 5] = ["status", "usage", "resolution", "ratio", "duration"];

/// [`rewrite_task`] on the upstream's bytes without building the whole tree: every GET passes
/// here. Members are copied as the upstream wrote them, except internal ones (dropped), `model`
/// (the public name) and those whose text might hide an internal key or an `ep-` id somewhere
/// inside (rewritten through [`strip_internal`] on their own). The result parses to exactly what
/// [`rewrite_task`] gives. `None` when the body is not a JSON object.
pub fn rewrite_task_answer(body: &[u8], public_model: &str) -> Option<TaskAnswer> {
    let raw: &RawValue = serde_json::from_slice(body).ok()?;
    let obj = RawObject::parse(raw).ok()?;
    let mut facts = Map::new();
    for key in FACTS {
        if let Some(v) = obj.value(key) {
            facts.insert(key.to_string(), v);
        }
    }
    let mut out = Vec::with_capacity(body.len() + public_model.len() + 16);
    out.push(b'{');
    for (key, member) in obj.last_members() {
        if is_internal_key(key) {
            continue;
        }
        let Member::Raw(text) = member else { continue };
        let text = text.get();
        let rewritten = if might_hide_internal(text) {
            let Ok(mut v) = serde_json::from_str::<Value>(text) else { return None };
            if matches!(&v, Value::String(s) if s.starts_with("ep-")) {
                continue;
            }
            strip_internal(&mut v);
            Some(v)
        } else {
            None
        };
        if out.len() > 1 {
            out.push(b',');
        }
        write_value(&mut out, &Value::String(key.to_string()));
        out.push(b':');
        match rewritten {
            Some(v) => write_value(&mut out, &v),
            None => out.extend_from_slice(text.as_bytes()),
        }
    }
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(br#""model":"#);
    write_value(&mut out, &Value::String(public_model.to_string()));
    out.push(b'}');
    Some(TaskAnswer { body: out, facts: Value::Object(facts) })
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Whether a member's JSON text could hold something [`strip_internal`] removes: an escape
/// (which could spell anything), an `ep-` string, or, once folded the way keys are compared, any
/// internal key's name. A plain URL, number or usage object passes untouched.
fn might_hide_internal(text: &str) -> bool {
    const PATTERNS: [&str; 15] = [
        "project",
        "account",
        "accesskey",
        "secret",
        "credential",
        "apikey",
        "password",
        "endpoint",
        "model",
        "sku",
        "trn",
        "ownerid",
        "userid",
        "createdby",
        "creator",
    ];
    if text.contains('\\') || text.contains("ep-") {
        return true;
    }
    let folded: Vec<u8> = text
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .map(|c| fold_char(c).filter(char::is_ascii).map_or(0xFF, |a| a as u8))
        .collect();
    PATTERNS.iter().any(|p| folded.windows(p.len()).any(|w| w == p.as_bytes()))
}

/// Rewrites an upstream task object for the customer: `model` back to the public name used at
/// creation, internal fields gone.
pub fn rewrite_task(task: &mut Value, public_model: &str) {
    strip_internal(task);
    if let Value::Object(map) = task {
        map.insert("model".into(), Value::String(public_model.to_string()));
    }
}

/// An upstream error body in the native shape with the same rewriting: the official model id
/// replaced by the public name wherever it is mentioned, internal fields stripped. `None` when
/// the body is not JSON (the caller then passes it through or maps it to 502).
pub fn rewrite_error_body(body: &[u8], official: Option<&str>, public: Option<&str>) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    strip_internal(&mut v);
    if let (Some(official), Some(public)) = (official, public) {
        replace_strings(&mut v, official, public);
    }
    serde_json::to_vec(&v).ok()
}

fn replace_strings(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, from, to)),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the tree rewrite gives, for comparison.
    fn by_tree(body: &str, public: &str) -> Value {
        let mut v: Value = serde_json::from_str(body).unwrap();
        rewrite_task(&mut v, public);
        v
    }

    fn by_bytes(body: &str, public: &str) -> Value {
        serde_json::from_slice(&rewrite_task_answer(body.as_bytes(), public).unwrap().body).unwrap()
    }

    #[test]
    fn the_byte_rewrite_matches_the_tree_rewrite() {
        let public = "dreamina-seedance-2-0-fast";
        for body in [
            r#"{"id":"cgt-1","model":"dreamina-seedance-2-0-fast-260128","status":"succeeded","content":{"video_url":"https://cdn/v.mp4"},"usage":{"completion_tokens":5,"total_tokens":5},"created_at":1,"seed":-1}"#,
            r#"{"id":"cgt-1","project_name":"p","x":"ep-123","content":{"video_url":"https://cdn/v.mp4","AccountId":"42"}}"#,
            r#"{"id":"cgt-1","nested":{"deeper":[{"Model":"m","ok":1},"ep-9",{"k":"step-1"}]},"text":"a model walks"}"#,
            r#"{"id":"cgt-1","esc":"ep-1","key":{"Project":"x"},"ACCESSKEY":"s"}"#,
            r#"{"id":"cgt-1","dup":1,"dup":{"account":"a","b":2}}"#,
            r#"{}"#,
        ] {
            assert_eq!(by_bytes(body, public), by_tree(body, public), "{body}");
        }
    }

    #[test]
    fn facts_and_refusals() {
        let body = br#"{"status":"succeeded","usage":{"completion_tokens":7},"resolution":"720p","ratio":"16:9","duration":5,"x":1}"#;
        let a = rewrite_task_answer(body, "m").unwrap();
        assert_eq!(
            a.facts,
            json!({"status":"succeeded","usage":{"completion_tokens":7},"resolution":"720p","ratio":"16:9","duration":5})
        );
        assert!(rewrite_task_answer(b"[1,2]", "m").is_none(), "not an object");
        assert!(rewrite_task_answer(b"{oops", "m").is_none(), "not JSON");
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("id".to_string()),
            Just("model".to_string()),
            Just("Project_Name".to_string()),
            Just("AccountId".to_string()),
            Just("status".to_string()),
            Just("usage".to_string()),
            Just("video_url".to_string()),
            Just("seed".to_string()),
            "[a-zA-Z_]{1,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop_oneof![
                Just("ep-1".to_string()),
                Just("a model".to_string()),
                Just("é\u{212A}\"q".to_string()),
                "[ -~]{0,12}"
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_object_rewrites_alike_either_way(
            members in proptest::collection::btree_map("model|Project_Name|usage|status|x[a-z]{0,4}|ep", value(), 0..6)
        ) {
            let body = Value::Object(members.into_iter().collect()).to_string();
            proptest::prop_assert_eq!(by_bytes(&body, "pub"), by_tree(&body, "pub"));
        }
    }

    #[test]
    fn model_back_to_public_and_internals_gone() {
        let mut t = json!({"id": "cgt-1", "model": "dreamina-seedance-2-0-fast-260128", "status": "succeeded",
            "project_name": "proj-secret", "ProjectName": "p", "endpoint_id": "ep-2026", "x": "ep-123",
            "content": {"video_url": "https://cdn/v.mp4", "AccountId": "42"}, "usage": {"total_tokens": 5}});
        rewrite_task(&mut t, "dreamina-seedance-2-0-fast");
        assert_eq!(t["model"], "dreamina-seedance-2-0-fast");
        let s = t.to_string();
        for gone in ["proj-secret", "ProjectName", "endpoint_id", "ep-", "AccountId"] {
            assert!(!s.contains(gone), "{gone} in {s}");
        }
        assert_eq!(t["usage"]["total_tokens"], 5);
        assert_eq!(t["content"]["video_url"], "https://cdn/v.mp4");
    }

    #[test]
    fn error_bodies_keep_their_shape() {
        let body = br#"{"error":{"code":"InvalidParameter","message":"model dreamina-seedance-2-0-260128 rejects x","param":"x","type":"BadRequest"}}"#;
        let out =
            rewrite_error_body(body, Some("dreamina-seedance-2-0-260128"), Some("dreamina-seedance-2-0")).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["code"], "InvalidParameter");
        assert_eq!(v["error"]["message"], "model dreamina-seedance-2-0 rejects x");
        assert!(rewrite_error_body(b"<html>", None, None).is_none());
    }
}
