//! What of an upstream answer a tenant may see — one policy for task and Action answers alike.
//!
//! Two rules. Fields that name the account behind a channel (project, account, credentials,
//! endpoints, official model versions) are removed at any depth, and so are `ep-…` endpoint ids.
//! And an answer in which the upstream refuses the *channel* (its key, signature, account,
//! subscription or model activation) is not the tenant's doing: [`channel_fault`] recognises it so
//! the shell can answer 503 `channel_not_available` with its own words instead — such messages
//! name the account id or access key (`The accesskey [AK…] is invalid`, `Your account 2100… has not
//! activated the model …`).

use crate::json::fold_char;
use serde_json::Value;

/// Removes internal keys at any depth, and string values that are endpoint ids (`ep-…`).
pub fn strip_internal(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, v| !is_internal_key(k) && !matches!(v, Value::String(s) if s.starts_with("ep-")));
            map.values_mut().for_each(strip_internal);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_internal),
        _ => {}
    }
}

/// Keys that name the upstream account behind a channel. Compared after folding case the way the
/// upstream's decoder does and dropping `_`, `-`, `.` and spaces, so `ProjectName`,
/// `project_name` and `PROJECT-NAME` match. `model` is internal too: callers put the public name
/// back where the customer expects one.
pub fn is_internal_key(key: &str) -> bool {
    // This runs for every key of every answer, so the folded key goes to a stack buffer. Every
    // pattern is ASCII: a character that does not fold to ASCII becomes a byte no pattern has.
    let mut buf = [0u8; 64];
    let mut len = 0;
    let mut push = |b: u8| {
        let slot = buf.get_mut(len)?;
        *slot = b;
        len += 1;
        Some(())
    };
    let fits = if key.is_ascii() {
        key.bytes().filter(|b| !matches!(b, b'_' | b'-' | b'.' | b' ')).try_for_each(|b| push(b.to_ascii_lowercase()))
    } else {
        key.chars()
            .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
            .try_for_each(|c| push(fold_char(c).filter(char::is_ascii).map_or(0xFF, |a| a as u8)))
    };
    if fits.is_none() {
        // Longer than any key worth hiding behind: judged all the same, on the heap.
        let norm: String =
            key.chars().filter(|c| !matches!(c, '_' | '-' | '.' | ' ')).map(|c| fold_char(c).unwrap_or(c)).collect();
        return INTERNAL_INSIDE.iter().any(|k| norm.contains(k)) || INTERNAL_EXACT.contains(&norm.as_str());
    }
    let norm = &buf[..len];
    // A pattern can start only at one of the few bytes patterns start with: one table lookup per
    // position, a full compare rarely.
    (0..len).any(|i| {
        STARTS_INSIDE[usize::from(norm[i])] && INTERNAL_INSIDE.iter().any(|k| norm[i..].starts_with(k.as_bytes()))
    }) || INTERNAL_EXACT.iter().any(|k| norm == k.as_bytes())
}

/// Folded keys that are internal wherever they appear inside a key.
const INTERNAL_INSIDE: [&str; 8] =
    ["project", "account", "accesskey", "secret", "credential", "apikey", "password", "endpoint"];
/// Folded keys that are internal only as the whole key.
const INTERNAL_EXACT: [&str; 9] =
    ["model", "officialmodel", "upstreammodel", "sku", "trn", "ownerid", "userid", "createdby", "creator"];

/// The bytes an [`INTERNAL_INSIDE`] pattern starts with.
const STARTS_INSIDE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < INTERNAL_INSIDE.len() {
        table[INTERNAL_INSIDE[i].as_bytes()[0] as usize] = true;
        i += 1;
    }
    table
};

/// Why the upstream refused the channel itself, for the operator's metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelFault {
    /// The key, access key or signature was refused (401, `AuthenticationError`, `InvalidAccessKey`,
    /// `SignatureDoesNotMatch`).
    Credentials,
    /// The account may not do this (403, `AccessDenied`, `AccountOverdueError`, a missing
    /// subscription or authorization letter).
    Account,
    /// The model is not activated or not reachable on this account (`ModelNotOpen`,
    /// `InvalidEndpointOrModel.*`, a closed endpoint).
    Model,
}

impl ChannelFault {
    pub const ALL: [ChannelFault; 3] = [ChannelFault::Credentials, ChannelFault::Account, ChannelFault::Model];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelFault::Credentials => "credentials",
            ChannelFault::Account => "account",
            ChannelFault::Model => "model",
        }
    }
}

/// The error code of an upstream answer in either native shape: `error.code` (task API) or
/// `ResponseMetadata.Error.Code` (Actions).
pub fn upstream_error_code(body: &Value) -> Option<&str> {
    let code = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    code("/error/code").or_else(|| code("/ResponseMetadata/Error/Code"))
}

/// The error code of a raw upstream body (`error.code` or `ResponseMetadata.Error.Code`), read
/// without building a JSON tree: the other members are skipped, not allocated.
fn error_code_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Code {
        #[serde(alias = "Code")]
        code: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(rename = "Error")]
        error: Option<Code>,
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        error: Option<Code>,
        #[serde(rename = "ResponseMetadata")]
        metadata: Option<Metadata>,
    }
    let shape: Shape = match serde_json::from_slice(body) {
        Ok(shape) => shape,
        // An odd shape (a string `error`, a numeric code): the general reading decides.
        Err(_) => {
            let v: Value = serde_json::from_slice(body).ok()?;
            return upstream_error_code(&v).map(str::to_string);
        }
    };
    shape.error.and_then(|e| e.code).or_else(|| shape.metadata.and_then(|m| m.error).and_then(|e| e.code))
}

/// Whether an upstream answer refuses the channel rather than the tenant's request.
pub fn channel_fault(status: u16, body: &[u8]) -> Option<ChannelFault> {
    // Every answer passes here, so the common one costs a byte scan: a success body that never
    // spells "rror" names no error, and any other body is read for its code alone.
    let named = (!(200..300).contains(&status) || body.windows(4).any(|w| w == b"rror")).then(|| error_code_of(body));
    let by_code = match named.flatten().as_deref().unwrap_or("") {
        "AuthenticationError"
        | "InvalidAccessKey"
        | "SignatureDoesNotMatch"
        | "InvalidAuthorization"
        | "InvalidCredential"
        | "MissingAuthenticationToken" => Some(ChannelFault::Credentials),
        "AccessDenied" | "AccountOverdueError" | "SubscriptionRequired" | "AccountDisabled" | "Forbidden" => {
            Some(ChannelFault::Account)
        }
        "ModelNotOpen" | "InvalidEndpoint.ClosedEndpoint" => Some(ChannelFault::Model),
        c if c.starts_with("InvalidEndpointOrModel") => Some(ChannelFault::Model),
        _ => None,
    };
    by_code.or(match status {
        401 => Some(ChannelFault::Credentials),
        403 => Some(ChannelFault::Account),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_policy_for_tasks_and_actions() {
        let mut v = json!({"id": "cgt-1", "secret_key": "s", "TopAccountId": "1", "project_name": "p",
            "x": "ep-123", "content": {"video_url": "https://cdn/v.mp4", "AccountId": "42"}, "usage": {"completion_tokens": 5}});
        strip_internal(&mut v);
        assert_eq!(
            v,
            json!({"id": "cgt-1", "content": {"video_url": "https://cdn/v.mp4"}, "usage": {"completion_tokens": 5}})
        );
    }

    #[test]
    fn channel_faults_are_recognised_in_both_shapes() {
        let task = |code: &str| json!({"error": {"code": code, "message": "m", "type": "x"}}).to_string();
        let action = |code: &str| {
            json!({"ResponseMetadata": {"Action": "GetAsset", "Error": {"CodeN": 100009, "Code": code, "Message": "m"}}})
                .to_string()
        };
        assert_eq!(channel_fault(401, task("AuthenticationError").as_bytes()), Some(ChannelFault::Credentials));
        assert_eq!(channel_fault(403, task("AccountOverdueError").as_bytes()), Some(ChannelFault::Account));
        assert_eq!(channel_fault(403, task("AccessDenied").as_bytes()), Some(ChannelFault::Account));
        assert_eq!(channel_fault(404, task("ModelNotOpen").as_bytes()), Some(ChannelFault::Model));
        assert_eq!(channel_fault(404, task("InvalidEndpointOrModel.NotFound").as_bytes()), Some(ChannelFault::Model));
        assert_eq!(
            channel_fault(404, task("InvalidEndpointOrModel.ModelIDAccessDisabled").as_bytes()),
            Some(ChannelFault::Model)
        );
        assert_eq!(channel_fault(401, action("InvalidAccessKey").as_bytes()), Some(ChannelFault::Credentials));
        assert_eq!(channel_fault(401, action("SignatureDoesNotMatch").as_bytes()), Some(ChannelFault::Credentials));
        assert_eq!(channel_fault(401, b"<html>"), Some(ChannelFault::Credentials));
        assert_eq!(channel_fault(403, b""), Some(ChannelFault::Account));
        // The tenant's own mistakes stay the tenant's.
        for (status, body) in [
            (400, task("InvalidParameter")),
            (404, task("NotFound")),
            (409, task("InvalidAction.RunningTaskDeletion")),
            (429, task("RateLimitExceeded.EndpointRPMExceeded")),
            (404, action("NotFound.asset_id")),
            (400, action("MissingParameter")),
        ] {
            assert_eq!(channel_fault(status, body.as_bytes()), None, "{body}");
        }
    }

    #[test]
    fn a_success_answer_is_scanned_not_parsed_and_odd_shapes_still_read() {
        // A 200 Action answer can still carry the error in its metadata.
        let action = json!({"ResponseMetadata": {"Error": {"Code": "AccessDenied"}}}).to_string();
        assert_eq!(channel_fault(200, action.as_bytes()), Some(ChannelFault::Account));
        assert_eq!(channel_fault(200, br#"{"id":"cgt-1","status":"running","model":"m"}"#), None);
        assert_eq!(channel_fault(200, b"not json at all"), None);
        // Shapes the typed reading refuses fall back to the general one.
        let numeric = json!({"error": {"code": 7}, "ResponseMetadata": {"Error": {"Code": "InvalidAccessKey"}}});
        assert_eq!(channel_fault(400, numeric.to_string().as_bytes()), Some(ChannelFault::Credentials));
        assert_eq!(channel_fault(400, br#"{"error": "AccessDenied"}"#), None);
        // A failed task's own error is the task's, not the channel's.
        let failed =
            json!({"id": "cgt-1", "status": "failed", "error": {"code": "OutputVideoSensitiveContentDetected"}});
        assert_eq!(channel_fault(200, failed.to_string().as_bytes()), None);
    }

    #[test]
    fn long_and_non_ascii_keys_are_judged_like_short_ones() {
        let long = format!("{}ProjectName", "x".repeat(80));
        assert!(is_internal_key(&long));
        assert!(!is_internal_key(&"x".repeat(80)));
        assert!(is_internal_key("ACCESS\u{212A}EY"), "the Kelvin sign folds to k");
        assert!(is_internal_key("\u{017F}ecret"), "the long s folds to s");
        assert!(!is_internal_key("mod\u{00E9}l"), "a character that folds to nothing ASCII matches no pattern");
        assert!(!is_internal_key("modél"));
    }

    proptest::proptest! {
        /// The stack-buffer judgement agrees with the plain one on any key.
        #[test]
        fn the_folded_buffer_judges_like_a_folded_string(key in "\\PC{0,80}|[a-zA-Z_. \u{212A}\u{017F}-]{0,90}|(Project|ACCOUNT|access_key|Se\u{017F}ret|model|Model|ACCESS\u{212A}EY|é|user_id|[a-z]{1,3}|_|-|\\.| ){0,8}") {
            let norm: String =
                key.chars().filter(|c| !matches!(c, '_' | '-' | '.' | ' ')).map(|c| fold_char(c).unwrap_or(c)).collect();
            let plain = ["project", "account", "accesskey", "secret", "credential", "apikey", "password", "endpoint"]
                .iter()
                .any(|k| norm.contains(k))
                || ["model", "officialmodel", "upstreammodel", "sku", "trn", "ownerid", "userid", "createdby", "creator"]
                    .contains(&norm.as_str());
            proptest::prop_assert_eq!(is_internal_key(&key), plain);
        }
    }

    #[test]
    fn internal_key_rules() {
        for k in [
            "ProjectName",
            "projectName",
            "PROJECT_NAME",
            "ProjectId",
            "AccountId",
            "account_id",
            "TopAccountId",
            "AccessKey",
            "AccessKeyId",
            "access-key-secret",
            "SecretAccessKey",
            "SecretKey",
            "Credential",
            "ApiKey",
            "api_key",
            "EndpointId",
            "model",
            "Model",
            "Trn",
            "OwnerId",
            "Sku",
            "Access\u{212A}eyId",
            "\u{17F}ecretKey",
        ] {
            assert!(is_internal_key(k), "{k}");
        }
        for k in [
            "Id",
            "Name",
            "GroupId",
            "URL",
            "AssetType",
            "Status",
            "TotalCount",
            "Items",
            "PageSize",
            "NextToken",
            "Description",
            "ModelType2x",
        ] {
            assert!(!is_internal_key(k), "{k}");
        }
    }
}
