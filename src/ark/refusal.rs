//! How a failed exchange reaches the customer. [`CallError`] keeps the cause (the transport
//! error, the status, the upstream's refusal); `From<CallError> for ApiError` is the one place
//! it becomes the customer's error:
//!
//! - not reached, timed out, cut off, or a 5xx → 502 `upstream_error` ("retry later");
//! - the upstream refused the channel itself (401/403, `AuthenticationError`, `AccessDenied`,
//!   `AccountOverdueError`, a model not activated…) → 503 `channel_not_available`, in the edge's
//!   own words: the upstream's name the account or the access key, which are not the tenant's
//!   doing and not theirs to see. The operator gets the upstream's words in the log.

use super::TransportError;
use seedance_filters::redact::ChannelFault;
use seedance_filters::{ApiError, ErrorCode};

/// A failed exchange with a channel.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("channel {channel}: {source}")]
    Transport {
        channel: String,
        #[source]
        source: TransportError,
    },
    #[error("channel {channel} answered {status}")]
    ServerError { channel: String, status: u16 },
    #[error("channel {channel} refused the request ({})", fault.as_str())]
    ChannelRefused { channel: String, fault: ChannelFault },
    #[error("channel {channel} has no asset library")]
    NoAssetLibrary { channel: String },
}

impl CallError {
    /// The request certainly never left the edge (so a create made nothing upstream).
    pub fn unsent(&self) -> bool {
        match self {
            CallError::Transport { source, .. } => source.unsent(),
            CallError::NoAssetLibrary { .. } => true,
            CallError::ServerError { .. } | CallError::ChannelRefused { .. } => false,
        }
    }

    /// Whether the upstream may have acted on the request: a timeout, a 5xx or a dropped answer
    /// after sending. A refusal of the channel, like a request never sent, did nothing.
    pub fn may_have_acted(&self) -> bool {
        !self.unsent() && !matches!(self, CallError::ChannelRefused { .. })
    }
}

/// A 502 for an upstream answer the edge cannot use (not JSON, no id): `what` completes
/// "the model service …".
pub fn upstream_failure(what: &str) -> ApiError {
    ApiError::new(ErrorCode::UpstreamError, format!("the model service {what}; retry later"))
}

impl From<&CallError> for ApiError {
    fn from(e: &CallError) -> ApiError {
        match e {
            CallError::Transport { source: TransportError::Timeout { .. }, .. } => {
                upstream_failure("did not answer in time")
            }
            CallError::Transport { source, .. } if source.unsent() => upstream_failure("could not be reached"),
            CallError::Transport { .. } => upstream_failure("broke off the answer"),
            CallError::ServerError { status, .. } => upstream_failure(&format!("answered {status}")),
            CallError::ChannelRefused { .. } => ApiError::new(
                ErrorCode::ChannelNotAvailable,
                "the model service is temporarily unavailable for this account; nothing was created, retry later or contact support",
            ),
            CallError::NoAssetLibrary { .. } => {
                ApiError::new(ErrorCode::ChannelNotAvailable, "this channel has no asset library")
            }
        }
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> ApiError {
        ApiError::from(&e)
    }
}
