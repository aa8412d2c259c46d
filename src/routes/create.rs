//! POST /volcark/api/v3/contents/generations/tasks: validate and rewrite the body,
//! check every referenced asset and the callback host, pick the channel, create upstream, and
//! record ownership before the id is released to the customer.

use super::{parse_json, Reply, Request, UPSTREAM_TASKS_PATH};
use crate::ark::{Method, UpstreamRequest, UpstreamResponse, UpstreamRoute};
use crate::channel::Route as ChannelRoute;
use crate::clock::{now_ms, now_secs};
use crate::edge::Edge;
use crate::store::{AssetKind, Intent, TaskRecord, TenantRecord};
use bytes::Bytes;
use seedance_filters::callback::{judge_addresses, unresolvable, CheckedUrl, UrlHost};
use seedance_filters::task::{parse_create, rewrite_error_body, CreateTask, MediaUrl};
use seedance_filters::{ApiError, ErrorCode};

/// `Retry-After` when every eligible channel is full or rate limited: queued tasks take minutes
/// to finish, but an upstream 429 often clears within seconds.
const CHANNELS_BUSY_RETRY_SECS: u64 = 10;

/// The channels a create may go to, in the order they are tried.
struct Candidates {
    routes: Vec<ChannelRoute>,
    /// Bound to its assets' channel: no other channel can serve the request.
    pinned: bool,
}

/// Why a channel was skipped; labels of `seedance_channel_failovers_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SkipReason {
    Full {
        active: u64,
        max: u32,
    },
    RateLimited,
    Connect,
    /// The channel kept failing creates: skipped untried until its cool-down ends.
    CircuitOpen,
}

impl SkipReason {
    fn label(self) -> &'static str {
        match self {
            SkipReason::Full { .. } => "full",
            SkipReason::RateLimited => "rate_limited",
            SkipReason::Connect => "connect",
            SkipReason::CircuitOpen => "circuit_open",
        }
    }
}

/// The create in flight: who asks, what, and the admission it holds (its slot and intent id).
#[derive(Clone, Copy)]
struct Create<'a> {
    tenant: &'a TenantRecord,
    task: &'a CreateTask<'a>,
    intent: &'a Intent,
    /// The intent is already on this attempt's channel (written alongside the admission).
    intent_written: bool,
}

/// The channel the last attempt skipped, counted as a failover once the next one is known.
struct Skip {
    from: String,
    reason: SkipReason,
}

/// One channel's outcome: the create's answer, or a skip that certainly created nothing.
enum Attempt {
    Answered(Result<Reply, ApiError>),
    Skipped { reason: SkipReason, error: Option<ApiError> },
}

pub async fn handle(edge: &Edge, tenant: &TenantRecord, req: &Request) -> Result<Reply, ApiError> {
    let task = parse_create(&req.body)?;
    if let Some(cb) = &task.callback {
        check_public_host(edge, "callback_url", cb).await?;
    }
    check_media_hosts(edge, &task.content.media_urls).await?;
    let candidates = choose_channels(edge, tenant, &task).await?;
    // The admission slot is named like the intent: one id traces the create through both.
    let intent = Intent { tenant: tenant.id.clone(), id: format!("{:016x}", rand::random::<u64>()), at_ms: now_ms() };
    let written = admit_with_intent(edge, tenant, &task, &intent, candidates.routes.first()).await?;

    // Failover moves only creates that certainly created nothing (full, 429, never sent), so a
    // customer's request never becomes two upstream tasks.
    let mut skipped: Option<Skip> = None;
    let mut busy: Option<SkipReason> = None;
    let mut unreachable: Option<ApiError> = None;
    for (i, route) in candidates.routes.iter().enumerate() {
        if let Some(Skip { from, reason }) = skipped.take() {
            count_failover(edge, &from, &route.channel.conf.id, reason);
        }
        let intent_written = written && i == 0;
        let breaker = &route.channel.breaker;
        let outcome = if breaker.skip(std::time::Instant::now()) {
            if intent_written {
                forget_intent(edge, &route.channel.conf.id, &intent).await;
            }
            Attempt::Skipped { reason: SkipReason::CircuitOpen, error: None }
        } else {
            let create = Create { tenant, task: &task, intent: &intent, intent_written };
            let outcome = attempt(edge, create, route).await;
            track_circuit(edge, route, &outcome);
            outcome
        };
        match outcome {
            Attempt::Answered(answer) => return answer,
            Attempt::Skipped { reason, error } => {
                log::info!("tenant={} create skips channel {}: {}", tenant.id, route.channel.conf.id, reason.label());
                if matches!(reason, SkipReason::Connect | SkipReason::CircuitOpen) {
                    unreachable = error.or(unreachable);
                } else {
                    busy = Some(reason);
                }
                skipped = Some(Skip { from: route.channel.conf.id.clone(), reason });
            }
        }
    }
    if let Some(Skip { from, reason }) = skipped {
        count_failover(edge, &from, "none", reason);
    }
    crate::limits::release(edge, &tenant.id, &intent.id, now_ms()).await;
    Err(match (busy, unreachable) {
        (Some(reason), _) => channels_busy(&candidates, reason),
        // Every channel was unreachable: the same 502 a single channel gave before failover.
        (None, Some(e)) => e,
        (None, None) => crate::ark::upstream_failure("could not be reached"),
    })
}

/// The 429 when no eligible channel has room or accepts creates right now.
fn channels_busy(candidates: &Candidates, reason: SkipReason) -> ApiError {
    let message = match (candidates.pinned, reason) {
        (true, SkipReason::Full { active, max }) => format!(
            "the channel holding the referenced assets is full ({active} of {max} tasks queued or running); nothing was created, retry in {CHANNELS_BUSY_RETRY_SECS} s"
        ),
        (true, _) => format!(
            "the channel holding the referenced assets is rate limited upstream; nothing was created, retry in {CHANNELS_BUSY_RETRY_SECS} s"
        ),
        (false, _) => format!(
            "every channel serving this account is full or rate limited; nothing was created, retry in {CHANNELS_BUSY_RETRY_SECS} s"
        ),
    };
    ApiError::new(ErrorCode::RateLimitExceeded, message).retry_after(CHANNELS_BUSY_RETRY_SECS)
}

/// Feeds one attempt's outcome to the channel's circuit breaker: a 429 or a connection that was
/// never made counts against it, any answer closes it.
fn track_circuit(edge: &Edge, route: &ChannelRoute, outcome: &Attempt) {
    let channel = &route.channel;
    let changed = match outcome {
        Attempt::Skipped { reason: SkipReason::RateLimited | SkipReason::Connect, .. } => {
            channel.breaker.failure(std::time::Instant::now())
        }
        Attempt::Skipped { .. } => false,
        Attempt::Answered(_) => channel.breaker.success(),
    };
    if changed {
        let open = channel.breaker.is_open();
        edge.metrics.channel_circuit_open.with_label_values(&[channel.conf.id.as_str()]).set(i64::from(open));
        if open {
            log::warn!(
                "channel {}: creates keep failing; skipped for {:?} (circuit open)",
                channel.conf.id,
                crate::circuit::COOL_DOWN
            );
        } else {
            log::info!("channel {}: answering again (circuit closed)", channel.conf.id);
        }
    }
}

fn count_failover(edge: &Edge, from: &str, to: &str, reason: SkipReason) {
    edge.metrics.channel_failovers.with_label_values(&[from, to, reason.label()]).inc();
}

/// Creates the task on one channel: room, write-ahead intent, upstream call, ownership. Every
/// path that returns `Skipped` has given back the channel's room and intent; the tenant's slot
/// stays with the caller, which tries the next channel.
async fn attempt(edge: &Edge, create: Create<'_>, route: &ChannelRoute) -> Attempt {
    let Create { tenant, task, intent, intent_written } = create;
    let channel = &route.channel;
    let channel_id = channel.conf.id.clone();
    match crate::capacity::take(edge, channel, &intent.id, now_ms()).await {
        Ok(crate::capacity::Room::Taken) => {}
        Ok(crate::capacity::Room::Full { active, max }) => {
            if intent_written {
                forget_intent(edge, &channel_id, intent).await;
            }
            return Attempt::Skipped { reason: SkipReason::Full { active, max }, error: None };
        }
        Err(e) => {
            if intent_written {
                forget_intent(edge, &channel_id, intent).await;
            }
            crate::limits::release(edge, &tenant.id, &intent.id, now_ms()).await;
            return Attempt::Answered(Err(e));
        }
    }
    // Write-ahead, and fail closed: if the store cannot take the intent, create nothing upstream;
    // if the process dies after the upstream answers, the intent is what the orphan scan finds.
    if !intent_written {
        if let Err(e) = edge.store.put_intent(&channel_id, intent).await {
            crate::capacity::give_back(edge, channel, &intent.id).await;
            crate::limits::release(edge, &tenant.id, &intent.id, now_ms()).await;
            return Attempt::Answered(Err(e.into()));
        }
    }

    let body = Bytes::from(task.upstream_body(&route.official_model));
    let req = UpstreamRequest::task(UpstreamRoute::Create, Method::Post, UPSTREAM_TASKS_PATH).with_body(body);
    let sent = edge.ark.call(&channel.account, &req).await;
    // An answer other than 200 created nothing; so did a request that never left the edge. A 502
    // after sending (a timeout, a 5xx, a dropped answer) may have: it keeps its intent and slots.
    let created_nothing = match &sent {
        Ok(r) => r.status != 200,
        Err(e) => !e.may_have_acted(),
    };
    if created_nothing {
        forget_intent(edge, &channel_id, intent).await;
        crate::capacity::give_back(edge, channel, &intent.id).await;
    }
    // Only these two certainly created nothing *and* say another channel may do better.
    let skip = match &sent {
        Ok(r) if r.status == 429 => Some(Attempt::Skipped { reason: SkipReason::RateLimited, error: None }),
        Err(e) if e.unsent() => Some(Attempt::Skipped { reason: SkipReason::Connect, error: Some(ApiError::from(e)) }),
        _ => None,
    };
    if let Some(skipped) = skip {
        return skipped;
    }
    if created_nothing {
        crate::limits::release(edge, &tenant.id, &intent.id, now_ms()).await;
    }
    Attempt::Answered(finish(edge, create, route, sent.map_err(ApiError::from)).await)
}

/// Turns the channel's answer into the customer's, recording ownership of a created task.
async fn finish(
    edge: &Edge,
    create: Create<'_>,
    route: &ChannelRoute,
    sent: Result<UpstreamResponse, ApiError>,
) -> Result<Reply, ApiError> {
    let Create { tenant, task, intent, .. } = create;
    let channel_id = route.channel.conf.id.clone();
    let resp = sent?;
    if resp.status != 200 {
        let body = rewrite_error_body(&resp.body, Some(&route.official_model), Some(task.model.name()))
            .map(Bytes::from)
            .unwrap_or(resp.body);
        return Ok(Reply::raw(resp.status, body).with_request_id(resp.request_id));
    }
    let created = parse_json(&resp.body)?;
    let id = created
        .get("id")
        .and_then(|v| v.as_str())
        .filter(|id| seedance_filters::task::is_plausible_task_id(id))
        .ok_or_else(|| crate::ark::upstream_failure("answered without a task id"))?
        .to_string();

    let record = TaskRecord {
        id: id.clone(),
        channel: channel_id.clone(),
        public_model: task.model.name().to_string(),
        official_model: route.official_model.clone(),
        has_video: task.content.has_video,
        requested_resolution: task.resolution.clone(),
        created_at: now_secs(),
        status: "queued".into(),
        hidden: false,
        execution_expires_after: task.execution_expires_after,
        upstream_request: Some(task.audit_snapshot(&route.official_model).to_string()),
        settlement: None,
        quarantine: None,
        // Ends the tenant's slot and the channel's room when the store records the task's end.
        slot: Some(intent.id.clone()),
        prepaid: tenant.limits.prepaid,
    };
    crate::scope::note_task(&id);
    // The record (tenant's slot) and the claim (channel's slot) are independent writes: both go
    // in one round trip, and the id is released only once both have answered. A claim that
    // fails (counted and logged by the store) leaves the orphan scan to read the tenant's
    // records. A record that fails past the journal too must not leave the claim behind, or the
    // orphan scan would take the unrecorded task for owned.
    let (stored, claimed) = edge.store.record_and_claim(&tenant.id, &record, &channel_id, intent).await;
    if let Err(e) = journal_unless_stored(edge, &tenant.id, &record, stored).await {
        if claimed.is_ok() {
            if let Err(ue) = edge.store.unclaim(&channel_id, &id, intent).await {
                log::error!(
                    "tenant={} task {id} unrecorded but its claim on channel {channel_id} stays ({ue}): the orphan scan will not report it",
                    tenant.id
                );
            }
        }
        return Err(e);
    }
    log::info!("tenant={} created task {} on channel {}", tenant.id, id, record.channel);
    // The create answer is passed through as the upstream gave it (`{"id":"cgt-…"}`).
    Ok(Reply::raw(200, resp.body).with_request_id(resp.request_id))
}

/// The task's channels: the one holding its assets, or the tenant's eligible ones that map the
/// model, in preference order.
async fn choose_channels(edge: &Edge, tenant: &TenantRecord, task: &CreateTask<'_>) -> Result<Candidates, ApiError> {
    let mut bound: Option<String> = None;
    for id in &task.content.asset_ids {
        let asset = edge.store.asset(&tenant.id, id).await?;
        let asset = asset.filter(|a| a.kind == AssetKind::Asset).ok_or_else(|| {
            ApiError::with_param(
                ErrorCode::AssetNotFound,
                "content",
                format!("asset {id} does not exist in this account"),
            )
        })?;
        match &bound {
            Some(ch) if *ch != asset.channel => {
                return Err(ApiError::invalid(
                    "content",
                    "the referenced assets belong to different resource domains; use assets from one asset library per task",
                ))
            }
            _ => bound = Some(asset.channel),
        }
    }
    Ok(match bound {
        // An asset lives in one account's library: no other channel can use it.
        Some(channel) => Candidates { routes: vec![edge.channels.pinned(tenant, task.model, &channel)?], pinned: true },
        None => Candidates { routes: edge.channels.eligible(tenant, task.model)?, pinned: false },
    })
}

/// Every A/AAAA record of a URL's host must be public (IP literals were judged by the filter).
pub async fn check_public_host(edge: &Edge, field: &str, url: &CheckedUrl) -> Result<(), ApiError> {
    let UrlHost::Domain(fqdn) = &url.host else { return Ok(()) };
    match edge.dns.a_and_aaaa(fqdn).await {
        Ok(addrs) => judge_addresses(field, fqdn, &addrs),
        Err(e) => {
            edge.metrics.dns_failures.inc();
            Err(unresolvable(field, fqdn, &e.0))
        }
    }
}

/// Media URLs in `content` are fetched by the upstream like asset URLs: every host must be
/// public. Each distinct host is resolved once.
async fn check_media_hosts(edge: &Edge, urls: &[MediaUrl]) -> Result<(), ApiError> {
    let mut seen: Vec<&UrlHost> = Vec::new();
    for m in urls {
        if seen.contains(&&m.url.host) {
            continue;
        }
        seen.push(&m.url.host);
        check_public_host(edge, &m.param, &m.url).await?;
    }
    Ok(())
}

/// Takes the create's admission slot and, alongside it, writes the write-ahead intent on the
/// first channel to be tried: two independent writes (the tenant's slot and the channel's) in
/// one round trip. Either failing undoes the other, so a refused create leaves nothing behind
/// but, at worst, a stale intent. Returns whether the intent was written.
async fn admit_with_intent(
    edge: &Edge,
    tenant: &TenantRecord,
    task: &CreateTask<'_>,
    intent: &Intent,
    first: Option<&ChannelRoute>,
) -> Result<bool, ApiError> {
    let admission = crate::limits::admission(edge, tenant, task, &intent.id, intent.at_ms)?;
    let Some(route) = first else {
        let decision = edge.store.admit(&tenant.id, &admission).await?;
        return crate::limits::judge(tenant, &admission, decision).map(|()| false);
    };
    let channel = route.channel.conf.id.as_str();
    let (decided, written) = edge.store.admit_with_intent(&tenant.id, &admission, channel, intent).await;
    let admitted = decided.map_err(ApiError::from).and_then(|d| crate::limits::judge(tenant, &admission, d));
    match (admitted, written) {
        (Ok(()), Ok(())) => Ok(true),
        (Ok(()), Err(e)) => {
            crate::limits::release(edge, &tenant.id, &intent.id, now_ms()).await;
            Err(e.into())
        }
        (Err(e), written) => {
            if written.is_ok() {
                forget_intent(edge, channel, intent).await;
            }
            Err(e)
        }
    }
}

/// The create made nothing on `channel`: its intent goes. A failure is counted and logged by
/// the store; a stale intent only costs the orphan scan a look.
async fn forget_intent(edge: &Edge, channel: &str, intent: &Intent) {
    let _ = edge.store.drop_intent(channel, intent).await;
}

/// Ownership is written before the response is released; the journal catches a store failure.
async fn journal_unless_stored(
    edge: &Edge,
    tenant: &str,
    record: &TaskRecord,
    stored: Result<(), crate::store::StoreError>,
) -> Result<(), ApiError> {
    let Err(e) = stored else { return Ok(()) };
    let Some(journal) = &edge.journal else {
        log::error!("tenant={tenant} task {} created upstream but not recorded: {e}", record.id);
        return Err(ApiError::new(ErrorCode::StoreUnavailable, "the ownership store is unavailable; retry later"));
    };
    match journal.append(tenant, record).await {
        Ok(()) => {
            edge.metrics.journal_pending.set(journal.pending());
            log::warn!("tenant={tenant} task {} journaled: store unavailable", record.id);
            Ok(())
        }
        Err(je) => {
            log::error!(
                "tenant={tenant} task {} created upstream but neither stored ({e}) nor journaled ({je})",
                record.id
            );
            Err(ApiError::new(ErrorCode::StoreUnavailable, "the ownership store is unavailable; retry later"))
        }
    }
}
