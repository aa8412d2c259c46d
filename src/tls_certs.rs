//! Listener certificates that a reload can replace (SIGHUP). Pingora's `TlsSettings::intermediate`
//! reads the files once into the acceptor; certificates are rotated on disk (cert-manager, ACME)
//! without the listener changing, so each TLS listener instead presents the certificate held
//! here, chosen per handshake, and SIGHUP re-reads the same files. A pair that does not load is
//! refused and the one in use stays: a bad rotation never takes the listener down.

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora_core::listeners::TlsAccept;
use pingora_core::protocols::tls::TlsRef;
use pingora_core::tls::ext;
use pingora_core::tls::pkey::{PKey, Private};
use pingora_core::tls::x509::X509;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate chain (leaf first) and its private key.
struct Pair {
    chain: Vec<X509>,
    key: PKey<Private>,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{0}: no certificate in the file")]
    Empty(String),
    #[error("{cert}: the certificate does not match the key in {key}")]
    Mismatch { cert: String, key: String },
}

/// One listener's certificate, replaceable while it serves.
pub struct ListenerCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: ArcSwap<Pair>,
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|e| CertError::Unreadable { path: path.display().to_string(), reason: e.to_string() })
}

fn load(cert_path: &Path, key_path: &Path) -> Result<Pair, CertError> {
    let unreadable = |path: &Path, e: &dyn std::fmt::Display| CertError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let chain = X509::stack_from_pem(&read(cert_path)?).map_err(|e| unreadable(cert_path, &e))?;
    let key = PKey::private_key_from_pem(&read(key_path)?).map_err(|e| unreadable(key_path, &e))?;
    let leaf = chain.first().ok_or_else(|| CertError::Empty(cert_path.display().to_string()))?;
    let matches = leaf.public_key().map(|p| p.public_eq(&key)).unwrap_or(false);
    if !matches {
        return Err(CertError::Mismatch { cert: cert_path.display().to_string(), key: key_path.display().to_string() });
    }
    Ok(Pair { chain, key })
}

impl ListenerCert {
    /// Loads the pair now; a listener never starts without a valid one.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<ListenerCert>, CertError> {
        let pair = load(cert_path, key_path)?;
        Ok(Arc::new(ListenerCert {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            current: ArcSwap::from_pointee(pair),
        }))
    }

    /// Re-reads the files; on error the certificate in use stays.
    pub fn reload(&self) -> Result<(), CertError> {
        let pair = load(&self.cert_path, &self.key_path)?;
        self.current.store(Arc::new(pair));
        Ok(())
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The handshake callback Pingora calls for this listener.
    pub fn acceptor(self: &Arc<Self>) -> Box<dyn TlsAccept + Send + Sync> {
        Box::new(Presenter(self.clone()))
    }
}

struct Presenter(Arc<ListenerCert>);

#[async_trait]
impl TlsAccept for Presenter {
    async fn certificate_callback(&self, ssl: &mut TlsRef) {
        let pair = self.0.current.load();
        let mut chain = pair.chain.iter();
        // A failure here leaves the handshake without a certificate: the client sees a TLS
        // error for this one connection; the listener and the next handshake are unaffected.
        let ok = chain.next().map(|leaf| ext::ssl_use_certificate(ssl, leaf).is_ok()).unwrap_or(false)
            && chain.all(|c| ext::ssl_add_chain_cert(ssl, c).is_ok())
            && ext::ssl_use_private_key(ssl, &pair.key).is_ok();
        if !ok {
            log::error!("TLS: could not present the certificate from {}", self.0.cert_path.display());
        }
    }
}

/// Every TLS listener's certificate, reloaded together on SIGHUP.
#[derive(Default)]
pub struct Certificates(std::sync::Mutex<Vec<Arc<ListenerCert>>>);

impl Certificates {
    pub fn register(&self, cert: Arc<ListenerCert>) {
        if let Ok(mut v) = self.0.lock() {
            v.push(cert);
        }
    }

    /// Reloads each listener's pair; returns how many failed (each logged, each keeping its old one).
    pub fn reload_all(&self) -> usize {
        let certs: Vec<Arc<ListenerCert>> = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        let mut failed = 0;
        for c in certs {
            match c.reload() {
                Ok(()) => log::info!("TLS certificate reloaded from {}", c.cert_path().display()),
                Err(e) => {
                    failed += 1;
                    log::error!("TLS certificate reload refused, the one in use stays: {e}");
                }
            }
        }
        failed
    }
}
