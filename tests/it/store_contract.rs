//! One contract, two stores: every behaviour below is written once and run against the memory
//! store (the demo's) and the Redis store (production's, on a real redis-server). The memory
//! store claims the same semantics as Redis; these tests are what holds it to that.

use crate::support;

use seedance_edge::store::memory::MemoryStore;
use seedance_edge::store::redis::{RedisOptions, RedisStore};
use seedance_edge::store::*;
use std::sync::Arc;
use std::time::Duration;
use support::fixtures::{settlement, task};
use support::redis::RedisServer;

/// A store under test, and what keeps it alive (the redis-server process, for Redis).
struct Subject {
    store: Arc<dyn Store>,
    _server: Option<RedisServer>,
}

fn memory() -> Subject {
    Subject { store: Arc::new(MemoryStore::new()), _server: None }
}

fn redis() -> Subject {
    let server = RedisServer::start();
    let opts = RedisOptions { op_timeout: Duration::from_millis(1000), ..RedisOptions::default() };
    let store = RedisStore::connect(&server.url(), "sde", opts).expect("url parses");
    Subject { store: Arc::new(store), _server: Some(server) }
}

/// Each behaviour becomes `store_contract::memory::<name>` and `store_contract::redis::<name>`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                let s = super::memory();
                super::$name(s.store.as_ref()).await;
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                let s = super::redis();
                super::$name(s.store.as_ref()).await;
            })*
        }
    };
}

contract!(
    tenants_and_tokens,
    tasks_live_in_their_tenants_namespace,
    listing_is_newest_first_and_hiding_keeps_the_record,
    listing_orders_by_creation_time_not_by_write_order,
    terminal_statuses_are_final_and_leave_the_pending_set,
    a_terminal_status_releases_the_slot_once,
    settlement_is_exactly_once,
    settlement_is_exactly_once_under_concurrency,
    quarantine_marks_once_and_never_a_settled_task,
    a_deferred_settlement_is_noted_until_it_settles,
    admission_counts_slots_and_the_rate_window,
    reservations_charges_and_releases_are_exact_and_once,
    stale_slots_give_back_capacity_and_money,
    channel_capacity_is_shared_and_ends_with_the_task,
    intents_claims_and_orphans,
    ledger_pages_join_up,
    the_reconcile_lease_has_one_holder,
    assets_live_in_their_tenants_namespace,
);

fn tenant(id: &str) -> TenantRecord {
    TenantRecord {
        id: id.into(),
        disabled: false,
        channels: vec!["main".into()],
        models: vec![],
        assets: true,
        limits: Default::default(),
    }
}

fn admission(slot: &str, now_ms: i64) -> Admission {
    Admission {
        slot: slot.into(),
        now_ms,
        max_active_tasks: None,
        creates_per_minute: None,
        reserve_nanos: None,
        stale_before_ms: 0,
    }
}

/// A queued task that holds admission slot `slot` (prepaid or not).
fn task_in_slot(id: &str, slot: &str, prepaid: bool) -> TaskRecord {
    TaskRecord { slot: Some(slot.into()), prepaid, ..task(id, 1_700_000_000) }
}

async fn tenants_and_tokens(s: &dyn Store) {
    let acme = tenant("acme");
    s.put_tenant(&acme).await.unwrap();
    assert_eq!(s.tenant("acme").await.unwrap(), Some(acme.clone()));
    assert_eq!(s.tenant("globex").await.unwrap(), None);
    // Tasks alone do not make a tenant.
    s.put_task("globex", &task("cgt-1", 1)).await.unwrap();
    assert_eq!(s.tenant_ids().await.unwrap(), ["acme"]);
    let disabled = TenantRecord { disabled: true, ..acme };
    s.put_tenant(&disabled).await.unwrap();
    assert_eq!(s.tenant("acme").await.unwrap(), Some(disabled), "an upsert replaces the record");

    s.add_token("acme", "ab12").await.unwrap();
    s.add_token("acme", "ab12").await.unwrap();
    assert!(matches!(s.add_token("globex", "ab12").await, Err(TokenError::HeldByOther { holder }) if holder == "acme"));
    assert_eq!(s.token_tenant("ab12").await.unwrap().as_deref(), Some("acme"));
    assert!(s.revoke_token("ab12").await.unwrap());
    assert!(!s.revoke_token("ab12").await.unwrap(), "revoking twice finds nothing the second time");
    assert_eq!(s.token_tenant("ab12").await.unwrap(), None);
    s.add_token("globex", "ab12").await.unwrap();
    assert_eq!(s.token_tenant("ab12").await.unwrap().as_deref(), Some("globex"), "a revoked hash is free again");
}

/// The tenant's listed tasks (one page of up to 500, newest first).
async fn listed(s: &dyn Store, tenant: &str) -> Vec<TaskRecord> {
    s.task_page(tenant, &TaskPageQuery::page(1, 500)).await.unwrap().records
}

async fn tasks_live_in_their_tenants_namespace(s: &dyn Store) {
    let t = task("cgt-1", 1_700_000_000);
    s.put_task("acme", &t).await.unwrap();
    assert_eq!(s.task("acme", "cgt-1").await.unwrap().as_deref(), Some(&t));
    assert_eq!(s.task("globex", "cgt-1").await.unwrap(), None, "another tenant's id is simply absent");
    assert!(listed(s, "globex").await.is_empty());
    assert!(!s.put_task_if_absent("acme", &task("cgt-1", 1)).await.unwrap(), "a replay never overwrites");
    assert_eq!(s.task("acme", "cgt-1").await.unwrap().as_deref(), Some(&t));
    assert!(s.put_task_if_absent("acme", &task("cgt-2", 1_700_000_001)).await.unwrap());
    assert!(s.task("acme", "cgt-2").await.unwrap().is_some());
    // Setting a status or hiding an unknown task conjures nothing.
    s.set_status("acme", "cgt-9", "failed").await.unwrap();
    s.hide_task("acme", "cgt-9").await.unwrap();
    assert_eq!(s.task("acme", "cgt-9").await.unwrap(), None);
}

async fn listing_is_newest_first_and_hiding_keeps_the_record(s: &dyn Store) {
    let now = seedance_edge::clock::now_secs();
    for i in 0..5 {
        s.put_task("acme", &task(&format!("cgt-{i}"), now)).await.unwrap();
    }
    let ids = |v: Vec<TaskRecord>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(listed(s, "acme").await), ["cgt-4", "cgt-3", "cgt-2", "cgt-1", "cgt-0"]);
    s.hide_task("acme", "cgt-3").await.unwrap();
    assert_eq!(ids(listed(s, "acme").await), ["cgt-4", "cgt-2", "cgt-1", "cgt-0"]);
    assert!(s.task("acme", "cgt-3").await.unwrap().unwrap().hidden, "the audit record is kept");
}

/// A journal replay writes an old task after newer ones: it still lists by its creation time.
async fn listing_orders_by_creation_time_not_by_write_order(s: &dyn Store) {
    let now = seedance_edge::clock::now_secs();
    s.put_task("acme", &task("cgt-new", now - 100)).await.unwrap();
    assert!(s.put_task_if_absent("acme", &task("cgt-old", now - 300)).await.unwrap());
    s.put_task("acme", &task("cgt-mid", now - 200)).await.unwrap();
    let ids: Vec<String> = listed(s, "acme").await.into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["cgt-new", "cgt-mid", "cgt-old"]);
}

async fn terminal_statuses_are_final_and_leave_the_pending_set(s: &dyn Store) {
    s.put_task("acme", &task("cgt-1", 1_700_000_000)).await.unwrap();
    assert_eq!(s.due_tasks("acme", i64::MAX, 10).await.unwrap(), [("cgt-1".to_string(), 1_700_000_000_000)]);
    s.reschedule("acme", "cgt-1", Some(2_000_000_000_000)).await.unwrap();
    assert!(s.due_tasks("acme", 1_999_999_999_999, 10).await.unwrap().is_empty(), "backed off");
    assert_eq!(s.due_tasks("acme", 2_000_000_000_000, 10).await.unwrap().len(), 1);
    s.set_status("acme", "cgt-1", "running").await.unwrap();
    assert_eq!(s.task("acme", "cgt-1").await.unwrap().unwrap().status, "running");
    s.set_status("acme", "cgt-1", "failed").await.unwrap();
    s.set_status("acme", "cgt-1", "running").await.unwrap();
    assert_eq!(s.task("acme", "cgt-1").await.unwrap().unwrap().status, "failed", "terminal is final");
    assert!(s.due_tasks("acme", i64::MAX, 10).await.unwrap().is_empty());
    // A task written terminal never enters the pending set; `None` drops one that did.
    s.put_task("acme", &TaskRecord { status: "expired".into(), ..task("cgt-2", 1) }).await.unwrap();
    s.put_task("acme", &task("cgt-3", 3)).await.unwrap();
    s.reschedule("acme", "cgt-3", None).await.unwrap();
    assert!(s.due_tasks("acme", i64::MAX, 10).await.unwrap().is_empty());
    // Oldest due first, at most `limit`.
    for (i, at) in [(4, 40), (5, 20), (6, 30)] {
        s.put_task("acme", &task(&format!("cgt-{i}"), at)).await.unwrap();
    }
    let due: Vec<String> = s.due_tasks("acme", i64::MAX, 2).await.unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(due, ["cgt-5", "cgt-6"]);
}

async fn a_terminal_status_releases_the_slot_once(s: &dyn Store) {
    let capped = |slot: &str| Admission { max_active_tasks: Some(1), ..admission(slot, 1_000) };
    assert_eq!(s.admit("acme", &capped("s1")).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &capped("s2")).await.unwrap(), Admit::ActiveLimit { active: 1 });
    s.put_task("acme", &task_in_slot("cgt-1", "s1", false)).await.unwrap();
    s.set_status("acme", "cgt-1", "running").await.unwrap();
    assert_eq!(s.wallet("acme").await.unwrap().active_tasks, 1, "running still holds the slot");
    s.set_status("acme", "cgt-1", "cancelled").await.unwrap();
    assert_eq!(s.wallet("acme").await.unwrap().active_tasks, 0);
    assert!(!s.release_slot("acme", "s1", 2_000).await.unwrap(), "already released by the task's end");
    assert_eq!(s.admit("acme", &capped("s2")).await.unwrap(), Admit::Admitted);
    // Hiding a task that still holds a slot ends it too.
    s.put_task("acme", &task_in_slot("cgt-2", "s2", false)).await.unwrap();
    s.hide_task("acme", "cgt-2").await.unwrap();
    assert_eq!(s.wallet("acme").await.unwrap().active_tasks, 0);
}

async fn settlement_is_exactly_once(s: &dyn Store) {
    s.put_task("acme", &task("cgt-1", 1_700_000_000)).await.unwrap();
    let first = s.settle("acme", &settlement("cgt-1", "n1-a")).await.unwrap();
    let SettleOutcome::Settled { entry_id } = first else { panic!("first settle: {first:?}") };
    assert_eq!(s.settle("acme", &settlement("cgt-1", "n1-a")).await.unwrap(), SettleOutcome::Replay);
    assert_eq!(
        s.settle("acme", &settlement("cgt-1", "n2-b")).await.unwrap(),
        SettleOutcome::AlreadySettled { by: "n1-a".into() }
    );
    assert_eq!(s.settle("globex", &settlement("cgt-1", "n1-a")).await.unwrap(), SettleOutcome::NoTask);
    let rec = s.task("acme", "cgt-1").await.unwrap().as_deref().cloned().unwrap();
    assert_eq!(rec.status, "succeeded");
    let expected = SettlementRecord {
        settled_by: "n1-a".into(),
        settled_at_ms: 1_781_181_802_000,
        sku: "dreamina-seedance-2-0-720p-video".into(),
        tokens: 40_594,
        usd_nanos: 174_554_200,
        resolution: "720p".into(),
    };
    assert_eq!(rec.settlement, Some(expected));
    let ledger = s.ledger("acme", 0).await.unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    let e = &ledger[0];
    assert_eq!(e.entry_id, entry_id);
    assert_eq!((e.tenant.as_str(), e.task_id.as_str(), e.settlement_id.as_str()), ("acme", "cgt-1", "n1-a"));
    assert_eq!((e.tokens, e.usd_nanos, e.at_ms), (40_594, 174_554_200, 1_781_181_802_000));
    assert_eq!(
        (e.model.as_str(), e.channel.as_str(), e.unit_price),
        ("dreamina-seedance-2-0", "main", Some(4_300_000))
    );
    let later = seedance_edge::clock::now_ms() + 60_000;
    assert!(s.ledger("acme", later).await.unwrap().is_empty(), "since reads the append time");
    assert!(s.due_tasks("acme", i64::MAX, 10).await.unwrap().is_empty(), "a settled task leaves the pending set");
}

async fn settlement_is_exactly_once_under_concurrency(s: &dyn Store) {
    s.put_task("acme", &task("cgt-1", 1_700_000_000)).await.unwrap();
    let attempts = (0..32).map(|i| async move { s.settle("acme", &settlement("cgt-1", &format!("n-{i}"))).await });
    let outcomes = futures_join_all(attempts).await;
    let won = outcomes.iter().filter(|o| matches!(o, Ok(SettleOutcome::Settled { .. }))).count();
    assert_eq!(won, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Ok(SettleOutcome::Settled { .. } | SettleOutcome::AlreadySettled { .. }))));
    assert_eq!(s.ledger("acme", 0).await.unwrap().len(), 1);
}

/// Polls every future to completion, concurrently, in order (no extra dependency for one join).
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

async fn quarantine_marks_once_and_never_a_settled_task(s: &dyn Store) {
    let q = |reason: &str| QuarantineRecord { reason: reason.into(), usage: "-5".into(), at_ms: 7 };
    s.put_task("acme", &task_in_slot("cgt-1", "s1", false)).await.unwrap();
    assert_eq!(s.admit("acme", &admission("s1", 1)).await.unwrap(), Admit::Admitted);
    assert!(s.quarantine("acme", "cgt-1", &q("negative")).await.unwrap());
    assert!(!s.quarantine("acme", "cgt-1", &q("fractional")).await.unwrap(), "the first mark stands");
    let rec = s.task("acme", "cgt-1").await.unwrap().as_deref().cloned().unwrap();
    assert_eq!(rec.quarantine, Some(q("negative")));
    assert_eq!(rec.status, "succeeded");
    assert!(rec.settlement.is_none());
    assert_eq!(s.wallet("acme").await.unwrap().active_tasks, 0, "its slot is released");
    assert!(s.due_tasks("acme", i64::MAX, 10).await.unwrap().is_empty());

    s.put_task("acme", &task("cgt-2", 1)).await.unwrap();
    assert!(matches!(s.settle("acme", &settlement("cgt-2", "n1")).await.unwrap(), SettleOutcome::Settled { .. }));
    assert!(!s.quarantine("acme", "cgt-2", &q("negative")).await.unwrap(), "a settled task is never marked");
    assert_eq!(s.task("acme", "cgt-2").await.unwrap().unwrap().quarantine, None);
    assert!(!s.quarantine("acme", "cgt-9", &q("negative")).await.unwrap(), "an unknown task is not marked");
    assert_eq!(s.task("acme", "cgt-9").await.unwrap(), None);
}

async fn a_deferred_settlement_is_noted_until_it_settles(s: &dyn Store) {
    s.put_task("acme", &task("cgt-1", 1_700_000_000)).await.unwrap();
    assert_eq!(s.pending_settlement("acme", "cgt-1").await.unwrap(), None);
    s.defer_settlement("acme", "cgt-1", "missing_usage", 10).await.unwrap();
    s.defer_settlement("acme", "cgt-1", "no_price", 20).await.unwrap();
    let noted = PendingSettlement { reason: "no_price".into(), since_ms: 10, attempts: 2 };
    assert_eq!(s.pending_settlement("acme", "cgt-1").await.unwrap(), Some(noted), "first time kept, attempts counted");
    s.defer_settlement("acme", "cgt-2", "no_price", 20).await.unwrap();
    assert_eq!(s.task("acme", "cgt-2").await.unwrap(), None, "no record conjured for an unknown task");
    assert_eq!(s.pending_settlement("acme", "cgt-2").await.unwrap(), None);

    assert!(matches!(s.settle("acme", &settlement("cgt-1", "a")).await.unwrap(), SettleOutcome::Settled { .. }));
    assert_eq!(s.pending_settlement("acme", "cgt-1").await.unwrap(), None, "settling clears the note");
    s.defer_settlement("acme", "cgt-1", "no_price", 30).await.unwrap();
    assert_eq!(s.pending_settlement("acme", "cgt-1").await.unwrap(), None, "a settled task is never pending");
}

async fn admission_counts_slots_and_the_rate_window(s: &dyn Store) {
    let capped = |slot: &str| Admission { max_active_tasks: Some(2), ..admission(slot, 1_000) };
    assert_eq!(s.admit("acme", &capped("a")).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &capped("b")).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &capped("c")).await.unwrap(), Admit::ActiveLimit { active: 2 });
    assert_eq!(s.admit("globex", &capped("a")).await.unwrap(), Admit::Admitted, "limits are per tenant");
    assert!(s.release_slot("acme", "a", 2_000).await.unwrap());
    assert!(!s.release_slot("acme", "a", 2_000).await.unwrap(), "released once");
    assert_eq!(s.wallet("acme").await.unwrap().active_tasks, 1);
    assert_eq!(s.admit("acme", &capped("c")).await.unwrap(), Admit::Admitted);

    let rated = |slot: &str, ms: i64| Admission { creates_per_minute: Some(2), ..admission(slot, ms) };
    assert_eq!(s.admit("rate", &rated("a", 10_000)).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("rate", &rated("b", 30_000)).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("rate", &rated("c", 50_000)).await.unwrap(), Admit::RateLimited { retry_after_ms: 20_000 });
    assert_eq!(s.admit("rate", &rated("d", 70_000)).await.unwrap(), Admit::Admitted, "the first left the window");
    assert_eq!(s.admit("rate", &rated("e", 70_001)).await.unwrap(), Admit::RateLimited { retry_after_ms: 19_999 });
}

async fn reservations_charges_and_releases_are_exact_and_once(s: &dyn Store) {
    let w = s.credit("acme", 1_000_000_000, 1).await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos, w.active_tasks), (1_000_000_000, 0, 0, 0));
    let reserve = |slot: &str, n: u64| Admission { reserve_nanos: Some(n), ..admission(slot, 1_000) };
    assert_eq!(s.admit("acme", &reserve("s1", 400_000_001)).await.unwrap(), Admit::Admitted);
    assert_eq!(s.admit("acme", &reserve("s2", 400_000_000)).await.unwrap(), Admit::Admitted);
    assert_eq!(
        s.admit("acme", &reserve("s3", 200_000_000)).await.unwrap(),
        Admit::InsufficientQuota { available_nanos: 199_999_999 },
        "a refusal reserves nothing"
    );
    // s1 succeeds: its settlement charges the actual price and releases the whole hold, once.
    s.put_task("acme", &task_in_slot("cgt-1", "s1", true)).await.unwrap();
    s.set_status("acme", "cgt-1", "succeeded").await.unwrap();
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.reserved_nanos, w.active_tasks), (800_000_001, 2), "a prepaid success waits for its charge");
    let st = Settlement { usd_nanos: 123_456_789, ..settlement("cgt-1", "n1-a") };
    assert!(matches!(s.settle("acme", &st).await.unwrap(), SettleOutcome::Settled { .. }));
    assert_eq!(s.settle("acme", &st).await.unwrap(), SettleOutcome::Replay);
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos), (876_543_211, 400_000_000, 123_456_789));
    // s2 fails: released, nothing charged, however often it is observed.
    s.put_task("acme", &task_in_slot("cgt-2", "s2", true)).await.unwrap();
    s.set_status("acme", "cgt-2", "failed").await.unwrap();
    s.set_status("acme", "cgt-2", "failed").await.unwrap();
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.spent_nanos, w.active_tasks), (876_543_211, 0, 123_456_789, 0));
    let kinds: Vec<(String, u64)> =
        s.wallet_movements("acme").await.unwrap().into_iter().map(|m| (m.kind, m.usd_nanos)).collect();
    let expected = [
        ("credit", 1_000_000_000),
        ("reserve", 400_000_001),
        ("reserve", 400_000_000),
        ("release", 400_000_001),
        ("charge", 123_456_789),
        ("release", 400_000_000),
    ];
    let expected: Vec<(String, u64)> = expected.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    assert_eq!(kinds, expected);
    assert_eq!(s.wallet("globex").await.unwrap(), Wallet::default(), "money is per tenant");
}

async fn stale_slots_give_back_capacity_and_money(s: &dyn Store) {
    s.credit("acme", 100, 1).await.unwrap();
    let a = Admission { max_active_tasks: Some(1), reserve_nanos: Some(100), ..admission("old", 1_000) };
    assert_eq!(s.admit("acme", &a).await.unwrap(), Admit::Admitted);
    let fresh = Admission { slot: "new".into(), now_ms: 5_000, ..a.clone() };
    assert_eq!(s.admit("acme", &fresh).await.unwrap(), Admit::ActiveLimit { active: 1 });
    let later = Admission { stale_before_ms: 2_000, ..fresh };
    assert_eq!(s.admit("acme", &later).await.unwrap(), Admit::Admitted, "the stale slot and its hold are gone");
    let w = s.wallet("acme").await.unwrap();
    assert_eq!((w.balance_nanos, w.reserved_nanos, w.active_tasks), (100, 100, 1));
}

async fn channel_capacity_is_shared_and_ends_with_the_task(s: &dyn Store) {
    let room =
        |slot: &str| ChannelAdmission { slot: slot.into(), now_ms: 1_000, max_active_tasks: 2, stale_before_ms: 0 };
    assert_eq!(s.channel_admit("main", &room("s1")).await.unwrap(), ChannelAdmit::Admitted { active: 1 });
    assert_eq!(s.channel_admit("main", &room("s1")).await.unwrap(), ChannelAdmit::Admitted { active: 1 }, "idempotent");
    assert_eq!(s.channel_admit("main", &room("s2")).await.unwrap(), ChannelAdmit::Admitted { active: 2 });
    assert_eq!(s.channel_admit("main", &room("s3")).await.unwrap(), ChannelAdmit::Full { active: 2 });
    assert_eq!(s.channel_admit("other", &room("s3")).await.unwrap(), ChannelAdmit::Admitted { active: 1 });
    assert_eq!(s.channel_release("main", "s2").await.unwrap(), 1);
    assert_eq!(s.channel_release("main", "s2").await.unwrap(), 1, "releasing twice is harmless");
    assert_eq!(s.channel_active("main").await.unwrap(), 1);
    // The task holding s1 ends: its room on the channel goes back.
    s.put_task("acme", &task_in_slot("cgt-1", "s1", false)).await.unwrap();
    s.set_status("acme", "cgt-1", "succeeded").await.unwrap();
    assert_eq!(s.channel_active("main").await.unwrap(), 0);
    // An entry older than `stale_before_ms` no longer counts.
    assert_eq!(s.channel_admit("other", &room("s4")).await.unwrap(), ChannelAdmit::Admitted { active: 2 });
    let later = ChannelAdmission { stale_before_ms: 2_000, now_ms: 3_000, ..room("s5") };
    assert_eq!(s.channel_admit("other", &later).await.unwrap(), ChannelAdmit::Admitted { active: 1 });
}

async fn intents_claims_and_orphans(s: &dyn Store) {
    let intent = |id: &str, at_ms: i64| Intent { tenant: "acme".into(), id: id.into(), at_ms };
    s.put_intent("main", &intent("i1", 1_000)).await.unwrap();
    s.put_intent("main", &intent("i2", 2_000)).await.unwrap();
    s.put_intent("main", &intent("i3", 3_000)).await.unwrap();
    assert!(s.intents("other", 0).await.unwrap().is_empty(), "intents are per channel");
    s.drop_intent("main", &intent("i2", 2_000)).await.unwrap();
    s.claim("main", "cgt-1", &intent("i3", 3_000)).await.unwrap();
    assert_eq!(s.channel_owner("main", "cgt-1").await.unwrap().as_deref(), Some("acme"));
    assert_eq!(s.channel_owner("other", "cgt-1").await.unwrap(), None);
    assert_eq!(s.channel_owner("main", "cgt-2").await.unwrap(), None);
    assert_eq!(s.intents("main", 0).await.unwrap(), [intent("i1", 1_000)], "dropped and claimed intents are resolved");
    assert!(s.intents("main", 1_001).await.unwrap().is_empty(), "older intents are pruned");
    // A claim taken back (its record failed): the task is unknown again, its intent back.
    s.put_intent("main", &intent("i4", 4_000)).await.unwrap();
    s.claim("main", "cgt-4", &intent("i4", 4_000)).await.unwrap();
    s.unclaim("main", "cgt-4", &intent("i4", 4_000)).await.unwrap();
    assert_eq!(s.channel_owner("main", "cgt-4").await.unwrap(), None);
    assert_eq!(s.intents("main", 3_500).await.unwrap(), [intent("i4", 4_000)]);

    let orphan = Orphan {
        channel: "main".into(),
        task_id: "cgt-x".into(),
        created_at: 5,
        status: "running".into(),
        model: "dreamina-seedance-2-0-260128".into(),
        probable_tenant: Some("acme".into()),
        found_at_ms: 9,
    };
    assert!(s.record_orphan(&orphan).await.unwrap());
    let again = Orphan { found_at_ms: 10, status: "succeeded".into(), ..orphan.clone() };
    assert!(!s.record_orphan(&again).await.unwrap(), "recorded only the first time");
    assert_eq!(s.orphans("main").await.unwrap(), [orphan]);
    assert!(s.orphans("other").await.unwrap().is_empty());
}

/// Pages are by the store's append time (a stream id's millisecond), not `settled_at_ms`: an
/// export resumes from a cursor with no gap and no duplicate.
async fn ledger_pages_join_up(s: &dyn Store) {
    let before = seedance_edge::clock::now_ms();
    for i in 0..5 {
        let id = format!("cgt-{i}");
        s.put_task("acme", &task(&id, 1)).await.unwrap();
        let st = Settlement { settled_at_ms: 1_000 * (i + 1), ..settlement(&id, "n1") };
        assert!(matches!(s.settle("acme", &st).await.unwrap(), SettleOutcome::Settled { .. }));
    }
    let after = seedance_edge::clock::now_ms() + 1;
    let tasks = |page: &[LedgerEntry]| page.iter().map(|e| e.task_id.clone()).collect::<Vec<_>>();
    let first = s.ledger_page("acme", &LedgerFrom::Since(before), None, 2).await.unwrap();
    assert_eq!(tasks(&first), ["cgt-0", "cgt-1"]);
    assert_eq!(first[1].at_ms, 2_000, "the entry keeps the settlement's own time");
    let next = LedgerFrom::After(first[1].entry_id.clone());
    assert_eq!(tasks(&s.ledger_page("acme", &next, None, 10).await.unwrap()), ["cgt-2", "cgt-3", "cgt-4"]);
    assert_eq!(tasks(&s.ledger_page("acme", &next, Some(after), 2).await.unwrap()), ["cgt-2", "cgt-3"]);
    assert!(
        s.ledger_page("acme", &LedgerFrom::Since(0), Some(before), 10).await.unwrap().is_empty(),
        "until is exclusive"
    );
    assert!(s.ledger_page("acme", &LedgerFrom::Since(after + 60_000), None, 10).await.unwrap().is_empty());
    assert!(s.ledger_page("globex", &LedgerFrom::Since(0), None, 10).await.unwrap().is_empty());
    assert_eq!(s.ledger("acme", before).await.unwrap().len(), 5);
}

async fn the_reconcile_lease_has_one_holder(s: &dyn Store) {
    assert!(s.try_lease("acme", "node-a", 10_000).await.unwrap());
    assert!(!s.try_lease("acme", "node-b", 10_000).await.unwrap());
    assert!(s.try_lease("globex", "node-b", 10_000).await.unwrap(), "one lease per tenant");
}

async fn assets_live_in_their_tenants_namespace(s: &dyn Store) {
    let record = |id: &str, kind: AssetKind, group: Option<&str>, created_at: i64| AssetRecord {
        id: id.into(),
        kind,
        channel: "main".into(),
        group_id: group.map(str::to_string),
        created_at,
    };
    let group = record("group-1", AssetKind::Group, None, 5);
    let a1 = record("asset-1", AssetKind::Asset, Some("group-1"), 6);
    let a2 = record("asset-2", AssetKind::Asset, Some("group-1"), 7);
    for r in [&group, &a1, &a2] {
        s.put_asset("acme", r).await.unwrap();
    }
    assert_eq!(s.asset("acme", "asset-1").await.unwrap(), Some(a1.clone()));
    assert_eq!(s.asset("globex", "asset-1").await.unwrap(), None);
    assert_eq!(s.assets("acme", AssetKind::Group).await.unwrap(), [group]);
    assert_eq!(s.assets("acme", AssetKind::Asset).await.unwrap(), [a2, a1], "newest first");
    assert!(s.assets("globex", AssetKind::Asset).await.unwrap().is_empty());
}
