//! The Volcengine / BytePlus OpenAPI request signature ("HMAC-SHA256", reference
//! `byteplus-upstream.md`), with which every asset Action is sent under the channel's AK/SK.
//! The secret never leaves this function: only the derived signature goes on the wire.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// The headers this signer covers, sorted, as the `SignedHeaders` list names them.
const SIGNED_HEADERS: &str = "content-type;host;x-content-sha256;x-date";

#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed, not even in a debug log.
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        // HMAC accepts keys of every length, so this cannot happen; an empty MAC would only
        // make the upstream refuse the request, never panic the edge.
        Err(_) => Vec::new(),
    }
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986: `A-Za-z0-9-_.~` stay, every other byte is `%XX` (space is `%20`, never `+`).
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

/// `YYYYMMDDTHHMMSSZ` in UTC.
pub fn x_date(now: SystemTime) -> String {
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Signs one request. Returns the headers to add (`X-Date`, `X-Content-Sha256`,
/// `Authorization`); the caller sends `Host` and `Content-Type` with exactly the values given.
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
    let body_hash = sha_hex(body);
    let mut pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (uri_encode(k), uri_encode(v))).collect();
    pairs.sort();
    let canonical_query = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_headers = format!(
        "content-type:{}\nhost:{}\nx-content-sha256:{body_hash}\nx-date:{x_date}\n",
        content_type.trim(),
        host.trim()
    );
    let canonical = format!("{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{SIGNED_HEADERS}\n{body_hash}");
    let scope = format!("{date}/{}/{}/request", creds.region, creds.service);
    let to_sign = format!("HMAC-SHA256\n{x_date}\n{scope}\n{}", sha_hex(canonical.as_bytes()));
    let k_date = hmac(creds.secret_access_key.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, creds.region.as_bytes());
    let k_service = hmac(&k_region, creds.service.as_bytes());
    let k_signing = hmac(&k_service, b"request");
    let signature = hex::encode(hmac(&k_signing, to_sign.as_bytes()));
    vec![
        ("X-Date", x_date),
        ("X-Content-Sha256", body_hash),
        (
            "Authorization",
            format!("HMAC-SHA256 Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}", creds.access_key_id),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Computed independently with Python's `hmac`/`hashlib` from these inputs (the script is in
    /// the commit that added this test): AK `AKTEST`, SK `SKTEST-secret`, region
    /// `ap-southeast-1`, service `ark`, 2026-01-02T03:04:05Z, `POST /?Action=CreateAssetGroup&
    /// Version=2024-01-01` to `ark.ap-southeast-1.byteplusapi.com`, JSON body below.
    #[test]
    fn reproduces_an_independent_vector() {
        let creds = Credentials { access_key_id: "AKTEST", secret_access_key: "SKTEST-secret", region: "ap-southeast-1", service: "ark" };
        let body = br#"{"Name":"demo","GroupType":"AIGC","ProjectName":"default"}"#;
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045);
        let h = sign_request(
            "POST",
            "ark.ap-southeast-1.byteplusapi.com",
            "/",
            &[("Version", "2024-01-01"), ("Action", "CreateAssetGroup")],
            "application/json",
            body,
            &creds,
            now,
        );
        assert_eq!(h[0], ("X-Date", "20260102T030405Z".to_string()));
        assert_eq!(h[1], ("X-Content-Sha256", "e0ca5950705b90ae5426571876467fcc3e47344aac26a086c80eeefcc8d0b5ea".to_string()));
        assert_eq!(
            h[2].1,
            "HMAC-SHA256 Credential=AKTEST/20260102/ap-southeast-1/ark/request, \
             SignedHeaders=content-type;host;x-content-sha256;x-date, \
             Signature=224e4dc3e3d203e80db8ff381ce88dff3a9f1c1757a5ec4d456f8590890f29cd"
        );
        // Another secret, another signature.
        let other = Credentials { secret_access_key: "other", ..creds };
        assert_ne!(sign_request("POST", "h", "/", &[], "application/json", body, &other, now)[2].1, h[2].1);
    }

    #[test]
    fn encoding_and_dates() {
        assert_eq!(uri_encode("a b/c~é+"), "a%20b%2Fc~%C3%A9%2B");
        assert_eq!(x_date(SystemTime::UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(x_date(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400)), "20000229T000000Z");
        let creds = Credentials { access_key_id: "a", secret_access_key: "s", region: "r", service: "ark" };
        assert!(!format!("{creds:?}").contains("\"s\""));
    }
}
