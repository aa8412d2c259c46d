//! The access-log line, as `key=value` text or one JSON object (`log.format`). In text, anything
//! a client or an upstream chose (a method, a tenant id read off a token's record, an upstream's
//! request id) is escaped, so a value can never add a field, split the line, or smuggle a
//! terminal control sequence into an operator's screen: bytes outside a small safe set become
//! `\xNN`, and long values are cut. JSON escapes by construction (`serde_json`).

use crate::config::LogFormat;
use crate::scope::UpstreamNote;
use std::borrow::Cow;
use std::time::Duration;

/// The `log` target of access lines: the binary's formatter writes them bare in JSON mode, so
/// each line is one JSON object a collector can parse without a prefix.
pub const ACCESS_TARGET: &str = "seedance_edge::access";

/// Everything one access line says about a request. Never a token, a body or a secret.
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub tenant: Option<&'a str>,
    pub route: &'a str,
    pub method: &'a str,
    pub status: u16,
    pub task_id: Option<&'a str>,
    pub upstream: &'a UpstreamNote,
    pub duration: Duration,
    pub upstream_micros: u64,
    /// Pingora's error type, when the exchange with the customer failed.
    pub error: Option<&'a str>,
}

impl AccessLine<'_> {
    pub fn render(&self, format: LogFormat) -> String {
        match format {
            LogFormat::Text => self.text(),
            LogFormat::Json => self.json(),
        }
    }

    fn text(&self) -> String {
        let opt = |v: Option<&str>| escape(v.unwrap_or("")).into_owned();
        format!(
            "request_id={} tenant={} route={} method={} status={} duration_ms={} upstream_ms={} task={} channel={} upstream_status={} upstream_request_id={}{}",
            escape(self.request_id),
            opt(self.tenant),
            escape(self.route),
            escape(self.method),
            self.status,
            self.duration.as_millis(),
            self.upstream_micros / 1000,
            opt(self.task_id),
            opt(self.upstream.channel.as_deref()),
            self.upstream.status.map_or_else(|| "-".to_string(), |s| s.to_string()),
            opt(self.upstream.request_id.as_deref()),
            self.error.map(|e| format!(" error={e}")).unwrap_or_default(),
        )
    }

    fn json(&self) -> String {
        let ts_ms = crate::clock::now_ms();
        serde_json::json!({
            "ts_ms": ts_ms,
            "request_id": self.request_id,
            "tenant": self.tenant,
            "route": self.route,
            "method": self.method,
            "status": self.status,
            "task_id": self.task_id,
            "channel": self.upstream.channel,
            "upstream_status": self.upstream.status,
            "upstream_request_id": self.upstream.request_id,
            "duration_ms": self.duration.as_secs_f64() * 1000.0,
            "upstream_ms": self.upstream_micros as f64 / 1000.0,
            "error": self.error,
        })
        .to_string()
    }
}

/// Longest value kept, in input bytes; the rest is replaced by `...`.
const MAX: usize = 64;

fn safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'@' | b'+' | b'~' | b'*')
}

/// `s` as one log value: unchanged when it is short and safe, escaped otherwise; `-` when empty.
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.is_empty() {
        return Cow::Borrowed("-");
    }
    if s.len() <= MAX && s.bytes().all(safe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(MAX) * 2);
    for &b in s.as_bytes().iter().take(MAX) {
        if safe(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if s.len() > MAX {
        out.push_str("...");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_carry_the_same_fields() {
        let upstream =
            UpstreamNote { channel: Some("sg-main".into()), status: Some(200), request_id: Some("up 1\n".into()) };
        let line = AccessLine {
            request_id: "req-1",
            tenant: Some("acme"),
            route: "get_task",
            method: "GET",
            status: 200,
            task_id: Some("cgt-1"),
            upstream: &upstream,
            duration: Duration::from_millis(12),
            upstream_micros: 7_500,
            error: None,
        };
        let text = line.render(LogFormat::Text);
        assert_eq!(
            text,
            "request_id=req-1 tenant=acme route=get_task method=GET status=200 duration_ms=12 upstream_ms=7 \
             task=cgt-1 channel=sg-main upstream_status=200 upstream_request_id=up\\x201\\x0a"
        );
        let v: serde_json::Value = serde_json::from_str(&line.render(LogFormat::Json)).unwrap();
        assert_eq!(v["request_id"], "req-1");
        assert_eq!(v["tenant"], "acme");
        assert_eq!(v["task_id"], "cgt-1");
        assert_eq!(v["channel"], "sg-main");
        assert_eq!(v["upstream_status"], 200);
        assert_eq!(v["upstream_request_id"], "up 1\n");
        assert_eq!(v["duration_ms"], 12.0);
        assert_eq!(v["upstream_ms"], 7.5);
        assert!(v["error"].is_null());
    }

    #[test]
    fn client_text_cannot_forge_fields_or_lines() {
        assert_eq!(escape("GET"), "GET");
        assert_eq!(escape("acme-01_x"), "acme-01_x");
        assert_eq!(escape(""), "-");
        assert_eq!(escape("X'Q|Z"), "X\\x27Q\\x7cZ");
        assert_eq!(escape("a b=c\"d"), "a\\x20b\\x3dc\\x22d");
        assert_eq!(escape("x\r\ntenant=evil"), "x\\x0d\\x0atenant\\x3devil");
        assert_eq!(escape("\u{1b}[31m"), "\\x1b[31m".replace('[', "\\x5b"));
        assert_eq!(escape("é"), "\\xc3\\xa9");
        assert_eq!(escape("back\\slash"), "back\\x5cslash");
        let long = "A".repeat(200);
        assert_eq!(escape(&long), format!("{}...", "A".repeat(64)));
        for s in ["x y", "a\tb", "q\"", "k=v", "\u{0}"] {
            let e = escape(s);
            assert!(e.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'='), "{s:?} -> {e}");
        }
    }
}
