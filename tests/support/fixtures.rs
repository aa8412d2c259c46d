//! Records the store tests write.
#![allow(dead_code)]

use seedance_edge::store::TaskRecord;

/// A queued task as the create route records it.
pub fn task(id: &str, created_at: i64) -> TaskRecord {
    TaskRecord {
        id: id.into(),
        channel: "main".into(),
        public_model: "dreamina-seedance-2-0".into(),
        official_model: "dreamina-seedance-2-0-260128".into(),
        has_video: true,
        requested_resolution: Some("720p".into()),
        created_at,
        status: "queued".into(),
        hidden: false,
        execution_expires_after: Some(3600),
        upstream_request: Some(r#"{"model":"dreamina-seedance-2-0-260128"}"#.into()),
        settlement: None,
    }
}
