//! Which asset Action a request is (SPEC §4.6): six are served, `Update*` / `Delete*` are
//! forbidden, everything else — and any Version but 2024-01-01 — is a bad request.

use crate::error::{ApiError, ErrorCode};
use crate::ACTION_VERSION;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    CreateAssetGroup,
    CreateAsset,
    ListAssetGroups,
    ListAssets,
    GetAssetGroup,
    GetAsset,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::CreateAssetGroup,
        Action::CreateAsset,
        Action::ListAssetGroups,
        Action::ListAssets,
        Action::GetAssetGroup,
        Action::GetAsset,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::CreateAssetGroup => "CreateAssetGroup",
            Action::CreateAsset => "CreateAsset",
            Action::ListAssetGroups => "ListAssetGroups",
            Action::ListAssets => "ListAssets",
            Action::GetAssetGroup => "GetAssetGroup",
            Action::GetAsset => "GetAsset",
        }
    }

    pub fn is_list(self) -> bool {
        matches!(self, Action::ListAssetGroups | Action::ListAssets)
    }

    pub fn is_create(self) -> bool {
        matches!(self, Action::CreateAssetGroup | Action::CreateAsset)
    }
}

fn allowed() -> String {
    Action::ALL.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
}

/// Percent-decodes one query component (`+` stays `+`).
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads `Action` and `Version` from the query string. The error carries the Action name to
/// echo in `ResponseMetadata` ("" when there is none).
pub fn parse_action(query: Option<&str>) -> Result<Action, (ApiError, String)> {
    let (mut action, mut version) = (None, None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v).ok_or_else(|| (ApiError::invalid(k, format!("{k} is not valid percent-encoding")), String::new()))?;
        match k {
            "Action" => action = Some(v),
            "Version" => version = Some(v),
            _ => {}
        }
    }
    let Some(name) = action.filter(|a| !a.is_empty()) else {
        return Err((ApiError::invalid("Action", format!("the Action query parameter is required; one of: {}", allowed())), String::new()));
    };
    if name.starts_with("Update") || name.starts_with("Delete") {
        return Err((
            ApiError::with_param(
                ErrorCode::ForbiddenAction,
                "Action",
                format!("{name} is not available: assets and groups cannot be changed or deleted here; allowed Actions: {}", allowed()),
            ),
            name,
        ));
    }
    let Some(found) = Action::ALL.into_iter().find(|a| a.name() == name) else {
        return Err((ApiError::invalid("Action", format!("unknown Action {name:?}; allowed: {}", allowed())), name));
    };
    match version.as_deref() {
        Some(ACTION_VERSION) => Ok(found),
        Some(v) => Err((ApiError::invalid("Version", format!("Version {v:?} is not supported; use {ACTION_VERSION}")), name)),
        None => Err((ApiError::invalid("Version", format!("the Version query parameter is required: {ACTION_VERSION}")), name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_allowed_the_rest_refused() {
        for a in Action::ALL {
            assert_eq!(parse_action(Some(&format!("Action={}&Version=2024-01-01", a.name()))).unwrap(), a);
        }
        for (q, code, name) in [
            ("Action=UpdateAsset&Version=2024-01-01", ErrorCode::ForbiddenAction, "UpdateAsset"),
            ("Action=DeleteAssetGroup&Version=2024-01-01", ErrorCode::ForbiddenAction, "DeleteAssetGroup"),
            ("Action=DeleteAsset", ErrorCode::ForbiddenAction, "DeleteAsset"),
            ("Action=ListModels&Version=2024-01-01", ErrorCode::InvalidRequest, "ListModels"),
            ("Version=2024-01-01", ErrorCode::InvalidRequest, ""),
            ("Action=GetAsset&Version=2023-01-01", ErrorCode::InvalidRequest, "GetAsset"),
            ("Action=GetAsset", ErrorCode::InvalidRequest, "GetAsset"),
            ("Action=getasset&Version=2024-01-01", ErrorCode::InvalidRequest, "getasset"),
            ("Action=%zz", ErrorCode::InvalidRequest, ""),
        ] {
            let (e, n) = parse_action(Some(q)).unwrap_err();
            assert_eq!((e.code, n.as_str()), (code, name), "{q}");
            assert!(!e.message.is_empty());
        }
        assert!(parse_action(None).is_err());
        assert!(Action::ListAssets.is_list() && !Action::GetAsset.is_list() && Action::CreateAsset.is_create());
    }
}
