//! The `seedance-edge` binary: the module behind its own Pingora server, plus the operator CLI.

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    if let Err(e) = seedance_edge::cli::main() {
        eprintln!("seedance-edge: {e}");
        std::process::exit(2);
    }
}
