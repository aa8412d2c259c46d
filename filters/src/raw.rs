//! A JSON object whose member values stay borrowed text until a rule needs one.
//!
//! A create body may be 30 MiB, most of it inline media or fields the edge never reads. Parsing
//! it into `serde_json::Value` costs 16–32 bytes per array element and then every rewrite copies
//! it again; a 30 MiB array of zeros became gigabytes. Here the body is parsed once into borrowed
//! [`RawValue`]s: only the members a rule reads are parsed (they are small), members the edge
//! rewrites are replaced, and the upstream body is written from the borrowed text — one copy.
//!
//! Duplicate keys: the upstream's decoder (Go) takes the last one, so lookups read the last and
//! [`RawObject::write`] emits only the last — the upstream sees exactly what was checked.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// One member: the request's own text, or a value the edge put there.
#[derive(Debug, Clone)]
pub enum Member<'a> {
    Raw(&'a RawValue),
    Set(Value),
}

impl Member<'_> {
    /// The member as a value (parses borrowed text; callers only do this for small fields).
    pub fn value(&self) -> Option<Value> {
        match self {
            Member::Raw(r) => serde_json::from_str(r.get()).ok(),
            Member::Set(v) => Some(v.clone()),
        }
    }

    /// Its JSON text length, without parsing it.
    pub fn len(&self) -> usize {
        match self {
            Member::Raw(r) => r.get().len(),
            Member::Set(v) => v.to_string().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_null(&self) -> bool {
        match self {
            Member::Raw(r) => r.get().trim() == "null",
            Member::Set(v) => v.is_null(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RawObject<'a> {
    members: Vec<(String, Member<'a>)>,
}

/// The text is valid JSON but not an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnObject;

impl<'a> RawObject<'a> {
    /// Parses an object's members; anything else is [`NotAnObject`].
    pub fn parse(raw: &'a RawValue) -> Result<RawObject<'a>, NotAnObject> {
        if !raw.get().trim_start().starts_with('{') {
            return Err(NotAnObject);
        }
        serde_json::from_str::<Entries<'a>>(raw.get()).map(|e| RawObject { members: e.0 }).map_err(|_| NotAnObject)
    }

    /// The body's size as it will be written, roughly (for preallocation).
    pub fn len_hint(&self) -> usize {
        self.members.iter().map(|(k, m)| k.len() + m.len() + 4).sum::<usize>() + 2
    }

    /// Every key, in order, duplicates included (the case-variant checks must see them all).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| k == key)
    }

    /// The last member named `key`.
    pub fn get(&self, key: &str) -> Option<&Member<'a>> {
        self.members.iter().rev().find(|(k, _)| k == key).map(|(_, m)| m)
    }

    /// The last member named `key`, parsed.
    pub fn value(&self, key: &str) -> Option<Value> {
        self.get(key).and_then(Member::value)
    }

    /// The borrowed text of the last member named `key`, if the edge has not replaced it.
    pub fn raw(&self, key: &str) -> Option<&'a RawValue> {
        match self.get(key) {
            Some(Member::Raw(r)) => Some(r),
            _ => None,
        }
    }

    /// Replaces every member named `key` with one holding `v` (appended if absent).
    pub fn set(&mut self, key: &str, v: Value) {
        self.remove(key);
        self.members.push((key.to_string(), Member::Set(v)));
    }

    pub fn remove(&mut self, key: &str) -> Option<Member<'a>> {
        let last = self.members.iter().rposition(|(k, _)| k == key)?;
        let (_, m) = self.members.remove(last);
        self.members.retain(|(k, _)| k != key);
        Some(m)
    }

    /// A `null` member is an absent one (the upstream reads it so; the SDKs send them).
    pub fn drop_nulls(&mut self) {
        self.members.retain(|(_, m)| !m.is_null());
    }

    /// Members that are not in `known`, for the audit snapshot.
    pub fn others<'s>(&'s self, known: &'s [&str]) -> impl Iterator<Item = (&'s str, &'s Member<'a>)> {
        self.members.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, m)| (k.as_str(), m))
    }

    /// Writes the object, each key once (its last member); `member` may substitute the text of a
    /// member by key (the content array is written by its owner).
    pub fn write_with(&self, out: &mut Vec<u8>, member: &dyn Fn(&str, &mut Vec<u8>) -> bool) {
        out.push(b'{');
        let mut first = true;
        for (i, (k, m)) in self.members.iter().enumerate() {
            if self.members[i + 1..].iter().any(|(later, _)| later == k) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_json(out, &Value::String(k.clone()));
            out.push(b':');
            if !member(k, out) {
                match m {
                    Member::Raw(r) => out.extend_from_slice(r.get().as_bytes()),
                    Member::Set(v) => write_json(out, v),
                }
            }
        }
        out.push(b'}');
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_with(out, &|_, _| false);
    }
}

fn write_json(out: &mut Vec<u8>, v: &Value) {
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// The members of an object in order, values borrowed.
struct Entries<'a>(Vec<(String, Member<'a>)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, Member::Raw(v)));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The items of a JSON array, borrowed; `None` if the text is not an array.
pub fn raw_items(raw: &RawValue) -> Option<Vec<&RawValue>> {
    serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn untouched_members_are_written_as_sent_and_duplicates_once() {
        let r = raw(r#"{"a": [0, 0,0], "b":"x", "a": {"k" : 1}, "c": null}"#);
        let mut o = RawObject::parse(r).unwrap();
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "b", "a", "c"]);
        assert_eq!(o.value("a"), Some(serde_json::json!({"k": 1})), "the last one wins, as upstream");
        o.drop_nulls();
        o.set("b", Value::from("y"));
        let mut out = Vec::new();
        o.write(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":{"k" : 1},"b":"y"}"#);
    }

    #[test]
    fn not_objects() {
        for s in ["[1]", "\"x\"", "5", "null", "true"] {
            assert_eq!(RawObject::parse(raw(s)).unwrap_err(), NotAnObject, "{s}");
        }
        assert_eq!(raw_items(raw("[1, {\"a\": 2}]")).map(|v| v.len()), Some(2));
        assert!(raw_items(raw("{}")).is_none());
    }

    #[test]
    fn substituted_members() {
        let o = RawObject::parse(raw(r#"{"content":[1,2],"x":1}"#)).unwrap();
        let mut out = Vec::new();
        o.write_with(&mut out, &|k, out| {
            if k == "content" {
                out.extend_from_slice(b"[]");
                true
            } else {
                false
            }
        });
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"content":[],"x":1}"#);
    }
}
