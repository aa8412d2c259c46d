//! The local journal: when the upstream has created a task but the store cannot take the
//! ownership record, the record is appended here (and fsynced) before the customer gets the
//! id, then replayed with create-if-absent semantics once the store answers again. A created
//! task is never orphaned, and a replay never overwrites what the store already has.

use crate::store::{Store, StoreError, TaskRecord};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Serialize, Deserialize)]
struct Entry {
    tenant: String,
    task: TaskRecord,
}

pub struct Journal {
    path: PathBuf,
    /// Serialises appends with replays (a replay rewrites the file).
    lock: tokio::sync::Mutex<()>,
    pending: AtomicI64,
}

fn read_entries(path: &Path) -> std::io::Result<Vec<Entry>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e),
    }
}

impl Journal {
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let pending = read_entries(path)?.len() as i64;
        Ok(Journal { path: path.to_path_buf(), lock: tokio::sync::Mutex::new(()), pending: AtomicI64::new(pending) })
    }

    /// Records waiting for the store.
    pub fn pending(&self) -> i64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Appends one ownership record durably (fsync before returning).
    pub async fn append(&self, tenant: &str, task: &TaskRecord) -> std::io::Result<()> {
        let line = serde_json::to_string(&Entry { tenant: tenant.to_string(), task: task.clone() })
            .map_err(std::io::Error::other)?;
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_data()
        })
        .await
        .map_err(std::io::Error::other)??;
        self.pending.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Moves journaled records into the store; stops at the first store failure and keeps the rest.
    pub async fn replay(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let _guard = self.lock.lock().await;
        let entries = read_entries(&self.path)
            .map_err(|e| StoreError::Unavailable { op: "journal_read", reason: e.to_string() })?;
        if entries.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        let mut failure = None;
        for entry in &entries {
            match store.put_task_if_absent(&entry.tenant, &entry.task).await {
                Ok(_) => done += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let rest: String =
            entries[done..].iter().filter_map(|e| serde_json::to_string(e).ok()).map(|l| l + "\n").collect();
        let tmp = self.path.with_extension("journal.tmp");
        let write = std::fs::write(&tmp, rest).and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = write {
            return Err(StoreError::Unavailable { op: "journal_rewrite", reason: e.to_string() });
        }
        self.pending.store((entries.len() - done) as i64, Ordering::Relaxed);
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}
