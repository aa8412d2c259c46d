//! `seedance-edge demo` as a child process: started on free ports, its banner read up to the end
//! marker, ready once the proxy accepts connections; killed on drop.

use super::wait::{free_port, until_sync};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Demo {
    child: Child,
    /// The banner's lines, without the end marker.
    pub lines: Vec<String>,
    pub base: String,
    pub token: String,
}

impl Demo {
    pub fn start() -> Demo {
        let (listen, admin) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
            .args(["demo", "--listen", &listen, "--admin", &admin])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            if line == seedance_edge::demo::END_MARKER || Instant::now() > deadline {
                break;
            }
            lines.push(line);
        }
        let token = lines
            .iter()
            .find_map(|l| l.strip_prefix("export TOKEN=\""))
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or_default()
            .to_string();
        // The banner prints as the proxy starts: wait until it accepts connections.
        until_sync("demo listening", Duration::from_secs(20), || std::net::TcpStream::connect(&listen).is_ok());
        Demo { child, lines, base: format!("http://{listen}"), token }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
