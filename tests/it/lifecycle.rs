//! The process's signals against the real binary: SIGHUP reloads the file (a bad file
//! is refused and the old one keeps serving), SIGTERM drains (`/readyz` 503 while an in-flight
//! request still finishes), SIGQUIT + `run --upgrade` hands the sockets over with no refused
//! connection. Client loops are bounded in count and time.

use crate::support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::harness::{minimal_task, token, CHANNEL_KEY, TASKS};
use support::node::{sample, Node};
use support::wait;

const FAST: &str = "dreamina-seedance-2-0-fast: dreamina-seedance-2-0-fast-260128";

/// A configuration without `listen`/`admin` (the node adds them): tenant acme on channel main.
fn body(store: &str, upstream: &str, server: &str) -> String {
    format!(
        r#"store: {{ url: "{store}", prefix: sde }}
reconcile: {{ interval_ms: 200 }}
server: {{ threads: 2, {server} }}
channels:
  - id: main
    task_base_url: "{upstream}"
    region: ap-southeast-1
    api_key: "${{NODE_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128, {FAST} }}
tenants:
  - {{ id: acme, token_sha256: ["{sha}"], channels: [main] }}
"#,
        sha = seedance_edge::auth::token_sha256(&token("acme"))
    )
}

const ENV: [(&str, &str); 1] = [("NODE_TEST_KEY", CHANNEL_KEY)];

/// A simulator that knows the channel's key and leaves tasks queued.
async fn fake_ark() -> fake_ark::FakeArk {
    let cfg = fake_ark::FakeArkConfig { api_keys: vec![CHANNEL_KEY.to_string()], ..fake_ark::FakeArkConfig::held() };
    fake_ark::FakeArk::start(cfg).await.expect("fake-ark starts")
}

/// Lists tasks as `tenant` until `stop` (at most `max` requests or 30 s): (requests, failures),
/// failures being transport errors and non-200 answers, with the first few described.
async fn client_loop(
    client: reqwest::Client,
    url: String,
    tenant: &'static str,
    stop: Arc<AtomicBool>,
    max: usize,
) -> (usize, Vec<String>) {
    let (mut sent, mut failures) = (0, Vec::new());
    let end = Instant::now() + Duration::from_secs(30);
    while !stop.load(Ordering::Acquire) && sent < max && Instant::now() < end {
        sent += 1;
        match client.get(&url).bearer_auth(token(tenant)).send().await {
            Ok(r) if r.status() == 200 => {}
            Ok(r) => failures.push(format!("status {}", r.status())),
            Err(e) => failures.push(format!("transport: {e:?}")),
        }
    }
    (sent, failures)
}

async fn status(client: &reqwest::Client, url: &str, tenant: &str) -> Option<u16> {
    client.get(url).bearer_auth(token(tenant)).send().await.ok().map(|r| r.status().as_u16())
}

async fn create(base: &str, model: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}{TASKS}"))
        .bearer_auth(token("acme"))
        .json(&minimal_task(model))
        .send()
        .await
        .expect("edge answers");
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn reloads(node: &Node, result: &str) -> f64 {
    sample(&node.scrape(None).await, &format!("seedance_config_reloads_total{{result=\"{result}\"}}")).unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_changed_file_without_failing_a_request() {
    let fake = fake_ark().await;
    let dir = tempfile::tempdir().unwrap();
    let node =
        Node::start_yaml(dir.path(), "hup", &body("memory://", &fake.base_url(), "grace_period_seconds: 0"), &ENV)
            .await;
    let client = reqwest::Client::new();
    let list = format!("{}{TASKS}", node.base);
    assert_eq!(reloads(&node, "ok").await, 0.0, "the series is there from the start");
    assert_eq!(status(&client, &list, "beta").await, Some(401), "beta is not a tenant yet");
    let (code, created) = create(&node.base, "dreamina-seedance-2-0-fast").await;
    assert_eq!(code, 200, "fast is mapped: {created}");

    let stop = Arc::new(AtomicBool::new(false));
    let looping = tokio::spawn(client_loop(client.clone(), list.clone(), "acme", stop.clone(), 5000));
    let beta = format!(
        "  - {{ id: beta, token_sha256: [\"{}\"], channels: [main] }}\n",
        seedance_edge::auth::token_sha256(&token("beta"))
    );
    let text = std::fs::read_to_string(&node.conf).unwrap();
    std::fs::write(&node.conf, text.replace(&format!(", {FAST}"), "") + &beta).unwrap();
    node.signal("HUP");
    let applied = wait::until("beta's token works", Duration::from_secs(10), || async {
        status(&client, &list, "beta").await == Some(200)
    })
    .await;
    stop.store(true, Ordering::Release);
    let (sent, failures) = looping.await.unwrap();
    assert!(applied, "the reload never applied: {}", node.log_text());
    assert!(sent > 0 && failures.is_empty(), "{sent} requests across the reload, failures: {failures:?}");

    let (code, body) = create(&node.base, "dreamina-seedance-2-0-fast").await;
    assert_ne!(code, 200, "the removed mapping still serves: {body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    assert_eq!(reloads(&node, "ok").await, 1.0);
    assert_eq!(reloads(&node, "error").await, 0.0);
}

#[tokio::test]
async fn sighup_refuses_an_invalid_file_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_yaml(
        dir.path(),
        "badhup",
        &body("memory://", "http://127.0.0.1:1", "grace_period_seconds: 0"),
        &ENV,
    )
    .await;
    let text = std::fs::read_to_string(&node.conf).unwrap();
    std::fs::write(&node.conf, text.replace("channels: [main]", "channels: [nowhere]")).unwrap();
    node.signal("HUP");
    let refused = wait::until("the reload is refused", Duration::from_secs(10), || async {
        reloads(&node, "error").await == 1.0
    })
    .await;
    assert!(refused, "no refused reload counted: {}", node.log_text());
    assert_eq!(reloads(&node, "ok").await, 0.0);
    assert_eq!(node.list_tasks().await, 200, "the old configuration still serves");
    let log = node.log_text();
    assert!(log.contains("config reload refused") && log.contains("tenants[0].channels[0]"), "{log}");
}

#[tokio::test]
async fn sigterm_reports_not_ready_and_finishes_the_request_in_flight() {
    let fake = fake_ark().await;
    let dir = tempfile::tempdir().unwrap();
    let server = "grace_period_seconds: 4, drain_delay_seconds: 1";
    let mut node = Node::start_yaml(dir.path(), "term", &body("memory://", &fake.base_url(), server), &ENV).await;
    fake.fault_next_create("delay:2500".parse().unwrap());
    let base = node.base.clone();
    let slow = tokio::spawn(async move { create(&base, "dreamina-seedance-2-0").await });
    let in_flight = wait::until("the create is in flight", Duration::from_secs(5), || async {
        sample(&node.scrape(None).await, "seedance_requests_in_flight").unwrap_or(0.0) >= 1.0
    })
    .await;
    assert!(in_flight);

    node.signal("TERM");
    let client = reqwest::Client::new();
    let readyz = format!("{}/readyz", node.admin);
    let not_ready = wait::until("/readyz answers 503", Duration::from_secs(1), || async {
        matches!(client.get(&readyz).send().await, Ok(r) if r.status() == 503)
    })
    .await;
    assert!(not_ready, "/readyz did not turn 503 on SIGTERM: {}", node.log_text());
    assert!(!slow.is_finished(), "the slow request was meant to be in flight during the drain");

    let (code, body) = slow.await.unwrap();
    assert_eq!(code, 200, "the in-flight create was cut off: {body}");
    let exit = node.wait_exit(Duration::from_secs(20)).await;
    assert!(exit.is_some_and(|s| s.success()), "no clean exit after the drain: {exit:?}");
}

/// One HTTP/1.1 request on `conn`, its response read to the end of its body: (status line,
/// head). Empty when the edge closed the connection without answering.
async fn exchange(conn: &mut tokio::net::TcpStream, request: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if conn.write_all(request.as_bytes()).await.is_err() {
        return (String::new(), String::new());
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let read = tokio::time::timeout(Duration::from_millis(500), conn.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&got);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| rest.len() >= n) {
                return (head.lines().next().unwrap_or_default().to_string(), head.to_string());
            }
        }
    }
    let text = String::from_utf8_lossy(&got).to_string();
    (text.lines().next().unwrap_or_default().to_string(), text)
}

/// A keep-alive connection idle when the listeners stop accepting is still answered if its next
/// request comes within the settle time (half the grace period): Pingora alone closed every
/// connection waiting for a request at that instant, so a client that had just connected, or
/// had just reused its connection, lost its request with no answer.
#[tokio::test]
async fn a_request_on_a_connection_open_when_the_listeners_stop_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = "grace_period_seconds: 4, drain_delay_seconds: 0";
    let mut node = Node::start_yaml(dir.path(), "settle", &body("memory://", "http://127.0.0.1:1", server), &ENV).await;
    let request =
        format!("GET {TASKS}?page_size=1 HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {}\r\n\r\n", token("acme"));
    let mut conn = tokio::net::TcpStream::connect(&node.listen_addr).await.unwrap();
    let (status, head) = exchange(&mut conn, &request).await;
    assert!(status.contains(" 200 "), "before the stop: {head:?} {}", node.log_text());

    node.signal("TERM");
    let addr = node.listen_addr.clone();
    let stopped = wait::until("the listener stops accepting", Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(&addr).await.is_err()
    })
    .await;
    assert!(stopped, "the listener kept accepting: {}", node.log_text());
    let (status, head) = exchange(&mut conn, &request).await;
    assert!(status.contains(" 200 "), "the idle connection's request after the stop: {status:?} {}", node.log_text());
    let closing = head.to_ascii_lowercase().contains("connection: close");
    assert!(closing, "answered while shutting down: {head} {}", node.log_text());
    let exit = node.wait_exit(Duration::from_secs(20)).await;
    assert!(exit.is_some_and(|s| s.success()), "no clean exit: {exit:?}");
}

// Two workers: the client loop must keep running while the test waits for the handover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigquit_hands_the_sockets_to_an_upgraded_process() {
    let redis = support::redis::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("upgrade.sock");
    let server = format!("grace_period_seconds: 1, upgrade_sock: \"{}\"", sock.display());
    let mut old = Node::start_yaml(dir.path(), "old", &body(&redis.url(), "http://127.0.0.1:1", &server), &ENV).await;
    // A fresh connection per request: what is tested is that the listening socket never stops
    // accepting; an idle keep-alive connection closed by the old process is ordinary HTTP/1.1.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let list = format!("{}{TASKS}", old.base);
    let looping = tokio::spawn(client_loop(client.clone(), list.clone(), "acme", stop.clone(), 20_000));

    let new = old.spawn_upgrade(dir.path(), "new");
    let waiting =
        wait::until("the new process waits for the sockets", Duration::from_secs(10), || async { sock.exists() }).await;
    assert!(waiting, "no upgrade socket: {}", new.log_text());
    old.signal("QUIT");
    let exit = old.wait_exit(Duration::from_secs(25)).await;
    stop.store(true, Ordering::Release);
    let (sent, failures) = looping.await.unwrap();
    assert!(exit.is_some(), "the old process did not exit: {}", old.log_text());
    // Thousands when the loop really ran through the handover (the old process lives ~6 s after
    // SIGQUIT); a handful would mean it stalled and proved nothing.
    assert!(sent >= 200 && failures.is_empty(), "{sent} requests across the upgrade, failures: {failures:?}");
    for _ in 0..3 {
        assert_eq!(status(&client, &list, "acme").await, Some(200), "the new process serves: {}", new.log_text());
    }
    let ready = client.get(format!("{}/readyz", new.admin)).send().await.map(|r| r.status().as_u16()).ok();
    assert_eq!(ready, Some(200), "the admin socket moved too");
}

/// The SHA-256 fingerprint of the certificate a TLS listener presents now (openssl CLI).
fn served_fingerprint(port: u16) -> String {
    let script = format!(
        "openssl s_client -connect 127.0.0.1:{port} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    );
    let out = std::process::Command::new("bash").arg("-c").arg(script).output().expect("bash");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn file_fingerprint(cert: &std::path::Path) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A certificate rotated on disk is presented after SIGHUP, on the same listener; a broken one
/// is refused and the one in use stays.
#[tokio::test]
async fn sighup_reloads_rotated_tls_certificates() {
    let fake = fake_ark().await;
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    let (cert_a, key_a) = support::tls_front::self_signed(&first);
    let (cert_b, key_b) = support::tls_front::self_signed(&second);
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::copy(&cert_a, &cert).unwrap();
    std::fs::copy(&key_a, &key).unwrap();
    let port = wait::free_port();
    let listener = format!(
        "{{ addr: \"127.0.0.1:{port}\", tls: {{ cert: \"{}\", key: \"{}\" }} }}",
        cert.display(),
        key.display()
    );
    let body = body("memory://", &fake.base_url(), "grace_period_seconds: 0");
    let node = Node::start_yaml_with_listener(dir.path(), "certs", &body, &ENV, &listener).await;
    let (fp_a, fp_b) = (file_fingerprint(&cert_a), file_fingerprint(&cert_b));
    assert_ne!(fp_a, fp_b);
    assert_eq!(served_fingerprint(port), fp_a);

    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    node.signal("HUP");
    let rotated =
        wait::until_sync("the new certificate is served", Duration::from_secs(10), || served_fingerprint(port) == fp_b);
    assert!(rotated, "still serving the old certificate: {}", node.log_text());

    // A broken rotation (the key of another certificate) is refused; the listener keeps B.
    std::fs::copy(&key_a, &key).unwrap();
    node.signal("HUP");
    let refused = wait::until("the refusal is logged", Duration::from_secs(10), || async {
        node.log_text().contains("TLS certificate reload refused")
    })
    .await;
    assert!(refused, "{}", node.log_text());
    assert_eq!(served_fingerprint(port), fp_b, "the certificate in use stays");
}
