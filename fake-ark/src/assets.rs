//! The asset library's OpenAPI Actions (Version 2024-01-01): groups and assets, with assets moving
//! Processing → Active on timings, or to Active/Failed on command (upstream has no `Pending`).
//! Update*/Delete* are refused with AccessDenied: the platform never exposes them, so the
//! simulator treats them as not allowed for this account. Both list Actions require
//! `Filter.GroupType` as upstream does, and `ListAssets` its page too; the codes for a missing
//! one are in `unconfirmed.rs`.

use crate::clock;
use crate::config::FakeArkConfig;
use crate::reply::{self, Reply};
use crate::unconfirmed;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

pub const VERSION: &str = "2024-01-01";
const ASSET_TYPES: [&str; 3] = ["Image", "Video", "Audio"];
/// What `Filter.GroupType` may name in a list (only `AIGC` can be created).
const LIST_GROUP_TYPES: [&str; 2] = ["AIGC", "LivenessFace"];
const MAX_PAGE_SIZE: u64 = 100;

#[derive(Debug, Clone)]
struct Group {
    seq: u64,
    born: Instant,
    created_at: i64,
    body: Value,
}

/// A status a test imposed, with the `Error` a `Failed` one carries.
#[derive(Debug, Clone)]
struct Forced {
    status: String,
    error: Option<Value>,
}

#[derive(Debug, Clone)]
struct Asset {
    seq: u64,
    born: Instant,
    created_at: i64,
    group_id: String,
    body: Value,
    forced: Option<Forced>,
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
        reply::action_ok(self.meta(), result)
    }

    pub fn err(&self, status: u16, code: &str, message: &str) -> Reply {
        reply::action_error(self.meta(), status, code, message)
    }

    fn meta(&self) -> reply::ActionMeta<'_> {
        reply::ActionMeta { request_id: self.request_id, action: self.action, region: &self.cfg.region }
    }
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn missing(key: &str) -> Bad {
    (400, "MissingParameter", format!("The request is missing {key} parameter."))
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

    fn name(&self) -> &str {
        str_field(&self.body, "Name").unwrap_or("")
    }

    fn to_json(&self, id: &str) -> Value {
        let created = clock::rfc3339(self.created_at);
        json!({
            "Id": id,
            "Name": self.name(),
            "Description": field_or(&self.body, "Description", json!("")),
            "GroupType": self.group_type(),
            // Deliberately present: the edge must strip the account's project name.
            "ProjectName": field_or(&self.body, "ProjectName", json!("default")),
            "CreateTime": created,
            "UpdateTime": created,
        })
    }
}

impl Asset {
    fn status(&self, cfg: &FakeArkConfig) -> &str {
        if let Some(f) = &self.forced {
            return &f.status;
        }
        match cfg.asset_processing_ms {
            Some(p) if self.born.elapsed().as_millis() as u64 >= p => "Active",
            _ => "Processing",
        }
    }

    fn to_json(&self, cfg: &FakeArkConfig, id: &str) -> Value {
        let created = clock::rfc3339(self.created_at);
        let status = self.status(cfg);
        let mut a = json!({
            "Id": id,
            "Name": field_or(&self.body, "Name", json!("")),
            "GroupId": self.group_id,
            "URL": field_or(&self.body, "URL", Value::Null),
            "AssetType": field_or(&self.body, "AssetType", Value::Null),
            "Status": status,
            "Moderation": field_or(&self.body, "Moderation", json!({"Strategy": "Default"})),
            // Deliberately present: the edge must strip the account's project name.
            "ProjectName": field_or(&self.body, "ProjectName", json!("default")),
            "CreateTime": created,
            "UpdateTime": created,
        });
        if status == "Failed" {
            let error = self.forced.as_ref().and_then(|f| f.error.clone());
            a["Error"] = error.unwrap_or_else(unconfirmed::default_asset_error);
        }
        a
    }
}

/// A list Action's `Filter`, as upstream requires it.
struct Filter {
    group_ids: Option<Vec<String>>,
    group_type: String,
    statuses: Option<Vec<String>>,
    name: Option<String>,
}

/// A refused list request: (status, code, message).
type Bad = (u16, &'static str, String);

fn invalid(message: String) -> Bad {
    (400, "InvalidParameter", message)
}

fn strings(f: &Value, key: &str) -> Result<Option<Vec<String>>, Bad> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .map(Some)
            .ok_or_else(|| invalid(format!("The parameter Filter.{key} must be an array of strings."))),
        Some(_) => Err(invalid(format!("The parameter Filter.{key} must be an array of strings."))),
    }
}

impl Filter {
    fn parse(body: &Value) -> Result<Filter, Bad> {
        let f = match body.get("Filter") {
            None | Some(Value::Null) => {
                return Err((400, unconfirmed::MISSING_FILTER_CODE, "The request is missing Filter parameter.".into()))
            }
            Some(f @ Value::Object(_)) => f,
            Some(_) => return Err(invalid("The parameter Filter must be an object.".into())),
        };
        let group_type = match f.get("GroupType") {
            None | Some(Value::Null) => {
                let message = "The request is missing Filter.GroupType parameter.".to_string();
                return Err((400, unconfirmed::MISSING_GROUP_TYPE_CODE, message));
            }
            Some(Value::String(t)) if LIST_GROUP_TYPES.contains(&t.as_str()) => t.clone(),
            Some(_) => {
                return Err(invalid(format!("The parameter Filter.GroupType must be one of {LIST_GROUP_TYPES:?}.")))
            }
        };
        let mut group_ids = strings(f, "GroupIds")?;
        if !unconfirmed::SINGULAR_GROUP_ID_IGNORED {
            if let Some(g) = f.get("GroupId").and_then(Value::as_str) {
                group_ids.get_or_insert_with(Vec::new).push(g.to_string());
            }
        }
        let name = match f.get("Name") {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) => Some(n.clone()),
            Some(_) => return Err(invalid("The parameter Filter.Name must be a string.".into())),
        };
        Ok(Filter { group_ids, group_type, statuses: strings(f, "Statuses")?, name })
    }

    fn admits_group(&self, group_id: &str, group_type: Option<&str>) -> bool {
        self.group_ids.as_ref().is_none_or(|ids| ids.iter().any(|i| i == group_id))
            && group_type == Some(self.group_type.as_str())
    }

    fn admits_name(&self, name: &str) -> bool {
        self.name.as_deref().is_none_or(|n| {
            if unconfirmed::NAME_FILTER_IS_SUBSTRING {
                name.contains(n)
            } else {
                name == n
            }
        })
    }
}

/// `PageNumber`/`PageSize`: `None` = absent (and allowed); refused when present but out of range.
fn page_field(body: &Value, key: &str, max: u64) -> Result<Option<u64>, Bad> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=max).contains(n))
            .map(Some)
            .ok_or_else(|| invalid(format!("The parameter {key} must be an integer in [1, {max}]."))),
    }
}

/// The page a list asks for; `required` = `ListAssets`, which refuses to guess.
fn page_of(body: &Value, required: bool) -> Result<(u64, u64), Bad> {
    let num = page_field(body, "PageNumber", u64::from(u32::MAX))?;
    let size = page_field(body, "PageSize", MAX_PAGE_SIZE)?;
    let missing = |key: &str| (400, "MissingParameter", format!("The request is missing {key} parameter."));
    match (num, size) {
        (Some(n), Some(s)) => Ok((n, s)),
        (None, _) if required => Err(missing("PageNumber")),
        (_, None) if required => Err(missing("PageSize")),
        (n, s) => Ok((n.unwrap_or(1), s.unwrap_or(unconfirmed::GROUP_LIST_DEFAULT_PAGE_SIZE))),
    }
}

/// Items newest first unless `SortOrder` is `Asc` (upstream sorts by `CreateTime`).
fn ordered<T>(body: &Value, mut items: Vec<(u64, T)>) -> Vec<T> {
    items.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    if body.get("SortOrder").and_then(Value::as_str) == Some("Asc") {
        items.reverse();
    }
    items.into_iter().map(|(_, t)| t).collect()
}

fn page(call: &Call<'_>, (num, size): (u64, u64), items: Vec<Value>) -> Reply {
    let total = items.len();
    let skip = usize::try_from((num - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let page: Vec<Value> = items.into_iter().skip(skip).take(size as usize).collect();
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
            let message = format!("Could not find operation {action} for version {VERSION}.");
            return call.err(404, "InvalidActionOrVersion", &message);
        }
        let body: Value = match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return call.err(400, "InvalidParameter", "The request body must be a JSON object."),
        };
        let answer = match action {
            "CreateAssetGroup" => self.create_group(call, body),
            "CreateAsset" => self.create_asset(call, body),
            "GetAssetGroup" => self.get_group(call, &body),
            "GetAsset" => self.get_asset(call, &body),
            "ListAssetGroups" => self.list_groups(call, &body),
            _ => self.list_assets(call, &body),
        };
        answer.unwrap_or_else(|(status, code, message)| call.err(status, code, &message))
    }

    fn next_id(&mut self, prefix: &str) -> (String, u64, i64) {
        self.seq += 1;
        let now = clock::now_secs();
        (format!("{prefix}-{}-{}", clock::compact(now), crate::tasks::suffix(self.seq)), self.seq, now)
    }

    fn create_group(&mut self, call: &Call<'_>, body: Value) -> Result<Reply, Bad> {
        let name = str_field(&body, "Name").ok_or_else(|| missing("Name"))?;
        if name.chars().count() > 64 {
            return Err(invalid("The parameter Name must be at most 64 characters.".into()));
        }
        if str_field(&body, "Description").is_some_and(|d| d.chars().count() > 300) {
            return Err(invalid("The parameter Description must be at most 300 characters.".into()));
        }
        if body.get("GroupType").is_some_and(|t| !t.is_null() && t.as_str() != Some("AIGC")) {
            return Err(invalid("The parameter GroupType must be AIGC.".into()));
        }
        let (id, seq, created_at) = self.next_id("group");
        self.groups.insert(id.clone(), Group { seq, born: Instant::now(), created_at, body });
        Ok(call.ok(json!({"Id": id})))
    }

    fn create_asset(&mut self, call: &Call<'_>, body: Value) -> Result<Reply, Bad> {
        let group_id = str_field(&body, "GroupId").map(str::to_string).ok_or_else(|| missing("GroupId"))?;
        if !self.groups.contains_key(&group_id) {
            return Err((404, "NotFound.group_id", format!("The asset group {group_id} does not exist.")));
        }
        let url = str_field(&body, "URL").ok_or_else(|| missing("URL"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid("The parameter URL must be a public http(s) URL; data URIs are not accepted.".into()));
        }
        let asset_type = str_field(&body, "AssetType").ok_or_else(|| missing("AssetType"))?;
        if !ASSET_TYPES.contains(&asset_type) {
            return Err(invalid("The parameter AssetType must be Image, Video or Audio.".into()));
        }
        let strategy = body.pointer("/Moderation/Strategy").filter(|s| !s.is_null());
        if strategy.is_some_and(|s| !matches!(s.as_str(), Some("Default" | "Skip"))) {
            return Err(invalid("The parameter Moderation.Strategy must be Default or Skip.".into()));
        }
        let (id, seq, created_at) = self.next_id("asset");
        let asset = Asset { seq, born: Instant::now(), created_at, group_id, body, forced: None };
        self.assets.insert(id.clone(), asset);
        Ok(call.ok(json!({"Id": id})))
    }

    fn get_group(&self, call: &Call<'_>, body: &Value) -> Result<Reply, Bad> {
        let id = str_field(body, "Id").ok_or_else(|| missing("Id"))?;
        match self.groups.get(id).filter(|g| visible(call.cfg, g.born)) {
            Some(g) => Ok(call.ok(g.to_json(id))),
            None => Err((404, "NotFound.group_id", format!("The asset group {id} does not exist."))),
        }
    }

    fn get_asset(&self, call: &Call<'_>, body: &Value) -> Result<Reply, Bad> {
        let id = str_field(body, "Id").ok_or_else(|| missing("Id"))?;
        match self.assets.get(id).filter(|a| visible(call.cfg, a.born)) {
            Some(a) => Ok(call.ok(a.to_json(call.cfg, id))),
            None => Err((404, "NotFound.asset_id", format!("The asset {id} does not exist."))),
        }
    }

    /// Groups by their own Id, GroupType and Name; account-wide without `GroupIds`.
    fn list_groups(&self, call: &Call<'_>, body: &Value) -> Result<Reply, Bad> {
        let filter = Filter::parse(body)?;
        let pages = page_of(body, false)?;
        let groups = self
            .groups
            .iter()
            .filter(|(id, g)| filter.admits_group(id, Some(g.group_type())) && filter.admits_name(g.name()))
            .map(|(id, g)| {
                let mut v = g.to_json(id);
                // Lists still carry the deprecated `Title`, the name under its old key.
                v["Title"] = json!(g.name());
                (g.seq, v)
            })
            .collect();
        Ok(page(call, pages, ordered(body, groups)))
    }

    /// Assets by their GroupId (and that group's type), status and name; account-wide without
    /// `GroupIds`.
    fn list_assets(&self, call: &Call<'_>, body: &Value) -> Result<Reply, Bad> {
        let filter = Filter::parse(body)?;
        let pages = page_of(body, true)?;
        let type_of = |gid: &str| self.groups.get(gid).map(Group::group_type);
        let assets = self
            .assets
            .iter()
            .filter(|(_, a)| filter.admits_group(&a.group_id, type_of(&a.group_id)))
            .filter(|(_, a)| filter.admits_name(str_field(&a.body, "Name").unwrap_or("")))
            .filter(|(_, a)| filter.statuses.as_ref().is_none_or(|s| s.iter().any(|s| s == a.status(call.cfg))))
            .map(|(id, a)| (a.seq, a.to_json(call.cfg, id)))
            .collect();
        Ok(page(call, pages, ordered(body, assets)))
    }

    /// Imposes an asset's status (and, for `Failed`, its `Error` code and message); false if
    /// there is no such asset.
    pub fn force(&mut self, id: &str, status: &str, error: Option<(String, String)>) -> bool {
        match self.assets.get_mut(id) {
            Some(a) => {
                let error = error.map(|(code, message)| json!({"Code": code, "Message": message}));
                a.forced = Some(Forced { status: status.to_string(), error });
                true
            }
            None => false,
        }
    }
}
