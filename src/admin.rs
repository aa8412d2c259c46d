//! The admin listener: `/healthz` (the process is up), `/readyz` (config loaded, tenants
//! upserted, signal handlers installed, store reachable, not draining) and `/metrics` (Prometheus text). With
//! `admin.bearer_token_file` set, `/metrics` wants `Authorization: Bearer <token>`; the probes
//! stay open because kubelets and load balancers cannot send one. Without it there is no
//! authentication: bind it to loopback or an internal address.

use crate::config::Secret;
use crate::edge::LiveEdge;
use async_trait::async_trait;
use http::Response;
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `ready`, and the channels whose creates are being skipped (still ready: other channels, and
/// every other route, serve), so an operator sees a tripped breaker where a probe already looks.
fn ready_detail(edge: &crate::edge::Edge) -> String {
    let open: Vec<&str> =
        edge.channels.all().into_iter().filter(|c| c.breaker.is_open()).map(|c| c.conf.id.as_str()).collect();
    if open.is_empty() {
        "ready\n".to_string()
    } else {
        format!("ready\ncircuit open (creates skip these channels): {}\n", open.join(", "))
    }
}

pub struct AdminApp {
    live: Arc<LiveEdge>,
    metrics_token: Option<Secret>,
}

impl AdminApp {
    /// `metrics_token`: what `/metrics` requires as a bearer token (`None`: open).
    pub fn new(live: Arc<LiveEdge>, metrics_token: Option<Secret>) -> AdminApp {
        AdminApp { live, metrics_token }
    }

    fn may_scrape(&self, session: &ServerSession) -> bool {
        let Some(expected) = &self.metrics_token else { return true };
        let presented = session.req_header().headers.get("authorization").map(|v| v.as_bytes());
        presented.and_then(bearer).is_some_and(|t| same_secret(t, expected.expose().as_bytes()))
    }
}

/// Why the admin token file cannot be used (each names the key and the file).
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("admin.bearer_token_file {}: {source}", path.display())]
    Unreadable {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("admin.bearer_token_file {}: the file is empty", path.display())]
    Empty { path: std::path::PathBuf },
    #[error("admin.bearer_token_file {}: the token must be visible ASCII without spaces", path.display())]
    NotVisibleAscii { path: std::path::PathBuf },
}

/// Reads the admin token: surrounding whitespace (the newline editors add) is dropped; the rest
/// must be a non-empty run of visible ASCII, since it travels in a header.
pub fn read_token_file(path: &Path) -> Result<Secret, TokenFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| TokenFileError::Unreadable { path: path.into(), source })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(TokenFileError::Empty { path: path.into() });
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenFileError::NotVisibleAscii { path: path.into() });
    }
    Ok(Secret::new(token))
}

/// The credentials of `Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then(|| rest.trim_ascii())
}

/// Compares digests, in time independent of where the inputs differ, so the token cannot be
/// guessed a byte at a time from response times.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn text(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let len = body.len();
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .header("Content-Length", len)
        .body(body)
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

fn unauthorized() -> Response<Vec<u8>> {
    let mut r = text(401, "text/plain", b"unauthorized: /metrics needs Authorization: Bearer <admin token>\n".to_vec());
    r.headers_mut().insert("WWW-Authenticate", http::HeaderValue::from_static("Bearer realm=\"seedance-edge admin\""));
    r
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let edge = self.live.current();
        match session.req_header().uri.path() {
            "/healthz" => text(200, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                if edge.draining.load(Ordering::Acquire) {
                    return text(503, "text/plain", b"draining: shutting down\n".to_vec());
                }
                if !edge.started.load(Ordering::Acquire) || !edge.signals_armed.load(Ordering::Acquire) {
                    return text(503, "text/plain", b"starting: tenants not loaded yet\n".to_vec());
                }
                match edge.store.ping().await {
                    Ok(()) => text(200, "text/plain", ready_detail(&edge).into_bytes()),
                    // Counted and logged by the store.
                    Err(_) => text(503, "text/plain", b"store unreachable\n".to_vec()),
                }
            }
            "/metrics" if !self.may_scrape(session) => unauthorized(),
            "/metrics" => {
                crate::capacity::refresh_gauges(&edge).await;
                text(200, "text/plain; version=0.0.4", edge.metrics.render())
            }
            _ => text(404, "text/plain", b"not found: /healthz, /readyz, /metrics\n".to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_credentials_are_read_case_insensitively() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"abc"));
    }

    #[test]
    fn the_token_file_is_trimmed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret-token\n").unwrap();
        assert_eq!(read_token_file(&path).unwrap().expose(), "s3cret-token");
        std::fs::write(&path, " \n").unwrap();
        assert!(read_token_file(&path).unwrap_err().to_string().contains("empty"));
        std::fs::write(&path, "two words").unwrap();
        assert!(read_token_file(&path).unwrap_err().to_string().contains("visible ASCII"));
        let e = read_token_file(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(e, TokenFileError::Unreadable { .. }));
        assert!(e.to_string().starts_with("admin.bearer_token_file"), "{e}");
    }
}
