//! Hostile input and a misbehaving upstream, on real parts: money that cannot be corrupted
//! (usage that is negative, fractional or absurd is held for review, never billed, and never
//! makes a task unreadable), bounded audit records, and bounded memory.

mod support;

use serde_json::{json, Value};
use std::process::Command;
use support::harness::{task_path, Harness, TASKS};

/// `seedance-edge task show` against the harness's Redis.
fn task_show(h: &Harness, id: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("show.yaml");
    let yaml = format!(
        "store: {{ url: \"{}\", prefix: sde }}\nchannels:\n  - id: main\n    task_base_url: \"https://ark.example\"\n    region: ap-southeast-1\n    api_key: \"${{SHOW_KEY}}\"\n    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}\ntenants: []\n",
        h.redis.url()
    );
    std::fs::write(&conf, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["task", "show", id, "--conf"])
        .arg(&conf)
        .env("SHOW_KEY", "k")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn unbelievable_usage_is_held_for_review_and_never_breaks_reads() {
    let h = Harness::start().await;
    let cases = [
        (json!({"completion_tokens": -5, "total_tokens": -5}), "negative"),
        (json!({"completion_tokens": 12.5}), "not_integer"),
        (json!({"completion_tokens": "40594"}), "not_integer"),
        (
            json!({"completion_tokens": 10_000_000_000_000_000u64, "total_tokens": 10_000_000_000_000_000u64}),
            "over_bound",
        ),
    ];
    let mut ids = Vec::new();
    for (usage, _) in &cases {
        let id = h.create("acme", "dreamina-seedance-2-0-fast").await;
        h.fake.finish_with_usage(&id, usage.clone());
        ids.push(id);
    }
    let honest = h.create("acme", "dreamina-seedance-2-0-fast").await;
    h.finish(&honest, "succeeded", 40_594, "480p");

    for _ in 0..2 {
        for id in ids.iter().chain([&honest]) {
            let g = h.get("acme", &task_path(id)).await;
            assert_eq!((g.status, g.body["status"].as_str()), (200, Some("succeeded")), "{}", g.raw);
        }
        let l = h.get("acme", TASKS).await;
        assert_eq!((l.status, l.body["total"].as_u64()), (200, Some(5)), "{}", l.raw);
    }
    let ledger = h.edge.store.ledger("acme", 0).await.unwrap();
    assert_eq!(ledger.len(), 1, "only the honest task is billed: {ledger:?}");
    assert_eq!(ledger[0].task_id, honest);

    let metrics = h.metrics();
    for (reason, n) in [("negative", 1), ("not_integer", 2), ("over_bound", 1)] {
        let line = format!("seedance_settlements_quarantined_total{{reason=\"{reason}\"}} {n}");
        assert!(metrics.contains(&line), "{line} missing (each task counted once):\n{metrics}");
    }
    for (id, (_, reason)) in ids.iter().zip(cases.iter()) {
        let rec = h.edge.store.task("acme", id).await.unwrap().unwrap();
        assert!(rec.settlement.is_none(), "{id} was billed");
        assert_eq!(rec.quarantine.as_ref().map(|q| q.reason.as_str()), Some(*reason), "{id}");
    }
    let shown = task_show(&h, &ids[3]);
    assert_eq!(shown["quarantine"]["reason"], "over_bound", "{shown}");
    assert!(shown["quarantine"]["usage"].as_str().unwrap().contains("10000000000000000"), "{shown}");
    // Nothing is left for the reconciler to retry.
    assert!(h.edge.store.due_tasks("acme", i64::MAX, 100).await.unwrap().iter().all(|(id, _)| !ids.contains(id)));
}
