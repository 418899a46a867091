//! Witness cosigning through the real binary: the documented cosignature
//! vector, a full split-view scenario (two logs diverging from one copy),
//! quorum enforcement on a published site, hostile inputs, and the C2SP
//! tlog-witness HTTP endpoint over loopback.
//!
//! The C2SP tlog-cosignature spec example itself is checked in
//! `src/note.rs` (`cosignature_spec_example`), and cosignatures against an
//! independent Go implementation in `tests/interop_go.rs`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::Env;
use speclog::keys::Passphrase;
use speclog::note::{self, Note, NoteSignature, VerifierKey};
use speclog::witness::store::WitnessDir;

const ORIGIN: &str = "example.org/model-spec";

/// A ledger with `n` releases `v0..` and a witness `w1` in `./witness`.
fn setup(n: usize) -> Env {
    let env = Env::new();
    env.init();
    for i in 0..n {
        env.release(&format!("v{i}"), &format!("Version {i}."));
    }
    env.ok(&["witness", "init", "witness.example/w1"]);
    env
}

/// `speclog witness cosign --log keys/admin.pub ARGS...`, which must succeed.
fn cosign(env: &Env, args: &[&str]) -> String {
    env.ok(&[&["witness", "cosign", "--log", "keys/admin.pub"], args].concat())
}

/// `speclog witness cosign --log keys/admin.pub ARGS...`, which must fail.
fn cosign_fails(env: &Env, args: &[&str], code: i32, needle: &str) -> String {
    env.fails(
        &[&["witness", "cosign", "--log", "keys/admin.pub"], args].concat(),
        code,
        needle,
    )
}

/// Every file under `dir` with its bytes (the witness's state and evidence).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else {
            out.insert(p.display().to_string(), std::fs::read(&p).unwrap());
        }
    }
    out
}

fn size_of(checkpoint: &str) -> u64 {
    checkpoint.lines().nth(1).unwrap().parse().unwrap()
}

fn evidence(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.path("witness/evidence"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn format_md_cosignature_example_is_what_the_witness_signs() {
    // docs/FORMAT.md §5 and §5.1: the log (seed 01×32) signs a tree of size 3;
    // the witness witness.example/w1 (seed 02×32) cosigns it at 1700000000.
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).unwrap();
    let log_key = "example.com/speclog+ce769849+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
    let checkpoint = "example.com/speclog\n3\nOF2jDzkXKCyJOd/4UZV+UZqxhGsTUaFMCts7EWMnQqo=\n\n\
                      — example.com/speclog znaYScGeAFSAQSI9dSFMHjiFtY9Ux5g7xK0EzWiKf5JmVeVUGpbRMULCX45v7/u6kU7Zpdck5lvwEWeZfx7eOtuQoQU=\n";
    let want = "— witness.example/w1 3xwKNQAAAABlU/EADs4BdZ6SPUEpL/BlPGaLNRhYx7ql9v7m8kVeflKkOsArx3Q3SWnOBlen1p2AwX4V1IhTk/RpOVHiBFYbUDuEDA==\n";
    for s in [
        log_key,
        want.trim_end(),
        "witness.example/w1+df1c0a35+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU",
    ] {
        assert!(doc.contains(s), "FORMAT.md lacks {s}");
    }
    for l in checkpoint.lines().filter(|l| !l.is_empty()) {
        assert!(doc.contains(l), "FORMAT.md lacks {l}");
    }
    let env = Env::new();
    let vk = WitnessDir::new(env.path("witness"))
        .create(
            "witness.example/w1",
            &ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
            &Passphrase::None,
        )
        .unwrap();
    assert_eq!(
        vk.to_string(),
        "witness.example/w1+df1c0a35+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
    );
    env.write("cp.txt", checkpoint);
    let args = [
        "witness",
        "cosign",
        "--log",
        log_key,
        "--checkpoint",
        "cp.txt",
        "--time",
        "2023-11-14T22:13:20Z",
    ];
    assert_eq!(env.ok(&args), want);
    let json = env.ok(&[&args[..], &["--json"]].concat());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["cosignature"], want);
    assert_eq!(
        (
            v["size"].as_u64(),
            v["timestamp"].as_u64(),
            v["previous_size"].as_u64()
        ),
        (Some(3), Some(1_700_000_000), Some(3))
    );
}

#[test]
fn format_md_policy_example_parses() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/FORMAT.md")).unwrap();
    let start = doc
        .find("```\nlog example.org/model-spec+")
        .expect("policy example")
        + 4;
    let text = &doc[start..start + doc[start..].find("```").unwrap()];
    let p = speclog::witness::Policy::parse(text.as_bytes()).unwrap();
    assert_eq!(p.quorum_description(), "2 of w1, w2");
    assert_eq!(
        p.format()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        text.lines().collect::<Vec<_>>()
    );
}

#[test]
fn init_writes_a_private_cosigning_key_once() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let out = env.ok(&["witness", "init", "witness.example/w1"]);
    assert!(out.contains("verifier key: witness.example/w1+"), "{out}");
    let mode = std::fs::metadata(env.path("witness/witness.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let pem = std::fs::read_to_string(env.path("witness/witness.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let vk = VerifierKey::parse(
        std::fs::read_to_string(env.path("witness/witness.pub"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(
        (vk.name(), vk.alg()),
        ("witness.example/w1", note::ALG_COSIGNATURE_V1)
    );
    assert!(out.contains(&vk.to_string()));
    env.fails(
        &["witness", "init", "witness.example/w1"],
        2,
        "already exists",
    );
    env.fails(
        &["witness", "init", "bad name", "--dir", "w2"],
        2,
        "invalid witness name",
    );
    env.fails(
        &["witness", "init", "w3", "--dir", "w3", "--encrypt"],
        2,
        "no passphrase",
    );
    // SPECLOG_WITNESS picks the directory.
    let out = env
        .cmd()
        .args(["witness", "init", "w4"])
        .env("SPECLOG_WITNESS", "elsewhere")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(env.path("elsewhere/witness.pub").is_file());
    let s = env.ok(&["witness", "status", "--dir", "elsewhere"]);
    assert!(
        s.contains("witness w4") && s.contains("none cosigned yet"),
        "{s}"
    );
    env.fails(
        &["witness", "status", "--dir", "nowhere"],
        2,
        "no witness in nowhere",
    );
}

#[test]
fn witness_follows_one_log_and_keeps_evidence_of_a_fork() {
    let a = setup(1);
    let cp3 = a.ok(&["checkpoint"]);
    assert_eq!(size_of(&cp3), 3);
    a.write("cp3.txt", &cp3);
    let c1 = cosign(&a, &["--checkpoint", "cp3.txt"]);
    assert!(
        c1.starts_with("— witness.example/w1 ") && c1.ends_with('\n') && c1.lines().count() == 1,
        "{c1}"
    );
    // Cosigning the same checkpoint again is fine.
    cosign(&a, &["--checkpoint", "cp3.txt"]);

    // B is a copy of A; from here the two logs diverge.
    let b = a.fork();
    for i in 2..5 {
        a.release(&format!("v{i}"), &format!("Version {i}."));
        b.release(&format!("v{i}"), &format!("Forked version {i}."));
    }
    let cp6 = a.ok(&["checkpoint"]);
    assert_eq!(size_of(&cp6), 6);
    a.write("cp6.txt", &cp6);
    cosign_fails(
        &a,
        &["--checkpoint", "cp6.txt"],
        2,
        "needs a consistency proof from size 3",
    );
    a.write("p3.proof", a.ok(&["prove", "consistency", "3"]));
    let c2 = cosign(&a, &["--checkpoint", "cp6.txt", "--proof", "p3.proof"]);
    let status = a.ok(&["witness", "status"]);
    assert!(
        status.contains(&format!("log {ORIGIN}: size 6")),
        "{status}"
    );
    let before = snapshot(&a.path("witness"));

    // B's checkpoint of the same size has another root: a fork.
    let f6 = b.ok(&["checkpoint"]);
    assert_eq!(size_of(&f6), 6);
    assert_ne!(f6, cp6);
    a.write("f6.txt", &f6);
    let err = cosign_fails(
        &a,
        &["--checkpoint", "f6.txt"],
        1,
        "two different trees of size 6",
    );
    assert!(
        err.contains("kept both signed checkpoints as evidence in witness/evidence/"),
        "{err}"
    );
    let ev = evidence(&a);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].contains(&cp6) && ev[0].contains(&f6), "{}", ev[0]);
    // Submitting it again keeps no second copy.
    cosign_fails(&a, &["--checkpoint", "f6.txt"], 1, "fork");
    assert_eq!(evidence(&a).len(), 1);

    // B grows and proves consistency with its own size-6 tree: the proof fails
    // against the tree the witness cosigned.
    b.release("v5", "Forked version 5.");
    a.write("b.proof", b.ok(&["prove", "consistency", "6"]));
    cosign_fails(&a, &["--proof", "b.proof"], 1, "does not verify");
    // A stale (smaller) checkpoint is refused too.
    cosign_fails(
        &a,
        &["--checkpoint", "cp3.txt"],
        1,
        "smaller than checkpoint 6",
    );
    let ev = evidence(&a);
    assert_eq!(ev.len(), 3);
    assert!(
        ev.iter()
            .any(|e| e.contains("OFFERED CONSISTENCY PROOF") && e.contains("does not verify"))
    );
    // The state never moved: only evidence files were added.
    let after = snapshot(&a.path("witness"));
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "{k} changed");
    }
    assert!(
        after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .all(|k| k.contains("/evidence/"))
    );

    // The log side: store the cosignature, publish, enforce the quorum.
    a.write("c2.txt", &c2);
    a.fails(
        &["checkpoint", "add-cosignature", "c2.txt"],
        2,
        "no witness policy",
    );
    let p = a.ok(&["witness", "add", "w1", "witness/witness.pub"]);
    assert!(p.contains("quorum none"), "{p}");
    let p = a.ok(&["witness", "policy", "--quorum", "1"]);
    assert!(
        p.contains("group speclog-quorum 1 w1\nquorum speclog-quorum\n"),
        "{p}"
    );
    a.fails(
        &["witness", "policy", "--quorum", "2"],
        2,
        "needs at least 2 witnesses",
    );
    let out = a.ok(&["checkpoint", "add-cosignature", "c2.txt"]);
    assert!(
        out.contains("added cosignatures by w1 to checkpoint 6")
            && out.contains("quorum 1 of w1: met"),
        "{out}"
    );
    let out = a.ok(&["checkpoint", "add-cosignature", "c2.txt"]);
    assert!(out.contains("already had cosignatures by w1"), "{out}");
    assert_eq!(a.ok(&["checkpoint"]), format!("{cp6}{c2}"));
    assert_eq!(a.ok(&["checkpoint", "show"]), format!("{cp6}{c2}"));
    // The older line c1 cosigns checkpoint 3, not the latest.
    a.write("c1.txt", &c1);
    a.fails(
        &["checkpoint", "add-cosignature", "c1.txt"],
        1,
        "does not verify against checkpoint 6",
    );
    let out = a.ok(&["checkpoint", "add-cosignature", "c1.txt", "--size", "3"]);
    assert!(out.contains("not the latest checkpoint"), "{out}");
    assert!(
        a.ok(&["prove", "consistency", "3", "6"])
            .ends_with(&format!("{cp6}{c2}"))
    );
    // The ledger's own verify re-checks every stored cosignature.
    let v = a.ok(&["verify"]);
    assert!(v.contains("2 witness cosignatures verified"), "{v}");
    let v: serde_json::Value = serde_json::from_str(&a.ok(&["verify", "--json"])).unwrap();
    assert_eq!(v["cosignatures"]["verified"], 2);
    // A stored cosignature edited in the database (c2's signature on checkpoint
    // 6 moved onto checkpoint 3) is caught, and so is a garbled line.
    {
        let good = c2.trim_end().to_string();
        let db = rusqlite::Connection::open(a.db()).unwrap();
        db.execute("UPDATE cosignatures SET size = 3 WHERE line = ?1", [&good])
            .unwrap();
        drop(db);
        a.fails(
            &["verify"],
            1,
            "cosignature on checkpoint 3: witness w1's cosignature does not verify",
        );
        let db = rusqlite::Connection::open(a.db()).unwrap();
        db.execute("UPDATE cosignatures SET size = 6 WHERE line = ?1", [&good])
            .unwrap();
        db.execute(
            "INSERT INTO cosignatures (size, line) VALUES (6, 'not a signature line')",
            [],
        )
        .unwrap();
        drop(db);
        a.fails(&["verify"], 1, "cosignature on checkpoint 6");
        let db = rusqlite::Connection::open(a.db()).unwrap();
        db.execute(
            "DELETE FROM cosignatures WHERE line = 'not a signature line'",
            [],
        )
        .unwrap();
        drop(db);
        assert!(
            a.ok(&["verify"])
                .contains("2 witness cosignatures verified")
        );
    }

    a.ok(&["site", "build", "--out", "site"]);
    let published = std::fs::read_to_string(a.path("site/log/witnesses.txt")).unwrap();
    assert_eq!(
        published,
        std::fs::read_to_string(a.path("ledger/witnesses.txt")).unwrap()
    );
    let ok = a.ok(&["verify", "--site", "site", "--key", "keys/admin.pub"]);
    assert!(
        ok.contains("cosigned by w1; quorum 1 of w1: met")
            && ok.contains("site's own log/witnesses.txt"),
        "{ok}"
    );
    assert!(
        ok.contains("checkpoint signed by: example.org/model-spec, witness.example/w1"),
        "{ok}"
    );
    let ok = a.ok(&[
        "verify",
        "--site",
        "site",
        "--witnesses",
        "ledger/witnesses.txt",
    ]);
    assert!(
        !ok.contains("warning"),
        "the policy's log line is the trusted key: {ok}"
    );

    // A second witness and a quorum of two: not met until it cosigns.
    a.ok(&["witness", "init", "witness.example/w2", "--dir", "witness2"]);
    a.ok(&["witness", "add", "w2", "witness2/witness.pub"]);
    a.ok(&["witness", "policy", "--quorum", "2"]);
    a.ok(&["site", "build", "--out", "site"]);
    a.fails(
        &["verify", "--site", "site", "--key", "keys/admin.pub"],
        1,
        "quorum not met: checkpoint 6 is cosigned by w1; the policy requires 2 of w1, w2",
    );
    let c3 = cosign(&a, &["--checkpoint", "cp6.txt", "--dir", "witness2"]);
    a.write("c3.txt", &c3);
    a.ok(&["checkpoint", "add-cosignature", "c3.txt"]);
    a.ok(&["site", "build", "--out", "site"]);
    let json = a.ok(&[
        "verify",
        "--site",
        "site",
        "--witnesses",
        "ledger/witnesses.txt",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["witnesses"], serde_json::json!(["w1", "w2"]));
    assert_eq!(
        (
            v["quorum"].as_str(),
            v["witness_policy"].as_str(),
            v["key_source"].as_str()
        ),
        (Some("2 of w1, w2"), Some("given"), Some("policy"))
    );

    // A policy obtained elsewhere, requiring a witness that never cosigned.
    b.ok(&["witness", "init", "witness.example/w3", "--dir", "witness3"]);
    let w3 = std::fs::read_to_string(b.path("witness3/witness.pub")).unwrap();
    a.write(
        "strict.txt",
        format!(
            "witness w1 {}witness w3 {w3}group both all w1 w3\nquorum both\n",
            std::fs::read_to_string(a.path("witness/witness.pub")).unwrap()
        ),
    );
    a.fails(
        &[
            "verify",
            "--site",
            "site",
            "--key",
            "keys/admin.pub",
            "--witnesses",
            "strict.txt",
        ],
        1,
        "requires 2 of w1, w3",
    );
    a.write("broken.txt", "witness w1 nonsense\nquorum w1\n");
    a.fails(
        &["verify", "--site", "site", "--witnesses", "broken.txt"],
        2,
        "broken.txt: line 1",
    );
    a.fails(&["verify", "--witnesses", "strict.txt"], 2, "--site");
    // Removing a witness the quorum needs is refused; lowering it first works.
    a.fails(&["witness", "remove", "w2"], 2, "lower it first");
    a.ok(&["witness", "policy", "--quorum", "1"]);
    let p = a.ok(&["witness", "remove", "w2", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&p).unwrap();
    assert_eq!(v["quorum"], "1 of w1");
}

#[test]
fn hostile_witness_inputs_are_refused_and_change_nothing() {
    let env = setup(1);
    let cp = env.ok(&["checkpoint"]);
    env.write("cp.txt", &cp);
    cosign(&env, &["--checkpoint", "cp.txt"]);
    env.release("v2", "Version 2.");
    let cp4 = env.ok(&["checkpoint"]);
    env.write("cp4.txt", &cp4);
    let good_proof = env.ok(&["prove", "consistency", "3"]);
    env.write("good.proof", &good_proof);
    let state = snapshot(&env.path("witness"));

    let other = VerifierKey::ed25519(
        ORIGIN,
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
    )
    .unwrap();
    let other = other.to_string();
    let truncated = &cp4[..cp4.len() / 2];
    let bad_b64 = cp4.replace(&cp4[cp4.len() - 6..], "!!!!!\n");
    let mut huge = cp4.clone().into_bytes();
    huge.resize(2 << 20, b'x');
    let non_utf8 = [
        b"example.org/model-spec\n4\n\xff\xfe\n\n".as_slice(),
        &cp4.as_bytes()[cp4.len() - 100..],
    ]
    .concat();
    env.write("trunc.txt", truncated);
    env.write("b64.txt", &bad_b64);
    env.write("huge.txt", &huge);
    env.write("bin.txt", &non_utf8);
    env.write("empty.txt", "");
    env.write("p1.proof", env.ok(&["prove", "consistency", "1"]));
    env.write(
        "mismatch.proof",
        env.ok(&["prove", "consistency", "3", "3"]),
    );
    let wkey = std::fs::read_to_string(env.path("witness/witness.pub")).unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["--checkpoint", "trunc.txt"], 2, "malformed checkpoint"),
        (
            vec!["--checkpoint", "b64.txt"],
            2,
            "malformed checkpoint: malformed note: signature is not base64",
        ),
        (
            vec!["--checkpoint", "huge.txt"],
            2,
            "is not a file of at most 1048576 bytes",
        ),
        (
            vec!["--checkpoint", "bin.txt"],
            2,
            "is not UTF-8 (first bad byte at offset 25)",
        ),
        (vec!["--checkpoint", "empty.txt"], 2, "malformed checkpoint"),
        (
            vec!["--checkpoint", "missing.txt"],
            2,
            "cannot read checkpoint missing.txt",
        ),
        (
            vec!["--checkpoint", "cp4.txt", "--proof", "p1.proof"],
            2,
            "the consistency proof starts at size 1, but the latest checkpoint this witness cosigned has size 3",
        ),
        (
            vec!["--checkpoint", "cp4.txt", "--proof", "mismatch.proof"],
            2,
            "leads to another checkpoint",
        ),
        (
            vec!["--checkpoint", "cp4.txt", "--proof", "cp4.txt"],
            2,
            "is not a consistency proof",
        ),
        (
            vec!["--checkpoint", "cp4.txt"],
            2,
            "needs a consistency proof",
        ),
    ];
    for (args, code, needle) in &cases {
        cosign_fails(&env, args, *code, needle);
        assert_eq!(
            snapshot(&env.path("witness")),
            state,
            "{args:?} changed the witness"
        );
    }
    // Wrong log keys.
    for (log, code, needle) in [
        (
            "keys/policy-team.pub",
            2,
            "unknown log: the checkpoint's origin is \"example.org/model-spec\"",
        ),
        (
            other.as_str(),
            1,
            "does not verify with the log key example.org/model-spec+",
        ),
        (
            wkey.trim(),
            2,
            "is a witness (cosignature) key, not a log key",
        ),
        ("not-a-key", 2, "not-a-key"),
    ] {
        env.fails(
            &[
                "witness",
                "cosign",
                "--log",
                log,
                "--checkpoint",
                "cp4.txt",
                "--proof",
                "good.proof",
            ],
            code,
            needle,
        );
        assert_eq!(
            snapshot(&env.path("witness")),
            state,
            "--log {log} changed the witness"
        );
    }
    // A key with the right name but not the one the witness pinned for this
    // origin: refused, even for a checkpoint that key really signed.
    let signer =
        speclog::note::NoteSigner::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[9; 32]))
            .unwrap();
    let forged =
        speclog::note::sign_note(&Note::parse(cp4.as_bytes()).unwrap().text, &[&signer]).unwrap();
    env.write("forged.txt", &forged);
    env.fails(
        &[
            "witness",
            "cosign",
            "--log",
            &other,
            "--checkpoint",
            "forged.txt",
        ],
        2,
        "trusts another key",
    );
    assert_eq!(snapshot(&env.path("witness")), state);

    // A damaged state file is an error, never a fresh start.
    let state_file = state
        .keys()
        .find(|k| k.contains("/state/"))
        .unwrap()
        .clone();
    for damage in [
        b"{".as_slice(),
        b"",
        &state[&state_file][..state[&state_file].len() - 40],
    ] {
        std::fs::write(&state_file, damage).unwrap();
        cosign_fails(&env, &["--proof", "good.proof"], 2, "is corrupt");
        assert_eq!(std::fs::read(&state_file).unwrap(), damage);
    }
    let tampered = String::from_utf8(state[&state_file].clone())
        .unwrap()
        .replace("\"size\": 3", "\"size\": 2");
    std::fs::write(&state_file, &tampered).unwrap();
    env.fails(
        &["witness", "status"],
        2,
        "differ from the stored checkpoint",
    );
    std::fs::write(&state_file, &state[&state_file]).unwrap();
    cosign(&env, &["--proof", "good.proof"]);

    // Hostile cosignature files on the log side leave the ledger's checkpoint as it was.
    env.ok(&["witness", "add", "w1", "witness/witness.pub"]);
    let line = cosign(&env, &["--checkpoint", "cp4.txt"]);
    env.release("v3", "Version 3.");
    let cp5 = env.ok(&["checkpoint"]);
    let b64 = line.replace(&line[line.len() - 8..], "%%%%%%%\n");
    env.write("stale.txt", &line);
    env.write("bad.txt", &b64);
    env.write("bin.txt", b"\xff\n");
    env.write("huge.txt", vec![b'a'; 2 << 20]);
    env.write("blank.txt", "\n\n");
    env.ok(&["witness", "init", "witness.example/w9", "--dir", "w9"]);
    env.write(
        "stranger.txt",
        cosign(&env, &["--checkpoint", "cp4.txt", "--dir", "w9"]),
    );
    let root4 = cp4.lines().nth(2).unwrap();
    let other_root = format!(
        "{}{}",
        if root4.starts_with('A') { "B" } else { "A" },
        &root4[1..]
    );
    env.write(
        "fork.txt",
        format!("{}{line}", cp4.replace(root4, &other_root)),
    );
    for (file, code, needle) in [
        (
            "stale.txt",
            1,
            "the cosignature by w1 does not verify against checkpoint 5",
        ),
        (
            "bad.txt",
            2,
            "bad.txt line 1: malformed note: signature is not base64",
        ),
        ("bin.txt", 2, "is not UTF-8"),
        ("huge.txt", 2, "at most 1048576 bytes"),
        ("blank.txt", 2, "holds no cosignature lines"),
        ("stranger.txt", 2, "witness.example/w9+"),
        (
            "fork.txt",
            2,
            "is not the checkpoint this log signed for size 4",
        ),
    ] {
        env.fails(&["checkpoint", "add-cosignature", file], code, needle);
        assert_eq!(env.ok(&["checkpoint"]), cp5, "{file}");
    }
    // The right line for the right size works, given as a cosigned checkpoint too.
    env.write("cosigned4.txt", format!("{cp4}{line}"));
    let out = env.ok(&["checkpoint", "add-cosignature", "cosigned4.txt"]);
    assert!(
        out.contains("added cosignatures by w1 to checkpoint 4"),
        "{out}"
    );
    env.fails(
        &[
            "checkpoint",
            "add-cosignature",
            "cosigned4.txt",
            "--size",
            "5",
        ],
        2,
        "holds checkpoint 4",
    );
}

#[test]
fn concurrent_cosigners_agree_on_one_state() {
    let env = setup(1);
    let cp = env.ok(&["checkpoint"]);
    env.write("cp.txt", &cp);
    cosign(&env, &["--checkpoint", "cp.txt"]);
    env.release("v1", "Version 1.");
    env.write("p.proof", env.ok(&["prove", "consistency", "3"]));
    // Eight processes race to move the witness from 3 to 4 under its lock:
    // every one must succeed (the later ones see the same tree again).
    let outs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    env.cmd()
                        .args([
                            "witness",
                            "cosign",
                            "--log",
                            "keys/admin.pub",
                            "--proof",
                            "p.proof",
                            "--json",
                        ])
                        .output()
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut previous = Vec::new();
    for o in &outs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["size"], 4);
        previous.push(v["previous_size"].as_u64().unwrap());
    }
    previous.sort();
    assert_eq!(
        previous,
        [3, 4, 4, 4, 4, 4, 4, 4],
        "exactly one moved the state"
    );
    let status = env.ok(&["witness", "status"]);
    assert!(
        status.contains(&format!("log {ORIGIN}: size 4")),
        "{status}"
    );
}

/// A `speclog witness serve` child process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(env: &Env) -> Server {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("speclog"))
        .current_dir(env.dir.path())
        .env_remove("SPECLOG_WITNESS")
        .env_remove("SPECLOG_TIME")
        .env_remove("SPECLOG_PASSPHRASE")
        .args([
            "witness",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--log",
            "keys/admin.pub",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut server = Server {
        child,
        addr: "127.0.0.1:1".parse().unwrap(),
    };
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("witness serve did not start");
    let url = line.split("http://").nth(1).expect("listening line");
    server.addr = url.split('/').next().unwrap().parse().unwrap();
    server
}

/// Sends a raw request; returns (status, content type, body).
fn request(addr: SocketAddr, raw: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap();
    let ctype = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or_default()
        .to_string();
    (status, ctype, body.to_string())
}

fn add_checkpoint(addr: SocketAddr, body: &str) -> (u16, String, String) {
    let raw = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: witness\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request(addr, raw.as_bytes())
}

/// The add-checkpoint body of a consistency proof file: the file without its header line.
fn body_of(proof: &str) -> String {
    proof.split_once('\n').unwrap().1.to_string()
}

#[test]
fn serve_implements_tlog_witness_add_checkpoint() {
    let env = setup(1);
    let wkey = VerifierKey::parse(
        std::fs::read_to_string(env.path("witness/witness.pub"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let fork = env.fork();
    let srv = serve(&env);
    let a = srv.addr;
    let cp3 = env.ok(&["checkpoint"]);

    // Framing and routing.
    assert_eq!(request(a, b"GET /add-checkpoint HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(
        request(a, b"POST /nope HTTP/1.1\r\nContent-Length: 0\r\n\r\n").0,
        404
    );
    assert_eq!(request(a, b"POST /add-checkpoint HTTP/1.1\r\n\r\n").0, 411);
    assert_eq!(
        request(
            a,
            b"POST /add-checkpoint HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n"
        )
        .0,
        413
    );
    assert_eq!(add_checkpoint(a, "hello\n").0, 400);
    assert_eq!(
        add_checkpoint(a, &format!("old 0\n\n{}", &cp3[..20])).0,
        400
    );
    // Unknown origin, bad signature, old size above the checkpoint's.
    assert_eq!(
        add_checkpoint(
            a,
            &format!("old 0\n\n{}", cp3.replace(ORIGIN, "other.example/log"))
        )
        .0,
        404
    );
    let root = cp3.lines().nth(2).unwrap();
    let flipped = format!(
        "{}{}",
        if root.starts_with('A') { "B" } else { "A" },
        &root[1..]
    );
    assert_eq!(
        add_checkpoint(a, &format!("old 0\n\n{}", cp3.replace(root, &flipped))).0,
        403
    );
    assert_eq!(add_checkpoint(a, &format!("old 9\n\n{cp3}")).0, 400);
    assert!(snapshot(&env.path("witness/state")).is_empty());

    // The first checkpoint, from old size 0.
    let (st, _, line) = add_checkpoint(a, &format!("old 0\n\n{cp3}"));
    assert_eq!(st, 200, "{line}");
    let sig = NoteSignature::parse_line(line.trim_end()).unwrap();
    let text = Note::parse(cp3.as_bytes()).unwrap().text;
    note::verify_cosignature(&wkey, &text, &sig).unwrap();

    // Growth with a consistency proof; a stale old size gets 409 and the size.
    env.release("v2", "Version 2.");
    env.release("v3", "Version 3.");
    let cp5 = env.ok(&["checkpoint"]);
    let (st, ctype, body) = add_checkpoint(a, &format!("old 0\n\n{cp5}"));
    assert_eq!(
        (st, ctype.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "3\n")
    );
    let proof = env.ok(&["prove", "consistency", "3"]);
    let mut bad = body_of(&proof);
    bad.replace_range(7..8, if &bad[7..8] == "A" { "B" } else { "A" });
    let state = snapshot(&env.path("witness/state"));
    assert_eq!(add_checkpoint(a, &bad).0, 422);
    assert_eq!(snapshot(&env.path("witness/state")), state);
    let (st, _, line) = add_checkpoint(a, &body_of(&proof));
    assert_eq!(st, 200, "{line}");
    note::verify_cosignature(
        &wkey,
        &Note::parse(cp5.as_bytes()).unwrap().text,
        &NoteSignature::parse_line(line.trim_end()).unwrap(),
    )
    .unwrap();
    // The same checkpoint again (old == size, same root) is cosigned again.
    assert_eq!(add_checkpoint(a, &format!("old 5\n\n{cp5}")).0, 200);

    // A fork of the same size: 409, and the witness keeps the evidence.
    fork.release("v2", "Forked 2.");
    fork.release("v3", "Forked 3.");
    let f5 = fork.ok(&["checkpoint"]);
    let (st, _, msg) = add_checkpoint(a, &format!("old 5\n\n{f5}"));
    assert_eq!(st, 409, "{msg}");
    assert!(msg.contains("fork"), "{msg}");
    let ev = evidence(&env);
    assert_eq!(ev.len(), 2, "the 422 and the fork");
    assert!(ev.iter().any(|e| e.contains(&cp5) && e.contains(&f5)));

    // The CLI and the server share the state: the CLI sees size 5.
    let status = env.ok(&["witness", "status"]);
    assert!(
        status.contains(&format!("log {ORIGIN}: size 5")),
        "{status}"
    );
    drop(srv);
    env.fails(
        &[
            "witness",
            "serve",
            "--addr",
            "0.0.0.0:0",
            "--log",
            "keys/admin.pub",
        ],
        2,
        "localhost only",
    );
    env.fails(
        &[
            "witness",
            "serve",
            "--addr",
            "nonsense",
            "--log",
            "keys/admin.pub",
        ],
        2,
        "invalid address",
    );
}
