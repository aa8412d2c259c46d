//! The Redis store (standalone, Cluster, or a master found through Sentinel). Built to fail fast and recover by itself:
//! connections are made lazily on first use (the proxy starts and answers 503 while Redis is
//! down), the connection and response timeouts are short, every operation also runs under an
//! outer deadline, and the connection manager reconnects in the background after Redis returns.
//! Multi-key writes are Lua scripts whose keys share the tenant's hash tag (one cluster slot).

use super::cache::cluster_topology::ClusterSeeds;
use super::cache::tracking::TrackingTarget;
use super::cache::LinkTarget;
use super::keys::Keys;
use super::*;
use crate::clock::now_ms;
use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use ::redis::{Cmd, Pipeline, RedisError, RedisFuture, Script, Value};
use seedance_filters::task::is_terminal;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

mod task_list;

// Scripts that move a task in or out of the list indexes start with the index functions.
const PUT_TASK: &str = concat!(include_str!("lua/task_index.lua"), include_str!("lua/put_task.lua"));
const SET_STATUS: &str = concat!(include_str!("lua/task_index.lua"), include_str!("lua/set_status.lua"));
const HIDE_TASK: &str = concat!(include_str!("lua/task_index.lua"), include_str!("lua/hide_task.lua"));
const SETTLE: &str = concat!(include_str!("lua/task_index.lua"), include_str!("lua/settle.lua"));
const QUARANTINE: &str = concat!(include_str!("lua/task_index.lua"), include_str!("lua/quarantine.lua"));
const INDEX_TASKS: &str = concat!(include_str!("lua/task_index.lua"), include_str!("lua/index_tasks.lua"));
const ADD_TOKEN: &str = include_str!("lua/add_token.lua");
const DEFER_SETTLEMENT: &str = include_str!("lua/defer_settlement.lua");
const ADMIT: &str = include_str!("lua/admit.lua");
const RELEASE_SLOT: &str = include_str!("lua/release_slot.lua");
const CREDIT: &str = include_str!("lua/credit.lua");
const CHANNEL_ADMIT: &str = include_str!("lua/channel_admit.lua");

#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Outer deadline of one store operation (including reconnect waits).
    pub op_timeout: Duration,
    /// TTL of task and asset records.
    pub retention: Duration,
    pub connect_timeout: Duration,
    /// Extra CA bundle (PEM) trusted for `rediss://` besides the system's (`store.ca_file`).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            op_timeout: Duration::from_millis(1000),
            retention: Duration::from_secs(90 * 24 * 3600),
            connect_timeout: Duration::from_millis(300),
            ca_file: None,
        }
    }
}

enum Target {
    Single(Box<::redis::Client>),
    Cluster(Box<ClusterClient>),
    Sentinel(Box<SentinelTarget>),
}

/// The master behind a set of sentinels, and the connection to it. Unlike the other targets
/// the connection is replaceable: after a failover the old address is a replica (or gone), so a
/// broken connection is dropped and the next operation asks the sentinels again instead of
/// reconnecting to the same address as a `ConnectionManager` would.
struct SentinelTarget {
    client: tokio::sync::Mutex<SentinelClient>,
    /// The current master connection with the generation it was made in; `None` until first
    /// use and after a failure. The generation keeps a late failure report of an old connection
    /// from dropping its fresh replacement.
    current: tokio::sync::Mutex<(u64, Option<MultiplexedConnection>)>,
}

/// A `redis+cluster://` / `rediss+cluster://` URL: every node's address, and the credentials
/// given once, in the first node (`redis+cluster://user:pass@h1:p1,h2:p2`), for all of them.
#[derive(Debug, PartialEq, Eq)]
struct ClusterSpec {
    hosts: Vec<(String, u16)>,
    username: Option<String>,
    password: Option<String>,
    tls: bool,
}

impl ClusterSpec {
    /// `Ok(None)` for a URL that is not a cluster URL.
    fn parse(url: &str) -> Result<Option<ClusterSpec>, String> {
        let (rest, tls) = if let Some(r) = url.strip_prefix("redis+cluster://") {
            (r, false)
        } else if let Some(r) = url.strip_prefix("rediss+cluster://") {
            (r, true)
        } else {
            return Ok(None);
        };
        let scheme = if tls { "rediss" } else { "redis" };
        let (creds, hosts) = split_userinfo(rest);
        let (username, password) = decode_userinfo(scheme, creds, "cluster")?;
        let hosts = hosts.trim_end_matches('/').trim_end_matches("/0");
        let hosts = host_list(hosts, "cluster node")?;
        Ok(Some(ClusterSpec { hosts, username, password, tls }))
    }

    /// Every node as the cluster client takes it (credentials apart).
    fn node_urls(&self) -> Vec<String> {
        let scheme = if self.tls { "rediss" } else { "redis" };
        self.hosts.iter().map(|(h, p)| format!("{scheme}://{h}:{p}")).collect()
    }

    /// Where the read cache's links connect: every master, found from these nodes.
    fn seeds(&self) -> ClusterSeeds {
        ClusterSeeds {
            nodes: self.hosts.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            tls: self.tls,
        }
    }
}

/// A `redis+sentinel://[user:pass@]s1:26379,s2:26379/<master-name>[?sentinel_password=…]` URL:
/// the sentinels to ask, the name they monitor, the credentials of the master (userinfo) and,
/// when the sentinels themselves require one, their password (percent-encoded query value).
#[derive(Debug, PartialEq, Eq)]
struct SentinelSpec {
    sentinels: Vec<(String, u16)>,
    master: String,
    username: Option<String>,
    password: Option<String>,
    sentinel_password: Option<String>,
}

impl SentinelSpec {
    /// `Ok(None)` for a URL that is not a sentinel URL.
    fn parse(url: &str) -> Result<Option<SentinelSpec>, String> {
        let Some(rest) = url.strip_prefix("redis+sentinel://") else { return Ok(None) };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (creds, rest) = split_userinfo(rest);
        let (username, password) = decode_userinfo("redis", creds, "sentinel")?;
        let (hosts, master) = rest.split_once('/').ok_or("the sentinel URL names no master (…/<master-name>)")?;
        let master = master.trim_end_matches('/');
        if master.is_empty() || master.contains(['/', ' ']) {
            return Err("the sentinel URL names no master (…/<master-name>)".into());
        }
        let sentinels = host_list(hosts, "sentinel")?;
        let mut sentinel_password = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sentinel_password", v)) => sentinel_password = Some(percent_decode(v, "sentinel_password")?),
                // Unknown options are refused: a typo must not silently drop a setting.
                _ => return Err("the sentinel URL accepts only the sentinel_password option".into()),
            }
        }
        Ok(Some(SentinelSpec { sentinels, master: master.to_string(), username, password, sentinel_password }))
    }
}

/// Splits `user:pass@hosts` at the last `@` (a password may contain one, percent-encoded or not).
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    }
}

fn percent_decode(s: &str, what: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("the {what} is not UTF-8 once decoded"))
}

/// The userinfo of a URL, percent-decoded (a password may hold any byte). Errors never echo it.
fn decode_userinfo(scheme: &str, creds: Option<&str>, kind: &str) -> Result<(Option<String>, Option<String>), String> {
    let Some(c) = creds else { return Ok((None, None)) };
    let u = url::Url::parse(&format!("{scheme}://{c}@h"))
        .map_err(|_| format!("the {kind} credentials are not valid URL userinfo"))?;
    let what = format!("{kind} credentials");
    let user = Some(percent_decode(u.username(), &what)?).filter(|s| !s.is_empty());
    let pass = u.password().map(|p| percent_decode(p, &what)).transpose()?;
    Ok((user, pass))
}

/// `h1:p1,h2:p2` as (host, port) pairs; `what` names an entry in errors.
fn host_list(hosts: &str, what: &str) -> Result<Vec<(String, u16)>, String> {
    let mut out = Vec::new();
    for (i, h) in hosts.split(',').enumerate() {
        let parsed = h
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .filter(|(host, _)| !host.is_empty() && !h.contains(['/', '@', '?']));
        match parsed {
            Some((host, port)) => out.push((host.to_string(), port)),
            None => return Err(format!("{what} {} is not host:port", i + 1)),
        }
    }
    Ok(out)
}

/// Either connection kind, so every operation is written once.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    /// The master found through the sentinels, tagged with its generation.
    Sentinel(MultiplexedConnection, u64),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(c, _) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(c, _) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(c, _) => c.get_db(),
        }
    }
}

pub struct RedisStore {
    target: Target,
    conn: OnceCell<Conn>,
    keys: Keys,
    prefix: String,
    /// Taken once by the read cache ([`super::cache::CachedStore`]).
    tracking: std::sync::Mutex<Option<LinkTarget>>,
    opts: RedisOptions,
    put_task: Script,
    set_status: Script,
    hide_task: Script,
    settle: Script,
    quarantine: Script,
    add_token: Script,
    defer_settlement: Script,
    admit: Script,
    release_slot: Script,
    channel_admit: Script,
    credit: Script,
    index_tasks: Script,
}

impl RedisStore {
    /// Parses the URL and prepares the client; no network traffic until the first operation.
    /// `redis://…` / `rediss://…` is standalone; `redis+cluster://h1:p1,h2:p2` is a cluster
    /// (give every node: the client only discovers the topology from the ones it knows).
    /// `redis+sentinel://[user:pass@]s1:p1,s2:p2/<master-name>[?sentinel_password=…]` asks the
    /// sentinels for the master (credentials are the master's) and asks again after a failure.
    /// `rediss://` and `rediss+cluster://` speak TLS (native-tls: OpenSSL on Linux), trusting
    /// the system's CAs and, for standalone, `opts.ca_file`. Errors never echo the URL: it may
    /// hold a password.
    pub fn connect(url: &str, prefix: &str, opts: RedisOptions) -> Result<RedisStore, String> {
        // Where the read cache's invalidation links connect (see store::cache).
        let tracking;
        let target = if let Some(spec) = ClusterSpec::parse(url)? {
            if spec.tls && opts.ca_file.is_some() {
                // The redis crate takes extra CAs for a cluster only with its rustls backend.
                return Err(
                    "store.ca_file is not supported with rediss+cluster:// (add the CA to the system trust store)"
                        .into(),
                );
            }
            tracking = Some(LinkTarget::Cluster(spec.seeds()));
            let mut b = ClusterClient::builder(spec.node_urls())
                .connection_timeout(opts.connect_timeout)
                .response_timeout(opts.op_timeout)
                .retries(2)
                .min_retry_wait(50)
                .max_retry_wait(400);
            if let Some(u) = spec.username {
                b = b.username(u);
            }
            if let Some(p) = spec.password {
                b = b.password(p);
            }
            if spec.tls {
                b = b.tls(::redis::TlsMode::Secure);
            }
            Target::Cluster(Box::new(
                b.build().map_err(|e| format!("cannot build the cluster client: {}", e.category()))?,
            ))
        } else if let Some(spec) = SentinelSpec::parse(url)? {
            if opts.ca_file.is_some() {
                return Err("store.ca_file applies to rediss:// URLs only".into());
            }
            let client = sentinel_client(&spec, ::redis::ProtocolVersion::RESP2)?;
            tracking = Some(LinkTarget::Server(TrackingTarget::Sentinel(Box::new(tokio::sync::Mutex::new(
                sentinel_client(&spec, ::redis::ProtocolVersion::RESP3)?,
            )))));
            Target::Sentinel(Box::new(SentinelTarget {
                client: tokio::sync::Mutex::new(client),
                current: tokio::sync::Mutex::new((0, None)),
            }))
        } else {
            let bad = |e: RedisError| format!("not a usable Redis URL ({})", e.category());
            let client = match &opts.ca_file {
                Some(ca) if url.starts_with("rediss://") => {
                    let pem = std::fs::read(ca).map_err(|e| format!("store.ca_file {}: {e}", ca.display()))?;
                    let certs = ::redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
                    ::redis::Client::build_with_tls(url, certs).map_err(bad)?
                }
                _ => ::redis::Client::open(url).map_err(bad)?,
            };
            tracking = Some(LinkTarget::Server(TrackingTarget::Single(Box::new(resp3_twin(&client).map_err(bad)?))));
            Target::Single(Box::new(client))
        };
        Ok(RedisStore {
            target,
            conn: OnceCell::new(),
            keys: Keys::new(prefix),
            prefix: prefix.to_string(),
            tracking: std::sync::Mutex::new(tracking),
            opts,
            put_task: Script::new(PUT_TASK),
            set_status: Script::new(SET_STATUS),
            hide_task: Script::new(HIDE_TASK),
            settle: Script::new(SETTLE),
            quarantine: Script::new(QUARANTINE),
            add_token: Script::new(ADD_TOKEN),
            defer_settlement: Script::new(DEFER_SETTLEMENT),
            admit: Script::new(ADMIT),
            release_slot: Script::new(RELEASE_SLOT),
            channel_admit: Script::new(CHANNEL_ADMIT),
            credit: Script::new(CREDIT),
            index_tasks: Script::new(INDEX_TASKS),
        })
    }

    /// The shared connection, created on first use inside the caller's runtime (the manager
    /// spawns its driver there).
    async fn conn(&self, op: &'static str) -> StoreResult<Conn> {
        if let Target::Sentinel(t) = &self.target {
            return self.sentinel_conn(t).await.map_err(|e| unavailable(op, &e));
        }
        let conn = self
            .conn
            .get_or_try_init(|| async {
                match &self.target {
                    Target::Single(client) => {
                        let cfg = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(self.opts.connect_timeout))
                            .set_response_timeout(Some(self.opts.op_timeout))
                            .set_number_of_retries(2)
                            .set_min_delay(Duration::from_millis(50))
                            .set_max_delay(Duration::from_millis(400));
                        ConnectionManager::new_lazy_with_config((**client).clone(), cfg).map(Conn::Single)
                    }
                    Target::Cluster(client) => client.get_async_connection().await.map(Conn::Cluster),
                    Target::Sentinel(t) => self.sentinel_conn(t).await,
                }
            })
            .await
            .map_err(|e| unavailable(op, &e))?;
        Ok(conn.clone())
    }

    /// The sentinel-resolved master connection, asking the sentinels (who check the node's
    /// role) when there is none. The lock serialises resolution: one lookup per failure.
    async fn sentinel_conn(&self, t: &SentinelTarget) -> Result<Conn, RedisError> {
        let mut current = t.current.lock().await;
        if let (generation, Some(c)) = &*current {
            return Ok(Conn::Sentinel(c.clone(), *generation));
        }
        let cfg = ::redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.opts.connect_timeout))
            .set_response_timeout(Some(self.opts.op_timeout));
        let conn = t.client.lock().await.get_async_connection_with_config(&cfg).await?;
        current.0 += 1;
        current.1 = Some(conn.clone());
        Ok(Conn::Sentinel(conn, current.0))
    }

    /// Forgets a sentinel master connection that failed in a way a failover explains (dropped,
    /// refused, timed out, or now a read-only replica), so the next operation re-resolves.
    async fn forget_master(&self, generation: u64) {
        if let Target::Sentinel(t) = &self.target {
            let mut current = t.current.lock().await;
            if current.0 == generation {
                current.1 = None;
            }
        }
    }

    /// Runs one operation under the outer deadline; every error becomes a typed [`StoreError`].
    async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> StoreResult<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        // The generation of a sentinel connection in use, to forget it if the deadline passes.
        let used = std::sync::atomic::AtomicU64::new(0);
        let work = async {
            let conn = self.conn(op).await?;
            let generation = match &conn {
                Conn::Sentinel(_, g) => Some(*g),
                _ => None,
            };
            if let Some(g) = generation {
                used.store(g, std::sync::atomic::Ordering::Relaxed);
            }
            match f(conn).await {
                Ok(v) => Ok(v),
                Err(e) => {
                    if let Some(g) = generation.filter(|_| master_lost(&e)) {
                        self.forget_master(g).await;
                    }
                    Err(classify(op, &e))
                }
            }
        };
        match tokio::time::timeout(self.opts.op_timeout, work).await {
            Ok(r) => r,
            Err(_) => {
                // A master that stopped answering (partitioned, frozen) is as lost as a closed one.
                let g = used.load(std::sync::atomic::Ordering::Relaxed);
                if g != 0 {
                    self.forget_master(g).await;
                }
                Err(StoreError::Unavailable { op, reason: format!("no answer within {:?}", self.opts.op_timeout) })
            }
        }
    }

    /// The keys a task's end touches besides its own: slot, hold, wallet, wallet log.
    fn slot_keys<'a>(&self, inv: &mut ::redis::ScriptInvocation<'a>, tenant: &str) {
        let k = &self.keys;
        inv.key(k.active(tenant)).key(k.holds(tenant)).key(k.wallet(tenant)).key(k.wallet_log(tenant));
    }

    /// A task ended: the room its slot held on its channel goes back. A second call after the
    /// tenant's script, since the channel's keys are another cluster slot; it reads the task's
    /// channel and slot from its record, and ZREM makes a repeat harmless. A failure is `op`'s
    /// failure, so the caller retries the whole (idempotent) end.
    async fn end_channel_slot(&self, op: &'static str, tenant: &str, id: &str) -> StoreResult<()> {
        let key = self.keys.task(tenant, id);
        let (channel, slot): (Option<String>, Option<String>) = self
            .run(op, |mut c| {
                let key = key.clone();
                async move { ::redis::cmd("HMGET").arg(&key).arg("channel").arg("slot").query_async(&mut c).await }
            })
            .await?;
        let (Some(channel), Some(slot)) = (channel, slot) else { return Ok(()) };
        let active = self.keys.channel_active(&channel);
        let _: i64 = self
            .run(op, |mut c| {
                let (active, slot) = (active.clone(), slot.clone());
                async move { ::redis::cmd("ZREM").arg(&active).arg(&slot).query_async(&mut c).await }
            })
            .await?;
        Ok(())
    }

    fn ttl_secs(&self) -> u64 {
        self.opts.retention.as_secs().max(1)
    }

    /// The records an index (a ZSET of ids, newest first) points to, read in one pipeline on
    /// the tenant's slot. Index entries can outlive an expired record; those are skipped.
    async fn indexed(
        &self,
        op: &'static str,
        index: &str,
        key_of: impl Fn(&str) -> String,
    ) -> StoreResult<Vec<(String, HashMap<String, String>)>> {
        let index = index.to_string();
        let ids: Vec<String> =
            self.run(op, |mut c| async move {
                ::redis::cmd("ZREVRANGE").arg(&index).arg(0).arg(-1).query_async(&mut c).await
            })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in &ids {
            pipe.cmd("HGETALL").arg(key_of(id));
        }
        let hashes: Vec<HashMap<String, String>> =
            self.run(op, |mut c| async move { pipe.query_async(&mut c).await }).await?;
        Ok(ids.into_iter().zip(hashes).filter(|(_, h)| !h.is_empty()).collect())
    }

    async fn write_task(
        &self,
        op: &'static str,
        tenant: &str,
        task: &TaskRecord,
        only_if_absent: bool,
    ) -> StoreResult<bool> {
        let inv = self.task_invocation(tenant, task, only_if_absent);
        let n: i64 = self.run(op, |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        Ok(n == 1)
    }

    /// `put_task.lua` for one record: the hash, its list indexes, the pending set.
    fn task_invocation(&self, tenant: &str, task: &TaskRecord, only_if_absent: bool) -> ::redis::ScriptInvocation<'_> {
        let k = &self.keys;
        let mut inv = self.put_task.prepare_invoke();
        inv.key(k.task(tenant, &task.id)).key(k.pending(tenant)).key(k.seq(tenant));
        for key in k.task_indexes(tenant, &task.public_model) {
            inv.key(key);
        }
        inv.key(k.task_indexes_built(tenant));
        inv.arg(&task.id)
            .arg(if only_if_absent { "1" } else { "0" })
            .arg(page::order_ms(task.created_at, now_ms()))
            .arg(self.ttl_secs())
            .arg(if is_terminal(&task.status) { "0" } else { "1" })
            .arg(if task.hidden { "1" } else { "0" })
            .arg(&task.status)
            .arg(self.retention_floor());
        for (f, v) in task_fields(task) {
            inv.arg(f).arg(v);
        }
        inv
    }

    /// `admit.lua` for one create.
    fn admit_invocation(&self, tenant: &str, a: &Admission) -> ::redis::ScriptInvocation<'_> {
        let k = &self.keys;
        let mut inv = self.admit.prepare_invoke();
        inv.key(k.active(tenant))
            .key(k.creates(tenant))
            .key(k.holds(tenant))
            .key(k.wallet(tenant))
            .key(k.wallet_log(tenant))
            .arg(&a.slot)
            .arg(a.now_ms)
            .arg(limit_arg(a.max_active_tasks))
            .arg(limit_arg(a.creates_per_minute))
            .arg(limit_arg(a.reserve_nanos))
            .arg(a.stale_before_ms);
        inv
    }

    /// The write-ahead intent. Not MULTI: a TTL left unset by a connection lost in between is
    /// set by the next intent, and the orphan scan prunes old entries anyway.
    fn intent_cmds(&self, channel: &str, intent: &Intent) -> Vec<Cmd> {
        let key = self.keys.intents(channel);
        let mut add = ::redis::cmd("ZADD");
        add.arg(&key).arg(intent.at_ms).arg(intent_member(intent));
        let mut ttl = ::redis::cmd("EXPIRE");
        ttl.arg(&key).arg(self.ttl_secs());
        vec![add, ttl]
    }

    /// The channel's claim: the owner index learns the task, then the intent goes. In this
    /// order and not MULTI: an intent removed without its owner entry (a connection lost in
    /// between) only leaves the orphan scan to read the tenant's record.
    fn claim_cmds(&self, channel: &str, task_id: &str, intent: &Intent) -> Vec<Cmd> {
        let owned = self.keys.owned(channel);
        // The upstream keeps tasks 7 days; the index outlives that, so a listed task is always known.
        let ttl = self.ttl_secs().max(8 * 86_400);
        let mut own = ::redis::cmd("HSET");
        own.arg(&owned).arg(task_id).arg(&intent.tenant);
        let mut keep = ::redis::cmd("EXPIRE");
        keep.arg(&owned).arg(ttl);
        let mut resolve = ::redis::cmd("ZREM");
        resolve.arg(self.keys.intents(channel)).arg(intent_member(intent));
        vec![own, keep, resolve]
    }

    /// Whether two keys of different hash tags may share a pipeline: not on a cluster, where
    /// they live on different slots (and maybe nodes).
    fn one_node(&self) -> bool {
        !matches!(self.target, Target::Cluster(_))
    }

    /// Sends a script's invocation and plain commands in one pipeline, loading the script and
    /// sending again if the server does not know it (a restart, a failover, `SCRIPT FLUSH`):
    /// the commands paired with scripts here are idempotent. Answers each command's own
    /// result; an error a failover explains fails the whole call, so `run` re-resolves.
    async fn paired(
        &self,
        op: &'static str,
        script: &Script,
        inv: &::redis::ScriptInvocation<'_>,
        plain: Vec<Cmd>,
    ) -> StoreResult<Vec<Result<Value, RedisError>>> {
        let mut pipe = ::redis::pipe();
        pipe.ignore_errors().invoke_script(inv);
        for cmd in plain {
            pipe.add_command(cmd);
        }
        self.run(op, |mut c| async move {
            let mut answers: Vec<Result<Value, RedisError>> = pipe.query_async(&mut c).await?;
            let unknown = |a: &[Result<Value, RedisError>]| {
                a.first().is_some_and(|r| {
                    r.as_ref()
                        .is_err_and(|e| e.kind() == ::redis::ErrorKind::Server(::redis::ServerErrorKind::NoScript))
                })
            };
            if unknown(&answers) {
                script.load_async(&mut c).await?;
                answers = pipe.query_async(&mut c).await?;
            }
            if let Some(at) = answers.iter().position(|r| r.as_ref().is_err_and(master_lost)) {
                answers.swap_remove(at)?;
            }
            Ok(answers)
        })
        .await
    }
}

// --- The read cache's side (store::cache): where its invalidation link connects, and the
// reads it makes on that tracked connection so Redis reports changes to what they read. ---

/// The same server as `client`, spoken to in RESP3 (tracking invalidations are push messages).
fn resp3_twin(client: &::redis::Client) -> Result<::redis::Client, RedisError> {
    let info = client.get_connection_info().clone();
    let redis = info.redis_settings().clone().set_protocol(::redis::ProtocolVersion::RESP3);
    ::redis::Client::open(info.set_redis_settings(redis))
}

fn sentinel_client(spec: &SentinelSpec, protocol: ::redis::ProtocolVersion) -> Result<SentinelClient, String> {
    let bad = |e: RedisError| format!("cannot build the sentinel client: {}", e.category());
    let addrs = spec.sentinels.iter().map(|(h, p)| ::redis::ConnectionAddr::Tcp(h.clone(), *p));
    let mut b = SentinelClientBuilder::new(addrs, &spec.master, SentinelServerType::Master).map_err(bad)?;
    if let Some(u) = &spec.username {
        b = b.set_client_to_redis_username(u);
    }
    if let Some(p) = &spec.password {
        b = b.set_client_to_redis_password(p);
    }
    if let Some(p) = &spec.sentinel_password {
        b = b.set_client_to_sentinel_password(p);
    }
    b.set_client_to_redis_protocol(protocol).build().map_err(bad)
}

impl RedisStore {
    /// Where the invalidation links connect; `Some` once.
    pub fn take_link_target(&self) -> Option<LinkTarget> {
        self.tracking.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// (connect, operation) timeouts.
    pub fn timeouts(&self) -> (Duration, Duration) {
        (self.opts.connect_timeout, self.opts.op_timeout)
    }

    /// Runs a read on the tracked connection under the operation deadline. `None`: the
    /// connection failed (the caller declares the link down and reads again untracked).
    async fn on_tracked<T>(
        &self,
        op: &'static str,
        conn: &mut MultiplexedConnection,
        cmd: Cmd,
    ) -> Option<StoreResult<T>>
    where
        T: ::redis::FromRedisValue,
    {
        match tokio::time::timeout(self.opts.op_timeout, cmd.query_async::<Value>(conn)).await {
            Ok(Ok(v)) => Some(::redis::from_redis_value(v).map_err(|e| corrupt(op, e.to_string()))),
            Ok(Err(e)) if e.code().is_some() && !master_lost(&e) => Some(Err(classify(op, &e))),
            Ok(Err(_)) | Err(_) => None,
        }
    }

    pub async fn tracked_task(
        &self,
        conn: &mut MultiplexedConnection,
        tenant: &str,
        id: &str,
    ) -> Option<StoreResult<Option<Arc<TaskRecord>>>> {
        let mut cmd = ::redis::cmd("HGETALL");
        cmd.arg(self.keys.task(tenant, id));
        let h: HashMap<String, String> = match self.on_tracked("task", conn, cmd).await? {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        Some(if h.is_empty() { Ok(None) } else { parse_task("task", id, h).map(|t| Some(Arc::new(t))) })
    }

    pub async fn tracked_token_tenant(
        &self,
        conn: &mut MultiplexedConnection,
        token_sha256: &str,
    ) -> Option<StoreResult<Option<String>>> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.keys.token(token_sha256));
        self.on_tracked("token_tenant", conn, cmd).await
    }

    pub async fn tracked_tenant(
        &self,
        conn: &mut MultiplexedConnection,
        id: &str,
    ) -> Option<StoreResult<Option<TenantRecord>>> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.keys.tenant(id));
        let raw: Option<String> = match self.on_tracked("tenant", conn, cmd).await? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        Some(
            raw.map(|s| serde_json::from_str(&s).map_err(|e| corrupt("tenant", format!("tenant {id}: {e}"))))
                .transpose(),
        )
    }
}

// --- end of the read cache's side ---

/// Whether an error means the sentinel-resolved master is no longer the master at that address.
fn master_lost(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"))
}

fn unavailable(op: &'static str, e: &RedisError) -> StoreError {
    StoreError::Unavailable { op, reason: e.to_string() }
}

fn classify(op: &'static str, e: &RedisError) -> StoreError {
    if e.code() == Some("WRONGTYPE") || e.kind() == ::redis::ErrorKind::UnexpectedReturnType {
        StoreError::Corrupt { op, reason: e.to_string() }
    } else {
        unavailable(op, e)
    }
}

fn corrupt(op: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { op, reason: reason.into() }
}

fn task_fields(t: &TaskRecord) -> Vec<(&'static str, String)> {
    let flag = |b: bool| if b { "1".to_string() } else { "0".to_string() };
    let mut f = vec![
        ("channel", t.channel.clone()),
        ("public_model", t.public_model.clone()),
        ("official_model", t.official_model.clone()),
        ("has_video", flag(t.has_video)),
        ("created_at", t.created_at.to_string()),
        ("status", t.status.clone()),
        ("hidden", flag(t.hidden)),
    ];
    if let Some(slot) = &t.slot {
        f.push(("slot", slot.clone()));
    }
    if t.prepaid {
        f.push(("prepaid", "1".into()));
    }
    if let Some(r) = &t.requested_resolution {
        f.push(("requested_resolution", r.clone()));
    }
    if let Some(e) = t.execution_expires_after {
        f.push(("execution_expires_after", e.to_string()));
    }
    if let Some(u) = &t.upstream_request {
        f.push(("upstream_request", u.clone()));
    }
    if let Some(q) = &t.quarantine {
        f.extend([
            ("quarantined", q.reason.clone()),
            ("quarantined_usage", q.usage.clone()),
            ("quarantined_at", q.at_ms.to_string()),
        ]);
    }
    if let Some(s) = &t.settlement {
        f.extend([
            ("settled_by", s.settled_by.clone()),
            ("settled_at", s.settled_at_ms.to_string()),
            ("sku", s.sku.clone()),
            ("billed_tokens", s.tokens.to_string()),
            ("usd_nanos", s.usd_nanos.to_string()),
            ("resolution", s.resolution.clone()),
        ]);
    }
    f
}

fn parse_task(op: &'static str, id: &str, mut h: HashMap<String, String>) -> StoreResult<TaskRecord> {
    let mut take = |k: &str| h.remove(k);
    let num = |op: &'static str, k: &str, v: Option<String>| -> StoreResult<Option<i64>> {
        v.map(|s| s.parse::<i64>().map_err(|_| corrupt(op, format!("task {id}: {k}={s:?}")))).transpose()
    };
    let channel = take("channel").ok_or_else(|| corrupt(op, format!("task {id} has no channel")))?;
    let public_model = take("public_model").ok_or_else(|| corrupt(op, format!("task {id} has no model")))?;
    let settlement = match take("settled_by") {
        None => None,
        Some(settled_by) => Some(SettlementRecord {
            settled_by,
            settled_at_ms: num(op, "settled_at", take("settled_at"))?.unwrap_or(0),
            sku: take("sku").unwrap_or_default(),
            tokens: unsigned(op, "billed_tokens", take("billed_tokens"))?,
            usd_nanos: unsigned(op, "usd_nanos", take("usd_nanos"))?,
            resolution: take("resolution").unwrap_or_default(),
        }),
    };
    let quarantine = take("quarantined").map(|reason| QuarantineRecord {
        reason,
        usage: take("quarantined_usage").unwrap_or_default(),
        at_ms: take("quarantined_at").and_then(|s| s.parse().ok()).unwrap_or(0),
    });
    Ok(TaskRecord {
        id: id.to_string(),
        channel,
        public_model,
        official_model: take("official_model").unwrap_or_default(),
        has_video: take("has_video").as_deref() == Some("1"),
        requested_resolution: take("requested_resolution"),
        created_at: num(op, "created_at", take("created_at"))?.unwrap_or(0),
        status: take("status").unwrap_or_else(|| "queued".into()),
        hidden: take("hidden").as_deref() == Some("1"),
        execution_expires_after: num(op, "execution_expires_after", take("execution_expires_after"))?,
        upstream_request: take("upstream_request"),
        settlement,
        quarantine,
        slot: take("slot"),
        prepaid: take("prepaid").as_deref() == Some("1"),
    })
}

/// `admit.lua`'s answer: `{1,'ok',0}` or a refusal with its number.
fn admit_answer(v: Value) -> StoreResult<Admit> {
    let (ok, why, n): (i64, String, i64) = ::redis::from_redis_value(v).map_err(|e| corrupt("admit", e.to_string()))?;
    Ok(match (ok, why.as_str()) {
        (1, _) => Admit::Admitted,
        (_, "rate") => Admit::RateLimited { retry_after_ms: n },
        (_, "active") => Admit::ActiveLimit { active: u64::try_from(n).unwrap_or(0) },
        (_, "quota") => Admit::InsufficientQuota { available_nanos: n },
        _ => return Err(corrupt("admit", format!("unexpected answer {ok} {why:?}"))),
    })
}

/// A paired pipeline's answers (a script's, then its plain commands') as the two operations'
/// results: the script's value, and whether every plain command succeeded.
fn split_answers(
    answers: StoreResult<Vec<Result<Value, RedisError>>>,
    (script_op, plain_op): (&'static str, &'static str),
) -> (StoreResult<Value>, StoreResult<()>) {
    let answers = match answers {
        Ok(a) => a,
        // Sent together, failed together (the error names the pair).
        Err(e) => return (Err(e.clone()), Err(e)),
    };
    let mut answers = answers.into_iter();
    let script = match answers.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(classify(script_op, &e)),
        None => Err(corrupt(script_op, "no answer")),
    };
    let plain = answers.try_for_each(|r| r.map(|_| ())).map_err(|e| classify(plain_op, &e));
    (script, plain)
}

/// An optional limit as the admission script reads it: `''` = unlimited.
fn limit_arg(v: Option<impl ToString>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn intent_member(i: &Intent) -> String {
    format!("{}|{}", i.tenant, i.id)
}

/// An amount or count as stored: unsigned, and never a reason to make the task unreadable (a
/// value that does not parse is reported as 0 and logged, so GET and lists keep working).
fn unsigned(op: &'static str, k: &str, v: Option<String>) -> StoreResult<u64> {
    Ok(match v {
        None => 0,
        Some(s) => s.parse::<u64>().unwrap_or_else(|_| {
            log::error!("{op}: stored {k}={s:?} is not an unsigned integer");
            0
        }),
    })
}

fn parse_asset(op: &'static str, id: &str, mut h: HashMap<String, String>) -> StoreResult<AssetRecord> {
    let kind = match h.remove("kind").as_deref() {
        Some("group") => AssetKind::Group,
        Some("asset") => AssetKind::Asset,
        other => return Err(corrupt(op, format!("asset {id}: kind {other:?}"))),
    };
    Ok(AssetRecord {
        id: id.to_string(),
        kind,
        channel: h.remove("channel").ok_or_else(|| corrupt(op, format!("asset {id} has no channel")))?,
        group_id: h.remove("group_id").filter(|g| !g.is_empty()),
        created_at: h.remove("created_at").and_then(|s| s.parse().ok()).unwrap_or(0),
    })
}

fn ledger_entry(tenant: &str, id: String, mut m: HashMap<String, String>) -> LedgerEntry {
    let mut take = |k: &str| m.remove(k).unwrap_or_default();
    LedgerEntry {
        entry_id: id,
        tenant: tenant.to_string(),
        task_id: take("task"),
        settlement_id: take("settlement"),
        sku: take("sku"),
        tokens: take("tokens").parse().unwrap_or(0),
        usd_nanos: take("usd_nanos").parse().unwrap_or(0),
        model: take("model"),
        at_ms: take("at").parse().unwrap_or(0),
        channel: take("channel"),
        unit_price: take("unit_price").parse().ok(),
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn ping(&self) -> StoreResult<()> {
        let _: String = self.run("ping", |mut c| async move { ::redis::cmd("PING").query_async(&mut c).await }).await?;
        Ok(())
    }

    async fn put_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        let json = serde_json::to_string(tenant).map_err(|e| corrupt("put_tenant", e.to_string()))?;
        let (key, set) = (self.keys.tenant(&tenant.id), self.keys.tenants());
        let id = tenant.id.clone();
        // Two slots (the tenant's and the global set): two commands, the record first so the
        // reconciler never iterates a tenant it cannot read.
        self.run("put_tenant", |mut c| async move {
            ::redis::cmd("SET").arg(&key).arg(&json).query_async::<()>(&mut c).await?;
            ::redis::cmd("SADD").arg(&set).arg(&id).query_async::<()>(&mut c).await
        })
        .await
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<TenantRecord>> {
        let key = self.keys.tenant(id);
        let raw: Option<String> =
            self.run("tenant", |mut c| async move { ::redis::cmd("GET").arg(&key).query_async(&mut c).await }).await?;
        raw.map(|s| serde_json::from_str(&s).map_err(|e| corrupt("tenant", format!("tenant {id}: {e}")))).transpose()
    }

    async fn tenant_ids(&self) -> StoreResult<Vec<String>> {
        let key = self.keys.tenants();
        let mut ids: Vec<String> = self
            .run("tenant_ids", |mut c| async move { ::redis::cmd("SMEMBERS").arg(&key).query_async(&mut c).await })
            .await?;
        ids.sort();
        Ok(ids)
    }

    async fn add_token(&self, tenant: &str, token_sha256: &str) -> Result<(), TokenError> {
        let mut inv = self.add_token.prepare_invoke();
        inv.key(self.keys.token(token_sha256)).arg(tenant);
        let (bound, holder): (i64, String) =
            self.run("add_token", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        if bound == 1 {
            Ok(())
        } else {
            Err(TokenError::HeldByOther { holder })
        }
    }

    async fn revoke_token(&self, token_sha256: &str) -> StoreResult<bool> {
        let key = self.keys.token(token_sha256);
        let n: i64 = self
            .run("revoke_token", |mut c| async move { ::redis::cmd("DEL").arg(&key).query_async(&mut c).await })
            .await?;
        Ok(n > 0)
    }

    async fn token_tenant(&self, token_sha256: &str) -> StoreResult<Option<String>> {
        let key = self.keys.token(token_sha256);
        self.run("token_tenant", |mut c| async move { ::redis::cmd("GET").arg(&key).query_async(&mut c).await }).await
    }

    async fn put_task(&self, tenant: &str, task: &TaskRecord) -> StoreResult<()> {
        self.write_task("put_task", tenant, task, false).await.map(|_| ())
    }

    async fn put_task_if_absent(&self, tenant: &str, task: &TaskRecord) -> StoreResult<bool> {
        self.write_task("put_task_if_absent", tenant, task, true).await
    }

    async fn task(&self, tenant: &str, id: &str) -> StoreResult<Option<Arc<TaskRecord>>> {
        let key = self.keys.task(tenant, id);
        let h: HashMap<String, String> = self
            .run("task", |mut c| async move { ::redis::cmd("HGETALL").arg(&key).query_async(&mut c).await })
            .await?;
        if h.is_empty() {
            return Ok(None);
        }
        parse_task("task", id, h).map(|t| Some(Arc::new(t)))
    }

    async fn open_tasks(&self, tenant: &str) -> StoreResult<Vec<TaskRecord>> {
        self.open_task_records(tenant).await
    }

    async fn task_page(&self, tenant: &str, q: &TaskPageQuery) -> StoreResult<TaskPage> {
        self.page_of_tasks(tenant, q).await
    }

    async fn set_status(&self, tenant: &str, id: &str, status: &str) -> StoreResult<()> {
        let indexes = self.indexes_of_task("set_status", tenant, id).await?;
        let mut inv = self.set_status.prepare_invoke();
        inv.key(self.keys.task(tenant, id)).key(self.keys.pending(tenant));
        self.slot_keys(&mut inv, tenant);
        for key in indexes {
            inv.key(key);
        }
        inv.arg(id)
            .arg(status)
            .arg(if is_terminal(status) { "1" } else { "0" })
            .arg(now_ms())
            .arg(self.retention_floor())
            .arg(self.ttl_secs());
        let _: i64 = self.run("set_status", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        if is_terminal(status) {
            self.end_channel_slot("set_status", tenant, id).await?;
        }
        Ok(())
    }

    async fn hide_task(&self, tenant: &str, id: &str) -> StoreResult<()> {
        let indexes = self.indexes_of_task("hide_task", tenant, id).await?;
        let mut inv = self.hide_task.prepare_invoke();
        inv.key(self.keys.task(tenant, id));
        self.slot_keys(&mut inv, tenant);
        for key in indexes {
            inv.key(key);
        }
        inv.arg(id).arg(now_ms());
        let _: i64 = self.run("hide_task", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        self.end_channel_slot("hide_task", tenant, id).await
    }

    async fn settle(&self, tenant: &str, s: &Settlement) -> StoreResult<SettleOutcome> {
        let indexes = self.indexes_of_task("settle", tenant, &s.task_id).await?;
        let mut inv = self.settle.prepare_invoke();
        inv.key(self.keys.task(tenant, &s.task_id)).key(self.keys.ledger(tenant)).key(self.keys.pending(tenant));
        self.slot_keys(&mut inv, tenant);
        for key in indexes {
            inv.key(key);
        }
        inv.arg(&s.settlement_id)
            .arg(&s.task_id)
            .arg(&s.sku)
            .arg(s.tokens)
            .arg(s.usd_nanos)
            .arg(s.settled_at_ms)
            .arg(&s.public_model)
            .arg(&s.final_resolution)
            .arg(&s.channel)
            .arg(s.unit_price_micros)
            .arg(self.retention_floor())
            .arg(self.ttl_secs());
        let (code, detail): (i64, String) =
            self.run("settle", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        if code == 1 {
            self.end_channel_slot("settle", tenant, &s.task_id).await?;
        }
        Ok(match (code, detail.as_str()) {
            (1, "replay") => SettleOutcome::Replay,
            (1, _) => SettleOutcome::Settled { entry_id: detail },
            (0, _) => SettleOutcome::AlreadySettled { by: detail },
            _ => SettleOutcome::NoTask,
        })
    }

    async fn quarantine(&self, tenant: &str, id: &str, q: &QuarantineRecord) -> StoreResult<bool> {
        let indexes = self.indexes_of_task("quarantine", tenant, id).await?;
        let mut inv = self.quarantine.prepare_invoke();
        inv.key(self.keys.task(tenant, id)).key(self.keys.pending(tenant));
        self.slot_keys(&mut inv, tenant);
        for key in indexes {
            inv.key(key);
        }
        inv.arg(id).arg(&q.reason).arg(&q.usage).arg(q.at_ms).arg(self.retention_floor()).arg(self.ttl_secs());
        let first: i64 = self.run("quarantine", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        self.end_channel_slot("quarantine", tenant, id).await?;
        Ok(first == 1)
    }

    async fn put_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        let mut pipe = ::redis::pipe();
        for cmd in self.intent_cmds(channel, intent) {
            pipe.add_command(cmd).ignore();
        }
        self.run("put_intent", |mut c| async move { pipe.query_async::<()>(&mut c).await }).await
    }

    async fn drop_intent(&self, channel: &str, intent: &Intent) -> StoreResult<()> {
        let (key, member) = (self.keys.intents(channel), intent_member(intent));
        self.run(
            "drop_intent",
            |mut c| async move { ::redis::cmd("ZREM").arg(&key).arg(&member).query_async(&mut c).await },
        )
        .await
    }

    async fn claim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        let mut pipe = ::redis::pipe();
        for cmd in self.claim_cmds(channel, task_id, intent) {
            pipe.add_command(cmd).ignore();
        }
        self.run("claim", |mut c| async move { pipe.query_async::<()>(&mut c).await }).await
    }

    async fn record_and_claim(
        &self,
        tenant: &str,
        task: &TaskRecord,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<()>, StoreResult<()>) {
        if !self.one_node() {
            return tokio::join!(self.put_task(tenant, task), self.claim(channel, &task.id, intent));
        }
        let inv = self.task_invocation(tenant, task, false);
        let answers =
            self.paired("record_and_claim", &self.put_task, &inv, self.claim_cmds(channel, &task.id, intent)).await;
        let (recorded, claimed) = split_answers(answers, ("put_task", "claim"));
        (recorded.map(|_| ()), claimed)
    }

    async fn unclaim(&self, channel: &str, task_id: &str, intent: &Intent) -> StoreResult<()> {
        let (owned, intents, member) = (self.keys.owned(channel), self.keys.intents(channel), intent_member(intent));
        self.run("unclaim", |mut c| async move {
            ::redis::pipe()
                .atomic()
                .cmd("HDEL")
                .arg(&owned)
                .arg(task_id)
                .ignore()
                .cmd("ZADD")
                .arg(&intents)
                .arg(intent.at_ms)
                .arg(&member)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    async fn channel_owner(&self, channel: &str, task_id: &str) -> StoreResult<Option<String>> {
        let key = self.keys.owned(channel);
        self.run("channel_owner", |mut c| async move {
            ::redis::cmd("HGET").arg(&key).arg(task_id).query_async(&mut c).await
        })
        .await
    }

    async fn intents(&self, channel: &str, since_ms: i64) -> StoreResult<Vec<Intent>> {
        let key = self.keys.intents(channel);
        let rows: Vec<(String, f64)> = self
            .run("intents", |mut c| async move {
                let (_, rows): ((), Vec<(String, f64)>) = ::redis::pipe()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&key)
                    .arg("-inf")
                    .arg(format!("({since_ms}"))
                    .cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await?;
                Ok(rows)
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(m, at)| {
                let (tenant, id) = m.split_once('|')?;
                Some(Intent { tenant: tenant.to_string(), id: id.to_string(), at_ms: at as i64 })
            })
            .collect())
    }

    async fn record_orphan(&self, orphan: &Orphan) -> StoreResult<bool> {
        let key = self.keys.orphans(&orphan.channel);
        let json = serde_json::to_string(orphan).map_err(|e| corrupt("record_orphan", e.to_string()))?;
        let ttl = self.ttl_secs();
        let first: i64 = self
            .run("record_orphan", |mut c| async move {
                let (first,): (i64,) = ::redis::pipe()
                    .atomic()
                    .cmd("HSETNX")
                    .arg(&key)
                    .arg(&orphan.task_id)
                    .arg(&json)
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(ttl)
                    .ignore()
                    .query_async(&mut c)
                    .await?;
                Ok(first)
            })
            .await?;
        Ok(first == 1)
    }

    async fn orphans(&self, channel: &str) -> StoreResult<Vec<Orphan>> {
        let key = self.keys.orphans(channel);
        let all: HashMap<String, String> = self
            .run("orphans", |mut c| async move { ::redis::cmd("HGETALL").arg(&key).query_async(&mut c).await })
            .await?;
        Ok(all.values().filter_map(|v| serde_json::from_str(v).ok()).collect())
    }

    async fn defer_settlement(&self, tenant: &str, id: &str, reason: &str, now_ms: i64) -> StoreResult<()> {
        let mut inv = self.defer_settlement.prepare_invoke();
        inv.key(self.keys.task(tenant, id)).arg(reason).arg(now_ms);
        let _: i64 = self.run("defer_settlement", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        Ok(())
    }

    async fn pending_settlement(&self, tenant: &str, id: &str) -> StoreResult<Option<PendingSettlement>> {
        let key = self.keys.task(tenant, id);
        let (reason, since, attempts): (Option<String>, Option<String>, Option<String>) = self
            .run("pending_settlement", |mut c| async move {
                ::redis::cmd("HMGET")
                    .arg(&key)
                    .arg("defer_reason")
                    .arg("defer_since")
                    .arg("defer_attempts")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let Some(reason) = reason else { return Ok(None) };
        let num = |field: &str, v: Option<String>| {
            v.unwrap_or_default()
                .parse::<i64>()
                .map_err(|_| corrupt("pending_settlement", format!("task {id}: {field}")))
        };
        Ok(Some(PendingSettlement {
            reason,
            since_ms: num("defer_since", since)?,
            attempts: num("defer_attempts", attempts)?.max(0) as u64,
        }))
    }

    async fn due_tasks(&self, tenant: &str, now_ms: i64, limit: usize) -> StoreResult<Vec<(String, i64)>> {
        let key = self.keys.pending(tenant);
        let rows: Vec<(String, f64)> = self
            .run("due_tasks", |mut c| async move {
                ::redis::cmd("ZRANGEBYSCORE")
                    .arg(&key)
                    .arg("-inf")
                    .arg(now_ms)
                    .arg("WITHSCORES")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(rows.into_iter().map(|(id, at)| (id, at as i64)).collect())
    }

    async fn reschedule(&self, tenant: &str, id: &str, next_check_ms: Option<i64>) -> StoreResult<()> {
        let key = self.keys.pending(tenant);
        let id = id.to_string();
        self.run("reschedule", |mut c| async move {
            match next_check_ms {
                Some(at) => ::redis::cmd("ZADD").arg(&key).arg("XX").arg(at).arg(&id).query_async::<()>(&mut c).await,
                None => ::redis::cmd("ZREM").arg(&key).arg(&id).query_async::<()>(&mut c).await,
            }
        })
        .await
    }

    async fn try_lease(&self, tenant: &str, node: &str, ttl_ms: u64) -> StoreResult<bool> {
        let key = self.keys.lease(tenant);
        let node = node.to_string();
        let r: Option<String> = self
            .run("try_lease", |mut c| async move {
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(&node)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms.max(1))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(r.is_some())
    }

    async fn ledger(&self, tenant: &str, since_ms: i64) -> StoreResult<Vec<LedgerEntry>> {
        let key = self.keys.ledger(tenant);
        let start = format!("{}-0", since_ms.max(0));
        let rows: Vec<(String, HashMap<String, String>)> = self
            .run("ledger", |mut c| async move {
                ::redis::cmd("XRANGE").arg(&key).arg(&start).arg("+").query_async(&mut c).await
            })
            .await?;
        Ok(rows.into_iter().map(|(id, m)| ledger_entry(tenant, id, m)).collect())
    }

    async fn ledger_page(
        &self,
        tenant: &str,
        from: &LedgerFrom,
        until_ms: Option<i64>,
        count: usize,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let key = self.keys.ledger(tenant);
        // Stream ids start with the millisecond Redis appended them; `(` excludes a bound
        // (Redis >= 6.2), so a cursor resumes after its entry and `until` stops before it.
        let start = match from {
            LedgerFrom::Since(ms) => format!("{}-0", (*ms).max(0)),
            LedgerFrom::After(id) => format!("({id}"),
        };
        let end = until_ms.map_or_else(|| "+".to_string(), |u| format!("({}-0", u.max(0)));
        let rows: Vec<(String, HashMap<String, String>)> = self
            .run("ledger", |mut c| async move {
                ::redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(&start)
                    .arg(&end)
                    .arg("COUNT")
                    .arg(count.max(1))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(rows.into_iter().map(|(id, m)| ledger_entry(tenant, id, m)).collect())
    }

    async fn admit(&self, tenant: &str, a: &Admission) -> StoreResult<Admit> {
        let inv = self.admit_invocation(tenant, a);
        let answer: Value = self.run("admit", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        admit_answer(answer)
    }

    async fn admit_with_intent(
        &self,
        tenant: &str,
        a: &Admission,
        channel: &str,
        intent: &Intent,
    ) -> (StoreResult<Admit>, StoreResult<()>) {
        if !self.one_node() {
            return tokio::join!(self.admit(tenant, a), self.put_intent(channel, intent));
        }
        let inv = self.admit_invocation(tenant, a);
        let answers = self.paired("admit_with_intent", &self.admit, &inv, self.intent_cmds(channel, intent)).await;
        let (admitted, written) = split_answers(answers, ("admit", "put_intent"));
        (admitted.and_then(admit_answer), written)
    }

    async fn release_slot(&self, tenant: &str, slot: &str, at_ms: i64) -> StoreResult<bool> {
        let k = &self.keys;
        let mut inv = self.release_slot.prepare_invoke();
        inv.key(k.active(tenant))
            .key(k.holds(tenant))
            .key(k.wallet(tenant))
            .key(k.wallet_log(tenant))
            .arg(slot)
            .arg(at_ms);
        let n: i64 = self.run("release_slot", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        Ok(n == 1)
    }

    async fn channel_admit(&self, channel: &str, a: &ChannelAdmission) -> StoreResult<ChannelAdmit> {
        let mut inv = self.channel_admit.prepare_invoke();
        inv.key(self.keys.channel_active(channel))
            .arg(&a.slot)
            .arg(a.now_ms)
            .arg(a.max_active_tasks)
            .arg(a.stale_before_ms);
        let (ok, n): (i64, i64) =
            self.run("channel_admit", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        let active = u64::try_from(n).unwrap_or(0);
        Ok(if ok == 1 { ChannelAdmit::Admitted { active } } else { ChannelAdmit::Full { active } })
    }

    async fn channel_release(&self, channel: &str, slot: &str) -> StoreResult<u64> {
        let (key, slot) = (self.keys.channel_active(channel), slot.to_string());
        let (_, n): (i64, u64) = self
            .run("channel_release", |mut c| {
                let (key, slot) = (key.clone(), slot.clone());
                async move { ::redis::pipe().atomic().zrem(&key, &slot).zcard(&key).query_async(&mut c).await }
            })
            .await?;
        Ok(n)
    }

    async fn channel_active(&self, channel: &str) -> StoreResult<u64> {
        let key = self.keys.channel_active(channel);
        self.run("channel_active", |mut c| {
            let key = key.clone();
            async move { ::redis::cmd("ZCARD").arg(&key).query_async(&mut c).await }
        })
        .await
    }

    async fn credit(&self, tenant: &str, usd_nanos: u64, at_ms: i64) -> StoreResult<Wallet> {
        let mut inv = self.credit.prepare_invoke();
        inv.key(self.keys.wallet(tenant)).key(self.keys.wallet_log(tenant)).arg(usd_nanos).arg(at_ms);
        let _: Vec<i64> = self.run("credit", |mut c| async move { inv.invoke_async(&mut c).await }).await?;
        self.wallet(tenant).await
    }

    async fn wallet(&self, tenant: &str) -> StoreResult<Wallet> {
        let (wallet, active) = (self.keys.wallet(tenant), self.keys.active(tenant));
        let ((balance, reserved, spent), n): ((Option<String>, Option<String>, Option<String>), u64) = self
            .run("wallet", |mut c| async move {
                ::redis::pipe()
                    .cmd("HMGET")
                    .arg(&wallet)
                    .arg("balance")
                    .arg("reserved")
                    .arg("spent")
                    .cmd("ZCARD")
                    .arg(&active)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let amount = |k: &str, v: Option<String>| -> StoreResult<i64> {
            v.map(|s| s.parse::<i64>().map_err(|_| corrupt("wallet", format!("tenant {tenant}: {k}={s:?}"))))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        Ok(Wallet {
            balance_nanos: amount("balance", balance)?,
            reserved_nanos: amount("reserved", reserved)?,
            spent_nanos: amount("spent", spent)?,
            active_tasks: n,
        })
    }

    async fn wallet_movements(&self, tenant: &str) -> StoreResult<Vec<WalletMovement>> {
        let key = self.keys.wallet_log(tenant);
        let rows: Vec<(String, HashMap<String, String>)> = self
            .run("wallet_movements", |mut c| async move {
                ::redis::cmd("XRANGE").arg(&key).arg("-").arg("+").query_async(&mut c).await
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(_, mut m)| {
                let mut take = |k: &str| m.remove(k).unwrap_or_default();
                WalletMovement {
                    kind: take("kind"),
                    slot: take("slot"),
                    task_id: take("task"),
                    usd_nanos: take("usd_nanos").parse().unwrap_or(0),
                    at_ms: take("at").parse().unwrap_or(0),
                }
            })
            .collect())
    }

    async fn put_asset(&self, tenant: &str, a: &AssetRecord) -> StoreResult<()> {
        let key = self.keys.asset(tenant, &a.id);
        let index = self.keys.asset_index(tenant, a.kind);
        let kind = if a.kind == AssetKind::Group { "group" } else { "asset" };
        let ttl = self.ttl_secs();
        let mut pipe = ::redis::pipe();
        // MULTI/EXEC on one slot: the record and its index land together.
        pipe.atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("kind")
            .arg(kind)
            .arg("channel")
            .arg(&a.channel)
            .arg("group_id")
            .arg(a.group_id.as_deref().unwrap_or(""))
            .arg("created_at")
            .arg(a.created_at)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(ttl)
            .ignore()
            .cmd("ZADD")
            .arg(&index)
            .arg(a.created_at)
            .arg(&a.id)
            .ignore()
            .cmd("EXPIRE")
            .arg(&index)
            .arg(ttl)
            .ignore();
        self.run("put_asset", |mut c| async move { pipe.query_async::<()>(&mut c).await }).await
    }

    async fn asset(&self, tenant: &str, id: &str) -> StoreResult<Option<AssetRecord>> {
        let key = self.keys.asset(tenant, id);
        let h: HashMap<String, String> = self
            .run("asset", |mut c| async move { ::redis::cmd("HGETALL").arg(&key).query_async(&mut c).await })
            .await?;
        if h.is_empty() {
            return Ok(None);
        }
        parse_asset("asset", id, h).map(Some)
    }

    async fn assets(&self, tenant: &str, kind: AssetKind) -> StoreResult<Vec<AssetRecord>> {
        let records =
            self.indexed("assets", &self.keys.asset_index(tenant, kind), |id| self.keys.asset(tenant, id)).await?;
        records.into_iter().map(|(id, h)| parse_asset("assets", &id, h)).collect()
    }
}

#[cfg(test)]
mod url_tests {
    use super::ClusterSpec;

    #[test]
    fn cluster_credentials_in_the_first_url_apply_to_every_node() {
        let s = ClusterSpec::parse("redis+cluster://app:p%40ss%2Cw@h1:7000,h2:7001,10.0.0.3:7002").unwrap().unwrap();
        assert_eq!(s.node_urls(), ["redis://h1:7000", "redis://h2:7001", "redis://10.0.0.3:7002"]);
        assert_eq!(s.seeds().nodes[2], ("10.0.0.3".to_string(), 7002));
        assert_eq!(s.username.as_deref(), Some("app"));
        assert_eq!(s.password.as_deref(), Some("p@ss,w"));
        assert!(!s.tls);

        let s = ClusterSpec::parse("rediss+cluster://:secret@h1:7000,h2:7001/").unwrap().unwrap();
        assert_eq!(s.node_urls(), ["rediss://h1:7000", "rediss://h2:7001"]);
        assert_eq!((s.username, s.password.as_deref(), s.tls), (None, Some("secret"), true));

        let s = ClusterSpec::parse("redis+cluster://h1:7000").unwrap().unwrap();
        assert_eq!((s.username, s.password), (None, None));
        assert_eq!(ClusterSpec::parse("redis://h1:6379/0").unwrap(), None);
    }

    #[test]
    fn bad_cluster_urls_are_refused_without_echoing_secrets() {
        for bad in [
            "redis+cluster://",
            "redis+cluster://h1",
            "redis+cluster://u:hunter2@h1:7000,h2",
            "redis+cluster://h1:99999",
        ] {
            let e = ClusterSpec::parse(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}

#[cfg(test)]
mod sentinel_url_tests {
    use super::SentinelSpec;

    #[test]
    fn sentinel_urls_name_the_sentinels_the_master_and_its_credentials() {
        let s =
            SentinelSpec::parse("redis+sentinel://app:p%40ss@s1:26379,10.0.0.2:26380/mymaster?sentinel_password=s%26p")
                .unwrap()
                .unwrap();
        assert_eq!(s.sentinels, [("s1".to_string(), 26379), ("10.0.0.2".to_string(), 26380)]);
        assert_eq!(s.master, "mymaster");
        assert_eq!((s.username.as_deref(), s.password.as_deref()), (Some("app"), Some("p@ss")));
        assert_eq!(s.sentinel_password.as_deref(), Some("s&p"));

        let s = SentinelSpec::parse("redis+sentinel://s1:26379/m").unwrap().unwrap();
        assert_eq!((s.username, s.password, s.sentinel_password), (None, None, None));
        assert_eq!(SentinelSpec::parse("redis://h:6379/0").unwrap(), None);
    }

    #[test]
    fn bad_sentinel_urls_are_refused_without_echoing_secrets() {
        for bad in [
            "redis+sentinel://u:hunter2@s1:26379",
            "redis+sentinel://u:hunter2@s1:26379/",
            "redis+sentinel://u:hunter2@s1/m",
            "redis+sentinel://u:hunter2@s1:26379/m?sentinel_pasword=hunter2",
        ] {
            let e = SentinelSpec::parse(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
