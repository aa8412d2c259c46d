//! Verification of the Volcengine/BytePlus "HMAC-SHA256" request signature, done the way the real
//! OpenAPI gateway does it, so a signing bug in the edge fails a test instead of production.
//! Written from the published algorithm (reference `byteplus-upstream.md`), not from the edge's
//! signer, so the two can check each other.

use crate::clock::parse_x_date;
use crate::query;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// How far an `X-Date` may be from now, either way.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// The service name every asset Action's scope must carry.
pub const SERVICE: &str = "ark";

/// Why a request's signature was refused; each maps to one gateway error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Authorization`, or one that cannot be read (`InvalidAuthorization`).
    #[error("{0}")]
    Malformed(String),
    /// The access key id is not one of the account's (`InvalidAccessKey`).
    #[error("access key {0} is not valid")]
    UnknownKey(String),
    /// Readable but wrong: bad signature, stale date, wrong scope or body hash (`SignatureDoesNotMatch`).
    #[error("{0}")]
    Mismatch(String),
}

impl Refusal {
    /// The gateway's error code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "InvalidAuthorization",
            Refusal::UnknownKey(_) => "InvalidAccessKey",
            Refusal::Mismatch(_) => "SignatureDoesNotMatch",
        }
    }
}

/// One request as the verifier sees it. `headers` are (lowercase name, value).
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// What the request must be signed for.
pub struct Expect<'a> {
    pub region: &'a str,
    pub now_secs: i64,
    /// The secret of an access key id, if the account has it.
    pub secret_of: &'a dyn Fn(&str) -> Option<String>,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        // HMAC accepts keys of any length, so this arm cannot be reached; an empty MAC would
        // only ever fail to match.
        Err(_) => Vec::new(),
    }
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The query sorted by (encoded) key then value, each side decoded first so that however the
/// client escaped its URL, the canonical form is the same.
pub fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> =
        query::pairs(raw).into_iter().map(|(k, v)| (query::encode(&k), query::encode(&v))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The pieces of `Authorization: HMAC-SHA256 Credential=AK/scope, SignedHeaders=a;b, Signature=hex`.
struct Authorization {
    access_key: String,
    scope: String,
    signed_headers: String,
    signature: String,
}

fn parse_authorization(value: &str) -> Result<Authorization, Refusal> {
    let rest = value
        .strip_prefix("HMAC-SHA256 ")
        .ok_or_else(|| Refusal::Malformed("the Authorization header is not HMAC-SHA256".into()))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| Refusal::Malformed(format!("unreadable Authorization part {part:?}")))?;
        match k {
            "Credential" => credential = Some(v.to_string()),
            "SignedHeaders" => signed_headers = Some(v.to_string()),
            "Signature" => signature = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(Refusal::Malformed("Credential, SignedHeaders and Signature are all required".into()));
    };
    let (access_key, scope) =
        credential.split_once('/').ok_or_else(|| Refusal::Malformed("the Credential has no scope".into()))?;
    Ok(Authorization { access_key: access_key.to_string(), scope: scope.to_string(), signed_headers, signature })
}

/// Checks a request's signature; on success, the access key id that signed it.
pub fn verify(req: &Signed<'_>, expect: &Expect<'_>) -> Result<String, Refusal> {
    let header = |name: &str| req.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim().to_string());
    let auth = header("authorization").ok_or_else(|| Refusal::Malformed("no Authorization header".into()))?;
    let auth = parse_authorization(&auth)?;
    let sk = (expect.secret_of)(&auth.access_key).ok_or_else(|| Refusal::UnknownKey(auth.access_key.clone()))?;

    let scope: Vec<&str> = auth.scope.split('/').collect();
    let [date, region, service, "request"] = scope[..] else {
        return Err(Refusal::Mismatch(format!("bad credential scope {:?}", auth.scope)));
    };
    if region != expect.region || service != SERVICE {
        return Err(Refusal::Mismatch(format!(
            "the credential scope names {region}/{service}, not {}/{SERVICE}",
            expect.region
        )));
    }
    let names: Vec<String> = auth.signed_headers.split(';').map(|n| n.trim().to_ascii_lowercase()).collect();
    // Without these two signed, a captured request could be replayed elsewhere or later.
    for required in ["host", "x-date"] {
        if !names.iter().any(|n| n == required) {
            return Err(Refusal::Mismatch(format!("SignedHeaders must include {required}")));
        }
    }
    let x_date = header("x-date").ok_or_else(|| Refusal::Mismatch("X-Date is missing".into()))?;
    let when = parse_x_date(&x_date).ok_or_else(|| Refusal::Mismatch(format!("X-Date {x_date:?} is unreadable")))?;
    if (when - expect.now_secs).abs() > MAX_SKEW_SECS {
        return Err(Refusal::Mismatch("X-Date is more than 15 minutes from now".into()));
    }
    if !x_date.starts_with(date) || date.len() != 8 {
        return Err(Refusal::Mismatch("the credential scope's date is not X-Date's".into()));
    }
    let body_hash = sha_hex(req.body);
    if let Some(claimed) = header("x-content-sha256") {
        if !claimed.eq_ignore_ascii_case(&body_hash) {
            return Err(Refusal::Mismatch("X-Content-Sha256 does not match the body".into()));
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(name).ok_or_else(|| Refusal::Mismatch(format!("signed header {name} is missing")))?;
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{}\n{body_hash}",
        req.method,
        if req.path.is_empty() { "/" } else { req.path },
        canonical_query(req.query),
        names.join(";"),
    );
    let to_sign = format!("HMAC-SHA256\n{x_date}\n{}\n{}", auth.scope, sha_hex(canonical.as_bytes()));
    let k_date = hmac(sk.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"request");
    let expected = hex::encode(hmac(&k_signing, to_sign.as_bytes()));
    if !expected.eq_ignore_ascii_case(&auth.signature) {
        return Err(Refusal::Mismatch("the request signature does not match".into()));
    }
    Ok(auth.access_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKLTtestaccesskey0001";
    const SK: &str = "c2VjcmV0LWtleS1mb3ItdGVzdHM=";
    const BODY: &[u8] = br#"{"Filter":{"GroupType":"AIGC"},"PageSize":10,"ProjectName":"default"}"#;
    const NOW: i64 = 1_767_323_045; // 2026-01-02T03:04:05Z

    /// A vector computed independently with Python's `hmac`/`hashlib` from these inputs:
    /// POST, host `ark.ap-southeast-1.byteplusapi.com`, path `/`, query
    /// `Version=2024-01-01&Action=ListAssetGroups&Note=a b/c~é`, `application/json`, `BODY`.
    fn vector_headers(signature: &str) -> Vec<(String, String)> {
        [
            ("host", "ark.ap-southeast-1.byteplusapi.com"),
            ("content-type", "application/json"),
            ("x-date", "20260102T030405Z"),
            ("x-content-sha256", "2507fd54f3d1f270eb8528a5a8c0794cdf9f2363642b187036776f2ecc7c0b4b"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(std::iter::once((
            "authorization".to_string(),
            format!(
                "HMAC-SHA256 Credential={AK}/20260102/ap-southeast-1/ark/request, \
                 SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={signature}"
            ),
        )))
        .collect()
    }

    const GOOD: &str = "0572d739c39d124d214562bf20d0282289679f1ddc76754c841978fa6cd7bf65";

    fn check(headers: &[(String, String)], query: &str, body: &[u8], now: i64, sk: &str) -> Result<String, Refusal> {
        let secret_of = |ak: &str| (ak == AK).then(|| sk.to_string());
        verify(
            &Signed { method: "POST", path: "/", query, headers, body },
            &Expect { region: "ap-southeast-1", now_secs: now, secret_of: &secret_of },
        )
    }

    const QUERY: &str = "Version=2024-01-01&Action=ListAssetGroups&Note=a%20b%2Fc~%C3%A9";

    #[test]
    fn independent_vector_passes() {
        assert_eq!(check(&vector_headers(GOOD), QUERY, BODY, NOW, SK), Ok(AK.to_string()));
        // The same query escaped differently and reordered canonicalises identically.
        let q = "Note=a%20b/c%7E%c3%a9&Action=ListAssetGroups&Version=2024-01-01";
        assert_eq!(check(&vector_headers(GOOD), q, BODY, NOW, SK), Ok(AK.to_string()));
        // Skew within 15 minutes either way is fine.
        assert!(check(&vector_headers(GOOD), QUERY, BODY, NOW + MAX_SKEW_SECS, SK).is_ok());
        assert!(check(&vector_headers(GOOD), QUERY, BODY, NOW - MAX_SKEW_SECS, SK).is_ok());
    }

    #[test]
    fn anything_changed_is_refused() {
        let mismatch = |r: Result<String, Refusal>| matches!(r, Err(Refusal::Mismatch(_)));
        assert!(mismatch(check(&vector_headers(GOOD), QUERY, BODY, NOW, "wrong")));
        assert!(mismatch(check(&vector_headers(GOOD), QUERY, BODY, NOW + MAX_SKEW_SECS + 1, SK)));
        assert!(mismatch(check(&vector_headers(GOOD), QUERY, b"{}", NOW, SK)), "body hash must match");
        assert!(mismatch(check(&vector_headers(GOOD), "Action=ListAssets&Version=2024-01-01", BODY, NOW, SK)));
        let mut h = vector_headers(GOOD);
        h[0].1 = "evil.example".into();
        assert!(mismatch(check(&h, QUERY, BODY, NOW, SK)), "host is signed");
        let bad = vector_headers(&GOOD.replace('0', "1"));
        assert!(mismatch(check(&bad, QUERY, BODY, NOW, SK)));
        let other_region: Vec<_> = vector_headers(GOOD)
            .into_iter()
            .map(|(k, v)| (k, v.replace("ap-southeast-1/ark", "cn-beijing/ark")))
            .collect();
        assert!(mismatch(check(&other_region, QUERY, BODY, NOW, SK)));
    }

    #[test]
    fn unknown_keys_and_malformed_headers_have_their_own_codes() {
        let unknown: Vec<_> = vector_headers(GOOD).into_iter().map(|(k, v)| (k, v.replace(AK, "AKOTHER"))).collect();
        let r = check(&unknown, QUERY, BODY, NOW, SK);
        assert_eq!(r.as_ref().map_err(Refusal::code), Err("InvalidAccessKey"));
        let none: Vec<_> = vector_headers(GOOD).into_iter().filter(|(k, _)| k != "authorization").collect();
        assert_eq!(check(&none, QUERY, BODY, NOW, SK).map_err(|r| r.code()), Err("InvalidAuthorization"));
        let bearer = vec![("authorization".to_string(), "Bearer x".to_string())];
        assert_eq!(check(&bearer, QUERY, BODY, NOW, SK).map_err(|r| r.code()), Err("InvalidAuthorization"));
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(canonical_query("Version=2024-01-01&Action=GetAsset"), "Action=GetAsset&Version=2024-01-01");
        assert_eq!(canonical_query(QUERY), "Action=ListAssetGroups&Note=a%20b%2Fc~%C3%A9&Version=2024-01-01");
    }
}
