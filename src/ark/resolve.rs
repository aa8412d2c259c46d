//! How channel hosts become addresses. BytePlus endpoints sit behind DNS with short TTLs and
//! several addresses, so the edge resolves through one cache that honours each record's TTL (no
//! lookup per request, and no address kept past its TTL), and hands the connector every address,
//! not just the first: when one address refuses or times out the next one is tried. Families are
//! interleaved (IPv6 first, as RFC 8305 orders them) and the starting point rotates per lookup,
//! so the load spreads over the set while a dead address costs one connect timeout at most.

use hickory_resolver::TokioResolver;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Most answers kept at once (names × families); channels are few, this bounds a misconfiguration.
const CACHE_ENTRIES: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("lookup failed: {0}")]
    Lookup(String),
    #[error("the name has no A or AAAA records")]
    NoAddresses,
}

/// The channel-host resolver of one process.
pub struct UpstreamResolver {
    /// `None` when no resolver configuration could be read: the C library's resolver is asked
    /// each time instead (every address still used, but nothing cached here).
    resolver: Option<TokioResolver>,
    /// Advances once per lookup: where the next connection attempt starts in the address list.
    rotation: AtomicUsize,
}

impl UpstreamResolver {
    /// `nameservers` empty: the system's (`/etc/resolv.conf`, with the hosts file).
    pub fn new(nameservers: &[SocketAddr], timeout: Duration) -> Self {
        let resolver = match Self::hickory(nameservers, timeout) {
            Ok(r) => Some(r),
            Err(e) => {
                log::warn!("upstream resolver: {e}; channel hosts are resolved by the C library, uncached");
                None
            }
        };
        UpstreamResolver { resolver, rotation: AtomicUsize::new(0) }
    }

    fn hickory(nameservers: &[SocketAddr], timeout: Duration) -> Result<TokioResolver, String> {
        let mut builder = crate::dns::resolver_builder(nameservers).map_err(|e| e.to_string())?;
        let o = builder.options_mut();
        o.timeout = timeout;
        o.attempts = 2;
        o.cache_size = CACHE_ENTRIES;
        o.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv6AndIpv4;
        // A failed lookup is retried soon rather than pinned for the zone's negative TTL: a
        // channel host that briefly fails to resolve must not stay down for minutes.
        o.negative_max_ttl = Some(Duration::from_secs(5));
        builder.build().map_err(|e| e.to_string())
    }

    /// Every address of `host`, in the order to try them. An IP literal is its own answer.
    pub async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let ips: Vec<IpAddr> = match &self.resolver {
            Some(r) => r
                .lookup_ip(host)
                .await
                .map_err(|e| {
                    if e.is_no_records_found() || e.is_nx_domain() {
                        ResolveError::NoAddresses
                    } else {
                        ResolveError::Lookup(e.to_string())
                    }
                })?
                .iter()
                .collect(),
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| ResolveError::Lookup(e.to_string()))?
                .map(|a| a.ip())
                .collect(),
        };
        if ips.is_empty() {
            return Err(ResolveError::NoAddresses);
        }
        let start = self.rotation.fetch_add(1, Ordering::Relaxed);
        Ok(connect_order(&ips, start).into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
    }
}

/// IPv6 and IPv4 interleaved (v6 first), each family rotated by `start`.
fn connect_order(ips: &[IpAddr], start: usize) -> Vec<IpAddr> {
    let rotated = |v: Vec<IpAddr>| -> Vec<IpAddr> {
        let n = v.len().max(1);
        v.iter().cycle().skip(start % n).take(v.len()).copied().collect()
    };
    let v6 = rotated(ips.iter().copied().filter(IpAddr::is_ipv6).collect());
    let v4 = rotated(ips.iter().copied().filter(IpAddr::is_ipv4).collect());
    let mut out = Vec::with_capacity(ips.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_interleave_v6_first() {
        let ips = [ip("10.0.0.1"), ip("10.0.0.2"), ip("::1"), ip("::2")];
        assert_eq!(connect_order(&ips, 0), vec![ip("::1"), ip("10.0.0.1"), ip("::2"), ip("10.0.0.2")]);
    }

    #[test]
    fn the_start_rotates_within_each_family() {
        let ips = [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")];
        assert_eq!(connect_order(&ips, 1), vec![ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.1")]);
        assert_eq!(connect_order(&ips, 5), vec![ip("10.0.0.3"), ip("10.0.0.1"), ip("10.0.0.2")]);
    }

    #[test]
    fn every_address_appears_once() {
        let ips = [ip("10.0.0.1"), ip("::1"), ip("::2"), ip("::3")];
        for start in 0..8 {
            let mut got = connect_order(&ips, start);
            got.sort();
            let mut want = ips.to_vec();
            want.sort();
            assert_eq!(got, want);
        }
    }

    #[tokio::test]
    async fn an_ip_literal_needs_no_lookup() {
        let r = UpstreamResolver::new(&["127.0.0.1:1".parse().unwrap()], Duration::from_millis(100));
        assert_eq!(r.addresses("127.0.0.1", 8080).await.unwrap(), vec!["127.0.0.1:8080".parse().unwrap()]);
        assert_eq!(r.addresses("::1", 443).await.unwrap(), vec!["[::1]:443".parse().unwrap()]);
    }
}
