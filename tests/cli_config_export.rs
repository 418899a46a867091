//! `speclog.toml`, `config show` and `export`.

mod common;

use common::Env;

#[test]
fn config_file_supplies_defaults_and_flags_win() {
    let env = Env::new();
    env.write(
        "ledger/speclog.toml",
        "origin = \"cfg.example/spec\"\nsigner = \"policy-team\"\nlock_timeout = 7\n[site]\nout = \"public\"\ntitle = \"Example Lab spec\"\n",
    );
    env.ok(&["init"]);
    env.ok(&["key", "generate", "policy-team"]);
    env.write("a.md", "# A {#a}\n\ntext\n");
    env.ok(&["spec", "release", "a.md", "--version", "v1"]);
    let cp = env.ok(&["checkpoint"]);
    assert!(cp.starts_with("cfg.example/spec\n"), "{cp}");
    let show: serde_json::Value =
        serde_json::from_str(&env.ok(&["config", "show", "--json"])).unwrap();
    assert_eq!(show["settings"]["signer"]["value"], "policy-team");
    assert_eq!(show["settings"]["signer"]["source"], "speclog.toml");
    assert_eq!(show["settings"]["lock_timeout"]["value"], "7");
    // The environment beats the file, and a flag beats both.
    let out = env
        .cmd()
        .args(["config", "show", "--json"])
        .env("SPECLOG_SIGNER", "other")
        .output()
        .unwrap();
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["settings"]["signer"]["value"], "other");
    assert_eq!(
        show["settings"]["signer"]["source"],
        "environment (SPECLOG_SIGNER)"
    );
    env.write("b.md", "# B {#a}\n\nother\n");
    env.fails(
        &[
            "spec",
            "release",
            "b.md",
            "--version",
            "v2",
            "--signer",
            "ghost",
        ],
        2,
        "no private key keys/ghost.key",
    );
    env.ok(&["site", "build"]);
    assert!(env.path("public/log/checkpoint").exists());
    let home = std::fs::read_to_string(env.path("public/index.html")).unwrap();
    assert!(
        home.contains("Example Lab spec"),
        "site title from speclog.toml"
    );
}

#[test]
fn malformed_config_is_a_clear_error() {
    let env = Env::new();
    env.init();
    let before = env.db_bytes();
    for (text, needle) in [
        ("bogus = 1\n", "unknown field `bogus`"),
        ("origin = [\n", "not valid TOML for speclog"),
        ("lock_timeout = -5\n", "not valid TOML for speclog"),
        ("\u{0}\u{1}", "not valid TOML"),
    ] {
        env.write("ledger/speclog.toml", text);
        let err = env.fails(&["log"], 2, needle);
        assert!(err.contains("hint:"), "{err}");
    }
    std::fs::write(env.path("ledger/speclog.toml"), [0xff, 0xfe]).unwrap();
    env.fails(&["log"], 2, "not UTF-8");
    assert_eq!(before, env.db_bytes());
}

#[test]
fn export_jsonl_and_intoto() {
    let env = Env::new();
    env.init();
    env.write("a.md", "# A {#a}\n\ntext\n");
    env.ok(&[
        "spec",
        "release",
        "a.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
    ]);
    let jsonl = env.ok(&["export", "--format", "jsonl"]);
    assert_eq!(jsonl.lines().count(), 3);
    let st = env.ok(&["export", "--format", "intoto"]);
    let lines: Vec<serde_json::Value> = st
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let s = &lines[0];
    assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(s["subject"][0]["name"], "model-spec@v1");
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(b"# A {#a}\n\ntext\n"));
    assert_eq!(s["subject"][0]["digest"]["sha256"], want);
    assert_eq!(s["predicate"]["log"]["index"], 2);
}

#[test]
fn config_file_follows_a_ledger_flag_given_after_the_subcommand() {
    let env = Env::new();
    env.write(
        "other/speclog.toml",
        "origin = \"other.example/spec\"\nlock_timeout = 9\n",
    );
    // --ledger after the subcommand, and in its `=` form: the file beside that ledger
    // supplies the required --origin, and the flag --lock-timeout still wins over it.
    env.ok(&["init", "--ledger", "other"]);
    let show: serde_json::Value =
        serde_json::from_str(&env.ok(&["config", "show", "--json", "--ledger=other"])).unwrap();
    assert_eq!(show["settings"]["origin"]["value"], "other.example/spec");
    assert_eq!(show["settings"]["lock_timeout"]["value"], "9");
    assert_eq!(show["settings"]["lock_timeout"]["source"], "speclog.toml");
    let show: serde_json::Value = serde_json::from_str(&env.ok(&[
        "config",
        "show",
        "--json",
        "--ledger",
        "other",
        "--lock-timeout",
        "3",
    ]))
    .unwrap();
    assert_eq!(show["settings"]["lock_timeout"]["value"], "3");
    assert_eq!(
        show["settings"]["lock_timeout"]["source"],
        "flag (--lock-timeout)"
    );
    // The default ledger directory has no file: init there needs --origin.
    env.fails(&["init"], 2, "--origin");
}
