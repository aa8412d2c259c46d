//! The TLS listener: a real `seedance-edge run` process serving HTTPS with a certificate made
//! for the test, spoken to by curl (HTTP/1.1 and HTTP/2), next to a plaintext listener.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::harness::token;
use support::wait;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-k", "-w", "\n%{http_code} %{http_version}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_string(), status.to_string())
}

#[test]
fn https_and_plaintext_listeners_serve_the_same_routes() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = support::tls_front::self_signed(dir.path());
    let (tls_port, plain_port) = (wait::free_port(), wait::free_port());
    let yaml = format!(
        r#"
listen:
  - addr: "127.0.0.1:{tls_port}"
    tls: {{ cert: "{cert}", key: "{key}" }}
  - addr: "127.0.0.1:{plain_port}"
store: {{ url: "memory://" }}
reconcile: {{ interval_ms: 100 }}
channels:
  - id: main
    task_base_url: "http://127.0.0.1:1"
    region: ap-southeast-1
    api_key: "${{TLS_TEST_KEY}}"
    models: {{ dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }}
tenants:
  - id: acme
    token_sha256: ["{sha}"]
    channels: [main]
"#,
        cert = cert.display(),
        key = key.display(),
        sha = seedance_edge::auth::token_sha256(&token("acme")),
    );
    let conf = dir.path().join("tls.yaml");
    std::fs::write(&conf, yaml).unwrap();
    let _edge = Proc(
        Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
            .args(["run", "--conf"])
            .arg(&conf)
            .env("TLS_TEST_KEY", "k")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start"),
    );
    let auth = format!("Authorization: Bearer {}", token("acme"));
    let list = format!("https://127.0.0.1:{tls_port}/volcark/api/v3/contents/generations/tasks");
    let up = wait::until_sync("the TLS listener serves the tenant", Duration::from_secs(20), || {
        curl(&["-H", &auth, &list]).1.starts_with("200")
    });
    assert!(up, "HTTPS list never answered 200");
    let (body, status) = curl(&["--http2", "-H", &auth, &list]);
    assert_eq!(status, "200 2", "HTTP/2 over TLS: {body}");
    assert!(body.contains("\"total\":0"), "{body}");
    let (body, status) = curl(&["--http1.1", &list]);
    assert_eq!(status, "401 1.1", "{body}");
    assert!(body.contains("unauthorized"));
    // A create over HTTP/2: the body is read whole from the h2 stream and validated; the channel
    // here is a closed port, so the answer is the upstream failure, not a body-reading error.
    let body = r#"{"model":"dreamina-seedance-2-0","content":[{"type":"text","text":"x"}],"duration":5}"#;
    let (answer, status) = curl(&["--http2", "-H", &auth, "-H", "content-type: application/json", "-d", body, &list]);
    assert_eq!(status, "502 2", "{answer}");
    assert!(answer.contains("upstream_error"), "{answer}");
    let (answer, status) =
        curl(&["--http2", "-H", &auth, "-H", "content-type: application/json", "-d", r#"{"model":"x"}"#, &list]);
    assert_eq!(status, "400 2", "{answer}");
    let plain = format!("http://127.0.0.1:{plain_port}/volcark/api/v3/contents/generations/tasks");
    assert!(curl(&["-H", &auth, &plain]).1.starts_with("200"));
}
