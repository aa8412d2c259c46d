//! Verification of the Volcengine/BytePlus HMAC-SHA256 request signature, as the real OpenAPI
//! gateway does it, so a signing bug in the edge is a test failure rather than a surprise in
//! production. Written from the published algorithm (reference `byteplus-upstream.md`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// How long a signature's `X-Date` stays acceptable either side of now.
const MAX_SKEW_SECS: i64 = 15 * 60;

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No or unreadable `Authorization`.
    Missing(String),
    UnknownKey(String),
    Mismatch(String),
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; this arm is unreachable in practice.
        Err(_) => Vec::new(),
    }
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 encoding: unreserved characters stay, everything else is %XX (uppercase).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k)), uri_encode(&percent_decode(v)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Seconds since the epoch of an `X-Date` (`YYYYMMDDTHHMMSSZ`).
fn parse_x_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Checks a request's signature. `headers` are (lowercase name, value); `secret_of` looks up a
/// secret by access key id.
pub fn verify(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    now_secs: i64,
    secret_of: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Refusal> {
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim().to_string());
    let auth = header("authorization").ok_or_else(|| Refusal::Missing("no Authorization header".into()))?;
    let rest =
        auth.strip_prefix("HMAC-SHA256 ").ok_or_else(|| Refusal::Missing("Authorization is not HMAC-SHA256".into()))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(|| Refusal::Missing(format!("bad part {part:?}")))?;
        match k {
            "Credential" => credential = Some(v.to_string()),
            "SignedHeaders" => signed_headers = Some(v.to_string()),
            "Signature" => signature = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(Refusal::Missing("Credential, SignedHeaders and Signature are required".into()));
    };
    let mut scope = credential.splitn(2, '/');
    let ak = scope.next().unwrap_or_default().to_string();
    let scope = scope.next().ok_or_else(|| Refusal::Missing("Credential has no scope".into()))?.to_string();
    let sk = secret_of(&ak).ok_or_else(|| Refusal::UnknownKey(ak.clone()))?;
    let parts: Vec<&str> = scope.split('/').collect();
    if parts.len() != 4 || parts[3] != "request" {
        return Err(Refusal::Mismatch(format!("bad credential scope {scope:?}")));
    }
    let x_date = header("x-date").ok_or_else(|| Refusal::Mismatch("X-Date missing".into()))?;
    let when = parse_x_date(&x_date).ok_or_else(|| Refusal::Mismatch(format!("X-Date {x_date:?} unreadable")))?;
    if (when - now_secs).abs() > MAX_SKEW_SECS || !x_date.starts_with(parts[0]) {
        return Err(Refusal::Mismatch("X-Date is too far from now or outside the scope's date".into()));
    }
    let body_hash = sha_hex(body);
    if let Some(claimed) = header("x-content-sha256") {
        if claimed != body_hash {
            return Err(Refusal::Mismatch("X-Content-Sha256 does not match the body".into()));
        }
    }
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = header(name).ok_or_else(|| Refusal::Mismatch(format!("signed header {name} is missing")))?;
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical =
        format!("{method}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{body_hash}", canonical_query(query));
    let to_sign = format!("HMAC-SHA256\n{x_date}\n{scope}\n{}", sha_hex(canonical.as_bytes()));
    let k_date = hmac(sk.as_bytes(), parts[0].as_bytes());
    let k_region = hmac(&k_date, parts[1].as_bytes());
    let k_service = hmac(&k_region, parts[2].as_bytes());
    let k_signing = hmac(&k_service, b"request");
    let expected = hex::encode(hmac(&k_signing, to_sign.as_bytes()));
    if expected != signature {
        return Err(Refusal::Mismatch("the request signature does not match".into()));
    }
    Ok(ak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_encoding() {
        assert_eq!(parse_x_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_x_date("20260102T030405Z"), Some(1_767_323_045));
        assert_eq!(parse_x_date("2026-01-02"), None);
        assert_eq!(uri_encode("a b/~é"), "a%20b%2F~%C3%A9");
        assert_eq!(canonical_query("Version=2024-01-01&Action=GetAsset"), "Action=GetAsset&Version=2024-01-01");
    }
}
