//! Helpers for fake-ark's own tests: a tiny JSON client over loopback and an AK/SK signer written
//! independently of `fake_ark::sign` (straight from the reference's five steps), so that the
//! verifier is checked against a second implementation rather than against itself.
#![allow(dead_code)]

use fake_ark::{FakeArk, FakeArkConfig};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const KEY: &str = "sk-test-key";
pub const AK: &str = "AKTEST";
pub const SK: &str = "SKTEST-secret";
/// The configured key pair, in the simulator's region.
pub const SIGNING_KEY: Key<'static> = Key { ak: AK, sk: SK, region: "ap-southeast-1" };
pub const TASKS: &str = "/api/v3/contents/generations/tasks";
pub const MODEL: &str = "dreamina-seedance-2-0-260128";
pub const FAST: &str = "dreamina-seedance-2-0-fast-260128";

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub raw: String,
    pub body: Value,
}

pub struct Fake {
    pub ark: FakeArk,
    pub client: reqwest::Client,
}

pub async fn start(cfg: FakeArkConfig) -> Fake {
    let cfg = FakeArkConfig { api_keys: vec![KEY.into()], credentials: vec![(AK.into(), SK.into())], ..cfg };
    Fake { ark: FakeArk::start(cfg).await.unwrap(), client: reqwest::Client::new() }
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let raw = r.text().await.unwrap();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Answer { status, headers, raw, body }
}

impl Fake {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.ark.base_url())
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let mut rb = self.client.request(method, self.url(path)).bearer_auth(KEY);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        answer(rb.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates a task and returns its id.
    pub async fn create(&self, body: &Value) -> String {
        let a = self.send(reqwest::Method::POST, TASKS, Some(body)).await;
        assert_eq!(a.status, 200, "{}", a.raw);
        a.body["id"].as_str().unwrap().to_string()
    }

    pub async fn task(&self, id: &str) -> Answer {
        self.get(&format!("{TASKS}/{id}")).await
    }

    /// Calls an Action signed with `key` at `now` (Unix seconds), with `query` as sent.
    pub async fn action_signed(&self, query: &str, body: &Value, key: Key<'_>, now: u64) -> Answer {
        let body = body.to_string();
        let host = self.ark.addr().to_string();
        let mut rb = self.client.post(self.url(&format!("/?{query}"))).body(body.clone());
        let req =
            ToSign { method: "POST", host: &host, query, content_type: "application/json", body: body.as_bytes() };
        for (k, v) in sign(&req, &key, now) {
            rb = rb.header(k, v);
        }
        answer(rb.send().await.unwrap()).await
    }

    /// Calls `Action` (Version 2024-01-01) signed with the right credentials, now.
    pub async fn action(&self, action: &str, body: &Value) -> Answer {
        self.action_signed(&format!("Action={action}&Version=2024-01-01"), body, SIGNING_KEY, unix_now()).await
    }
}

// The simulator's clock module is private to it; these tests read the clock on their own, as a
// client signing a request would.
#[allow(clippy::disallowed_methods)]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// UTC `YYYYMMDDTHHMMSSZ` by counting days through years and months (a different method from
/// fake-ark's own date arithmetic, on purpose).
pub fn x_date(secs: u64) -> String {
    let mut days = secs / 86_400;
    let rem = secs % 86_400;
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let mut year = 1970;
    while days >= if leap(year) { 366 } else { 365 } {
        days -= if leap(year) { 366 } else { 365 };
        year += 1;
    }
    let lengths = [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 0;
    while days >= lengths[month] {
        days -= lengths[month];
        month += 1;
    }
    format!("{year:04}{:02}{:02}T{:02}{:02}{:02}Z", month + 1, days + 1, rem / 3600, rem % 3600 / 60, rem % 60)
}

fn mac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn rfc3986(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a test request signs; `query` is taken as already-unescaped `k=v&k=v` pairs.
pub struct ToSign<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub query: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
}

/// A key pair and the region it signs for.
#[derive(Clone, Copy)]
pub struct Key<'a> {
    pub ak: &'a str,
    pub sk: &'a str,
    pub region: &'a str,
}

/// The headers that sign a request.
pub fn sign(req: &ToSign<'_>, key: &Key<'_>, now: u64) -> Vec<(&'static str, String)> {
    let ToSign { method, host, query, content_type, body } = *req;
    let Key { ak, sk, region } = *key;
    let date_time = x_date(now);
    let date = &date_time[..8];
    let body_hash = hex::encode(Sha256::digest(body));
    let mut q: Vec<(String, String)> =
        query.split('&').map(|p| p.split_once('=').unwrap_or((p, ""))).map(|(k, v)| (rfc3986(k), rfc3986(v))).collect();
    q.sort();
    let canonical_query = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let signed_headers = "content-type;host;x-content-sha256;x-date";
    let canonical = [
        method.to_string(),
        "/".to_string(),
        canonical_query,
        format!("content-type:{content_type}\nhost:{host}\nx-content-sha256:{body_hash}\nx-date:{date_time}\n"),
        signed_headers.to_string(),
        body_hash.clone(),
    ]
    .join("\n");
    let scope = format!("{date}/{region}/ark/request");
    let to_sign = format!("HMAC-SHA256\n{date_time}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let k = mac(sk.as_bytes(), date);
    let k = mac(&k, region);
    let k = mac(&k, "ark");
    let k = mac(&k, "request");
    let signature = hex::encode(mac(&k, &to_sign));
    vec![
        ("Content-Type", content_type.to_string()),
        ("X-Date", date_time),
        ("X-Content-Sha256", body_hash),
        (
            "Authorization",
            format!("HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"),
        ),
    ]
}

pub fn minimal(model: &str) -> Value {
    let content = serde_json::json!([{"type": "text", "text": "a paper boat"}]);
    serde_json::json!({"model": model, "content": content, "duration": 4, "resolution": "480p"})
}
