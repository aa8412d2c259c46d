//! Every callback-URL rule (syntax, special-use names, private and mixed DNS answers) through the
//! whole edge: real DNS answers from the loopback stub, and for every rejection the upstream's
//! create count is unchanged — nothing reaches BytePlus before the URL is judged.

use crate::support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::harness::{Harness, TASKS};

fn body_with(cb: Value) -> Value {
    json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "callback_url": cb})
}

async fn expect_rejected(h: &Harness, cb: Value) {
    let before = h.fake.creates();
    let r = h.post("acme", TASKS, &body_with(cb.clone())).await;
    assert_eq!(r.status, 400, "{cb}: {}", r.raw);
    assert_eq!(r.body["error"]["code"], "invalid_request", "{cb}");
    assert_eq!(r.body["error"]["param"], "callback_url", "{cb}: {}", r.raw);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| m.len() > 10), "{cb}: message for a person");
    assert_eq!(h.fake.creates(), before, "{cb}: reached the upstream");
}

async fn expect_accepted(h: &Harness, cb: Value, forwarded: &str) {
    let r = h.post("acme", TASKS, &body_with(cb.clone())).await;
    assert_eq!(r.status, 200, "{cb}: {}", r.raw);
    let sent: Value = serde_json::from_slice(&h.fake.requests().last().unwrap().body).unwrap();
    assert_eq!(sent["callback_url"], forwarded, "{cb}");
    assert!(sent.get("CallbackURL").is_none());
}

#[tokio::test]
async fn accepted_rows() {
    let h = Harness::start().await;
    expect_accepted(&h, json!("https://public.example/cb"), "https://public.example/cb").await; // 1
    expect_accepted(&h, json!("  https://public.example/cb \n"), "https://public.example/cb").await; // 2
    expect_accepted(&h, json!("https://public6.example/cb"), "https://public6.example/cb").await; // 3
    expect_accepted(&h, json!("https://dual.example/cb"), "https://dual.example/cb").await;
    expect_accepted(&h, json!("HTTPS://PUBLIC.EXAMPLE/cb"), "HTTPS://PUBLIC.EXAMPLE/cb").await; // 4
    expect_accepted(&h, json!("https://public.example./cb"), "https://public.example./cb").await; // 5
    expect_accepted(&h, json!("https://public.example:8443/cb"), "https://public.example:8443/cb").await; // 6
    expect_accepted(&h, json!("https://[2606:4700:4700::1111]/cb"), "https://[2606:4700:4700::1111]/cb").await; // 7
    expect_accepted(&h, json!("https://8.8.8.8/cb"), "https://8.8.8.8/cb").await;
    expect_accepted(&h, json!("https://172.15.255.255/cb"), "https://172.15.255.255/cb").await; // 16
    expect_accepted(&h, json!("https://172.32.0.0/cb"), "https://172.32.0.0/cb").await;
    expect_accepted(&h, json!("https://100.63.255.254/cb"), "https://100.63.255.254/cb").await; // 18
    expect_accepted(&h, json!("https://100.128.0.1/cb"), "https://100.128.0.1/cb").await;
    expect_accepted(&h, json!("https://big.example/cb"), "https://big.example/cb").await; // 54: TCP fallback
                                                                                          // Both A and AAAA were asked for the FQDN, never a search-list expansion.
    let q = h.dns.queries();
    assert!(q.iter().any(|(n, t)| n == "dual.example." && *t == 1));
    assert!(q.iter().any(|(n, t)| n == "dual.example." && *t == 28));
    assert!(q.iter().all(|(n, _)| n.ends_with(".example.")), "{q:?}");
}

#[tokio::test]
async fn callback_alias_rules() {
    let h = Harness::start().await;
    // 56: both present, CallbackURL private → callback_url wins, CallbackURL dropped unvalidated.
    let body = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}],
        "CallbackURL": "https://127.0.0.1/cb", "callback_url": "https://public.example/cb"});
    let r = h.post("acme", TASKS, &body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let sent: Value = serde_json::from_slice(&h.fake.requests().last().unwrap().body).unwrap();
    assert_eq!(sent["callback_url"], "https://public.example/cb");
    assert!(sent.get("CallbackURL").is_none());
    // CallbackURL alone is renamed, and judged.
    let body = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "CallbackURL": "https://public.example/x"});
    assert_eq!(h.post("acme", TASKS, &body).await.status, 200);
    let sent: Value = serde_json::from_slice(&h.fake.requests().last().unwrap().body).unwrap();
    assert_eq!(sent["callback_url"], "https://public.example/x");
    let body = json!({"model": "dreamina-seedance-2-0", "content": [{"type": "text", "text": "x"}], "CallbackURL": "https://10.0.0.1/x"});
    let r = h.post("acme", TASKS, &body).await;
    assert_eq!(r.status, 400);
    // The audit snapshot records the callback as sent.
    let id = r.body["id"].as_str().map(str::to_string);
    assert!(id.is_none());
}

#[tokio::test]
async fn rejected_syntax_and_literal_rows() {
    let h = Harness::start().await;
    let rows: Vec<Value> = vec![
        json!(""),
        json!("   "),
        json!("\t\n"), // 8
        json!(42),
        json!(true),
        json!({}),
        json!([]), // 9
        json!("http://public.example/cb"),
        json!("ftp://public.example/"),
        json!("javascript:alert(1)"),
        json!("data:text/plain,x"),
        json!("file:///etc/passwd"),
        json!("wss://public.example/"), // 10
        json!("not a url"),
        json!("//public.example/cb"),
        json!("https://"),
        json!("https:///cb"), // 11
        json!("https:public.example/cb"),
        json!("https:/public.example/cb"),
        json!("https:\\\\public.example/cb"), // 12
        json!("https://127.0.0.1/cb"),
        json!("https://127.255.255.254/cb"),
        json!("https://[::1]/cb"),
        json!("https://[0:0:0:0:0:0:0:1]/cb"), // 13
        json!("https://0.0.0.0/cb"),
        json!("https://0/cb"),
        json!("https://0.1.2.3/cb"),
        json!("https://[::]/cb"), // 14
        json!("https://10.0.0.8/cb"),
        json!("https://172.16.3.4/cb"),
        json!("https://172.31.255.255/cb"),
        json!("https://192.168.0.1/cb"), // 15
        json!("https://100.64.0.1/cb"),
        json!("https://100.127.255.254/cb"),
        json!("https://100.100.100.200/cb"), // 17
        json!("https://169.254.169.254/latest/meta-data/"),
        json!("https://169.254.0.1/"), // 19
        json!("https://192.0.0.1/"),
        json!("https://192.0.0.9/"),
        json!("https://192.0.0.170/"), // 20
        json!("https://192.0.2.1/"),
        json!("https://198.51.100.1/"),
        json!("https://203.0.113.1/"), // 21
        json!("https://198.18.0.1/"),
        json!("https://198.19.255.255/"), // 22
        json!("https://224.0.0.1/"),
        json!("https://239.255.255.250/"), // 23
        json!("https://240.0.0.1/"),
        json!("https://255.255.255.255/"), // 24
        json!("https://192.88.99.1/"),
        json!("https://192.31.196.1/"),
        json!("https://192.175.48.1/"),
        json!("https://192.52.193.1/"), // 25
        json!("https://[::ffff:127.0.0.1]/"),
        json!("https://[::ffff:7f00:1]/"),
        json!("https://[::ffff:10.0.0.1]/"),
        json!("https://[::ffff:169.254.169.254]/"), // 26
        json!("https://[::127.0.0.1]/"),            // 27
        json!("https://[64:ff9b::a00:1]/"),
        json!("https://[64:ff9b::808:808]/"),
        json!("https://[64:ff9b:1::808:808]/"), // 28
        json!("https://[2002:a00:1::1]/"),
        json!("https://[2002:808:808::1]/"),                      // 29
        json!("https://[2001:0:4136:e378:8000:63bf:3f57:fdf2]/"), // 30
        json!("https://[fc00::5]/"),
        json!("https://[fd00::1]/"),
        json!("https://[fd00:ec2::254]/"), // 31
        json!("https://[fe80::1]/"),
        json!("https://[febf:ffff::1]/"),
        json!("https://[fe80::1%25eth0]/"), // 32
        json!("https://[fec0::1]/"),        // 33
        json!("https://[ff02::1]/"),
        json!("https://[ff0e::1]/"), // 34
        json!("https://[2001:db8::1]/"),
        json!("https://[3fff::1]/"),
        json!("https://[2001:2::1]/"),
        json!("https://[100::1]/"),
        json!("https://[100:0:0:1::1]/"),
        json!("https://[5f00::1]/"),
        json!("https://[2620:4f:8000::1]/"), // 35
        json!("https://2130706433/"),
        json!("https://0x7f000001/"),
        json!("https://0177.0.0.1/"),
        json!("https://127.1/"),
        json!("https://017700000001/"),
        json!("https://0x7f.0x0.0x0.0x1/"), // 36
        json!("https://0x08080808/"),
        json!("https://134744072/"), // 37
        json!("https://①②⑦.⓪.⓪.①/"),
        json!("https://127。0。0。1/"),
        json!("https://%31%32%37.0.0.1/"),
        json!("https://ｌｏｃａｌｈｏｓｔ/"), // 38
        json!("https://user@public.example/"),
        json!("https://user:pass@public.example/"),
        json!("https://public.example@127.0.0.1/"),
        json!("https://127.0.0.1@public.example/"),
        json!("https://public.example%2F@127.0.0.1/"), // 39
        json!("https://public.example\\@127.0.0.1/"),  // 40
        json!("https://pub\tlic.example/"),
        json!("https://public.example/c\nb"),
        json!("https://public.example/\u{0000}"), // 41
        json!("https://public.example:0/"),       // 42
        json!("https://public.example:65536/"),
        json!("https://public.example:-1/"),
        json!("https://public.example:https/"), // 43
        json!("https://localhost/"),
        json!("https://LOCALHOST./"),
        json!("https://api.localhost/"), // 44
        json!("https://printer.local/"),
        json!("https://x.internal/"),
        json!("https://router.home.arpa/"),
        json!("https://x.onion/"), // 45
        json!(format!("https://{}.example/", "a".repeat(3000))),
        json!(format!("https://{}.example/", "b".repeat(64))),
        json!(format!("https://{}example/", "c.".repeat(300))), // 55
    ];
    for cb in rows {
        expect_rejected(&h, cb).await;
    }
}

#[tokio::test]
async fn rejected_dns_rows() {
    let h = Harness::start().await;
    for name in [
        "loopback",
        "private",
        "metadata",
        "cgnat",
        "doc",
        "bench",
        "mcast", // 46
        "mixed",
        "mixed6", // 47
        "v6only-private",
        "v4mapped",
        "compat",
        "nat64",
        "sixtofour",
        "teredo",
        "ula",
        "sitelocal", // 48
        "cname",     // 49
        "nxdomain",
        "norecords", // 50
        "aaaa-servfail",
        "aaaa-timeout", // 51
    ] {
        expect_rejected(&h, json!(format!("https://{name}.example/cb"))).await;
    }
}

#[tokio::test]
async fn resolution_is_bounded_in_time() {
    let h = Harness::start().await;
    for name in ["servfail", "slow", "aaaa-timeout"] {
        let started = Instant::now();
        expect_rejected(&h, json!(format!("https://{name}.example/cb"))).await;
        // dns.timeout_ms is 500 in the harness: the pair is bounded at 2 × 500 ms.
        assert!(started.elapsed() < Duration::from_millis(2500), "{name} took {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn rebinding_names_are_rechecked_every_time() {
    let h = Harness::start().await;
    let (mut accepted, mut rejected) = (0, 0);
    for _ in 0..20 {
        let before = h.fake.creates();
        let r = h.post("acme", TASKS, &body_with(json!("https://rebind.example/cb"))).await;
        match r.status {
            200 => accepted += 1,
            400 => {
                rejected += 1;
                assert_eq!(h.fake.creates(), before);
            }
            s => panic!("unexpected {s}: {}", r.raw),
        }
    }
    assert!(rejected >= 1, "a 127.0.0.1 answer was never seen: the cache hid it");
    assert!(accepted >= 1, "public answers were never accepted");
}
