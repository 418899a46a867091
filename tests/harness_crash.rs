//! Crash-safety harness: SIGKILL `speclog` at random points while it appends,
//! 200 times. After every kill the ledger verifies, every append that reported
//! success is present with the same hash, nothing half-written is visible, and
//! the next append works. Prints: kills, acknowledged, lost (0), corrupt (0).

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Env;

/// A small deterministic generator (xorshift64*), so a failing run can be replayed
/// with the printed seed (`SPECLOG_CRASH_SEED`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn kill_nine_never_loses_or_corrupts() {
    let kills_wanted: u64 = std::env::var("SPECLOG_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("SPECLOG_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("crash harness seed {seed}");
    let mut rng = Rng(seed);
    let env = Env::new();
    env.init();
    env.ok(&["key", "generate", "desk", "--role", "incident-responder"]);
    env.write(
        "base.md",
        "# Spec {#spec}\n\n## Privacy {#protect_privacy}\n\nBe careful.\n",
    );
    env.ok(&[
        "spec",
        "release",
        "base.md",
        "--version",
        "base",
        "--signer",
        "policy-team",
    ]);
    let bin = assert_cmd::cargo::cargo_bin("speclog");

    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let (mut kills, mut finished, mut corrupt, mut lost) = (0u64, 0u64, 0u64, 0u64);
    let mut i = 0u64;
    while kills < kills_wanted {
        i += 1;
        let f = format!("s{i}.md");
        env.write(
            &f,
            format!("# Spec {{#spec}}\n\n## Privacy {{#protect_privacy}}\n\nRelease {i}.\n"),
        );
        let label = format!("r{i}");
        let args: Vec<String> = match rng.next() % 3 {
            0 => vec![
                "incident",
                "open",
                "--title",
                "Leak",
                "--severity",
                "high",
                "--summary",
                "x",
                "--spec",
                "base",
                "--clause",
                "protect_privacy",
                "--aware-at",
                "2025-01-01T00:00:00Z",
                "--signer",
                "desk",
                "--json",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            _ => [
                "spec",
                "release",
                &f,
                "--version",
                &label,
                "--signer",
                "policy-team",
                "--json",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        };
        let mut child = Command::new(&bin)
            .args(&args)
            .current_dir(env.dir.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % 12_000));
        let killed = matches!(child.try_wait(), Ok(None));
        if killed {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        if killed && !out.status.success() {
            kills += 1;
        } else if out.status.success() {
            finished += 1;
            let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            // Releases print the entry; incident open prints its entry's seq/hash too.
            if let (Some(seq), Some(hash)) = (j["seq"].as_u64(), j["hash"].as_str()) {
                acked.insert(seq, hash.to_string());
            }
        } else {
            panic!(
                "speclog failed without being killed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // After every kill: the ledger verifies and holds every acknowledged entry.
        let v = env.cmd().args(["verify"]).output().unwrap();
        if !v.status.success() {
            corrupt += 1;
            eprintln!(
                "corrupt after kill {kills}: {}",
                String::from_utf8_lossy(&v.stderr)
            );
        }
        if kills % 10 == 0 || kills == kills_wanted {
            lost += count_lost(&env, &acked);
        }
    }
    lost += count_lost(&env, &acked);
    // The next append works.
    env.write("after.md", "# After {#spec}\n\nDone.\n");
    env.ok(&[
        "spec",
        "release",
        "after.md",
        "--version",
        "after",
        "--signer",
        "policy-team",
    ]);
    env.ok(&["verify"]);
    println!(
        "crash: kills {kills}, completed {finished}, acknowledged {}, lost {lost}, corrupt ledgers {corrupt}",
        acked.len()
    );
    assert_eq!(corrupt, 0);
    assert_eq!(lost, 0);
    assert!(kills >= kills_wanted);
}

fn count_lost(env: &Env, acked: &BTreeMap<u64, String>) -> u64 {
    let log = env.ok(&["log", "--json"]);
    let hashes: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    acked
        .iter()
        .filter(|(seq, h)| hashes.get(**seq as usize) != Some(*h))
        .count() as u64
}
