//! Printing: plain lines, JSON, colour only on a terminal (and never with NO_COLOR),
//! progress bars only on a terminal.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use speclog::Error;
use speclog::app::EntryView;

/// Standard output with error mapping; a closed pipe ends output quietly.
pub struct Out {
    w: std::io::BufWriter<std::io::Stdout>,
}

fn io(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Error::Io("stdout".into(), e)
}

impl Out {
    pub fn stdout() -> Out {
        Out {
            w: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    /// Prints a line. Output errors other than a closed pipe surface at exit.
    pub fn line(&mut self, s: &str) {
        let _ = writeln!(self.w, "{s}")
            .and_then(|_| self.w.flush())
            .map_err(io);
    }

    pub fn raw(&mut self, s: &str) -> Result<(), Error> {
        write!(self.w, "{s}").map_err(io)?;
        self.w.flush().map_err(io)
    }

    pub fn json<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let s = serde_json::to_string_pretty(v).map_err(|e| Error::Io("json".into(), e.into()))?;
        self.line(&s);
        Ok(())
    }

    pub fn json_line<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let s = serde_json::to_string(v).map_err(|e| Error::Io("json".into(), e.into()))?;
        writeln!(self.w, "{s}").map_err(io)
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = self.w.flush();
    }
}

/// True when colour may be used on standard output.
pub fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn paint(code: &str, s: &str) -> String {
    if colour() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// One `log` line: seq, time, kind, subject, signer, short hash.
pub fn log_line(v: &EntryView) -> String {
    format!(
        "{:>6}  {}  {:<18} {:<24} {:<16} {}",
        v.seq,
        v.time,
        paint("36", &format!("{:<18}", v.kind)),
        v.subject,
        v.signer,
        paint("2", &v.hash[..16])
    )
}

/// The `show` text form.
pub fn show_text(v: &EntryView) -> String {
    let payload = serde_json::to_string_pretty(&v.payload).unwrap_or_default();
    format!(
        "entry      {}\ntime       {}\nkind       {}\nsubject    {}\nsigner     {} ({})\nhash       {}\nprev       {}\nsignature  {}\nsize       {} bytes\npayload\n{}",
        v.seq,
        v.time,
        v.kind,
        v.subject,
        v.signer,
        v.signer_key,
        v.hash,
        v.prev,
        v.signature,
        v.size,
        payload
            .lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// A progress bar on standard error, hidden unless it is a terminal.
pub fn progress(msg: &'static str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    pb.set_message(msg);
    pb
}
