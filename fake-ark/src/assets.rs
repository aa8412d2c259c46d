//! The asset library's OpenAPI Actions (Version 2024-01-01): groups and assets, with assets moving
//! Pending → Processing → Active on timings or on command. Update*/Delete* are refused with
//! AccessDenied: the platform never exposes them, so the simulator treats them as not allowed
//! for this account. The list filter keys (`Filter.GroupIds` / `Filter.GroupId` /
//! `Filter.GroupType`) are unconfirmed upstream; they are read in `Filter::parse` only.

use crate::clock;
use crate::config::FakeArkConfig;
use crate::reply::{self, Reply};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

pub const VERSION: &str = "2024-01-01";
const ASSET_TYPES: [&str; 3] = ["Image", "Video", "Audio"];

#[derive(Debug, Clone)]
struct Group {
    seq: u64,
    born: Instant,
    created_at: i64,
    body: Value,
}

#[derive(Debug, Clone)]
struct Asset {
    seq: u64,
    born: Instant,
    created_at: i64,
    group_id: String,
    body: Value,
    forced: Option<String>,
}

#[derive(Default)]
pub struct Assets {
    groups: BTreeMap<String, Group>,
    assets: BTreeMap<String, Asset>,
    seq: u64,
}

/// One Action call: what its answer's metadata needs.
pub struct Call<'a> {
    pub cfg: &'a FakeArkConfig,
    pub request_id: &'a str,
    pub action: &'a str,
}

impl Call<'_> {
    pub fn ok(&self, result: Value) -> Reply {
        reply::action_ok(self.request_id, self.action, &self.cfg.region, result)
    }

    pub fn err(&self, status: u16, code: &str, message: &str) -> Reply {
        reply::action_error(status, self.request_id, self.action, &self.cfg.region, code, message)
    }
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn field_or(body: &Value, key: &str, default: Value) -> Value {
    body.get(key).cloned().unwrap_or(default)
}

/// A just-created record answers 404 on Get for `asset_invisible_ms`, as upstream can briefly.
fn visible(cfg: &FakeArkConfig, born: Instant) -> bool {
    born.elapsed().as_millis() as u64 >= cfg.asset_invisible_ms
}

impl Group {
    fn group_type(&self) -> &str {
        str_field(&self.body, "GroupType").unwrap_or("AIGC")
    }

    fn to_json(&self, id: &str) -> Value {
        let created = clock::rfc3339(self.created_at);
        json!({
            "Id": id,
            "Name": field_or(&self.body, "Name", json!("")),
            "Description": field_or(&self.body, "Description", json!("")),
            "GroupType": self.group_type(),
            "Status": "Active",
            // Deliberately present: the edge must strip the account's project name.
            "ProjectName": field_or(&self.body, "ProjectName", json!("default")),
            "CreateTime": created,
            "UpdateTime": created,
        })
    }
}

impl Asset {
    fn status(&self, cfg: &FakeArkConfig) -> &str {
        if let Some(s) = &self.forced {
            return s;
        }
        let Some(p) = cfg.asset_processing_ms else { return "Pending" };
        let age = self.born.elapsed().as_millis() as u64;
        if age >= p {
            "Active"
        } else if age >= p / 2 {
            "Processing"
        } else {
            "Pending"
        }
    }

    fn to_json(&self, cfg: &FakeArkConfig, id: &str) -> Value {
        let created = clock::rfc3339(self.created_at);
        json!({
            "Id": id,
            "Name": field_or(&self.body, "Name", json!("")),
            "GroupId": self.group_id,
            "URL": field_or(&self.body, "URL", Value::Null),
            "AssetType": field_or(&self.body, "AssetType", Value::Null),
            "Status": self.status(cfg),
            // Deliberately present: the edge must strip the account's project name.
            "ProjectName": field_or(&self.body, "ProjectName", json!("default")),
            "CreateTime": created,
            "UpdateTime": created,
        })
    }
}

/// A list Action's `Filter`.
struct Filter {
    /// `GroupIds` and/or `GroupId`, when either is present (an empty list matches nothing).
    group_ids: Option<Vec<String>>,
    group_type: Option<String>,
}

impl Filter {
    fn parse(body: &Value) -> Filter {
        let f = body.get("Filter").cloned().unwrap_or(Value::Null);
        let mut ids: Option<Vec<String>> = f
            .get("GroupIds")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect());
        if let Some(g) = f.get("GroupId").and_then(Value::as_str) {
            ids.get_or_insert_with(Vec::new).push(g.to_string());
        }
        Filter { group_ids: ids, group_type: str_field(&f, "GroupType").map(str::to_string) }
    }

    fn admits(&self, group_id: &str, group_type: Option<&str>) -> bool {
        self.group_ids.as_ref().is_none_or(|ids| ids.iter().any(|i| i == group_id))
            && self.group_type.as_deref().is_none_or(|t| group_type == Some(t))
    }
}

/// One page of a list, with `PageNumber` from 1 and `PageSize` 10 unless asked.
fn page(call: &Call<'_>, body: &Value, items: Vec<Value>) -> Reply {
    let num = body.get("PageNumber").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
    let size = body.get("PageSize").and_then(Value::as_u64).unwrap_or(10).clamp(1, 100) as usize;
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip((num - 1) * size).take(size).collect();
    call.ok(json!({"Items": page, "TotalCount": total, "PageNumber": num, "PageSize": size}))
}

impl Assets {
    /// Runs one (already authenticated) Action.
    pub fn handle(&mut self, call: &Call<'_>, body: &[u8]) -> Reply {
        let action = call.action;
        if action.starts_with("Update") || action.starts_with("Delete") {
            return call.err(403, "AccessDenied", &format!("The action {action} is not allowed for this account."));
        }
        let known = ["CreateAssetGroup", "CreateAsset", "GetAssetGroup", "GetAsset", "ListAssetGroups", "ListAssets"];
        if !known.contains(&action) {
            return call.err(400, "InvalidAction", &format!("The action {action} is not valid for version {VERSION}."));
        }
        let body: Value = match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return call.err(400, "InvalidParameter", "The request body must be a JSON object."),
        };
        match action {
            "CreateAssetGroup" => self.create_group(call, body),
            "CreateAsset" => self.create_asset(call, body),
            "GetAssetGroup" => self.get_group(call, &body),
            "GetAsset" => self.get_asset(call, &body),
            "ListAssetGroups" => self.list_groups(call, &body),
            _ => self.list_assets(call, &body),
        }
    }

    fn next_id(&mut self, prefix: &str) -> (String, u64, i64) {
        self.seq += 1;
        let now = clock::now_secs();
        (format!("{prefix}-{}-{}", clock::compact(now), crate::tasks::suffix(self.seq)), self.seq, now)
    }

    fn create_group(&mut self, call: &Call<'_>, body: Value) -> Reply {
        if str_field(&body, "Name").is_none() {
            return call.err(400, "MissingParameter", "The parameter Name is required.");
        }
        let (id, seq, created_at) = self.next_id("group");
        self.groups.insert(id.clone(), Group { seq, born: Instant::now(), created_at, body });
        call.ok(json!({"Id": id}))
    }

    fn create_asset(&mut self, call: &Call<'_>, body: Value) -> Reply {
        let Some(group_id) = str_field(&body, "GroupId").map(str::to_string) else {
            return call.err(400, "MissingParameter", "The parameter GroupId is required.");
        };
        if !self.groups.contains_key(&group_id) {
            return call.err(404, "NotFound", &format!("The asset group {group_id} does not exist."));
        }
        if str_field(&body, "URL").is_none() {
            return call.err(400, "MissingParameter", "The parameter URL is required.");
        }
        if !str_field(&body, "AssetType").is_some_and(|t| ASSET_TYPES.contains(&t)) {
            return call.err(400, "InvalidParameter", "The parameter AssetType must be Image, Video or Audio.");
        }
        let (id, seq, created_at) = self.next_id("asset");
        let asset = Asset { seq, born: Instant::now(), created_at, group_id, body, forced: None };
        self.assets.insert(id.clone(), asset);
        call.ok(json!({"Id": id}))
    }

    fn get_group(&self, call: &Call<'_>, body: &Value) -> Reply {
        let id = str_field(body, "Id").unwrap_or_default();
        match self.groups.get(id).filter(|g| visible(call.cfg, g.born)) {
            Some(g) => call.ok(g.to_json(id)),
            None => call.err(404, "NotFound", &format!("The asset group {id} does not exist.")),
        }
    }

    fn get_asset(&self, call: &Call<'_>, body: &Value) -> Reply {
        let id = str_field(body, "Id").unwrap_or_default();
        match self.assets.get(id).filter(|a| visible(call.cfg, a.born)) {
            Some(a) => call.ok(a.to_json(call.cfg, id)),
            None => call.err(404, "NotFound", &format!("The asset {id} does not exist.")),
        }
    }

    /// Groups by their own Id and GroupType, newest first; account-wide without a filter.
    fn list_groups(&self, call: &Call<'_>, body: &Value) -> Reply {
        let filter = Filter::parse(body);
        let mut groups: Vec<(&String, &Group)> =
            self.groups.iter().filter(|(id, g)| filter.admits(id, Some(g.group_type()))).collect();
        groups.sort_by_key(|(_, g)| std::cmp::Reverse(g.seq));
        page(call, body, groups.into_iter().map(|(id, g)| g.to_json(id)).collect())
    }

    /// Assets by their GroupId (and that group's type), newest first; account-wide without a filter.
    fn list_assets(&self, call: &Call<'_>, body: &Value) -> Reply {
        let filter = Filter::parse(body);
        let type_of = |gid: &str| self.groups.get(gid).map(Group::group_type);
        let mut assets: Vec<(&String, &Asset)> =
            self.assets.iter().filter(|(_, a)| filter.admits(&a.group_id, type_of(&a.group_id))).collect();
        assets.sort_by_key(|(_, a)| std::cmp::Reverse(a.seq));
        page(call, body, assets.into_iter().map(|(id, a)| a.to_json(call.cfg, id)).collect())
    }

    /// Imposes an asset's status; false if there is no such asset.
    pub fn force(&mut self, id: &str, status: &str) -> bool {
        match self.assets.get_mut(id) {
            Some(a) => {
                a.forced = Some(status.to_string());
                true
            }
            None => false,
        }
    }
}
