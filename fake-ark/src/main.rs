//! `fake-ark --listen 127.0.0.1:9000 --api-key K --credential AK:SK [--model ID] [--held]`:
//! the simulator as a process, driven through `/_control/` (see the crate docs).

use fake_ark::{FakeArk, FakeArkConfig};

fn usage() -> ! {
    eprintln!("usage: fake-ark [--listen ADDR] [--api-key KEY]... [--credential AK:SK]... [--model ID]... [--held]");
    std::process::exit(2)
}

fn main() {
    let mut cfg = FakeArkConfig::default();
    let mut listen = "127.0.0.1:9000".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = value(),
            "--api-key" => cfg.api_keys.push(value()),
            "--credential" => match value().split_once(':') {
                Some((ak, sk)) => cfg.credentials.push((ak.to_string(), sk.to_string())),
                None => usage(),
            },
            "--model" => cfg.models.push(value()),
            "--held" => {
                cfg = FakeArkConfig {
                    api_keys: cfg.api_keys,
                    credentials: cfg.credentials,
                    models: cfg.models,
                    ..FakeArkConfig::held()
                }
            }
            _ => usage(),
        }
    }
    let Ok(addr) = listen.parse() else { usage() };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-ark: runtime: {e}");
            std::process::exit(1)
        }
    };
    rt.block_on(async move {
        match FakeArk::start_on(addr, cfg).await {
            Ok(fake) => {
                println!("fake-ark listening on {}", fake.base_url());
                let _ = tokio::signal::ctrl_c().await;
            }
            Err(e) => {
                eprintln!("fake-ark: {listen}: {e}");
                std::process::exit(1)
            }
        }
    });
}
