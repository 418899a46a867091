//! Offline verification of a published site's `log/` directory (C2SP tlog-tiles),
//! needing nothing but the directory.
//!
//! It checks the checkpoint signature, replays every entry from the entry bundles
//! (encoding, chain, signatures, authorisation, references, content blobs from
//! `log/blobs/`), recomputes the Merkle root and compares it with the checkpoint,
//! recomputes every hash tile and compares it byte for byte with the published
//! one, and, given an older checkpoint, proves that the new tree extends it
//! (by recomputing the root at the old size from the same leaves).
//!
//! Then, unless asked for the log only, it checks the pages people read: it
//! loads the verified entries, blobs and the signed checkpoints the entry
//! pages' proofs carry into a scratch ledger, builds the site from it with
//! the options the site records (`verify/build.json`, see [`BuildInfo`]),
//! and compares every file byte for byte with the published one (the site
//! layer does: this module gives it the [`Scratch`] ledger): builds are
//! deterministic, so any changed, missing or extra file is found. Nothing
//! confidential is needed: the site is a function of the published log alone.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::layout::BUILD_INFO;
use crate::ledger::verify::{Blobs, Replay, SharedBlobs, VerifyError, fail, fail_entry};
use crate::ledger::{Ledger, NewEntry};
use crate::note::{self, Checkpoint, Note, VerifierKey};
use crate::policy::Policy;
use crate::tlog::{self, Hash, TILE_WIDTH, Tile};

/// Largest checkpoint file read.
const MAX_CHECKPOINT: u64 = 1 << 20;
/// Largest tile or bundle file read (256 entries of at most 64 KiB each).
const MAX_BUNDLE: u64 = 256 * 65_537;

/// What verifying a published log established.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SiteReport {
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub entries: u64,
    pub signatures: u64,
    pub tiles: u64,
    pub bundles: u64,
    pub blobs: u64,
    /// Where the log key came from: "given" (--key) or "published" (log/verifier-key.txt).
    pub key_source: String,
    /// Names of the keys whose signatures on the checkpoint verified (log and witnesses).
    pub signers: Vec<String>,
    /// Size of the older checkpoint this one was proven to extend.
    pub extends: Option<u64>,
    /// Policy names of the witnesses whose cosignatures verified (see [`check_witnesses`]).
    pub witnesses: Vec<String>,
    /// The witness policy's quorum, when one was checked.
    pub quorum: Option<String>,
    /// Where the witness policy came from: "given" (--witnesses) or "published" (log/witnesses.txt).
    pub witness_policy: Option<String>,
    /// What comparing the pages with a build of the log established; None
    /// when only the log was checked.
    pub pages: Option<PagesReport>,
}

/// Bumped when [`BuildInfo`]'s format changes.
pub const BUILD_INFO_FORMAT: u32 = 1;

/// Largest `verify/build.json` read.
const MAX_BUILD_INFO: u64 = 64 * 1024;

/// Everything a build of a site needs that its log does not hold, published
/// as `verify/build.json` ([`BUILD_INFO`]). The pages are a function of the
/// log and of this: a build by the same speclog source with these options
/// gives the same bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildInfo {
    pub format: u32,
    /// The speclog version that rendered the site.
    pub speclog: String,
    /// The fingerprint of its source, templates and locked dependencies
    /// (`build.rs`): another fingerprint may render other bytes.
    pub source: String,
    /// The site's name.
    pub title: String,
    /// The URL the feed's links start with, if any.
    pub base_url: Option<String>,
}

impl BuildInfo {
    /// What this speclog records for a build titled `title`.
    pub fn new(title: &str, base_url: Option<&str>) -> BuildInfo {
        BuildInfo {
            format: BUILD_INFO_FORMAT,
            speclog: env!("CARGO_PKG_VERSION").to_string(),
            source: env!("SPECLOG_SOURCE_HASH").to_string(),
            title: title.to_string(),
            base_url: base_url.map(str::to_string),
        }
    }

    /// Whether this speclog has the source that rendered the site.
    pub fn same_source(&self) -> bool {
        self.source == env!("SPECLOG_SOURCE_HASH")
    }

    /// Reads the [`BUILD_INFO`] of the site `dir` (read bounded, never
    /// through a link).
    pub fn read(dir: &Path) -> Result<BuildInfo, VerifyError> {
        use std::io::Read as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let bad = |why: String| fail(BUILD_INFO, why);
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(dir.join(BUILD_INFO))
            .map_err(|e| bad(format!("cannot be read: {e}")))?;
        let mut b = Vec::new();
        f.take(MAX_BUILD_INFO + 1)
            .read_to_end(&mut b)
            .map_err(|e| bad(format!("cannot be read: {e}")))?;
        if b.len() as u64 > MAX_BUILD_INFO {
            return Err(bad(format!("larger than {MAX_BUILD_INFO} bytes")));
        }
        let info: BuildInfo = serde_json::from_slice(&b).map_err(|e| bad(e.to_string()))?;
        if info.format != BUILD_INFO_FORMAT {
            return Err(bad(format!(
                "format {}, this speclog reads {BUILD_INFO_FORMAT}",
                info.format
            )));
        }
        Ok(info)
    }
}

/// A scratch copy of a verified published log, as a ledger the site can be
/// built from: its entries, the blobs they reference, the signed
/// checkpoints the entry pages' proofs carry and the published witness
/// policy. Nothing private: a published log holds nothing else. The
/// temporary directory goes when it is dropped.
pub struct Scratch {
    pub ledger: Ledger,
    /// What the site records it was built with.
    pub build: BuildInfo,
    /// Signed checkpoints read from the entry pages' proofs.
    pub checkpoints: u64,
    _dir: tempfile::TempDir,
}

/// What verifying a published site established.
pub struct Verified {
    pub report: SiteReport,
    /// With pages asked for: the scratch ledger to build the site from.
    pub scratch: Option<Scratch>,
}

/// What re-deriving a site's pages from its verified log established: every
/// file a build of the log writes is in the site with the same bytes, and
/// the site holds no other.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PagesReport {
    /// Files compared (pages, JSON, spec texts, the feed, `log/`).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Signed checkpoints read from the entry pages' proofs.
    pub checkpoints: u64,
    /// What the site records it was built with (`verify/build.json`).
    pub build: BuildInfo,
    /// Whether this speclog has the source that built the site.
    pub same_source: bool,
}

/// Blobs published as `log/blobs/<sha256>`. Each is hashed when read and must
/// match its name. Any thread may read them: a replay reads evaluation results
/// on its signature verifier threads (see [`Blobs::shared`]).
///
/// A hostile site may put anything there (break 6 of #21: a 3 GB blob was
/// read whole), so a blob's size is checked against the size its entry
/// states before any byte of it is read: [`Blobs::blob_size`] answers from
/// the file's metadata alone, the replay compares that with the entry, and
/// every read is then capped by bytes actually read at the size found
/// (and never past [`MAX_BLOB`]). A blob sized but not read during the
/// replay (release notes) is read and hashed by [`FileBlobs::check_sized`].
struct FileBlobs {
    /// The `log/blobs` directory, opened once (blobs are opened relative to
    /// it, so each open looks up one name, not the whole path); `None` if
    /// there is no such directory, when every blob is missing.
    dir: Option<fs::File>,
    /// The sizes of the blobs read and found to match their names.
    verified: Mutex<HashMap<Hash, u64>>,
    /// The sizes the blobs' metadata gave [`Blobs::blob_size`], not yet read.
    sized: Mutex<HashMap<Hash, u64>>,
}

/// Largest blob read from a published site: larger than anything speclog
/// records (a spec is at most 32 MiB, a results file 4 MiB).
const MAX_BLOB: u64 = 64 << 20;

impl FileBlobs {
    fn open(dir: &Path) -> Result<FileBlobs, VerifyError> {
        let dir = match fs::File::open(dir) {
            Ok(d) => Some(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(fail("log/blobs", format!("cannot open it: {e}"))),
        };
        Ok(FileBlobs {
            dir,
            verified: Mutex::default(),
            sized: Mutex::default(),
        })
    }

    /// The blob `d`'s file opened, with its size from its metadata; `None` if
    /// absent. Not a regular file, or larger than `max`: an error, before any
    /// byte is read.
    fn open_blob(
        &self,
        d: &Hash,
        max: u64,
        limit: &str,
    ) -> Result<Option<(fs::File, u64)>, String> {
        let mut name = [0u8; 65];
        hex::encode_to_slice(d, &mut name[..64]).expect("64 hex digits");
        let shown = || String::from_utf8_lossy(&name[..64]).into_owned();
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let f = match open_at(dir, &name) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("log/blobs/{}: {e}", shown())),
        };
        let m = f
            .metadata()
            .map_err(|e| format!("log/blobs/{}: {e}", shown()))?;
        if !m.is_file() {
            return Err(format!("log/blobs/{} is not a regular file", shown()));
        }
        if m.len() > max {
            return Err(format!(
                "log/blobs/{} is {} bytes, more than {limit}",
                shown(),
                m.len()
            ));
        }
        Ok(Some((f, m.len())))
    }

    /// Reads the blob `d`, if present, and checks it against its name. `size`
    /// is the size its entry states, or 0 if unknown: then the size
    /// [`Blobs::blob_size`] found (which the replay compared with the entry)
    /// or [`MAX_BLOB`]. A larger file fails before it is read, and the read
    /// stops one byte past the file's size (a file that grows fails).
    fn read_checked(&self, d: &Hash, size: u64) -> Result<Option<Vec<u8>>, String> {
        let sized = match size {
            0 => self.sized.lock().ok().and_then(|v| v.get(d).copied()),
            n => Some(n),
        };
        let opened = match sized {
            Some(n) if n <= MAX_BLOB => {
                self.open_blob(d, n, &format!("the {n} its entry states"))?
            }
            _ => self.open_blob(d, MAX_BLOB, &format!("the {MAX_BLOB} a blob may hold"))?,
        };
        let Some((f, len)) = opened else {
            return Ok(None);
        };
        let shown = || hex::encode(d);
        // One byte past the size found, so a file that grows fails; the
        // buffer is that size, so a blob takes one read.
        let mut b = Vec::with_capacity(len as usize + 1);
        std::io::Read::read_to_end(&mut std::io::Read::take(f, len + 1), &mut b)
            .map_err(|e| format!("log/blobs/{}: {e}", shown()))?;
        if b.len() as u64 > len {
            return Err(format!("log/blobs/{} grew while it was read", shown()));
        }
        if crate::ledger::entry::sha256(&b) != *d {
            return Err(format!("log/blobs/{} does not match its digest", shown()));
        }
        self.verified
            .lock()
            .map_err(|_| "a blob reader failed".to_string())?
            .insert(*d, b.len() as u64);
        Ok(Some(b))
    }

    /// Reads and hashes every blob that was sized but not yet read.
    fn check_sized(&self) -> Result<(), VerifyError> {
        let lost = || fail("log/blobs", "a blob reader failed");
        let sized: Vec<(Hash, u64)> = {
            let sized = self.sized.lock().map_err(|_| lost())?;
            let verified = self.verified.lock().map_err(|_| lost())?;
            let mut v: Vec<(Hash, u64)> = sized
                .iter()
                .filter(|(d, _)| !verified.contains_key(*d))
                .map(|(d, n)| (*d, *n))
                .collect();
            v.sort();
            v
        };
        for (d, n) in sized {
            self.read_checked(&d, n)
                .map_err(|e| fail("log/blobs", e))?
                .ok_or_else(|| fail(format!("log/blobs/{}", hex::encode(d)), "vanished"))?;
        }
        Ok(())
    }
}

/// Opens the file `name` (NUL-terminated) in the directory `dir`, without
/// following a link at the name. Opened non-blocking, so a FIFO in its place
/// fails (it is not a regular file) rather than waits for a writer.
fn open_at(dir: &fs::File, name: &[u8; 65]) -> std::io::Result<fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let name = std::ffi::CStr::from_bytes_with_nul(name)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `dir` is an open directory and `name` a NUL-terminated string,
    // both alive for the call; a non-negative result is a new descriptor that
    // nothing else owns, so the `File` may own (and close) it.
    unsafe {
        let fd = libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOFOLLOW,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fs::File::from_raw_fd(fd))
    }
}

impl SharedBlobs for FileBlobs {
    fn read_checked(&self, d: &Hash, size: u64) -> Result<Option<Vec<u8>>, String> {
        FileBlobs::read_checked(self, d, size)
    }
}

impl Blobs for Arc<FileBlobs> {
    /// From the file's metadata alone, so the replay compares it with the
    /// entry's size before the blob is read.
    fn blob_size(&self, d: &Hash) -> Result<Option<u64>, String> {
        let known = self.verified.lock().ok().and_then(|v| v.get(d).copied());
        if known.is_some() {
            return Ok(known);
        }
        let Some((_, len)) = self.open_blob(d, u64::MAX, "")? else {
            return Ok(None);
        };
        self.sized
            .lock()
            .map_err(|_| "a blob reader failed".to_string())?
            .insert(*d, len);
        Ok(Some(len))
    }
    fn blob(&self, d: &Hash) -> Result<Option<Vec<u8>>, String> {
        self.read_checked(d, 0)
    }
    fn blob_checked(&self, d: &Hash) -> Result<Option<Vec<u8>>, String> {
        self.read_checked(d, 0)
    }
    fn shared(&self) -> Option<Arc<dyn SharedBlobs>> {
        Some(self.clone())
    }
}

/// Reads the file `path`, at most `max` bytes by bytes actually read (a file
/// whose metadata says less, or a device, cannot make it read more).
fn read_limited(path: &Path, max: u64, place: &str) -> Result<Vec<u8>, VerifyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e: std::io::Error| fail(place, format!("cannot read {}: {e}", path.display()));
    // Non-blocking, so a FIFO in the file's place fails rather than waits.
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    if !f.metadata().map_err(cannot)?.is_file() {
        return Err(fail(
            place,
            format!("{} is not a regular file", path.display()),
        ));
    }
    crate::fsx::read_capped(f, max).map_err(|e| {
        if crate::fsx::is_too_large(&e) {
            fail(
                place,
                format!("{} is larger than {max} bytes", path.display()),
            )
        } else {
            fail(place, format!("cannot read {}: {e}", path.display()))
        }
    })
}

/// An older state of the log that the published one must extend.
#[derive(Clone, Copy, Debug)]
pub struct Since<'a> {
    /// The older signed checkpoint.
    pub checkpoint: &'a [u8],
    /// An older copy of the site, whose `log/checkpoint` that is: if the
    /// published log does not extend it, the copy's hash tiles name the
    /// first rewritten entry.
    pub site: Option<&'a Path>,
}

/// Opens a checkpoint note with `key`, requiring the key's name to be the origin.
pub fn open_checkpoint(
    text: &[u8],
    keys: &[VerifierKey],
    place: &str,
) -> Result<(Checkpoint, Vec<String>), VerifyError> {
    let origin = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.lines().next())
        .unwrap_or("")
        .to_string();
    let (cp, _, sigs) =
        note::open_checkpoint(text, &origin, keys).map_err(|e| fail(place, e.to_string()))?;
    Ok((cp, sigs.into_iter().map(|s| s.name).collect()))
}

/// Verifies the published log under `site` (the directory holding `log/`).
/// `key` is the trusted log verifier key; without it the published
/// `log/verifier-key.txt` is used (and the report says so). `since` is an older
/// signed checkpoint of the same log that the current one must extend.
///
/// With `pages`, it then loads the verified log into a [`Scratch`] ledger,
/// for the site layer to build the site from and compare every file (see
/// the module's documentation).
pub fn verify_site(
    site: &Path,
    key: Option<&VerifierKey>,
    since: Option<Since<'_>>,
    pages: bool,
    progress: &dyn Fn(u64, u64),
) -> Result<Verified, VerifyError> {
    let log = site.join("log");
    let (key, key_source) = match key {
        Some(k) => (k.clone(), "given"),
        None => {
            let b = read_limited(&log.join("verifier-key.txt"), 4096, "log/verifier-key.txt")?;
            let s = String::from_utf8_lossy(&b);
            let k = VerifierKey::parse(s.trim())
                .map_err(|e| fail("log/verifier-key.txt", e.to_string()))?;
            (k, "published")
        }
    };
    let cp_text = read_limited(&log.join("checkpoint"), MAX_CHECKPOINT, "log/checkpoint")?;
    let (cp, signers) = open_checkpoint(&cp_text, std::slice::from_ref(&key), "log/checkpoint")?;
    if cp.origin != key.name() {
        return Err(fail(
            "log/checkpoint",
            format!(
                "origin {:?} is not the log key's name {:?}",
                cp.origin,
                key.name()
            ),
        ));
    }
    let old = match since {
        Some(Since { checkpoint: t, .. }) => {
            let (o, _) = open_checkpoint(t, std::slice::from_ref(&key), "--since checkpoint")?;
            if o.size > cp.size {
                return Err(fail(
                    "--since checkpoint",
                    format!(
                        "the older checkpoint has {} entries, the published log only {}: the log was rolled back",
                        o.size, cp.size
                    ),
                ));
            }
            Some(o)
        }
        None => None,
    };

    let blobs = Arc::new(FileBlobs::open(&log.join("blobs"))?);
    let mut replay = Replay::new();
    replay.expected = Some(cp.size);
    let mut rep = SiteReport {
        origin: cp.origin.clone(),
        size: cp.size,
        key_source: key_source.into(),
        signers,
        ..SiteReport::default()
    };
    let mut tiles = Tiles::default();
    if let Some(o) = &old
        && o.size == 0
        && o.root != tlog::EMPTY_ROOT
    {
        return Err(fail(
            "--since checkpoint",
            "empty tree with a non-empty root",
        ));
    }
    // The entries, bundle by bundle, rebuilding the tiles as they come.
    // The last bundle when it is partial, for the older partial bundles.
    let mut edge_bundle = Vec::new();
    let replayed = (|| -> Result<(), VerifyError> {
        let mut completed = Vec::new();
        let bundles = cp.size.div_ceil(TILE_WIDTH);
        for n in 0..bundles {
            let width = (cp.size - n * TILE_WIDTH).min(TILE_WIDTH) as u16;
            let t = Tile::entry_bundle(n, width)
                .map_err(|e| fail("log/tile/entries", e.to_string()))?;
            let place = format!("log/{}", t.path());
            let data = read_limited(&log.join(t.path()), MAX_BUNDLE, &place)?;
            let entries = tlog::parse_bundle(&data).map_err(|e| fail(&place, e.to_string()))?;
            if entries.len() != width as usize {
                return Err(fail(
                    &place,
                    format!("holds {} entries, expected {width}", entries.len()),
                ));
            }
            rep.bundles += 1;
            if u64::from(width) < TILE_WIDTH {
                edge_bundle = data.clone();
            }
            for e in entries {
                let (_, _, h) = replay.push(e, &blobs, &mut completed)?;
                completed.clear();
                tiles.push_leaf(&log, h, &mut rep)?;
                if let Some(o) = &old
                    && replay.count == o.size
                    && replay.root() != o.root
                {
                    let older = since.and_then(|s| s.site);
                    return Err(rewritten(&log, &tiles, o, older));
                }
            }
            progress(replay.count, cp.size);
        }
        Ok(())
    })();
    if let Err(e) = replayed {
        // A check left to the verifier may have failed for an earlier entry.
        return Err(replay.earlier_failure().unwrap_or(e));
    }
    replay.flush()?;
    blobs.check_sized()?;
    if replay.root() != cp.root {
        return Err(fail(
            "log/checkpoint",
            "the entries' Merkle root differs from the signed checkpoint root",
        ));
    }
    tiles.finish(&log, &mut rep)?;
    // The checkpoints whose partial tiles the site must still serve: those
    // the proofs published with the right edge's entries carry, and --since.
    let mut named = edge_proof_checkpoints(site, &key, cp.size, &tiles)?;
    if let Some(o) = &old {
        named.push((o.size, "the --since checkpoint".into()));
    }
    check_older_partials(&log, cp.size, &tiles, &edge_bundle, &named, &mut rep)?;
    rep.entries = replay.count;
    rep.signatures = replay.signatures;
    rep.blobs = blobs.verified.lock().map_or(0, |v| v.len()) as u64;
    rep.root = hex::encode(cp.root);
    rep.extends = old.map(|o| o.size);
    let scratch = if pages {
        Some(scratch(site, &key, &cp, &blobs)?)
    } else {
        None
    };
    Ok(Verified {
        report: rep,
        scratch,
    })
}

/// The failure of a published log whose first `o.size` entries are not
/// those the older checkpoint `o` signed. With an older copy of the site
/// (`older`), whose level-0 hash tiles hold the leaf hashes that checkpoint
/// signed (checked against its root first), it names the first entry that
/// differs; with the checkpoint alone it can only say the tree differs.
fn rewritten(log: &Path, tiles: &Tiles, o: &Checkpoint, older: Option<&Path>) -> VerifyError {
    let whole = format!(
        "the published log does not extend the older checkpoint of size {}: its first {} entries are not the ones that checkpoint signed, so history was rewritten",
        o.size, o.size
    );
    let Some(older) = older else {
        return fail(
            "--since checkpoint",
            format!(
                "{whole} (at one of entries 0 to {}; give --since an older copy of the site instead of its checkpoint to name the first rewritten entry)",
                o.size - 1
            ),
        );
    };
    match first_difference(log, &older.join("log"), tiles, o) {
        Ok(Some(seq)) => fail_entry(
            seq,
            format!(
                "{whole}: entry {seq} is the first that differs from the older copy {}",
                older.display()
            ),
        ),
        Ok(None) => fail("--since checkpoint", whole),
        Err(why) => fail(
            "--since checkpoint",
            format!(
                "{whole} (the older copy {} cannot name the first rewritten entry: {why})",
                older.display()
            ),
        ),
    }
}

/// The first of the `o.size` leaves where the published log (`log`, whose
/// full level-0 tiles the replay checked, the rest in `tiles`) differs from
/// the older copy `old_log`, once the older copy's leaves are shown to give
/// `o`'s root. None if none differs.
fn first_difference(
    log: &Path,
    old_log: &Path,
    tiles: &Tiles,
    o: &Checkpoint,
) -> Result<Option<u64>, String> {
    let mut frontier =
        tlog::Frontier::read(0, &tlog::MemoryHashes::new()).map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    let mut first = None;
    let full = tiles.done.first().copied().unwrap_or(0);
    for n in 0..o.size.div_ceil(TILE_WIDTH) {
        let width = (o.size - n * TILE_WIDTH).min(TILE_WIDTH) as u16;
        let t = Tile::new(0, n, width).map_err(|e| e.to_string())?;
        let place = format!("log/{}", t.path());
        let old = read_limited(&old_log.join(t.path()), TILE_WIDTH * 32, &place)
            .map_err(|e| e.to_string())?;
        let new = if n < full {
            let t = Tile::new(0, n, TILE_WIDTH as u16).map_err(|e| e.to_string())?;
            read_limited(&log.join(t.path()), TILE_WIDTH * 32, &place).map_err(|e| e.to_string())?
        } else {
            tiles.levels.first().map(|l| l.concat()).unwrap_or_default()
        };
        if old.len() != width as usize * 32 {
            return Err(format!("its {place} is not {width} hashes"));
        }
        for (i, h) in old.chunks_exact(32).enumerate() {
            let leaf: Hash = h.try_into().expect("32 bytes");
            if first.is_none() && new.get(i * 32..i * 32 + 32) != Some(h) {
                first = Some(n * TILE_WIDTH + i as u64);
            }
            nodes.clear();
            frontier.push(leaf, &mut nodes).map_err(|e| e.to_string())?;
        }
    }
    if frontier.root() != o.root {
        return Err("its hash tiles do not give the root of its checkpoint".into());
    }
    Ok(first)
}

/// One signed checkpoint of the log as a build publishes it: the log's
/// signed note and the witness cosignature lines after it.
struct SignedCheckpoint {
    size: u64,
    root: Hash,
    note: String,
    cosignatures: Vec<String>,
    /// Where it was read.
    place: String,
}

/// The signed checkpoints a build of the site used, from the inclusion
/// proofs on its entry pages: each entry's proof carries the first
/// checkpoint whose tree holds the entry, so the proof of entry 0 gives the
/// first checkpoint, the proof of the entry at that size the next, and so
/// on up to the log's size. Each must verify with the log key and prove
/// its own entry; which entries' proofs carry which is checked when every
/// proof is compared with the rebuilt one.
fn checkpoint_chain(
    site: &Path,
    key: &VerifierKey,
    size: u64,
) -> Result<Vec<SignedCheckpoint>, VerifyError> {
    let mut out = Vec::new();
    let mut seq = 0;
    while seq < size {
        let place = crate::layout::proof(seq);
        let text = read_limited(&site.join(&place), MAX_BUNDLE, &place)?;
        let p = tlog::InclusionProofFile::parse(&text).map_err(|e| fail(&place, e.to_string()))?;
        let (cp, _) = open_checkpoint(
            p.checkpoint_text.as_bytes(),
            std::slice::from_ref(key),
            &place,
        )?;
        if p.index != seq || cp.size <= seq || cp.size > size {
            return Err(fail(
                &place,
                format!(
                    "proves entry {} in a tree of {}, not entry {seq} in the log of {size}",
                    p.index, cp.size
                ),
            ));
        }
        // The log's signature comes first, the witnesses' lines after it.
        let text = &p.checkpoint_text;
        let sigs = text.find("\n\n").map_or(text.len(), |i| i + 2);
        let end = text[sigs..].find('\n').map_or(text.len(), |i| sigs + i + 1);
        out.push(SignedCheckpoint {
            size: cp.size,
            root: cp.root,
            note: text[..end].to_string(),
            cosignatures: text[end..].lines().map(str::to_string).collect(),
            place,
        });
        seq = cp.size;
    }
    Ok(out)
}

/// Loads the verified log into a [`Scratch`] ledger: the entries, the
/// blobs the replay verified, the checkpoints of [`checkpoint_chain`] and
/// the published witness policy; with the options of its
/// `verify/build.json`.
fn scratch(
    site: &Path,
    key: &VerifierKey,
    cp: &Checkpoint,
    blobs: &FileBlobs,
) -> Result<Scratch, VerifyError> {
    let info = BuildInfo::read(site)?;
    let chain = checkpoint_chain(site, key, cp.size)?;
    let scratch = tempfile::Builder::new()
        .prefix("speclog-verify-site-")
        .tempdir()
        .map_err(|e| {
            fail(
                "scratch ledger",
                format!("cannot create a temporary directory: {e}"),
            )
        })?;
    let internal = |e: &dyn std::fmt::Display| fail("scratch ledger", e.to_string());
    let policy = site.join("log").join(crate::witness::store::POLICY_FILE);
    if policy.is_file() {
        let b = read_limited(&policy, MAX_CHECKPOINT, "log/witnesses.txt")?;
        fs::write(scratch.path().join(crate::witness::store::POLICY_FILE), b)
            .map_err(|e| internal(&e))?;
    }
    let mut ledger = Ledger::scratch(scratch.path(), &cp.origin).map_err(|e| internal(&e))?;
    let log = site.join("log");
    let mut digests: Vec<Hash> = blobs
        .verified
        .lock()
        .map_err(|_| fail("log/blobs", "a blob reader failed"))?
        .keys()
        .copied()
        .collect();
    digests.sort_unstable();
    ledger
        .store_mut()
        .load::<VerifyError, _>(|ins| {
            let mut next = chain.iter().peekable();
            for n in 0..cp.size.div_ceil(TILE_WIDTH) {
                let width = (cp.size - n * TILE_WIDTH).min(TILE_WIDTH) as u16;
                let t = Tile::entry_bundle(n, width)
                    .map_err(|e| fail("log/tile/entries", e.to_string()))?;
                let place = format!("log/{}", t.path());
                let data = read_limited(&log.join(t.path()), MAX_BUNDLE, &place)?;
                for bytes in tlog::parse_bundle(&data).map_err(|e| fail(&place, e.to_string()))? {
                    let seq = ins.size();
                    let e = crate::ledger::entry::Entry::decode_fields(bytes)
                        .map_err(|e| fail_entry(seq, e))?;
                    let payload = crate::governance::Payload::decode(&e.kind, &e.payload)
                        .map_err(|e| fail_entry(seq, e))?;
                    ins.entry(&NewEntry {
                        bytes: bytes.to_vec(),
                        hash: crate::ledger::entry::entry_hash(bytes),
                        kind: e.kind,
                        subject: payload.subject(),
                    })
                    .map_err(|e| fail_entry(seq, format!("changed since it was verified: {e}")))?;
                    if let Some(c) = next.next_if(|c| c.size == ins.size()) {
                        if ins.root() != c.root {
                            return Err(fail(
                                &c.place,
                                format!(
                                    "its checkpoint of size {} has another root than the log's tree of that size",
                                    c.size
                                ),
                            ));
                        }
                        let cos: Vec<&str> = c.cosignatures.iter().map(String::as_str).collect();
                        ins.checkpoint(c.size, &c.root, &c.note, &cos)?;
                    }
                }
            }
            for d in &digests {
                let b = blobs
                    .read_checked(d, 0)
                    .map_err(|e| fail("log/blobs", e))?
                    .ok_or_else(|| fail(format!("log/blobs/{}", hex::encode(d)), "vanished"))?;
                ins.blob(d, &b)?;
            }
            Ok(())
        })?;
    Ok(Scratch {
        ledger,
        build: info,
        checkpoints: chain.len() as u64,
        _dir: scratch,
    })
}

/// Rebuilds the hash tiles from leaf hashes, level by level, comparing each full
/// tile with the published one as soon as it is complete. Holds at most 256
/// hashes per level.
#[derive(Default)]
struct Tiles {
    /// Hashes at level 8L of the tile being filled at each level L.
    levels: Vec<Vec<Hash>>,
    /// Full tiles already compared at each level.
    done: Vec<u64>,
}

impl Tiles {
    fn push_leaf(&mut self, log: &Path, h: Hash, rep: &mut SiteReport) -> Result<(), VerifyError> {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
            self.done.push(0);
        }
        self.levels[0].push(h);
        let mut l = 0;
        while l < self.levels.len() && self.levels[l].len() == TILE_WIDTH as usize {
            let hashes = std::mem::take(&mut self.levels[l]);
            let t = Tile::new(l as u8, self.done[l], TILE_WIDTH as u16)
                .map_err(|e| fail("log/tile", e.to_string()))?;
            compare_tile(log, &t, &hashes, rep)?;
            self.done[l] += 1;
            let root = tlog::tile_hash_of_data(&hashes.concat())
                .map_err(|e| fail("log/tile", e.to_string()))?;
            if self.levels.len() == l + 1 {
                self.levels.push(Vec::new());
                self.done.push(0);
            }
            self.levels[l + 1].push(root);
            l += 1;
        }
        Ok(())
    }

    /// Compares the partial tile on the right edge of each level.
    fn finish(&self, log: &Path, rep: &mut SiteReport) -> Result<(), VerifyError> {
        for (l, hashes) in self.levels.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let t = Tile::new(l as u8, self.done[l], hashes.len() as u16)
                .map_err(|e| fail("log/tile", e.to_string()))?;
            compare_tile(log, &t, hashes, rep)?;
        }
        Ok(())
    }
}

/// Reads the inclusion proofs published with the entries of the partial
/// level-0 tile (`entries/<seq>/inclusion.tlog-proof`, where the site has
/// entry pages) and returns the sizes of the checkpoints they carry, each
/// with where it was found. Each proof must verify: its checkpoint signed by
/// the log key and no larger than the log, its entry the one replayed.
fn edge_proof_checkpoints(
    site: &Path,
    key: &VerifierKey,
    size: u64,
    tiles: &Tiles,
) -> Result<Vec<(u64, String)>, VerifyError> {
    let mut out = Vec::new();
    let Some(leaves) = tiles.levels.first().filter(|l| !l.is_empty()) else {
        return Ok(out);
    };
    let first = size - leaves.len() as u64;
    let mut opened: HashMap<String, Checkpoint> = HashMap::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let seq = first + i as u64;
        let place = crate::layout::proof(seq);
        let path = site.join(&place);
        if !path.is_file() {
            continue;
        }
        let text = read_limited(&path, MAX_BUNDLE, &place)?;
        let p = tlog::InclusionProofFile::parse(&text).map_err(|e| fail(&place, e.to_string()))?;
        let cp = match opened.get(&p.checkpoint_text) {
            Some(cp) => cp.clone(),
            None => {
                let (cp, _) = open_checkpoint(
                    p.checkpoint_text.as_bytes(),
                    std::slice::from_ref(key),
                    &place,
                )?;
                opened.insert(p.checkpoint_text.clone(), cp.clone());
                cp
            }
        };
        if p.index != seq || cp.size > size || cp.size <= seq {
            return Err(fail(
                &place,
                format!(
                    "proves entry {} in a tree of {}, not entry {seq} in the log of {size}",
                    p.index, cp.size
                ),
            ));
        }
        if p.extra
            .as_deref()
            .is_some_and(|x| crate::ledger::entry::entry_hash(x) != *leaf)
        {
            return Err(fail(&place, "carries another entry than the log's"));
        }
        tlog::verify_inclusion(&p.hashes, cp.size, &cp.root, seq, leaf)
            .map_err(|e| fail(&place, format!("inclusion proof does not verify: {e}")))?;
        out.push((cp.size, place));
    }
    Ok(out)
}

/// Checks the partial tiles and bundles of older checkpoints on the right
/// edge: each must hold the first `W` hashes (entries) of the current one.
/// tlog-tiles requires a log to keep serving the partial tiles of every
/// checkpoint it produced until the full tile exists, so those of the
/// checkpoints in `named` (a size and where it was found) must be there.
fn check_older_partials(
    log: &Path,
    size: u64,
    tiles: &Tiles,
    edge_bundle: &[u8],
    named: &[(u64, String)],
    rep: &mut SiteReport,
) -> Result<(), VerifyError> {
    for t in tlog::right_edge(size) {
        let dir = log.join(format!("{}.p", Tile { width: 256, ..t }.path()));
        let Ok(names) = fs::read_dir(&dir) else {
            continue;
        };
        for name in names.flatten() {
            // Only canonical widths (tlog-tiles: no leading zeros) name tiles.
            let Some(w) = name.file_name().to_str().and_then(|n| {
                n.parse::<u16>()
                    .ok()
                    .filter(|w| *w > 0 && w.to_string() == n)
            }) else {
                continue;
            };
            let older = Tile { width: w, ..t };
            if w == t.width {
                continue;
            }
            let place = format!("log/{}", older.path());
            if w > t.width {
                return Err(fail(
                    &place,
                    format!(
                        "a partial tile wider than the log's ({} at size {size}): the log was rolled back",
                        t.width
                    ),
                ));
            }
            let want = if t.data {
                bundle_prefix(edge_bundle, w).map(<[u8]>::to_vec)
            } else {
                tiles
                    .levels
                    .get(t.level as usize)
                    .and_then(|h| h.get(..w as usize))
                    .map(<[Hash]>::concat)
            }
            .ok_or_else(|| fail(&place, "the current partial tile is too short"))?;
            let got = read_limited(&dir.join(w.to_string()), MAX_BUNDLE, &place)?;
            if got != want {
                return Err(fail(
                    &place,
                    "an older partial tile differs from the start of the current one: history was rewritten",
                ));
            }
            if t.data {
                rep.bundles += 1;
            } else {
                rep.tiles += 1;
            }
        }
    }
    for (old, source) in named {
        for t in tlog::right_edge(*old) {
            if !tlog::full_tile_available(&t, size) && !log.join(t.path()).is_file() {
                return Err(fail(
                    format!("log/{}", t.path()),
                    format!(
                        "missing, but the checkpoint of size {old} in {source} needs it (tlog-tiles: a log serves a checkpoint's partial tiles until the full tile exists)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The first `n` entries of an entry bundle, as bytes.
fn bundle_prefix(bundle: &[u8], n: u16) -> Option<&[u8]> {
    let entries = tlog::parse_bundle(bundle).ok()?;
    let len: usize = entries.get(..n as usize)?.iter().map(|e| 2 + e.len()).sum();
    bundle.get(..len)
}

fn compare_tile(
    log: &Path,
    t: &Tile,
    hashes: &[Hash],
    rep: &mut SiteReport,
) -> Result<(), VerifyError> {
    let place = format!("log/{}", t.path());
    let data = read_limited(&log.join(t.path()), TILE_WIDTH * 32, &place)?;
    if data != hashes.concat() {
        return Err(fail(
            &place,
            "hash tile differs from the hashes recomputed from the entries",
        ));
    }
    rep.tiles += 1;
    Ok(())
}

/// Checks the witness cosignatures on a signed checkpoint against a witness
/// policy (C2SP tlog-policy): if the policy lists logs, one of them must have
/// signed it; every cosignature line from a listed witness must verify; and
/// the witnesses that cosigned must satisfy the quorum. Returns their policy
/// names, in note order.
pub fn check_witnesses(
    checkpoint_text: &[u8],
    policy: &Policy,
) -> Result<Vec<String>, VerifyError> {
    const PLACE: &str = "witnesses";
    let n = Note::parse(checkpoint_text).map_err(|e| fail("log/checkpoint", e.to_string()))?;
    let cp = Checkpoint::parse(&n.text).map_err(|e| fail("log/checkpoint", e.to_string()))?;
    policy.check_log(checkpoint_text, &cp.origin).map_err(|e| {
        fail(
            PLACE,
            format!(
                "the checkpoint of {} is not signed by a log the witness policy lists: {e}",
                cp.origin
            ),
        )
    })?;
    let names = policy.cosigners(&n).map_err(|(w, e)| {
        fail(
            PLACE,
            format!("the cosignature by witness {w} does not verify: {e}"),
        )
    })?;
    let set = names.iter().cloned().collect();
    if !policy.quorum_met(&set) {
        let by = if names.is_empty() {
            "no witness".to_string()
        } else {
            names.join(", ")
        };
        return Err(fail(
            PLACE,
            format!(
                "quorum not met: checkpoint {} is cosigned by {by}; the policy requires {}",
                cp.size,
                policy.quorum_description()
            ),
        ));
    }
    Ok(names)
}
