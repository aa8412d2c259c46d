//! The asset library's OpenAPI Actions (Version 2024-01-01). Update*/Delete* are refused: the
//! platform never exposes them, so the simulator treats them as not allowed for this account.

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
    body: Value,
}

#[derive(Debug, Clone)]
struct Asset {
    seq: u64,
    born: Instant,
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

pub struct Call<'a> {
    pub cfg: &'a FakeArkConfig,
    pub request_id: &'a str,
    pub action: &'a str,
}

impl Call<'_> {
    fn ok(&self, result: Value) -> Reply {
        reply::action_ok(self.request_id, self.action, &self.cfg.region, result)
    }

    fn err(&self, status: u16, code: &str, message: &str) -> Reply {
        reply::action_error(status, self.request_id, self.action, &self.cfg.region, code, message)
    }
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
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
}

impl Assets {
    pub fn handle(&mut self, call: &Call<'_>, body: &[u8]) -> Reply {
        let body: Value = match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return call.err(400, "InvalidParameter", "The request body must be a JSON object."),
        };
        match call.action {
            "CreateAssetGroup" => self.create_group(call, body),
            "CreateAsset" => self.create_asset(call, body),
            "GetAssetGroup" => self.get_group(call, &body),
            "GetAsset" => self.get_asset(call, &body),
            "ListAssetGroups" => self.list_groups(call, &body),
            "ListAssets" => self.list_assets(call, &body),
            a if a.starts_with("Update") || a.starts_with("Delete") => {
                call.err(403, "AccessDenied", &format!("The action {a} is not allowed for this account."))
            }
            a => call.err(400, "InvalidAction", &format!("The action {a} is not valid for version {VERSION}.")),
        }
    }

    fn next_id(&mut self, prefix: &str) -> (String, u64) {
        self.seq += 1;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        (format!("{prefix}-{}-{:05x}", crate::tasks::civil(now), (self.seq * 104_729) % 0xfffff), self.seq)
    }

    fn create_group(&mut self, call: &Call<'_>, body: Value) -> Reply {
        if str_field(&body, "Name").is_none() {
            return call.err(400, "MissingParameter", "Name is required.");
        }
        let (id, seq) = self.next_id("group");
        self.groups.insert(id.clone(), Group { seq, born: Instant::now(), body });
        call.ok(json!({"Id": id}))
    }

    fn create_asset(&mut self, call: &Call<'_>, body: Value) -> Reply {
        let Some(group_id) = str_field(&body, "GroupId").map(str::to_string) else {
            return call.err(400, "MissingParameter", "GroupId is required.");
        };
        if !self.groups.contains_key(&group_id) {
            return call.err(404, "NotFound", &format!("The asset group {group_id} does not exist."));
        }
        if str_field(&body, "URL").is_none() {
            return call.err(400, "MissingParameter", "URL is required.");
        }
        if !str_field(&body, "AssetType").is_some_and(|t| ASSET_TYPES.contains(&t)) {
            return call.err(400, "InvalidParameter", "AssetType must be Image, Video or Audio.");
        }
        let (id, seq) = self.next_id("asset");
        self.assets.insert(id.clone(), Asset { seq, born: Instant::now(), group_id, body, forced: None });
        call.ok(json!({"Id": id}))
    }

    fn visible(cfg: &FakeArkConfig, born: Instant) -> bool {
        born.elapsed().as_millis() as u64 >= cfg.asset_invisible_ms
    }

    fn group_json(id: &str, g: &Group) -> Value {
        json!({
            "Id": id,
            "Name": g.body.get("Name").cloned().unwrap_or(Value::Null),
            "Description": g.body.get("Description").cloned().unwrap_or(json!("")),
            "GroupType": g.body.get("GroupType").cloned().unwrap_or(json!("AIGC")),
            "ProjectName": g.body.get("ProjectName").cloned().unwrap_or(json!("default")),
        })
    }

    fn asset_json(&self, cfg: &FakeArkConfig, id: &str, a: &Asset) -> Value {
        json!({
            "Id": id,
            "Name": a.body.get("Name").cloned().unwrap_or(json!("")),
            "GroupId": a.group_id,
            "URL": a.body.get("URL").cloned().unwrap_or(Value::Null),
            "AssetType": a.body.get("AssetType").cloned().unwrap_or(Value::Null),
            "Status": a.status(cfg),
            "ProjectName": a.body.get("ProjectName").cloned().unwrap_or(json!("default")),
        })
    }

    fn get_group(&self, call: &Call<'_>, body: &Value) -> Reply {
        let id = str_field(body, "Id").unwrap_or_default();
        match self.groups.get(id).filter(|g| Self::visible(call.cfg, g.born)) {
            Some(g) => call.ok(Self::group_json(id, g)),
            None => call.err(404, "NotFound", &format!("The asset group {id} does not exist.")),
        }
    }

    fn get_asset(&self, call: &Call<'_>, body: &Value) -> Reply {
        let id = str_field(body, "Id").unwrap_or_default();
        match self.assets.get(id).filter(|a| Self::visible(call.cfg, a.born)) {
            Some(a) => call.ok(self.asset_json(call.cfg, id, a)),
            None => call.err(404, "NotFound", &format!("The asset {id} does not exist.")),
        }
    }

    /// Group ids named by `Filter.GroupIds` / `Filter.GroupId`, if any.
    fn group_filter(body: &Value) -> Option<Vec<String>> {
        let f = body.get("Filter")?;
        let mut ids: Vec<String> = f
            .get("GroupIds")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        if let Some(g) = f.get("GroupId").and_then(Value::as_str) {
            ids.push(g.to_string());
        }
        (f.get("GroupIds").is_some() || f.get("GroupId").is_some()).then_some(ids)
    }

    fn page(call: &Call<'_>, body: &Value, items: Vec<Value>) -> Reply {
        let num = body.get("PageNumber").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
        let size = body.get("PageSize").and_then(Value::as_u64).unwrap_or(10).clamp(1, 100) as usize;
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip((num - 1) * size).take(size).collect();
        call.ok(json!({"Items": page, "TotalCount": total, "PageNumber": num, "PageSize": size}))
    }

    fn list_groups(&self, call: &Call<'_>, body: &Value) -> Reply {
        let only = Self::group_filter(body);
        let mut groups: Vec<(&String, &Group)> =
            self.groups.iter().filter(|(id, _)| only.as_ref().is_none_or(|o| o.contains(id))).collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.1.seq));
        let items = groups.into_iter().map(|(id, g)| Self::group_json(id, g)).collect();
        Self::page(call, body, items)
    }

    fn list_assets(&self, call: &Call<'_>, body: &Value) -> Reply {
        let only = Self::group_filter(body);
        let mut assets: Vec<(&String, &Asset)> =
            self.assets.iter().filter(|(_, a)| only.as_ref().is_none_or(|o| o.contains(&a.group_id))).collect();
        assets.sort_by_key(|a| std::cmp::Reverse(a.1.seq));
        let items = assets.into_iter().map(|(id, a)| self.asset_json(call.cfg, id, a)).collect();
        Self::page(call, body, items)
    }

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
