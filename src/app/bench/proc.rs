//! Runs a child process and measures its wall time and peak resident set size
//! (`wait4`'s `ru_maxrss` of exactly that child).

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

/// Runs `cmd` to completion, collecting its output.
pub fn run_child(cmd: &mut Command) -> Result<ChildStats, Error> {
    let name = format!("{:?}", cmd.get_program());
    let io = |e: std::io::Error| Error::Io(name.clone(), e);
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io)?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let mut stderr = Vec::new();
    let _ = err.read_to_end(&mut stderr);
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
