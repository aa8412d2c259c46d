//! Records the store tests write.
#![allow(dead_code)]

use seedance_edge::store::{Settlement, TaskRecord};

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
        quarantine: None,
        slot: None,
        prepaid: false,
    }
}

/// One settlement attempt of `task_id` by `by`: 40 594 tokens of 720p video at 4.3 USD/M.
pub fn settlement(task_id: &str, by: &str) -> Settlement {
    Settlement {
        settlement_id: by.into(),
        task_id: task_id.into(),
        sku: "dreamina-seedance-2-0-720p-video".into(),
        tokens: 40_594,
        usd_nanos: 174_554_200,
        settled_at_ms: 1_781_181_802_000,
        public_model: "dreamina-seedance-2-0".into(),
        final_resolution: "720p".into(),
        channel: "main".into(),
        unit_price_micros: 4_300_000,
    }
}
