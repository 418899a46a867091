//! The layer check: every module of `src/` imports only modules of its own layer or
//! the layers below it, and no two modules import each other (directly or around a
//! cycle). It reads the source text, so it runs with `cargo test` (and in CI) with
//! no extra tool.
//!
//! An edge `a -> b` is any path in `a`'s code (comments and string literals removed)
//! that resolves to an item of module `b`: `crate::b::..`, `super::..`, `self::..`,
//! or a child module's name. Inline modules (`mod tests { .. }`) count as part of
//! the file that holds them, but `super::` inside them resolves from their own path.
//!
//! Set `LAYERS_REPORT=1` to print every edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first. A module may import modules of its own layer or any
/// layer before it. A module takes the layer of the longest prefix listed here.
const LAYERS: &[(&str, &[&str])] = &[
    // Pure formats and math: bytes in, bytes out, no I/O, no domain knowledge.
    (
        "formats",
        &["base", "tlog", "note", "policy", "layout", "sign"],
    ),
    // Safe file creation and capped reads (imports nothing of the crate).
    ("files", &["fsx"]),
    // Domain: entries, governance rules, the witness state machine.
    (
        "domain",
        &[
            "ledger::entry",
            "ledger::batch",
            "ledger::view",
            "governance",
            "keys",
            "witness",
        ],
    ),
    // Storage: the `Store` trait and its backends (SQLite), below the ledger
    // that runs over it.
    ("store", &["ledger::store"]),
    // I/O: the ledger over its store, the witness store, the published-site
    // reader, configuration.
    ("io", &["ledger", "witness::store", "published", "config"]),
    // Site rendering and the HTTP code.
    ("site", &["site", "witness::http"]),
    // Operations behind each command, and their error type.
    ("app", &["app", "error"]),
    // The command line (and the crate root that declares every module).
    ("cli", &["cli", "crate"]),
];

/// A module path such as `ledger::entry`; the crate root is `crate`.
type Module = String;

/// Which file modules exist, and the edges between them.
#[derive(Default)]
struct Graph {
    modules: BTreeSet<Module>,
    /// (from, to) -> one example of the path that made the edge.
    edges: BTreeMap<(Module, Module), String>,
}

fn layer_of(module: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None; // (prefix length, layer)
    for (i, (_, prefixes)) in LAYERS.iter().enumerate() {
        for p in prefixes.iter() {
            let hit = module == *p || module.starts_with(&format!("{p}::"));
            if hit && best.is_none_or(|(len, _)| p.len() > len) {
                best = Some((p.len(), i));
            }
        }
    }
    best.map(|(_, i)| i)
}

/// Removes comments, string and char literals (keeping newlines), so only code is scanned.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && next == Some('r')))
            && !c
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && {
                let mut j = i + if ch == 'b' { 2 } else { 1 };
                while c.get(j) == Some(&'#') {
                    j += 1;
                }
                c.get(j) == Some(&'"')
            }
        {
            // Raw string: r"..", r#".."#, br".."
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                if c[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                } else if c[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(ch);
                i += 1;
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Sep, // ::
    Punct(char),
}

fn tokens(code: &str) -> Vec<Tok> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Sep);
            i += 2;
        } else if ch.is_whitespace() {
            i += 1;
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

/// Expands a `use` tree starting at `toks[*i]` into full paths; stops after the tree.
fn use_tree(toks: &[Tok], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                *i += 1;
                if toks.get(*i) == Some(&Tok::Ident("as".into())) {
                    *i += 2;
                }
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    match toks.get(*i) {
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *i += 1,
                        None => return,
                        _ => use_tree(toks, i, &path, out),
                    }
                }
            }
            _ => {
                out.push(path);
                return;
            }
        }
        if toks.get(*i) == Some(&Tok::Sep) {
            *i += 1;
        } else {
            out.push(path);
            return;
        }
    }
}

/// The module path of a file under `src/`.
fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    if parts.is_empty() {
        "crate".into()
    } else {
        parts.join("::")
    }
}

fn join(m: &[String]) -> Module {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

fn split(m: &str) -> Vec<String> {
    if m == "crate" {
        Vec::new()
    } else {
        m.split("::").map(String::from).collect()
    }
}

/// Adds the edges of one file (module `file_mod`, stripped source `code`) to `g`.
/// `g.modules` must already hold every file module.
fn scan(g: &mut Graph, file_mod: &str, code: &str, inline_children: &BTreeSet<Module>) {
    let toks = tokens(code);
    // Logical module path, for `super`/`self`; a stack of (path, brace depth at open).
    let base = split(file_mod);
    let mut stack: Vec<(Vec<String>, usize)> = vec![(base, 0)];
    let mut depth = 0usize;
    let mut paths: Vec<(Vec<String>, Vec<String>)> = Vec::new(); // (logical module, path)
    let mut i = 0;
    while i < toks.len() {
        let cur = stack.last().unwrap().0.clone();
        match &toks[i] {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                if stack.len() > 1 && stack.last().unwrap().1 == depth {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    let mut p = cur.clone();
                    p.push(name.clone());
                    depth += 1;
                    stack.push((p, depth));
                    i += 3;
                } else {
                    i += 2;
                }
            }
            Tok::Ident(k) if k == "use" => {
                i += 1;
                let mut found = Vec::new();
                use_tree(&toks, &mut i, &[], &mut found);
                for p in found {
                    paths.push((cur.clone(), p));
                }
            }
            Tok::Ident(first) => {
                let prev_sep = i > 0 && toks[i - 1] == Tok::Sep;
                let mut p = vec![first.clone()];
                let mut j = i + 1;
                while toks.get(j) == Some(&Tok::Sep) {
                    match toks.get(j + 1) {
                        Some(Tok::Ident(s)) => {
                            p.push(s.clone());
                            j += 2;
                        }
                        _ => break,
                    }
                }
                if !prev_sep && p.len() > 1 {
                    paths.push((cur.clone(), p));
                }
                i = j.max(i + 1);
            }
            _ => i += 1,
        }
    }
    for (logical, p) in paths {
        let Some(target) = resolve(&g.modules, inline_children, &logical, &p) else {
            continue;
        };
        if target != file_mod {
            g.edges
                .entry((file_mod.to_string(), target))
                .or_insert_with(|| p.join("::"));
        }
    }
}

/// The file module a path names, or `None` for external crates and local items.
fn resolve(
    modules: &BTreeSet<Module>,
    inline: &BTreeSet<Module>,
    logical: &[String],
    p: &[String],
) -> Option<Module> {
    let mut abs: Vec<String> = match p[0].as_str() {
        "crate" => p[1..].to_vec(),
        "self" => [logical, &p[1..]].concat(),
        "super" => {
            let mut base = logical.to_vec();
            let mut k = 0;
            while p.get(k).map(String::as_str) == Some("super") {
                base.pop();
                k += 1;
            }
            [base.as_slice(), &p[k..]].concat()
        }
        first => {
            let mut child = logical.to_vec();
            child.push(first.to_string());
            let cj = join(&child);
            if modules.contains(&cj) || inline.contains(&cj) {
                [logical, p].concat()
            } else {
                return None;
            }
        }
    };
    // Longest prefix that is a file module.
    while !abs.is_empty() {
        let m = join(&abs);
        if modules.contains(&m) {
            return Some(m);
        }
        abs.pop();
    }
    Some("crate".into())
}

fn build(src: &Path) -> Graph {
    let mut files = Vec::new();
    let mut todo = vec![src.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut g = Graph::default();
    let mut code = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src).unwrap();
        if rel == Path::new("main.rs") {
            continue; // the binary: a separate crate using the library's public API
        }
        let m = module_of(rel);
        g.modules.insert(m.clone());
        code.push((m, strip(&std::fs::read_to_string(f).unwrap())));
    }
    let inline = BTreeSet::new();
    for (m, c) in &code {
        scan(&mut g, m, c, &inline);
    }
    g
}

/// Whether `m` lies inside `ancestor` (`crate` contains every module).
fn is_descendant(m: &str, ancestor: &str) -> bool {
    ancestor == "crate" || m.starts_with(&format!("{ancestor}::"))
}

/// Every cycle's modules (strongly connected components of more than one module).
fn cycles(g: &Graph) -> Vec<Vec<Module>> {
    let nodes: Vec<&Module> = g.modules.iter().collect();
    let idx: BTreeMap<&Module, usize> = nodes.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut adj = vec![Vec::new(); nodes.len()];
    for (a, b) in g.edges.keys() {
        if is_descendant(b, a) {
            continue; // a parent using its own parts is its facade, not a cycle
        }
        if let (Some(&x), Some(&y)) = (idx.get(a), idx.get(b)) {
            adj[x].push(y);
        }
    }
    // Tarjan's algorithm, iterative enough for a few hundred modules.
    struct T {
        index: usize,
        idx: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        st: Vec<usize>,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], t: &mut T) {
        t.idx[v] = Some(t.index);
        t.low[v] = t.index;
        t.index += 1;
        t.st.push(v);
        t.on[v] = true;
        for &w in &adj[v] {
            if t.idx[w].is_none() {
                visit(w, adj, t);
                t.low[v] = t.low[v].min(t.low[w]);
            } else if t.on[w] {
                t.low[v] = t.low[v].min(t.idx[w].unwrap());
            }
        }
        if t.low[v] == t.idx[v].unwrap() {
            let mut comp = Vec::new();
            loop {
                let w = t.st.pop().unwrap();
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let n = nodes.len();
    let mut t = T {
        index: 0,
        idx: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        st: Vec::new(),
        out: Vec::new(),
    };
    for v in 0..n {
        if t.idx[v].is_none() {
            visit(v, &adj, &mut t);
        }
    }
    t.out
        .into_iter()
        .map(|c| {
            let mut c: Vec<Module> = c.into_iter().map(|i| nodes[i].clone()).collect();
            c.sort();
            c
        })
        .collect()
}

/// Every problem in `g`, one line each: modules outside the table, edges that point
/// up a layer, and cycles (with the edges inside each).
fn problems(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for m in &g.modules {
        if layer_of(m).is_none() {
            out.push(format!("module {m} has no layer in LAYERS"));
        }
    }
    for ((a, b), via) in &g.edges {
        if let (Some(la), Some(lb)) = (layer_of(a), layer_of(b))
            && lb > la
        {
            out.push(format!(
                "layer violation: {a} ({}) imports {b} ({}) via `{via}`",
                LAYERS[la].0, LAYERS[lb].0
            ));
        }
    }
    for c in cycles(g) {
        let set: BTreeSet<&Module> = c.iter().collect();
        let inner: Vec<String> = g
            .edges
            .iter()
            .filter(|((a, b), _)| set.contains(a) && set.contains(b) && !is_descendant(b, a))
            .map(|((a, b), via)| format!("  {a} -> {b} via `{via}`"))
            .collect();
        out.push(format!(
            "import cycle among {} modules: {}\n{}",
            c.len(),
            c.join(", "),
            inner.join("\n")
        ));
    }
    out
}

#[test]
fn src_layers_and_no_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = build(&src);
    assert!(
        g.modules.len() > 20,
        "found only {} modules",
        g.modules.len()
    );
    if std::env::var_os("LAYERS_REPORT").is_some() {
        for ((a, b), via) in &g.edges {
            println!("{a} -> {b}  ({via})");
        }
    }
    let p = problems(&g);
    assert!(
        p.is_empty(),
        "{} layer problems:\n{}",
        p.len(),
        p.join("\n")
    );
}

fn synthetic(files: &[(&str, &str)]) -> Graph {
    let mut g = Graph::default();
    for (m, _) in files {
        g.modules.insert(m.to_string());
    }
    for (m, src) in files {
        scan(&mut g, m, &strip(src), &BTreeSet::new());
    }
    g
}

#[test]
fn checker_finds_an_injected_back_edge() {
    let ok = synthetic(&[
        ("tlog", "pub fn root() {}"),
        ("ledger::entry", "use crate::tlog::root;"),
        ("app", "fn f() { crate::ledger::entry::x(); }"),
    ]);
    assert_eq!(problems(&ok), Vec::<String>::new());
    // tlog (formats) pointing up at the ledger: a layer violation and a cycle.
    let bad = synthetic(&[
        ("tlog", "use crate::ledger::entry::sha256; pub fn root() {}"),
        ("ledger::entry", "use crate::tlog::root;"),
    ]);
    let p = problems(&bad);
    assert!(
        p.iter().any(|l| l.contains(
            "layer violation: tlog (formats) imports ledger::entry (domain) via `crate::ledger::entry::sha256`"
        )),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("import cycle among 2 modules: ledger::entry, tlog")),
        "{p:?}"
    );
}

#[test]
fn checker_finds_a_same_layer_cycle_through_super_and_groups() {
    let bad = synthetic(&[
        ("site", "mod x;"),
        ("site::pages", "use super::{feed::{Feed}, paths};"),
        ("site::feed", "fn f() { super::pages::render(); }"),
        ("site::paths", ""),
    ]);
    let p = problems(&bad);
    assert!(
        p.iter()
            .any(|l| l.starts_with("import cycle among 2 modules: site::feed, site::pages")),
        "{p:?}"
    );
}

#[test]
fn checker_ignores_comments_strings_and_inline_test_modules() {
    let g = synthetic(&[
        (
            "tlog",
            "// crate::app::x\n/* crate::app::y */ fn f() { let s = \"crate::app::z\"; let c = '\"'; }\n#[cfg(test)] mod tests { use super::*; use crate::tlog::f; }",
        ),
        ("app", ""),
    ]);
    assert!(g.edges.is_empty(), "{:?}", g.edges);
}
