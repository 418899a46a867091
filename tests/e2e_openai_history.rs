//! End to end on the real OpenAI Model Spec history (../shared, CC0): release all
//! six texts, verify, then damage the SQLite file and watch `verify` name the entry.

mod common;

use common::{Env, shared_releases};

fn release_all(env: &Env) {
    env.init_at("2025-01-01T00:00:00Z");
    let mut t = 0;
    for (label, file, rev) in shared_releases() {
        t += 1;
        let time = format!("2025-01-0{t}T12:00:00Z");
        let f = file.to_str().unwrap();
        let mut args = vec![
            "spec",
            "release",
            f,
            "--version",
            &label,
            "--signer",
            "policy-team",
            "--time",
            &time,
        ];
        if rev {
            args.push("--revision");
        }
        env.ok(&args);
    }
}

#[test]
fn six_releases_five_labels_one_revision() {
    let env = Env::new();
    release_all(&env);
    let log = env.ok(&["log", "--json", "--kind", "spec.release"]);
    let rel: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rel.len(), 6);
    let labels: std::collections::BTreeSet<_> = rel
        .iter()
        .map(|r| r["payload"]["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels.len(), 5);
    let revs: Vec<_> = rel
        .iter()
        .filter(|r| !r["payload"]["supersedes"].is_null())
        .collect();
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0]["payload"]["label"], "2025-12-18");
    assert_eq!(revs[0]["payload"]["supersedes"]["seq"], rel[4]["seq"]);
    // Each content digest is the SHA-256 of the file.
    for ((_, file, _), r) in shared_releases().iter().zip(&rel) {
        use sha2::Digest;
        let d = hex::encode(sha2::Sha256::digest(std::fs::read(file).unwrap()));
        assert_eq!(r["payload"]["content"]["sha256"], d);
    }
    let v = env.ok(&["verify"]);
    assert!(v.starts_with("ok: 8 entries"), "{v}");
}

fn find(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn flipped_byte_in_an_entry_is_named() {
    let env = Env::new();
    release_all(&env);
    let e: serde_json::Value = serde_json::from_str(&env.ok(&["show", "5", "--json"])).unwrap();
    // The entry's payload holds its content digest as hex; flip one hex digit in the file.
    let digest = e["payload"]["content"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let mut db = env.db_bytes();
    // (A stale copy may sit in a free page; flip every copy.)
    let hits = find(&db, digest.as_bytes());
    assert!(!hits.is_empty());
    for h in hits {
        let i = h + 10;
        db[i] = if db[i] == b'0' { b'1' } else { b'0' };
    }
    std::fs::write(env.db(), &db).unwrap();
    let err = env.fails(&["verify"], 1, "verification failed: entry 5:");
    assert!(err.contains("hint:"), "{err}");
    let j = env.cmd().args(["verify", "--json"]).output().unwrap();
    assert_eq!(j.status.code(), Some(1));
}

#[test]
fn flipped_byte_in_spec_text_is_named() {
    let env = Env::new();
    release_all(&env);
    let mut db = env.db_bytes();
    // A phrase from the re-released clause text (stored once, as a blob).
    let text = std::fs::read_to_string(&shared_releases()[5].1).unwrap();
    let probe = &text[text.len() / 2..text.len() / 2 + 40];
    let hits = find(&db, probe.as_bytes());
    assert!(!hits.is_empty());
    let i = hits[0] + 3;
    db[i] ^= 0x20;
    std::fs::write(env.db(), &db).unwrap();
    env.fails(&["verify"], 1, "does not match its digest");
}
