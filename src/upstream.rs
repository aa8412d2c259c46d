//! The client side: one exchange with a channel's BytePlus endpoint over Pingora's own
//! [`Connector`] (one TLS stack, one connection pool, per-peer CA) with every timeout bounded.
//!
//! Why the edge re-originates instead of letting Pingora stream the request through: every route
//! needs the whole upstream answer before anything is released to the customer (ownership is
//! written before the create response, the task model is rewritten, settlement happens on the
//! observed status), and create bodies up to `limits.max_body_bytes` must arrive byte-for-byte,
//! far past pingora 0.9's 64 KiB retry buffer. Buffering both ways here gives exact framing
//! (Content-Length on both sides) and one place where upstream failures become 502.

use bytes::{Bytes, BytesMut};
use pingora_core::connectors::http::Connector;
use pingora_core::tls::x509::X509;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::RequestHeader;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest upstream answer the edge will buffer (task lists and asset pages are far smaller).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// How long an idle upstream connection stays in the pool.
const POOL_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("connect to {host} failed: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host} did not answer within {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("exchange with {host} failed: {reason}")]
    Io { host: String, reason: String },
    #[error("{host} answered more than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge { host: String },
}

/// A parsed base URL of a channel endpoint.
#[derive(Clone)]
pub struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
    /// Path prefix of the base URL, without a trailing slash ("" for none).
    prefix: String,
    ca: Option<Arc<Box<[X509]>>>,
    /// Separates pooled connections by trust: pingora's pool key covers address, SNI and the
    /// verify flags but not the CA, so without this a connection verified against one
    /// channel's `ca_file` would be handed to a channel that does not trust that CA.
    trust_key: u64,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}{}", if self.tls { "https" } else { "http" }, self.host, self.port, self.prefix)
    }
}

impl Endpoint {
    /// `base` was validated by the config; `ca_file` adds a trusted CA for this endpoint only.
    pub fn parse(base: &str, ca_file: Option<&Path>) -> Result<Endpoint, String> {
        let url = url::Url::parse(base).map_err(|e| format!("{base}: {e}"))?;
        let tls = url.scheme() == "https";
        let host = url.host_str().ok_or_else(|| format!("{base}: no host"))?.to_string();
        let port = url.port_or_known_default().ok_or_else(|| format!("{base}: no port"))?;
        let (ca, trust_key) = match ca_file {
            None => (None, 0),
            Some(p) => {
                let pem = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let certs = X509::stack_from_pem(&pem).map_err(|e| format!("{}: {e}", p.display()))?;
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::hash::Hash::hash(&pem, &mut h);
                // Never 0, the key of the system trust store.
                (Some(Arc::new(certs.into_boxed_slice())), std::hash::Hasher::finish(&h) | 1)
            }
        };
        Ok(Endpoint {
            tls,
            host: host.trim_matches(['[', ']']).to_string(),
            port,
            prefix: url.path().trim_end_matches('/').to_string(),
            ca,
            trust_key,
        })
    }

    /// The value of the `Host` header.
    pub fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// `path` starts with '/'.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// What came back: status, the few headers worth keeping, and the whole body.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub request_id: Option<String>,
    pub body: Bytes,
    pub elapsed: Duration,
}

/// An exchange that failed, and how far it got.
struct Failure {
    error: UpstreamError,
    /// The connection came from the pool.
    reused: bool,
    /// A response header had arrived.
    answered: bool,
}

pub struct UpstreamClient {
    connector: Connector,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl UpstreamClient {
    pub fn new(connect_timeout: Duration, read_timeout: Duration) -> Self {
        UpstreamClient { connector: Connector::new(None), connect_timeout, read_timeout }
    }

    /// Sends one request and buffers the answer. `headers` are added as given (auth, signing).
    pub async fn send(
        &self,
        ep: &Endpoint,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let started = Instant::now();
        // The per-phase timeouts bound each read; this bounds the whole exchange.
        let budget = self.connect_timeout + self.read_timeout;
        let attempt = async {
            match self.exchange(ep, method, path_and_query, headers, body.clone()).await {
                // A pooled connection the server closed as we picked it up: a GET is safe to
                // send again on a fresh one (a create or delete is not: it may have arrived).
                Err(Failure { reused: true, answered: false, .. }) if method == "GET" => {
                    self.exchange(ep, method, path_and_query, headers, body).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(budget, async { attempt.await.map_err(|f| f.error) }).await {
            Ok(Ok(mut r)) => {
                r.elapsed = started.elapsed();
                Ok(r)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(UpstreamError::Timeout { host: ep.host.clone(), after: budget }),
        }
    }

    async fn resolve(&self, ep: &Endpoint) -> Result<SocketAddr, UpstreamError> {
        let fail = |reason: String| UpstreamError::Resolve { host: ep.host.clone(), reason };
        if let Ok(ip) = ep.host.parse::<std::net::IpAddr>() {
            return Ok(SocketAddr::new(ip, ep.port));
        }
        let lookup = tokio::net::lookup_host((ep.host.as_str(), ep.port));
        let mut addrs = tokio::time::timeout(self.connect_timeout, lookup)
            .await
            .map_err(|_| fail("timed out".into()))?
            .map_err(|e| fail(e.to_string()))?;
        addrs.next().ok_or_else(|| fail("no addresses".into()))
    }

    async fn exchange(
        &self,
        ep: &Endpoint,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<UpstreamResponse, Failure> {
        let host = || ep.host.clone();
        let fresh = |error: UpstreamError| Failure { error, reused: false, answered: false };
        let addr = self.resolve(ep).await.map_err(fresh)?;
        let mut peer = HttpPeer::new(addr, ep.tls, ep.host.clone());
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.total_connection_timeout = Some(self.connect_timeout);
        peer.options.read_timeout = Some(self.read_timeout);
        peer.options.write_timeout = Some(self.read_timeout);
        peer.options.idle_timeout = Some(POOL_IDLE);
        peer.options.ca = ep.ca.clone();
        peer.group_key = ep.trust_key;

        let (mut session, reused) = self
            .connector
            .get_http_session(&peer)
            .await
            .map_err(|e| fresh(UpstreamError::Connect { host: host(), reason: e.to_string() }))?;
        let io = |e: Box<pingora_error::Error>| Failure {
            error: UpstreamError::Io { host: host(), reason: e.to_string() },
            reused,
            answered: false,
        };
        session.set_read_timeout(Some(self.read_timeout));
        session.set_write_timeout(Some(self.read_timeout));

        let mut req = RequestHeader::build(method, path_and_query.as_bytes(), Some(headers.len() + 3)).map_err(io)?;
        req.insert_header("Host", ep.authority()).map_err(io)?;
        for (name, value) in headers {
            req.insert_header(name.to_string(), value.as_str()).map_err(io)?;
        }
        let body = body.filter(|b| !b.is_empty() || method == "POST");
        match &body {
            Some(b) => req.insert_header("Content-Length", b.len().to_string()).map_err(io)?,
            None if method == "POST" => req.insert_header("Content-Length", "0").map_err(io)?,
            None => {}
        }
        session.write_request_header(Box::new(req)).await.map_err(io)?;
        if let Some(b) = body {
            session.write_request_body(b, true).await.map_err(io)?;
        }
        session.finish_request_body().await.map_err(io)?;
        session.read_response_header().await.map_err(io)?;
        let (status, content_type, request_id) = match session.response_header() {
            Some(h) => (
                h.status.as_u16(),
                h.headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string),
                h.headers
                    .get("x-request-id")
                    .or_else(|| h.headers.get("x-tt-logid"))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            ),
            None => {
                return Err(io(pingora_error::Error::explain(
                    pingora_error::ErrorType::InvalidHTTPHeader,
                    "no response header",
                )))
            }
        };
        let io = |e: Box<pingora_error::Error>| Failure {
            error: UpstreamError::Io { host: host(), reason: e.to_string() },
            reused,
            answered: true,
        };
        let mut buf = BytesMut::new();
        while let Some(chunk) = session.read_response_body().await.map_err(io)? {
            if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Failure { error: UpstreamError::TooLarge { host: host() }, reused, answered: true });
            }
            buf.extend_from_slice(&chunk);
        }
        self.connector.release_http_session(session, &peer, Some(POOL_IDLE)).await;
        Ok(UpstreamResponse { status, content_type, request_id, body: buf.freeze(), elapsed: Duration::ZERO })
    }
}
