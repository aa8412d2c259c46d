//! The Grafana dashboard and the Prometheus alert rules in `deploy/` parse, and every metric
//! they query is one the edge exports — so a renamed metric cannot silently blank a panel.

use std::collections::BTreeSet;

fn exported() -> BTreeSet<String> {
    let m = seedance_edge::metrics::Metrics::new(true).expect("metrics");
    m.exported_names().into_iter().collect()
}

/// `seedance_*` names in a PromQL expression, histogram suffixes folded to the family name.
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("seedance_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &expr[start..end];
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        out.push(family.to_string());
        i = end;
    }
    out
}

#[test]
fn dashboard_queries_only_exported_metrics() {
    let text = std::fs::read_to_string("deploy/grafana/seedance-edge.json").expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let exported = exported();
    let mut seen = 0;
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for name in names_in(expr) {
                assert!(exported.contains(&name), "panel {:?} queries unknown metric {name}", panel["title"]);
                seen += 1;
            }
        }
    }
    assert!(seen >= 10, "the dashboard should chart the edge's metrics ({seen} references)");
    for must in ["seedance_billable_tokens_total", "seedance_billed_usd_total", "seedance_reconcile_lag_seconds"] {
        assert!(text.contains(must), "dashboard lacks {must}");
    }
}

#[test]
fn alert_rules_query_only_exported_metrics() {
    let text = std::fs::read_to_string("deploy/prometheus/alerts.yml").expect("rules");
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("rules are YAML");
    let exported = exported();
    let mut alerts = Vec::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("alert name").to_string();
            let expr = rule["expr"].as_str().expect("expr");
            let names = names_in(expr);
            assert!(!names.is_empty(), "{name} queries no seedance metric");
            for n in names {
                assert!(exported.contains(&n), "alert {name} queries unknown metric {n}");
            }
            alerts.push(name);
        }
    }
    for must in ["SeedanceUpstreamErrorRate", "SeedanceStoreErrors", "SeedanceSettlementLag", "SeedanceJournalGrowing"]
    {
        assert!(alerts.iter().any(|a| a == must), "missing alert {must}");
    }
}

#[test]
fn the_name_scanner_sees_histogram_families() {
    assert_eq!(
        names_in("rate(seedance_request_duration_seconds_bucket[5m])"),
        vec!["seedance_request_duration_seconds"]
    );
    assert!(names_in("up").is_empty());
}

/// The production binary (`--no-default-features`, as the Containerfile builds it) links no
/// simulator: fake-ark is only the demo's and the tests'.
#[test]
fn the_lean_build_links_no_simulator() {
    let tree = |features: &[&str]| {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["tree", "-e", "normal", "-p", "seedance-edge", "--prefix", "none"])
            .args(features)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let lean = tree(&["--no-default-features"]);
    assert!(lean.contains("pingora-proxy"), "the tree was read: {lean}");
    assert!(!lean.contains("fake-ark"), "fake-ark in the production build:\n{lean}");
    assert!(tree(&[]).contains("fake-ark"), "the default build keeps the demo");
}
