//! Wall-clock helpers: the simulator's one reader of the system clock, and the UTC dates of its
//! ids, timestamps and the signature's `X-Date` (via `jiff`).
#![allow(clippy::disallowed_methods)]

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Seconds since the Unix epoch; a clock before 1970 reads as 0 rather than failing a request.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `secs` in UTC with a strftime `format`; a time outside jiff's range (±9999 years) reads as
/// the epoch rather than failing a request.
fn utc(secs: i64, format: &str) -> String {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH).strftime(format).to_string()
}

/// `YYYYMMDDHHMMSS`, as upstream task ids carry their creation time.
pub fn compact(secs: i64) -> String {
    utc(secs, "%Y%m%d%H%M%S")
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the OpenAPI's `CreateTime` format.
pub fn rfc3339(secs: i64) -> String {
    utc(secs, "%Y-%m-%dT%H:%M:%SZ")
}

/// Seconds since the epoch of an `X-Date` (`YYYYMMDD'T'HHMMSS'Z'`); `None` if it is not one.
pub fn parse_x_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits_at = |i: usize| i != 8 && i != 15;
    // Exactly this shape: no sign, no short fields, nothing a lenient parser would accept.
    if b.len() != 16
        || b[8] != b'T'
        || b[15] != b'Z'
        || !b.iter().enumerate().all(|(i, c)| !digits_at(i) || c.is_ascii_digit())
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i16>().ok();
    let small = |r: std::ops::Range<usize>| num(r).and_then(|n| i8::try_from(n).ok());
    let civil =
        DateTime::new(num(0..4)?, small(4..6)?, small(6..8)?, small(9..11)?, small(11..13)?, small(13..15)?, 0).ok()?;
    Some(civil.to_zoned(TimeZone::UTC).ok()?.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(compact(1_767_323_045), "20260102030405");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_x_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_x_date("20260102T030405Z"), Some(1_767_323_045));
        assert_eq!(parse_x_date("2026-01-02"), None);
        assert_eq!(parse_x_date("2026010+T030405Z"), None);
        assert_eq!(parse_x_date("20260230T000000Z"), None, "a day February does not have");
        for t in [0, 951_782_400, 1_767_323_045, 4_102_444_799] {
            let c = compact(t);
            assert_eq!(parse_x_date(&format!("{}T{}Z", &c[..8], &c[8..])), Some(t));
        }
    }
}
