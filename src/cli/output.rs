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

    /// Prints a line, with [`inert`] control characters. Output errors other
    /// than a closed pipe surface at exit.
    pub fn line(&mut self, s: &str) {
        let _ = writeln!(self.w, "{}", inert(s))
            .and_then(|_| self.w.flush())
            .map_err(io);
    }

    pub fn raw(&mut self, s: &str) -> Result<(), Error> {
        write!(self.w, "{s}").map_err(io)?;
        self.w.flush().map_err(io)
    }

    pub fn json<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let s = serde_json::to_string_pretty(v).map_err(|e| Error::Io("json".into(), e.into()))?;
        writeln!(self.w, "{s}").map_err(io)?;
        self.w.flush().map_err(io)
    }

    pub fn json_line<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let s = serde_json::to_string(v).map_err(|e| Error::Io("json".into(), e.into()))?;
        writeln!(self.w, "{s}").map_err(io)
    }
}

/// `s` made safe for a terminal: text from a ledger (clause titles, labels,
/// fields of results files) may hold escape sequences that retitle or
/// rewrite the terminal, or bidirectional overrides that reorder what is
/// shown, or zero-width characters that hide text. Carriage returns and
/// every [`speclog::base::hidden_char`] (control characters other than
/// newline and tab, bidi controls, zero-width and invisible format
/// characters) are shown as `\u{..}` instead, as the site's pages show them.
pub fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    speclog::base::inert_with(s, |c| c == '\r' || speclog::base::hidden_char(c))
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

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn control_and_bidi_characters_are_shown_not_obeyed() {
        assert_eq!(inert("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(inert("a\x1b]0;pwned\x07b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(inert("x\u{202e}y\u{2066}"), "x\\u{202e}y\\u{2066}");
        assert_eq!(inert("\r\u{85}é"), "\\u{d}\\u{85}é");
        assert_eq!(inert("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
    }
}
