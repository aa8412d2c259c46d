//! Verification of the Volcengine/BytePlus "HMAC-SHA256" request signature, done the way the real
//! OpenAPI gateway does it, so a signing bug in the edge fails a test instead of production.
//! Written from the published algorithm, not from the edge's
//! signer, so the two can check each other.

use crate::clock::parse_x_date;
use crate::query;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// How far an `X-Date` may be from now, either way.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// The service name every asset Action's scope must carry.
pub const SERVICE: &str = "ark";

/// Why a request's signature was refused; each maps to one gateway error (Volcengine public
/// error codes, docs 6369/68677). `Display` carries the detail for logs; `message()` is what the
/// gateway says, which never explains which step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Authorization` header at all (`MissingAuthenticationToken`).
    #[error("no Authorization header")]
    Missing,
    /// An `Authorization` that cannot be read (`InvalidAuthorization`).
    #[error("{0}")]
    Malformed(String),
    /// The access key id is not one of the account's (`InvalidAccessKey`).
    #[error("access key {0} is not valid")]
    UnknownKey(String),
    /// `X-Date` too far from now (`InvalidTimestamp`).
    #[error("{0}")]
    Stale(String),
    /// Readable but wrong: bad signature, wrong scope or body hash (`SignatureDoesNotMatch`).
    #[error("{0}")]
    Mismatch(String),
}

impl Refusal {
    /// The gateway's error code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Missing => "MissingAuthenticationToken",
            Refusal::Malformed(_) => "InvalidAuthorization",
            Refusal::UnknownKey(_) => "InvalidAccessKey",
            Refusal::Stale(_) => "InvalidTimestamp",
            Refusal::Mismatch(_) => "SignatureDoesNotMatch",
        }
    }

    /// The gateway's HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) => 400,
            Refusal::Stale(_) => crate::unconfirmed::STALE_DATE_STATUS,
            _ => 401,
        }
    }

    /// The gateway's message: fixed texts, except the access key it names.
    pub fn message(&self) -> String {
        match self {
            Refusal::Missing => "Request is missing Authentication Token.".into(),
            Refusal::Malformed(_) => "Invalid 'Authorization' header, Pls check authorization header.".into(),
            Refusal::UnknownKey(ak) => format!("The accesskey [{ak}] included in the request is invalid."),
            Refusal::Stale(_) => "The Signature of the request is expired.".into(),
            Refusal::Mismatch(_) => "The request signature we calculated does not match the signature you provided. \
                Check your Secret Access Key and signing method. Consult the service documentation for details."
                .into(),
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

/// The CanonicalRequest (reference steps 2–4): `METHOD\n<path>\n<query>\n<headers block>\n<signed
/// list>\n<body hash>`, the headers block being `name:trimmed value\n` per signed header.
pub fn canonical_request(req: &Signed<'_>, signed: &[String], body_hash: &str) -> Result<String, Refusal> {
    let Signed { method, path, query, headers, .. } = *req;
    let mut block = String::new();
    for name in signed {
        let value = headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .ok_or_else(|| Refusal::Mismatch(format!("signed header {name} is missing")))?;
        block.push_str(&format!("{name}:{value}\n"));
    }
    Ok(format!(
        "{method}\n{}\n{}\n{block}\n{}\n{body_hash}",
        if path.is_empty() { "/" } else { path },
        canonical_query(query),
        signed.join(";"),
    ))
}

/// The hex signature of a CanonicalRequest (reference steps 5–7), the SK used as issued.
pub fn signature(sk: &str, x_date: &str, region: &str, service: &str, canonical: &str) -> String {
    let date = x_date.get(..8).unwrap_or(x_date);
    let scope = format!("{date}/{region}/{service}/request");
    let to_sign = format!("HMAC-SHA256\n{x_date}\n{scope}\n{}", sha_hex(canonical.as_bytes()));
    let k_date = hmac(sk.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"request");
    hex::encode(hmac(&k_signing, to_sign.as_bytes()))
}

/// Checks a request's signature; on success, the access key id that signed it.
pub fn verify(req: &Signed<'_>, expect: &Expect<'_>) -> Result<String, Refusal> {
    let header = |name: &str| req.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim().to_string());
    let auth = header("authorization").ok_or(Refusal::Missing)?;
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
        return Err(Refusal::Stale("X-Date is more than 15 minutes from now".into()));
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
    let canonical = canonical_request(req, &names, &body_hash)?;
    let expected = signature(&sk, &x_date, region, service, &canonical);
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
        let stale = check(&vector_headers(GOOD), QUERY, BODY, NOW + MAX_SKEW_SECS + 1, SK);
        assert!(matches!(stale, Err(Refusal::Stale(_))), "{stale:?}");
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
        assert_eq!(check(&none, QUERY, BODY, NOW, SK).map_err(|r| r.code()), Err("MissingAuthenticationToken"));
        let bearer = vec![("authorization".to_string(), "Bearer x".to_string())];
        assert_eq!(check(&bearer, QUERY, BODY, NOW, SK).map_err(|r| r.code()), Err("InvalidAuthorization"));
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The official vector of volcengine.com/docs/6369/67270 (IAM ListUsers), as the reference
    /// quotes it: both the CanonicalRequest's hash and the Signature must come out identical.
    #[test]
    fn official_volcengine_vector() {
        let body_hash = sha_hex(b"");
        assert_eq!(body_hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let h = headers(&[
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("host", "iam.volcengineapi.com"),
            ("x-content-sha256", &body_hash),
            ("x-date", "20201230T081805Z"),
        ]);
        let signed: Vec<String> = ["content-type", "host", "x-content-sha256", "x-date"].map(String::from).to_vec();
        let query = "Action=ListUsers&Version=2018-01-01&Limit=10&Offset=0";
        let req = Signed { method: "GET", path: "/", query, headers: &h, body: b"" };
        let canonical = canonical_request(&req, &signed, &body_hash).unwrap();
        assert_eq!(sha_hex(canonical.as_bytes()), "3a4d4dee07c3308a52da01bc12d7a83c3705bfa543f51648f46de880bb2a7447");
        let sk = "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==";
        assert_eq!(
            signature(sk, "20201230T081805Z", "cn-north-1", "iam", &canonical),
            "28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7"
        );
    }

    /// The reference's Ark-shaped vector (derived), through the whole verifier.
    #[test]
    fn ark_shaped_vector_verifies() {
        let body = br#"{"Filter":{"GroupType":"AIGC"},"PageNumber":1,"PageSize":10}"#;
        let ak = "AKLTfakeaccesskey";
        let sig = "36819b48f6137ea667365f47600a124b69bb2b155bd2d9746152e438d9b563de";
        let h = headers(&[
            ("host", "ark.ap-southeast-1.byteplusapi.com"),
            ("content-type", "application/json"),
            ("x-date", "20260328T000000Z"),
            ("x-content-sha256", &sha_hex(body)),
            (
                "authorization",
                &format!(
                    "HMAC-SHA256 Credential={ak}/20260328/ap-southeast-1/ark/request, \
                     SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={sig}"
                ),
            ),
        ]);
        let secret_of = |k: &str| (k == ak).then(|| "TESTSECRETKEY".to_string());
        let now = parse_x_date("20260328T000000Z").unwrap();
        let req =
            Signed { method: "POST", path: "/", query: "Action=ListAssetGroups&Version=2024-01-01", headers: &h, body };
        assert_eq!(
            verify(&req, &Expect { region: "ap-southeast-1", now_secs: now, secret_of: &secret_of }),
            Ok(ak.into())
        );
        let wrong = |k: &str| (k == ak).then(|| "TESTSECRETKEY2".to_string());
        let r = verify(&req, &Expect { region: "ap-southeast-1", now_secs: now, secret_of: &wrong });
        assert_eq!(r.map_err(|e| e.code()), Err("SignatureDoesNotMatch"));
    }

    #[test]
    fn refusals_speak_like_the_gateway() {
        let r = Refusal::UnknownKey("AKLTabc".into());
        assert_eq!(
            (r.status(), r.message().as_str()),
            (401, "The accesskey [AKLTabc] included in the request is invalid.")
        );
        assert!(Refusal::Mismatch("detail".into()).message().starts_with("The request signature we calculated"));
        assert!(
            !Refusal::Mismatch("wrong body hash".into()).message().contains("hash"),
            "the gateway explains nothing"
        );
        assert_eq!(Refusal::Malformed("x".into()).status(), 400);
        assert_eq!(Refusal::Missing.status(), 401);
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(canonical_query("Version=2024-01-01&Action=GetAsset"), "Action=GetAsset&Version=2024-01-01");
        assert_eq!(canonical_query(QUERY), "Action=ListAssetGroups&Note=a%20b%2Fc~%C3%A9&Version=2024-01-01");
    }
}
