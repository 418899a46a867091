//! The storage layer: a narrow, backend-neutral interface to the ledger's
//! rows, and its one implementation, SQLite ([`sqlite`]).
//!
//! The shape follows sunlight's `LockBackend` (the checkpoint moves only by a
//! compare-and-swap against the one the writer read) and tessera's storage
//! drivers (the log asks the driver for entries, tree hashes, blobs and
//! checkpoints, and hands it whole batches to integrate):
//!
//! - [`StoreRead`]: the chain head, entries (by sequence, by kind and subject),
//!   the stored Merkle tree hashes (through [`HashReader`]), content blobs,
//!   private rows, signed checkpoints and witness cosignatures.
//! - [`Store`]: a [`StoreRead`] view, [`Store::append`] (one batch, applied only
//!   if the head is still `expected`, else [`StoreError::HeadMoved`] and nothing
//!   written), its streaming form [`Store::append_with`], cosignatures, and
//!   [`Store::check`] (every page a later command reads is readable).
//!
//! Nothing above this module opens the database file: the ledger, verify,
//! site and app reach the rows through `dyn Store` / `dyn StoreRead`. The same
//! conformance suite (`tests/store.rs`) runs against every implementation.

pub mod sqlite;

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::tlog::{EMPTY_ROOT, Hash, HashReader, TlogError};

pub use sqlite::{APPLICATION_ID, Inserter, Reader, SCHEMA_VERSION, SqliteStore};

/// Errors from the store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("no ledger at {0}")]
    NotInitialised(PathBuf),
    #[error("a ledger already exists at {0}")]
    AlreadyInitialised(PathBuf),
    #[error("{0} is not a speclog ledger ({1})")]
    NotALedger(PathBuf, String),
    #[error("cannot write to the ledger {0}: it or its directory is read-only")]
    ReadOnly(PathBuf),
    #[error(
        "cannot read the ledger {0}: SQLite must create ledger.sqlite-shm beside it, and may not"
    )]
    NoShm(PathBuf),
    #[error("ledger is busy: another process held the write lock for {0:?}")]
    Busy(Duration),
    #[error("cannot use the ledger {0}: the disk holding it is full")]
    DiskFull(PathBuf),
    #[error("ledger is corrupt: {0}")]
    Corrupt(String),
    #[error("the chain head moved during the append (concurrent writer)")]
    Conflict,
    /// [`Store::append`]'s compare-and-swap failed: the caller read the
    /// ledger at `expected` entries, another writer has moved it to `found`.
    /// Nothing was written.
    #[error(
        "the ledger moved on: this append expected {expected} entries, another writer made it {found}"
    )]
    HeadMoved { expected: u64, found: u64 },
    /// A caller's callback stopped a store operation; the typed wrappers on
    /// `dyn StoreRead` and `dyn Store` replace it with the callback's own error,
    /// so it never reaches a user.
    #[error("a store operation was stopped by its caller")]
    Stopped,
    #[error("refusing to sign checkpoint: {0}")]
    Checkpoint(String),
    /// The file's pages are unreadable (SQLite reports the database image as
    /// malformed): damage below the entries, which no re-signing explains.
    #[error("the ledger file is damaged ({0})")]
    Damaged(String),
    #[error("sqlite: {0}")]
    Sqlite(rusqlite::Error),
    #[error(transparent)]
    Tlog(#[from] TlogError),
}

/// The chain head: the number of entries, the hash of the last one, and the Merkle root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub hash: Hash,
    pub root: Hash,
}

impl Head {
    /// The head of an empty ledger.
    pub const EMPTY: Head = Head {
        size: 0,
        hash: [0u8; 32],
        root: EMPTY_ROOT,
    };
}

/// One encoded entry ready to be stored, with its index columns.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub bytes: Vec<u8>,
    pub hash: Hash,
    pub kind: String,
    pub subject: String,
}

/// Everything one append writes.
#[derive(Default, Debug)]
pub struct Batch {
    pub entries: Vec<NewEntry>,
    /// Content blobs by SHA-256 digest; stored once.
    pub blobs: Vec<(Hash, Vec<u8>)>,
    /// Private, never-published rows (confidential incident details), by name.
    pub private: Vec<(String, Vec<u8>)>,
}

/// Signs a checkpoint for a tree of `size` with root `root`, returning the signed note text.
pub type CheckpointSigner<'a> = &'a dyn Fn(u64, &Hash) -> Result<String, String>;

/// How to open a ledger.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    pub write: bool,
    /// How long a writer waits for another writer's lock.
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            write: false,
            busy_timeout: Duration::from_secs(30),
        }
    }
}

/// A stored blob row: rowid, digest column and data.
pub type BlobRow = (i64, Vec<u8>, Vec<u8>);

/// A stored entry row: sequence number, leaf hash column, and the encoded bytes.
#[derive(Clone, Debug)]
pub struct Row {
    pub seq: u64,
    pub hash: Vec<u8>,
    pub kind: String,
    pub subject: String,
    pub data: Vec<u8>,
}

/// A [`Row`] borrowed from SQLite's row buffer (valid while the callback of
/// [`Reader::for_each_entry`] runs), so streaming rows copies nothing.
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'a> {
    pub seq: u64,
    pub hash: &'a [u8],
    pub kind: &'a str,
    pub subject: &'a str,
    pub data: &'a [u8],
}

/// Read access to a ledger's rows. Every query sees one consistent state of
/// the ledger: outside an append, the last committed one; inside
/// [`Store::append_with`], the rows already inserted by the append (use
/// [`StoreRead::before`] for the ledger the append extends).
pub trait StoreRead: HashReader {
    /// The same ledger as it was before entry `seq`: the entry queries
    /// ([`StoreRead::entry`], [`StoreRead::entries_about`],
    /// [`StoreRead::entries_of_kind`], [`StoreRead::count_of_kind`]) ignore
    /// entries from `seq` on.
    fn before(&self, seq: u64) -> Box<dyn StoreRead + '_>;
    /// The chain head.
    fn head(&self) -> Result<Head, StoreError>;
    /// A metadata value.
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// The encoded entry at `seq`.
    fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sequence numbers of entries whose hash starts with `prefix` (at most 10).
    fn seqs_by_hash_prefix(&self, prefix: &[u8]) -> Result<Vec<u64>, StoreError>;
    /// All entries of a kind (or kind prefix ending in '.') about `subject`, in order.
    fn entries_about(&self, kind: &str, subject: &str) -> Result<Vec<Row>, StoreError>;
    /// All entries of any of four kinds about `subject`, in order.
    fn entries_about_any(&self, kinds: &[&str; 4], subject: &str) -> Result<Vec<Row>, StoreError>;
    /// All entries of a kind (or kind prefix ending in '.'), in order.
    fn entries_of_kind(&self, kind: &str) -> Result<Vec<Row>, StoreError>;
    /// Number of entries of a kind (or kind prefix ending in '.').
    fn count_of_kind(&self, kind: &str) -> Result<u64, StoreError>;
    /// Calls `f` for every entry row with `from <= seq < to`, in order,
    /// without loading them all (see the typed [`dyn StoreRead::for_each_entry`]).
    fn visit_entries(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(RowRef<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Size in bytes of the entry bundle holding entries `from..to`: each
    /// entry plus its 2-byte length prefix.
    fn bundle_len(&self, from: u64, to: u64) -> Result<u64, StoreError>;
    /// Blobs stored after `rowid` (0 for all): (rowid, digest, length), in
    /// storage order. Blobs are only ever inserted, so a caller that keeps the
    /// last rowid it saw sees each new blob once.
    fn blob_sizes_after(&self, rowid: i64) -> Result<Vec<(i64, Hash, u64)>, StoreError>;
    /// Number of entry rows (independent of the head).
    fn count_entries(&self) -> Result<u64, StoreError>;
    /// Largest seq of an entry row, if any.
    fn max_seq(&self) -> Result<Option<u64>, StoreError>;
    /// A content blob by digest.
    fn blob(&self, digest: &Hash) -> Result<Option<Vec<u8>>, StoreError>;
    /// Length of a stored blob, if present.
    fn blob_size(&self, digest: &Hash) -> Result<Option<u64>, StoreError>;
    /// Calls `f` with (digest column, data) of every blob, in digest order.
    fn visit_blobs(
        &self,
        f: &mut dyn FnMut(Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Blob rows in storage (insertion) order after `rowid`: (rowid, digest
    /// column, data), at most `max_rows` of them and stopping once `max_bytes`
    /// are read.
    fn blobs_after(
        &self,
        rowid: i64,
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Vec<BlobRow>, StoreError>;
    /// A private row by name.
    fn private(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every private row, in name order.
    fn private_rows(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// The latest signed checkpoint note: (size, note).
    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError>;
    /// The signed checkpoint note for tree size `size`, if one was signed.
    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StoreError>;
    /// Calls `f` for every signed checkpoint (size, root column, note), in size order.
    fn visit_checkpoints(
        &self,
        f: &mut dyn FnMut(u64, Vec<u8>, String) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// The size of the first signed checkpoint whose tree holds entry `seq`
    /// (the smallest size above `seq`), if there is one.
    fn first_checkpoint_covering(&self, seq: u64) -> Result<Option<u64>, StoreError>;
    /// The sizes of the signed checkpoints above `after`, in increasing order.
    fn checkpoint_sizes_after(&self, after: u64) -> Result<Vec<u64>, StoreError>;
    /// The stored tree hash at (level, idx), level >= 1.
    fn tree_row(&self, level: u8, idx: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every stored tree row with `level >= 1` (level, idx, hash), in (level, idx) order.
    fn visit_tree_rows(
        &self,
        f: &mut dyn FnMut(i64, i64, Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Calls `f` with (index, hash) of every stored tree row at `level` with
    /// `lo <= index <= hi`, in index order.
    fn visit_tree_rows_in(
        &self,
        level: u8,
        lo: u64,
        hi: u64,
        f: &mut dyn FnMut(u64, Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Number of stored tree rows (level >= 1).
    fn count_tree_rows(&self) -> Result<u64, StoreError>;
    /// Every cosignature row: (size, line), in (size, line) order.
    fn all_cosignatures(&self) -> Result<Vec<(u64, String)>, StoreError>;
    /// Cosignature lines stored for the checkpoint of `size`, in order.
    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError>;
    /// Number of stored witness cosignature lines.
    fn count_cosignatures(&self) -> Result<u64, StoreError>;
}

/// Writes the rows of one append (or load) as they are produced: each entry
/// (checked to be the next in sequence and to chain to the one before), the
/// tree hashes it completes, content blobs (stored once) and private rows.
pub trait Insert {
    /// The number of entries the ledger will hold with those inserted so far.
    fn size(&self) -> u64;
    /// The root of the tree of the entries inserted so far.
    fn root(&self) -> Hash;
    /// Inserts the next entry and the tree hashes it completes.
    fn entry(&mut self, e: &NewEntry) -> Result<(), StoreError>;
    /// Stores a content blob under its SHA-256 digest (once).
    fn blob(&mut self, digest: &Hash, data: &[u8]) -> Result<(), StoreError>;
    /// Stores a private (never published) row.
    fn private(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError>;
    /// Stores a signed checkpoint of the tree of `size` entries with root
    /// `root`, and its witness cosignature lines. For [`Store::load_with`]: an
    /// append signs its own.
    fn checkpoint(
        &mut self,
        size: u64,
        root: &Hash,
        note: &str,
        cosignatures: &[&str],
    ) -> Result<(), StoreError>;
}

/// What [`Store::check`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Every table and index except the rows `verify`'s replay reads in full
    /// (content blobs), whose damage the replay meets itself.
    Unread,
    /// Everything.
    All,
}

/// The build step of [`Store::append_with`]: sees the head the append
/// extends and read access inside the write transaction, and inserts rows.
pub type BuildFn<'b> =
    dyn FnMut(&Head, &dyn StoreRead, &mut dyn Insert) -> Result<(), StoreError> + 'b;

/// A ledger store: read access plus the writes a ledger makes.
///
/// Contract for every implementation (checked by `tests/store.rs`):
/// - an append is atomic and durable when it returns: all of it or nothing;
/// - the head moves only by compare-and-swap: an append that expected another
///   head fails with [`StoreError::HeadMoved`] and writes nothing, so two
///   writers can never fork the chain;
/// - the store re-checks that each entry is the next in sequence and chains
///   to the one before, that its stored tree hashes give the new root, and
///   that the new tree is consistent with the last signed checkpoint (RFC
///   9162 2.1.4) before it signs the new one.
pub trait Store {
    /// Read access outside a write.
    fn reader(&self) -> Box<dyn StoreRead + '_>;
    /// Sets a metadata value once (used by `init`).
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Appends the rows `build` inserts in one durable transaction. If
    /// `expected` is given and the head is not that one, fails with
    /// [`StoreError::HeadMoved`] before `build` runs. Then checks the new tree,
    /// signs its checkpoint (and one at every full-tile boundary crossed) with
    /// `sign_checkpoint`, and moves the head. On any error nothing is written.
    fn append_with(
        &mut self,
        expected: Option<&Head>,
        build: &mut BuildFn<'_>,
        sign_checkpoint: CheckpointSigner<'_>,
    ) -> Result<(Head, String), StoreError>;
    /// Loads verified rows into this empty store in one transaction and moves
    /// the head to the last entry (a copy of a published log).
    fn load_with(
        &mut self,
        load: &mut dyn FnMut(&mut dyn Insert) -> Result<(), StoreError>,
    ) -> Result<Head, StoreError>;
    /// Stores a witness cosignature line for the checkpoint of `size`;
    /// false if it was stored already.
    fn add_cosignature(&self, size: u64, line: &str) -> Result<bool, StoreError>;
    /// Makes everything written durable in the store's own files (for SQLite:
    /// the WAL folded into the database file), so the store can be copied.
    fn flush(&self) -> Result<(), StoreError>;
    /// Checks that the stored rows and indexes in `scope` are readable (not
    /// that the rows are right: that is `verify`'s replay). A damaged store
    /// fails with [`StoreError::Damaged`] naming the table.
    fn check(&self, scope: Check) -> Result<(), StoreError>;

    /// Appends `batch` if the head is still `expected` (compare-and-swap).
    fn append(
        &mut self,
        expected: &Head,
        batch: Batch,
        sign_checkpoint: CheckpointSigner<'_>,
    ) -> Result<(Head, String), StoreError> {
        let mut batch = Some(batch);
        self.append_with(
            Some(expected),
            &mut |_, _, ins| {
                let b = batch.take().unwrap_or_default();
                for e in &b.entries {
                    ins.entry(e)?;
                }
                for (d, data) in &b.blobs {
                    ins.blob(d, data)?;
                }
                for (n, data) in &b.private {
                    ins.private(n, data)?;
                }
                Ok(())
            },
            sign_checkpoint,
        )
    }
}

/// Runs `op` with a callback that stores `f`'s typed error aside and stops
/// the store with [`StoreError::Stopped`], and gives that error back.
fn typed<E: From<StoreError>, T>(
    op: impl FnOnce(&mut dyn FnMut(Result<(), E>) -> Result<(), StoreError>) -> Result<T, StoreError>,
) -> Result<T, E> {
    let mut err: Option<E> = None;
    let r = op(&mut |r| {
        r.map_err(|e| {
            err = Some(e);
            StoreError::Stopped
        })
    });
    match (r, err) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(E::from(e)),
    }
}

impl dyn StoreRead + '_ {
    /// [`StoreRead::visit_entries`] with the caller's error type.
    pub fn for_each_entry<E: From<StoreError>>(
        &self,
        from: u64,
        to: u64,
        mut f: impl FnMut(RowRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        typed(|stop| self.visit_entries(from, to, &mut |r| stop(f(r))))
    }

    /// [`StoreRead::visit_blobs`] with the caller's error type.
    pub fn for_each_blob<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(Vec<u8>, Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        typed(|stop| self.visit_blobs(&mut |d, b| stop(f(d, b))))
    }

    /// [`StoreRead::visit_checkpoints`] with the caller's error type.
    pub fn for_each_checkpoint<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(u64, Vec<u8>, String) -> Result<(), E>,
    ) -> Result<(), E> {
        typed(|stop| self.visit_checkpoints(&mut |s, r, n| stop(f(s, r, n))))
    }

    /// [`StoreRead::visit_tree_rows`] with the caller's error type.
    pub fn for_each_tree_row<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(i64, i64, Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        typed(|stop| self.visit_tree_rows(&mut |l, i, h| stop(f(l, i, h))))
    }

    /// [`StoreRead::visit_tree_rows_in`] with the caller's error type.
    pub fn for_each_tree_row_in<E: From<StoreError>>(
        &self,
        level: u8,
        lo: u64,
        hi: u64,
        mut f: impl FnMut(u64, Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        typed(|stop| self.visit_tree_rows_in(level, lo, hi, &mut |i, h| stop(f(i, h))))
    }
}

impl dyn Store + '_ {
    /// [`Store::append_with`] without an expected head (the head is read
    /// inside the write transaction), with the caller's error type.
    pub fn append_streaming<E, F>(
        &mut self,
        build: F,
        sign_checkpoint: CheckpointSigner<'_>,
    ) -> Result<(Head, String), E>
    where
        E: From<StoreError>,
        F: FnOnce(&Head, &dyn StoreRead, &mut dyn Insert) -> Result<(), E>,
    {
        let mut build = Some(build);
        typed(|stop| {
            self.append_with(
                None,
                &mut |h, r, i| match build.take() {
                    Some(b) => stop(b(h, r, i)),
                    None => Ok(()),
                },
                sign_checkpoint,
            )
        })
    }

    /// [`Store::load_with`] with the caller's error type.
    pub fn load<E, F>(&mut self, load: F) -> Result<Head, E>
    where
        E: From<StoreError>,
        F: FnOnce(&mut dyn Insert) -> Result<(), E>,
    {
        let mut load = Some(load);
        typed(|stop| {
            self.load_with(&mut |i| match load.take() {
                Some(l) => stop(l(i)),
                None => Ok(()),
            })
        })
    }
}
