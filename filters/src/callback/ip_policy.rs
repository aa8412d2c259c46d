//! The address classifier: table-driven from the IANA special-purpose registries,
//! not std's `is_global`, which is unstable and, where it exists,
//! calls multicast, IPv4-compatible, NAT64 and site-local addresses global. Every table row is
//! denied; for IPv6 only global unicast (2000::/3) can be public at all, so everything outside it
//! is denied with the most specific reason we can name.

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the callback / asset URL check thinks of one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Public,
    /// Not a place a webhook may point to; the reason names the registry row for the message.
    Blocked(&'static str),
}

impl Verdict {
    pub fn is_public(self) -> bool {
        self == Verdict::Public
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]), len)
}

/// IPv4 rows, most specific first where they nest (the first hit names the reason).
pub const V4_DENY: &[(Ipv4Net, &str)] = &[
    (v4(0, 0, 0, 0, 8), "\"this network\" (RFC 791), unspecified"),
    (v4(10, 0, 0, 0, 8), "private-use (RFC 1918)"),
    (v4(100, 64, 0, 0, 10), "shared address space / CGNAT (RFC 6598)"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local (cloud metadata lives here)"),
    (v4(172, 16, 0, 0, 12), "private-use (RFC 1918)"),
    (v4(192, 0, 0, 0, 24), "IETF protocol assignments (RFC 6890)"),
    (v4(192, 0, 2, 0, 24), "documentation (RFC 5737)"),
    (v4(192, 31, 196, 0, 24), "AS112 anycast infrastructure (RFC 7535)"),
    (v4(192, 52, 193, 0, 24), "AMT anycast infrastructure (RFC 7450)"),
    (v4(192, 88, 99, 0, 24), "deprecated 6to4 relay anycast (RFC 7526)"),
    (v4(192, 168, 0, 0, 16), "private-use (RFC 1918)"),
    (v4(192, 175, 48, 0, 24), "AS112 anycast infrastructure (RFC 7534)"),
    (v4(198, 18, 0, 0, 15), "benchmarking (RFC 2544)"),
    (v4(198, 51, 100, 0, 24), "documentation (RFC 5737)"),
    (v4(203, 0, 113, 0, 24), "documentation (RFC 5737)"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(240, 0, 0, 0, 4), "reserved (RFC 1112) / limited broadcast"),
];

/// IPv6 rows outside global unicast, for a precise reason (anything else outside 2000::/3 is
/// still denied, as "reserved").
pub const V6_DENY_OUTSIDE_GLOBAL: &[(Ipv6Net, &str)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96), "IPv4-mapped (RFC 4291)"),
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 96), "IPv4-compatible, deprecated (RFC 4291)"),
    (v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96), "NAT64 translation (RFC 6052), embeds IPv4"),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), "local-use NAT64 translation (RFC 8215)"),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "discard-only (RFC 6666)"),
    (v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64), "dummy prefix (RFC 9780)"),
    (v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), "SRv6 segment identifiers (RFC 9602)"),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), "unique-local (RFC 4193)"),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), "site-local, deprecated (RFC 3879)"),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

const GLOBAL_UNICAST_V6: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Rows inside 2000::/3 that are still not a webhook's address.
pub const V6_DENY_IN_GLOBAL: &[(Ipv6Net, &str)] = &[
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), "Teredo (RFC 4380), embeds IPv4"),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), "IETF protocol assignments (RFC 2928)"),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), "documentation (RFC 3849)"),
    (v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), "6to4 (RFC 3056), embeds IPv4"),
    (v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48), "AS112 anycast infrastructure (RFC 7534)"),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), "documentation (RFC 9637)"),
];

/// Judges one address.
pub fn classify(ip: IpAddr) -> Verdict {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> Verdict {
    V4_DENY.iter().find(|(net, _)| net.contains(&a)).map_or(Verdict::Public, |(_, why)| Verdict::Blocked(why))
}

fn classify_v6(a: Ipv6Addr) -> Verdict {
    if !GLOBAL_UNICAST_V6.contains(&a) {
        let why = V6_DENY_OUTSIDE_GLOBAL
            .iter()
            .find(|(net, _)| net.contains(&a))
            .map_or("reserved (outside 2000::/3)", |(_, w)| w);
        return Verdict::Blocked(why);
    }
    V6_DENY_IN_GLOBAL.iter().find(|(net, _)| net.contains(&a)).map_or(Verdict::Public, |(_, why)| Verdict::Blocked(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn last_v4(net: &Ipv4Net) -> Ipv4Addr {
        net.broadcast()
    }

    #[test]
    fn every_v4_row_first_last_and_inside() {
        for (net, why) in V4_DENY {
            for a in [
                net.network(),
                last_v4(net),
                Ipv4Addr::from(u32::from(net.network()) + (1u32 << (32 - net.prefix_len())) / 2),
            ] {
                assert_eq!(classify(IpAddr::V4(a)), Verdict::Blocked(why), "{a} in {net}");
            }
        }
    }

    #[test]
    fn every_v6_row_first_and_last() {
        for (net, _) in V6_DENY_OUTSIDE_GLOBAL.iter().chain(V6_DENY_IN_GLOBAL) {
            for a in [net.network(), net.broadcast()] {
                assert!(!classify(IpAddr::V6(a)).is_public(), "{a} in {net}");
            }
        }
    }

    #[test]
    fn just_outside_the_boundaries_is_public() {
        for s in [
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.254",
            "100.128.0.1",
            "9.255.255.255",
            "11.0.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "192.0.1.255",
            "192.0.3.0",
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "2001:200::1",
            "2001:dba::1",
            "2003::1",
            "2620:4f:7fff:ffff::1",
            "3ffe::1",
            "2606:2800:220:1:248:1893:25c8:1946",
        ] {
            assert_eq!(classify(ip(s)), Verdict::Public, "{s}");
        }
    }

    #[test]
    fn the_gaps_of_std_is_global_are_closed() {
        for (s, why) in [
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("192.88.99.1", "deprecated 6to4 relay anycast (RFC 7526)"),
            ("::7f00:1", "IPv4-compatible, deprecated (RFC 4291)"),
            ("::808:808", "IPv4-compatible, deprecated (RFC 4291)"),
            ("64:ff9b::a00:1", "NAT64 translation (RFC 6052), embeds IPv4"),
            ("100:0:0:1::1", "dummy prefix (RFC 9780)"),
            ("fec0::1", "site-local, deprecated (RFC 3879)"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("::ffff:8.8.8.8", "IPv4-mapped (RFC 4291)"),
            ("::ffff:127.0.0.1", "IPv4-mapped (RFC 4291)"),
            ("2001:0:4136:e378:8000:63bf:3f57:fdf2", "Teredo (RFC 4380), embeds IPv4"),
            ("2001:1::3", "IETF protocol assignments (RFC 2928)"),
            ("2002:808:808::1", "6to4 (RFC 3056), embeds IPv4"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("0.0.0.0", "\"this network\" (RFC 791), unspecified"),
            ("255.255.255.255", "reserved (RFC 1112) / limited broadcast"),
        ] {
            assert_eq!(classify(ip(s)), Verdict::Blocked(why), "{s}");
        }
    }

    /// An independent oracle over plain integer ranges, written from the registry text, must agree
    /// with the table on a deterministic sweep of addresses.
    #[test]
    fn agrees_with_an_integer_oracle() {
        let ranges: [(u32, u32); 18] = [
            (0x0000_0000, 0x00ff_ffff),
            (0x0a00_0000, 0x0aff_ffff),
            (0x6440_0000, 0x647f_ffff),
            (0x7f00_0000, 0x7fff_ffff),
            (0xa9fe_0000, 0xa9fe_ffff),
            (0xac10_0000, 0xac1f_ffff),
            (0xc000_0000, 0xc000_00ff),
            (0xc000_0200, 0xc000_02ff),
            (0xc01f_c400, 0xc01f_c4ff),
            (0xc034_c100, 0xc034_c1ff),
            (0xc058_6300, 0xc058_63ff),
            (0xc0a8_0000, 0xc0a8_ffff),
            (0xc0af_3000, 0xc0af_30ff),
            (0xc612_0000, 0xc613_ffff),
            (0xc633_6400, 0xc633_64ff),
            (0xcb00_7100, 0xcb00_71ff),
            (0xe000_0000, 0xefff_ffff),
            (0xf000_0000, 0xffff_ffff),
        ];
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..200_000 {
            // xorshift: a fixed, reproducible sweep.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let denied = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&x));
            assert_eq!(!classify(IpAddr::V4(Ipv4Addr::from(x))).is_public(), denied, "{}", Ipv4Addr::from(x));
        }
    }
}
