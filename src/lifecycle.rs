//! The process's signals, in one place: SIGHUP reloads the configuration file, SIGTERM
//! drains, SIGQUIT hands the listening sockets to a `run --upgrade` process, SIGINT stops at
//! once. Pingora owns TERM, QUIT and INT through its `ShutdownSignalWatch`; it leaves SIGHUP at
//! the default action (the process dies), so this watch takes SIGHUP too and answers it without
//! returning to Pingora.
//!
//! A reload replaces what the file says (tenants, tokens, channels, models, prices, limits) and
//! nothing that holds connections or counts (store, metrics, resolver, upstream pools): see
//! [`Edge::with_config`]. It is not for listeners or the server section; those need an upgrade.

use crate::billing::reconcile::sync_tenants;
use crate::config::Config;
use crate::edge::{Edge, LiveEdge};
use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::protocols::Stream;
use pingora_core::server::{ShutdownSignal, ShutdownSignalWatch, ShutdownWatch};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// Why a reload was refused; the running configuration stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file does not load or does not validate (the message names the key).
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// A channel's endpoint cannot be used.
    #[error("channels: {0}")]
    Channels(#[from] crate::ark::EndpointError),
}

/// Settings a reload reads but cannot apply to a running process: they belong to listeners,
/// runtimes, pools or clients built once at start. Names of those that differ.
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    // Debug text is a faithful comparison for these plain values (none is a secret that is
    // shown: `Secret`'s Debug hides it, and only the names of what differs are logged).
    let d = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let fields: [(&'static str, String, String); 12] = [
        ("listen", d(&old.listen), d(&new.listen)),
        ("admin", d(&old.admin), d(&new.admin)),
        ("store", d(&old.store), d(&new.store)),
        ("dns", d(&old.dns), d(&new.dns)),
        ("upstream", d(&old.upstream), d(&new.upstream)),
        ("reconcile.interval_ms", d(&old.reconcile_interval), d(&new.reconcile_interval)),
        ("metrics.tenant_label", d(&old.metrics_tenant_label), d(&new.metrics_tenant_label)),
        ("auth.cache_ttl_ms", d(&old.auth_cache_ttl), d(&new.auth_cache_ttl)),
        (
            "limits.max_inflight_body_bytes",
            d(&old.limits.max_inflight_body_bytes),
            d(&new.limits.max_inflight_body_bytes),
        ),
        ("server.threads", d(&old.threads), d(&new.threads)),
        ("server.grace_period_seconds", d(&old.grace_period_seconds), d(&new.grace_period_seconds)),
        ("server.upgrade_sock", d(&old.upgrade_sock), d(&new.upgrade_sock)),
    ];
    fields.into_iter().filter(|(_, a, b)| a != b).map(|(name, _, _)| name).collect()
}

/// Validates the file at `path` the way `check` does and, if it passes, makes it the running
/// configuration, then upserts its tenants. A refused file changes nothing. Counted in
/// `seedance_config_reloads_total{result}`.
pub async fn reload(live: &LiveEdge, path: &std::path::Path) -> Result<(), ReloadError> {
    let old = live.current();
    let result = swap(live, &old, path);
    let label = if result.is_ok() { "ok" } else { "error" };
    old.metrics.config_reloads.with_label_values(&[label]).inc();
    let edge = match result {
        Ok(edge) => edge,
        Err(e) => {
            log::error!("config reload refused, the running configuration stays: {e}");
            return Err(e);
        }
    };
    log::info!(
        "config reloaded from {}: {} channel(s), {} tenant(s)",
        path.display(),
        edge.config.channels.len(),
        edge.config.tenants.len()
    );
    // After the swap, so no request sees a tenant record naming a channel it does not know yet.
    match sync_tenants(&edge).await {
        Ok(_) => edge.tenants_stale.store(false, Ordering::Release),
        Err(e) => {
            log::error!("config reload: tenants not upserted ({e}); the reconciler retries each pass");
            edge.tenants_stale.store(true, Ordering::Release);
        }
    }
    Ok(())
}

fn swap(live: &LiveEdge, old: &Edge, path: &std::path::Path) -> Result<Arc<Edge>, ReloadError> {
    let config = Config::load(path)?;
    for w in &config.warnings {
        log::warn!("config: {w}");
    }
    let ignored = restart_only_changes(&old.config, &config);
    let edge = Arc::new(old.with_config(config)?);
    if !ignored.is_empty() {
        log::warn!(
            "config reload: {} changed but apply only at start; restart, or for listeners use `run --upgrade` (SIGQUIT)",
            ignored.join(", ")
        );
    }
    edge.metrics.init_channels(edge.config.channels.iter().map(|c| c.id.as_str()));
    edge.metrics.set_channel_caps(&edge.config.channels);
    live.replace(edge.clone());
    Ok(edge)
}

/// Pingora's shutdown watch with our additions: the drain flag before a graceful stop, and
/// SIGHUP reloads from `conf_path` (without one, SIGHUP is logged and ignored).
pub struct EdgeSignals {
    pub live: Arc<LiveEdge>,
    pub conf_path: Option<PathBuf>,
    /// The TLS listeners' certificates, re-read from their files on SIGHUP.
    pub certs: Arc<crate::tls_certs::Certificates>,
}

impl EdgeSignals {
    /// Reloads in a task of its own, one at a time, so a slow store never delays a SIGTERM.
    fn spawn_reload(&self, lock: &Arc<tokio::sync::Mutex<()>>) {
        let Some(path) = self.conf_path.clone() else {
            log::warn!("SIGHUP: this process has no configuration file to reload");
            return;
        };
        let (live, lock, certs) = (self.live.clone(), lock.clone(), self.certs.clone());
        tokio::spawn(async move {
            let _one_at_a_time = lock.lock().await;
            log::info!("SIGHUP: reloading {}", path.display());
            let _ = reload(&live, &path).await;
            // Rotated certificates are files that changed in place; the listeners stay.
            certs.reload_all();
        });
    }
}

#[async_trait]
impl ShutdownSignalWatch for EdgeSignals {
    async fn recv(&self) -> ShutdownSignal {
        let streams = (|| {
            Ok::<_, std::io::Error>((
                signal(SignalKind::hangup())?,
                signal(SignalKind::terminate())?,
                signal(SignalKind::quit())?,
                signal(SignalKind::interrupt())?,
            ))
        })();
        let (mut hup, mut term, mut quit, mut int) = match streams {
            Ok(s) => s,
            Err(e) => {
                // Without handlers the signals would kill the process mid-request: refuse to run.
                log::error!("cannot install signal handlers: {e}");
                return ShutdownSignal::FastShutdown;
            }
        };
        self.live.current().signals_armed.store(true, Ordering::Release);
        let reloads = Arc::new(tokio::sync::Mutex::new(()));
        loop {
            tokio::select! {
                _ = hup.recv() => self.spawn_reload(&reloads),
                _ = term.recv() => {
                    let edge = self.live.current();
                    // Before Pingora stops accepting, so the balancer hears "not ready" first.
                    edge.draining.store(true, Ordering::Release);
                    let delay = edge.config.drain_delay_seconds;
                    log::info!(
                        "SIGTERM: draining; /readyz answers 503, listeners close in {delay}s, in-flight requests get {}s",
                        edge.config.grace_period_seconds
                    );
                    tokio::time::sleep(Duration::from_secs(delay)).await;
                    return ShutdownSignal::GracefulTerminate;
                }
                _ = quit.recv() => {
                    log::info!("SIGQUIT: handing the listening sockets to the upgraded process");
                    return ShutdownSignal::GracefulUpgrade;
                }
                _ = int.recv() => return ShutdownSignal::FastShutdown,
            }
        }
    }
}

/// The longest a stopped listener's last connections wait for their first request: TLS
/// handshakes and requests still on the way when the listener stopped accepting.
const SETTLE_MAX: Duration = Duration::from_secs(2);

/// How long after the listeners stop accepting connections with no request yet are kept: half
/// the grace period, at most [`SETTLE_MAX`], so they are answered before the runtimes stop.
pub fn settle_time(grace_period_seconds: u64) -> Duration {
    (Duration::from_secs(grace_period_seconds) / 2).min(SETTLE_MAX)
}

/// The proxy app with a later `cleanup`. Pingora drops every connection still waiting for its
/// request the moment the listeners stop accepting (SIGTERM after the drain delay, SIGQUIT
/// after the handover): a client that had just connected, or whose TLS handshake was still
/// running, got its connection closed with no answer. This waits [`settle_time`] first, so
/// such a request is served (with `Connection: close`, as Pingora answers while shutting down)
/// and only then are the idle ones closed.
pub struct SettlingApp<A> {
    inner: Arc<A>,
    settle: Duration,
}

impl<A> SettlingApp<A> {
    pub fn new(inner: A, settle: Duration) -> SettlingApp<A> {
        SettlingApp { inner: Arc::new(inner), settle }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for SettlingApp<A> {
    async fn process_new(self: &Arc<Self>, session: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        self.inner.process_new(session, shutdown).await
    }

    async fn cleanup(&self) {
        if !self.settle.is_zero() {
            log::info!("listeners stopped; connections without a request yet get {:?} to send one", self.settle);
            tokio::time::sleep(self.settle).await;
        }
        self.inner.cleanup().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
listen: [{ addr: "127.0.0.1:8080" }]
store: { url: "memory://" }
channels:
  - { id: a, task_base_url: "https://ark.example", region: r, api_key: k }
"#;

    #[test]
    fn only_settings_built_once_are_reported_as_needing_a_restart() {
        let old = Config::from_yaml(BASE, &|_| None).unwrap();
        let more = format!("{BASE}tenants: [{{ id: beta, channels: [a] }}]\nlimits: {{ max_body_bytes: 1000 }}\n");
        assert!(restart_only_changes(&old, &Config::from_yaml(&more, &|_| None).unwrap()).is_empty());
        let moved = BASE.replace("8080", "8081") + "server: { grace_period_seconds: 3 }\n";
        let changed = restart_only_changes(&old, &Config::from_yaml(&moved, &|_| None).unwrap());
        assert_eq!(changed, ["listen", "server.grace_period_seconds"]);
    }
}
