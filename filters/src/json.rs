//! Small facts about JSON bodies shared by the task and asset filters: how to name a value's
//! type in a message, when the upstream would read two key spellings as the same field, and that
//! a `null` member is the same as an absent one.

use serde_json::{Map, Value};

/// Removes every object member whose value is `null`, at any depth. The upstream (Go) decodes a
/// `null` into a struct field as "not set", and the official SDKs send every unset optional field
/// as `null`, so a rule must never see a `null` where the upstream would see nothing.
pub(crate) fn drop_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    for v in map.values_mut() {
        drop_nulls_in(v);
    }
}

fn drop_nulls_in(v: &mut Value) {
    match v {
        Value::Object(m) => drop_nulls(m),
        Value::Array(items) => items.iter_mut().for_each(drop_nulls_in),
        _ => {}
    }
}

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
    fn nulls_are_absent_at_any_depth() {
        let mut v = serde_json::json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}, null]});
        let Value::Object(m) = &mut v else { unreachable!() };
        drop_nulls(m);
        // Array elements keep their positions: only object members are fields.
        assert_eq!(v, serde_json::json!({"b": {"d": 1}, "e": [{}, null]}));
    }

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
