//! A TLS terminator in front of a plaintext test server, with a self-signed certificate for
//! `localhost` made by the `openssl` CLI: lets the tests see the edge speak HTTPS to a channel
//! and trust it only through the channel's `ca_file`.
#![allow(dead_code)]

use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Arc;

pub struct TlsFront {
    pub port: u16,
    /// The certificate, which is its own CA: the file a channel's `ca_file` points to.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// A self-signed certificate and key for `localhost`, made by the `openssl` CLI in `dir`.
pub fn self_signed(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(ok.success(), "openssl req failed");
    (cert, key)
}

impl TlsFront {
    /// Terminates TLS on a free port of 127.0.0.1 (and ::1 where available: `localhost` may
    /// resolve to either) and pipes every connection to `backend`.
    pub async fn start(backend: SocketAddr) -> TlsFront {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = self_signed(dir.path());
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).expect("acceptor");
        b.set_certificate_chain_file(&cert).expect("cert");
        b.set_private_key_file(&key, SslFiletype::PEM).expect("key");
        let acceptor = Arc::new(b.build());
        let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = v4.local_addr().expect("addr").port();
        let mut listeners = vec![v4];
        if let Ok(v6) = tokio::net::TcpListener::bind(("::1", port)).await {
            listeners.push(v6);
        }
        let tasks = listeners
            .into_iter()
            .map(|l| {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    while let Ok((tcp, _)) = l.accept().await {
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let Ok(ssl) = Ssl::new(acceptor.context()) else { return };
                            let Ok(mut tls) = tokio_openssl::SslStream::new(ssl, tcp) else { return };
                            if Pin::new(&mut tls).accept().await.is_err() {
                                return;
                            }
                            let Ok(mut up) = tokio::net::TcpStream::connect(backend).await else { return };
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                        });
                    }
                })
            })
            .collect();
        TlsFront { port, ca_file: cert, _dir: dir, tasks }
    }
}
