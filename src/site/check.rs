//! Checking a published site against a build of its log: a checking
//! [`Writer`](super::Writer) hands every file it is given to a [`Checker`],
//! whose threads compare it byte for byte with the file in the site (never
//! through a link, reads bounded by the bytes read), and at the end the site
//! is walked for files and links no build writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use super::SiteError;

/// How a file of a published site differs from the one a build of its log
/// writes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The file, relative to the site.
    pub path: String,
    /// "changed", "missing" or "extra".
    pub kind: &'static str,
    /// What differs, in one line (hostile bytes escaped).
    pub what: String,
}

/// What a check found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckStats {
    /// Files a build writes, all compared.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files that differ, sorted by path; at most [`MAX_DIFFERENCES`].
    pub differences: Vec<Difference>,
    /// How many differ in all.
    pub differing: u64,
}

/// Differences a check keeps (it counts the others).
pub const MAX_DIFFERENCES: usize = 100;

/// Files a build keeps beside the site for its own bookkeeping, never pages
/// and never read by a reader: a check neither compares nor reports them.
pub const BOOKKEEPING: [&str; 3] = [super::MANIFEST, super::STATE, super::cache::MODEL];

/// Largest file a check reads beyond the length it expects: a file longer
/// than that differs, and is not read further.
const CHECK_SLACK: u64 = 1 << 16;

/// Files queued per thread before a write waits.
const QUEUE: usize = 256;

/// A file to compare: its relative path, its path and the bytes a build writes.
type Job = (String, PathBuf, Vec<u8>);

/// Threads that compare files with the site, one per core (up to 4).
#[derive(Debug)]
pub struct Checker {
    queues: Vec<mpsc::SyncSender<Job>>,
    /// Each thread's differences, and how many more it counted.
    threads: Vec<thread::JoinHandle<(Vec<Difference>, u64)>>,
    next: usize,
}

impl Checker {
    pub fn new() -> Checker {
        let n = thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
        let (mut queues, mut threads) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
            queues.push(tx);
            threads.push(thread::spawn(move || {
                let (mut diffs, mut more) = (Vec::new(), 0u64);
                for (rel, path, data) in rx {
                    if let Some(d) = compare(rel, &path, &data) {
                        if diffs.len() < 16 * MAX_DIFFERENCES {
                            diffs.push(d);
                        } else {
                            more += 1;
                        }
                    }
                }
                (diffs, more)
            }));
        }
        Checker {
            queues,
            threads,
            next: 0,
        }
    }

    /// Queues the comparison of `rel` (at `path`) with `data`.
    pub fn send(&mut self, rel: String, path: PathBuf, data: Vec<u8>) -> Result<(), SiteError> {
        let i = self.next % self.queues.len();
        self.next += 1;
        self.queues[i]
            .send((rel, path, data))
            .map_err(|_| SiteError::Render("checker thread".into(), "stopped".into()))
    }

    /// Waits for every comparison, then walks `root` for files the build
    /// does not write (`written` says which it does; the build's own
    /// [`BOOKKEEPING`] files at the root aside). `files` and `bytes`: what
    /// the build wrote.
    pub fn finish(
        self,
        root: &Path,
        written: &dyn Fn(&str) -> bool,
        files: u64,
        bytes: u64,
    ) -> Result<CheckStats, SiteError> {
        drop(self.queues);
        let (mut diffs, mut uncounted) = (Vec::new(), 0u64);
        for t in self.threads {
            let (d, more) = t
                .join()
                .map_err(|_| SiteError::Render("checker thread".into(), "panicked".into()))?;
            diffs.extend(d);
            uncounted += more;
        }
        let mut extra = |diffs: &mut Vec<Difference>, rel: String, what: &str| {
            if diffs.len() < 16 * MAX_DIFFERENCES {
                diffs.push(Difference {
                    path: rel,
                    kind: "extra",
                    what: what.into(),
                });
            } else {
                uncounted += 1;
            }
        };
        let io = |p: &Path| {
            let path = p.to_path_buf();
            move |source| SiteError::Io { path, source }
        };
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            let path = if dir.is_empty() {
                root.to_path_buf()
            } else {
                root.join(&dir)
            };
            for e in fs::read_dir(&path).map_err(io(&path))? {
                let e = e.map_err(io(&path))?;
                let name = e.file_name().to_string_lossy().into_owned();
                let t = e.file_type().map_err(io(&path))?;
                let rel = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                if t.is_dir() {
                    stack.push(rel);
                } else if t.is_symlink() {
                    extra(&mut diffs, rel, "a symbolic link, which no build writes");
                } else {
                    let bookkeeping = dir.is_empty() && BOOKKEEPING.contains(&rel.as_str());
                    if !bookkeeping && !written(&rel) {
                        extra(&mut diffs, rel, "no build of this log writes this file");
                    }
                }
            }
        }
        diffs.sort_by(|a, b| a.path.cmp(&b.path));
        let differing = diffs.len() as u64 + uncounted;
        diffs.truncate(MAX_DIFFERENCES);
        Ok(CheckStats {
            files,
            bytes,
            differences: diffs,
            differing,
        })
    }
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

/// Compares the file at `path` with `want`; None if they are the same.
/// Never follows a link at the file itself (the walk reports links).
fn compare(rel: String, path: &Path, want: &[u8]) -> Option<Difference> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let differs = |kind: &'static str, what: String| {
        Some(Difference {
            path: rel.clone(),
            kind,
            what,
        })
    };
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return differs("missing", "missing from this copy".into());
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return differs("changed", "a symbolic link in place of the file".into());
        }
        Err(e) => return differs("changed", format!("cannot be read: {e}")),
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return differs("changed", "not a regular file".into());
    }
    let mut got = Vec::with_capacity(want.len() + 1);
    // Bounded by the bytes read, whatever the file claims to be.
    if let Err(e) = f
        .take(want.len() as u64 + CHECK_SLACK)
        .read_to_end(&mut got)
    {
        return differs("changed", format!("cannot be read: {e}"));
    }
    if got == want {
        return None;
    }
    differs("changed", describe(want, &got))
}

/// Says in one line where `got` first differs from `want`.
pub fn describe(want: &[u8], got: &[u8]) -> String {
    let at = want.iter().zip(got).take_while(|(a, b)| a == b).count();
    if at == want.len() {
        let added = got.len() - want.len();
        return format!(
            "{}{added} bytes added after the end of the {} the log gives",
            if added as u64 >= CHECK_SLACK {
                "at least "
            } else {
                ""
            },
            want.len()
        );
    }
    if at == got.len() {
        return format!(
            "cut short: {} bytes of the {} the log gives",
            got.len(),
            want.len()
        );
    }
    let line = want[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let start = want[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let show = |b: &[u8]| {
        let end = b[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| start + i);
        let text = String::from_utf8_lossy(&b[start..end]);
        let mut s: String = text.chars().take(80).collect();
        if text.chars().count() > 80 {
            s.push_str("...");
        }
        format!("{s:?}")
    };
    format!(
        "line {line} differs: the log gives {}, this copy has {}",
        show(want),
        show(got)
    )
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn describes_where_a_copy_differs() {
        assert_eq!(
            describe(b"a\nbcd\n", b"a\nbxd\n"),
            r#"line 2 differs: the log gives "bcd", this copy has "bxd""#
        );
        assert_eq!(
            describe(b"abc", b"abcde"),
            "2 bytes added after the end of the 3 the log gives"
        );
        assert_eq!(
            describe(b"abc", b"a"),
            "cut short: 1 bytes of the 3 the log gives"
        );
        // Hostile bytes are escaped, and a long line cut.
        let d = describe(b"x\n", "\u{202e}\x1b[2J\n".as_bytes());
        assert!(d.contains(r"\u{202e}") && d.contains(r"\u{1b}"), "{d}");
        let long = "y".repeat(500);
        assert!(describe(b"x", long.as_bytes()).len() < 250);
    }
}
