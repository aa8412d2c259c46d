//! The wire: one exchange with a channel's endpoint over Pingora's own [`Connector`] (one TLS
//! stack, one connection pool, per-peer CA) with every timeout bounded.
//!
//! Why the edge re-originates instead of letting Pingora stream the request through: every route
//! needs the whole upstream answer before anything is released to the customer (ownership is
//! written before the create response, the task model is rewritten, settlement happens on the
//! observed status), and create bodies up to `limits.max_body_bytes` must arrive byte-for-byte,
//! far past pingora 0.9's 64 KiB retry buffer. Buffering both ways here gives exact framing
//! (Content-Length on both sides) and one place where upstream failures are classified.

use super::resolve::{ResolveError, UpstreamResolver};
use super::{Endpoint, Method};
use crate::config::UpstreamConf;
use bytes::{Bytes, BytesMut};
use pingora_core::connectors::http::Connector;
use pingora_core::connectors::ConnectorOptions;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::RequestHeader;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Largest upstream answer the edge will buffer (task lists and asset pages are far smaller).
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// How long an idle upstream connection stays in the pool.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Why an exchange failed on the wire, with the cause Pingora or the resolver gave.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot resolve {host}")]
    Resolve {
        host: String,
        #[source]
        source: ResolveError,
    },
    #[error("connect to {host} failed")]
    Connect {
        host: String,
        #[source]
        source: Box<pingora_error::Error>,
    },
    #[error("{host} did not answer within {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("exchange with {host} failed")]
    Io {
        host: String,
        #[source]
        source: Box<pingora_error::Error>,
    },
    #[error("{host} answered more than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge { host: String },
}

impl TransportError {
    /// Not one byte of the request left the edge (the host did not resolve or the connection
    /// was refused), so the upstream certainly did nothing.
    pub fn unsent(&self) -> bool {
        matches!(self, TransportError::Resolve { .. } | TransportError::Connect { .. })
    }

    /// The `status` label of `seedance_upstream_requests_total` for a failed exchange.
    pub fn label(&self) -> &'static str {
        match self {
            TransportError::Timeout { .. } => "timeout",
            _ if self.unsent() => "connect_error",
            _ => "io_error",
        }
    }
}

/// One request as it goes on the wire: the signed or authenticated form of an `UpstreamRequest`.
pub struct Outgoing<'a> {
    pub endpoint: &'a Endpoint,
    pub method: Method,
    /// Path and query, as sent.
    pub target: String,
    /// Added as given, after `Host` (auth, signing, request id).
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Bytes>,
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
    error: TransportError,
    /// The connection came from the pool.
    reused: bool,
    /// A response header had arrived.
    answered: bool,
}

/// Pingora's connector with the configured timeouts and pool, and the channel-host resolver:
/// shared by every configuration (a reload keeps the pool and the DNS cache).
pub struct Transport {
    connector: Connector,
    resolver: UpstreamResolver,
    connect_timeout: Duration,
    read_timeout: Duration,
}

impl Transport {
    pub fn new(conf: &UpstreamConf, resolver: UpstreamResolver) -> Self {
        // Pingora's pool is keyed by address, TLS name and `group_key` (the channel's trust):
        // connections are reused per channel endpoint address, never across trust boundaries.
        let options = ConnectorOptions::new(conf.pool_size);
        Transport {
            connector: Connector::new(Some(options)),
            resolver,
            connect_timeout: conf.connect_timeout,
            read_timeout: conf.read_timeout,
        }
    }

    /// Sends one request and buffers the answer.
    pub async fn send(&self, out: &Outgoing<'_>) -> Result<UpstreamResponse, TransportError> {
        let started = Instant::now();
        // The per-phase timeouts bound each read; this bounds the whole exchange.
        let budget = self.connect_timeout + self.read_timeout;
        // Boxed: Pingora's response read keeps a 256-entry header array across its await, and
        // inline it would make every route's future (allocated and moved per request) 11 KiB.
        let attempt = async {
            match Box::pin(self.exchange(out)).await {
                // A pooled connection the server closed as we picked it up: a GET is safe to
                // send again on a fresh one (a create or delete is not: it may have arrived).
                Err(Failure { reused: true, answered: false, .. }) if out.method == Method::Get => {
                    Box::pin(self.exchange(out)).await
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
            Err(_) => Err(TransportError::Timeout { host: out.endpoint.host.clone(), after: budget }),
        }
    }

    async fn addresses(&self, ep: &Endpoint) -> Result<Vec<SocketAddr>, TransportError> {
        let lookup = self.resolver.addresses(&ep.host, ep.port);
        let failed = |source| TransportError::Resolve { host: ep.host.clone(), source };
        tokio::time::timeout(self.connect_timeout, lookup)
            .await
            .map_err(|_| failed(ResolveError::Lookup("timed out".into())))?
            .map_err(failed)
    }

    /// A session to the first of the host's addresses that accepts one: a refused or timed-out
    /// address costs one connect attempt, then the next is tried. Nothing was sent to the ones
    /// that failed, so this is safe for every method.
    async fn session(&self, ep: &Endpoint) -> Result<(HttpSession, bool, HttpPeer), TransportError> {
        let mut last = None;
        for addr in self.addresses(ep).await? {
            let mut peer = HttpPeer::new(addr, ep.tls, ep.host.clone());
            peer.options.connection_timeout = Some(self.connect_timeout);
            peer.options.total_connection_timeout = Some(self.connect_timeout);
            peer.options.read_timeout = Some(self.read_timeout);
            peer.options.write_timeout = Some(self.read_timeout);
            peer.options.idle_timeout = Some(POOL_IDLE);
            peer.options.ca = ep.ca.clone();
            peer.group_key = ep.trust_key;
            match self.connector.get_http_session(&peer).await {
                Ok((session, reused)) => return Ok((session, reused, peer)),
                Err(source) => {
                    log::debug!("upstream {} at {addr}: {source}", ep.host);
                    last = Some(source);
                }
            }
        }
        let source = last.unwrap_or_else(|| {
            pingora_error::Error::explain(pingora_error::ErrorType::ConnectError, "no address to connect to")
        });
        Err(TransportError::Connect { host: ep.host.clone(), source })
    }

    async fn exchange(&self, out: &Outgoing<'_>) -> Result<UpstreamResponse, Failure> {
        let ep = out.endpoint;
        let method = out.method.as_str();
        let host = || ep.host.clone();
        let fresh = |error: TransportError| Failure { error, reused: false, answered: false };
        let (mut session, reused, peer) = self.session(ep).await.map_err(fresh)?;
        let io = |source: Box<pingora_error::Error>| Failure {
            error: TransportError::Io { host: host(), source },
            reused,
            answered: false,
        };
        session.set_read_timeout(Some(self.read_timeout));
        session.set_write_timeout(Some(self.read_timeout));

        let mut req = RequestHeader::build(method, out.target.as_bytes(), Some(out.headers.len() + 3)).map_err(io)?;
        req.insert_header("Host", ep.authority()).map_err(io)?;
        for (name, value) in &out.headers {
            req.insert_header(*name, value.as_str()).map_err(io)?;
        }
        let body = out.body.clone().filter(|b| !b.is_empty() || method == "POST");
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
        let io = |source: Box<pingora_error::Error>| Failure {
            error: TransportError::Io { host: host(), source },
            reused,
            answered: true,
        };
        let mut buf = BytesMut::new();
        while let Some(chunk) = session.read_response_body().await.map_err(io)? {
            if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Failure { error: TransportError::TooLarge { host: host() }, reused, answered: true });
            }
            buf.extend_from_slice(&chunk);
        }
        self.connector.release_http_session(session, &peer, Some(POOL_IDLE)).await;
        Ok(UpstreamResponse { status, content_type, request_id, body: buf.freeze(), elapsed: Duration::ZERO })
    }
}
