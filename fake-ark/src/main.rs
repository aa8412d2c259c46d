//! `fake-ark [--listen 127.0.0.1:9000] [--api-key K]... [--credential AK:SK]... [--model ID]...
//! [--region R] [--held] [--leak-internal-fields] [--latency-ms N] [--asset-invisible-ms N]
//! [--max-queued N] [--account-id ID] [--inactive-model ID]... [--reference-video-secs N]`:
//! the simulator as a process, driven through `/_control/` (see `control.rs`), until killed.

use fake_ark::{FakeArk, FakeArkConfig};

const USAGE: &str = "usage: fake-ark [--listen ADDR] [--api-key KEY]... [--credential AK:SK]... [--model ID]... \
                     [--region R] [--held] [--leak-internal-fields] [--latency-ms N] [--asset-invisible-ms N] \
                     [--max-queued N] [--account-id ID] [--inactive-model ID]... [--reference-video-secs N]";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(String, FakeArkConfig), String> {
    let mut cfg = FakeArkConfig::default();
    let mut listen = "127.0.0.1:9000".to_string();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: {v:?} is not a number"));
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--api-key" => cfg.api_keys.push(value()?),
            "--credential" => {
                let v = value()?;
                let (ak, sk) = v.split_once(':').ok_or_else(|| "--credential is AK:SK".to_string())?;
                cfg.credentials.push((ak.to_string(), sk.to_string()));
            }
            "--model" => cfg.models.push(value()?),
            "--region" => cfg.region = value()?,
            "--latency-ms" => cfg.latency_ms = number(value()?)?,
            "--asset-invisible-ms" => cfg.asset_invisible_ms = number(value()?)?,
            "--leak-internal-fields" => cfg.leak_internal_fields = true,
            "--max-queued" => cfg.max_queued = Some(number(value()?)? as usize),
            "--account-id" => cfg.account_id = value()?,
            "--inactive-model" => cfg.inactive_models.push(value()?),
            "--reference-video-secs" => cfg.reference_video_secs = number(value()?)?,
            "--held" => {
                let held = FakeArkConfig::held();
                (cfg.queued_ms, cfg.running_ms, cfg.asset_processing_ms) =
                    (held.queued_ms, held.running_ms, held.asset_processing_ms);
            }
            "-h" | "--help" => usage(),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((listen, cfg))
}

fn main() {
    let (listen, cfg) = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("fake-ark: {e}");
            usage()
        }
    };
    let Ok(addr) = listen.parse() else {
        eprintln!("fake-ark: --listen {listen:?} is not an address");
        usage()
    };
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
                // Runs until killed; Ctrl-C ends it cleanly too.
                let _ = tokio::signal::ctrl_c().await;
            }
            Err(e) => {
                eprintln!("fake-ark: {listen}: {e}");
                std::process::exit(1)
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> impl Iterator<Item = String> + '_ {
        s.split_whitespace().map(str::to_string)
    }

    #[test]
    fn parses_flags() {
        let (listen, cfg) =
            parse_args(args("--listen 127.0.0.1:9100 --api-key K --credential AK:SK:x --held --model m")).unwrap();
        assert_eq!(listen, "127.0.0.1:9100");
        assert_eq!(cfg.api_keys, ["K"]);
        assert_eq!(cfg.credentials, [("AK".to_string(), "SK:x".to_string())]);
        assert_eq!(cfg.queued_ms, None);
        assert!(cfg.models.iter().any(|m| m == "m"));
        let (_, cfg) = parse_args(args(
            "--max-queued 120 --account-id 2100000001 --inactive-model a --inactive-model b --reference-video-secs 6",
        ))
        .unwrap();
        assert_eq!((cfg.max_queued, cfg.account_id.as_str(), cfg.reference_video_secs), (Some(120), "2100000001", 6));
        assert_eq!(cfg.inactive_models, ["a", "b"]);
        assert!(parse_args(args("--max-queued many")).is_err());
        assert!(parse_args(args("--credential nocolon")).is_err());
        assert!(parse_args(args("--api-key")).is_err());
        assert!(parse_args(args("--bogus")).is_err());
    }
}
