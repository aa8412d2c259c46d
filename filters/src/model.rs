//! The model table: the four public names, the two accepted official aliases, and
//! what each family allows. Everything else — console short ids, invented Filter-Off names — is
//! refused, because silently accepting them would bill or route a customer to the wrong model.

use crate::error::{ApiError, ErrorCode};
use serde_json::Value;

/// A public model, as customers name it and as the store, responses, billing and metrics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PublicModel {
    Standard,
    Fast,
    StandardFilterOff,
    FastFilterOff,
}

/// Official version ids the platform accepts as aliases, normalized to their public name.
const ALIASES: [(&str, PublicModel); 2] =
    [("dreamina-seedance-2-0-260128", PublicModel::Standard), ("dreamina-seedance-2-0-fast-260128", PublicModel::Fast)];

impl PublicModel {
    pub const ALL: [PublicModel; 4] =
        [PublicModel::Standard, PublicModel::Fast, PublicModel::StandardFilterOff, PublicModel::FastFilterOff];

    pub fn name(self) -> &'static str {
        match self {
            PublicModel::Standard => "dreamina-seedance-2-0",
            PublicModel::Fast => "dreamina-seedance-2-0-fast",
            PublicModel::StandardFilterOff => "dreamina-seedance-2-0-filter-off",
            PublicModel::FastFilterOff => "dreamina-seedance-2-0-fast-filter-off",
        }
    }

    /// A public name or an accepted alias; nothing else.
    pub fn parse(s: &str) -> Option<PublicModel> {
        PublicModel::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .or_else(|| ALIASES.iter().find(|(a, _)| *a == s).map(|(_, m)| *m))
    }

    pub fn is_fast(self) -> bool {
        matches!(self, PublicModel::Fast | PublicModel::FastFilterOff)
    }

    pub fn is_filter_off(self) -> bool {
        matches!(self, PublicModel::StandardFilterOff | PublicModel::FastFilterOff)
    }

    /// The ordinary model whose prices a Filter-Off model reuses (itself for ordinary models).
    pub fn price_base(self) -> PublicModel {
        if self.is_fast() {
            PublicModel::Fast
        } else {
            PublicModel::Standard
        }
    }

    /// Resolutions this family can render; fast models stop at 720p.
    pub fn resolutions(self) -> &'static [&'static str] {
        if self.is_fast() {
            &["480p", "720p"]
        } else {
            &["480p", "720p", "1080p"]
        }
    }
}

impl std::fmt::Display for PublicModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn allowed_list() -> String {
    let mut names: Vec<&str> = PublicModel::ALL.iter().map(|m| m.name()).collect();
    names.extend(ALIASES.iter().map(|(a, _)| *a));
    names.join(", ")
}

/// Reads `model` from a request body value (400 `invalid_request`, param `model`, otherwise).
pub fn parse_model(value: Option<&Value>) -> Result<PublicModel, ApiError> {
    let s = match value {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("model", format!("model is required; one of: {}", allowed_list())))
        }
        Some(Value::String(s)) => s,
        Some(_) => return Err(ApiError::invalid("model", "model must be a string")),
    };
    PublicModel::parse(s).ok_or_else(|| {
        ApiError::invalid("model", format!("model {s:?} is not offered; use one of: {}", allowed_list()))
    })
}

/// True when `id` names an ordinary (not Filter-Off) Seedance 2.0 model: a public name, an alias,
/// or any dated official id of the ordinary families (`dreamina-seedance-2-0[-fast]-YYMMDD`).
pub fn is_ordinary_model_id(id: &str) -> bool {
    if let Some(m) = PublicModel::parse(id) {
        return !m.is_filter_off();
    }
    let rest = id.strip_prefix("dreamina-seedance-2-0-fast-").or_else(|| id.strip_prefix("dreamina-seedance-2-0-"));
    matches!(rest, Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Names the page lists as *not* official; a channel may never map a Filter-Off model to them.
pub fn is_invented_filter_off_id(id: &str) -> bool {
    matches!(
        id,
        "dreamina-seedance-2-0-filter-off-260128"
            | "dreamina-seedance-2-0-260128-filter-off"
            | "dreamina-seedance-2-0-fast-filter-off-260128"
            | "dreamina-seedance-2-0-fast-260128-filter-off"
    )
}

/// Checks a channel's mapping for `model`: Filter-Off needs an exact official id that is not an
/// ordinary model (silent downgrade) and not an invented name → else 503 `model_mapping_required`.
/// Ordinary models without a mapping are simply not served by that channel (`None`).
pub fn check_mapping(model: PublicModel, official: Option<&str>) -> Result<Option<String>, ApiError> {
    match official {
        None if model.is_filter_off() => Err(ApiError::with_param(
            ErrorCode::ModelMappingRequired,
            "model",
            format!("{model} needs an exact official Filter-Off mapping on this channel; none is configured"),
        )),
        None => Ok(None),
        Some(id) if model.is_filter_off() && (is_ordinary_model_id(id) || is_invented_filter_off_id(id) || id.trim().is_empty()) => {
            Err(ApiError::with_param(
                ErrorCode::ModelMappingRequired,
                "model",
                format!("{model} is mapped to a model that is not an official Filter-Off model; the platform refuses to downgrade silently"),
            ))
        }
        Some(id) => Ok(Some(id.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn public_names_and_aliases_parse() {
        for m in PublicModel::ALL {
            assert_eq!(PublicModel::parse(m.name()), Some(m));
        }
        assert_eq!(PublicModel::parse("dreamina-seedance-2-0-260128"), Some(PublicModel::Standard));
        assert_eq!(PublicModel::parse("dreamina-seedance-2-0-fast-260128"), Some(PublicModel::Fast));
    }

    #[test]
    fn short_ids_and_invented_names_are_refused() {
        for bad in [
            "seedance-2-0",
            "seedance-2-0-260128",
            "seedance-2-0-fast",
            "seedance-2-0-fast-260128",
            "dreamina-seedance-2-0-filter-off-260128",
            "dreamina-seedance-2-0-260128-filter-off",
            "dreamina-seedance-2-0-fast-filter-off-260128",
            "dreamina-seedance-2-0-fast-260128-filter-off",
            "Dreamina-Seedance-2-0",
            "",
        ] {
            let e = parse_model(Some(&json!(bad))).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert_eq!(e.param.as_deref(), Some("model"));
        }
        assert!(parse_model(None).is_err());
        assert!(parse_model(Some(&json!(5))).is_err());
    }

    #[test]
    fn filter_off_mapping_must_be_exact() {
        let f = PublicModel::StandardFilterOff;
        assert_eq!(check_mapping(f, None).unwrap_err().code, ErrorCode::ModelMappingRequired);
        assert!(check_mapping(f, Some("dreamina-seedance-2-0-260128")).is_err());
        assert!(check_mapping(f, Some("dreamina-seedance-2-0-fast-251215")).is_err());
        assert!(check_mapping(f, Some("dreamina-seedance-2-0-filter-off-260128")).is_err());
        assert!(check_mapping(PublicModel::FastFilterOff, Some("dreamina-seedance-2-0")).is_err());
        assert_eq!(
            check_mapping(f, Some("dreamina-seedance-2-0-fo-260301")).unwrap().as_deref(),
            Some("dreamina-seedance-2-0-fo-260301")
        );
        assert_eq!(check_mapping(PublicModel::Fast, None).unwrap(), None);
    }

    #[test]
    fn fast_stops_at_720p() {
        assert!(!PublicModel::Fast.resolutions().contains(&"1080p"));
        assert!(!PublicModel::FastFilterOff.resolutions().contains(&"1080p"));
        assert!(PublicModel::StandardFilterOff.resolutions().contains(&"1080p"));
        assert_eq!(PublicModel::FastFilterOff.price_base(), PublicModel::Fast);
    }
}
