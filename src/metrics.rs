//! Prometheus metrics, in a registry owned by the edge (not the global one), so two
//! edges in one test process keep separate counts and the admin listener exports exactly ours.
//!
//! Every label value comes from a closed set: a method the edge does not know is `other`, a
//! status it does not expect is its class (`5xx`), routes and codes are enums. Nothing a client
//! sends can create a series. The label sets alerts and `rate()` look at are created at zero
//! when the edge starts, so a quiet node reports `0` rather than no series at all.

use crate::store::metered::STORE_OPS;
use prometheus::{
    CounterVec, Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use seedance_filters::redact::ChannelFault;
use seedance_filters::task::TaskStatus;
use seedance_filters::{ErrorCode, PublicModel};

pub struct Metrics {
    registry: Registry,
    tenant_label: bool,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub requests_in_flight: IntGauge,
    pub upstream_requests: IntCounterVec,
    pub upstream_duration: HistogramVec,
    pub rejections: IntCounterVec,
    pub store_errors: IntCounterVec,
    pub store_duration: HistogramVec,
    pub channel_refusals: IntCounterVec,
    pub settlements_quarantined: IntCounterVec,
    pub orphan_tasks: IntCounterVec,
    /// Creates moved off a channel, by `from`, `to` (the next channel tried, or `none`) and
    /// [`FAILOVER_REASONS`].
    pub channel_failovers: IntCounterVec,
    /// Slots holding room on a capped channel, as the store last answered (admission, release,
    /// and every scrape).
    pub channel_active_tasks: IntGaugeVec,
    pub channel_circuit_open: IntGaugeVec,
    pub tenant_active_tasks: IntGaugeVec,
    /// `channels[].max_active_tasks` of capped channels, so alerts can divide by it.
    pub channel_max_active_tasks: IntGaugeVec,
    pub dns_failures: IntCounter,
    pub billable_tokens: IntCounterVec,
    pub billed_usd: CounterVec,
    pub tasks_settled: IntCounterVec,
    pub journal_pending: IntGauge,
    pub reconcile_lag: Gauge,
    pub settlements_deferred: IntCounterVec,
    pub reconcile_skipped: IntCounterVec,
    /// SIGHUP reloads, by `result` (`ok`, `error`: the file was refused and the old one serves).
    pub config_reloads: IntCounterVec,
    pub journal_corrupt_lines: IntCounter,
    pub build_info: IntGaugeVec,
    /// Read-cache lookups by `cache` ([`CACHES`]) and `result` ([`CACHE_RESULTS`]).
    pub cache_lookups: IntCounterVec,
    /// Cache invalidations applied, by `kind` ([`CACHE_INVALIDATIONS`]).
    pub cache_invalidations: IntCounterVec,
}

/// The in-process caches: task records (`store::cache`) and token → tenant (`auth`).
pub const CACHES: [&str; 2] = ["task", "auth"];
/// `bypass`: the invalidation link is down or unconfirmed, so the cache was not consulted.
pub const CACHE_RESULTS: [&str; 3] = ["hit", "miss", "bypass"];
/// What an invalidation covered (`everything`: a flush, or the link went down).
pub const CACHE_INVALIDATIONS: [&str; 4] = ["task", "token", "tenant", "everything"];

const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Redis answers in well under a millisecond on a good day; the top bucket sits above the
/// default 1 s operation deadline, so timeouts land in it.
const STORE_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The methods with a label of their own; anything else is `other`.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Route label and the one method that reaches its handler (see `routes::Route::of`).
pub const ROUTES: [(&str, &str); 5] = [
    ("create_task", "POST"),
    ("get_task", "GET"),
    ("list_tasks", "GET"),
    ("delete_task", "DELETE"),
    ("asset_action", "POST"),
];

/// Upstream exchange kinds (`ark::UpstreamRoute::label`).
pub const UPSTREAM_ROUTES: [&str; 5] = ["create", "get", "list", "delete", "action"];
/// Upstream outcomes with no HTTP answer (`ark::TransportError::label`).
pub const UPSTREAM_FAILURES: [&str; 3] = ["timeout", "connect_error", "io_error"];
/// Why a create left a channel: no room under `max_active_tasks`, the upstream answered 429, or
/// the channel could not be reached (nothing was sent).
pub const FAILOVER_REASONS: [&str; 4] = ["full", "rate_limited", "connect", "circuit_open"];

/// The method label: the method itself when it is a standard one, else `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS.iter().find(|m| **m == method).copied().unwrap_or("other")
}

/// The status label: the code itself for the statuses the edge writes or passes through
/// routinely, else its class (`4xx`), so an odd upstream status cannot multiply series and
/// `status=~"5.."` still matches it.
pub fn status_label(status: u16) -> &'static str {
    const KNOWN: [(u16, &str); 15] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (413, "413"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    if let Some((_, label)) = KNOWN.iter().find(|(code, _)| *code == status) {
        return label;
    }
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

/// The route label; a context the module never classified (the host answered it) is `unknown`.
pub fn route_label(route: &'static str) -> &'static str {
    if route.is_empty() {
        "unknown"
    } else {
        route
    }
}

/// Counts one request in flight for as long as it lives (kept in the request context, so a
/// request that ends by an error or a dropped connection is still subtracted).
pub struct InFlight(IntGauge);

impl InFlight {
    pub fn enter(gauge: &IntGauge) -> InFlight {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, prometheus::Error> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> Result<HistogramVec, prometheus::Error> {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

fn gauge(r: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    let g = IntGauge::new(name, help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

/// The commit the binary was built from (see `build.rs`).
pub fn commit() -> &'static str {
    option_env!("SEEDANCE_COMMIT").unwrap_or("unknown")
}

impl Metrics {
    /// The cache counters, for the store's coherence feed to count into.
    pub fn cache_counters(&self) -> crate::store::cache::coherence::CacheCounters {
        crate::store::cache::coherence::CacheCounters {
            lookups: self.cache_lookups.clone(),
            invalidations: self.cache_invalidations.clone(),
        }
    }

    /// `tenant_label = false` drops the tenant label (operators with very many tenants).
    pub fn new(tenant_label: bool) -> Result<Metrics, prometheus::Error> {
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        r.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        let billing_labels: &[&str] = if tenant_label { &["tenant", "model", "sku"] } else { &["model", "sku"] };
        let dns_failures = IntCounter::new(
            "seedance_dns_failures_total",
            "Callback/asset URL host resolutions that failed (resolver trouble, not customer error)",
        )?;
        r.register(Box::new(dns_failures.clone()))?;
        let billed_usd = CounterVec::new(
            Opts::new(
                "seedance_billed_usd_total",
                "USD billed for settled tasks (ledger is authoritative, in nano-USD)",
            ),
            billing_labels,
        )?;
        r.register(Box::new(billed_usd.clone()))?;
        let reconcile_lag = Gauge::new(
            "seedance_reconcile_lag_seconds",
            "Age of the oldest task whose status check is due (0 when none is due)",
        )?;
        r.register(Box::new(reconcile_lag.clone()))?;
        let settlements_deferred = counter(
            &r,
            "seedance_settlements_deferred_total",
            "Settlements of succeeded tasks that could not be made yet, by reason (the task stays pending)",
            &["reason"],
        )?;
        // Every reason is a series from the start, so an alert sees the first deferral as a change.
        for reason in crate::labels::DeferReason::ALL {
            settlements_deferred.with_label_values(&[reason.as_str()]);
        }
        let reconcile_skipped = counter(
            &r,
            "seedance_reconcile_skipped_total",
            "Tenants or tasks a reconciler pass skipped: their store slot failed, or their record is unreadable",
            &["reason"],
        )?;
        for reason in crate::labels::SKIP_REASONS {
            reconcile_skipped.with_label_values(&[reason]);
        }
        let config_reloads = counter(
            &r,
            "seedance_config_reloads_total",
            "Configuration reloads on SIGHUP, by result (error: the file was refused, the running configuration stays)",
            &["result"],
        )?;
        for result in ["ok", "error"] {
            config_reloads.with_label_values(&[result]);
        }
        let journal_corrupt_lines = IntCounter::new(
            "seedance_journal_corrupt_lines_total",
            "Unparsable ownership-journal lines moved aside to <journal>.corrupt",
        )?;
        r.register(Box::new(journal_corrupt_lines.clone()))?;
        let build_info = IntGaugeVec::new(
            Opts::new("seedance_build_info", "Always 1; the labels say which build is running"),
            &["version", "commit"],
        )?;
        r.register(Box::new(build_info.clone()))?;
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION"), commit()]).set(1);
        let m = Metrics {
            requests: counter(
                &r,
                "seedance_requests_total",
                "Customer requests by route, method and status",
                &["route", "method", "status"],
            )?,
            request_duration: histogram(
                &r,
                "seedance_request_duration_seconds",
                "Customer request latency",
                &["route"],
                LATENCY_BUCKETS,
            )?,
            requests_in_flight: gauge(
                &r,
                "seedance_requests_in_flight",
                "Customer requests the edge has started and not yet finished",
            )?,
            upstream_requests: counter(
                &r,
                "seedance_upstream_requests_total",
                "Requests sent to channels, by answer status (or error kind)",
                &["channel", "route", "status"],
            )?,
            upstream_duration: histogram(
                &r,
                "seedance_upstream_duration_seconds",
                "Upstream exchange latency",
                &["channel", "route"],
                LATENCY_BUCKETS,
            )?,
            rejections: counter(
                &r,
                "seedance_rejections_total",
                "Requests refused by the edge, by contract error code",
                &["code"],
            )?,
            store_errors: counter(
                &r,
                "seedance_store_errors_total",
                "Store operations that failed, by operation",
                &["op"],
            )?,
            store_duration: histogram(
                &r,
                "seedance_store_duration_seconds",
                "Store operation latency, failures included",
                &["op"],
                STORE_BUCKETS,
            )?,
            channel_refusals: counter(
                &r,
                "seedance_channel_refusals_total",
                "Upstream answers refusing a channel's own credentials, account or model activation (answered 503 channel_not_available)",
                &["channel", "reason"],
            )?,
            settlements_quarantined: counter(
                &r,
                "seedance_settlements_quarantined_total",
                "Succeeded tasks whose reported usage was negative, not an integer or over the token formula's bound: not billed, held for review",
                &["reason"],
            )?,
            orphan_tasks: counter(
                &r,
                "seedance_orphan_tasks_total",
                "Upstream tasks on a channel that no tenant owns (a crash mid-create, or the account used outside the edge)",
                &["channel"],
            )?,
            channel_failovers: counter(
                &r,
                "seedance_channel_failovers_total",
                "Creates that skipped a channel (full, upstream 429, unreachable) for the next eligible one; to=none when none was left",
                &["from", "to", "reason"],
            )?,
            tenant_active_tasks: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "seedance_tenant_active_tasks",
                        "A configured tenant's tasks queued or running, read at scrape (only with metrics.tenant_label)",
                    ),
                    &["tenant"],
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            channel_circuit_open: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "seedance_channel_circuit_open",
                        "1 while a channel is skipped for creates after repeated 429s or refused connections (per node)",
                    ),
                    &["channel"],
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            channel_active_tasks: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "seedance_channel_active_tasks",
                        "Tasks queued or running (and creates in flight) on a channel with max_active_tasks",
                    ),
                    &["channel"],
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            channel_max_active_tasks: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "seedance_channel_max_active_tasks",
                        "A channel's configured max_active_tasks (only capped channels have a series)",
                    ),
                    &["channel"],
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            billable_tokens: counter(
                &r,
                "seedance_billable_tokens_total",
                "Tokens billed for settled tasks",
                billing_labels,
            )?,
            tasks_settled: counter(
                &r,
                "seedance_tasks_settled_total",
                "Tasks that reached a terminal status, by public model",
                &["model", "status"],
            )?,
            journal_pending: gauge(
                &r,
                "seedance_journal_pending",
                "Ownership records written to the local journal and not yet replayed into the store",
            )?,
            dns_failures,
            billed_usd,
            reconcile_lag,
            settlements_deferred,
            reconcile_skipped,
            config_reloads,
            journal_corrupt_lines,
            build_info,
            cache_lookups: counter(
                &r,
                "seedance_cache_lookups_total",
                "Lookups in the in-process caches, by cache and result (bypass: the invalidation link was down or late)",
                &["cache", "result"],
            )?,
            cache_invalidations: counter(
                &r,
                "seedance_cache_invalidations_total",
                "Invalidations applied to the in-process caches (from Redis, or this node's own writes), by kind",
                &["kind"],
            )?,
            registry: r,
            tenant_label,
        };
        m.init_known_series();
        Ok(m)
    }

    /// Creates, at zero, every series whose label values are known before the first request.
    /// Billing series are left out: they multiply by tenant and appear with the first settlement.
    fn init_known_series(&self) {
        let mut statuses: Vec<&str> = vec!["200"];
        for code in ErrorCode::ALL {
            let s = status_label(code.status());
            if !statuses.contains(&s) {
                statuses.push(s);
            }
        }
        for (route, method) in ROUTES {
            self.request_duration.with_label_values(&[route]);
            for status in &statuses {
                self.requests.with_label_values(&[route, method, status]);
            }
        }
        self.request_duration.with_label_values(&["unknown"]);
        for code in ErrorCode::ALL {
            self.rejections.with_label_values(&[code.as_str()]);
        }
        for op in STORE_OPS {
            self.store_errors.with_label_values(&[op]);
            self.store_duration.with_label_values(&[op]);
        }
        for cache in CACHES {
            for result in CACHE_RESULTS {
                self.cache_lookups.with_label_values(&[cache, result]);
            }
        }
        for kind in CACHE_INVALIDATIONS {
            self.cache_invalidations.with_label_values(&[kind]);
        }
        for model in PublicModel::ALL {
            for status in TaskStatus::terminal() {
                self.tasks_settled.with_label_values(&[model.name(), status.as_str()]);
            }
        }
        for p in seedance_filters::tokens::UsageProblem::ALL {
            self.settlements_quarantined.with_label_values(&[p.as_str()]);
        }
    }

    /// Creates, at zero, the per-channel series: refusals by reason, and the upstream outcomes
    /// an error-rate alert divides by.
    pub fn init_channels<'a>(&self, channels: impl IntoIterator<Item = &'a str>) {
        for channel in channels {
            self.orphan_tasks.with_label_values(&[channel]);
            self.channel_active_tasks.with_label_values(&[channel]);
            self.channel_circuit_open.with_label_values(&[channel]);
            // `to` is open-ended over channel pairs; the exhausted case is the one alerts need.
            for reason in FAILOVER_REASONS {
                self.channel_failovers.with_label_values(&[channel, "none", reason]);
            }
            for fault in ChannelFault::ALL {
                self.channel_refusals.with_label_values(&[channel, fault.as_str()]);
            }
            for route in UPSTREAM_ROUTES {
                self.upstream_duration.with_label_values(&[channel, route]);
                for failure in UPSTREAM_FAILURES {
                    self.upstream_requests.with_label_values(&[channel, route, failure]);
                }
            }
        }
    }

    /// Publishes every capped channel's `max_active_tasks` (at start and on reload).
    pub fn set_channel_caps(&self, channels: &[crate::config::Channel]) {
        for c in channels {
            if let Some(max) = c.max_active_tasks {
                self.channel_max_active_tasks.with_label_values(&[c.id.as_str()]).set(i64::from(max));
            }
        }
    }

    /// Whether per-tenant series are exported (`metrics.tenant_label`).
    pub fn tenant_label(&self) -> bool {
        self.tenant_label
    }

    /// Label values for the billing series, honouring the tenant-label switch.
    pub fn billing_labels<'a>(&self, tenant: &'a str, model: &'a str, sku: &'a str) -> Vec<&'a str> {
        if self.tenant_label {
            vec![tenant, model, sku]
        } else {
            vec![model, sku]
        }
    }

    /// Every metric family name this edge exports (whether or not it has samples yet),
    /// `process_*` included where the platform has them.
    pub fn exported_names(&self) -> Vec<String> {
        use prometheus::core::Collector;
        let collectors: [&dyn Collector; 29] = [
            &self.requests,
            &self.request_duration,
            &self.requests_in_flight,
            &self.upstream_requests,
            &self.upstream_duration,
            &self.rejections,
            &self.store_errors,
            &self.channel_refusals,
            &self.settlements_quarantined,
            &self.orphan_tasks,
            &self.channel_failovers,
            &self.channel_circuit_open,
            &self.tenant_active_tasks,
            &self.channel_active_tasks,
            &self.channel_max_active_tasks,
            &self.store_duration,
            &self.dns_failures,
            &self.billable_tokens,
            &self.billed_usd,
            &self.tasks_settled,
            &self.journal_pending,
            &self.reconcile_lag,
            &self.settlements_deferred,
            &self.reconcile_skipped,
            &self.config_reloads,
            &self.journal_corrupt_lines,
            &self.build_info,
            &self.cache_lookups,
            &self.cache_invalidations,
        ];
        let mut names: Vec<String> = collectors.iter().flat_map(|c| c.desc()).map(|d| d.fq_name.clone()).collect();
        names.extend(self.registry.gather().iter().map(|f| f.name().to_string()).filter(|n| n.starts_with("process_")));
        names
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed families; an error leaves a partial page.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ark::UpstreamRoute;
    use crate::routes::Route;

    fn render(m: &Metrics) -> String {
        String::from_utf8(m.render()).unwrap()
    }

    #[test]
    fn the_tenant_label_can_be_dropped() {
        for with_tenant in [true, false] {
            let m = Metrics::new(with_tenant).unwrap();
            let labels = m.billing_labels("acme", "dreamina-seedance-2-0", "dreamina-seedance-2-0-720p-novideo");
            m.billable_tokens.with_label_values(&labels).inc_by(40_594);
            m.billed_usd.with_label_values(&labels).inc_by(0.2841);
            let page = render(&m);
            assert!(page.contains("seedance_billable_tokens_total{"), "{page}");
            assert_eq!(page.contains("tenant=\"acme\""), with_tenant, "{page}");
            assert!(page.contains("sku=\"dreamina-seedance-2-0-720p-novideo\""));
        }
    }

    #[test]
    fn every_contract_metric_is_exported() {
        let names = Metrics::new(true).unwrap().exported_names();
        for n in [
            "seedance_requests_total",
            "seedance_request_duration_seconds",
            "seedance_upstream_requests_total",
            "seedance_billable_tokens_total",
            "seedance_billed_usd_total",
            "seedance_tasks_settled_total",
            "seedance_rejections_total",
            "seedance_store_errors_total",
            "seedance_build_info",
            "seedance_requests_in_flight",
            "seedance_store_duration_seconds",
            "seedance_channel_refusals_total",
            "seedance_channel_failovers_total",
            "seedance_channel_active_tasks",
            "seedance_cache_lookups_total",
            "seedance_cache_invalidations_total",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
        #[cfg(target_os = "linux")]
        for n in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
    }

    #[test]
    fn methods_outside_the_standard_set_are_other() {
        for m in METHODS {
            assert_eq!(method_label(m), m);
        }
        for m in ["XQZ1", "get", "Get", "CONNECT", "TRACE", "X'Q|Z", "", "POST "] {
            assert_eq!(method_label(m), "other", "{m:?}");
        }
    }

    #[test]
    fn statuses_are_known_codes_or_classes() {
        // Every status the edge answers by itself keeps its own label.
        for code in ErrorCode::ALL {
            assert_eq!(status_label(code.status()), code.status().to_string(), "{code:?}");
        }
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(302), "3xx");
        assert_eq!(status_label(0), "other");
        assert_eq!(status_label(1000), "other");
        assert_eq!(status_label(u16::MAX), "other");
        let labels: std::collections::BTreeSet<&str> = (0..=u16::MAX).map(status_label).collect();
        assert!(labels.len() <= 21, "a closed, small set: {labels:?}");
        assert_eq!(route_label(""), "unknown");
        assert_eq!(route_label("get_task"), "get_task");
    }

    #[test]
    fn the_route_table_matches_the_router() {
        let paths = [
            crate::routes::TASKS_PATH.to_string(),
            format!("{}/cgt-1", crate::routes::TASKS_PATH),
            crate::routes::TASKS_PATH.to_string(),
            format!("{}/cgt-1", crate::routes::TASKS_PATH),
            "/volcark/".to_string(),
        ];
        for ((label, method), path) in ROUTES.iter().zip(paths) {
            assert_eq!(Route::of(method, &path).label(), *label, "{method} {path}");
        }
        let upstream = [
            UpstreamRoute::Create,
            UpstreamRoute::Get,
            UpstreamRoute::List,
            UpstreamRoute::Delete,
            UpstreamRoute::Action,
        ]
        .map(UpstreamRoute::label);
        assert_eq!(upstream, UPSTREAM_ROUTES);
    }

    #[test]
    fn known_series_start_at_zero() {
        let m = Metrics::new(true).unwrap();
        m.init_channels(["sg-main"]);
        let page = render(&m);
        for code in ErrorCode::ALL {
            let line = format!("seedance_rejections_total{{code=\"{}\"}} 0", code.as_str());
            assert!(page.contains(&line), "{line} missing");
        }
        for op in STORE_OPS {
            assert!(page.contains(&format!("seedance_store_errors_total{{op=\"{op}\"}} 0")), "{op}");
            assert!(page.contains(&format!("seedance_store_duration_seconds_count{{op=\"{op}\"}} 0")), "{op}");
        }
        for line in [
            r#"seedance_requests_total{method="POST",route="create_task",status="200"} 0"#,
            r#"seedance_requests_total{method="GET",route="get_task",status="503"} 0"#,
            r#"seedance_requests_total{method="DELETE",route="delete_task",status="404"} 0"#,
            r#"seedance_channel_refusals_total{channel="sg-main",reason="credentials"} 0"#,
            r#"seedance_upstream_requests_total{channel="sg-main",route="create",status="timeout"} 0"#,
            r#"seedance_tasks_settled_total{model="dreamina-seedance-2-0-fast",status="failed"} 0"#,
            "seedance_requests_in_flight 0",
        ] {
            assert!(page.contains(line), "{line} missing from\n{page}");
        }
        let build =
            format!("seedance_build_info{{commit=\"{}\",version=\"{}\"}} 1", commit(), env!("CARGO_PKG_VERSION"));
        assert!(page.contains(&build), "{build} missing");
    }

    #[test]
    fn in_flight_follows_the_guards() {
        let m = Metrics::new(true).unwrap();
        let a = InFlight::enter(&m.requests_in_flight);
        let b = InFlight::enter(&m.requests_in_flight);
        assert_eq!(m.requests_in_flight.get(), 2);
        drop(a);
        assert_eq!(m.requests_in_flight.get(), 1);
        drop(b);
        assert_eq!(m.requests_in_flight.get(), 0);
    }
}
