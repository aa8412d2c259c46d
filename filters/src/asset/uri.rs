//! `asset://` URIs in task content: customers may write the scheme in any case (`Asset://`);
//! the upstream only knows `asset://`.

/// The asset id of an `asset://<id>` URI, whatever the scheme's case; `None` for other URLs.
pub fn asset_id(url: &str) -> Option<&str> {
    const SCHEME: &str = "asset://";
    let head = url.get(..SCHEME.len())?;
    head.eq_ignore_ascii_case(SCHEME).then(|| &url[SCHEME.len()..])
}

/// The canonical form the upstream expects.
pub fn canonical(id: &str) -> String {
    format!("asset://{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_case_of_the_scheme() {
        assert_eq!(asset_id("asset://asset-1"), Some("asset-1"));
        assert_eq!(asset_id("Asset://asset-1"), Some("asset-1"));
        assert_eq!(asset_id("ASSET://asset-1"), Some("asset-1"));
        assert_eq!(asset_id("https://x/asset-1"), None);
        assert_eq!(asset_id("asset:/x"), None);
        assert_eq!(asset_id("as"), None);
        assert_eq!(asset_id("ässet://x"), None);
        assert_eq!(canonical("asset-1"), "asset://asset-1");
    }
}
