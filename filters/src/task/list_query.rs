//! The list query. Parsed strictly: a typo in a filter must not silently widen the
//! list the customer gets back.

use crate::error::ApiError;
use crate::model::PublicModel;
use crate::query::decode;
use crate::task::TaskStatus;

const PARAMS: &str = "page_num, page_size, filter.status, filter.model, filter.task_ids, filter.service_tier";
/// The upstream's paging bounds (both 1..=500).
const MAX_PAGE_NUM: u32 = 500;
const MAX_PAGE_SIZE: u32 = 500;
/// More ids than a page can hold is a mistake, not a query.
const MAX_TASK_IDS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page_num: u32,
    pub page_size: u32,
    pub status: Option<TaskStatus>,
    pub model: Option<PublicModel>,
    /// Repeated (as the SDKs send them) or comma separated; both are merged.
    pub task_ids: Option<Vec<String>>,
    /// `filter.service_tier`: every Seedance 2.0 task runs on `default`, so `default` filters
    /// nothing and `flex` matches no task.
    pub service_tier: Option<ServiceTier>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTier {
    Default,
    Flex,
}

impl ListQuery {
    /// Whether the query can match any task at all.
    pub fn matches_nothing(&self) -> bool {
        self.service_tier == Some(ServiceTier::Flex)
    }
}

/// Parses the raw query string (without `?`).
pub fn parse_list_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery { page_num: 1, page_size: 20, status: None, model: None, task_ids: None, service_tier: None };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key)
            .ok_or_else(|| ApiError::invalid("query", "the query string is not valid UTF-8 percent-encoding"))?;
        let value =
            decode(raw_value).ok_or_else(|| ApiError::invalid(&key, format!("{key} is not valid percent-encoding")))?;
        match key.as_str() {
            "page_num" => q.page_num = int_param(&key, &value, 1, MAX_PAGE_NUM)?,
            "page_size" => q.page_size = int_param(&key, &value, 1, MAX_PAGE_SIZE)?,
            "filter.service_tier" => {
                q.service_tier = Some(match value.as_str() {
                    "default" => ServiceTier::Default,
                    "flex" => ServiceTier::Flex,
                    _ => {
                        return Err(ApiError::invalid(
                            &key,
                            format!("filter.service_tier {value:?} is not one of: default, flex"),
                        ))
                    }
                })
            }
            "filter.status" => {
                q.status = Some(TaskStatus::parse(&value).ok_or_else(|| {
                    let all: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
                    ApiError::invalid(&key, format!("filter.status {value:?} is not one of: {}", all.join(", ")))
                })?)
            }
            "filter.model" => {
                q.model = Some(PublicModel::parse(&value).ok_or_else(|| {
                    ApiError::invalid(&key, format!("filter.model {value:?} is not a Seedance 2.0 model name"))
                })?)
            }
            "filter.task_ids" => {
                let ids = q.task_ids.get_or_insert_with(Vec::new);
                ids.extend(value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
                if ids.len() > MAX_TASK_IDS {
                    return Err(ApiError::invalid(&key, format!("filter.task_ids takes at most {MAX_TASK_IDS} ids")));
                }
            }
            _ => return Err(ApiError::invalid(&key, format!("unknown query parameter {key:?}; allowed: {PARAMS}"))),
        }
    }
    Ok(q)
}

fn int_param(key: &str, value: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(key, format!("{key} must be an integer from {min} to {max}; got {value:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let q = parse_list_query(None).unwrap();
        assert_eq!((q.page_num, q.page_size), (1, 20));
        let q = parse_list_query(Some("page_num=500&page_size=500")).unwrap();
        assert_eq!((q.page_num, q.page_size), (500, 500));
        assert!(parse_list_query(Some("page_size=1")).is_ok());
        for bad in [
            "page_num=0",
            "page_num=-1",
            "page_num=x",
            "page_num=501",
            "page_size=0",
            "page_size=501",
            "page_size=1.5",
            "bogus=1",
            "filter.service_tier=scale",
        ] {
            let e = parse_list_query(Some(bad)).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidRequest, "{bad}");
            assert!(e.message.contains(bad.split('=').next().unwrap()), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn filters() {
        let q =
            parse_list_query(Some("filter.status=succeeded&filter.model=dreamina-seedance-2-0-fast-260128")).unwrap();
        assert_eq!(q.status, Some(TaskStatus::Succeeded));
        assert_eq!(q.model, Some(PublicModel::Fast));
        assert!(parse_list_query(Some("filter.status=done")).is_err());
        assert!(parse_list_query(Some("filter.model=seedance-2-0")).is_err());
        let q = parse_list_query(Some("filter.task_ids=cgt-1%2Ccgt-2,%20cgt-3&filter.task_ids=cgt-4")).unwrap();
        assert_eq!(q.task_ids.unwrap(), vec!["cgt-1", "cgt-2", "cgt-3", "cgt-4"]);
        assert!(parse_list_query(Some("page_num=%zz")).is_err());
        let q = parse_list_query(Some("filter.service_tier=default")).unwrap();
        assert_eq!(q.service_tier, Some(ServiceTier::Default));
        assert!(!q.matches_nothing());
        assert!(parse_list_query(Some("filter.service_tier=flex")).unwrap().matches_nothing());
    }

    /// Found by fuzzing: `u8::from_str_radix` takes a sign, so `%+f` decoded to a control byte
    /// instead of being refused as the broken escape it is.
    #[test]
    fn an_escape_is_exactly_two_hex_digits() {
        for bad in ["filter.task_ids=1%+f", "filter.task_ids=%+1", "page_num=%+31", "filter.status=%-1", "page_num=1%"]
        {
            assert!(parse_list_query(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(parse_list_query(Some("page_num=%35")).unwrap().page_num, 5);
    }
}
