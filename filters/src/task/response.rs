//! The response rewrite: the customer sees the public model
//! name it created the task with, and nothing that names the upstream account, project,
//! endpoint, credential or official model version.

use crate::redact::strip_internal;
use serde_json::Value;

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
