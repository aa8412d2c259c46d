//! Redis key layout. Every key of one tenant shares the hash tag `{t:<id>}`,
//! so a tenant's scripts touch one cluster slot; lookups are only ever built in the caller's
//! namespace, which is what makes another tenant's id indistinguishable from a missing one.

use seedance_filters::task::TaskStatus;

/// Key builder for one configured prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys { prefix: prefix.to_string() }
    }

    fn tenant_key(&self, tenant: &str, rest: &str) -> String {
        format!("{}:{{t:{tenant}}}:{rest}", self.prefix)
    }

    /// HASH: the task's record (audit, status, settlement).
    pub fn task(&self, tenant: &str, id: &str) -> String {
        self.tenant_key(tenant, &format!("task:{id}"))
    }
    /// ZSET: visible task ids by creation order (newest-first listing).
    pub fn tasks(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "tasks")
    }
    /// ZSET: visible task ids whose recorded status is not terminal, by creation order.
    pub fn open_tasks(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "tasks:open")
    }
    /// ZSET: visible task ids of one public model, by creation order.
    pub fn tasks_of_model(&self, tenant: &str, model: &str) -> String {
        self.tenant_key(tenant, &format!("tasks:m:{model}"))
    }
    /// ZSET: visible task ids with one recorded terminal status (and, if given, one model), by
    /// creation order. Statuses are a fixed set without `:`, so no two keys can collide.
    pub fn tasks_with_status(&self, tenant: &str, status: &str, model: Option<&str>) -> String {
        match model {
            Some(m) => self.tenant_key(tenant, &format!("tasks:s:{status}:m:{m}")),
            None => self.tenant_key(tenant, &format!("tasks:s:{status}")),
        }
    }
    /// The eleven list indexes a task of `model` can be in, in the order the Lua scripts'
    /// `ix_keys` reads them: all, open, model, each terminal status, each status with the model.
    pub fn task_indexes(&self, tenant: &str, model: &str) -> Vec<String> {
        let mut keys = vec![self.tasks(tenant), self.open_tasks(tenant), self.tasks_of_model(tenant, model)];
        for s in TaskStatus::terminal() {
            keys.push(self.tasks_with_status(tenant, s.as_str(), None));
        }
        for s in TaskStatus::terminal() {
            keys.push(self.tasks_with_status(tenant, s.as_str(), Some(model)));
        }
        keys
    }
    /// STRING: present once the tenant's filter indexes cover every listed task (records
    /// written before those indexes existed are indexed once, on first use).
    pub fn task_indexes_built(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "tasks:indexed")
    }
    /// ZSET: non-terminal task ids by next check time (ms), for the reconciler.
    pub fn pending(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "pending")
    }
    /// STRING counter that breaks ties between tasks created in the same millisecond.
    pub fn seq(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "seq")
    }
    /// STREAM: one entry per settlement.
    pub fn ledger(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "ledger")
    }
    /// ZSET: admission slots held (queued or running tasks, creates in flight) by admission ms.
    pub fn active(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "active")
    }
    /// ZSET: creates admitted in the last minute (the `creates_per_minute` window).
    pub fn creates(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "creates")
    }
    /// HASH: `balance`, `reserved`, `spent` in nano-USD.
    pub fn wallet(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "wallet")
    }
    /// HASH: slot → nano-USD reserved for it; a field's removal is what makes a release happen once.
    pub fn holds(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "holds")
    }
    /// STREAM: every money movement (credit, reserve, charge, release).
    pub fn wallet_log(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "wallet-log")
    }
    /// STRING with PX: which node reconciles this tenant right now.
    pub fn lease(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "reconcile-lease")
    }
    /// STRING: the tenant record as JSON.
    pub fn tenant(&self, tenant: &str) -> String {
        self.tenant_key(tenant, "tenant")
    }
    /// HASH: an asset or asset group.
    pub fn asset(&self, tenant: &str, id: &str) -> String {
        self.tenant_key(tenant, &format!("asset:{id}"))
    }
    /// ZSET: the tenant's groups or assets by creation time.
    pub fn asset_index(&self, tenant: &str, kind: super::AssetKind) -> String {
        self.tenant_key(tenant, if kind == super::AssetKind::Group { "groups" } else { "assets" })
    }
    fn channel_key(&self, channel: &str, rest: &str) -> String {
        format!("{}:{{c:{channel}}}:{rest}", self.prefix)
    }
    /// ZSET: create intents on a channel (`<tenant>|<intent id>` by ms), written before the
    /// upstream create and removed as ownership is recorded: what a crash in between leaves.
    pub fn intents(&self, channel: &str) -> String {
        self.channel_key(channel, "intents")
    }
    /// HASH: task id → owning tenant, for every task the edge created on the channel.
    pub fn owned(&self, channel: &str) -> String {
        self.channel_key(channel, "owned")
    }
    /// HASH: task id → orphan record (JSON) for upstream tasks nobody owns.
    pub fn orphans(&self, channel: &str) -> String {
        self.channel_key(channel, "orphans")
    }
    /// ZSET: slots holding room on a capped channel (queued or running tasks, creates in
    /// flight) by admission ms; `channels[].max_active_tasks` counts these.
    pub fn channel_active(&self, channel: &str) -> String {
        self.channel_key(channel, "active")
    }
    /// SET: every tenant id (the reconciler's iteration; single-key commands only).
    pub fn tenants(&self) -> String {
        format!("{}:tenants", self.prefix)
    }
    /// STRING: token SHA-256 → tenant id. Global on purpose: a token is looked up before the
    /// tenant is known.
    pub fn token(&self, sha256: &str) -> String {
        format!("{}:token:{sha256}", self.prefix)
    }
    /// What every token key, and every key of every tenant (its record and its tasks among
    /// them), starts with: the prefixes a cluster's broadcast invalidation links subscribe to.
    /// Channel keys (the busiest writes) are left out.
    pub fn cached_kinds_prefixes(&self) -> [String; 2] {
        [format!("{}:token:", self.prefix), format!("{}:{{t:", self.prefix)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hash_tag_per_tenant() {
        let k = Keys::new("sde");
        assert_eq!(k.task("acme", "cgt-1"), "sde:{t:acme}:task:cgt-1");
        assert_eq!(k.ledger("acme"), "sde:{t:acme}:ledger");
        assert_eq!(k.pending("acme"), "sde:{t:acme}:pending");
        assert_eq!(k.tasks("acme"), "sde:{t:acme}:tasks");
        let ix = k.task_indexes("acme", "m1");
        assert_eq!(ix.len(), 11);
        assert!(ix.iter().all(|key| key.starts_with("sde:{t:acme}:tasks")), "{ix:?}");
        assert_eq!(ix[2], "sde:{t:acme}:tasks:m:m1");
        assert_eq!(ix[3], "sde:{t:acme}:tasks:s:succeeded");
        assert_eq!(ix[10], "sde:{t:acme}:tasks:s:cancelled:m:m1");
        assert_eq!(k.tenants(), "sde:tenants");
        let cached = k.cached_kinds_prefixes();
        for key in [k.task("acme", "cgt-1"), k.tenant("acme"), k.token("ab12")] {
            assert!(cached.iter().any(|p| key.starts_with(p.as_str())), "{key}");
        }
        assert!(!cached.iter().any(|p| k.channel_active("main").starts_with(p.as_str())));
    }
}
