//! The one error a customer can receive, mapped once to the contract's codes and to
//! both wire shapes: the BytePlus task shape and the OpenAPI `ResponseMetadata.Error` shape.

use serde_json::{json, Value};

/// Every code the contract lets the edge produce itself. Upstream bodies (e.g. the 409
/// `InvalidAction.RunningTaskDeletion`) are passed through and never pass through this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidDuration,
    ModerationSkipNotAllowed,
    Unauthorized,
    ForbiddenAction,
    TaskNotFound,
    AssetNotFound,
    PayloadTooLarge,
    UpstreamError,
    ChannelNotAvailable,
    ModelMappingRequired,
    StoreUnavailable,
    Overloaded,
    /// Over the tenant's `creates_per_minute`, or every eligible channel is full or refusing.
    RateLimitExceeded,
    /// The tenant holds `max_active_tasks` queued or running tasks.
    ActiveTaskLimitExceeded,
    /// A prepaid tenant's balance cannot cover the request's worst-case price.
    InsufficientQuota,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidDuration,
        ErrorCode::ModerationSkipNotAllowed,
        ErrorCode::Unauthorized,
        ErrorCode::ForbiddenAction,
        ErrorCode::TaskNotFound,
        ErrorCode::AssetNotFound,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UpstreamError,
        ErrorCode::ChannelNotAvailable,
        ErrorCode::ModelMappingRequired,
        ErrorCode::StoreUnavailable,
        ErrorCode::Overloaded,
        ErrorCode::RateLimitExceeded,
        ErrorCode::ActiveTaskLimitExceeded,
        ErrorCode::InsufficientQuota,
    ];

    /// The wire code, exactly as the contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidDuration => "invalid_duration",
            ErrorCode::ModerationSkipNotAllowed => "moderation_skip_not_allowed",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ForbiddenAction => "forbidden_action",
            ErrorCode::TaskNotFound => "task_not_found",
            ErrorCode::AssetNotFound => "asset_not_found",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::ChannelNotAvailable => "channel_not_available",
            ErrorCode::ModelMappingRequired => "model_mapping_required",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::RateLimitExceeded => "rate_limit_exceeded",
            ErrorCode::ActiveTaskLimitExceeded => "active_task_limit_exceeded",
            ErrorCode::InsufficientQuota => "insufficient_quota",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::InvalidDuration | ErrorCode::ModerationSkipNotAllowed => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::ForbiddenAction => 403,
            ErrorCode::TaskNotFound | ErrorCode::AssetNotFound => 404,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimitExceeded | ErrorCode::ActiveTaskLimitExceeded | ErrorCode::InsufficientQuota => 429,
            ErrorCode::UpstreamError => 502,
            ErrorCode::ChannelNotAvailable
            | ErrorCode::ModelMappingRequired
            | ErrorCode::StoreUnavailable
            | ErrorCode::Overloaded => 503,
        }
    }

    /// Seconds a client should wait before retrying, for refusals that clear by themselves (a
    /// refusal that knows better, like a rate window's end, carries its own on [`ApiError`]).
    pub fn retry_after(self) -> Option<u64> {
        match self {
            ErrorCode::Overloaded | ErrorCode::RateLimitExceeded => Some(1),
            _ => None,
        }
    }

    /// The BytePlus `type` that goes with the status.
    pub fn error_type(self) -> &'static str {
        match self.status() {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            413 => "PayloadTooLarge",
            429 => "TooManyRequests",
            502 => "BadGateway",
            _ => "ServiceUnavailable",
        }
    }
}

/// A rejection: which rule, which field, and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    /// The request field at fault (`""` on the wire when there is none).
    pub param: Option<String>,
    pub message: String,
    /// `Retry-After` seconds when this refusal knows when it clears (else the code's default).
    pub retry_after: Option<u64>,
}

/// What the OpenAPI error shape echoes besides the error itself.
#[derive(Debug, Clone, Copy)]
pub struct ActionMeta<'a> {
    pub request_id: &'a str,
    pub action: &'a str,
    pub region: &'a str,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, param: None, message: message.into(), retry_after: None }
    }

    /// The same refusal, telling the client to retry after `secs` (at least 1).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// `Retry-After` for the answer: this refusal's own, else its code's.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.or(self.code.retry_after())
    }

    pub fn with_param(code: ErrorCode, param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { code, param: Some(param.into()), message: message.into(), retry_after: None }
    }

    /// 400 `invalid_request` naming `param`.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_param(ErrorCode::InvalidRequest, param, message)
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// `{"error":{"code","message","param","type"}}` — the task routes' shape.
    pub fn task_body(&self) -> Value {
        json!({"error": {
            "code": self.code.as_str(),
            "message": self.message,
            "param": self.param.as_deref().unwrap_or(""),
            "type": self.code.error_type(),
        }})
    }

    /// `{"ResponseMetadata":{..., "Error":{"Code","Message"}}}` — the Action routes' shape.
    pub fn action_body(&self, meta: ActionMeta<'_>) -> Value {
        json!({"ResponseMetadata": {
            "RequestId": meta.request_id,
            "Action": meta.action,
            "Version": crate::ACTION_VERSION,
            "Service": "ark",
            "Region": meta.region,
            "Error": {"Code": self.code.as_str(), "Message": self.message},
        }})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_contract_status() {
        let expected = [400, 400, 400, 401, 403, 404, 404, 413, 502, 503, 503, 503, 503, 429, 429, 429];
        for (code, status) in ErrorCode::ALL.iter().zip(expected) {
            assert_eq!(code.status(), status, "{code:?}");
        }
    }

    #[test]
    fn task_shape_names_the_param() {
        let e = ApiError::invalid("duration", "must be an integer");
        let v = e.task_body();
        assert_eq!(v["error"]["code"], "invalid_request");
        assert_eq!(v["error"]["param"], "duration");
        assert_eq!(v["error"]["type"], "BadRequest");
    }

    #[test]
    fn action_shape_carries_metadata() {
        let e = ApiError::new(ErrorCode::ForbiddenAction, "DeleteAsset is not offered");
        let v = e.action_body(ActionMeta { request_id: "r1", action: "DeleteAsset", region: "ap-southeast-1" });
        assert_eq!(v["ResponseMetadata"]["Error"]["Code"], "forbidden_action");
        assert_eq!(v["ResponseMetadata"]["Version"], "2024-01-01");
        assert!(v.get("Result").is_none());
    }
}
