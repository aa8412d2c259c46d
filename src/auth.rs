//! Tenant authentication. Tokens are known only by their SHA-256 and compared as such; the
//! store maps a token hash to a tenant. An in-process cache keeps the hot path off Redis. On a
//! store with an invalidation link (Redis standalone or Sentinel, see `store::cache`) a revoked
//! token, a disabled or edited tenant drops out of every node's cache as soon as Redis reports
//! the change (within `store.cache.max_stale_ms` while the link is up), and never later than
//! `auth.cache_ttl_ms` (default 5 s) — the revocation delay on a cluster or while the link is down.

use crate::store::cache::coherence::{Change, Coherence, Ticket};
use crate::store::{Store, StoreError, TenantRecord};
use seedance_filters::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound on the cache so a flood of distinct tokens cannot grow memory without limit.
const CACHE_CAP: usize = 100_000;
const MAX_TOKEN_LEN: usize = 512;

/// Lowercase hex SHA-256 of a token, the only form in which tokens are stored.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub use crate::config::is_valid_tenant_id;

/// A new customer token: `oh-` and 40 random alphanumerics (~238 bits).
pub fn issue_token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    format!("oh-{}", Alphanumeric.sample_string(&mut rand::rng(), 40))
}

#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("{0}")]
    Rejected(ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn unauthorized(message: &str) -> AuthFailure {
    AuthFailure::Rejected(ApiError::new(ErrorCode::Unauthorized, message))
}

/// Token hash → (when read, whether read on the invalidation link, the tenant).
type Cache = Mutex<HashMap<String, (Instant, bool, Arc<TenantRecord>)>>;

pub struct Authenticator {
    store: Arc<dyn Store>,
    ttl: Duration,
    cache: Arc<Cache>,
    coherence: Option<Arc<Coherence>>,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        let coherence = store.coherence();
        Authenticator::with_coherence(store, ttl, coherence)
    }

    /// Listening to `coherence` for changes rather than to the store's own feed.
    pub fn with_coherence(store: Arc<dyn Store>, ttl: Duration, coherence: Option<Arc<Coherence>>) -> Self {
        let cache: Arc<Cache> = Arc::default();
        if let Some(c) = &coherence {
            let weak = Arc::downgrade(&cache);
            c.subscribe(move |change| {
                if let Some(cache) = weak.upgrade() {
                    forget(&cache, change);
                }
            });
        }
        Authenticator { store, ttl, cache, coherence }
    }

    /// Extracts the bearer token from an `Authorization` header value.
    fn bearer(header: Option<&[u8]>) -> Result<&str, AuthFailure> {
        let raw =
            header.ok_or_else(|| unauthorized("missing Authorization header; send `Authorization: Bearer <token>`"))?;
        let text = std::str::from_utf8(raw).map_err(|_| unauthorized("Authorization header is not valid text"))?;
        let (scheme, token) =
            text.trim().split_once(' ').ok_or_else(|| unauthorized("Authorization must be `Bearer <token>`"))?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(unauthorized("Authorization must be `Bearer <token>`"));
        }
        if token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(unauthorized("the token is malformed"));
        }
        Ok(token)
    }

    /// The tenant behind the request's token, or why not.
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Arc<TenantRecord>, AuthFailure> {
        let hash = token_sha256(Self::bearer(header)?);
        if let Some(t) = self.cached(&hash) {
            self.count("hit");
            return Ok(t);
        }
        // Taken before the reads: a change reported while they are in flight refuses the fill.
        let ticket = self.coherence.as_ref().map(|c| c.auth_ticket());
        self.count(if ticket.is_none_or(|t| t.tracked()) { "miss" } else { "bypass" });
        let tenant_id = self.store.token_tenant(&hash).await?.ok_or_else(|| unauthorized("the token is not valid"))?;
        let tenant = self.store.tenant(&tenant_id).await?.ok_or_else(|| unauthorized("the token is not valid"))?;
        if tenant.disabled {
            return Err(unauthorized("the account is disabled"));
        }
        let tenant = Arc::new(tenant);
        self.remember(hash, tenant.clone(), ticket);
        Ok(tenant)
    }

    fn count(&self, result: &'static str) {
        if let Some(c) = &self.coherence {
            c.count("auth", result);
        }
    }

    /// A cached answer within its TTL. One read on the link is trusted only while the link is
    /// confirmed: past `max_stale` without a heartbeat, a report may have been missed.
    fn cached(&self, hash: &str) -> Option<Arc<TenantRecord>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let (at, tracked, tenant) = cache.get(hash)?;
        let trusted = !*tracked || self.coherence.as_ref().is_some_and(|c| c.usable());
        (at.elapsed() < self.ttl && trusted).then(|| tenant.clone())
    }

    /// Keeps an answer for the TTL. Read while the invalidation link was up (a tracked
    /// `ticket`), it is also dropped when Redis reports its token or tenant changed — unless such
    /// a report arrived during the read, in which case it is not kept at all. Read while the
    /// link was down, it is not kept if the link came up meanwhile (coming up empties the cache). The check and the insert
    /// hold the lock the report's removal takes, so a report landing after the check removes it.
    fn remember(&self, hash: String, tenant: Arc<TenantRecord>, ticket: Option<Ticket>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_CAP {
            cache.retain(|_, (at, _, _)| at.elapsed() < self.ttl);
            if cache.len() >= CACHE_CAP {
                cache.clear();
            }
        }
        let admitted = match (&self.coherence, &ticket) {
            (Some(c), Some(t)) => c.admits(t),
            _ => true,
        };
        if admitted {
            cache.insert(hash, (Instant::now(), ticket.is_some_and(|t| t.tracked()), tenant));
        }
    }
}

/// Drops the answers a store change makes doubtful.
fn forget(cache: &Cache, change: &Change) {
    // Task changes are the frequent ones and none of ours: they never take the lock.
    if let Change::Task { .. } = change {
        return;
    }
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    match change {
        Change::Token(sha) => {
            cache.remove(sha);
        }
        Change::Tenant(id) => cache.retain(|_, (_, _, t)| &t.id != id),
        Change::Everything => cache.clear(),
        Change::Task { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn tenant(id: &str, disabled: bool) -> TenantRecord {
        TenantRecord {
            id: id.into(),
            disabled,
            channels: vec![],
            models: vec![],
            assets: false,
            limits: Default::default(),
        }
    }

    #[tokio::test]
    async fn bearer_tokens_map_to_tenants_by_hash() {
        let store = Arc::new(MemoryStore::new());
        store.put_tenant(&tenant("acme", false)).await.unwrap();
        store.add_token("acme", &token_sha256("oh-good")).await.unwrap();
        let auth = Authenticator::new(store.clone(), Duration::ZERO);
        assert_eq!(auth.authenticate(Some(b"Bearer oh-good")).await.unwrap().id, "acme");
        assert_eq!(auth.authenticate(Some(b"bearer  oh-good ")).await.unwrap().id, "acme");
        for bad in [None, Some(&b"oh-good"[..]), Some(b"Basic oh-good"), Some(b"Bearer "), Some(b"Bearer oh-bad")] {
            assert!(matches!(auth.authenticate(bad).await, Err(AuthFailure::Rejected(_))), "{bad:?}");
        }
        store.revoke_token(&token_sha256("oh-good")).await.unwrap();
        assert!(auth.authenticate(Some(b"Bearer oh-good")).await.is_err());
    }

    #[tokio::test]
    async fn disabled_tenants_are_refused() {
        let store = Arc::new(MemoryStore::new());
        store.put_tenant(&tenant("off", true)).await.unwrap();
        store.add_token("off", &token_sha256("oh-x")).await.unwrap();
        let auth = Authenticator::new(store, Duration::from_secs(5));
        assert!(matches!(auth.authenticate(Some(b"Bearer oh-x")).await, Err(AuthFailure::Rejected(_))));
    }

    #[tokio::test]
    async fn a_reported_change_ends_a_cached_answer_before_its_ttl() {
        let store = Arc::new(MemoryStore::new());
        store.put_tenant(&tenant("acme", false)).await.unwrap();
        store.add_token("acme", &token_sha256("oh-a")).await.unwrap();
        store.add_token("acme", &token_sha256("oh-b")).await.unwrap();
        let c = Arc::new(Coherence::new(Duration::from_secs(60)));
        c.link_up(Instant::now());
        let auth = Authenticator::with_coherence(store.clone(), Duration::from_secs(3600), Some(c.clone()));
        assert!(auth.authenticate(Some(b"Bearer oh-a")).await.is_ok());
        assert!(auth.authenticate(Some(b"Bearer oh-b")).await.is_ok());

        // Revoked in the store: the hour-long TTL would keep it; the report ends it.
        store.revoke_token(&token_sha256("oh-a")).await.unwrap();
        assert!(auth.authenticate(Some(b"Bearer oh-a")).await.is_ok(), "cached until told");
        c.apply(&Change::Token(token_sha256("oh-a")));
        assert!(auth.authenticate(Some(b"Bearer oh-a")).await.is_err());

        // A disabled tenant: every cached token of it goes.
        store.put_tenant(&tenant("acme", true)).await.unwrap();
        c.apply(&Change::Tenant("acme".into()));
        assert!(matches!(auth.authenticate(Some(b"Bearer oh-b")).await, Err(AuthFailure::Rejected(_))));

        // While the link is down, answers live by the TTL and are dropped when it comes back.
        store.put_tenant(&tenant("acme", false)).await.unwrap();
        c.link_down();
        assert!(auth.authenticate(Some(b"Bearer oh-b")).await.is_ok());
        store.revoke_token(&token_sha256("oh-b")).await.unwrap();
        c.link_up(Instant::now());
        assert!(auth.authenticate(Some(b"Bearer oh-b")).await.is_err());
    }

    #[test]
    fn issued_tokens_look_right() {
        let t = issue_token();
        assert!(t.starts_with("oh-") && t.len() == 43);
        assert_ne!(t, issue_token());
    }
}
