//! CLI tests of the ledger foundation: the real binary on a real SQLite file.

mod common;

use common::Env;

const SPEC: &str = "# Overview {#overview}\n\nBe helpful.\n\n## Do not lie {#do_not_lie authority=user}\n\nNever lie.\n";

#[test]
fn release_log_show_verify() {
    let env = Env::new();
    env.init();
    env.write("spec.md", SPEC);
    env.write("notes.md", "First release.\n");
    let out = env.ok(&[
        "spec",
        "release",
        "spec.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
        "--notes",
        "notes.md",
    ]);
    assert!(out.contains("released v1 as entry 2"), "{out}");

    let log = env.ok(&["log"]);
    let lines: Vec<_> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(
        lines[2].contains("spec.release")
            && lines[2].contains("v1")
            && lines[2].contains("policy-team")
    );

    let jsonl = env.ok(&["log", "--json"]);
    let objs: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 3);
    for (i, o) in objs.iter().enumerate() {
        assert_eq!(o["seq"], i as u64);
        for k in ["time", "kind", "signer", "hash", "payload"] {
            assert!(!o[k].is_null(), "{k} missing in {o}");
        }
    }
    assert_eq!(objs[2]["payload"]["label"], "v1");
    assert_eq!(objs[2]["payload"]["content"]["size"], SPEC.len());

    // show by seq and by hash prefix give the same entry
    let by_seq: serde_json::Value =
        serde_json::from_str(&env.ok(&["show", "2", "--json"])).unwrap();
    let hash = by_seq["hash"].as_str().unwrap();
    let by_hash: serde_json::Value =
        serde_json::from_str(&env.ok(&["show", &hash[..8], "--json"])).unwrap();
    assert_eq!(by_seq, by_hash);
    assert!(env.ok(&["show", "2"]).contains("spec.release"));

    let v = env.ok(&["verify"]);
    assert!(v.starts_with("ok: 3 entries, 3 signatures"), "{v}");
    let vj: serde_json::Value = serde_json::from_str(&env.ok(&["verify", "--json"])).unwrap();
    assert_eq!(vj["entries"], 3);

    let cp = env.ok(&["checkpoint"]);
    let mut l = cp.lines();
    assert_eq!(l.next(), Some("example.org/model-spec"));
    assert_eq!(l.next(), Some("3"));
}

#[test]
fn keys_are_private_and_public_is_a_verifier_key() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.init();
    for name in ["admin", "policy-team"] {
        let m = std::fs::metadata(env.path(&format!("keys/{name}.key"))).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
    let pubkey = std::fs::read_to_string(env.path("keys/policy-team.pub")).unwrap();
    let parts: Vec<_> = pubkey.trim().splitn(3, '+').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "policy-team");
    assert_eq!(parts[1].len(), 8);
    let admin = std::fs::read_to_string(env.path("keys/admin.pub")).unwrap();
    assert!(admin.starts_with("example.org/model-spec+"), "{admin}");
}

#[test]
fn revision_is_required_and_recorded() {
    let env = Env::new();
    env.init();
    env.write("a.md", SPEC);
    env.write("b.md", format!("{SPEC}\nOne more line.\n"));
    env.ok(&[
        "spec",
        "release",
        "a.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
    ]);
    let before = env.db_bytes();
    env.fails(
        &[
            "spec",
            "release",
            "b.md",
            "--version",
            "v1",
            "--signer",
            "policy-team",
        ],
        2,
        "already released (entry 2) with different content",
    );
    assert_eq!(before, env.db_bytes());
    env.fails(
        &[
            "spec",
            "release",
            "a.md",
            "--version",
            "v1",
            "--signer",
            "policy-team",
            "--revision",
        ],
        2,
        "same content",
    );
    assert_eq!(before, env.db_bytes());
    let out = env.ok(&[
        "spec",
        "release",
        "b.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
        "--revision",
    ]);
    assert!(out.contains("supersedes entry 2"), "{out}");
    let e: serde_json::Value = serde_json::from_str(&env.ok(&["show", "3", "--json"])).unwrap();
    assert_eq!(e["payload"]["supersedes"]["seq"], 2);
    env.ok(&["verify"]);
}

#[test]
fn encrypted_key_round_trip() {
    let env = Env::new();
    env.init();
    env.write("pass.txt", "correct horse battery staple\n");
    env.ok(&[
        "key",
        "generate",
        "secure",
        "--encrypt",
        "--passphrase-file",
        "pass.txt",
    ]);
    let pem = std::fs::read_to_string(env.path("keys/secure.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    env.write("spec.md", SPEC);
    env.ok(&[
        "spec",
        "release",
        "spec.md",
        "--version",
        "v1",
        "--signer",
        "secure",
        "--passphrase-file",
        "pass.txt",
    ]);
    // The same via the environment variable.
    env.write("spec2.md", format!("{SPEC}\nMore.\n"));
    let out = env
        .cmd()
        .args([
            "spec",
            "release",
            "spec2.md",
            "--version",
            "v2",
            "--signer",
            "secure",
        ])
        .env("SPECLOG_PASSPHRASE", "correct horse battery staple")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn revoked_key_cannot_sign_and_rotation_keeps_history_verifiable() {
    let env = Env::new();
    env.init();
    env.write("a.md", SPEC);
    env.ok(&[
        "spec",
        "release",
        "a.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
    ]);
    env.ok(&["key", "rotate", "policy-team"]);
    env.write("b.md", format!("{SPEC}\nv2\n"));
    env.ok(&[
        "spec",
        "release",
        "b.md",
        "--version",
        "v2",
        "--signer",
        "policy-team",
    ]);
    env.ok(&["key", "generate", "temp", "--role", "spec-owner"]);
    env.ok(&["key", "revoke", "temp", "--reason", "left the team"]);
    let before = env.db_bytes();
    env.write("c.md", format!("{SPEC}\nv3\n"));
    env.fails(
        &[
            "spec",
            "release",
            "c.md",
            "--version",
            "v3",
            "--signer",
            "temp",
        ],
        2,
        "key \"temp\" is revoked",
    );
    assert_eq!(before, env.db_bytes());
    let v = env.ok(&["verify"]);
    assert!(v.starts_with("ok: 7 entries"), "{v}");
    let keys: serde_json::Value =
        serde_json::from_str(&env.ok(&["key", "list", "--json"])).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 4);
}

#[test]
fn role_is_enforced() {
    let env = Env::new();
    env.init();
    env.ok(&["key", "generate", "evals", "--role", "evaluator"]);
    env.write("a.md", SPEC);
    let before = env.db_bytes();
    env.fails(
        &[
            "spec",
            "release",
            "a.md",
            "--version",
            "v1",
            "--signer",
            "evals",
        ],
        2,
        "may not sign spec.release entries (needs one of: spec-owner)",
    );
    assert_eq!(before, env.db_bytes());
}

/// Every bad input: one clear line, a hint, exit 2, and a byte-identical ledger.
#[test]
fn bad_inputs_leave_the_ledger_unchanged() {
    let env = Env::new();
    env.init();
    env.write("ok.md", SPEC);
    env.write("latin1.md", b"# Caf\xe9\n\ntext\n");
    env.write("empty.md", "  \n\n");
    env.write("nul.md", "# a\n\x00\n");
    env.write("wrong-pass.txt", "nope\n");
    env.write("empty-pass.txt", "\n");
    env.write("pass.txt", "right\n");
    env.ok(&[
        "key",
        "generate",
        "locked",
        "--encrypt",
        "--passphrase-file",
        "pass.txt",
    ]);
    let rel = |file: &str, signer: &str| -> Vec<String> {
        [
            "spec",
            "release",
            file,
            "--version",
            "v1",
            "--signer",
            signer,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            rel("missing.md", "policy-team"),
            "cannot read spec missing.md",
        ),
        (
            rel("latin1.md", "policy-team"),
            "is not valid UTF-8 (first bad byte at offset 5)",
        ),
        (rel("empty.md", "policy-team"), "is empty"),
        (
            rel("nul.md", "policy-team"),
            "contains a NUL byte at offset 4",
        ),
        (rel("ok.md", "nobody"), "no private key keys/nobody.key"),
        (rel("ok.md", "../etc/passwd"), "invalid key name"),
        (
            [
                "spec",
                "release",
                "ok.md",
                "--version",
                "../x",
                "--signer",
                "policy-team",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            "invalid version label",
        ),
        (
            rel("ok.md", "locked")
                .into_iter()
                .chain(["--passphrase-file".into(), "wrong-pass.txt".into()])
                .collect(),
            "wrong passphrase",
        ),
        (
            rel("ok.md", "locked")
                .into_iter()
                .chain(["--passphrase-file".into(), "empty-pass.txt".into()])
                .collect(),
            "empty passphrase",
        ),
        (
            rel("ok.md", "locked"),
            "is encrypted and no passphrase was given",
        ),
        (
            vec![
                "init".into(),
                "--origin".into(),
                "example.org/model-spec".into(),
            ],
            "a ledger already exists",
        ),
        (
            vec!["init".into(), "--origin".into(), "bad origin".into()],
            "invalid origin",
        ),
        (vec!["show".into(), "999".into()], "entry 999 not found"),
        (vec!["show".into(), "zz".into()], "not found"),
        (
            vec!["key".into(), "revoke".into(), "ghost".into()],
            "unknown active key \"ghost\"",
        ),
    ];
    let before = env.db_bytes();
    for (args, needle) in &cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = env.fails(&a, 2, needle);
        assert!(
            err.lines().count() <= 3,
            "more than an error and a hint: {err}"
        );
        assert!(
            err.contains("hint: ") || needle.contains("not found"),
            "no hint: {err}"
        );
        assert_eq!(before, env.db_bytes(), "ledger changed by {a:?}");
    }
}

#[test]
fn an_unknown_key_that_has_a_key_file_is_refused() {
    let env = Env::new();
    env.init();
    // A key file made outside speclog is not registered.
    let other = Env::new();
    other.init();
    std::fs::copy(
        other.path("keys/policy-team.key"),
        env.path("keys/stranger.key"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        env.path("keys/stranger.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    env.write("a.md", SPEC);
    let before = env.db_bytes();
    env.fails(
        &[
            "spec",
            "release",
            "a.md",
            "--version",
            "v1",
            "--signer",
            "stranger",
        ],
        2,
        "unknown signer \"stranger\"",
    );
    assert_eq!(before, env.db_bytes());
}

#[test]
fn loose_key_permissions_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.init();
    std::fs::set_permissions(
        env.path("keys/policy-team.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    env.write("a.md", SPEC);
    let before = env.db_bytes();
    let err = env.fails(
        &[
            "spec",
            "release",
            "a.md",
            "--version",
            "v1",
            "--signer",
            "policy-team",
        ],
        2,
        "readable by group or others (mode 644)",
    );
    assert!(err.contains("chmod 600"), "{err}");
    assert_eq!(before, env.db_bytes());
}

#[test]
fn not_initialised_and_not_a_ledger() {
    let env = Env::new();
    env.write("a.md", SPEC);
    env.fails(&["log"], 2, "no ledger at ledger/ledger.sqlite");
    env.fails(&["verify"], 2, "speclog init");
    env.fails(
        &[
            "spec",
            "release",
            "a.md",
            "--version",
            "v1",
            "--signer",
            "x",
        ],
        2,
        "no ledger",
    );
    assert!(!env.path("ledger").exists() || !env.db().exists());
    // A file that is not a SQLite database.
    env.write(
        "ledger/ledger.sqlite",
        "this is not a database, just text that is long enough to matter",
    );
    let before = env.db_bytes();
    env.fails(&["verify"], 2, "is not a speclog ledger");
    env.fails(&["log"], 2, "is not a speclog ledger");
    assert_eq!(before, env.db_bytes());
    // `--ledger` names the directory; naming the database file is explained.
    let err = env.fails(
        &["--ledger", "ledger/ledger.sqlite", "log"],
        2,
        "--ledger ledger/ledger.sqlite is a file; it takes the ledger's directory",
    );
    assert!(err.contains("--ledger ledger"), "{err}");
    assert_eq!(before, env.db_bytes());
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    for w in [
        "init",
        "key",
        "spec",
        "log",
        "show",
        "verify",
        "checkpoint",
        "Exit codes",
    ] {
        assert!(help.contains(w), "{w} missing from help");
    }
    env.fails(&["frobnicate"], 2, "unrecognized subcommand");
    assert!(env.ok(&["completions", "bash"]).contains("speclog"));
    assert!(env.ok(&["man"]).contains(".TH speclog"));
}

/// Text from a spec reaches the terminal inert: an escape sequence that would
/// retitle the terminal and a right-to-left override are shown, not obeyed,
/// in lines and in errors; JSON output keeps the text exactly.
#[test]
fn terminal_control_characters_in_a_spec_are_shown_not_obeyed() {
    let env = Env::new();
    env.init();
    env.write(
        "spec.md",
        "# Title \u{1b}]0;pwned\u{7} ok {#t1}\n\ntext\n\n## Second \u{202e} evil\n\nmore\n",
    );
    env.ok(&[
        "spec",
        "release",
        "spec.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
    ]);
    let out = env.ok(&["query", "clauses", "v1"]);
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    assert!(out.contains("Title \\u{1b}]0;pwned\\u{7} ok"), "{out}");
    assert!(out.contains("Second \\u{202e} evil"), "{out}");
    let json = env.ok(&["query", "clauses", "v1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v.to_string().contains('\u{202e}'), "{json}");
    let err = env.fails(&["query", "clauses", "v\u{202e}x"], 2, "");
    assert!(
        !err.contains('\u{202e}') && err.contains("\\u{202e}"),
        "{err:?}"
    );
}

/// A refused `init` leaves nothing behind: no key files, no empty directories.
#[test]
fn refused_init_leaves_nothing() {
    let env = Env::new();
    env.fails(
        &["init", "--origin", "example.org/x", "--time", "bad"],
        2,
        "invalid time \"bad\"",
    );
    env.fails(&["init", "--origin", "bad origin"], 2, "invalid origin");
    assert!(!env.path("keys").exists() && !env.path("ledger").exists());
    env.ok(&["init", "--origin", "example.org/x"]);
}
