//! The client: sends one [`UpstreamRequest`] to an [`Account`] — the API key on the task API, a
//! signature on the asset Actions — and accounts for it: `seedance_upstream_requests_total`,
//! `seedance_upstream_duration_seconds`, refusals of the channel, and the request's own
//! [`crate::scope`] (upstream time, status and id for the access log). Callers get the answer
//! or a [`CallError`]; nothing else about an exchange is theirs to record.

use super::request::JSON;
use super::resolve::UpstreamResolver;
use super::transport::{Outgoing, Transport};
use super::{Account, CallError, UpstreamRequest, UpstreamResponse, UpstreamRoute};
use crate::config::{DnsConf, UpstreamConf};
use crate::metrics::Metrics;
use prometheus::{HistogramVec, IntCounterVec};
use seedance_filters::redact::{channel_fault, ChannelFault};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How much of a refusing answer the operator's log shows.
const REFUSAL_LOG_BYTES: usize = 2048;

/// The metrics the client writes (handles into the process's registry).
struct Counters {
    requests: IntCounterVec,
    duration: HistogramVec,
    refusals: IntCounterVec,
}

/// One per process, shared by every configuration: a reload keeps the connection pool.
pub struct Client {
    transport: Transport,
    counters: Counters,
}

impl Client {
    /// Channel hosts are resolved through `dns` (the same nameservers the callback checks use).
    pub fn new(conf: &UpstreamConf, dns: &DnsConf, metrics: &Metrics) -> Client {
        Client {
            transport: Transport::new(conf, UpstreamResolver::new(&dns.nameservers, dns.timeout)),
            counters: Counters {
                requests: metrics.upstream_requests.clone(),
                duration: metrics.upstream_duration.clone(),
                refusals: metrics.channel_refusals.clone(),
            },
        }
    }

    /// Sends `req` to `account` and returns an answer the caller may use: any status below 500
    /// that does not refuse the channel. Everything else is a [`CallError`].
    pub async fn call(&self, account: &Account, req: &UpstreamRequest) -> Result<UpstreamResponse, CallError> {
        let out = self.outgoing(account, req)?;
        let result = self.transport.send(&out).await;
        crate::scope::note_upstream(
            &account.id,
            result.as_ref().ok().map(|r| r.status),
            result.as_ref().ok().and_then(|r| r.request_id.as_deref()),
        );
        let route = req.route;
        match result {
            Ok(r) => {
                crate::scope::add_upstream_time(r.elapsed);
                self.count(account, route, &r.status.to_string());
                self.counters
                    .duration
                    .with_label_values(&[account.id.as_str(), route.label()])
                    .observe(r.elapsed.as_secs_f64());
                self.judge(account, req, r)
            }
            Err(source) => {
                self.count(account, route, source.label());
                log::warn!("channel {} {}: {}", account.id, route.label(), with_causes(&source));
                Err(CallError::Transport { channel: account.id.clone(), source })
            }
        }
    }

    /// The request as it goes on the wire: authenticated for the task API or signed for the
    /// Actions, with the customer's request id (outside any signature: it is metadata) so one
    /// id finds the request in both the edge's and BytePlus's logs. Background work (reconciler,
    /// orphan scan) has none.
    fn outgoing<'a>(&self, account: &'a Account, req: &UpstreamRequest) -> Result<Outgoing<'a>, CallError> {
        let (endpoint, mut headers) = if req.route == UpstreamRoute::Action {
            let (endpoint, creds) =
                account.signing().ok_or_else(|| CallError::NoAssetLibrary { channel: account.id.clone() })?;
            let mut headers = vec![("Content-Type", req.content_type.to_string())];
            headers.extend(super::sign(req, endpoint, &creds, now()));
            (endpoint, headers)
        } else {
            let headers = vec![
                ("Authorization", account.bearer()),
                ("Content-Type", req.content_type.to_string()),
                ("Accept", JSON.to_string()),
            ];
            (&account.tasks, headers)
        };
        if let Some(id) = crate::scope::request_id() {
            headers.push(("X-Client-Request-Id", id));
        }
        Ok(Outgoing { endpoint, method: req.method, target: req.target(endpoint), headers, body: req.body.clone() })
    }

    /// 5xx and refusals of the channel are failures; every other answer is the caller's.
    fn judge(
        &self,
        account: &Account,
        req: &UpstreamRequest,
        r: UpstreamResponse,
    ) -> Result<UpstreamResponse, CallError> {
        if r.status >= 500 {
            log::warn!("channel {} answered {} to {} {}", account.id, r.status, req.method.as_str(), req.route.label());
            return Err(CallError::ServerError { channel: account.id.clone(), status: r.status });
        }
        if let Some(fault) = channel_fault(r.status, &r.body) {
            self.refused(account, req.route, fault, &r);
            return Err(CallError::ChannelRefused { channel: account.id.clone(), fault });
        }
        Ok(r)
    }

    /// The operator learns what the upstream said (credentials masked); the tenant gets the
    /// edge's own words (see [`CallError`]).
    fn refused(&self, account: &Account, route: UpstreamRoute, fault: ChannelFault, r: &UpstreamResponse) {
        self.counters.refusals.with_label_values(&[account.id.as_str(), fault.as_str()]).inc();
        log::error!(
            "channel {} refused ({}) on {}: upstream {} {}",
            account.id,
            fault.as_str(),
            route.label(),
            r.status,
            account.redact(&String::from_utf8_lossy(&r.body[..r.body.len().min(REFUSAL_LOG_BYTES)])),
        );
    }

    fn count(&self, account: &Account, route: UpstreamRoute, status: &str) {
        self.counters.requests.with_label_values(&[account.id.as_str(), route.label(), status]).inc();
    }
}

/// The signing time, read from the one clock of the crate (`X-Date` has whole seconds).
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(crate::clock::now_ms()).unwrap_or(0))
}

/// `e: cause: cause…`, for a log line that says what actually went wrong.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}
