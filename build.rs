//! Stamps the binary with the commit it was built from, for `seedance_build_info{commit}`.
//! `SEEDANCE_GIT_COMMIT` wins (container builds, where `.git` is not in the build context);
//! otherwise `git rev-parse` when git and `.git` are there; otherwise nothing, and the metric
//! says "unknown". Never fails the build and never touches the network.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Re-run when HEAD moves: HEAD itself, the branch it names, and packed refs. Only existing
/// paths are declared, since a missing one would make cargo re-run the script on every build.
fn watch_head() {
    let (Some(git_dir), Some(common)) = (git(&["rev-parse", "--git-dir"]), git(&["rev-parse", "--git-common-dir"]))
    else {
        return;
    };
    let (git_dir, common) = (PathBuf::from(git_dir), PathBuf::from(common));
    let mut paths = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) {
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            paths.push(common.join(r));
        }
    }
    for p in paths.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SEEDANCE_GIT_COMMIT");
    let commit = match std::env::var("SEEDANCE_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => Some(c.trim().to_string()),
        _ => {
            watch_head();
            git(&["rev-parse", "--short=12", "HEAD"])
        }
    };
    // Only a plain hex-ish id becomes a label value; anything else is dropped.
    if let Some(c) = commit.filter(|c| c.len() <= 40 && c.bytes().all(|b| b.is_ascii_alphanumeric())) {
        println!("cargo:rustc-env=SEEDANCE_COMMIT={c}");
    }
}
