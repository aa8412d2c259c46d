//! What the simulator accepts, how fast things move, and the faults it can inject.

use std::str::FromStr;

/// The official Seedance 2.0 ids (overseas) a default simulator accepts on create.
pub const DEFAULT_MODELS: [&str; 2] = ["dreamina-seedance-2-0-260128", "dreamina-seedance-2-0-fast-260128"];

#[derive(Clone, Debug)]
pub struct FakeArkConfig {
    /// Bearer keys accepted on the task API (anything else: 401 `AuthenticationError`).
    pub api_keys: Vec<String>,
    /// (AK, SK) pairs accepted on the asset Actions; every Action's signature is verified.
    pub credentials: Vec<(String, String)>,
    /// Official model ids a create may name (others: 404 `InvalidEndpointOrModel.NotFound`).
    pub models: Vec<String>,
    /// The region Actions report and their signature scope must name.
    pub region: String,
    /// How long a task stays queued; `None` = until a test moves it.
    pub queued_ms: Option<u64>,
    /// How long a task runs before it succeeds; `None` = until a test moves it.
    pub running_ms: Option<u64>,
    /// How long an asset stays `Processing` before it turns `Active`; `None` = Processing until a
    /// test moves it.
    pub asset_processing_ms: Option<u64>,
    /// A just-created group or asset answers 404 on Get for this long, as the real service does
    /// briefly, so the edge's "retry shortly" path can be exercised.
    pub asset_invisible_ms: u64,
    /// Task answers also carry account-internal fields the edge must strip.
    pub leak_internal_fields: bool,
    /// Added to every answer.
    pub latency_ms: u64,
    /// Queued tasks the account may hold at once (BytePlus keeps at most 120); a create past it
    /// answers 429 and creates nothing. `None` = unlimited.
    pub max_queued: Option<usize>,
    /// The account upstream names in account-level errors (`ModelNotOpen`) and leaked fields:
    /// the edge must never relay it to a tenant.
    pub account_id: String,
    /// Models the account has not activated: a create naming one answers 404 `ModelNotOpen`.
    pub inactive_models: Vec<String>,
    /// Seconds of input each reference video counts for in `usage` (the simulator does not
    /// download media); the total is capped at the official 15 s.
    pub reference_video_secs: u64,
}

impl Default for FakeArkConfig {
    /// Tasks finish on their own after about 4 s, assets turn Active after 2 s.
    fn default() -> Self {
        FakeArkConfig {
            api_keys: Vec::new(),
            credentials: Vec::new(),
            models: DEFAULT_MODELS.iter().map(|m| m.to_string()).collect(),
            region: "ap-southeast-1".into(),
            queued_ms: Some(1000),
            running_ms: Some(3000),
            asset_processing_ms: Some(2000),
            asset_invisible_ms: 0,
            leak_internal_fields: false,
            latency_ms: 0,
            max_queued: None,
            account_id: "2100123456".into(),
            inactive_models: Vec::new(),
            reference_video_secs: crate::unconfirmed::REFERENCE_VIDEO_SECS,
        }
    }
}

impl FakeArkConfig {
    /// Nothing moves on its own: tests drive every status change, so no test waits on a clock.
    pub fn held() -> Self {
        FakeArkConfig { queued_ms: None, running_ms: None, asset_processing_ms: None, ..FakeArkConfig::default() }
    }
}

/// How the next create-task request fails (once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That status with a native error body (500 `InternalServiceError`, 429 `RateLimitExceeded`…).
    Status(u16),
    /// 200 with a body that is not JSON.
    Unparseable,
    /// The connection is closed without an answer.
    Drop,
    /// The create goes through, this many milliseconds late.
    Delay(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    #[error("bad delay {0:?}: expected delay:MILLISECONDS")]
    Delay(String),
    #[error("unknown fault {0:?}: expected a 4xx/5xx status, unparseable, drop or delay:MS")]
    Unknown(String),
}

impl FromStr for Fault {
    type Err = FaultParseError;

    /// `"500"`, `"429"` (any 4xx/5xx), `"unparseable"`, `"drop"`, `"delay:MS"`.
    fn from_str(s: &str) -> Result<Fault, FaultParseError> {
        let s = s.trim();
        match s {
            "unparseable" => Ok(Fault::Unparseable),
            "drop" => Ok(Fault::Drop),
            _ => {
                if let Some(ms) = s.strip_prefix("delay:") {
                    return ms.parse().map(Fault::Delay).map_err(|_| FaultParseError::Delay(ms.to_string()));
                }
                s.parse::<u16>()
                    .ok()
                    .filter(|c| (400..600).contains(c))
                    .map(Fault::Status)
                    .ok_or_else(|| FaultParseError::Unknown(s.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        assert_eq!("500".parse(), Ok(Fault::Status(500)));
        assert_eq!("429".parse(), Ok(Fault::Status(429)));
        assert_eq!("unparseable".parse(), Ok(Fault::Unparseable));
        assert_eq!("drop".parse(), Ok(Fault::Drop));
        assert_eq!("delay:250".parse(), Ok(Fault::Delay(250)));
        assert_eq!("delay:x".parse::<Fault>(), Err(FaultParseError::Delay("x".into())));
        assert!("200".parse::<Fault>().is_err());
        assert!("explode".parse::<Fault>().is_err());
    }

    #[test]
    fn held_holds_and_default_moves() {
        let h = FakeArkConfig::held();
        assert_eq!((h.queued_ms, h.running_ms, h.asset_processing_ms), (None, None, None));
        assert_eq!(h.models, DEFAULT_MODELS);
        let d = FakeArkConfig::default();
        assert!(d.queued_ms.is_some() && d.running_ms.is_some() && d.asset_processing_ms.is_some());
        assert_eq!(d.region, "ap-southeast-1");
        assert_eq!((d.max_queued, h.max_queued), (None, None));
        assert_eq!((d.account_id.as_str(), d.reference_video_secs), ("2100123456", 4));
        assert!(h.inactive_models.is_empty());
    }
}
