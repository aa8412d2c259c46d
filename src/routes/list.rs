//! GET /volcark/api/v3/contents/generations/tasks (SPEC §4.4): served from the tenant's own index
//! in the store — never from the account-wide upstream list. Statuses of unfinished tasks are
//! refreshed from their channels with queries scoped to exactly those task ids.

use super::{Reply, Request};
use crate::ark::fetch_scoped;
use crate::edge::Edge;
use crate::store::{is_terminal, TaskRecord, TenantRecord};
use seedance_filters::task::{parse_list_query, rewrite_task};
use seedance_filters::ApiError;
use serde_json::{json, Value};
use std::collections::HashMap;

pub async fn handle(edge: &Edge, tenant: &TenantRecord, req: &Request) -> Result<Reply, ApiError> {
    let q = parse_list_query(req.query.as_deref())?;
    if q.matches_nothing() {
        return Ok(Reply::json(200, &json!({"items": [], "total": 0})));
    }
    let mut records = edge.store.tasks(&tenant.id).await?;
    if let Some(ids) = &q.task_ids {
        // Another tenant's ids are simply not in this index: silently absent.
        records.retain(|r| ids.contains(&r.id));
    }
    if let Some(model) = q.model {
        records.retain(|r| r.public_model == model.name());
    }
    let mut fetched: HashMap<String, Value> = HashMap::new();
    if let Some(status) = q.status {
        // Stored terminal statuses are final; only unfinished ones need the upstream's word.
        let stale: Vec<&TaskRecord> = records.iter().filter(|r| !is_terminal(&r.status)).collect();
        fetched = fetch_scoped(&edge.ark, &edge.channels, &stale).await?;
        records.retain(|r| current_status(r, &fetched) == status.as_str());
    }
    let total = records.len();
    let start = (q.page_num as usize - 1).saturating_mul(q.page_size as usize);
    let page: Vec<&TaskRecord> = records.iter().skip(start).take(q.page_size as usize).collect();
    let missing: Vec<&TaskRecord> = page.iter().copied().filter(|r| !fetched.contains_key(&r.id)).collect();
    fetched.extend(fetch_scoped(&edge.ark, &edge.channels, &missing).await?);

    let mut items = Vec::with_capacity(page.len());
    for record in page {
        let item = match fetched.remove(&record.id) {
            Some(mut task) => {
                crate::billing::observe(edge, &tenant.id, record, &task).await;
                rewrite_task(&mut task, &record.public_model);
                task
            }
            // The upstream no longer has it (records expire there): what the edge knows.
            None => {
                json!({"id": record.id, "model": record.public_model, "status": record.status, "created_at": record.created_at})
            }
        };
        items.push(item);
    }
    Ok(Reply::json(200, &json!({"items": items, "total": total})))
}

fn current_status<'a>(record: &'a TaskRecord, fetched: &'a HashMap<String, Value>) -> &'a str {
    fetched.get(&record.id).and_then(|t| t.get("status")).and_then(Value::as_str).unwrap_or(&record.status)
}
