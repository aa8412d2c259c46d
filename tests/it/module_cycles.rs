//! The shell crate's top-level modules must not import each other in a circle: a cycle means
//! two modules can only be understood (and changed) together. Reads every `crate::<module>`
//! path in src/ (and the names inside `use crate::{…};`), the same over-approximation as the
//! review tooling's script, so the two agree: test code (`#[cfg(test)] mod tests { … }`) is
//! ignored, anything else that names a module counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Longer chains than this are not followed: a real cycle among ~30 modules is far shorter.
const MAX_DEPTH: usize = 12;

#[test]
fn src_has_no_module_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rs(&src, &src, &mut files);
    assert!(files.len() > 10, "read only {} files from {}", files.len(), src.display());
    let graph = module_graph(files.iter().map(|(p, t)| (p.as_str(), t.as_str())));
    let found = cycles(&graph);
    let shown: Vec<String> = found.iter().map(|c| c.join(" -> ")).collect();
    assert!(found.is_empty(), "{} module cycle(s) in src/:\n{}", found.len(), shown.join("\n"));
}

#[test]
fn a_cycle_in_a_synthetic_tree_is_found() {
    let files = [
        ("edge.rs", "use crate::proxy::Timing;\nfn f() {}"),
        ("proxy/mod.rs", "use crate::{clock, edge::Edge};"),
        ("proxy/phase.rs", "use crate::routes;"),
        ("routes/create.rs", "pub fn now_ms() {}"),
        ("clock.rs", "#[cfg(test)]\nmod tests {\n    use crate::edge;\n}"),
        ("lib.rs", "pub mod edge; use crate::proxy;"),
    ];
    let graph = module_graph(files.into_iter());
    assert_eq!(cycles(&graph), vec![vec!["edge", "proxy", "edge"]]);
    // Test code and the crate root are not edges: `clock` → `edge` above closes no cycle.
    assert!(graph.get("clock").is_none_or(BTreeSet::is_empty), "{graph:?}");
    assert!(!graph.contains_key("lib"));
}

#[test]
fn names_inside_a_use_group_are_edges() {
    let graph = module_graph([("a.rs", "use crate::{\n    b::{x, Y},\n    c,\n    d::Z,\n};")].into_iter());
    let edges: Vec<&str> = graph["a"].iter().map(String::as_str).collect();
    // `x` is over-approximated as a module, like the script does; it has no edges, so no harm.
    assert_eq!(edges, ["b", "c", "d", "x"]);
    let acyclic = module_graph([("a.rs", "use crate::b;"), ("b.rs", "use crate::c;")].into_iter());
    assert!(cycles(&acyclic).is_empty());
}

fn collect_rs(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("src is readable").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("source is UTF-8");
            out.push((rel, text));
        }
    }
}

/// Edges between top-level modules, from (path relative to src/, source text) pairs.
fn module_graph<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> Graph {
    let mut graph = Graph::new();
    for (rel, text) in files {
        let first = rel.split(['/', '\\']).next().unwrap_or(rel);
        let top = first.strip_suffix(".rs").unwrap_or(first);
        if top == "main" || top == "lib" {
            continue;
        }
        let text = without_test_module(text);
        let mut uses = crate_paths(text);
        uses.extend(use_group_names(text));
        uses.remove(top);
        graph.entry(top.to_string()).or_default().extend(uses);
    }
    graph
}

/// `text` up to its `#[cfg(test)] mod tests {`, if it has one.
fn without_test_module(text: &str) -> &str {
    const ATTR: &str = "#[cfg(test)]";
    let mut from = 0;
    while let Some(i) = text[from..].find(ATTR).map(|i| i + from) {
        let rest = text[i + ATTR.len()..].trim_start();
        if let Some(after) = rest.strip_prefix("mod tests") {
            if after.trim_start().starts_with('{') {
                return &text[..i];
            }
        }
        from = i + ATTR.len();
    }
    text
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A lower-case identifier (`[a-z_][a-z0-9_]*`) at the start of `s`, if any.
fn lower_ident(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if !b.first().is_some_and(|c| c.is_ascii_lowercase() || *c == b'_') {
        return None;
    }
    let len = b.iter().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'_').count();
    Some(&s[..len])
}

/// Every `<name>` of a `crate::<name>` that is not the tail of a longer word.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && is_word(text.as_bytes()[i - 1]) {
            continue;
        }
        if let Some(name) = lower_ident(&text[i + "crate::".len()..]) {
            out.insert(name.to_string());
        }
    }
    out
}

/// In every `use crate::{…};`, each lower-case name that starts an item (after the brace, a
/// comma or white space) and is followed by `::`, a comma, a closing brace or the end.
fn use_group_names(text: &str) -> BTreeSet<String> {
    const OPEN: &str = "use crate::{";
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(OPEN) {
        let body = &text[i + OPEN.len()..];
        let Some(semi) = body.find(';') else { continue };
        let Some(block) = body[..semi].strip_suffix('}') else { continue };
        let bytes = block.as_bytes();
        let mut at = 0;
        while at < block.len() {
            let starts_item = at == 0 || matches!(bytes[at - 1], b',' | b'{') || bytes[at - 1].is_ascii_whitespace();
            match lower_ident(&block[at..]).filter(|_| starts_item) {
                Some(name) => {
                    let rest = &block[at + name.len()..];
                    let trimmed = rest.trim_start();
                    if rest.starts_with("::") || trimmed.starts_with([',', '}']) || trimmed.is_empty() {
                        out.insert(name.to_string());
                    }
                    at += name.len();
                }
                None => at += block[at..].chars().next().map_or(1, char::len_utf8),
            }
        }
    }
    out
}

/// Each cycle once (whatever node it is entered from), as the path that closes it.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut seen: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for start in graph.keys() {
        walk(graph, &mut vec![start.clone()], &mut seen, &mut found);
    }
    found
}

fn walk(graph: &Graph, stack: &mut Vec<String>, seen: &mut BTreeSet<BTreeSet<String>>, found: &mut Vec<Vec<String>>) {
    let Some(node) = stack.last().cloned() else { return };
    for next in graph.get(&node).into_iter().flatten() {
        if let Some(pos) = stack.iter().position(|n| n == next) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(next.clone());
            if seen.insert(cycle.iter().cloned().collect()) {
                found.push(cycle);
            }
        } else if stack.len() < MAX_DEPTH {
            stack.push(next.clone());
            walk(graph, stack, seen, found);
            stack.pop();
        }
    }
}
