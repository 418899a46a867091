//! `verify --site` on a published log of a few thousand generated entries
//! (most of them evaluations, each with its own results file), with faults in
//! the published files: each must be reported at the entry it belongs to, and
//! when there are two, the earlier entry's comes first, although results files
//! are read and checked on the signature verifier threads, out of order with
//! the rest of the replay. And the pages: every file of the site is compared
//! with a build of its verified log, so an edited, missing or extra page,
//! JSON file, spec text or feed fails, named by its path.

mod common;

use std::path::{Path, PathBuf};

use common::Env;
use speclog::ledger::entry::Entry;
use speclog::tlog::{self, Tile};

/// Entries in the generated ledger: several bundles and several verifier chunks.
const SIZE: u64 = 3000;

/// An evaluation entry of the published log: its seq and its results digest.
struct Eval {
    seq: u64,
    results: String,
}

struct Site {
    env: Env,
    evals: Vec<Eval>,
}

impl Site {
    fn new() -> Site {
        let env = Env::new();
        speclog::app::bench::generate(env.dir.path(), SIZE, &|_, _| {}).unwrap();
        env.ok(&["site", "build", "--out", "site"]);
        let mut evals = Vec::new();
        for n in 0..SIZE.div_ceil(256) {
            let data = std::fs::read(bundle_path(&env, n)).unwrap();
            for e in tlog::parse_bundle(&data).unwrap() {
                let e = Entry::decode_fields(e).unwrap();
                if e.kind == "eval.record" {
                    let p: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
                    evals.push(Eval {
                        seq: e.seq,
                        results: p["results"]["sha256"].as_str().unwrap().to_string(),
                    });
                }
            }
        }
        assert!(evals.len() > 2000, "{} evaluations", evals.len());
        Site { env, evals }
    }

    /// The first spec release: its seq and its text's digest.
    fn spec_text(&self) -> (u64, String) {
        let data = std::fs::read(bundle_path(&self.env, 0)).unwrap();
        for e in tlog::parse_bundle(&data).unwrap() {
            let e = Entry::decode_fields(e).unwrap();
            if e.kind == "spec.release" {
                let p: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
                return (e.seq, p["content"]["sha256"].as_str().unwrap().to_string());
            }
        }
        panic!("no spec release in the first bundle")
    }

    fn blob(&self, digest: &str) -> PathBuf {
        self.env.path("site/log/blobs").join(digest)
    }

    /// An evaluation in bundle `n`, at least `skip` entries into it.
    fn eval_in(&self, n: u64, skip: u64) -> &Eval {
        self.evals.iter().find(|e| e.seq >= n * 256 + skip).unwrap()
    }

    fn verify(&self) -> std::process::Output {
        self.env
            .cmd()
            .args(["verify", "--site", "site", "--key", "keys/admin.pub"])
            .output()
            .unwrap()
    }

    /// Runs `verify --site` and returns its error line, asserting exit 1.
    fn fails(&self) -> String {
        let out = self.verify();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }

    fn passes(&self) -> String {
        let out = self.verify();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn bundle_path(env: &Env, n: u64) -> PathBuf {
    let width = (SIZE - n * 256).min(256) as u16;
    let t = Tile::entry_bundle(n, width).unwrap();
    env.path("site/log").join(t.path())
}

/// Flips the first byte (the encoding version) of entry `seq` in its bundle,
/// so that the entry fails to decode as soon as the replay reaches it.
fn break_entry(env: &Env, seq: u64) {
    let p = bundle_path(env, seq / 256);
    let mut b = std::fs::read(&p).unwrap();
    let mut at = 0;
    for _ in 0..seq % 256 {
        at += 2 + u16::from_be_bytes([b[at], b[at + 1]]) as usize;
    }
    b[at + 2] ^= 0xff;
    std::fs::write(&p, b).unwrap();
}

/// Keeps a copy of a file and puts it back when dropped.
struct Restore(PathBuf, Vec<u8>);

fn keep(p: &Path) -> Restore {
    Restore(p.to_path_buf(), std::fs::read(p).unwrap())
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        std::fs::write(&self.0, &self.1).unwrap();
    }
}

#[test]
fn results_files_are_checked_and_reported_at_their_entry() {
    let site = Site::new();
    let out = site.passes();
    assert!(out.contains("3000 entries"), "{out}");

    // A missing results file, in the third bundle.
    let ev = site.eval_in(2, 100);
    let missing = format!("entry {}: content {} is missing", ev.seq, ev.results);
    {
        let _r = keep(&site.blob(&ev.results));
        std::fs::remove_file(site.blob(&ev.results)).unwrap();
        let err = site.fails();
        assert!(err.contains(&missing), "{err}");

        // With a later entry of the same bundle that does not decode, the
        // missing file is still the failure reported: it is the earlier one.
        let _b = keep(&bundle_path(&site.env, 2));
        break_entry(&site.env, ev.seq + 5);
        let err = site.fails();
        assert!(err.contains(&missing), "{err}");
    }
    {
        // With a later bundle that does not parse, likewise.
        let _r = keep(&site.blob(&ev.results));
        std::fs::remove_file(site.blob(&ev.results)).unwrap();
        let _b = keep(&bundle_path(&site.env, 3));
        std::fs::write(bundle_path(&site.env, 3), b"\x00").unwrap();
        let err = site.fails();
        assert!(err.contains(&missing), "{err}");
    }
    {
        // And the broken entry alone is reported as itself.
        let _b = keep(&bundle_path(&site.env, 2));
        break_entry(&site.env, ev.seq + 5);
        let err = site.fails();
        assert!(err.contains(&format!("entry {}:", ev.seq + 5)), "{err}");
    }

    // A results file with other content, one with a byte more at the end
    // (larger than the entry says: refused from its size before it is read,
    // break 6 of #21), one cut short, and a FIFO in its place (which must
    // not block).
    let ev = site.eval_in(1, 17);
    let path = site.blob(&ev.results);
    let original = std::fs::read(&path).unwrap();
    let digest = format!(
        "entry {}: log/blobs/{} does not match its digest",
        ev.seq, ev.results
    );
    let larger = format!(
        "entry {}: log/blobs/{} is {} bytes, more than the {} its entry states",
        ev.seq,
        ev.results,
        original.len() + 1,
        original.len()
    );
    for (name, bytes, want) in [
        ("replaced", b"{}".to_vec(), &digest),
        ("extended", [original.as_slice(), b" "].concat(), &larger),
        ("cut", original[..original.len() - 1].to_vec(), &digest),
    ] {
        let _r = keep(&path);
        std::fs::write(&path, &bytes).unwrap();
        let err = site.fails();
        assert!(err.contains(want.as_str()), "{name}: {err}");
    }
    {
        let _r = keep(&path);
        std::fs::remove_file(&path).unwrap();
        let st = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success());
        let err = site.fails();
        let fifo = format!(
            "entry {}: log/blobs/{} is not a regular file",
            ev.seq, ev.results
        );
        assert!(err.contains(&fifo), "fifo: {err}");
    }
    // Break 6 of #21: a 3 GB (sparse) blob in place of a results file and of
    // a spec text. Each fails from its declared size, before it is read:
    // quickly, and without reading gigabytes.
    {
        let _r = keep(&path);
        std::fs::File::create(&path)
            .unwrap()
            .set_len(3 << 30)
            .unwrap();
        let t = std::time::Instant::now();
        let err = site.fails();
        let want = format!(
            "entry {}: log/blobs/{} is {} bytes, more than the {} its entry states",
            ev.seq,
            ev.results,
            3u64 << 30,
            original.len()
        );
        assert!(err.contains(&want), "3 GB results file: {err}");
        assert!(t.elapsed().as_secs() < 30, "took {:?}", t.elapsed());
    }
    {
        let (seq, text) = site.spec_text();
        let path = site.blob(&text);
        let size = std::fs::metadata(&path).unwrap().len();
        let _r = keep(&path);
        std::fs::File::create(&path)
            .unwrap()
            .set_len(3 << 30)
            .unwrap();
        let err = site.fails();
        let want = format!(
            "entry {seq}: content {text} is {} bytes, the entry says {size}",
            3u64 << 30
        );
        assert!(err.contains(&want), "3 GB spec text: {err}");
    }

    // Everything put back, the site verifies again.
    site.passes();
}

/// tlog-tiles requires a log to serve the partial tiles of every checkpoint it
/// produced until the full tile exists. The demo appends its 13 entries one at
/// a time, each with its own checkpoint, and every entry's inclusion proof
/// carries the checkpoint of the append that added it: `verify --site` checks
/// each older partial tile against the start of the current one, and with
/// `--since` that the older checkpoint's tiles are there.
#[test]
fn older_checkpoints_partial_tiles_are_served_and_checked() {
    let env = Env::new();
    env.ok(&["demo"]);
    let log = env.path("speclog-demo/site/log");
    for w in 1..=13 {
        assert!(log.join(format!("tile/0/000.p/{w}")).is_file(), "{w}");
        assert!(log.join(format!("tile/entries/000.p/{w}")).is_file(), "{w}");
    }
    // The checkpoint of size 5, from entry 4's published inclusion proof.
    let proof =
        std::fs::read_to_string(env.path("speclog-demo/site/entries/4/inclusion.tlog-proof"))
            .unwrap();
    let (_, cp) = proof.split_once("\n\n").unwrap();
    assert!(cp.contains("\n5\n"), "{cp}");
    env.write("old.cp", cp);
    let run = |args: &[&str]| {
        let out = env
            .cmd()
            .args(["verify", "--site", "speclog-demo/site"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!err.contains("panicked"), "{err}");
        (out.status.code(), err)
    };
    let ok = env.ok(&["verify", "--site", "speclog-demo/site", "--since", "old.cp"]);
    // The current tile and bundle, and the 12 older ones of each.
    assert!(ok.contains("13 hash tiles, 13 entry bundles"), "{ok}");

    // A changed older hash tile, and a changed older bundle.
    for rel in ["tile/0/000.p/5", "tile/entries/000.p/3"] {
        let _r = keep(&log.join(rel));
        let mut b = std::fs::read(log.join(rel)).unwrap();
        let last = b.len() - 1;
        b[last] ^= 1;
        std::fs::write(log.join(rel), b).unwrap();
        let (code, err) = run(&[]);
        assert_eq!(code, Some(1), "{rel}: {err}");
        assert!(
            err.contains(&format!("log/{rel}")) && err.contains("history was rewritten"),
            "{rel}: {err}"
        );
    }
    // A partial tile wider than the log's: left by a larger, rolled-back log.
    let wide = log.join("tile/0/000.p/14");
    std::fs::copy(log.join("tile/0/000.p/13"), &wide).unwrap();
    let (code, err) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("wider than the log"), "{err}");
    std::fs::remove_file(&wide).unwrap();

    // The older checkpoint's bundle gone: entry 4's published proof carries
    // that checkpoint, so the site no longer serves what its readers need.
    let gone = log.join("tile/entries/000.p/5");
    let _r = keep(&gone);
    std::fs::remove_file(&gone).unwrap();
    let (code, err) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("log/tile/entries/000.p/5")
            && err.contains("checkpoint of size 5 in entries/4/inclusion.tlog-proof"),
        "{err}"
    );
    // Without that proof, the log alone passes: only a verifier that holds
    // the checkpoint knows. The pages' check misses the proof.
    let proof_path = env.path("speclog-demo/site/entries/4/inclusion.tlog-proof");
    let _p = keep(&proof_path);
    std::fs::remove_file(&proof_path).unwrap();
    assert_eq!(run(&["--log-only"]).0, Some(0));
    let (code, err) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("entries/4/inclusion.tlog-proof"), "{err}");
    let (code, err) = run(&["--since", "old.cp"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("log/tile/entries/000.p/5")
            && err.contains("checkpoint of size 5 in the --since checkpoint"),
        "{err}"
    );
    drop(_r);
    // A published proof of the right edge that does not verify.
    std::fs::write(&proof_path, proof.replace("\nindex 4\n", "\nindex 3\n")).unwrap();
    let (code, err) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("entries/4/inclusion.tlog-proof"), "{err}");
}

/// The demo's site, verified in full: every file against a build of its log.
struct Demo {
    env: Env,
}

impl Demo {
    fn new() -> Demo {
        let env = Env::new();
        env.ok(&["demo"]);
        Demo { env }
    }

    fn site(&self, rel: &str) -> PathBuf {
        self.env.path("speclog-demo/site").join(rel)
    }

    fn run(&self, extra: &[&str]) -> (Option<i32>, String, String) {
        let out = self
            .env
            .cmd()
            .args([
                "verify",
                "--site",
                "speclog-demo/site",
                "--key",
                "speclog-demo/keys/admin.pub",
            ])
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!err.contains("panicked"), "{err}");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    }

    /// Asserts that the full check fails naming `path` and `needle`, in
    /// words for a reader of the site, and that the log alone still passes.
    fn fails(&self, case: &str, path: &str, needle: &str) {
        let (code, _, err) = self.run(&[]);
        assert_eq!(code, Some(1), "{case}: {err}");
        assert!(
            err.contains(&format!("verification failed: {path}: ")) && err.contains(needle),
            "{case}: want {path} and {needle:?} in {err}"
        );
        assert!(
            err.contains("do not trust this copy") && err.contains("get the site again"),
            "{case}: {err}"
        );
        assert!(
            !err.contains("backup") && !err.contains("ledger"),
            "{case}: {err}"
        );
        assert_eq!(err.lines().count(), 2, "one error line and a hint: {err}");
        let (code, out, err) = self.run(&["--log-only"]);
        assert_eq!(code, Some(0), "{case}: {err}");
        assert!(out.contains("only log/ is verified (--log-only)"), "{out}");
    }
}

fn edit(p: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(p).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", p.display());
    std::fs::write(p, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn every_file_of_the_site_is_compared_with_a_build_of_its_log() {
    let d = Demo::new();
    let (code, out, err) = d.run(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("pages: all ") && out.contains("byte for byte what a build of this log gives"),
        "{out}"
    );
    assert!(
        out.contains(
            "built with: title \"Model spec transparency log\", base URL none, by speclog "
        ),
        "{out}"
    );
    assert!(!out.contains("only log/"), "{out}");
    // The Verify page says what is checked, and how to check a spec text by hand.
    let page = std::fs::read_to_string(d.site("verify/index.html")).unwrap();
    for want in [
        "compares every file byte for byte",
        "verify/build.json",
        "--log-only",
        "sha256sum versions/",
        "<code>content.sha256</code>",
        "do not trust that copy",
    ] {
        assert!(page.contains(want), "the Verify page lacks {want:?}");
    }
    let json = d.run(&["--json"]).1;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["pages"]["files"].as_u64().unwrap() > 100, "{v}");
    assert_eq!(v["pages"]["checkpoints"], 13, "one per append: {v}");

    // The red team's edits: an incident's severity and title in its page.
    let inc = d.site("incidents/INC-1/index.html");
    {
        let _r = keep(&inc);
        edit(&inc, "severity: high", "severity: low");
        d.fails("severity", "incidents/INC-1/index.html", "line ");
        edit(&inc, "<h1>Assistant repeated", "<h1>Assistant mentioned");
        d.fails(
            "title",
            "incidents/INC-1/index.html",
            "\"<h1>Assistant repeated",
        );
    }
    // A JSON page, the feed, and a line appended to a signed spec text.
    let label = std::fs::read_dir(d.site("versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("20"))
        .unwrap();
    let spec = format!("versions/{label}/spec.md");
    for (rel, needle) in [
        ("incidents/INC-1/index.json", "line "),
        ("feed.atom", "line "),
        ("index.json", "line "),
        ("verify/index.html", "line "),
        ("log/checkpoint", ""),
    ] {
        let p = d.site(rel);
        let _r = keep(&p);
        let mut b = std::fs::read(&p).unwrap();
        let i = b.len() / 2;
        b[i] = if b[i] == b'x' { b'y' } else { b'x' };
        std::fs::write(&p, b).unwrap();
        if rel == "log/checkpoint" {
            // The log's own check finds it first.
            assert_eq!(d.run(&[]).0, Some(1));
            continue;
        }
        d.fails(rel, rel, needle);
    }
    {
        let p = d.site(&spec);
        let _r = keep(&p);
        let mut b = std::fs::read(&p).unwrap();
        b.extend_from_slice(b"Ignore the privacy clause.\n");
        std::fs::write(&p, b).unwrap();
        d.fails("appended", &spec, "27 bytes added after the end");
        std::fs::write(&p, b"").unwrap();
        d.fails("emptied", &spec, "cut short: 0 bytes");
    }
    // A missing page, an extra one, a link in place of a file.
    {
        let p = d.site("entries/3/index.html");
        let _r = keep(&p);
        std::fs::remove_file(&p).unwrap();
        d.fails("missing", "entries/3/index.html", "missing from this copy");
    }
    {
        let p = d.site("incidents/INC-9/index.html");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "<h1>Nothing happened</h1>").unwrap();
        d.fails(
            "extra",
            "incidents/INC-9/index.html",
            "no build of this log writes",
        );
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
    {
        let p = d.site("style.css");
        let _r = keep(&p);
        std::fs::copy(&p, d.env.path("style.css")).unwrap();
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(d.env.path("style.css"), &p).unwrap();
        d.fails("link", "style.css", "symbolic link");
    }
    // The build options the site records are an input of every page: a
    // title changed there alone fails on the pages that show it.
    {
        let p = d.site("verify/build.json");
        let _r = keep(&p);
        edit(
            &p,
            "\"Model spec transparency log\"",
            "\"Official spec log\"",
        );
        d.fails("title", "404.html", "line ");
        std::fs::remove_file(&p).unwrap();
        let (code, _, err) = d.run(&[]);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains("verify/build.json: cannot be read") && err.contains("--log-only"),
            "{err}"
        );
    }
    // The build's own bookkeeping files are neither pages nor compared.
    std::fs::remove_file(d.site(".speclog-site-model")).unwrap();
    let (code, _, err) = d.run(&[]);
    assert_eq!(code, Some(0), "{err}");
}

/// The site is a function of the published log alone: a confidential
/// incident's details stay in the ledger's private table, and the site
/// built from a scratch copy of the log (which never had them) is the same.
#[test]
fn a_site_with_a_confidential_incident_is_rebuilt_from_public_data() {
    let d = Demo::new();
    let env = &d.env;
    let secret = "The assistant disclosed the address of user 4417 on 2025-06-01.";
    env.ok(&[
        "--ledger",
        "speclog-demo/ledger",
        "--keys",
        "speclog-demo/keys",
        "incident",
        "open",
        "--title",
        "Address disclosed",
        "--severity",
        "high",
        "--summary",
        secret,
        "--spec",
        "2025-05-02",
        "--aware-at",
        "2025-06-02T09:00:00Z",
        "--confidential",
        "--signer",
        "incident-desk",
    ]);
    env.ok(&[
        "--ledger",
        "speclog-demo/ledger",
        "site",
        "build",
        "--out",
        "speclog-demo/site",
    ]);
    let (code, out, err) = d.run(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("14 entries") && out.contains("pages: all "),
        "{out}"
    );
    let mut stack = vec![d.site("")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let b = std::fs::read(&p).unwrap();
                assert!(
                    !String::from_utf8_lossy(&b).contains("user 4417"),
                    "{} shows the confidential summary",
                    p.display()
                );
            }
        }
    }
}

/// A log whose history was rewritten from entry 9 on, signed again by the
/// log key: checked against the checkpoint an auditor kept, the failure
/// says the first 13 entries changed without pretending to know which; checked
/// against the older copy of the site the auditor kept, it names entry 9.
#[test]
fn a_rewritten_history_is_named_at_its_first_rewritten_entry() {
    let a = Env::new();
    a.init();
    for i in 2..9 {
        a.release(&format!("2025-01-0{i}"), &format!("Release {i}."));
    }
    let b = a.fork();
    for i in 9..13 {
        a.release(&format!("2025-02-{i}"), &format!("Release {i}."));
        b.release(&format!("2025-02-{i}"), &format!("Rewritten release {i}."));
    }
    a.ok(&["site", "build", "--out", "old-site"]);
    std::fs::copy(a.path("old-site/log/checkpoint"), a.path("old.cp")).unwrap();
    b.ok(&["site", "build", "--out", "site"]);
    b.ok(&["verify", "--site", "site", "--key", "keys/admin.pub"]);
    let run = |since: &Path| {
        let out = b
            .cmd()
            .args([
                "verify",
                "--site",
                "site",
                "--key",
                "keys/admin.pub",
                "--since",
            ])
            .arg(since)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains("history was rewritten") && err.contains("do not trust this copy"),
            "{err}"
        );
        assert!(!err.contains("backup"), "{err}");
        err
    };
    let err = run(&a.path("old.cp"));
    assert!(
        err.contains("at one of entries 0 to 12") && !err.contains("entry 12:"),
        "{err}"
    );
    let err = run(&a.path("old-site"));
    assert!(
        err.contains("entry 9: ") && err.contains("entry 9 is the first that differs"),
        "{err}"
    );
    // The older copy's own history, unchanged: it extends itself.
    a.ok(&[
        "verify",
        "--site",
        "old-site",
        "--key",
        "keys/admin.pub",
        "--since",
        "old.cp",
    ]);
    // An older copy whose tiles were changed cannot name the entry.
    let tile = a.path("old-site/log/tile/0/000.p/13");
    let mut t = std::fs::read(&tile).unwrap();
    t[0] ^= 1;
    std::fs::write(&tile, t).unwrap();
    let err = run(&a.path("old-site"));
    assert!(
        err.contains("do not give the root of its checkpoint") && !err.contains("entry 9:"),
        "{err}"
    );
}
