//! Configuration: one YAML file turned once into a plain, validated model ([`Config`]). Nothing
//! downstream reads YAML. `${ENV_VAR}` references are expanded from the environment so secrets
//! never live in the file; every error names the key it is about.

use seedance_filters::model::{check_mapping, PublicModel};
use seedance_filters::sku::PriceTable;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}

/// Tenant ids live inside Redis hash tags and log lines: keep them plain.
pub fn is_valid_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A tenant's `limits`; every one optional, absent = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    /// Queued + running tasks at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active_tasks: Option<u32>,
    /// Creates admitted in any sliding 60-second window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creates_per_minute: Option<u32>,
    /// Creates need balance: the worst-case price is reserved until the task ends.
    #[serde(default)]
    pub prepaid: bool,
}

/// A secret from the environment. Its `Debug` never shows the value, so a logged config is safe.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub addr: String,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// Request body bytes held across the whole process at once; past it, 503 `overloaded`.
    pub max_inflight_body_bytes: usize,
    /// Bound on reading a request body from the customer.
    pub body_read_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct StoreConf {
    /// `redis://…`, `rediss://…`, `redis+cluster://[user:pass@]h1:p1,h2:p2`,
    /// `rediss+cluster://…`, `redis+sentinel://[user:pass@]s1:p1,s2:p2/<master-name>`,
    /// or `memory://` (demo only).
    pub url: String,
    /// Extra CA bundle (PEM) for `rediss://`, besides the system's.
    pub ca_file: Option<PathBuf>,
    pub prefix: String,
    pub op_timeout: Duration,
    pub retention: Duration,
    /// Where ownership records go when Redis cannot take them after an upstream create.
    pub journal: Option<PathBuf>,
    /// `store.cache`: the in-process task cache and its invalidation links (every Redis
    /// topology; not built for the memory store).
    pub cache: CacheConf,
}

/// `store.cache`: how many task records a node keeps, and how stale they may be at worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConf {
    /// 0 turns the cache (and the invalidation link) off.
    pub max_entries: u64,
    /// The longest a node answers from its cache after a write it has not heard of.
    pub max_stale: Duration,
}

#[derive(Debug, Clone)]
pub struct DnsConf {
    /// Empty: the system resolver configuration.
    pub nameservers: Vec<SocketAddr>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct UpstreamConf {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Idle upstream connections kept for reuse, across all channel addresses.
    pub pool_size: usize,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    /// Base URL of the task API (`…/api/v3/contents/generations/tasks` is appended).
    pub task_base_url: String,
    /// Base URL of the asset Actions (`/?Action=…&Version=2024-01-01` is appended).
    pub asset_base_url: Option<String>,
    pub region: String,
    pub api_key: Secret,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub project_name: String,
    pub ca_file: Option<PathBuf>,
    pub enabled: bool,
    /// Tasks this channel may hold queued or running at once (BytePlus queues at most 120 per
    /// account); `None` = not counted by the edge.
    pub max_active_tasks: Option<u32>,
    /// Public model → official version id on this channel.
    pub models: BTreeMap<PublicModel, String>,
}

impl Channel {
    /// Whether this channel can serve asset Actions (an endpoint and AK/SK).
    pub fn has_assets(&self) -> bool {
        self.asset_base_url.is_some() && self.access_key_id.is_some() && self.secret_access_key.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct TenantConf {
    pub id: String,
    pub token_sha256: Vec<String>,
    pub channels: Vec<String>,
    pub models: Vec<PublicModel>,
    pub assets: bool,
    pub limits: TenantLimits,
}

/// The admin listener: `/healthz`, `/readyz`, `/metrics`.
#[derive(Debug, Clone)]
pub struct AdminConf {
    pub addr: String,
    /// A file holding the token `/metrics` requires as `Authorization: Bearer …` (the probes
    /// stay open). A file, not a value, so the token comes from a Secret mount or a systemd
    /// credential and never sits in the config.
    pub bearer_token_file: Option<PathBuf>,
}

/// How access-log lines are written (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` pairs after the logger's usual prefix.
    #[default]
    Text,
    /// One JSON object per line, nothing before it.
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<Listener>,
    pub admin: Option<AdminConf>,
    pub limits: Limits,
    pub store: StoreConf,
    pub dns: DnsConf,
    pub upstream: UpstreamConf,
    pub reconcile_interval: Duration,
    /// How often the orphan scan lists each channel's recent tasks; `None` = never.
    pub orphan_scan_interval: Option<Duration>,
    pub metrics_tenant_label: bool,
    pub log_format: LogFormat,
    /// How long a token → tenant answer is trusted before Redis is asked again (revocation delay).
    pub auth_cache_ttl: Duration,
    pub threads: usize,
    /// How long in-flight requests may take to finish after SIGTERM (or SIGQUIT) before the
    /// runtimes are stopped; should cover [`Config::request_budget`].
    pub grace_period_seconds: u64,
    /// How long after SIGTERM the listeners keep accepting while `/readyz` already answers 503,
    /// so balancers that poll readiness take the node out before connections are refused.
    pub drain_delay_seconds: u64,
    /// Where `run --upgrade` receives the listening sockets from the running process (SIGQUIT).
    pub upgrade_sock: PathBuf,
    pub prices: PriceTable,
    pub channels: Vec<Channel>,
    pub tenants: Vec<TenantConf>,
    /// Settings that load but will refuse requests (e.g. a Filter-Off model mapped to an ordinary one).
    pub warnings: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// The YAML schema. Unknown keys are errors: a typo must not silently drop a setting.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    listen: Vec<RawListener>,
    admin: Option<RawAdmin>,
    #[serde(default)]
    limits: RawLimits,
    store: RawStore,
    #[serde(default)]
    dns: RawDns,
    #[serde(default)]
    upstream: RawUpstream,
    #[serde(default)]
    reconcile: RawReconcile,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    prices: BTreeMap<String, RawPrice>,
    #[serde(default)]
    channels: Vec<RawChannel>,
    #[serde(default)]
    tenants: Vec<RawTenant>,
}

/// A price in USD per million tokens, written as a YAML number (`4.3`) or string (`"4.3"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPrice {
    Number(f64),
    Text(String),
}

impl RawPrice {
    fn text(&self) -> String {
        match self {
            RawPrice::Number(n) => n.to_string(),
            RawPrice::Text(s) => s.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    addr: String,
    tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    addr: String,
    bearer_token_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    max_body_bytes: u64,
    max_inflight_body_bytes: u64,
    body_read_timeout_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_body_bytes: 32 * 1024 * 1024,
            max_inflight_body_bytes: 256 * 1024 * 1024,
            body_read_timeout_ms: 30_000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: String,
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default = "default_op_timeout")]
    op_timeout_ms: u64,
    #[serde(default = "default_retention_days")]
    retention_days: u64,
    journal: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    cache: RawStoreCache,
}

/// `store.cache`. `max_entries`: task records one node keeps (LRU-like, ~1 KiB each plus the
/// audit snapshot; 0 turns the cache and its Redis invalidation link off). `max_stale_ms`: the
/// longest a node may answer from its cache after a write it has not heard of — the link's
/// heartbeat runs every quarter of it, and the cache is bypassed when a heartbeat is late.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStoreCache {
    max_entries: u64,
    max_stale_ms: u64,
}

impl Default for RawStoreCache {
    fn default() -> Self {
        RawStoreCache { max_entries: 50_000, max_stale_ms: 1000 }
    }
}

fn default_prefix() -> String {
    "sde".into()
}
fn default_op_timeout() -> u64 {
    1000
}
fn default_retention_days() -> u64 {
    90
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDns {
    nameservers: Vec<String>,
    timeout_ms: u64,
}

impl Default for RawDns {
    fn default() -> Self {
        RawDns { nameservers: vec![], timeout_ms: 1000 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawUpstream {
    connect_timeout_ms: u64,
    read_timeout_ms: u64,
    pool_size: u64,
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream { connect_timeout_ms: 2000, read_timeout_ms: 30_000, pool_size: 128 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReconcile {
    interval_ms: u64,
    orphan_scan_ms: u64,
}

impl Default for RawReconcile {
    fn default() -> Self {
        RawReconcile { interval_ms: 5000, orphan_scan_ms: 60_000 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    tenant_label: bool,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics { tenant_label: true }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    format: LogFormat,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuth {
    cache_ttl_ms: u64,
}

impl Default for RawAuth {
    fn default() -> Self {
        RawAuth { cache_ttl_ms: 5000 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    threads: usize,
    grace_period_seconds: u64,
    drain_delay_seconds: u64,
    upgrade_sock: PathBuf,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            threads: 2,
            // Covers the default request budget: 30 s body + 2 s connect + 30 s upstream read.
            grace_period_seconds: 65,
            drain_delay_seconds: 0,
            upgrade_sock: PathBuf::from("/tmp/seedance-edge-upgrade.sock"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: String,
    task_base_url: String,
    asset_base_url: Option<String>,
    region: String,
    api_key: String,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    #[serde(default = "default_project")]
    project_name: String,
    ca_file: Option<PathBuf>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    max_active_tasks: Option<u32>,
    #[serde(default)]
    models: BTreeMap<String, String>,
}

fn default_project() -> String {
    "default".into()
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    id: String,
    #[serde(default)]
    token_sha256: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    assets: bool,
    #[serde(default)]
    limits: RawTenantLimits,
}

/// `tenants[].limits`: every key optional, absent = unlimited.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTenantLimits {
    max_active_tasks: Option<u32>,
    creates_per_minute: Option<u32>,
    prepaid: bool,
}

// ---------------------------------------------------------------------------------------------

/// A limit of 0 would refuse every create: a typo, not a setting.
fn positive(key: String, v: Option<u32>) -> Result<Option<u32>, ConfigError> {
    match v {
        Some(0) => Err(invalid(key, "must be at least 1 (leave it out for no limit)")),
        v => Ok(v),
    }
}

impl Config {
    /// The longest a request can take once accepted: reading its body, then connecting to and
    /// hearing from the upstream. A drain shorter than this cuts such requests off.
    pub fn request_budget(&self) -> Duration {
        self.limits.body_read_timeout + self.upstream.connect_timeout + self.upstream.read_timeout
    }

    /// Reads, expands and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::from_yaml(&text, &|name| std::env::var(name).ok())
    }

    /// Parses YAML text; `env` looks up `${NAME}` references (injected so tests need no globals).
    pub fn from_yaml(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Parse(format!("config is not valid YAML: {e}")))?;
        expand_env(&mut value, "", env)?;
        let raw: RawConfig =
            serde_yaml_ng::from_value(value).map_err(|e| ConfigError::Parse(format!("config: {e}")))?;
        raw.validate()
    }
}

/// Replaces `${NAME}` in every string value; a missing variable names the key that wanted it.
fn expand_env(
    v: &mut serde_yaml_ng::Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    use serde_yaml_ng::Value;
    match v {
        Value::String(s) if s.contains("${") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.find('}').ok_or_else(|| invalid(path, "unterminated ${...} reference"))?;
                let name = &after[..end];
                let value =
                    env(name).ok_or_else(|| invalid(path, format!("environment variable {name} is not set")))?;
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Mapping(m) => {
            for (k, child) in m.iter_mut() {
                let key = k.as_str().unwrap_or("?");
                let child_path = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
                expand_env(child, &child_path, env)?;
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                expand_env(child, &format!("{path}[{i}]"), env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_addr(key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse().map_err(|_| invalid(key, format!("{s:?} is not an ip:port address")))
}

fn check_base_url(key: &str, s: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(s).map_err(|e| invalid(key, format!("{s:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(key, "must be an http(s) URL with a host"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

fn non_zero(key: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 {
        return Err(invalid(key, "must be greater than 0"));
    }
    Ok(Duration::from_millis(ms))
}

/// One token hash, one tenant: a hash listed under two tenants would let whichever the store saw
/// last take the other's traffic (and its bill). Listing it twice under one tenant is harmless.
fn claim_token_hash(
    holders: &mut HashMap<String, (String, String)>,
    hash: &str,
    tenant: &str,
    key: String,
) -> Result<(), ConfigError> {
    match holders.get(&hash.to_ascii_lowercase()) {
        Some((holder, holder_key)) if holder != tenant => Err(invalid(
            key,
            format!(
                "tenant {tenant:?} lists a token hash that tenant {holder:?} already holds ({holder_key}); a token belongs to one tenant"
            ),
        )),
        Some(_) => Ok(()),
        None => {
            holders.insert(hash.to_ascii_lowercase(), (tenant.to_string(), key));
            Ok(())
        }
    }
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let mut listen = Vec::new();
        for (i, l) in self.listen.into_iter().enumerate() {
            parse_addr(&format!("listen[{i}].addr"), &l.addr)?;
            listen.push(Listener { addr: l.addr, tls: l.tls.map(|t| TlsFiles { cert: t.cert, key: t.key }) });
        }
        let admin = match self.admin {
            Some(a) => {
                parse_addr("admin.addr", &a.addr)?;
                if a.bearer_token_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                    return Err(invalid("admin.bearer_token_file", "must be a path (or absent)"));
                }
                Some(AdminConf { addr: a.addr, bearer_token_file: a.bearer_token_file })
            }
            None => None,
        };
        if self.limits.max_body_bytes == 0 || self.limits.max_body_bytes > 1 << 30 {
            return Err(invalid("limits.max_body_bytes", "must be between 1 and 1073741824"));
        }
        if self.limits.max_inflight_body_bytes < self.limits.max_body_bytes {
            return Err(invalid(
                "limits.max_inflight_body_bytes",
                "must be at least limits.max_body_bytes (one largest request must fit)",
            ));
        }
        let store_url = self.store.url.trim().to_string();
        if !["redis://", "rediss://", "redis+cluster://", "rediss+cluster://", "redis+sentinel://", "memory://"]
            .iter()
            .any(|p| store_url.starts_with(p))
        {
            return Err(invalid(
                "store.url",
                "must start with redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or memory://",
            ));
        }
        if let Some(ca) = &self.store.ca_file {
            if !store_url.starts_with("rediss://") {
                return Err(invalid("store.ca_file", "applies to rediss:// URLs only"));
            }
            if !ca.is_file() {
                return Err(invalid("store.ca_file", format!("{} is not a readable file", ca.display())));
            }
        }
        if self.store.prefix.is_empty() || self.store.prefix.contains(['{', '}', ' ']) {
            return Err(invalid("store.prefix", "must be non-empty without braces or spaces"));
        }
        let nameservers = self
            .dns
            .nameservers
            .iter()
            .enumerate()
            .map(|(i, s)| parse_addr(&format!("dns.nameservers[{i}]"), s))
            .collect::<Result<Vec<_>, _>>()?;

        let mut prices = PriceTable::page_default();
        for (sku, price) in &self.prices {
            prices.set(sku, &price.text()).map_err(|e| invalid(format!("prices.{sku}"), e.to_string()))?;
        }

        let mut warnings = Vec::new();
        if !store_url.starts_with("memory://") && self.store.journal.is_none() {
            warnings.push(
                "store.journal is not set: a task created upstream while Redis refuses writes is answered 503 and left untracked"
                    .to_string(),
            );
        }
        if store_url.starts_with("memory://") {
            warnings.push(
                "store.url: memory:// is for the demo and tests: ownership and billing are lost on restart and not shared between nodes"
                    .to_string(),
            );
        }
        let mut channels = Vec::new();
        let mut seen = HashSet::new();
        for (i, c) in self.channels.into_iter().enumerate() {
            let key = |k: &str| format!("channels[{i}].{k}");
            if c.id.is_empty() || !seen.insert(c.id.clone()) {
                return Err(invalid(key("id"), format!("{:?} is empty or used twice", c.id)));
            }
            if c.api_key.is_empty() {
                return Err(invalid(key("api_key"), "must not be empty (use ${ENV_VAR})"));
            }
            let mut models = BTreeMap::new();
            for (public, official) in c.models {
                let model = PublicModel::parse(&public)
                    .filter(|m| m.name() == public)
                    .ok_or_else(|| invalid(key(&format!("models.{public}")), "is not a public model name"))?;
                // The contract answers such requests 503 model_mapping_required; `check` warns early.
                if let Err(e) = check_mapping(model, Some(&official)) {
                    warnings.push(format!("{}: {}", key(&format!("models.{public}")), e.message));
                }
                models.insert(model, official);
            }
            if c.access_key_id.is_some() != c.secret_access_key.is_some() {
                return Err(invalid(key("secret_access_key"), "access_key_id and secret_access_key go together"));
            }
            channels.push(Channel {
                task_base_url: check_base_url(&key("task_base_url"), &c.task_base_url)?,
                asset_base_url: c
                    .asset_base_url
                    .as_deref()
                    .map(|u| check_base_url(&key("asset_base_url"), u))
                    .transpose()?,
                id: c.id,
                region: c.region,
                api_key: Secret(c.api_key),
                access_key_id: c.access_key_id.map(Secret),
                secret_access_key: c.secret_access_key.map(Secret),
                project_name: c.project_name,
                ca_file: c.ca_file,
                enabled: c.enabled,
                max_active_tasks: positive(key("max_active_tasks"), c.max_active_tasks)?,
                models,
            });
        }

        let mut tenants = Vec::new();
        let mut seen = HashSet::new();
        let mut hash_holders = HashMap::new();
        for (i, t) in self.tenants.into_iter().enumerate() {
            let key = |k: &str| format!("tenants[{i}].{k}");
            if !is_valid_tenant_id(&t.id) || !seen.insert(t.id.clone()) {
                return Err(invalid(key("id"), format!("{:?} must be 1-64 of [A-Za-z0-9_-] and unique", t.id)));
            }
            for (j, h) in t.token_sha256.iter().enumerate() {
                if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid(
                        key(&format!("token_sha256[{j}]")),
                        "must be 64 hex digits (sha256 of the token)",
                    ));
                }
                claim_token_hash(&mut hash_holders, h, &t.id, key(&format!("token_sha256[{j}]")))?;
            }
            for (j, c) in t.channels.iter().enumerate() {
                if !channels.iter().any(|ch| &ch.id == c) {
                    return Err(invalid(key(&format!("channels[{j}]")), format!("unknown channel {c:?}")));
                }
            }
            let models = t
                .models
                .iter()
                .enumerate()
                .map(|(j, m)| {
                    PublicModel::parse(m)
                        .ok_or_else(|| invalid(key(&format!("models[{j}]")), format!("{m:?} is not a public model")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let limits = TenantLimits {
                max_active_tasks: positive(key("limits.max_active_tasks"), t.limits.max_active_tasks)?,
                creates_per_minute: positive(key("limits.creates_per_minute"), t.limits.creates_per_minute)?,
                prepaid: t.limits.prepaid,
            };
            tenants.push(TenantConf {
                limits,
                id: t.id,
                token_sha256: t.token_sha256.iter().map(|h| h.to_ascii_lowercase()).collect(),
                channels: t.channels,
                models,
                assets: t.assets,
            });
        }

        if self.server.upgrade_sock.as_os_str().is_empty() {
            return Err(invalid("server.upgrade_sock", "must be a path"));
        }
        let mut config = Config {
            listen,
            admin,
            limits: Limits {
                max_body_bytes: self.limits.max_body_bytes as usize,
                max_inflight_body_bytes: usize::try_from(self.limits.max_inflight_body_bytes).unwrap_or(usize::MAX),
                body_read_timeout: non_zero("limits.body_read_timeout_ms", self.limits.body_read_timeout_ms)?,
            },
            store: StoreConf {
                url: store_url,
                prefix: self.store.prefix,
                op_timeout: non_zero("store.op_timeout_ms", self.store.op_timeout_ms)?,
                retention: Duration::from_secs(self.store.retention_days.max(1) * 86_400),
                journal: self.store.journal,
                ca_file: self.store.ca_file,
                cache: CacheConf {
                    max_entries: self.store.cache.max_entries,
                    max_stale: non_zero("store.cache.max_stale_ms", self.store.cache.max_stale_ms)?,
                },
            },
            dns: DnsConf { nameservers, timeout: non_zero("dns.timeout_ms", self.dns.timeout_ms)? },
            upstream: UpstreamConf {
                connect_timeout: non_zero("upstream.connect_timeout_ms", self.upstream.connect_timeout_ms)?,
                read_timeout: non_zero("upstream.read_timeout_ms", self.upstream.read_timeout_ms)?,
                pool_size: match self.upstream.pool_size {
                    n @ 1..=100_000 => n as usize,
                    _ => return Err(invalid("upstream.pool_size", "must be between 1 and 100000")),
                },
            },
            reconcile_interval: non_zero("reconcile.interval_ms", self.reconcile.interval_ms)?,
            orphan_scan_interval: (self.reconcile.orphan_scan_ms > 0)
                .then(|| Duration::from_millis(self.reconcile.orphan_scan_ms)),
            metrics_tenant_label: self.metrics.tenant_label,
            log_format: self.log.format,
            auth_cache_ttl: Duration::from_millis(self.auth.cache_ttl_ms),
            threads: self.server.threads.max(1),
            grace_period_seconds: self.server.grace_period_seconds,
            drain_delay_seconds: self.server.drain_delay_seconds,
            upgrade_sock: self.server.upgrade_sock,
            prices,
            channels,
            tenants,
            warnings,
        };
        let budget = config.request_budget();
        if Duration::from_secs(config.grace_period_seconds) < budget {
            config.warnings.push(format!(
                "server.grace_period_seconds {} is shorter than the longest request ({}s: limits.body_read_timeout_ms + upstream.connect_timeout_ms + upstream.read_timeout_ms); a drain cuts such requests off",
                config.grace_period_seconds,
                budget.as_secs_f64().ceil()
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
listen: [{ addr: "127.0.0.1:8080" }]
store: { url: "memory://" }
channels:
  - id: sg-main
    task_base_url: "https://ark.example"
    region: ap-southeast-1
    api_key: "${KEY}"
    models: { dreamina-seedance-2-0: dreamina-seedance-2-0-260128 }
tenants:
  - id: acme
    channels: [sg-main]
"#;

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "sekrit".to_string())
    }

    #[test]
    fn expands_env_and_keeps_secrets_out_of_debug() {
        let c = Config::from_yaml(BASE, &env).unwrap();
        assert_eq!(c.channels[0].api_key.expose(), "sekrit");
        assert!(!format!("{c:?}").contains("sekrit"));
        assert_eq!(c.limits.max_body_bytes, 32 * 1024 * 1024);
    }

    #[test]
    fn prices_override_the_page_as_numbers_or_strings() {
        let yaml = format!(
            "{BASE}prices: {{ dreamina-seedance-2-0-fast-video: 3.25, dreamina-seedance-2-0-480p-novideo: \"6.5\" }}\n"
        );
        let c = Config::from_yaml(&yaml, &env).unwrap();
        let p = |s: &str| c.prices.iter().find(|(k, _)| *k == s).map(|(_, v)| v);
        assert_eq!(p("dreamina-seedance-2-0-fast-video"), Some(3_250_000));
        assert_eq!(p("dreamina-seedance-2-0-480p-novideo"), Some(6_500_000));
        assert_eq!(p("dreamina-seedance-2-0-720p-novideo"), Some(7_000_000));
        let bad = format!("{BASE}prices: {{ no-such-sku: 1 }}\n");
        assert!(Config::from_yaml(&bad, &env).unwrap_err().to_string().contains("prices.no-such-sku"));
    }

    #[test]
    fn a_memory_store_is_flagged() {
        let c = Config::from_yaml(BASE, &env).unwrap();
        assert!(c.warnings.iter().any(|w| w.starts_with("store.url: memory://")), "{:?}", c.warnings);
    }

    #[test]
    fn a_token_hash_belongs_to_one_tenant() {
        let hash = "ab".repeat(32);
        let two = |first: &str, second: &str| {
            format!(
                "{BASE}  - {{ id: beta, channels: [sg-main], token_sha256: [\"{first}\"] }}\n  - {{ id: gamma, channels: [sg-main], token_sha256: [\"{}\", \"{second}\"] }}\n",
                "cd".repeat(32)
            )
        };
        let e = Config::from_yaml(&two(&hash, &hash.to_ascii_uppercase()), &env).unwrap_err().to_string();
        assert!(e.starts_with("tenants[2].token_sha256[1]: "), "{e}");
        assert!(e.contains("\"gamma\"") && e.contains("\"beta\"") && e.contains("tenants[1].token_sha256[0]"), "{e}");

        let same_tenant =
            format!("{BASE}  - {{ id: beta, channels: [sg-main], token_sha256: [\"{hash}\", \"{hash}\"] }}\n");
        assert!(Config::from_yaml(&same_tenant, &env).is_ok(), "listed twice under one tenant is harmless");
    }

    #[test]
    fn the_admin_token_is_a_file_reference() {
        let yaml =
            format!("{BASE}admin: {{ addr: \"127.0.0.1:9464\", bearer_token_file: \"${{CREDS}}/admin-token\" }}\n");
        let env = |n: &str| match n {
            "CREDS" => Some("/run/credentials/seedance-edge.service".to_string()),
            other => env(other),
        };
        let c = Config::from_yaml(&yaml, &env).unwrap();
        let admin = c.admin.unwrap();
        assert_eq!(admin.addr, "127.0.0.1:9464");
        assert_eq!(
            admin.bearer_token_file.unwrap(),
            PathBuf::from("/run/credentials/seedance-edge.service/admin-token")
        );
        let bad = format!("{BASE}admin: {{ addr: \"127.0.0.1:9464\", bearer_token: \"x\" }}\n");
        let e = Config::from_yaml(&bad, &env).unwrap_err().to_string();
        assert!(e.contains("bearer_token"), "{e}");
    }

    #[test]
    fn the_default_drain_covers_the_longest_request_and_a_short_one_is_flagged() {
        let c = Config::from_yaml(BASE, &env).unwrap();
        assert!(Duration::from_secs(c.grace_period_seconds) >= c.request_budget(), "{c:?}");
        assert!(!c.warnings.iter().any(|w| w.starts_with("server.grace_period_seconds")), "{:?}", c.warnings);
        let short = format!("{BASE}server: {{ grace_period_seconds: 10 }}\n");
        let c = Config::from_yaml(&short, &env).unwrap();
        assert!(c.warnings.iter().any(|w| w.starts_with("server.grace_period_seconds 10 ")), "{:?}", c.warnings);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_yaml(BASE, &|_| None).unwrap_err().to_string();
        assert!(e.contains("channels[0].api_key") && e.contains("KEY"), "{e}");

        let bad = BASE.replace("channels: [sg-main]", "channels: [nope]");
        let e = Config::from_yaml(&bad, &env).unwrap_err().to_string();
        assert!(e.contains("tenants[0].channels[0]"), "{e}");

        let bad = BASE.replace("region:", "regoin:");
        let e = Config::from_yaml(&bad, &env).unwrap_err().to_string();
        assert!(e.contains("regoin"), "{e}");

        assert_eq!(Config::from_yaml(BASE, &env).unwrap().upstream.pool_size, 128, "the default pool");
        for n in ["0", "100001"] {
            let bad = format!("{BASE}upstream: {{ pool_size: {n} }}\n");
            let e = Config::from_yaml(&bad, &env).unwrap_err().to_string();
            assert!(e.contains("upstream.pool_size"), "{e}");
        }

        let bad = BASE.replace(
            "dreamina-seedance-2-0: dreamina-seedance-2-0-260128",
            "dreamina-seedance-2-0-filter-off: dreamina-seedance-2-0-260128",
        );
        let c = Config::from_yaml(&bad, &env).unwrap();
        assert!(
            c.warnings.iter().any(|w| w.contains("channels[0].models.dreamina-seedance-2-0-filter-off")),
            "{:?}",
            c.warnings
        );
    }
}
