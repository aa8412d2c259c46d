//! What an SRE sees from a real `seedance-edge` process: label values from closed sets
//! whatever a client sends (an unknown method is `other`, unauthenticated or not), client text
//! escaped in the access log, the build, process, in-flight and store-latency metrics, every
//! known series present at zero, and `/metrics` behind the admin token while the probes stay open.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::harness::{token, TASKS};
use support::node::{families, sample, Node, NodeConf};
use support::wait;

/// Sends raw bytes as one HTTP/1.1 exchange and returns the status line's code (the client
/// libraries refuse to send the odd methods this needs).
fn raw_status(addr: &str, request: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request).ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split(' ').nth(1)?.parse().ok()
}

#[tokio::test]
async fn unknown_methods_are_other_and_are_logged_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), "methods", NodeConf::default()).await;
    let odd = "X'Q|Z%&!";
    let requests = [
        // Unauthenticated, as the issue describes: no token, an invented method.
        format!("XQZ1 {TASKS} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"),
        // Authenticated: a valid tenant does not get to mint series either.
        format!(
            "XQZ1 {TASKS}/cgt-1 HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            token("acme")
        ),
        // Every byte HTTP allows in a method that is not a letter or digit and not safe in a log.
        format!("{odd} {TASKS} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"),
        // Methods are case-sensitive: `get` is not GET.
        format!("get {TASKS} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"),
    ];
    for r in &requests {
        let status = raw_status(&node.listen_addr, r.as_bytes());
        assert!(matches!(status, Some(400 | 401)), "{r:?} answered {status:?}");
    }
    // A control byte or a quote is not a method: the HTTP parser refuses those before the module.
    for method in [&b"X\x01Q"[..], b"X\"Q", b"X\x7fQ", b"X\xc3\xa9"] {
        let mut r = method.to_vec();
        r.extend_from_slice(format!(" {TASKS} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n").as_bytes());
        assert_eq!(raw_status(&node.listen_addr, &r), Some(400), "{method:?}");
    }

    let page = node.scrape(None).await;
    assert!(!page.contains("XQZ1") && !page.contains("X'Q") && !page.contains(r#"method="get""#), "{page}");
    let other = |route: &str, status: &str| {
        sample(&page, &format!(r#"seedance_requests_total{{method="other",route="{route}",status="{status}"}}"#))
    };
    // Exactly the four requests above: the parser's refusals left nothing behind.
    assert_eq!(other("unknown", "401"), Some(3.0), "{page}");
    assert_eq!(other("unknown", "400"), Some(1.0), "the authenticated XQZ1 is a 400 no-route: {page}");
    for line in page.lines().filter(|l| l.starts_with("seedance_requests_total{")) {
        let method = line.split("method=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
        assert!(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other"].contains(&method), "{line}");
        let status = line.split("status=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
        assert!(status.len() == 3 || status == "other", "{line}");
    }

    // The access line shows what was sent, escaped: no raw quote, pipe or space from the client.
    let logged = wait::until("four access lines", Duration::from_secs(10), || async {
        node.log_text().matches("route=unknown").count() >= 4
    })
    .await;
    let log = node.log_text();
    assert!(logged, "{log}");
    assert!(log.contains("method=XQZ1 status=401"), "{log}");
    assert!(log.contains(r"method=X\x27Q\x7cZ\x25\x26\x21 status=401"), "{log}");
    assert!(!log.contains(odd), "the odd method reached the log raw: {log}");
    assert!(log.contains("tenant=acme route=unknown method=XQZ1 status=400"), "{log}");
}

#[tokio::test]
async fn a_fresh_node_exports_build_process_in_flight_store_latency_and_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), "fresh", NodeConf::default()).await;
    assert_eq!(node.list_tasks().await, 200);
    // The answer reaches the client before the logging phase counts the request out.
    let settled = support::wait::until("the request is counted out", std::time::Duration::from_secs(5), || async {
        sample(&node.scrape(None).await, "seedance_requests_in_flight") == Some(0.0)
    })
    .await;
    assert!(settled, "seedance_requests_in_flight never returned to 0");
    let page = node.scrape(None).await;

    let commit = seedance_edge::metrics::commit();
    let build = format!(r#"seedance_build_info{{commit="{commit}",version="{}"}}"#, env!("CARGO_PKG_VERSION"));
    assert_eq!(sample(&page, &build), Some(1.0), "{page}");
    // A checkout with git knows its commit; the binary must say the same one.
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(out) = git {
        if std::env::var("SEEDANCE_GIT_COMMIT").is_err() {
            assert_eq!(commit, String::from_utf8_lossy(&out.stdout).trim(), "build_info names the checked-out commit");
        }
    }

    let names = families(&page);
    for n in
        ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"]
    {
        assert!(names.iter().any(|x| x == n), "{n} missing: {names:?}");
    }
    assert_eq!(sample(&page, "seedance_requests_in_flight"), Some(0.0), "{page}");
    let auth_lookups = sample(&page, r#"seedance_store_duration_seconds_count{op="token_tenant"}"#).unwrap_or(0.0);
    assert!(auth_lookups >= 1.0, "the request's token lookup was timed: {page}");
    assert!(sample(&page, r#"seedance_store_duration_seconds_count{op="task_page"}"#).unwrap_or(0.0) >= 1.0);

    // Series that alerts divide by exist before anything went wrong.
    for code in seedance_filters::ErrorCode::ALL {
        let s = format!(r#"seedance_rejections_total{{code="{}"}}"#, code.as_str());
        assert_eq!(sample(&page, &s), Some(0.0), "{s}");
    }
    for op in seedance_edge::store::metered::STORE_OPS {
        assert_eq!(sample(&page, &format!(r#"seedance_store_errors_total{{op="{op}"}}"#)), Some(0.0), "{op}");
    }
    for s in [
        r#"seedance_requests_total{method="POST",route="create_task",status="502"}"#,
        r#"seedance_requests_total{method="GET",route="get_task",status="503"}"#,
        r#"seedance_channel_refusals_total{channel="main",reason="account"}"#,
        r#"seedance_upstream_requests_total{channel="main",route="get",status="connect_error"}"#,
    ] {
        assert_eq!(sample(&page, s), Some(0.0), "{s}\n{page}");
    }
    assert_eq!(sample(&page, r#"seedance_requests_total{method="GET",route="list_tasks",status="200"}"#), Some(1.0));
}

#[tokio::test]
async fn in_flight_counts_a_request_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), "inflight", NodeConf::default()).await;
    // A create whose body never finishes arriving: the request is in flight until the client
    // gives up.
    let mut s = TcpStream::connect(&node.listen_addr).unwrap();
    let head = format!(
        "POST {TASKS} HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"mo",
        token("acme")
    );
    s.write_all(head.as_bytes()).unwrap();
    let gauge = || async { sample(&node.scrape(None).await, "seedance_requests_in_flight") };
    let held = wait::until("one request in flight", Duration::from_secs(10), || async { gauge().await == Some(1.0) });
    assert!(held.await, "the held request is not counted");
    drop(s);
    let released = wait::until("none in flight", Duration::from_secs(10), || async { gauge().await == Some(0.0) });
    assert!(released.await, "the ended request is still counted");
}

#[tokio::test]
async fn the_admin_token_guards_metrics_and_leaves_the_probes_open() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, "adm-0123456789abcdef\n").unwrap();
    let extra = format!(r#"bearer_token_file: "{}""#, token_file.display());
    let node = Node::start(dir.path(), "guarded", NodeConf { admin_extra: &extra, ..NodeConf::default() }).await;
    let client = reqwest::Client::new();
    let get = |path: &str, auth: Option<&str>| {
        let mut rb = client.get(format!("{}{path}", node.admin));
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        async move { rb.send().await.unwrap() }
    };
    assert_eq!(get("/healthz", None).await.status(), 200);
    assert_eq!(get("/readyz", None).await.status(), 200);
    let refused = get("/metrics", None).await;
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")));
    let body = refused.text().await.unwrap();
    assert!(!body.contains("seedance_"), "{body}");
    for wrong in
        ["Bearer adm-0123456789abcdeX", "Bearer adm-0123456789abcdef0", "Basic adm-0123456789abcdef", "Bearer "]
    {
        assert_eq!(get("/metrics", Some(wrong)).await.status(), 401, "{wrong}");
    }
    let page = node.scrape(Some("adm-0123456789abcdef")).await;
    assert!(page.contains("seedance_build_info"), "{page}");
    assert_eq!(
        get("/metrics", Some("bearer adm-0123456789abcdef")).await.status(),
        200,
        "the scheme is case-insensitive"
    );
    assert!(!node.log_text().contains("adm-0123456789abcdef"), "the admin token reached the log");
}

#[tokio::test]
async fn an_unreadable_admin_token_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("edge.yaml");
    let missing = dir.path().join("no-such-token");
    std::fs::write(
        &conf,
        format!(
            r#"
listen: [{{ addr: "127.0.0.1:{}" }}]
admin: {{ addr: "127.0.0.1:{}", bearer_token_file: "{}" }}
store: {{ url: "memory://" }}
"#,
            wait::free_port(),
            wait::free_port(),
            missing.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["run", "--conf"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success(), "started without its admin token");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin.bearer_token_file") && err.contains("no-such-token"), "{err}");
}
