//! The ledger: signed, hash-chained entries in one SQLite file, with a Merkle
//! tree over them and a signed checkpoint after every append.

pub mod batch;
pub mod entry;
pub mod store;
pub mod verify;
pub mod view;

use std::path::{Path, PathBuf};

use crate::sign::Ed25519Signer;
use thiserror::Error;

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::governance::eval::PreregRec;
use crate::governance::ids::Manifest;
use crate::governance::incident::IncidentRec;
use crate::governance::{
    self, ApprovalRec, Authority, ClauseIds, GovError, Lookup, Payload, ReleaseInfo, ReleaseRec,
    State, kinds, to_payload,
};
use crate::note;
use crate::tlog::Hash;
use entry::{Entry, EntryError, UnsignedEntry};
pub use store::{
    Batch, Head, Insert, NewEntry, OpenOptions, SqliteStore, Store, StoreError, StoreRead,
};

/// File name of the database inside the ledger directory.
pub const DB_FILE: &str = "ledger.sqlite";

/// Errors from ledger operations.
#[derive(Debug, Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error(transparent)]
    Gov(#[from] GovError),
    #[error(
        "invalid origin {0:?}: use a schema-less URL like example.org/model-spec (no spaces or '+')"
    )]
    Origin(String),
    #[error("invalid time {0:?}: it is earlier than the last entry's time {1}")]
    TimeBackwards(String, String),
    #[error("entry {0} not found")]
    NoEntry(String),
    #[error("entry prefix {0} is ambiguous")]
    Ambiguous(String),
    #[error("blob {0} is missing from the ledger")]
    MissingBlob(String),
    #[error("{0}")]
    Io(String),
}

/// A key that signs entries, with the name it is registered under.
pub struct Signer<'a> {
    pub name: &'a str,
    pub key: &'a dyn Ed25519Signer,
}

/// An entry to append, before it is numbered, chained and signed.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub kind: String,
    pub payload: Vec<u8>,
    /// Content the payload references, stored by digest.
    pub blobs: Vec<Vec<u8>>,
    /// Private rows (never published).
    pub private: Vec<(String, Vec<u8>)>,
}

impl Draft {
    pub fn new<T: serde::Serialize>(kind: &str, payload: &T) -> Draft {
        Draft {
            kind: kind.to_string(),
            payload: to_payload(payload),
            ..Draft::default()
        }
    }
}

/// What an append wrote.
#[derive(Clone, Debug)]
pub struct Appended {
    /// (seq, leaf hash) of each new entry.
    pub entries: Vec<(u64, Hash)>,
    pub head: Head,
    /// The new signed checkpoint.
    pub checkpoint: String,
}

/// An open ledger: its rows in a [`Store`], its keys and files in `dir`.
pub struct Ledger {
    store: Box<dyn Store>,
    dir: PathBuf,
}

/// Current time in the entry time format.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Checks a log origin per C2SP tlog-checkpoint: a non-empty line without spaces or '+'.
pub fn check_origin(origin: &str) -> Result<(), LedgerError> {
    let ok = !origin.is_empty()
        && origin.len() <= 255
        && origin.is_ascii()
        && !origin
            .bytes()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control() || c == b'+');
    if ok {
        Ok(())
    } else {
        Err(LedgerError::Origin(origin.to_string()))
    }
}

impl Ledger {
    /// Path of the database in `dir`.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }

    /// Creates a ledger in `dir` with `admin` as admin and log key, and writes entry 0.
    pub fn init(
        dir: &Path,
        origin: &str,
        admin: &dyn Ed25519Signer,
        time: Option<&str>,
        opts: OpenOptions,
    ) -> Result<Ledger, LedgerError> {
        check_origin(origin)?;
        let path = Self::db_path(dir);
        if path.exists() {
            return Err(StoreError::AlreadyInitialised(path).into());
        }
        // Private: the ledger holds rows that are not published.
        crate::fsx::create_dir_all(dir, crate::fsx::DIR_PRIVATE)
            .map_err(|e| LedgerError::Io(format!("{}: {e}", dir.display())))?;
        let store = SqliteStore::create(
            &path,
            OpenOptions {
                write: true,
                ..opts
            },
        )?;
        store.set_meta("origin", origin)?;
        let mut ledger = Ledger {
            store: Box::new(store),
            dir: dir.to_path_buf(),
        };
        let init = governance::LogInit {
            origin: origin.to_string(),
            log_key: note::verifier_key_string(origin, &admin.verifying_key()),
            policy: governance::Policy::default(),
        };
        let res = ledger.append(
            &Signer {
                name: crate::keys::ADMIN,
                key: admin,
            },
            admin,
            vec![Draft::new(kinds::LOG_INIT, &init)],
            time,
        );
        if let Err(e) = res {
            drop(ledger);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            return Err(e);
        }
        Ok(ledger)
    }

    /// Creates an empty scratch ledger of `origin` in `dir` (see
    /// [`SqliteStore::scratch`]), to be filled with `load` through
    /// [`Ledger::store_mut`]: a copy of a published log, thrown away after use.
    pub fn scratch(dir: &Path, origin: &str) -> Result<Ledger, LedgerError> {
        check_origin(origin)?;
        let store = SqliteStore::create(
            &Self::db_path(dir),
            OpenOptions {
                write: true,
                ..OpenOptions::default()
            },
        )?;
        store.scratch()?;
        store.set_meta("origin", origin)?;
        Ok(Ledger {
            store: Box::new(store),
            dir: dir.to_path_buf(),
        })
    }

    /// Write access to the store of a [`Ledger::scratch`] copy.
    pub fn store_mut(&mut self) -> &mut dyn Store {
        &mut *self.store
    }

    /// Opens the ledger in `dir` (its SQLite file, [`DB_FILE`]).
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Ledger, LedgerError> {
        let store = SqliteStore::open(&Self::db_path(dir), opts)?;
        Ok(Ledger::with_store(Box::new(store), dir))
    }

    /// A ledger over any [`Store`], with its keys and files in `dir`.
    pub fn with_store(store: Box<dyn Store>, dir: &Path) -> Ledger {
        Ledger {
            store,
            dir: dir.to_path_buf(),
        }
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ledger's witness policy file, checked, for publishing verbatim as
    /// `log/witnesses.txt`; `Ok(None)` if the ledger has none.
    pub fn published_policy(&self) -> Result<Option<Vec<u8>>, LedgerError> {
        use crate::witness::store::{policy_path, read_policy};
        match read_policy(&policy_path(&self.dir)) {
            Ok(p) => Ok(p.map(|(b, _)| b)),
            Err(e) => Err(LedgerError::Io(e.to_string())),
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Read access.
    pub fn reader(&self) -> Box<dyn StoreRead + '_> {
        self.store.reader()
    }

    /// The log origin.
    pub fn origin(&self) -> Result<String, LedgerError> {
        self.reader()
            .meta("origin")?
            .ok_or_else(|| StoreError::Corrupt("origin is missing from meta".into()).into())
    }

    /// Numbers, chains, checks and signs `drafts` with `signer`, and appends them in
    /// one durable transaction with a new checkpoint signed by `log_key`.
    /// Every draft is checked against the policy and the entries before it
    /// (including earlier drafts of the same call); on any error nothing is written.
    pub fn append(
        &mut self,
        signer: &Signer<'_>,
        log_key: &dyn Ed25519Signer,
        drafts: Vec<Draft>,
        time: Option<&str>,
    ) -> Result<Appended, LedgerError> {
        self.append_with(signer, log_key, time, |_| Ok(drafts))
    }

    /// Like [`Ledger::append`], but the drafts are built inside the write
    /// transaction by `build`, which sees the ledger through [`Lookup`]: use it
    /// for payloads that depend on the ledger's state, like sequential ids
    /// (`INC-<n>`), so a concurrent writer cannot make them stale.
    pub fn append_with(
        &mut self,
        signer: &Signer<'_>,
        log_key: &dyn Ed25519Signer,
        time: Option<&str>,
        build: impl FnOnce(&dyn Lookup) -> Result<Vec<Draft>, LedgerError>,
    ) -> Result<Appended, LedgerError> {
        let origin = self.origin()?;
        let log_name = origin.clone();
        // A token or agent that fails to sign the checkpoint is reported as
        // such (typed), not as a damaged tree.
        let sign_failed = std::cell::RefCell::new(None);
        let sign_cp = |size: u64, root: &Hash| -> Result<String, String> {
            let cp = note::Checkpoint {
                origin: origin.clone(),
                size,
                root: *root,
                extensions: Vec::new(),
            };
            note::sign_note_by(&cp.to_text(), &log_name, log_key).map_err(|e| {
                if let note::NoteError::Sign(s) = &e {
                    sign_failed.replace(Some(s.clone()));
                }
                e.to_string()
            })
        };
        let mut written = Vec::new();
        let res = self.store_mut().append_streaming::<LedgerError, _>(
            |head, reader, ins| {
                let stored = reader.before(head.size);
                let mut overlay = Overlay::new(&*stored, head.size)?;
                let drafts = build(&overlay)?;
                let prev_time = match head.size {
                    0 => String::new(),
                    n => {
                        let b = reader.entry(n - 1)?.ok_or_else(|| {
                            StoreError::Corrupt(format!("entry {} is missing", n - 1))
                        })?;
                        Entry::decode(&b)?.time
                    }
                };
                let t = match time {
                    Some(t) => {
                        entry::check_time(t).map_err(EntryError::from)?;
                        if t < prev_time.as_str() {
                            return Err(LedgerError::TimeBackwards(t.to_string(), prev_time));
                        }
                        t.to_string()
                    }
                    // Clocks may step back; entry times never do.
                    None => now().max(prev_time),
                };
                let mut step = Step {
                    reader,
                    overlay: &mut overlay,
                    ins,
                    written: &mut written,
                };
                sign_and_store(head, signer, &t, drafts, &mut step)
            },
            &sign_cp,
        );
        let (head, checkpoint) = res.map_err(|e| match sign_failed.take() {
            Some(s) => LedgerError::Entry(EntryError::Sign(s)),
            None => self.explain_failure(e),
        })?;
        Ok(Appended {
            entries: written,
            head,
            checkpoint,
        })
    }

    /// A tree hash read that failed (the Merkle code sees the store only
    /// through `HashReader`, as text) may have met a damaged page: then the
    /// damage is the error, with its own hint. Other errors are returned as
    /// they are.
    fn explain_failure(&self, e: LedgerError) -> LedgerError {
        let read = matches!(e, LedgerError::Store(StoreError::Tlog(_)));
        match self.store.check(store::Check::All) {
            Err(d @ StoreError::Damaged(_)) if read => d.into(),
            _ => e,
        }
    }

    /// Decodes the entry at `seq`.
    pub fn entry(&self, seq: u64) -> Result<Entry, LedgerError> {
        let b = self
            .reader()
            .entry(seq)?
            .ok_or_else(|| LedgerError::NoEntry(seq.to_string()))?;
        Ok(Entry::decode(&b)?)
    }

    /// Resolves a reference: a sequence number, or a hex prefix (4+ digits) of an entry hash.
    pub fn resolve(&self, r: &str) -> Result<u64, LedgerError> {
        if let Ok(n) = r.parse::<u64>()
            && (r.len() < 8 || self.reader().entry(n)?.is_some())
        {
            return self
                .reader()
                .entry(n)?
                .map(|_| n)
                .ok_or_else(|| LedgerError::NoEntry(r.into()));
        }
        let hexs = r.to_ascii_lowercase();
        if hexs.len() < 4 || hexs.len() > 64 || !hexs.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(LedgerError::NoEntry(r.into()));
        }
        let even = if hexs.len() % 2 == 1 {
            &hexs[..hexs.len() - 1]
        } else {
            &hexs[..]
        };
        let prefix = hex::decode(even).map_err(|_| LedgerError::NoEntry(r.into()))?;
        let mut hits = Vec::new();
        for s in self.reader().seqs_by_hash_prefix(&prefix)? {
            let e = self.reader().entry(s)?.unwrap_or_default();
            if hex::encode(entry::entry_hash(&e)).starts_with(&hexs) {
                hits.push(s);
            }
        }
        match hits.as_slice() {
            [] => Err(LedgerError::NoEntry(r.into())),
            [s] => Ok(*s),
            _ => Err(LedgerError::Ambiguous(r.into())),
        }
    }

    /// The checkpoint signed for tree size `size`, with its cosignatures, if the
    /// log signed one at that size.
    pub fn checkpoint_text_at(&self, size: u64) -> Result<Option<String>, LedgerError> {
        let Some(mut note) = self.reader().checkpoint_at(size)? else {
            return Ok(None);
        };
        for line in self.reader().cosignatures(size)? {
            note.push_str(&line);
            note.push('\n');
        }
        Ok(Some(note))
    }

    /// The latest signed checkpoint with any stored cosignatures appended.
    pub fn checkpoint(&self) -> Result<String, LedgerError> {
        let (size, note) = self
            .reader()
            .latest_checkpoint()?
            .ok_or_else(|| StoreError::Corrupt("no checkpoint".into()))?;
        let cos = self.reader().cosignatures(size)?;
        let mut out = note;
        for line in cos {
            out.push_str(&line);
            out.push('\n');
        }
        Ok(out)
    }

    /// The key and policy state at the end of the ledger.
    pub fn authority(&self) -> Result<Authority, LedgerError> {
        Ok(self.reader().authority()?)
    }
}

/// Drafts at least this many are signed on a thread of their own while the
/// calling thread checks and stores the ones already signed.
const PIPELINE_MIN: usize = 64;

/// One signed draft: its encoding, leaf hash and fields, and its blobs.
struct Signed {
    bytes: Vec<u8>,
    hash: Hash,
    entry: Entry,
    blobs: Vec<Vec<u8>>,
    private: Vec<(String, Vec<u8>)>,
}

/// Numbers, chains and signs one draft. Only what the chain needs is done here
/// (encoding, signature, leaf hash): checking the payload's JSON, decoding it
/// and hashing its blobs are left to [`Step::store`], which for a long batch
/// runs on the other thread.
fn sign_draft(
    signer: &Signer<'_>,
    key: &entry::EntrySigner,
    time: &str,
    seq: u64,
    prev: Hash,
    d: Draft,
) -> Result<Signed, LedgerError> {
    let signer_key = key.public();
    let bytes = UnsignedEntry {
        seq,
        time,
        kind: &d.kind,
        prev,
        signer: signer.name,
        signer_key,
        payload: &d.payload,
    }
    .sign_prepared(key)?;
    let signature = bytes[bytes.len() - 64..]
        .try_into()
        .map_err(|_| EntryError::Truncated)?;
    Ok(Signed {
        hash: entry::entry_hash(&bytes),
        bytes,
        entry: Entry {
            seq,
            time: time.to_string(),
            kind: d.kind,
            prev,
            signer: signer.name.to_string(),
            signer_key,
            payload: d.payload,
            signature,
        },
        blobs: d.blobs,
        private: d.private,
    })
}

/// What checking and storing the signed drafts of one append needs.
struct Step<'s, 'a> {
    reader: &'s dyn StoreRead,
    overlay: &'s mut Overlay<'a>,
    ins: &'s mut dyn Insert,
    written: &'s mut Vec<(u64, Hash)>,
}

/// Signs the drafts in order, each chained to the one before, and checks and
/// stores each as it comes. Signing a chain is sequential (each entry names the
/// hash of the signed entry before it), so for a long batch it runs on its own
/// thread (with the decoding and hashing of each draft), ahead of the checks and
/// SQLite inserts on this one.
fn sign_and_store(
    head: &Head,
    signer: &Signer<'_>,
    time: &str,
    drafts: Vec<Draft>,
    step: &mut Step,
) -> Result<(), LedgerError> {
    let key = &entry::EntrySigner::new(signer.key);
    if drafts.len() < PIPELINE_MIN {
        let mut prev = head.hash;
        for (seq, d) in (head.size..).zip(drafts) {
            let s = sign_draft(signer, key, time, seq, prev, d)?;
            prev = s.hash;
            step.store(s)?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Signed, LedgerError>>(256);
        let (size, mut prev, n) = (head.size, head.hash, drafts.len());
        scope.spawn(move || {
            for (seq, d) in (size..).zip(drafts) {
                let s = sign_draft(signer, key, time, seq, prev, d);
                if let Ok(s) = &s {
                    prev = s.hash;
                }
                let stop = s.is_err();
                // The receiver is gone when the checks failed: stop signing.
                if tx.send(s).is_err() || stop {
                    return;
                }
            }
        });
        let mut signed = rx.iter();
        for _ in 0..n {
            let s = signed
                .next()
                .ok_or_else(|| LedgerError::Io("the signing thread stopped".into()))??;
            step.store(s)?;
        }
        Ok(())
    })
}

impl Step<'_, '_> {
    /// Checks one signed draft against the policy and the ledger before it
    /// (stored entries and the batch's earlier drafts) and inserts it.
    fn store(&mut self, s: Signed) -> Result<(), LedgerError> {
        let Signed {
            bytes,
            hash,
            entry: e,
            blobs,
            private,
        } = s;
        // The signing thread left these to this one: the payload must be one
        // JSON object, and decode. As in verify, a payload of a known kind
        // that decodes and starts with `{` is one (the typed decode reads and
        // checks every byte and refuses unknown fields), so the separate
        // check runs only for the others.
        let object = e.payload.trim_ascii_start().first() == Some(&b'{');
        let payload = match Payload::decode(&e.kind, &e.payload) {
            Ok(p) if object && !matches!(&p, Payload::Other(_)) => p,
            r => {
                entry::check_payload(&e.payload)?;
                r?
            }
        };
        let digests: Vec<Hash> = blobs.iter().map(|b| entry::sha256(b)).collect();
        // Every referenced blob must be supplied or already stored.
        let reader = self.reader;
        for r in payload.content_refs() {
            let dg = r
                .digest()
                .ok_or_else(|| GovError::Rule(format!("bad digest {}", r.sha256)))?;
            if !digests.contains(&dg) && reader.blob_size(&dg)?.is_none() {
                return Err(LedgerError::MissingBlob(r.sha256.clone()));
            }
        }
        let blob = |c: &governance::ContentRef| -> Result<Vec<u8>, GovError> {
            let dg = c
                .digest()
                .ok_or_else(|| GovError::Rule(format!("malformed digest {:?}", c.sha256)))?;
            match digests.iter().position(|s| *s == dg) {
                Some(i) => Ok(blobs[i].clone()),
                None => reader
                    .blob(&dg)
                    .map_err(lookup_err)?
                    .ok_or_else(|| GovError::Rule(format!("content {} is missing", c.sha256))),
            }
        };
        self.overlay.check_and_apply(&e, &hash, &payload, &blob)?;
        let seq = e.seq;
        self.ins.entry(&NewEntry {
            bytes,
            hash,
            kind: e.kind,
            subject: payload.subject(),
        })?;
        for (b, dg) in blobs.iter().zip(&digests) {
            self.ins.blob(dg, b)?;
        }
        for (name, data) in &private {
            self.ins.private(name, data)?;
        }
        self.written.push((seq, hash));
        Ok(())
    }
}

/// The ledger as seen by a batch being built: stored entries plus the batch's earlier drafts.
///
/// The stored ledger does not change during the append, so what is read from it
/// is cached (a batch of evaluations against one release parses its clause
/// manifest once, not once per draft), and what the drafts change is kept up to
/// date per subject, so each draft costs the same however long the batch is.
struct Overlay<'a> {
    reader: &'a dyn StoreRead,
    authority: Authority,
    /// The batch's earlier drafts, as an in-memory index.
    pending: State,
    /// Sequence number of the batch's first draft (the stored ledger's size).
    first: u64,
    /// Stored answers, by kind, seq and label.
    counts: RefCell<BTreeMap<String, u64>>,
    releases: RefCell<BTreeMap<String, Vec<ReleaseRec>>>,
    clauses: RefCell<BTreeMap<u64, ClauseIds>>,
    /// Incidents and approvals as of the last draft, for the subjects asked about
    /// or touched so far.
    incidents: RefCell<BTreeMap<String, Option<IncidentRec>>>,
    approvals: RefCell<BTreeMap<String, Vec<ApprovalRec>>>,
}

/// Returns the cached value for `key`, computing and caching it on first use.
fn cached<K, V, Q>(
    cache: &RefCell<BTreeMap<K, V>>,
    key: &Q,
    load: impl FnOnce() -> Result<V, GovError>,
) -> Result<V, GovError>
where
    K: Ord + Clone + std::borrow::Borrow<Q>,
    V: Clone,
    Q: Ord + ?Sized + ToOwned<Owned = K>,
{
    if let Some(v) = cache.borrow().get(key) {
        return Ok(v.clone());
    }
    let v = load()?;
    cache.borrow_mut().insert(key.to_owned(), v.clone());
    Ok(v)
}

impl<'a> Overlay<'a> {
    fn new(reader: &'a dyn StoreRead, size: u64) -> Result<Self, LedgerError> {
        let authority = if size == 0 {
            Authority::default()
        } else {
            reader.authority()?
        };
        Ok(Overlay {
            reader,
            authority,
            pending: State::default(),
            first: size,
            counts: RefCell::default(),
            releases: RefCell::default(),
            clauses: RefCell::default(),
            incidents: RefCell::default(),
            approvals: RefCell::default(),
        })
    }

    fn check_and_apply(
        &mut self,
        e: &Entry,
        hash: &Hash,
        p: &Payload,
        blob: &dyn Fn(&governance::ContentRef) -> Result<Vec<u8>, GovError>,
    ) -> Result<(), LedgerError> {
        self.authority.authorize(e, p)?;
        governance::check_references(e, p, self)?;
        let clause_ids = governance::check_content(p, blob, self)?;
        self.authority.apply(e, p)?;
        self.pending.record(e, hash, p)?;
        if let Some(ids) = clause_ids {
            // A later draft of the batch may name this release's clauses.
            self.pending.set_release_clauses(e.seq, ids);
        }
        let incident_id = match p {
            Payload::IncidentOpen(o) => Some(&o.id),
            Payload::IncidentUpdate(u) => Some(&u.id),
            Payload::IncidentResolve(r) => Some(&r.id),
            Payload::IncidentDisclose(d) => Some(&d.id),
            _ => None,
        };
        if let Some(id) = incident_id {
            let mut rec = self.incident(id)?;
            fold_incident(&mut rec, id, e, hash, p);
            self.incidents.borrow_mut().insert(id.clone(), rec);
        }
        match p {
            Payload::SpecRelease(r) => {
                self.approvals
                    .borrow_mut()
                    .insert(r.label.clone(), Vec::new());
            }
            Payload::SpecApprove(a) => {
                let mut v = self.approvals(&a.label)?;
                v.push(ApprovalRec::of(e, a));
                self.approvals.borrow_mut().insert(a.label.clone(), v);
            }
            _ => {}
        }
        Ok(())
    }

    /// The stored ledger, unless it is still empty (before entry 0).
    fn stored(&self) -> Option<&'a dyn StoreRead> {
        (self.first > 0).then_some(self.reader)
    }

    /// Asks about entry `seq`: the batch's drafts if it is one of them, else the stored ledger.
    fn at_seq<T>(
        &self,
        seq: u64,
        ask: impl Fn(&dyn Lookup) -> Result<T, GovError>,
    ) -> Result<T, GovError> {
        match self.stored() {
            Some(r) if seq < self.first => ask(&r),
            _ => ask(&self.pending),
        }
    }
}

impl Lookup for Overlay<'_> {
    fn releases(&self, label: &str) -> Result<Vec<ReleaseRec>, GovError> {
        let mut v = match self.stored() {
            Some(r) => cached(&self.releases, label, || r.releases(label))?,
            None => Vec::new(),
        };
        v.extend(self.pending.releases(label)?);
        Ok(v)
    }
    fn authority(&self) -> Result<Authority, GovError> {
        Ok(self.authority.clone())
    }
    fn count(&self, kind: &str) -> Result<u64, GovError> {
        let stored = match self.stored() {
            Some(r) => cached(&self.counts, kind, || Lookup::count(r, kind))?,
            None => 0,
        };
        Ok(stored + self.pending.count(kind)?)
    }
    fn release_at(&self, seq: u64) -> Result<Option<ReleaseInfo>, GovError> {
        self.at_seq(seq, |l| l.release_at(seq))
    }
    fn release_clauses(&self, seq: u64) -> Result<ClauseIds, GovError> {
        match self.stored() {
            Some(r) if seq < self.first => cached(&self.clauses, &seq, || r.release_clauses(seq)),
            _ => self.pending.release_clauses(seq),
        }
    }
    fn last_release(&self) -> Result<Option<ReleaseRec>, GovError> {
        match self.pending.last_release()? {
            Some(r) => Ok(Some(r)),
            None => match self.stored() {
                Some(r) => r.last_release(),
                None => Ok(None),
            },
        }
    }
    fn incident(&self, id: &str) -> Result<Option<IncidentRec>, GovError> {
        cached(&self.incidents, id, || match self.stored() {
            Some(r) => r.incident(id),
            None => Ok(None),
        })
    }
    fn preregistration_at(&self, seq: u64) -> Result<Option<PreregRec>, GovError> {
        self.at_seq(seq, |l| l.preregistration_at(seq))
    }
    fn approvals(&self, label: &str) -> Result<Vec<ApprovalRec>, GovError> {
        cached(&self.approvals, label, || match self.stored() {
            Some(r) => r.approvals(label),
            None => Ok(Vec::new()),
        })
    }
}

/// Folds one entry into the record of incident `id` (the same fold for stored and pending entries).
fn fold_incident(rec: &mut Option<IncidentRec>, id: &str, e: &Entry, hash: &Hash, p: &Payload) {
    match (p, rec.as_mut()) {
        (Payload::IncidentOpen(o), _) if o.id == id => {
            *rec = Some(IncidentRec::opened(e.seq, &hex::encode(hash), o));
        }
        (Payload::IncidentUpdate(u), Some(r)) if u.id == id => r.update(u),
        (Payload::IncidentResolve(x), Some(r)) if x.id == id => r.resolve(e.seq, x),
        (Payload::IncidentDisclose(d), Some(r)) if d.id == id => r.disclose(e.seq),
        _ => {}
    }
}

/// A store error met by a rule's read; damage keeps its kind (and its hint).
fn lookup_err(e: StoreError) -> GovError {
    match e {
        StoreError::Damaged(m) => GovError::Damaged(m),
        e => GovError::Lookup(e.to_string()),
    }
}

fn decode_row(data: &[u8]) -> Result<(Entry, Payload), GovError> {
    let e = Entry::decode(data).map_err(|e| GovError::Lookup(e.to_string()))?;
    let p = Payload::decode(&e.kind, &e.payload)?;
    Ok((e, p))
}

impl Lookup for dyn StoreRead + '_ {
    fn releases(&self, label: &str) -> Result<Vec<ReleaseRec>, GovError> {
        let rows = self
            .entries_about(kinds::SPEC_RELEASE, label)
            .map_err(lookup_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (e, p) = decode_row(&r.data)?;
            if let Payload::SpecRelease(s) = p {
                out.push(ReleaseRec {
                    seq: e.seq,
                    hash: entry::entry_hash(&r.data),
                    label: s.label,
                    content: s.content,
                    clauses: s.clauses,
                });
            }
        }
        Ok(out)
    }

    fn count(&self, kind: &str) -> Result<u64, GovError> {
        self.count_of_kind(kind).map_err(lookup_err)
    }

    fn release_at(&self, seq: u64) -> Result<Option<ReleaseInfo>, GovError> {
        let Some(data) = self.entry(seq).map_err(lookup_err)? else {
            return Ok(None);
        };
        let (e, p) = decode_row(&data)?;
        Ok(match p {
            Payload::SpecRelease(r) => Some(ReleaseInfo {
                seq: e.seq,
                hash: entry::entry_hash(&data),
                label: r.label,
                fixes: r.fixes,
            }),
            _ => None,
        })
    }

    fn release_clauses(&self, seq: u64) -> Result<ClauseIds, GovError> {
        let Some(Payload::SpecRelease(r)) = self
            .entry(seq)
            .map_err(lookup_err)?
            .map(|d| decode_row(&d))
            .transpose()?
            .map(|(_, p)| p)
        else {
            return Err(GovError::Rule(format!("entry {seq} is not a release")));
        };
        let dg = r
            .clauses
            .digest()
            .ok_or_else(|| GovError::Rule(format!("malformed digest {:?}", r.clauses.sha256)))?;
        let b = self.blob(&dg).map_err(lookup_err)?.ok_or_else(|| {
            GovError::Lookup(format!("clause manifest of entry {seq} is missing"))
        })?;
        let manifest = Manifest::decode(&b)
            .map_err(|e| GovError::Lookup(format!("clause manifest of entry {seq}: {e}")))?;
        Ok(ClauseIds::new(
            manifest.clauses.into_iter().map(|c| c.id).collect(),
        ))
    }

    fn last_release(&self) -> Result<Option<ReleaseRec>, GovError> {
        let rows = self
            .entries_of_kind(kinds::SPEC_RELEASE)
            .map_err(lookup_err)?;
        let Some(r) = rows.last() else {
            return Ok(None);
        };
        let (e, p) = decode_row(&r.data)?;
        Ok(match p {
            Payload::SpecRelease(s) => Some(ReleaseRec {
                seq: e.seq,
                hash: entry::entry_hash(&r.data),
                label: s.label,
                content: s.content,
                clauses: s.clauses,
            }),
            _ => None,
        })
    }

    fn incident(&self, id: &str) -> Result<Option<IncidentRec>, GovError> {
        let mut rec = None;
        // One query, one index seek per kind: a kind prefix could not use the
        // subject column.
        let rows = self
            .entries_about_any(
                &[
                    kinds::INCIDENT_OPEN,
                    kinds::INCIDENT_UPDATE,
                    kinds::INCIDENT_RESOLVE,
                    kinds::INCIDENT_DISCLOSE,
                ],
                id,
            )
            .map_err(lookup_err)?;
        for r in rows {
            let (e, p) = decode_row(&r.data)?;
            fold_incident(&mut rec, id, &e, &entry::entry_hash(&r.data), &p);
        }
        Ok(rec)
    }

    fn preregistration_at(&self, seq: u64) -> Result<Option<PreregRec>, GovError> {
        let Some(data) = self.entry(seq).map_err(lookup_err)? else {
            return Ok(None);
        };
        Ok(match decode_row(&data)?.1 {
            Payload::EvalPreregister(p) => Some(PreregRec {
                seq,
                hash: hex::encode(entry::entry_hash(&data)),
                prereg: p,
            }),
            _ => None,
        })
    }

    fn approvals(&self, label: &str) -> Result<Vec<ApprovalRec>, GovError> {
        let Some(last) = self.releases(label)?.pop() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in self
            .entries_about(kinds::SPEC_APPROVE, label)
            .map_err(lookup_err)?
        {
            let (e, p) = decode_row(&r.data)?;
            if let Payload::SpecApprove(a) = p
                && a.release.seq == last.seq
            {
                out.push(ApprovalRec::of(&e, &a));
            }
        }
        Ok(out)
    }

    fn authority(&self) -> Result<Authority, GovError> {
        let mut rows = Vec::new();
        if let Some(d) = self.entry(0).map_err(lookup_err)? {
            rows.push(d);
        }
        let mut control = self.entries_of_kind("key.").map_err(lookup_err)?;
        control.extend(
            self.entries_of_kind(kinds::POLICY_SET)
                .map_err(lookup_err)?,
        );
        control.sort_by_key(|r| r.seq);
        rows.extend(control.into_iter().map(|r| r.data));
        let mut a = Authority::default();
        for d in rows {
            let (e, p) = decode_row(&d)?;
            a.apply(&e, &p)?;
        }
        Ok(a)
    }
}

#[cfg(test)]
mod governance_tests {
    //! The governance rules through [`Ledger::append_with`]: the builder's view
    //! of the ledger, verdict rules, and append-time content checks.

    use super::*;
    use crate::governance::eval::{self, EvalRecord};
    use crate::governance::{ContentRef, EntryRef, KeyAdd, SpecLink, SpecRelease};
    use ed25519_dalek::SigningKey;

    const TIME: &str = "2025-09-12T00:00:00Z";
    const SPEC: &str = "## Do not lie {#do_not_lie}\n\nNever lie.\n";
    const RESULTS: &str = r#"{"model":{"id":"m"},"suite":{"name":"s","version":"1"},"harness":{"name":"h"},"dataset":{"id":"d"},"sample_size":10,"date":"2025-09-12","evaluator":"e","relationship":"first-party","results":[{"clauses":["do_not_lie"],"metric":"acc","value":0.5,"comparator":">=","threshold":0.9}]}"#;

    fn setup() -> (tempfile::TempDir, Ledger, SigningKey, SigningKey) {
        let dir = tempfile::tempdir().unwrap();
        let admin = SigningKey::from_bytes(&[1u8; 32]);
        let author = SigningKey::from_bytes(&[2u8; 32]);
        let mut l = Ledger::init(
            dir.path(),
            "example.org/spec",
            &admin,
            Some(TIME),
            OpenOptions::default(),
        )
        .unwrap();
        let add = KeyAdd {
            name: "author".into(),
            public_key: note::verifier_key_string("author", &author.verifying_key()),
            roles: vec!["spec-owner".into(), "evaluator".into()],
            replaces: None,
        };
        let signer = Signer {
            name: crate::keys::ADMIN,
            key: &admin,
        };
        l.append(
            &signer,
            &admin,
            vec![Draft::new(kinds::KEY_ADD, &add)],
            Some(TIME),
        )
        .unwrap();
        (dir, l, admin, author)
    }

    fn release_draft() -> Draft {
        release_with("v1", SPEC, &governance::ids::derive(SPEC, None).unwrap())
    }

    /// A release of `text` as `label` with `manifest`.
    fn release_with(label: &str, text: &str, manifest: &governance::ids::Manifest) -> Draft {
        let m = manifest.encode();
        let rel = SpecRelease {
            label: label.into(),
            content: ContentRef::of(text.as_bytes(), governance::MEDIA_MARKDOWN),
            clauses: ContentRef::of(&m, governance::MEDIA_CLAUSES),
            notes: None,
            supersedes: None,
            fixes: Vec::new(),
            source: None,
        };
        let mut d = Draft::new(kinds::SPEC_RELEASE, &rel);
        d.blobs = vec![text.as_bytes().to_vec(), m];
        d
    }

    /// Clause ids are assigned against the previous release: a manifest with
    /// ids given by position alone is refused, naming the clause; the
    /// history-aware one is accepted, also within one batch, and verify
    /// recomputes it.
    #[test]
    fn release_ids_are_assigned_against_the_previous_release() {
        use governance::ids::{Previous, derive};
        let (_dir, mut l, admin, author) = setup();
        let signer = Signer {
            name: "author",
            key: &author,
        };
        let a = "Be brief.\n\nNever reveal the key.\n";
        let b = "A new first rule.\n\nBe brief.\n\nNever reveal the key.\n";
        let c = "A new first rule.\n\nBe brief.\n\nNever reveal the key.\n\nEnd.\n";
        let ma = derive(a, None).unwrap();
        let prev = Previous {
            text: a,
            manifest: &ma,
        };
        let mb = derive(b, Some(prev)).unwrap();
        let plain = derive(b, None).unwrap();
        assert_ne!(mb.clauses, plain.clauses);
        l.append(
            &signer,
            &admin,
            vec![release_with("v1", a, &ma)],
            Some(TIME),
        )
        .unwrap();
        let e = l
            .append(
                &signer,
                &admin,
                vec![release_with("v2", b, &plain)],
                Some(TIME),
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("recomputed from the spec text and the previous release")
                && e.contains(
                    "clause 1 (bytes 0..19) has id text.1 in the manifest, text.3 recomputed"
                ),
            "{e}"
        );
        let prev = Previous {
            text: b,
            manifest: &mb,
        };
        let mc = derive(c, Some(prev)).unwrap();
        // Two releases in one batch: the second is assigned against the first.
        l.append(
            &signer,
            &admin,
            vec![release_with("v2", b, &mb), release_with("v3", c, &mc)],
            Some(TIME),
        )
        .unwrap();
        verify::verify(&l, &|_, _| {}).unwrap();
    }

    fn record(release: EntryRef, pass: bool) -> Draft {
        let file = eval::parse_results(RESULTS.as_bytes()).unwrap();
        let mut outcomes = eval::derive_outcomes(&file, None).unwrap();
        outcomes[0].pass = Some(pass);
        let rec = EvalRecord {
            id: "EVAL-1".into(),
            spec: SpecLink {
                label: "v1".into(),
                release,
            },
            model: file.model,
            suite: file.suite,
            evaluator: file.evaluator,
            relationship: file.relationship,
            date: file.date,
            results: ContentRef::of(RESULTS.as_bytes(), governance::MEDIA_RESULTS),
            pass: eval::overall(&outcomes),
            outcomes,
            preregistration: None,
        };
        let mut d = Draft::new(kinds::EVAL_RECORD, &rec);
        d.blobs = vec![RESULTS.as_bytes().to_vec()];
        d
    }

    #[test]
    fn builder_sees_the_ledger_and_verdicts_are_checked() {
        let (_dir, mut l, admin, author) = setup();
        let signer = Signer {
            name: "author",
            key: &author,
        };
        let a = l
            .append_with(&signer, &admin, Some(TIME), |lk| {
                // The builder runs inside the transaction and sees the stored ledger.
                assert_eq!(lk.count(kinds::KEY_ADD)?, 1);
                assert!(lk.releases("v1")?.is_empty());
                Ok(vec![release_draft()])
            })
            .unwrap();
        let (seq, hash) = a.entries[0];
        assert_eq!(seq, 2);
        assert_eq!(l.reader().release_clauses(2).unwrap().len(), 1);
        // A verdict that does not follow from the value is refused by the rules.
        let e = l
            .append(
                &signer,
                &admin,
                vec![record(EntryRef::new(seq, &hash), true)],
                Some(TIME),
            )
            .unwrap_err();
        assert!(e.to_string().contains("does not follow"), "{e}");
        // The right verdict is accepted, and counted for the next id.
        l.append(
            &signer,
            &admin,
            vec![record(EntryRef::new(seq, &hash), false)],
            Some(TIME),
        )
        .unwrap();
        assert_eq!(Lookup::count(&*l.reader(), kinds::EVAL_RECORD).unwrap(), 1);
        assert!(verify::verify(&l, &|_, _| {}).is_ok());
    }

    #[test]
    fn append_recomputes_outcomes_from_the_results_blob() {
        let (_dir, mut l, admin, author) = setup();
        let signer = Signer {
            name: "author",
            key: &author,
        };
        let a = l
            .append(&signer, &admin, vec![release_draft()], Some(TIME))
            .unwrap();
        let (seq, hash) = a.entries[0];
        // Consistent on its face (value, threshold, pass agree), but not the file's value.
        let mut d = record(EntryRef::new(seq, &hash), false);
        let mut rec: EvalRecord = serde_json::from_slice(&d.payload).unwrap();
        rec.outcomes[0].value = 0.4;
        d.payload = to_payload(&rec);
        let head = l.reader().head().unwrap();
        let e = l.append(&signer, &admin, vec![d], Some(TIME)).unwrap_err();
        assert!(
            e.to_string().contains("recomputed from the results file"),
            "{e}"
        );
        assert_eq!(l.reader().head().unwrap(), head);
    }
}
