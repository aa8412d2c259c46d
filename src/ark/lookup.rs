//! What the edge asks a channel's task API on its own behalf: lookups of known task ids, scoped
//! to exactly those ids (the account-wide list is never asked unfiltered). Shared by the list
//! route and the reconciler.

use super::{Account, CallError, Client, Method, UpstreamRequest, UpstreamRoute};
use crate::store::TaskRecord;
use seedance_filters::task::is_plausible_task_id;
use seedance_filters::ApiError;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The upstream's own path for the task collection.
pub const UPSTREAM_TASKS_PATH: &str = "/api/v3/contents/generations/tasks";
/// Ids per scoped upstream query.
const SCOPE_CHUNK: usize = 100;

/// Finds a channel's account by the channel id a task record names.
pub trait Accounts {
    fn account(&self, channel: &str) -> Option<&Account>;
}

/// A scoped lookup that failed, with its cause.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("channel {channel} refused a task lookup ({status})")]
    Refused { channel: String, status: u16 },
    #[error("channel {channel} answered a task lookup with something that is not JSON")]
    NotJson {
        channel: String,
        #[source]
        source: serde_json::Error,
    },
}

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> ApiError {
        match e {
            LookupError::Call(e) => e.into(),
            LookupError::Refused { status, .. } => {
                super::upstream_failure(&format!("refused a task lookup ({status})"))
            }
            LookupError::NotJson { .. } => super::upstream_failure("answered something that is not JSON"),
        }
    }
}

/// Upstream task objects for `records`, one scoped query per channel and chunk of ids.
pub async fn fetch_scoped(
    client: &Client,
    accounts: &(dyn Accounts + Sync),
    records: &[&TaskRecord],
) -> Result<HashMap<String, Value>, LookupError> {
    let mut by_channel: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in records {
        if is_plausible_task_id(&r.id) {
            by_channel.entry(r.channel.as_str()).or_default().push(r.id.as_str());
        }
    }
    let mut out = HashMap::new();
    for (channel_id, ids) in by_channel {
        let Some(account) = accounts.account(channel_id) else { continue };
        for chunk in ids.chunks(SCOPE_CHUNK) {
            out.extend(fetch_chunk(client, account, chunk).await?);
        }
    }
    Ok(out)
}

async fn fetch_chunk(client: &Client, account: &Account, ids: &[&str]) -> Result<HashMap<String, Value>, LookupError> {
    // Never unscoped: an empty id list would be the whole account's list.
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut req = UpstreamRequest::task(UpstreamRoute::List, Method::Get, UPSTREAM_TASKS_PATH)
        .with_query("page_num", "1")
        .with_query("page_size", ids.len().to_string());
    for id in ids {
        req = req.with_query("filter.task_ids", *id);
    }
    let resp = client.call(account, &req).await?;
    let channel = || account.id.clone();
    if resp.status != 200 {
        return Err(LookupError::Refused { channel: channel(), status: resp.status });
    }
    let v: Value =
        serde_json::from_slice(&resp.body).map_err(|source| LookupError::NotJson { channel: channel(), source })?;
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
