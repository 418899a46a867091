//! Golden CLI transcripts: the help of every command and the errors users meet
//! most, compared with `tests/golden/cli/*.txt`. `UPDATE_GOLDEN=1` rewrites them.

mod common;

use std::path::PathBuf;

use common::Env;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cli")
}

/// Runs speclog and renders a transcript: the command, stdout, stderr, exit code.
fn transcript(env: &Env, args: &[&str]) -> String {
    let out = env.cmd().args(args).env("COLUMNS", "100").output().unwrap();
    let tmp = env.dir.path().display().to_string();
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&tmp, "$TMP");
    format!(
        "$ speclog {}\n{}{}[exit {}]\n",
        args.join(" "),
        clean(&out.stdout),
        clean(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

fn check(name: &str, got: &str) -> Option<String> {
    let path = golden_dir().join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, got).unwrap();
        return None;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) if want == got => None,
        Ok(want) => Some(format!(
            "{name}: transcript differs\n--- want\n{want}\n--- got\n{got}"
        )),
        Err(_) => Some(format!(
            "{name}: missing {} (run with UPDATE_GOLDEN=1)",
            path.display()
        )),
    }
}

#[test]
fn help_transcripts() {
    let env = Env::new();
    let cmds: &[&[&str]] = &[
        &["--help"],
        &["init", "--help"],
        &["key", "--help"],
        &["key", "generate", "--help"],
        &["spec", "release", "--help"],
        &["eval", "record", "--help"],
        &["incident", "open", "--help"],
        &["diff", "--help"],
        &["log", "--help"],
        &["show", "--help"],
        &["verify", "--help"],
        &["prove", "inclusion", "--help"],
        &["import", "git", "--help"],
        &["site", "build", "--help"],
        &["witness", "cosign", "--help"],
        &["export", "--help"],
        &["config", "show", "--help"],
    ];
    let mut diffs = Vec::new();
    for args in cmds {
        let name = format!(
            "help-{}",
            args.iter()
                .filter(|a| !a.starts_with('-'))
                .cloned()
                .collect::<Vec<_>>()
                .join("-")
        );
        let name = if name == "help-" {
            "help".to_string()
        } else {
            name
        };
        diffs.extend(check(&name, &transcript(&env, args)));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn error_transcripts() {
    let env = Env::new();
    let mut diffs = Vec::new();
    diffs.extend(check("error-not-initialised", &transcript(&env, &["log"])));
    env.ok(&[
        "init",
        "--origin",
        "example.org/model-spec",
        "--time",
        "2025-01-01T00:00:00Z",
    ]);
    env.ok(&[
        "key",
        "generate",
        "policy-team",
        "--time",
        "2025-01-01T00:00:00Z",
    ]);
    env.write("a.md", "# A {#a}\n\ntext\n");
    env.write("b.md", "# A {#a}\n\nother text\n");
    env.ok(&[
        "spec",
        "release",
        "a.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
        "--time",
        "2025-01-02T00:00:00Z",
    ]);
    let cases: &[(&str, &[&str])] = &[
        (
            "error-already-initialised",
            &["init", "--origin", "example.org/model-spec"],
        ),
        (
            "error-label-reused",
            &[
                "spec",
                "release",
                "b.md",
                "--version",
                "v1",
                "--signer",
                "policy-team",
            ],
        ),
        (
            "error-unknown-signer-file",
            &[
                "spec",
                "release",
                "b.md",
                "--version",
                "v2",
                "--signer",
                "nobody",
            ],
        ),
        (
            "error-missing-spec",
            &[
                "spec",
                "release",
                "missing.md",
                "--version",
                "v2",
                "--signer",
                "policy-team",
            ],
        ),
        (
            "error-bad-label",
            &[
                "spec",
                "release",
                "b.md",
                "--version",
                "../v2",
                "--signer",
                "policy-team",
            ],
        ),
        ("error-unknown-entry", &["show", "42"]),
        (
            "error-unknown-spec-for-eval",
            &[
                "eval",
                "record",
                "--spec",
                "v9",
                "--results",
                "a.md",
                "--signer",
                "policy-team",
            ],
        ),
        ("error-usage", &["spec", "release"]),
    ];
    for (name, args) in cases {
        diffs.extend(check(name, &transcript(&env, args)));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
