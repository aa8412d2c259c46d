//! POST /volcark/?Action={Action}&Version=2024-01-01: the six asset Actions, each
//! the same shape — parse and rewrite the body (pure), check the tenant owns every group/asset it
//! names (404 `asset_not_found` without calling the upstream), sign with the channel's AK/SK,
//! rewrite the answer, record what was created. Errors use the OpenAPI `ResponseMetadata` shape.

use super::{Reply, Request};
use crate::ark::{upstream_failure, UpstreamRequest};
use crate::channel::ChannelRuntime;
use crate::edge::Edge;
use crate::store::{AssetKind, AssetRecord, TenantRecord};
use bytes::Bytes;
use seedance_filters::asset::action::{parse_action, Action};
use seedance_filters::asset::body::{filter_list_items, parse_asset_request, rewrite_action_response, AssetRequest};
use seedance_filters::callback::check_url;
use seedance_filters::{ActionMeta, ApiError, ErrorCode, ACTION_VERSION};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;

fn asset_not_found(what: &str, id: &str) -> ApiError {
    ApiError::with_param(ErrorCode::AssetNotFound, "Id", format!("{what} {id} does not exist in this account"))
}

/// The request's id for edge-written `ResponseMetadata.RequestId`: the same id the
/// `X-Request-Id` header carries.
fn request_id() -> String {
    crate::scope::request_id().unwrap_or_else(crate::request_id::generate)
}

pub async fn handle(edge: &Edge, tenant: &TenantRecord, req: &Request) -> Reply {
    let rid = request_id();
    let action = match parse_action(req.query.as_deref()) {
        Ok(a) => a,
        Err((e, name)) => return Reply::action_error(&e, ActionMeta { request_id: &rid, action: &name, region: "" }),
    };
    match run(edge, tenant, action, req).await {
        Ok(r) => r,
        Err(Failure { error, region }) => {
            Reply::action_error(&error, ActionMeta { request_id: &rid, action: action.name(), region: &region })
        }
    }
}

/// A refused Action, and the region its `ResponseMetadata` names (empty until a channel is chosen).
struct Failure {
    error: ApiError,
    region: String,
}

async fn run(edge: &Edge, tenant: &TenantRecord, action: Action, req: &Request) -> Result<Reply, Failure> {
    let no_region = |error: ApiError| Failure { error, region: String::new() };
    let ar = parse_asset_request(action, &req.body).map_err(no_region)?;
    let channel = edge.channels.pick_assets(tenant, ar.model).map_err(no_region)?;
    let region = channel.conf.region.clone();
    let fail = |error: ApiError| Failure { error, region: region.clone() };

    let mut scope: Option<Vec<String>> = None;
    let mut target_channel = channel.clone();
    match action {
        Action::GetAssetGroup | Action::GetAsset => {
            let kind = if action == Action::GetAsset { AssetKind::Asset } else { AssetKind::Group };
            let id = ar.id.as_deref().unwrap_or_default();
            let rec = owned(edge, tenant, id, kind).await.map_err(&fail)?;
            target_channel = channel_of(edge, &rec).map_err(&fail)?;
        }
        Action::CreateAsset => {
            let group = ar.group_id.as_deref().unwrap_or_default();
            let rec = owned(edge, tenant, group, AssetKind::Group).await.map_err(&fail)?;
            target_channel = channel_of(edge, &rec).map_err(&fail)?;
            if let Some(url) = &ar.url {
                let checked = check_url("URL", url, true).map_err(&fail)?;
                super::create::check_public_host(edge, "URL", &checked).await.map_err(&fail)?;
            }
        }
        Action::ListAssets | Action::ListAssetGroups => {
            let groups = edge.store.assets(&tenant.id, AssetKind::Group).await.map_err(|e| fail(e.into()))?;
            let mine: Vec<String> = groups.into_iter().filter(|g| g.channel == channel.conf.id).map(|g| g.id).collect();
            let asked: Vec<String> = ar.group_id.iter().cloned().chain(ar.group_ids.iter().cloned()).collect();
            let wanted = if asked.is_empty() {
                mine
            } else {
                for g in &asked {
                    if !mine.contains(g) {
                        return Err(fail(asset_not_found("asset group", g)));
                    }
                }
                asked
            };
            if wanted.is_empty() {
                return Ok(empty_list(action, &ar, &region));
            }
            scope = Some(wanted);
        }
        Action::CreateAssetGroup => {}
    }

    let body = ar.upstream_body(&target_channel.conf.project_name, scope.as_deref());
    let request = UpstreamRequest::action(action.name(), ACTION_VERSION, Bytes::from(body));
    let resp = edge.ark.call(&target_channel.account, &request).await.map_err(|e| fail(e.into()))?;
    let mut v: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| fail(upstream_failure("answered something that is not JSON")))?;
    if v.pointer("/ResponseMetadata/Error").is_some() || resp.status != 200 {
        if resp.status == 404 && matches!(action, Action::GetAsset | Action::GetAssetGroup | Action::CreateAsset) {
            // Just-created assets are briefly invisible upstream; the page tells customers to retry.
            let id = ar.id.clone().or(ar.group_id.clone()).unwrap_or_default();
            return Err(fail(ApiError::with_param(
                ErrorCode::AssetNotFound,
                "Id",
                format!("{id} is not visible yet; retry after 2, 5, 10, 20 seconds"),
            )));
        }
        rewrite_action_response(&mut v);
        return Ok(Reply::json(resp.status, &v).with_request_id(resp.request_id));
    }
    match action {
        Action::CreateAssetGroup | Action::CreateAsset => {
            let id = v.pointer("/Result/Id").and_then(Value::as_str).map(str::to_string);
            let Some(id) = id.filter(|i| seedance_filters::task::is_plausible_task_id(i)) else {
                return Err(fail(upstream_failure("answered without an Id")));
            };
            let record = AssetRecord {
                id: id.clone(),
                kind: if action == Action::CreateAsset { AssetKind::Asset } else { AssetKind::Group },
                channel: target_channel.conf.id.clone(),
                group_id: ar.group_id.clone(),
                created_at: crate::clock::now_secs(),
            };
            edge.store.put_asset(&tenant.id, &record).await.map_err(|e| fail(e.into()))?;
            log::info!("tenant={} created {:?} {id} on channel {}", tenant.id, record.kind, record.channel);
        }
        Action::ListAssets | Action::ListAssetGroups => {
            let owned_ids = owned_ids(edge, tenant, action).await.map_err(&fail)?;
            filter_list_items(&mut v, &|id| owned_ids.contains(id));
        }
        Action::GetAsset | Action::GetAssetGroup => {}
    }
    rewrite_action_response(&mut v);
    Ok(Reply::json(200, &v).with_request_id(resp.request_id))
}

async fn owned(edge: &Edge, tenant: &TenantRecord, id: &str, kind: AssetKind) -> Result<AssetRecord, ApiError> {
    let what = if kind == AssetKind::Group { "asset group" } else { "asset" };
    if !seedance_filters::task::is_plausible_task_id(id) {
        return Err(asset_not_found(what, id));
    }
    let rec = edge.store.asset(&tenant.id, id).await?;
    rec.filter(|r| r.kind == kind).ok_or_else(|| asset_not_found(what, id))
}

fn channel_of(edge: &Edge, rec: &AssetRecord) -> Result<Arc<ChannelRuntime>, ApiError> {
    edge.channels.get(&rec.channel).filter(|c| c.conf.has_assets()).cloned().ok_or_else(|| {
        ApiError::new(ErrorCode::ChannelNotAvailable, "the asset library holding this resource is not available")
    })
}

/// Ids a list answer may contain: the tenant's groups (ListAssetGroups) or assets (ListAssets).
async fn owned_ids(edge: &Edge, tenant: &TenantRecord, action: Action) -> Result<HashSet<String>, ApiError> {
    let kind = if action == Action::ListAssets { AssetKind::Asset } else { AssetKind::Group };
    let recs = edge.store.assets(&tenant.id, kind).await?;
    Ok(recs.into_iter().map(|r| r.id).collect())
}

/// What the upstream would answer for a tenant with nothing to list: the page asked for, empty.
fn empty_list(action: Action, ar: &AssetRequest, region: &str) -> Reply {
    let page = |k: &str| ar.body().get(k).cloned().unwrap_or(Value::Null);
    Reply::json(
        200,
        &json!({
            "ResponseMetadata": {"RequestId": request_id(), "Action": action.name(), "Version": ACTION_VERSION, "Service": "ark", "Region": region},
            "Result": {"Items": [], "TotalCount": 0, "PageNumber": page("PageNumber"), "PageSize": page("PageSize")}
        }),
    )
}
