//! The operations behind each command, over a ledger directory and a key directory.
//!
//! Each operation validates its input fully before opening the ledger for
//! writing, and appends in one transaction, so a failed command leaves the
//! ledger file byte-for-byte unchanged.

pub mod bench;
pub mod demo;
pub mod export;
mod gov;
pub mod import;
mod keyops;
pub mod proofs;
pub mod witness;

/// Re-exported from the domain layer, where the site renders it too.
pub use crate::ledger::view::EntryView;
pub use gov::*;
pub use keyops::{KeyResult, KeySource};

use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;

use crate::error::Error;
use crate::governance::ids::Manifest;
use crate::governance::{
    self, ContentRef, EntryRef, GitSource, GovError, Lookup, SpecRelease, clauses, ids, kinds,
};
use crate::keys::{self, ADMIN, KeyDir, KeyError, Passphrase};
use crate::ledger::entry;
use crate::ledger::{Appended, Draft, Ledger, LedgerError, OpenOptions, Signer, verify};
use crate::note;
use crate::sign::Ed25519Signer;
use zeroize::Zeroizing;

/// Largest spec text accepted, in bytes.
pub const MAX_SPEC_BYTES: u64 = 32 << 20;
/// Largest notes file accepted, in bytes.
pub const MAX_NOTES_BYTES: u64 = 1 << 20;

/// Asks for a passphrase (on a terminal); returns None if it cannot ask.
pub type Prompt = dyn Fn(&str) -> Option<String>;

/// A ledger directory and a key directory, with the options every command shares.
pub struct Workspace {
    pub ledger_dir: PathBuf,
    pub keys: KeyDir,
    pub passphrase: Passphrase,
    /// Fixed entry time (RFC 3339 UTC), for backfilling and reproducible output.
    pub time: Option<String>,
    pub lock_timeout: Duration,
    pub prompt: Option<Box<Prompt>>,
    /// The PKCS#11 module for `pkcs11:` URIs without `module-path`.
    pub pkcs11_module: Option<PathBuf>,
    /// The token's user PIN for URIs without `pin-value` (else a prompt).
    pub pin: Option<Zeroizing<String>>,
}

/// Reads and checks a spec text file: present, at most 32 MiB, UTF-8, no NUL, not empty.
pub fn read_text(path: &Path, what: &str, max: u64) -> Result<String, Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::input(
            format!("cannot read {what} {}: {e}", path.display()),
            "check the path",
        )
    })?;
    if !meta.is_file() {
        return Err(Error::input(
            format!("{what} {} is not a regular file", path.display()),
            "give the path of a Markdown file",
        ));
    }
    if meta.len() > max {
        return Err(Error::input(
            format!(
                "{what} {} is {} bytes, over the {} byte limit",
                path.display(),
                meta.len(),
                max
            ),
            "split the document or remove embedded data; speclog stores text, not archives",
        ));
    }
    // Capped by the bytes read: the file may grow after the check.
    let bytes = crate::fsx::read_file_capped(path, max)
        .map_err(|e| Error::Io(path.display().to_string(), e))?;
    read_text_bytes(bytes, &format!("{what} {}", path.display()))
}

/// Checks text content: UTF-8, no NUL, not empty. `what` names it in errors.
pub fn read_text_bytes(bytes: Vec<u8>, what: &str) -> Result<String, Error> {
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::input(
            format!(
                "{what} is not valid UTF-8 (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "convert it to UTF-8, e.g. `iconv -t UTF-8`",
        )
    })?;
    if let Some(i) = text.find('\0') {
        return Err(Error::input(
            format!("{what} contains a NUL byte at offset {i}"),
            "remove the NUL bytes; a spec is text",
        ));
    }
    if text.trim().is_empty() {
        return Err(Error::input(
            format!("{what} is empty"),
            "give a file with the spec text",
        ));
    }
    Ok(text)
}

impl Workspace {
    /// A workspace with default options.
    pub fn new(ledger_dir: impl Into<PathBuf>, keys_dir: impl Into<PathBuf>) -> Workspace {
        Workspace {
            ledger_dir: ledger_dir.into(),
            keys: KeyDir::new(keys_dir),
            passphrase: Passphrase::None,
            time: None,
            lock_timeout: Duration::from_secs(30),
            prompt: None,
            pkcs11_module: None,
            pin: None,
        }
    }

    fn opts(&self, write: bool) -> OpenOptions {
        OpenOptions {
            write,
            busy_timeout: self.lock_timeout,
        }
    }

    /// Opens the ledger for reading.
    pub fn open(&self) -> Result<Ledger, Error> {
        Ok(Ledger::open(&self.ledger_dir, self.opts(false))?)
    }

    /// Opens the ledger for appending.
    pub fn open_write(&self) -> Result<Ledger, Error> {
        Ok(Ledger::open(&self.ledger_dir, self.opts(true))?)
    }

    /// Loads a private key, asking for a passphrase if needed and possible.
    pub fn load_key(&self, name: &str) -> Result<SigningKey, Error> {
        match self.keys.load(name, &self.passphrase) {
            Err(KeyError::NeedPassphrase(p)) => {
                let Some(ask) = &self.prompt else {
                    return Err(KeyError::NeedPassphrase(p).into());
                };
                let Some(pw) = ask(&format!("Passphrase for {}: ", p.display())) else {
                    return Err(KeyError::NeedPassphrase(p).into());
                };
                Ok(self.keys.load(name, &Passphrase::given(pw)?)?)
            }
            r => Ok(r?),
        }
    }

    /// What opening a token needs: the module, the PIN and the prompt.
    pub fn pkcs11_opts(&self) -> keys::Pkcs11Opts<'_> {
        keys::Pkcs11Opts {
            module: self.pkcs11_module.as_deref(),
            pin: self.pin.as_ref(),
            prompt: self.prompt.as_deref(),
        }
    }

    /// Opens NAME's signer wherever its private key lives (a key file, asking
    /// for its passphrase if needed and possible; a token; ssh-agent).
    pub fn load_signer(&self, name: &str) -> Result<Box<dyn Ed25519Signer>, Error> {
        if let keys::Location::File(_) = self.keys.location(name)? {
            return Ok(Box::new(self.load_key(name)?));
        }
        let unlock = keys::Unlock {
            passphrase: &self.passphrase,
            pkcs11: self.pkcs11_opts(),
        };
        Ok(self.keys.open_signer(name, &unlock)?)
    }

    fn append(
        &self,
        ledger: &mut Ledger,
        signer_name: &str,
        drafts: Vec<Draft>,
    ) -> Result<Appended, Error> {
        self.append_with(ledger, signer_name, |_| Ok(drafts))
    }

    /// Appends drafts built inside the write transaction (see [`Ledger::append_with`]).
    fn append_with(
        &self,
        ledger: &mut Ledger,
        signer_name: &str,
        build: impl FnOnce(&dyn Lookup) -> Result<Vec<Draft>, LedgerError>,
    ) -> Result<Appended, Error> {
        // A rotation of this signer's key that a killed run committed is
        // finished first, so the new key (the one in force) signs.
        if signer_name != ADMIN {
            self.finish_rotation(ledger, signer_name)?;
        }
        let admin = self.load_signer(ADMIN)?;
        let signer = if signer_name == ADMIN {
            None
        } else {
            Some(self.load_signer(signer_name)?)
        };
        Ok(ledger.append_with(
            &Signer {
                name: signer_name,
                key: signer.as_deref().unwrap_or(admin.as_ref()),
            },
            admin.as_ref(),
            self.time.as_deref(),
            build,
        )?)
    }

    /// Creates the ledger and the admin (log) key, which `source` places (a
    /// key file, a new key in a token, or an ssh-agent key). Refuses if the
    /// ledger or the key exists.
    pub fn init(&self, origin: &str, source: &KeySource) -> Result<Appended, Error> {
        crate::ledger::check_origin(origin)?;
        let db = Ledger::db_path(&self.ledger_dir);
        if db.exists() {
            return Err(
                LedgerError::Store(crate::ledger::StoreError::AlreadyInitialised(db)).into(),
            );
        }
        // Checked before anything is created, so a refused init leaves nothing.
        if let Some(t) = &self.time {
            crate::base::check_time(t)
                .map_err(|e| LedgerError::from(entry::EntryError::from(e)))?;
        }
        if self.keys.has_private(ADMIN) || self.keys.public_path(ADMIN)?.exists() {
            return Err(KeyError::Exists(self.keys.public_path(ADMIN)?).into());
        }
        // Directories this init makes go again if it fails (only when empty).
        let made: Vec<PathBuf> = [&self.keys.dir, &self.ledger_dir]
            .into_iter()
            .filter(|d| !d.exists())
            .cloned()
            .collect();
        let undo = || {
            for d in &made {
                let _ = std::fs::remove_dir(d);
            }
        };
        let key = self.new_key(ADMIN, source).inspect_err(|_| undo())?;
        let (priv_path, pub_path) = key
            .write(&self.keys, ADMIN, origin)
            .inspect_err(|_| undo())?;
        match Ledger::init(
            &self.ledger_dir,
            origin,
            key.signer(),
            self.time.as_deref(),
            self.opts(true),
        ) {
            Ok(l) => {
                let cp = l.checkpoint()?;
                let head = l.reader().head()?;
                let h = entry::entry_hash(&l.reader().entry(0)?.unwrap_or_default());
                Ok(Appended {
                    entries: vec![(0, h)],
                    head,
                    checkpoint: cp,
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(priv_path);
                let _ = std::fs::remove_file(pub_path);
                undo();
                Err(e.into())
            }
        }
    }

    /// The document's latest release (its text and clause manifest), which
    /// the next release's clause ids are assigned against.
    pub fn previous_release(&self, ledger: &Ledger) -> Result<Option<(String, Manifest)>, Error> {
        let r = ledger.reader();
        let blob = |c: &ContentRef| -> Result<Vec<u8>, GovError> {
            let dg = c
                .digest()
                .ok_or_else(|| GovError::Rule(format!("malformed digest {:?}", c.sha256)))?;
            r.blob(&dg)
                .map_err(|e| GovError::Lookup(e.to_string()))?
                .ok_or_else(|| GovError::Lookup(format!("content {} is missing", c.sha256)))
        };
        Ok(governance::previous_release(&&*r, &blob)?)
    }

    /// Builds the draft of a spec release from its text, without appending it.
    /// Its clause ids are assigned against `prev`, the document's previous
    /// release (see [`Workspace::previous_release`]), which then becomes this
    /// one (for the next draft of a batch). With `lint` (the file the text
    /// came from, for a new release), the problems of [`clauses::lint`] are
    /// refused; imports of history keep texts as they were.
    #[allow(clippy::too_many_arguments)]
    pub fn release_draft(
        &self,
        ledger: &Ledger,
        text: String,
        label: &str,
        notes: Option<String>,
        revision: bool,
        fixes: Vec<String>,
        source: Option<GitSource>,
        lint: Option<&Path>,
        prev: &mut Option<(String, Manifest)>,
    ) -> Result<Draft, Error> {
        governance::check_label(label)?;
        let too_many = |e: clauses::ClauseError| {
            Error::input(
                e.to_string(),
                "a spec is split into clauses at its sections, paragraphs and sentences; split the spec into smaller documents",
            )
        };
        let (protos, problem) = clauses::segment_checked(&text).map_err(too_many)?;
        if let (Some(file), Some((problem, fix))) = (lint, problem) {
            return Err(Error::input(format!("{}: {problem}", file.display()), fix));
        }
        let previous = prev
            .as_ref()
            .map(|(text, manifest)| ids::Previous { text, manifest });
        let m = ids::assign(&text, protos, previous);
        let manifest = m.encode();
        let ext = lint.and_then(|p| p.extension()).and_then(|e| e.to_str());
        let content = ContentRef::of(text.as_bytes(), clauses::media_type(&text, ext));
        let prior = ledger.reader().releases(label)?;
        let supersedes = match (revision, prior.last()) {
            (true, Some(last)) => Some(EntryRef::new(last.seq, &last.hash)),
            (true, None) => {
                return Err(Error::input(
                    format!("--revision given, but version {label:?} was never released"),
                    "drop --revision for a first release",
                ));
            }
            (false, _) => None,
        };
        let mut blobs = vec![text.clone().into_bytes(), manifest.clone()];
        *prev = Some((text, m));
        let notes_ref = notes.map(|n| {
            let r = ContentRef::of(n.as_bytes(), governance::MEDIA_MARKDOWN);
            blobs.push(n.into_bytes());
            r
        });
        let rel = SpecRelease {
            label: label.to_string(),
            content,
            clauses: ContentRef::of(&manifest, governance::MEDIA_CLAUSES),
            notes: notes_ref,
            supersedes,
            fixes,
            source,
        };
        let mut d = Draft::new(kinds::SPEC_RELEASE, &rel);
        d.blobs = blobs;
        Ok(d)
    }

    /// Appends many releases `(label, text, revision, source)`. Releases go in as few
    /// transactions as possible: a new group starts only where a label repeats, so
    /// each revision can name the committed release it supersedes.
    pub fn append_batch_releases(
        &self,
        ledger: &mut Ledger,
        signer: &str,
        releases: Vec<(String, String, bool, GitSource)>,
    ) -> Result<Appended, Error> {
        let mut all: Option<Appended> = None;
        let mut group: Vec<(String, String, bool, GitSource)> = Vec::new();
        let mut rest = releases.into_iter().peekable();
        loop {
            let next = rest.next();
            let flush = match &next {
                None => true,
                Some((label, ..)) => group.iter().any(|(l, ..)| l == label),
            };
            if flush && !group.is_empty() {
                let mut drafts = Vec::with_capacity(group.len());
                let mut prev = self.previous_release(ledger)?;
                for (label, text, rev, source) in group.drain(..) {
                    drafts.push(self.release_draft(
                        ledger,
                        text,
                        &label,
                        None,
                        rev,
                        vec![],
                        Some(source),
                        None,
                        &mut prev,
                    )?);
                }
                let a = self.append(ledger, signer, drafts)?;
                match &mut all {
                    None => all = Some(a),
                    Some(acc) => {
                        acc.entries.extend(a.entries);
                        acc.head = a.head;
                        acc.checkpoint = a.checkpoint;
                    }
                }
            }
            match next {
                Some(r) => group.push(r),
                None => break,
            }
        }
        all.ok_or_else(|| Error::input("nothing to release", "give at least one release"))
    }

    /// Signs a spec release from a file into the ledger.
    pub fn release_spec(
        &self,
        file: &Path,
        label: &str,
        signer: &str,
        notes: Option<&Path>,
        revision: bool,
        fixes: Vec<String>,
    ) -> Result<Appended, Error> {
        let text = read_text(file, "spec", MAX_SPEC_BYTES)?;
        // Refused for a new release, though a ledger may hold them (imports
        // keep history as it was): a label commands would read as an entry
        // number, and clause ids the manifest would have to change.
        if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::input(
                format!(
                    "version label {label:?} is only digits, which commands read as an entry number"
                ),
                "add a letter or a separator, e.g. v5 or 2025-05",
            ));
        }
        let notes = notes
            .map(|p| read_text(p, "notes", MAX_NOTES_BYTES))
            .transpose()?;
        let mut ledger = self.open_write()?;
        let mut prev = self.previous_release(&ledger)?;
        let draft = self.release_draft(
            &ledger,
            text,
            label,
            notes,
            revision,
            fixes,
            None,
            Some(file),
            &mut prev,
        )?;
        self.append(&mut ledger, signer, vec![draft])
    }

    /// Every entry from `from`, decoded, via `f`.
    pub fn for_each_entry(
        &self,
        from: u64,
        mut f: impl FnMut(EntryView) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let l = self.open()?;
        let size = l.reader().head()?.size;
        l.reader()
            .for_each_entry::<Error>(from, size, |row| f(EntryView::from_bytes(row.data)?))
    }

    /// One entry, by sequence number or hash prefix.
    pub fn show(&self, r: &str) -> Result<EntryView, Error> {
        let l = self.open()?;
        let seq = l.resolve(r)?;
        let b = l
            .reader()
            .entry(seq)?
            .ok_or_else(|| LedgerError::NoEntry(r.into()))?;
        Ok(EntryView::from_bytes(&b)?)
    }

    /// Verifies the whole ledger.
    pub fn verify(&self, progress: &dyn Fn(u64, u64)) -> Result<verify::Report, Error> {
        let l = self.open()?;
        Ok(verify::verify(&l, progress)?)
    }

    /// Checks that the ledger extends an older signed checkpoint of this log (so it
    /// was not rolled back or rewritten since); returns the checkpoint's size.
    pub fn verify_extends(&self, checkpoint: &[u8]) -> Result<u64, Error> {
        use crate::ledger::verify::fail;
        let l = self.open()?;
        let auth = l.authority()?;
        let vk = note::VerifierKey::parse(&auth.log_key)
            .map_err(|e| fail("entry 0", format!("log key: {e}")))?;
        let (cp, _) = crate::published::open_checkpoint(
            checkpoint,
            std::slice::from_ref(&vk),
            "--since checkpoint",
        )?;
        let head = l.reader().head()?;
        if cp.size > head.size {
            return Err(fail(
                "--since checkpoint",
                format!(
                    "the log signed a checkpoint of {} entries but the ledger has only {}: it was rolled back",
                    cp.size, head.size
                ),
            )
            .into());
        }
        let root = crate::tlog::tree_hash(cp.size, &l.reader())
            .map_err(|e| fail("tree", e.to_string()))?;
        if root != cp.root {
            return Err(fail(
                "--since checkpoint",
                format!("the ledger's first {} entries differ from the signed checkpoint: history was rewritten", cp.size),
            )
            .into());
        }
        Ok(cp.size)
    }

    /// The latest checkpoint, with cosignatures.
    pub fn checkpoint(&self) -> Result<String, Error> {
        Ok(self.open()?.checkpoint()?)
    }

    /// Checks a site directory before a site is built into it or served from it:
    /// everything in it is published, so it must not be, hold or lie inside the
    /// ledger directory (private rows) or the key directory; and it must be a
    /// directory, or not exist yet.
    pub fn check_site_dir(&self, out: &Path) -> Result<(), Error> {
        if out.exists() && !out.is_dir() {
            return Err(Error::input(
                format!("{} is not a directory", out.display()),
                "give the site's directory with --out, e.g. --out site",
            ));
        }
        let site = resolved(out);
        for (what, dir) in [("ledger", &self.ledger_dir), ("key", &self.keys.dir)] {
            let d = resolved(dir);
            let rel = if d == site {
                "is"
            } else if d.starts_with(&site) {
                "holds"
            } else if site.starts_with(&d) {
                "is inside"
            } else {
                continue;
            };
            return Err(Error::input(
                format!(
                    "refusing to use {} for the site: it {rel} the {what} directory {}",
                    out.display(),
                    dir.display()
                ),
                "everything in the site directory is public; use a directory outside the ledger and key directories, e.g. --out site",
            ));
        }
        // Any other directory holding private keys or witness state (a
        // witness's, or keys kept under another --keys), at any depth.
        if out.is_dir()
            && let Some(rel) = crate::site::serve::find_private(out)
        {
            let what = match rel.rsplit('/').next() {
                Some(n) if crate::site::serve::private_name(n) => "private key file",
                _ => "witness state",
            };
            return Err(Error::input(
                format!(
                    "refusing to use {} for the site: it holds the {what} {rel}",
                    out.display(),
                ),
                "everything in the site directory is public; move private keys and witness directories out of it, or build the site in a directory without them, e.g. --out site",
            ));
        }
        Ok(())
    }
}

/// `p` as an absolute path with symbolic links resolved as far as it exists; the
/// rest (directories still to be made) is normalised as written.
fn resolved(p: &Path) -> PathBuf {
    let mut cur = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut rest = Vec::new();
    let mut base = loop {
        if let Ok(c) = cur.canonicalize() {
            break c;
        }
        match (cur.parent(), cur.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last.as_os_str().to_os_string());
                cur = parent.to_path_buf();
            }
            _ => break cur,
        }
    };
    for part in rest.iter().rev() {
        if part == ".." {
            base.pop();
        } else if part != "." {
            base.push(part);
        }
    }
    base
}

/// Checks a site's base URL (used for the Atom feed's links): absolute `http` or `https`.
pub fn check_base_url(url: &str) -> Result<(), Error> {
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() > "https://".len()
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::input(
            format!("invalid base URL {url:?}: want an absolute http or https URL"),
            "example: --base-url https://example.org/spec/",
        ))
    }
}
