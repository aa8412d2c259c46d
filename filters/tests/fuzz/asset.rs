//! Fuzzing the asset Action filters (the Action rules): `parse_asset_request` for every Action and
//! `parse_action` for the query. The upstream decodes keys case-insensitively, so bodies carry
//! every checked key in several spellings (`ſ` and the Kelvin sign too), other tenants' group ids
//! under every group key, foreign `ProjectName`s, and `Moderation.Strategy` = Skip in disguise.
//! On the accept path: the body the channel receives names the channel's project, never a
//! model, exactly one spelling of each checked key holding the checked value, and — for lists —
//! no group outside the scope the shell computed; Skip is never accepted.

use crate::gen;
use proptest::prelude::*;
use proptest::sample::select;
use seedance_filters::asset::body::{ASSET_TYPES, MAX_PAGE_SIZE};
use seedance_filters::asset::{parse_action, parse_asset_request, Action, AssetRequest};
use seedance_filters::{ErrorCode, PublicModel};
use serde_json::{json, Map, Value};

const PROJECT: &str = "proj-channel";
const MINE: [&str; 2] = ["group-mine-1", "group-mine-2"];
const VICTIM: &str = "group-victim";
const MODELS: [&str; 6] = [
    "dreamina-seedance-2-0",
    "dreamina-seedance-2-0-fast",
    "dreamina-seedance-2-0-filter-off",
    "dreamina-seedance-2-0-fast-filter-off",
    "dreamina-seedance-2-0-260128",
    "dreamina-seedance-2-0-fast-260128",
];

// ---------------------------------------------------------------------------------------------
// Generators

fn action() -> BoxedStrategy<Action> {
    select(Action::ALL.to_vec()).boxed()
}

/// A group id: the tenant's, another tenant's, or junk.
fn group_id() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => select(MINE.to_vec()).prop_map(Value::from),
        2 => Just(json!(VICTIM)),
        1 => gen::asset_id().prop_map(Value::from),
        1 => gen::json_value(),
    ]
    .boxed()
}

fn id_value() -> BoxedStrategy<Value> {
    prop_oneof![8 => gen::asset_id().prop_map(Value::from), 1 => gen::json_value()].boxed()
}

fn int(range: std::ops::RangeInclusive<i64>) -> BoxedStrategy<Value> {
    prop_oneof![8 => range.prop_map(Value::from), 1 => any::<i64>().prop_map(Value::from), 1 => gen::json_value()]
        .boxed()
}

/// `(spelling, value)` for a checked key, the canonical spelling most of the time.
fn member(canonical: &'static str, value: BoxedStrategy<Value>) -> BoxedStrategy<(String, Value)> {
    (prop_oneof![4 => Just(canonical.to_string()), 1 => gen::spelling(canonical)], value).boxed()
}

/// `Moderation`: another strategy most of the time, Skip in disguise sometimes.
fn moderation() -> BoxedStrategy<(String, Value)> {
    let strategy = prop_oneof![
        4 => select(vec!["Default", "Strict", "Skipped", "Ski p", ""]).prop_map(str::to_string),
        2 => (gen::ws(), gen::spelling("Skip"), gen::ws()).prop_map(|(a, s, b)| format!("{a}{s}{b}")),
    ];
    let inner = prop_oneof![
        6 => (gen::spelling("Strategy"), strategy, prop::option::of((gen::key(), gen::json_value())))
            .prop_map(|(k, s, extra)| {
                let mut m = Map::new();
                m.extend(extra);
                m.insert(k, Value::String(s));
                Value::Object(m)
            }),
        1 => gen::json_value(),
    ];
    (gen::spelling("Moderation"), inner).boxed()
}

fn filter() -> BoxedStrategy<Value> {
    let members = prop::collection::vec(
        prop_oneof![
            2 => member("GroupType", prop_oneof![8 => Just(json!("AIGC")), 1 => gen::json_value()].boxed()),
            3 => member("GroupId", group_id()),
            3 => member(
                "GroupIds",
                prop_oneof![
                    8 => prop::collection::vec(group_id(), 0..4).prop_map(Value::Array),
                    1 => gen::json_value(),
                ]
                .boxed(),
            ),
            1 => (gen::key(), gen::json_value()),
        ],
        0..4,
    );
    prop_oneof![8 => members.prop_map(|m| Value::Object(m.into_iter().collect())), 1 => gen::json_value()].boxed()
}

/// Members an Action's body is about, mostly valid.
fn action_members(action: Action) -> BoxedStrategy<Vec<(String, Value)>> {
    let none = || Just(Vec::<(String, Value)>::new()).boxed();
    let opt = |s: BoxedStrategy<(String, Value)>| prop_oneof![1 => none(), 4 => s.prop_map(|m| vec![m])].boxed();
    match action {
        Action::GetAsset | Action::GetAssetGroup => prop::collection::vec(member("Id", id_value()), 1..3).boxed(),
        Action::CreateAsset => (
            prop::collection::vec(member("GroupId", group_id()), 1..3),
            prop::collection::vec(
                (
                    prop_oneof![4 => select(vec!["URL", "Url", "url"]).prop_map(str::to_string), 1 => gen::spelling("URL")],
                    prop_oneof![8 => gen::url_string().prop_map(Value::from), 1 => gen::json_value()],
                ),
                1..3,
            ),
            opt(member(
                "AssetType",
                prop_oneof![8 => select(ASSET_TYPES.to_vec()).prop_map(Value::from), 1 => gen::json_value()].boxed(),
            )),
        )
            .prop_map(|(g, u, t)| [g, u, t].concat())
            .boxed(),
        Action::CreateAssetGroup => {
            opt(member("GroupType", prop_oneof![8 => Just(json!("AIGC")), 1 => gen::json_value()].boxed()))
        }
        Action::ListAssets | Action::ListAssetGroups => (
            opt(member("Filter", filter())),
            opt(member("GroupId", group_id())),
            opt(member("PageNumber", int(1..=i64::from(i32::MAX)))),
            opt(member("PageSize", int(1..=MAX_PAGE_SIZE))),
        )
            .prop_map(|(a, b, c, d)| [a, b, c, d].concat())
            .boxed(),
    }
}

/// Members any Action may carry: names, foreign projects, models, moderation, noise, nulls.
fn common_member() -> BoxedStrategy<(String, Value)> {
    prop_oneof![
        2 => member("Name", prop_oneof![8 => gen::nasty_string().prop_map(Value::from), 1 => gen::json_value()].boxed()),
        1 => member("Description", gen::nasty_string().prop_map(Value::from).boxed()),
        3 => (gen::spelling("ProjectName"), prop_oneof![Just(json!("proj-victim")), gen::json_value()]),
        1 => (gen::variant("model"), select(MODELS.to_vec()).prop_map(Value::from)),
        2 => moderation(),
        3 => (gen::key(), gen::json_value()),
        1 => (gen::key(), Just(Value::Null)),
    ]
    .boxed()
}

fn model() -> BoxedStrategy<Value> {
    prop_oneof![12 => select(MODELS.to_vec()).prop_map(Value::from), 1 => gen::json_value()].boxed()
}

/// A body for `action` as raw JSON text.
fn body_for(action: Action) -> BoxedStrategy<String> {
    (
        model(),
        action_members(action),
        prop::collection::vec(common_member(), 0..4),
        gen::raw_mutation(
            vec!["model", "ProjectName", "GroupId", "Id", "URL", "Filter", "Moderation"],
            prop_oneof![model(), group_id(), gen::json_value()].boxed(),
        ),
    )
        .prop_map(|(model, members, common, raw)| {
            let mut body = Map::new();
            body.insert("model".into(), model);
            body.extend(common);
            body.extend(members);
            gen::render(&body, &raw)
        })
        .boxed()
}

/// An Action and its body.
fn asset_body() -> BoxedStrategy<(Action, String)> {
    action().prop_flat_map(|a| (Just(a), body_for(a))).boxed()
}

// ---------------------------------------------------------------------------------------------
// Properties

fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

/// Whether the upstream would read this body as `Moderation.Strategy` = Skip (written from
/// the Action rules and Go's decoder, with trimming as the conservative reading).
fn says_skip(body: &Map<String, Value>) -> bool {
    gen::spellings_of(body, "Moderation").into_iter().filter_map(|(_, m)| m.as_object()).any(|m| {
        gen::spellings_of(m, "Strategy")
            .into_iter()
            .any(|(_, s)| s.as_str().is_some_and(|s| gen::same_go_key(s.trim(), "Skip")))
    })
}

fn check(action: Action, raw: &[u8]) -> Result<(), TestCaseError> {
    let input = gen::parsed_object(raw);
    match parse_asset_request(action, raw) {
        Ok(r) => {
            let input = input.ok_or_else(|| fail("accepted a body that is not a JSON object"))?;
            prop_assert!(!says_skip(&input), "Moderation.Strategy=Skip accepted");
            check_accepted(&input, &r)
        }
        Err(e) => {
            prop_assert_eq!(e.status(), 400);
            let skip = input.as_ref().is_some_and(says_skip);
            prop_assert_eq!(e.code == ErrorCode::ModerationSkipNotAllowed, skip, "{:?}", e);
            Ok(())
        }
    }
}

fn sent(r: &AssetRequest, scope: Option<&[String]>) -> Result<Map<String, Value>, TestCaseError> {
    match serde_json::from_slice(&r.upstream_body(PROJECT, scope)) {
        Ok(Value::Object(m)) => Ok(m),
        other => Err(fail(format!("upstream body: {other:?}"))),
    }
}

/// The one member the upstream reads as `canonical`, if any; two spellings are a failure.
fn only<'a>(m: &'a Map<String, Value>, canonical: &str) -> Result<Option<&'a Value>, TestCaseError> {
    match gen::spellings_of(m, canonical).as_slice() {
        [] => Ok(None),
        [(k, v)] if k.as_str() == canonical => Ok(Some(*v)),
        other => Err(fail(format!("{canonical} travels as {:?}", other.iter().map(|(k, _)| k).collect::<Vec<_>>()))),
    }
}

fn check_accepted(input: &Map<String, Value>, r: &AssetRequest) -> Result<(), TestCaseError> {
    let chosen = input.get("model").and_then(Value::as_str).and_then(PublicModel::parse);
    if let Some(m) = chosen {
        prop_assert_eq!(r.model, m, "the exact spelling of model wins");
    }
    // The shell scopes lists to the groups asked for (all owned, or it answers 404), else to the
    // tenant's own groups.
    let asked: Vec<String> = r.group_id.iter().chain(&r.group_ids).cloned().collect();
    let scope: Vec<String> = if asked.is_empty() { MINE.map(String::from).to_vec() } else { asked.clone() };
    let mut known = vec!["model", "ProjectName", "URL", "Name", "Description"];
    known.extend(match r.action {
        Action::GetAsset | Action::GetAssetGroup => &["Id"][..],
        Action::CreateAsset => &["GroupId", "AssetType"],
        Action::CreateAssetGroup => &["GroupType"],
        Action::ListAssets | Action::ListAssetGroups => &["Filter", "GroupId", "PageNumber", "PageSize"],
    });
    gen::unknown_fields_pass_through(input, &sent(r, None)?, &known, gen::PassThrough::WithoutNulls)?;
    for scope in [None, Some(scope.as_slice())] {
        let s = sent(r, scope)?;
        prop_assert!(gen::no_null_members(&Value::Object(s.clone())), "a null member travels");
        prop_assert_eq!(only(&s, "ProjectName")?, Some(&json!(PROJECT)));
        prop_assert!(only(&s, "model")?.is_none(), "model travels");
        prop_assert_eq!(only(&s, "URL")?, r.url.as_ref());
        for k in ["Name", "Description"] {
            prop_assert!(only(&s, k)?.is_none_or(Value::is_string), "{} is not a string", k);
        }
        prop_assert!(!says_skip(&s), "Skip travels");
        match r.action {
            Action::GetAsset | Action::GetAssetGroup => {
                let id = only(&s, "Id")?.and_then(Value::as_str);
                prop_assert!(id.is_some_and(|i| !i.trim().is_empty()));
                prop_assert_eq!(id, r.id.as_deref(), "the Id checked is the Id sent");
            }
            Action::CreateAsset => {
                let g = only(&s, "GroupId")?.and_then(Value::as_str);
                prop_assert!(g.is_some_and(|g| !g.trim().is_empty()));
                prop_assert_eq!(g, r.group_id.as_deref(), "the group checked is the group sent");
                let url = r.url.as_ref().and_then(Value::as_str).ok_or_else(|| fail("URL"))?;
                prop_assert!(!url.is_empty() && url == url.trim());
                let t = only(&s, "AssetType")?.and_then(Value::as_str);
                prop_assert!(t.is_some_and(|t| ASSET_TYPES.contains(&t)), "{:?}", t);
            }
            Action::CreateAssetGroup => {
                prop_assert!(only(&s, "GroupType")?.is_none_or(|t| t == "AIGC"));
            }
            Action::ListAssets | Action::ListAssetGroups => check_list(&s, &asked, scope)?,
        }
    }
    Ok(())
}

fn check_list(s: &Map<String, Value>, asked: &[String], scope: Option<&[String]>) -> Result<(), TestCaseError> {
    let filter = only(s, "Filter")?.and_then(Value::as_object).ok_or_else(|| fail("Filter is not an object"))?;
    prop_assert_eq!(only(filter, "GroupType")?, Some(&json!("AIGC")));
    let n = only(s, "PageNumber")?.and_then(Value::as_i64);
    prop_assert!(n.is_some_and(|n| n >= 1), "PageNumber {:?}", n);
    let size = only(s, "PageSize")?.and_then(Value::as_i64);
    prop_assert!(size.is_some_and(|n| (1..=MAX_PAGE_SIZE).contains(&n)), "PageSize {:?}", size);

    // Every group the upstream can see: Filter.GroupId, Filter.GroupIds, the top-level GroupId.
    let mut seen: Vec<&Value> = Vec::new();
    seen.extend(only(filter, "GroupId")?);
    if let Some(ids) = only(filter, "GroupIds")? {
        seen.extend(ids.as_array().ok_or_else(|| fail("Filter.GroupIds is not an array"))?);
    }
    seen.extend(only(s, "GroupId")?);
    let allowed: &[String] = scope.unwrap_or(asked);
    for g in &seen {
        let g = g.as_str().ok_or_else(|| fail(format!("group id {g}")))?;
        prop_assert!(allowed.iter().any(|a| a == g), "{} travels outside {:?}", g, allowed);
    }
    if let Some(scope) = scope {
        prop_assert!(only(filter, "GroupId")?.is_none(), "Filter.GroupId beside a scope");
        let ids: Vec<Value> = scope.iter().cloned().map(Value::from).collect();
        prop_assert_eq!(only(filter, "GroupIds")?, Some(&Value::Array(ids)));
    }
    Ok(())
}

/// What `parse_action` must answer, restated from the Action rules and its doc: a strict decoder, the
/// first Action and Version only once each, then the checks in their documented order.
fn expected_action(query: &str) -> Result<Action, (ErrorCode, &'static str)> {
    let (mut action, mut version) = (None::<String>, None::<String>);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = gen::form_decode(k).ok_or((ErrorCode::InvalidRequest, "query"))?;
        let slot = match key.as_str() {
            "Action" => (&mut action, "Action"),
            "Version" => (&mut version, "Version"),
            _ => continue,
        };
        let value = gen::form_decode(v).ok_or((ErrorCode::InvalidRequest, slot.1))?;
        if slot.0.replace(value).is_some() {
            return Err((ErrorCode::InvalidRequest, slot.1));
        }
    }
    let name = action.unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    if name.is_empty() {
        Err((ErrorCode::InvalidRequest, "Action"))
    } else if lower.starts_with("update") || lower.starts_with("delete") {
        Err((ErrorCode::ForbiddenAction, "Action"))
    } else {
        let parsed = Action::ALL.into_iter().find(|a| a.name() == name).ok_or((ErrorCode::InvalidRequest, "Action"))?;
        match version.as_deref() {
            Some("2024-01-01") => Ok(parsed),
            _ => Err((ErrorCode::InvalidRequest, "Version")),
        }
    }
}

/// `key=value`, percent-encoded here and there as a client might.
fn encoded_pair(key: BoxedStrategy<&'static str>, value: BoxedStrategy<String>) -> BoxedStrategy<String> {
    (key, value, any::<u64>(), prop_oneof![Just(0u64), 2u64..6])
        .prop_map(|(k, v, seed, every)| {
            format!("{}={}", gen::form_encode(k, seed, every), gen::form_encode(&v, seed >> 3, every))
        })
        .boxed()
}

/// Action queries: the right two parameters (Action names in and out of the six, Versions in
/// and out of the one) among repeats, near-misses, extra parameters and broken escapes.
fn query() -> BoxedStrategy<String> {
    let names: Vec<&str> = Action::ALL
        .iter()
        .map(|a| a.name())
        .chain(["UpdateAsset", "DeleteAssetGroup", "deleteAsset", "getasset", "ListModels", "", "Get Asset"])
        .collect();
    let name = prop_oneof![8 => select(names).prop_map(str::to_string), 1 => any::<String>()].boxed();
    let version = prop_oneof![
        8 => Just("2024-01-01".to_string()),
        1 => select(vec!["2023-01-01", "2024-01-01 ", "", "2024-1-1"]).prop_map(str::to_string),
    ]
    .boxed();
    let extra = prop_oneof![
        3 => encoded_pair(select(vec!["Action", "action", "Version", "version", "x"]).boxed(), name.clone()),
        1 => select(vec!["%zz=1", "Action=%", "Version=%+1", "flag", "=", "Action", "%41ction=GetAsset"]).prop_map(str::to_string),
        1 => "[A-Za-z%+=0-9.-]{0,12}",
        1 => any::<String>().prop_map(|s| s.replace('&', "")),
    ];
    let base = (encoded_pair(Just("Action").boxed(), name), encoded_pair(Just("Version").boxed(), version));
    (prop::option::weighted(0.8, base), prop_oneof![3 => Just(vec![]), 1 => prop::collection::vec(extra, 1..4)])
        .prop_map(|(base, extra)| base.into_iter().flat_map(|(a, v)| [a, v]).chain(extra).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(|pairs| pairs.join("&"))
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Harnesses

proptest! {
    #![proptest_config(gen::config(1000))]

    #[test]
    fn fuzz_asset_structured((action, raw) in asset_body()) {
        check(action, raw.as_bytes())?;
    }

    #[test]
    fn fuzz_asset_bytes(action in action(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(action, &bytes)?;
    }

    #[test]
    fn fuzz_asset_any_json(action in action(), v in gen::json_value()) {
        check(action, v.to_string().as_bytes())?;
    }

    #[test]
    fn fuzz_action_query(q in query()) {
        let got = parse_action(Some(&q));
        match (&got, expected_action(&q)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(*a, b),
            (Err((e, echo)), Err((code, param))) => {
                prop_assert_eq!((e.code, e.param.as_deref()), (code, Some(param)), "{}", e.message);
                prop_assert!(echo.chars().count() <= 128);
            }
            (got, want) => return Err(fail(format!("{q:?}: got {got:?}, want {want:?}"))),
        }
    }

    #[test]
    fn fuzz_action_query_bytes(q in any::<String>()) {
        let _ = parse_action(Some(&q));
    }
}

#[test]
fn fuzz_asset_generator_reaches_the_accept_path() {
    for a in Action::ALL {
        let ratio = gen::accept_ratio(body_for(a), 300, |raw| parse_asset_request(a, raw.as_bytes()).is_ok());
        eprintln!("parse_asset_request({a}) accepts {:.0}% of generated bodies", ratio * 100.0);
        assert!((0.15..0.9).contains(&ratio), "{a}: accept ratio {ratio}");
    }
    let ratio = gen::accept_ratio(query(), 1000, |q| parse_action(Some(q)).is_ok());
    eprintln!("parse_action accepts {:.0}% of generated queries", ratio * 100.0);
    assert!((0.05..0.9).contains(&ratio), "parse_action accept ratio {ratio}");
}

/// Nesting of 128 levels (the body object counts) is refused, not overflowed, for Action
/// bodies too.
#[test]
fn fuzz_asset_deep_nesting() {
    for depth in [126, 127, 128, 1_000_000] {
        let raw = format!(
            r#"{{"model":"dreamina-seedance-2-0","Id":"a","Tags":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let r = parse_asset_request(Action::GetAsset, raw.as_bytes());
        assert_eq!(r.is_ok(), depth < 127, "depth {depth}");
    }
}
