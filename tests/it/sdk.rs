//! The official BytePlus Python SDK (`byteplus-python-sdk-v2`) drives the edge unchanged: create
//! (only the required fields, and with the common optional ones), get, list with every filter the
//! SDK sends, usage on a succeeded task, cancel and delete — on a real redis-server and fake-ark.
//! And the README's SDK lines run as printed against `seedance-edge demo`.
//!
//! `scripts/test` installs the SDK into `target/sdk-venv`; `SEEDANCE_SDK_PYTHON` names another
//! interpreter that has it.

use crate::support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use support::harness::{token, Harness};

fn python() -> PathBuf {
    let path = std::env::var_os("SEEDANCE_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which installs the official BytePlus SDK there",
        path.display()
    );
    path
}

fn run_python(script: &std::path::Path, env: &[(&str, String)]) -> (bool, String, String) {
    let mut cmd = Command::new(python());
    cmd.arg(script).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_official_python_sdk_works_unchanged() {
    let h = Harness::start().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/official_sdk.py");
    let env = [
        ("BASE_URL", h.base.clone()),
        ("TOKEN", token("acme")),
        ("OTHER_TOKEN", token("globex")),
        ("FAKE_ARK", h.fake.base_url()),
    ];
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || run_python(&script, &env)).await.unwrap();
    assert!(ok, "the SDK run failed:\n{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("summary");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["tokens"], 108_900);
    // What the SDK did is in the store: the succeeded task billed once, the cancelled one kept.
    let done =
        h.edge.store.task("acme", summary["succeeded"].as_str().unwrap()).await.unwrap().as_deref().cloned().unwrap();
    assert_eq!(done.settlement.map(|s| s.tokens), Some(108_900));
    let cancelled =
        h.edge.store.task("acme", summary["cancelled"].as_str().unwrap()).await.unwrap().as_deref().cloned().unwrap();
    assert_eq!((cancelled.status.as_str(), cancelled.hidden), ("cancelled", true));
}

/// The Python block under "Works with the official SDKs" in the README.
#[cfg(feature = "demo")]
fn readme_sdk_lines() -> String {
    let readme = include_str!("../../README.md");
    let section = readme.split("## Works with the official SDKs").nth(1).expect("the README has the SDK section");
    let block = section.split("```python\n").nth(1).expect("a python block");
    block.split("```").next().expect("closed block").to_string()
}

#[cfg(feature = "demo")]
#[test]
fn the_readme_sdk_lines_run_against_the_demo() {
    let demo = support::demo::Demo::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("readme_sdk.py");
    std::fs::write(&script, readme_sdk_lines()).unwrap();
    let env = [("BASE_URL", demo.base.clone()), ("TOKEN", demo.token.clone())];
    let (ok, stdout, stderr) = run_python(&script, &env);
    assert!(ok, "the README's SDK lines failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("dreamina-seedance-2-0-fast queued"), "{stdout}");
}
