//! Proofs: inclusion and consistency proof files from the ledger, and their
//! offline verification with nothing but the proof, the entry and a key.

use std::path::Path;

use serde::Serialize;

use super::Workspace;
use crate::error::Error;
use crate::ledger::entry::{Entry, entry_hash};
use crate::ledger::verify::{VerifyError, fail, fail_entry};
use crate::ledger::{Ledger, LedgerError};
use crate::note::VerifierKey;
use crate::published::{self, SiteReport};
use crate::tlog::{self, ConsistencyProofFile, InclusionProofFile};

/// What checking a proof file established.
#[derive(Clone, Debug, Serialize)]
pub struct ProofReport {
    pub kind: &'static str,
    pub origin: String,
    pub size: u64,
    pub root: String,
    /// For inclusion: the entry's index, hash and kind.
    pub index: Option<u64>,
    pub entry_hash: Option<String>,
    pub entry_kind: Option<String>,
    /// For consistency: the older size proven to be a prefix.
    pub old_size: Option<u64>,
}

/// Reads a verifier-key file or takes the key itself.
pub fn load_verifier_key(arg: &str) -> Result<VerifierKey, Error> {
    let why = match VerifierKey::parse(arg.trim()) {
        Ok(k) => return Ok(k),
        Err(e) => e,
    };
    if arg.contains('+') && !Path::new(arg).exists() {
        // Meant as the key itself: say what is wrong with it, not that no such file exists.
        return Err(Error::input(
            format!("{arg:?} is not a verifier key ({why}) nor a file"),
            "give the .pub file or its one line, name+hexkeyid+base64key",
        ));
    }
    Ok(crate::keys::read_verifier_key(Path::new(arg))?)
}

fn checkpoint_at(l: &Ledger, size: u64) -> Result<String, Error> {
    l.checkpoint_text_at(size)?.ok_or_else(|| {
        Error::input(
            format!("the log never signed a checkpoint for size {size}"),
            "use a size printed by `speclog log` after an append, or omit it for the latest",
        )
    })
}

impl Workspace {
    /// A `c2sp.org/tlog-proof@v1` inclusion proof of entry `r` in the latest
    /// checkpoint; its `extra` data is the encoded entry, so the file alone suffices.
    pub fn prove_inclusion(&self, r: &str) -> Result<String, Error> {
        let l = self.open()?;
        let seq = l.resolve(r)?;
        let head = l.reader().head()?;
        let entry = l
            .reader()
            .entry(seq)?
            .ok_or_else(|| LedgerError::NoEntry(r.into()))?;
        let hashes = tlog::prove_inclusion(head.size, seq, &l.reader())
            .map_err(|e| LedgerError::Io(e.to_string()))?;
        Ok(InclusionProofFile {
            index: seq,
            extra: Some(entry),
            hashes,
            checkpoint_text: checkpoint_at(&l, head.size)?,
        }
        .format())
    }

    /// A consistency proof from `old` entries to `new` (default: the latest checkpoint).
    pub fn prove_consistency(&self, old: u64, new: Option<u64>) -> Result<String, Error> {
        let l = self.open()?;
        let size = new.unwrap_or(l.reader().head()?.size);
        if old > size {
            return Err(Error::input(
                format!("old size {old} is larger than the new size {size}"),
                "the old size comes from an earlier checkpoint, so it is at most the new one",
            ));
        }
        let cp = checkpoint_at(&l, size)?;
        let hashes = tlog::prove_consistency(size, old, &l.reader())
            .map_err(|e| LedgerError::Io(e.to_string()))?;
        Ok(ConsistencyProofFile {
            old_size: old,
            hashes,
            checkpoint_text: cp,
        }
        .format())
    }
}

/// Verifies a proof file offline. For an inclusion proof, `entry` (if given)
/// must equal the entry carried in the proof; for a consistency proof, `since`
/// is the older signed checkpoint.
pub fn verify_proof(
    proof: &[u8],
    entry: Option<&[u8]>,
    since: Option<&[u8]>,
    key: &VerifierKey,
) -> Result<ProofReport, VerifyError> {
    let keys = std::slice::from_ref(key);
    if proof.starts_with(tlog::INCLUSION_PROOF_HEADER.as_bytes()) {
        let p = InclusionProofFile::parse(proof).map_err(|e| fail("proof", e.to_string()))?;
        let (cp, _) =
            published::open_checkpoint(p.checkpoint_text.as_bytes(), keys, "proof checkpoint")?;
        let bytes = match (entry, &p.extra) {
            (Some(e), Some(x)) if e != x.as_slice() => {
                return Err(fail(
                    "entry",
                    "the entry file differs from the entry in the proof",
                ));
            }
            (Some(e), _) => e.to_vec(),
            (None, Some(x)) => x.clone(),
            (None, None) => {
                return Err(fail(
                    "proof",
                    "the proof carries no entry; give --entry FILE",
                ));
            }
        };
        let e = Entry::decode(&bytes).map_err(|e| fail("entry", e.to_string()))?;
        if e.seq != p.index {
            return Err(fail_entry(
                e.seq,
                format!("the proof is for index {}", p.index),
            ));
        }
        e.verify_signature()
            .map_err(|x| fail_entry(e.seq, x.to_string()))?;
        let leaf = entry_hash(&bytes);
        tlog::verify_inclusion(&p.hashes, cp.size, &cp.root, p.index, &leaf)
            .map_err(|x| fail_entry(p.index, format!("inclusion proof does not verify: {x}")))?;
        Ok(ProofReport {
            kind: "inclusion",
            origin: cp.origin,
            size: cp.size,
            root: hex::encode(cp.root),
            index: Some(p.index),
            entry_hash: Some(hex::encode(leaf)),
            entry_kind: Some(e.kind),
            old_size: None,
        })
    } else if proof.starts_with(tlog::CONSISTENCY_PROOF_HEADER.as_bytes()) {
        let p = ConsistencyProofFile::parse(proof).map_err(|e| fail("proof", e.to_string()))?;
        let (cp, _) =
            published::open_checkpoint(p.checkpoint_text.as_bytes(), keys, "proof checkpoint")?;
        let Some(old) = since else {
            return Err(fail(
                "proof",
                "a consistency proof needs the older checkpoint: give --since FILE",
            ));
        };
        let (oc, _) = published::open_checkpoint(old, keys, "--since checkpoint")?;
        if oc.size != p.old_size {
            return Err(fail(
                "proof",
                format!(
                    "the proof starts at size {}, the older checkpoint has {}",
                    p.old_size, oc.size
                ),
            ));
        }
        tlog::verify_consistency(&p.hashes, cp.size, &cp.root, oc.size, &oc.root)
            .map_err(|x| fail("proof", format!("consistency proof does not verify: {x}")))?;
        Ok(ProofReport {
            kind: "consistency",
            origin: cp.origin,
            size: cp.size,
            root: hex::encode(cp.root),
            index: None,
            entry_hash: None,
            entry_kind: None,
            old_size: Some(oc.size),
        })
    } else {
        Err(fail(
            "proof",
            "not a c2sp.org/tlog-proof@v1 or speclog consistency proof file",
        ))
    }
}

/// Verifies a published site directory offline: its log, and with `pages`
/// every file against a build of that log.
pub fn verify_site(
    dir: &Path,
    key: Option<&VerifierKey>,
    since: Option<published::Since<'_>>,
    pages: bool,
    progress: &dyn Fn(u64, u64),
) -> Result<SiteReport, Error> {
    if !dir.join("log").is_dir() {
        return Err(Error::input(
            format!("{} has no log/ directory", dir.display()),
            "give the directory `speclog site build --out DIR` wrote",
        ));
    }
    let v = published::verify_site(dir, key, since, pages, progress).map_err(Error::SiteVerify)?;
    let mut rep = v.report;
    if let Some(s) = v.scratch {
        rep.pages = Some(check_pages(dir, s).map_err(Error::SiteVerify)?);
    }
    Ok(rep)
}

/// Builds the site again from the scratch copy of its verified log and
/// compares every file; fails naming the first file that differs (and
/// counting the others).
fn check_pages(dir: &Path, s: published::Scratch) -> Result<published::PagesReport, VerifyError> {
    let stats = crate::site::check(&s.ledger, dir, &s.build).map_err(|e| {
        fail(
            "site",
            format!("cannot build the site again from its log: {e}"),
        )
    })?;
    let info = s.build;
    let same_source = info.same_source();
    let Some(first) = stats.differences.first() else {
        return Ok(published::PagesReport {
            files: stats.files,
            bytes: stats.bytes,
            checkpoints: s.checkpoints,
            build: info,
            same_source,
        });
    };
    let mut what = format!("{}: {}", first.kind, first.what);
    if stats.differing > 1 {
        let others: Vec<String> = stats
            .differences
            .iter()
            .skip(1)
            .take(4)
            .map(|d| format!("{} ({})", d.path, d.kind))
            .collect();
        let rest = stats.differing - 1 - others.len() as u64;
        what.push_str(&format!(
            "; {} more file{} differ{}: {}{}",
            stats.differing - 1,
            if stats.differing > 2 { "s" } else { "" },
            if stats.differing > 2 { "" } else { "s" },
            others.join(", "),
            if rest > 0 {
                format!(" and {rest} others")
            } else {
                String::new()
            }
        ));
    }
    if !same_source {
        what.push_str(&format!(
            "; note: the site says speclog {} (source {}) built it and this is source {}, which may render other bytes",
            info.speclog,
            info.source,
            env!("SPECLOG_SOURCE_HASH")
        ));
    }
    Err(fail(&first.path, what))
}
