//! File creation and bounded reads shared by every writer in speclog: key
//! files, the ledger and witness directories, witness state, and every site
//! file. It imports nothing from the crate (it sits with the pure formats, so
//! any layer may use it).
//!
//! Contracts:
//! - Every file is written under a temporary name created new-only
//!   (`O_CREAT|O_EXCL|O_NOFOLLOW`) relative to an open handle of its directory
//!   (`openat`), so a symbolic link planted at the temporary name, or a
//!   directory swapped for a link after it was checked, is never followed.
//!   The file then takes its final name by `renameat` in the same directory:
//!   a reader sees the old file or the new one, never half of one.
//! - Nothing partial remains after an error (a full disk included): the
//!   temporary file is removed, and a final name is only ever a complete file.
//! - Directories are created with an explicit mode (0700 private, 0755
//!   public), never the umask's default.
//! - Reads are capped by the bytes actually read ([`Read::take`]), never by
//!   what metadata claims: `/dev/zero`, a FIFO or a file that grows while
//!   read cost at most the cap.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A documented debug hook for the crash harness (`tests/harness_crash.rs`):
/// if the environment variable `SPECLOG_CRASH_AT` names `point`, the process
/// kills itself with SIGKILL there, as a power cut would stop it. Unset (as
/// always outside that harness), it costs one look at a cached value. The
/// points are listed in docs/HOWTO.md ("Crash points").
pub fn crash_point(point: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        std::env::var("SPECLOG_CRASH_AT")
            .ok()
            .filter(|s| !s.is_empty())
    });
    if at.as_deref() == Some(point) {
        // SAFETY: signalling our own process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// Mode of a private directory (keys, a witness, its state).
pub const DIR_PRIVATE: u32 = 0o700;
/// Mode of a public directory (the ledger, a site).
pub const DIR_PUBLIC: u32 = 0o755;
/// Mode of a private file (a private key).
pub const FILE_PRIVATE: u32 = 0o600;
/// Mode of a public file.
pub const FILE_PUBLIC: u32 = 0o644;

/// How a temporary file takes its final name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// Rename over whatever is there (a file, or a link, which is replaced,
    /// not followed).
    Over,
    /// If a file is there, swap the two atomically (Linux `RENAME_EXCHANGE`)
    /// and remove the old one: ext4 writes a file renamed over another back
    /// to disk before the rename returns (its `auto_da_alloc` guard), and an
    /// exchange does not. Otherwise as [`Replace::Over`].
    Exchange,
    /// Never replace: fail with [`io::ErrorKind::AlreadyExists`] if the name
    /// is taken (Linux `RENAME_NOREPLACE`, else `link` + `unlink`).
    Never,
}

/// How [`Dir::write`] writes a file.
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    /// File mode (before the umask, which can only narrow it).
    pub mode: u32,
    /// fsync the file before it takes its name, and the directory after.
    pub sync: bool,
    pub replace: Replace,
}

impl Opts {
    /// A private file (mode 0600), durable, never replacing: a key file.
    pub const KEY: Opts = Opts {
        mode: FILE_PRIVATE,
        sync: true,
        replace: Replace::Never,
    };
    /// A public file (mode 0644), durable, never replacing.
    pub const NEW_PUBLIC: Opts = Opts {
        mode: FILE_PUBLIC,
        sync: true,
        replace: Replace::Never,
    };
    /// Durable state replaced atomically (mode 0600).
    pub const STATE: Opts = Opts {
        mode: FILE_PRIVATE,
        sync: true,
        replace: Replace::Over,
    };
    /// A published file (mode 0644), not synced (a lost one is rebuilt).
    pub const SITE: Opts = Opts {
        mode: FILE_PUBLIC,
        sync: false,
        replace: Replace::Exchange,
    };
}

fn cstr(name: &str) -> io::Result<CString> {
    CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a file name"))
}

fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single file name"),
        ));
    }
    Ok(())
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Whether `e` says the disk (or the user's quota) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull
        || e.kind() == io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Bytes free for an unprivileged user on the file system holding `path`.
pub fn free_space(path: &Path) -> Option<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a valid NUL-terminated path; `st` is written by statvfs on success.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // c_ulong is not u64 everywhere
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Whether the file system holding `path` is (nearly) full: under 256 KiB
/// free, less than SQLite needs to open a ledger (its `-shm` file is 32 KiB)
/// and append.
pub fn nearly_full(path: &Path) -> bool {
    free_space(path).is_some_and(|n| n < 256 << 10)
}

/// Whether `e` is the refusal to follow a symbolic link (`O_NOFOLLOW`).
pub fn is_symlink_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// An open directory: files are created, opened, renamed and removed relative
/// to it, never through a path that could be re-resolved.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens the directory `path` (the path itself is the caller's: links
    /// in it are followed, as the user named it).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
        // SAFETY: a NUL-terminated path; the returned fd is owned below.
        let fd = cvt(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        Ok(Dir {
            // SAFETY: fd was just opened and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
        })
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the subdirectory `rel` (`/`-separated), refusing a symbolic link
    /// at any step (`ELOOP`) and a file in the way (`ENOTDIR`).
    pub fn sub(&self, rel: &str) -> io::Result<Dir> {
        self.walk(rel, None)
    }

    /// Opens the subdirectory `rel`, creating each missing step with `mode`,
    /// refusing a symbolic link at any step.
    pub fn make_sub(&self, rel: &str, mode: u32) -> io::Result<Dir> {
        self.walk(rel, Some(mode))
    }

    fn walk(&self, rel: &str, create: Option<u32>) -> io::Result<Dir> {
        let mut cur: Option<Dir> = None;
        for part in rel.split('/') {
            check_name(part)?;
            let at = cur.as_ref().unwrap_or(self);
            let c = cstr(part)?;
            if let Some(mode) = create {
                // SAFETY: a valid directory fd and NUL-terminated name.
                let r =
                    unsafe { libc::mkdirat(at.fd.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) };
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::AlreadyExists {
                        return Err(e);
                    }
                }
            }
            // SAFETY: as above; the fd is owned below.
            let fd = cvt(unsafe {
                libc::openat(
                    at.fd.as_raw_fd(),
                    c.as_ptr(),
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            })
            .map_err(|e| {
                // O_DIRECTORY may answer a link with ENOTDIR: say it is a link.
                if e.raw_os_error() == Some(libc::ENOTDIR) && at.is_link(&c) {
                    io::Error::from_raw_os_error(libc::ELOOP)
                } else {
                    e
                }
            })?;
            cur = Some(Dir {
                // SAFETY: just opened, owned by nobody else.
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
                path: at.path.join(part),
            });
        }
        cur.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty directory path"))
    }

    /// Whether `name` here is a symbolic link.
    fn is_link(&self, name: &CString) -> bool {
        // SAFETY: a zeroed stat is a valid out-buffer; valid fd and name.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFLNK
    }

    /// Opens the file `name` here for reading, refusing a symbolic link.
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        check_name(name)?;
        let c = cstr(name)?;
        // SAFETY: a valid directory fd and NUL-terminated name; fd owned below.
        let fd = cvt(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY
                    | libc::O_NOFOLLOW
                    | libc::O_CLOEXEC
                    | libc::O_NOCTTY
                    | libc::O_NONBLOCK,
            )
        })?;
        // SAFETY: just opened, owned by nobody else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Removes the file (or link) `name` here.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        let c = cstr(name)?;
        // SAFETY: a valid directory fd and NUL-terminated name.
        cvt(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) }).map(drop)
    }

    /// Removes the empty directory `name` here.
    pub fn remove_dir(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        let c = cstr(name)?;
        // SAFETY: a valid directory fd and NUL-terminated name.
        cvt(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), libc::AT_REMOVEDIR) })
            .map(drop)
    }

    /// Renames `from` to `to`, both here, replacing `to` as `how` says.
    pub fn rename(&self, from: &str, to: &str, how: Replace) -> io::Result<()> {
        check_name(from)?;
        check_name(to)?;
        let (a, b) = (cstr(from)?, cstr(to)?);
        let fd = self.fd.as_raw_fd();
        let flags = match how {
            Replace::Over => 0,
            Replace::Exchange => RENAME_EXCHANGE,
            Replace::Never => RENAME_NOREPLACE,
        };
        if flags != 0 {
            match renameat2(fd, &a, &b, flags) {
                Ok(()) if how == Replace::Exchange => return self.remove(from),
                Ok(()) => return Ok(()),
                // Nothing to exchange with: a plain rename below.
                Err(e) if how == Replace::Exchange && e.kind() == io::ErrorKind::NotFound => {}
                Err(e) if how == Replace::Never && e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(e);
                }
                // Unsupported here (old kernel, some file systems): fall back.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {}
                Err(e) => return Err(e),
            }
        }
        if how == Replace::Never {
            // SAFETY: valid fds and NUL-terminated names.
            cvt(unsafe { libc::linkat(fd, a.as_ptr(), fd, b.as_ptr(), 0) })?;
            return self.remove(from);
        }
        // SAFETY: valid fds and NUL-terminated names.
        cvt(unsafe { libc::renameat(fd, a.as_ptr(), fd, b.as_ptr()) }).map(drop)
    }

    /// fsyncs the directory, making renames in it durable.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: a valid fd.
        cvt(unsafe { libc::fsync(self.fd.as_raw_fd()) }).map(drop)
    }

    /// Creates a temporary file for `name` here: new-only, not following a
    /// link, with `mode`. It is removed when dropped unless committed.
    pub fn temp(&self, name: &str, mode: u32) -> io::Result<Temp<'_>> {
        check_name(name)?;
        static N: AtomicU64 = AtomicU64::new(0);
        let tmp = format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let c = cstr(&tmp)?;
        let open = || {
            // SAFETY: a valid directory fd and NUL-terminated name; fd owned below.
            cvt(unsafe {
                libc::openat(
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    libc::O_WRONLY
                        | libc::O_CREAT
                        | libc::O_EXCL
                        | libc::O_NOFOLLOW
                        | libc::O_CLOEXEC
                        | libc::O_NOCTTY,
                    mode as libc::c_uint,
                )
            })
        };
        let fd = match open() {
            // Left by a crashed process of the same id, or planted: the
            // name (a file or link, never what a link points to) goes.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.remove(&tmp)?;
                open()?
            }
            r => r?,
        };
        Ok(Temp {
            dir: self,
            name: tmp,
            // SAFETY: just opened, owned by nobody else.
            file: Some(unsafe { File::from_raw_fd(fd) }),
        })
    }

    /// Writes `data` to `name` here through a temporary file (see the module
    /// contract). On any error nothing is left behind.
    pub fn write(&self, name: &str, data: &[u8], opts: Opts) -> io::Result<()> {
        let mut t = self.temp(name, opts.mode)?;
        t.file().write_all(data)?;
        t.commit(name, opts)
    }
}

const RENAME_NOREPLACE: libc::c_uint = 1;
const RENAME_EXCHANGE: libc::c_uint = 2;

#[cfg(target_os = "linux")]
fn renameat2(fd: libc::c_int, a: &CString, b: &CString, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: valid fds and NUL-terminated names; the raw syscall avoids
    // depending on the C library's version.
    let r = unsafe { libc::syscall(libc::SYS_renameat2, fd, a.as_ptr(), fd, b.as_ptr(), flags) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
fn renameat2(_: libc::c_int, _: &CString, _: &CString, _: libc::c_uint) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// A temporary file being written; removed on drop unless committed.
#[derive(Debug)]
pub struct Temp<'a> {
    dir: &'a Dir,
    name: String,
    file: Option<File>,
}

impl Temp<'_> {
    /// The open file.
    pub fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("a temporary file is open until committed")
    }

    /// Gives the file its final name `name` (see [`Opts`]).
    pub fn commit(mut self, name: &str, opts: Opts) -> io::Result<()> {
        let f = self.file.take().expect("committed once");
        if opts.sync {
            f.sync_all()?;
        }
        drop(f);
        self.dir.rename(&self.name, name, opts.replace)?;
        self.name.clear();
        if opts.sync {
            self.dir.sync()?;
        }
        Ok(())
    }
}

impl Drop for Temp<'_> {
    fn drop(&mut self) {
        self.file.take();
        if !self.name.is_empty() {
            let _ = self.dir.remove(&self.name);
        }
    }
}

/// Splits `path` into its directory (`.` if none) and file name.
fn split(path: &Path) -> io::Result<(&Path, &str)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a UTF-8 file name"))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((dir, name))
}

/// Writes `data` to `path` through a temporary file in its directory (see
/// [`Dir::write`]).
pub fn write(path: &Path, data: &[u8], opts: Opts) -> io::Result<()> {
    let (dir, name) = split(path)?;
    Dir::open(dir)?.write(name, data, opts)
}

/// Creates the directory `path` and any missing parents, each with `mode`
/// (an explicit mode, whatever the umask allows beyond it). Existing
/// directories are left as they are.
pub fn create_dir_all(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
}

/// Reads everything from `r`, at most `max` bytes: more is an error
/// ([`io::ErrorKind::FileTooLarge`]) after reading `max + 1` bytes, whatever
/// the source claims its size is.
pub fn read_capped(r: impl Read, max: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(buf)
}

/// The error [`read_capped`] returns for an input over `max` bytes.
pub fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than the {} limit", size_text(max)),
    )
}

/// Reads the file `path`, at most `max` bytes (see [`read_capped`]).
pub fn read_file_capped(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    read_capped(File::open(path)?, max)
}

/// Whether `e` is [`read_capped`]'s refusal of an input over its limit.
pub fn is_too_large(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::FileTooLarge
}

/// `n` bytes as `4 KiB`, `64 MiB`, or bytes.
pub fn size_text(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} byte"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_planted_link_at_a_temporary_name_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let dir = Dir::open(d.path()).unwrap();
        // Every name the next temporary file could take.
        let next = format!(".f.{}-", std::process::id());
        for i in 0..64 {
            std::os::unix::fs::symlink(&victim, d.path().join(format!("{next}{i}.tmp"))).unwrap();
        }
        dir.write("f", b"new", Opts::SITE).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(fs::read_to_string(d.path().join("f")).unwrap(), "new");
    }

    #[test]
    fn never_replace_refuses_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open(d.path()).unwrap();
        dir.write("k", b"one", Opts::KEY).unwrap();
        let e = dir.write("k", b"two", Opts::KEY).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(d.path().join("k")).unwrap(), "one");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["k"]);
        let mode = fs::metadata(d.path().join("k"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn sub_refuses_links_and_make_sub_creates() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("l")).unwrap();
        let dir = Dir::open(d.path()).unwrap();
        assert!(is_symlink_refusal(&dir.make_sub("l/x", 0o755).unwrap_err()));
        assert!(!outside.path().join("x").exists());
        let s = dir.make_sub("a/b", 0o755).unwrap();
        s.write("f", b"x", Opts::SITE).unwrap();
        assert!(d.path().join("a/b/f").is_file());
    }

    #[test]
    fn reads_are_capped_by_bytes_read() {
        let z = fs::File::open("/dev/zero").unwrap();
        let e = read_capped(z, 1 << 20).unwrap_err();
        assert!(is_too_large(&e), "{e}");
        assert_eq!(read_capped(&b"abc"[..], 3).unwrap(), b"abc");
        assert!(read_capped(&b"abcd"[..], 3).is_err());
    }
}
