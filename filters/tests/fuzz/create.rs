//! Fuzzing the create filter (`parse_create`: the create body rules). Generated bodies are mostly valid
//! ones with something changed — a field out of range, a second spelling of a checked key, a
//! `null`, whitespace around a URL, a duplicate key in the raw text, an unknown key holding
//! anything — so most properties are checked on the accept path: whatever the body, what the
//! channel receives has the official model, judged URLs only, canonical `asset://` references
//! the shell will check, and none of the fields Seedance 2.0 refuses.

use crate::gen;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use seedance_filters::task::{is_plausible_task_id, parse_create, CreateTask};
use seedance_filters::{ErrorCode, PublicModel};
use serde_json::{json, Map, Value};

const OFFICIAL: &str = "dreamina-seedance-2-0-official-260128";
/// The top-level fields the create rules check or rewrite: an independent copy of the
/// filter's list, so the oracle does not trust the code it checks.
const CHECKED: [&str; 18] = [
    "model",
    "content",
    "duration",
    "ratio",
    "resolution",
    "priority",
    "execution_expires_after",
    "seed",
    "camera_fixed",
    "watermark",
    "generate_audio",
    "return_last_frame",
    "draft",
    "service_tier",
    "safety_identifier",
    "callback_url",
    "frames",
    "tools",
];
const ITEM_FIELDS: [&str; 7] = ["type", "text", "role", "image_url", "video_url", "audio_url", "url"];
const MEDIA_KEYS: [&str; 3] = ["image_url", "video_url", "audio_url"];
const RATIOS: [&str; 7] = ["adaptive", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"];
const BOOLEANS: [&str; 5] = ["camera_fixed", "watermark", "generate_audio", "return_last_frame", "draft"];
const MODELS: [&str; 6] = [
    "dreamina-seedance-2-0",
    "dreamina-seedance-2-0-fast",
    "dreamina-seedance-2-0-filter-off",
    "dreamina-seedance-2-0-fast-filter-off",
    "dreamina-seedance-2-0-260128",
    "dreamina-seedance-2-0-fast-260128",
];
/// Inline media longer than this is replaced by its length in the audit snapshot.
const SNAPSHOT_INLINE_LIMIT: usize = 256;

// ---------------------------------------------------------------------------------------------
// Generators

fn text_item() -> BoxedStrategy<Value> {
    gen::nasty_string().prop_map(|t| json!({"type": "text", "text": t})).boxed()
}

fn media_url() -> BoxedStrategy<String> {
    prop_oneof![4 => gen::asset_uri(), 1 => gen::data_url(), 6 => gen::honest_url(), 1 => gen::url_string()].boxed()
}

fn media_item(ty: &'static str, role: Option<&'static str>) -> BoxedStrategy<Value> {
    media_url()
        .prop_map(move |url| {
            let mut item = json!({"type": ty, ty: {"url": url}});
            if let Some(r) = role {
                item["role"] = json!(r);
            }
            item
        })
        .boxed()
}

fn any_item() -> BoxedStrategy<Value> {
    let role = prop::option::of(select(vec![
        "first_frame",
        "last_frame",
        "reference_image",
        "reference_video",
        "reference_audio",
        "cover",
    ]));
    prop_oneof![1 => text_item(), 3 => (select(MEDIA_KEYS.to_vec()), role).prop_flat_map(|(ty, r)| media_item(ty, r))]
        .boxed()
}

/// Content in each of the three modes (mostly within BytePlus's counts), or anything at all.
fn content() -> BoxedStrategy<Vec<Value>> {
    let texts = || prop::collection::vec(text_item(), 0..2);
    let cat = |parts: Vec<Vec<Value>>| parts.into_iter().flatten().collect::<Vec<Value>>();
    prop_oneof![
        2 => prop::collection::vec(text_item(), 1..3),
        2 => (texts(), prop::option::of(Just("first_frame")))
            .prop_flat_map(|(t, role)| (Just(t), media_item("image_url", role)))
            .prop_map(move |(t, img)| cat(vec![t, vec![img]])),
        2 => (texts(), media_item("image_url", Some("first_frame")), media_item("image_url", Some("last_frame")))
            .prop_map(move |(t, a, b)| cat(vec![t, vec![a, b]]))
            .prop_shuffle(),
        4 => (
            texts(),
            prop::collection::vec(media_item("image_url", Some("reference_image")), 0..=9),
            prop::collection::vec(media_item("video_url", Some("reference_video")), 0..=3),
            prop::collection::vec(media_item("audio_url", Some("reference_audio")), 0..=3),
        )
            .prop_map(move |(t, i, v, a)| cat(vec![t, i, v, a]))
            .prop_shuffle(),
        1 => prop::collection::vec(any_item(), 0..12),
    ]
    .boxed()
}

/// A change to one content item.
#[derive(Debug, Clone)]
enum ItemMutation {
    /// Another spelling of a checked item key.
    VariantKey(String, Value),
    /// A media object under a key other than the item's type.
    ForeignMedia(&'static str),
    /// Another spelling of `url` in the media object.
    UrlVariant(String),
    /// Anything else, in the item or in its media object.
    Extra { in_media: bool, key: String, value: Value },
}

fn item_mutation() -> BoxedStrategy<ItemMutation> {
    prop_oneof![
        1 => (select(ITEM_FIELDS.to_vec()).prop_flat_map(gen::variant), gen::json_value())
            .prop_map(|(k, v)| ItemMutation::VariantKey(k, v)),
        1 => select(MEDIA_KEYS.to_vec()).prop_map(ItemMutation::ForeignMedia),
        1 => gen::variant("url").prop_map(ItemMutation::UrlVariant),
        3 => (any::<bool>(), gen::key(), gen::json_value())
            .prop_map(|(in_media, key, value)| ItemMutation::Extra { in_media, key, value }),
    ]
    .boxed()
}

fn apply_item_mutation(items: &mut [Value], at: &Index, m: &ItemMutation) {
    if items.is_empty() {
        return;
    }
    let Value::Object(item) = &mut items[at.index(items.len())] else { return };
    let ty = item.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    match m {
        ItemMutation::VariantKey(k, v) => {
            item.insert(k.clone(), v.clone());
        }
        ItemMutation::ForeignMedia(k) => {
            item.insert((*k).to_string(), json!({"url": "asset://asset-theirs"}));
        }
        ItemMutation::UrlVariant(k) => {
            if let Some(Value::Object(media)) = item.get_mut(&ty) {
                media.insert(k.clone(), json!("asset://asset-theirs"));
            }
        }
        ItemMutation::Extra { in_media, key, value } => {
            let target = match item.get_mut(&ty) {
                Some(Value::Object(media)) if *in_media => media,
                _ => item,
            };
            target.insert(key.clone(), value.clone());
        }
    }
}

fn int(range: std::ops::RangeInclusive<i64>) -> BoxedStrategy<Value> {
    prop_oneof![8 => range.prop_map(Value::from), 1 => any::<i64>().prop_map(Value::from), 1 => gen::json_value()]
        .boxed()
}

fn named(k: &'static str) -> BoxedStrategy<String> {
    Just(k.to_string()).boxed()
}

/// One top-level field: a documented one (mostly valid), an unknown one, a `null`, or another
/// spelling of a checked one.
fn field() -> BoxedStrategy<(String, Value)> {
    let strings = |v: &[&'static str]| select(v.to_vec()).prop_map(Value::from);
    prop_oneof![
        6 => (named("duration"), prop_oneof![8 => int(4..=15), 2 => Just(json!(-1))]),
        2 => (named("ratio"), prop_oneof![8 => strings(&RATIOS), 1 => gen::json_value()]),
        2 => (named("resolution"), prop_oneof![8 => strings(&["480p", "720p", "1080p"]), 1 => gen::json_value()]),
        1 => (named("priority"), int(0..=9)),
        1 => (named("execution_expires_after"), int(3600..=259_200)),
        1 => (named("seed"), int(-1..=i64::from(u32::MAX))),
        3 => (
            select(BOOLEANS.to_vec()).prop_map(str::to_string),
            prop_oneof![8 => Just(json!(false)), 4 => Just(json!(true)), 1 => gen::json_value()],
        ),
        1 => (named("service_tier"), prop_oneof![4 => Just(json!("default")), 1 => Just(json!("flex")), 1 => gen::json_value()]),
        1 => (
            named("safety_identifier"),
            prop_oneof![8 => "[a-z0-9-]{0,64}".prop_map(Value::from), 1 => gen::nasty_string().prop_map(Value::from)],
        ),
        3 => (
            select(vec!["callback_url", "CallbackURL"]).prop_map(str::to_string),
            prop_oneof![8 => gen::honest_url().prop_map(Value::from), 2 => gen::url_string().prop_map(Value::from), 1 => gen::json_value()],
        ),
        1 => (select(vec!["frames", "tools"]).prop_map(str::to_string), gen::json_value()),
        6 => (gen::key(), gen::json_value()),
        1 => (select(CHECKED.to_vec()).prop_flat_map(gen::variant), gen::json_value()),
        2 => (select(CHECKED[2..].iter().chain(&["CallbackURL"]).copied().collect::<Vec<_>>()).prop_map(str::to_string), Just(Value::Null)),
    ]
    .boxed()
}

fn model() -> BoxedStrategy<Value> {
    prop_oneof![
        30 => select(MODELS.to_vec()).prop_map(Value::from),
        1 => select(vec!["seedance-2-0", "Dreamina-Seedance-2-0", " dreamina-seedance-2-0", "dreamina-seedance-2-0-filter-off-260128"])
            .prop_map(Value::from),
        1 => gen::json_value(),
    ]
    .boxed()
}

/// A create body as raw JSON text: near-valid most of the time.
fn create_body() -> BoxedStrategy<String> {
    (
        model(),
        content(),
        prop_oneof![4 => Just(vec![]), 1 => prop::collection::vec((any::<Index>(), item_mutation()), 1..3)],
        prop::collection::vec(field(), 0..5),
        gen::raw_mutation(
            vec!["model", "content", "duration", "callback_url", "CallbackURL", "Model", "frames"],
            prop_oneof![model(), gen::json_value()].boxed(),
        ),
    )
        .prop_map(|(model, mut items, mutations, fields, raw)| {
            for (at, m) in &mutations {
                apply_item_mutation(&mut items, at, m);
            }
            let mut body = Map::new();
            body.insert("model".into(), model);
            body.insert("content".into(), Value::Array(items));
            body.extend(fields);
            gen::render(&body, &raw)
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Properties

fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

fn check(raw: &[u8]) -> Result<(), TestCaseError> {
    match parse_create(raw) {
        Ok(t) => check_accepted(raw, &t),
        Err(e) => {
            prop_assert_eq!(e.status(), 400);
            prop_assert!(matches!(e.code, ErrorCode::InvalidRequest | ErrorCode::InvalidDuration), "{:?}", e.code);
            if e.code == ErrorCode::InvalidDuration {
                prop_assert_eq!(e.param.as_deref(), Some("duration"));
            }
            prop_assert!(!e.message.is_empty());
            Ok(())
        }
    }
}

fn check_accepted(raw: &[u8], t: &CreateTask) -> Result<(), TestCaseError> {
    let input = gen::parsed_object(raw).ok_or_else(|| fail("accepted a body that is not a JSON object"))?;
    let sent: Value =
        serde_json::from_slice(&t.upstream_body(OFFICIAL)).map_err(|e| fail(format!("upstream body: {e}")))?;
    let sent = sent.as_object().ok_or_else(|| fail("upstream body is not an object"))?;

    prop_assert_eq!(sent.get("model"), Some(&json!(OFFICIAL)));
    prop_assert_eq!(Some(t.model), input.get("model").and_then(Value::as_str).and_then(PublicModel::parse));
    // Nulls are absent where the edge reads: the top level, content items, media objects (inside
    // members it never reads they travel as sent; the upstream reads them as absent too).
    prop_assert!(sent.values().all(|v| !v.is_null()), "a null member survives");
    for item in sent.get("content").and_then(Value::as_array).into_iter().flatten() {
        let Some(obj) = item.as_object() else { continue };
        prop_assert!(obj.values().all(|v| !v.is_null()), "a null item member survives");
        for key in MEDIA_KEYS {
            if let Some(Value::Object(m)) = obj.get(key) {
                prop_assert!(m.values().all(|v| !v.is_null()), "a null media member survives");
            }
        }
    }
    for k in sent.keys() {
        for f in CHECKED {
            prop_assert!(k == f || !gen::same_go_key(k, f), "{:?}, another spelling of {}, survives", k, f);
        }
    }
    for k in ["frames", "tools", "camera_fixed", "draft", "service_tier", "CallbackURL"] {
        prop_assert!(!sent.contains_key(k), "{} is forwarded", k);
    }
    let known: Vec<&str> = CHECKED.iter().chain(&["CallbackURL"]).copied().collect();
    gen::unknown_fields_pass_through(&input, sent, &known, gen::PassThrough::AsSent)?;
    check_callback(&input, sent, t)?;
    check_scalars(sent, t)?;
    check_content(sent, t)?;
    check_snapshot(sent, t)
}

fn check_callback(input: &Map<String, Value>, sent: &Map<String, Value>, t: &CreateTask) -> Result<(), TestCaseError> {
    let given = |k: &str| input.get(k).filter(|v| !v.is_null());
    match (given("callback_url").or(given("CallbackURL")), &t.callback) {
        (None, None) => prop_assert!(!sent.contains_key("callback_url")),
        (Some(Value::String(s)), Some(c)) => {
            prop_assert_eq!(c.url.as_str(), s.trim());
            prop_assert_eq!(sent.get("callback_url"), Some(&Value::String(c.url.clone())));
            prop_assert!(c.url.to_ascii_lowercase().starts_with("https://"), "{:?}", c.url);
            let host = url::Url::parse(&c.url).map_err(|e| fail(e.to_string()))?.host_str().map(str::to_string);
            let judged = match &c.host {
                seedance_filters::callback::UrlHost::Ip(std::net::IpAddr::V6(a)) => format!("[{a}]"),
                seedance_filters::callback::UrlHost::Ip(a) => a.to_string(),
                seedance_filters::callback::UrlHost::Domain(d) => d.clone(),
            };
            prop_assert_eq!(
                host.map(|h| format!("{}.", h.trim_end_matches('.'))),
                Some(format!("{}.", judged.trim_end_matches('.')))
            );
        }
        (given, checked) => return Err(fail(format!("callback given {given:?}, checked {checked:?}"))),
    }
    Ok(())
}

fn check_scalars(sent: &Map<String, Value>, t: &CreateTask) -> Result<(), TestCaseError> {
    let int = |k: &str| sent.get(k).map(|v| v.as_i64().ok_or_else(|| fail(format!("{k} = {v} is not an integer"))));
    let duration = int("duration").transpose()?;
    prop_assert_eq!(duration, t.duration);
    if let Some(d) = duration {
        prop_assert!(d == -1 || (4..=15).contains(&d), "duration {}", d);
    }
    let eea = int("execution_expires_after").transpose()?;
    prop_assert_eq!(eea, t.execution_expires_after);
    prop_assert!(eea.is_none_or(|n| (3600..=259_200).contains(&n)));
    prop_assert!(int("priority").transpose()?.is_none_or(|n| (0..=9).contains(&n)));
    prop_assert!(int("seed").transpose()?.is_none_or(|n| (-1..=i64::from(u32::MAX)).contains(&n)));

    let string =
        |k: &str| sent.get(k).map(|v| v.as_str().map(str::to_string).ok_or_else(|| fail(format!("{k} = {v}"))));
    let ratio = string("ratio").transpose()?;
    prop_assert!(ratio.as_deref().is_none_or(|r| RATIOS.contains(&r)));
    prop_assert_eq!(&ratio, &t.ratio);
    let resolution = string("resolution").transpose()?;
    prop_assert_eq!(&resolution, &t.resolution);
    if let Some(r) = resolution.as_deref() {
        prop_assert!(r == "480p" || r == "720p" || (r == "1080p" && !t.model.is_fast()), "{} on {}", r, t.model);
    }
    if let Some(s) = string("safety_identifier").transpose()? {
        prop_assert!(s.chars().count() <= 64);
    }
    for k in BOOLEANS {
        prop_assert!(sent.get(k).is_none_or(Value::is_boolean), "{} is not a boolean", k);
    }
    Ok(())
}

/// Media of one item, as the mode rules see it.
struct Media<'a> {
    ty: &'a str,
    role: Option<&'a str>,
}

fn check_content(sent: &Map<String, Value>, t: &CreateTask) -> Result<(), TestCaseError> {
    let items = sent.get("content").and_then(Value::as_array).ok_or_else(|| fail("content is not an array"))?;
    prop_assert!(!items.is_empty());
    let (mut assets, mut http, mut media) = (Vec::<String>::new(), 0usize, Vec::new());
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().ok_or_else(|| fail(format!("content[{i}] is not an object")))?;
        for k in obj.keys() {
            for f in ITEM_FIELDS {
                prop_assert!(k == f || !gen::same_go_key(k, f), "content[{}].{:?} survives beside {}", i, k, f);
            }
        }
        let ty = obj.get("type").and_then(Value::as_str).ok_or_else(|| fail("type"))?;
        let role = match obj.get("role") {
            None => None,
            Some(r) => Some(r.as_str().ok_or_else(|| fail(format!("content[{i}].role {r}")))?),
        };
        let present: Vec<&str> = MEDIA_KEYS.into_iter().filter(|k| obj.contains_key(*k)).collect();
        if ty == "text" {
            prop_assert!(obj.get("text").is_some_and(Value::is_string) && role.is_none() && present.is_empty());
            continue;
        }
        prop_assert_eq!(present, vec![ty], "content[{}] carries other media", i);
        let allowed: &[&str] = match ty {
            "image_url" => &["first_frame", "last_frame", "reference_image"],
            "video_url" => &["reference_video"],
            "audio_url" => &["reference_audio"],
            other => return Err(fail(format!("content[{i}].type {other:?}"))),
        };
        prop_assert!(role.is_none_or(|r| allowed.contains(&r)), "content[{}] role {:?} for {}", i, role, ty);
        let m = obj.get(ty).and_then(Value::as_object).ok_or_else(|| fail("media is not an object"))?;
        for k in m.keys() {
            prop_assert!(k == "url" || !gen::same_go_key(k, "url"), "content[{}].{}.{:?} survives", i, ty, k);
        }
        let u = m.get("url").and_then(Value::as_str).ok_or_else(|| fail("url is not a string"))?;
        prop_assert_eq!(u, u.trim(), "content[{}] media URL is forwarded untrimmed", i);
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("asset://") {
            let id = u.strip_prefix("asset://").ok_or_else(|| fail(format!("{u:?} is not canonical")))?;
            prop_assert!(is_plausible_task_id(id), "{:?}", id);
            prop_assert!(t.content.asset_ids.iter().any(|a| a == id), "{} not collected", id);
            if !assets.iter().any(|a| a == id) {
                assets.push(id.to_string());
            }
        } else if lower.starts_with("data:") {
            prop_assert_ne!(ty, "video_url", "inline video");
        } else {
            prop_assert!(lower.starts_with("https://") || lower.starts_with("http://"), "{:?}", u);
            let param = format!("content[{i}]");
            prop_assert!(
                t.content.media_urls.iter().any(|mu| mu.param == param && mu.url.url == u),
                "{} not in media_urls",
                u
            );
            http += 1;
        }
        media.push(Media { ty, role });
    }
    prop_assert_eq!(&t.content.asset_ids, &assets);
    prop_assert_eq!(t.content.media_urls.len(), http);
    let videos = media.iter().filter(|m| m.ty == "video_url").count();
    prop_assert_eq!((t.content.has_video, t.content.videos), (videos > 0, videos));
    check_mode(&media)
}

/// BytePlus's content rules (roles, the three modes, per-type counts), restated.
fn check_mode(media: &[Media]) -> Result<(), TestCaseError> {
    let count = |ty: &str| media.iter().filter(|m| m.ty == ty).count();
    let (images, videos, audios) = (count("image_url"), count("video_url"), count("audio_url"));
    let reference = media.iter().any(|m| m.role == Some("reference_image") || m.ty != "image_url");
    if reference {
        for m in media.iter().filter(|m| m.ty == "image_url") {
            prop_assert_eq!(m.role, Some("reference_image"), "frame or role-less image beside reference media");
        }
        prop_assert!(
            images <= 9 && videos <= 3 && audios <= 3,
            "{} images, {} videos, {} audios",
            images,
            videos,
            audios
        );
        prop_assert!(audios == 0 || images + videos > 0, "audio alone");
    } else {
        let roles: Vec<Option<&str>> = media.iter().map(|m| m.role).collect();
        match roles.as_slice() {
            [] | [None] | [Some("first_frame")] => {}
            [a, b] => prop_assert!(
                matches!((a, b), (Some("first_frame"), Some("last_frame")) | (Some("last_frame"), Some("first_frame"))),
                "two frame images with roles {:?}",
                roles
            ),
            other => return Err(fail(format!("frame mode with roles {other:?}"))),
        }
    }
    Ok(())
}

/// The audit snapshot is bounded (16 KiB, no string past the 1 KiB cut), names the official
/// model, notes inline media by length, and keeps small members as sent.
fn check_snapshot(sent: &Map<String, Value>, t: &CreateTask) -> Result<(), TestCaseError> {
    fn longest(v: &Value) -> usize {
        match v {
            Value::String(s) => s.len(),
            Value::Array(a) => a.iter().map(longest).max().unwrap_or(0),
            Value::Object(m) => m.iter().map(|(k, v)| k.len().max(longest(v))).max().unwrap_or(0),
            _ => 0,
        }
    }
    let snap = t.audit_snapshot(OFFICIAL);
    prop_assert!(snap.to_string().len() <= 16 * 1024, "snapshot of {} bytes", snap.to_string().len());
    prop_assert_eq!(snap["model"].as_str(), Some(OFFICIAL));
    let full = snap["content"].is_array();
    if full {
        prop_assert!(longest(&snap) <= 1024 + 64 || sent.keys().any(|k| k.len() > 1024), "a string kept past the cut");
    }
    for (k, v) in sent {
        if k == "model" || k == "content" || !full {
            continue;
        }
        if v.to_string().len() <= 1024 {
            // Kept as sent — or, when the sent text was longer than its compact form (white
            // space), noted by that length, which is never shorter than the compact one.
            let noted = snap[k.as_str()]
                .as_str()
                .and_then(|n| n.strip_prefix('<')?.strip_suffix(" bytes of JSON omitted>")?.parse::<usize>().ok());
            match noted {
                Some(n) => prop_assert!(n > 1024 && n >= v.to_string().len(), "member {} noted as {} bytes", k, n),
                None => prop_assert_eq!(&snap[k.as_str()], v, "member {} is kept as sent", k),
            }
        }
    }
    let Some(items) = sent.get("content").and_then(Value::as_array).filter(|_| full) else { return Ok(()) };
    for (i, item) in items.iter().enumerate() {
        for key in MEDIA_KEYS {
            let Some(u) = item.pointer(&format!("/{key}/url")).and_then(Value::as_str) else { continue };
            if u.to_ascii_lowercase().starts_with("data:") && u.len() > SNAPSHOT_INLINE_LIMIT {
                let kept = snap.pointer(&format!("/content/{i}/{key}/url")).and_then(Value::as_str).unwrap_or("");
                let tail = format!(",<{} bytes inline>", u.len());
                prop_assert!(
                    kept.ends_with(&tail) && kept.chars().count() <= 64 + tail.len(),
                    "inline media of {} bytes kept as {:?}…",
                    u.len(),
                    kept.chars().take(80).collect::<String>()
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Harnesses

proptest! {
    #![proptest_config(gen::config(1000))]

    #[test]
    fn fuzz_create_structured(raw in create_body()) {
        check(raw.as_bytes())?;
    }

    #[test]
    fn fuzz_create_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes)?;
    }

    #[test]
    fn fuzz_create_any_json(v in gen::json_value()) {
        check(v.to_string().as_bytes())?;
    }
}

#[test]
fn fuzz_create_generator_reaches_the_accept_path() {
    let ratio = gen::accept_ratio(create_body(), 600, |raw| parse_create(raw.as_bytes()).is_ok());
    eprintln!("parse_create accepts {:.0}% of generated bodies", ratio * 100.0);
    assert!((0.2..0.8).contains(&ratio), "accept ratio {ratio}");
}

/// Nesting however deep costs no stack: a pass-through member is kept as borrowed text (serde_json
/// skips it without recursing) and forwarded byte for byte; a checked field nested too deep to
/// parse is refused, never taken for absent.
#[test]
fn fuzz_create_deep_nesting() {
    let body = |field: &str, open: &str, close: &str, depth: usize| {
        format!(
            r#"{{"model":"dreamina-seedance-2-0","content":[{{"type":"text","text":"x"}}],"{field}":{}null{}}}"#,
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
        for depth in [126, 127, 128, 10_000, 1_000_000] {
            let raw = body("x", open, close, depth);
            let t = parse_create(raw.as_bytes()).unwrap_or_else(|e| panic!("{open} x {depth}: {e:?}"));
            let sent = String::from_utf8(t.upstream_body(OFFICIAL)).unwrap();
            let deep = format!("{}null{}", open.repeat(depth), close.repeat(depth));
            assert!(sent.contains(&deep), "{open} x {depth} is forwarded as sent");
            assert!(t.audit_snapshot(OFFICIAL).to_string().len() <= 16 * 1024);
            for field in ["duration", "seed", "watermark", "ratio"] {
                assert!(parse_create(body(field, open, close, depth).as_bytes()).is_err(), "{field}: {open} x {depth}");
            }
        }
    }
}

/// Numbers past i64/u64/f64, in every checked integer field: refused, never wrapped.
#[test]
fn fuzz_create_huge_numbers() {
    for n in ["1e400", "-1e400", "18446744073709551616", "-9223372036854775809", "4.0", "4e0", "1e1", "0x5"] {
        for field in ["duration", "priority", "seed", "execution_expires_after"] {
            let raw = format!(
                r#"{{"model":"dreamina-seedance-2-0","content":[{{"type":"text","text":"x"}}],"{field}":{n}}}"#
            );
            assert!(parse_create(raw.as_bytes()).is_err(), "{field}: {n}");
        }
    }
}
