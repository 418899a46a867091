//! The published site as an attack surface, through the real CLI: hostile text
//! in every field that reaches a page (spec text, release notes, incident
//! titles, summaries, notes and resolutions, evaluation results, suites, key
//! revocation reasons, witness names, the log origin, the site title) must be
//! rendered inert; hostile labels and names must be refused or land on safe
//! paths; nothing may be written outside the output directory; and every page
//! must stay well-formed. `tests/site.rs` probes the renderer through the
//! library; this file adds the fields and names only the CLI reaches, the
//! well-formedness check and deeply nested Markdown.
//! Prints: `site attack: N probes, N pages checked, N files, build S s`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use common::Env;
use serde_json::json;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/fixtures")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

/// Every probe: a piece of script or markup that must never be live. Each
/// carries a distinct `alert(N)` so a failure names its source.
fn probe(n: u32) -> String {
    match n % 6 {
        0 => format!("<script>alert({n})</script>"),
        1 => format!("<img src=x onerror=alert({n})>"),
        2 => format!("\"><svg onload=alert({n})>"),
        3 => format!("[click](javascript:alert({n}))"),
        4 => format!("' onmouseover='alert({n})' x='"),
        _ => format!("</title><iframe src=javascript:alert({n})>"),
    }
}

/// A probe without spaces (for fields that refuse whitespace).
fn tight_probe(n: u32) -> String {
    format!("\"><script>alert({n})</script>")
}

/// `spec release probe.md --version LABEL`, signed by policy-team.
fn release(label: &str) -> [&str; 7] {
    [
        "spec",
        "release",
        "probe.md",
        "--version",
        label,
        "--signer",
        "policy-team",
    ]
}

/// Every file under `dir`, relative path to bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Elements a page may never contain, whatever the input.
const FORBIDDEN: &[&str] = &[
    "script", "iframe", "object", "embed", "form", "input", "img", "base", "frame", "frameset",
    "applet", "style", "math",
];

/// Checks that `doc` (HTML, or XML when `xml`) is well-formed: every tag is
/// closed in order (HTML void elements aside), attribute values are quoted,
/// no `<` is loose in text or inside a tag, every `&` starts an entity; and
/// that it is inert: no forbidden element, event handler, inline style or
/// script URL in any tag. Returns the first problem.
fn check_document(doc: &str, xml: bool) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = doc;
    let mut text_start = 0usize;
    let offset = |s: &str| doc.len() - s.len();
    while let Some(i) = rest.find('<') {
        check_text(&rest[..i]).map_err(|e| format!("{e} at byte {}", offset(rest) + text_start))?;
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").ok_or("unclosed comment")?;
            rest = &r[end + 3..];
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            let end = rest.find('>').ok_or("unclosed declaration")?;
            rest = &rest[end + 1..];
            continue;
        }
        // Find the end of the tag, skipping quoted attribute values.
        let (mut quote, mut end) = (None, None);
        for (j, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '<') => return Err(format!("'<' inside a tag: {}", &rest[..j.min(80)])),
                (None, '>') => {
                    end = Some(j);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("unclosed tag {}", &rest[..rest.len().min(80)]))?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        text_start = 0;
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match open.pop() {
                Some(o) if o == name => {}
                o => return Err(format!("</{name}> closes <{}>", o.unwrap_or_default())),
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err(format!("bad tag <{tag}>"));
        }
        if FORBIDDEN.contains(&name.as_str()) {
            return Err(format!("forbidden element <{tag}>"));
        }
        check_attributes(&body[name.len()..]).map_err(|e| format!("{e} in <{tag}>"))?;
        if !(self_closing || (!xml && VOID.contains(&name.as_str()))) {
            open.push(name);
        }
    }
    check_text(rest)?;
    match open.last() {
        None => Ok(()),
        Some(o) => Err(format!("<{o}> is never closed")),
    }
}

fn check_text(t: &str) -> Result<(), String> {
    let mut rest = t;
    while let Some(i) = rest.find('&') {
        rest = &rest[i + 1..];
        let end = rest
            .find(';')
            .filter(|&e| e <= 10)
            .ok_or("'&' outside an entity")?;
        let ent = &rest[..end];
        let fine = ent.chars().all(|c| c.is_ascii_alphanumeric())
            || ent.strip_prefix('#').is_some_and(|d| {
                d.chars().all(|c| c.is_ascii_digit())
                    || d.strip_prefix('x')
                        .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            });
        if !fine || ent.is_empty() {
            return Err(format!("bad entity &{ent};"));
        }
    }
    Ok(())
}

/// Checks `name="value"` pairs: quoted values, no event handlers, styles or script URLs.
fn check_attributes(mut s: &str) -> Result<(), String> {
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Ok(());
        }
        let name_len = s
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let name = s[..name_len].to_ascii_lowercase();
        if name.starts_with("on") || name == "style" || name == "srcdoc" || name == "formaction" {
            return Err(format!("attribute {name}"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':' || c == '_')
        {
            return Err(format!("bad attribute name {name:?}"));
        }
        s = s[name_len..].trim_start();
        let Some(v) = s.strip_prefix('=') else {
            continue;
        };
        let v = v.trim_start();
        let q = v
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or("unquoted attribute value")?;
        let end = v[1..].find(q).ok_or("unclosed attribute value")? + 1;
        let value = &v[1..end];
        check_text(value)?;
        let url: String = value
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect::<String>()
            .to_ascii_lowercase();
        if ["href", "src", "action", "xlink:href", "data"].contains(&name.as_str())
            && ["javascript:", "data:", "vbscript:", "&#"]
                .iter()
                .any(|b| url.starts_with(b))
        {
            return Err(format!("unsafe URL {name}={value:?}"));
        }
        s = &v[end + 1..];
    }
}

#[test]
fn well_formedness_checker_catches_what_it_should() {
    assert!(check_document("<p>a &amp; <b>b</b><br></p>", false).is_ok());
    for bad in [
        "<p><b>x</p></b>",
        "<p>",
        "<p>a & b</p>",
        "<a href=x>y</a>",
        "<a href=\"javascript:alert(1)\">y</a>",
        "<a href=\" JaVaScRiPt:x\">y</a>",
        "<p onclick=\"x\">y</p>",
        "<script>alert(1)</script>",
        "<p>a <img src=x></p>",
        "<p x=\"a\" <b>",
    ] {
        assert!(check_document(bad, false).is_err(), "{bad}");
    }
}

#[test]
fn hostile_fields_render_inert_and_pages_stay_well_formed() {
    let env = Env::new();
    let mut n = 0u32;
    let mut next = || {
        n += 1;
        n
    };
    // The origin may hold anything but spaces and '+': it reaches every page.
    let origin = format!("example.org/{}", tight_probe(next()));
    env.ok(&["init", "--origin", &origin]);
    env.ok(&["key", "generate", "policy-team"]);
    env.ok(&["key", "generate", "evals", "--role", "evaluator"]);
    env.ok(&["key", "generate", "desk", "--role", "incident-responder"]);
    env.ok(&["key", "generate", "temp", "--role", "auditor"]);
    env.ok(&["key", "revoke", "temp", "--reason", &probe(next())]);

    // A spec full of probes (the browser fixture), with notes full of probes;
    // labels at the edge of what is allowed.
    let spec = fixture("probe-spec.md");
    env.write("probe.md", &spec);
    let notes: String = (0..6).map(|_| format!("{}\n\n", probe(next()))).collect();
    env.write("notes.md", &notes);
    let long_label = format!("v{}", "9".repeat(127));
    for label in ["probe-1.0", "1.0+build.5", long_label.as_str()] {
        env.ok(&[&release(label)[..], &["--notes", "notes.md"]].concat());
    }
    // Hostile labels never make it in.
    for label in [
        "../../x",
        "<script>",
        "a\"b",
        "2025\u{2010}09\u{2010}12",
        "v\u{0435}rsion",
        &"x".repeat(129),
    ] {
        env.fails(&release(label), 2, "invalid version label");
    }
    // Deeply nested Markdown: 100,000 block quotes and 100,000 nested lists.
    env.write(
        "deep.md",
        format!(
            "# Deep {{#deep}}\n\n{} quoted\n\n{}listed\n",
            ">".repeat(100_000),
            "- ".repeat(100_000)
        ),
    );
    env.ok(&[
        "spec",
        "release",
        "deep.md",
        "--version",
        "deep",
        "--signer",
        "policy-team",
    ]);

    // Evaluation results with probes in every free-text field.
    let results = json!({
        "model": {"id": probe(next()), "digest": probe(next())},
        "suite": {"name": probe(next()), "version": probe(next())},
        "harness": {"name": probe(next()), "version": "1"},
        "dataset": {"id": probe(next()), "revision": probe(next()), "commitment": probe(next())},
        "sample_size": 10,
        "date": "2025-06-01",
        "evaluator": probe(next()),
        "relationship": "third-party",
        "results": [
            {"clauses": ["probe"], "metric": probe(next()), "value": 0.5, "comparator": ">=", "threshold": 0.9},
            {"clauses": ["title_probe", "probe"], "metric": probe(next()), "value": 0.95, "comparator": "<=", "threshold": 0.9}
        ]
    });
    env.write("r.json", results.to_string());
    env.ok(&[
        "eval",
        "record",
        "--spec",
        "probe-1.0",
        "--results",
        "r.json",
        "--signer",
        "evals",
    ]);
    env.write(
        "t.json",
        json!({"thresholds": [{"clauses": ["probe"], "metric": probe(next()), "comparator": ">=", "threshold": 0.5}]}).to_string(),
    );
    let suite = format!("{}@{}", probe(next()), probe(next()));
    env.ok(&[
        "eval",
        "preregister",
        "--spec",
        "probe-1.0",
        "--suite",
        &suite,
        "--thresholds",
        "t.json",
        "--signer",
        "evals",
    ]);

    // Incidents: title, summary, reporter, notes, resolution; one confidential, then disclosed.
    let summary = format!("{}\n\n{}", fixture("probe-summary.md"), probe(next()));
    for confidential in [false, true] {
        let (title, reporter) = (probe(next()), probe(next()));
        let mut args = vec![
            "incident",
            "open",
            "--title",
            &title,
            "--severity",
            "high",
            "--summary",
            &summary,
            "--spec",
            "probe-1.0",
            "--clause",
            "title_probe",
            "--aware-at",
            "2020-01-01T00:00:00Z",
            "--reporter",
            &reporter,
            "--signer",
            "desk",
        ];
        if confidential {
            args.push("--confidential");
        }
        env.ok(&args);
    }
    env.ok(&[
        "incident",
        "update",
        "INC-1",
        "--status",
        "mitigated",
        "--note",
        &probe(next()),
        "--signer",
        "desk",
    ]);
    env.ok(&[
        "incident",
        "resolve",
        "INC-1",
        "--resolution",
        &probe(next()),
        "--signer",
        "desk",
    ]);
    env.ok(&["incident", "disclose", "INC-2", "--signer", "desk"]);

    // Witnesses with hostile names, cosigning the checkpoint.
    let wname = tight_probe(next());
    env.ok(&["witness", "init", &wname, "--dir", "w"]);
    env.write("cp.txt", env.ok(&["checkpoint"]));
    let cosig = env.ok(&[
        "witness",
        "cosign",
        "--log",
        "keys/admin.pub",
        "--checkpoint",
        "cp.txt",
        "--dir",
        "w",
    ]);
    env.write("cosig.txt", cosig);
    env.ok(&["witness", "add", &tight_probe(next()), "w/witness.pub"]);
    env.ok(&["checkpoint", "add-cosignature", "cosig.txt"]);
    env.ok(&["verify"]);

    // Build: a hostile title; nothing outside site/ may change.
    let before: Vec<String> = files(env.dir.path()).into_keys().collect();
    let title = probe(next());
    let started = Instant::now();
    env.ok(&[
        "site",
        "build",
        "--out",
        "site",
        "--title",
        &title,
        "--base-url",
        "https://example.org/spec/",
    ]);
    let build_secs = started.elapsed().as_secs_f64();
    assert!(build_secs < 60.0, "build took {build_secs:.1} s");
    let after: Vec<String> = files(env.dir.path())
        .into_keys()
        .filter(|k| !k.starts_with("site/") && !k.ends_with("-wal") && !k.ends_with("-shm"))
        .collect();
    let before: Vec<String> = before
        .into_iter()
        .filter(|k| !k.ends_with("-wal") && !k.ends_with("-shm"))
        .collect();
    assert_eq!(
        before, after,
        "the build wrote outside its output directory"
    );

    let site = files(&env.path("site"));
    let mut pages = 0;
    let mut problems = Vec::new();
    for (rel, bytes) in &site {
        // Paths: one safe segment after another.
        if !rel.split('/').all(|p| {
            !p.is_empty()
                && p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c))
        }) {
            problems.push(format!("{rel}: unsafe path"));
        }
        let text = String::from_utf8_lossy(bytes);
        if rel.ends_with(".html") || rel.ends_with(".atom") {
            pages += u32::from(rel.ends_with(".html"));
            if let Err(e) = check_document(&text, rel.ends_with(".atom")) {
                problems.push(format!("{rel}: {e}"));
            }
            if text.to_ascii_lowercase().contains("<script") {
                problems.push(format!("{rel}: <script"));
            }
        } else if rel.ends_with(".json")
            && let Err(e) = serde_json::from_slice::<serde_json::Value>(bytes)
        {
            problems.push(format!("{rel}: {e}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The probes are shown, escaped, where people look for them.
    let home = String::from_utf8_lossy(&site["index.html"]).into_owned();
    assert!(
        home.contains("alert(") && home.contains("&lt;script&gt;alert(")
            || home.contains("&#60;script&#62;alert("),
        "origin and title are shown, escaped"
    );
    let inc = String::from_utf8_lossy(&site["incidents/INC-2/index.html"]).into_owned();
    assert!(inc.contains("alert("), "the disclosed summary is shown");
    assert!(
        site.keys()
            .any(|k| k.starts_with(&format!("versions/{long_label}/")))
    );
    assert!(site.keys().any(|k| k.starts_with("versions/1.0+build.5/")));
    println!(
        "site attack: {} probes, {pages} pages checked, {} files, build {build_secs:.1} s",
        n,
        site.len()
    );
}

/// Issue 21, break 1: a symbolic link planted at a build's temporary name
/// (here every name an old build used) must not be followed: the key it
/// points to stays intact and the log can still append.
#[cfg(unix)]
#[test]
fn a_link_at_a_temporary_name_overwrites_nothing() {
    let env = Env::new();
    env.init();
    env.ok(&["site", "build"]);
    let key = env.path("keys/admin.key");
    let before = std::fs::read(&key).unwrap();
    for name in [
        ".feed.atom.tmp",
        ".index.html.tmp",
        ".style.css.tmp",
        ".speclog-site.tmp",
        ".speclog-site-model.tmp",
    ] {
        std::os::unix::fs::symlink(&key, env.path("site").join(name)).unwrap();
    }
    env.release("v1", "First.");
    env.ok(&["site", "build"]);
    assert_eq!(
        std::fs::read(&key).unwrap(),
        before,
        "the admin key was overwritten"
    );
    env.release("v2", "Second.");
    env.ok(&["verify"]);
}

/// Issue 21, break 2: a private key or a witness's state anywhere below the
/// site directory is never served, and the site is neither built nor
/// served there.
#[test]
fn private_files_below_the_site_are_refused_and_never_served() {
    let env = Env::new();
    env.init();
    env.ok(&["site", "build"]);
    env.ok(&[
        "witness",
        "init",
        "w.example/w1",
        "--dir",
        "site/deep/witness",
    ]);
    env.write("site/deep/witness/state/x.json", "{}");
    env.fails(&["site", "build"], 2, "deep/witness");
    env.fails(&["site", "serve", "--port", "0"], 2, "deep/witness");
    let root = env.path("site").canonicalize().unwrap();
    for rel in [
        "deep/witness/witness.key",
        "deep/witness/state/x.json",
        "deep/witness/lock",
        "a/b/signer.key.seq3",
    ] {
        assert!(
            speclog::site::serve::private_path(&root, rel),
            "{rel} would be served"
        );
    }
    assert!(!speclog::site::serve::private_path(&root, "index.html"));
    std::fs::create_dir_all(env.path("site/x/y")).unwrap();
    std::fs::rename(env.path("site/deep"), env.path("elsewhere")).unwrap();
    env.write("site/x/y/old.key.seq1", "-----BEGIN PRIVATE KEY-----\n");
    env.fails(&["site", "build"], 2, "x/y/old.key.seq1");
}

/// Issue 21, break 3: a non-empty directory speclog did not build is
/// refused (with how to force it), and a planted manifest cannot make a
/// build delete files: only files whose bytes are still the ones a build
/// wrote are ever removed.
#[test]
fn a_foreign_directory_is_refused_and_a_planted_manifest_deletes_nothing() {
    let env = Env::new();
    env.init();
    env.write("mine/index.html", "my own page");
    env.write("mine/notes.txt", "my notes");
    let err = env.fails(
        &["site", "build", "--out", "mine"],
        2,
        "no speclog build wrote it",
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.path("mine/index.html")).unwrap(),
        "my own page"
    );
    // A planted manifest listing the user's files, with and without digests.
    env.write(
        "mine/.speclog-site",
        format!("notes.txt\t8\t{}\nother.txt\t5\n", "00".repeat(32)),
    );
    env.write("mine/other.txt", "hello");
    env.ok(&["site", "build", "--out", "mine"]);
    assert_eq!(
        std::fs::read_to_string(env.path("mine/notes.txt")).unwrap(),
        "my notes"
    );
    assert_eq!(
        std::fs::read_to_string(env.path("mine/other.txt")).unwrap(),
        "hello"
    );
    // --force builds into a foreign directory and removes nothing of it.
    env.write("theirs/readme.txt", "keep me");
    env.ok(&["site", "build", "--out", "theirs", "--force"]);
    assert!(env.path("theirs/index.html").is_file());
    assert_eq!(
        std::fs::read_to_string(env.path("theirs/readme.txt")).unwrap(),
        "keep me"
    );
    // A file a build wrote and the user then changed is kept when the site
    // no longer has it; one still as written is removed.
    env.ok(&["site", "build", "--out", "fresh"]);
    let m = std::fs::read_to_string(env.path("fresh/.speclog-site")).unwrap();
    let mut planted = m.clone();
    planted.push_str(&format!("zz-changed.txt\t7\t{}\n", sha256_hex(b"written")));
    planted.push_str(&format!("zz-same.txt\t7\t{}\n", sha256_hex(b"written")));
    env.write("fresh/.speclog-site", planted);
    env.write("fresh/zz-changed.txt", "CHANGED");
    env.write("fresh/zz-same.txt", "written");
    // A full build (without the last build's state) removes what it does not write.
    std::fs::remove_file(env.path("fresh/.speclog-site-state")).unwrap();
    env.ok(&["site", "build", "--out", "fresh"]);
    assert!(
        env.path("fresh/zz-changed.txt").is_file(),
        "a changed file was removed"
    );
    assert!(
        !env.path("fresh/zz-same.txt").exists(),
        "a stale file was kept"
    );
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Break 9: bidirectional overrides, isolates, marks, zero-width and
/// invisible format characters in spec text (raw and as Markdown character
/// references), a clause title, release notes, an incident's title, summary,
/// reporter and note must reach no HTML page (nor the feed) raw: each shows as
/// `\u{..}`, as the CLI shows them. The signed text itself (`spec.md`) and
/// the JSON keep the bytes, and the site still verifies.
#[test]
fn bidi_and_zero_width_characters_are_shown_not_obeyed() {
    let env = Env::new();
    env.init();
    let hidden = [
        '\u{202a}',
        '\u{202b}',
        '\u{202c}',
        '\u{202d}',
        '\u{202e}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{200e}',
        '\u{200f}',
        '\u{061c}',
        '\u{200b}',
        '\u{200c}',
        '\u{200d}',
        '\u{2060}',
        '\u{feff}',
        '\u{e0041}',
    ];
    env.write(
        "probe.md",
        "# Spec {#spec}\n\n## Safe\u{202e}txet desrever {#safe}\n\n\
         Pay \u{200b}nobody\u{2066} \u{feff}and \u{061c}\u{200d}ever.\n\n\
         Marks \u{200e}\u{200f}\u{202a}\u{202b}\u{202c}\u{202d}\u{2067}\u{2068}\u{200c}\u{2060}; \
         tags \u{e0041}\u{e0049}; references &#x202E; &#8203; &#xFEFF;.\n\n\
         `code \u{202e}span` and\n\n```\nblock \u{2066}x\u{2069}\n```\n",
    );
    env.write("notes.md", "Notes \u{202e}hidden\u{2069}.\n");
    env.ok(&[
        "spec",
        "release",
        "probe.md",
        "--version",
        "v1",
        "--notes",
        "notes.md",
        "--signer",
        "policy-team",
    ]);
    env.ok(&[
        "incident",
        "open",
        "--title",
        "Title \u{202e}gnol\u{200b}",
        "--severity",
        "low",
        "--summary",
        "Summary \u{2066}x\u{2069}",
        "--reporter",
        "Rep\u{202e}orter",
        "--spec",
        "v1",
        "--aware-at",
        "2025-01-01T00:00:00Z",
        "--signer",
        "policy-team",
    ]);
    env.ok(&[
        "incident",
        "update",
        "INC-1",
        "--status",
        "investigating",
        "--note",
        "Note \u{feff}\u{202d}x",
        "--signer",
        "policy-team",
    ]);
    env.ok(&["site", "build", "--out", "site"]);
    let site = files(&env.path("site"));
    let mut pages = 0;
    for (rel, b) in &site {
        let text = String::from_utf8_lossy(b);
        if rel.ends_with(".html") || rel.ends_with(".atom") {
            pages += 1;
            for c in hidden {
                assert!(
                    !text.contains(c),
                    "{rel} passes U+{:04X} raw to the browser",
                    c as u32
                );
            }
            if rel.ends_with(".html") {
                check_document(&text, false).unwrap_or_else(|e| panic!("{rel}: {e}"));
            }
        }
    }
    assert!(pages > 10, "{pages} pages");
    let version = String::from_utf8_lossy(&site["versions/v1/index.html"]).into_owned();
    for marker in [
        r"\u{202e}",
        r"\u{200b}",
        r"\u{2066}",
        r"\u{feff}",
        r"\u{e0041}",
        r"\u{200e}",
        r"Notes \u{202e}hidden\u{2069}",
    ] {
        assert!(
            version.contains(marker),
            "the version page does not show {marker}"
        );
    }
    let incident = String::from_utf8_lossy(&site["incidents/INC-1/index.html"]).into_owned();
    for marker in [
        r"Title \u{202e}gnol\u{200b}",
        r"Summary \u{2066}x\u{2069}",
        r"Rep\u{202e}orter",
        r"Note \u{feff}\u{202d}x",
    ] {
        assert!(
            incident.contains(marker),
            "the incident page does not show {marker}"
        );
    }
    let clause = String::from_utf8_lossy(&site["clauses/safe/index.html"]).into_owned();
    assert!(
        clause.contains(r"Safe\u{202e}txet desrever"),
        "clause title"
    );
    // The signed bytes stay whole where they are meant to be exact.
    assert!(String::from_utf8_lossy(&site["versions/v1/spec.md"]).contains('\u{202e}'));
    assert!(String::from_utf8_lossy(&site["versions/v1/index.json"]).contains('\u{202e}'));
    // And the site still verifies, every file compared.
    env.ok(&["verify", "--site", "site", "--key", "keys/admin.pub"]);
}

/// Break 10: a 10 MB spec on one line made 39 MB clause pages and 19 MB diff
/// pages that a browser cannot load. Every HTML page now inlines at most
/// 256 KiB of text, says how much it left out and links to `spec.md`; the
/// diff page shows the change inside the long line with its context; the
/// signed text stays whole in `spec.md`; and `verify --site` still passes.
#[test]
fn a_huge_one_line_spec_gives_small_pages() {
    let env = Env::new();
    env.init();
    let words = ["alpha", "beta", "gamma", "delta", "model", "must", "never"];
    let mut line = String::with_capacity(10_100_000);
    let mut i = 0usize;
    while line.len() < 10_000_000 {
        line.push_str(words[(i * 7 + i / 3) % words.len()]);
        line.push(' ');
        i += 1;
    }
    let v1 = format!("{line}\n");
    let mid = line.len() / 2;
    let mid = line[..mid].rfind(' ').unwrap() + 1;
    let v2 = format!("{}SENTINELWORD {}\n", &line[..mid], &line[mid..]);
    env.write("probe.md", &v1);
    env.ok(&release("v1"));
    env.write("probe.md", &v2);
    env.ok(&release("v2"));
    env.ok(&["site", "build", "--out", "site"]);
    let site = files(&env.path("site"));
    let (mut pages, mut biggest) = (0, (0usize, String::new()));
    for (rel, b) in &site {
        if !rel.ends_with(".html") {
            continue;
        }
        pages += 1;
        if b.len() > biggest.0 {
            biggest = (b.len(), rel.clone());
        }
        let text = String::from_utf8_lossy(b);
        check_document(&text, false).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    assert!(pages > 5, "{pages} pages");
    assert!(
        biggest.0 < 512 * 1024,
        "{} is {} bytes: a page must inline at most 256 KiB of text",
        biggest.1,
        biggest.0
    );
    assert_eq!(
        site["versions/v1/spec.md"],
        v1.as_bytes(),
        "spec.md keeps every byte"
    );
    assert_eq!(
        site["versions/v2/spec.md"],
        v2.as_bytes(),
        "spec.md keeps every byte"
    );
    let version = String::from_utf8_lossy(&site["versions/v1/index.html"]).into_owned();
    assert!(
        version.contains("Truncated: "),
        "the version page says it is cut"
    );
    assert!(version.contains("href=\"spec.md\""), "and links to spec.md");
    let diff = String::from_utf8_lossy(&site["versions/v2/diff/index.html"]).into_owned();
    assert!(
        diff.contains("<ins class=\"word\">SENTINELWORD "),
        "the diff page shows the change 5 MB into the line"
    );
    assert!(
        diff.contains("unchanged bytes"),
        "and says what it left out"
    );
    let clause = site
        .iter()
        .find(|(rel, b)| {
            rel.starts_with("clauses/")
                && rel.ends_with("/index.html")
                && String::from_utf8_lossy(b).contains("SENTINELWORD")
        })
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("a clause page shows the change");
    assert!(
        clause.contains("../../versions/v1/spec.md"),
        "the clause page links to spec.md"
    );
    env.ok(&["verify", "--site", "site", "--key", "keys/admin.pub"]);
}
