//! What the simulator accepts and how fast things move.

use std::str::FromStr;

#[derive(Clone, Debug)]
pub struct FakeArkConfig {
    /// Bearer keys accepted on the task API.
    pub api_keys: Vec<String>,
    /// (AK, SK) pairs accepted on the asset Actions; every Action's signature is verified.
    pub credentials: Vec<(String, String)>,
    /// Official model ids a create may name.
    pub models: Vec<String>,
    pub region: String,
    /// Time a task stays queued; `None` = until told.
    pub queued_ms: Option<u64>,
    /// Time a task runs before it succeeds; `None` = until told.
    pub running_ms: Option<u64>,
    /// Time an asset takes from Pending to Active; `None` = Pending until told.
    pub asset_processing_ms: Option<u64>,
    /// A just-created group or asset answers 404 on Get for this long (as the page warns).
    pub asset_invisible_ms: u64,
    /// Task answers also carry account fields the edge must strip.
    pub leak_internal_fields: bool,
    /// Added to every answer.
    pub latency_ms: u64,
}

impl Default for FakeArkConfig {
    fn default() -> Self {
        FakeArkConfig {
            api_keys: Vec::new(),
            credentials: Vec::new(),
            models: vec!["dreamina-seedance-2-0-260128".into(), "dreamina-seedance-2-0-fast-260128".into()],
            region: "ap-southeast-1".into(),
            queued_ms: Some(1000),
            running_ms: Some(3000),
            asset_processing_ms: Some(2000),
            asset_invisible_ms: 0,
            leak_internal_fields: false,
            latency_ms: 0,
        }
    }
}

impl FakeArkConfig {
    /// Nothing moves on its own: tests drive every status change.
    pub fn held() -> Self {
        FakeArkConfig { queued_ms: None, running_ms: None, asset_processing_ms: None, ..FakeArkConfig::default() }
    }
}

/// How the next create request fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That status with a native error body (500 InternalServiceError, 429 RateLimitExceeded…).
    Status(u16),
    /// 200 with a body that is not JSON.
    Unparseable,
    /// The connection is closed without an answer.
    Drop,
    /// The answer comes this many milliseconds late.
    Delay(u64),
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Fault, String> {
        match s {
            "unparseable" => Ok(Fault::Unparseable),
            "drop" => Ok(Fault::Drop),
            _ => {
                if let Some(ms) = s.strip_prefix("delay:") {
                    return ms.parse().map(Fault::Delay).map_err(|_| format!("bad delay {ms:?}"));
                }
                s.parse::<u16>()
                    .ok()
                    .filter(|c| (400..600).contains(c))
                    .map(Fault::Status)
                    .ok_or_else(|| format!("unknown fault {s:?}: a 4xx/5xx status, unparseable, drop or delay:MS"))
            }
        }
    }
}
