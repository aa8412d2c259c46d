//! The invalidation links of a Redis Cluster: one RESP3 connection per master serving slots,
//! each with `CLIENT TRACKING ON BCAST PREFIX <token keys> PREFIX <tenant keys>`. Broadcast
//! mode reports every change of a key under those prefixes, whoever wrote it, without the
//! keys having been read on the link — so reads stay on the store's ordinary cluster
//! connection (which follows MOVED on its own) and the links only listen.
//!
//! Why a read on another connection is still safe to keep: the read's ticket is taken before
//! it is sent. A write the read did not see was executed after the read, so its invalidation
//! reaches this node after the ticket was taken and either refuses the fill or removes the
//! entry (see [`Coherence::admits`]). A write the read did see may be reported after the
//! reply: that only drops a fresh entry. What remains is a report that is late or lost, which
//! the heartbeat lease covers.
//!
//! The lease: every `max_stale / 4` each link is sent a PING — one of them, in turn, a
//! `CLUSTER SLOTS` instead, compared with the masters linked. Redis sends broadcast
//! invalidations at the end of the event-loop pass that ran the write, after the replies of
//! that pass, so a heartbeat's reply may precede the report of a write executed just before
//! it; but this round was sent after the previous round's replies came back, in a later pass,
//! so its replies follow every report of a write executed before the *previous* round was
//! sent. Once every link has answered, the coherence is confirmed up to that earlier instant.
//!
//! Fail safe: a link that drops or misses its heartbeat, a master set that differs from the
//! one linked (a failover, a master added or removed — what a MOVED to an unlinked node
//! means), or a node that cannot be reached ends the session — every cache is emptied and
//! bypassed — and the next one discovers the masters again and links them all before the
//! cache is used. A slot moving between linked masters needs nothing: the source's delete and
//! the target's later writes are both reported. The topology is each node's gossiped view, so
//! a master set change is seen once the node asked has heard of it (redis-cli's resharding
//! tells every master at once; a failover is announced to all by the winner).

use super::cluster_topology::{masters_of, Addr, ClusterSeeds};
use super::coherence::Coherence;
use super::invalidated_keys::Pushes;
use super::link_life::{self, Ended, Link, LinkLife, Session};
use crate::store::keys::Keys;
use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, PushInfo, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;

pub struct ClusterLinks {
    seeds: ClusterSeeds,
    coherence: Arc<Coherence>,
    prefix: String,
    connect_timeout: Duration,
    op_timeout: Duration,
    /// The masters of the last session: asked first for the topology next time (the nodes
    /// the URL names may be gone since).
    known: Mutex<Vec<Addr>>,
    life: LinkLife,
}

impl ClusterLinks {
    pub fn new(
        seeds: ClusterSeeds,
        coherence: Arc<Coherence>,
        prefix: &str,
        connect_timeout: Duration,
        op_timeout: Duration,
    ) -> ClusterLinks {
        ClusterLinks {
            seeds,
            coherence,
            prefix: prefix.to_string(),
            connect_timeout,
            op_timeout,
            known: Mutex::new(Vec::new()),
            life: LinkLife::default(),
        }
    }

    pub fn ensure_running(self: &Arc<Self>) {
        link_life::ensure_running(self);
    }

    async fn connect(&self, addr: &Addr, cfg: AsyncConnectionConfig) -> Result<MultiplexedConnection, Ended> {
        let client = self.seeds.client(addr).map_err(|e| format!("{}:{}: {}", addr.0, addr.1, e.category()))?;
        let connect = client.get_multiplexed_async_connection_with_config(&cfg);
        match tokio::time::timeout(self.connect_timeout + self.op_timeout, connect).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!("connect to {}:{}: {e}", addr.0, addr.1)),
            Err(_) => Err(format!("connect to {}:{}: timed out", addr.0, addr.1)),
        }
    }

    fn config(&self) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.op_timeout))
    }

    /// The masters, from the first node that answers: those of the last session, then the URL's.
    async fn discover(&self) -> Result<Vec<Addr>, Ended> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut why = "the URL names no node".to_string();
        for addr in known.iter().chain(self.seeds.nodes.iter()) {
            let asked = async {
                let mut conn = self.connect(addr, self.config()).await?;
                let slots = ::redis::cmd("CLUSTER").arg("SLOTS").clone();
                match tokio::time::timeout(self.op_timeout, slots.query_async::<Value>(&mut conn)).await {
                    Ok(Ok(v)) => masters_of(&v, &addr.0),
                    Ok(Err(e)) => Err(format!("CLUSTER SLOTS on {}:{}: {e}", addr.0, addr.1)),
                    Err(_) => Err(format!("CLUSTER SLOTS on {}:{}: timed out", addr.0, addr.1)),
                }
            };
            match asked.await {
                Ok(masters) if !masters.is_empty() => return Ok(masters),
                Ok(_) => why = "no master serves a slot".into(),
                Err(e) => why = e,
            }
        }
        Err(why)
    }

    /// Every master linked and tracking, or why not.
    async fn link_all(
        &self,
        masters: &[Addr],
    ) -> Result<(Vec<MultiplexedConnection>, UnboundedReceiver<PushInfo>), Ended> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let [tokens, tenants] = Keys::new(&self.prefix).cached_kinds_prefixes();
        let mut links = Vec::with_capacity(masters.len());
        for addr in masters {
            let mut conn = self.connect(addr, self.config().set_push_sender(tx.clone())).await?;
            let mut on = ::redis::cmd("CLIENT");
            on.arg("TRACKING").arg("ON").arg("BCAST").arg("PREFIX").arg(&tokens).arg("PREFIX").arg(&tenants);
            match tokio::time::timeout(self.op_timeout, on.query_async::<()>(&mut conn)).await {
                Ok(Ok(())) => links.push(conn),
                Ok(Err(e)) => return Err(format!("CLIENT TRACKING ON BCAST on {}:{}: {e}", addr.0, addr.1)),
                Err(_) => return Err(format!("CLIENT TRACKING ON BCAST on {}:{}: timed out", addr.0, addr.1)),
            }
        }
        // The channel closes only when every connection is gone; each one also reports its
        // own end (a disconnection push) and fails its next heartbeat.
        Ok((links, rx))
    }

    async fn run_session(&self) -> Ended {
        let masters = match self.discover().await {
            Ok(m) => m,
            Err(why) => return format!("topology: {why}"),
        };
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = masters.clone();
        // Before the first CLIENT TRACKING: a write executed after it is reported, one
        // executed before is seen by any read made once the link is up.
        let tracking_from = Instant::now();
        let (links, rx) = match self.link_all(&masters).await {
            Ok(l) => l,
            Err(why) => return why,
        };
        self.coherence.link_up(tracking_from);
        log::info!("store cache: invalidation links up on {} cluster masters", links.len());
        let interval = (self.coherence.max_stale() / 4).max(Duration::from_millis(10));
        let mut confirmable = tracking_from;
        let mut pushes =
            Pushes { coherence: &self.coherence, prefix: &self.prefix, rx, interrupt: &self.life.interrupt };
        for round in 0usize.. {
            let sent = Instant::now();
            let beat = async {
                pushes.during(self.heartbeat(&links, &masters, round)).await?;
                pushes.drain()
            };
            if let Err(why) = beat.await {
                return why;
            }
            // Not `sent`: see the module comment (broadcasts go out after the pass's replies).
            self.coherence.confirm(confirmable);
            confirmable = sent;
            if let Err(why) = pushes.pause(interval).await {
                return why;
            }
        }
        "stopped".into()
    }

    /// One round: a PING on every link at once, a `CLUSTER SLOTS` instead on the one whose turn
    /// it is; fails unless every link answers in time and the masters are the ones linked.
    async fn heartbeat(&self, links: &[MultiplexedConnection], masters: &[Addr], round: usize) -> Result<(), Ended> {
        let limit = self.coherence.max_stale().max(self.op_timeout);
        let asks = round % links.len().max(1);
        let mut beats = JoinSet::new();
        for (i, conn) in links.iter().enumerate() {
            let mut conn = conn.clone();
            let cmd = if i == asks { ::redis::cmd("CLUSTER").arg("SLOTS").clone() } else { ::redis::cmd("PING") };
            beats.spawn(async move { (i, cmd.query_async::<Value>(&mut conn).await) });
        }
        let all = async {
            while let Some(done) = beats.join_next().await {
                let (i, reply) = done.map_err(|e| format!("heartbeat task: {e}"))?;
                let addr = &masters[i];
                let reply = reply.map_err(|e| format!("heartbeat on {}:{}: {e}", addr.0, addr.1))?;
                if i == asks {
                    let now = masters_of(&reply, &addr.0)?;
                    if now != masters {
                        return Err(format!(
                            "the cluster's masters changed: {} now, {} linked",
                            now.len(),
                            masters.len()
                        ));
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(limit, all).await {
            Ok(r) => r,
            Err(_) => Err(format!("heartbeat: no answer from every master within {limit:?}")),
        }
    }
}

impl Link for ClusterLinks {
    fn life(&self) -> &LinkLife {
        &self.life
    }

    fn coherence(&self) -> &Coherence {
        &self.coherence
    }

    fn session(&self) -> Session<'_> {
        Box::pin(self.run_session())
    }
}
