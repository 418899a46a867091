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
pub mod proofs;
pub mod witness;

/// Re-exported from the domain layer, where the site renders it too.
pub use crate::ledger::view::EntryView;
pub use gov::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde::Serialize;

use crate::error::Error;
use crate::governance::ids::Manifest;
use crate::governance::{
    self, ContentRef, EntryRef, GitSource, GovError, KeyAdd, KeyRevoke, Lookup, SpecRelease,
    clauses, ids, kinds, policy,
};
use crate::keys::{self, ADMIN, KeyDir, KeyError, Passphrase};
use crate::ledger::entry;
use crate::ledger::{Appended, Draft, Ledger, LedgerError, OpenOptions, Signer, verify};
use crate::note;

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
}

/// What `key generate` / `key register` did.
#[derive(Clone, Debug, Serialize)]
pub struct KeyResult {
    pub name: String,
    pub roles: Vec<String>,
    pub public_key: String,
    pub private_file: Option<PathBuf>,
    pub public_file: Option<PathBuf>,
    pub seq: u64,
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
        let admin = self.load_key(ADMIN)?;
        let signer = if signer_name == ADMIN {
            admin.clone()
        } else {
            self.load_key(signer_name)?
        };
        Ok(ledger.append_with(
            &Signer {
                name: signer_name,
                key: &signer,
            },
            &admin,
            self.time.as_deref(),
            build,
        )?)
    }

    /// Creates the ledger and the admin (log) key. Refuses if either exists.
    pub fn init(&self, origin: &str, encrypt_admin: bool) -> Result<Appended, Error> {
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
        let key = keys::generate()?;
        let pass = if encrypt_admin {
            self.passphrase.clone()
        } else {
            Passphrase::None
        };
        if encrypt_admin && matches!(pass, Passphrase::None) {
            return Err(KeyError::NeedPassphrase(self.keys.private_path(ADMIN)?).into());
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
        let (priv_path, pub_path) = self
            .keys
            .write(ADMIN, origin, &key, &pass)
            .inspect_err(|_| undo())?;
        match Ledger::init(
            &self.ledger_dir,
            origin,
            &key,
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

    /// Generates a key pair under NAME and registers it with `roles` (all author roles if empty).
    pub fn key_generate(
        &self,
        name: &str,
        roles: &[String],
        encrypt: bool,
    ) -> Result<KeyResult, Error> {
        let roles = default_roles(roles)?;
        let mut ledger = self.open_write()?;
        let auth = ledger.authority()?;
        if auth.active(name).is_some() {
            return Err(Error::input(
                format!("key {name:?} is already registered"),
                "choose another name, or `speclog key rotate NAME` to replace it",
            ));
        }
        let key = keys::generate()?;
        let pass = if encrypt {
            self.passphrase.clone()
        } else {
            Passphrase::None
        };
        if encrypt && matches!(pass, Passphrase::None) {
            return Err(KeyError::NeedPassphrase(self.keys.private_path(name)?).into());
        }
        let public_key = note::verifier_key_string(name, &key.verifying_key());
        let (priv_path, pub_path) = self.keys.write(name, name, &key, &pass)?;
        let add = KeyAdd {
            name: name.to_string(),
            public_key: public_key.clone(),
            roles: roles.clone(),
            replaces: None,
        };
        match self.append(&mut ledger, ADMIN, vec![Draft::new(kinds::KEY_ADD, &add)]) {
            Ok(a) => Ok(KeyResult {
                name: name.into(),
                roles,
                public_key,
                private_file: Some(priv_path),
                public_file: Some(pub_path),
                seq: a.entries[0].0,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(priv_path);
                let _ = std::fs::remove_file(pub_path);
                Err(e)
            }
        }
    }

    /// Registers an existing public key (a `.pub` verifier-key file) under NAME.
    pub fn key_register(
        &self,
        name: &str,
        public_file: &Path,
        roles: &[String],
    ) -> Result<KeyResult, Error> {
        entry::check_name(name).map_err(|_| KeyError::Name(name.into()))?;
        let roles = default_roles(roles)?;
        let vk = keys::read_verifier_key(public_file)?;
        if vk.alg() != note::ALG_ED25519 {
            return Err(Error::input(
                format!("{} is not an Ed25519 signing key", public_file.display()),
                "register the .pub file written by `speclog key generate`",
            ));
        }
        let public_key = note::verifier_key_string(name, vk.verifying_key());
        let mut ledger = self.open_write()?;
        let add = KeyAdd {
            name: name.to_string(),
            public_key: public_key.clone(),
            roles: roles.clone(),
            replaces: None,
        };
        let a = self.append(&mut ledger, ADMIN, vec![Draft::new(kinds::KEY_ADD, &add)])?;
        Ok(KeyResult {
            name: name.into(),
            roles,
            public_key,
            private_file: None,
            public_file: Some(public_file.to_path_buf()),
            seq: a.entries[0].0,
        })
    }

    /// Revokes NAME's active key.
    pub fn key_revoke(&self, name: &str, reason: Option<&str>) -> Result<Appended, Error> {
        let mut ledger = self.open_write()?;
        let auth = ledger.authority()?;
        let k = auth.active(name).ok_or_else(|| {
            Error::from(governance::GovError::Unknown {
                what: "active key",
                name: name.into(),
            })
        })?;
        let rev = KeyRevoke {
            name: name.into(),
            public_key: k.verifier.clone(),
            reason: reason.map(str::to_string),
        };
        self.append(
            &mut ledger,
            ADMIN,
            vec![Draft::new(kinds::KEY_REVOKE, &rev)],
        )
    }

    /// Replaces NAME's active key with a new one (same roles); the old files are
    /// renamed `NAME.key.seqN` / `NAME.pub.seqN` so nothing is overwritten.
    ///
    /// Crash-safe: the new key is first written beside the old one as
    /// `NAME.key.next` / `NAME.pub.next` (new-only, complete or absent), then
    /// the `key.add` entry is appended, then the files are swapped (private key
    /// first, public key last). A process killed at any point leaves either the
    /// old key in force (no entry: the staged files are discarded) or the new
    /// one (entry committed: the swap is finished by the next command that
    /// signs as NAME, or by the retry, see [`Workspace::finish_rotation`]).
    pub fn key_rotate(&self, name: &str, encrypt: bool) -> Result<KeyResult, Error> {
        if name == ADMIN {
            return Err(Error::input(
                "the admin key is the log key and cannot be rotated in place",
                "start a new log with a new origin, or keep the admin key offline",
            ));
        }
        let mut ledger = self.open_write()?;
        // A rotation a killed run committed is finished, and is the result.
        if let Some(done) = self.finish_rotation(&ledger, name)? {
            return Ok(done);
        }
        let auth = ledger.authority()?;
        let old = auth
            .active(name)
            .ok_or_else(|| {
                Error::from(governance::GovError::Unknown {
                    what: "active key",
                    name: name.into(),
                })
            })?
            .clone();
        let key = keys::generate()?;
        let public_key = note::verifier_key_string(name, &key.verifying_key());
        let add = KeyAdd {
            name: name.to_string(),
            public_key: public_key.clone(),
            roles: old.roles.clone(),
            replaces: Some(old.verifier.clone()),
        };
        let pass = if encrypt {
            self.passphrase.clone()
        } else {
            Passphrase::None
        };
        let files = self.rotation_files(name, old.added)?;
        let remove_staged = || {
            let _ = std::fs::remove_file(&files.key.1);
            let _ = std::fs::remove_file(&files.public.1);
        };
        keys::write_private(&files.key.1, &key, &pass)?;
        if let Err(e) =
            keys::write_new(&files.public.1, format!("{public_key}\n").as_bytes(), 0o644)
        {
            remove_staged();
            return Err(e.into());
        }
        crate::fsx::crash_point("rotate.staged");
        let a = match self.append(&mut ledger, ADMIN, vec![Draft::new(kinds::KEY_ADD, &add)]) {
            Ok(a) => a,
            Err(e) => {
                remove_staged();
                return Err(e);
            }
        };
        crate::fsx::crash_point("rotate.committed");
        files.swap()?;
        Ok(KeyResult {
            name: name.into(),
            roles: old.roles,
            public_key,
            private_file: Some(files.key.0),
            public_file: Some(files.public.0),
            seq: a.entries[0].0,
        })
    }

    fn rotation_files(&self, name: &str, old_added: u64) -> Result<RotationFiles, Error> {
        let (k, p) = (self.keys.private_path(name)?, self.keys.public_path(name)?);
        let with = |p: &Path, ext: &str| p.with_extension(ext);
        Ok(RotationFiles {
            key: (
                k.clone(),
                with(&k, "key.next"),
                with(&k, &format!("key.seq{old_added}")),
            ),
            public: (
                p.clone(),
                with(&p, "pub.next"),
                with(&p, &format!("pub.seq{old_added}")),
            ),
        })
    }

    /// Finishes or discards a rotation of NAME that a killed process left
    /// staged (`NAME.pub.next` present). If the ledger holds its `key.add`
    /// (the staged public key is NAME's active key), the files are swapped
    /// into place and the rotation returned; otherwise the staged files are
    /// removed (the old key stays in force) and None returned.
    pub fn finish_rotation(&self, ledger: &Ledger, name: &str) -> Result<Option<KeyResult>, Error> {
        let Ok(staged_pub) = self
            .keys
            .public_path(name)
            .map(|p| p.with_extension("pub.next"))
        else {
            return Ok(None);
        };
        if !staged_pub.exists() {
            return Ok(None);
        }
        let auth = ledger.authority()?;
        let staged = keys::read_verifier_key(&staged_pub).ok();
        let active = auth.active(name);
        let committed = match (&staged, active) {
            (Some(vk), Some(a)) => a.public == vk.verifying_key().to_bytes(),
            _ => false,
        };
        if !committed {
            let _ = std::fs::remove_file(self.keys.private_path(name)?.with_extension("key.next"));
            let _ = std::fs::remove_file(&staged_pub);
            return Ok(None);
        }
        let active = active.expect("committed implies active").clone();
        let replaced = auth
            .keys
            .iter()
            .find(|k| k.name == name && k.revoked == Some(active.added))
            .map_or(active.added, |k| k.added);
        let files = self.rotation_files(name, replaced)?;
        files.swap()?;
        Ok(Some(KeyResult {
            name: name.into(),
            roles: active.roles.clone(),
            public_key: active.verifier.clone(),
            private_file: Some(files.key.0),
            public_file: Some(files.public.0),
            seq: active.added,
        }))
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

/// The files of a key rotation: for the private and the public key, (in
/// force, staged new, archive of the replaced one).
struct RotationFiles {
    key: (PathBuf, PathBuf, PathBuf),
    public: (PathBuf, PathBuf, PathBuf),
}

impl RotationFiles {
    /// Puts the staged files in force, archiving the replaced ones; each step
    /// is a rename that never overwrites, and the whole can be redone after
    /// a kill at any point (the private key goes first, the staged public key
    /// is the marker of an unfinished swap and goes last).
    fn swap(&self) -> Result<(), Error> {
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |e| Error::Io(p, e)
        };
        for (i, (cur, next, archive)) in [&self.key, &self.public].into_iter().enumerate() {
            if !next.exists() {
                continue;
            }
            if cur.exists() {
                if archive.exists() {
                    // A killed swap archived it already: this file is its copy.
                    if std::fs::read(cur).ok() != std::fs::read(archive).ok() {
                        return Err(KeyError::Exists(archive.clone()).into());
                    }
                    std::fs::remove_file(cur).map_err(io(cur))?;
                } else {
                    rename_new(cur, archive).map_err(io(cur))?;
                }
            }
            crate::fsx::crash_point(if i == 0 {
                "rotate.archived-key"
            } else {
                "rotate.archived-pub"
            });
            rename_new(next, cur).map_err(io(next))?;
        }
        Ok(())
    }
}

/// Renames `from` to `to` in the same directory, never replacing `to`.
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    let dir = from
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_string);
    let (Some(a), Some(b)) = (name(from), name(to)) else {
        return Err(std::io::Error::other("not a UTF-8 file name"));
    };
    let d = crate::fsx::Dir::open(dir)?;
    d.rename(&a, &b, crate::fsx::Replace::Never)?;
    d.sync()
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

fn default_roles(roles: &[String]) -> Result<Vec<String>, Error> {
    let roles: Vec<String> = if roles.is_empty() {
        policy::AUTHOR_ROLES.iter().map(|s| s.to_string()).collect()
    } else {
        roles.to_vec()
    };
    for r in &roles {
        policy::check_role(r)?;
    }
    Ok(roles)
}
