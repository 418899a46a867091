//! Full verification of a ledger database, streaming, in bounded memory.
//!
//! One pass over the entries checks each entry's encoding, sequence number,
//! chain link, time order, signer authorisation, references, index columns
//! and content blobs, batch-verifies signatures on all cores, and recomputes
//! the Merkle tree, comparing every stored hash. Then every blob is re-hashed
//! and every signed checkpoint is checked against the recomputed tree.

use rayon::prelude::*;
use thiserror::Error;

use super::entry::{self, Entry};
use super::{Ledger, StoreError};
use crate::governance::{self, Payload, State, clauses};
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

fn fail(place: impl Into<String>, what: impl Into<String>) -> VerifyError {
    VerifyError {
        place: place.into(),
        what: what.into(),
        seq: None,
    }
}

fn fail_entry(seq: u64, what: impl std::fmt::Display) -> VerifyError {
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

/// Verifies the whole ledger. `progress` is called with (done, total) entries.
pub fn verify(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<Report, VerifyError> {
    let r = ledger.reader();
    let head = r.head()?;
    let count = r.count_entries()?;
    let max = r.max_seq()?;
    if count != head.size || max.map(|m| m + 1).unwrap_or(0) != count {
        let missing = first_gap(ledger, head.size)?;
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

    let mut state = State::default();
    let mut prev_hash = [0u8; 32];
    let mut prev_time = String::new();
    let mut edge: Vec<(u8, u64, Hash)> = Vec::new();
    let mut tree_rows = 0u64;
    let mut pending: Vec<Pending> = Vec::with_capacity(CHUNK);
    let mut expect = 0u64;
    let mut signatures = 0u64;

    r.for_each_entry(0, head.size, |row| {
        let seq = row.seq;
        if seq != expect {
            return Err(fail_entry(expect, "entry is missing"));
        }
        expect += 1;
        check_entry(
            ledger,
            &row,
            &mut state,
            &mut prev_hash,
            &mut prev_time,
            &mut pending,
        )
        .map_err(|e| fail_entry(seq, e))?;
        // Merkle tree: push the leaf and merge complete subtrees, comparing stored hashes.
        let mut node = (0u8, seq, prev_hash);
        while let Some(&(l, i, h)) = edge.last() {
            if l != node.0 {
                break;
            }
            edge.pop();
            let parent = (l + 1, i >> 1, node_hash(&h, &node.2));
            tree_rows += 1;
            match r.tree_row(parent.0, parent.1)? {
                Some(v) if v.as_slice() == parent.2 => {}
                Some(_) => {
                    return Err(fail(
                        format!("tree level {} index {}", parent.0, parent.1),
                        format!("stored hash is wrong (recomputed at entry {seq})"),
                    ));
                }
                None => {
                    return Err(fail(
                        format!("tree level {} index {}", parent.0, parent.1),
                        format!("stored hash is missing (recomputed at entry {seq})"),
                    ));
                }
            }
            node = parent;
        }
        edge.push(node);
        if pending.len() >= CHUNK {
            verify_chunk(&pending)?;
            signatures += pending.len() as u64;
            pending.clear();
            progress(expect, head.size);
        }
        Ok(())
    })?;
    verify_chunk(&pending)?;
    signatures += pending.len() as u64;
    progress(head.size, head.size);

    if state.authority.origin != origin_meta {
        return Err(fail(
            "ledger",
            format!(
                "meta origin {origin_meta:?} differs from the log.init origin {:?}",
                state.authority.origin
            ),
        ));
    }
    let stored_rows = r.count_tree_rows()?;
    if stored_rows != tree_rows {
        return Err(fail(
            "tree",
            format!("{stored_rows} stored tree hashes, expected {tree_rows} (rows were added)"),
        ));
    }
    let root = edge
        .iter()
        .rev()
        .fold(None::<Hash>, |acc, (_, _, h)| match acc {
            None => Some(*h),
            Some(right) => Some(node_hash(h, &right)),
        })
        .unwrap_or(tlog::EMPTY_ROOT);
    if head.hash != prev_hash {
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

    // Every signed checkpoint must verify under the log key and match the tree.
    let log_vk = note::VerifierKey::parse(&state.authority.log_key)
        .map_err(|e| fail("entry 0", format!("log key: {e}")))?;
    let mut checkpoints = 0u64;
    let mut last_cp = 0u64;
    r.for_each_checkpoint(|size, root_col, text| {
        checkpoints += 1;
        let place = format!("checkpoint {size}");
        let (cp, _, _) = note::open_checkpoint(
            text.as_bytes(),
            &state.authority.origin,
            std::slice::from_ref(&log_vk),
        )
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
        origin: state.authority.origin.clone(),
        entries: head.size,
        signatures,
        tree_hashes: tree_rows + head.size,
        blobs,
        checkpoints,
        root: hex::encode(root),
        head: hex::encode(head.hash),
    })
}

fn first_gap(ledger: &Ledger, size: u64) -> Result<Option<u64>, VerifyError> {
    let mut expect = 0u64;
    let mut gap = None;
    ledger
        .reader()
        .for_each_entry::<VerifyError>(0, u64::MAX >> 1, |row| {
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

fn check_entry(
    ledger: &Ledger,
    row: &super::store::Row,
    state: &mut State,
    prev_hash: &mut Hash,
    prev_time: &mut String,
    pending: &mut Vec<Pending>,
) -> Result<(), String> {
    let e = Entry::decode(&row.data).map_err(|e| e.to_string())?;
    if e.seq != row.seq {
        return Err(format!("encoded seq {} differs from its position", e.seq));
    }
    let hash = entry::entry_hash(&row.data);
    if row.hash.as_slice() != hash {
        return Err("hash column does not match the entry bytes".into());
    }
    if e.prev != *prev_hash {
        return Err("chain link broken: prev is not the hash of the entry before".into());
    }
    if e.time.as_str() < prev_time.as_str() {
        return Err(format!(
            "time {} is earlier than the entry before ({prev_time})",
            e.time
        ));
    }
    if row.kind != e.kind {
        return Err(format!(
            "kind column {:?} differs from the entry's kind {:?}",
            row.kind, e.kind
        ));
    }
    let payload = Payload::decode(&e.kind, &e.payload).map_err(|e| e.to_string())?;
    if row.subject != payload.subject() {
        return Err(format!(
            "subject column {:?} differs from the entry",
            row.subject
        ));
    }
    state
        .authority
        .authorize(&e, &payload)
        .map_err(|e| e.to_string())?;
    governance::check_references(&e, &payload, state).map_err(|e| e.to_string())?;
    check_content(ledger, &payload)?;
    state
        .apply(&e, &hash, &payload)
        .map_err(|e| e.to_string())?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&e.signer_key)
        .map_err(|_| "signer key is not a valid Ed25519 key".to_string())?;
    if key.is_weak() {
        return Err("signer key is a weak (small-order) key".into());
    }
    pending.push(Pending {
        seq: e.seq,
        msg: entry::signed_message(Entry::signed_message(&row.data)),
        sig: ed25519_dalek::Signature::from_bytes(&e.signature),
        key,
    });
    *prev_hash = hash;
    *prev_time = e.time;
    Ok(())
}

fn check_content(ledger: &Ledger, payload: &Payload) -> Result<(), String> {
    let r = ledger.reader();
    for c in payload.content_refs() {
        let d = c
            .digest()
            .ok_or_else(|| format!("malformed digest {:?}", c.sha256))?;
        match r.blob_size(&d).map_err(|e| e.to_string())? {
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
        // The clause manifest must be the one derived from the text.
        let text = blob_text(ledger, &p.content)?;
        let derived = clauses::parse(&text).map_err(|e| e.to_string())?;
        let want = crate::governance::ContentRef::of(
            &serde_json::to_vec(&derived).map_err(|e| e.to_string())?,
            governance::MEDIA_CLAUSES,
        );
        if want.sha256 != p.clauses.sha256 {
            return Err("clause manifest does not match the spec text".into());
        }
    }
    Ok(())
}

fn blob_text(ledger: &Ledger, c: &governance::ContentRef) -> Result<String, String> {
    let d = c.digest().ok_or("malformed digest")?;
    let b = ledger
        .reader()
        .blob(&d)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("content {} is missing", c.sha256))?;
    if entry::sha256(&b) != d {
        return Err(format!("content {} does not match its digest", c.sha256));
    }
    String::from_utf8(b).map_err(|_| format!("content {} is not UTF-8", c.sha256))
}
