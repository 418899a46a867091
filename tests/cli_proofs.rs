//! Inclusion and consistency proofs as files, checked offline by the real binary.

mod common;

use common::Env;

fn ledger_with(n: usize) -> Env {
    let env = Env::new();
    env.init();
    for i in 0..n {
        env.write(
            &format!("s{i}.md"),
            format!("# Spec {{#spec}}\n\nVersion {i}.\n"),
        );
        env.ok(&[
            "spec",
            "release",
            &format!("s{i}.md"),
            "--version",
            &format!("v{i}"),
            "--signer",
            "policy-team",
        ]);
    }
    env
}

#[test]
fn inclusion_proof_verifies_offline_and_rejects_tampering() {
    let env = ledger_with(5);
    for r in ["0", "3", "6"] {
        let p = env.ok(&["prove", "inclusion", r]);
        assert!(p.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{p}");
        env.write("p.proof", &p);
        let ok = env.ok(&["verify", "--proof", "p.proof", "--key", "keys/admin.pub"]);
        assert!(ok.starts_with(&format!("ok: entry {r} ")), "{ok}");
    }
    let p = env.ok(&["prove", "inclusion", "3"]);
    // Flip one character of each proof-hash line in turn: always rejected.
    let lines: Vec<&str> = p.lines().collect();
    let hash_lines: Vec<usize> = (3..lines.len())
        .take_while(|&i| !lines[i].is_empty())
        .collect();
    assert!(hash_lines.len() >= 2);
    for &i in &hash_lines {
        let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        let c = if l[i].starts_with('A') { "B" } else { "A" };
        l[i].replace_range(0..1, c);
        env.write("bad.proof", l.join("\n") + "\n");
        env.fails(
            &["verify", "--proof", "bad.proof", "--key", "keys/admin.pub"],
            1,
            "inclusion proof does not verify",
        );
    }
    // Another entry file than the one proven.
    let other = env.ok(&["prove", "inclusion", "2"]);
    let extra = other
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("extra ")
        .unwrap()
        .to_string();
    use base64::Engine;
    let entry2 = base64::engine::general_purpose::STANDARD
        .decode(extra)
        .unwrap();
    env.write("entry2.bin", entry2);
    env.write("p3.proof", &p);
    env.fails(
        &[
            "verify",
            "--proof",
            "p3.proof",
            "--entry",
            "entry2.bin",
            "--key",
            "keys/admin.pub",
        ],
        1,
        "differs from the entry in the proof",
    );
    // The wrong key: not the log's.
    env.fails(
        &[
            "verify",
            "--proof",
            "p3.proof",
            "--key",
            "keys/policy-team.pub",
        ],
        1,
        "proof checkpoint",
    );
    env.fails(
        &["verify", "--proof", "p3.proof"],
        2,
        "needs the log's verifier key",
    );
    // Truncated proof file.
    env.write("trunc.proof", &p[..p.len() / 2]);
    env.fails(
        &[
            "verify",
            "--proof",
            "trunc.proof",
            "--key",
            "keys/admin.pub",
        ],
        1,
        "proof",
    );
}

#[test]
fn consistency_proof_verifies_and_detects_a_fork() {
    let env = ledger_with(3);
    let old = env.ok(&["checkpoint"]);
    env.write("old.cp", &old);
    // A copy of the ledger diverges from here.
    let fork = Env::new();
    copy_dir(&env.path("ledger"), &fork.path("ledger"));
    copy_dir(&env.path("keys"), &fork.path("keys"));

    for i in 3..7 {
        env.write(
            &format!("s{i}.md"),
            format!("# Spec {{#spec}}\n\nVersion {i}.\n"),
        );
        env.ok(&[
            "spec",
            "release",
            &format!("s{i}.md"),
            "--version",
            &format!("v{i}"),
            "--signer",
            "policy-team",
        ]);
    }
    let p = env.ok(&["prove", "consistency", "5"]);
    env.write("c.proof", &p);
    let ok = env.ok(&[
        "verify",
        "--proof",
        "c.proof",
        "--since",
        "old.cp",
        "--key",
        "keys/admin.pub",
    ]);
    assert!(ok.contains("extends its checkpoint of size 5"), "{ok}");
    env.fails(
        &["verify", "--proof", "c.proof", "--key", "keys/admin.pub"],
        1,
        "--since",
    );
    env.fails(
        &["prove", "consistency", "99"],
        2,
        "larger than the new size",
    );

    // The fork appends different entries; the fork's own old checkpoint still
    // verifies against its proofs, but the main log's checkpoint does not.
    fork.write("f.md", "# Forked {#spec}\n\nSomething else.\n");
    fork.ok(&[
        "spec",
        "release",
        "f.md",
        "--version",
        "forked",
        "--signer",
        "policy-team",
    ]);
    let fork_head = fork.ok(&["checkpoint"]);
    env.write("fork.cp", &fork_head);
    let size: u64 = fork_head.lines().nth(1).unwrap().parse().unwrap();
    let p = env.ok(&["prove", "consistency", &size.to_string()]);
    env.write("c2.proof", &p);
    env.fails(
        &[
            "verify",
            "--proof",
            "c2.proof",
            "--since",
            "fork.cp",
            "--key",
            "keys/admin.pub",
        ],
        1,
        "consistency proof does not verify",
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        std::fs::copy(e.path(), &dst).unwrap();
        let perm = std::fs::metadata(e.path()).unwrap().permissions();
        std::fs::set_permissions(&dst, perm).unwrap();
    }
}

#[test]
fn published_proofs_of_full_tiles_are_pinned_and_never_rewritten() {
    let env = Env::new();
    env.init();
    // 300 releases in one batch: the log also signs the tree at the 256 boundary.
    let ws = speclog::app::Workspace::new(env.path("ledger"), env.path("keys"));
    let mut ledger = ws.open_write().unwrap();
    let src = speclog::governance::GitSource {
        commit: "0".repeat(40),
        path: "spec.md".into(),
        author_date: "2025-01-01T00:00:00Z".into(),
        committer: "a <a@example.org>".into(),
        subject: "s".into(),
    };
    let rels = (0..300)
        .map(|i| {
            (
                format!("v{i}"),
                format!("# S {{#s}}\n\n{i}\n"),
                false,
                src.clone(),
            )
        })
        .collect();
    ws.append_batch_releases(&mut ledger, "policy-team", rels)
        .unwrap();
    drop(ledger);
    let cps: serde_json::Value = serde_json::from_str(&env.ok(&["verify", "--json"])).unwrap();
    assert_eq!(
        cps["checkpoints"], 4,
        "init, key, the 256 boundary and the end"
    );

    env.ok(&["site", "build", "--out", "site"]);
    let p10 = std::fs::read(env.path("site/entries/10/inclusion.tlog-proof")).unwrap();
    let text = String::from_utf8(p10.clone()).unwrap();
    assert!(
        text.contains("\nexample.org/model-spec\n256\n"),
        "pinned to the tile boundary: {text}"
    );
    let p290 = std::fs::read(env.path("site/entries/290/inclusion.tlog-proof")).unwrap();
    assert!(String::from_utf8_lossy(&p290).contains("\nexample.org/model-spec\n302\n"));

    env.write("x.md", "# X {#s}\n\nmore\n");
    env.ok(&[
        "spec",
        "release",
        "x.md",
        "--version",
        "x",
        "--signer",
        "policy-team",
    ]);
    env.ok(&["site", "build", "--out", "site"]);
    assert_eq!(
        p10,
        std::fs::read(env.path("site/entries/10/inclusion.tlog-proof")).unwrap()
    );
    // An entry past the last full tile is pinned too: to the first checkpoint
    // that held it (302, the end of the batch), so its proof is not rewritten either.
    assert_eq!(
        p290,
        std::fs::read(env.path("site/entries/290/inclusion.tlog-proof")).unwrap()
    );
    for e in ["10", "290"] {
        let ok = env.ok(&[
            "verify",
            "--proof",
            &format!("site/entries/{e}/inclusion.tlog-proof"),
            "--key",
            "keys/admin.pub",
        ]);
        assert!(ok.starts_with(&format!("ok: entry {e} ")), "{ok}");
    }
    env.ok(&["verify", "--site", "site", "--key", "keys/admin.pub"]);
}
