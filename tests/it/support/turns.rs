//! A loopback relay in front of a redis-server that records the round trips its clients make:
//! every burst of bytes a client sends after the server last answered it is one turn. Answers
//! are held back a little so that requests a client sends together (pipelined or concurrent on
//! one multiplexed connection) always land in one turn, however the machine schedules them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long each answer is held: far longer than a client takes between requests it sends
/// together, far shorter than a test's patience.
const HOLD: Duration = Duration::from_millis(20);

/// One client turn: what the client sent before the server's next answer reached it.
#[derive(Debug, Clone)]
pub struct Turn {
    pub connection: usize,
    pub bytes: Vec<u8>,
}

impl Turn {
    /// Whether the turn carries anything but heartbeats (`PING`).
    pub fn is_work(&self) -> bool {
        let text = String::from_utf8_lossy(&self.bytes).to_ascii_uppercase();
        text.split("\r\n")
            .any(|part| !part.is_empty() && !part.starts_with('*') && !part.starts_with('$') && part != "PING")
    }
}

#[derive(Default)]
struct Log {
    turns: Vec<Turn>,
    /// Per connection: whether the server answered since the client's last bytes.
    answered: Vec<bool>,
}

pub struct TurnCounter {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl TurnCounter {
    pub async fn start(redis_port: u16) -> TurnCounter {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = log.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", redis_port)).await else { continue };
                let connection = {
                    let mut l = shared.lock().expect("log");
                    l.answered.push(true);
                    l.answered.len() - 1
                };
                relay(client, server, connection, shared.clone());
            }
        });
        TurnCounter { addr, log }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// Turns recorded so far.
    pub fn turns(&self) -> Vec<Turn> {
        self.log.lock().expect("log").turns.clone()
    }
}

fn relay(client: TcpStream, server: TcpStream, connection: usize, log: Arc<Mutex<Log>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = log.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            {
                let mut l = up.lock().expect("log");
                if std::mem::replace(&mut l.answered[connection], false) {
                    l.turns.push(Turn { connection, bytes: Vec::new() });
                }
                if let Some(t) = l.turns.iter_mut().rev().find(|t| t.connection == connection) {
                    t.bytes.extend_from_slice(&buf[..n]);
                }
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = server_read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tokio::time::sleep(HOLD).await;
            log.lock().expect("log").answered[connection] = true;
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
}
