//! The bench's measuring process (`speclog __bench-measure`), which reports a
//! command's own wall time, peak RSS and exit code.

mod common;

use common::Env;

fn report(env: &Env, args: &[&str]) -> (Vec<f64>, i32) {
    let out = env
        .cmd()
        .args(["__bench-measure", "report.txt"])
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(env.path("report.txt")).unwrap();
    let f: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (f, out.status.code().unwrap())
}

#[test]
fn reports_time_peak_rss_and_exit_code_of_the_command() {
    let env = Env::new();
    let (f, code) = report(&env, &["sh", "-c", "exit 3"]);
    assert_eq!((f.len(), f[2], code), (3, 3.0, 3), "{f:?}");
    assert!(f[0] > 0.0 && f[1] > 0.0, "{f:?}");
    // A command that holds 64 MiB reports more than half of that; `true` far less.
    let (big, code) = report(
        &env,
        &[
            "sh",
            "-c",
            "head -c 67108864 /dev/zero | tail -c 67108864 >/dev/null",
        ],
    );
    assert_eq!(code, 0);
    let (small, _) = report(&env, &["true"]);
    assert!(small[1] < 16.0 * 1024.0, "{small:?}");
    assert!(big[1] > 32.0 * 1024.0, "{big:?} {small:?}");
    // A missing program: no report, exit 2.
    let out = env
        .cmd()
        .args(["__bench-measure", "r2.txt", "/nonexistent/program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!env.path("r2.txt").exists());
}
