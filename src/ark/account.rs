//! One BytePlus account as the client sees it: the channel's id (for labels and logs), its two
//! endpoints and its credentials. Built once per configuration from the channel's settings; the
//! channel layer adds the routing rules (models, tenants, breaker) around it.

use super::{Credentials, Endpoint, EndpointError};
use crate::config::{Channel, Secret};

/// The service name in the credential scope of the asset Actions.
const ACTION_SERVICE: &str = "ark";

#[derive(Debug)]
pub struct Account {
    /// The channel id: the `channel` label of every upstream metric.
    pub id: String,
    /// The task API (`Authorization: Bearer` with `api_key`).
    pub tasks: Endpoint,
    /// The asset Actions (signed with the access key pair), when the channel has them.
    pub assets: Option<Endpoint>,
    api_key: Secret,
    access_key_id: Option<Secret>,
    secret_access_key: Option<Secret>,
    region: String,
}

impl Account {
    pub fn from_channel(c: &Channel) -> Result<Account, EndpointError> {
        let ca = c.ca_file.as_deref();
        Ok(Account {
            id: c.id.clone(),
            tasks: Endpoint::parse(&c.task_base_url, ca)?,
            assets: c.asset_base_url.as_deref().map(|u| Endpoint::parse(u, ca)).transpose()?,
            api_key: c.api_key.clone(),
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.clone(),
            region: c.region.clone(),
        })
    }

    pub(super) fn bearer(&self) -> String {
        format!("Bearer {}", self.api_key.expose())
    }

    /// The asset endpoint and the key pair that signs for it, if the channel has both.
    pub(super) fn signing(&self) -> Option<(&Endpoint, Credentials<'_>)> {
        let (endpoint, ak, sk) =
            (self.assets.as_ref()?, self.access_key_id.as_ref()?, self.secret_access_key.as_ref()?);
        let creds = Credentials {
            access_key_id: ak.expose(),
            secret_access_key: sk.expose(),
            region: &self.region,
            service: ACTION_SERVICE,
        };
        Some((endpoint, creds))
    }

    /// `text` with every credential of this account masked, for logging what an upstream said.
    pub fn redact(&self, text: &str) -> String {
        let secrets = [Some(&self.api_key), self.access_key_id.as_ref(), self.secret_access_key.as_ref()];
        secrets
            .into_iter()
            .flatten()
            .map(|s| s.expose())
            .filter(|s| s.len() >= 4)
            .fold(text.to_string(), |t, s| t.replace(s, "***"))
    }
}
