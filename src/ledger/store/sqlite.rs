//! The SQLite [`Store`]: the only code that opens the database file.
//!
//! One file, WAL mode, `synchronous=FULL`, STRICT tables. An append is one
//! `BEGIN IMMEDIATE` transaction that inserts the entries, their stored Merkle
//! hashes and content blobs, signs the new checkpoint, and moves the chain head
//! with a compare-and-swap, so two appenders can never fork the chain and the
//! log never signs two inconsistent checkpoints.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    BlobRow, BuildFn, Check, CheckpointSigner, Head, Insert, NewEntry, OpenOptions, Row, RowRef,
    Store, StoreError, StoreRead,
};
use crate::tlog::{self, EMPTY_ROOT, Hash, HashReader, NodeId, TlogError};

/// Identifies a speclog ledger file (`PRAGMA application_id`, "SPLG").
pub const APPLICATION_ID: i32 = 0x5350_4c47;
/// Version of the schema below (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    data BLOB NOT NULL
) STRICT;
CREATE INDEX entries_kind_subject ON entries (kind, subject, seq);
CREATE TABLE tree (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE blobs (digest BLOB PRIMARY KEY, data BLOB NOT NULL) STRICT;
CREATE TABLE head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    hash BLOB NOT NULL,
    root BLOB NOT NULL
) STRICT;
CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL) STRICT;
CREATE TABLE cosignatures (size INTEGER NOT NULL, line TEXT NOT NULL, PRIMARY KEY (size, line)) STRICT;
CREATE TABLE private (
    name TEXT PRIMARY KEY,
    data BLOB NOT NULL
) STRICT;
";

/// An open ledger database.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
}

/// Read access to the ledger, inside or outside a write transaction.
pub struct Reader<'a> {
    conn: &'a Connection,
    /// Entry rows with `seq >= below` are invisible to the entry queries (see [`Reader::before`]).
    below: i64,
}

/// Page size of a new ledger file, in bytes (SQLite's default is 4,096).
/// Entries (about 1 KB) and evaluation results files fill larger pages with
/// less slack, and a commit writes and syncs a quarter as many WAL frames
/// (one or two `pwrite`s each): at 10k entries a bulk batch of 2,000 entries
/// commits in about 5.5 ms instead of 15 ms, the file is 11 % smaller, and
/// `verify` reads it with a quarter of the `pread`s. Ledgers created with
/// another page size open and work as before.
const PAGE_SIZE: i64 = 16 * 1024;

/// Page cache of a writing connection, in KiB. A bulk append inserts into two
/// indexes of random keys (entry hashes, blob digests); when their pages do not
/// fit in the cache, SQLite spills dirty pages to the WAL and writes them again
/// when they change again, so a small cache multiplies the bytes written. The
/// cache grows only as pages are used: a single append stays small.
const WRITER_CACHE_KIB: i64 = 256 * 1024;

fn configure(conn: &Connection, busy: Duration, write: bool) -> Result<(), StoreError> {
    conn.busy_timeout(busy)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if write {
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    }
    Ok(())
}

/// Whether opening failed because SQLite could not create the WAL index
/// (`-shm`) beside a ledger on read-only storage.
fn read_only_fs(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
    )
}

/// Opens a ledger on a read-only file system (a read-only mount of a
/// published or archived ledger) as immutable, so SQLite needs no `-shm`
/// file. Only there can nobody write it while it is read, and only when no
/// write-ahead log with content lies beside it (its entries would be
/// missed). None otherwise.
fn open_immutable(path: &Path) -> Option<Connection> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) || !read_only_mount(path) {
        return None;
    }
    open_immutable_uri(path)
}

/// Whether `path` lies on a file system mounted read-only.
fn read_only_mount(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` is written by statvfs on success.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    // SAFETY: statvfs returned 0, so it filled `st`.
    rc == 0 && unsafe { st.assume_init() }.f_flag & libc::ST_RDONLY != 0
}

/// Opens `path` with SQLite's `immutable=1` URI parameter.
fn open_immutable_uri(path: &Path) -> Option<Connection> {
    let abs = std::path::absolute(path).ok()?;
    let mut uri = String::from("file:");
    for c in abs.to_str()?.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(uri, flags).ok()
}

impl SqliteStore {
    /// Creates a new ledger file at `path`. Refuses to touch an existing file.
    pub fn create(path: &Path, opts: OpenOptions) -> Result<SqliteStore, StoreError> {
        if path.exists() {
            return Err(StoreError::AlreadyInitialised(path.to_path_buf()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        // Before the first write: it cannot change afterwards in WAL mode.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        configure(&conn, opts.busy_timeout, true)?;
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA}
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {SCHEMA_VERSION};
             COMMIT;"
        ))?;
        conn.execute(
            "INSERT INTO head (id, size, hash, root) VALUES (1, 0, ?1, ?2)",
            params![&[0u8; 32][..], &EMPTY_ROOT[..]],
        )?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            busy_timeout: opts.busy_timeout,
        })
    }

    /// Opens an existing ledger, checking that it is one and that its schema is known.
    pub fn open(path: &Path, opts: OpenOptions) -> Result<SqliteStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::NotInitialised(path.to_path_buf()));
        }
        let flags = if opts.write {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let mut conn = Connection::open_with_flags(path, flags)?;
        if let Err(e) = conn.query_row("PRAGMA application_id", [], |r| r.get::<_, i32>(0))
            && read_only_fs(&e)
        {
            if opts.write {
                return Err(StoreError::ReadOnly(path.to_path_buf()));
            }
            match open_immutable(path) {
                Some(c) => conn = c,
                None => return Err(StoreError::NoShm(path.to_path_buf())),
            }
        }
        let not_ledger = |why: String| StoreError::NotALedger(path.to_path_buf(), why);
        let app: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| {
                // SQLite cannot make its -shm file on a full disk: an I/O
                // error that says nothing about the ledger.
                let io = matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::DiskFull)
                );
                if io && crate::fsx::nearly_full(path) {
                    StoreError::DiskFull(path.to_path_buf())
                } else {
                    not_ledger(e.to_string())
                }
            })?;
        if app != APPLICATION_ID {
            return Err(not_ledger(format!("application id {app:#x}")));
        }
        let ver: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if ver != SCHEMA_VERSION {
            return Err(not_ledger(format!(
                "schema version {ver}, this speclog reads {SCHEMA_VERSION}"
            )));
        }
        configure(&conn, opts.busy_timeout, opts.write)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            busy_timeout: opts.busy_timeout,
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes this new store a scratch copy: nothing it writes is synced, and
    /// its page cache stays small. For a store thrown away after one use
    /// (re-deriving a published site from its log), never a ledger.
    pub fn scratch(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", "OFF")?;
        self.conn.pragma_update(None, "cache_size", -16 * 1024)?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn reader(&self) -> Box<dyn StoreRead + '_> {
        Box::new(Reader::new(&self.conn))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// One `BEGIN IMMEDIATE` transaction: the head is read (and compared with
    /// `expected`) under the write lock, so the compare-and-swap cannot race;
    /// the final `UPDATE head ... WHERE size = ? AND hash = ?` re-checks it.
    fn append_with(
        &mut self,
        expected: Option<&Head>,
        build: &mut BuildFn<'_>,
        sign_checkpoint: CheckpointSigner<'_>,
    ) -> Result<(Head, String), StoreError> {
        let busy = self.busy_timeout;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| map_busy(e, busy))?;
        let reader = Reader::new(&tx);
        let head = reader.head()?;
        if let Some(expected) = expected
            && *expected != head
        {
            return Err(StoreError::HeadMoved {
                expected: expected.size,
                found: head.size,
            });
        }
        let mut ins = Inserter::new(&tx, &head)?;
        build(&head, &reader, &mut ins)?;
        let new_head = ins.finish()?;
        crate::fsx::crash_point("append.entries-written");
        // Also sign the tree at every full-tile boundary the append crossed, so
        // each entry of a full tile has a checkpoint that never changes to be
        // proven against (published inclusion proofs then never need rewriting).
        let first_boundary = (head.size / tlog::TILE_WIDTH + 1) * tlog::TILE_WIDTH;
        for size in (first_boundary..new_head.size).step_by(tlog::TILE_WIDTH as usize) {
            let root = tlog::tree_hash(size, &Reader::new(&tx))?;
            let note = sign_checkpoint(size, &root).map_err(StoreError::Checkpoint)?;
            tx.execute(
                "INSERT INTO checkpoints (size, root, note) VALUES (?1, ?2, ?3)",
                params![size as i64, &root[..], note],
            )?;
        }
        let note =
            sign_checkpoint(new_head.size, &new_head.root).map_err(StoreError::Checkpoint)?;
        crate::fsx::crash_point("append.checkpoint-signed");
        tx.execute(
            "INSERT INTO checkpoints (size, root, note) VALUES (?1, ?2, ?3)",
            params![new_head.size as i64, &new_head.root[..], note],
        )?;
        crate::fsx::crash_point("append.checkpoint-written");
        let changed = tx
            .execute(
                "UPDATE head SET size = ?1, hash = ?2, root = ?3 WHERE id = 1 AND size = ?4 AND hash = ?5",
                params![
                    new_head.size as i64,
                    &new_head.hash[..],
                    &new_head.root[..],
                    head.size as i64,
                    &head.hash[..]
                ],
            )
            ?;
        if changed != 1 {
            return Err(StoreError::Conflict);
        }
        crate::fsx::crash_point("append.before-commit");
        tx.commit().map_err(|e| map_busy(e, busy))?;
        crate::fsx::crash_point("append.after-commit");
        Ok((new_head, note))
    }

    /// The rows are those a ledger holds, so a copy loaded from a published
    /// log reads like the ledger the log was published from. Checks that the
    /// stored tree hashes give the last checkpoint's root.
    fn load_with(
        &mut self,
        load: &mut dyn FnMut(&mut dyn Insert) -> Result<(), StoreError>,
    ) -> Result<Head, StoreError> {
        let tx = self.conn.transaction()?;
        let head = Reader::new(&tx).head()?;
        if head.size != 0 {
            return Err(StoreError::Corrupt("loading needs an empty store".into()));
        }
        let mut ins = Inserter::new(&tx, &head)?;
        load(&mut ins)?;
        let new_head = ins.finish()?;
        tx.execute(
            "UPDATE head SET size = ?1, hash = ?2, root = ?3 WHERE id = 1",
            params![new_head.size as i64, &new_head.hash[..], &new_head.root[..]],
        )?;
        tx.commit()?;
        Ok(new_head)
    }

    fn add_cosignature(&self, size: u64, line: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO cosignatures (size, line) VALUES (?1, ?2)",
            params![size as i64, line],
        )?;
        Ok(n == 1)
    }

    /// Writes all WAL content into the main database file, so the file alone is the ledger.
    fn flush(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// `PRAGMA quick_check(T)` (b-tree structure, every page of the table and
    /// of its indexes, record formats; SQLite 3.33+) for each table in
    /// scope. [`Check::Unread`] leaves out the rows of `blobs`, which
    /// `verify` streams itself, and walks only its digest index. It reads
    /// each page once: about the cost of one more scan of the entries, far
    /// below the signature checks of `verify`.
    fn check(&self, scope: Check) -> Result<(), StoreError> {
        let all = ["blobs"];
        let extra: &[&str] = if scope == Check::All { &all } else { &[] };
        for &table in UNREAD_TABLES.iter().chain(extra) {
            let mut st = self
                .conn
                .prepare(&format!("PRAGMA quick_check({table})"))
                .map_err(|e| damaged_in(table, e))?;
            let found: Vec<String> = st
                .query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| damaged_in(table, e))?;
            if found != ["ok"] {
                return Err(StoreError::Damaged(format!(
                    "table {table}: {}",
                    found.join("; ")
                )));
            }
        }
        // OP_Count walks every page of the index b-tree.
        self.conn
            .query_row(
                "SELECT count(*) FROM blobs INDEXED BY sqlite_autoindex_blobs_1",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| damaged_in("blobs (digest index)", e))?;
        Ok(())
    }
}

fn map_busy(e: rusqlite::Error, busy: Duration) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Busy(busy)
        }
        _ => StoreError::from(e),
    }
}

/// A malformed database image (`SQLITE_CORRUPT`, `SQLITE_NOTADB` on a page
/// read) is damage to the file, whatever query met it: every command that
/// trips on it reports [`StoreError::Damaged`], never a bare SQLite error.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                StoreError::Damaged(e.to_string())
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// The tables `PRAGMA quick_check` walks in [`Store::check`] with
/// [`Check::Unread`], with every index on them: all but `blobs`, whose rows
/// `verify` reads in full.
const UNREAD_TABLES: [&str; 7] = [
    "meta",
    "head",
    "entries",
    "tree",
    "checkpoints",
    "cosignatures",
    "private",
];

/// Names `table` in a damage report.
fn damaged_in(table: &str, e: impl Into<StoreError>) -> StoreError {
    match e.into() {
        StoreError::Damaged(m) => StoreError::Damaged(format!("table {table}: {m}")),
        e => e,
    }
}

/// Writes the rows of one append inside its transaction, as they are produced:
/// each entry (checked to be the next in sequence and to chain to the one
/// before), the tree hashes it completes, content blobs (stored once) and
/// private rows. [`Inserter::finish`] computes the new root and checks it
/// against the last signed checkpoint.
pub struct Inserter<'t> {
    tx: &'t Connection,
    prev: Hash,
    frontier: tlog::Frontier,
    nodes: Vec<(NodeId, Hash)>,
}

impl<'t> Inserter<'t> {
    fn new(tx: &'t Connection, head: &Head) -> Result<Inserter<'t>, StoreError> {
        Ok(Inserter {
            tx,
            prev: head.hash,
            frontier: tlog::Frontier::read(head.size, &Reader::new(tx))?,
            nodes: Vec::with_capacity(64),
        })
    }

    /// The new head, once the new tree is known to extend the last signed checkpoint.
    fn finish(self) -> Result<Head, StoreError> {
        let reader = Reader::new(self.tx);
        let new_size = self.frontier.size();
        let root = self.frontier.root();
        if root != tlog::tree_hash(new_size, &reader)? {
            return Err(StoreError::Corrupt(
                "the stored tree hashes disagree with the new entries".into(),
            ));
        }
        // Never sign a checkpoint that does not extend the last one (RFC 9162 2.1.4).
        if let Some((old_size, old_root)) = reader.latest_checkpoint_root()? {
            if old_size > new_size {
                return Err(StoreError::Checkpoint(format!(
                    "tree of size {new_size} is smaller than checkpoint {old_size}"
                )));
            }
            let proof = tlog::prove_consistency(new_size, old_size, &reader)?;
            tlog::verify_consistency(&proof, new_size, &root, old_size, &old_root).map_err(
                |e| {
                    StoreError::Checkpoint(format!(
                        "new tree is inconsistent with checkpoint {old_size}: {e}"
                    ))
                },
            )?;
        }
        Ok(Head {
            size: new_size,
            hash: self.prev,
            root,
        })
    }
}

impl Insert for Inserter<'_> {
    /// The number of entries the ledger will hold with those inserted so far.
    fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Inserts the next entry and the tree hashes it completes.
    fn entry(&mut self, e: &NewEntry) -> Result<(), StoreError> {
        let seq = self.frontier.size();
        let (eseq, eprev) = crate::ledger::entry::Entry::seq_and_prev(&e.bytes)
            .map_err(|err| StoreError::Corrupt(format!("new entry {seq}: {err}")))?;
        if eseq != seq || eprev != self.prev {
            return Err(StoreError::Conflict);
        }
        let hash = tlog::leaf_hash(&e.bytes);
        if hash != e.hash {
            return Err(StoreError::Corrupt(format!(
                "new entry {seq}: hash mismatch"
            )));
        }
        self.tx
            .prepare_cached(
                "INSERT INTO entries (seq, hash, kind, subject, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                seq as i64,
                &hash[..],
                e.kind,
                e.subject,
                &e.bytes[..]
            ])?;
        self.nodes.clear();
        self.frontier.push(hash, &mut self.nodes)?;
        let mut ins = self
            .tx
            .prepare_cached("INSERT INTO tree (level, idx, hash) VALUES (?1, ?2, ?3)")?;
        for (id, h) in &self.nodes {
            if id.level > 0 {
                // Leaves live in entries.hash.
                ins.execute(params![id.level as i64, id.index as i64, &h[..]])?;
            }
        }
        self.prev = hash;
        Ok(())
    }

    /// Stores a content blob under its SHA-256 digest (once).
    fn blob(&mut self, digest: &Hash, data: &[u8]) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO blobs (digest, data) VALUES (?1, ?2)")?
            .execute(params![&digest[..], data])?;
        Ok(())
    }

    /// The root of the tree of the entries inserted so far.
    fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Stores a signed checkpoint of the tree of `size` entries with root
    /// `root`, and its witness cosignature lines. For [`Store::load`]: an
    /// append signs its own.
    fn checkpoint(
        &mut self,
        size: u64,
        root: &Hash,
        note: &str,
        cosignatures: &[&str],
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT INTO checkpoints (size, root, note) VALUES (?1, ?2, ?3)")?
            .execute(params![size as i64, &root[..], note])?;
        for line in cosignatures {
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO cosignatures (size, line) VALUES (?1, ?2)")?
                .execute(params![size as i64, line])?;
        }
        Ok(())
    }

    /// Stores a private (never published) row.
    fn private(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT INTO private (name, data) VALUES (?1, ?2)")?
            .execute(params![name, data])?;
        Ok(())
    }
}

fn hash_col(v: Vec<u8>, what: &str) -> Result<Hash, StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

impl<'a> Reader<'a> {
    fn new(conn: &'a Connection) -> Reader<'a> {
        Reader {
            conn,
            below: i64::MAX,
        }
    }

    fn latest_checkpoint_root(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        let r: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT size, root FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match r {
            None => Ok(None),
            Some((s, root)) => Ok(Some((s as u64, hash_col(root, "checkpoint root")?))),
        }
    }
}

impl StoreRead for Reader<'_> {
    /// The same ledger as it was before entry `seq`: the entry queries
    /// ([`Reader::entry`], [`Reader::entries_about`], [`Reader::entries_of_kind`],
    /// [`Reader::count_of_kind`]) ignore entries from `seq` on. An append uses it
    /// to ask about the ledger it extends while it inserts the new entries.
    fn before(&self, seq: u64) -> Box<dyn StoreRead + '_> {
        Box::new(Reader {
            conn: self.conn,
            below: i64::try_from(seq).unwrap_or(i64::MAX).min(self.below),
        })
    }

    /// The chain head.
    fn head(&self) -> Result<Head, StoreError> {
        let (size, hash, root): (i64, Vec<u8>, Vec<u8>) = self
            .conn
            .query_row("SELECT size, hash, root FROM head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .ok_or_else(|| StoreError::Corrupt("head row is missing".into()))?;
        Ok(Head {
            size: u64::try_from(size)
                .map_err(|_| StoreError::Corrupt("head size is negative".into()))?,
            hash: hash_col(hash, "head hash")?,
            root: hash_col(root, "head root")?,
        })
    }

    /// A metadata value.
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// The encoded entry at `seq`.
    fn entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        if seq >= self.below as u64 {
            return Ok(None);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM entries WHERE seq = ?1")?
            .query_row([seq as i64], |r| r.get(0))
            .optional()?)
    }

    /// Sequence numbers of entries whose hash starts with `prefix`.
    fn seqs_by_hash_prefix(&self, prefix: &[u8]) -> Result<Vec<u64>, StoreError> {
        let mut lo = prefix.to_vec();
        lo.resize(32, 0);
        let mut hi = prefix.to_vec();
        hi.resize(32, 0xff);
        let mut st = self.conn.prepare_cached(
            "SELECT seq FROM entries WHERE hash >= ?1 AND hash <= ?2 ORDER BY seq LIMIT 10",
        )?;
        let rows = st.query_map(params![lo, hi], |r| r.get::<_, i64>(0))?;
        Ok(rows
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|s| s as u64)
            .collect())
    }

    /// All entries of a kind (or kind prefix ending in '.') about `subject`, in order.
    fn entries_about(&self, kind: &str, subject: &str) -> Result<Vec<Row>, StoreError> {
        let (sql, k) = kind_clause(kind);
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT seq, hash, kind, subject, data FROM entries WHERE {sql} AND subject = ?2 AND seq < ?3 ORDER BY seq"
        ))?;
        let rows = st.query_map(params![k, subject, self.below], row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// All entries of any of four kinds about `subject`, in order (one
    /// statement: an index seek per kind).
    fn entries_about_any(&self, kinds: &[&str; 4], subject: &str) -> Result<Vec<Row>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, hash, kind, subject, data FROM entries WHERE kind IN (?1, ?2, ?3, ?4) AND subject = ?5 AND seq < ?6 ORDER BY seq",
        )?;
        let rows = st.query_map(
            params![kinds[0], kinds[1], kinds[2], kinds[3], subject, self.below],
            row,
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// All entries of a kind (or kind prefix ending in '.'), in order.
    fn entries_of_kind(&self, kind: &str) -> Result<Vec<Row>, StoreError> {
        let (sql, k) = kind_clause(kind);
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT seq, hash, kind, subject, data FROM entries WHERE {sql} AND seq < ?2 ORDER BY seq"
        ))?;
        let rows = st.query_map(params![k, self.below], row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Number of entries of a kind (or kind prefix ending in '.').
    fn count_of_kind(&self, kind: &str) -> Result<u64, StoreError> {
        let (sql, k) = kind_clause(kind);
        let n: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM entries WHERE {sql} AND seq < ?2"),
            params![k, self.below],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Calls `f` for every entry row with `from <= seq < to`, in order, without loading them all.
    fn visit_entries(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(RowRef<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self.conn.prepare(
            "SELECT seq, hash, kind, subject, data FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )
            .map_err(StoreError::from)?;
        let mut rows = st
            .query(params![from as i64, to as i64])
            .map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            f(row_ref(r).map_err(StoreError::from)?)?;
        }
        Ok(())
    }

    /// Size in bytes of the entry bundle holding entries `from..to`: each entry
    /// plus its 2-byte length prefix. Reads only the record headers.
    fn bundle_len(&self, from: u64, to: u64) -> Result<u64, StoreError> {
        let n: Option<i64> = self.conn.query_row(
            "SELECT sum(length(data) + 2) FROM entries WHERE seq >= ?1 AND seq < ?2",
            params![from as i64, to as i64],
            |r| r.get(0),
        )?;
        Ok(n.unwrap_or(0) as u64)
    }

    /// Blobs stored after `rowid` (0 for all): (rowid, digest, length), in
    /// storage order. Blobs are only ever inserted, so a caller that keeps the
    /// last rowid it saw sees each new blob once.
    fn blob_sizes_after(&self, rowid: i64) -> Result<Vec<(i64, Hash, u64)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT rowid, digest, length(data) FROM blobs WHERE rowid > ?1 ORDER BY rowid",
        )?;
        let rows = st.query_map([rowid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, d, n) = row?;
            out.push((id, hash_col(d, "blob digest")?, n as u64));
        }
        Ok(out)
    }

    /// Number of entry rows (independent of the head).
    fn count_entries(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Largest seq of an entry row, if any.
    fn max_seq(&self) -> Result<Option<u64>, StoreError> {
        let n: Option<i64> = self
            .conn
            .query_row("SELECT max(seq) FROM entries", [], |r| r.get(0))?;
        Ok(n.map(|n| n as u64))
    }

    /// A content blob by digest.
    fn blob(&self, digest: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM blobs WHERE digest = ?1")?
            .query_row([&digest[..]], |r| r.get(0))
            .optional()?)
    }

    /// Every blob digest column value, in order (for verification).
    fn visit_blobs(
        &self,
        f: &mut dyn FnMut(Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT digest, data FROM blobs ORDER BY digest")
            .map_err(StoreError::from)?;
        let mut rows = st.query([]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let (a, b) = (r.get(0), r.get(1));
            f(a.map_err(StoreError::from)?, b.map_err(StoreError::from)?)?;
        }
        Ok(())
    }

    /// Blob rows in storage (insertion) order after `rowid`: (rowid, digest
    /// column, data), at most `max_rows` of them and stopping once `max_bytes`
    /// are read.
    fn blobs_after(
        &self,
        rowid: i64,
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Vec<BlobRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT rowid, digest, data FROM blobs WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        )?;
        let mut rows = st.query(params![rowid, max_rows as i64])?;
        let (mut out, mut bytes) = (Vec::new(), 0);
        while let Some(r) = rows.next()? {
            let data: Vec<u8> = r.get(2)?;
            bytes += data.len();
            out.push((r.get(0)?, r.get(1)?, data));
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// A private row by name.
    fn private(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT data FROM private WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every private row, in name order.
    fn private_rows(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name, data FROM private ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The latest signed checkpoint note.
    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
    }

    /// The signed checkpoint note for tree size `size`, if one was signed.
    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT note FROM checkpoints WHERE size = ?1",
                [size as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Calls `f` for every signed checkpoint (size, root column, note), in size order.
    fn visit_checkpoints(
        &self,
        f: &mut dyn FnMut(u64, Vec<u8>, String) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT size, root, note FROM checkpoints ORDER BY size")
            .map_err(StoreError::from)?;
        let mut rows = st.query([]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let (a, b, c) = (r.get::<_, i64>(0), r.get(1), r.get(2));
            f(
                a.map_err(StoreError::from)? as u64,
                b.map_err(StoreError::from)?,
                c.map_err(StoreError::from)?,
            )?;
        }
        Ok(())
    }

    /// Length of a stored blob, if present.
    fn blob_size(&self, digest: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT length(data) FROM blobs WHERE digest = ?1")?
            .query_row([&digest[..]], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|n| n as u64))
    }

    /// The stored tree hash at (level, idx), level >= 1.
    fn tree_row(&self, level: u8, idx: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT hash FROM tree WHERE level = ?1 AND idx = ?2")?
            .query_row(params![level as i64, idx as i64], |r| r.get(0))
            .optional()?)
    }

    /// Every cosignature row: (size, line).
    fn all_cosignatures(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT size, line FROM cosignatures ORDER BY size, line")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Cosignature lines stored for the checkpoint of `size`.
    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT line FROM cosignatures WHERE size = ?1 ORDER BY line")?;
        let rows = st.query_map([size as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Every stored tree row with `level >= 1`, in (level, idx) order.
    fn visit_tree_rows(
        &self,
        f: &mut dyn FnMut(i64, i64, Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT level, idx, hash FROM tree ORDER BY level, idx")
            .map_err(StoreError::from)?;
        let mut rows = st.query([]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let (a, b, c) = (r.get(0), r.get(1), r.get(2));
            f(
                a.map_err(StoreError::from)?,
                b.map_err(StoreError::from)?,
                c.map_err(StoreError::from)?,
            )?;
        }
        Ok(())
    }

    /// Calls `f` with (index, hash) of every stored tree row at `level` with
    /// `lo <= index <= hi`, in index order.
    fn visit_tree_rows_in(
        &self,
        level: u8,
        lo: u64,
        hi: u64,
        f: &mut dyn FnMut(u64, Vec<u8>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT idx, hash FROM tree WHERE level = ?1 AND idx >= ?2 AND idx <= ?3 ORDER BY idx",
            )
            .map_err(StoreError::from)?;
        let mut rows = st
            .query(params![level as i64, lo as i64, hi as i64])
            .map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let (a, b) = (row.get::<_, i64>(0), row.get(1));
            f(
                a.map_err(StoreError::from)? as u64,
                b.map_err(StoreError::from)?,
            )?;
        }
        Ok(())
    }

    /// Number of rows in the tree table.
    fn count_tree_rows(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM tree", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The size of the first signed checkpoint whose tree holds entry `seq`
    /// (the smallest size above `seq`), if there is one.
    fn first_checkpoint_covering(&self, seq: u64) -> Result<Option<u64>, StoreError> {
        let size: Option<i64> = self
            .conn
            .query_row(
                "SELECT size FROM checkpoints WHERE size > ?1 ORDER BY size LIMIT 1",
                [seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(size.map(|s| s as u64))
    }

    /// The sizes of the signed checkpoints above `after`, in increasing order.
    fn checkpoint_sizes_after(&self, after: u64) -> Result<Vec<u64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT size FROM checkpoints WHERE size > ?1 ORDER BY size")?;
        let rows = st.query_map([after as i64], |r| r.get::<_, i64>(0))?;
        let mut out = Vec::new();
        for size in rows {
            out.push(size? as u64);
        }
        Ok(out)
    }

    /// Number of stored witness cosignature lines.
    fn count_cosignatures(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM cosignatures", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

fn kind_clause(kind: &str) -> (&'static str, String) {
    if kind.ends_with('.') {
        // Kinds are [a-z0-9.-], so they hold no GLOB metacharacters.
        ("kind GLOB ?1", format!("{kind}*"))
    } else {
        ("kind = ?1", kind.to_string())
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let b = row_ref(r)?;
    Ok(Row {
        seq: b.seq,
        hash: b.hash.to_vec(),
        kind: b.kind.to_string(),
        subject: b.subject.to_string(),
        data: b.data.to_vec(),
    })
}

/// An entry row of a `SELECT seq, hash, kind, subject, data` query, borrowed
/// (no copy of the data), with the column types the schema declares.
fn row_ref<'r>(r: &'r rusqlite::Row<'_>) -> rusqlite::Result<RowRef<'r>> {
    let text = |i: usize| -> rusqlite::Result<&'r str> {
        let v = r.get_ref(i)?;
        v.as_str()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e)))
    };
    let blob = |i: usize| -> rusqlite::Result<&'r [u8]> {
        let v = r.get_ref(i)?;
        v.as_blob()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e)))
    };
    Ok(RowRef {
        seq: r.get::<_, i64>(0)? as u64,
        hash: blob(1)?,
        kind: text(2)?,
        subject: text(3)?,
        data: blob(4)?,
    })
}

impl HashReader for Reader<'_> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
        let mut leaf = self
            .conn
            .prepare_cached("SELECT hash FROM entries WHERE seq = ?1")
            .map_err(|e| TlogError::Storage(e.to_string()))?;
        let mut node = self
            .conn
            .prepare_cached("SELECT hash FROM tree WHERE level = ?1 AND idx = ?2")
            .map_err(|e| TlogError::Storage(e.to_string()))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let v: Option<Vec<u8>> = if id.level == 0 {
                leaf.query_row([id.index as i64], |r| r.get(0)).optional()
            } else {
                node.query_row(params![id.level as i64, id.index as i64], |r| r.get(0))
                    .optional()
            }
            .map_err(|e| TlogError::Storage(e.to_string()))?;
            let v = v.ok_or(TlogError::MissingHash {
                level: id.level,
                index: id.index,
            })?;
            out.push(
                v.try_into()
                    .map_err(|_| TlogError::Storage("stored hash is not 32 bytes".into()))?,
            );
        }
        Ok(out)
    }
}

/// The machine's raw SQLite insert limit, a peer figure for `speclog bench`:
/// the seconds one transaction takes to insert `rows` into a bare STRICT
/// table in a new file at `path`, with the ledger's durability settings (WAL,
/// `synchronous=FULL`) and none of its indexes, hashing or signing. Kept
/// here so that no code outside the store opens SQLite.
pub fn raw_insert_secs(rows: &[Vec<u8>], path: &Path) -> Result<f64, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (seq INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT")?;
    let t = std::time::Instant::now();
    conn.execute_batch("BEGIN")?;
    {
        let mut st = conn.prepare("INSERT INTO t (seq, data) VALUES (?1, ?2)")?;
        for (i, e) in rows.iter().enumerate() {
            st.execute(params![i as i64, e])?;
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(t.elapsed().as_secs_f64())
}

#[cfg(test)]
mod read_only_tests {
    use super::*;

    /// A ledger on a read-only mount is opened immutable: the path is a URI
    /// then, so characters URIs treat specially must reach the right file.
    /// (A read-only mount cannot be made in a test; checked by hand with a
    /// read-only bind mount, as root and as nobody.)
    #[test]
    fn immutable_open_reads_the_ledger_at_an_awkward_path() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a #1 ?x=100%");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("ledger.sqlite");
        drop(SqliteStore::create(&path, OpenOptions::default()).unwrap());
        assert!(open_immutable(&path).is_none(), "not a read-only mount");
        let c = open_immutable_uri(&path).expect("opens");
        let app: i32 = c
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
        assert!(!read_only_mount(&path));
    }

    /// The bench's raw insert figure times a real insert of every row.
    #[test]
    fn raw_insert_secs_inserts_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.db");
        let rows: Vec<Vec<u8>> = (0..500u32).map(|i| i.to_be_bytes().repeat(64)).collect();
        let secs = raw_insert_secs(&rows, &path).unwrap();
        assert!(secs.is_finite() && secs > 0.0, "{secs}");
        let c = Connection::open(&path).unwrap();
        let (n, bytes): (i64, i64) = c
            .query_row("SELECT count(*), sum(length(data)) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((n, bytes), (500, 500 * 256));
    }
}
