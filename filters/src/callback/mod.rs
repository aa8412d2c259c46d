//! Callback and asset URLs: the syntax rules and the address classifier. The
//! shell resolves domain hosts (A and AAAA, separately) and hands the answers back to
//! [`judge_addresses`]; everything here is pure.

pub mod ip_policy;
pub mod url;

pub use self::url::{check_url, CheckedUrl, UrlHost};
pub use ip_policy::{classify, Verdict};

use crate::error::ApiError;
use std::net::IpAddr;

/// Every resolved address must be public, and there must be at least one: the upstream may pick
/// any of them when it calls back.
pub fn judge_addresses(field: &str, host: &str, addrs: &[IpAddr]) -> Result<(), ApiError> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if addrs.is_empty() {
        return Err(ApiError::invalid(field, format!("{field} host {host} does not resolve to any address")));
    }
    for ip in addrs {
        if let Verdict::Blocked(why) = classify(*ip) {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{field} host {host} resolves to {ip}, a {why} address; every address of the host must be public"
                ),
            ));
        }
    }
    Ok(())
}

/// A resolution that failed (SERVFAIL, timeout, one family erroring) is a rejection too: the
/// edge cannot vouch for a host it could not fully resolve.
pub fn unresolvable(field: &str, host: &str, detail: &str) -> ApiError {
    let host = host.strip_suffix('.').unwrap_or(host);
    ApiError::invalid(field, format!("{field} host {host} could not be resolved ({detail}); check the name, or retry"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn ok(v: Value) -> CheckedUrl {
        check_url("callback_url", &v, false).unwrap_or_else(|e| panic!("{v}: {}", e.message))
    }

    fn rejected(v: Value) -> String {
        let e = check_url("callback_url", &v, false).expect_err(&v.to_string());
        assert_eq!(e.param.as_deref(), Some("callback_url"), "{v}");
        assert!(e.message.starts_with("callback_url"), "{v}: {}", e.message);
        e.message
    }

    #[test]
    fn accepted_rows() {
        assert_eq!(ok(json!("https://public.example/cb")).host, UrlHost::Domain("public.example.".into()));
        assert_eq!(ok(json!("  https://public.example/cb \n")).url, "https://public.example/cb");
        assert_eq!(ok(json!("HTTPS://PUBLIC.EXAMPLE/cb")).host, UrlHost::Domain("public.example.".into()));
        assert_eq!(ok(json!("https://public.example./cb")).host, UrlHost::Domain("public.example.".into()));
        ok(json!("https://public.example:8443/cb"));
        assert_eq!(ok(json!("https://8.8.8.8/cb")).host, UrlHost::Ip("8.8.8.8".parse().unwrap()));
        ok(json!("https://[2606:4700:4700::1111]/cb"));
        ok(json!("https://172.15.255.255/cb"));
        ok(json!("https://100.128.0.1/cb"));
        ok(json!("https://-bad-.example/"));
        ok(json!("https://public.example/path?q=1#frag@x"));
        assert!(check_url("URL", &json!("http://public.example/a.png"), true).is_ok());
    }

    #[test]
    fn rejected_rows() {
        let long = format!("https://{}.example/", "a".repeat(3000));
        let label = format!("https://{}.example/", "b".repeat(64));
        let many = format!("https://{}example/", "c.".repeat(300));
        for v in [
            json!(""),
            json!("   "),
            json!("\t\n"),
            json!(42),
            json!(true),
            json!(null),
            json!({}),
            json!([]),
            json!("http://public.example/cb"),
            json!("ftp://public.example/"),
            json!("javascript:alert(1)"),
            json!("data:text/plain,x"),
            json!("file:///etc/passwd"),
            json!("wss://public.example/"),
            json!("not a url"),
            json!("//public.example/cb"),
            json!("https://"),
            json!("https:///cb"),
            json!("https:public.example/cb"),
            json!("https:/public.example/cb"),
            json!("https:\\\\public.example/cb"),
            json!("https://127.0.0.1/cb"),
            json!("https://[::1]/cb"),
            json!("https://[0:0:0:0:0:0:0:1]/cb"),
            json!("https://0.0.0.0/cb"),
            json!("https://0/cb"),
            json!("https://0.1.2.3/cb"),
            json!("https://[::]/cb"),
            json!("https://10.0.0.8/cb"),
            json!("https://172.31.255.255/cb"),
            json!("https://100.100.100.200/cb"),
            json!("https://169.254.169.254/latest/meta-data/"),
            json!("https://192.0.0.9/"),
            json!("https://224.0.0.1/"),
            json!("https://255.255.255.255/"),
            json!("https://[::ffff:127.0.0.1]/"),
            json!("https://[::ffff:7f00:1]/"),
            json!("https://[::127.0.0.1]/"),
            json!("https://[64:ff9b::808:808]/"),
            json!("https://[2002:808:808::1]/"),
            json!("https://[fe80::1%25eth0]/"),
            json!("https://[fec0::1]/"),
            json!("https://[ff0e::1]/"),
            json!("https://2130706433/"),
            json!("https://0x7f000001/"),
            json!("https://0177.0.0.1/"),
            json!("https://127.1/"),
            json!("https://017700000001/"),
            json!("https://0x7f.0x0.0x0.0x1/"),
            json!("https://0x08080808/"),
            json!("https://134744072/"),
            json!("https://127.0.0.1./"),
            json!("https://①②⑦.⓪.⓪.①/"),
            json!("https://127。0。0。1/"),
            json!("https://%31%32%37.0.0.1/"),
            json!("https://ｌｏｃａｌｈｏｓｔ/"),
            json!("https://user@public.example/"),
            json!("https://user:pass@public.example/"),
            json!("https://public.example@127.0.0.1/"),
            json!("https://127.0.0.1@public.example/"),
            json!("https://public.example%2F@127.0.0.1/"),
            json!("https://public.example\\@127.0.0.1/"),
            json!("https://pub\tlic.example/"),
            json!("https://public.example/c\nb"),
            json!("https://public.example/\u{0000}"),
            json!("https://public.example:0/"),
            json!("https://public.example:65536/"),
            json!("https://public.example:-1/"),
            json!("https://public.example:https/"),
            json!("https://localhost/"),
            json!("https://LOCALHOST./"),
            json!("https://api.localhost/"),
            json!("https://printer.local/"),
            json!("https://x.internal/"),
            json!("https://router.home.arpa/"),
            json!("https://x.onion/"),
            json!(long),
            json!(label),
            json!(many),
        ] {
            rejected(v);
        }
    }

    #[test]
    fn messages_say_what_is_wrong() {
        assert!(rejected(json!("http://public.example/")).contains("must use https"));
        assert!(rejected(json!("https://10.1.2.3/")).contains("private-use (RFC 1918)"));
        assert!(rejected(json!("https://u@public.example/")).contains("user information"));
        assert!(rejected(json!(5)).contains("must be a string"));
        assert!(rejected(json!(" ")).contains("must not be empty"));
    }

    #[test]
    fn judging_resolved_addresses() {
        let a = |s: &str| -> IpAddr { s.parse().unwrap() };
        assert!(
            judge_addresses("callback_url", "public.example.", &[a("93.184.216.34"), a("2606:2800:220:1::1")]).is_ok()
        );
        let e =
            judge_addresses("callback_url", "mixed.example.", &[a("93.184.216.34"), a("192.168.1.10")]).unwrap_err();
        assert!(e.message.contains("192.168.1.10") && e.message.contains("mixed.example"), "{}", e.message);
        assert!(judge_addresses("callback_url", "norecords.example.", &[]).is_err());
        let e = unresolvable("URL", "x.example.", "SERVFAIL");
        assert_eq!(e.param.as_deref(), Some("URL"));
        assert!(e.message.contains("x.example") && !e.message.contains("x.example."));
    }
}
