//! A channel's base URL, parsed once: where its requests go (host, port, TLS, path prefix) and
//! which CA its TLS connections trust. Nothing here touches the network.

use pingora_core::tls::x509::X509;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a base URL or its CA file cannot be used (the configuration checked the URL's shape, so
/// this is a CA file that cannot be read, or a URL the config let through by mistake).
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("{url}: {source}")]
    Url {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{url}: no {part}")]
    Incomplete { url: String, part: &'static str },
    #[error("{}: {source}", path.display())]
    CaRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    CaParse {
        path: PathBuf,
        #[source]
        source: pingora_core::tls::error::ErrorStack,
    },
}

/// A parsed base URL of a channel endpoint.
#[derive(Clone)]
pub struct Endpoint {
    pub(super) tls: bool,
    pub(super) host: String,
    pub(super) port: u16,
    /// Path prefix of the base URL, without a trailing slash ("" for none).
    prefix: String,
    /// The `Host` header's value, built once: every request sends it.
    authority: String,
    pub(super) ca: Option<Arc<Box<[X509]>>>,
    /// Separates pooled connections by trust: pingora's pool key covers address, SNI and the
    /// verify flags but not the CA, so without this a connection verified against one
    /// channel's `ca_file` would be handed to a channel that does not trust that CA.
    pub(super) trust_key: u64,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}{}", if self.tls { "https" } else { "http" }, self.host, self.port, self.prefix)
    }
}

impl Endpoint {
    /// `base` was validated by the config; `ca_file` adds a trusted CA for this endpoint only.
    pub fn parse(base: &str, ca_file: Option<&Path>) -> Result<Endpoint, EndpointError> {
        let url = url::Url::parse(base).map_err(|source| EndpointError::Url { url: base.to_string(), source })?;
        let incomplete = |part| EndpointError::Incomplete { url: base.to_string(), part };
        let tls = url.scheme() == "https";
        let host = url.host_str().ok_or_else(|| incomplete("host"))?.to_string();
        let port = url.port_or_known_default().ok_or_else(|| incomplete("port"))?;
        let (ca, trust_key) = match ca_file {
            None => (None, 0),
            Some(p) => {
                let pem = std::fs::read(p).map_err(|source| EndpointError::CaRead { path: p.to_path_buf(), source })?;
                let certs = X509::stack_from_pem(&pem)
                    .map_err(|source| EndpointError::CaParse { path: p.to_path_buf(), source })?;
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::hash::Hash::hash(&pem, &mut h);
                // Never 0, the key of the system trust store.
                (Some(Arc::new(certs.into_boxed_slice())), std::hash::Hasher::finish(&h) | 1)
            }
        };
        let host = host.trim_matches(['[', ']']).to_string();
        Ok(Endpoint {
            authority: authority(&host, port, tls),
            tls,
            host,
            port,
            prefix: url.path().trim_end_matches('/').to_string(),
            ca,
            trust_key,
        })
    }

    /// The value of the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// `path` starts with '/'.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// `host[:port]`, the port left out when it is the scheme's own, an IPv6 literal bracketed.
fn authority(host: &str, port: u16, tls: bool) -> String {
    let default = if tls { 443 } else { 80 };
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    if port == default {
        host
    } else {
        format!("{host}:{port}")
    }
}
