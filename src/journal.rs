//! The local journal: when the upstream has created a task but the store cannot take the
//! ownership record, the record is appended here (and fsynced) before the customer gets the
//! id, then replayed with create-if-absent semantics once the store answers again. A created
//! task is never orphaned, and a replay never overwrites what the store already has.
//!
//! Durability: an append is fsynced, and so is the directory when the append created the file;
//! a rewrite goes through a fsynced temp file, a rename and a directory fsync, so a crash leaves
//! either the old journal or the new one. A line that does not parse (a torn append, a disk
//! error, a hand edit) is never dropped: it is moved verbatim to `<journal>.corrupt`, counted
//! in `seedance_journal_corrupt_lines_total` and logged, for an operator to look at.

use crate::store::{Store, StoreError, TaskRecord};
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Serialize, Deserialize)]
struct Entry {
    tenant: String,
    task: TaskRecord,
}

/// A journal line that parsed: its text, kept verbatim for rewrites, and what it says.
struct Line {
    text: String,
    entry: Entry,
}

pub struct Journal {
    path: PathBuf,
    /// Serialises appends with replays (a replay rewrites the file).
    lock: tokio::sync::Mutex<()>,
    pending: AtomicI64,
    corrupt_lines: IntCounter,
}

impl Journal {
    /// Opens the journal at `path` (it need not exist yet). Unparsable lines already there are
    /// moved aside first and counted in `corrupt_lines`.
    pub fn open(path: &Path, corrupt_lines: IntCounter) -> io::Result<Journal> {
        let pending = load(path, &corrupt_lines)?.len() as i64;
        Ok(Journal {
            path: path.to_path_buf(),
            lock: tokio::sync::Mutex::new(()),
            pending: AtomicI64::new(pending),
            corrupt_lines,
        })
    }

    /// Records waiting for the store.
    pub fn pending(&self) -> i64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Appends one ownership record durably (fsync before returning).
    pub async fn append(&self, tenant: &str, task: &TaskRecord) -> io::Result<()> {
        let mut line = serde_json::to_string(&Entry { tenant: tenant.to_string(), task: task.clone() })
            .map_err(io::Error::other)?;
        line.push('\n');
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append_durably(&path, line.as_bytes()))
            .await
            .map_err(io::Error::other)??;
        self.pending.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Moves journaled records into the store; stops at the first store failure and keeps the rest.
    pub async fn replay(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let _guard = self.lock.lock().await;
        let (path, counter) = (self.path.clone(), self.corrupt_lines.clone());
        let lines = blocking(move || load(&path, &counter))
            .await
            .map_err(|e| StoreError::Unavailable { op: "journal_read", reason: e.to_string() })?;
        let mut done = 0;
        let mut failure = None;
        for line in &lines {
            match store.put_task_if_absent(&line.entry.tenant, &line.entry.task).await {
                Ok(_) => done += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if done > 0 {
            let rest: Vec<String> = lines[done..].iter().map(|l| l.text.clone()).collect();
            let path = self.path.clone();
            blocking(move || rewrite(&path, &rest))
                .await
                .map_err(|e| StoreError::Unavailable { op: "journal_rewrite", reason: e.to_string() })?;
        }
        self.pending.store((lines.len() - done) as i64, Ordering::Relaxed);
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

/// The journal's records. Lines that do not parse are first appended to `<journal>.corrupt` and
/// only then removed from the journal, so a crash in between duplicates them there rather than
/// losing them.
fn load(path: &Path, corrupt_lines: &IntCounter) -> io::Result<Vec<Line>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut good = Vec::new();
    let mut bad: Vec<(usize, &[u8], String)> = Vec::new();
    for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(raw) {
            Ok(line) => good.push(line),
            Err(why) => bad.push((n + 1, raw, why)),
        }
    }
    if bad.is_empty() {
        return Ok(good);
    }
    let aside = sibling(path, ".corrupt");
    let mut out = Vec::new();
    for (_, raw, _) in &bad {
        out.extend_from_slice(raw);
        out.push(b'\n');
    }
    append_durably(&aside, &out)?;
    rewrite(path, &good.iter().map(|l| l.text.clone()).collect::<Vec<_>>())?;
    corrupt_lines.inc_by(bad.len() as u64);
    for (n, raw, why) in &bad {
        log::error!(
            "journal {}: line {n} ({} bytes) is not an ownership record ({why}); moved to {}",
            path.display(),
            raw.len(),
            aside.display()
        );
    }
    Ok(good)
}

fn parse_line(raw: &[u8]) -> Result<Line, String> {
    let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    let entry = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(Line { text: text.to_string(), entry })
}

/// `<path><suffix>`, next to the journal (so a rename stays within one filesystem).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Appends `bytes` and makes them durable: the file is fsynced, and so is its directory when
/// this append created the file (else the new name itself could be lost in a crash).
fn append_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let created = !path.exists();
    let mut f = OpenOptions::new().create(true).read(true).append(true).open(path)?;
    let mut out = Vec::with_capacity(bytes.len() + 1);
    if !created && ends_torn(&mut f)? {
        out.push(b'\n');
    }
    out.extend_from_slice(bytes);
    f.write_all(&out)?;
    f.sync_all()?;
    if created {
        sync_dir(path)?;
    }
    Ok(())
}

/// Whether the file's last line lacks its newline (a crash cut an append short). The next
/// record must start a line of its own, or the torn one would swallow it.
fn ends_torn(f: &mut File) -> io::Result<bool> {
    if f.metadata()?.len() == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Replaces the journal with `lines`: a temp file written and fsynced, renamed over the journal,
/// then the directory fsynced so the rename itself survives a crash.
fn rewrite(path: &Path, lines: &[String]) -> io::Result<()> {
    let tmp = sibling(path, ".tmp");
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    let mut f = File::create(&tmp)?;
    f.write_all(&out)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn counter() -> IntCounter {
        IntCounter::new("corrupt", "test").unwrap()
    }

    fn task(id: &str) -> TaskRecord {
        TaskRecord::sample(id)
    }

    #[tokio::test]
    async fn a_torn_last_line_neither_swallows_the_next_append_nor_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (corrupt, store) = (counter(), MemoryStore::new());
        let j = Journal::open(&path, corrupt.clone()).unwrap();
        j.append("acme", &task("cgt-1")).await.unwrap();
        // A crash cut the next append short: no newline at the end of the file.
        let torn = "{\"tenant\":\"acme\",\"ta";
        OpenOptions::new().append(true).open(&path).unwrap().write_all(torn.as_bytes()).unwrap();
        j.append("acme", &task("cgt-2")).await.unwrap();

        assert_eq!(j.replay(&store).await.unwrap(), 2);
        for id in ["cgt-1", "cgt-2"] {
            assert!(store.task("acme", id).await.unwrap().is_some(), "{id} replayed");
        }
        assert_eq!(std::fs::read_to_string(sibling(&path, ".corrupt")).unwrap(), format!("{torn}\n"));
        assert_eq!(corrupt.get(), 1);
        assert_eq!((j.pending(), std::fs::read_to_string(&path).unwrap().as_str()), (0, ""));
    }

    #[test]
    fn corrupt_lines_found_at_open_are_moved_aside_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let good = serde_json::to_string(&Entry { tenant: "acme".into(), task: task("cgt-1") }).unwrap();
        let mut text = format!("not json\n{good}\n").into_bytes();
        text.extend_from_slice(b"\xff\xfe not utf-8\n\n");
        std::fs::write(&path, &text).unwrap();

        let corrupt = counter();
        let j = Journal::open(&path, corrupt.clone()).unwrap();

        assert_eq!((j.pending(), corrupt.get()), (1, 2));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{good}\n"));
        assert_eq!(std::fs::read(sibling(&path, ".corrupt")).unwrap(), b"not json\n\xff\xfe not utf-8\n");
        // Opening again finds nothing new to set aside.
        Journal::open(&path, corrupt.clone()).unwrap();
        assert_eq!(corrupt.get(), 2);
    }
}
