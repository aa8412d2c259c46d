//! Fuzzing the URL check and the address classifier (`check_url`, `classify`: a callback
//! host must resolve only to public addresses). The edge never connects to these URLs — BytePlus does,
//! later, with its own parser — so what matters is that the host judged is the host every
//! parser sees: an accepted URL's host, re-parsed by the `url` crate *and* by a plain RFC 3986
//! authority split, is the host `check_url` judged, and an accepted IP literal is public.

use crate::gen;
use proptest::prelude::*;
use seedance_filters::callback::{check_url, classify, CheckedUrl, UrlHost};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const SPECIAL_USE: [&str; 7] = ["localhost", "local", "onion", "invalid", "internal", "home.arpa", "arpa"];

/// The host a plain RFC 3986 parser (Go's `net/url`, say) sees: after `scheme://`, up to the
/// first `/`, `?` or `#`, after the last `@`, without `:port`.
fn rfc3986_host(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        &host_port[..=host_port.find(']')?]
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    Some(host.to_ascii_lowercase())
}

/// Everything an accepted URL must satisfy.
fn check_accepted(input: &str, allow_http: bool, c: &CheckedUrl) -> Result<(), TestCaseError> {
    let trimmed = input.trim();
    prop_assert_eq!(&c.url, trimmed, "the trimmed input is what is forwarded");
    let lower = c.url.to_ascii_lowercase();
    prop_assert!(
        lower.starts_with("https://") || (allow_http && lower.starts_with("http://")),
        "scheme of {:?}",
        c.url
    );
    prop_assert!(
        c.url.chars().all(|ch| ch.is_ascii_graphic() && ch != '\\'),
        "no control, space, backslash or non-ASCII in {:?}",
        c.url
    );

    // The url crate sees the host that was judged.
    let parsed = url::Url::parse(&c.url).map_err(|e| TestCaseError::fail(format!("{:?} re-parse: {e}", c.url)))?;
    prop_assert!(parsed.username().is_empty() && parsed.password().is_none(), "userinfo in {:?}", c.url);
    prop_assert_ne!(parsed.port(), Some(0));
    let reparsed = match parsed.host() {
        Some(url::Host::Ipv4(a)) => UrlHost::Ip(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => UrlHost::Ip(IpAddr::V6(a)),
        Some(url::Host::Domain(d)) => UrlHost::Domain(format!("{}.", d.strip_suffix('.').unwrap_or(d))),
        None => return Err(TestCaseError::fail(format!("{:?} has no host on re-parse", c.url))),
    };
    prop_assert_eq!(&reparsed, &c.host, "url crate vs judged host for {:?}", c.url);

    // So does a plain RFC 3986 split, which knows nothing of WHATWG's repairs.
    let plain = rfc3986_host(&c.url).ok_or_else(|| TestCaseError::fail("no authority"))?;
    match &c.host {
        UrlHost::Ip(ip) => {
            let written: Option<IpAddr> = match plain.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
                None => plain.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            };
            prop_assert_eq!(written, Some(*ip), "RFC 3986 host {:?} of {:?}", plain, c.url);
            prop_assert!(classify(*ip).is_public(), "accepted literal {} is not public", ip);
        }
        UrlHost::Domain(d) => {
            prop_assert_eq!(format!("{}.", plain.strip_suffix('.').unwrap_or(&plain)), d.clone());
            let name = d.strip_suffix('.').unwrap_or(d);
            prop_assert!(!name.is_empty() && name.len() <= 253, "{:?}", d);
            prop_assert!(name.split('.').all(|l| !l.is_empty() && l.len() <= 63), "{:?}", d);
            prop_assert!(name.bytes().all(|b| !b.is_ascii_uppercase()), "{:?} not lowercase", d);
            prop_assert!(name.parse::<Ipv4Addr>().is_err(), "an IPv4 address judged as a name: {:?}", d);
            for s in SPECIAL_USE {
                prop_assert!(name != s && !name.ends_with(&format!(".{s}")), "special-use {:?}", d);
            }
        }
    }
    Ok(())
}

fn run(input: &str, allow_http: bool) -> Result<(), TestCaseError> {
    let field = if allow_http { "URL" } else { "callback_url" };
    match check_url(field, &Value::String(input.to_string()), allow_http) {
        Ok(c) => check_accepted(input, allow_http, &c),
        Err(e) => {
            prop_assert_eq!(e.status(), 400);
            prop_assert_eq!(e.param.as_deref(), Some(field));
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(gen::config(1000))]

    #[test]
    fn fuzz_check_url_structured(input in gen::url_string(), allow_http in any::<bool>()) {
        run(&input, allow_http)?;
    }

    #[test]
    fn fuzz_check_url_bytes(bytes in prop::collection::vec(any::<u8>(), 0..96), allow_http in any::<bool>()) {
        let input = format!("https://{}", String::from_utf8_lossy(&bytes));
        run(&input, allow_http)?;
        run(&String::from_utf8_lossy(&bytes), allow_http)?;
    }

    #[test]
    fn fuzz_check_url_non_strings(v in gen::json_value()) {
        // Strings are the other harnesses' business; no `prop_assume`, whose rejections would
        // abort a long campaign.
        prop_assert!(v.is_string() || check_url("callback_url", &v, false).is_err());
    }

    /// A canonically written IP literal is accepted exactly when `classify` calls it public.
    #[test]
    fn fuzz_ip_literal_iff_public(v4 in gen::ipv4(), v6 in gen::ipv6(), port in prop::option::of(1u16..)) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        for (ip, host) in [(IpAddr::V4(v4), v4.to_string()), (IpAddr::V6(v6), format!("[{v6}]"))] {
            let url = format!("https://{host}{port}/cb");
            let verdict = check_url("callback_url", &Value::String(url.clone()), false);
            prop_assert_eq!(verdict.is_ok(), classify(ip).is_public(), "{}", url);
            if let Ok(c) = verdict {
                prop_assert_eq!(c.host, UrlHost::Ip(ip));
            }
        }
    }

    /// IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) is never public, whatever the
    /// IPv4 address; Teredo and documentation never either.
    #[test]
    fn fuzz_classify_embeddings_are_blocked(a in any::<u32>(), r in any::<u128>()) {
        let v4 = u128::from(a);
        for embedded in [
            (0xffffu128 << 32) | v4,
            v4,
            (0x64_ff9bu128 << 96) | v4,
            (0x2002u128 << 112) | (v4 << 80) | (r & ((1 << 80) - 1)),
            (0x2001_0000u128 << 96) | (r & ((1 << 96) - 1)),
            (0x2001_0db8u128 << 96) | (r & ((1 << 96) - 1)),
            (0xfc00u128 << 112) | (r & ((1 << 121) - 1)),
            (0xfe80u128 << 112) | (r & ((1 << 118) - 1)),
            (0xff00u128 << 112) | (r & ((1 << 120) - 1)),
        ] {
            let ip = IpAddr::V6(Ipv6Addr::from(embedded));
            prop_assert!(!classify(ip).is_public(), "{} judged public", ip);
        }
        // Outside 2000::/3 nothing is public.
        let top = match r >> 125 { 1 => 0, t => t };
        let outside = (r & !(7u128 << 125)) | (top << 125);
        prop_assert!(!classify(IpAddr::V6(Ipv6Addr::from(outside))).is_public());
    }
}

#[test]
fn fuzz_url_generator_reaches_the_accept_path() {
    let ratio = gen::accept_ratio(gen::url_string(), 1000, |s| {
        check_url("callback_url", &Value::String(s.clone()), false).is_ok()
    });
    eprintln!("check_url accepts {:.0}% of generated URLs", ratio * 100.0);
    assert!((0.15..0.85).contains(&ratio), "accept ratio {ratio}");
}
