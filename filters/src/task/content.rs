//! The `content` array of a create request: each item's shape, its media URL, and
//! BytePlus's content rules for Seedance 2.0 — `role` beside `type`, one mode per request (first
//! frame, first + last frame, or reference media), and the counts each mode allows. Checked here
//! so a request the upstream would refuse never costs an upstream call, and so no media URL or
//! `asset://` reference reaches the upstream unjudged, whatever key or spelling carries it.

use crate::asset::uri;
use crate::callback::{check_url, CheckedUrl};
use crate::error::ApiError;
use crate::json::same_key;
use crate::raw::{raw_items, Member, RawObject};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

const CONTENT_TYPES: [&str; 4] = ["text", "image_url", "video_url", "audio_url"];
pub(crate) const MEDIA_KEYS: [&str; 3] = ["image_url", "video_url", "audio_url"];
const ITEM_FIELDS: [&str; 7] = ["type", "text", "role", "image_url", "video_url", "audio_url", "url"];
const MAX_REFERENCE_IMAGES: usize = 9;
const MAX_REFERENCE_VIDEOS: usize = 3;
const MAX_REFERENCE_AUDIOS: usize = 3;

/// What the shell needs from the content: ids to check ownership of, URLs to resolve, and the
/// facts billing keeps.
#[derive(Debug, Clone, Default)]
pub struct ContentFacts {
    /// Every `asset://` id referenced, in order, without repeats.
    pub asset_ids: Vec<String>,
    /// Every `http(s)` media URL, syntax-checked (IP literals already judged); domain hosts still
    /// have to be resolved and judged by the shell. `param` is the item (`content[i]`).
    pub media_urls: Vec<MediaUrl>,
    /// A `video_url` item is present (selects the `video` SKU).
    pub has_video: bool,
    /// How many reference videos (their length is unknown until the upstream reports it).
    pub videos: usize,
}

#[derive(Debug, Clone)]
pub struct MediaUrl {
    pub param: String,
    pub url: CheckedUrl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    FirstFrame,
    LastFrame,
    ReferenceImage,
    ReferenceVideo,
    ReferenceAudio,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "first_frame" => Role::FirstFrame,
            "last_frame" => Role::LastFrame,
            "reference_image" => Role::ReferenceImage,
            "reference_video" => Role::ReferenceVideo,
            "reference_audio" => Role::ReferenceAudio,
            _ => return None,
        })
    }

    /// The roles an item of this type may take.
    fn allowed_for(ty: &str) -> &'static [&'static str] {
        match ty {
            "image_url" => &["first_frame", "last_frame", "reference_image"],
            "video_url" => &["reference_video"],
            "audio_url" => &["reference_audio"],
            _ => &[],
        }
    }
}

/// One media item, as the mode rules see it.
struct Media {
    index: usize,
    ty: &'static str,
    role: Option<Role>,
}

fn at(i: usize, message: impl Into<String>) -> ApiError {
    ApiError::invalid(format!("content[{i}]"), message)
}

/// The checked content array: each item's own text, with media URLs trimmed and `asset://`
/// URIs canonicalized where the edge rewrote them.
#[derive(Debug, Clone)]
pub struct Content<'a> {
    items: Vec<Item<'a>>,
}

#[derive(Debug, Clone)]
struct Item<'a> {
    obj: RawObject<'a>,
    /// The media object (under the item's `type` key), when it is a media item.
    media: Option<(&'static str, RawObject<'a>)>,
}

/// How long a string may stay whole in the audit snapshot.
const SNAPSHOT_STRING: usize = 1024;
/// Inline media shorter than this stays in the audit snapshot as is.
const SNAPSHOT_INLINE: usize = 256;

impl<'a> Content<'a> {
    /// Writes the array as the upstream receives it.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.obj.write_with(out, &|k, out| match &item.media {
                Some((key, media)) if *key == k => {
                    media.write(out);
                    true
                }
                _ => false,
            });
        }
        out.push(b']');
    }

    /// What the audit record keeps: types, roles, prompts and URLs, with inline media replaced by
    /// its length and long strings cut (their length noted).
    pub fn snapshot(&self) -> Value {
        Value::Array(self.items.iter().map(Item::snapshot).collect())
    }
}

impl Item<'_> {
    fn snapshot(&self) -> Value {
        let mut out = Map::new();
        for (k, m) in self.obj.others(&[]) {
            if out.contains_key(k) {
                continue;
            }
            let v = match &self.media {
                Some((key, media)) if *key == k => {
                    let url = media.value("url").and_then(|u| u.as_str().map(snapshot_url)).unwrap_or(Value::Null);
                    json!({ "url": url })
                }
                _ => snapshot_member(m),
            };
            out.insert(k.to_string(), v);
        }
        Value::Object(out)
    }
}

/// Inline media: a `data:` URL, the scheme in any case.
pub(crate) fn is_inline(url: &str) -> bool {
    url.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("data:"))
}

fn snapshot_url(url: &str) -> Value {
    let url = url.trim();
    if is_inline(url) && url.len() > SNAPSHOT_INLINE {
        let head: String = url.chars().take_while(|c| *c != ',').take(64).collect();
        return Value::String(format!("{head},<{} bytes inline>", url.len()));
    }
    cut(url)
}

/// A member as the audit snapshot keeps it: small values whole, strings cut, large values noted.
pub(crate) fn snapshot_member(m: &Member<'_>) -> Value {
    if m.len() > SNAPSHOT_STRING + 2 {
        // Only a string is parsed (it costs its own length); a large array or object is not.
        if is_string(m) {
            if let Some(Value::String(s)) = m.value() {
                return cut(&s);
            }
        }
        return Value::String(format!("<{} bytes of JSON omitted>", m.len()));
    }
    m.value().unwrap_or(Value::Null)
}

fn cut(s: &str) -> Value {
    if s.len() <= SNAPSHOT_STRING {
        return Value::String(s.to_string());
    }
    let head: String = s.chars().take(SNAPSHOT_STRING / 4).collect();
    Value::String(format!("{head}…<{} bytes>", s.len()))
}

fn is_string(m: &Member<'_>) -> bool {
    match m {
        Member::Raw(r) => r.get().trim_start().starts_with('"'),
        Member::Set(v) => v.is_string(),
    }
}

/// A member's kind, named from its first character (no parse).
fn raw_kind(m: &Member<'_>) -> &'static str {
    match m {
        Member::Set(v) => crate::json::kind(v),
        Member::Raw(r) => match r.get().trim_start().as_bytes().first() {
            Some(b'"') => "a string",
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            _ => "a number",
        },
    }
}

/// A member that must be a string: parsed only if it is one.
fn string_member(m: Option<&Member<'_>>) -> Result<Option<String>, &'static str> {
    match m {
        None => Ok(None),
        Some(m) if is_string(m) => Ok(m.value().and_then(|v| v.as_str().map(str::to_string))),
        Some(m) => Err(raw_kind(m)),
    }
}

/// Checks `content`: `asset://` URIs canonicalized, media URLs trimmed, nulls dropped.
pub fn check_content<'a>(content: Option<&'a RawValue>) -> Result<(Content<'a>, ContentFacts), ApiError> {
    let Some(raw) = content else {
        return Err(ApiError::invalid("content", "content is required: a non-empty array of input items"));
    };
    let raw_list = match raw_items(raw) {
        Some(items) if !items.is_empty() => items,
        Some(_) => {
            return Err(ApiError::invalid(
                "content",
                "content must contain at least one item (a text prompt or a reference)",
            ))
        }
        None => {
            return Err(ApiError::invalid(
                "content",
                format!("content must be an array, not {}", raw_kind(&Member::Raw(raw))),
            ))
        }
    };
    let mut facts = ContentFacts::default();
    let mut media = Vec::new();
    let mut items = Vec::with_capacity(raw_list.len());
    for (i, raw_item) in raw_list.into_iter().enumerate() {
        let mut obj = RawObject::parse(raw_item).map_err(|_| at(i, format!("content[{i}] must be an object")))?;
        obj.drop_nulls();
        let (m, item) = check_item(i, obj, &mut facts)?;
        media.extend(m);
        items.push(item);
    }
    check_mode(&media)?;
    Ok((Content { items }, facts))
}

fn check_item<'a>(
    i: usize,
    obj: RawObject<'a>,
    facts: &mut ContentFacts,
) -> Result<(Option<Media>, Item<'a>), ApiError> {
    refuse_case_variants(&obj, i)?;
    let allowed = CONTENT_TYPES.join(", ");
    let ty: &'static str = match string_member(obj.get("type")) {
        Ok(Some(t)) => match CONTENT_TYPES.iter().find(|c| **c == t.as_str()) {
            Some(c) => c,
            None => return Err(at(i, format!("content[{i}].type {t:?} is not one of: {allowed}"))),
        },
        _ => return Err(at(i, format!("content[{i}].type is required: one of {allowed}"))),
    };
    // A media object under a key other than the item's type would reach the upstream unchecked.
    if let Some(other) = MEDIA_KEYS.iter().find(|k| **k != ty && obj.contains_key(k)) {
        return Err(at(i, format!("content[{i}] is of type {ty} and cannot carry {other}; send one item per medium")));
    }
    if ty == "text" {
        if !matches!(string_member(obj.get("text")), Ok(Some(_))) {
            return Err(at(i, format!("content[{i}].text must be a string")));
        }
        if obj.contains_key("role") {
            return Err(at(i, format!("content[{i}] is a text prompt and takes no role")));
        }
        return Ok((None, Item { obj, media: None }));
    }
    let allowed_roles = Role::allowed_for(ty);
    let role = match string_member(obj.get("role")) {
        Ok(None) => None,
        Ok(Some(r)) if allowed_roles.contains(&r.as_str()) => Role::parse(&r),
        Ok(Some(r)) => {
            return Err(at(
                i,
                format!("content[{i}].role for {ty} must be one of: {}; got {r:?}", allowed_roles.join(", ")),
            ))
        }
        Err(kind) => {
            return Err(at(
                i,
                format!("content[{i}].role for {ty} must be one of: {}; got {kind}", allowed_roles.join(", ")),
            ))
        }
    };
    let media_obj = check_media_url(i, ty, &obj, facts)?;
    if ty == "video_url" {
        facts.has_video = true;
        facts.videos += 1;
    }
    Ok((Some(Media { index: i, ty, role }), Item { obj, media: Some((ty, media_obj)) }))
}

fn check_media_url<'a>(
    i: usize,
    ty: &'static str,
    obj: &RawObject<'a>,
    facts: &mut ContentFacts,
) -> Result<RawObject<'a>, ApiError> {
    let not_object = || at(i, format!("content[{i}].{ty} must be an object holding a url"));
    let mut media = RawObject::parse(obj.raw(ty).ok_or_else(not_object)?).map_err(|_| not_object())?;
    media.drop_nulls();
    if let Some(k) = media.keys().find(|k| *k != "url" && same_key(k, "url")) {
        return Err(at(i, format!("content[{i}].{ty}.{k} is another spelling of url; send the field once, as url")));
    }
    let field = format!("content[{i}].{ty}.url");
    let Ok(Some(url)) = string_member(media.get("url")) else {
        return Err(at(i, format!("{field} must be a string")));
    };
    let trimmed = url.trim();
    if let Some(id) = uri::asset_id(trimmed) {
        if !crate::task::is_plausible_task_id(id) {
            return Err(at(i, format!("{field}: {id:?} is not an asset id")));
        }
        let id = id.to_string();
        media.set("url", Value::String(uri::canonical(&id)));
        if !facts.asset_ids.contains(&id) {
            facts.asset_ids.push(id);
        }
        return Ok(media);
    }
    if is_inline(trimmed) {
        if ty == "video_url" {
            return Err(at(
                i,
                format!("{field}: reference videos cannot be sent inline; use an https URL or asset://"),
            ));
        }
        if trimmed.len() != url.len() {
            media.set("url", Value::String(trimmed.to_string()));
        }
        return Ok(media);
    }
    let checked = check_url(&field, &Value::String(trimmed.to_string()), true).map_err(|mut e| {
        e.param = Some(format!("content[{i}]"));
        e
    })?;
    media.set("url", Value::String(checked.url.clone()));
    facts.media_urls.push(MediaUrl { param: format!("content[{i}]"), url: checked });
    Ok(media)
}

/// One mode per request: first frame, first + last frame, or reference media.
fn check_mode(media: &[Media]) -> Result<(), ApiError> {
    let reference =
        media.iter().find(|m| matches!(m.role, Some(Role::ReferenceImage)) || m.ty != "image_url").map(|m| m.index);
    if let Some(first_ref) = reference {
        return check_reference_mode(media, first_ref);
    }
    let images: Vec<&Media> = media.iter().collect();
    match images.as_slice() {
        [] => Ok(()),
        [one] if one.role == Some(Role::LastFrame) => {
            Err(at(one.index, "a last_frame image needs a first_frame image beside it"))
        }
        [_] => Ok(()),
        [a, b] => {
            for m in [a, b] {
                if m.role.is_none() {
                    return Err(at(
                        m.index,
                        "role must be specified for image contents: first_frame and last_frame, or reference_image",
                    ));
                }
            }
            if a.role == b.role {
                return Err(at(
                    b.index,
                    "first + last frame mode takes one first_frame and one last_frame image; this is a second one",
                ));
            }
            Ok(())
        }
        [_, _, third, ..] => Err(at(
            third.index,
            "first/last frame mode takes at most 2 images; for up to 9 reference images give each role reference_image",
        )),
    }
}

fn check_reference_mode(media: &[Media], first_ref: usize) -> Result<(), ApiError> {
    let (mut images, mut videos, mut audios) = (0, 0, 0);
    for m in media {
        match (m.ty, m.role) {
            ("image_url", Some(Role::FirstFrame | Role::LastFrame)) => {
                return Err(at(
                    m.index,
                    format!(
                        "first/last frame content cannot be mixed with reference media content (content[{first_ref}])"
                    ),
                ))
            }
            ("image_url", None) => {
                return Err(at(
                    m.index,
                    "role must be specified for image contents: reference_image beside reference media",
                ))
            }
            ("image_url", _) => images += 1,
            ("video_url", _) => videos += 1,
            _ => audios += 1,
        }
        let over = match m.ty {
            "image_url" if images > MAX_REFERENCE_IMAGES => Some(("reference images", MAX_REFERENCE_IMAGES)),
            "video_url" if videos > MAX_REFERENCE_VIDEOS => Some(("reference videos", MAX_REFERENCE_VIDEOS)),
            "audio_url" if audios > MAX_REFERENCE_AUDIOS => Some(("reference audio clips", MAX_REFERENCE_AUDIOS)),
            _ => None,
        };
        if let Some((what, max)) = over {
            return Err(at(m.index, format!("a request takes at most {max} {what}")));
        }
    }
    if audios > 0 && images == 0 && videos == 0 {
        let first_audio = media.iter().find(|m| m.ty == "audio_url").map(|m| m.index).unwrap_or(first_ref);
        return Err(at(first_audio, "reference audio cannot be used alone: add a reference image or video"));
    }
    Ok(())
}

/// The upstream decodes JSON keys case-insensitively (Go), so `Type` or `ROLE` next to the checked
/// spelling could reach it unchecked and win. Such spellings are refused outright.
fn refuse_case_variants(obj: &RawObject<'_>, i: usize) -> Result<(), ApiError> {
    for key in obj.keys() {
        if let Some(canonical) = ITEM_FIELDS.iter().find(|f| **f != key && same_key(key, f)) {
            return Err(at(
                i,
                format!("content[{i}].{key} is another spelling of content[{i}].{canonical}; send the field once"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(content: Value) -> Result<ContentFacts, ApiError> {
        let text = content.to_string();
        let raw: &RawValue = serde_json::from_str(&text).unwrap();
        check_content(Some(raw)).map(|(_, facts)| facts)
    }

    fn param(content: Value) -> String {
        check(content).unwrap_err().param.unwrap_or_default()
    }

    fn img(role: Option<&str>) -> Value {
        let mut v = json!({"type": "image_url", "image_url": {"url": "https://93.184.216.34/a.png"}});
        if let Some(r) = role {
            v["role"] = json!(r);
        }
        v
    }

    fn vid() -> Value {
        json!({"type": "video_url", "role": "reference_video", "video_url": {"url": "https://93.184.216.34/v.mp4"}})
    }

    fn aud() -> Value {
        json!({"type": "audio_url", "role": "reference_audio", "audio_url": {"url": "https://93.184.216.34/a.wav"}})
    }

    fn text() -> Value {
        json!({"type": "text", "text": "a boat"})
    }

    #[test]
    fn the_three_modes_are_accepted() {
        check(json!([text()])).unwrap();
        check(json!([text(), img(None)])).unwrap();
        check(json!([text(), img(Some("first_frame"))])).unwrap();
        check(json!([text(), img(Some("first_frame")), img(Some("last_frame"))])).unwrap();
        check(json!([img(Some("last_frame")), img(Some("first_frame"))])).unwrap();
        let nine: Vec<Value> = (0..9).map(|_| img(Some("reference_image"))).collect();
        check(Value::Array(nine)).unwrap();
        let f = check(json!([text(), img(Some("reference_image")), vid(), vid(), vid(), aud(), aud(), aud()])).unwrap();
        assert!(f.has_video);
        assert_eq!(f.videos, 3);
        check(json!([vid(), aud()])).unwrap();
    }

    #[test]
    fn mode_violations_name_the_item() {
        assert_eq!(param(json!([text(), img(Some("first_frame")), img(Some("first_frame"))])), "content[2]");
        assert_eq!(param(json!([img(None), img(Some("last_frame"))])), "content[0]");
        assert_eq!(param(json!([img(Some("last_frame"))])), "content[0]");
        assert_eq!(
            param(json!([img(Some("first_frame")), img(Some("last_frame")), img(Some("last_frame"))])),
            "content[2]"
        );
        assert_eq!(param(json!([img(Some("first_frame")), img(Some("reference_image"))])), "content[0]");
        assert_eq!(param(json!([img(Some("reference_image")), img(None)])), "content[1]");
        assert_eq!(param(json!([text(), aud()])), "content[1]");
        let ten: Vec<Value> = (0..10).map(|_| img(Some("reference_image"))).collect();
        assert_eq!(param(Value::Array(ten)), "content[9]");
        assert_eq!(param(json!([vid(), vid(), vid(), vid()])), "content[3]");
        assert_eq!(param(json!([vid(), aud(), aud(), aud(), aud()])), "content[4]");
        let e = check(json!([img(Some("first_frame")), vid()])).unwrap_err();
        assert!(e.message.contains("cannot be mixed"), "{}", e.message);
    }

    #[test]
    fn roles_must_fit_the_type() {
        let mut v = vid();
        v["role"] = json!("first_frame");
        assert_eq!(param(json!([v])), "content[0]");
        let mut a = aud();
        a["role"] = json!("reference_video");
        assert_eq!(param(json!([img(Some("reference_image")), a])), "content[1]");
        assert_eq!(param(json!([{"type": "text", "text": "x", "role": "first_frame"}])), "content[0]");
        assert_eq!(param(json!([img(Some("cover"))])), "content[0]");
    }

    #[test]
    fn media_under_a_foreign_key_or_spelling_is_refused() {
        let smuggled = json!({"type": "video_url", "role": "reference_video",
            "video_url": {"url": "https://93.184.216.34/v.mp4"}, "image_url": {"url": "asset://asset-theirs"}});
        assert_eq!(param(json!([smuggled])), "content[0]");
        let t = json!({"type": "text", "text": "x", "image_url": {"url": "asset://asset-theirs"}});
        assert_eq!(param(json!([t])), "content[0]");
        let spelled =
            json!({"type": "image_url", "image_url": {"url": "https://93.184.216.34/a.png", "URL": "asset://asset-x"}});
        assert_eq!(param(json!([spelled])), "content[0]");
        let typed = json!({"type": "text", "Type": "image_url", "text": "x"});
        assert_eq!(param(json!([typed])), "content[0]");
    }

    #[test]
    fn asset_references_in_any_form_are_collected() {
        let f = check(json!([
            {"type": "image_url", "role": "reference_image", "image_url": {"url": "  Asset://asset-1 "}},
            {"type": "video_url", "role": "reference_video", "video_url": {"url": "ASSET://asset-2"}},
            {"type": "audio_url", "role": "reference_audio", "audio_url": {"url": "\tasset://asset-1"}}
        ]))
        .unwrap();
        assert_eq!(f.asset_ids, vec!["asset-1", "asset-2"]);
        assert_eq!(param(json!([{"type": "image_url", "image_url": {"url": "asset://../x"}}])), "content[0]");
    }

    #[test]
    fn media_urls_are_judged_like_asset_urls() {
        for bad in [
            "https://10.1.2.3/a.png",
            "http://169.254.169.254/latest/meta-data",
            "https://[::1]/a.png",
            "ftp://example.com/a.png",
            "file:///etc/passwd",
            "https://user@example.com/a.png",
        ] {
            let item = json!({"type": "image_url", "image_url": {"url": bad}});
            assert_eq!(param(json!([item])), "content[0]", "{bad}");
        }
        let f = check(json!([{"type": "image_url", "image_url": {"url": " https://example.com/a.png "}}])).unwrap();
        assert_eq!(f.media_urls.len(), 1);
        assert_eq!(f.media_urls[0].url.url, "https://example.com/a.png");
        assert_eq!(f.media_urls[0].param, "content[0]");
        // Inline images and audio are legal; inline video is not.
        check(json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}])).unwrap();
        // Found by fuzzing: inline media is trimmed like every other media URL.
        let text = json!([{"type": "image_url", "image_url": {"url": " data:image/png;base64, "}}]).to_string();
        let (content, _) = check_content(Some(serde_json::from_str(&text).unwrap())).unwrap();
        let mut out = Vec::new();
        content.write(&mut out);
        let sent: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(sent[0]["image_url"]["url"], "data:image/png;base64,");
        let v = json!({"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}});
        assert_eq!(param(json!([v])), "content[0]");
    }
}
