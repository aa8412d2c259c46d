//! Prometheus metrics (SPEC §7), in a registry owned by the edge (not the global one), so two
//! edges in one test process keep separate counts and the admin listener exports exactly ours.

use prometheus::{
    CounterVec, Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    tenant_label: bool,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_requests: IntCounterVec,
    pub upstream_duration: HistogramVec,
    pub rejections: IntCounterVec,
    pub store_errors: IntCounterVec,
    pub channel_refusals: IntCounterVec,
    pub settlements_quarantined: IntCounterVec,
    pub orphan_tasks: IntCounterVec,
    pub dns_failures: IntCounter,
    pub billable_tokens: IntCounterVec,
    pub billed_usd: CounterVec,
    pub tasks_settled: IntCounterVec,
    pub journal_pending: IntGauge,
    pub reconcile_lag: Gauge,
    pub settlements_deferred: IntCounterVec,
    pub reconcile_skipped: IntCounterVec,
    pub journal_corrupt_lines: IntCounter,
}

const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, prometheus::Error> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> Result<HistogramVec, prometheus::Error> {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()), labels)?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

impl Metrics {
    /// `tenant_label = false` drops the tenant label (operators with very many tenants).
    pub fn new(tenant_label: bool) -> Result<Metrics, prometheus::Error> {
        let r = Registry::new();
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
        let journal_pending = IntGauge::new(
            "seedance_journal_pending",
            "Ownership records written to the local journal and not yet replayed into the store",
        )?;
        r.register(Box::new(journal_pending.clone()))?;
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
        for reason in crate::billing::DeferReason::ALL {
            settlements_deferred.with_label_values(&[reason.as_str()]);
        }
        let reconcile_skipped = counter(
            &r,
            "seedance_reconcile_skipped_total",
            "Tenants or tasks a reconciler pass skipped: their store slot failed, or their record is unreadable",
            &["reason"],
        )?;
        for reason in crate::billing::reconcile::SKIP_REASONS {
            reconcile_skipped.with_label_values(&[reason]);
        }
        let journal_corrupt_lines = IntCounter::new(
            "seedance_journal_corrupt_lines_total",
            "Unparsable ownership-journal lines moved aside to <journal>.corrupt",
        )?;
        r.register(Box::new(journal_corrupt_lines.clone()))?;
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
            dns_failures,
            billed_usd,
            journal_pending,
            reconcile_lag,
            settlements_deferred,
            reconcile_skipped,
            journal_corrupt_lines,
            registry: r,
            tenant_label,
        };
        // Known label values start at 0, so `rate()` and alerts see a zero, not a missing series.
        for p in seedance_filters::tokens::UsageProblem::ALL {
            m.settlements_quarantined.with_label_values(&[p.as_str()]);
        }
        Ok(m)
    }

    /// Label values for the billing series, honouring the tenant-label switch.
    pub fn billing_labels<'a>(&self, tenant: &'a str, model: &'a str, sku: &'a str) -> Vec<&'a str> {
        if self.tenant_label {
            vec![tenant, model, sku]
        } else {
            vec![model, sku]
        }
    }

    /// Every metric family name this edge exports (whether or not it has samples yet).
    pub fn exported_names(&self) -> Vec<String> {
        use prometheus::core::Collector;
        let collectors: [&dyn Collector; 18] = [
            &self.requests,
            &self.request_duration,
            &self.upstream_requests,
            &self.upstream_duration,
            &self.rejections,
            &self.store_errors,
            &self.channel_refusals,
            &self.settlements_quarantined,
            &self.orphan_tasks,
            &self.dns_failures,
            &self.billable_tokens,
            &self.billed_usd,
            &self.tasks_settled,
            &self.journal_pending,
            &self.reconcile_lag,
            &self.settlements_deferred,
            &self.reconcile_skipped,
            &self.journal_corrupt_lines,
        ];
        collectors.iter().flat_map(|c| c.desc()).map(|d| d.fq_name.clone()).collect()
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
    use super::Metrics;

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
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
    }
}
