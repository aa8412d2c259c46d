//! Channels: the BytePlus accounts behind the edge, and the rule that picks one for a request —
//! the tenant's eligible channels, in its preference order, that map the requested model.

use crate::ark::{Account, Accounts, EndpointError};
use crate::config::Channel;
use crate::store::TenantRecord;
use seedance_filters::model::{check_mapping, PublicModel};
use seedance_filters::{ApiError, ErrorCode};
use std::collections::HashMap;
use std::sync::Arc;

/// A configured channel with its BytePlus account (endpoints parsed once).
#[derive(Debug)]
pub struct ChannelRuntime {
    pub conf: Channel,
    /// What the BytePlus client needs to reach this channel.
    pub account: Account,
    /// Skips the channel for creates while it keeps refusing them (per node).
    pub breaker: crate::circuit::Breaker,
}

/// The channel chosen for one request, with the official model id to send.
#[derive(Debug, Clone)]
pub struct Route {
    pub channel: Arc<ChannelRuntime>,
    pub official_model: String,
}

#[derive(Debug, Default)]
pub struct Channels {
    by_id: HashMap<String, Arc<ChannelRuntime>>,
}

fn not_available(message: String) -> ApiError {
    ApiError::with_param(ErrorCode::ChannelNotAvailable, "model", message)
}

impl Channels {
    pub fn from_config(channels: &[Channel]) -> Result<Channels, EndpointError> {
        let mut by_id = HashMap::new();
        for c in channels {
            let account = Account::from_channel(c)?;
            by_id.insert(
                c.id.clone(),
                Arc::new(ChannelRuntime { conf: c.clone(), account, breaker: Default::default() }),
            );
        }
        Ok(Channels { by_id })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<ChannelRuntime>> {
        self.by_id.get(id)
    }

    /// Every configured channel, enabled ones only, in id order.
    pub fn all(&self) -> Vec<&Arc<ChannelRuntime>> {
        let mut v: Vec<&Arc<ChannelRuntime>> = self.by_id.values().filter(|c| c.conf.enabled).collect();
        v.sort_by(|a, b| a.conf.id.cmp(&b.conf.id));
        v
    }

    /// Whether the tenant may use `model` at all (its `models` list; empty = all).
    fn tenant_allows(tenant: &TenantRecord, model: PublicModel) -> Result<(), ApiError> {
        if tenant.models.is_empty() || tenant.models.iter().any(|m| PublicModel::parse(m) == Some(model)) {
            Ok(())
        } else {
            Err(not_available(format!("{model} is not enabled for this account")))
        }
    }

    /// Picks the first eligible channel that maps `model`. A Filter-Off model that some channel
    /// lists but maps wrongly (or not at all) is 503 `model_mapping_required`, never a downgrade.
    pub fn pick(&self, tenant: &TenantRecord, model: PublicModel) -> Result<Route, ApiError> {
        self.eligible(tenant, model)?
            .into_iter()
            .next()
            .ok_or_else(|| not_available(format!("no channel of this account serves {model}")))
    }

    /// Every eligible channel that maps `model`, in the tenant's preference order: a create
    /// tries them in turn while one is full or refuses (never empty; errors as [`Self::pick`]).
    pub fn eligible(&self, tenant: &TenantRecord, model: PublicModel) -> Result<Vec<Route>, ApiError> {
        Self::tenant_allows(tenant, model)?;
        let mut mapping_error = None;
        let mut routes = Vec::new();
        for id in &tenant.channels {
            let Some(ch) = self.by_id.get(id).filter(|c| c.conf.enabled) else { continue };
            match check_mapping(model, ch.conf.models.get(&model).map(String::as_str)) {
                Ok(Some(official)) => routes.push(Route { channel: ch.clone(), official_model: official }),
                Ok(None) => {}
                Err(e) => mapping_error = mapping_error.or(Some(e)),
            }
        }
        if routes.is_empty() {
            return Err(
                mapping_error.unwrap_or_else(|| not_available(format!("no channel of this account serves {model}")))
            );
        }
        Ok(routes)
    }

    /// The route when the request is bound to one channel (it references that channel's assets).
    pub fn pinned(&self, tenant: &TenantRecord, model: PublicModel, channel_id: &str) -> Result<Route, ApiError> {
        Self::tenant_allows(tenant, model)?;
        let ch = self
            .by_id
            .get(channel_id)
            .filter(|c| c.conf.enabled && tenant.channels.iter().any(|t| t == channel_id))
            .ok_or_else(|| {
                not_available("the channel holding the referenced assets is not available to this account".into())
            })?;
        match check_mapping(model, ch.conf.models.get(&model).map(String::as_str))? {
            Some(official) => Ok(Route { channel: ch.clone(), official_model: official }),
            None => Err(not_available(format!("the channel holding the referenced assets does not serve {model}"))),
        }
    }

    /// The first eligible channel with the asset library, for asset Actions naming `model`.
    pub fn pick_assets(&self, tenant: &TenantRecord, model: PublicModel) -> Result<Arc<ChannelRuntime>, ApiError> {
        if !tenant.assets {
            return Err(not_available("the asset library is not enabled for this account".into()));
        }
        Self::tenant_allows(tenant, model)?;
        tenant
            .channels
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .find(|c| c.conf.enabled && c.conf.has_assets() && c.conf.models.contains_key(&model))
            .cloned()
            .ok_or_else(|| not_available(format!("no channel of this account offers the asset library for {model}")))
    }
}

impl Accounts for Channels {
    fn account(&self, channel: &str) -> Option<&Account> {
        self.get(channel).map(|c| &c.account)
    }
}
