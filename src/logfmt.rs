//! Values for the `key=value` access-log line. Anything a client chose (a method, a tenant id
//! read off a token's record) is escaped, so a value can never add a field, split the line, or
//! smuggle a terminal control sequence into an operator's screen: bytes outside a small safe set
//! become `\xNN`, and long values are cut.

use std::borrow::Cow;

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
    use super::escape;

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
