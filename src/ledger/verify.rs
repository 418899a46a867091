//! Full verification of a ledger, streaming, in bounded memory.
//!
//! [`Replay`] checks a sequence of encoded entries from wherever they come (the
//! SQLite store here, published entry bundles in [`crate::published`]): each
//! entry's encoding, sequence number, chain link, time order, signer
//! authorisation, references and content blobs, batch-verifies signatures on
//! all cores, and recomputes the Merkle tree. [`verify`] adds the store's own
//! checks: index columns, every stored tree hash, every blob, the head and every
//! signed checkpoint.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;
use thiserror::Error;

use super::entry::{self, Entry};
use super::store::{Check, RowRef, StoreRead};
use super::{Ledger, StoreError};
use crate::governance::{self, GovError, Payload, State};
use crate::note;
use crate::tlog::{self, Hash, node_hash};

/// Where verification failed and why.
#[derive(Clone, Debug, Error)]
#[error("{place}: {what}")]
pub struct VerifyError {
    /// "entry 5", "tree level 1 index 2", "blob 3fa2…", "checkpoint 7", "head", "ledger".
    pub place: String,
    pub what: String,
    /// The entry involved, if any.
    pub seq: Option<u64>,
}

/// A failure at a place that is not one entry.
pub fn fail(place: impl Into<String>, what: impl Into<String>) -> VerifyError {
    VerifyError {
        place: place.into(),
        what: what.into(),
        seq: None,
    }
}

/// A failure of entry `seq`.
pub fn fail_entry(seq: u64, what: impl std::fmt::Display) -> VerifyError {
    VerifyError {
        place: format!("entry {seq}"),
        what: what.to_string(),
        seq: Some(seq),
    }
}

impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> Self {
        fail("ledger", e.to_string())
    }
}

/// What a successful verification checked.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub origin: String,
    pub entries: u64,
    pub signatures: u64,
    pub tree_hashes: u64,
    pub blobs: u64,
    pub checkpoints: u64,
    pub root: String,
    pub head: String,
}

/// Content storage as the entry checks need it.
pub trait Blobs {
    /// The size of the blob with this digest, if present.
    fn blob_size(&self, d: &Hash) -> Result<Option<u64>, String>;
    /// The blob's bytes, if present (not yet checked against the digest).
    fn blob(&self, d: &Hash) -> Result<Option<Vec<u8>>, String>;
    /// The blob's bytes, if present, checked against the digest.
    fn blob_checked(&self, d: &Hash) -> Result<Option<Vec<u8>>, String> {
        match self.blob(d)? {
            Some(b) if entry::sha256(&b) != *d => Err(format!(
                "content {} does not match its digest",
                hex::encode(d)
            )),
            b => Ok(b),
        }
    }
    /// The same blobs, readable from any thread, if reading them there is
    /// worth it. A replay then leaves reading and checking each evaluation's
    /// results file to [`DeferredCheck::run`], which runs on the signature
    /// verifier threads, instead of reading it in [`Replay::push`]. `None`
    /// (the default) reads every blob in `push`.
    fn shared(&self) -> Option<Arc<dyn SharedBlobs>> {
        None
    }
}

/// Blob storage that any thread can read (see [`Blobs::shared`]).
pub trait SharedBlobs: Send + Sync {
    /// The blob's bytes, if present, checked against the digest. `size` is the
    /// size the entry gives, a hint for the read: the blob may differ.
    fn read_checked(&self, d: &Hash, size: u64) -> Result<Option<Vec<u8>>, String>;
}

impl Blobs for dyn StoreRead + '_ {
    fn blob_size(&self, d: &Hash) -> Result<Option<u64>, String> {
        StoreRead::blob_size(self, d).map_err(|e| e.to_string())
    }
    fn blob(&self, d: &Hash) -> Result<Option<Vec<u8>>, String> {
        StoreRead::blob(self, d).map_err(|e| e.to_string())
    }
}

/// Entries whose signatures are verified together.
const CHUNK: usize = 1024;

struct Pending {
    seq: u64,
    /// Where the signed bytes of the entry (its encoding without the
    /// signature) are in [`Chunk::bytes`].
    tbs: std::ops::Range<usize>,
    sig: ed25519_dalek::Signature,
    key: ed25519_dalek::VerifyingKey,
    /// A content check still to run.
    content: Option<DeferredCheck>,
}

/// Entries whose checks are left to the verifier, with their signed bytes in
/// one buffer. Chunks go to the verifier thread and come back to be reused, so
/// the replay allocates no buffer per entry and every allocation is freed by
/// the thread that made it (glibc's allocator locks the owner's arena when
/// another thread frees, and the two threads then wait on each other).
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    items: Vec<Pending>,
}

impl Chunk {
    fn tbs(&self, p: &Pending) -> &[u8] {
        &self.bytes[p.tbs.clone()]
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }
}

/// Signatures per batch: batch verification gets cheaper per signature as the
/// batch grows (one multiscalar multiplication per batch), so a chunk is split
/// into as few batches as keep every core busy.
fn batch_size(chunk: usize) -> usize {
    chunk
        .div_ceil(2 * rayon::current_num_threads())
        .clamp(64, 1024)
}

/// Checks a chunk's deferred content checks and signatures, on all cores
/// (`parallel`) or on this thread only.
fn verify_chunk(whole: &Chunk, parallel: bool) -> Result<(), VerifyError> {
    verify_items(whole, &whole.items, parallel)
}

/// [`verify_chunk`] for some of a chunk's entries, in order.
fn verify_items(whole: &Chunk, chunk: &[Pending], parallel: bool) -> Result<(), VerifyError> {
    let content = |p: &Pending| {
        let e = p.content.as_ref()?.run().err()?;
        Some(fail_entry(p.seq, e))
    };
    let signatures = |c: &[Pending]| {
        let parts: Vec<[&[u8]; 2]> = c
            .iter()
            .map(|p| [entry::SIGNATURE_CONTEXT, whole.tbs(p)])
            .collect();
        let items: Vec<super::batch::Item> = c
            .iter()
            .zip(&parts)
            .map(|(p, m)| super::batch::Item {
                msg: m,
                sig: &p.sig,
                key: &p.key,
            })
            .collect();
        super::batch::verify(&items)
    };
    // One thread: the whole chunk in one batch (the multiscalar multiplication
    // costs less per signature the larger it is: 7.4 us at 1,024 against 7.9 at 256).
    let size = if parallel {
        batch_size(chunk.len())
    } else {
        chunk.len().max(1)
    };
    let (bad, ok) = if parallel {
        (
            chunk.par_iter().filter_map(content).min_by_key(|e| e.seq),
            chunk.par_chunks(size).all(signatures),
        )
    } else {
        (
            chunk.iter().filter_map(content).next(),
            chunk.chunks(size).all(signatures),
        )
    };
    if ok {
        return bad.map_or(Ok(()), Err);
    }
    // Find the first bad one, strictly.
    for p in chunk {
        if let Some(e) = bad.as_ref().filter(|e| e.seq == Some(p.seq)) {
            return Err(fail_entry(p.seq, &e.what));
        }
        if p.key
            .verify_strict(&entry::signed_message(whole.tbs(p)), &p.sig)
            .is_err()
        {
            return Err(fail_entry(p.seq, "signature does not verify"));
        }
    }
    Err(fail(
        "ledger",
        "a signature batch failed but no single signature did",
    ))
}

/// Replays entries in log order, checking each, and recomputes the Merkle tree.
/// Memory is bounded: the governance state, a few signature chunks and the
/// tree's right edge (O(log n) hashes).
///
/// Signatures are verified in chunks of [`CHUNK`] on a thread of their own
/// (batches of 64 spread over all cores), while the caller goes on reading and
/// checking the next entries, so decoding and verification overlap.
#[derive(Default)]
pub struct Replay {
    pub state: State,
    prev_hash: Hash,
    prev_time: String,
    pending: Chunk,
    /// Chunks back from the verifier, to be reused.
    spare: Vec<Chunk>,
    verifier: Option<Verifier>,
    /// The last signer key decoded (runs of entries share a signer).
    last_key: Option<([u8; 32], ed25519_dalek::VerifyingKey)>,
    /// Complete subtrees on the right edge: (level, index, hash).
    edge: Vec<(u8, u64, Hash)>,
    /// Entries pushed so far.
    pub count: u64,
    /// Signatures verified so far.
    pub signatures: u64,
    /// The number of entries that will be pushed, if known: chunks get
    /// smaller towards the end, so the verifier is not left with long work
    /// while the caller waits.
    pub expected: Option<u64>,
}

/// The smallest chunk sent to the verifier.
const MIN_CHUNK: usize = 128;

/// Entries the replay thread checks itself when the verifier is behind.
const STEAL: usize = 128;

/// The signature-verification thread: chunks in, one result per chunk out.
struct Verifier {
    chunks: Option<std::sync::mpsc::SyncSender<Chunk>>,
    /// Each chunk's result, and the chunk itself (to be freed or reused here).
    results: std::sync::mpsc::Receiver<(Result<u64, VerifyError>, Chunk)>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Chunks sent and not yet collected.
    outstanding: usize,
    /// The verifier's failure, once collected: the first of every chunk sent
    /// (it stops at its first failure, so later chunks are never checked).
    failed: Option<VerifyError>,
}

impl Verifier {
    fn start() -> Verifier {
        // On two cores this thread and the caller's keep both busy; with more,
        // the verifier spreads each chunk over all of them.
        let parallel = rayon::current_num_threads() > 2;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(2);
        let (rtx, rrx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            for chunk in rx {
                let r = verify_chunk(&chunk, parallel).map(|_| chunk.len() as u64);
                let failed = r.is_err();
                if rtx.send((r, chunk)).is_err() || failed {
                    return;
                }
            }
        });
        Verifier {
            chunks: Some(tx),
            results: rrx,
            thread: Some(thread),
            outstanding: 0,
            failed: None,
        }
    }

    /// Collects finished results without waiting (or, with `wait`, all of them);
    /// returns the signatures verified, or the first failure.
    /// Chunks that come back are cleared and put in `spare`.
    fn collect(&mut self, wait: bool, spare: &mut Vec<Chunk>) -> Result<u64, VerifyError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut n = 0;
        while self.outstanding > 0 {
            let r = if wait {
                self.results.recv().map_err(|_| ())
            } else {
                match self.results.try_recv() {
                    Ok(r) => Ok(r),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(_) => Err(()),
                }
            };
            let (r, mut chunk) = r.map_err(|_| fail("ledger", "the signature verifier stopped"))?;
            chunk.clear();
            spare.push(chunk);
            self.outstanding -= 1;
            if let Err(e) = &r {
                self.failed = Some(e.clone());
                self.outstanding = 0;
            }
            n += r?;
        }
        Ok(n)
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Replay {
    pub fn new() -> Replay {
        Replay::default()
    }

    /// Checks the next entry and adds it to the tree. Interior tree hashes it
    /// completes are appended to `completed` as (level, index, hash). Its
    /// signature is verified in a batch, at the latest by [`Replay::flush`]; it returns
    /// the entry, its subject (the index column) and its hash.
    pub fn push(
        &mut self,
        data: &[u8],
        blobs: &impl Blobs,
        completed: &mut Vec<(u8, u64, Hash)>,
    ) -> Result<(Entry, String, Hash), VerifyError> {
        let seq = self.count;
        let (e, subject, hash) = match self.check(seq, data, blobs) {
            Ok(v) => v,
            // A bad signature of an earlier entry comes first.
            Err(w) => return Err(self.earlier_failure().unwrap_or(fail_entry(seq, w))),
        };
        self.count += 1;
        let mut node = (0u8, seq, hash);
        while let Some(&(l, i, h)) = self.edge.last() {
            if l != node.0 {
                break;
            }
            self.edge.pop();
            node = (l + 1, i >> 1, node_hash(&h, &node.2));
            completed.push(node);
        }
        self.edge.push(node);
        if self.pending.len() >= self.chunk_size() {
            let v = self.verifier.get_or_insert_with(Verifier::start);
            self.signatures += v.collect(false, &mut self.spare)?;
            if v.outstanding >= 2 {
                // The verifier is behind: check the last few entries here
                // rather than wait, then look again after as many more. A
                // small share at a time keeps the verifier fed: checking a
                // whole chunk here left it idle for a sixth of the time.
                let items = &self.pending.items;
                let from = items.len() - items.len().min(STEAL);
                if let Err(e) = verify_items(&self.pending, &items[from..], false) {
                    return Err(self.earlier_failure().unwrap_or(e));
                }
                self.signatures += (items.len() - from) as u64;
                let cut = items[from].tbs.start;
                self.pending.items.truncate(from);
                self.pending.bytes.truncate(cut);
                return Ok((e, subject, hash));
            }
            let next = self.spare.pop().unwrap_or_default();
            let chunk = std::mem::replace(&mut self.pending, next);
            let sent = v.chunks.as_ref().map(|c| c.send(chunk).is_ok());
            if sent != Some(true) {
                return Err(self
                    .earlier_failure()
                    .unwrap_or_else(|| fail("ledger", "the signature verifier stopped")));
            }
            v.outstanding += 1;
        }
        Ok((e, subject, hash))
    }

    /// Entries per chunk: small at first (the verifier starts sooner) and,
    /// when the total is known, near the end (the last chunks are short, so
    /// both threads finish at about the same time).
    fn chunk_size(&self) -> usize {
        let ramp = (self.count as usize).max(MIN_CHUNK);
        let tail = match self.expected {
            Some(n) => (n.saturating_sub(self.count) as usize / 2).max(MIN_CHUNK),
            None => CHUNK,
        };
        ramp.min(tail).min(CHUNK)
    }

    fn check(
        &mut self,
        seq: u64,
        data: &[u8],
        blobs: &impl Blobs,
    ) -> Result<(Entry, String, Hash), String> {
        let e = Entry::decode_fields(data).map_err(|e| e.to_string())?;
        if e.seq != seq {
            return Err(format!("encoded seq {} differs from its position", e.seq));
        }
        let hash = entry::entry_hash(data);
        if e.prev != self.prev_hash {
            return Err("chain link broken: prev is not the hash of the entry before".into());
        }
        if e.time.as_str() < self.prev_time.as_str() {
            return Err(format!(
                "time {} is earlier than the entry before ({})",
                e.time, self.prev_time
            ));
        }
        let payload = decode_payload(&e)?;
        self.state
            .authority
            .authorize(&e, &payload)
            .map_err(|e| e.to_string())?;
        governance::check_references(&e, &payload, &self.state).map_err(|e| e.to_string())?;
        let (clause_ids, deferred) = check_content_deferred(blobs, &payload, &self.state)?;
        self.state
            .apply(&e, &hash, &payload)
            .map_err(|e| e.to_string())?;
        if let Some(ids) = clause_ids {
            // Later entries name this release's clauses.
            self.state.set_release_clauses(e.seq, ids);
        }
        let subject = payload.subject();
        let content = match (deferred, payload) {
            (Some(Deferred::Eval(results, pre)), Payload::EvalRecord(rec)) => {
                Some(DeferredCheck::Eval {
                    rec: Box::new(rec),
                    results,
                    pre,
                })
            }
            (Some(Deferred::Release(input)), Payload::SpecRelease(rec)) => {
                Some(DeferredCheck::Release {
                    rec: Box::new(rec),
                    input,
                })
            }
            _ => None,
        };
        let key = match &self.last_key {
            Some((b, k)) if *b == e.signer_key => *k,
            _ => {
                let key = ed25519_dalek::VerifyingKey::from_bytes(&e.signer_key)
                    .map_err(|_| "signer key is not a valid Ed25519 key".to_string())?;
                if key.is_weak() {
                    return Err("signer key is a weak (small-order) key".into());
                }
                self.last_key = Some((e.signer_key, key));
                key
            }
        };
        let start = self.pending.bytes.len();
        self.pending
            .bytes
            .extend_from_slice(Entry::signed_message(data));
        self.pending.items.push(Pending {
            seq: e.seq,
            tbs: start..self.pending.bytes.len(),
            content,
            sig: ed25519_dalek::Signature::from_bytes(&e.signature),
            key,
        });
        self.prev_hash = hash;
        self.prev_time = e.time.clone();
        Ok((e, subject, hash))
    }

    /// Verifies the signatures pushed so far (waiting for the chunks in flight),
    /// and checks that every entry pushed had its signature verified once.
    pub fn flush(&mut self) -> Result<(), VerifyError> {
        if let Some(v) = &mut self.verifier
            && v.outstanding > 0
        {
            // Check the last chunk here while the verifier finishes its own
            // (theirs are of earlier entries, so their failure comes first).
            let last = verify_chunk(&self.pending, false);
            self.signatures += v.collect(true, &mut self.spare)?;
            last?;
        } else {
            verify_chunk(&self.pending, true)?;
        }
        self.signatures += self.pending.len() as u64;
        self.pending.clear();
        // A guard on the bookkeeping of chunks: an entry whose signature was
        // never checked must not pass unnoticed.
        if self.signatures != self.count {
            return Err(fail(
                "ledger",
                format!(
                    "internal error: {} signatures verified for {} entries",
                    self.signatures, self.count
                ),
            ));
        }
        Ok(())
    }

    /// Returns the first failure of a check left to the verifier (signature or
    /// deferred content check) of the entries pushed so far, if any: it is of
    /// an entry before any that fails now. Waits for the chunks in flight,
    /// then checks the entries not yet sent. Asked again, it answers the same.
    pub fn earlier_failure(&mut self) -> Option<VerifyError> {
        if let Some(v) = self.verifier.as_mut() {
            match v.collect(true, &mut self.spare) {
                Ok(n) => self.signatures += n,
                Err(e) => return Some(e),
            }
        }
        verify_chunk(&self.pending, false).err()
    }

    /// The Merkle root (RFC 9162 MTH) of the entries pushed so far.
    pub fn root(&self) -> Hash {
        self.edge
            .iter()
            .rev()
            .fold(None::<Hash>, |acc, (_, _, h)| match acc {
                None => Some(*h),
                Some(right) => Some(node_hash(h, &right)),
            })
            .unwrap_or(tlog::EMPTY_ROOT)
    }

    /// The leaf hash of the last entry pushed (zeros if none).
    pub fn last_hash(&self) -> Hash {
        self.prev_hash
    }
}

/// Decodes an entry's payload, which must also be a JSON object (the check
/// [`Entry::decode`] makes). A payload of a known kind that decodes and starts
/// with `{` is one (the typed decode reads and checks every byte, and refuses
/// unknown fields), so the separate check runs only for the others.
fn decode_payload(e: &Entry) -> Result<Payload, String> {
    let object = e.payload.trim_ascii_start().first() == Some(&b'{');
    match Payload::decode(&e.kind, &e.payload) {
        Ok(Payload::Other(v)) if !v.is_object() => Err(e
            .check_payload()
            .err()
            .map(|x| x.to_string())
            .unwrap_or_default()),
        Ok(p) if object => Ok(p),
        r => {
            e.check_payload().map_err(|x| x.to_string())?;
            r.map_err(|x| x.to_string())
        }
    }
}

/// Verifies the whole ledger. `progress` is called with (done, total) entries.
pub fn verify(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<Report, VerifyError> {
    // Damaged pages first: every index and table a later command reads must
    // be readable, or `verify` would pass a file that `site build` fails on.
    // The pages of the rows the replay reads in full are checked by reading
    // them; when the replay fails, damage there explains it better than the
    // entry it was reading.
    let damaged = |e: StoreError| fail("ledger file", e.to_string());
    ledger.store().check(Check::Unread).map_err(damaged)?;
    verify_rows(ledger, progress).map_err(|e| match ledger.store().check(Check::All) {
        Err(d) => damaged(d),
        Ok(()) => e,
    })
}

/// [`verify`] after the page check: the replay of every row.
fn verify_rows(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<Report, VerifyError> {
    let r = ledger.reader();
    let head = r.head()?;
    let count = r.count_entries()?;
    let max = r.max_seq()?;
    if count != head.size || max.map(|m| m + 1).unwrap_or(0) != count {
        let missing = first_gap(&*r, head.size)?;
        return Err(match missing {
            Some(s) => fail_entry(s, "entry is missing (deleted or truncated)"),
            None => fail(
                "head",
                format!(
                    "head says {} entries but the ledger holds {count} (highest seq {:?})",
                    head.size, max
                ),
            ),
        });
    }
    let origin_meta = r.meta("origin")?.unwrap_or_default();

    let mut replay = Replay::new();
    replay.expected = Some(head.size);
    let mut tree_rows = 0u64;
    let mut completed = Vec::new();
    let seq_blobs = SeqBlobs::new(&*r);
    // Interior hashes recomputed and not yet compared with the stored ones:
    // (level, index, hash, the entry that completed it).
    let mut nodes: Vec<(u8, u64, Hash, u64)> = Vec::new();
    let mut check_entry = |row: RowRef<'_>,
                           replay: &mut Replay,
                           nodes: &mut Vec<(u8, u64, Hash, u64)>|
     -> Result<(), VerifyError> {
        let seq = row.seq;
        if seq != replay.count {
            return Err(fail_entry(replay.count, "entry is missing"));
        }
        let (e, subject, hash) = replay.push(row.data, &seq_blobs, &mut completed)?;
        // The index columns must agree with the entry.
        if row.hash != hash {
            return Err(fail_entry(
                seq,
                "hash column does not match the entry bytes",
            ));
        }
        if row.kind != e.kind {
            return Err(fail_entry(
                seq,
                format!(
                    "kind column {:?} differs from the entry's kind {:?}",
                    row.kind, e.kind
                ),
            ));
        }
        if row.subject != subject {
            return Err(fail_entry(
                seq,
                format!("subject column {:?} differs from the entry", row.subject),
            ));
        }
        // Every interior hash the entry completes must be stored, and right
        // (compared in batches, one range query per level).
        for (level, idx, h) in completed.drain(..) {
            tree_rows += 1;
            nodes.push((level, idx, h, seq));
        }
        if nodes.len() >= TREE_BATCH {
            check_nodes(&*r, nodes)?;
        }
        if seq.is_multiple_of(CHUNK as u64) {
            progress(seq, head.size);
        }
        Ok(())
    };
    r.for_each_entry(0, head.size, |row: RowRef<'_>| {
        check_entry(row, &mut replay, &mut nodes).map_err(|e| {
            // A wrong tree hash completed by an earlier entry comes first.
            check_nodes(&*r, &mut nodes).err().unwrap_or(e)
        })
    })?;
    check_nodes(&*r, &mut nodes)?;
    replay.flush()?;
    progress(head.size, head.size);

    let origin = replay.state.authority.origin.clone();
    if origin != origin_meta {
        return Err(fail(
            "ledger",
            format!("meta origin {origin_meta:?} differs from the log.init origin {origin:?}"),
        ));
    }
    let stored_rows = r.count_tree_rows()?;
    if stored_rows != tree_rows {
        return Err(fail(
            "tree",
            format!("{stored_rows} stored tree hashes, expected {tree_rows} (rows were added)"),
        ));
    }
    let root = replay.root();
    if head.hash != replay.last_hash() {
        return Err(fail("head", "head hash is not the hash of the last entry"));
    }
    if head.root != root {
        return Err(fail(
            "head",
            "head root is not the Merkle root of the entries",
        ));
    }

    // Every blob must match its digest: the ones the entries did not read, then
    // the first mismatch of all.
    while seq_blobs.fill()? {}
    let blobs = seq_blobs.rows.get();
    if let Some(d) = seq_blobs.bad.take() {
        return Err(fail(
            format!("blob {}", hex::encode(&d)),
            "content does not match its digest",
        ));
    }

    // Every private row must be the opening of a confidential incident's commitment.
    for (name, data) in r.private_rows()? {
        let place = format!("private row {name:?}");
        let id = name
            .strip_prefix("incident/")
            .ok_or_else(|| fail(&place, "unknown kind of private row"))?;
        let rec = replay
            .state
            .incidents()
            .get(id)
            .ok_or_else(|| fail(&place, "names no incident in the ledger"))?;
        let want = rec
            .commitment
            .as_deref()
            .ok_or_else(|| fail(&place, "the incident is not confidential"))?;
        let d: governance::incident::PrivateDetails =
            serde_json::from_slice(&data).map_err(|e| fail(&place, format!("malformed: {e}")))?;
        let salt: [u8; 32] = hex::decode(&d.salt)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| fail(&place, "malformed salt"))?;
        if governance::incident::commitment(&salt, &d.summary) != want {
            return Err(fail(
                &place,
                "details do not match the incident's signed commitment",
            ));
        }
    }

    // Every signed checkpoint must verify under the log key and match the tree.
    let log_vk = note::VerifierKey::parse(&replay.state.authority.log_key)
        .map_err(|e| fail("entry 0", format!("log key: {e}")))?;
    let mut checkpoints = 0u64;
    let mut last_cp = 0u64;
    r.for_each_checkpoint(|size, root_col, text| {
        checkpoints += 1;
        let place = format!("checkpoint {size}");
        let (cp, _, _) = note::open_checkpoint(text.as_bytes(), &origin, std::slice::from_ref(&log_vk))
            .map_err(|e| fail(&place, e.to_string()))?;
        if cp.size != size || cp.root.as_slice() != root_col.as_slice() {
            return Err(fail(&place, "checkpoint columns do not match the signed note"));
        }
        if size > head.size {
            return Err(fail(
                &place,
                format!(
                    "checkpoint is for a tree larger than the ledger ({} entries): entries were removed",
                    head.size
                ),
            ));
        }
        let want = tlog::tree_hash(size, &r).map_err(|e| fail(&place, e.to_string()))?;
        if want != cp.root {
            return Err(fail(
                &place,
                "signed root differs from the ledger's tree at that size (history was rewritten)",
            ));
        }
        last_cp = size;
        Ok(())
    })?;
    if last_cp != head.size {
        return Err(fail(
            "checkpoint",
            format!(
                "the latest checkpoint is for size {last_cp}, the ledger has {} entries",
                head.size
            ),
        ));
    }

    Ok(Report {
        origin,
        entries: head.size,
        signatures: replay.signatures,
        tree_hashes: tree_rows + head.size,
        blobs,
        checkpoints,
        root: hex::encode(root),
        head: hex::encode(head.hash),
    })
}

/// The store's blobs for a replay, read in storage order: entries reference
/// blobs in about the order they were inserted, so most lookups are served
/// from a small read-ahead window instead of a random index lookup each. Every
/// row streams through the window exactly once and is hashed there (the digest
/// check of every blob); lookups the window cannot serve are point queries.
struct SeqBlobs<'r> {
    r: &'r dyn StoreRead,
    /// Rows read ahead and not yet consumed.
    window: std::cell::RefCell<std::collections::VecDeque<WindowRow>>,
    last_rowid: std::cell::Cell<i64>,
    done: std::cell::Cell<bool>,
    /// Rows streamed so far, and the first whose data does not match its digest.
    rows: std::cell::Cell<u64>,
    bad: std::cell::RefCell<Option<Vec<u8>>>,
}

/// A blob row read ahead: digest column, data, and whether the data matches it.
type WindowRow = (Vec<u8>, Vec<u8>, bool);

/// Rows and bytes read ahead at most.
const BLOB_WINDOW: usize = 16;
const BLOB_WINDOW_BYTES: usize = 4 << 20;

impl<'r> SeqBlobs<'r> {
    fn new(r: &'r dyn StoreRead) -> Self {
        SeqBlobs {
            r,
            window: Default::default(),
            last_rowid: std::cell::Cell::new(0),
            done: std::cell::Cell::new(false),
            rows: std::cell::Cell::new(0),
            bad: Default::default(),
        }
    }

    /// Reads the next rows into the window; false when there are no more.
    fn fill(&self) -> Result<bool, StoreError> {
        if self.done.get() {
            return Ok(false);
        }
        let rows = self
            .r
            .blobs_after(self.last_rowid.get(), BLOB_WINDOW, BLOB_WINDOW_BYTES)?;
        if rows.is_empty() {
            self.done.set(true);
            return Ok(false);
        }
        let mut w = self.window.borrow_mut();
        for (rowid, digest, data) in rows {
            self.last_rowid.set(rowid);
            self.rows.set(self.rows.get() + 1);
            let ok = entry::sha256(&data).as_slice() == digest.as_slice();
            if !ok {
                self.bad.borrow_mut().get_or_insert(digest.clone());
            }
            w.push_back((digest, data, ok));
            // Keep the window bounded: drop what was skipped over.
            while w.len() > 2 * BLOB_WINDOW {
                w.pop_front();
            }
        }
        Ok(true)
    }

    /// Position of `d` in the window, reading ahead once if it is not there.
    fn find(&self, d: &Hash) -> Result<Option<usize>, StoreError> {
        for attempt in 0..2 {
            if let Some(i) = self
                .window
                .borrow()
                .iter()
                .position(|(x, _, _)| x.as_slice() == d)
            {
                return Ok(Some(i));
            }
            if attempt == 0 && self.window.borrow().len() < BLOB_WINDOW && !self.fill()? {
                break;
            }
        }
        Ok(None)
    }
}

impl SeqBlobs<'_> {
    /// The blob with digest `d`, and whether its data matches `d`.
    fn take(&self, d: &Hash) -> Result<Option<(Vec<u8>, bool)>, String> {
        match self.find(d).map_err(|e| e.to_string())? {
            Some(i) => {
                let mut w = self.window.borrow_mut();
                w.drain(..i);
                Ok(w.pop_front().map(|(_, data, ok)| (data, ok)))
            }
            None => Ok(StoreRead::blob(self.r, d)
                .map_err(|e| e.to_string())?
                .map(|b| {
                    let ok = entry::sha256(&b) == *d;
                    (b, ok)
                })),
        }
    }
}

impl Blobs for SeqBlobs<'_> {
    fn blob_size(&self, d: &Hash) -> Result<Option<u64>, String> {
        match self.find(d).map_err(|e| e.to_string())? {
            Some(i) => {
                let mut w = self.window.borrow_mut();
                // Rows before it were skipped: later references take a point query.
                w.drain(..i);
                Ok(w.front().map(|(_, data, _)| data.len() as u64))
            }
            None => StoreRead::blob_size(self.r, d).map_err(|e| e.to_string()),
        }
    }
    fn blob(&self, d: &Hash) -> Result<Option<Vec<u8>>, String> {
        Ok(self.take(d)?.map(|(data, _)| data))
    }
    fn blob_checked(&self, d: &Hash) -> Result<Option<Vec<u8>>, String> {
        match self.take(d)? {
            // Rows from the window were hashed as they streamed in.
            Some((_, false)) => Err(format!(
                "content {} does not match its digest",
                hex::encode(d)
            )),
            Some((data, true)) => Ok(Some(data)),
            None => Ok(None),
        }
    }
}

/// Interior tree hashes compared with the stored ones per range query.
const TREE_BATCH: usize = 4096;

/// Compares recomputed interior hashes with the stored ones, reading each
/// level's range in one query, and reports the first wrong or missing one.
fn check_nodes(
    r: &dyn StoreRead,
    nodes: &mut Vec<(u8, u64, Hash, u64)>,
) -> Result<(), VerifyError> {
    let mut levels: BTreeMap<u8, (u64, u64)> = BTreeMap::new();
    for &(level, idx, _, _) in nodes.iter() {
        let e = levels.entry(level).or_insert((idx, idx));
        e.0 = e.0.min(idx);
        e.1 = e.1.max(idx);
    }
    let mut stored: BTreeMap<(u8, u64), Vec<u8>> = BTreeMap::new();
    for (level, (lo, hi)) in levels {
        r.for_each_tree_row_in(level, lo, hi, |idx, h| {
            stored.insert((level, idx), h);
            Ok::<_, VerifyError>(())
        })?;
    }
    for (level, idx, h, seq) in nodes.drain(..) {
        let place = || format!("tree level {level} index {idx}");
        match stored.get(&(level, idx)) {
            Some(v) if v.as_slice() == h => {}
            Some(_) => {
                return Err(fail(
                    place(),
                    format!("stored hash is wrong (recomputed at entry {seq})"),
                ));
            }
            None => {
                return Err(fail(
                    place(),
                    format!("stored hash is missing (recomputed at entry {seq})"),
                ));
            }
        }
    }
    Ok(())
}

fn first_gap(r: &dyn StoreRead, size: u64) -> Result<Option<u64>, VerifyError> {
    let mut expect = 0u64;
    let mut gap = None;
    r.for_each_entry::<VerifyError>(0, u64::MAX >> 1, |row| {
        if gap.is_none() && row.seq != expect {
            gap = Some(expect);
        }
        expect = row.seq + 1;
        Ok(())
    })?;
    if gap.is_none() && expect < size {
        gap = Some(expect);
    }
    Ok(gap)
}

/// Checks an entry's content references against the blob store, and what can be
/// recomputed from content (see [`governance::check_content`]); returns a
/// release's clause ids for the state.
pub fn check_content(
    blobs: &impl Blobs,
    payload: &Payload,
    state: &State,
) -> Result<Option<BTreeSet<String>>, String> {
    let (ids, deferred) = check_content_deferred(blobs, payload, state)?;
    match (deferred, payload) {
        (Some(Deferred::Eval(results, pre)), Payload::EvalRecord(p)) => {
            let bytes = results.bytes(&p.results)?;
            governance::check_eval_results(p, &bytes, pre.as_ref()).map_err(|e| e.to_string())?;
        }
        (Some(Deferred::Release(input)), Payload::SpecRelease(p)) => {
            input.check(p)?;
        }
        _ => {}
    }
    Ok(ids)
}

/// The part of an evaluation's content check that needs nothing but the entry,
/// its results file and its pre-registration: recomputing the outcomes. The
/// replay runs it on the verifier threads, beside the signatures.
///
/// Likewise a release's clause manifest derived from its text (parsing a spec
/// of a few hundred KB takes milliseconds): the replay goes on with the clause
/// ids of the stored manifest, which has the digest the release names, so
/// they are the derived ones whenever the check passes.
pub enum DeferredCheck {
    Eval {
        rec: Box<governance::eval::EvalRecord>,
        results: Results,
        pre: Option<governance::eval::PreregRec>,
    },
    Release {
        rec: Box<governance::SpecRelease>,
        input: ReleaseInput,
    },
}

/// What recomputing a release's clause manifest needs: its text, its stored
/// manifest, and the document's previous release (text and manifest), whose
/// manifest the ids are assigned against.
pub struct ReleaseInput {
    text: Vec<u8>,
    stored: Vec<u8>,
    prev: Option<(String, governance::ids::Manifest)>,
}

impl ReleaseInput {
    /// Recomputes the manifest and compares it with the stored one.
    fn check(&self, p: &governance::SpecRelease) -> Result<BTreeSet<String>, String> {
        let prev = self
            .prev
            .as_ref()
            .map(|(text, manifest)| governance::ids::Previous { text, manifest });
        governance::check_release_text(p, &self.text, prev, Some(&self.stored))
            .map_err(|e| e.to_string())
    }
}

/// An evaluation's results file as a [`DeferredCheck`] holds it.
pub enum Results {
    /// Read (and checked against its digest and size) already.
    Read(Vec<u8>),
    /// To be read from here when the check runs (see [`Blobs::shared`]).
    Later(Arc<dyn SharedBlobs>),
}

/// What [`check_content_deferred`] leaves to a [`DeferredCheck`]: the results
/// file and the pre-registration of an evaluation, or the text of a release.
enum Deferred {
    Eval(Results, Option<governance::eval::PreregRec>),
    Release(ReleaseInput),
}

/// Checks a results file read for `c` (or `None` if it is missing) against the
/// size `c` gives; the digest is checked by the read.
fn results_bytes(c: &governance::ContentRef, read: Option<Vec<u8>>) -> Result<Vec<u8>, String> {
    let bytes = read.ok_or_else(|| format!("content {} is missing", c.sha256))?;
    if bytes.len() as u64 != c.size {
        return Err(format!(
            "content {} is {} bytes, the entry says {}",
            c.sha256,
            bytes.len(),
            c.size
        ));
    }
    Ok(bytes)
}

impl Results {
    /// The results file `c` names, read now if it was left for later.
    fn bytes(&self, c: &governance::ContentRef) -> Result<Cow<'_, [u8]>, String> {
        Ok(match self {
            Results::Read(b) => Cow::Borrowed(b.as_slice()),
            Results::Later(from) => {
                let d = c
                    .digest()
                    .ok_or_else(|| format!("malformed digest {:?}", c.sha256))?;
                Cow::Owned(results_bytes(c, from.read_checked(&d, c.size)?)?)
            }
        })
    }
}

impl DeferredCheck {
    pub fn run(&self) -> Result<(), String> {
        match self {
            DeferredCheck::Eval { rec, results, pre } => {
                let bytes = results.bytes(&rec.results)?;
                governance::check_eval_results(rec, &bytes, pre.as_ref())
            }
            DeferredCheck::Release { rec, input } => return input.check(rec).map(|_| ()),
        }
        .map_err(|e| e.to_string())
    }
}

/// Like [`check_content`], but an evaluation's outcomes are left to check:
/// what that needs is returned (see [`DeferredCheck`]).
fn check_content_deferred(
    blobs: &impl Blobs,
    payload: &Payload,
    state: &State,
) -> Result<(Option<BTreeSet<String>>, Option<Deferred>), String> {
    if let Payload::EvalRecord(p) = payload {
        // One read of the results file serves the size, digest and outcome checks.
        let c = &p.results;
        let d = c
            .digest()
            .ok_or_else(|| format!("malformed digest {:?}", c.sha256))?;
        let results = match blobs.shared() {
            Some(from) => Results::Later(from),
            None => Results::Read(results_bytes(c, blobs.blob_checked(&d)?)?),
        };
        governance::check_results_type(p).map_err(|e| e.to_string())?;
        let pre = governance::eval_preregistration(p, state).map_err(|e| e.to_string())?;
        return Ok((None, Some(Deferred::Eval(results, pre))));
    }
    for c in payload.content_refs() {
        let d = c
            .digest()
            .ok_or_else(|| format!("malformed digest {:?}", c.sha256))?;
        match blobs.blob_size(&d)? {
            None => return Err(format!("content {} is missing", c.sha256)),
            Some(n) if n != c.size => {
                return Err(format!(
                    "content {} is {n} bytes, the entry says {}",
                    c.sha256, c.size
                ));
            }
            Some(_) => {}
        }
    }
    if let Payload::SpecRelease(p) = payload {
        // The text first, as the full check reads it.
        let text = blob_bytes(blobs, &p.content)?;
        let stored = blob_bytes(blobs, &p.clauses)?;
        let blob = |c: &governance::ContentRef| -> Result<Vec<u8>, GovError> {
            blob_bytes(blobs, c).map_err(GovError::Rule)
        };
        let prev = governance::previous_release(state, &blob).map_err(|e| e.to_string())?;
        let input = ReleaseInput { text, stored, prev };
        // The replay goes on with the stored manifest's ids when it reads;
        // else the full check runs now (and fails with what is wrong).
        return Ok(match governance::ids::Manifest::decode(&input.stored) {
            Ok(m) => (
                Some(m.clauses.into_iter().map(|c| c.id).collect()),
                Some(Deferred::Release(input)),
            ),
            Err(_) => (Some(input.check(p)?), None),
        });
    }
    // What can be recomputed from content: a release's clause manifest, an
    // evaluation's outcomes (the same check runs at append time).
    let blob = |c: &governance::ContentRef| -> Result<Vec<u8>, GovError> {
        blob_bytes(blobs, c).map_err(GovError::Rule)
    };
    governance::check_content(payload, &blob, state)
        .map(|ids| (ids, None))
        .map_err(|e| e.to_string())
}

/// Reads a blob, checks it against its digest, and returns it as UTF-8 text.
pub fn blob_text(blobs: &impl Blobs, c: &governance::ContentRef) -> Result<String, String> {
    let b = blob_bytes(blobs, c)?;
    String::from_utf8(b).map_err(|_| format!("content {} is not UTF-8", c.sha256))
}

/// Reads a blob and checks it against its digest.
pub fn blob_bytes(blobs: &impl Blobs, c: &governance::ContentRef) -> Result<Vec<u8>, String> {
    let d = c.digest().ok_or("malformed digest")?;
    blobs
        .blob_checked(&d)?
        .ok_or_else(|| format!("content {} is missing", c.sha256))
}
