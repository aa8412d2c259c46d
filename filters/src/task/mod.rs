//! The task routes' pure halves: create-task validation and rewrite, the
//! response rewrite, the list query, task statuses and the id rule.

mod content;
mod create;
mod list_query;
mod response;
mod status;

pub use content::{ContentFacts, MediaUrl};
pub use create::{parse_create, CreateTask};
pub use list_query::{parse_list_query, ListQuery, ServiceTier};
pub use response::{rewrite_error_body, rewrite_task, rewrite_task_answer, TaskAnswer};
pub use status::{is_terminal, TaskStatus};

/// Task, asset and group ids as the upstream mints them (`cgt-…`, `asset-…`, `group-…`): short,
/// ASCII, no separators. Anything else is refused before it can become a path segment or a
/// Redis key.
pub fn is_plausible_task_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_ids() {
        assert!(is_plausible_task_id("cgt-20260611204121-462cw"));
        assert!(is_plausible_task_id("asset-20260611210100-efgh2"));
        for bad in ["", "cgt/..", "a b", "x:y", "cgt-\u{e9}", &"a".repeat(129)] {
            assert!(!is_plausible_task_id(bad), "{bad:?}");
        }
    }
}
