//! Query-string handling shared by the task list and the signature check.

/// Percent-decoding. `+` stays a plus: RFC 3986 (and the signer) give it no special meaning.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(x) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded (key, value) pairs of a raw query, in order, repeats kept.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of `name`, decoded.
pub fn param(raw: &str, name: &str) -> Option<String> {
    pairs(raw).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// RFC 3986 encoding: `A-Za-z0-9-_.~` stay, every other byte is `%XX` (uppercase hex).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(encode("a b/~é"), "a%20b%2F~%C3%A9");
        assert_eq!(decode("a%20b%2F~%C3%A9+%zz%4"), "a b/~é+%zz%4");
        assert_eq!(
            pairs("filter.task_ids=a&filter.task_ids=b%2Cc&x"),
            [("filter.task_ids".into(), "a".into()), ("filter.task_ids".into(), "b,c".into()), ("x".into(), "".into())]
        );
        assert_eq!(param("Version=2024-01-01&Action=GetAsset", "Action").as_deref(), Some("GetAsset"));
    }
}
