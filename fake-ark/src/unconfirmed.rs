//! Every point where BytePlus's published documentation has no source (marked unconfirmed, or
//! not described at all) and the simulator still has to answer something. Each choice is made
//! here and only here, so that when a live observation settles one, a single line changes and the
//! tests that pin it say what moved.

use serde_json::{json, Value};

// ---- Task API ----

/// Seconds of input counted per reference video in the token formula: the simulator never
/// downloads media, so it cannot measure them. Official bounds are 2–15 s each, 15 s in total.
pub const REFERENCE_VIDEO_SECS: u64 = 4;

/// The ratio a task reports when `adaptive` (or nothing) was asked: upstream reports the ratio it
/// actually used, which depends on the input; the simulator always "picks" this one.
pub const ADAPTIVE_RATIO: &str = "16:9";

/// The length a task reports when `duration` is −1 (the model picks).
pub const MODEL_PICKED_DURATION: u64 = 5;

/// The seed a task reports when none (or −1, "random") was asked. The value of the reference's
/// example, so answers look like upstream's.
pub const PICKED_SEED: i64 = 74_719;

/// Whether a role-less single image next to reference media is a first frame (then refused as
/// mixing modes) rather than a reference image. The official text says a first-frame image may
/// omit its role; nothing says what a role-less image means in reference mode.
pub const ROLELESS_SINGLE_IMAGE_IS_FIRST_FRAME: bool = true;

/// A `role` nested inside `image_url`/`video_url`/`audio_url` (instead of beside `type`) is
/// refused, as upstream validates fields strictly; the exact code upstream uses is unknown.
pub const NESTED_ROLE_CODE: &str = "InvalidParameter";

/// The base (non-fast) model also takes `4k`: observed live, absent from the official table.
pub const BASE_MODEL_TAKES_4K: bool = true;

/// Top-level create fields the reference does not list (the SDK's `output_format`, a relay's
/// extras) are ignored rather than refused: "validated strictly" is documented for values, not
/// for unknown keys. Turning this off makes the simulator refuse them by name.
pub const UNKNOWN_CREATE_FIELDS_IGNORED: bool = true;

/// An explicit `"service_tier": "default"` on create is accepted (the field is "not
/// configurable" for 2.0; only `flex` is known to be refused).
pub const EXPLICIT_DEFAULT_TIER_ACCEPTED: bool = true;

/// Unknown or deleted task id: 404 with this code (relays use `NotFound`; upstream's is unknown).
pub const TASK_NOT_FOUND_CODE: &str = "ResourceNotFound";

/// DELETE of a task that is already `cancelled`: refused, with an unknown status and code.
pub const CANCELLED_DELETION: (u16, &str, &str) =
    (400, "InvalidAction.CancelledTaskDeletion", "Cannot delete task because it has already been cancelled.");

/// A create past the account's queue cap (official: at most 120 queued tasks). The cap is
/// official; the code is not. `ServerOverloaded` because, like a full queue, it clears on its own
/// and a retry later succeeds, which `QuotaExceeded`/`SetLimitExceeded` (account settings) do not.
pub const QUEUE_FULL_CODE: &str = "ServerOverloaded";

/// `filter.task_ids=a,b` is split on commas as well as repeated keys (the official form is one
/// id per pair; comma handling is unconfirmed, and the lenient reading never hides an edge bug
/// because the edge repeats the key).
pub const SPLIT_TASK_IDS_ON_COMMAS: bool = true;

/// List order: newest first (the reference says order is unconfirmed).
pub const LIST_NEWEST_FIRST: bool = true;

/// A `filter.status` outside the documented five is refused (400) rather than matching nothing.
pub const LIST_STATUSES: [&str; 5] = ["queued", "running", "cancelled", "succeeded", "failed"];

/// How much of a wrong Bearer key the 401 message repeats. Upstream names the key it refused
/// (an account secret the edge must never relay); how many characters is unknown.
pub fn masked_key(key: &str) -> String {
    let shown = key.chars().count().div_ceil(2).min(8);
    format!("{}****", key.chars().take(shown).collect::<String>())
}

/// The 401 message for a task-API request: live texts are "The API key or AK/SK in the request is
/// missing or invalid." and "The API key format is incorrect."; the part naming the key is a
/// choice. A key "looks right" when it has the UUID shape BytePlus issues.
pub fn api_key_message(key: Option<&str>, request_id: &str) -> String {
    match key {
        None | Some("") => {
            format!("The API key or AK/SK in the request is missing or invalid. Request id: {request_id}")
        }
        Some(k) if !looks_like_ark_key(k) => {
            format!(
                "The API key format is incorrect: the API key {} is invalid. Request id: {request_id}",
                masked_key(k)
            )
        }
        Some(k) => format!("The API key {} is invalid. Request id: {request_id}", masked_key(k)),
    }
}

/// `8-4-4-4-12` hex digits, the shape of issued ARK API keys.
fn looks_like_ark_key(k: &str) -> bool {
    let parts: Vec<&str> = k.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

// ---- Asset Actions ----

/// `CodeN` of an Action error. The gateway's codes are official (Volcengine public error codes,
/// docs 6369/68677); the rest are picked, in ranges no official code uses.
pub fn code_n(code: &str) -> u64 {
    match code {
        // Official gateway codes.
        "MissingParameter" => 100_002,
        "MissingAuthenticationToken" => 100_003,
        "MissingRequestInfo" => 100_004,
        "MissingSignature" => 100_005,
        "InvalidTimestamp" => 100_006,
        "InvalidActionOrVersion" => 100_008,
        "InvalidAccessKey" => 100_009,
        "SignatureDoesNotMatch" => 100_010,
        "AccessDenied" => 100_013,
        "InternalError" => 100_014,
        // Picked.
        "InvalidAuthorization" => 100_024,
        c if c.starts_with("MissingParameter.") => 100_002,
        c if c.starts_with("InvalidParameter") => 700_400,
        c if c.starts_with("NotFound") => 700_404,
        _ => 700_500,
    }
}

/// The status of `InvalidTimestamp` (a stale `X-Date`): Volcengine's public error page says 400,
/// its ECS page 403.
pub const STALE_DATE_STATUS: u16 = 400;

/// `ListAssets`/`ListAssetGroups` without a `Filter` object, and with one lacking `GroupType`.
/// `MissingParameter.Filter` is a live code; which of the two situations it names is unknown.
pub const MISSING_FILTER_CODE: &str = "MissingParameter.Filter";
pub const MISSING_GROUP_TYPE_CODE: &str = "MissingParameter.Filter.GroupType";

/// `ListAssetGroups`' page when none is asked (required on `ListAssets`, optional here).
pub const GROUP_LIST_DEFAULT_PAGE_SIZE: u64 = 10;

/// `Filter.Name` matches a substring of the name (exact or prefix matching is equally possible).
pub const NAME_FILTER_IS_SUBSTRING: bool = true;

/// `Filter.GroupId` (singular) is not a documented key: ignored like any unknown key, so a list
/// that relies on it comes back account-wide, which is what makes the mistake visible.
pub const SINGULAR_GROUP_ID_IGNORED: bool = true;

/// The `Error` a `Failed` asset carries when a test fails it without naming one (live codes:
/// `InvalidParameter.DownloadFailed|FormatUnsupported|FpsTooLow`).
pub fn default_asset_error() -> Value {
    json!({"Code": "InvalidParameter.DownloadFailed", "Message": "Failed to download the asset from its URL."})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_and_classified() {
        assert_eq!(masked_key("sk-wrong-key"), "sk-wro****");
        assert_eq!(masked_key("49580189-aaaa-bbbb-cccc-88f7f5b34883"), "49580189****");
        assert_eq!(masked_key(""), "****");
        assert!(looks_like_ark_key("49580189-aaaa-bbbb-cccc-88f7f5b34883"));
        assert!(!looks_like_ark_key("49580189-aaaa-bbbb-cccc-88f7f5b3488z"));
        assert!(!looks_like_ark_key("sk-test-key"));
        let m = api_key_message(Some("49580189-aaaa-bbbb-cccc-88f7f5b34883"), "r1");
        assert_eq!(m, "The API key 49580189**** is invalid. Request id: r1");
        assert!(api_key_message(Some("sk-x"), "r").starts_with("The API key format is incorrect"));
        assert!(api_key_message(None, "r").contains("missing or invalid"));
    }

    #[test]
    fn every_code_has_a_code_n() {
        assert_eq!(code_n("InvalidAccessKey"), 100_009);
        assert_eq!(code_n("SignatureDoesNotMatch"), 100_010);
        assert_eq!(code_n("MissingParameter.Filter"), 100_002);
        assert_eq!(code_n("NotFound.asset_id"), 700_404);
        assert_eq!(code_n("Whatever"), 700_500);
    }
}
