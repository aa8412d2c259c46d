//! Reads a request body whole, bounded in size and time. `Expect: 100-continue` is answered
//! before reading (otherwise the client waits out its expect timeout), but only when the body
//! is not already known to be over the limit.

use crate::budget::{BodyBudget, Permit};
use bytes::{Bytes, BytesMut};
use pingora_proxy::Session;
use seedance_filters::{ApiError, ErrorCode};
use std::sync::Arc;
use std::time::Duration;

/// How much of a refused body is still read (and dropped) after the 413 is written, and for how
/// long. A client that writes its whole body before reading (no `Expect: 100-continue`) would
/// otherwise have the connection closed on unread data, and the reset that closing sends
/// destroys the 413 in flight on a real network. 64 MiB is the upstream's own body limit.
const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads and drops the rest of a refused body, bounded in bytes and time; the connection is
/// closed afterwards either way.
pub async fn drain(session: &mut Session) {
    let mut left = DRAIN_MAX_BYTES;
    let discard = async {
        while let Ok(Some(chunk)) = session.read_request_body().await {
            if chunk.len() >= left {
                break;
            }
            left -= chunk.len();
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, discard).await;
}

fn too_large(limit: usize) -> ApiError {
    ApiError::with_param(ErrorCode::PayloadTooLarge, "body", format!("the request body is over the {limit}-byte limit"))
}

fn overloaded() -> ApiError {
    ApiError::new(
        ErrorCode::Overloaded,
        "the service is handling too many large requests right now; nothing was read or changed, retry shortly",
    )
}

/// A body read whole, and its bytes' hold on the process-wide budget.
pub struct Body {
    pub bytes: Bytes,
    /// Gives the bytes back to the budget when dropped, after the request is done with them.
    pub permit: Permit,
}

/// Reads the body whole, holding its bytes against the process-wide `budget` (the permit is
/// given back when the caller drops it, after the request is done with the body).
pub async fn read(
    session: &mut Session,
    limit: usize,
    timeout: Duration,
    budget: &Arc<BodyBudget>,
) -> Result<Body, ApiError> {
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    // Before `100 Continue` and before a byte is read: a body that does not fit is never taken in.
    let mut permit = budget.permit(declared.unwrap_or(0) as usize).ok_or_else(overloaded)?;
    let reserved = declared.unwrap_or(0) as usize;
    let expects_continue = session
        .req_header()
        .headers
        .get("expect")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue {
        session
            .as_downstream_mut()
            .write_continue_response()
            .await
            .map_err(|_| ApiError::invalid("body", "the connection broke before the body was sent"))?;
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    let read_all = async {
        while let Some(chunk) = session.read_request_body().await.map_err(|e| {
            ApiError::invalid("body", format!("the request body could not be read: {}", e.etype().as_str()))
        })? {
            if buf.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            // A body longer than declared (or of unknown length) takes the rest as it arrives.
            let beyond = (buf.len() + chunk.len()).saturating_sub(reserved.max(buf.len()));
            if beyond > 0 && !permit.grow(beyond) {
                return Err(overloaded());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(())
    };
    tokio::time::timeout(timeout, read_all)
        .await
        .map_err(|_| ApiError::invalid("body", format!("the request body did not arrive within {timeout:?}")))??;
    Ok(Body { bytes: buf.freeze(), permit })
}
