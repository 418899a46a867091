//! Incremental site builds: after each kind of entry is appended, a rebuild on
//! top of the last build gives exactly the files (every byte, and the set of
//! files) of a build from scratch of the same ledger; and a build whose
//! options changed, or whose ledger does not extend the one the site was
//! built from, falls back to a full build.

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

/// A ledger with fixed keys and times.
fn workspace(dir: &Path) -> Workspace {
    common::fixed_workspace(dir, ORIGIN)
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

fn build(ws: &Workspace, out: &Path, opts: &BuildOptions) -> BuildReport {
    let ledger = ws.open().unwrap();
    site::build(&ledger, out, opts).unwrap()
}

/// Asserts the two directories hold the same files, byte for byte.
fn same_tree(step: &str, inc: &Path, full: &Path) {
    let (a, b) = (files(inc), files(full));
    let only_a: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    let differ: Vec<&String> = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        only_a.is_empty() && only_b.is_empty() && differ.is_empty(),
        "after {step}: only in the incremental build {only_a:?}, only in the full build {only_b:?}, different {differ:?}"
    );
}

struct Run {
    dir: tempfile::TempDir,
    ws: Workspace,
    out: PathBuf,
    steps: usize,
}

impl Run {
    fn new() -> Run {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let out = dir.path().join("site");
        let r = build(&ws, &out, &BuildOptions::default());
        assert!(!r.incremental, "the first build is a full one");
        Run {
            dir,
            ws,
            out,
            steps: 0,
        }
    }

    fn at(&mut self, t: &str) -> &Workspace {
        self.ws.time = Some(t.to_string());
        &self.ws
    }

    /// Rebuilds incrementally and compares with a build from scratch. Every
    /// other step the build writes its model again, which must then equal
    /// the fresh build's byte for byte; in between it keeps the older model,
    /// so the next build extends a model older than the last build.
    fn check(&mut self, step: &str) {
        self.steps += 1;
        let rewrite = self.steps.is_multiple_of(2);
        let opts = BuildOptions {
            model_refresh: Some(if rewrite { 1 } else { u64::MAX }),
            ..BuildOptions::default()
        };
        let model = self.out.join(site::MODEL);
        let before = std::fs::read(&model).unwrap();
        let r = build(&self.ws, &self.out, &opts);
        assert!(r.incremental, "after {step}: not an incremental build");
        assert!(r.kept_model, "after {step}: the kept model was not used");
        let fresh = self.dir.path().join(format!("fresh-{}", self.steps));
        let f = build(&self.ws, &fresh, &BuildOptions::default());
        assert!(!f.incremental);
        assert_eq!(r.files, f.files, "after {step}");
        assert_eq!(r.stats.bytes, f.stats.bytes, "after {step}");
        if !rewrite {
            let kept = std::fs::read(&model).unwrap();
            assert!(kept == before, "after {step}: the model was written again");
            std::fs::copy(fresh.join(site::MODEL), &model).unwrap();
        }
        same_tree(step, &self.out, &fresh);
        if !rewrite {
            std::fs::write(&model, &before).unwrap();
        }
        std::fs::remove_dir_all(&fresh).unwrap();
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

    fn eval(&mut self, t: &str, label: &str, results: &str, prereg: Option<&str>) {
        self.at(t)
            .eval_record(label, &fixture_file(results), "evals-team", prereg)
            .unwrap();
    }
}

fn incident(title: &str, spec: &str, clauses: &[&str], confidential: bool) -> NewIncident {
    NewIncident {
        title: title.into(),
        severity: Severity::High,
        summary: "Answers stated **estimates** as facts; see [?](#express_uncertainty).".into(),
        spec: spec.into(),
        clauses: clauses.iter().map(|c| c.to_string()).collect(),
        aware_at: "2025-04-02T08:00:00Z".into(),
        reporter: Some("external researcher".into()),
        confidential,
    }
}

#[test]
fn incremental_builds_equal_full_builds_after_each_kind_of_entry() {
    let mut r = Run::new();
    r.check("nothing new");
    r.release(
        "2025-01-15T16:00:00Z",
        &example("v1.md"),
        "2025-01-15",
        false,
        &[],
    );
    r.check("the first release");
    r.eval(
        "2025-01-20T10:00:00Z",
        "2025-01-15",
        "results-2025-01-15.json",
        None,
    );
    r.check("an evaluation");
    r.release(
        "2025-03-20T15:30:00Z",
        &example("v2.md"),
        "2025-03-20",
        false,
        &[],
    );
    r.check("a second release, with notes and renamed clauses");
    r.at("2025-03-21T09:00:00Z")
        .eval_preregister(
            "2025-03-20",
            "honesty@1.0",
            &fixture_file("thresholds.json"),
            "evals-team",
        )
        .unwrap();
    r.check("a pre-registration");
    r.eval(
        "2025-03-25T10:00:00Z",
        "2025-03-20",
        "results-2025-03-20.json",
        Some("PREREG-1"),
    );
    r.check("a pre-registered evaluation");
    let inc = incident(
        "Overstated certainty in medical answers",
        "2025-03-20",
        &["express_uncertainty", "do_not_lie"],
        false,
    );
    r.at("2025-04-02T10:00:00Z")
        .incident_open(&inc, "incident-desk")
        .unwrap();
    r.check("an incident opened");
    r.at("2025-04-03T10:00:00Z")
        .incident_update(
            "INC-1",
            Status::Mitigated,
            "Guidance added to the system prompt.",
            "incident-desk",
        )
        .unwrap();
    r.check("an incident update");
    r.release(
        "2025-05-02T12:00:00Z",
        &example("v3.md"),
        "2025-05-02",
        false,
        &["INC-1"],
    );
    r.check("a release that fixes an incident");
    r.at("2025-05-03T12:00:00Z")
        .incident_resolve(
            "INC-1",
            "The 2025-05-02 spec asks for calibrated estimates.",
            Some("2025-05-02"),
            "incident-desk",
        )
        .unwrap();
    r.check("an incident resolved");
    let v3b = r.dir.path().join("v3b.md");
    let text = std::fs::read_to_string(example("v3.md")).unwrap();
    std::fs::write(
        &v3b,
        text.replacen("Do not state things", "Never state things", 1)
            .replacen("# Express uncertainty", "# Express your uncertainty", 1),
    )
    .unwrap();
    r.release("2025-05-04T12:00:00Z", &v3b, "2025-05-02", true, &[]);
    r.check("a revision of a label, retitling a clause");
    r.eval(
        "2025-05-06T10:00:00Z",
        "2025-05-02",
        "results-2025-05-02.json",
        None,
    );
    r.check("an evaluation of the revision");
    let secret = incident(
        "Leaked system prompt",
        "2025-05-02",
        &["protect_privacy"],
        true,
    );
    r.at("2025-05-07T10:00:00Z")
        .incident_open(&secret, "incident-desk")
        .unwrap();
    r.check("a confidential incident");
    r.at("2025-05-08T10:00:00Z")
        .incident_disclose("INC-2", "incident-desk")
        .unwrap();
    r.check("an incident disclosed");
    r.at("2025-05-09T10:00:00Z")
        .key_generate(
            "auditor",
            &["evaluator".to_string()],
            &speclog::app::KeySource::FILE,
        )
        .unwrap();
    r.check("a key generated");
    r.at("2025-05-10T10:00:00Z")
        .key_rotate("auditor", &speclog::app::KeySource::FILE)
        .unwrap();
    r.check("a key rotated");
    r.at("2025-05-11T10:00:00Z")
        .key_revoke("auditor", Some("left the team"))
        .unwrap();
    r.check("a key revoked");
    r.at("2025-05-12T10:00:00Z")
        .policy_set_approvals(&["evaluator".to_string()], 1)
        .unwrap();
    r.check("a policy set");
    let v4 = r.dir.path().join("v4.md");
    std::fs::write(
        &v4,
        format!("{text}\n# Added later {{#added_later}}\n\nNew clause.\n"),
    )
    .unwrap();
    r.release("2025-06-01T12:00:00Z", &v4, "2025-06-01", false, &[]);
    r.check("a release adding a clause");
    r.at("2025-06-02T12:00:00Z")
        .spec_approve("2025-06-01", "evals-team", Some("evaluator"))
        .unwrap();
    r.check("an approval");
    // Several entries at once, spanning a log page.
    for i in 0..105 {
        let t = format!(
            "2025-07-{:02}T{:02}:{:02}:00Z",
            1 + i / 60,
            (i / 60) % 24,
            i % 60
        );
        r.eval(&t, "2025-06-01", "results-2025-05-02.json", None);
    }
    r.check("105 evaluations at once");
    r.eval(
        "2025-08-01T00:00:00Z",
        "2025-06-01",
        "results-2025-05-02.json",
        None,
    );
    r.check("one more evaluation, on the last page of the archive");
    for i in 0..91 {
        let t = format!("2025-08-02T{:02}:{:02}:00Z", i / 60, i % 60);
        r.eval(&t, "2025-06-01", "results-2025-05-02.json", None);
    }
    r.check("evaluations that fill a page of the archive");
    r.eval(
        "2025-08-03T00:00:00Z",
        "2025-06-01",
        "results-2025-05-02.json",
        None,
    );
    r.check("an evaluation that starts a new page of the archive");
    assert!(r.out.join("evaluations/page/3/index.html").exists());
    assert!(!r.out.join("evaluations/page/4/index.html").exists());
    // Past 256 entries: the first entry bundle and level-0 hash tile become
    // full, and the last build's partial tiles go.
    let size = r.ws.open().unwrap().reader().head().unwrap().size;
    assert!(size < 256, "{size}");
    for i in size..260 {
        let t = format!("2025-08-04T{:02}:{:02}:00Z", i / 60 % 24, i % 60);
        r.eval(&t, "2025-06-01", "results-2025-05-02.json", None);
    }
    r.check("entries that fill the first tile");
    assert!(r.out.join("log/tile/entries/000").is_file());
    assert!(r.out.join("log/tile/0/000").is_file());
    assert!(r.out.join("log/tile/entries/001.p/4").is_file());
    // tlog-tiles: the partial tiles of every checkpoint stay until their full
    // tile exists. Entries 256 to 259 were appended one at a time, each with
    // its checkpoint, so tile 1 has partials of widths 1 to 4 at level 0.
    for w in 1..=4 {
        assert!(r.out.join(format!("log/tile/entries/001.p/{w}")).is_file());
        assert!(r.out.join(format!("log/tile/0/001.p/{w}")).is_file());
    }
    assert!(r.out.join("log/tile/1/000.p/1").is_file());
    // Tile 0 is full: none of its partials is left.
    assert!(!r.out.join("log/tile/0/000.p").exists());
    assert!(!r.out.join("log/tile/entries/000.p").exists());
}

#[test]
fn changed_options_or_another_ledger_mean_a_full_build() {
    let mut r = Run::new();
    r.release(
        "2025-01-15T16:00:00Z",
        &example("v1.md"),
        "2025-01-15",
        false,
        &[],
    );
    r.check("a release");

    // Another title: a full build, equal to one from scratch.
    let titled = BuildOptions {
        title: Some("Another title".into()),
        ..BuildOptions::default()
    };
    let b = build(&r.ws, &r.out, &titled);
    assert!(!b.incremental, "a changed title must rebuild everything");
    let fresh = r.dir.path().join("fresh-titled");
    build(&r.ws, &fresh, &titled);
    same_tree("a changed title", &r.out, &fresh);
    // Another base URL, likewise.
    let based = BuildOptions {
        base_url: Some("https://example.org/spec/".into()),
        ..titled.clone()
    };
    assert!(!build(&r.ws, &r.out, &based).incremental);
    assert!(build(&r.ws, &r.out, &based).incremental);

    // Another ledger of the same origin that does not extend the built one.
    let other_dir = tempfile::tempdir().unwrap();
    let mut other = workspace(other_dir.path());
    other.time = Some("2025-02-01T00:00:00Z".into());
    other
        .release_spec(
            &example("v2.md"),
            "other",
            "policy-team",
            None,
            false,
            vec![],
        )
        .unwrap();
    let ledger = other.open().unwrap();
    assert!(
        ledger.reader().head().unwrap().size >= r.ws.open().unwrap().reader().head().unwrap().size
    );
    let b = site::build(&ledger, &r.out, &based).unwrap();
    assert!(
        !b.incremental,
        "a ledger that does not extend the site's must rebuild everything"
    );
    let fresh = r.dir.path().join("fresh-other");
    site::build(&ledger, &fresh, &based).unwrap();
    same_tree("another ledger", &r.out, &fresh);

    // A damaged state file, or none: a full build.
    std::fs::write(r.out.join(site::STATE), "{").unwrap();
    assert!(!site::build(&ledger, &r.out, &based).unwrap().incremental);
    std::fs::remove_file(r.out.join(site::STATE)).unwrap();
    assert!(!site::build(&ledger, &r.out, &based).unwrap().incremental);
    assert!(site::build(&ledger, &r.out, &based).unwrap().incremental);
    same_tree("state rebuilt", &r.out, &fresh);

    // A kept model that is damaged, cut short or gone: the build reads the
    // whole ledger instead, is still incremental, and writes a good one.
    let model = r.out.join(site::MODEL);
    let good = std::fs::read(&model).unwrap();
    assert!(good.len() > 100, "a build keeps its model");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    for (what, bad) in [
        ("flipped", flipped),
        ("cut short", good[..good.len() - 5].to_vec()),
        ("garbage", vec![0xff; 4096]),
        ("empty", Vec::new()),
    ] {
        std::fs::write(&model, &bad).unwrap();
        let b = site::build(&ledger, &r.out, &based).unwrap();
        assert!(b.incremental && !b.kept_model, "{what}");
        same_tree(what, &r.out, &fresh);
    }
    std::fs::remove_file(&model).unwrap();
    let b = site::build(&ledger, &r.out, &based).unwrap();
    assert!(b.incremental && !b.kept_model);
    same_tree("model removed", &r.out, &fresh);
    assert!(site::build(&ledger, &r.out, &based).unwrap().kept_model);
}
