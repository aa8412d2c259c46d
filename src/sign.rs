//! AK/SK request signing for the asset Actions (Volcengine / BytePlus "HMAC-SHA256", reference
//! `byteplus-upstream.md`). The asset OpenAPI does not take the channel's Bearer API key; every
//! Action is signed with the channel's access key pair instead. Pure and synchronous: the caller
//! passes the clock, so the signature is reproducible in tests.
//!
//! Not here: which headers are sent (the caller adds the returned ones next to `Content-Type`
//! and `Host`, which must carry the same values that were signed).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Signs one request and returns the headers to add: `X-Date`, `X-Content-Sha256` and
/// `Authorization`, in that order.
///
/// `path` is the request path as sent (`""` is taken as `/`); `query` holds unencoded key/value
/// pairs, which are RFC 3986-encoded and sorted for the canonical request, so the caller's own
/// encoding of the URL cannot change the signature. `host` and `content_type` must be the exact
/// `Host` and `Content-Type` values that go on the wire: both are signed. A `now` before 1970
/// is signed as 1970-01-01 (the gateway then refuses it as stale rather than the edge panicking).
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    method: &str,
    host: &str,
    path: &str,
    query: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
    creds: &Credentials<'_>,
    now: SystemTime,
) -> Vec<(&'static str, String)> {
    let x_date = x_date(now);
    let date = &x_date[..8];
    let body_hash = hex::encode(Sha256::digest(body));
    let path = if path.is_empty() { "/" } else { path };

    let canonical_headers = format!(
        "content-type:{}\nhost:{}\nx-content-sha256:{body_hash}\nx-date:{x_date}\n",
        content_type.trim(),
        host.trim()
    );
    let canonical_request = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{SIGNED_HEADERS}\n{body_hash}",
        method.to_ascii_uppercase(),
        canonical_query(query)
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
fn uri_encode(s: &str) -> String {
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

/// `YYYYMMDD'T'HHMMSS'Z'` in UTC. Done by hand (days → civil date) to avoid a date crate for
/// one format.
fn x_date(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    const CREDS: Credentials<'static> = Credentials {
        access_key_id: "AKLTtestaccesskey0001",
        secret_access_key: "c2VjcmV0LWtleS1mb3ItdGVzdHM=",
        region: "ap-southeast-1",
        service: "ark",
    };

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
        let body = br#"{"Filter":{"GroupType":"AIGC"},"PageSize":10,"ProjectName":"default"}"#;
        let query = [("Version", "2024-01-01"), ("Action", "ListAssetGroups"), ("Note", "a b/c~é")];
        let signed = sign_request(
            "POST",
            "ark.ap-southeast-1.byteplusapi.com",
            "/",
            &query,
            "application/json",
            body,
            &CREDS,
            at(1_767_323_045),
        );
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
        let creds = Credentials {
            access_key_id: "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
            secret_access_key: "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==",
            region: "cn-north-1",
            service: "iam",
        };
        let query = [("Action", "ListUsers"), ("Version", "2018-01-01"), ("Limit", "10"), ("Offset", "0")];
        let signed = sign_request(
            "GET",
            "iam.volcengineapi.com",
            "/",
            &query,
            "application/x-www-form-urlencoded; charset=utf-8",
            b"",
            &creds,
            at(1_609_316_285),
        );
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
        let creds = Credentials { access_key_id: "AKTEST", secret_access_key: "TESTSECRETKEY", ..CREDS };
        let body = br#"{"Filter":{"GroupType":"AIGC"},"PageNumber":1,"PageSize":10}"#;
        let query = [("Action", "ListAssetGroups"), ("Version", "2024-01-01")];
        let date = 1_774_656_000; // 2026-03-28T00:00:00Z
        let signed = sign_request(
            "POST",
            "ark.ap-southeast-1.byteplusapi.com",
            "/",
            &query,
            "application/json",
            body,
            &creds,
            at(date),
        );
        assert_eq!(header(&signed, "X-Date"), "20260328T000000Z");
        let auth = header(&signed, "Authorization");
        assert!(auth.ends_with("Signature=36819b48f6137ea667365f47600a124b69bb2b155bd2d9746152e438d9b563de"), "{auth}");
    }

    #[test]
    fn query_order_and_empty_path_do_not_change_the_signature() {
        let sign = |path: &str, q: &[(&str, &str)]| {
            header(&sign_request("POST", "h", path, q, "application/json", b"{}", &CREDS, at(0)), "Authorization")
        };
        let a = sign("/", &[("Action", "GetAsset"), ("Version", "2024-01-01")]);
        assert_eq!(a, sign("/", &[("Version", "2024-01-01"), ("Action", "GetAsset")]));
        assert_eq!(a, sign("", &[("Action", "GetAsset"), ("Version", "2024-01-01")]));
        assert_ne!(a, sign("/", &[("Action", "GetAssetGroup"), ("Version", "2024-01-01")]));
        assert_ne!(a, sign("/x", &[("Action", "GetAsset"), ("Version", "2024-01-01")]));
    }

    #[test]
    fn every_signed_input_changes_the_signature() {
        let base = || sign_request("POST", "h", "/", &[("A", "1")], "application/json", b"{}", &CREDS, at(100));
        let sig = |s: Vec<(&'static str, String)>| header(&s, "Authorization");
        let a = sig(base());
        assert_eq!(a, sig(base()), "deterministic");
        assert_ne!(a, sig(sign_request("GET", "h", "/", &[("A", "1")], "application/json", b"{}", &CREDS, at(100))));
        assert_ne!(a, sig(sign_request("POST", "h2", "/", &[("A", "1")], "application/json", b"{}", &CREDS, at(100))));
        assert_ne!(a, sig(sign_request("POST", "h", "/", &[("A", "2")], "application/json", b"{}", &CREDS, at(100))));
        assert_ne!(a, sig(sign_request("POST", "h", "/", &[("A", "1")], "text/plain", b"{}", &CREDS, at(100))));
        assert_ne!(a, sig(sign_request("POST", "h", "/", &[("A", "1")], "application/json", b"{ }", &CREDS, at(100))));
        assert_ne!(a, sig(sign_request("POST", "h", "/", &[("A", "1")], "application/json", b"{}", &CREDS, at(101))));
        for creds in [
            Credentials { secret_access_key: "other", ..CREDS },
            Credentials { region: "cn-beijing", ..CREDS },
            Credentials { service: "cv", ..CREDS },
        ] {
            assert_ne!(
                a,
                sig(sign_request("POST", "h", "/", &[("A", "1")], "application/json", b"{}", &creds, at(100)))
            );
        }
        let other_ak = Credentials { access_key_id: "AK2", ..CREDS };
        let b = sig(sign_request("POST", "h", "/", &[("A", "1")], "application/json", b"{}", &other_ak, at(100)));
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
        assert_eq!(x_date(at(253_402_300_799)), "99991231T235959Z");
        assert_eq!(x_date(UNIX_EPOCH - Duration::from_secs(5)), "19700101T000000Z", "before 1970 clamps");
    }

    #[test]
    fn civil_dates_round_the_calendar() {
        // Every day for 1000 years agrees with a naive day-by-day walk.
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for days in 0..366_000u64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(m - 1) as usize];
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn debug_redacts_the_secret() {
        let s = format!("{CREDS:?}");
        assert!(s.contains("AKLTtestaccesskey0001") && !s.contains(CREDS.secret_access_key), "{s}");
    }
}
