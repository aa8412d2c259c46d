//! `seedance-edge demo` starts on a fresh machine and the curl lines it prints work: create →
//! get round trip against the embedded default (memory store, in-process fake BytePlus).

use crate::support;

use std::process::Command;
use support::demo::Demo;

fn sh(script: &str) -> String {
    let out = Command::new("bash").arg("-c").arg(script).output().expect("bash");
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_printed_curl_lines_complete_a_round_trip() {
    let demo = Demo::start();
    let lines = &demo.lines;
    let banner = lines.join("\n");
    let exports: String = lines.iter().filter(|l| l.starts_with("export ")).map(|l| format!("{l}\n")).collect();
    assert!(exports.contains("TOKEN=\"oh-"), "{banner}");
    // The create command spans the lines from `curl -s -X POST` through the `-d '…'` line.
    let start = lines.iter().position(|l| l.starts_with("curl -s -X POST")).expect("create line");
    let create: String = lines[start..start + 3].join("\n");
    let get = lines.iter().find(|l| l.contains("/tasks/cgt-...")).expect("get line").clone();

    let created = sh(&format!("{exports}{create}"));
    let v: serde_json::Value = serde_json::from_str(&created).unwrap_or_else(|_| panic!("create answered {created}"));
    let id = v["id"].as_str().expect("an id").to_string();
    let got = sh(&format!("{exports}{}", get.replace("cgt-...", &id)));
    let v: serde_json::Value = serde_json::from_str(&got).unwrap_or_else(|_| panic!("get answered {got}"));
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["model"], "dreamina-seedance-2-0-fast");

    // The asset walk-through runs as printed: group → asset → get → list → a task using it.
    let assets = lines.join("\n");
    let start = assets.find("# asset library").expect("asset lines in the banner");
    let out = sh(&format!("set -e\n{exports}{}", &assets[start..]));
    assert!(out.contains("\"Status\""), "GetAsset answered: {out}");
    assert!(out.contains("\"TotalCount\":1"), "ListAssets answered: {out}");
    assert!(out.contains("{\"id\":\"cgt-"), "the task using the asset was created: {out}");
    assert!(!out.contains("ProjectName"), "{out}");
}

#[test]
fn the_readme_quotes_the_demo_lines_verbatim() {
    let readme = include_str!("../../README.md");
    assert!(readme.contains(seedance_edge::demo::ASSET_LINES), "README's asset lines differ from the demo's");
}
