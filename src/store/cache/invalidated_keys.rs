//! What an `invalidate` push names, in the caches' terms: Redis reports changed keys by name
//! (or `nil` for a flush); only the kinds the caches hold (task, token, tenant) matter, every
//! other key of the store is ignored. Shared by the single-server link and the cluster's
//! broadcast links.

use super::coherence::{Change, Coherence};
use super::link_life::Ended;
use ::redis::{PushInfo, PushKind, Value};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;

/// The push messages of a link's connections, applied to the caches while the link waits for
/// anything else (a heartbeat's reply, the pause between heartbeats): an invalidation is never
/// left queued behind the link's own work.
pub struct Pushes<'a> {
    pub coherence: &'a Coherence,
    pub prefix: &'a str,
    pub rx: UnboundedReceiver<PushInfo>,
    /// Ends the wait (a failed read on the link, or the store dropped).
    pub interrupt: &'a Notify,
}

impl Pushes<'_> {
    /// Awaits `work`, applying every push that arrives meanwhile (those first: `biased`).
    pub async fn during<T>(&mut self, work: impl Future<Output = Result<T, Ended>>) -> Result<T, Ended> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                m = self.rx.recv() => apply_push(self.coherence, self.prefix, m)?,
                r = &mut work => return r,
                _ = self.interrupt.notified() => return Err("interrupted".into()),
            }
        }
    }

    /// Applies every push already queued: after a heartbeat's reply, every invalidation the
    /// server sent ahead of it.
    pub fn drain(&mut self) -> Result<(), Ended> {
        while let Ok(m) = self.rx.try_recv() {
            apply_push(self.coherence, self.prefix, Some(m))?;
        }
        Ok(())
    }

    /// Waits `pause`, applying pushes.
    pub async fn pause(&mut self, pause: Duration) -> Result<(), Ended> {
        self.during(async {
            tokio::time::sleep(pause).await;
            Ok(())
        })
        .await
    }
}

/// Applies one push message of a link; `Err` when it says the connection is gone (`None`: the
/// push channel closed with its connection).
pub fn apply_push(coherence: &Coherence, prefix: &str, m: Option<PushInfo>) -> Result<(), Ended> {
    let Some(m) = m else { return Err("connection closed".into()) };
    match m.kind {
        PushKind::Invalidate => {
            for change in changes(prefix, &m.data) {
                coherence.apply(&change);
            }
            Ok(())
        }
        PushKind::Disconnection => Err("connection closed".into()),
        _ => Ok(()),
    }
}

/// The changes an `invalidate` push names: its keys, or everything (`nil`: a flush).
pub fn changes(prefix: &str, data: &[Value]) -> Vec<Change> {
    match data.first() {
        Some(Value::Array(keys)) | Some(Value::Set(keys)) => keys
            .iter()
            .filter_map(|k| match k {
                Value::BulkString(b) => std::str::from_utf8(b).ok().and_then(|k| change_of(prefix, k)),
                Value::SimpleString(s) => change_of(prefix, s),
                _ => None,
            })
            .collect(),
        // A nil (or anything not understood) may stand for any key: forget everything.
        _ => vec![Change::Everything],
    }
}

/// What a key (as laid out by `store::keys::Keys`) holds, for the kinds the caches keep.
fn change_of(prefix: &str, key: &str) -> Option<Change> {
    let rest = key.strip_prefix(prefix)?.strip_prefix(':')?;
    if let Some(sha) = rest.strip_prefix("token:") {
        return Some(Change::Token(sha.to_string()));
    }
    let (tenant, rest) = rest.strip_prefix("{t:")?.split_once("}:")?;
    if rest == "tenant" {
        return Some(Change::Tenant(tenant.to_string()));
    }
    let id = rest.strip_prefix("task:")?;
    Some(Change::Task { tenant: tenant.to_string(), id: id.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::Keys;

    #[test]
    fn invalidated_keys_name_what_the_caches_hold() {
        let k = Keys::new("sde");
        let bulk = |s: String| Value::BulkString(s.into_bytes());
        let data = [Value::Array(vec![
            bulk(k.task("acme", "cgt-1")),
            bulk(k.token("ab12")),
            bulk(k.tenant("acme")),
            bulk(k.wallet("acme")),
            bulk(k.task("other", "cgt-1").replacen("sde", "xyz", 1)),
        ])];
        assert_eq!(
            changes("sde", &data),
            [
                Change::Task { tenant: "acme".into(), id: "cgt-1".into() },
                Change::Token("ab12".into()),
                Change::Tenant("acme".into()),
            ]
        );
        assert_eq!(changes("sde", &[Value::Nil]), [Change::Everything]);
    }
}
