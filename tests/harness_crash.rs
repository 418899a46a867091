//! Crash-safety harness: SIGKILL `speclog` while it appends, at named points
//! inside the append (the binary's `SPECLOG_CRASH_AT` debug hook, see
//! `speclog::fsx::crash_point`) and at random moments. A run told to die at a
//! point must die there by SIGKILL (else the point was not reached and the
//! harness fails), and the kills are counted per point, each at least
//! `SPECLOG_CRASH_KILLS_PER_POINT` (default 8). After every kill the ledger
//! verifies, every append that reported success is present with the same
//! hash, nothing half-written is visible, and the next append works.
//! `key rotate` is killed at each of its points too: afterwards the old or the
//! new key signs, and a retry completes.
//! Prints: kills per point, acknowledged, lost (0), corrupt (0).

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
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
        .unwrap_or(100);
    let per_point: u64 = std::env::var("SPECLOG_CRASH_KILLS_PER_POINT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut by_point: BTreeMap<&str, u64> = APPEND_POINTS.iter().map(|p| (*p, 0)).collect();
    let mut random_kills = 0u64;
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
    let named_wanted = per_point * APPEND_POINTS.len() as u64;
    while kills < kills_wanted + named_wanted {
        i += 1;
        // First every named point in turn, then random moments.
        let point =
            (i <= named_wanted).then(|| APPEND_POINTS[(i as usize - 1) % APPEND_POINTS.len()]);
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
        let mut cmd = Command::new(&bin);
        cmd.args(&args)
            .current_dir(env.dir.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = point {
            cmd.env("SPECLOG_CRASH_AT", p);
        }
        let mut child = cmd.spawn().unwrap();
        let mut killed = false;
        // A quarter of the random-phase runs are left to finish, so that
        // acknowledged entries exist for the loss check to look for.
        let spare = point.is_none() && rng.next().is_multiple_of(4);
        if point.is_none() && !spare {
            std::thread::sleep(Duration::from_micros(rng.next() % 12_000));
            killed = matches!(child.try_wait(), Ok(None));
            if killed {
                child.kill().unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        if let Some(p) = point {
            // The hook kills with SIGKILL at the point, and only there.
            assert_eq!(
                out.status.signal(),
                Some(9),
                "speclog {args:?} was to die at {p} but {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            *by_point.get_mut(p).unwrap() += 1;
            kills += 1;
        } else if killed && !out.status.success() {
            kills += 1;
            random_kills += 1;
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
        "crash: kills {kills} (at points {by_point:?}, at random moments {random_kills}), completed {finished}, acknowledged {}, lost {lost}, corrupt ledgers {corrupt}",
        acked.len()
    );
    assert_eq!(corrupt, 0);
    assert_eq!(lost, 0);
    assert!(
        !acked.is_empty(),
        "no append completed: the loss check checked nothing"
    );
    for (p, n) in &by_point {
        assert!(*n >= per_point, "only {n} kills at {p}");
    }
    assert!(kills >= kills_wanted + named_wanted);
}

/// The named points inside an append (see `speclog::fsx::crash_point`).
const APPEND_POINTS: &[&str] = &[
    "append.entries-written",
    "append.checkpoint-signed",
    "append.checkpoint-written",
    "append.before-commit",
    "append.after-commit",
];

/// The points of `key rotate` beyond its append's.
const ROTATE_POINTS: &[&str] = &[
    "rotate.staged",
    "rotate.committed",
    "rotate.archived-key",
    "rotate.archived-pub",
];

/// Issue 21, break 5: `key rotate` killed at every point, its append's
/// included. After each kill the key signs (the old one if the entry was not
/// committed, the new one if it was), a retry of the rotation completes,
/// nothing staged is left, and the ledger verifies.
#[test]
fn key_rotate_killed_at_any_point_leaves_a_key_that_signs() {
    let bin = assert_cmd::cargo::cargo_bin("speclog");
    let mut hit = BTreeMap::new();
    for point in ROTATE_POINTS.iter().chain(APPEND_POINTS) {
        let env = Env::new();
        env.init();
        env.release("v0", "Zero.");
        let out = Command::new(&bin)
            .args(["key", "rotate", "policy-team"])
            .current_dir(env.dir.path())
            .env("SPECLOG_CRASH_AT", point)
            .env_remove("SPECLOG_LEDGER")
            .env_remove("SPECLOG_KEYS")
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point} not reached: {out:?}");
        *hit.entry(*point).or_insert(0) += 1;
        let committed = env.ok(&["log", "--json"]).lines().count() > 3;
        // Whichever key is in force signs.
        env.release("v1", &format!("After a kill at {point}."));
        env.ok(&["verify"]);
        // The retry completes (it finishes a committed rotation, or rotates).
        env.ok(&["key", "rotate", "policy-team"]);
        env.release("v2", "After the retry.");
        env.ok(&["verify"]);
        let left: Vec<String> = std::fs::read_dir(env.path("keys"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".next") || n.contains(".tmp"))
            .collect();
        assert!(left.is_empty(), "{point}: left {left:?}");
        println!("rotate killed at {point}: committed {committed}, key signs, retry completes");
    }
    assert_eq!(hit.len(), ROTATE_POINTS.len() + APPEND_POINTS.len());
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
