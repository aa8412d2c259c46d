//! Asset Action bodies and answers: validate and rewrite what the customer sends,
//! strip what the upstream answers, and keep list answers to the tenant's own items.
//!
//! Keys are matched the way the upstream reads them, not only byte for byte. BytePlus's OpenAPI
//! decodes JSON case-insensitively (Go `encoding/json`, Unicode simple folding, so `ſ` is `s`
//! and the Kelvin sign is `k`), and the edge serializes keys sorted, so a second spelling such as
//! `"id"` next to `"Id"` would reach the upstream *after* the checked one and win. Every key the
//! edge checks or injects is therefore collapsed to one canonical spelling first: the value the
//! edge checked is the only one the upstream can see.

use super::action::Action;
use crate::error::{ApiError, ErrorCode};
use crate::json::{drop_nulls, kind, same_key};
use crate::model::{parse_model, PublicModel};
use crate::redact::{is_internal_key, strip_internal};
use serde_json::{Map, Value};

/// The only group type the platform offers (the page's examples and list default).
pub const GROUP_TYPE: &str = "AIGC";
/// `AssetType` values the page allows, spelled as the upstream expects.
pub const ASSET_TYPES: [&str; 3] = ["Image", "Video", "Audio"];
/// Largest `PageSize` a list Action accepts.
pub const MAX_PAGE_SIZE: i64 = 100;
/// The page size the edge asks for when a list Action does not say.
pub const DEFAULT_PAGE_SIZE: i64 = 10;
/// More group ids than this in one filter is a mistake, not a query.
const MAX_GROUP_IDS: usize = 1000;
/// `URL` spellings the page accepts, best first; any other spelling is dropped when one of these
/// is present.
const URL_SPELLINGS: [&str; 3] = ["URL", "Url", "url"];

/// A validated asset Action request, ready to be signed for a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRequest {
    pub action: Action,
    /// The public model: picks the channel; never forwarded.
    pub model: PublicModel,
    /// The asset URL (`URL`, `Url` or `url`), trimmed when it is a string. The shell checks its
    /// host before a `CreateAsset` goes upstream.
    pub url: Option<Value>,
    /// `GroupId` of `CreateAsset`; `Filter.GroupId` (or a top-level `GroupId`) of list Actions.
    pub group_id: Option<String>,
    /// `Filter.GroupIds` of list Actions, without repeats and without `group_id`.
    pub group_ids: Vec<String>,
    /// `Id` of `GetAsset` / `GetAssetGroup`.
    pub id: Option<String>,
    /// The rewritten body: `model`, every `ProjectName` spelling, and duplicate spellings gone.
    body: Map<String, Value>,
}

/// Validates and rewrites an asset Action body.
///
/// The body must be a JSON object with `model` (a public name or alias). `Moderation.Strategy`
/// set to `Skip` in any case is refused with its own code before anything else is judged,
/// because it is a policy refusal, not a typo. Per Action: `Get*` need a string `Id`;
/// `CreateAsset` needs `GroupId`, `URL` and `AssetType` (Image, Video or Audio);
/// `CreateAssetGroup` takes `GroupType` only as `AIGC`; list Actions take an object `Filter`
/// (`Filter.GroupType` defaults to `AIGC`), `PageNumber` >= 1 and `PageSize` 1..=100. Fields the
/// edge does not know pass through unchanged.
pub fn parse_asset_request(action: Action, raw: &[u8]) -> Result<AssetRequest, ApiError> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(mut body) = value else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the request body must be a JSON object, not {}", kind(&value)),
        ));
    };
    drop_nulls(&mut body);
    check_moderation(&body)?;
    let model = parse_model(take_key(&mut body, "model", &[]).as_ref())?;
    // The channel's ProjectName is injected on the way out; the customer's never travels.
    take_key(&mut body, "ProjectName", &[]);

    let url = match take_key(&mut body, "URL", &URL_SPELLINGS) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Value::String(s.trim().to_string())),
        Some(other) => Some(other),
    };
    if let Some(u) = &url {
        body.insert("URL".into(), u.clone());
    }
    for key in ["Name", "Description"] {
        optional_string(&mut body, key)?;
    }

    let mut req = AssetRequest { action, model, url, group_id: None, group_ids: Vec::new(), id: None, body };
    match action {
        Action::GetAsset => {
            req.id = Some(required_id(&mut req.body, "Id", "the id of the asset to get")?);
        }
        Action::GetAssetGroup => {
            req.id = Some(required_id(&mut req.body, "Id", "the id of the asset group to get")?);
        }
        Action::CreateAsset => parse_create_asset(&mut req)?,
        Action::CreateAssetGroup => {
            if let Some(t) = optional_string(&mut req.body, "GroupType")? {
                check_group_type("GroupType", &t)?;
            }
        }
        Action::ListAssets | Action::ListAssetGroups => parse_list(&mut req)?,
    }
    Ok(req)
}

fn parse_create_asset(req: &mut AssetRequest) -> Result<(), ApiError> {
    req.group_id = Some(required_id(&mut req.body, "GroupId", "the id of the asset group that receives the asset")?);
    match &req.url {
        None => {
            return Err(ApiError::invalid(
                "URL",
                "URL is required: a publicly downloadable http(s) URL of the image, video or audio (Url and url are accepted too)",
            ))
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(ApiError::invalid("URL", "URL must not be empty"))
        }
        Some(Value::String(_)) => {}
        Some(other) => {
            return Err(ApiError::invalid("URL", format!("URL must be a string holding a URL, not {}", kind(other))))
        }
    }
    let allowed = ASSET_TYPES.join(", ");
    match optional_string(&mut req.body, "AssetType")? {
        None => Err(ApiError::invalid("AssetType", format!("AssetType is required: one of {allowed}"))),
        Some(t) if ASSET_TYPES.contains(&t.as_str()) => Ok(()),
        Some(t) => Err(ApiError::invalid(
            "AssetType",
            format!("AssetType {t:?} is not allowed; use one of: {allowed} (exactly this case)"),
        )),
    }
}

fn parse_list(req: &mut AssetRequest) -> Result<(), ApiError> {
    let mut filter = match take_key(&mut req.body, "Filter", &[]) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(f)) => f,
        Some(other) => {
            return Err(ApiError::invalid(
                "Filter",
                format!("Filter must be an object such as {{\"GroupType\": \"AIGC\"}}, not {}", kind(&other)),
            ))
        }
    };
    match take_key(&mut filter, "GroupType", &[]) {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) => check_group_type("Filter.GroupType", &t)?,
        Some(other) => {
            return Err(ApiError::invalid(
                "Filter.GroupType",
                format!("Filter.GroupType must be the string {GROUP_TYPE:?}, not {}", kind(&other)),
            ))
        }
    }
    filter.insert("GroupType".into(), Value::String(GROUP_TYPE.into()));

    let mut group_id = optional_id(&mut filter, "GroupId", "Filter.GroupId")?;
    let mut group_ids: Vec<String> = Vec::new();
    match take_key(&mut filter, "GroupIds", &[]) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if items.len() > MAX_GROUP_IDS {
                return Err(ApiError::invalid(
                    "Filter.GroupIds",
                    format!("Filter.GroupIds takes at most {MAX_GROUP_IDS} ids"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if !s.trim().is_empty() => group_ids.push(s.clone()),
                    _ => {
                        return Err(ApiError::invalid(
                            "Filter.GroupIds",
                            format!("Filter.GroupIds[{i}] must be a non-empty string (an asset group id)"),
                        ))
                    }
                }
            }
            filter.insert("GroupIds".into(), Value::Array(items));
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "Filter.GroupIds",
                format!("Filter.GroupIds must be an array of asset group ids, not {}", kind(&other)),
            ))
        }
    }
    // The page's ListAssets example also names the group at the top level; it must be owned too.
    if let Some(top) = optional_id(&mut req.body, "GroupId", "GroupId")? {
        match &group_id {
            None => group_id = Some(top),
            Some(g) if *g == top => {}
            Some(_) => group_ids.push(top),
        }
    }
    let mut seen: Vec<String> = group_id.iter().cloned().collect();
    group_ids.retain(|g| {
        let new = !seen.contains(g);
        if new {
            seen.push(g.clone());
        }
        new
    });
    req.body.insert("Filter".into(), Value::Object(filter));
    req.group_id = group_id;
    req.group_ids = group_ids;

    check_page(&mut req.body, "PageNumber", 1, i64::from(i32::MAX))?;
    check_page(&mut req.body, "PageSize", 1, MAX_PAGE_SIZE)?;
    // The upstream requires both on ListAssets; the customer may leave them out, as on the page.
    req.body.entry("PageNumber").or_insert(Value::from(1));
    req.body.entry("PageSize").or_insert(Value::from(DEFAULT_PAGE_SIZE));
    Ok(())
}

impl AssetRequest {
    /// The body to sign and send: `ProjectName` set to the channel's `project` (whatever the
    /// customer sent is already gone), `model` removed, `URL` normalized. For list Actions with
    /// `scope = Some(ids)` the upstream query is limited to those groups — the tenant's own —
    /// because the upstream list is account-wide: `Filter.GroupIds = ids`, `Filter.GroupId`
    /// removed, and a top-level `GroupId` kept only if it is one of `ids`. The caller must not
    /// send an empty scope (it answers an empty list itself); answers are filtered by
    /// [`filter_list_items`] regardless.
    pub fn upstream_body(&self, project: &str, scope: Option<&[String]>) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("ProjectName".into(), Value::String(project.to_string()));
        if let (true, Some(ids)) = (self.action.is_list(), scope) {
            let ids_json = Value::Array(ids.iter().cloned().map(Value::String).collect());
            let filter = body.entry("Filter").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(f) = filter {
                f.remove("GroupId");
                f.insert("GroupIds".into(), ids_json);
            } else {
                *filter = serde_json::json!({"GroupType": GROUP_TYPE, "GroupIds": ids_json});
            }
            let top_in_scope = match body.get("GroupId") {
                Some(Value::String(g)) => ids.contains(g),
                _ => false,
            };
            if !top_in_scope {
                body.remove("GroupId");
            }
        }
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }

    /// The rewritten body as a value (for audit logs and tests); no `ProjectName` yet.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }
}

/// Removes internal fields from an Action answer in place, at any depth, by the one policy of
/// [`crate::redact`]. `ResponseMetadata` is the protocol envelope (`RequestId`, `Action`,
/// `Version`, `Service`, `Region`, `Error`) and is left exactly as the upstream wrote it; an
/// error naming the channel's account never reaches this point (see [`crate::redact::channel_fault`]).
pub fn rewrite_action_response(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| k == "ResponseMetadata" || !is_internal_key(k));
            for (k, child) in map.iter_mut() {
                if k != "ResponseMetadata" {
                    strip_internal(child);
                }
            }
        }
        other => strip_internal(other),
    }
}

/// Keeps only the `Result.Items[]` whose `Id` satisfies `owned` (items without a string `Id` are
/// dropped too). The edge already scopes the upstream query to the tenant's groups, so normally
/// nothing is dropped and the upstream's `TotalCount` and paging stand. When items are dropped,
/// `TotalCount` is reduced by the number dropped (never below what the page still holds), so the
/// count never reveals another tenant's items.
pub fn filter_list_items(v: &mut Value, owned: &dyn Fn(&str) -> bool) {
    let Some(result) = v.get_mut("Result").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(Value::Array(items)) = result.get_mut("Items") else {
        return;
    };
    let before = items.len();
    items.retain(|item| item.get("Id").and_then(Value::as_str).is_some_and(owned));
    let kept = items.len();
    let dropped = before - kept;
    if dropped == 0 {
        return;
    }
    if let Some(total) = result.get_mut("TotalCount") {
        let reduced = match total.as_u64() {
            Some(t) => t.saturating_sub(dropped as u64).max(kept as u64),
            None => kept as u64,
        };
        *total = Value::from(reduced);
    }
}

/// Removes every spelling of `canonical` from `map` and returns the value the upstream should
/// get: the first present of `prefer`, else the exact canonical spelling, else the first other
/// spelling in key order.
fn take_key(map: &mut Map<String, Value>, canonical: &str, prefer: &[&str]) -> Option<Value> {
    let spellings: Vec<String> = map.keys().filter(|k| same_key(k, canonical)).cloned().collect();
    let chosen = prefer
        .iter()
        .chain(std::iter::once(&canonical))
        .find(|p| spellings.iter().any(|s| s == *p))
        .map(|p| p.to_string())
        .or_else(|| spellings.first().cloned());
    let mut out = None;
    for s in spellings {
        let v = map.remove(&s);
        if chosen.as_deref() == Some(s.as_str()) {
            out = v;
        }
    }
    out
}

/// A top-level string field: canonicalized, put back under its canonical name, type-checked.
fn optional_string(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match take_key(map, key, &[]) {
        None => Ok(None),
        Some(Value::Null) => {
            map.insert(key.into(), Value::Null);
            Ok(None)
        }
        Some(Value::String(s)) => {
            map.insert(key.into(), Value::String(s.clone()));
            Ok(Some(s))
        }
        Some(other) => Err(ApiError::invalid(key, format!("{key} must be a string, not {}", kind(&other)))),
    }
}

/// An id field that may be absent; present, it is a non-empty string. `param` names it on the wire.
fn optional_id(map: &mut Map<String, Value>, key: &str, param: &str) -> Result<Option<String>, ApiError> {
    match take_key(map, key, &[]) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            map.insert(key.into(), Value::String(s.clone()));
            Ok(Some(s))
        }
        Some(Value::String(_)) => Err(ApiError::invalid(param, format!("{param} must not be empty"))),
        Some(other) => {
            Err(ApiError::invalid(param, format!("{param} must be a string (an asset group id), not {}", kind(&other))))
        }
    }
}

fn required_id(map: &mut Map<String, Value>, key: &str, what: &str) -> Result<String, ApiError> {
    match take_key(map, key, &[]) {
        None | Some(Value::Null) => Err(ApiError::invalid(key, format!("{key} is required: {what}"))),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            map.insert(key.into(), Value::String(s.clone()));
            Ok(s)
        }
        Some(Value::String(_)) => Err(ApiError::invalid(key, format!("{key} must not be empty: {what}"))),
        Some(other) => Err(ApiError::invalid(key, format!("{key} must be a string ({what}), not {}", kind(&other)))),
    }
}

fn check_group_type(param: &str, t: &str) -> Result<(), ApiError> {
    if t == GROUP_TYPE {
        Ok(())
    } else {
        Err(ApiError::invalid(
            param,
            format!("{param} {t:?} is not allowed; the only group type offered is {GROUP_TYPE:?}"),
        ))
    }
}

fn check_page(map: &mut Map<String, Value>, key: &str, min: i64, max: i64) -> Result<(), ApiError> {
    match take_key(map, key, &[]) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => {
                map.insert(key.into(), v);
                Ok(())
            }
            _ => Err(ApiError::invalid(key, format!("{key} must be an integer from {min} to {max}; got {v}"))),
        },
    }
}

/// `Moderation.Strategy` = `Skip` in any case (and any spelling of the keys) is refused: assets
/// are always moderated on this platform.
fn check_moderation(body: &Map<String, Value>) -> Result<(), ApiError> {
    let skip = body
        .iter()
        .filter(|(k, _)| same_key(k, "Moderation"))
        .filter_map(|(_, m)| m.as_object())
        .flat_map(|m| m.iter())
        .filter(|(k, _)| same_key(k, "Strategy"))
        .any(|(_, s)| s.as_str().is_some_and(|s| same_key(s.trim(), "skip")));
    if skip {
        return Err(ApiError::with_param(
            ErrorCode::ModerationSkipNotAllowed,
            "Moderation.Strategy",
            "Moderation.Strategy=Skip is not allowed: every asset is moderated; omit Moderation.Strategy or use another strategy",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const M: &str = "dreamina-seedance-2-0-fast";

    fn parse(action: Action, v: Value) -> Result<AssetRequest, ApiError> {
        parse_asset_request(action, v.to_string().as_bytes())
    }

    fn ok(action: Action, v: Value) -> AssetRequest {
        parse(action, v).unwrap()
    }

    fn err(action: Action, v: Value) -> ApiError {
        parse(action, v).unwrap_err()
    }

    fn sent(r: &AssetRequest, scope: Option<&[String]>) -> Value {
        serde_json::from_slice(&r.upstream_body("proj-main", scope)).unwrap()
    }

    fn assert_invalid(e: &ApiError, param: &str) {
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{e:?}");
        assert_eq!(e.param.as_deref(), Some(param), "{e:?}");
        assert!(e.message.contains(param.rsplit('.').next().unwrap()), "{}", e.message);
    }

    fn create_asset(extra: Value) -> Value {
        let mut b =
            json!({"model": M, "GroupId": "group-1", "URL": "https://public.example/a.png", "AssetType": "Image"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    }

    #[test]
    fn body_must_be_a_json_object() {
        for raw in [&b""[..], b"{", b"[]", b"\"x\"", b"5", b"null"] {
            let e = parse_asset_request(Action::ListAssets, raw).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{raw:?}");
        }
    }

    #[test]
    fn model_is_required_normalized_and_removed() {
        for a in Action::ALL {
            assert_invalid(&err(a, json!({})), "model");
            assert_invalid(&err(a, json!({"model": "seedance-2-0"})), "model");
            assert_invalid(&err(a, json!({"model": 7})), "model");
        }
        let r = ok(Action::ListAssetGroups, json!({"model": "dreamina-seedance-2-0-fast-260128"}));
        assert_eq!(r.model, PublicModel::Fast);
        let r = ok(Action::ListAssetGroups, json!({"MODEL": "dreamina-seedance-2-0-filter-off", "Model": "x"}));
        assert_eq!(r.model, PublicModel::StandardFilterOff, "any spelling is the same key upstream");
        let s = sent(&r, None);
        assert!(s.as_object().unwrap().keys().all(|k| !k.eq_ignore_ascii_case("model")), "{s}");
        let r = ok(Action::ListAssetGroups, json!({"model": M, "Model": "bogus"}));
        assert_eq!(r.model, PublicModel::Fast, "the exact spelling wins");
    }

    #[test]
    fn project_name_is_always_the_channels() {
        let r = ok(
            Action::CreateAssetGroup,
            json!({"model": M, "Name": "g", "ProjectName": "someone-else", "projectname": "x", "PROJECTNAME": "y", "Projectname": "z"}),
        );
        let s = sent(&r, None);
        let keys: Vec<&String> =
            s.as_object().unwrap().keys().filter(|k| k.eq_ignore_ascii_case("projectname")).collect();
        assert_eq!(keys, ["ProjectName"]);
        assert_eq!(s["ProjectName"], "proj-main");
        assert_eq!(s["Name"], "g");
        assert!(!r.body().contains_key("ProjectName"));
        // Unicode spellings the upstream decoder folds the same way are collapsed too.
        let r = ok(Action::CreateAsset, create_asset(json!({"A\u{17F}\u{17F}etType": "Document"})));
        assert_eq!(sent(&r, None)["AssetType"], "Image");
        assert_eq!(sent(&r, None).as_object().unwrap().len(), 4, "GroupId, URL, AssetType, ProjectName");
    }

    #[test]
    fn moderation_skip_is_refused_in_any_case_for_every_action() {
        for a in Action::ALL {
            for strategy in ["Skip", "skip", "SKIP", " sKiP ", "\u{017F}kip"] {
                for key in ["Moderation", "moderation", "MODERATION"] {
                    for inner in ["Strategy", "strategy", "\u{017F}trategy"] {
                        let e = err(a, json!({"model": M, key: {inner: strategy}}));
                        assert_eq!(e.code, ErrorCode::ModerationSkipNotAllowed, "{a} {key}.{inner}={strategy}");
                        assert_eq!(e.status(), 400);
                        assert_eq!(e.param.as_deref(), Some("Moderation.Strategy"));
                    }
                }
            }
            // Checked before anything else: even a body that is wrong in other ways.
            let e = err(a, json!({"Moderation": {"Strategy": "Skip"}}));
            assert_eq!(e.code, ErrorCode::ModerationSkipNotAllowed);
        }
        // Other strategies, other shapes, and Skip elsewhere pass through.
        let r = ok(Action::CreateAssetGroup, json!({"model": M, "Moderation": {"Strategy": "Default"}}));
        assert_eq!(sent(&r, None)["Moderation"]["Strategy"], "Default");
        ok(Action::CreateAssetGroup, json!({"model": M, "Moderation": "Skip"}));
        ok(Action::CreateAssetGroup, json!({"model": M, "Moderation": {"Strategy": ["Skip"]}}));
        ok(Action::CreateAssetGroup, json!({"model": M, "Moderation": {"Strategy": "Skipped"}}));
        ok(Action::CreateAssetGroup, json!({"model": M, "Tags": {"Strategy": "Skip"}}));
        ok(Action::CreateAssetGroup, json!({"model": M, "Moderation": {"Inner": {"Strategy": "Skip"}}}));
    }

    #[test]
    fn url_spellings_collapse_to_url_with_precedence() {
        let cases = [
            (json!({"URL": "https://a/1", "Url": "https://a/2", "url": "https://a/3"}), "https://a/1"),
            (json!({"Url": "https://a/2", "url": "https://a/3"}), "https://a/2"),
            (json!({"url": "https://a/3", "uRL": "https://a/4"}), "https://a/3"),
            (json!({"uRL": "https://a/4"}), "https://a/4"),
            (json!({"URL": "  https://a/5\n"}), "https://a/5"),
        ];
        for (urls, want) in cases {
            let mut b = json!({"model": M, "GroupId": "group-1", "AssetType": "Video"});
            for (k, v) in urls.as_object().unwrap() {
                b[k] = v.clone();
            }
            let r = ok(Action::CreateAsset, b);
            assert_eq!(r.url, Some(json!(want)));
            let s = sent(&r, None);
            assert_eq!(s["URL"], want);
            let spellings = s.as_object().unwrap().keys().filter(|k| k.eq_ignore_ascii_case("url")).count();
            assert_eq!(spellings, 1, "{s}");
        }
    }

    #[test]
    fn create_asset_rules() {
        let r = ok(Action::CreateAsset, create_asset(json!({"Name": "front.png"})));
        assert_eq!(r.group_id.as_deref(), Some("group-1"));
        assert_eq!(r.url, Some(json!("https://public.example/a.png")));
        assert_eq!((r.id.as_deref(), r.group_ids.len()), (None, 0));
        let s = sent(&r, None);
        assert_eq!(
            s,
            json!({"GroupId": "group-1", "URL": "https://public.example/a.png", "AssetType": "Image", "Name": "front.png", "ProjectName": "proj-main"})
        );

        for t in ASSET_TYPES {
            ok(Action::CreateAsset, create_asset(json!({ "AssetType": t })));
        }
        for bad in ["image", "IMAGE", "Document", ""] {
            let e = err(Action::CreateAsset, create_asset(json!({ "AssetType": bad })));
            assert_invalid(&e, "AssetType");
            assert!(e.message.contains("Image, Video, Audio"), "{}", e.message);
        }
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"AssetType": null}))), "AssetType");
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"AssetType": 1}))), "AssetType");
        // GroupId: required, a non-empty string.
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"GroupId": null}))), "GroupId");
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"GroupId": ""}))), "GroupId");
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"GroupId": "  "}))), "GroupId");
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"GroupId": ["group-1"]}))), "GroupId");
        // URL: required, a non-empty string (its host is the shell's to check).
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"URL": null}))), "URL");
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"URL": "   "}))), "URL");
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"URL": 5}))), "URL");
        // Name must be a string when given.
        assert_invalid(&err(Action::CreateAsset, create_asset(json!({"Name": 5}))), "Name");
    }

    #[test]
    fn create_asset_group_id_spellings_cannot_smuggle_a_second_group() {
        let r = ok(Action::CreateAsset, create_asset(json!({"groupid": "group-victim"})));
        assert_eq!(r.group_id.as_deref(), Some("group-1"));
        let s = sent(&r, None);
        assert_eq!(s["GroupId"], "group-1");
        assert!(s.get("groupid").is_none(), "{s}");
        let r = ok(Action::CreateAsset, create_asset(json!({"GroupId": null, "groupId": "group-2"})));
        assert_eq!(r.group_id.as_deref(), Some("group-2"));
        assert_eq!(sent(&r, None)["GroupId"], "group-2");
    }

    #[test]
    fn create_asset_group_rules() {
        let r = ok(
            Action::CreateAssetGroup,
            json!({"model": M, "Name": "campaign", "GroupType": "AIGC", "Description": "d"}),
        );
        assert_eq!(
            sent(&r, None),
            json!({"Name": "campaign", "GroupType": "AIGC", "Description": "d", "ProjectName": "proj-main"})
        );
        let r = ok(Action::CreateAssetGroup, json!({"model": M, "Name": "campaign"}));
        assert!(sent(&r, None).get("GroupType").is_none(), "not invented on create");
        for bad in [json!("aigc"), json!("Private"), json!(""), json!(1)] {
            assert_invalid(&err(Action::CreateAssetGroup, json!({"model": M, "GroupType": bad})), "GroupType");
        }
        let r = ok(Action::CreateAssetGroup, json!({"model": M, "grouptype": "AIGC"}));
        assert_eq!(sent(&r, None)["GroupType"], "AIGC");
        assert_invalid(&err(Action::CreateAssetGroup, json!({"model": M, "Description": []})), "Description");
    }

    #[test]
    fn get_actions_need_a_string_id() {
        for a in [Action::GetAsset, Action::GetAssetGroup] {
            let r = ok(a, json!({"model": M, "Id": "asset-1"}));
            assert_eq!(r.id.as_deref(), Some("asset-1"));
            assert_eq!(sent(&r, None), json!({"Id": "asset-1", "ProjectName": "proj-main"}));
            for bad in [
                json!({"model": M}),
                json!({"model": M, "Id": null}),
                json!({"model": M, "Id": ""}),
                json!({"model": M, "Id": 12}),
                json!({"model": M, "Id": {"x": 1}}),
            ] {
                assert_invalid(&err(a, bad), "Id");
            }
            // A second spelling cannot reach the upstream next to the checked one.
            let r = ok(a, json!({"model": M, "Id": "asset-mine", "id": "asset-victim", "ID": "asset-v2"}));
            assert_eq!(r.id.as_deref(), Some("asset-mine"));
            assert_eq!(sent(&r, None), json!({"Id": "asset-mine", "ProjectName": "proj-main"}));
            let r = ok(a, json!({"model": M, "id": "asset-2"}));
            assert_eq!(r.id.as_deref(), Some("asset-2"));
            assert_eq!(sent(&r, None)["Id"], "asset-2");
        }
    }

    #[test]
    fn list_defaults_group_type_and_validates_filter() {
        for a in [Action::ListAssets, Action::ListAssetGroups] {
            let r = ok(a, json!({"model": M}));
            assert_eq!((r.group_id.as_deref(), r.group_ids.len()), (None, 0));
            assert_eq!(
                sent(&r, None),
                json!({"Filter": {"GroupType": "AIGC"}, "PageNumber": 1, "PageSize": DEFAULT_PAGE_SIZE, "ProjectName": "proj-main"})
            );
            let r = ok(a, json!({"model": M, "PageNumber": 3, "PageSize": 100}));
            assert_eq!(
                (sent(&r, None)["PageNumber"].as_i64(), sent(&r, None)["PageSize"].as_i64()),
                (Some(3), Some(100))
            );
            let r = ok(a, json!({"model": M, "Filter": null}));
            assert_eq!(sent(&r, None)["Filter"]["GroupType"], "AIGC");
            let r = ok(a, json!({"model": M, "Filter": {"Name": "x", "groupType": "AIGC"}}));
            assert_eq!(sent(&r, None)["Filter"], json!({"GroupType": "AIGC", "Name": "x"}));
            for bad in [json!("AIGC"), json!([]), json!(1)] {
                assert_invalid(&err(a, json!({"model": M, "Filter": bad})), "Filter");
            }
            for bad in [json!("aigc"), json!("Other"), json!(1)] {
                assert_invalid(&err(a, json!({"model": M, "Filter": {"GroupType": bad}})), "Filter.GroupType");
            }
            let r = ok(a, json!({"model": M, "Filter": {"GroupType": null}}));
            assert_eq!(sent(&r, None)["Filter"]["GroupType"], "AIGC");
        }
    }

    #[test]
    fn list_paging_boundaries() {
        for a in [Action::ListAssets, Action::ListAssetGroups] {
            for (n, size) in [(1, 1), (1, 100), (2_147_483_647, 20)] {
                let r = ok(a, json!({"model": M, "PageNumber": n, "PageSize": size}));
                let s = sent(&r, None);
                assert_eq!((s["PageNumber"].as_i64(), s["PageSize"].as_i64()), (Some(n), Some(size)));
            }
            for bad in [json!(0), json!(-1), json!(1.5), json!(1.0), json!("1"), json!(true), json!(2_147_483_648_i64)]
            {
                assert_invalid(&err(a, json!({"model": M, "PageNumber": bad})), "PageNumber");
            }
            for bad in [json!(0), json!(101), json!(-5), json!(20.0), json!("20")] {
                let e = err(a, json!({"model": M, "PageSize": bad}));
                assert_invalid(&e, "PageSize");
                assert!(e.message.contains("1 to 100"), "{}", e.message);
            }
            let r = ok(a, json!({"model": M, "pagesize": 5}));
            assert_eq!(sent(&r, None)["PageSize"], 5);
        }
        // Paging fields mean nothing to other Actions and pass through untouched.
        let r = ok(Action::GetAsset, json!({"model": M, "Id": "a", "PageSize": 0}));
        assert_eq!(sent(&r, None)["PageSize"], 0);
    }

    #[test]
    fn list_group_ids_are_collected_for_the_ownership_check() {
        let r = ok(Action::ListAssets, json!({"model": M, "Filter": {"GroupId": "group-1"}}));
        assert_eq!((r.group_id.as_deref(), r.group_ids.clone()), (Some("group-1"), vec![]));
        let r =
            ok(Action::ListAssetGroups, json!({"model": M, "Filter": {"GroupIds": ["group-1", "group-2", "group-1"]}}));
        assert_eq!((r.group_id.as_deref(), r.group_ids.clone()), (None, vec!["group-1".to_string(), "group-2".into()]));
        // The page's example names the group at the top level and in Filter.
        let r = ok(
            Action::ListAssets,
            json!({"model": M, "GroupId": "group-1", "Filter": {"GroupType": "AIGC", "GroupId": "group-1"}}),
        );
        assert_eq!((r.group_id.as_deref(), r.group_ids.len()), (Some("group-1"), 0));
        let r = ok(Action::ListAssets, json!({"model": M, "GroupId": "group-top"}));
        assert_eq!(r.group_id.as_deref(), Some("group-top"));
        // Every group named anywhere is reported, so the caller checks each one.
        let r = ok(
            Action::ListAssets,
            json!({"model": M, "GroupId": "group-3", "Filter": {"GroupId": "group-1", "GroupIds": ["group-2", "group-1"], "groupids": ["group-x"]}}),
        );
        assert_eq!(r.group_id.as_deref(), Some("group-1"));
        assert_eq!(r.group_ids, ["group-2", "group-3"]);
        let r = ok(Action::ListAssets, json!({"model": M, "Filter": {"groupid": "group-9"}}));
        assert_eq!(r.group_id.as_deref(), Some("group-9"));
        for bad in [json!(""), json!(5), json!(["g"])] {
            assert_invalid(&err(Action::ListAssets, json!({"model": M, "Filter": {"GroupId": bad}})), "Filter.GroupId");
        }
        assert_invalid(&err(Action::ListAssets, json!({"model": M, "GroupId": 5})), "GroupId");
        for bad in [json!("group-1"), json!([1]), json!([""]), json!({"a": 1})] {
            assert_invalid(
                &err(Action::ListAssetGroups, json!({"model": M, "Filter": {"GroupIds": bad}})),
                "Filter.GroupIds",
            );
        }
        let many: Vec<String> = (0..=MAX_GROUP_IDS).map(|i| format!("group-{i}")).collect();
        assert_invalid(&err(Action::ListAssets, json!({"model": M, "Filter": {"GroupIds": many}})), "Filter.GroupIds");
    }

    #[test]
    fn scoped_list_bodies_name_only_the_scope() {
        let scope = vec!["group-1".to_string(), "group-2".to_string()];
        let r = ok(
            Action::ListAssets,
            json!({"model": M, "GroupId": "group-1", "Filter": {"GroupId": "group-1", "Name": "n"}, "PageSize": 10}),
        );
        let s = sent(&r, Some(&scope));
        assert_eq!(
            s,
            json!({"GroupId": "group-1", "Filter": {"GroupType": "AIGC", "GroupIds": ["group-1", "group-2"], "Name": "n"}, "PageNumber": 1, "PageSize": 10, "ProjectName": "proj-main"})
        );
        // A top-level group outside the scope never travels; nor does any spelling of the keys.
        let r = ok(
            Action::ListAssetGroups,
            json!({"model": M, "GroupId": "group-victim", "filter": {"groupIds": ["group-victim"], "GROUPID": "group-victim"}}),
        );
        let s = sent(&r, Some(&scope));
        assert_eq!(
            s,
            json!({"Filter": {"GroupType": "AIGC", "GroupIds": ["group-1", "group-2"]}, "PageNumber": 1, "PageSize": DEFAULT_PAGE_SIZE, "ProjectName": "proj-main"})
        );
        assert!(!s.to_string().contains("victim"));
        // Unscoped, the customer's filter goes as validated.
        let s = sent(&r, None);
        assert_eq!(s["Filter"]["GroupIds"], json!(["group-victim"]));
        // Scope means nothing to other Actions.
        let r = ok(Action::GetAsset, json!({"model": M, "Id": "asset-1"}));
        assert_eq!(sent(&r, Some(&scope)), json!({"Id": "asset-1", "ProjectName": "proj-main"}));
    }

    #[test]
    fn unknown_fields_pass_through() {
        let r = ok(
            Action::CreateAssetGroup,
            json!({"model": M, "Name": "g", "Tags": [{"Key": "a", "Value": "b"}], "Extra": 1}),
        );
        let s = sent(&r, None);
        assert_eq!(s["Tags"], json!([{"Key": "a", "Value": "b"}]));
        assert_eq!(s["Extra"], 1);
    }

    #[test]
    fn responses_lose_internal_fields_but_keep_metadata() {
        let meta = json!({"RequestId": "r-1", "Action": "GetAsset", "Version": "2024-01-01", "Service": "ark", "Region": "ap-southeast-1"});
        let mut v = json!({
            "ResponseMetadata": meta.clone(),
            "ProjectName": "proj-main",
            "Result": {
                "Id": "asset-1", "Name": "front.png", "GroupId": "group-1", "URL": "https://x/a.png",
                "AssetType": "Image", "Status": "Active", "ProjectName": "proj-main", "project_name": "p",
                "AccountId": "2100000001", "TopAccountId": "1", "AccessKeyId": "AK", "SecretAccessKey": "SK",
                "model": "dreamina-seedance-2-0-260128", "Trn": "trn:ark:ap-southeast-1:2100000001:asset/asset-1",
                "Detail": {"ProjectName": "deep", "Size": 10, "Nested": [{"access_key": "x", "Ok": true}]},
                "EndpointId": "ep-1", "CreateTime": "2026-01-01T00:00:00Z"
            }
        });
        rewrite_action_response(&mut v);
        assert_eq!(v["ResponseMetadata"], meta);
        assert!(v.get("ProjectName").is_none());
        assert_eq!(
            v["Result"],
            json!({"Id": "asset-1", "Name": "front.png", "GroupId": "group-1", "URL": "https://x/a.png",
                   "AssetType": "Image", "Status": "Active", "Detail": {"Size": 10, "Nested": [{"Ok": true}]},
                   "CreateTime": "2026-01-01T00:00:00Z"})
        );
        // Errors keep their envelope; list items are cleaned one by one.
        let mut e = json!({"ResponseMetadata": {"RequestId": "r", "Action": "GetAsset", "Error": {"Code": "NotFound", "Message": "m"}}});
        let before = e.clone();
        rewrite_action_response(&mut e);
        assert_eq!(e, before);
        let mut l =
            json!({"Result": {"Items": [{"Id": "a", "ProjectName": "p"}, {"Id": "b", "Model": "m"}], "TotalCount": 2}});
        rewrite_action_response(&mut l);
        assert_eq!(l, json!({"Result": {"Items": [{"Id": "a"}, {"Id": "b"}], "TotalCount": 2}}));
        let mut other = json!(["x", {"ProjectName": "p"}]);
        rewrite_action_response(&mut other);
        assert_eq!(other, json!(["x", {}]));
    }

    #[test]
    fn lists_keep_only_owned_items_and_fix_the_count() {
        let owned = |id: &str| id.starts_with("mine-");
        let mut v = json!({"ResponseMetadata": {"Action": "ListAssets"}, "Result": {
            "Items": [{"Id": "mine-1"}, {"Id": "theirs-1"}, {"Id": "mine-2"}, {"Name": "no id"}, {"Id": 5}, "x"],
            "TotalCount": 40, "PageNumber": 1, "PageSize": 6}});
        filter_list_items(&mut v, &owned);
        assert_eq!(v["Result"]["Items"], json!([{"Id": "mine-1"}, {"Id": "mine-2"}]));
        assert_eq!(v["Result"]["TotalCount"], 36, "reduced by the four dropped");
        assert_eq!(v["Result"]["PageSize"], 6);
        assert_eq!(v["ResponseMetadata"]["Action"], "ListAssets");

        // Nothing dropped: the upstream's count and paging stand.
        let mut v = json!({"Result": {"Items": [{"Id": "mine-1"}], "TotalCount": 57}});
        filter_list_items(&mut v, &owned);
        assert_eq!(v["Result"]["TotalCount"], 57);

        // Never below what the page holds, never negative, repaired when not a count.
        let mut v = json!({"Result": {"Items": [{"Id": "mine-1"}, {"Id": "x"}, {"Id": "y"}], "TotalCount": 2}});
        filter_list_items(&mut v, &owned);
        assert_eq!(v["Result"]["TotalCount"], 1);
        let mut v = json!({"Result": {"Items": [{"Id": "x"}], "TotalCount": 0}});
        filter_list_items(&mut v, &owned);
        assert_eq!(v["Result"], json!({"Items": [], "TotalCount": 0}));
        let mut v = json!({"Result": {"Items": [{"Id": "x"}], "TotalCount": "9"}});
        filter_list_items(&mut v, &owned);
        assert_eq!(v["Result"]["TotalCount"], 0);
        let mut v = json!({"Result": {"Items": [{"Id": "x"}]}});
        filter_list_items(&mut v, &owned);
        assert_eq!(v["Result"], json!({"Items": []}));

        // Answers without a list are left alone.
        for mut v in [
            json!({"ResponseMetadata": {"Error": {"Code": "x"}}}),
            json!({"Result": {"Items": null}}),
            json!({"Result": 1}),
            json!(null),
        ] {
            let before = v.clone();
            filter_list_items(&mut v, &owned);
            assert_eq!(v, before);
        }
    }

    #[test]
    fn key_folding_matches_the_upstream_decoder() {
        assert!(same_key("Id", "Id") && same_key("id", "Id") && same_key("ID", "Id"));
        assert!(same_key("\u{017F}trategy", "Strategy"));
        assert!(same_key("Ris\u{212A}", "risk"));
        assert!(!same_key("Idx", "Id") && !same_key("I", "Id") && !same_key("Íd", "Id"));
        let mut m = json!({"url": 3, "Url": 2, "uRl": 4}).as_object().unwrap().clone();
        assert_eq!(take_key(&mut m, "URL", &URL_SPELLINGS), Some(json!(2)));
        assert!(m.is_empty());
        let mut m = json!({"b": 1, "B": 2, "c": 3}).as_object().unwrap().clone();
        assert_eq!(take_key(&mut m, "B", &[]), Some(json!(2)));
        assert_eq!(m, *json!({"c": 3}).as_object().unwrap());
        let mut m = json!({"ID": 1, "iD": 2}).as_object().unwrap().clone();
        assert_eq!(take_key(&mut m, "Id", &[]), Some(json!(1)), "first in key order when no exact spelling");
        assert_eq!(take_key(&mut m, "Id", &[]), None);
    }
}
