//! `speclog import git` on the real OpenAI Model Spec repository (a git bundle in ../shared).

mod common;

use common::Env;

fn clone_bundle(env: &Env) -> std::path::PathBuf {
    let bundle = common::shared_versions().join("../model_spec.bundle");
    let dst = env.path("model_spec");
    let st = std::process::Command::new("git")
        .args(["clone", "-q"])
        .arg(&bundle)
        .arg(&dst)
        .status()
        .expect("git runs");
    assert!(st.success());
    dst
}

#[test]
fn imports_six_releases_five_labels_and_is_idempotent() {
    let env = Env::new();
    env.init();
    let repo = clone_bundle(&env);
    let r = repo.to_str().unwrap();
    let out = env.ok(&[
        "import",
        "git",
        r,
        "--path",
        "model_spec.md",
        "--signer",
        "policy-team",
        "--json",
    ]);
    let rep: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rep["released"], 5);
    assert_eq!(rep["revisions"], 1);
    let commits = rep["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 6);
    assert_eq!(commits[5]["label"], "2025-12-18");
    assert_eq!(commits[5]["action"], "revision");

    // The revision supersedes the first 2025-12-18 and records its git source.
    let e: serde_json::Value =
        serde_json::from_str(&env.ok(&["show", &commits[5]["seq"].to_string(), "--json"])).unwrap();
    assert_eq!(e["payload"]["supersedes"]["seq"], commits[4]["seq"]);
    assert_eq!(
        e["payload"]["source"]["commit"],
        "8d2405d4e9a5143c5355f50482394ebd12fe898c"
    );
    assert_eq!(
        e["payload"]["source"]["author_date"],
        "2025-12-18T12:18:07-08:00"
    );
    assert!(
        e["payload"]["source"]["committer"]
            .as_str()
            .unwrap()
            .contains('@')
    );

    // The content is byte-identical to the release texts in INDEX.tsv order.
    for ((_, file, _), c) in common::shared_releases().iter().zip(commits) {
        use sha2::Digest;
        let want = hex::encode(sha2::Sha256::digest(std::fs::read(file).unwrap()));
        let e: serde_json::Value =
            serde_json::from_str(&env.ok(&["show", &c["seq"].to_string(), "--json"])).unwrap();
        assert_eq!(e["payload"]["content"]["sha256"], want);
    }

    let before = env.db_bytes();
    let again = env.ok(&[
        "import",
        "git",
        r,
        "--path",
        "model_spec.md",
        "--signer",
        "policy-team",
        "--json",
    ]);
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["released"], 0);
    assert_eq!(again["skipped"], 6);
    assert_eq!(before, env.db_bytes(), "re-import changed the ledger");
    env.ok(&["verify"]);
}

#[test]
fn label_regex_since_and_bad_inputs() {
    let env = Env::new();
    env.init();
    let repo = clone_bundle(&env);
    let r = repo.to_str().unwrap();
    let before = env.db_bytes();
    env.fails(
        &[
            "import",
            "git",
            r,
            "--path",
            "nope.md",
            "--signer",
            "policy-team",
        ],
        2,
        "no commit in",
    );
    env.fails(
        &[
            "import",
            "git",
            r,
            "--path",
            "../x",
            "--signer",
            "policy-team",
        ],
        2,
        "invalid --path",
    );
    env.fails(
        &[
            "import",
            "git",
            r,
            "--path",
            "model_spec.md",
            "--signer",
            "policy-team",
            "--label-from",
            "(",
        ],
        2,
        "invalid --label-from regex",
    );
    env.fails(
        &[
            "import",
            "git",
            r,
            "--path",
            "model_spec.md",
            "--signer",
            "policy-team",
            "--label-from",
            "^Nope (.*)",
        ],
        2,
        "gives no label",
    );
    env.fails(
        &[
            "import",
            "git",
            "/nonexistent",
            "--path",
            "model_spec.md",
            "--signer",
            "policy-team",
        ],
        2,
        "git log failed",
    );
    env.fails(
        &[
            "import",
            "git",
            r,
            "--path",
            "model_spec.md",
            "--signer",
            "ghost",
        ],
        2,
        "no private key",
    );
    assert_eq!(before, env.db_bytes());

    // --since: only what came after the third release; labels from a regex.
    let out = env.ok(&[
        "import",
        "git",
        r,
        "--path",
        "model_spec.md",
        "--signer",
        "policy-team",
        "--since",
        "49e51d7fbe0c210d4c37718e645baa5e9b3464b3",
        "--label-from",
        "^Release (\\S+)",
        "--json",
    ]);
    let rep: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rep["released"], 2);
    assert_eq!(rep["revisions"], 1);
}
