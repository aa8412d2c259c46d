//! What the edge asks a channel's task API on its own behalf: the upstream path, and lookups of
//! known task ids, scoped to exactly those ids (the account-wide list is never asked unfiltered).
//! Shared by the list route and the reconciler, below both.

use crate::channel::ChannelRuntime;
use crate::edge::{Edge, UpstreamRoute};
use crate::store::TaskRecord;
use seedance_filters::task::is_plausible_task_id;
use seedance_filters::ApiError;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The upstream's own path for the task collection.
pub const UPSTREAM_TASKS_PATH: &str = "/api/v3/contents/generations/tasks";
/// Ids per scoped upstream query.
const SCOPE_CHUNK: usize = 100;

/// Upstream task objects for `records`, one scoped query per channel and chunk of ids.
pub async fn fetch_scoped(edge: &Edge, records: &[&TaskRecord]) -> Result<HashMap<String, Value>, ApiError> {
    let mut by_channel: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in records {
        if is_plausible_task_id(&r.id) {
            by_channel.entry(r.channel.as_str()).or_default().push(r.id.as_str());
        }
    }
    let mut out = HashMap::new();
    for (channel_id, ids) in by_channel {
        let Some(channel) = edge.channels.get(channel_id) else { continue };
        for chunk in ids.chunks(SCOPE_CHUNK) {
            out.extend(fetch_chunk(edge, channel, chunk).await?);
        }
    }
    Ok(out)
}

async fn fetch_chunk(edge: &Edge, channel: &ChannelRuntime, ids: &[&str]) -> Result<HashMap<String, Value>, ApiError> {
    // Never unscoped: an empty id list would be the whole account's list.
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut path = format!("{UPSTREAM_TASKS_PATH}?page_num=1&page_size={}", ids.len());
    for id in ids {
        path.push_str("&filter.task_ids=");
        path.push_str(id);
    }
    let resp = edge.task_call(channel, UpstreamRoute::List, "GET", &path, None).await?;
    if resp.status != 200 {
        return Err(crate::edge::upstream_failure(&format!("refused a task lookup ({})", resp.status)));
    }
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| crate::edge::upstream_failure("answered something that is not JSON"))?;
    let items = v.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok(items
        .into_iter()
        .filter_map(|t| {
            let id = t.get("id").and_then(Value::as_str)?.to_string();
            // Keep only what was asked for, whatever the upstream's filter did.
            ids.contains(&id.as_str()).then_some((id, t))
        })
        .collect())
}
