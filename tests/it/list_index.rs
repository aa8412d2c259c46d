//! Task lists cost one page, never the tenant's history: the same paging and filter behaviour on
//! the Redis store and the memory store, the Redis commands a page costs over a 10 000-task
//! history (counted with `INFO commandstats` on the test's own redis-server), indexes built once
//! for tasks recorded before they existed, and entries pruned at the retention.

use crate::support;

use seedance_edge::store::memory::MemoryStore;
use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::*;
use std::sync::Arc;
use std::time::Duration;
use support::fixtures::task;
use support::harness::{Harness, Options, TASKS};
use support::redis::RedisServer;

const STANDARD: &str = "dreamina-seedance-2-0";
const FAST: &str = "dreamina-seedance-2-0-fast";

fn now_secs() -> i64 {
    seedance_edge::clock::now_secs()
}

fn redis_store(redis: &RedisServer) -> Arc<RedisStore> {
    Arc::new(RedisStore::connect(&redis.url(), "sde", RedisOptions::default()).expect("url parses"))
}

/// What the test wrote, to compute every expected answer independently of the stores.
#[derive(Clone)]
struct Written {
    id: String,
    model: &'static str,
    status: &'static str,
    hidden: bool,
}

/// A tenant's history: `n` tasks one second apart (oldest first), models and statuses mixed.
fn history(n: usize) -> Vec<Written> {
    (0..n)
        .map(|i| Written {
            id: format!("cgt-{i:05}"),
            model: if i % 3 == 0 { FAST } else { STANDARD },
            status: match i % 7 {
                0 => "queued",
                1 => "running",
                2..=4 => "succeeded",
                5 => "failed",
                _ => "cancelled",
            },
            hidden: i % 11 == 4,
        })
        .collect()
}

fn record(w: &Written, created_at: i64) -> TaskRecord {
    let mut t = task(&w.id, created_at);
    t.public_model = w.model.to_string();
    t.status = w.status.to_string();
    t.hidden = w.hidden;
    t
}

fn ids(page: &TaskPage) -> Vec<String> {
    page.records.iter().map(|r| r.id.clone()).collect()
}

/// The expected page: matches, newest first, cut.
fn expect(all: &[Written], offset: usize, limit: usize, keep: impl Fn(&Written) -> bool) -> (Vec<String>, u64) {
    let matching: Vec<String> = all.iter().rev().filter(|w| !w.hidden && keep(w)).map(|w| w.id.clone()).collect();
    let total = matching.len() as u64;
    (matching.into_iter().skip(offset).take(limit).collect(), total)
}

fn query(page_num: u32, page_size: u32) -> TaskPageQuery {
    TaskPageQuery::page(page_num, page_size)
}

/// The shared behaviour, run against each store.
async fn paging_and_filters(s: &dyn Store) {
    let now = now_secs();
    let all = history(40);
    for (i, w) in all.iter().enumerate() {
        s.put_task("acme", &record(w, now - 1000 + i as i64)).await.unwrap();
    }
    // Another tenant's task and one created beyond the retention: never listed for acme.
    s.put_task("globex", &task("cgt-globex", now - 10)).await.unwrap();
    s.put_task("acme", &task("cgt-ancient", now - 100 * 86_400)).await.unwrap();

    // Unfiltered: newest first, `total` over every visible task, paging across the boundary.
    for (page_num, size) in [(1, 10), (2, 10), (4, 10), (5, 10), (2, 7), (1, 500)] {
        let got = s.task_page("acme", &query(page_num, size)).await.unwrap();
        let (want, total) = expect(&all, ((page_num - 1) * size) as usize, size as usize, |_| true);
        assert_eq!((ids(&got), got.total), (want, total), "page {page_num} of {size}");
    }
    let hidden: Vec<&Written> = all.iter().filter(|w| w.hidden).collect();
    assert!(!hidden.is_empty());
    let everything = s.task_page("acme", &query(1, 500)).await.unwrap();
    assert!(everything.records.iter().all(|r| !r.hidden && r.id != "cgt-ancient" && r.id != "cgt-globex"));

    // filter.model
    for model in [STANDARD, FAST] {
        for page_num in [1, 2, 3] {
            let q = TaskPageQuery { model: Some(model.into()), ..query(page_num, 6) };
            let got = s.task_page("acme", &q).await.unwrap();
            let want = expect(&all, ((page_num - 1) * 6) as usize, 6, |w| w.model == model);
            assert_eq!((ids(&got), got.total), want, "{model} page {page_num}");
        }
    }

    // Open tasks: queued and running, visible, newest first.
    let open: Vec<String> = s.open_tasks("acme").await.unwrap().into_iter().map(|r| r.id).collect();
    let (want_open, _) = expect(&all, 0, 500, |w| matches!(w.status, "queued" | "running"));
    assert_eq!(open, want_open);

    // filter.status: recorded terminal statuses, plus the open tasks the upstream says match.
    let said_succeeded: Vec<String> = open.iter().step_by(3).cloned().collect();
    for (status, open_ids) in [
        ("succeeded", said_succeeded.clone()),
        ("failed", vec![]),
        ("cancelled", vec![open[1].clone(), "cgt-globex".into(), "cgt-nope".into()]),
        ("queued", open.iter().filter(|id| !said_succeeded.contains(id)).cloned().collect()),
        ("running", vec![]),
    ] {
        for page_num in [1, 2, 3] {
            let q = TaskPageQuery {
                status: Some(StatusMatch { status: status.into(), open_ids: open_ids.clone() }),
                ..query(page_num, 4)
            };
            let got = s.task_page("acme", &q).await.unwrap();
            let terminal = status != "queued" && status != "running";
            let want = expect(&all, ((page_num - 1) * 4) as usize, 4, |w| {
                (terminal && w.status == status) || open_ids.contains(&w.id)
            });
            assert_eq!((ids(&got), got.total), want, "{status} page {page_num}");
        }
    }

    // Status and model together.
    let q = TaskPageQuery {
        model: Some(FAST.into()),
        status: Some(StatusMatch { status: "succeeded".into(), open_ids: said_succeeded.clone() }),
        ..query(1, 500)
    };
    let got = s.task_page("acme", &q).await.unwrap();
    let want = expect(&all, 0, 500, |w| w.model == FAST && (w.status == "succeeded" || said_succeeded.contains(&w.id)));
    assert_eq!((ids(&got), got.total), want);

    // filter.task_ids: just those, hidden and foreign ones silently absent.
    let named: Vec<String> =
        ["cgt-00003", "cgt-00015", "cgt-00004", "cgt-globex", "cgt-ancient", "cgt-nope", "cgt-00039"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    for page_num in [1, 2] {
        let q = TaskPageQuery { task_ids: Some(named.clone()), ..query(page_num, 2) };
        let got = s.task_page("acme", &q).await.unwrap();
        let want = expect(&all, ((page_num - 1) * 2) as usize, 2, |w| named.contains(&w.id));
        assert_eq!((ids(&got), got.total), want, "named page {page_num}");
    }
    let q = TaskPageQuery {
        task_ids: Some(named.clone()),
        model: Some(STANDARD.into()),
        status: Some(StatusMatch { status: "succeeded".into(), open_ids: vec![] }),
        ..query(1, 10)
    };
    let got = s.task_page("acme", &q).await.unwrap();
    let want = expect(&all, 0, 10, |w| named.contains(&w.id) && w.model == STANDARD && w.status == "succeeded");
    assert_eq!((ids(&got), got.total), want);
    assert_eq!(s.task_page("globex", &query(1, 10)).await.unwrap().total, 1);
    assert_eq!(s.task_page("nobody", &query(1, 10)).await.unwrap(), TaskPage::default());

    // Status changes and hiding move tasks between the indexes.
    let mut all = all;
    let first_open = open.last().unwrap().clone();
    s.set_status("acme", &first_open, "failed").await.unwrap();
    let newest_succeeded = all.iter().rev().find(|w| w.status == "succeeded" && !w.hidden).unwrap().id.clone();
    s.hide_task("acme", &newest_succeeded).await.unwrap();
    for w in all.iter_mut() {
        if w.id == first_open {
            w.status = "failed";
        }
        if w.id == newest_succeeded {
            w.hidden = true;
        }
    }
    for status in ["failed", "succeeded"] {
        let q =
            TaskPageQuery { status: Some(StatusMatch { status: status.into(), open_ids: vec![] }), ..query(1, 500) };
        let got = s.task_page("acme", &q).await.unwrap();
        assert_eq!((ids(&got), got.total), expect(&all, 0, 500, |w| w.status == status), "{status} after changes");
    }
    let open_now: Vec<String> = s.open_tasks("acme").await.unwrap().into_iter().map(|r| r.id).collect();
    assert!(!open_now.contains(&first_open), "a finished task leaves the open tasks");
    let got = s.task_page("acme", &query(1, 500)).await.unwrap();
    assert_eq!((ids(&got), got.total), expect(&all, 0, 500, |_| true));
}

#[tokio::test]
async fn paging_and_filters_on_the_memory_store() {
    paging_and_filters(&MemoryStore::new()).await;
}

#[tokio::test]
async fn paging_and_filters_on_redis() {
    let redis = RedisServer::start();
    paging_and_filters(redis_store(&redis).as_ref()).await;
}

/// A settled or quarantined task is listed as succeeded.
#[tokio::test]
async fn settled_and_quarantined_tasks_list_as_succeeded() {
    let redis = RedisServer::start();
    let stores: [Arc<dyn Store>; 2] = [redis_store(&redis), Arc::new(MemoryStore::new())];
    for s in stores {
        let now = now_secs();
        s.put_task("acme", &task("cgt-a", now - 2)).await.unwrap();
        s.put_task("acme", &task("cgt-b", now - 1)).await.unwrap();
        s.settle("acme", &support::fixtures::settlement("cgt-a", "set-1")).await.unwrap();
        let q = QuarantineRecord { reason: "negative".into(), usage: "-1".into(), at_ms: 1 };
        s.quarantine("acme", "cgt-b", &q).await.unwrap();
        let succeeded = TaskPageQuery {
            status: Some(StatusMatch { status: "succeeded".into(), open_ids: vec![] }),
            ..TaskPageQuery::page(1, 10)
        };
        let got = s.task_page("acme", &succeeded).await.unwrap();
        assert_eq!((ids(&got), got.total), (vec!["cgt-b".to_string(), "cgt-a".to_string()], 2));
        assert!(s.open_tasks("acme").await.unwrap().is_empty());
    }
}

/// Redis commands (every command the server ran, inside scripts included) since the reset.
fn commands_since_reset(redis: &RedisServer) -> (u64, String) {
    let stats = redis.cli(&["INFO", "commandstats"]);
    let mut total = 0;
    let mut detail = Vec::new();
    for line in stats.lines() {
        let Some(rest) = line.strip_prefix("cmdstat_") else { continue };
        let (name, fields) = rest.split_once(':').unwrap();
        // The test's own reset and read (Redis 7 names subcommands `config|resetstat`), and the
        // cache's invalidation-link heartbeat (`ping`, a few a second per node, not per request).
        if name == "info" || name == "config" || name.starts_with("config|") || name == "ping" {
            continue;
        }
        let calls: u64 = fields.split(',').find_map(|f| f.strip_prefix("calls=")).unwrap().parse().unwrap();
        total += calls;
        detail.push(format!("{name}={calls}"));
    }
    (total, detail.join(" "))
}

/// Writes `all` for `tenant` through the store, 32 at a time.
async fn seed(s: &Arc<RedisStore>, tenant: &str, all: &[Written], newest_at: i64) {
    let n = all.len() as i64;
    let mut workers = tokio::task::JoinSet::new();
    for chunk in all.chunks(all.len().div_ceil(32)) {
        let (s, chunk, tenant) = (s.clone(), chunk.to_vec(), tenant.to_string());
        let first = all.iter().position(|w| w.id == chunk[0].id).unwrap() as i64;
        workers.spawn(async move {
            for (j, w) in chunk.iter().enumerate() {
                // One task a second, the newest `newest_at`: creation order is index order.
                s.put_task(&tenant, &record(w, newest_at - n + first + j as i64 + 1)).await.unwrap();
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        r.unwrap();
    }
}

/// The Redis commands one list request costs (its auth lookups included), and its answer.
async fn counted(h: &Harness, tenant: &str, query: &str) -> (u64, String, Vec<String>, u64) {
    h.redis.cli(&["CONFIG", "RESETSTAT"]);
    let r = h.get(tenant, &format!("{TASKS}?{query}")).await;
    let (count, detail) = commands_since_reset(&h.redis);
    assert_eq!(r.status, 200, "{query}: {}", r.raw);
    let items = r.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    (count, detail, items, r.body["total"].as_u64().unwrap())
}

#[tokio::test]
async fn a_page_of_ten_costs_the_page_not_a_10k_history() {
    let h = Harness::start_with(Options { reconcile_interval_ms: 3_600_000, ..Options::default() }).await;
    let s = redis_store(&h.redis);
    // Mostly finished tasks, a handful still open (bounded by what the tenant runs at once).
    let mut all = history(10_000);
    for (i, w) in all.iter_mut().enumerate() {
        if matches!(w.status, "queued" | "running") && i < 9_990 {
            w.status = if i % 2 == 0 { "expired" } else { "succeeded" };
        }
    }
    seed(&s, "acme", &all, now_secs() - 5).await;
    // Two real tasks on top; the upstream finishes one the edge has not seen end yet, so only
    // the upstream's word puts it among the succeeded ones.
    for finished in [true, false] {
        let id = h.create("acme", STANDARD).await;
        if finished {
            h.finish(&id, "succeeded", 40_594, "480p");
        }
        let status = if finished { "succeeded" } else { "queued" };
        all.push(Written { id, model: STANDARD, status, hidden: false });
    }
    let open = all.iter().filter(|w| !w.hidden && matches!(w.status, "queued" | "running")).count();
    assert!((3..=10).contains(&open), "{open} open tasks");

    let mut report = Vec::new();
    let any = || Box::new(|_: &Written| true) as Box<dyn Fn(&Written) -> bool>;
    let status = |s: &'static str| Box::new(move |w: &Written| w.status == s) as Box<dyn Fn(&Written) -> bool>;
    for (what, q, keep) in [
        // The finished task is on page 1 only by the upstream's word, merged into the index.
        ("filter.status=succeeded, page 3", "page_size=10&page_num=3&filter.status=succeeded", status("succeeded")),
        // Page 1 shows the finished task, so the edge settles it on the way (a one-time write).
        ("filter.status=succeeded, settling one", "page_size=10&filter.status=succeeded", status("succeeded")),
        ("first page", "page_size=10", any()),
        ("middle page", "page_size=10&page_num=400", any()),
        ("last page of 500", "page_size=500&page_num=19", any()),
        ("filter.status=succeeded", "page_size=10&filter.status=succeeded", status("succeeded")),
        ("filter.status=queued", "page_size=10&filter.status=queued", status("queued")),
        (
            "filter.model",
            "page_size=10&page_num=50&filter.model=dreamina-seedance-2-0-fast",
            Box::new(|w: &Written| w.model == FAST),
        ),
        (
            "filter.task_ids",
            "page_size=10&filter.task_ids=cgt-09999,cgt-05000&filter.task_ids=cgt-00004,cgt-00001",
            Box::new(|w: &Written| ["cgt-09999", "cgt-05000", "cgt-00004", "cgt-00001"].contains(&w.id.as_str())),
        ),
    ] {
        let (count, detail, items, total) = counted(&h, "acme", q).await;
        let param = |name: &str, default: usize| {
            q.split('&').find_map(|p| p.strip_prefix(name)).map_or(default, |n| n.parse().unwrap())
        };
        let (page_num, page_size) = (param("page_num=", 1), param("page_size=", 20));
        assert_eq!((items, total), expect(&all, (page_num - 1) * page_size, page_size, keep), "{what}");
        eprintln!("{what}: {count} Redis commands ({detail})");
        report.push((what, count));
        if page_size == 10 && !what.contains("settling") {
            assert!(count <= 40, "{what} cost {count} Redis commands over a 10k history: {detail}");
        }
    }
    eprintln!("{report:?}");

    // Independent of the history: the same page of a tenant with 30 tasks costs the same.
    seed(&s, "globex", &history(30), now_secs() - 5).await;
    let (small, detail, _, total) = counted(&h, "globex", "page_size=10").await;
    assert_eq!(total, expect(&history(30), 0, 10, |_| true).1);
    let first = report.iter().find(|(what, _)| *what == "first page").unwrap().1;
    assert_eq!(small, first, "a page over 30 tasks ({detail}) and over 10 000 cost alike");
}

#[tokio::test]
async fn tasks_recorded_before_the_indexes_are_indexed_once_then_listed_by_filter() {
    let redis = RedisServer::start();
    let s = redis_store(&redis);
    let mut all = history(60);
    seed(&s, "acme", &all, now_secs()).await;
    // What an older version left: the hashes and the `tasks` index only, and an index entry
    // whose record has expired.
    let stray: Vec<String> =
        redis.cli(&["--scan", "--pattern", "sde:{t:acme}:tasks:*"]).lines().map(str::to_string).collect();
    assert!(stray.len() > 5, "{stray:?}");
    for key in &stray {
        redis.cli(&["DEL", key]);
    }
    redis.cli(&["ZADD", "sde:{t:acme}:tasks", &format!("{}", (now_secs() - 5) * 1_000_000), "cgt-gone"]);
    // Written after the upgrade, before the first list: indexed by its own script.
    let late = Written { id: "cgt-late".into(), model: FAST, status: "succeeded", hidden: false };
    s.put_task("acme", &record(&late, now_secs() + 1)).await.unwrap();
    all.push(late);

    let q = TaskPageQuery {
        model: Some(FAST.into()),
        status: Some(StatusMatch { status: "succeeded".into(), open_ids: vec![] }),
        ..TaskPageQuery::page(1, 500)
    };
    let got = s.task_page("acme", &q).await.unwrap();
    assert_eq!((ids(&got), got.total), expect(&all, 0, 500, |w| w.model == FAST && w.status == "succeeded"));
    assert_eq!(
        redis.cli(&["ZSCORE", "sde:{t:acme}:tasks", "cgt-gone"]).trim(),
        "",
        "an expired record's entry is dropped"
    );
    let open: Vec<String> = s.open_tasks("acme").await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(open, expect(&all, 0, 500, |w| matches!(w.status, "queued" | "running")).0);

    // Once only: the next page costs the page.
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let got = s.task_page("acme", &TaskPageQuery::page(2, 10)).await.unwrap();
    assert_eq!((ids(&got), got.total), expect(&all, 10, 10, |_| true));
    let (count, detail) = commands_since_reset(&redis);
    assert!(count <= 13, "{count}: {detail}");
}

#[tokio::test]
async fn entries_older_than_the_retention_are_not_listed_and_are_pruned() {
    let redis = RedisServer::start();
    let opts = RedisOptions { retention: Duration::from_secs(3600), ..RedisOptions::default() };
    let s = Arc::new(RedisStore::connect(&redis.url(), "sde", opts).expect("url parses"));
    let memory = MemoryStore::with_retention(Duration::from_secs(3600));
    let now = now_secs();
    let succeeded = TaskPageQuery {
        status: Some(StatusMatch { status: "succeeded".into(), open_ids: vec![] }),
        ..TaskPageQuery::page(1, 10)
    };
    let stores: [&dyn Store; 2] = [s.as_ref(), &memory];
    for st in stores {
        let mut old = task("cgt-old", now - 7200);
        old.status = "succeeded".into();
        st.put_task("acme", &old).await.unwrap();
        st.put_task("acme", &task("cgt-open-old", now - 3700)).await.unwrap();
        st.put_task("acme", &task("cgt-new", now - 5)).await.unwrap();
        let got = st.task_page("acme", &TaskPageQuery::page(1, 10)).await.unwrap();
        assert_eq!((ids(&got), got.total), (vec!["cgt-new".to_string()], 1));
        assert_eq!(st.task_page("acme", &succeeded).await.unwrap().total, 0);
        let open: Vec<String> = st.open_tasks("acme").await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(open, ["cgt-new"]);
    }
    // Entries indexed while within the retention that have since aged out (as an hour ago):
    // skipped by every read at once, and removed by the next write to their index once its
    // maintenance is due (it was last done more than the slack, here 450 s, ago).
    let aged = ((now - 3700) * 1_000_000).to_string();
    let model_index = format!("sde:{{t:acme}}:tasks:m:{STANDARD}");
    let status_model_index = format!("sde:{{t:acme}}:tasks:s:succeeded:m:{STANDARD}");
    let indexes = [
        "sde:{t:acme}:tasks",
        "sde:{t:acme}:tasks:open",
        "sde:{t:acme}:tasks:s:succeeded",
        model_index.as_str(),
        status_model_index.as_str(),
    ];
    for key in indexes {
        redis.cli(&["ZADD", key, &aged, "cgt-aged"]);
        redis.cli(&["EXPIRE", key, "3000"]);
    }
    let got = s.task_page("acme", &TaskPageQuery::page(1, 10)).await.unwrap();
    assert_eq!((ids(&got), got.total), (vec!["cgt-new".to_string()], 1));
    assert_eq!(s.task_page("acme", &succeeded).await.unwrap().total, 0);
    assert_eq!(s.open_tasks("acme").await.unwrap().len(), 1);

    s.put_task("acme", &task("cgt-open-new", now - 1)).await.unwrap();
    let mut done = task("cgt-done", now - 1);
    done.status = "succeeded".into();
    s.put_task("acme", &done).await.unwrap();
    for key in indexes {
        assert_eq!(redis.cli(&["ZSCORE", key, "cgt-aged"]).trim(), "", "pruned from {key}");
        assert_eq!(redis.cli(&["ZSCORE", key, "cgt-old"]).trim(), "", "never indexed in {key}");
        let ttl: i64 = redis.cli(&["TTL", key]).trim().parse().unwrap();
        assert!((3600..=4050).contains(&ttl), "{key} expires a retention and the slack after: {ttl}");
    }
    assert_eq!(redis.cli(&["ZCARD", "sde:{t:acme}:tasks"]).trim(), "3");

    // Within the slack the next write only adds: an aged entry waits for the next maintenance.
    redis.cli(&["ZADD", indexes[0], &aged, "cgt-aged"]);
    s.put_task("acme", &task("cgt-later", now)).await.unwrap();
    assert_eq!(redis.cli(&["ZCARD", indexes[0]]).trim(), "5");
    assert_eq!(s.task_page("acme", &TaskPageQuery::page(1, 10)).await.unwrap().total, 4, "never listed");
}
