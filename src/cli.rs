//! The command line. `run` and `demo` hand control to Pingora; every other command
//! acts on the configured store and exits.

use crate::config::Config;
use crate::server::StartupError;
use crate::store::{Store, StoreError, TenantRecord, TokenError};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "seedance-edge", version, about = "Multi-tenant BytePlus Dreamina Seedance 2.0 edge on Pingora")]
pub struct Cli {
    /// Configuration file (for `run`, the default command).
    #[arg(long, global = true)]
    pub conf: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve (the default). SIGHUP reloads the file, SIGTERM drains, SIGQUIT hands the
    /// listening sockets to a `run --upgrade` process.
    Run(RunArgs),
    /// Validate the configuration and exit.
    Check,
    /// The embedded demo: memory store, in-process fake BytePlus, a printed token.
    #[cfg(feature = "demo")]
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, default_value = "127.0.0.1:9464")]
        admin: String,
    },
    /// Manage tenants in the store.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage tenant tokens (stored only as SHA-256).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Inspect a task's audit record.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Billing ledger.
    #[command(subcommand)]
    Billing(BillingCmd),
    /// Upstream tasks no tenant owns, as JSON lines (every configured channel, or one).
    Orphans {
        #[arg(long)]
        channel: Option<String>,
    },
}

#[derive(Args, Default)]
pub struct RunArgs {
    /// Take the listening sockets over from the running process (send it SIGQUIT once this is
    /// started) instead of binding them: Pingora's zero-downtime upgrade via `server.upgrade_sock`.
    #[arg(long)]
    pub upgrade: bool,
}

#[derive(Subcommand)]
pub enum TenantCmd {
    /// Create or replace a tenant.
    Add(TenantAdd),
    /// The tenant's record, limits, active tasks and balance.
    Show {
        id: String,
    },
    Disable {
        id: String,
    },
    /// Prints balance, reserved and spent (USD); `--add USD` credits a prepaid tenant first
    /// (decimal, exact to the nano-dollar: at most 9 decimals).
    Balance {
        id: String,
        #[arg(long = "add")]
        add: Option<String>,
    },
}

#[derive(Args)]
pub struct TenantAdd {
    pub id: String,
    /// Eligible channel, in preference order (repeat).
    #[arg(long = "channel", required = true)]
    pub channels: Vec<String>,
    /// Allowed public model (repeat; none = all).
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// Enable the asset library.
    #[arg(long)]
    pub assets: bool,
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Issue a new token for a tenant and print it once.
    Issue { tenant: String },
    /// Bind an existing token's SHA-256 to a tenant.
    Add { tenant: String, sha256: String },
    /// Revoke by SHA-256 (or --token to hash one given on the command line).
    Revoke {
        sha256: Option<String>,
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TaskCmd {
    /// The task's audit record: ownership, upstream request snapshot, settlement.
    Show {
        id: String,
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum BillingCmd {
    /// The ledger, oldest first, read in pages of 1000; prints `cursor: …` on stderr at the end
    /// (also after a failure), which `--after` resumes from.
    Export {
        /// Unix seconds, unix milliseconds, or an RFC 3339 UTC date (2026-11-24 / 2026-11-24T10:00:00Z).
        #[arg(long, default_value = "0")]
        since: String,
        /// Only entries settled before this instant (same forms as `--since`).
        #[arg(long)]
        until: Option<String>,
        /// Resume after a printed cursor (`TENANT=ENTRY_ID,…`, or a bare entry id with `--tenant`).
        #[arg(long)]
        after: Option<String>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: crate::billing::export::Format,
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// Why a command failed; the message is what the operator reads after `seedance-edge: `.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] crate::billing::export::ExportError),
    #[error(transparent)]
    Output(#[from] serde_json::Error),
    /// An argument, or a name the operator gave, that cannot be used as it is.
    #[error("{0}")]
    Usage(String),
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

fn load(conf: &Option<PathBuf>) -> Result<Config, StartupError> {
    let path = conf.as_ref().ok_or(StartupError::NoConfigFile)?;
    Ok(Config::load(path)?)
}

pub fn main() -> Result<(), CliError> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => {
            let config = load(&cli.conf)?;
            for w in &config.warnings {
                log::warn!("config: {w}");
            }
            let store = crate::server::open_store(&config.store)?;
            let edge = crate::server::build_edge(config, store, None)?;
            let opts = crate::server::RunOptions { conf_path: cli.conf.clone(), upgrade: args.upgrade };
            Ok(crate::server::run(edge, opts)?)
        }
        Command::Check => {
            let config = load(&cli.conf)?;
            for w in &config.warnings {
                println!("warning: {w}");
            }
            println!(
                "ok: {} listener(s), {} channel(s), {} tenant(s)",
                config.listen.len(),
                config.channels.len(),
                config.tenants.len()
            );
            Ok(())
        }
        #[cfg(feature = "demo")]
        Command::Demo { listen, admin } => Ok(crate::demo::run(crate::demo::DemoArgs { listen, admin })?),
        other => {
            let config = load(&cli.conf)?;
            let store = crate::server::open_store(&config.store)?;
            let rt =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(StartupError::Runtime)?;
            rt.block_on(store_command(other, &config, store))
        }
    }
}

async fn store_command(cmd: Command, config: &Config, store: Arc<dyn Store>) -> Result<(), CliError> {
    let s = store.as_ref();
    match cmd {
        Command::Tenant(TenantCmd::Add(a)) => {
            if !crate::auth::is_valid_tenant_id(&a.id) {
                return Err(usage("tenant id must be 1-64 of [A-Za-z0-9_-]"));
            }
            for c in &a.channels {
                if !config.channels.iter().any(|ch| &ch.id == c) {
                    return Err(usage(format!("--channel {c}: not a configured channel")));
                }
            }
            for m in &a.models {
                seedance_filters::PublicModel::parse(m)
                    .ok_or_else(|| usage(format!("--model {m}: not a public model")))?;
            }
            let t = TenantRecord {
                id: a.id.clone(),
                disabled: false,
                channels: a.channels,
                models: a.models,
                assets: a.assets,
                limits: Default::default(),
            };
            s.put_tenant(&t).await?;
            println!("tenant {} saved", a.id);
        }
        Command::Tenant(TenantCmd::Show { id }) => {
            let t = s.tenant(&id).await?.ok_or_else(|| usage(format!("no tenant {id}")))?;
            let wallet = s.wallet(&id).await?;
            let mut view = serde_json::to_value(&t)?;
            if let Some(o) = view.as_object_mut() {
                o.insert("active_tasks".into(), wallet.active_tasks.into());
                o.extend(wallet_view(&wallet));
            }
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        Command::Tenant(TenantCmd::Balance { id, add }) => {
            let t = s.tenant(&id).await?.ok_or_else(|| usage(format!("no tenant {id}")))?;
            let wallet = match add {
                Some(usd) => {
                    if !t.limits.prepaid {
                        return Err(usage(format!(
                            "tenant {id} is not prepaid (limits.prepaid: true); nothing credited"
                        )));
                    }
                    let nanos =
                        seedance_filters::sku::parse_usd_nanos(&usd).map_err(|e| usage(format!("--add {e}")))?;
                    s.credit(&id, nanos, crate::clock::now_ms()).await?
                }
                None => s.wallet(&id).await?,
            };
            let view: serde_json::Map<String, serde_json::Value> = wallet_view(&wallet).collect();
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        Command::Tenant(TenantCmd::Disable { id }) => {
            let mut t = s.tenant(&id).await?.ok_or_else(|| usage(format!("no tenant {id}")))?;
            t.disabled = true;
            s.put_tenant(&t).await?;
            println!("tenant {id} disabled ({})", effect_delay(config, s.coherence().is_some()));
        }
        Command::Token(TokenCmd::Issue { tenant }) => {
            s.tenant(&tenant).await?.ok_or_else(|| usage(format!("no tenant {tenant}")))?;
            let token = crate::auth::issue_token();
            let hash = crate::auth::token_sha256(&token);
            s.add_token(&tenant, &hash).await.map_err(token_error)?;
            println!("{token}");
            eprintln!("sha256 {hash} — the token is shown once and stored only as this hash");
        }
        Command::Token(TokenCmd::Add { tenant, sha256 }) => {
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(usage("sha256 must be 64 hex digits"));
            }
            s.tenant(&tenant).await?.ok_or_else(|| usage(format!("no tenant {tenant}")))?;
            let hash = sha256.to_ascii_lowercase();
            s.add_token(&tenant, &hash).await.map_err(|e| match e {
                TokenError::HeldByOther { .. } => usage(format!("{e}; revoke it there first (token revoke {hash})")),
                TokenError::Store(e) => CliError::Store(e),
            })?;
            println!("token bound to {tenant}");
        }
        Command::Token(TokenCmd::Revoke { sha256, token }) => {
            let hash = match (sha256, token) {
                (Some(h), None) => h.to_ascii_lowercase(),
                (None, Some(t)) => crate::auth::token_sha256(&t),
                _ => return Err(usage("give either SHA256 or --token")),
            };
            let existed = s.revoke_token(&hash).await?;
            println!(
                "{} ({})",
                if existed { "revoked" } else { "no such token" },
                effect_delay(config, s.coherence().is_some())
            );
        }
        Command::Task(TaskCmd::Show { id, tenant }) => {
            let tenants = match tenant {
                Some(t) => vec![t],
                None => s.tenant_ids().await?,
            };
            for t in tenants {
                if let Some(task) = s.task(&t, &id).await? {
                    let pending = s.pending_settlement(&t, &id).await?;
                    let view = audit_view(&t, &task, pending.as_ref());
                    println!("{}", serde_json::to_string_pretty(&view)?);
                    return Ok(());
                }
            }
            return Err(usage(format!("no task {id}")));
        }
        Command::Billing(BillingCmd::Export { since, until, after, format, tenant }) => {
            use crate::billing::export::{self, Cursor, Export};
            let after = match &after {
                Some(a) => Cursor::parse(a, tenant.as_deref())?,
                None => Cursor::default(),
            };
            let opts = Export {
                since_ms: parse_since(&since)?,
                until_ms: until.as_deref().map(parse_since).transpose()?,
                after,
                format,
                page: export::PAGE,
            };
            let tenants = match tenant {
                Some(t) => vec![t],
                None => s.tenant_ids().await?,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let (cursor, result) = export::run(s, &tenants, &opts, &mut out).await;
            eprintln!("cursor: {cursor}");
            result?;
        }
        Command::Orphans { channel } => {
            let channels: Vec<String> = match channel {
                Some(c) => vec![c],
                None => config.channels.iter().map(|c| c.id.clone()).collect(),
            };
            for c in channels {
                for o in s.orphans(&c).await? {
                    println!("{}", serde_json::to_string(&o)?);
                }
            }
        }
        Command::Run(_) | Command::Check => {}
        #[cfg(feature = "demo")]
        Command::Demo { .. } => {}
    }
    Ok(())
}

/// The operator's view of a task: ownership, `properties.upstream_request`, settlement, and
/// why a settlement is still waiting.
fn audit_view(
    tenant: &str,
    t: &crate::store::TaskRecord,
    pending: Option<&crate::store::PendingSettlement>,
) -> serde_json::Value {
    let upstream_request = t
        .upstream_request
        .as_deref()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "id": t.id,
        "tenant": tenant,
        "channel": t.channel,
        "model": t.public_model,
        "official_model": t.official_model,
        "status": t.status,
        "hidden": t.hidden,
        "has_video": t.has_video,
        "requested_resolution": t.requested_resolution,
        "created_at": t.created_at,
        "properties": {"upstream_request": upstream_request},
        "settlement": t.settlement,
        "quarantine": t.quarantine,
        "settlement_pending": pending,
    })
}

/// Unix seconds / milliseconds, or `YYYY-MM-DD[THH:MM:SS[Z]]` (UTC).
pub fn parse_since(s: &str) -> Result<i64, CliError> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(if n > 100_000_000_000 { n } else { n * 1000 });
    }
    let bad = || usage(format!("--since {s:?}: use unix seconds, unix ms, or YYYY-MM-DD[THH:MM:SS[Z]]"));
    // A date alone is its midnight; a trailing `Z` only confirms the UTC the value is read in.
    let civil = match s.strip_suffix('Z').unwrap_or(s) {
        d if d.contains('T') => d.parse::<jiff::civil::DateTime>(),
        d => d.parse::<jiff::civil::Date>().map(|d| d.to_datetime(jiff::civil::Time::midnight())),
    }
    .map_err(|_| bad())?;
    let at = civil.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?;
    Ok(at.timestamp().as_millisecond())
}

/// When a revocation or disable reaches the nodes: as soon as their invalidation link hears it
/// (bounded by `store.cache.max_stale_ms`), and never later than the token cache's TTL. Whether
/// the nodes have a link is the store's decision (`linked`: the same configuration opens the
/// same store there).
fn effect_delay(config: &Config, linked: bool) -> String {
    let ttl = config.auth_cache_ttl;
    let max_stale = config.store.cache.max_stale;
    if linked && max_stale < ttl {
        format!("effective within {max_stale:?} on every node, {ttl:?} on one whose invalidation link is down")
    } else {
        format!("effective within {ttl:?} on every node")
    }
}

/// A token command's failure: the store's, or a binding the store refused.
fn token_error(e: TokenError) -> CliError {
    match e {
        TokenError::Store(e) => CliError::Store(e),
        held @ TokenError::HeldByOther { .. } => usage(held.to_string()),
    }
}

/// Balance, reserved, spent and what is available, as exact decimal USD strings.
fn wallet_view(w: &crate::store::Wallet) -> impl Iterator<Item = (String, serde_json::Value)> {
    let usd = |n: i64| serde_json::Value::from(seedance_filters::sku::format_usd_nanos(n));
    [
        ("balance_usd", usd(w.balance_nanos)),
        ("reserved_usd", usd(w.reserved_nanos)),
        ("available_usd", usd(w.balance_nanos.saturating_sub(w.reserved_nanos))),
        ("spent_usd", usd(w.spent_nanos)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_accepts_dates_and_epochs() {
        assert_eq!(super::parse_since("0").unwrap(), 0);
        assert_eq!(super::parse_since("1781181681").unwrap(), 1_781_181_681_000);
        assert_eq!(super::parse_since("1781181681000").unwrap(), 1_781_181_681_000);
        assert_eq!(super::parse_since("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(super::parse_since("2026-11-24T10:00:00Z").unwrap(), 1_795_514_400_000);
        assert!(super::parse_since("yesterday").is_err());
        assert!(super::parse_since("2026-02-30").is_err(), "a day the month does not have");
        assert!(super::parse_since("2026-11-24T25:00:00Z").is_err());
    }
}
