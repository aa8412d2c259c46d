//! The files in `conf/` are what operators copy, so they are checked rather than trusted: each
//! one passes `seedance-edge check` (the real binary, with every `${VAR}` it references set to
//! a dummy value), and `conf/example.yaml` sets every key the configuration knows. The list of
//! keys is not written down here: it is read from the configuration's own schema, by asking the
//! parser which keys it expects where an unknown one is put.

use seedance_edge::config::Config;
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Keys the example names in a comment instead of setting, because setting them would make the
/// file wrong for most readers: `store.ca_file` is refused unless the URL is `rediss://` and the
/// file exists; `channels[].ca_file` replaces the system roots BytePlus is verified against.
const COMMENTED_ONLY: [&str; 2] = ["store.ca_file", "channels[].ca_file"];

const PROBE: &str = "__probe__";

fn conf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conf")
}

fn conf_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(conf_dir()).expect("conf/ is readable").flatten().map(|e| e.path()).collect();
    files.sort();
    files
}

/// The `${NAME}`s a file references.
fn referenced_vars(text: &str) -> BTreeSet<String> {
    text.split("${").skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string())).collect()
}

/// A value of the right shape for a variable, judged by its name: addresses for listeners,
/// a URL for an upstream, an opaque string for credentials.
fn dummy(name: &str) -> String {
    if name.ends_with("LISTEN") || name.ends_with("ADMIN") {
        "127.0.0.1:0".into()
    } else if name.ends_with("UPSTREAM") || name.ends_with("URL") {
        "http://127.0.0.1:1".into()
    } else {
        format!("dummy-{}", name.to_ascii_lowercase())
    }
}

#[test]
fn every_conf_file_passes_check() {
    let files = conf_files();
    let names: Vec<String> = files.iter().filter_map(|p| Some(p.file_name()?.to_str()?.to_string())).collect();
    assert!(names.iter().any(|n| n == "example.yaml") && names.iter().any(|n| n == "demo.yaml"), "{names:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut check = Command::new(env!("CARGO_BIN_EXE_seedance-edge"));
        check.args(["check", "--conf"]).arg(&path).env_clear();
        for name in referenced_vars(&text) {
            check.env(&name, dummy(&name));
        }
        let out = check.output().expect("seedance-edge runs");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}: check failed:\n{stdout}\n{stderr}", path.display());
        assert!(stdout.lines().any(|l| l.starts_with("ok: ")), "{}: {stdout}", path.display());
        if path.ends_with("example.yaml") {
            assert!(!stdout.contains("warning:"), "the example is warning-free:\n{stdout}");
        }
    }
}

#[test]
fn a_variable_left_unset_is_named() {
    let path = conf_dir().join("example.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_seedance-edge"))
        .args(["check", "--conf"])
        .arg(&path)
        .env_clear()
        .output()
        .expect("seedance-edge runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("environment variable SG_MAIN_API_KEY is not set"), "{stderr}");
}

#[test]
fn the_example_sets_every_key_the_configuration_knows() {
    let known = schema_keys(&[]);
    for key in ["listen[].tls.cert", "store.url", "channels[].models", "tenants[].limits.prepaid", "prices"] {
        assert!(known.contains(key), "the schema walk missed {key}: {known:?}");
    }
    let text = std::fs::read_to_string(conf_dir().join("example.yaml")).expect("example.yaml");
    let example: Value = serde_yaml_ng::from_str(&text).expect("example.yaml is YAML");
    let mut set = BTreeSet::new();
    value_keys(&example, "", &mut set);
    let missing: Vec<&String> =
        known.iter().filter(|k| !set.contains(*k) && !COMMENTED_ONLY.contains(&k.as_str())).collect();
    assert!(missing.is_empty(), "conf/example.yaml does not set: {missing:?}");
    for key in COMMENTED_ONLY {
        assert!(known.contains(key), "{key} is no longer a configuration key");
        let (section, leaf) = (key.split(['.', '[']).next().unwrap_or(key), key.rsplit('.').next().unwrap_or(key));
        let commented = top_level_section(&text, section)
            .any(|l| l.trim_start().starts_with('#') && l.contains(&format!("{leaf}:")));
        assert!(commented, "conf/example.yaml does not show {key} in a comment under {section}:");
    }
}

#[test]
fn the_readme_configuration_table_names_every_key() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let rows: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "## Configuration")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| `"))
        .collect();
    assert!(!rows.is_empty(), "README.md has no configuration table under '## Configuration'");
    let names: Vec<BTreeSet<String>> = rows.iter().map(|r| backticked(r)).collect();
    let known = schema_keys(&[]);
    // Sections (`store`, `listen[].tls`) are named through their keys.
    let is_section =
        |key: &str| known.iter().any(|k| k.starts_with(&format!("{key}.")) || k.starts_with(&format!("{key}[]")));
    let missing: Vec<&String> = known
        .iter()
        .filter(|key| !is_section(key))
        .filter(|key| {
            let (parent, leaf) = key.rsplit_once("[].").unwrap_or(("", key));
            // `prices.<sku>` names the map `prices`.
            let whole = names.iter().any(|n| n.contains(*key) || n.iter().any(|t| t.starts_with(&format!("{key}."))));
            // A list's fields may be listed in its own row: `channels[]` … `api_key`, `models[]` …
            let in_list_row = !parent.is_empty()
                && names.iter().any(|n| {
                    n.contains(&format!("{parent}[]")) && (n.contains(leaf) || n.contains(&format!("{leaf}[]")))
                });
            !(whole || in_list_row)
        })
        .collect();
    assert!(missing.is_empty(), "README.md's configuration table does not name: {missing:?}");
}

/// The backticked names of a table row, `a.{b,c}` expanded to `a.b` and `a.c`; the key column's
/// names also count without a trailing `.<something>` example.
fn backticked(row: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for token in row.split('`').skip(1).step_by(2) {
        match (token.find('{'), token.find('}')) {
            (Some(open), Some(close)) if open < close => {
                for alt in token[open + 1..close].split(',') {
                    out.insert(format!("{}{}{}", &token[..open], alt.trim(), &token[close + 1..]));
                }
            }
            _ => {
                out.insert(token.to_string());
            }
        }
    }
    out
}

/// The lines of a top-level key's section: from `key:` to the next line that starts a key at
/// column 0 (comments and indented lines belong to the section).
fn top_level_section<'a>(text: &'a str, key: &str) -> impl Iterator<Item = &'a str> {
    let header = format!("{key}:");
    text.lines()
        .skip_while(move |l| !l.starts_with(&header))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.is_empty() || l.starts_with([' ', '#']))
        .map(|(_, l)| l)
}

#[test]
fn the_schema_walk_reads_keys_from_the_parser() {
    // The probe's answer is the parser's own list of expected keys.
    let fields = probe(&[Seg::Key("upstream")]).expect("upstream is a mapping");
    assert_eq!(fields, ["connect_timeout_ms", "read_timeout_ms", "pool_size"]);
    assert_eq!(probe(&[Seg::Key("prices")]), None, "a map of SKUs has no fixed keys");
    assert_eq!(probe(&[Seg::Key("channels")]), None, "a list is not a mapping");
    assert!(probe(&[Seg::Key("channels"), Seg::List]).is_some_and(|f| f.contains(&"api_key".to_string())));
}

/// Every key path (`a.b`, `list[].c`) the example sets.
fn value_keys(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let Some(k) = k.as_str() else { continue };
                let p = if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
                out.insert(p.clone());
                value_keys(child, &p, out);
            }
        }
        Value::Sequence(items) => {
            for item in items {
                value_keys(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    List,
}

/// Every key path below `at`, found by probing: a key whose value takes a mapping of fixed
/// keys (or a list of them) is walked into; anything else is a leaf.
fn schema_keys(at: &[Seg<'_>]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for field in probe(at).unwrap_or_default() {
        let mut path = at.to_vec();
        path.push(Seg::Key(&field));
        let name = render(&path);
        out.insert(name);
        if probe(&path).is_some() {
            out.extend(schema_keys(&path));
        } else {
            path.push(Seg::List);
            if probe(&path).is_some() {
                out.extend(schema_keys(&path));
            }
        }
    }
    out
}

fn render(path: &[Seg<'_>]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::List => s.push_str("[]"),
        }
    }
    s
}

/// The keys the parser expects at `path`, if it takes a mapping of fixed keys there: a document
/// with only an unknown key at `path` is refused naming them (unknown keys are errors).
fn probe(path: &[Seg<'_>]) -> Option<Vec<String>> {
    let mut doc = Value::Mapping(Mapping::from_iter([(PROBE.into(), Value::from(0))]));
    for seg in path.iter().rev() {
        doc = match seg {
            Seg::Key(k) => Value::Mapping(Mapping::from_iter([((*k).into(), doc)])),
            Seg::List => Value::Sequence(vec![doc]),
        };
    }
    let yaml = serde_yaml_ng::to_string(&doc).expect("serializes");
    let err = Config::from_yaml(&yaml, &|_| Some("x".into())).err()?.to_string();
    let (_, expected) = err.split_once(&format!("unknown field `{PROBE}`, expected "))?;
    let expected = expected.split(" at line ").next().unwrap_or(expected);
    Some(expected.split('`').skip(1).step_by(2).map(str::to_string).collect())
}
