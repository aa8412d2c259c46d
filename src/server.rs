//! Assembly: from a validated [`Config`] to a running Pingora [`Server`] — the proxy service on
//! every configured listener (plaintext or TLS), the admin service, and the reconciler — all
//! reading the current configuration from one `LiveEdge`, which SIGHUP replaces.

use crate::admin::AdminApp;
use crate::auth::Authenticator;
use crate::billing::reconcile::LiveReconciler;
use crate::channel::Channels;
use crate::config::{Config, StoreConf};
use crate::dns::{AddrSource, HickorySource};
use crate::edge::{Edge, LiveEdge};
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::proxy::{EdgeProxy, SeedanceModule};
use crate::store::cache::CachedStore;
use crate::store::memory::MemoryStore;
use crate::store::metered::MeteredStore;
use crate::store::redis::{RedisOptions, RedisStore};
use crate::store::Store;
use pingora_core::apps::http_app::HttpServer;
use pingora_core::apps::HttpServerApp;
use pingora_core::listeners::tls::TlsSettings;
use pingora_core::server::configuration::{Opt, ServerConf};
use pingora_core::server::{RunArgs, Server};
use pingora_core::services::background::background_service;
use pingora_core::services::listening::Service;
use pingora_core::services::ServiceWithDependents;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Why the edge cannot start: each names the setting (or file) to fix. The message of each is
/// the one the operator sees; the cause stays attached.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("--conf FILE is required")]
    NoConfigFile,
    /// The store client's own words, which never echo the URL (it may hold a password).
    #[error("store.url: {0}")]
    StoreUrl(String),
    #[error(transparent)]
    Channel(#[from] crate::ark::EndpointError),
    #[error(transparent)]
    Resolver(#[from] crate::dns::ResolverError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("store.journal {}: {source}", path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listen {addr}: TLS certificate/key: {source}")]
    ListenerCert {
        addr: String,
        #[source]
        source: crate::tls_certs::CertError,
    },
    #[error("listen {addr}: TLS settings: {source}")]
    TlsSettings {
        addr: String,
        #[source]
        source: Box<pingora_core::Error>,
    },
    #[error(transparent)]
    AdminToken(#[from] crate::admin::TokenFileError),
    #[error("runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The demo's in-process simulator could not start.
    #[error("fake-ark: {0}")]
    Simulator(#[source] std::io::Error),
}

/// Opens the configured store without touching the network (Redis connects lazily, so the
/// edge starts and answers 503 `store_unavailable` while Redis is down).
pub fn open_store(conf: &StoreConf) -> Result<Arc<dyn Store>, StartupError> {
    if conf.url.starts_with("memory://") {
        return Ok(Arc::new(MemoryStore::with_retention(conf.retention)));
    }
    let opts = RedisOptions {
        op_timeout: conf.op_timeout,
        retention: conf.retention,
        ca_file: conf.ca_file.clone(),
        ..RedisOptions::default()
    };
    let store = RedisStore::connect(&conf.url, &conf.prefix, opts).map_err(StartupError::StoreUrl)?;
    Ok(CachedStore::wrap(store, conf.cache))
}

/// A random id for this process (settlement ids, reconcile leases).
fn node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Builds the module's state; `dns` overrides the configured resolver (tests, the demo). Every
/// store operation is timed, and every failure counted, from here on.
pub fn build_edge(
    config: Config,
    store: Arc<dyn Store>,
    dns: Option<Arc<dyn AddrSource>>,
) -> Result<Arc<Edge>, StartupError> {
    let channels = Channels::from_config(&config.channels)?;
    let dns = match dns {
        Some(d) => d,
        None => Arc::new(HickorySource::new(&config.dns.nameservers, config.dns.timeout)?),
    };
    let metrics = Arc::new(Metrics::new(config.metrics_tenant_label)?);
    metrics.init_channels(config.channels.iter().map(|c| c.id.as_str()));
    metrics.set_channel_caps(&config.channels);
    if let Some(c) = store.coherence() {
        c.attach_counters(metrics.cache_counters());
    }
    let store: Arc<dyn Store> =
        Arc::new(MeteredStore::new(store, metrics.store_duration.clone(), metrics.store_errors.clone()));
    let journal = match &config.store.journal {
        Some(p) => Some(
            Journal::open(p, metrics.journal_corrupt_lines.clone())
                .map_err(|source| StartupError::Journal { path: p.clone(), source })?,
        ),
        None => None,
    };
    if let Some(j) = &journal {
        metrics.journal_pending.set(j.pending());
    }
    Ok(Arc::new(Edge {
        auth: Arc::new(Authenticator::new(store.clone(), config.auth_cache_ttl)),
        ark: Arc::new(crate::ark::Client::new(&config.upstream, &config.dns, &metrics)),
        channels,
        dns,
        metrics,
        journal: journal.map(Arc::new),
        store,
        node_id: node_id(),
        started: Arc::default(),
        // Processes that are not run by `run` (tests, embedding hosts) have no signal handlers
        // of ours to wait for.
        draining: Arc::default(),
        signals_armed: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        tenants_stale: Arc::default(),
        body_budget: crate::budget::BodyBudget::new(config.limits.max_inflight_body_bytes),
        config: Arc::new(config),
    }))
}

fn server_conf(config: &Config) -> ServerConf {
    ServerConf {
        threads: config.threads,
        grace_period_seconds: Some(config.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(5),
        upgrade_sock: config.upgrade_sock.to_string_lossy().into_owned(),
        ..ServerConf::default()
    }
}

/// How `run` starts the process.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// The file SIGHUP reloads (`None`: SIGHUP is logged and ignored).
    pub conf_path: Option<PathBuf>,
    /// Take the listening sockets over from a running process (it hands them over on SIGQUIT,
    /// through `server.upgrade_sock`) instead of binding them.
    pub upgrade: bool,
}

/// Serves until SIGTERM, SIGQUIT or SIGINT; SIGHUP reloads `opts.conf_path` (see
/// `crate::lifecycle`).
pub fn run(edge: Arc<Edge>, opts: RunOptions) -> Result<(), StartupError> {
    // `/readyz` waits for the handlers, so a probe-driven SIGHUP never meets the default action.
    edge.signals_armed.store(false, Ordering::Release);
    let live = LiveEdge::new(edge);
    let (server, certs) = assemble(live.clone(), opts.upgrade)?;
    let signals = crate::lifecycle::EdgeSignals { live, conf_path: opts.conf_path, certs };
    server.run(RunArgs { shutdown_signal: Box::new(signals) });
    Ok(())
}

/// The whole server: proxy listeners, admin, reconciler, with Pingora's own signal handling
/// (no reload). [`run`] is the binary's way in.
pub fn build_server(edge: Arc<Edge>) -> Result<Server, StartupError> {
    assemble(LiveEdge::new(edge), false).map(|(server, _)| server)
}

/// The server and the TLS listeners' certificates (which SIGHUP reloads).
fn assemble(live: Arc<LiveEdge>, upgrade: bool) -> Result<(Server, Arc<crate::tls_certs::Certificates>), StartupError> {
    let edge = live.current();
    let config = edge.config.clone();
    let opt = Opt { upgrade, ..Opt::default() };
    let mut server = Server::new_with_opt_and_conf(Some(opt), server_conf(&config));
    // With `upgrade`, this waits for the old process's sockets (it sends them on SIGQUIT).
    server.bootstrap();

    let module = SeedanceModule::with_live(live);
    let app = pingora_proxy::http_proxy(&server.configuration, EdgeProxy { module: module.clone() });
    let settle = crate::lifecycle::settle_time(config.grace_period_seconds);
    let mut proxy = Service::new("seedance-edge".to_string(), crate::lifecycle::SettlingApp::new(app, settle));
    let certs = Arc::new(crate::tls_certs::Certificates::default());
    for l in &config.listen {
        match &l.tls {
            None => proxy.add_tcp(&l.addr),
            Some(tls) => {
                // The certificate is presented per handshake from a reloadable holder (SIGHUP).
                let cert = crate::tls_certs::ListenerCert::load(&tls.cert, &tls.key)
                    .map_err(|source| StartupError::ListenerCert { addr: l.addr.clone(), source })?;
                let mut settings = TlsSettings::with_callbacks(cert.acceptor())
                    .map_err(|source| StartupError::TlsSettings { addr: l.addr.clone(), source })?;
                settings.enable_h2();
                proxy.add_tls_with_settings(&l.addr, None, settings);
                certs.register(cert);
            }
        }
    }
    server.add_service(proxy);
    server.add_services(services(&module)?);
    Ok((server, certs))
}

/// The Pingora services the module needs beside the host's proxy: the reconciler (a background
/// service that loads the configured tenants into the store, replays the ownership journal,
/// settles tasks nobody polls and runs the orphan scan) and, when the configuration has an
/// `admin` section, the admin listener (`/metrics`, `/healthz`, `/readyz`).
///
/// Call once per process, for the module the host's proxy serves, before
/// `Server::run_forever`, and add every service returned (`Server::add_services`). They follow
/// the module's [`reload`](SeedanceModule::reload)s. Without the reconciler the configured tenants
/// never reach the store (their tokens are refused) and a task nobody polls is never billed. Fails when the admin
/// token file cannot be read.
pub fn services(module: &SeedanceModule) -> Result<Vec<Box<dyn ServiceWithDependents>>, StartupError> {
    let live = module.live();
    let config = live.current().config.clone();
    let mut out: Vec<Box<dyn ServiceWithDependents>> = Vec::new();
    if let Some(conf) = &config.admin {
        let token = conf.bearer_token_file.as_deref().map(crate::admin::read_token_file).transpose()?;
        let mut admin =
            Service::new("seedance-admin".to_string(), HttpServer::new_app(AdminApp::new(live.clone(), token)));
        admin.add_tcp(&conf.addr);
        out.push(Box::new(admin));
    }
    out.push(Box::new(background_service("seedance-reconciler", LiveReconciler { live })));
    Ok(out)
}

/// The in-process variant used by tests and benches: the same module behind a Pingora proxy
/// fed by a plain tokio listener (no signals, no global state, port chosen by the OS).
pub fn http_app(edge: Arc<Edge>) -> Arc<impl HttpServerApp + Send + Sync + 'static> {
    let conf = Arc::new(ServerConf::default());
    Arc::new(pingora_proxy::http_proxy(&conf, EdgeProxy { module: SeedanceModule::new(edge) }))
}

/// Serves the module on `listener` inside the current tokio runtime until the returned sender
/// is dropped or set to `true`. Used by the integration tests and the load bench.
pub fn serve_in_process(edge: Arc<Edge>, listener: tokio::net::TcpListener) -> tokio::sync::watch::Sender<bool> {
    serve_app(http_app(edge), listener)
}

/// Feeds connections from `listener` to a Pingora app in the current runtime (TCP_NODELAY set,
/// as Pingora's own listeners do), until the returned sender is dropped or set to `true`.
pub fn serve_app<A>(app: Arc<A>, listener: tokio::net::TcpListener) -> tokio::sync::watch::Sender<bool>
where
    A: pingora_core::apps::ServerApp + Send + Sync + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut stop = stop_rx.clone();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.changed() => break,
            };
            let Ok((tcp, _)) = accepted else { continue };
            let _ = tcp.set_nodelay(true);
            let (app, rx) = (app.clone(), stop_rx.clone());
            tokio::spawn(async move {
                let mut io: pingora_core::protocols::Stream =
                    Box::new(pingora_core::protocols::l4::stream::Stream::from(tcp));
                while let Some(next) = app.process_new(io, &rx).await {
                    io = next;
                }
            });
        }
    });
    stop_tx
}
