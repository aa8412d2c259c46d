//! Small facts about JSON bodies shared by the task and asset filters: how to name a value's
//! type in a message, and when the upstream would read two key spellings as the same field.

use serde_json::Value;

/// The type of a value, as a message to a person says it.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Folds one character the way the upstream's JSON decoder (Go) does for ASCII targets: ASCII
/// case, `ſ` (U+017F) as `s`, the Kelvin sign (U+212A) as `k`. `None` for anything that cannot
/// equal an ASCII letter.
pub(crate) fn fold_char(c: char) -> Option<char> {
    match c {
        '\u{017F}' => Some('s'),
        '\u{212A}' => Some('k'),
        c if c.is_ascii() => Some(c.to_ascii_lowercase()),
        _ => None,
    }
}

/// True when the upstream would read `key` as the ASCII key `canonical`.
pub(crate) fn same_key(key: &str, canonical: &str) -> bool {
    let mut a = key.chars();
    let mut b = canonical.chars();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if fold_char(x) == Some(y.to_ascii_lowercase()) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_folding() {
        assert!(same_key("Model", "model"));
        assert!(same_key("CALLBACK_URL", "callback_url"));
        assert!(same_key("reſolution", "resolution"));
        assert!(same_key("\u{212A}ind", "kind"));
        assert!(!same_key("CallbackURL", "callback_url"));
        assert!(!same_key("models", "model"));
        assert!(!same_key("mödel", "model"));
    }
}
