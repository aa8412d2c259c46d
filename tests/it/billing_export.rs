//! `billing export` against a real redis-server holding more than one page of ledger: the
//! pages join up exactly (every entry once, in order), `--until` bounds the export, a printed
//! cursor resumes with no duplicate and no gap, CSV has its header and one row per entry, and
//! entries written before the ledger carried `channel`/`unit_price` still read (fields empty).

use crate::support;

use std::process::Command;
use support::redis::RedisServer;

const N: u64 = 2_345;
/// Entry `i` is appended at millisecond `BASE + i` (id `<ms>-0`), so bounds are exact.
const BASE: u64 = 1_781_000_000_000;

fn conf(dir: &std::path::Path, redis: &str) -> std::path::PathBuf {
    let path = dir.join("export.yaml");
    std::fs::write(&path, format!("store: {{ url: \"{redis}\", prefix: sde }}\n")).unwrap();
    path
}

fn export(conf: &std::path::Path, args: &[&str]) -> (Vec<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["billing", "export", "--tenant", "acme"])
        .args(args)
        .arg("--conf")
        .arg(conf)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let cursor = stderr.lines().find_map(|l| l.strip_prefix("cursor: ")).expect("a cursor line").to_string();
    (String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect(), cursor)
}

fn task_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["task_id"].as_str().unwrap().to_string())
        .collect()
}

/// Appends the ledger the way settle.lua does; the first 10 entries lack the newer fields.
async fn fill(redis: &RedisServer) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut pipe = redis::pipe();
    for i in 0..N {
        let cmd = pipe
            .cmd("XADD")
            .arg("sde:{t:acme}:ledger")
            .arg(format!("{}-0", BASE + i))
            .arg("task")
            .arg(format!("cgt-{i:05}"))
            .arg("settlement")
            .arg(format!("n1-{i}"))
            .arg("sku")
            .arg("dreamina-seedance-2-0-720p-video")
            .arg("tokens")
            .arg(1000)
            .arg("usd_nanos")
            .arg(4_300_000)
            .arg("model")
            .arg("dreamina-seedance-2-0")
            .arg("at")
            .arg(BASE + i);
        if i >= 10 {
            cmd.arg("channel").arg("main").arg("unit_price").arg(4_300_000);
        }
        cmd.ignore();
    }
    pipe.query_async::<()>(&mut c).await.unwrap();
}

#[tokio::test]
async fn the_export_pages_resumes_and_bounds_exactly() {
    let redis = RedisServer::start();
    fill(&redis).await;
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path(), &redis.url());
    let all: Vec<String> = (0..N).map(|i| format!("cgt-{i:05}")).collect();

    // Everything, in order, once: three pages joined.
    let (lines, cursor) = export(&conf, &[]);
    assert_eq!(task_ids(&lines), all);
    assert_eq!(cursor, format!("acme={}-0", BASE + N - 1));
    let old: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!((old["channel"].as_str(), old["unit_price"].is_null()), (Some(""), true), "{old}");
    let new: serde_json::Value = serde_json::from_str(&lines[10]).unwrap();
    assert_eq!((new["channel"].as_str(), new["unit_price"].as_u64()), (Some("main"), Some(4_300_000)), "{new}");

    // `--until` stops before its millisecond; `--since` starts at its own.
    let (lines, cursor) =
        export(&conf, &["--since", &(BASE + 500).to_string(), "--until", &(BASE + 1_700).to_string()]);
    assert_eq!(task_ids(&lines), all[500..1_700].to_vec());
    assert_eq!(cursor, format!("acme={}-0", BASE + 1_699));

    // Resuming from that cursor continues with the next entry: no duplicate, no gap.
    let (rest, cursor) = export(&conf, &["--after", &format!("{}-0", BASE + 1_699)]);
    assert_eq!(task_ids(&rest), all[1_700..].to_vec());
    assert_eq!(cursor, format!("acme={}-0", BASE + N - 1));
    let (none, same) = export(&conf, &["--after", &cursor]);
    assert!(none.is_empty());
    assert_eq!(same, cursor, "an export with nothing new keeps the cursor");

    // CSV: a header, then one row per entry; old entries have empty channel and price.
    let (csv, _) = export(&conf, &["--format", "csv", "--until", &(BASE + 12).to_string()]);
    assert_eq!(csv[0], "entry_id,tenant,task_id,settlement_id,channel,model,sku,tokens,unit_price,usd_nanos,at_ms");
    assert_eq!(csv.len(), 13);
    assert_eq!(
        csv[1],
        format!(
            "{BASE}-0,acme,cgt-00000,n1-0,,dreamina-seedance-2-0,dreamina-seedance-2-0-720p-video,1000,,4300000,{BASE}"
        )
    );
    assert_eq!(
        csv[12],
        format!("{}-0,acme,cgt-00011,n1-11,main,dreamina-seedance-2-0,dreamina-seedance-2-0-720p-video,1000,4300000,4300000,{}", BASE + 11, BASE + 11)
    );
}

#[tokio::test]
async fn a_settlement_writes_channel_and_unit_price_to_the_ledger() {
    use seedance_edge::store::redis::{RedisOptions, RedisStore};
    use seedance_edge::store::{LedgerFrom, Store};
    let redis = RedisServer::start();
    let s = RedisStore::connect(&redis.url(), "sde", RedisOptions::default()).unwrap();
    s.put_task("acme", &support::fixtures::task("cgt-1", 1)).await.unwrap();
    s.settle("acme", &support::fixtures::settlement("cgt-1", "n1-a")).await.unwrap();
    let page = s.ledger_page("acme", &LedgerFrom::Since(0), None, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!((page[0].channel.as_str(), page[0].unit_price), ("main", Some(4_300_000)));
}
