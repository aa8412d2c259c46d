//! The orphan scan: upstream tasks on a channel that no tenant owns. A task the upstream created
//! but the edge never recorded (the process died between the upstream's answer and the
//! ownership write, or the account was used outside the edge) runs and costs money and would
//! never be billed. Each scan lists the channel's recent tasks (the account-wide list, used here
//! and never shown to a tenant), looks every task up in the channel's owner index (falling back
//! to the tenants' own records for tasks created before the index or while Redis was down), and
//! records each unknown one once: `seedance_orphan_tasks_total{channel}`, an alert, and
//! `seedance-edge orphans`. A create intent close in time names the probable tenant.

use crate::ark::{Method, UpstreamRequest, UpstreamRoute, UPSTREAM_TASKS_PATH};
use crate::channel::ChannelRuntime;
use crate::clock::now_ms;
use crate::edge::Edge;
use crate::store::{Intent, Orphan, StoreError};
use serde_json::Value;

/// Which tasks a scan judges, by age.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Tasks younger than this may still be between the upstream's answer and their claim.
    pub grace_secs: i64,
    /// How far back a scan looks (the upstream lists 7 days; a crash is found within the hour).
    pub window_secs: i64,
}

impl Default for Window {
    fn default() -> Self {
        Window { grace_secs: 120, window_secs: 3_600 }
    }
}
/// The upstream's largest page, and how many pages a scan reads at most.
const PAGE_SIZE: usize = 500;
const MAX_PAGES: u32 = 4;
/// An intent this close to a task's creation names its probable tenant.
const INTENT_MATCH_MS: i64 = 60_000;

/// Scans every configured account once (channels sharing a task endpoint and key are one
/// account, listed once); returns the orphans found for the first time.
pub async fn scan(edge: &Edge, window: Window) -> Result<usize, StoreError> {
    let mut accounts: std::collections::BTreeMap<(String, String), Vec<&ChannelRuntime>> = Default::default();
    for channel in edge.channels.all() {
        let account = (channel.conf.task_base_url.clone(), channel.conf.api_key.expose().to_string());
        accounts.entry(account).or_default().push(channel);
    }
    let mut found = 0;
    for channels in accounts.values() {
        match scan_account(edge, channels, window).await {
            Ok(n) => found += n,
            Err(ScanError::Store(e)) => return Err(e),
            Err(ScanError::Upstream(why)) => log::warn!("orphan scan: channel {}: {why}", channels[0].conf.id),
        }
    }
    Ok(found)
}

enum ScanError {
    Store(StoreError),
    Upstream(String),
}

impl From<StoreError> for ScanError {
    fn from(e: StoreError) -> Self {
        ScanError::Store(e)
    }
}

/// One account: listed through its first channel, orphans recorded under that channel's id,
/// intents gathered from every channel on it.
async fn scan_account(edge: &Edge, channels: &[&ChannelRuntime], w: Window) -> Result<usize, ScanError> {
    let Some(channel) = channels.first().copied() else { return Ok(0) };
    let now_s = now_ms() / 1000;
    let mut intents = Vec::new();
    for c in channels {
        intents.extend(edge.store.intents(&c.conf.id, now_ms() - (w.window_secs + w.grace_secs) * 1000).await?);
    }
    let mut found = 0;
    for page in 1..=MAX_PAGES {
        let tasks = list_page(edge, channel, page).await?;
        let last_page = tasks.len() < PAGE_SIZE;
        let mut past_window = false;
        for task in &tasks {
            let created_at = task.get("created_at").and_then(Value::as_i64).unwrap_or(now_s);
            past_window |= created_at < now_s - w.window_secs;
            let Some(id) = task.get("id").and_then(Value::as_str) else { continue };
            if now_s - created_at < w.grace_secs || created_at < now_s - w.window_secs || owned(edge, id).await? {
                continue;
            }
            let orphan = Orphan {
                channel: channel.conf.id.clone(),
                task_id: id.to_string(),
                created_at,
                status: task.get("status").and_then(Value::as_str).unwrap_or("").to_string(),
                model: task.get("model").and_then(Value::as_str).unwrap_or("").to_string(),
                probable_tenant: probable_tenant(&intents, created_at),
                found_at_ms: now_ms(),
            };
            if edge.store.record_orphan(&orphan).await? {
                found += 1;
                edge.metrics.orphan_tasks.with_label_values(&[channel.conf.id.as_str()]).inc();
                log::error!(
                    "orphan task {id} on channel {} (created {created_at}, status {}, probable tenant {:?}): the edge has no owner for it",
                    orphan.channel,
                    orphan.status,
                    orphan.probable_tenant
                );
            }
        }
        if last_page || past_window {
            break;
        }
    }
    Ok(found)
}

/// Whether some tenant owns the task (upstream ids are unique): any channel's owner index, else
/// each tenant's own records — which then teach the index.
async fn owned(edge: &Edge, id: &str) -> Result<bool, StoreError> {
    for channel in edge.channels.all() {
        if edge.store.channel_owner(&channel.conf.id, id).await?.is_some() {
            return Ok(true);
        }
    }
    for tenant in edge.store.tenant_ids().await? {
        if let Some(t) = edge.store.task(&tenant, id).await? {
            let intent = Intent { tenant: tenant.clone(), id: String::new(), at_ms: 0 };
            edge.store.claim(&t.channel, id, &intent).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

fn probable_tenant(intents: &[Intent], created_at: i64) -> Option<String> {
    intents
        .iter()
        .filter(|i| (i.at_ms - created_at * 1000).abs() <= INTENT_MATCH_MS)
        .min_by_key(|i| (i.at_ms - created_at * 1000).abs())
        .map(|i| i.tenant.clone())
}

/// One page of the channel's account-wide list, newest first.
async fn list_page(edge: &Edge, channel: &ChannelRuntime, page: u32) -> Result<Vec<Value>, ScanError> {
    let req = UpstreamRequest::task(UpstreamRoute::List, Method::Get, UPSTREAM_TASKS_PATH)
        .with_query("page_num", page.to_string())
        .with_query("page_size", PAGE_SIZE.to_string());
    let resp = edge
        .ark
        .call(&channel.account, &req)
        .await
        .map_err(|e| ScanError::Upstream(seedance_filters::ApiError::from(e).message))?;
    if resp.status != 200 {
        return Err(ScanError::Upstream(format!("list answered {}", resp.status)));
    }
    let v: Value = serde_json::from_slice(&resp.body).map_err(|_| ScanError::Upstream("list is not JSON".into()))?;
    Ok(v.get("items").and_then(Value::as_array).cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_intent_names_the_probable_tenant() {
        let i = |t: &str, at_ms: i64| Intent { tenant: t.into(), id: "x".into(), at_ms };
        let intents = [i("far", 1_000_000), i("near", 1_000_000 + 500_000), i("nearest", 1_000_400_000)];
        assert_eq!(probable_tenant(&intents, 1_000_400), Some("nearest".into()));
        assert_eq!(probable_tenant(&intents, 2_000_000), None);
    }
}
