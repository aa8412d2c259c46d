//! The request id: one id a customer, the edge's log and BytePlus support can all
//! quote. A client's own id is kept when it is safe to log and forward (1..=128 chars of
//! `[A-Za-z0-9._:-]`), so its traces join ours; anything else is replaced rather than escaped,
//! because the id is echoed in a header and sent upstream verbatim.

use http::HeaderMap;

/// Longest client id kept.
const MAX_LEN: usize = 128;

/// Whether a client-chosen id is used as is.
pub fn acceptable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The id of a request: `X-Request-Id`, else `X-Client-Request-Id` (what the official BytePlus
/// SDK sends), when acceptable; otherwise a fresh one.
pub fn of(headers: &HeaderMap) -> String {
    ["x-request-id", "x-client-request-id"]
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter_map(|v| v.to_str().ok())
        .find(|v| acceptable(v))
        .map_or_else(generate, str::to_string)
}

/// A fresh id: `sde-` and 128 random bits in hex.
pub fn generate() -> String {
    format!("sde-{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn client_ids_are_kept_only_when_safe() {
        for ok in ["a", "req-1", "A.b_c:d-9", &"x".repeat(128)] {
            assert!(acceptable(ok), "{ok:?}");
        }
        for bad in ["", &"x".repeat(129), "a b", "a/b", "ä", "a\"b", "a=b", "a,b"] {
            assert!(!acceptable(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_id_comes_from_either_header_or_is_generated() {
        assert_eq!(of(&headers(&[("x-request-id", "mine-1")])), "mine-1");
        assert_eq!(of(&headers(&[("x-client-request-id", "sdk-2")])), "sdk-2");
        assert_eq!(of(&headers(&[("x-request-id", "bad id"), ("x-client-request-id", "sdk-3")])), "sdk-3");
        let generated = of(&headers(&[("x-request-id", "bad id")]));
        assert!(generated.starts_with("sde-") && acceptable(&generated), "{generated}");
        assert_ne!(of(&HeaderMap::new()), of(&HeaderMap::new()));
    }
}
