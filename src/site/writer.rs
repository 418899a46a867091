//! The output writer: every site file goes through it. It keeps paths inside the
//! output directory, writes a file only when its bytes changed (on one thread
//! per core, see `Pool`), refuses to write one path twice in a build, and
//! removes files an earlier build wrote that this build no longer produces: in
//! a full build every file it does not write, in an incremental build (see
//! [`Writer::trust_manifest`]) the files it drops.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread;

use super::SiteError;
use super::check::{CheckStats, Checker};
use crate::fsx::{self, Dir, Opts};

/// Name of the file listing what the last build wrote: one line per file, its
/// relative path, a tab, its length in bytes, a tab and the SHA-256 of its
/// bytes in hex (`-` if the build kept the file unread and did not know it).
/// A file is only ever removed if its bytes still have the recorded digest, so
/// a manifest planted in a directory cannot make a build delete what it lists.
pub const MANIFEST: &str = ".speclog-site";

/// A file's digest as the manifest records it.
pub type Digest = [u8; 32];

/// Parses a manifest line into a path, and a length and digest if recorded.
fn manifest_line(line: &str) -> (&str, Option<u64>, Option<Digest>) {
    let mut parts = line.split('\t');
    let rel = parts.next().unwrap_or("");
    let len = parts.next().and_then(|l| l.parse().ok());
    (rel, len, parts.next().and_then(parse_digest))
}

fn parse_digest(hex_text: &str) -> Option<Digest> {
    let mut d = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut d).ok()?;
    Some(d)
}

fn digest_text(d: Option<&Digest>) -> String {
    d.map_or_else(|| "-".to_string(), hex::encode)
}

/// The digest the manifest records for `data`.
fn digest(data: &[u8]) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

fn fs_err(path: PathBuf) -> impl FnOnce(std::io::Error) -> SiteError {
    move |source| {
        if fsx::is_symlink_refusal(&source) {
            SiteError::Symlink(path)
        } else {
            SiteError::Io { path, source }
        }
    }
}

/// The last build's manifest, in an incremental build: its text and the
/// (start, end, length) of each path in it, sorted (the manifest is written
/// in path order), so a lookup is a binary search and the new manifest is a
/// merge: an incremental build costs what it writes, not what the site holds.
#[derive(Debug)]
struct Listed {
    text: String,
    /// (start, end of path, length, end of line without its newline).
    lines: Vec<(usize, usize, u64, usize)>,
    /// Listed files this build no longer produces, to remove.
    dropped: HashSet<String>,
}

impl Listed {
    /// Parses a manifest; None if a line lacks a length or the paths are not
    /// strictly increasing (then it was not written by a build).
    fn parse(text: String) -> Option<Listed> {
        let mut lines = Vec::new();
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            let body = line.strip_suffix('\n')?;
            let tab = body.find('\t')?;
            let rest = &body[tab + 1..];
            let len = rest.split('\t').next()?.parse().ok()?;
            lines.push((at, at + tab, len, at + body.len()));
            at += line.len();
        }
        let sorted = lines
            .windows(2)
            .all(|w| text[w[0].0..w[0].1] < text[w[1].0..w[1].1]);
        sorted.then_some(Listed {
            text,
            lines,
            dropped: HashSet::new(),
        })
    }

    fn path(&self, i: usize) -> &str {
        let (a, b, _, _) = self.lines[i];
        &self.text[a..b]
    }

    fn index(&self, rel: &str) -> Option<usize> {
        self.lines
            .binary_search_by(|&(a, b, _, _)| self.text[a..b].cmp(rel))
            .ok()
    }

    /// The listed length of `rel`.
    fn get(&self, rel: &str) -> Option<u64> {
        self.index(rel).map(|i| self.lines[i].2)
    }

    /// The listed digest of line `i`.
    fn digest(&self, i: usize) -> Option<Digest> {
        let (a, _, _, e) = self.lines[i];
        manifest_line(&self.text[a..e]).2
    }
}

/// Writes files under one output directory.
#[derive(Debug)]
pub struct Writer {
    root: PathBuf,
    /// The output directory, open: every file is made relative to it.
    dir: Arc<Dir>,
    /// Files of this build.
    files: BTreeMap<String, FileInfo>,
    /// In an incremental build, the files the last build listed in its
    /// manifest, with their lengths: trusted to be on disk as listed, and
    /// kept unless this build writes or drops them.
    listed: Option<Listed>,
    unchanged: u64,
    bytes: u64,
    /// Directories (relative) already checked in this build to be real
    /// directories, each with whether this build created it (then nothing in
    /// it can be there from before). File creation is the cost of a build, so
    /// each directory is looked at and made once, not once per file.
    dirs: HashMap<String, bool>,
    /// Directories new in this build that no file has been queued in yet.
    pending: HashSet<String>,
    /// The threads that put files in place, started with the first write.
    pool: Option<Pool>,
    /// A checking writer ([`Writer::checking`]) compares instead of writing.
    check: Option<Checker>,
}

/// A file of the build.
#[derive(Clone, Copy, Debug)]
pub struct FileInfo {
    pub len: u64,
    /// Whether this build wrote it (it was new or its bytes changed).
    pub written: bool,
    /// The SHA-256 of its bytes, if known (a file kept unread may not be).
    pub digest: Option<Digest>,
}

/// What a [`Writer`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    /// Files whose bytes changed or that were new, sorted.
    pub written: Vec<String>,
    /// Files left alone because their bytes were already right.
    pub unchanged: u64,
    /// Files from an earlier build that this build no longer produces, now removed.
    pub removed: Vec<String>,
    /// Total bytes of all files of this build.
    pub bytes: u64,
    /// Files of the site, and of them HTML pages.
    #[serde(skip)]
    pub files: u64,
    #[serde(skip)]
    pub pages: u64,
}

/// Checks a relative output path: `/`-separated, each part non-empty, not `.` or `..`,
/// without `\`, NUL or control characters, and not absolute.
pub fn check_rel(rel: &str) -> Result<(), SiteError> {
    let ok = !rel.is_empty()
        && rel.len() <= 1024
        && !rel.starts_with('/')
        && rel.split('/').all(|p| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.len() <= 255
                && !p.chars().any(|c| c == '\\' || c == ':' || c.is_control())
        });
    if ok {
        Ok(())
    } else {
        Err(SiteError::Path(rel.to_string()))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Writer {
    /// A writer for `root`, which is created if missing.
    pub fn new(root: &Path) -> Result<Writer, SiteError> {
        fsx::create_dir_all(root, fsx::DIR_PUBLIC).map_err(io(root))?;
        Writer::open(root, None)
    }

    fn open(root: &Path, check: Option<Checker>) -> Result<Writer, SiteError> {
        Ok(Writer {
            root: root.to_path_buf(),
            dir: Arc::new(Dir::open(root).map_err(io(root))?),
            files: BTreeMap::new(),
            listed: None,
            unchanged: 0,
            bytes: 0,
            dirs: HashMap::new(),
            pending: HashSet::new(),
            pool: None,
            check,
        })
    }

    /// A writer that changes nothing under `root`, a published site: each
    /// file written is compared byte for byte with the file there (see
    /// [`super::check`]), and [`Writer::finish_check`] reports every file
    /// that differs, is missing, or is there although no build writes it.
    pub fn checking(root: &Path) -> Result<Writer, SiteError> {
        Writer::open(root, Some(Checker::new()))
    }

    /// Ends a check ([`Writer::checking`]): what differs.
    pub fn finish_check(mut self) -> Result<CheckStats, SiteError> {
        let checker = self
            .check
            .take()
            .ok_or_else(|| SiteError::Data("not a checking writer".into()))?;
        let files = &self.files;
        checker.finish(
            &self.root,
            &|rel| files.contains_key(rel),
            files.len() as u64,
            self.bytes,
        )
    }

    /// The output directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes this an incremental build: every file the last build listed in
    /// its manifest is trusted to be on disk as listed and stays part of the
    /// site, unread, unless this build writes it again or [drops](Writer::drop_file)
    /// it. Returns false (and changes nothing) if the manifest cannot be read
    /// or was not written by a build.
    pub fn trust_manifest(&mut self) -> Result<bool, SiteError> {
        let path = self.safe_path(MANIFEST)?;
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(false);
        };
        match Listed::parse(text) {
            Some(l) => {
                self.listed = Some(l);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// In an incremental build, whether the last build listed every one of
    /// `rels` (then they stay as they are, unread); false otherwise, and then
    /// they must be written.
    pub fn carry(&self, rels: &[String]) -> bool {
        self.listed
            .as_ref()
            .is_some_and(|l| rels.iter().all(|rel| l.get(rel).is_some()))
    }

    /// In an incremental build, removes `rel` from the site at the end of the
    /// build unless the build writes it. (A full build removes whatever it
    /// does not write.)
    pub fn drop_file(&mut self, rel: &str) -> Result<(), SiteError> {
        check_rel(rel)?;
        if let Some(listed) = &mut self.listed {
            listed.dropped.insert(rel.to_string());
        }
        Ok(())
    }

    /// Writes `data` to `rel` (a `/`-separated path inside the output directory)
    /// unless the file already holds exactly these bytes. The path is checked
    /// and registered now; the file itself is put in place by one of the
    /// writer's threads (creating, not rendering, is the cost of a build: see
    /// `Pool`), and any error it meets is returned by a later call or by
    /// [`Writer::finish`].
    pub fn write(&mut self, rel: &str, data: impl Into<Vec<u8>>) -> Result<(), SiteError> {
        let data = data.into();
        check_rel(rel)?;
        if self.files.contains_key(rel) {
            return Err(SiteError::Duplicate(rel.to_string()));
        }
        if let Some(c) = &mut self.check {
            let info = FileInfo {
                len: data.len() as u64,
                written: false,
                digest: None,
            };
            self.files.insert(rel.to_string(), info);
            self.bytes += data.len() as u64;
            return c.send(rel.to_string(), self.root.join(rel), data);
        }
        let (fresh, mkdir) = match rel.rsplit_once('/') {
            Some((dir, _)) => {
                let fresh = self.make_dir(dir)?;
                // The first file of a directory this build makes creates it.
                let create = fresh && self.pending.remove(dir);
                (fresh, create)
            }
            None => (false, false),
        };
        let info = FileInfo {
            len: data.len() as u64,
            written: true,
            digest: None,
        };
        self.files.insert(rel.to_string(), info);
        self.bytes += data.len() as u64;
        let job = Job {
            rel: rel.to_string(),
            data,
            mkdir,
            fresh,
        };
        let dir = &self.dir;
        let pool = self.pool.get_or_insert_with(|| Pool::new(dir.clone()));
        pool.send(job)
    }

    /// Makes sure the directory `rel` can be written to: if it exists, that it
    /// is a real directory, refusing a symbolic link on the way; returns true if
    /// it is new in this build (then nothing in it can be there from before,
    /// and it is created with its first file). Each directory is checked once
    /// per build.
    fn make_dir(&mut self, rel: &str) -> Result<bool, SiteError> {
        if let Some(fresh) = self.dirs.get(rel) {
            return Ok(*fresh);
        }
        let parent_fresh = match rel.rsplit_once('/') {
            Some((parent, _)) => self.make_dir(parent)?,
            None => false,
        };
        let p = self.root.join(rel);
        let fresh = parent_fresh
            || match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => return Err(SiteError::Symlink(p)),
                Ok(m) if m.is_dir() => false,
                Ok(_) => {
                    return Err(SiteError::Io {
                        path: p,
                        source: std::io::Error::other("a file is in the way of a directory"),
                    });
                }
                Err(_) => true,
            };
        // A bounded cache: at 100k entries a build makes some 200,000
        // directories, each used by a few consecutive files; one forgotten and
        // met again is looked at again (and not taken as fresh if a writer
        // thread has made it since).
        if self.dirs.len() >= 4096 {
            self.dirs.clear();
            self.pending.clear();
        }
        self.dirs.insert(rel.to_string(), fresh);
        if fresh {
            self.pending.insert(rel.to_string());
        }
        Ok(fresh)
    }

    /// The path of `rel` under the root, refusing any existing symbolic link on
    /// the way, so nothing is written outside the output directory.
    fn safe_path(&self, rel: &str) -> Result<PathBuf, SiteError> {
        let mut p = self.root.clone();
        for part in rel.split('/') {
            p.push(part);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => return Err(SiteError::Symlink(p)),
                _ => {}
            }
        }
        Ok(p)
    }

    /// Registers `rel` as part of this build without reading or rewriting it, if a
    /// regular file of exactly `len` bytes is already there. For immutable files
    /// (full tlog tiles, content-addressed blobs), so an incremental build after
    /// an append does not re-read the whole log. Returns false if the file must
    /// be written.
    pub fn keep(&mut self, rel: &str, len: u64) -> Result<bool, SiteError> {
        check_rel(rel)?;
        if self.check.is_some() {
            // A check compares every file.
            return Ok(false);
        }
        if let Some(listed) = &self.listed
            && listed.get(rel) == Some(len)
            && !listed.dropped.contains(rel)
        {
            return Ok(true);
        }
        let path = self.safe_path(rel)?;
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() && m.len() == len => {
                if self.files.contains_key(rel) {
                    return Err(SiteError::Duplicate(rel.to_string()));
                }
                let info = FileInfo {
                    len,
                    written: false,
                    digest: None,
                };
                self.files.insert(rel.to_string(), info);
                self.bytes += len;
                self.unchanged += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Removes files an earlier build listed in its manifest that this build did
    /// not write, if their bytes are still the ones that build recorded,
    /// records the new manifest, and returns what happened.
    pub fn finish(mut self) -> Result<WriteStats, SiteError> {
        if self.check.is_some() {
            return Err(SiteError::Data(
                "a checking writer writes nothing: use finish_check".into(),
            ));
        }
        // Every queued file is in place before anything is removed or listed.
        if let Some(pool) = self.pool.take() {
            for (rel, wrote, d) in pool.join()? {
                if let Some(f) = self.files.get_mut(&rel) {
                    f.digest = Some(d);
                    if !wrote {
                        f.written = false;
                        self.unchanged += 1;
                    }
                }
            }
        }
        // What the build no longer needs goes before the manifests are read and written.
        self.dirs = HashMap::new();
        self.pending = HashSet::new();
        self.safe_path(MANIFEST)?;
        let listed = self.listed.take();
        // What goes, with the digest recorded for it: in a full build every
        // listed file not written, in an incremental one the dropped files
        // not written.
        let mut gone: Vec<(String, Option<u64>, Option<Digest>)> = match &listed {
            Some(l) => l
                .dropped
                .iter()
                .filter(|r| !self.files.contains_key(r.as_str()))
                .filter_map(|r| {
                    l.index(r)
                        .map(|i| (r.clone(), Some(l.lines[i].2), l.digest(i)))
                })
                .collect(),
            None => {
                let old = self.dir.open_file(MANIFEST).map(std::io::BufReader::new);
                let mut v = Vec::new();
                for line in old.into_iter().flat_map(std::io::BufRead::lines) {
                    let Ok(line) = line else { break };
                    let (rel, len, d) = manifest_line(&line);
                    match self.files.get_mut(rel) {
                        // A file kept unread: its digest is the one recorded.
                        Some(f) if f.digest.is_none() && Some(f.len) == len => f.digest = d,
                        Some(_) => {}
                        None => v.push((rel.to_string(), len, d)),
                    }
                }
                v
            }
        };
        gone.sort();
        let mut removed = Vec::new();
        for (rel, len, d) in &gone {
            if check_rel(rel).is_err() {
                continue;
            }
            if let (Some(len), Some(d)) = (len, d)
                && self.remove_if_same(rel, *len, d)
            {
                removed.push(rel.to_string());
            }
        }
        // The new manifest: this build's files, and in an incremental build
        // the listed files it kept, merged in path order; streamed to a
        // temporary file created new-only (never through a link), then
        // renamed over it.
        let dir = self.dir.clone();
        let mut tmp = dir
            .temp(MANIFEST, fsx::FILE_PUBLIC)
            .map_err(io(&self.root.join(MANIFEST)))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, tmp.file());
        let (mut count, mut pages) = (0u64, 0u64);
        let mut failed = None;
        let mut line = |rel: &str, len: u64, d: &str| {
            count += 1;
            pages += rel.ends_with(".html") as u64;
            if let Err(e) = writeln!(out, "{rel}\t{len}\t{d}") {
                failed.get_or_insert(e);
            }
        };
        let mut mine = self.files.iter().peekable();
        if let Some(l) = &listed {
            let gone: HashSet<&str> = gone.iter().map(|g| g.0.as_str()).collect();
            for i in 0..l.lines.len() {
                let rel = l.path(i);
                while let Some((f, info)) = mine.next_if(|(f, _)| f.as_str() < rel) {
                    line(f, info.len, &digest_text(info.digest.as_ref()));
                }
                if mine.peek().is_some_and(|(f, _)| f.as_str() == rel) || gone.contains(rel) {
                    continue;
                }
                let len = l.lines[i].2;
                self.bytes += len;
                self.unchanged += 1;
                line(rel, len, &digest_text(l.digest(i).as_ref()));
            }
        }
        for (f, info) in mine {
            line(f, info.len, &digest_text(info.digest.as_ref()));
        }
        let manifest = self.root.join(MANIFEST);
        if let Some(e) = failed {
            return Err(io(&manifest)(e));
        }
        out.flush().map_err(io(&manifest))?;
        drop(out);
        tmp.commit(
            MANIFEST,
            Opts {
                replace: fsx::Replace::Over,
                ..Opts::SITE
            },
        )
        .map_err(io(&manifest))?;
        let files = std::mem::take(&mut self.files);
        Ok(WriteStats {
            written: files
                .into_iter()
                .filter(|(_, f)| f.written)
                .map(|(rel, _)| rel)
                .collect(),
            unchanged: self.unchanged,
            removed,
            bytes: self.bytes,
            files: count,
            pages,
        })
    }

    /// Removes the file `rel` if it is a regular file (not a link, at no
    /// step) of `len` bytes whose SHA-256 is `d`, then the directories it
    /// leaves empty, up to the root. Returns whether it removed the file.
    fn remove_if_same(&self, rel: &str, len: u64, d: &Digest) -> bool {
        let (parent, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, rel),
        };
        let sub;
        let dir = match parent {
            Some(p) => match self.dir.sub(p) {
                Ok(s) => {
                    sub = s;
                    &sub
                }
                Err(_) => return false,
            },
            None => &*self.dir,
        };
        let same = dir.open_file(name).is_ok_and(|f| {
            f.metadata().is_ok_and(|m| m.is_file() && m.len() == len)
                && fsx::read_capped(f, len).is_ok_and(|b| digest(&b) == *d)
        });
        if !same || dir.remove(name).is_err() {
            return false;
        }
        // Remove directories left empty, up to the root.
        let mut p = parent;
        while let Some(rel_dir) = p {
            let (up, last) = match rel_dir.rsplit_once('/') {
                Some((u, l)) => (Some(u), l),
                None => (None, rel_dir),
            };
            let holder = match up {
                Some(u) => match self.dir.sub(u) {
                    Ok(s) => s,
                    Err(_) => break,
                },
                None => match Dir::open(&self.root) {
                    Ok(s) => s,
                    Err(_) => break,
                },
            };
            if holder.remove_dir(last).is_err() {
                break;
            }
            p = up;
        }
        true
    }
}

impl Drop for Writer {
    /// A writer dropped without [`Writer::finish`] (a build that failed) still
    /// lets its threads finish the files they were given, so none is left
    /// half-written under a temporary name.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = pool.join();
        }
    }
}

/// A file for a writer thread to put in place.
#[derive(Debug)]
struct Job {
    rel: String,
    data: Vec<u8>,
    /// Whether the file's directory is new in this build and must be
    /// created first, with any missing parents.
    mkdir: bool,
    /// Whether the file's directory is new in this build (nothing is there).
    fresh: bool,
}

/// Threads that put files in place. Creating a file costs the kernel far more
/// than rendering it costs speclog (on ext4 here, 100-250 us of system time
/// per `openat` or `mkdir` that creates one), and creations in different
/// directories proceed in parallel, so the files of a build are spread over
/// one thread per core while the build thread renders. The files of one
/// directory all go to the same thread, in order, so the first of them (which
/// creates the directory) comes first.
#[derive(Debug)]
struct Pool {
    queues: Vec<mpsc::SyncSender<Job>>,
    threads: Vec<thread::JoinHandle<Result<Vec<Done>, SiteError>>>,
}

/// Files queued per thread before [`Writer::write`] waits.
const QUEUE: usize = 256;

impl Pool {
    fn new(root: Arc<Dir>) -> Pool {
        let n = thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
        let (mut queues, mut threads) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
            queues.push(tx);
            let root = root.clone();
            threads.push(thread::spawn(move || {
                let mut done = Vec::new();
                // The directory of the last file: the files of one directory
                // come in a row.
                let mut at: Option<(String, Dir)> = None;
                for job in rx {
                    let wrote = put(&root, &mut at, &job)?;
                    done.push((job.rel, wrote, digest(&job.data)));
                }
                Ok(done)
            }));
        }
        Pool { queues, threads }
    }

    /// Queues `job` on the thread of its directory. If that thread has stopped
    /// on an error, returns the error.
    fn send(&mut self, job: Job) -> Result<(), SiteError> {
        let dir = job.rel.rsplit_once('/').map_or("", |(d, _)| d);
        // FNV-1a of the directory: any fixed spread will do.
        let h = dir.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        let i = (h % self.queues.len() as u64) as usize;
        if self.queues[i].send(job).is_err() {
            let t = self.threads.remove(i);
            self.queues.remove(i);
            return Err(match t.join() {
                Ok(Err(e)) => e,
                _ => SiteError::Render("writer thread".into(), "stopped".into()),
            });
        }
        Ok(())
    }

    /// Waits for every queued file; returns what was done with each, or the first error.
    fn join(self) -> Result<Vec<Done>, SiteError> {
        drop(self.queues);
        let mut unchanged = Vec::new();
        let mut first = None;
        for t in self.threads {
            match t.join() {
                Ok(Ok(v)) => unchanged.extend(v),
                Ok(Err(e)) => {
                    first.get_or_insert(e);
                }
                Err(_) => {
                    first.get_or_insert(SiteError::Render(
                        "writer thread".into(),
                        "panicked".into(),
                    ));
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(unchanged),
        }
    }
}

/// A file put in place: its path, whether it was written (not already
/// right), and its digest.
type Done = (String, bool, Digest);

/// Puts one file in place unless it already holds exactly these bytes;
/// returns true if it wrote. Every step is relative to the open output
/// directory and refuses symbolic links (see [`fsx`]); `at` caches the
/// directory of the last file.
fn put(root: &Dir, at: &mut Option<(String, Dir)>, job: &Job) -> Result<bool, SiteError> {
    let (dir_rel, name) = match job.rel.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", job.rel.as_str()),
    };
    let full = || root.path().join(&job.rel);
    if !dir_rel.is_empty() && at.as_ref().is_none_or(|(r, _)| r != dir_rel) {
        let d = if job.mkdir {
            root.make_sub(dir_rel, fsx::DIR_PUBLIC)
        } else {
            root.sub(dir_rel)
        }
        .map_err(fs_err(root.path().join(dir_rel)))?;
        *at = Some((dir_rel.to_string(), d));
    }
    let dir = match at {
        Some((_, d)) if !dir_rel.is_empty() => d,
        _ => root,
    };
    let mut exists = false;
    if !job.fresh {
        match dir.open_file(name) {
            Ok(f) => {
                let m = f.metadata().map_err(fs_err(full()))?;
                if m.is_dir() {
                    return Err(SiteError::Io {
                        path: full(),
                        source: std::io::Error::other("a directory is in the way of a file"),
                    });
                }
                exists = m.is_file();
                if exists
                    && m.len() == job.data.len() as u64
                    && fsx::read_capped(f, job.data.len() as u64).is_ok_and(|old| old == job.data)
                {
                    return Ok(false);
                }
            }
            Err(e) if fsx::is_symlink_refusal(&e) => return Err(SiteError::Symlink(full())),
            Err(_) => {}
        }
    }
    // A temporary file beside it, created new-only, then renamed over the
    // target, so a reader (or a server) never sees half a file.
    let opts = if exists {
        Opts::SITE
    } else {
        Opts {
            replace: fsx::Replace::Over,
            ..Opts::SITE
        }
    };
    dir.write(name, &job.data, opts).map_err(fs_err(full()))?;
    Ok(true)
}

/// Reads the file `name` directly in `root`, if it is a regular file (not a
/// symbolic link) of at most 1 MiB. For the build's own bookkeeping, never a page.
pub fn read_meta(root: &Path, name: &str) -> Option<String> {
    let f = Dir::open(root).ok()?.open_file(name).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    String::from_utf8(fsx::read_capped(f, 1 << 20).ok()?).ok()
}

/// Writes (`Some`) or removes (`None`) the file `name` directly in `root`,
/// refusing a symbolic link there. For the build's own bookkeeping.
pub fn write_meta(root: &Path, name: &str, data: Option<&[u8]>) -> Result<(), SiteError> {
    let p = root.join(name);
    match fs::symlink_metadata(&p) {
        Ok(m) if m.file_type().is_symlink() => return Err(SiteError::Symlink(p)),
        Ok(_) if data.is_none() => fs::remove_file(&p).map_err(io(&p))?,
        _ => {}
    }
    if let Some(data) = data {
        let opts = Opts {
            replace: fsx::Replace::Over,
            ..Opts::SITE
        };
        fsx::write(&p, data, opts).map_err(fs_err(p.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escaping_paths() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "c:x",
            "a\nb",
        ] {
            assert!(check_rel(bad).is_err(), "{bad:?}");
        }
        for good in ["index.html", "versions/1.0/index.html", "a/.b", "x..y"] {
            assert!(check_rel(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn writes_only_changes_and_removes_stale() {
        let d = tempfile::tempdir().unwrap();
        let mut w = Writer::new(d.path()).unwrap();
        w.write("a/b.txt", b"one").unwrap();
        w.write("c.txt", b"two").unwrap();
        assert!(matches!(
            w.write("c.txt", b"again"),
            Err(SiteError::Duplicate(_))
        ));
        let s = w.finish().unwrap();
        assert_eq!(s.written, ["a/b.txt", "c.txt"]);

        let mut w = Writer::new(d.path()).unwrap();
        w.write("c.txt", b"two").unwrap();
        let s = w.finish().unwrap();
        assert_eq!(s.unchanged, 1);
        assert_eq!(s.removed, ["a/b.txt"]);
        assert!(!d.path().join("a").exists());
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("link")).unwrap();
        let mut w = Writer::new(d.path()).unwrap();
        assert!(matches!(
            w.write("link/x.html", b"x"),
            Err(SiteError::Symlink(_))
        ));
        assert!(!outside.path().join("x.html").exists());
    }

    #[cfg(unix)]
    #[test]
    fn an_error_on_a_writer_thread_reaches_finish() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("a")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("t"), d.path().join("a/x.html")).unwrap();
        let mut w = Writer::new(d.path()).unwrap();
        // Queued: the link is met by the thread that puts the file in place.
        w.write("a/x.html", b"x").unwrap();
        assert!(matches!(w.finish(), Err(SiteError::Symlink(_))));
        assert!(!outside.path().join("t").exists());
    }

    #[test]
    fn files_spread_over_threads_all_land() {
        let d = tempfile::tempdir().unwrap();
        let mut w = Writer::new(d.path()).unwrap();
        for i in 0..500 {
            w.write(&format!("e/{i}/index.html"), format!("page {i}").as_bytes())
                .unwrap();
            w.write(&format!("e/{i}/index.json"), format!("{i}").as_bytes())
                .unwrap();
        }
        let s = w.finish().unwrap();
        assert_eq!(s.written.len(), 1000);
        for i in 0..500 {
            let p = d.path().join(format!("e/{i}/index.html"));
            assert_eq!(fs::read_to_string(p).unwrap(), format!("page {i}"));
        }
        // Again: every file is compared and left alone.
        let mut w = Writer::new(d.path()).unwrap();
        for i in 0..500 {
            w.write(&format!("e/{i}/index.html"), format!("page {i}").as_bytes())
                .unwrap();
        }
        let s = w.finish().unwrap();
        assert_eq!(
            (s.written.len(), s.unchanged, s.removed.len()),
            (0, 500, 500)
        );
    }
}
