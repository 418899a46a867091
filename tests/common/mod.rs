//! Shared helpers for CLI tests: a temp workspace and the real `speclog` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary directory holding `ledger/` and `keys/`.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh `speclog` command run in the temp dir with a clean environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("speclog").unwrap();
        c.current_dir(self.dir.path())
            .env_remove("SPECLOG_LEDGER")
            .env_remove("SPECLOG_KEYS")
            .env_remove("SPECLOG_PASSPHRASE")
            .env_remove("SPECLOG_TIME")
            .env_remove("SPECLOG_WITNESS")
            .env("NO_COLOR", "1");
        c
    }

    /// Runs speclog with args and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "speclog {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs speclog with args, asserts exit `code` and that stderr contains `needle`.
    pub fn fails(&self, args: &[&str], code: i32, needle: &str) -> String {
        let out = self.cmd().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "speclog {args:?}: {err}");
        assert!(
            err.contains(needle),
            "speclog {args:?}: want {needle:?} in {err:?}"
        );
        assert!(!err.contains("panicked"), "panic: {err}");
        err
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn write(&self, p: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(p);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&path, data).unwrap();
        path
    }

    pub fn db(&self) -> PathBuf {
        self.path("ledger/ledger.sqlite")
    }

    pub fn db_bytes(&self) -> Vec<u8> {
        std::fs::read(self.db()).unwrap()
    }

    /// init + a key named `policy-team`.
    pub fn init(&self) {
        self.ok(&["init", "--origin", "example.org/model-spec"]);
        self.ok(&["key", "generate", "policy-team"]);
    }

    /// init + a key named `policy-team`, both recorded at `time`.
    pub fn init_at(&self, time: &str) {
        self.ok(&["init", "--origin", "example.org/model-spec", "--time", time]);
        self.ok(&["key", "generate", "policy-team", "--time", time]);
    }
}

impl Env {
    /// Signs a small spec release `label` (text `body`) by `policy-team`.
    pub fn release(&self, label: &str, body: &str) {
        let f = format!("{label}.md");
        self.write(&f, format!("# Spec {{#spec}}\n\n{body}\n"));
        self.ok(&[
            "spec",
            "release",
            &f,
            "--version",
            label,
            "--signer",
            "policy-team",
        ]);
    }

    /// A copy of this workspace's ledger and keys in a new temp directory:
    /// from here on the two logs can diverge.
    pub fn fork(&self) -> Env {
        let other = Env::new();
        for d in ["ledger", "keys"] {
            copy_dir(&self.path(d), &other.path(d));
        }
        other
    }
}

/// Copies the files of a directory (not recursive), keeping permissions.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if !e.file_type().unwrap().is_file() {
            continue;
        }
        let dst = to.join(e.file_name());
        std::fs::copy(e.path(), &dst).unwrap();
        let perm = std::fs::metadata(e.path()).unwrap().permissions();
        std::fs::set_permissions(&dst, perm).unwrap();
    }
}

/// The shared OpenAI Model Spec data directory beside the repo.
pub fn shared_versions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openai-model-spec/versions")
}

/// (label, file) of each release in INDEX.tsv order; the `-rev2` file is a revision.
pub fn shared_releases() -> Vec<(String, PathBuf, bool)> {
    let dir = shared_versions();
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("../shared data present");
    index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let name = l.split('\t').next().unwrap().to_string();
            let (label, rev) = match name.strip_suffix("-rev2") {
                Some(base) => (base.to_string(), true),
                None => (name.clone(), false),
            };
            (label, dir.join(format!("{name}.md")), rev)
        })
        .collect()
}

/// An in-process workspace in `dir` with fixed keys (seeds 1..=4) and a fixed
/// time: `admin` (the log key of `origin`), and `policy-team` (spec-owner),
/// `evals-team` (evaluator) and `incident-desk` (incident-responder), so a
/// ledger built through it is the same bytes every run.
pub fn fixed_workspace(dir: &Path, origin: &str) -> speclog::app::Workspace {
    use ed25519_dalek::SigningKey;
    use speclog::keys::Passphrase;
    use speclog::ledger::{Ledger, OpenOptions};
    let key = |n: u8| SigningKey::from_bytes(&[n; 32]);
    let mut ws = speclog::app::Workspace::new(dir.join("ledger"), dir.join("keys"));
    ws.time = Some("2025-01-10T09:00:00Z".into());
    ws.keys
        .write("admin", origin, &key(1), &Passphrase::None)
        .unwrap();
    Ledger::init(
        &ws.ledger_dir,
        origin,
        &key(1),
        ws.time.as_deref(),
        OpenOptions::default(),
    )
    .unwrap();
    for (name, role, k) in [
        ("policy-team", "spec-owner", 2),
        ("evals-team", "evaluator", 3),
        ("incident-desk", "incident-responder", 4),
    ] {
        let (_, public) = ws
            .keys
            .write(name, name, &key(k), &Passphrase::None)
            .unwrap();
        ws.key_register(name, &public, &[role.to_string()]).unwrap();
    }
    ws
}
