//! Which asset Action a request names. The query string is the whole contract:
//! `?Action=<one of six>&Version=2024-01-01`. `Update*` / `Delete*` are refused with 403 rather
//! than 400 so a customer learns the Action exists but is not offered here; everything else that
//! is not one of the six (or another Version) is a plain 400.

use crate::error::{ApiError, ErrorCode};
use crate::query::decode;
use crate::ACTION_VERSION;

/// The six Actions the platform offers: create and read, never update or delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    CreateAssetGroup,
    CreateAsset,
    ListAssetGroups,
    ListAssets,
    GetAssetGroup,
    GetAsset,
}

/// Echoed Action names are capped so a giant query cannot be mirrored back in full.
const MAX_ECHO_LEN: usize = 128;

impl Action {
    pub const ALL: [Action; 6] = [
        Action::CreateAssetGroup,
        Action::CreateAsset,
        Action::ListAssetGroups,
        Action::ListAssets,
        Action::GetAssetGroup,
        Action::GetAsset,
    ];

    /// The name as it appears in the query string and in `ResponseMetadata.Action`.
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

    /// The exact name, case-sensitive as the upstream gateway is.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// List Actions answer with `Result.Items`, which the edge scopes to the tenant.
    pub fn is_list(self) -> bool {
        matches!(self, Action::ListAssetGroups | Action::ListAssets)
    }

    /// Create Actions mint an id the edge records as owned by the tenant.
    pub fn is_create(self) -> bool {
        matches!(self, Action::CreateAssetGroup | Action::CreateAsset)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn allowed_list() -> String {
    Action::ALL.map(Action::name).join(", ")
}

/// `Update*` / `Delete*` in any case: the write Actions the platform does not open.
fn is_write_action(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("update") || lower.starts_with("delete")
}

/// Parses the query string of `POST /volcark/?Action=X&Version=2024-01-01` (without the `?`;
/// keys and values percent-decoded, `+` as space). The error carries the Action name to echo in
/// `ResponseMetadata` (`""` when there is none).
///
/// Order of checks: a missing Action (400), then `Update*`/`Delete*` (403, whatever the Version,
/// because the Action is refused regardless), then an unknown Action (400), then the Version
/// (400). A parameter given twice is refused: two Actions in one request are ambiguous. Other
/// parameters are ignored; the edge builds the upstream query itself and never forwards them.
pub fn parse_action(query: Option<&str>) -> Result<Action, (ApiError, String)> {
    let mut action: Option<String> = None;
    let mut version: Option<String> = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let fail = |e: ApiError, action: &Option<String>| Err((e, echo_name(action.as_deref().unwrap_or(""))));
        let Some(key) = decode(raw_key) else {
            let e = ApiError::invalid("query", "the query string is not valid UTF-8 percent-encoding");
            return fail(e, &action);
        };
        if key != "Action" && key != "Version" {
            continue;
        }
        let Some(value) = decode(raw_value) else {
            let e = ApiError::invalid(&key, format!("{key} is not valid UTF-8 percent-encoding"));
            return fail(e, &action);
        };
        let taken = if key == "Action" { action.is_some() } else { version.is_some() };
        if taken {
            let e = ApiError::invalid(&key, format!("{key} is given more than once; give it once"));
            return fail(e, &action);
        }
        if key == "Action" {
            action = Some(value);
        } else {
            version = Some(value);
        }
    }

    let name = action.unwrap_or_default();
    let echo = echo_name(&name);
    if name.is_empty() {
        let e =
            ApiError::invalid("Action", format!("the Action query parameter is required; one of: {}", allowed_list()));
        return Err((e, echo));
    }
    if is_write_action(&name) {
        let e = ApiError::with_param(
            ErrorCode::ForbiddenAction,
            "Action",
            format!(
                "Action {echo} is not offered: asset groups and assets cannot be updated or deleted here; \
                 only these Actions are allowed: {}",
                allowed_list()
            ),
        );
        return Err((e, echo));
    }
    let Some(parsed) = Action::parse(&name) else {
        let e =
            ApiError::invalid("Action", format!("Action {echo:?} is not supported; use one of: {}", allowed_list()));
        return Err((e, echo));
    };
    match version.as_deref() {
        Some(ACTION_VERSION) => Ok(parsed),
        None | Some("") => Err((
            ApiError::invalid(
                "Version",
                format!("the Version query parameter is required and must be {ACTION_VERSION}"),
            ),
            echo,
        )),
        Some(other) => Err((
            ApiError::invalid(
                "Version",
                format!("Version {:?} is not supported; use {ACTION_VERSION}", echo_name(other)),
            ),
            echo,
        )),
    }
}

fn echo_name(name: &str) -> String {
    name.chars().take(MAX_ECHO_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<Action, (ApiError, String)> {
        parse_action(Some(s))
    }

    fn err(s: &str) -> (ApiError, String) {
        q(s).unwrap_err()
    }

    #[test]
    fn the_six_actions_parse() {
        for a in Action::ALL {
            assert_eq!(q(&format!("Action={a}&Version=2024-01-01")), Ok(a));
            assert_eq!(q(&format!("Version=2024-01-01&Action={}", a.name())), Ok(a));
            assert_eq!(Action::parse(a.name()), Some(a));
        }
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            ["CreateAssetGroup", "CreateAsset", "ListAssetGroups", "ListAssets", "GetAssetGroup", "GetAsset"]
        );
    }

    #[test]
    fn list_and_create_predicates() {
        let lists: Vec<Action> = Action::ALL.into_iter().filter(|a| a.is_list()).collect();
        assert_eq!(lists, [Action::ListAssetGroups, Action::ListAssets]);
        let creates: Vec<Action> = Action::ALL.into_iter().filter(|a| a.is_create()).collect();
        assert_eq!(creates, [Action::CreateAssetGroup, Action::CreateAsset]);
        assert!(!Action::GetAsset.is_list() && !Action::GetAsset.is_create());
        assert!(!Action::GetAssetGroup.is_list() && !Action::GetAssetGroup.is_create());
    }

    #[test]
    fn percent_encoding_and_extra_parameters() {
        assert_eq!(q("Action=Get%41sset&Version=2024%2D01%2D01"), Ok(Action::GetAsset));
        assert_eq!(q("%41ction=GetAsset&Version=2024-01-01"), Ok(Action::GetAsset));
        assert_eq!(q("&&Action=GetAsset&&Version=2024-01-01&x=1&flag&y=%zz"), Ok(Action::GetAsset));
        let (e, name) = err("Action=Get%zzAsset&Version=2024-01-01");
        assert_eq!((e.code, e.param.as_deref(), name.as_str()), (ErrorCode::InvalidRequest, Some("Action"), ""));
        let (e, _) = err("Action=%FF&Version=2024-01-01");
        assert_eq!(e.param.as_deref(), Some("Action"));
        let (e, name) = err("Action=GetAsset&Version=2024-01-0%");
        assert_eq!((e.param.as_deref(), name.as_str()), (Some("Version"), "GetAsset"));
        let (e, _) = err("%zz=1&Action=GetAsset&Version=2024-01-01");
        assert_eq!(e.param.as_deref(), Some("query"));
    }

    #[test]
    fn update_and_delete_are_forbidden_and_name_the_allowed_six() {
        for name in
            ["UpdateAsset", "DeleteAsset", "DeleteAssetGroup", "UpdateAssetGroup", "deleteAsset", "UPDATEX", "Delete"]
        {
            for query in [
                format!("Action={name}&Version=2024-01-01"),
                format!("Action={name}"),
                format!("Action={name}&Version=1"),
            ] {
                let (e, echoed) = err(&query);
                assert_eq!(e.code, ErrorCode::ForbiddenAction, "{query}");
                assert_eq!(e.status(), 403);
                assert_eq!(e.param.as_deref(), Some("Action"));
                assert_eq!(echoed, name);
                assert!(e.message.contains(name), "{}", e.message);
                for a in Action::ALL {
                    assert!(e.message.contains(a.name()), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn missing_or_unknown_action_is_invalid() {
        for (query, echoed) in [
            ("Version=2024-01-01", ""),
            ("Action=&Version=2024-01-01", ""),
            ("Action", ""),
            ("", ""),
            ("Action=ListModels&Version=2024-01-01", "ListModels"),
            ("Action=getasset&Version=2024-01-01", "getasset"),
            ("Action=GetAsset%20&Version=2024-01-01", "GetAsset "),
            ("Action=Get+Asset&Version=2024-01-01", "Get Asset"),
            ("action=GetAsset&Version=2024-01-01", ""),
        ] {
            let (e, name) = err(query);
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{query}");
            assert_eq!(e.param.as_deref(), Some("Action"), "{query}");
            assert_eq!(name, echoed, "{query}");
            assert!(e.message.contains("CreateAssetGroup"), "{}", e.message);
        }
        let (e, name) = parse_action(None).unwrap_err();
        assert_eq!((e.code, e.param.as_deref(), name.as_str()), (ErrorCode::InvalidRequest, Some("Action"), ""));
    }

    #[test]
    fn version_must_be_2024_01_01() {
        for query in [
            "Action=GetAsset",
            "Action=GetAsset&Version=",
            "Action=GetAsset&Version=2023-01-01",
            "Action=GetAsset&Version=2024-01-01%20",
            "Action=GetAsset&version=2024-01-01",
        ] {
            let (e, name) = err(query);
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{query}");
            assert_eq!(e.param.as_deref(), Some("Version"), "{query}");
            assert_eq!(name, "GetAsset", "the valid Action is echoed");
            assert!(e.message.contains("2024-01-01"), "{}", e.message);
        }
    }

    #[test]
    fn repeated_parameters_are_ambiguous() {
        let (e, _) = err("Action=GetAsset&Action=DeleteAsset&Version=2024-01-01");
        assert_eq!((e.code, e.param.as_deref()), (ErrorCode::InvalidRequest, Some("Action")));
        let (e, name) = err("Action=GetAsset&Version=2024-01-01&Version=2024-01-01");
        assert_eq!((e.code, e.param.as_deref()), (ErrorCode::InvalidRequest, Some("Version")));
        assert_eq!(name, "GetAsset");
    }

    #[test]
    fn echoed_names_are_bounded() {
        let long = "X".repeat(10_000);
        let (e, name) = err(&format!("Action={long}&Version=2024-01-01"));
        assert_eq!(name.len(), MAX_ECHO_LEN);
        assert!(e.message.len() < 1_000);
        let (_, name) = err(&format!("Action=Delete{long}"));
        assert_eq!(name.len(), MAX_ECHO_LEN);
    }
}
