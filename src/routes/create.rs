//! POST /volcark/api/v3/contents/generations/tasks (SPEC §4.2): validate and rewrite the body,
//! check every referenced asset and the callback host, pick the channel, create upstream, and
//! record ownership before the id is released to the customer.

use super::{parse_json, Reply, Request, UPSTREAM_TASKS_PATH};
use crate::channel::Route as ChannelRoute;
use crate::clock::{now_ms, now_secs};
use crate::edge::{Edge, UpstreamRoute};
use crate::store::{AssetKind, Intent, TaskRecord, TenantRecord};
use bytes::Bytes;
use seedance_filters::callback::{judge_addresses, unresolvable, CheckedUrl, UrlHost};
use seedance_filters::task::{parse_create, rewrite_error_body, CreateTask, MediaUrl};
use seedance_filters::{ApiError, ErrorCode};

pub async fn handle(edge: &Edge, tenant: &TenantRecord, req: &Request) -> Result<Reply, ApiError> {
    let task = parse_create(&req.body)?;
    if let Some(cb) = &task.callback {
        check_public_host(edge, "callback_url", cb).await?;
    }
    check_media_hosts(edge, &task.content.media_urls).await?;
    let route = choose_channel(edge, tenant, &task).await?;
    // The admission slot is named like the intent: one id traces the create through both.
    let intent = Intent { tenant: tenant.id.clone(), id: format!("{:016x}", rand::random::<u64>()), at_ms: now_ms() };
    crate::limits::admit(edge, tenant, &task, &intent.id, intent.at_ms).await?;
    // Write-ahead, and fail closed: if the store cannot take the intent, create nothing upstream;
    // if the process dies after the upstream answers, the intent is what the orphan scan finds.
    let channel_id = route.channel.conf.id.clone();
    if let Err(e) = edge.store.put_intent(&channel_id, &intent).await {
        crate::limits::release(edge, &tenant.id, &intent.id, now_ms()).await;
        return Err(edge.store_failed(&e));
    }

    let body = Bytes::from(task.upstream_body(&route.official_model));
    let sent =
        edge.task_call_checked(&route.channel, UpstreamRoute::Create, "POST", UPSTREAM_TASKS_PATH, Some(body)).await;
    // An answer other than 200 created nothing; so did a request that never left the edge. A 502
    // after sending (a timeout, a 5xx, a dropped answer) may have: it keeps its intent and slot.
    let created_nothing = match &sent {
        Ok(r) => r.status != 200,
        Err(f) => f.unsent || f.error.code != ErrorCode::UpstreamError,
    };
    if created_nothing {
        if let Err(e) = edge.store.drop_intent(&channel_id, &intent).await {
            edge.store_failed(&e);
        }
        crate::limits::release(edge, &tenant.id, &intent.id, now_ms()).await;
    }
    let resp = sent.map_err(|f| f.error)?;
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
        .ok_or_else(|| crate::edge::upstream_failure("answered without a task id"))?
        .to_string();

    let record = TaskRecord {
        id: id.clone(),
        channel: route.channel.conf.id.clone(),
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
        slot: Some(intent.id.clone()),
        prepaid: tenant.limits.prepaid,
    };
    crate::scope::note_task(&id);
    record_ownership(edge, &tenant.id, &record).await?;
    if let Err(e) = edge.store.claim(&channel_id, &id, &intent).await {
        // Ownership is recorded (or journaled); the scan falls back to the tenant's records.
        edge.store_failed(&e);
    }
    log::info!("tenant={} created task {} on channel {}", tenant.id, id, record.channel);
    // The create answer is passed through as the upstream gave it (`{"id":"cgt-…"}`).
    Ok(Reply::raw(200, resp.body).with_request_id(resp.request_id))
}

/// The task's channel: the one holding its assets, or the tenant's first that maps the model.
async fn choose_channel(edge: &Edge, tenant: &TenantRecord, task: &CreateTask<'_>) -> Result<ChannelRoute, ApiError> {
    let mut bound: Option<String> = None;
    for id in &task.content.asset_ids {
        let asset = edge.store.asset(&tenant.id, id).await.map_err(|e| edge.store_failed(&e))?;
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
    match bound {
        Some(channel) => edge.channels.pinned(tenant, task.model, &channel),
        None => edge.channels.pick(tenant, task.model),
    }
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

/// Writes ownership before the response is released; the journal catches a store failure.
async fn record_ownership(edge: &Edge, tenant: &str, record: &TaskRecord) -> Result<(), ApiError> {
    let Err(e) = edge.store.put_task(tenant, record).await else { return Ok(()) };
    edge.store_failed(&e);
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
