//! Generators and oracles shared by the fuzz harnesses: the in-suite budget, Go-style key
//! spellings, JSON noise, URLs (honest ones and parser tricks: userinfo, odd IP spellings, encoded hosts), asset
//! ids and `asset://` URIs, and raw-text mutations that a `serde_json::Value` cannot express
//! (duplicate keys, `\u` escapes in keys). The oracles here are written from the contract's rules and
//! the Go decoder, not copied from the crate, so a property never trusts the code it checks.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use seedance_filters::callback::ip_policy::{V4_DENY, V6_DENY_IN_GLOBAL, V6_DENY_OUTSIDE_GLOBAL};
use serde_json::{Map, Value};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The in-suite budget for one harness; `PROPTEST_CASES` overrides it for a long campaign.
/// Failures are not persisted to files: a property that fails gets a regression unit test with
/// the shrunk input instead.
pub fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(cases);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// The fraction of `n` deterministic samples of `strategy` that `accepted` holds for. Used to
/// keep the generators honest: a generator whose inputs are all refused exercises nothing of
/// the accept path, where the interesting properties live.
pub fn accept_ratio<T>(strategy: impl Strategy<Value = T>, n: usize, accepted: impl Fn(&T) -> bool) -> f64 {
    let mut runner = TestRunner::deterministic();
    let mut ok = 0usize;
    for _ in 0..n {
        let value = strategy.new_tree(&mut runner).expect("a strategy that generates").current();
        if accepted(&value) {
            ok += 1;
        }
    }
    ok as f64 / n as f64
}

/// Go's `encoding/json` key folding (`foldName`: every rune to the smallest rune of its simple
/// case-folding orbit, ASCII to upper case), as far as it can make a key equal an ASCII one:
/// ASCII letters, `ſ` (U+017F, orbit of S) and the Kelvin sign (U+212A, orbit of K). Every other
/// non-ASCII rune folds to a non-ASCII rune (`İ` and `ı` fold to themselves).
pub fn go_fold(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            'a'..='z' => c.to_ascii_uppercase(),
            '\u{017F}' => 'S',
            '\u{212A}' => 'K',
            c => c,
        })
        .collect()
}

/// Whether the upstream would decode `a` and `b` into the same field.
pub fn same_go_key(a: &str, b: &str) -> bool {
    go_fold(a) == go_fold(b)
}

/// Every member of `obj` whose key the upstream reads as `canonical`.
pub fn spellings_of<'a>(obj: &'a Map<String, Value>, canonical: &str) -> Vec<(&'a String, &'a Value)> {
    obj.iter().filter(|(k, _)| same_go_key(k, canonical)).collect()
}

/// True when no object member at any depth is `null`.
pub fn no_null_members(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().all(|v| !v.is_null() && no_null_members(v)),
        Value::Array(items) => items.iter().all(no_null_members),
        _ => true,
    }
}

/// `v` as the filters must forward it: every `null` object member, at any depth, is absent.
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// How an unknown member travels: as sent (create bodies are forwarded from the request's own
/// text), or without its nested nulls (asset bodies are parsed and re-written).
#[derive(Clone, Copy)]
pub enum PassThrough {
    AsSent,
    WithoutNulls,
}

/// Every top-level member of `input` that is none of `checked` (in any spelling) reaches `sent`
/// (unknown fields pass through; a top-level `null` is absent).
pub fn unknown_fields_pass_through(
    input: &Map<String, Value>,
    sent: &Map<String, Value>,
    checked: &[&str],
    how: PassThrough,
) -> Result<(), TestCaseError> {
    for (k, v) in input.iter().filter(|(k, v)| !v.is_null() && !checked.iter().any(|c| same_go_key(k, c))) {
        let expected = match how {
            PassThrough::AsSent => v.clone(),
            PassThrough::WithoutNulls => without_nulls(v),
        };
        prop_assert_eq!(sent.get(k), Some(&expected), "unknown field {:?} changed on the way", k);
    }
    Ok(())
}

/// A spelling the upstream reads as `canonical`: every letter in either case, `s`/`k` sometimes
/// as `ſ`/Kelvin sign. May be `canonical` itself.
pub fn spelling(canonical: &'static str) -> BoxedStrategy<String> {
    let n = canonical.chars().count();
    prop::collection::vec(0u8..5, n)
        .prop_map(move |choices| {
            canonical
                .chars()
                .zip(choices)
                .map(|(c, k)| match (c.to_ascii_lowercase(), k) {
                    ('s', 4) => '\u{017F}',
                    ('k', 4) => '\u{212A}',
                    (_, 1) | (_, 4) => c.to_ascii_uppercase(),
                    (_, 2) => c.to_ascii_lowercase(),
                    _ => c,
                })
                .collect()
        })
        .boxed()
}

/// A spelling the upstream reads as `canonical` that is not `canonical`.
pub fn variant(canonical: &'static str) -> BoxedStrategy<String> {
    // A mapping, not a filter: rejections add up over a long campaign and abort it.
    spelling(canonical)
        .prop_map(move |s| {
            if s != canonical {
                return s;
            }
            let mut chars = canonical.chars();
            let first =
                chars
                    .next()
                    .map(|c| if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() });
            first.into_iter().chain(chars).collect()
        })
        .boxed()
}

/// Strings a hostile tenant would try: control characters, Unicode folding tricks, ids and
/// URLs of other tenants, huge runs.
pub fn nasty_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[ -~]{0,24}",
        1 => prop::sample::select(vec![
            "", " ", "\u{0}", "\t\n", "\u{a0}", "\u{3000}", "ſ", "\u{212A}", "İı", "Skip", "ep-123",
            "asset://asset-victim", "group-victim", "https://127.0.0.1/", "null", "\u{feff}", "\u{202e}",
        ])
        .prop_map(str::to_string),
        1 => (1usize..3000).prop_map(|n| "x".repeat(n)),
    ]
    .boxed()
}

/// An object key: plausible field names, names the filters care about in other spellings, or
/// anything at all.
pub fn key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z_]{1,12}",
        1 => any::<String>(),
        1 => prop::sample::select(vec![
            "model", "Model", "ProjectName", "project_name", "x_future", "Moderation", "GroupId", "Filter", "url",
            "URL", "callback_url", "CallbackURL", "content", "type", "ſeed", "\u{212A}ind", "",
        ])
        .prop_map(str::to_string),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep: huge and negative numbers, floats, nulls, Unicode.
pub fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Surrounding whitespace, ASCII and Unicode.
pub fn ws() -> BoxedStrategy<&'static str> {
    prop_oneof![6 => Just(""), 1 => prop::sample::select(vec![" ", "  ", "\t", "\n", "\r\n", "\u{a0}", "\u{3000}"])]
        .boxed()
}

/// A DNS name that could be public: 1 to 4 labels and a top-level domain, in any case, with
/// or without the trailing dot.
pub fn domain() -> BoxedStrategy<String> {
    (
        prop::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4),
        prop::sample::select(vec!["com", "example", "net", "io", "xn--fa-hia", "test"]),
        any::<bool>(),
        0u8..8,
    )
        .prop_map(|(labels, tld, dot, case)| {
            let name = format!("{}.{tld}{}", labels.join("."), if dot { "." } else { "" });
            if case == 0 {
                name.to_ascii_uppercase()
            } else {
                name
            }
        })
        .boxed()
}

/// IPv4 addresses biased towards the edges of every denied block.
pub fn ipv4() -> BoxedStrategy<Ipv4Addr> {
    let edges: Vec<u32> = V4_DENY
        .iter()
        .flat_map(|(net, _)| {
            let (lo, hi) = (u32::from(net.network()), u32::from(net.broadcast()));
            [lo.wrapping_sub(1), lo, lo.wrapping_add(1), hi.wrapping_sub(1), hi, hi.wrapping_add(1)]
        })
        .collect();
    prop_oneof![2 => any::<u32>(), 1 => prop::sample::select(edges)].prop_map(Ipv4Addr::from).boxed()
}

/// IPv6 addresses: random, inside a denied block, or embedding an IPv4 address.
pub fn ipv6() -> BoxedStrategy<Ipv6Addr> {
    let nets: Vec<(u128, u8)> = V6_DENY_OUTSIDE_GLOBAL
        .iter()
        .chain(V6_DENY_IN_GLOBAL)
        .map(|(net, _)| (u128::from(net.network()), net.prefix_len()))
        .chain([(0x2000u128 << 112, 3), (0x2606_4700u128 << 96, 32)])
        .collect();
    prop_oneof![
        1 => any::<u128>(),
        2 => (prop::sample::select(nets), any::<u128>()).prop_map(|((net, len), r)| {
            let host_mask = u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            net | (r & host_mask)
        }),
    ]
    .prop_map(Ipv6Addr::from)
    .boxed()
}

/// An IPv4 literal as a URL host, canonical or in the shorthand/decimal/hex/octal forms a
/// WHATWG parser silently repairs.
pub fn ipv4_host() -> BoxedStrategy<String> {
    (ipv4(), 0u8..7)
        .prop_map(|(a, form)| {
            let [w, x, y, z] = a.octets();
            let n = u32::from(a);
            match form {
                0 | 1 => a.to_string(),
                2 => n.to_string(),
                3 => format!("0x{n:x}"),
                4 => format!("0{w:o}.{x}.{y}.{z}"),
                5 => format!("{w}.{}", n & 0x00ff_ffff),
                _ => format!("{a}."),
            }
        })
        .boxed()
}

/// An IPv6 literal as a URL host, bracketed, sometimes in a non-canonical or invalid form.
pub fn ipv6_host() -> BoxedStrategy<String> {
    (ipv6(), 0u8..6)
        .prop_map(|(a, form)| match form {
            0 | 1 => format!("[{a}]"),
            2 => format!("[{}]", a.to_string().to_ascii_uppercase()),
            3 => format!("[{}]", a.segments().map(|s| format!("{s:x}")).join(":")),
            4 => format!("[{a}%25eth0]"),
            _ => a.to_string(),
        })
        .boxed()
}

/// Hosts from the reference's table of tricks (§1.5, §1.7).
fn tricky_host() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "localhost", "LOCALHOST.", "api.localhost", "printer.local", "x.internal", "router.home.arpa", "x.onion",
            "ｌｏｃａｌｈｏｓｔ", "①②⑦.⓪.⓪.①", "127。0。0。1", "%31%32%37.0.0.1", "faß.example", "xn--fa-hia.example",
            "", "a..b", "-bad-.example", "foo_bar.example", "*.example", "xn--", "1.2.3.4.5", "256.0.0.1",
            "999999999999", "exa%6dple.com", "[v1.x]", "[::1", "example.com..",
        ])
        .prop_map(str::to_string),
        1 => (1usize..80).prop_map(|n| format!("{}.example", "b".repeat(n))),
        1 => (1usize..140).prop_map(|n| format!("{}example", "c.".repeat(n))),
    ]
    .boxed()
}

/// A URL host of any kind.
pub fn host() -> BoxedStrategy<String> {
    prop_oneof![6 => domain(), 3 => ipv4_host(), 2 => ipv6_host(), 2 => tricky_host()].boxed()
}

/// A URL assembled from honest and hostile parts: scheme spellings WHATWG repairs, userinfo,
/// every kind of host, ports, and paths that hide an `@`, a backslash or a control character.
pub fn tricky_url() -> BoxedStrategy<String> {
    let scheme = prop_oneof![
        6 => prop::sample::select(vec!["https://", "HTTPS://", "hTtPs://"]),
        2 => Just("http://"),
        2 => prop::sample::select(vec![
            "https:/", "https:", "https:\\\\", "https:///", "//", "ftp://", "wss://", "javascript:", "file://",
            "data:", "https:// ", "https://\t", "asset://", "",
        ]),
    ];
    let userinfo = prop_oneof![
        8 => Just(""),
        1 => prop::sample::select(vec!["user@", "u:p@", "public.example@", "127.0.0.1@", "a%40b@", "@", "public.example%2F@"]),
    ];
    let port = prop_oneof![
        6 => Just(String::new()),
        2 => (1u32..70_000).prop_map(|p| format!(":{p}")),
        1 => prop::sample::select(vec![":0", ":", ":-1", ":https", ":443", ":0443"]).prop_map(str::to_string),
    ];
    let path = prop_oneof![
        4 => prop::sample::select(vec!["", "/", "/cb", "/hook?x=1", "/a.png"]).prop_map(str::to_string),
        2 => "(/[a-zA-Z0-9._~%-]{0,8}){0,3}(\\?[a-z=&]{0,8})?(#[a-z@]{0,6})?",
        1 => prop::sample::select(vec![
            "\\@127.0.0.1/", "#@127.0.0.1/", "?@127.0.0.1", "/@127.0.0.1/", "/c\nb", "/\u{0}", "/%2F", "/ a", "/é",
        ])
        .prop_map(str::to_string),
    ];
    (ws(), scheme, userinfo, host(), port, path, ws())
        .prop_map(|(a, s, u, h, p, pa, b)| format!("{a}{s}{u}{h}{p}{pa}{b}"))
        .boxed()
}

/// A URL an honest customer would send: `https` (or `http`), a public-looking domain or IP.
pub fn honest_url() -> BoxedStrategy<String> {
    (
        prop::sample::select(vec!["https://", "https://", "HTTPS://", "http://"]),
        prop_oneof![4 => domain(), 1 => ipv4().prop_map(|a| a.to_string())],
        prop_oneof![3 => Just(String::new()), 1 => (1u32..65_536).prop_map(|p| format!(":{p}"))],
        "(/[a-zA-Z0-9._~-]{1,8}){0,3}",
        ws(),
    )
        .prop_map(|(s, h, p, pa, w)| format!("{w}{s}{h}{p}{pa}{w}"))
        .boxed()
}

/// Any URL-ish string.
pub fn url_string() -> BoxedStrategy<String> {
    prop_oneof![4 => honest_url(), 4 => tricky_url(), 1 => any::<String>(), 1 => "[ -~]{0,40}"].boxed()
}

/// An asset (or task, or group) id: plausible most of the time, sometimes not at all.
pub fn asset_id() -> BoxedStrategy<String> {
    prop_oneof![
        12 => "asset-[a-z0-9]{1,10}",
        3 => "[A-Za-z0-9_-]{1,20}",
        1 => prop::sample::select(vec!["", "../x", "a b", "x:y", "é", "a/b", "asset-1?x", "asset-1#", "asset-1 x"])
            .prop_map(str::to_string),
        1 => (129usize..140).prop_map(|n| "a".repeat(n)),
        1 => any::<String>(),
    ]
    .boxed()
}

/// An `asset://` URI: the scheme in any case, surrounding whitespace, any id.
pub fn asset_uri() -> BoxedStrategy<String> {
    (prop::sample::select(vec!["asset://", "asset://", "Asset://", "ASSET://", "aSsEt://"]), asset_id(), ws(), ws())
        .prop_map(|(s, id, a, b)| format!("{a}{s}{id}{b}"))
        .boxed()
}

/// Inline media: `data:` in any case, short or past the audit snapshot's inline limit.
pub fn data_url() -> BoxedStrategy<String> {
    (
        prop::sample::select(vec!["data:", "data:", "DATA:", "Data:"]),
        prop::sample::select(vec!["image/png", "video/mp4", "audio/wav", ""]),
        prop_oneof![Just(0usize), 1usize..64, 200usize..700],
        ws(),
    )
        .prop_map(|(scheme, mime, n, w)| format!("{w}{scheme}{mime};base64,{}{w}", "A".repeat(n)))
        .boxed()
}

/// A raw-text change to a serialized JSON object that a `Value` cannot express.
#[derive(Debug, Clone)]
pub enum RawMutation {
    None,
    /// Pretty-printed: whitespace between every token.
    Pretty,
    /// `"key": value` written a second time, before (loses to) or after (wins over) the rest.
    Duplicate {
        key: String,
        value: Value,
        last: bool,
    },
    /// The same, with the key written in `\u` escapes.
    EscapedDuplicate {
        key: String,
        value: Value,
        last: bool,
    },
}

/// Raw mutations, mostly none, over the given keys and values.
pub fn raw_mutation(keys: Vec<&'static str>, values: BoxedStrategy<Value>) -> BoxedStrategy<RawMutation> {
    let k = prop::sample::select(keys);
    prop_oneof![
        8 => Just(RawMutation::None),
        1 => Just(RawMutation::Pretty),
        1 => (k.clone(), values.clone(), any::<bool>())
            .prop_map(|(key, value, last)| RawMutation::Duplicate { key: key.to_string(), value, last }),
        1 => (k, values, any::<bool>())
            .prop_map(|(key, value, last)| RawMutation::EscapedDuplicate { key: key.to_string(), value, last }),
    ]
    .boxed()
}

/// Serializes `body` with the mutation applied.
pub fn render(body: &Map<String, Value>, m: &RawMutation) -> String {
    let compact = serde_json::to_string(body).expect("a map serializes");
    let (key_text, value, last) = match m {
        RawMutation::None => return compact,
        RawMutation::Pretty => return serde_json::to_string_pretty(body).expect("a map serializes"),
        RawMutation::Duplicate { key, value, last } => (Value::String(key.clone()).to_string(), value, *last),
        RawMutation::EscapedDuplicate { key, value, last } => {
            let escaped: String = key.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
            (format!("\"{escaped}\""), value, *last)
        }
    };
    let pair = format!("{key_text}:{value}");
    let inner = &compact[1..compact.len() - 1];
    match (inner.is_empty(), last) {
        (true, _) => format!("{{{pair}}}"),
        (false, true) => format!("{{{inner},{pair}}}"),
        (false, false) => format!("{{{pair},{inner}}}"),
    }
}

/// The object serde_json (and so the filter) sees in `raw`: for a repeated key the last wins.
pub fn parsed_object(raw: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(raw) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// A strict `application/x-www-form-urlencoded` decoder, written from the spec: `+` is a space,
/// `%` takes exactly two hex digits, the result must be UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes some of `s` (every byte with probability ~1/`every`, decided by `seed`) and
/// writes spaces as `+` or `%20`: the same value as a client might put it in a query.
pub fn form_encode(s: &str, seed: u64, every: u64) -> String {
    let mut x = seed | 1;
    let mut out = String::new();
    for b in s.bytes() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let encode = every > 0 && x.is_multiple_of(every);
        match b {
            b' ' if x.is_multiple_of(2) => out.push('+'),
            b'&' | b'=' | b'+' | b'%' | b'#' | b' ' => out.push_str(&format!("%{b:02X}")),
            _ if encode || !b.is_ascii() || b.is_ascii_control() => out.push_str(&format!("%{b:02x}")),
            _ => out.push(b as char),
        }
    }
    out
}
