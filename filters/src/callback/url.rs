//! Callback / asset URL syntax. The edge never
//! connects to these URLs — BytePlus does, later, with its own parser — so the rules aim at one
//! thing: the host we judge is the host any reasonable parser would see. Anything a WHATWG parser
//! would silently repair (backslashes, missing slashes, tabs, numeric or Unicode host forms,
//! userinfo) is refused rather than normalized.

use super::ip_policy::{classify, Verdict};
use crate::error::ApiError;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Longer URLs are not webhooks; the cap also bounds the work done on hostile input.
pub const MAX_URL_LEN: usize = 2048;

/// Names that can never be a public webhook (RFC 6761 and friends). `.example` / `.test` stay
/// allowed: the DNS answer decides for those.
const SPECIAL_USE_SUFFIXES: [&str; 7] = ["localhost", "local", "onion", "invalid", "internal", "home.arpa", "arpa"];

/// The host of a syntactically valid URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    /// An IP literal, already judged public.
    Ip(IpAddr),
    /// A lowercase fully qualified name with its trailing dot, ready for A and AAAA queries
    /// (never expanded with a search list).
    Domain(String),
}

/// A URL that passed the syntax rules; a `Domain` host still has to resolve to public addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    /// The trimmed URL, as it is forwarded.
    pub url: String,
    pub host: UrlHost,
}

/// Checks a URL field: a non-empty string, `https` (or also `http` when `allow_http`), no
/// userinfo, a canonical host, and, for IP literals, a public address.
pub fn check_url(field: &str, value: &Value, allow_http: bool) -> Result<CheckedUrl, ApiError> {
    let schemes = if allow_http { "https or http" } else { "https" };
    let bad = |why: String| ApiError::invalid(field, format!("{field} {why}"));
    let raw = match value {
        Value::String(s) => s,
        _ => return Err(bad(format!("must be a string holding an {schemes} URL"))),
    };
    let s = raw.trim();
    if s.is_empty() {
        return Err(bad("must not be empty".into()));
    }
    if s.len() > MAX_URL_LEN {
        return Err(bad(format!("is longer than {MAX_URL_LEN} bytes")));
    }
    if let Some(c) = s.chars().find(|c| c.is_ascii_control() || *c == ' ' || *c == '\\' || !c.is_ascii()) {
        return Err(bad(format!(
            "contains {c:?}; control characters, spaces, backslashes and non-ASCII characters must be percent-encoded (hosts in punycode)"
        )));
    }
    let lower = s.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://").filter(|_| allow_http) {
        rest
    } else if lower.starts_with("http://") {
        return Err(bad("must use https".into()));
    } else {
        return Err(bad(format!("must be an absolute {schemes} URL (https://host/path)")));
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err(bad("must not contain user information (user@host)".into()));
    }
    if authority.is_empty() {
        return Err(bad("has no host".into()));
    }
    let url = Url::parse(s).map_err(|e| bad(format!("is not a valid URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain user information (user@host)".into()));
    }
    if url.port() == Some(0) {
        return Err(bad("has port 0; use a real port or none".into()));
    }
    let written_host = strip_port(authority);
    let host = match url.host() {
        None => return Err(bad("has no host".into())),
        Some(Host::Ipv4(a)) => {
            if written_host.parse::<Ipv4Addr>().ok() != Some(a) {
                return Err(bad(format!("host {written_host:?} is not written as a plain dotted-quad address")));
            }
            judge_literal(field, IpAddr::V4(a))?
        }
        Some(Host::Ipv6(a)) => {
            let inner = written_host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
            if inner.and_then(|h| h.parse::<Ipv6Addr>().ok()) != Some(a) {
                return Err(bad(format!("host {written_host:?} is not a plain IPv6 literal")));
            }
            judge_literal(field, IpAddr::V6(a))?
        }
        Some(Host::Domain(d)) => {
            if written_host != d {
                return Err(bad(format!("host {written_host:?} is not in canonical form")));
            }
            UrlHost::Domain(check_domain(field, d)?)
        }
    };
    Ok(CheckedUrl { url: s.to_string(), host })
}

/// The host part of a lowercase authority without `:port` (IPv6 literals keep their brackets).
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.find(']').map_or(authority, |end| &authority[..=end]);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn judge_literal(field: &str, ip: IpAddr) -> Result<UrlHost, ApiError> {
    match classify(ip) {
        Verdict::Public => Ok(UrlHost::Ip(ip)),
        Verdict::Blocked(why) => Err(ApiError::invalid(
            field,
            format!("{field} host {ip} is a {why} address; it must be a public internet address"),
        )),
    }
}

/// DNS name limits and special-use names; returns the FQDN with its trailing dot.
fn check_domain(field: &str, d: &str) -> Result<String, ApiError> {
    let bad = |why: String| ApiError::invalid(field, format!("{field} host {why}"));
    let name = d.strip_suffix('.').unwrap_or(d);
    if name.is_empty() || name.len() > 253 {
        return Err(bad(format!("{:?} is not a valid DNS name (1 to 253 characters)", truncate(name))));
    }
    if let Some(label) = name.split('.').find(|l| l.is_empty() || l.len() > 63) {
        return Err(bad(format!(
            "{:?} has a label of {} characters; DNS labels are 1 to 63",
            truncate(name),
            label.len()
        )));
    }
    for suffix in SPECIAL_USE_SUFFIXES {
        if name == suffix || name.ends_with(&format!(".{suffix}")) {
            return Err(bad(format!(
                "{name} is a special-use name (.{suffix}) that never reaches the public internet"
            )));
        }
    }
    Ok(format!("{name}."))
}

fn truncate(s: &str) -> String {
    if s.len() > 40 {
        format!("{}…", &s[..40])
    } else {
        s.to_string()
    }
}
