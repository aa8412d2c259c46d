//! Query-string decoding, written once for every query the edge reads (the task list query and
//! the asset Action query), so the two cannot drift apart.

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%` takes exactly two hex
/// digits, and the result must be UTF-8; `None` otherwise.
pub(crate) fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = hex_digit(*bytes.get(i + 1)?)?;
                let lo = hex_digit(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_form_decoding() {
        assert_eq!(decode("a+b%20c%2Cd%e2%82%ac").as_deref(), Some("a b c,d€"));
        assert_eq!(decode("").as_deref(), Some(""));
        for bad in ["%", "%4", "%zz", "%+f", "%-1", "% 1", "%e9", "%C3%28"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
