//! The real API's semantics, as real clients rely on them: `null` is absent, list paging and
//! filters as the upstream takes them, cancel keeps the task visible, the channel's own failures
//! are never the tenant's, Seedance 2.0's real field set and content rules, and a 413 that a
//! client writing its whole body can still read.

use crate::support;

use serde_json::{json, Value};
use support::harness::{task_path, Harness, Options, REVOKED_AK, REVOKED_KEY, TASKS};

/// The body the official Python SDK sends for `create(model=…, content=[…])`: every optional
/// field it knows, as `null`.
fn sdk_shaped(model: &str) -> Value {
    json!({"model": model, "content": [{"type": "text", "text": "a paper boat"}],
        "safety_identifier": null, "callback_url": null, "return_last_frame": null, "service_tier": null,
        "execution_expires_after": null, "priority": null, "generate_audio": null, "draft": null,
        "camera_fixed": null, "watermark": null, "seed": null, "resolution": null, "ratio": null,
        "duration": null, "frames": null, "output_format": null, "omni_reference_task_type": null})
}

fn has_null_member(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().any(|v| v.is_null() || has_null_member(v)),
        Value::Array(items) => items.iter().any(has_null_member),
        _ => false,
    }
}

#[tokio::test]
async fn null_is_absent_on_tasks_and_actions() {
    let h = Harness::start().await;
    let r = h.post("acme", TASKS, &sdk_shaped("dreamina-seedance-2-0-fast")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let sent = h.fake.requests().into_iter().rfind(|r| r.method == "POST" && r.path.ends_with("/tasks")).unwrap();
    let sent: Value = serde_json::from_slice(&sent.body).unwrap();
    assert!(!has_null_member(&sent), "forwarded as BytePlus would read it: {sent}");
    assert_eq!(sent["model"], "dreamina-seedance-2-0-fast-260128");

    let g = h
        .post(
            "acme",
            "/volcark/?Action=CreateAssetGroup&Version=2024-01-01",
            &json!({"model": "dreamina-seedance-2-0", "Name": "g", "Description": null, "GroupType": null}),
        )
        .await;
    assert_eq!(g.status, 200, "{}", g.raw);
    let l = h
        .post(
            "acme",
            "/volcark/?Action=ListAssetGroups&Version=2024-01-01",
            &json!({"model": "dreamina-seedance-2-0", "Filter": null, "PageNumber": null, "PageSize": null}),
        )
        .await;
    assert_eq!(l.status, 200, "{}", l.raw);
    assert_eq!(l.body["Result"]["Items"].as_array().map(Vec::len), Some(1), "{}", l.raw);
}

#[tokio::test]
async fn list_pages_and_filters_like_the_real_api() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(h.create("acme", "dreamina-seedance-2-0").await);
    }
    let all = h.get("acme", &format!("{TASKS}?page_size=500&page_num=1")).await;
    assert_eq!((all.status, all.body["total"].as_u64()), (200, Some(3)), "{}", all.raw);
    let last = h.get("acme", &format!("{TASKS}?page_size=1&page_num=500")).await;
    assert_eq!(last.status, 200, "{}", last.raw);
    assert_eq!(last.body["items"].as_array().map(Vec::len), Some(0));

    let default_tier = h.get("acme", &format!("{TASKS}?filter.service_tier=default")).await;
    assert_eq!(default_tier.body["total"], 3, "default matches every task: {}", default_tier.raw);
    let flex = h.get("acme", &format!("{TASKS}?filter.service_tier=flex")).await;
    assert_eq!((flex.status, flex.body["total"].as_u64()), (200, Some(0)), "{}", flex.raw);

    // Repeated, as the SDK sends them, or comma separated; another tenant's id is just absent.
    let theirs = h.create("globex", "dreamina-seedance-2-0").await;
    let repeated = format!("{TASKS}?filter.task_ids={}&filter.task_ids={}&filter.task_ids={theirs}", ids[0], ids[2]);
    let r = h.get("acme", &repeated).await;
    assert_eq!(r.body["total"], 2, "{}", r.raw);
    let comma = format!("{TASKS}?filter.task_ids={}%2C{}", ids[0], ids[1]);
    assert_eq!(h.get("acme", &comma).await.body["total"], 2);
}

#[tokio::test]
async fn channel_refusals_are_503_and_name_nothing_of_the_account() {
    let h = Harness::start().await;
    // The revoked channel's key and access key are refused upstream, with messages naming them.
    let r = h.post("locked", TASKS, &support::harness::minimal_task("dreamina-seedance-2-0")).await;
    assert_eq!(r.status, 503, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "channel_not_available");
    let a = h
        .post(
            "locked",
            "/volcark/?Action=CreateAssetGroup&Version=2024-01-01",
            &json!({"model": "dreamina-seedance-2-0", "Name": "g"}),
        )
        .await;
    assert_eq!(a.status, 503, "{}", a.raw);
    assert_eq!(a.body["ResponseMetadata"]["Error"]["Code"], "channel_not_available");
    assert_eq!(a.body["ResponseMetadata"]["Action"], "CreateAssetGroup");
    // A model the channel's account has not activated is the channel's problem too; the
    // upstream's message names the account.
    let m = h.post("unopened", TASKS, &support::harness::minimal_task("dreamina-seedance-2-0")).await;
    assert_eq!(m.status, 503, "{}", m.raw);
    assert_eq!(m.body["error"]["code"], "channel_not_available");

    for raw in [&r.raw, &a.raw, &m.raw] {
        for secret in [
            REVOKED_KEY,
            &REVOKED_KEY[..8],
            REVOKED_AK,
            h.fake.config().account_id.as_str(),
            "AuthenticationError",
            "InvalidAccessKey",
            "ModelNotOpen",
            "unopened-260128",
        ] {
            assert!(!raw.contains(secret), "{secret} in {raw}");
        }
    }
    let metrics = h.metrics();
    for line in [
        r#"seedance_channel_refusals_total{channel="revoked",reason="credentials"} 2"#,
        r#"seedance_channel_refusals_total{channel="unopened",reason="model"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn seedance_2_fields_and_content_rules_are_checked_before_the_upstream() {
    let h = Harness::start().await;
    let base = |extra: Value| {
        let mut b = support::harness::minimal_task("dreamina-seedance-2-0");
        if let (Value::Object(b), Value::Object(e)) = (&mut b, extra) {
            b.extend(e);
        }
        b
    };
    let img =
        |role: &str| json!({"type": "image_url", "role": role, "image_url": {"url": "https://93.184.216.34/a.png"}});
    let cases = [
        (base(json!({"frames": 121})), "frames"),
        (base(json!({"tools": [{"type": "web_search"}]})), "tools"),
        (base(json!({"camera_fixed": true})), "camera_fixed"),
        (base(json!({"draft": true})), "draft"),
        (base(json!({"service_tier": "flex"})), "service_tier"),
        (base(json!({"content": [img("first_frame"), img("first_frame")]})), "content[1]"),
        (base(json!({"content": [img("first_frame"), img("reference_image")]})), "content[0]"),
        (
            base(
                json!({"content": [{"type": "audio_url", "role": "reference_audio", "audio_url": {"url": "https://93.184.216.34/a.wav"}}]}),
            ),
            "content[0]",
        ),
        (
            base(json!({"content": [{"type": "image_url", "image_url": {"url": "https://10.1.2.3/a.png"}}]})),
            "content[0]",
        ),
        (
            base(json!({"content": [{"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest"}}]})),
            "content[0]",
        ),
        // A host that resolves to a private address (the DNS stub's rebinding name).
        (
            base(json!({"content": [{"type": "image_url", "image_url": {"url": "https://private.example/a.png"}}]})),
            "content[0]",
        ),
    ];
    for (body, param) in cases {
        let r = h.post("acme", TASKS, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "invalid_request");
        assert_eq!(r.body["error"]["param"], param, "{}", r.raw);
    }
    assert_eq!(h.fake.creates(), 0, "nothing reached the upstream");
    // The no-op values are accepted and not forwarded.
    let ok = base(json!({"camera_fixed": false, "draft": false, "service_tier": "default"}));
    let r = h.post("acme", TASKS, &ok).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let sent = h.fake.requests().into_iter().rfind(|r| r.method == "POST" && r.path.ends_with("/tasks")).unwrap();
    let sent: Value = serde_json::from_slice(&sent.body).unwrap();
    for dropped in ["camera_fixed", "draft", "service_tier"] {
        assert!(sent.get(dropped).is_none(), "{dropped} forwarded: {sent}");
    }
}

#[tokio::test]
async fn a_deleted_succeeded_task_is_billed_on_completion_tokens() {
    let h = Harness::start().await;
    let id = h.create("acme", "dreamina-seedance-2-0-fast").await;
    h.finish(&id, "succeeded", 40_594, "480p");
    let g = h.get("acme", &task_path(&id)).await;
    assert_eq!(g.body["usage"]["completion_tokens"], 40_594, "{}", g.raw);
    let rec = h.edge.store.task("acme", &id).await.unwrap().as_deref().cloned().unwrap();
    let s = rec.settlement.expect("settled");
    assert_eq!(s.tokens, 40_594);
    // 40594 tokens at 5.6 USD per million, in nano-USD.
    assert_eq!(s.usd_nanos, 227_326_400);
}

/// A client that writes its whole over-limit body without `Expect: 100-continue` and only then
/// reads: it must read the 413, not a reset.
#[tokio::test]
async fn an_over_limit_body_written_whole_still_reads_its_413() {
    let h = Harness::start_with(Options { max_body_bytes: 1 << 20, ..Options::default() }).await;
    let addr = h.base.trim_start_matches("http://").to_string();
    let token = support::harness::token("acme");
    for chunked in [false, true] {
        let (addr, token) = (addr.clone(), token.clone());
        let answer =
            tokio::task::spawn_blocking(move || write_whole_then_read(&addr, &token, 8 << 20, chunked)).await.unwrap();
        let answer = answer.unwrap_or_else(|e| panic!("chunked={chunked}: {e}"));
        assert!(answer.starts_with("HTTP/1.1 413"), "chunked={chunked}: {answer}");
        assert!(answer.contains("payload_too_large"), "{answer}");
    }
}

fn write_whole_then_read(addr: &str, token: &str, size: usize, chunked: bool) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
    s.set_write_timeout(Some(std::time::Duration::from_secs(20)))?;
    let framing = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {size}") };
    write!(
        s,
        "POST {TASKS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    )?;
    let block = vec![b' '; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        if chunked {
            write!(s, "{n:x}\r\n")?;
        }
        s.write_all(&block[..n])?;
        if chunked {
            s.write_all(b"\r\n")?;
        }
        left -= n;
    }
    if chunked {
        s.write_all(b"0\r\n\r\n")?;
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
