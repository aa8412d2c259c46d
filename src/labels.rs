//! Closed label sets that one module produces and the metrics registry creates at zero on start
//! (so `rate()` and alerts see 0, not a missing series). A leaf: the producers and the registry
//! both depend on it, never the other way round.

/// Why a succeeded task's settlement cannot be made now. A closed set: it is the label of
/// `seedance_settlements_deferred_total` and what `task show` reports on the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeferReason {
    /// The upstream reported neither `usage.completion_tokens` nor `usage.total_tokens`.
    MissingUsage,
    /// Neither the upstream nor the create request named a resolution.
    MissingResolution,
    /// A resolution the task's model is not sold at: no SKU.
    UnknownResolution,
    /// The stored public model is not one this edge knows.
    UnknownModel,
    /// The SKU has no price in the configuration.
    NoPrice,
    /// The task's channel is no longer configured: nobody can ask the upstream about it.
    ChannelRemoved,
}

impl DeferReason {
    /// Every reason, so each metric series exists from start (at zero).
    pub const ALL: [DeferReason; 6] = [
        DeferReason::MissingUsage,
        DeferReason::MissingResolution,
        DeferReason::UnknownResolution,
        DeferReason::UnknownModel,
        DeferReason::NoPrice,
        DeferReason::ChannelRemoved,
    ];

    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeferReason::MissingUsage => "missing_usage",
            DeferReason::MissingResolution => "missing_resolution",
            DeferReason::UnknownResolution => "unknown_resolution",
            DeferReason::UnknownModel => "unknown_model",
            DeferReason::NoPrice => "no_price",
            DeferReason::ChannelRemoved => "channel_removed",
        }
    }
}

/// Labels of `seedance_reconcile_skipped_total`, one per kind of store error.
pub const SKIP_REASONS: [&str; 2] = ["store_unavailable", "record_unreadable"];
