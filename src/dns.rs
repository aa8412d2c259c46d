//! Resolution of callback and asset-URL hosts, for the public-address rule. A and AAAA are asked
//! separately for the fully-qualified name (no search domains, no hosts file): one family failing
//! is a failure, not "no records" — hickory's combined lookup would swallow it.

use async_trait::async_trait;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Why the resolver could not be built at start.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    #[error("system resolver configuration: {0}")]
    System(#[source] hickory_resolver::net::NetError),
    #[error("resolver: {0}")]
    Build(#[source] hickory_resolver::net::NetError),
}

/// A resolver on `nameservers` (UDP, then TCP, on each one's port), or on the system's
/// configuration when there are none: the edge's two resolvers (callback hosts here, channel
/// hosts in `ark`) differ only in their options.
pub fn resolver_builder(
    nameservers: &[SocketAddr],
) -> Result<hickory_resolver::ResolverBuilder<TokioRuntimeProvider>, ResolverError> {
    if nameservers.is_empty() {
        return Resolver::builder_tokio().map_err(ResolverError::System);
    }
    let servers = nameservers
        .iter()
        .map(|sa| {
            let mut udp = ConnectionConfig::udp();
            udp.port = sa.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = sa.port();
            NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
        })
        .collect();
    Ok(Resolver::builder_with_config(ResolverConfig::from_name_servers(servers), TokioRuntimeProvider::default()))
}

/// Why a host could not be judged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ResolveFailure(pub String);

/// Something that answers "which addresses does this name have" (a trait so the pure classifier
/// can be tested without a network).
#[async_trait]
pub trait AddrSource: Send + Sync {
    /// All A and AAAA addresses of `fqdn` (ends with '.'). Empty = the name has none.
    async fn a_and_aaaa(&self, fqdn: &str) -> Result<Vec<IpAddr>, ResolveFailure>;
}

pub struct HickorySource {
    resolver: TokioResolver,
    timeout: Duration,
}

impl HickorySource {
    /// `nameservers` empty: the system configuration (but still no hosts file, no search list).
    pub fn new(nameservers: &[SocketAddr], timeout: Duration) -> Result<Self, ResolverError> {
        let mut builder = resolver_builder(nameservers)?;
        let o = builder.options_mut();
        o.timeout = timeout;
        o.attempts = 1;
        o.use_hosts_file = ResolveHosts::Never;
        o.ndots = 0;
        // A cached answer is never older than this: rebinding names get re-checked often.
        o.positive_max_ttl = Some(Duration::from_secs(30));
        o.negative_max_ttl = Some(Duration::from_secs(5));
        let resolver = builder.build().map_err(ResolverError::Build)?;
        Ok(HickorySource { resolver, timeout })
    }

    async fn family(&self, fqdn: &str, rt: RecordType) -> Result<Vec<IpAddr>, ResolveFailure> {
        match self.resolver.lookup(fqdn, rt).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(vec![]),
            Err(e) => Err(ResolveFailure(format!("{rt} lookup failed: {e}"))),
        }
    }
}

#[async_trait]
impl AddrSource for HickorySource {
    async fn a_and_aaaa(&self, fqdn: &str) -> Result<Vec<IpAddr>, ResolveFailure> {
        let both = async {
            let (a, aaaa) = tokio::join!(self.family(fqdn, RecordType::A), self.family(fqdn, RecordType::AAAA));
            let mut all = a?;
            all.extend(aaaa?);
            Ok(all)
        };
        // The resolver bounds each query; this bounds the pair whatever the resolver does.
        tokio::time::timeout(self.timeout * 2, both)
            .await
            .unwrap_or_else(|_| Err(ResolveFailure(format!("no answer within {:?}", self.timeout * 2))))
    }
}
