//! Asset Action bodies (SPEC §4.6): `model` picks the channel and goes, `URL`/`Url`/`url`
//! become `URL`, `ProjectName` is always the channel's, `Moderation.Strategy=Skip` is refused,
//! list Actions default `Filter.GroupType` to AIGC and are scoped to the tenant's own groups.

use super::action::Action;
use crate::error::{ApiError, ErrorCode};
use crate::model::{parse_model, PublicModel};
use serde_json::{Map, Value};

const ASSET_TYPES: [&str; 3] = ["Image", "Video", "Audio"];
const URL_KEYS: [&str; 3] = ["URL", "Url", "url"];

/// A validated Action request; the ids it names are for the shell's ownership checks.
#[derive(Debug, Clone)]
pub struct AssetRequest {
    pub action: Action,
    pub model: PublicModel,
    /// The asset URL to download (CreateAsset), still to be judged like a callback URL.
    pub url: Option<Value>,
    /// `GroupId` (CreateAsset; ListAssets top level or in `Filter`).
    pub group_id: Option<String>,
    /// `Filter.GroupIds` of list Actions.
    pub group_ids: Vec<String>,
    /// `Id` of Get Actions.
    pub id: Option<String>,
    body: Map<String, Value>,
}

fn string_field(body: &Map<String, Value>, key: &str, required: bool) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) if required => Err(ApiError::invalid(key, format!("{key} is required"))),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(key, format!("{key} must be a non-empty string"))),
    }
}

fn page_field(body: &Map<String, Value>, key: &str, max: u64) -> Result<(), ApiError> {
    match body.get(key) {
        None => Ok(()),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(()),
            _ => Err(ApiError::invalid(key, format!("{key} must be an integer from 1 to {max}"))),
        },
    }
}

/// Validates and rewrites an Action body.
pub fn parse_asset_request(action: Action, raw: &[u8]) -> Result<AssetRequest, ApiError> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(mut body) = value else {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "the request body must be a JSON object"));
    };
    let model = parse_model(body.get("model"))?;
    body.remove("model");

    if let Some(m) = body.get("Moderation") {
        let strategy = m.get("Strategy").and_then(Value::as_str).unwrap_or_default();
        if strategy.eq_ignore_ascii_case("skip") {
            return Err(ApiError::with_param(
                ErrorCode::ModerationSkipNotAllowed,
                "Moderation.Strategy",
                "Moderation.Strategy=Skip is not allowed: every asset goes through moderation",
            ));
        }
    }

    // URL wins over Url over url; the others are dropped so the upstream sees one.
    let url = URL_KEYS.iter().find_map(|k| body.get(*k).filter(|v| !v.is_null()).cloned());
    for k in URL_KEYS {
        body.remove(k);
    }
    if let Some(u) = &url {
        body.insert("URL".into(), u.clone());
    }

    let mut req = AssetRequest { action, model, url: None, group_id: None, group_ids: Vec::new(), id: None, body: Map::new() };
    match action {
        Action::GetAsset | Action::GetAssetGroup => req.id = string_field(&body, "Id", true)?,
        Action::CreateAssetGroup => {
            string_field(&body, "Name", true)?;
            match body.get("GroupType") {
                None => {}
                Some(Value::String(t)) if t == "AIGC" => {}
                Some(_) => return Err(ApiError::invalid("GroupType", "GroupType must be \"AIGC\"")),
            }
        }
        Action::CreateAsset => {
            req.group_id = string_field(&body, "GroupId", true)?;
            if url.is_none() {
                return Err(ApiError::invalid("URL", "URL is required: a public https or http address the asset is downloaded from"));
            }
            req.url = url;
            match body.get("AssetType").and_then(Value::as_str) {
                Some(t) if ASSET_TYPES.contains(&t) => {}
                _ => return Err(ApiError::invalid("AssetType", format!("AssetType must be one of: {}", ASSET_TYPES.join(", ")))),
            }
        }
        Action::ListAssets | Action::ListAssetGroups => {
            let filter = match body.get_mut("Filter") {
                None => {
                    body.insert("Filter".into(), Value::Object(Map::new()));
                    body.get_mut("Filter")
                }
                Some(f @ Value::Object(_)) => Some(f),
                Some(_) => return Err(ApiError::invalid("Filter", "Filter must be an object")),
            };
            if let Some(Value::Object(f)) = filter {
                f.entry("GroupType").or_insert_with(|| Value::String("AIGC".into()));
                match f.get("GroupIds") {
                    None => {}
                    Some(Value::Array(ids)) => {
                        for id in ids {
                            match id.as_str() {
                                Some(s) if !s.is_empty() => req.group_ids.push(s.to_string()),
                                _ => return Err(ApiError::invalid("Filter.GroupIds", "Filter.GroupIds must be an array of group ids")),
                            }
                        }
                    }
                    Some(_) => return Err(ApiError::invalid("Filter.GroupIds", "Filter.GroupIds must be an array of group ids")),
                }
                req.group_id = string_field(f, "GroupId", false).map_err(|_| ApiError::invalid("Filter.GroupId", "Filter.GroupId must be a group id"))?;
            }
            if let Some(top) = string_field(&body, "GroupId", false)? {
                if req.group_id.as_ref().is_some_and(|g| *g != top) {
                    return Err(ApiError::invalid("GroupId", "GroupId and Filter.GroupId name different groups"));
                }
                req.group_id = Some(top);
            }
            page_field(&body, "PageNumber", u64::from(u32::MAX))?;
            page_field(&body, "PageSize", 100)?;
        }
    }
    req.body = body;
    Ok(req)
}

impl AssetRequest {
    /// The body to sign and send: the channel's `ProjectName`, and for list Actions with
    /// `scope`, `Filter.GroupIds` = exactly the tenant's groups (the upstream list is never
    /// asked unscoped).
    pub fn upstream_body(&self, project: &str, scope: Option<&[String]>) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("ProjectName".into(), Value::String(project.to_string()));
        if let (Some(scope), true) = (scope, self.action.is_list()) {
            body.remove("GroupId");
            if let Some(Value::Object(f)) = body.get_mut("Filter") {
                f.remove("GroupId");
                f.insert("GroupIds".into(), Value::Array(scope.iter().cloned().map(Value::String).collect()));
            }
        }
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }
}

/// Keys that name the upstream account; removed from Action answers at any depth.
fn is_internal_key(k: &str) -> bool {
    let norm: String = k.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    matches!(
        norm.as_str(),
        "projectname" | "projectid" | "accountid" | "accesskeyid" | "accesskey" | "secretaccesskey" | "apikey" | "model"
    )
}

fn strip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !is_internal_key(k));
            m.values_mut().for_each(strip);
        }
        Value::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

/// Removes internal fields from an Action answer; `ResponseMetadata` is left as the upstream
/// sent it.
pub fn rewrite_action_response(v: &mut Value) {
    if let Value::Object(top) = v {
        for (k, child) in top.iter_mut() {
            if k != "ResponseMetadata" {
                strip(child);
            }
        }
        top.retain(|k, _| !is_internal_key(k));
    }
}

/// Keeps only the list items the tenant owns. The query was already scoped to the tenant's
/// groups, so normally nothing is dropped; when something is, `TotalCount` shrinks with it.
pub fn filter_list_items(v: &mut Value, owned: &dyn Fn(&str) -> bool) {
    let Some(result) = v.get_mut("Result").and_then(Value::as_object_mut) else { return };
    let mut dropped = 0u64;
    if let Some(Value::Array(items)) = result.get_mut("Items") {
        let before = items.len();
        items.retain(|item| item.get("Id").and_then(Value::as_str).is_some_and(owned));
        dropped = (before - items.len()) as u64;
    }
    if dropped > 0 {
        if let Some(total) = result.get("TotalCount").and_then(Value::as_u64) {
            result.insert("TotalCount".into(), Value::from(total.saturating_sub(dropped)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(action: Action, v: Value) -> Result<AssetRequest, ApiError> {
        parse_asset_request(action, v.to_string().as_bytes())
    }

    fn sent(r: &AssetRequest, scope: Option<&[String]>) -> Value {
        serde_json::from_slice(&r.upstream_body("proj-main", scope)).unwrap()
    }

    #[test]
    fn model_goes_project_is_the_channels() {
        let r = parse(Action::CreateAssetGroup, json!({"model": "dreamina-seedance-2-0-fast", "Name": "g", "ProjectName": "theirs"})).unwrap();
        assert_eq!(r.model, PublicModel::Fast);
        let b = sent(&r, None);
        assert!(b.get("model").is_none());
        assert_eq!(b["ProjectName"], "proj-main");
        assert_eq!(parse(Action::GetAsset, json!({"Id": "a"})).unwrap_err().param.as_deref(), Some("model"));
        assert_eq!(parse(Action::GetAsset, json!({"model": "seedance-2-0", "Id": "a"})).unwrap_err().param.as_deref(), Some("model"));
    }

    #[test]
    fn url_precedence() {
        let base = json!({"model": "dreamina-seedance-2-0", "GroupId": "group-1", "AssetType": "Image"});
        let with = |extra: Value| {
            let mut b = base.clone();
            b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            b
        };
        let r = parse(Action::CreateAsset, with(json!({"url": "u3", "Url": "u2", "URL": "u1"}))).unwrap();
        assert_eq!(sent(&r, None)["URL"], "u1");
        let r = parse(Action::CreateAsset, with(json!({"url": "u3", "Url": "u2"}))).unwrap();
        let b = sent(&r, None);
        assert_eq!(b["URL"], "u2");
        assert!(b.get("Url").is_none() && b.get("url").is_none());
        assert_eq!(r.url, Some(json!("u2")));
        assert_eq!(parse(Action::CreateAsset, base.clone()).unwrap_err().param.as_deref(), Some("URL"));
        assert_eq!(parse(Action::CreateAsset, with(json!({"URL": "u", "AssetType": "Gif"}))).unwrap_err().param.as_deref(), Some("AssetType"));
    }

    #[test]
    fn moderation_skip_in_any_case() {
        for s in ["Skip", "skip", "SKIP", "sKiP"] {
            let e = parse(Action::CreateAssetGroup, json!({"model": "dreamina-seedance-2-0", "Name": "g", "Moderation": {"Strategy": s}})).unwrap_err();
            assert_eq!(e.code, ErrorCode::ModerationSkipNotAllowed);
        }
        assert!(parse(Action::CreateAssetGroup, json!({"model": "dreamina-seedance-2-0", "Name": "g", "Moderation": {"Strategy": "Default"}})).is_ok());
    }

    #[test]
    fn lists_default_group_type_and_are_scoped() {
        let r = parse(Action::ListAssets, json!({"model": "dreamina-seedance-2-0", "GroupId": "group-1", "Filter": {"GroupId": "group-1"}, "PageSize": 20})).unwrap();
        assert_eq!(r.group_id.as_deref(), Some("group-1"));
        let b = sent(&r, Some(&["group-1".to_string()]));
        assert_eq!(b["Filter"]["GroupType"], "AIGC");
        assert_eq!(b["Filter"]["GroupIds"], json!(["group-1"]));
        assert!(b["Filter"].get("GroupId").is_none() && b.get("GroupId").is_none());
        let r = parse(Action::ListAssetGroups, json!({"model": "dreamina-seedance-2-0", "Filter": {"GroupType": "AIGC", "GroupIds": ["g1", "g2"]}})).unwrap();
        assert_eq!(r.group_ids, vec!["g1", "g2"]);
        for bad in [json!({"Filter": 1}), json!({"Filter": {"GroupIds": "g"}}), json!({"PageSize": 101}), json!({"PageNumber": 0}),
                    json!({"GroupId": "a", "Filter": {"GroupId": "b"}})] {
            let mut b = bad.clone();
            b["model"] = json!("dreamina-seedance-2-0");
            assert!(parse(Action::ListAssets, b).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_lose_internal_fields_and_foreign_items() {
        let mut v = json!({"ResponseMetadata": {"RequestId": "r", "Action": "ListAssets"},
            "Result": {"Items": [{"Id": "a1", "ProjectName": "p", "model": "m"}, {"Id": "b1", "ProjectName": "p"}], "TotalCount": 2}});
        filter_list_items(&mut v, &|id| id.starts_with('a'));
        rewrite_action_response(&mut v);
        assert_eq!(v["Result"]["TotalCount"], 1);
        assert_eq!(v["Result"]["Items"], json!([{"Id": "a1"}]));
        assert_eq!(v["ResponseMetadata"]["Action"], "ListAssets");
    }
}
