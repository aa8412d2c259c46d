//! AK/SK request signing for the asset Actions (Volcengine / BytePlus "HMAC-SHA256"). The asset
//! OpenAPI does not take the channel's Bearer API key; every Action is signed with the channel's
//! access key pair instead. Pure and synchronous: the caller passes the clock, so the signature
//! is reproducible in tests.
//!
//! It reads the one [`UpstreamRequest`] the client sends and the [`Endpoint`] it goes to, so the
//! method, path, query, `Host`, `Content-Type` and body that are signed are the ones on the wire.

use super::{Endpoint, UpstreamRequest};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// The algorithm name, in the string to sign and the `Authorization` header.
const ALGORITHM: &str = "HMAC-SHA256";
/// Always these four, sorted: the gateway recomputes the canonical request from them.
const SIGNED_HEADERS: &str = "content-type;host;x-content-sha256;x-date";

/// A channel's key pair and where it signs for. Borrowed, so the secret is never copied into
/// a longer-lived value than the channel's own configuration.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    /// E.g. `ap-southeast-1`; part of the credential scope.
    pub region: &'a str,
    /// `ark` for the asset Actions; part of the credential scope.
    pub service: &'a str,
}

/// Written by hand so a logged `Credentials` never shows the secret.
impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish()
    }
}

/// Signs `req` as sent to `endpoint` and returns the headers to add: `X-Date`,
/// `X-Content-Sha256` and `Authorization`, in that order.
///
/// The path is the endpoint's base path and the request's (`""` is taken as `/`); the query
/// pairs are RFC 3986-encoded and sorted for the canonical request, so their order cannot change
/// the signature. `Host` is the endpoint's authority and `Content-Type` the request's: the
/// caller must send exactly those. A `now` before 1970 is signed as 1970-01-01 (the gateway then
/// refuses it as stale rather than the edge panicking).
pub fn sign(
    req: &UpstreamRequest,
    endpoint: &Endpoint,
    creds: &Credentials<'_>,
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let x_date = x_date(now);
    let date = &x_date[..8];
    let body_hash = hex::encode(Sha256::digest(req.body_bytes()));
    let path = endpoint.path(&req.path);
    let path = if path.is_empty() { "/" } else { path.as_str() };

    let canonical_headers = format!(
        "content-type:{}\nhost:{}\nx-content-sha256:{body_hash}\nx-date:{x_date}\n",
        req.content_type.trim(),
        endpoint.authority().trim()
    );
    let canonical_request = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{SIGNED_HEADERS}\n{body_hash}",
        req.method.as_str(),
        canonical_query(&req.query_pairs())
    );
    let scope = format!("{date}/{}/{}/request", creds.region, creds.service);
    let string_to_sign =
        format!("{ALGORITHM}\n{x_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));

    let k_date = hmac(creds.secret_access_key.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, creds.region.as_bytes());
    let k_service = hmac(&k_region, creds.service.as_bytes());
    let k_signing = hmac(&k_service, b"request");
    let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));

    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
        creds.access_key_id
    );
    vec![("X-Date", x_date), ("X-Content-Sha256", body_hash), ("Authorization", authorization)]
}

/// HMAC-SHA256. HMAC accepts keys of any length, so the error arm cannot happen; it yields an
/// all-zero MAC (a signature the gateway refuses) instead of a panic on the request path.
fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// Pairs encoded, then sorted by key and value, joined `k=v&k=v` — the same order whatever order
/// the caller lists them in.
fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (uri_encode(k), uri_encode(v))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// RFC 3986: `A-Z a-z 0-9 - _ . ~` stay, every other byte of the UTF-8 form is `%XX` (upper
/// case), so a space is `%20`, never `+`.
pub(super) fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC, clamped to 1970 below and to the calendar's end above.
fn x_date(now: SystemTime) -> String {
    let at = match Timestamp::try_from(now) {
        Ok(t) => t.max(Timestamp::UNIX_EPOCH),
        Err(_) if now < SystemTime::UNIX_EPOCH => Timestamp::UNIX_EPOCH,
        Err(_) => Timestamp::MAX,
    };
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::super::{Method, UpstreamRoute};
    use super::*;
    use bytes::Bytes;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const CREDS: Credentials<'static> = Credentials {
        access_key_id: "AKLTtestaccesskey0001",
        secret_access_key: "c2VjcmV0LWtleS1mb3ItdGVzdHM=",
        region: "ap-southeast-1",
        service: "ark",
    };

    /// One signing input; tests change one field of [`Case::base`] at a time.
    #[derive(Clone)]
    struct Case {
        method: Method,
        base_url: &'static str,
        path: &'static str,
        query: Vec<(&'static str, &'static str)>,
        content_type: &'static str,
        body: &'static [u8],
        creds: Credentials<'static>,
        now: u64,
    }

    impl Case {
        fn base() -> Case {
            Case {
                method: Method::Post,
                base_url: "https://h",
                path: "/",
                query: vec![("A", "1")],
                content_type: "application/json",
                body: b"{}",
                creds: CREDS,
                now: 100,
            }
        }

        fn sign(&self) -> Vec<(&'static str, String)> {
            let req = UpstreamRequest {
                route: UpstreamRoute::Action,
                method: self.method,
                path: self.path.to_string(),
                query: self.query.iter().map(|(k, v)| (*k, v.to_string())).collect(),
                content_type: self.content_type,
                body: Some(Bytes::from_static(self.body)),
            };
            sign(&req, &Endpoint::parse(self.base_url, None).unwrap(), &self.creds, at(self.now))
        }

        fn authorization(&self) -> String {
            header(&self.sign(), "Authorization")
        }
    }

    fn header(signed: &[(&'static str, String)], name: &str) -> String {
        signed.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()).unwrap()
    }

    /// Expected values computed independently with Python's `hmac`/`hashlib` from the same
    /// inputs (2026-01-02T03:04:05Z = 1767323045):
    ///
    /// ```text
    /// body   = b'{"Filter":{"GroupType":"AIGC"},"PageSize":10,"ProjectName":"default"}'
    /// query  = [("Version","2024-01-01"),("Action","ListAssetGroups"),("Note","a b/c~é")]
    /// host   = "ark.ap-southeast-1.byteplusapi.com", path "/", POST, application/json
    /// canonical query = Action=ListAssetGroups&Note=a%20b%2Fc~%C3%A9&Version=2024-01-01
    /// ```
    #[test]
    fn independent_test_vector() {
        let signed = Case {
            base_url: "https://ark.ap-southeast-1.byteplusapi.com",
            query: vec![("Version", "2024-01-01"), ("Action", "ListAssetGroups"), ("Note", "a b/c~é")],
            body: br#"{"Filter":{"GroupType":"AIGC"},"PageSize":10,"ProjectName":"default"}"#,
            now: 1_767_323_045,
            ..Case::base()
        }
        .sign();
        let names: Vec<&str> = signed.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["X-Date", "X-Content-Sha256", "Authorization"]);
        assert_eq!(header(&signed, "X-Date"), "20260102T030405Z");
        assert_eq!(
            header(&signed, "X-Content-Sha256"),
            "2507fd54f3d1f270eb8528a5a8c0794cdf9f2363642b187036776f2ecc7c0b4b"
        );
        assert_eq!(
            header(&signed, "Authorization"),
            "HMAC-SHA256 Credential=AKLTtestaccesskey0001/20260102/ap-southeast-1/ark/request, \
             SignedHeaders=content-type;host;x-content-sha256;x-date, \
             Signature=0572d739c39d124d214562bf20d0282289679f1ddc76754c841978fa6cd7bf65"
        );
    }

    /// The official Volcengine example (volcengine.com/docs/6369/67270): IAM ListUsers, signed with
    /// the published test key pair. The signer is the same algorithm for every service.
    #[test]
    fn official_volcengine_vector() {
        let signed = Case {
            method: Method::Get,
            base_url: "https://iam.volcengineapi.com",
            query: vec![("Action", "ListUsers"), ("Version", "2018-01-01"), ("Limit", "10"), ("Offset", "0")],
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            body: b"",
            creds: Credentials {
                access_key_id: "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
                secret_access_key: "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==",
                region: "cn-north-1",
                service: "iam",
            },
            now: 1_609_316_285,
            ..Case::base()
        }
        .sign();
        assert_eq!(header(&signed, "X-Date"), "20201230T081805Z");
        let auth = header(&signed, "Authorization");
        assert!(auth.ends_with("Signature=28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7"), "{auth}");
        assert!(auth.starts_with(
            "HMAC-SHA256 Credential=AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE/20201230/cn-north-1/iam/request, "
        ));
    }

    /// The reference's Ark-shaped vector (test secret `TESTSECRETKEY`).
    #[test]
    fn ark_shaped_vector() {
        let signed = Case {
            base_url: "https://ark.ap-southeast-1.byteplusapi.com",
            query: vec![("Action", "ListAssetGroups"), ("Version", "2024-01-01")],
            body: br#"{"Filter":{"GroupType":"AIGC"},"PageNumber":1,"PageSize":10}"#,
            creds: Credentials { access_key_id: "AKTEST", secret_access_key: "TESTSECRETKEY", ..CREDS },
            now: 1_774_656_000, // 2026-03-28T00:00:00Z
            ..Case::base()
        }
        .sign();
        assert_eq!(header(&signed, "X-Date"), "20260328T000000Z");
        let auth = header(&signed, "Authorization");
        assert!(auth.ends_with("Signature=36819b48f6137ea667365f47600a124b69bb2b155bd2d9746152e438d9b563de"), "{auth}");
    }

    #[test]
    fn query_order_and_empty_path_do_not_change_the_signature() {
        let sign = |path: &'static str, query: &[(&'static str, &'static str)]| {
            Case { path, query: query.to_vec(), now: 0, ..Case::base() }.authorization()
        };
        let a = sign("/", &[("Action", "GetAsset"), ("Version", "2024-01-01")]);
        assert_eq!(a, sign("/", &[("Version", "2024-01-01"), ("Action", "GetAsset")]));
        assert_eq!(a, sign("", &[("Action", "GetAsset"), ("Version", "2024-01-01")]));
        assert_ne!(a, sign("/", &[("Action", "GetAssetGroup"), ("Version", "2024-01-01")]));
        assert_ne!(a, sign("/x", &[("Action", "GetAsset"), ("Version", "2024-01-01")]));
    }

    #[test]
    fn every_signed_input_changes_the_signature() {
        let base = Case::base();
        let a = base.authorization();
        assert_eq!(a, base.authorization(), "deterministic");
        let changed = [
            Case { method: Method::Get, ..Case::base() },
            Case { base_url: "https://h2", ..Case::base() },
            Case { base_url: "https://h/prefix", ..Case::base() },
            Case { query: vec![("A", "2")], ..Case::base() },
            Case { content_type: "text/plain", ..Case::base() },
            Case { body: b"{ }", ..Case::base() },
            Case { now: 101, ..Case::base() },
            Case { creds: Credentials { secret_access_key: "other", ..CREDS }, ..Case::base() },
            Case { creds: Credentials { region: "cn-beijing", ..CREDS }, ..Case::base() },
            Case { creds: Credentials { service: "cv", ..CREDS }, ..Case::base() },
        ];
        for case in changed {
            assert_ne!(a, case.authorization());
        }
        let b = Case { creds: Credentials { access_key_id: "AK2", ..CREDS }, ..Case::base() }.authorization();
        assert!(b.starts_with("HMAC-SHA256 Credential=AK2/19700101/ap-southeast-1/ark/request, "), "{b}");
        assert_eq!(
            a.rsplit_once("Signature=").unwrap().1,
            b.rsplit_once("Signature=").unwrap().1,
            "the AK is not keyed"
        );
    }

    #[test]
    fn query_encoding_is_rfc3986() {
        assert_eq!(uri_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(uri_encode("a b"), "a%20b");
        assert_eq!(uri_encode("a+b"), "a%2Bb");
        assert_eq!(uri_encode("é"), "%C3%A9");
        assert_eq!(uri_encode("日本"), "%E6%97%A5%E6%9C%AC");
        assert_eq!(uri_encode("😀"), "%F0%9F%98%80");
        assert_eq!(uri_encode("!*'();:@&=+$,/?#[]%"), "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D%25");
        assert_eq!(uri_encode(""), "");
        assert_eq!(
            canonical_query(&[("b", "2"), ("a", "x y"), ("a", "1"), ("k=", "&")]),
            "a=1&a=x%20y&b=2&k%3D=%26",
            "sorted by encoded key, then value"
        );
        assert_eq!(canonical_query(&[]), "");
    }

    #[test]
    fn x_date_formats_utc() {
        assert_eq!(x_date(at(0)), "19700101T000000Z");
        assert_eq!(x_date(at(1_767_323_045)), "20260102T030405Z");
        assert_eq!(x_date(at(951_782_400)), "20000229T000000Z", "leap day of a century leap year");
        assert_eq!(x_date(at(4_107_542_399)), "21000228T235959Z", "2100 is not a leap year");
        assert_eq!(x_date(at(4_107_542_400)), "21000301T000000Z");
        assert_eq!(x_date(at(1_704_067_199)), "20231231T235959Z");
        assert_eq!(x_date(at(1_704_067_199) + Duration::from_millis(999)), "20231231T235959Z", "truncated");
        assert_eq!(x_date(at(253_402_207_199)), "99991230T215959Z");
        assert_eq!(x_date(UNIX_EPOCH - Duration::from_secs(5)), "19700101T000000Z", "before 1970 clamps");
    }

    #[test]
    fn debug_redacts_the_secret() {
        let s = format!("{CREDS:?}");
        assert!(s.contains("AKLTtestaccesskey0001") && !s.contains(CREDS.secret_access_key), "{s}");
    }
}
