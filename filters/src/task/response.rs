//! The response rewrite: the customer sees the public model
//! name it created the task with, and nothing that names the upstream account, project,
//! endpoint, credential or official model version.

use crate::redact::{is_internal_key, strip_internal};
use crate::task::status::is_terminal;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A task answer as the customer receives it, and what billing reads of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskAnswer {
    /// The rewritten JSON object.
    pub body: Vec<u8>,
    /// What the settlement reads, as an object: `status` always; `usage`, `resolution`, `ratio`
    /// and `duration` too once the status is terminal (before that nothing is priced).
    pub facts: Value,
}

/// The members billing reads from a finished task's answer.
const FACTS: [&str; 4] = ["usage", "resolution", "ratio", "duration"];

/// Above this many members, duplicates are found with a map instead of by looking ahead (an
/// answer is about fifteen members; the bound keeps a hostile one from costing n²).
const LOOK_AHEAD_MEMBERS: usize = 32;

/// [`rewrite_task`] on the upstream's bytes, without building a tree of the answer: every GET
/// passes here. Members are copied as the upstream wrote them, except internal ones (dropped),
/// `model` (the public name) and those whose text might hold an internal key or an `ep-` string
/// (rewritten through [`strip_internal`] on their own). The result parses to exactly what
/// [`rewrite_task`] gives. `None` when the body is not a JSON object.
pub fn rewrite_task_answer(body: &[u8], public_model: &str) -> Option<TaskAnswer> {
    let Members(members) = serde_json::from_slice(body).ok()?;
    let last = last_of_key(&members);
    let mut out = Vec::with_capacity(body.len() + public_model.len() + 16);
    out.push(b'{');
    let mut status = None;
    for (i, (key, raw)) in members.iter().enumerate() {
        if !last[i] || is_internal_key(key) {
            continue;
        }
        let text = raw.get();
        if key == "status" {
            status = serde_json::from_str::<Value>(text).ok();
        }
        let stripped = if needs_strip(text) {
            let mut v: Value = serde_json::from_str(text).ok()?;
            if matches!(&v, Value::String(s) if s.starts_with("ep-")) {
                continue;
            }
            strip_internal(&mut v);
            Some(v)
        } else {
            None
        };
        write_json(&mut out, key.as_ref());
        out.push(b':');
        match stripped {
            Some(v) => write_json(&mut out, &v),
            None => out.extend_from_slice(text.as_bytes()),
        }
        out.push(b',');
    }
    out.extend_from_slice(br#""model":"#);
    write_json(&mut out, public_model);
    out.push(b'}');
    Some(TaskAnswer { body: out, facts: facts(&members, &last, status) })
}

/// `status`, and once it is terminal the members the price needs.
fn facts(members: &[(Cow<'_, str>, &RawValue)], last: &[bool], status: Option<Value>) -> Value {
    let mut facts = Map::new();
    let terminal = status.as_ref().and_then(Value::as_str).is_some_and(is_terminal);
    if let Some(status) = status {
        facts.insert("status".into(), status);
    }
    if terminal {
        for (i, (key, raw)) in members.iter().enumerate() {
            if last[i] && FACTS.contains(&key.as_ref()) {
                if let Ok(v) = serde_json::from_str(raw.get()) {
                    facts.insert(key.to_string(), v);
                }
            }
        }
    }
    Value::Object(facts)
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Writing a string or a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// Whether a member's JSON text could hold something [`strip_internal`] removes: an escape
/// (which could spell anything), a string starting `ep-`, or an object key that is internal.
/// Without escapes every `"` opens or closes a string, so the keys are the strings followed by
/// a `:`; a URL, a number or a usage object is judged without being parsed.
fn needs_strip(text: &str) -> bool {
    if text.contains('\\') || text.contains("\"ep-") {
        return true;
    }
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { return true };
        let (string, tail) = (&after[..close], &after[close + 1..]);
        if tail.trim_start().starts_with(':') && is_internal_key(string) {
            return true;
        }
        rest = tail;
    }
    false
}

/// For each member, whether it is the last of its key (the one a JSON decoder keeps).
fn last_of_key(members: &[(Cow<'_, str>, &RawValue)]) -> Vec<bool> {
    if members.len() <= LOOK_AHEAD_MEMBERS {
        return (0..members.len()).map(|i| !members[i + 1..].iter().any(|(k, _)| *k == members[i].0)).collect();
    }
    let mut at = std::collections::HashMap::with_capacity(members.len());
    for (i, (k, _)) in members.iter().enumerate() {
        at.insert(k.as_ref(), i);
    }
    (0..members.len()).map(|i| at.get(members[i].0.as_ref()) == Some(&i)).collect()
}

/// An object's members in order: keys borrowed unless escaped, values as their text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((k.0, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A key, borrowed from the text when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
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
        let running = rewrite_task_answer(br#"{"status":"running","usage":{"completion_tokens":7}}"#, "m").unwrap();
        assert_eq!(running.facts, json!({"status":"running"}), "nothing is priced before the end");
        assert!(rewrite_task_answer(b"[1,2]", "m").is_none(), "not an object");
        assert!(rewrite_task_answer(b"{oops", "m").is_none(), "not JSON");
    }

    #[test]
    fn duplicates_keep_the_last_member_in_large_answers_too() {
        for n in [3, 40] {
            let mut body = String::from("{");
            for i in 0..n {
                body.push_str(&format!(r#""k{}":{},"#, i % 5, i));
            }
            body.push_str(r#""Project":"p","k1":{"userId":1,"ok":"\u0041"}}"#);
            assert_eq!(by_bytes(&body, "pub"), by_tree(&body, "pub"), "{n} members");
        }
    }

    #[test]
    fn plain_members_are_copied_and_suspect_ones_judged() {
        assert!(!needs_strip(r#"{"video_url":"https://cdn.example/v.mp4?model=x&project=y"}"#));
        assert!(!needs_strip("12345"));
        assert!(needs_strip(r#"{"a":{"ProjectName":"p"}}"#));
        assert!(needs_strip(r#"{"a" : ["ep-1"]}"#));
        assert!(needs_strip(r#""ep-1""#));
        assert!(needs_strip(r#"{"\u0070roject":1}"#));
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
