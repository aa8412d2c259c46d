//! The `seedance-edge` binary: the module behind its own Pingora server, plus the operator CLI.

use std::io::Write;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|buf, record| {
            // A JSON access line is written bare so the whole line parses as one object
            // (`log.format: json`); everything else keeps the usual prefix.
            let msg = record.args().to_string();
            if record.target() == seedance_edge::logfmt::ACCESS_TARGET && msg.starts_with('{') {
                writeln!(buf, "{msg}")
            } else {
                writeln!(buf, "[{} {} {}] {}", buf.timestamp(), record.level(), record.target(), msg)
            }
        })
        .init();
    if let Err(e) = seedance_edge::cli::main() {
        eprintln!("seedance-edge: {e}");
        std::process::exit(2);
    }
}
