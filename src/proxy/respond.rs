//! Writes a [`Reply`] to the customer with exact framing (Content-Length, JSON content type) and
//! the request id, which every answer carries.

use crate::routes::Reply;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

pub async fn write(session: &mut Session, reply: &Reply, request_id: &str, close: bool) -> pingora_core::Result<()> {
    let mut h = ResponseHeader::build(reply.status, Some(4))?;
    h.insert_header("Content-Type", "application/json")?;
    h.insert_header("Content-Length", reply.body.len().to_string())?;
    if let Some(secs) = reply.retry_after {
        h.insert_header("Retry-After", secs.to_string())?;
    }
    // The edge's id, not the upstream's: the customer quotes one id for every answer, and the
    // access log joins it to the upstream's (`Reply::request_id`).
    h.insert_header("X-Request-Id", request_id)?;
    if close {
        session.set_keepalive(None);
    }
    let empty = reply.body.is_empty();
    session.write_response_header(Box::new(h), empty).await?;
    if !empty {
        session.write_response_body(Some(reply.body.clone()), true).await?;
    }
    Ok(())
}
