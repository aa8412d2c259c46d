//! Fuzzing the list query (`parse_list_query`: paging and filters). Queries are built from the six
//! parameters with values in and out of range, percent-encoded the ways clients do it (and the
//! ways they should not), plus near-miss names and raw strings. Accepted queries have paging
//! within 1..=500 and non-empty, trimmed task ids, and agree with a strict form decoder: a query
//! that decoder refuses is refused, so a typo cannot silently widen the list.

use crate::gen;
use proptest::prelude::*;
use proptest::sample::select;
use seedance_filters::model::PublicModel;
use seedance_filters::task::{parse_list_query, ListQuery, ServiceTier, TaskStatus};

const PARAMS: [&str; 6] =
    ["page_num", "page_size", "filter.status", "filter.model", "filter.task_ids", "filter.service_tier"];

fn value_for(key: &'static str) -> BoxedStrategy<String> {
    let page = prop_oneof![
        6 => (1u32..=500).prop_map(|n| n.to_string()),
        1 => select(vec!["0", "501", "-1", "+5", "007", "1.5", "1e2", "", " 5", "4294967297", "٣"]).prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ];
    let statuses: Vec<String> = TaskStatus::ALL.iter().map(|s| s.as_str().to_string()).collect();
    let models: Vec<String> = PublicModel::ALL.iter().map(|m| m.name().to_string()).collect();
    let ids = prop::collection::vec(
        prop_oneof![4 => "cgt-[a-z0-9]{1,10}", 1 => Just(String::new()), 1 => Just(" ".to_string()), 1 => "[ -~]{0,6}"],
        0..5,
    )
    .prop_map(|ids| ids.join(","));
    let junk = prop_oneof![any::<String>(), "[ -~]{0,10}"];
    match key {
        "page_num" | "page_size" => prop_oneof![6 => page, 1 => junk].boxed(),
        "filter.status" => prop_oneof![6 => select(statuses), 1 => junk].boxed(),
        "filter.model" => {
            prop_oneof![6 => select(models), 1 => Just("dreamina-seedance-2-0-fast-260128".into()), 1 => junk].boxed()
        }
        "filter.task_ids" => prop_oneof![6 => ids, 1 => junk].boxed(),
        _ => prop_oneof![6 => select(vec!["default".to_string(), "flex".into()]), 1 => junk].boxed(),
    }
}

/// One `key=value` pair: a parameter encoded as a client might, or something malformed.
fn pair() -> BoxedStrategy<String> {
    prop_oneof![
        12 => (select(PARAMS.to_vec()).prop_flat_map(|k| (Just(k), value_for(k))), any::<u64>(), prop_oneof![Just(0u64), 2u64..6])
            .prop_map(|((k, v), seed, every)| format!("{}={}", gen::form_encode(k, seed, every), gen::form_encode(&v, seed >> 3, every))),
        1 => (select(PARAMS.to_vec()), select(vec!["%+1", "%-1", "%zz", "%", "%4", "%e9", "%C3%28", "%2", "%+f", "%0x"]))
            .prop_map(|(k, bad)| format!("{k}=1{bad}")),
        1 => select(vec!["Page_Num=1", "page_num", "filter.Status=queued", "filter.task_ids", "page_size=", "x=1", "=1"])
            .prop_map(str::to_string),
        1 => "[A-Za-z._%+=0-9-]{0,16}",
    ]
    .boxed()
}

fn query() -> BoxedStrategy<String> {
    prop::collection::vec(pair(), 0..6).prop_map(|p| p.join("&")).boxed()
}

/// The query as the list rules and a strict decoder read it; `None` when it must be refused.
fn expected(query: &str) -> Option<ListQuery> {
    let mut q = ListQuery { page_num: 1, page_size: 20, status: None, model: None, task_ids: None, service_tier: None };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (gen::form_decode(k)?, gen::form_decode(v)?);
        let page = |v: &str| v.parse::<u32>().ok().filter(|n| (1..=500).contains(n));
        match key.as_str() {
            "page_num" => q.page_num = page(&value)?,
            "page_size" => q.page_size = page(&value)?,
            "filter.status" => q.status = Some(TaskStatus::ALL.into_iter().find(|s| s.as_str() == value)?),
            "filter.model" => q.model = Some(PublicModel::parse(&value)?),
            "filter.service_tier" => {
                q.service_tier = Some(match value.as_str() {
                    "default" => ServiceTier::Default,
                    "flex" => ServiceTier::Flex,
                    _ => return None,
                })
            }
            "filter.task_ids" => q
                .task_ids
                .get_or_insert_with(Vec::new)
                .extend(value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from)),
            _ => return None,
        }
    }
    Some(q)
}

fn check(query: &str) -> Result<(), TestCaseError> {
    match parse_list_query(Some(query)) {
        Ok(q) => {
            prop_assert!((1..=500).contains(&q.page_num) && (1..=500).contains(&q.page_size), "{:?}", q);
            for id in q.task_ids.iter().flatten() {
                prop_assert!(!id.is_empty() && id.trim() == id && !id.contains(','), "task id {:?}", id);
            }
            prop_assert!(q.task_ids.as_ref().is_none_or(|ids| ids.len() <= 1000));
            prop_assert_eq!(Some(q), expected(query), "{:?}", query);
        }
        Err(e) => {
            prop_assert_eq!(e.status(), 400);
            // Only the id cap refuses what the strict reading accepts.
            let capped = expected(query).and_then(|q| q.task_ids).is_some_and(|ids| ids.len() > 1000);
            prop_assert!(expected(query).is_none() || capped, "{:?} refused: {}", query, e.message);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(gen::config(2000))]

    #[test]
    fn fuzz_list_query_structured(q in query()) {
        check(&q)?;
    }

    #[test]
    fn fuzz_list_query_any_string(q in any::<String>()) {
        check(&q)?;
    }
}

#[test]
fn fuzz_list_query_generator_reaches_the_accept_path() {
    let ratio = gen::accept_ratio(query(), 1000, |q| parse_list_query(Some(q)).is_ok());
    eprintln!("parse_list_query accepts {:.0}% of generated queries", ratio * 100.0);
    assert!((0.15..0.9).contains(&ratio), "accept ratio {ratio}");
}
