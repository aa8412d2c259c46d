//! One page of a tenant's task list, as both stores answer it. The list is ordered by an index
//! score (creation millisecond × 1000 + a tie counter), newest first; tasks created longer ago
//! than the retention are no longer listed (their records have expired). The pure parts of
//! paging live here so both stores order, cut and count exactly alike.

use super::TaskRecord;
use std::time::Duration;

/// What one list page asks for. Filters combine: a task is listed only if it matches all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPageQuery {
    /// Matching tasks skipped, newest first.
    pub offset: u64,
    pub limit: u64,
    /// Public model name.
    pub model: Option<String>,
    pub status: Option<StatusMatch>,
    /// Only these ids; another tenant's ids match nothing.
    pub task_ids: Option<Vec<String>>,
}

impl TaskPageQuery {
    /// Page `page_num` (from 1) of `page_size`, unfiltered.
    pub fn page(page_num: u32, page_size: u32) -> TaskPageQuery {
        TaskPageQuery {
            offset: u64::from(page_num.saturating_sub(1)) * u64::from(page_size),
            limit: u64::from(page_size),
            model: None,
            status: None,
            task_ids: None,
        }
    }
}

/// `filter.status`. A recorded terminal status is final, so those tasks come from the store's
/// status index; an unfinished task's current status is the upstream's word, so the caller
/// asks the upstream about [`super::Store::open_tasks`] and names the ones that match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMatch {
    pub status: String,
    /// Unfinished tasks whose current status, per the upstream, is `status`.
    pub open_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPage {
    /// Newest first. A record that vanished between the index read and its own read (evicted,
    /// expired early) is left out rather than failing the page.
    pub records: Vec<TaskRecord>,
    /// Every matching task, not just this page.
    pub total: u64,
}

/// The index score of a task: its creation order. A task created "now" is ordered by the
/// current millisecond; a replayed one keeps its creation second.
pub fn order_score(created_at_secs: i64, now_ms: i64, tie: i64) -> i64 {
    order_ms(created_at_secs, now_ms).saturating_mul(1000).saturating_add(tie.rem_euclid(1000))
}

/// The millisecond part of [`order_score`].
pub fn order_ms(created_at_secs: i64, now_ms: i64) -> i64 {
    if now_ms / 1000 == created_at_secs {
        now_ms
    } else {
        created_at_secs.saturating_mul(1000)
    }
}

/// The lowest score still listed: a task created before `now − retention` has expired.
pub fn retention_floor(now_ms: i64, retention: Duration) -> i64 {
    let keep = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(keep).saturating_mul(1000)
}

/// Newest first; equal scores in reverse id order (as Redis's ZREVRANGE orders them).
pub fn newest_first(a: &(String, i64), b: &(String, i64)) -> std::cmp::Ordering {
    b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0))
}

/// The ids on the page `offset..offset + limit` of the union of a large index and a few extra
/// tasks (none of them in the index), reading only a window of the index.
///
/// `window` is the index from rank `window_start` on, newest first, down to at least rank
/// `offset + limit − 1` (or the end of the index), and `window_start ≤ offset − extras.len()`
/// (saturating). Each merged element's union rank is then `window_start` + its position in the
/// merge: at most `extras.len()` extras rank above the window, and an index entry before the
/// window ranks below `offset` even with every extra before it. An extra above the window's top
/// or below its bottom gets a position that is off the page, as its true rank is.
pub fn merge_window(
    window: Vec<(String, i64)>,
    window_start: u64,
    extras: Vec<(String, i64)>,
    offset: u64,
    limit: u64,
) -> Vec<String> {
    let mut merged = window;
    merged.extend(extras);
    merged.sort_by(newest_first);
    let skip = usize::try_from(offset.saturating_sub(window_start)).unwrap_or(usize::MAX);
    let take = usize::try_from(limit).unwrap_or(usize::MAX);
    merged.into_iter().skip(skip).take(take).map(|(id, _)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(ids: &[(&str, i64)]) -> Vec<(String, i64)> {
        ids.iter().map(|(i, s)| (i.to_string(), *s)).collect()
    }

    /// The window merge agrees with sorting everything, for every page of many shapes.
    #[test]
    fn a_window_merge_pages_like_the_whole_union() {
        for n in 0..25i64 {
            for extras_at in [vec![], vec![3], vec![0, 24], vec![7, 8, 9], vec![1, 5, 11, 17, 23]] {
                let index: Vec<(String, i64)> =
                    (0..n).filter(|i| !extras_at.contains(i)).map(|i| (format!("t{i:02}"), i * 10)).collect();
                let extras: Vec<(String, i64)> =
                    extras_at.iter().filter(|i| **i < n).map(|i| (format!("t{i:02}"), i * 10)).collect();
                let mut all = index.clone();
                all.extend(extras.clone());
                all.sort_by(newest_first);
                for limit in 1..6u64 {
                    for offset in 0..(n as u64 + 2) {
                        let want: Vec<String> =
                            all.iter().skip(offset as usize).take(limit as usize).map(|(i, _)| i.clone()).collect();
                        let mut by_rank = index.clone();
                        by_rank.sort_by(newest_first);
                        let start = offset.saturating_sub(extras.len() as u64);
                        let window: Vec<(String, i64)> =
                            by_rank.into_iter().skip(start as usize).take((offset + limit - start) as usize).collect();
                        let got = merge_window(window, start, extras.clone(), offset, limit);
                        assert_eq!(got, want, "n={n} extras={extras_at:?} offset={offset} limit={limit}");
                    }
                }
            }
        }
    }

    #[test]
    fn ties_order_like_redis_and_old_tasks_fall_below_the_floor() {
        let mut v = scored(&[("a", 5), ("b", 5), ("c", 9)]);
        v.sort_by(newest_first);
        assert_eq!(v, scored(&[("c", 9), ("b", 5), ("a", 5)]));
        let day = Duration::from_secs(86_400);
        let now_ms = 1_800_000_000_000;
        assert!(order_score(1_800_000_000, now_ms, 7) >= retention_floor(now_ms, day));
        assert!(order_score(1_800_000_000 - 86_401, now_ms, 999) < retention_floor(now_ms, day));
        assert_eq!(order_score(1_800_000_000, now_ms + 250, 1001), (now_ms + 250) * 1000 + 1);
    }
}
