//! Full verification of a ledger, streaming, in bounded memory.
//!
//! [`Replay`] checks a sequence of encoded entries from wherever they come (the
//! SQLite store here, published entry bundles in [`crate::published`]): each
//! entry's encoding, sequence number, chain link, time order, signer
//! authorisation, references and content blobs, batch-verifies signatures on
//! all cores, and recomputes the Merkle tree. [`verify`] adds the store's own
//! checks: index columns, every stored tree hash, every blob, the head and every
//! signed checkpoint.

use std::collections::BTreeSet;

use rayon::prelude::*;
use thiserror::Error;

use super::entry::{self, Entry};
use super::store::{Reader, Row};
use super::{Ledger, StoreError};
use crate::governance::{self, GovError, Payload, State};
use crate::note;
use crate::tlog::{self, Hash, node_hash};

/// Where verification failed and why.
#[derive(Debug, Error)]
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
}

impl Blobs for Reader<'_> {
    fn blob_size(&self, d: &Hash) -> Result<Option<u64>, String> {
        Reader::blob_size(self, d).map_err(|e| e.to_string())
    }
    fn blob(&self, d: &Hash) -> Result<Option<Vec<u8>>, String> {
        Reader::blob(self, d).map_err(|e| e.to_string())
    }
}

/// Entries whose signatures are verified together.
const CHUNK: usize = 2048;

struct Pending {
    seq: u64,
    msg: Vec<u8>,
    sig: ed25519_dalek::Signature,
    key: ed25519_dalek::VerifyingKey,
}

fn verify_chunk(chunk: &[Pending]) -> Result<(), VerifyError> {
    let ok = chunk.par_chunks(64).all(|c| {
        let msgs: Vec<&[u8]> = c.iter().map(|p| p.msg.as_slice()).collect();
        let sigs: Vec<_> = c.iter().map(|p| p.sig).collect();
        let keys: Vec<_> = c.iter().map(|p| p.key).collect();
        ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok()
    });
    if ok {
        return Ok(());
    }
    // Find the first bad one, strictly.
    for p in chunk {
        if p.key.verify_strict(&p.msg, &p.sig).is_err() {
            return Err(fail_entry(p.seq, "signature does not verify"));
        }
    }
    Err(fail(
        "ledger",
        "a signature batch failed but no single signature did",
    ))
}

/// Replays entries in log order, checking each, and recomputes the Merkle tree.
/// Memory is bounded: the governance state, one signature chunk and the tree's
/// right edge (O(log n) hashes).
#[derive(Default)]
pub struct Replay {
    pub state: State,
    prev_hash: Hash,
    prev_time: String,
    pending: Vec<Pending>,
    /// Complete subtrees on the right edge: (level, index, hash).
    edge: Vec<(u8, u64, Hash)>,
    /// Entries pushed so far.
    pub count: u64,
    /// Signatures verified so far.
    pub signatures: u64,
}

impl Replay {
    pub fn new() -> Replay {
        Replay::default()
    }

    /// Checks the next entry and adds it to the tree. Interior tree hashes it
    /// completes are appended to `completed` as (level, index, hash). Its
    /// signature is verified in a batch, at the latest by [`Replay::finish`].
    pub fn push(
        &mut self,
        data: &[u8],
        blobs: &impl Blobs,
        completed: &mut Vec<(u8, u64, Hash)>,
    ) -> Result<(Entry, Payload, Hash), VerifyError> {
        let seq = self.count;
        let (e, payload, hash) = self
            .check(seq, data, blobs)
            .map_err(|w| fail_entry(seq, w))?;
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
        if self.pending.len() >= CHUNK {
            self.flush()?;
        }
        Ok((e, payload, hash))
    }

    fn check(
        &mut self,
        seq: u64,
        data: &[u8],
        blobs: &impl Blobs,
    ) -> Result<(Entry, Payload, Hash), String> {
        let e = Entry::decode(data).map_err(|e| e.to_string())?;
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
        let payload = Payload::decode(&e.kind, &e.payload).map_err(|e| e.to_string())?;
        self.state
            .authority
            .authorize(&e, &payload)
            .map_err(|e| e.to_string())?;
        governance::check_references(&e, &payload, &self.state).map_err(|e| e.to_string())?;
        let clause_ids = check_content(blobs, &payload, &self.state)?;
        self.state
            .apply(&e, &hash, &payload)
            .map_err(|e| e.to_string())?;
        if let Some(ids) = clause_ids {
            // Later entries name this release's clauses.
            self.state.set_release_clauses(e.seq, ids);
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&e.signer_key)
            .map_err(|_| "signer key is not a valid Ed25519 key".to_string())?;
        if key.is_weak() {
            return Err("signer key is a weak (small-order) key".into());
        }
        self.pending.push(Pending {
            seq: e.seq,
            msg: entry::signed_message(Entry::signed_message(data)),
            sig: ed25519_dalek::Signature::from_bytes(&e.signature),
            key,
        });
        self.prev_hash = hash;
        self.prev_time = e.time.clone();
        Ok((e, payload, hash))
    }

    /// Verifies the signatures pushed so far.
    pub fn flush(&mut self) -> Result<(), VerifyError> {
        verify_chunk(&self.pending)?;
        self.signatures += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
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

/// Verifies the whole ledger. `progress` is called with (done, total) entries.
pub fn verify(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<Report, VerifyError> {
    let r = ledger.reader();
    let head = r.head()?;
    let count = r.count_entries()?;
    let max = r.max_seq()?;
    if count != head.size || max.map(|m| m + 1).unwrap_or(0) != count {
        let missing = first_gap(&r, head.size)?;
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
    let mut tree_rows = 0u64;
    let mut completed = Vec::new();
    r.for_each_entry(0, head.size, |row: Row| {
        let seq = row.seq;
        if seq != replay.count {
            return Err(fail_entry(replay.count, "entry is missing"));
        }
        let (e, payload, hash) = replay.push(&row.data, &r, &mut completed)?;
        // The index columns must agree with the entry.
        if row.hash.as_slice() != hash {
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
        if row.subject != payload.subject() {
            return Err(fail_entry(
                seq,
                format!("subject column {:?} differs from the entry", row.subject),
            ));
        }
        // Every interior hash the entry completes must be stored, and right.
        for (level, idx, h) in completed.drain(..) {
            tree_rows += 1;
            let place = format!("tree level {level} index {idx}");
            match r.tree_row(level, idx)? {
                Some(v) if v.as_slice() == h => {}
                Some(_) => {
                    return Err(fail(
                        place,
                        format!("stored hash is wrong (recomputed at entry {seq})"),
                    ));
                }
                None => {
                    return Err(fail(
                        place,
                        format!("stored hash is missing (recomputed at entry {seq})"),
                    ));
                }
            }
        }
        if seq.is_multiple_of(CHUNK as u64) {
            progress(seq, head.size);
        }
        Ok(())
    })?;
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

    // Every blob must match its digest.
    let mut blobs = 0u64;
    r.for_each_blob(|d, data| {
        blobs += 1;
        if entry::sha256(&data).as_slice() != d.as_slice() {
            return Err(fail(
                format!("blob {}", hex::encode(&d)),
                "content does not match its digest",
            ));
        }
        Ok(())
    })?;

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

fn first_gap(r: &Reader<'_>, size: u64) -> Result<Option<u64>, VerifyError> {
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
    // What can be recomputed from content: a release's clause manifest, an
    // evaluation's outcomes (the same check runs at append time).
    let blob = |c: &governance::ContentRef| -> Result<Vec<u8>, GovError> {
        blob_bytes(blobs, c).map_err(GovError::Rule)
    };
    governance::check_content(payload, &blob, state).map_err(|e| e.to_string())
}

/// Reads a blob, checks it against its digest, and returns it as UTF-8 text.
pub fn blob_text(blobs: &impl Blobs, c: &governance::ContentRef) -> Result<String, String> {
    let b = blob_bytes(blobs, c)?;
    String::from_utf8(b).map_err(|_| format!("content {} is not UTF-8", c.sha256))
}

/// Reads a blob and checks it against its digest.
pub fn blob_bytes(blobs: &impl Blobs, c: &governance::ContentRef) -> Result<Vec<u8>, String> {
    let d = c.digest().ok_or("malformed digest")?;
    let b = blobs
        .blob(&d)?
        .ok_or_else(|| format!("content {} is missing", c.sha256))?;
    if entry::sha256(&b) != d {
        return Err(format!("content {} does not match its digest", c.sha256));
    }
    Ok(b)
}
