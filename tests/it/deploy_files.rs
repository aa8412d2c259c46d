//! The files in `deploy/` are what a reviewer would approve, checked rather than trusted:
//! - alert rules and the dashboard query only metrics a running edge exports (scraped from a
//!   real process after a settled task), plus `up`; every alert links a runbook that exists in
//!   the README; every dashboard query is filtered by the `job` and `instance` variables;
//! - the Kubernetes manifests parse, and the pod is locked down, probed, drained and wired to
//!   its config, secrets and journal volume consistently (the config is loaded by the edge's own
//!   parser);
//! - the systemd unit carries its hardening and passes `systemd-analyze verify`;
//! - the container is a lean, multi-stage build that runs as a numeric non-root user.

use crate::support;

use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use support::harness::{minimal_task, token, CHANNEL_KEY, TASKS};
use support::node::{families, Node, NodeConf};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// --- PromQL ---------------------------------------------------------------------------------

/// A metric selector in a PromQL expression: its name and the text of its `{…}` matchers.
#[derive(Debug, PartialEq)]
struct Selector {
    name: String,
    matchers: String,
}

/// Keywords that are not metric names; the first six take a parenthesised label list.
const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
const KEYWORDS: [&str; 7] = ["and", "or", "unless", "bool", "offset", "inf", "nan"];

/// Index just past the construct opened at `i` (a quote, `{`, `(` or `[`), strings respected.
fn skip(b: &[u8], i: usize) -> usize {
    let open = b[i];
    if matches!(open, b'"' | b'\'' | b'`') {
        let mut j = i + 1;
        while j < b.len() && b[j] != open {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        return (j + 1).min(b.len());
    }
    let close = match open {
        b'{' => b'}',
        b'(' => b')',
        _ => b']',
    };
    let mut j = i + 1;
    while j < b.len() && b[j] != close {
        j = if matches!(b[j], b'"' | b'\'' | b'`' | b'{' | b'(' | b'[') { skip(b, j) } else { j + 1 };
    }
    (j + 1).min(b.len())
}

/// Every metric selector of a PromQL expression. Functions, aggregations, keywords, label lists,
/// strings, numbers and range durations are skipped.
fn selectors(expr: &str) -> Vec<Selector> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if matches!(c, b'"' | b'\'' | b'`' | b'[' | b'{') {
            i = skip(b, i);
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            let mut next = i;
            while next < b.len() && b[next].is_ascii_whitespace() {
                next += 1;
            }
            let follows = b.get(next).copied();
            // `sum by (…) (…)`: an aggregation whose modifier comes before its argument.
            let rest = &expr[next..];
            let aggregation = ["by", "without"].iter().any(|m| {
                rest.strip_prefix(m).is_some_and(|r| r.starts_with(|c: char| c == '(' || c.is_ascii_whitespace()))
            });
            if aggregation {
                continue;
            }
            if LABEL_LISTS.contains(&word) {
                if follows == Some(b'(') {
                    i = skip(b, next);
                }
            } else if !KEYWORDS.contains(&word) && follows != Some(b'(') {
                let mut matchers = String::new();
                if follows == Some(b'{') {
                    let end = skip(b, next);
                    matchers = expr[next + 1..end - 1].to_string();
                    i = end;
                }
                out.push(Selector { name: word.to_string(), matchers });
            }
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn the_promql_scanner_finds_selectors_and_nothing_else() {
    let names = |e: &str| selectors(e).into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        selectors(r#"sum by (route, status) (rate(seedance_requests_total{job=~"$job"}[$__rate_interval]))"#),
        vec![Selector { name: "seedance_requests_total".into(), matchers: r#"job=~"$job""#.into() }]
    );
    assert_eq!(names("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 5"), ["x_bucket"]);
    assert_eq!(names(r#"absent(up{job="a"})"#), ["up"]);
    assert_eq!(names("a / on (job) group_left(version) b and c offset 5m"), ["a", "b", "c"]);
    assert_eq!(names("max(foo) > 0 and max(delta(bar[15m])) >= 0"), ["foo", "bar"]);
    assert_eq!(names("x / clamp_min(sum without (le) (y), 1e-9)"), ["x", "y"]);
    let tricky = selectors(r#"rate(x{l="a}{b",m!~'c'}[1m])"#);
    assert_eq!(tricky, vec![Selector { name: "x".into(), matchers: r#"l="a}{b",m!~'c'"#.into() }]);
}

/// The metric families a real edge exports once it has served and settled a task, plus `up`.
async fn exported_by_a_running_edge() -> BTreeSet<String> {
    let cfg = fake_ark::FakeArkConfig { api_keys: vec![CHANNEL_KEY.into()], ..fake_ark::FakeArkConfig::held() };
    let fake = fake_ark::FakeArk::start(cfg).await.expect("fake-ark");
    let dir = tempfile::tempdir().unwrap();
    let upstream = fake.base_url();
    let node = Node::start(dir.path(), "scraped", NodeConf { upstream: &upstream, ..NodeConf::default() }).await;
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{}{TASKS}", node.base))
        .bearer_auth(token("acme"))
        .json(&minimal_task("dreamina-seedance-2-0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap_or_else(|| panic!("created: {created}"));
    fake.finish(id, "succeeded", Some(40_594), Some("480p"));
    let got: serde_json::Value = client
        .get(format!("{}{TASKS}/{id}", node.base))
        .bearer_auth(token("acme"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "succeeded", "{got}");
    let page = node.scrape(None).await;
    assert!(page.contains("seedance_billable_tokens_total{"), "the task was settled: {page}");
    let mut names: BTreeSet<String> = families(&page).into_iter().collect();
    names.insert("up".into());
    names
}

fn is_exported(exported: &BTreeSet<String>, name: &str) -> bool {
    exported.contains(name)
        || ["_bucket", "_sum", "_count"].iter().any(|s| name.strip_suffix(s).is_some_and(|f| exported.contains(f)))
}

fn alert_rules() -> Vec<Value> {
    let rules: Value = serde_yaml_ng::from_str(&read("deploy/prometheus/alerts.yml")).expect("rules are YAML");
    let groups = rules["groups"].as_sequence().expect("groups");
    groups.iter().flat_map(|g| g["rules"].as_sequence().expect("rules").clone()).collect()
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read("deploy/grafana/seedance-edge.json")).expect("dashboard is JSON")
}

fn dashboard_exprs(dash: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr").to_string();
            out.push((panel["title"].as_str().unwrap_or("?").to_string(), expr));
        }
    }
    out
}

#[tokio::test]
async fn alerts_and_dashboard_query_only_what_a_running_edge_exports() {
    let exported = exported_by_a_running_edge().await;
    for must in [
        "seedance_build_info",
        "seedance_requests_in_flight",
        "seedance_store_duration_seconds",
        "seedance_channel_refusals_total",
        "seedance_billed_usd_total",
        "process_resident_memory_bytes",
    ] {
        assert!(exported.contains(must), "the edge does not export {must}: {exported:?}");
    }

    let mut alerts = Vec::new();
    for rule in alert_rules() {
        let name = rule["alert"].as_str().expect("alert name").to_string();
        let found = selectors(rule["expr"].as_str().expect("expr"));
        assert!(!found.is_empty(), "{name} queries no metric");
        for s in found {
            assert!(is_exported(&exported, &s.name), "alert {name} queries {}, which the edge does not export", s.name);
            assert!(
                s.matchers.contains(r#"job="seedance-edge""#),
                "alert {name}: {} is not limited to the job",
                s.name
            );
        }
        alerts.push(name);
    }
    for must in [
        "SeedanceTargetDown",
        "SeedanceHigh5xxRatio",
        "SeedanceLatencyP99",
        "SeedanceChannelRefused",
        "SeedanceStoreErrors",
        "SeedanceUpstreamErrorRate",
        "SeedanceSettlementLag",
        "SeedanceJournalGrowing",
    ] {
        assert!(alerts.iter().any(|a| a == must), "missing alert {must}");
    }

    let dash = dashboard();
    let mut seen = BTreeSet::new();
    for (title, expr) in dashboard_exprs(&dash) {
        for s in selectors(&expr) {
            assert!(is_exported(&exported, &s.name), "panel {title:?} queries {}, not exported", s.name);
            seen.insert(s.name);
        }
    }
    for var in dash["templating"]["list"].as_array().expect("variables") {
        if let Some(q) = var["definition"].as_str() {
            let inner = q.strip_prefix("label_values(").and_then(|r| r.rsplit_once(',')).map(|(sel, _)| sel);
            for s in selectors(inner.unwrap_or(q)) {
                assert!(is_exported(&exported, &s.name), "variable {} queries {}", var["name"], s.name);
            }
        }
    }
    let charted: BTreeSet<&str> = seen.iter().map(|n| n.trim_end_matches("_bucket")).collect();
    for must in [
        "seedance_requests_total",
        "seedance_requests_in_flight",
        "seedance_store_duration_seconds",
        "seedance_channel_refusals_total",
        "seedance_billable_tokens_total",
        "seedance_reconcile_lag_seconds",
        "seedance_build_info",
        "process_resident_memory_bytes",
        "up",
    ] {
        assert!(charted.contains(must), "the dashboard does not chart {must}");
    }
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_explains_itself_and_links_a_runbook_in_the_readme() {
    let readme = read("README.md");
    let anchors: BTreeSet<String> =
        readme.lines().filter_map(|l| l.strip_prefix('#')).map(|h| anchor(h.trim_start_matches('#'))).collect();
    let rules = alert_rules();
    assert!(rules.len() >= 8);
    for rule in rules {
        let name = rule["alert"].as_str().expect("alert");
        let a = &rule["annotations"];
        for key in ["summary", "description", "runbook_url"] {
            let v = a[key].as_str().unwrap_or_default();
            assert!(v.len() > 10, "{name} lacks a {key}");
        }
        assert!(rule["labels"]["severity"].as_str().is_some(), "{name} has no severity");
        let url = a["runbook_url"].as_str().unwrap_or_default();
        let (page, frag) = url.rsplit_once('#').unwrap_or_else(|| panic!("{name}: {url} has no anchor"));
        assert!(page.starts_with("https://") && page.ends_with("/README.md"), "{name}: {url}");
        assert!(anchors.contains(frag), "{name}: the README has no heading for #{frag}");
    }
}

#[test]
fn every_dashboard_query_follows_the_job_and_instance_variables() {
    let dash = dashboard();
    let vars: Vec<&str> =
        dash["templating"]["list"].as_array().expect("variables").iter().filter_map(|v| v["name"].as_str()).collect();
    for v in ["datasource", "job", "instance"] {
        assert!(vars.contains(&v), "no ${v} variable: {vars:?}");
    }
    let exprs = dashboard_exprs(&dash);
    assert!(exprs.len() >= 15, "the dashboard charts the edge ({} queries)", exprs.len());
    for (title, expr) in exprs {
        let found = selectors(&expr);
        assert!(!found.is_empty(), "panel {title:?} queries nothing");
        for s in found {
            for m in [r#"job=~"$job""#, r#"instance=~"$instance""#] {
                assert!(s.matchers.contains(m), "panel {title:?}: {} lacks {m}", s.name);
            }
        }
    }
}

/// promtool's own check of the rules, where it is installed (Debian: the prometheus package).
#[test]
fn promtool_accepts_the_rules_when_installed() {
    let Ok(out) = Command::new("promtool").args(["check", "rules", "deploy/prometheus/alerts.yml"]).output() else {
        eprintln!("skipped: promtool is not installed");
        return;
    };
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

// --- Kubernetes -----------------------------------------------------------------------------

/// Every YAML document under deploy/k8s, with the file it came from.
fn k8s_docs() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("deploy/k8s").expect("deploy/k8s").flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(path).expect("readable");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out
}

fn one<'a>(docs: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().map(|(_, d)| d).filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}");
    found[0]
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let sel = selector.as_mapping().expect("selector is a mapping");
    !sel.is_empty() && sel.iter().all(|(k, v)| &labels[k.as_str().unwrap()] == v)
}

fn port_of(addr: &str) -> u64 {
    addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or_else(|| panic!("{addr} has no port"))
}

/// `${NAME}` references in a text.
fn env_refs(text: &str) -> BTreeSet<String> {
    text.split("${").skip(1).filter_map(|r| r.split_once('}')).map(|(n, _)| n.to_string()).collect()
}

#[test]
fn the_kubernetes_manifests_are_locked_down_and_consistent() {
    let docs = k8s_docs();
    for (file, d) in &docs {
        for key in ["apiVersion", "kind"] {
            assert!(d[key].as_str().is_some(), "{file}: a document without {key}");
        }
        if d["kind"] != "Kustomization" {
            assert!(d["metadata"]["name"].as_str().is_some(), "{file}: {} without a name", d["kind"].as_str().unwrap());
        }
    }
    let files: BTreeSet<String> = docs.iter().map(|(f, _)| f.clone()).collect();
    let kustomized: BTreeSet<String> = one(&docs, "Kustomization")["resources"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = files
        .iter()
        .filter(|f| !["kustomization.yaml", "servicemonitor.yaml"].contains(&f.as_str()))
        .cloned()
        .collect();
    assert_eq!(kustomized, expected, "the kustomization lists every core manifest");

    let sts = one(&docs, "StatefulSet");
    let template = &sts["spec"]["template"];
    let pod = &template["spec"];
    let labels = &template["metadata"]["labels"];
    assert!(labels_match(&sts["spec"]["selector"]["matchLabels"], labels));
    assert!(sts["spec"]["replicas"].as_u64().unwrap() >= 2, "one replica cannot survive a disruption");
    let containers = pod["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];

    // Locked down.
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    let uid = psc["runAsUser"].as_u64().expect("a numeric runAsUser");
    assert!(uid > 0);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["automountServiceAccountToken"], false);
    let csc = &c["securityContext"];
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["runAsNonRoot"], true);
    assert!(csc["capabilities"]["drop"].as_sequence().unwrap().iter().any(|d| d == "ALL"));
    assert!(csc["privileged"] != true);
    let image = str_of(&c["image"], "image");
    assert!(image.rsplit_once(':').is_some_and(|(_, tag)| tag != "latest" && !tag.contains('/')), "{image}");

    // Resources.
    for key in ["cpu", "memory"] {
        assert!(c["resources"]["requests"][key].as_str().is_some(), "no {key} request");
    }
    assert!(c["resources"]["limits"]["memory"].as_str().is_some(), "no memory limit");

    // The config, loaded by the edge's own parser.
    let cm = one(&docs, "ConfigMap");
    let conf_text = str_of(&cm["data"]["config.yaml"], "config.yaml");
    let conf = seedance_edge::config::Config::from_yaml(conf_text, &|name| {
        Some(if name == "REDIS_URL" { "redis://redis:6379/0".into() } else { format!("test-{name}") })
    })
    .expect("the shipped config is valid");
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let volume = |name: &str| volumes.iter().find(|v| v["name"] == name);
    let mounts = c["volumeMounts"].as_sequence().expect("mounts");
    let mount_of = |path: &str| {
        mounts
            .iter()
            .filter(|m| Path::new(path).starts_with(str_of(&m["mountPath"], "mountPath")))
            .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
            .unwrap_or_else(|| panic!("nothing is mounted at {path}"))
    };
    let args: Vec<&str> = c["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let conf_path = args.iter().skip_while(|a| **a != "--conf").nth(1).expect("--conf");
    let conf_volume = volume(str_of(&mount_of(conf_path)["name"], "name")).expect("config volume");
    assert_eq!(conf_volume["configMap"]["name"], cm["metadata"]["name"]);
    assert!(conf_path.ends_with("/config.yaml"));

    // Ports, probes and the admin listener on the pod IP.
    let ports: BTreeMap<String, u64> = c["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["containerPort"].as_u64().unwrap()))
        .collect();
    let admin = conf.admin.as_ref().expect("an admin listener");
    assert!(admin.addr.starts_with("0.0.0.0:") || admin.addr.starts_with("[::]:"), "probes need {}", admin.addr);
    assert_eq!(ports.get("admin"), Some(&port_of(&admin.addr)));
    for l in &conf.listen {
        assert!(ports.values().any(|p| *p == port_of(&l.addr)), "listener {} has no container port", l.addr);
    }
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "admin", "{probe}");
    }

    // The drain: preStop pause + the edge's grace period + Pingora's 5 s fit in the pod's grace.
    let pre_stop = &c["lifecycle"]["preStop"];
    let pause = pre_stop["sleep"]["seconds"].as_u64().unwrap_or_else(|| {
        let cmd = pre_stop["exec"]["command"].as_sequence().expect("a preStop sleep");
        assert!(cmd[0].as_str().unwrap().ends_with("sleep"));
        cmd.last().unwrap().as_str().unwrap().parse().unwrap()
    });
    let grace = conf.grace_period_seconds;
    let budget = conf.limits.body_read_timeout + conf.upstream.connect_timeout + conf.upstream.read_timeout;
    assert!(grace >= budget.as_secs(), "server.grace_period_seconds {grace} < the longest request {budget:?}");
    let termination = pod["terminationGracePeriodSeconds"].as_u64().expect("terminationGracePeriodSeconds");
    let drain = pause + conf.drain_delay_seconds + grace + 5;
    assert!(termination >= drain, "terminationGracePeriodSeconds {termination} < pause + drain delay + {grace} + 5");

    // Secrets: every ${VAR} of the config comes from a Secret, never from a literal.
    let env = c["env"].as_sequence().expect("env");
    for name in env_refs(conf_text) {
        let e = env.iter().find(|e| e["name"] == name.as_str()).unwrap_or_else(|| panic!("{name} is not set"));
        assert!(e["valueFrom"]["secretKeyRef"]["name"].as_str().is_some(), "{name} is not from a Secret");
        assert!(e.get("value").is_none(), "{name} is written inline");
    }
    let token_file = admin.bearer_token_file.as_ref().expect("the admin port wants a token");
    let token_volume = volume(str_of(&mount_of(token_file.to_str().unwrap())["name"], "name")).expect("token volume");
    let token_secret = str_of(&token_volume["secret"]["secretName"], "admin token secret");
    let token_key = token_file.file_name().unwrap().to_str().unwrap();

    // The journal on the pod's own claim.
    let journal = conf.store.journal.as_ref().expect("store.journal");
    let journal_volume = str_of(&mount_of(journal.to_str().unwrap())["name"], "name");
    let claims = sts["spec"]["volumeClaimTemplates"].as_sequence().expect("volumeClaimTemplates");
    assert!(claims.iter().any(|t| t["metadata"]["name"] == journal_volume), "the journal is not on a claim");
    assert!(volume(journal_volume).is_none(), "the journal volume is shadowed by a pod volume");
    let tmp_free = mounts.iter().any(|m| m["mountPath"] == "/tmp");
    assert!(tmp_free, "a read-only root needs a writable /tmp");

    // Services, the disruption budget and the scrape.
    let services: Vec<&Value> = docs.iter().map(|(_, d)| d).filter(|d| d["kind"] == "Service").collect();
    assert!(services.len() >= 2);
    for s in &services {
        assert!(labels_match(&s["spec"]["selector"], labels), "{:?} selects no edge pod", s["metadata"]["name"]);
        for p in s["spec"]["ports"].as_sequence().unwrap() {
            let target = str_of(&p["targetPort"], "targetPort");
            assert!(ports.contains_key(target), "{target} is not a container port");
        }
    }
    let headless = services.iter().find(|s| s["metadata"]["name"] == sts["spec"]["serviceName"]).expect("serviceName");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    let pdb = one(&docs, "PodDisruptionBudget");
    assert!(labels_match(&pdb["spec"]["selector"]["matchLabels"], labels));
    assert!(pdb["spec"]["maxUnavailable"].as_u64().is_some() || pdb["spec"]["minAvailable"].as_u64().is_some());

    let sm = one(&docs, "ServiceMonitor");
    let scraped =
        services.iter().find(|s| labels_match(&sm["spec"]["selector"]["matchLabels"], &s["metadata"]["labels"]));
    let scraped = scraped.expect("the ServiceMonitor selects a Service");
    let endpoint = &sm["spec"]["endpoints"][0];
    let port = str_of(&endpoint["port"], "port");
    assert!(scraped["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|p| p["name"] == port && p["targetPort"] == "admin"));
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(endpoint["authorization"]["credentials"]["name"], token_secret, "Prometheus sends the pods' token");
    assert_eq!(endpoint["authorization"]["credentials"]["key"], token_key);
    let relabels = endpoint["relabelings"].as_sequence().expect("relabelings");
    assert!(
        relabels.iter().any(|r| r["targetLabel"] == "job" && r["replacement"] == "seedance-edge"),
        "the alert rules expect job=\"seedance-edge\""
    );

    // The image the pod runs is the Containerfile's: same user, same ports.
    let containerfile = read("deploy/Containerfile");
    let user = containerfile.lines().filter_map(|l| l.strip_prefix("USER ")).next_back().expect("USER");
    assert_eq!(user.split(':').next().unwrap().parse::<u64>().ok(), Some(uid), "USER {user} vs runAsUser {uid}");
    let exposed: BTreeSet<u64> = containerfile
        .lines()
        .filter_map(|l| l.strip_prefix("EXPOSE "))
        .flat_map(|l| l.split_whitespace().map(|p| p.parse::<u64>().unwrap()))
        .collect();
    assert!(ports.values().all(|p| exposed.contains(p)), "{ports:?} vs EXPOSE {exposed:?}");
}

/// A schema check with kubernetes-validate (pip), where it is installed.
#[test]
fn kubernetes_validate_accepts_the_core_manifests_when_installed() {
    let files = ["configmap.yaml", "statefulset.yaml", "service.yaml", "pdb.yaml"].map(|f| format!("deploy/k8s/{f}"));
    let Ok(out) = Command::new("kubernetes-validate").arg("--strict").args(&files).output() else {
        eprintln!("skipped: kubernetes-validate is not installed (pip install kubernetes-validate)");
        return;
    };
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

// --- systemd --------------------------------------------------------------------------------

const UNIT: &str = "deploy/systemd/seedance-edge.service";

/// `key=value` lines of the unit's `[Service]` section (a key may repeat).
fn service_section(unit: &str) -> Vec<(String, String)> {
    let mut in_service = false;
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service && !line.starts_with('#') {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.to_string(), v.to_string()));
            }
        }
    }
    out
}

#[test]
fn the_systemd_unit_is_hardened() {
    let unit = read(UNIT);
    let service = service_section(&unit);
    let value = |key: &str| service.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallFilter", "@system-service"),
        ("SystemCallArchitectures", "native"),
        ("CapabilityBoundingSet", ""),
        ("StateDirectory", "seedance-edge"),
        ("Restart", "on-failure"),
    ] {
        assert_eq!(value(key), Some(want), "{key}");
    }
    // Reload validates the file where `systemctl reload` shows the error, then sends SIGHUP.
    let reload: Vec<&str> = service.iter().filter(|(k, _)| k == "ExecReload").map(|(_, v)| v.as_str()).collect();
    assert!(reload.len() == 2 && reload[0].contains(" check --conf "), "{reload:?}");
    assert_eq!(reload[1], "/bin/kill -HUP $MAINPID");
    let families: Vec<&str> = value("RestrictAddressFamilies").expect("RestrictAddressFamilies").split(' ').collect();
    assert!(families.contains(&"AF_INET") && families.contains(&"AF_INET6"));
    assert!(families.iter().all(|f| ["AF_INET", "AF_INET6", "AF_UNIX"].contains(f)), "{families:?}");
    assert!(value("LimitNOFILE").and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n >= 65_536));
    let user = value("User").expect("a User");
    assert!(user != "root" && user != "0");
    assert!(value("AmbientCapabilities").is_none_or(str::is_empty));
    // Secrets from the environment file or a credential, never inline.
    assert!(value("EnvironmentFile").is_some());
    assert!(service.iter().all(|(k, _)| k != "Environment"), "secrets belong in the EnvironmentFile");

    // The drain fits in TimeoutStopSec; the example config's journal is in the StateDirectory.
    let stop: u64 = value("TimeoutStopSec").expect("TimeoutStopSec").trim_end_matches('s').parse().unwrap();
    let cm = k8s_docs().into_iter().find(|(_, d)| d["kind"] == "ConfigMap").expect("ConfigMap").1;
    let prod = seedance_edge::config::Config::from_yaml(cm["data"]["config.yaml"].as_str().unwrap(), &|_| {
        Some("redis://redis:6379/0".into())
    })
    .unwrap();
    let drain = prod.drain_delay_seconds + prod.grace_period_seconds + 5;
    assert!(stop >= drain, "TimeoutStopSec {stop} < drain delay + grace {} + 5", prod.grace_period_seconds);
    let example = seedance_edge::config::Config::from_yaml(&read("conf/example.yaml"), &|_| Some("x".into())).unwrap();
    let journal = example.store.journal.expect("conf/example.yaml sets store.journal");
    assert!(journal.starts_with("/var/lib/seedance-edge/"), "{} is outside the StateDirectory", journal.display());
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("skipped: systemd-analyze is not installed; the directives are still checked textually");
        return;
    }
    // verify wants ExecStart's binary to exist: point it at the one cargo built.
    let dir = tempfile::tempdir().unwrap();
    let unit = read(UNIT).replace("/usr/local/bin/seedance-edge", env!("CARGO_BIN_EXE_seedance-edge"));
    let path = dir.path().join("seedance-edge.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Warnings (an unknown key, a bad syscall group) do not change the exit code: read them too.
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("seedance-edge.service")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify:\n{text}");
}

// --- the container --------------------------------------------------------------------------

#[test]
fn the_container_is_a_lean_multi_stage_build_run_as_a_numeric_user() {
    let text = read("deploy/Containerfile");
    let stages: Vec<&str> = text.split("\nFROM ").collect();
    assert!(stages.len() >= 2, "a build stage and a runtime stage");
    let build = text.lines().find(|l| l.contains("cargo build")).expect("a cargo build step");
    for flag in ["--release", "--locked", "--no-default-features"] {
        assert!(build.contains(flag), "the build lacks {flag}: {build}");
    }
    let runtime = stages.last().unwrap();
    assert!(!runtime.contains("cargo") && !runtime.contains("fake-ark"), "the runtime stage holds build tools");
    let user = runtime.lines().filter_map(|l| l.strip_prefix("USER ")).next_back().expect("USER in the runtime stage");
    let ids: Vec<u64> = user.split(':').map(|p| p.parse().expect("a numeric USER")).collect();
    assert!(ids.iter().all(|id| *id > 0), "USER {user} is root");
    assert!(runtime.contains("ENTRYPOINT [\"/usr/local/bin/seedance-edge\"]"));
    let ignore = read(".dockerignore");
    for p in ["target/", ".git/"] {
        assert!(ignore.lines().any(|l| l.trim() == p), ".dockerignore lets {p} into the build context");
    }
}

/// The production binary (`--no-default-features`, as the Containerfile builds it) links no
/// simulator: fake-ark is only the demo's and the tests'.
#[test]
fn the_lean_build_links_no_simulator() {
    let tree = |features: &[&str]| {
        let out = Command::new(env!("CARGO"))
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
