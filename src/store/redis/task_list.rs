//! Task lists on Redis: one page costs the page, never the tenant's history. `total` comes from
//! the index (ZCOUNT above the retention floor), the page from a rank range of it (ZREVRANGE),
//! and the page's records from one pipeline of HGETALLs. A filter picks the index to read: per
//! model, per recorded terminal status, per both; unfinished tasks (whose status is the
//! upstream's word) come from the small `open` index and are merged in by score.

use super::*;
use ::redis::{FromRedisValue, Value};

/// Tasks indexed per script call when a tenant's older tasks are first indexed.
const BACKFILL_BATCH: usize = 500;

fn decode<T: FromRedisValue>(op: &'static str, v: Option<Value>) -> StoreResult<T> {
    let v = v.ok_or_else(|| corrupt(op, "a pipeline answered fewer replies than it sent commands"))?;
    ::redis::from_redis_value(v).map_err(|e| corrupt(op, e.to_string()))
}

/// Scores are creation-order integers below 2^53: exact as the doubles Redis answers.
fn scored(rows: Vec<(String, f64)>, floor: i64) -> Vec<(String, i64)> {
    rows.into_iter().map(|(id, s)| (id, s as i64)).filter(|(_, s)| *s >= floor).collect()
}

impl RedisStore {
    /// The lowest index score still listed.
    pub(super) fn retention_floor(&self) -> i64 {
        page::retention_floor(now_ms(), self.opts.retention)
    }

    /// The list indexes a task can be in: its model (fixed once recorded) names some of them.
    pub(super) async fn indexes_of_task(&self, op: &'static str, tenant: &str, id: &str) -> StoreResult<Vec<String>> {
        let key = self.keys.task(tenant, id);
        let model: Option<String> =
            self.run(op, |mut c| async move {
                ::redis::cmd("HGET").arg(&key).arg("public_model").query_async(&mut c).await
            })
            .await?;
        Ok(self.keys.task_indexes(tenant, &model.unwrap_or_default()))
    }

    pub(super) async fn open_task_records(&self, tenant: &str) -> StoreResult<Vec<TaskRecord>> {
        const OP: &str = "open_tasks";
        let (open, floor) = (self.keys.open_tasks(tenant), self.retention_floor());
        let mut replies = self
            .read_indexes(OP, tenant, |p| {
                p.cmd("ZREVRANGEBYSCORE").arg(&open).arg("+inf").arg(floor);
            })
            .await?
            .into_iter();
        let ids: Vec<String> = decode(OP, replies.next())?;
        self.read_tasks(OP, tenant, &ids).await
    }

    pub(super) async fn page_of_tasks(&self, tenant: &str, q: &TaskPageQuery) -> StoreResult<TaskPage> {
        const OP: &str = "task_page";
        let k = &self.keys;
        // Every listed task of the model (or of any model): where open tasks are checked.
        let visible = match &q.model {
            Some(m) => k.tasks_of_model(tenant, m),
            None => k.tasks(tenant),
        };
        let base = match &q.status {
            None => Some(visible.clone()),
            Some(s) if is_terminal(&s.status) => Some(k.tasks_with_status(tenant, &s.status, q.model.as_deref())),
            // Queued or running: only the open tasks the upstream vouched for.
            Some(_) => None,
        };
        let mut extras: Vec<String> = q.status.as_ref().map(|s| s.open_ids.clone()).unwrap_or_default();
        if let Some(ids) = &q.task_ids {
            extras.retain(|id| ids.contains(id));
        }
        extras.sort();
        extras.dedup();
        let ix = PageIndexes { base, visible, extras, floor: self.retention_floor() };
        let (ids, total) = match &q.task_ids {
            Some(_) => self.named_page(OP, tenant, q, &ix).await?,
            None => self.ranked_page(OP, tenant, q, &ix).await?,
        };
        let records = self.read_tasks(OP, tenant, &ids).await?;
        Ok(TaskPage { records, total })
    }

    /// A page by rank: the base index's window around the page, merged with the extras.
    async fn ranked_page(
        &self,
        op: &'static str,
        tenant: &str,
        q: &TaskPageQuery,
        ix: &PageIndexes,
    ) -> StoreResult<(Vec<String>, u64)> {
        let start = q.offset.saturating_sub(ix.extras.len() as u64);
        let stop = q.offset.saturating_add(q.limit.max(1)) - 1;
        let mut replies = self
            .read_indexes(op, tenant, |p| {
                if let Some(base) = &ix.base {
                    p.cmd("ZCOUNT").arg(base).arg(ix.floor).arg("+inf");
                    p.cmd("ZREVRANGE").arg(base).arg(start).arg(stop).arg("WITHSCORES");
                }
                if !ix.extras.is_empty() {
                    p.cmd("ZMSCORE").arg(&ix.visible).arg(&ix.extras);
                    if let Some(base) = &ix.base {
                        p.cmd("ZMSCORE").arg(base).arg(&ix.extras);
                    }
                }
            })
            .await?
            .into_iter();
        let (in_base, window) = match &ix.base {
            Some(_) => (decode::<u64>(op, replies.next())?, scored(decode(op, replies.next())?, ix.floor)),
            None => (0, Vec::new()),
        };
        let mut extras = Vec::new();
        if !ix.extras.is_empty() {
            let listed: Vec<Option<f64>> = decode(op, replies.next())?;
            let already: Vec<Option<f64>> = match &ix.base {
                Some(_) => decode(op, replies.next())?,
                None => vec![None; ix.extras.len()],
            };
            for ((id, score), dup) in ix.extras.iter().zip(listed).zip(already) {
                match (score, dup) {
                    // Finished meanwhile with this very status: the base index has it already.
                    (_, Some(_)) | (None, _) => {}
                    (Some(s), None) if (s as i64) < ix.floor => {}
                    (Some(s), None) => extras.push((id.clone(), s as i64)),
                }
            }
        }
        let total = in_base + extras.len() as u64;
        Ok((page::merge_window(window, start, extras, q.offset, q.limit), total))
    }

    /// A page of the tasks `q.task_ids` names: their scores in the indexes that apply, nothing
    /// else read.
    async fn named_page(
        &self,
        op: &'static str,
        tenant: &str,
        q: &TaskPageQuery,
        ix: &PageIndexes,
    ) -> StoreResult<(Vec<String>, u64)> {
        let mut named = q.task_ids.clone().unwrap_or_default();
        named.sort();
        named.dedup();
        let base = ix.base.as_ref().filter(|_| !named.is_empty());
        let mut replies = self
            .read_indexes(op, tenant, |p| {
                if let Some(base) = base {
                    p.cmd("ZMSCORE").arg(base).arg(&named);
                }
                if !ix.extras.is_empty() {
                    p.cmd("ZMSCORE").arg(&ix.visible).arg(&ix.extras);
                }
            })
            .await?
            .into_iter();
        let mut found: HashMap<String, i64> = HashMap::new();
        if base.is_some() {
            let scores: Vec<Option<f64>> = decode(op, replies.next())?;
            found.extend(named.iter().zip(scores).filter_map(|(id, s)| Some((id.clone(), s? as i64))));
        }
        if !ix.extras.is_empty() {
            let scores: Vec<Option<f64>> = decode(op, replies.next())?;
            found.extend(ix.extras.iter().zip(scores).filter_map(|(id, s)| Some((id.clone(), s? as i64))));
        }
        let mut all: Vec<(String, i64)> = found.into_iter().filter(|(_, s)| *s >= ix.floor).collect();
        all.sort_by(page::newest_first);
        let total = all.len() as u64;
        let (skip, take) = (usize::try_from(q.offset).unwrap_or(usize::MAX), usize::try_from(q.limit).unwrap_or(0));
        Ok((all.into_iter().skip(skip).take(take).map(|(id, _)| id).collect(), total))
    }

    /// One pipeline of index reads, after checking that the tenant's indexes are complete; a
    /// tenant whose tasks predate them is indexed first (once), then the reads are repeated.
    async fn read_indexes(
        &self,
        op: &'static str,
        tenant: &str,
        add: impl Fn(&mut Pipeline),
    ) -> StoreResult<Vec<Value>> {
        let marker = self.keys.task_indexes_built(tenant);
        let mut indexed_now = false;
        loop {
            let mut pipe = ::redis::pipe();
            pipe.cmd("EXISTS").arg(&marker);
            add(&mut pipe);
            let replies: Vec<Value> = self.run(op, |mut c| async move { pipe.query_async(&mut c).await }).await?;
            let mut replies = replies.into_iter();
            let built: i64 = decode(op, replies.next())?;
            if built == 1 || indexed_now {
                return Ok(replies.collect());
            }
            self.index_older_tasks(op, tenant).await?;
            indexed_now = true;
        }
    }

    /// Indexes every task listed before the filter indexes existed. Idempotent, and safe beside
    /// live writes (each record is placed from its current state inside a script), so nodes
    /// racing to do it only repeat work.
    async fn index_older_tasks(&self, op: &'static str, tenant: &str) -> StoreResult<()> {
        let (all, floor) = (self.keys.tasks(tenant), self.retention_floor());
        let (ids,): (Vec<String>,) = self
            .run(op, |mut c| async move {
                ::redis::pipe()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&all)
                    .arg("-inf")
                    .arg(format!("({floor}"))
                    .ignore()
                    .cmd("ZRANGE")
                    .arg(&all)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        log::info!("tenant={tenant}: indexing {} listed tasks for list filters (once)", ids.len());
        for batch in ids.chunks(BACKFILL_BATCH) {
            let mut pipe = ::redis::pipe();
            for id in batch {
                pipe.cmd("HGET").arg(self.keys.task(tenant, id)).arg("public_model");
            }
            let models: Vec<Option<String>> =
                self.run(op, |mut c| async move { pipe.query_async(&mut c).await }).await?;
            let mut by_model: HashMap<String, Vec<&String>> = HashMap::new();
            for (id, model) in batch.iter().zip(models) {
                by_model.entry(model.unwrap_or_default()).or_default().push(id);
            }
            for (model, ids) in by_model {
                let mut inv = self.index_tasks.prepare_invoke();
                for key in self.keys.task_indexes(tenant, &model) {
                    inv.key(key);
                }
                for id in &ids {
                    inv.key(self.keys.task(tenant, id));
                }
                inv.arg(&model).arg(floor).arg(self.ttl_secs());
                for id in &ids {
                    inv.arg(id.as_str());
                }
                let _: i64 = self.run(op, |mut c| async move { inv.invoke_async(&mut c).await }).await?;
            }
        }
        let marker = self.keys.task_indexes_built(tenant);
        self.run(op, |mut c| async move { ::redis::cmd("SET").arg(&marker).arg(1).query_async::<()>(&mut c).await })
            .await
    }

    /// The records of `ids` in that order, in one pipeline. A record gone since its index
    /// entry was read (expired, evicted) or hidden meanwhile is left out.
    async fn read_tasks(&self, op: &'static str, tenant: &str, ids: &[String]) -> StoreResult<Vec<TaskRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.cmd("HGETALL").arg(self.keys.task(tenant, id));
        }
        let hashes: Vec<HashMap<String, String>> =
            self.run(op, |mut c| async move { pipe.query_async(&mut c).await }).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, h) in ids.iter().zip(hashes) {
            if h.is_empty() {
                continue;
            }
            let t = parse_task(op, id, h)?;
            if !t.hidden {
                out.push(t);
            }
        }
        Ok(out)
    }
}

/// The indexes one query reads.
struct PageIndexes {
    /// Where the query's matches are (absent for queued/running: only `extras` can match).
    base: Option<String>,
    /// Every listed task of the query's model: confirms and orders the extras.
    visible: String,
    /// Open tasks the upstream says have the wanted status.
    extras: Vec<String>,
    floor: i64,
}
