//! `verify --site` on a published log of a few thousand generated entries
//! (most of them evaluations, each with its own results file), with faults in
//! the published files: each must be reported at the entry it belongs to, and
//! when there are two, the earlier entry's comes first, although results files
//! are read and checked on the signature verifier threads, out of order with
//! the rest of the replay.

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
    // (larger than the entry says, so the read must go on past the size
    // expected), one cut short, and a FIFO in its place (which must not block).
    let ev = site.eval_in(1, 17);
    let path = site.blob(&ev.results);
    let original = std::fs::read(&path).unwrap();
    let digest = format!(
        "entry {}: log/blobs/{} does not match its digest",
        ev.seq, ev.results
    );
    for (name, bytes) in [
        ("replaced", b"{}".to_vec()),
        ("extended", [original.as_slice(), b" "].concat()),
        ("cut", original[..original.len() - 1].to_vec()),
    ] {
        let _r = keep(&path);
        std::fs::write(&path, &bytes).unwrap();
        let err = site.fails();
        assert!(err.contains(&digest), "{name}: {err}");
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
        assert!(err.contains(&digest), "fifo: {err}");
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
    // Without that proof, only a verifier that holds the checkpoint knows.
    let proof_path = env.path("speclog-demo/site/entries/4/inclusion.tlog-proof");
    let _p = keep(&proof_path);
    std::fs::remove_file(&proof_path).unwrap();
    assert_eq!(run(&[]).0, Some(0));
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
