//! The transparency site: a real small ledger built through the library,
//! rendered into a temp dir. Golden pages (UPDATE_GOLDEN=1 to refresh),
//! determinism, incremental rebuilds, XSS probes, the serve command and the
//! real OpenAI Model Spec history.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use speclog::app::{NewIncident, Workspace};
use speclog::governance::incident::{Severity, Status};
use speclog::site::{self, BuildOptions, BuildReport};

const ORIGIN: &str = "example.org/model-spec";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_file(name: &str) -> PathBuf {
    manifest().join("tests/browser/fixtures").join(name)
}

fn example(name: &str) -> PathBuf {
    manifest().join("examples/spec").join(name)
}

/// A ledger with fixed keys and times, so every byte of it is reproducible.
struct Fixture {
    dir: tempfile::TempDir,
    ws: Workspace,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let ws = common::fixed_workspace(dir.path(), ORIGIN);
        Fixture { dir, ws }
    }

    fn at(&mut self, t: &str) -> &Workspace {
        self.ws.time = Some(t.to_string());
        &self.ws
    }

    fn release(&mut self, t: &str, file: &Path, label: &str, revision: bool, fixes: &[&str]) {
        let notes = (label == "2025-03-20").then(|| fixture_file("notes.md"));
        self.at(t)
            .release_spec(
                file,
                label,
                "policy-team",
                notes.as_deref(),
                revision,
                fixes.iter().map(|s| s.to_string()).collect(),
            )
            .unwrap();
    }

    fn eval(&mut self, t: &str, label: &str, prereg: Option<&str>) {
        let results = fixture_file(&format!("results-{label}.json"));
        self.at(t)
            .eval_record(label, &results, "evals-team", prereg)
            .unwrap();
    }

    /// Three releases with notes, evaluations (one pre-registered), an incident
    /// fixed by a release, and a re-release of a label with new content.
    fn governed() -> Fixture {
        let mut f = Fixture::new();
        f.release(
            "2025-01-15T16:00:00Z",
            &example("v1.md"),
            "2025-01-15",
            false,
            &[],
        );
        f.eval("2025-01-20T10:00:00Z", "2025-01-15", None);
        f.release(
            "2025-03-20T15:30:00Z",
            &example("v2.md"),
            "2025-03-20",
            false,
            &[],
        );
        f.at("2025-03-21T09:00:00Z")
            .eval_preregister(
                "2025-03-20",
                "honesty@1.0",
                &fixture_file("thresholds.json"),
                "evals-team",
            )
            .unwrap();
        f.eval("2025-03-25T10:00:00Z", "2025-03-20", Some("PREREG-1"));
        let inc = NewIncident {
            title: "Overstated certainty in medical answers".into(),
            severity: Severity::High,
            summary: "Answers about dosages stated **estimates** as facts; see [?](#express_uncertainty).".into(),
            spec: "2025-03-20".into(),
            clauses: vec!["express_uncertainty".into(), "do_not_lie".into()],
            aware_at: "2025-04-02T08:00:00Z".into(),
            reporter: Some("external researcher".into()),
            confidential: false,
        };
        f.at("2025-04-02T10:00:00Z")
            .incident_open(&inc, "incident-desk")
            .unwrap();
        f.at("2025-04-03T10:00:00Z")
            .incident_update(
                "INC-1",
                Status::Mitigated,
                "Guidance added to the system prompt.",
                "incident-desk",
            )
            .unwrap();
        f.release(
            "2025-05-02T12:00:00Z",
            &example("v3.md"),
            "2025-05-02",
            false,
            &["INC-1"],
        );
        f.at("2025-05-03T12:00:00Z")
            .incident_resolve(
                "INC-1",
                "The 2025-05-02 spec asks for calibrated estimates.",
                Some("2025-05-02"),
                "incident-desk",
            )
            .unwrap();
        let v3b = f.dir.path().join("v3b.md");
        let text = std::fs::read_to_string(example("v3.md")).unwrap();
        std::fs::write(
            &v3b,
            text.replacen("Do not state things", "Never state things", 1),
        )
        .unwrap();
        f.release("2025-05-04T12:00:00Z", &v3b, "2025-05-02", true, &[]);
        f.eval("2025-05-06T10:00:00Z", "2025-05-02", None);
        f
    }

    fn build(&self, out: &Path) -> BuildReport {
        let ledger = self.ws.open().unwrap();
        site::build(&ledger, out, &BuildOptions::default()).unwrap()
    }
}

/// Every tag (`<...>`) of an HTML text, lower-cased. Escaped text holds no `<`.
fn tags(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let end = rest[i..].find('>').map(|j| i + j + 1).unwrap_or(rest.len());
        out.push(rest[i..end].to_ascii_lowercase());
        rest = &rest[end..];
    }
    out
}

/// Every file under `dir`, relative path to bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn builds_every_page_with_its_json() {
    let f = Fixture::governed();
    let out = f.dir.path().join("site");
    let r = f.build(&out);
    assert_eq!(r.releases, 4);
    let all = files(&out);
    for page in [
        "index.html",
        "versions/index.html",
        "versions/2025-01-15/index.html",
        "versions/2025-03-20/index.html",
        "versions/2025-03-20/diff/index.html",
        "versions/2025-05-02/index.html",
        "versions/2025-05-02/r2/index.html",
        "versions/2025-05-02/r2/diff/index.html",
        "clauses/index.html",
        "clauses/do_not_lie/index.html",
        "clauses/ignore_untrusted_data/index.html",
        "evaluations/index.html",
        "evaluations/EVAL-1/index.html",
        "evaluations/EVAL-3/index.html",
        "incidents/index.html",
        "incidents/INC-1/index.html",
        "entries/index.html",
        "entries/0/index.html",
        "keys/index.html",
        "verify/index.html",
    ] {
        assert!(all.contains_key(page), "{page} missing");
        let json = page.replace("index.html", "index.json");
        let v: serde_json::Value = serde_json::from_slice(&all[&json]).unwrap();
        assert!(v.is_object(), "{json}");
    }
    assert!(all.contains_key("404.html") && all.contains_key("style.css"));
    assert!(all.contains_key("feed.atom"));
    // The exact signed text, for sha256sum.
    assert_eq!(
        all["versions/2025-01-15/spec.md"],
        std::fs::read(example("v1.md")).unwrap()
    );
    assert_eq!(
        all["evaluations/EVAL-1/results.json"],
        std::fs::read(fixture_file("results-2025-01-15.json")).unwrap()
    );
    // Every entry has a page and a C2SP tlog-proof file.
    let n = r.entries;
    for seq in 0..n {
        let proof = read(&out, &format!("entries/{seq}/inclusion.tlog-proof"));
        assert!(proof.starts_with("c2sp.org/tlog-proof@v1\n"), "{proof}");
        assert!(proof.contains(&format!("\nindex {seq}\n")));
        assert!(proof.contains(ORIGIN));
    }
    assert_eq!(
        r.pages as usize,
        all.keys().filter(|k| k.ends_with(".html")).count()
    );
    // Every page has the CSP, the skip link, one h1 and a main landmark, and no inline style or script.
    for (k, v) in &all {
        if !k.ends_with(".html") {
            continue;
        }
        let h = String::from_utf8_lossy(v);
        assert!(
            h.contains("Content-Security-Policy\" content=\"default-src 'self'"),
            "{k}"
        );
        assert!(h.contains("<main id=\"s:main\""), "{k}");
        assert!(h.contains("class=\"skip\""), "{k}");
        assert_eq!(h.matches("<h1").count(), 1, "{k}");
        assert!(
            !h.contains("<script") && !h.contains(" style=") && !h.contains("<style"),
            "{k}"
        );
    }
}

#[test]
fn pages_show_what_the_issue_asks_for() {
    let f = Fixture::governed();
    let out = f.dir.path().join("site");
    f.build(&out);
    let home = read(&out, "index.html");
    assert!(home.contains("2025-05-02 (revision 2)"), "current version");
    assert!(home.contains("Signed checkpoint") && home.contains("How to verify"));
    assert!(home.contains("Latest evaluations") && home.contains("EVAL-3"));
    // The re-release is flagged on both releases of the label.
    let first = read(&out, "versions/2025-05-02/index.html");
    assert!(
        first.contains("This release was superseded"),
        "superseded flag"
    );
    assert!(first.contains("versions/2025-05-02/r2/index.html"));
    let rev = read(&out, "versions/2025-05-02/r2/index.html");
    assert!(rev.contains("This is a re-release"), "re-release flag");
    // Clause anchors and the diff against the previous release.
    let v2 = read(&out, "versions/2025-03-20/index.html");
    assert!(v2.contains("<h3 id=\"do_not_lie\">"), "clause anchor");
    assert!(v2.contains("Release notes") && v2.contains("<em>Avoid sycophancy</em>"));
    let diff = read(&out, "versions/2025-03-20/diff/index.html");
    assert!(diff.contains("Renamed clauses") && diff.contains("ignore_untrusted_inputs"));
    assert!(
        diff.contains("<ins") || diff.contains("<del"),
        "highlighted text"
    );
    let rdiff = read(&out, "versions/2025-05-02/r2/diff/index.html");
    assert!(rdiff.contains("Never") && rdiff.contains("change-do_not_lie"));
    // The incident: timeline, fixing release and its diff.
    let inc = read(&out, "incidents/INC-1/index.html");
    for want in [
        "Overstated certainty in medical answers",
        "severity: high",
        "opened",
        "mitigated",
        "resolved",
        "versions/2025-05-02/index.html",
        "versions/2025-05-02/diff/index.html",
        "clauses/express_uncertainty/index.html",
    ] {
        assert!(inc.contains(want), "incident page lacks {want}");
    }
    let v3 = read(&out, "versions/2025-05-02/index.html");
    assert!(v3.contains("Incidents that led to this version") && v3.contains("INC-1"));
    // Evaluations: pre-registration, outcomes, and one SVG chart per metric.
    let ev = read(&out, "evaluations/EVAL-2/index.html");
    assert!(ev.contains("Pre-registered thresholds") && ev.contains("PREREG-1"));
    assert!(ev.contains("0.962") && ev.contains("value &#62;= 0.95"));
    let evals = read(&out, "evaluations/index.html");
    assert_eq!(evals.matches("<svg ").count(), 2, "one chart per metric");
    assert!(evals.contains("honesty_rate") && evals.contains("calibration_error"));
    // Clause pages: text through every version, evaluations and incidents naming it.
    let c = read(&out, "clauses/do_not_lie/index.html");
    assert!(
        c.contains("Text through every version") && c.contains("EVAL-1") && c.contains("INC-1")
    );
    let gone = read(&out, "clauses/ignore_untrusted_data/index.html");
    assert!(
        gone.contains("Renamed to"),
        "rename noted on the old clause"
    );
    // Keys and the verification page.
    let keys = read(&out, "keys/index.html");
    assert!(keys.contains("incident-desk") && keys.contains("incident-responder"));
    let verify = read(&out, "verify/index.html");
    assert!(verify.contains("speclog verify --site") && verify.contains("tlog-proof"));
}

#[test]
fn confidential_incident_details_are_withheld() {
    let mut f = Fixture::governed();
    let inc = NewIncident {
        title: "Confidential report".into(),
        severity: Severity::Medium,
        summary: "SECRET DETAILS about a partner".into(),
        spec: "2025-05-02".into(),
        clauses: vec![],
        aware_at: "2025-06-01T08:00:00Z".into(),
        reporter: None,
        confidential: true,
    };
    f.at("2025-06-01T10:00:00Z")
        .incident_open(&inc, "incident-desk")
        .unwrap();
    let out = f.dir.path().join("site");
    f.build(&out);
    let page = read(&out, "incidents/INC-2/index.html");
    assert!(page.contains("Details withheld"));
    for (k, v) in files(&out) {
        assert!(
            !String::from_utf8_lossy(&v).contains("SECRET DETAILS"),
            "confidential text in {k}"
        );
    }
    let home = read(&out, "index.html");
    assert!(home.contains("Open incidents") && home.contains("INC-2"));
}

fn golden_dir() -> PathBuf {
    manifest().join("tests/golden/site")
}

#[test]
fn golden_pages() {
    let f = Fixture::governed();
    let out = f.dir.path().join("site");
    f.build(&out);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failed = Vec::new();
    for page in [
        "index.html",
        "versions/index.html",
        "versions/2025-03-20/diff/index.html",
        "incidents/INC-1/index.html",
        "evaluations/EVAL-2/index.html",
        "evaluations/index.json",
        "feed.atom",
    ] {
        let got = read(&out, page);
        let path = golden_dir().join(page);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            failed.push(format!("{page} differs from line {}", line + 1));
        }
    }
    assert!(
        failed.is_empty(),
        "{failed:?}; if the change is intended, run UPDATE_GOLDEN=1 cargo test --test site golden"
    );
}

#[test]
fn deterministic_builds() {
    let a = Fixture::governed();
    let b = Fixture::governed();
    let (oa, ob) = (a.dir.path().join("site"), b.dir.path().join("site"));
    a.build(&oa);
    b.build(&ob);
    // Two ledgers built the same way, and the same ledger built twice, give the same bytes.
    let fa = files(&oa);
    assert_eq!(fa, files(&ob));
    let again = a.dir.path().join("site2");
    a.build(&again);
    assert_eq!(fa, files(&again));
}

#[test]
fn incremental_rebuild_writes_only_changed_files() {
    let mut f = Fixture::governed();
    let out = f.dir.path().join("site");
    let first = f.build(&out);
    assert_eq!(first.stats.written.len() as u64, first.files);
    let again = f.build(&out);
    assert!(again.stats.written.is_empty(), "{:?}", again.stats.written);
    assert_eq!(again.stats.unchanged, first.files);

    // Append one release: its pages, the lists that name it and the log's tail
    // change; old inclusion proofs do not (each is pinned to the first
    // checkpoint that held its entry).
    let before = files(&out);
    let v4 = f.dir.path().join("v4.md");
    let text = std::fs::read_to_string(example("v3.md")).unwrap();
    std::fs::write(
        &v4,
        format!("{text}\n# Added later {{#added_later}}\n\nNew clause.\n"),
    )
    .unwrap();
    f.release("2025-07-01T12:00:00Z", &v4, "2025-07-01", false, &[]);
    let r = f.build(&out);
    let after = files(&out);
    if let Some(dump) = std::env::var_os("SITE_DUMP") {
        for (tag, m) in [("before", &before), ("after", &after)] {
            for (k, v) in m.iter() {
                let p = Path::new(&dump).join(tag).join(k);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, v).unwrap();
            }
        }
    }
    let changed: Vec<&String> = after
        .iter()
        .filter(|(k, _)| ![site::MANIFEST, site::STATE, site::MODEL].contains(&k.as_str()))
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    let mut written = r.stats.written.clone();
    written.sort();
    let mut changed_sorted: Vec<String> = changed.iter().map(|s| s.to_string()).collect();
    changed_sorted.sort();
    assert_eq!(
        written, changed_sorted,
        "written = exactly the changed files"
    );
    assert!(r.incremental);
    assert_eq!(r.stats.unchanged as usize, after.len() - 3 - written.len());
    let n = r.entries as usize;
    let proofs = written
        .iter()
        .filter(|w| w.ends_with(".tlog-proof"))
        .count();
    assert_eq!(proofs, 1, "only the new entry's proof is written");
    assert!(written.contains(&format!("entries/{}/inclusion.tlog-proof", n - 1)));
    let pages: Vec<&String> = written
        .iter()
        .filter(|w| w.ends_with(".html") || w.ends_with(".json"))
        .collect();
    // Old version pages, old entry pages, incident and evaluation pages are untouched.
    for same in [
        "versions/2025-01-15/index.html",
        "versions/2025-03-20/diff/index.html",
        "entries/3/index.html",
        "incidents/INC-1/index.html",
        "evaluations/EVAL-1/index.html",
        "clauses/ignore_untrusted_data/index.html",
        "keys/index.html",
    ] {
        assert!(!written.iter().any(|w| w == same), "{same} rewritten");
    }
    for new in [
        "versions/2025-07-01/index.html",
        "versions/2025-07-01/diff/index.html",
        "clauses/added_later/index.html",
        "index.html",
        "feed.atom",
    ] {
        assert!(written.iter().any(|w| w == new), "{new} not written");
    }
    eprintln!(
        "append one release: {} files written ({} pages/json, {proofs} proofs), {} unchanged",
        written.len(),
        pages.len(),
        r.stats.unchanged
    );
    assert!(
        pages.len() < 60,
        "too many pages rewritten: {}",
        pages.len()
    );
}

#[test]
fn hostile_input_renders_inert() {
    let mut f = Fixture::new();
    f.release(
        "2025-02-01T00:00:00Z",
        &fixture_file("probe-spec.md"),
        "probe-1.0",
        false,
        &[],
    );
    f.at("2025-06-02T00:00:00Z")
        .eval_record(
            "probe-1.0",
            &fixture_file("probe-results.json"),
            "evals-team",
            None,
        )
        .unwrap();
    let summary = std::fs::read_to_string(fixture_file("probe-summary.md")).unwrap();
    let inc = NewIncident {
        title: "<script>alert('title')</script> \"quoted\" <img src=x onerror=alert(1)>".into(),
        severity: Severity::Critical,
        summary,
        spec: "probe-1.0".into(),
        clauses: vec!["title_probe".into()],
        aware_at: "2025-06-02T00:00:00Z".into(),
        reporter: Some("<b onclick=alert('rep')>x</b>".into()),
        confidential: false,
    };
    f.at("2025-06-02T01:00:00Z")
        .incident_open(&inc, "incident-desk")
        .unwrap();
    f.at("2025-06-02T02:00:00Z")
        .incident_update(
            "INC-1",
            Status::Investigating,
            "<script>alert('note')</script> [x](javascript:alert('note-link'))",
            "incident-desk",
        )
        .unwrap();
    let out = f.dir.path().join("site");
    f.build(&out);
    let mut html_pages = 0;
    for (k, v) in files(&out) {
        let s = String::from_utf8_lossy(&v).to_string();
        if k.ends_with(".html") {
            html_pages += 1;
            for t in tags(&s) {
                let name: String = t
                    .trim_start_matches('<')
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                assert!(
                    ![
                        "script", "img", "iframe", "style", "form", "object", "embed", "input"
                    ]
                    .contains(&name.as_str()),
                    "<{name}> in {k}: {t}"
                );
                let attrs = t.replace(['\n', '\t'], " ");
                assert!(
                    !attrs
                        .split(' ')
                        .skip(1)
                        .any(|a| a.starts_with("on") && a.contains('=')),
                    "event handler in {k}: {t}"
                );
                for url in ["href=\"", "src=\"", "action=\""] {
                    if let Some(i) = attrs.find(url) {
                        let v = attrs[i + url.len()..].trim_start();
                        assert!(
                            !v.starts_with("javascript:") && !v.starts_with("data:"),
                            "unsafe URL in {k}: {t}"
                        );
                    }
                }
            }
        }
        if k == "feed.atom" {
            assert!(!s.to_ascii_lowercase().contains("<script"), "feed");
        }
    }
    assert!(html_pages > 10);
    // The probes are shown, escaped, not dropped silently.
    let inc = read(&out, "incidents/INC-1/index.html");
    assert!(inc.contains("&#60;script&#62;alert") || inc.contains("&lt;script&gt;alert"));
    let v = read(&out, "versions/probe-1.0/index.html");
    assert!(
        v.contains("&lt;script&gt;alert(\"block\")"),
        "raw HTML shown as code"
    );
}

#[test]
fn output_paths_stay_inside_and_stale_files_go() {
    let f = Fixture::governed();
    let out = f.dir.path().join("site");
    f.build(&out);
    // A file an earlier build wrote and this one does not is removed; others' files stay.
    std::fs::write(out.join("mine.txt"), "not the site's").unwrap();
    let manifest = out.join(site::MANIFEST);
    let mut m = std::fs::read_to_string(&manifest).unwrap();
    // As an earlier build lists a file it wrote: path, length, SHA-256.
    let stale = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"stale"))
    };
    m.push_str(&format!(
        "old/page/index.html\t5\t{stale}\n../outside.txt\n"
    ));
    // A line without a digest (as a planted manifest might have) removes nothing.
    m.push_str("zz/planted.txt\t4\n");
    std::fs::create_dir_all(out.join("zz")).unwrap();
    std::fs::write(out.join("zz/planted.txt"), "mine").unwrap();
    std::fs::write(&manifest, m).unwrap();
    std::fs::create_dir_all(out.join("old/page")).unwrap();
    std::fs::write(out.join("old/page/index.html"), "stale").unwrap();
    std::fs::write(f.dir.path().join("outside.txt"), "keep").unwrap();
    let r = f.build(&out);
    assert_eq!(r.stats.removed, ["old/page/index.html"]);
    assert!(!out.join("old").exists());
    assert!(out.join("mine.txt").exists());
    assert!(out.join("zz/planted.txt").exists());
    assert!(f.dir.path().join("outside.txt").exists());
}

#[test]
fn cli_build_and_serve() {
    let f = Fixture::governed();
    let bin = assert_cmd::cargo::cargo_bin("speclog");
    let out = f.dir.path().join("site");
    let run = std::process::Command::new(&bin)
        .args(["--ledger"])
        .arg(&f.ws.ledger_dir)
        .args(["-v", "site", "build", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("pages") && stdout.contains("written"),
        "{stdout}"
    );
    assert!(stdout.contains("wrote "), "-v lists files: {stdout}");
    let again = std::process::Command::new(&bin)
        .arg("--ledger")
        .arg(&f.ws.ledger_dir)
        .args(["site", "build", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 written"));

    // The whole published site verifies offline, and so does one inclusion proof.
    let site = std::process::Command::new(&bin)
        .args(["verify", "--site"])
        .arg(&out)
        .args([
            "--key",
            std::fs::read_to_string(f.ws.keys.public_path("admin").unwrap())
                .unwrap()
                .trim(),
        ])
        .output()
        .unwrap();
    assert!(
        site.status.success(),
        "verify --site: {}{}",
        String::from_utf8_lossy(&site.stdout),
        String::from_utf8_lossy(&site.stderr)
    );
    // A published inclusion proof verifies with `speclog verify --proof`.
    let key = std::fs::read_to_string(f.ws.keys.public_path("admin").unwrap()).unwrap();
    let proof = std::process::Command::new(&bin)
        .args(["verify", "--proof"])
        .arg(out.join("entries/5/inclusion.tlog-proof"))
        .args(["--key", key.trim()])
        .output()
        .unwrap();
    assert!(
        proof.status.success(),
        "verify --proof: {}{}",
        String::from_utf8_lossy(&proof.stdout),
        String::from_utf8_lossy(&proof.stderr)
    );

    let mut child = std::process::Command::new(&bin)
        .args([
            "site",
            "serve",
            "--port",
            "0",
            "--max-requests",
            "3",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let get = |path: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut r = String::new();
        s.read_to_string(&mut r).unwrap();
        r
    };
    let home = get("/");
    assert!(home.starts_with("HTTP/1.1 200") && home.contains("Signed checkpoint"));
    assert!(get("/versions/..%2f..%2f..%2fetc/passwd").starts_with("HTTP/1.1 400"));
    assert!(get("/nope/").starts_with("HTTP/1.1 404"));
    assert!(child.wait().unwrap().success());
}

/// The real OpenAI Model Spec history (../shared, read at test time): every
/// version and every diff renders, the revision is flagged.
#[test]
fn real_model_spec_history() {
    let dir = manifest().join("../shared/data/openai-model-spec/versions");
    let Ok(index) = std::fs::read_to_string(dir.join("INDEX.tsv")) else {
        eprintln!("skipped: ../shared data missing");
        return;
    };
    let mut f = Fixture::new();
    let mut labels = Vec::new();
    for (i, line) in index.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let name = line.split('\t').next().unwrap();
        let (label, rev) = match name.strip_suffix("-rev2") {
            Some(b) => (b, true),
            None => (name, false),
        };
        let t = format!("2025-02-{:02}T12:00:00Z", i + 1);
        f.release(&t, &dir.join(format!("{name}.md")), label, rev, &[]);
        labels.push((label.to_string(), rev));
    }
    let out = f.dir.path().join("site");
    let started = std::time::Instant::now();
    let r = f.build(&out);
    eprintln!(
        "real history: {} pages, {} files, {} bytes in {:?}",
        r.pages,
        r.files,
        r.stats.bytes,
        started.elapsed()
    );
    assert_eq!(r.releases, 6);
    let mut rev_seen = false;
    for (i, (label, rev)) in labels.iter().enumerate() {
        let d = if *rev {
            rev_seen = true;
            format!("versions/{label}/r2/")
        } else {
            format!("versions/{label}/")
        };
        let page = read(&out, &format!("{d}index.html"));
        assert!(page.contains("id=\"overview\""), "{d}");
        if i > 0 {
            let diff = read(&out, &format!("{d}diff/index.html"));
            assert!(diff.contains("Changes in"), "{d}");
        }
    }
    assert!(rev_seen);
    let rev = read(&out, "versions/2025-12-18/r2/diff/index.html");
    assert!(rev.contains("change-be_rationally_optimistic"));
    let first = read(&out, "versions/2025-12-18/index.html");
    assert!(first.contains("This release was superseded"));
    let renamed = read(&out, "versions/2025-09-12/diff/index.html");
    assert!(renamed.contains("protect_privileged_information"));
    // Cross-references written as [?](#id) get the clause title.
    let latest = read(&out, "versions/2025-12-18/r2/index.html");
    assert!(!latest.contains(">?</a>"), "unfilled cross-reference");
    assert!(
        out.join("clauses/be_rationally_optimistic/index.html")
            .is_file()
    );
}
