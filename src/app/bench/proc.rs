//! Runs a child process and measures its wall time and peak resident set size
//! (`wait4`'s `ru_maxrss` of exactly that child).
//!
//! Linux folds the peak RSS of the memory a process had before `exec` into its
//! `ru_maxrss`, and std spawns with `vfork` semantics, so a child spawned by the
//! bench (which holds the generated ledger, hundreds of MiB at 100k entries)
//! would report the bench's own size. [`run_measured`] therefore runs the
//! command from a small `speclog` process ([`MEASURE_ARG`], [`measure_main`])
//! that reports the command's own figures.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::Error;

/// What one child process took.
#[derive(Clone, Debug, Default)]
pub struct ChildStats {
    pub secs: f64,
    pub maxrss_mib: f64,
    /// Exit code (128 + signal number if killed).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The first argument that makes `speclog` run [`measure_main`].
pub const MEASURE_ARG: &str = "__bench-measure";

/// Runs `cmd` to completion, collecting its output. Its peak RSS includes the
/// calling process's; see [`run_measured`] where that matters.
pub fn run_child(cmd: &mut Command) -> Result<ChildStats, Error> {
    run(cmd, true)
}

/// Runs `cmd` like [`run_child`], from a small measuring process, so that the
/// peak RSS is the command's own.
pub fn run_measured(cmd: &Command) -> Result<ChildStats, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::Io("current exe".into(), e))?;
    let report =
        std::env::temp_dir().join(format!("speclog-bench-measure-{}.txt", std::process::id()));
    let mut w = Command::new(exe);
    w.arg(MEASURE_ARG)
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        w.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    let mut s = run_child(&mut w)?;
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    let f: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let [secs, kib, code] = f[..] else {
        return Err(Error::Io(
            format!("{:?}", cmd.get_program()),
            std::io::Error::other(format!(
                "the measuring process did not report: {}",
                String::from_utf8_lossy(&s.stderr).trim()
            )),
        ));
    };
    s.secs = secs;
    s.maxrss_mib = kib / 1024.0;
    s.code = code as i32;
    Ok(s)
}

/// `speclog __bench-measure REPORT PROGRAM [ARGS...]`: runs PROGRAM with this
/// process's standard streams and writes "SECONDS MAXRSS_KIB EXIT_CODE" to
/// REPORT. Returns the exit code.
pub fn measure_main(args: &[OsString]) -> i32 {
    let (Some(report), Some(program)) = (args.get(2), args.get(3)) else {
        eprintln!("usage: speclog {MEASURE_ARG} REPORT PROGRAM [ARGS...]");
        return 2;
    };
    let mut c = Command::new(program);
    c.args(&args[4..]);
    match run(&mut c, false) {
        Ok(s) => {
            let line = format!("{} {} {}\n", s.secs, s.maxrss_mib * 1024.0, s.code);
            if let Err(e) = std::fs::write(report, line) {
                eprintln!("{}: {e}", std::path::Path::new(report).display());
                return 2;
            }
            s.code
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}

fn run(cmd: &mut Command, capture: bool) -> Result<ChildStats, Error> {
    let name = format!("{:?}", cmd.get_program());
    let io = |e: std::io::Error| Error::Io(name.clone(), e);
    let t = Instant::now();
    if capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(io)?;
    let out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(mut out) = out {
            let _ = out.read_to_end(&mut b);
        }
        b
    });
    let mut stderr = Vec::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_end(&mut stderr);
    }
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data, zero is a valid value; wait4 writes it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own child, not yet reaped (std's Child is never waited on).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(io(e));
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap_or_default();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok(ChildStats {
        secs,
        // Linux reports ru_maxrss in KiB.
        maxrss_mib: ru.ru_maxrss as f64 / 1024.0,
        code,
        stdout,
        stderr,
    })
}
