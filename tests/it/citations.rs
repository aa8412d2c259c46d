//! Comments cite only what the repository holds. The contract and reference documents the code
//! was first written against live outside it, so a comment naming a section of them, or a path
//! outside the repository, sends a reader nowhere: a comment states the rule itself instead.
//! Reads the comments (not string literals) of every Rust and Lua file: sources, tests, benches,
//! examples.

use std::path::{Path, PathBuf};

/// What a comment must not name: the external contract's sections and the reference files.
const FORBIDDEN: [&str; 6] =
    ["SPEC §", "shared/", "redis-state §", "callback-url-policy.md", "byteplus-upstream.md", "pingora-notes"];

#[test]
fn comments_cite_no_document_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "filters/src", "filters/tests", "fake-ark/src", "fake-ark/tests", "tests", "benches", "examples"]
    {
        collect(&root.join(dir), &mut files);
    }
    assert!(files.len() > 100, "read only {} source files", files.len());
    let mut found = Vec::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let lua = path.extension().is_some_and(|e| e == "lua");
        for (line, comment) in comments(&text, lua) {
            if let Some(name) = FORBIDDEN.iter().find(|f| comment.contains(*f)) {
                let shown = path.strip_prefix(root).unwrap_or(path).display();
                found.push(format!("{shown}:{line}: cites `{name}`: {}", comment.trim()));
            }
        }
    }
    assert!(found.is_empty(), "state the rule instead of citing it:\n{}", found.join("\n"));
}

#[test]
fn the_scanner_reads_comments_and_skips_strings() {
    let rust = "let u = \"see SPEC § 1 in shared/x\"; // fine\n\
                let c = '\"'; // SPEC §4.3\n\
                /* block: shared/reference */ let r = r#\"// SPEC §9\"#;\n\
                /// doc (redis-state §3)\n";
    let hits: Vec<(usize, bool)> = comments(rust, false)
        .into_iter()
        .map(|(line, c)| (line, FORBIDDEN.iter().any(|f| c.contains(f))))
        .filter(|(_, hit)| *hit)
        .collect();
    assert_eq!(hits, [(2, true), (3, true), (4, true)]);
    let lua = "local k = 'shared/' -- SPEC §3 limits\n";
    assert_eq!(comments(lua, true), [(1, " SPEC §3 limits".to_string())]);
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "lua") {
            out.push(path);
        }
    }
}

/// The comment text of each line (1-based), outside string and char literals. Good enough for
/// this tree: `"…"` with escapes, raw strings `r#"…"#`, char literals, `//` and `/* */`
/// (`--` for Lua, whose strings are `'…'` or `"…"`).
fn comments(text: &str, lua: bool) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut state = State::Code;
    for (n, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut comment = String::new();
        let mut i = 0;
        while i < chars.len() {
            let (c, next) = (chars[i], chars.get(i + 1).copied());
            match state {
                State::Block => {
                    if c == '*' && next == Some('/') {
                        state = State::Code;
                        i += 1;
                    } else {
                        comment.push(c);
                    }
                }
                State::Str(close, hashes) => {
                    if c == '\\' && hashes == 0 {
                        i += 1;
                    } else if c == close && chars[i + 1..].iter().take(hashes).filter(|h| **h == '#').count() == hashes
                    {
                        state = State::Code;
                        i += hashes;
                    }
                }
                State::Code => {
                    let line_comment = if lua { c == '-' && next == Some('-') } else { c == '/' && next == Some('/') };
                    if line_comment {
                        comment.extend(&chars[i + 2..]);
                        break;
                    }
                    if !lua && c == '/' && next == Some('*') {
                        state = State::Block;
                        i += 1;
                    } else if c == '"' {
                        state = State::Str('"', 0);
                    } else if lua && c == '\'' {
                        state = State::Str('\'', 0);
                    } else if !lua && c == 'r' && matches!(next, Some('"' | '#')) {
                        let hashes = chars[i + 1..].iter().take_while(|h| **h == '#').count();
                        if chars.get(i + 1 + hashes) == Some(&'"') {
                            state = State::Str('"', hashes);
                            i += 1 + hashes;
                        }
                    } else if !lua && c == '\'' {
                        // A char literal ('x' or '\x…'); a lifetime has no closing quote nearby.
                        if next == Some('\\') {
                            i += chars[i + 2..].iter().position(|q| *q == '\'').map_or(0, |p| p + 2);
                        } else if chars.get(i + 2) == Some(&'\'') {
                            i += 2;
                        }
                    }
                }
            }
            i += 1;
        }
        if !comment.is_empty() {
            out.push((n + 1, comment));
        }
    }
    out
}

#[derive(Clone, Copy)]
enum State {
    Code,
    Block,
    /// Inside a string closed by the char, followed by this many `#`.
    Str(char, usize),
}
