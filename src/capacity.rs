//! Channel capacity (`channels[].max_active_tasks`): a BytePlus account queues a bounded
//! number of tasks, so a capped channel counts the creates it holds (queued or running tasks and
//! creates in flight) in its own Redis set, taken before the upstream is called and given back
//! when the create certainly made nothing or the store records the task's end.

use crate::channel::ChannelRuntime;
use crate::edge::Edge;
use crate::limits::STALE_SLOT_MS;
use crate::store::{ChannelAdmission, ChannelAdmit};
use seedance_filters::ApiError;

/// The channel's answer to one create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Room taken (or the channel is not capped: nothing to take).
    Taken,
    /// At `max_active_tasks`: try the next channel.
    Full { active: u64, max: u32 },
}

/// Takes room on `channel` for the create's `slot`. Errors are the store's fail-closed 503.
pub async fn take(edge: &Edge, channel: &ChannelRuntime, slot: &str, now_ms: i64) -> Result<Room, ApiError> {
    let Some(max) = channel.conf.max_active_tasks else { return Ok(Room::Taken) };
    let a = ChannelAdmission {
        slot: slot.to_string(),
        now_ms,
        max_active_tasks: max,
        stale_before_ms: now_ms.saturating_sub(STALE_SLOT_MS),
    };
    let answer = edge.store.channel_admit(&channel.conf.id, &a).await?;
    let (ChannelAdmit::Admitted { active } | ChannelAdmit::Full { active }) = answer;
    set_gauge(edge, &channel.conf.id, active);
    Ok(match answer {
        ChannelAdmit::Admitted { .. } => Room::Taken,
        ChannelAdmit::Full { active } => Room::Full { active, max },
    })
}

/// The create made nothing on `channel`: its room goes back. A store failure is counted and
/// logged only — the entry then ends as stale, late but never twice.
pub async fn give_back(edge: &Edge, channel: &ChannelRuntime, slot: &str) {
    if channel.conf.max_active_tasks.is_none() {
        return;
    }
    match edge.store.channel_release(&channel.conf.id, slot).await {
        Ok(active) => set_gauge(edge, &channel.conf.id, active),
        Err(e) => log::warn!("channel {}: room of slot {slot} not released: {e}", channel.conf.id),
    }
}

/// Reads every capped channel's count into `seedance_channel_active_tasks`: task ends release
/// room inside the store, where no metric is at hand, so a scrape asks the store itself.
pub async fn refresh_gauges(edge: &Edge) {
    if edge.metrics.tenant_label() {
        for t in &edge.config.tenants {
            // On a failure (counted and logged by the store) the gauge keeps its last value.
            if let Ok(w) = edge.store.wallet(&t.id).await {
                edge.metrics
                    .tenant_active_tasks
                    .with_label_values(&[t.id.as_str()])
                    .set(i64::try_from(w.active_tasks).unwrap_or(i64::MAX));
            }
        }
    }
    for ch in edge.channels.all() {
        if ch.conf.max_active_tasks.is_none() {
            continue;
        }
        // On a failure (counted and logged by the store) the gauge keeps its last value.
        if let Ok(active) = edge.store.channel_active(&ch.conf.id).await {
            set_gauge(edge, &ch.conf.id, active);
        }
    }
}

fn set_gauge(edge: &Edge, channel: &str, active: u64) {
    edge.metrics.channel_active_tasks.with_label_values(&[channel]).set(i64::try_from(active).unwrap_or(i64::MAX));
}
