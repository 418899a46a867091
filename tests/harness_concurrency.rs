//! Concurrency harness: 8 writers append at once to one ledger through the real
//! binary. Afterwards the ledger holds exactly every acknowledged entry, in one
//! unbroken chain, and the signed checkpoints form one consistent sequence.
//!
//! It runs the full size, 8 x 250 appends, in CI too (about 10 s).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::Env;

#[test]
fn eight_writers_one_chain() {
    let per: usize = 250;
    let writers = 8;
    let env = Arc::new(Env::new());
    env.init();
    let acks: Arc<Mutex<Vec<(u64, String, String)>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let env = env.clone();
            let acks = acks.clone();
            let failures = failures.clone();
            s.spawn(move || {
                for i in 0..per {
                    let f = format!("w{w}-{i}.md");
                    env.write(
                        &f,
                        format!("# Spec {{#spec}}\n\nWriter {w}, release {i}.\n"),
                    );
                    let out = env
                        .cmd()
                        .args([
                            "spec",
                            "release",
                            &f,
                            "--version",
                            &format!("w{w}.{i}"),
                            "--signer",
                            "policy-team",
                            "--json",
                        ])
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        failures
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&out.stderr).into_owned());
                        continue;
                    }
                    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    acks.lock().unwrap().push((
                        j["seq"].as_u64().unwrap(),
                        j["hash"].as_str().unwrap().to_string(),
                        j["checkpoint"].as_str().unwrap().to_string(),
                    ));
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "writers failed (a busy ledger must make them wait): {failures:?}"
    );
    let acks = acks.lock().unwrap();
    let total = writers * per;
    assert_eq!(acks.len(), total);

    // Exactly 2 + total entries, each acknowledged one at its seq with its hash.
    let log = env.ok(&["log", "--json"]);
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), total + 2);
    for (seq, hash, _) in acks.iter() {
        assert_eq!(
            entries[*seq as usize]["hash"].as_str().unwrap(),
            hash,
            "entry {seq}"
        );
    }
    // One consistent sequence of checkpoints: one root per size, each the tree's.
    let mut roots: BTreeMap<u64, String> = BTreeMap::new();
    for (_, _, cp) in acks.iter() {
        let mut l = cp.lines();
        l.next();
        let size: u64 = l.next().unwrap().parse().unwrap();
        let root = l.next().unwrap().to_string();
        if let Some(r) = roots.insert(size, root.clone()) {
            assert_eq!(
                r, root,
                "two checkpoints of size {size} with different roots"
            );
        }
    }
    assert_eq!(
        roots.len(),
        total,
        "every append signed its own checkpoint size"
    );
    let v = env.ok(&["verify", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["entries"], (total + 2) as u64);
    assert_eq!(v["checkpoints"], (total + 2) as u64);
    // Every checkpoint a writer received extends into the final ledger.
    for (_, _, cp) in acks.iter().step_by(97) {
        env.write("cp.txt", cp);
        env.ok(&["verify", "--since", "cp.txt"]);
    }
    println!(
        "concurrency: writers {writers}, appends {total}, acknowledged {}, lost 0, forks 0, {:.0} appends/s",
        acks.len(),
        total as f64 / secs
    );
}

#[test]
fn a_held_lock_makes_writers_wait_then_fail_clearly() {
    let env = Env::new();
    env.init();
    env.write("a.md", "# A {#a}\n\ntext\n");
    // Hold the write lock from another connection.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let before = std::fs::read(env.db()).unwrap();
    let t = std::time::Instant::now();
    let err = env.fails(
        &[
            "spec",
            "release",
            "a.md",
            "--version",
            "v1",
            "--signer",
            "policy-team",
            "--lock-timeout",
            "1",
        ],
        2,
        "ledger is busy",
    );
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(900),
        "did not wait"
    );
    assert!(err.contains("--lock-timeout"), "{err}");
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    assert_eq!(before, std::fs::read(env.db()).unwrap());
    env.ok(&[
        "spec",
        "release",
        "a.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
    ]);
}
