//! Request bodies: several hundred KiB of inline base64 media reach the upstream complete and
//! rewritten (past pingora's 64 KiB retry buffer), `Expect: 100-continue` costs no stall, and a
//! body over `limits.max_body_bytes` is 413 without reaching the upstream.

use crate::support;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use support::harness::{token, Harness, Options, TASKS};

fn big_task(image_bytes: usize) -> Value {
    let image = format!("data:image/png;base64,{}", "QUJD".repeat(image_bytes / 4));
    json!({"model": "dreamina-seedance-2-0", "content": [
        {"type": "text", "text": "use image 1"},
        {"type": "image_url", "role": "first_frame", "image_url": {"url": image}}
    ], "duration": 5})
}

#[tokio::test]
async fn a_large_inline_image_arrives_complete_and_rewritten() {
    let h = Harness::start().await;
    let body = big_task(600 * 1024);
    let r = h.post("acme", TASKS, &body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let sent = h.fake.requests().into_iter().rev().find(|q| q.method == "POST").unwrap();
    assert!(sent.body.len() > 600 * 1024, "only {} bytes arrived", sent.body.len());
    let v: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(v["model"], "dreamina-seedance-2-0-260128");
    assert_eq!(v["content"][1]["image_url"]["url"], body["content"][1]["image_url"]["url"]);
    // The audit snapshot keeps the length, not the media.
    let id = r.body["id"].as_str().unwrap();
    let rec = h.edge.store.task("acme", id).await.unwrap().as_deref().cloned().unwrap();
    let snapshot = rec.upstream_request.unwrap();
    assert!(snapshot.len() < 10_000, "snapshot holds the media ({} bytes)", snapshot.len());
}

/// Raw HTTP/1.1 so the test controls `Expect` and sees exactly when the edge answers.
fn raw_exchange(addr: &str, head: &str, body: &[u8], wait_for_continue: bool) -> (String, Duration) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    if wait_for_continue {
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        let interim = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(interim.starts_with("HTTP/1.1 100"), "expected 100 Continue, got {interim:?}");
    }
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&out);
                if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                    let len = head.lines().find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    });
                    if len.is_some_and(|l| rest.len() >= l) {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    (String::from_utf8_lossy(&out).to_string(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_costs_no_stall() {
    let h = Harness::start().await;
    let addr = h.base.trim_start_matches("http://").to_string();
    let body = big_task(3000).to_string();
    let head = format!(
        "POST {TASKS} HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        token("acme"),
        body.len()
    );
    let (resp, took) =
        tokio::task::spawn_blocking(move || raw_exchange(&addr, &head, body.as_bytes(), true)).await.unwrap();
    assert!(resp.contains("200 OK"), "{resp}");
    assert!(took < Duration::from_millis(900), "100-continue stalled: {took:?}");
    assert_eq!(h.fake.creates(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413() {
    let opts = Options { max_body_bytes: 64 * 1024, ..Options::default() };
    let h = Harness::start_with(opts).await;
    // Declared too large: refused before reading.
    let r = h.post("acme", TASKS, &big_task(100 * 1024)).await;
    assert_eq!(r.status, 413, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "payload_too_large");
    // Chunked (no declared length): refused once the limit is crossed.
    let body = big_task(100 * 1024).to_string();
    let stream = futures_stream(body.into_bytes());
    let resp = h
        .client
        .post(format!("{}{TASKS}", h.base))
        .bearer_auth(token("acme"))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
    }
    assert_eq!(h.fake.creates(), 0);
}

fn futures_stream(data: Vec<u8>) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = data.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    tokio_stream::iter(chunks)
}

/// Reads one HTTP/1.1 response (head + Content-Length body) from `s`.
fn read_response(s: &mut std::net::TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).to_string();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if rest.len() >= len {
                return text;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&out).to_string(),
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_body_never_leaks_into_the_next_request_on_the_connection() {
    let h = Harness::start().await;
    let addr = h.base.trim_start_matches("http://").to_string();
    let token = token("acme");
    let creates = h.fake.creates();
    let result = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // A body that would be a request of its own if it were parsed as one.
        let smuggled = "GET /volcark/api/v3/contents/generations/tasks HTTP/1.1\r\nHost: x\r\n\r\n";
        let first = format!(
            "POST {TASKS} HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        );
        s.write_all(first.as_bytes()).unwrap();
        let one = read_response(&mut s);
        let second = format!("GET {TASKS} HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {token}\r\n\r\n");
        // The edge may close the connection after the rejection (then the client reconnects);
        // what it must never do is answer the body as a request.
        let two = match s.write_all(second.as_bytes()) {
            Ok(()) => read_response(&mut s),
            Err(_) => String::new(),
        };
        (one, two)
    })
    .await
    .unwrap();
    let (one, two) = result;
    assert!(one.starts_with("HTTP/1.1 401"), "{one}");
    assert!(two.is_empty() || two.starts_with("HTTP/1.1 200"), "the next answer on the connection: {two}");
    assert!(!two.contains("unauthorized"), "the body was parsed as a request: {two}");
    assert_eq!(h.fake.creates(), creates);
}
