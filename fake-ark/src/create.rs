//! Create-task validation as upstream does it (reference "Create"): strict values, the Seedance 2.0
//! fields that are not supported, and the exclusive content modes. Lives apart from `tasks.rs`
//! because it is the part of the simulator most likely to catch an edge that relays a body
//! upstream would refuse, and it is checked item by item in its own unit tests.
//!
//! A JSON `null` is an absent field everywhere: the official SDK sends every unset optional
//! field as `null`, and upstream accepts that.

use crate::config::FakeArkConfig;
use crate::unconfirmed;
use serde_json::{Map, Value};

pub const RATIOS: [&str; 7] = ["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"];
const MAX_REFERENCE_IMAGES: usize = 9;
const MAX_REFERENCE_VIDEOS: usize = 3;
const MAX_REFERENCE_AUDIOS: usize = 3;
/// Every top-level create field the reference documents.
const KNOWN_FIELDS: [&str; 18] = [
    "model",
    "content",
    "duration",
    "ratio",
    "resolution",
    "seed",
    "generate_audio",
    "watermark",
    "return_last_frame",
    "execution_expires_after",
    "priority",
    "safety_identifier",
    "callback_url",
    "service_tier",
    "frames",
    "camera_fixed",
    "draft",
    "tools",
];
/// Official cap on the total length of reference videos.
pub const MAX_REFERENCE_VIDEO_TOTAL_SECS: u64 = 15;

/// Why a create is refused, as the task API's `{"error":{code,message,param,type}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub param: String,
}

impl Refused {
    fn new(status: u16, code: &str, param: &str, message: String) -> Refused {
        Refused { status, code: code.to_string(), message, param: param.to_string() }
    }

    fn invalid(param: &str, message: impl Into<String>) -> Refused {
        Refused::new(400, "InvalidParameter", param, message.into())
    }

    fn missing(param: &str) -> Refused {
        Refused::new(400, "MissingParameter", param, format!("The parameter `{param}` is required."))
    }
}

/// What a valid create asked for, with upstream's defaults filled in: the values a GET reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub model: String,
    pub resolution: String,
    pub ratio: String,
    pub duration: u64,
    /// The seed asked, or `None` for "random" (absent or −1).
    pub seed: Option<i64>,
    pub generate_audio: bool,
    pub return_last_frame: bool,
    pub execution_expires_after: i64,
    pub priority: i64,
    pub safety_identifier: Option<String>,
    pub reference_videos: usize,
}

/// A field, with `null` read as absent.
fn field<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn int_in(body: &Map<String, Value>, key: &str, lo: i64, hi: i64, default: i64) -> Result<i64, Refused> {
    match field(body, key) {
        None => Ok(default),
        Some(v) => v
            .as_i64()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| Refused::invalid(key, format!("The parameter `{key}` must be an integer in [{lo}, {hi}]."))),
    }
}

fn boolean(body: &Map<String, Value>, key: &str, default: bool) -> Result<bool, Refused> {
    match field(body, key) {
        None => Ok(default),
        Some(v) => {
            v.as_bool().ok_or_else(|| Refused::invalid(key, format!("The parameter `{key}` must be a boolean.")))
        }
    }
}

fn is_fast(model: &str) -> bool {
    model.contains("-fast")
}

/// Resolutions a model takes: fast models stop at 720p.
pub fn resolutions(model: &str) -> Vec<&'static str> {
    let mut r = vec!["480p", "720p"];
    if !is_fast(model) {
        r.push("1080p");
        if unconfirmed::BASE_MODEL_TAKES_4K {
            r.push("4k");
        }
    }
    r
}

/// Validates a create body (already known to be a JSON object).
pub fn validate(cfg: &FakeArkConfig, body: &Map<String, Value>) -> Result<Spec, Refused> {
    let model = match field(body, "model") {
        None => return Err(Refused::missing("model")),
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => return Err(Refused::invalid("model", "The parameter `model` must be a model or endpoint id.")),
    };
    if cfg.inactive_models.contains(&model) {
        let message = format!(
            "Your account {} has not activated the model {model}. Please activate the model service in the Ark console.",
            cfg.account_id
        );
        return Err(Refused::new(404, "ModelNotOpen", "model", message));
    }
    if !cfg.models.contains(&model) {
        let message = format!("The model or endpoint {model} does not exist or you do not have access to it.");
        return Err(Refused::new(404, "InvalidEndpointOrModel.NotFound", "model", message));
    }
    let content = match field(body, "content") {
        None => return Err(Refused::missing("content")),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => return Err(Refused::invalid("content", "The parameter `content` must be a non-empty array.")),
    };
    refuse_unsupported(body, &model)?;
    if !unconfirmed::UNKNOWN_CREATE_FIELDS_IGNORED {
        if let Some(k) = body.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str()) && field(body, k).is_some()) {
            return Err(Refused::invalid(k, format!("The parameter `{k}` is not supported.")));
        }
    }

    let duration = match field(body, "duration") {
        None => 5,
        Some(v) => match v.as_i64() {
            Some(-1) => unconfirmed::MODEL_PICKED_DURATION,
            Some(d @ 4..=15) => d as u64,
            _ => {
                return Err(Refused::invalid(
                    "duration",
                    "The parameter `duration` must be an integer in [4, 15] or -1.",
                ))
            }
        },
    };
    let ratio = match field(body, "ratio") {
        None => unconfirmed::ADAPTIVE_RATIO.to_string(),
        Some(Value::String(r)) if r == "adaptive" => unconfirmed::ADAPTIVE_RATIO.to_string(),
        Some(Value::String(r)) if RATIOS.contains(&r.as_str()) => r.clone(),
        Some(_) => return Err(Refused::invalid("ratio", format!("The parameter `ratio` must be one of {RATIOS:?}."))),
    };
    let allowed = resolutions(&model);
    let resolution = match field(body, "resolution") {
        None => "720p".to_string(),
        Some(Value::String(r)) if allowed.contains(&r.as_str()) => r.clone(),
        Some(_) => {
            let message = format!("The parameter `resolution` must be one of {allowed:?} for model {model}.");
            return Err(Refused::invalid("resolution", message));
        }
    };
    let seed = int_in(body, "seed", -1, u32::MAX as i64, -1)?;
    let generate_audio = boolean(body, "generate_audio", true)?;
    boolean(body, "watermark", false)?;
    let return_last_frame = boolean(body, "return_last_frame", false)?;
    let execution_expires_after = int_in(body, "execution_expires_after", 3600, 259_200, 172_800)?;
    let priority = int_in(body, "priority", 0, 9, 0)?;
    let safety_identifier = match field(body, "safety_identifier") {
        None => None,
        Some(Value::String(s)) if s.chars().count() <= 64 => Some(s.clone()),
        Some(_) => {
            return Err(Refused::invalid(
                "safety_identifier",
                "The parameter `safety_identifier` must be a string of at most 64 characters.",
            ))
        }
    };
    if field(body, "callback_url").is_some_and(|c| c.as_str().is_none_or(str::is_empty)) {
        return Err(Refused::invalid("callback_url", "The parameter `callback_url` must be a URL."));
    }
    let reference_videos = check_content(content)?;
    Ok(Spec {
        model,
        resolution,
        ratio,
        duration,
        seed: (seed >= 0).then_some(seed),
        generate_audio,
        return_last_frame,
        execution_expires_after,
        priority,
        safety_identifier,
        reference_videos,
    })
}

/// Fields Seedance 2.0 refuses outright, whatever else the body says.
fn refuse_unsupported(body: &Map<String, Value>, model: &str) -> Result<(), Refused> {
    let unsupported = |param: &str| {
        Refused::invalid(param, format!("The parameter `{param}` is not supported by the model {model}."))
    };
    if field(body, "frames").is_some() {
        return Err(unsupported("frames"));
    }
    if field(body, "tools").is_some() {
        return Err(unsupported("tools"));
    }
    for key in ["camera_fixed", "draft"] {
        if boolean(body, key, false)? {
            return Err(unsupported(key));
        }
    }
    match field(body, "service_tier") {
        None => Ok(()),
        Some(Value::String(t)) if t == "default" && unconfirmed::EXPLICIT_DEFAULT_TIER_ACCEPTED => Ok(()),
        Some(Value::String(t)) if t == "flex" => Err(unsupported("service_tier")),
        Some(_) => Err(Refused::invalid("service_tier", "The parameter `service_tier` must be `default` or `flex`.")),
    }
}

/// One media item's kind and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media<'a> {
    Image(Option<&'a str>),
    Video,
    Audio,
}

fn content_error(message: impl Into<String>) -> Refused {
    Refused::invalid("content", message)
}

/// One content item: `text`, or a media item whose `role` sits beside `type`.
fn parse_item(i: usize, item: &Value) -> Result<Option<Media<'_>>, Refused> {
    let Some(obj) = item.as_object() else { return Err(content_error(format!("content[{i}] must be an object."))) };
    let Some(kind) = field(obj, "type").and_then(Value::as_str) else {
        return Err(content_error(format!("content[{i}].type is required.")));
    };
    let role = match field(obj, "role") {
        None => None,
        Some(Value::String(r)) => Some(r.as_str()),
        Some(_) => return Err(content_error(format!("content[{i}].role must be a string."))),
    };
    if kind == "text" {
        if !field(obj, "text").is_some_and(Value::is_string) {
            return Err(content_error(format!("content[{i}].text must be a string.")));
        }
        return match role {
            None => Ok(None),
            Some(_) => Err(content_error(format!("content[{i}] is text and takes no role."))),
        };
    }
    let (roles, media): (&[&str], Media<'_>) = match kind {
        "image_url" => (&["first_frame", "last_frame", "reference_image"], Media::Image(role)),
        "video_url" => (&["reference_video"], Media::Video),
        "audio_url" => (&["reference_audio"], Media::Audio),
        other => return Err(content_error(format!("content[{i}].type {other:?} is not supported."))),
    };
    let Some(inner) = field(obj, kind).and_then(Value::as_object) else {
        return Err(content_error(format!("content[{i}].{kind} must be an object with a url.")));
    };
    if field(inner, "role").is_some() {
        let message = format!("content[{i}].{kind}.role is not a field: `role` is a sibling of `type`.");
        return Err(Refused::new(400, unconfirmed::NESTED_ROLE_CODE, "content", message));
    }
    let Some(url) = field(inner, "url").and_then(Value::as_str).filter(|u| !u.is_empty()) else {
        return Err(content_error(format!("content[{i}].{kind}.url is required.")));
    };
    if media == Media::Video && url.starts_with("data:") {
        return Err(content_error(format!("content[{i}]: reference videos cannot be base64 data.")));
    }
    if let Some(r) = role {
        if !roles.contains(&r) {
            return Err(content_error(format!(
                "content[{i}].role {r:?} is not valid for {kind}; expected one of {roles:?}."
            )));
        }
    }
    Ok(Some(media))
}

/// The exclusive modes: first frame, first+last frame, or reference media. Returns the number
/// of reference videos (they count as input in `usage`).
fn check_content(items: &[Value]) -> Result<usize, Refused> {
    let mut images: Vec<Option<&str>> = Vec::new();
    let (mut videos, mut audios, mut texts) = (0usize, 0usize, 0usize);
    for (i, item) in items.iter().enumerate() {
        match parse_item(i, item)? {
            None => texts += 1,
            Some(Media::Image(role)) => images.push(role),
            Some(Media::Video) => videos += 1,
            Some(Media::Audio) => audios += 1,
        }
    }
    if images.len() >= 2 && images.iter().any(Option::is_none) {
        return Err(content_error("role must be specified for image contents"));
    }
    let framed = images.iter().any(|r| matches!(r, Some("first_frame" | "last_frame")))
        || (unconfirmed::ROLELESS_SINGLE_IMAGE_IS_FIRST_FRAME && images == [None]);
    if framed {
        if videos + audios > 0 || images.contains(&Some("reference_image")) {
            return Err(content_error("first/last frame content cannot be mixed with reference media content"));
        }
        return match images.as_slice() {
            [None | Some("first_frame")] => Ok(0),
            [Some("last_frame")] => Err(content_error("a last_frame image needs a first_frame image.")),
            [Some(a), Some(b)] if matches!((*a, *b), ("first_frame", "last_frame") | ("last_frame", "first_frame")) => {
                Ok(0)
            }
            [_, _] => Err(content_error("first and last frame mode takes one first_frame and one last_frame image.")),
            _ => Err(content_error("first/last frame mode takes at most 2 images.")),
        };
    }
    if images.len() > MAX_REFERENCE_IMAGES {
        return Err(content_error(format!("at most {MAX_REFERENCE_IMAGES} reference images are allowed.")));
    }
    if videos > MAX_REFERENCE_VIDEOS {
        return Err(content_error(format!("at most {MAX_REFERENCE_VIDEOS} reference videos are allowed.")));
    }
    if audios > MAX_REFERENCE_AUDIOS {
        return Err(content_error(format!("at most {MAX_REFERENCE_AUDIOS} reference audios are allowed.")));
    }
    if audios > 0 && images.is_empty() && videos == 0 {
        return Err(content_error("reference audio cannot be used without a reference image or video."));
    }
    if texts == 0 && images.is_empty() && videos == 0 {
        return Err(content_error("content needs a text prompt or reference media."));
    }
    Ok(videos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MODEL: &str = "dreamina-seedance-2-0-260128";
    const FAST: &str = "dreamina-seedance-2-0-fast-260128";

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn check(v: Value) -> Result<Spec, Refused> {
        validate(&FakeArkConfig::default(), &body(v))
    }

    fn text() -> Value {
        json!({"type": "text", "text": "a paper boat"})
    }
    fn image(role: Option<&str>) -> Value {
        let mut v = json!({"type": "image_url", "image_url": {"url": "https://x/a.png"}});
        if let Some(r) = role {
            v["role"] = json!(r);
        }
        v
    }
    fn video() -> Value {
        json!({"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "role": "reference_video"})
    }
    fn audio() -> Value {
        json!({"type": "audio_url", "audio_url": {"url": "https://x/a.wav"}, "role": "reference_audio"})
    }

    fn refused(v: Value) -> Refused {
        match check(v) {
            Err(r) => r,
            Ok(s) => panic!("accepted: {s:?}"),
        }
    }

    fn content(items: Vec<Value>) -> Result<Spec, Refused> {
        check(json!({"model": MODEL, "content": items}))
    }

    #[test]
    fn the_sdks_nulls_are_absent_fields() {
        let s = check(json!({
            "model": MODEL, "content": [text()],
            "service_tier": null, "ratio": null, "frames": null, "output_format": null, "duration": null,
            "resolution": null, "seed": null, "camera_fixed": null, "draft": null, "tools": null,
            "generate_audio": null, "watermark": null, "return_last_frame": null, "callback_url": null,
            "execution_expires_after": null, "priority": null, "safety_identifier": null,
        }))
        .unwrap();
        assert_eq!((s.resolution.as_str(), s.ratio.as_str(), s.duration), ("720p", "16:9", 5));
        assert_eq!((s.seed, s.generate_audio, s.execution_expires_after, s.priority), (None, true, 172_800, 0));
        assert!(check(json!({"model": MODEL, "content": [text()], "output_format": "mp4", "extra": 1})).is_ok());
    }

    #[test]
    fn missing_model_or_content() {
        let r = refused(json!({"content": [text()]}));
        assert_eq!((r.status, r.code.as_str(), r.param.as_str()), (400, "MissingParameter", "model"));
        let r = refused(json!({"model": null, "content": [text()]}));
        assert_eq!((r.code.as_str(), r.param.as_str()), ("MissingParameter", "model"));
        let r = refused(json!({"model": MODEL}));
        assert_eq!((r.code.as_str(), r.param.as_str()), ("MissingParameter", "content"));
        let r = refused(json!({"model": MODEL, "content": null}));
        assert_eq!((r.code.as_str(), r.param.as_str()), ("MissingParameter", "content"));
        assert_eq!(refused(json!({"model": MODEL, "content": []})).code, "InvalidParameter");
        assert_eq!(refused(json!({"model": 7, "content": [text()]})).code, "InvalidParameter");
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        for (key, value) in [
            ("frames", json!(121)),
            ("tools", json!([{"type": "web_search"}])),
            ("camera_fixed", json!(true)),
            ("draft", json!(true)),
            ("service_tier", json!("flex")),
            ("service_tier", json!("premium")),
            ("camera_fixed", json!("yes")),
        ] {
            let mut b = json!({"model": MODEL, "content": [text()]});
            b[key] = value.clone();
            let r = refused(b);
            assert_eq!((r.status, r.code.as_str(), r.param.as_str()), (400, "InvalidParameter", key), "{value}");
        }
        for (key, value) in
            [("camera_fixed", json!(false)), ("draft", json!(false)), ("service_tier", json!("default"))]
        {
            let mut b = json!({"model": MODEL, "content": [text()]});
            b[key] = value;
            assert!(check(b).is_ok(), "{key}");
        }
    }

    #[test]
    fn values_are_checked_strictly() {
        let bad = [
            ("duration", json!(3)),
            ("duration", json!(16)),
            ("duration", json!(0)),
            ("duration", json!(4.5)),
            ("duration", json!("5")),
            ("ratio", json!("2:1")),
            ("resolution", json!("1440p")),
            ("seed", json!(-2)),
            ("seed", json!(4_294_967_296u64)),
            ("generate_audio", json!("true")),
            ("watermark", json!(1)),
            ("execution_expires_after", json!(3599)),
            ("execution_expires_after", json!(259_201)),
            ("priority", json!(10)),
            ("safety_identifier", json!("x".repeat(65))),
            ("callback_url", json!(5)),
        ];
        for (key, value) in bad {
            let mut b = json!({"model": MODEL, "content": [text()]});
            b[key] = value.clone();
            let r = refused(b);
            assert_eq!((r.code.as_str(), r.param.as_str()), ("InvalidParameter", key), "{value}");
        }
        let good = [
            ("duration", json!(4)),
            ("duration", json!(15)),
            ("duration", json!(-1)),
            ("ratio", json!("21:9")),
            ("ratio", json!("adaptive")),
            ("resolution", json!("1080p")),
            ("seed", json!(4_294_967_295u64)),
            ("seed", json!(-1)),
            ("execution_expires_after", json!(3600)),
            ("priority", json!(9)),
        ];
        for (key, value) in good {
            let mut b = json!({"model": MODEL, "content": [text()]});
            b[key] = value.clone();
            assert!(check(b).is_ok(), "{key}={value}");
        }
        let s = check(json!({"model": MODEL, "content": [text()], "duration": -1, "ratio": "adaptive"})).unwrap();
        assert_eq!((s.duration, s.ratio.as_str()), (5, "16:9"), "values actually used are reported");
    }

    #[test]
    fn fast_stops_at_720p() {
        let r = refused(json!({"model": FAST, "content": [text()], "resolution": "1080p"}));
        assert_eq!(r.param, "resolution");
        assert!(r.message.contains(FAST));
        assert!(check(json!({"model": FAST, "content": [text()], "resolution": "720p"})).is_ok());
        assert_eq!(refused(json!({"model": FAST, "content": [text()], "resolution": "4k"})).param, "resolution");
    }

    #[test]
    fn models_unknown_or_not_activated() {
        let cfg = FakeArkConfig {
            inactive_models: vec![FAST.into()],
            account_id: "2100999999".into(),
            ..FakeArkConfig::default()
        };
        let r = validate(&cfg, &body(json!({"model": FAST, "content": [text()]}))).unwrap_err();
        assert_eq!((r.status, r.code.as_str()), (404, "ModelNotOpen"));
        assert!(
            r.message.starts_with(&format!("Your account 2100999999 has not activated the model {FAST}.")),
            "{}",
            r.message
        );
        let r = validate(&cfg, &body(json!({"model": "dreamina-seedance-2-0", "content": [text()]}))).unwrap_err();
        assert_eq!((r.status, r.code.as_str()), (404, "InvalidEndpointOrModel.NotFound"));
    }

    #[test]
    fn first_frame_and_first_last_frame_modes() {
        assert!(content(vec![text(), image(None)]).is_ok());
        assert!(content(vec![image(Some("first_frame"))]).is_ok());
        assert!(content(vec![text(), image(Some("first_frame")), image(Some("last_frame"))]).is_ok());
        assert!(content(vec![image(Some("last_frame")), image(Some("first_frame"))]).is_ok());
        for items in [
            vec![image(Some("last_frame"))],
            vec![image(Some("first_frame")), image(Some("first_frame"))],
            vec![image(Some("first_frame")), image(Some("last_frame")), image(Some("last_frame"))],
        ] {
            assert_eq!(content(items).unwrap_err().param, "content");
        }
    }

    #[test]
    fn roles_are_required_with_two_images_and_sit_beside_type() {
        for items in [
            vec![image(None), image(None)],
            vec![image(Some("first_frame")), image(None)],
            vec![image(None), image(Some("reference_image"))],
        ] {
            assert_eq!(content(items).unwrap_err().message, "role must be specified for image contents");
        }
        let nested = json!({"type": "image_url", "image_url": {"url": "https://x/a.png", "role": "reference_image"}});
        let r = content(vec![text(), nested]).unwrap_err();
        assert!(r.message.contains("sibling of `type`"), "{}", r.message);
        let wrong = json!({"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "role": "first_frame"});
        assert_eq!(content(vec![text(), image(Some("reference_image")), wrong]).unwrap_err().param, "content");
        let base64_video =
            json!({"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}, "role": "reference_video"});
        assert!(content(vec![text(), base64_video]).is_err());
        assert!(content(vec![json!({"type": "sticker", "sticker_url": {"url": "x"}})]).is_err());
        assert!(content(vec![json!({"type": "text", "text": "x", "role": "first_frame"})]).is_err());
    }

    #[test]
    fn frames_do_not_mix_with_reference_media() {
        let mixed = "first/last frame content cannot be mixed with reference media content";
        for items in [
            vec![image(Some("first_frame")), image(Some("reference_image"))],
            vec![image(Some("first_frame")), video()],
            vec![image(Some("first_frame")), image(Some("last_frame")), audio()],
            vec![text(), image(None), video()],
        ] {
            assert_eq!(content(items).unwrap_err().message, mixed);
        }
    }

    #[test]
    fn reference_mode_counts() {
        let images = |n: usize| (0..n).map(|_| image(Some("reference_image"))).collect::<Vec<_>>();
        let spec = content(
            [vec![text()], images(9), vec![video(), video(), video()], vec![audio(), audio(), audio()]].concat(),
        )
        .unwrap();
        assert_eq!(spec.reference_videos, 3);
        assert!(content([vec![text()], images(10)].concat()).is_err());
        assert!(content([images(1), vec![video(), video(), video(), video()]].concat()).is_err());
        assert!(content([images(1), vec![audio(), audio(), audio(), audio()]].concat()).is_err());
        assert_eq!(
            content(vec![text(), video(), audio()]).unwrap().reference_videos,
            1,
            "video without images is fine"
        );
        assert!(content(vec![text(), audio()]).is_err(), "audio never alone");
        assert!(content(vec![text(), image(Some("reference_image")), audio()]).is_ok());
        assert!(content(vec![image(Some("reference_image"))]).is_ok(), "a prompt is optional");
        assert!(content(vec![]).is_err());
    }
}
