//! The `log/` directory of the site, exactly per C2SP tlog-tiles: `log/checkpoint`
//! (with any witness cosignatures), hash tiles `log/tile/<L>/<N>[.p/<W>]`, entry
//! bundles `log/tile/entries/<N>[.p/<W>]`, the log's verifier key at
//! `log/verifier-key.txt`, the witness policy (if the ledger has one) at
//! `log/witnesses.txt`, and content blobs by digest at `log/blobs/<sha256>`.
//!
//! Full tiles and blobs are immutable, so a rebuild after an append keeps every
//! one that is already on disk with the right length and writes only new full
//! tiles, the partial tiles of the checkpoints signed since the last build, and
//! the checkpoint. Partial tiles stay until their full tile exists, as
//! tlog-tiles requires: clients holding an older checkpoint (every published
//! inclusion proof carries one) still find its tiles.

use std::path::Path;

use crate::ledger::Ledger;
use crate::tlog::{self, Tile};

use super::{SiteError, Writer};

pub use crate::layout::{BLOBS_DIR, LOG_DIR};
use crate::layout::{CHECKPOINT, VERIFIER_KEY, WITNESSES};

/// What [`render_tiles`] wrote or kept. A full build counts the whole log;
/// an incremental one counts what it looked at: the tiles and blobs the
/// append added.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TilesReport {
    /// Hash tiles looked at (full and partial).
    pub tiles: u64,
    /// Entry bundles looked at.
    pub bundles: u64,
    /// Content blobs looked at.
    pub blobs: u64,
    /// Of all these, the ones already on disk and not re-read.
    pub kept: u64,
    /// The storage position (rowid) of the last blob published, so the next
    /// incremental build looks only at blobs stored after it.
    #[serde(skip)]
    pub blob_rowid: i64,
}

/// What the last build published, for an incremental build: its tree size
/// and [`TilesReport::blob_rowid`].
#[derive(Clone, Copy, Debug)]
pub struct Published {
    pub size: u64,
    pub blob_rowid: i64,
}

/// Writes the `log/` directory for the ledger's current checkpoint.
///
/// With `last` (an incremental build on top of a build that published the
/// log at a smaller size), only what the append added is looked at: the full
/// tiles of [`tlog::new_tiles`], the partial tiles of the checkpoints signed
/// since ([`tlog::partial_tiles_to_serve`]), the blobs stored since, and the
/// partial tiles whose full tile now exists, which go; everything else stays
/// as that build wrote it.
pub fn render_tiles(
    ledger: &Ledger,
    _out: &Path,
    w: &mut Writer,
    last: Option<Published>,
) -> Result<TilesReport, SiteError> {
    let r = ledger.reader();
    let head = r.head()?;
    let (cp_size, _) = r
        .latest_checkpoint()?
        .ok_or_else(|| SiteError::Data("the ledger has no checkpoint".into()))?;
    if cp_size != head.size {
        return Err(SiteError::Data(format!(
            "latest checkpoint is for size {cp_size}, the ledger has {} entries",
            head.size
        )));
    }
    let mut rep = TilesReport::default();
    w.write(CHECKPOINT, ledger.checkpoint()?.as_bytes())?;
    let log_key = ledger.authority()?.log_key;
    w.write(VERIFIER_KEY, format!("{log_key}\n").as_bytes())?;
    if let Some(policy) = ledger.published_policy()? {
        w.write(WITNESSES, policy)?;
    }
    // Full tiles: those the append completed, or all of them. Partial tiles:
    // tlog-tiles requires the right edge of every checkpoint the log produced
    // until the full tile exists, and every published inclusion proof carries
    // one of those checkpoints. So an incremental build adds the right edges
    // of the checkpoints signed since, and drops only the partial tiles whose
    // full tile now exists (all of them lie at the last build's right edge).
    let (from, full) = match last {
        Some(l) => {
            for t in tlog::right_edge(l.size) {
                if tlog::full_tile_available(&t, head.size) {
                    for width in 1..tlog::TILE_WIDTH as u16 {
                        let old = Tile { width, ..t };
                        w.drop_file(&format!("{LOG_DIR}/{}", old.path()))?;
                    }
                }
            }
            (l.size, tlog::new_tiles(l.size, head.size))
        }
        None => (0, tlog::tiles_for_size(head.size)),
    };
    let checkpoints = r.checkpoint_sizes_after(from)?;
    let partial = tlog::partial_tiles_to_serve(head.size, checkpoints);
    let tiles = full.into_iter().filter(Tile::is_full).chain(partial);
    for t in tiles {
        let rel = format!("{LOG_DIR}/{}", t.path());
        let start = t.index * tlog::TILE_WIDTH;
        let end = start + t.width as u64;
        if t.data {
            rep.bundles += 1;
        } else {
            rep.tiles += 1;
        }
        if t.is_full() {
            let len = if t.data {
                r.bundle_len(start, end)?
            } else {
                tlog::TILE_WIDTH * 32
            };
            if w.keep(&rel, len)? {
                rep.kept += 1;
                continue;
            }
        }
        let data = if t.data {
            bundle(ledger, &t)?
        } else {
            tlog::read_tile_data(&t, &r)?
        };
        w.write(&rel, data)?;
    }
    rep.blob_rowid = last.map_or(0, |l| l.blob_rowid);
    for (rowid, digest, len) in r.blob_sizes_after(rep.blob_rowid)? {
        rep.blob_rowid = rep.blob_rowid.max(rowid);
        rep.blobs += 1;
        let rel = format!("{BLOBS_DIR}/{}", hex::encode(digest));
        if w.keep(&rel, len)? {
            rep.kept += 1;
            continue;
        }
        let data = r
            .blob(&digest)?
            .ok_or_else(|| SiteError::Data(format!("blob {} vanished", hex::encode(digest))))?;
        w.write(&rel, data)?;
    }
    Ok(rep)
}

fn bundle(ledger: &Ledger, t: &Tile) -> Result<Vec<u8>, SiteError> {
    let start = t.index * tlog::TILE_WIDTH;
    let mut entries = Vec::with_capacity(t.width as usize);
    ledger
        .reader()
        .for_each_entry::<SiteError>(start, start + t.width as u64, |row| {
            entries.push(row.data.to_vec());
            Ok(())
        })?;
    if entries.len() != t.width as usize {
        return Err(SiteError::Data(format!(
            "entry bundle {} needs {} entries, the ledger has {}",
            t.path(),
            t.width,
            entries.len()
        )));
    }
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    Ok(tlog::encode_bundle(&refs)?)
}
