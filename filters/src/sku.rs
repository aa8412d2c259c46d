//! SKU selection and prices. Money stays in integers: prices in micro-USD per million
//! tokens, amounts in nano-USD, so a ledger summed over a year has no float drift. Floats appear
//! only at the Prometheus counter.

use crate::model::PublicModel;
use crate::tokens::TaskShape;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkuError {
    #[error("resolution {0:?} is not billable for {1}")]
    Resolution(String, &'static str),
    #[error("unknown SKU {0:?}")]
    UnknownSku(String),
    #[error("price {0:?} is not a non-negative decimal with at most 6 decimal places")]
    BadPrice(String),
}

/// A billing SKU: `dreamina-seedance-2-0-{480p|720p|1080p}-{novideo|video}` for the standard
/// family, `dreamina-seedance-2-0-fast-{novideo|video}` for fast. Filter-Off models bill under
/// their base model's SKU (the metric's `model` label keeps them apart).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sku(String);

impl Sku {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The page's eight SKUs.
    pub fn all() -> Vec<Sku> {
        let mut out = Vec::new();
        for res in ["480p", "720p", "1080p"] {
            for v in [false, true] {
                out.extend(sku_for(PublicModel::Standard, res, v));
            }
        }
        for v in [false, true] {
            out.extend(sku_for(PublicModel::Fast, "720p", v));
        }
        out
    }
}

/// The SKU of a finished task: family, the final resolution the upstream reported, and whether
/// the create request carried a video reference.
pub fn sku_for(model: PublicModel, resolution: &str, has_video: bool) -> Result<Sku, SkuError> {
    let video = if has_video { "video" } else { "novideo" };
    let base = model.price_base();
    if !base.resolutions().contains(&resolution) {
        return Err(SkuError::Resolution(resolution.to_string(), model.name()));
    }
    Ok(Sku(if base.is_fast() {
        format!("{}-{video}", base.name())
    } else {
        format!("{}-{resolution}-{video}", base.name())
    }))
}

/// USD per million tokens, as micro-USD integers, by SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable(BTreeMap<String, u64>);

impl PriceTable {
    /// The page's prices (section 3): 7.0 / 4.3 (480p, 720p), 7.7 / 4.7 (1080p), 5.6 / 3.3 (fast),
    /// novideo / video.
    pub fn page_default() -> PriceTable {
        let mut t = BTreeMap::new();
        let base = "dreamina-seedance-2-0";
        for (res, novideo, video) in
            [("480p", 7_000_000, 4_300_000), ("720p", 7_000_000, 4_300_000), ("1080p", 7_700_000, 4_700_000)]
        {
            t.insert(format!("{base}-{res}-novideo"), novideo);
            t.insert(format!("{base}-{res}-video"), video);
        }
        t.insert(format!("{base}-fast-novideo"), 5_600_000);
        t.insert(format!("{base}-fast-video"), 3_300_000);
        PriceTable(t)
    }

    /// Overrides one SKU's price from a decimal string such as `"4.3"` (config `prices:`).
    pub fn set(&mut self, sku: &str, usd_per_million: &str) -> Result<(), SkuError> {
        if !self.0.contains_key(sku) {
            return Err(SkuError::UnknownSku(sku.to_string()));
        }
        let micro = parse_micro(usd_per_million).ok_or_else(|| SkuError::BadPrice(usd_per_million.to_string()))?;
        self.0.insert(sku.to_string(), micro);
        Ok(())
    }

    pub fn price_micro_usd_per_m(&self, sku: &Sku) -> Option<u64> {
        self.0.get(sku.as_str()).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// `"4.3"` → 4_300_000 micro-USD; at most 6 decimals, no sign, no exponent.
pub fn parse_micro(s: &str) -> Option<u64> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || frac.len() > 6
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: u64 = int.parse().ok()?;
    let frac_micro: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().ok()? };
    int.checked_mul(1_000_000)?.checked_add(frac_micro)
}

/// tokens × (micro-USD per million tokens) = nano-USD × 1000; computed in u128, exact whenever
/// the price has at most 3 decimals beyond the cent (always, for the page's prices).
pub fn cost_usd_nanos(tokens: u64, micro_usd_per_million: u64) -> Option<u64> {
    let nanos = u128::from(tokens) * u128::from(micro_usd_per_million) / 1000;
    // Also within i64, so every store and tool that reads the amount back can hold it.
    u64::try_from(nanos).ok().filter(|n| *n <= i64::MAX as u64)
}

/// For the metric only.
pub fn nanos_to_usd(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// The most a create can cost (the prepaid reservation): the token formula's worst case
/// for the request's shape, at its SKU's price. A request that names no resolution may render at
/// any the model sells, so the dearest is taken. `None`: a SKU without a price (or a resolution
/// the model does not sell, which validation already refused).
pub fn worst_case_usd_nanos(model: PublicModel, shape: TaskShape<'_>, prices: &PriceTable) -> Option<u64> {
    let resolutions: &[&str] = match &shape.resolution {
        Some(r) => std::slice::from_ref(r),
        None => model.resolutions(),
    };
    let mut worst = None;
    for r in resolutions {
        let price = prices.price_micro_usd_per_m(&sku_for(model, r, shape.has_video).ok()?)?;
        let tokens = TaskShape { resolution: Some(r), ..shape }.worst_case_tokens();
        worst = worst.max(Some(cost_usd_nanos(tokens, price)?));
    }
    worst
}

/// Nano-USD as a decimal USD string with all nine decimals (`-1_500_000_000` → `"-1.500000000"`).
pub fn format_usd_nanos(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    format!("{sign}{}.{:09}", n / 1_000_000_000, n % 1_000_000_000)
}

/// `"12.5"` USD → 12_500_000_000 nano-USD, exactly: at most 9 decimals (a nano-dollar is the
/// ledger's unit; more would have to be rounded, so it is refused), no sign, no exponent, and
/// within i64 so the store can hold it.
pub fn parse_usd_nanos(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return Err(format!("{s:?}: digits must follow the decimal point")),
        None => (s, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a decimal amount of USD such as 25 or 12.50"));
    }
    if frac.len() > 9 {
        return Err(format!("{s:?} has more than 9 decimals: amounts are exact to the nano-dollar"));
    }
    let too_large = || format!("{s:?} is too large");
    let int: u64 = int.parse().map_err(|_| too_large())?;
    let frac: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| too_large())? };
    int.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac))
        .filter(|n| *n <= i64::MAX as u64)
        .ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_amounts_are_exact_nanos_or_refused() {
        assert_eq!(parse_usd_nanos("25"), Ok(25_000_000_000));
        assert_eq!(parse_usd_nanos("12.5"), Ok(12_500_000_000));
        assert_eq!(parse_usd_nanos("0.000000001"), Ok(1));
        assert_eq!(format_usd_nanos(-1_500_000_000), "-1.500000000");
        assert_eq!(format_usd_nanos(i64::MIN), "-9223372036.854775808");
        assert_eq!(parse_usd_nanos("9223372036.854775807"), Ok(i64::MAX as u64));
        for bad in ["", "-1", "1.", ".5", "1e3", "0.0000000001", "9223372036.854775808", "1,5", "+2"] {
            assert!(parse_usd_nanos(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn worst_case_price_is_the_formula_at_the_sku_rate() {
        let prices = PriceTable::page_default();
        let shape = TaskShape { resolution: Some("720p"), ratio: Some("16:9"), duration: Some(5), has_video: false };
        // floor(1280*720*(24*5+1)/1024) = 108_900 tokens at 7.0 USD/M = 0.7623 USD.
        assert_eq!(worst_case_usd_nanos(PublicModel::Standard, shape, &prices), Some(762_300_000));
        // No resolution: the dearest the model sells (1080p, largest frame 2206x946, 15 s).
        let open = TaskShape::default();
        let tokens = 2206 * 946 * (24 * 15 + 1) / 1024;
        assert_eq!(worst_case_usd_nanos(PublicModel::Standard, open, &prices), Some(tokens * 7_700_000 / 1000));
        // Fast stops at 720p; a video reference adds 15 s of input at the video rate.
        let video = TaskShape { has_video: true, ..open };
        let tokens = 1112 * 834 * (24 * 30 + 1) / 1024;
        assert_eq!(worst_case_usd_nanos(PublicModel::Fast, video, &prices), Some(tokens * 3_300_000 / 1000));
    }

    #[test]
    fn eight_skus_and_filter_off() {
        let names: Vec<String> = Sku::all().into_iter().map(|s| s.0).collect();
        assert_eq!(names.len(), 8);
        assert!(names.contains(&"dreamina-seedance-2-0-1080p-video".to_string()));
        assert!(names.contains(&"dreamina-seedance-2-0-fast-novideo".to_string()));
        assert_eq!(
            sku_for(PublicModel::StandardFilterOff, "720p", false).unwrap().as_str(),
            "dreamina-seedance-2-0-720p-novideo"
        );
        assert_eq!(
            sku_for(PublicModel::FastFilterOff, "480p", true).unwrap().as_str(),
            "dreamina-seedance-2-0-fast-video"
        );
        assert!(sku_for(PublicModel::Fast, "1080p", false).is_err());
        assert!(sku_for(PublicModel::Standard, "", false).is_err());
    }

    #[test]
    fn prices_to_the_nano_dollar() {
        let t = PriceTable::page_default();
        let p = |s: &str| t.price_micro_usd_per_m(&Sku(s.into())).unwrap();
        assert_eq!(p("dreamina-seedance-2-0-480p-novideo"), 7_000_000);
        assert_eq!(p("dreamina-seedance-2-0-1080p-video"), 4_700_000);
        assert_eq!(p("dreamina-seedance-2-0-fast-video"), 3_300_000);
        // 40594 tokens at 3.3 USD/M = 0.1339602 USD.
        assert_eq!(cost_usd_nanos(40_594, 3_300_000), Some(133_960_200));
        assert_eq!(cost_usd_nanos(1, 7_700_000), Some(7_700));
        assert_eq!(cost_usd_nanos(u64::MAX, u64::MAX), None, "an amount that does not fit is refused");
        assert_eq!(cost_usd_nanos(10u64.pow(16), 5_600_000), None, "beyond i64 nano-USD");
    }

    #[test]
    fn overrides() {
        let mut t = PriceTable::page_default();
        t.set("dreamina-seedance-2-0-fast-video", "3.25").unwrap();
        assert_eq!(t.price_micro_usd_per_m(&Sku("dreamina-seedance-2-0-fast-video".into())), Some(3_250_000));
        assert!(t.set("nope", "1").is_err());
        for bad in ["-1", "1e3", "", "1.1234567", "abc", ".5"] {
            assert!(t.set("dreamina-seedance-2-0-fast-video", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_micro("0.000001"), Some(1));
        assert_eq!(parse_micro("12"), Some(12_000_000));
    }
}
