//! The invalidation link: one RESP3 connection with Redis server-assisted client-side caching
//! (`CLIENT TRACKING ON`). Cached keys are read *on this connection*, so Redis remembers them
//! and pushes an `invalidate` message on the same connection when anything changes them — a
//! write from any node or the CLI, an expiry, an eviction, a FLUSHALL. A heartbeat confirms the
//! link every `max_stale / 4`; its reply comes after every invalidation sent before it.
//!
//! Fail safe: when the connection drops, a heartbeat times out, a read on it fails, or the
//! sentinel-resolved server is no longer the master, the link is declared down — every cache is
//! emptied and bypassed — and it reconnects with backoff. It is started lazily by the first
//! cached read, in that read's runtime, and stops when the store is dropped.

use super::coherence::{Change, Coherence};
use ::redis::aio::MultiplexedConnection;
use ::redis::sentinel::SentinelClient;
use ::redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Where the link connects (RESP3 clients: tracking pushes need it).
pub enum TrackingTarget {
    Single(Box<::redis::Client>),
    /// Asked again on every reconnect, so a failover moves the link to the new master.
    Sentinel(Box<tokio::sync::Mutex<SentinelClient>>),
}

impl TrackingTarget {
    async fn connect(&self, cfg: &AsyncConnectionConfig) -> Result<MultiplexedConnection, ::redis::RedisError> {
        match self {
            TrackingTarget::Single(c) => c.get_multiplexed_async_connection_with_config(cfg).await,
            TrackingTarget::Sentinel(s) => s.lock().await.get_async_connection_with_config(cfg).await,
        }
    }
}

pub struct TrackingLink {
    target: TrackingTarget,
    coherence: Arc<Coherence>,
    prefix: String,
    connect_timeout: Duration,
    op_timeout: Duration,
    /// The connection while the link is up, with the link value ([`Coherence::link_value`]) it
    /// was made under.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    running: AtomicBool,
    stopped: AtomicBool,
    /// Wakes the session to end it (a failed read on the link, or the store dropped).
    interrupt: Notify,
}

/// Why a session ended.
type Ended = String;

impl TrackingLink {
    pub fn new(
        target: TrackingTarget,
        coherence: Arc<Coherence>,
        prefix: &str,
        connect_timeout: Duration,
        op_timeout: Duration,
    ) -> TrackingLink {
        TrackingLink {
            target,
            coherence,
            prefix: prefix.to_string(),
            connect_timeout,
            op_timeout,
            conn: Mutex::new(None),
            running: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            interrupt: Notify::new(),
        }
    }

    /// Starts the link in the current runtime unless it runs (or no runtime is current).
    pub fn ensure_running(self: &Arc<Self>) {
        if self.stopped.load(SeqCst) || self.running.swap(true, SeqCst) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.running.store(false, SeqCst);
            return;
        };
        let me = self.clone();
        rt.spawn(async move {
            // Dropped with its runtime too: then the link is down until a read restarts it.
            let _running = Running(me.clone());
            me.drive().await;
        });
    }

    /// The tracked connection and its link value, while the link is up.
    pub fn conn(&self) -> Option<(u64, MultiplexedConnection)> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A read on the link failed: whatever it was, nothing read on it since can be trusted to
    /// be invalidated, so the link goes down now and reconnects.
    pub fn broken(&self, link: u64) {
        let current = matches!(&*self.conn.lock().unwrap_or_else(|e| e.into_inner()), Some((l, _)) if *l == link);
        if current {
            // Down before the slot empties: a read that finds no connection and goes untracked
            // must already find its ticket refused.
            self.coherence.link_down();
            self.take_conn(Some(link));
            self.interrupt.notify_one();
        }
    }

    /// Ends the link for good (the store is being dropped).
    pub fn stop(&self) {
        self.stopped.store(true, SeqCst);
        self.interrupt.notify_one();
    }

    /// Clears the connection slot (only if it still holds `link`, when given).
    fn take_conn(&self, link: Option<u64>) {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if link.is_none() || matches!(&*slot, Some((l, _)) if Some(*l) == link) {
            *slot = None;
        }
    }

    async fn drive(&self) {
        let mut backoff = Duration::from_millis(50);
        let mut failures = 0u64;
        while !self.stopped.load(SeqCst) {
            let began = Instant::now();
            let link = self.coherence.link_value();
            let why = self.session().await;
            let was_up = self.coherence.link_value() != link;
            self.coherence.link_down();
            self.take_conn(None);
            if self.stopped.load(SeqCst) {
                return;
            }
            // Once per outage at warn: a Redis without CLIENT TRACKING would repeat it forever.
            failures = if was_up { 0 } else { failures + 1 };
            if failures <= 1 {
                log::warn!("store cache: invalidation link down ({why}); reads go to Redis until it is back");
            } else {
                log::debug!("store cache: invalidation link still down ({why})");
            }
            if began.elapsed() > Duration::from_secs(5) {
                backoff = Duration::from_millis(50);
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.interrupt.notified() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// One connection's life: connect, switch tracking on, then apply invalidations and
    /// confirm heartbeats until something fails.
    async fn session(&self) -> Ended {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.op_timeout))
            .set_push_sender(tx);
        let mut conn =
            match tokio::time::timeout(self.connect_timeout + self.op_timeout, self.target.connect(&cfg)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return format!("connect: {e}"),
                Err(_) => return "connect: timed out".into(),
            };
        let sent = Instant::now();
        let on: Result<(), _> = ::redis::cmd("CLIENT").arg("TRACKING").arg("ON").query_async(&mut conn).await;
        if let Err(e) = on {
            return format!("CLIENT TRACKING ON: {e}");
        }
        // The slot fills before the link counts as up: a read given a ticket must find the
        // tracked connection (the link is down here, so only this task moves it up, by one).
        *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some((self.coherence.link_value() + 1, conn.clone()));
        self.coherence.link_up(sent);
        log::info!("store cache: invalidation link up");
        let interval = (self.coherence.max_stale() / 4).max(Duration::from_millis(10));
        loop {
            let sent = Instant::now();
            let beat = self.heartbeat(conn.clone());
            tokio::pin!(beat);
            loop {
                tokio::select! {
                    biased;
                    m = rx.recv() => if let Err(why) = self.on_push(m) { return why },
                    r = &mut beat => match r {
                        Ok(()) => break,
                        Err(why) => return why,
                    },
                    _ = self.interrupt.notified() => return "interrupted".into(),
                }
            }
            // Every invalidation sent ahead of the heartbeat's reply is queued by now.
            while let Ok(m) = rx.try_recv() {
                if let Err(why) = self.on_push(Some(m)) {
                    return why;
                }
            }
            self.coherence.confirm(sent);
            let pause = tokio::time::sleep(interval);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    biased;
                    m = rx.recv() => if let Err(why) = self.on_push(m) { return why },
                    _ = &mut pause => break,
                    _ = self.interrupt.notified() => return "interrupted".into(),
                }
            }
        }
    }

    /// PING, or for a sentinel-resolved master ROLE: a demoted master ends the link.
    async fn heartbeat(&self, mut conn: MultiplexedConnection) -> Result<(), Ended> {
        let limit = self.coherence.max_stale().max(self.op_timeout);
        let work = async {
            match self.target {
                TrackingTarget::Single(_) => {
                    let _: String = ::redis::cmd("PING").query_async(&mut conn).await.map_err(|e| e.to_string())?;
                }
                TrackingTarget::Sentinel(_) => {
                    let role: Vec<Value> =
                        ::redis::cmd("ROLE").query_async(&mut conn).await.map_err(|e| e.to_string())?;
                    let master = matches!(role.first(), Some(Value::BulkString(r)) if r == b"master")
                        || matches!(role.first(), Some(Value::SimpleString(r)) if r == "master");
                    if !master {
                        return Err("the server is no longer the master".to_string());
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(limit, work).await {
            Ok(r) => r.map_err(|e| format!("heartbeat: {e}")),
            Err(_) => Err(format!("heartbeat: no answer within {limit:?}")),
        }
    }

    fn on_push(&self, m: Option<PushInfo>) -> Result<(), Ended> {
        let Some(m) = m else { return Err("connection closed".into()) };
        match m.kind {
            PushKind::Invalidate => {
                for change in changes(&self.prefix, &m.data) {
                    self.coherence.apply(&change);
                }
                Ok(())
            }
            PushKind::Disconnection => Err("connection closed".into()),
            _ => Ok(()),
        }
    }
}

/// Marks the link stopped when its task ends, however it ends.
struct Running(Arc<TrackingLink>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.coherence.link_down();
        self.0.take_conn(None);
        self.0.running.store(false, SeqCst);
    }
}

/// The changes an `invalidate` push names: its keys, or everything (`nil`: a flush).
fn changes(prefix: &str, data: &[Value]) -> Vec<Change> {
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
