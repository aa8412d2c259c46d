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

use super::coherence::Coherence;
use super::invalidated_keys::Pushes;
use super::link_life::{self, Ended, Link, LinkLife, Session};
use ::redis::aio::MultiplexedConnection;
use ::redis::sentinel::SentinelClient;
use ::redis::{AsyncConnectionConfig, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    life: LinkLife,
}

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
            life: LinkLife::default(),
        }
    }

    /// Starts the link unless it runs (see [`link_life::ensure_running`]).
    pub fn ensure_running(self: &Arc<Self>) {
        link_life::ensure_running(self);
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
            self.life.interrupt.notify_one();
        }
    }

    /// Clears the connection slot (only if it still holds `link`, when given).
    fn take_conn(&self, link: Option<u64>) {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if link.is_none() || matches!(&*slot, Some((l, _)) if Some(*l) == link) {
            *slot = None;
        }
    }

    /// One connection's life: connect, switch tracking on, then apply invalidations and
    /// confirm heartbeats until something fails.
    async fn run_session(&self) -> Ended {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
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
        let mut pushes =
            Pushes { coherence: &self.coherence, prefix: &self.prefix, rx, interrupt: &self.life.interrupt };
        loop {
            let sent = Instant::now();
            let beat = async {
                pushes.during(self.heartbeat(conn.clone())).await?;
                pushes.drain()
            };
            if let Err(why) = beat.await {
                return why;
            }
            self.coherence.confirm(sent);
            if let Err(why) = pushes.pause(interval).await {
                return why;
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
}

impl Link for TrackingLink {
    fn life(&self) -> &LinkLife {
        &self.life
    }

    fn coherence(&self) -> &Coherence {
        &self.coherence
    }

    fn session(&self) -> Session<'_> {
        Box::pin(self.run_session())
    }

    fn on_down(&self) {
        self.take_conn(None);
    }
}
