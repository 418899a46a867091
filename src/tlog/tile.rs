//! C2SP tlog-tiles: tile coordinates and paths, tile contents, entry bundles
//! and a [`HashReader`] that authenticates published tiles.
//!
//! A tile at level `L` and index `N` lists up to 256 consecutive stored
//! hashes at tree level `8 * L`, starting at hash index `256 * N`
//! (tlog-tiles, "Merkle Tree"). A full tile has 256 hashes; the rightmost
//! tile of each level is usually partial. Entry bundles hold the entries of
//! the level-0 tile with the same index (tlog-tiles, "Log entries").

use std::collections::HashMap;

use super::TlogError;
use super::hash::{
    HASH_SIZE, Hash, HashReader, NodeId, max_pow2_lt, node_hash, read_checked, tree_hash_ids,
};

/// Height of a tile: each tile covers 8 tree levels.
pub const TILE_HEIGHT: u8 = 8;

/// Number of hashes (or entries) in a full tile (or bundle).
pub const TILE_WIDTH: u64 = 256;

/// Largest entry an entry bundle can hold (its length prefix is a `u16`).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Largest tile level allowed in a path (tlog-tiles: "between 0 and 63").
const MAX_PATH_LEVEL: u8 = 63;

/// Coordinates of a tile or an entry bundle.
///
/// For a hash tile (`data == false`), `level` is the tile level `L` and the
/// tile holds hashes at tree level `8 * L`. For an entry bundle
/// (`data == true`), `level` is always 0 and the bundle holds entries
/// `[256 * index, 256 * index + width)`. `width` is between 1 and 256;
/// 256 means a full tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Tile level (0 for entry bundles).
    pub level: u8,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes or entries, 1 to 256.
    pub width: u16,
    /// Whether this is an entry bundle rather than a hash tile.
    pub data: bool,
}

impl Tile {
    /// Returns the hash tile at `level` and `index` with `width` hashes,
    /// checking that `level <= 63` and `1 <= width <= 256`.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TlogError> {
        if level > MAX_PATH_LEVEL {
            return Err(TlogError::InvalidInput("tile level above 63"));
        }
        if width == 0 || u64::from(width) > TILE_WIDTH {
            return Err(TlogError::InvalidInput("tile width not in 1..=256"));
        }
        Ok(Self {
            level,
            index,
            width,
            data: false,
        })
    }

    /// Returns the entry bundle at `index` with `width` entries, checking
    /// that `1 <= width <= 256`.
    pub fn entry_bundle(index: u64, width: u16) -> Result<Self, TlogError> {
        let t = Self::new(0, index, width)?;
        Ok(Self { data: true, ..t })
    }

    /// Reports whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Returns the tree level of the hashes in this hash tile (`8 * level`),
    /// or `None` for levels at which no tree of `u64` size has hashes.
    pub fn hash_level(&self) -> Option<u8> {
        let l = self.level.checked_mul(TILE_HEIGHT)?;
        (l < 64).then_some(l)
    }

    /// Returns the tile's path relative to the log prefix, per tlog-tiles:
    /// `tile/<L>/<N>[.p/<W>]` for hash tiles and `tile/entries/<N>[.p/<W>]`
    /// for entry bundles, where `<N>` is [`index_path`]`(index)` and the
    /// `.p/<W>` suffix is present only for partial tiles.
    ///
    /// Note that unlike Go's `sumdb/tlog` tile paths, there is no height
    /// element (`tile/8/...`).
    pub fn path(&self) -> String {
        let level = if self.data {
            "entries".to_string()
        } else {
            self.level.to_string()
        };
        let mut p = format!("tile/{level}/{}", index_path(self.index));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses a tile path as produced by [`Tile::path`].
    ///
    /// Only canonical paths are accepted: the level is `0`..`63` (or
    /// `entries`) without leading zeros, the index is split into 3-digit
    /// groups with all but the last prefixed by `x` and no leading `x000`
    /// group, and a partial width is `1`..`255` without leading zeros.
    pub fn parse_path(p: &str) -> Result<Tile, TlogError> {
        let bad = || TlogError::MalformedTilePath(p.to_string());
        let rest = p.strip_prefix("tile/").ok_or_else(bad)?;
        let (level_str, rest) = rest.split_once('/').ok_or_else(bad)?;
        let (level, data) = if level_str == "entries" {
            (0, true)
        } else {
            let l = parse_canonical_decimal(level_str).ok_or_else(bad)?;
            let l = u8::try_from(l).map_err(|_| bad())?;
            if l > MAX_PATH_LEVEL {
                return Err(bad());
            }
            (l, false)
        };
        let (index_str, width) = match rest.split_once(".p/") {
            Some((index_str, w)) => {
                let w = parse_canonical_decimal(w).ok_or_else(bad)?;
                if w == 0 || w >= TILE_WIDTH {
                    return Err(bad());
                }
                (index_str, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let mut index: u64 = 0;
        let mut groups = index_str.split('/').peekable();
        while let Some(g) = groups.next() {
            let digits = if groups.peek().is_some() {
                g.strip_prefix('x').ok_or_else(bad)?
            } else {
                g
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let v: u64 = digits.parse().map_err(|_| bad())?;
            index = index
                .checked_mul(1000)
                .and_then(|i| i.checked_add(v))
                .ok_or_else(bad)?;
        }
        let t = Tile {
            level,
            index,
            width,
            data,
        };
        // Rejects non-canonical index encodings such as "x000/001".
        if t.path() != p {
            return Err(bad());
        }
        Ok(t)
    }
}

/// Parses a non-negative decimal with no sign and no leading zeros.
fn parse_canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Encodes a tile index as tlog-tiles path elements: zero-padded 3-digit
/// groups, all but the last prefixed with `x`. For example 1234067 becomes
/// `x001/x234/067` and 0 becomes `000`.
pub fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut n = n / 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// Returns `size >> (8 * level)`, the number of stored hashes at tree level
/// `8 * level`, or 0 when the shift is 64 or more.
fn hashes_at_tile_level(size: u64, level: u8) -> u64 {
    u32::from(level)
        .checked_mul(u32::from(TILE_HEIGHT))
        .and_then(|shift| size.checked_shr(shift))
        .unwrap_or(0)
}

/// Appends the full tiles with indexes `[from, n >> 8)` and, if `n` is not a
/// multiple of 256, the partial tile of width `n % 256`, where `n` is the
/// number of hashes (or entries) at that level.
fn push_level(out: &mut Vec<Tile>, level: u8, data: bool, from: u64, n: u64, partial: bool) {
    for index in from..n / TILE_WIDTH {
        out.push(Tile {
            level,
            index,
            width: TILE_WIDTH as u16,
            data,
        });
    }
    let w = n % TILE_WIDTH;
    if partial && w != 0 {
        out.push(Tile {
            level,
            index: n / TILE_WIDTH,
            width: w as u16,
            data,
        });
    }
}

/// Returns every tile of a tree with `size` leaves: first the entry bundles,
/// then the hash tiles of level 0, 1, and so on; within a level, full tiles
/// in index order followed by the partial tile, if any.
///
/// Per tlog-tiles, level `L` has `floor(size / 256^L)` hashes, so it has
/// tiles exactly when `size >= 256^L`; its partial tile has width
/// `floor(size / 256^L) mod 256` and is omitted when that is 0. For example
/// a tree of size 70000 has 273 full and one 112-wide level-0 tile, one full
/// and one 17-wide level-1 tile, and one 1-wide level-2 tile. The list has
/// about `size / 255` tiles.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    new_tiles(0, size)
}

/// Returns the right edge of a tree with `size` leaves: its partial entry
/// bundle, then the partial hash tile of each level, each only where its
/// width (`floor(size / 256^L) mod 256`) is not 0. With the full tiles, these
/// are what a client needs to use a checkpoint of that size.
pub fn right_edge(size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let bundle = size % TILE_WIDTH;
    if bundle != 0 {
        out.push(Tile {
            level: 0,
            index: size / TILE_WIDTH,
            width: bundle as u16,
            data: true,
        });
    }
    for level in 0..=MAX_PATH_LEVEL {
        let n = hashes_at_tile_level(size, level);
        if n == 0 {
            break;
        }
        if !n.is_multiple_of(TILE_WIDTH) {
            out.push(Tile {
                level,
                index: n / TILE_WIDTH,
                width: (n % TILE_WIDTH) as u16,
                data: false,
            });
        }
    }
    out
}

/// Reports whether a log with `size` leaves has the full tile (or bundle) of
/// which `t` is a prefix, so that it MAY delete `t` (tlog-tiles, "Partial
/// Tiles").
pub fn full_tile_available(t: &Tile, size: u64) -> bool {
    hashes_at_tile_level(size, t.level) / TILE_WIDTH > t.index
}

/// Returns the partial tiles a log with `size` leaves must serve, given the
/// sizes of the checkpoints it has produced (each at most `size`; `size`
/// itself should be one of them), sorted and without repeats.
///
/// tlog-tiles ("Partial Tiles"): logs "MUST serve partial tiles corresponding
/// to tree sizes for which a checkpoint was produced, but MAY delete any
/// partial tile once the corresponding full tile is available". So for each
/// checkpoint this is its [`right_edge`], less the tiles whose full tile
/// exists at `size`. All of them lie on the right edge of `size`, at most 255
/// per level and as many bundles.
pub fn partial_tiles_to_serve(size: u64, checkpoints: impl IntoIterator<Item = u64>) -> Vec<Tile> {
    let mut out = std::collections::BTreeSet::new();
    for s in checkpoints {
        for t in right_edge(s.min(size)) {
            if !full_tile_available(&t, size) {
                out.insert(t);
            }
        }
    }
    out.into_iter().collect()
}

/// Returns the tiles of [`tiles_for_size`]`(new_size)` that are not tiles of
/// [`tiles_for_size`]`(old_size)`: the tiles to publish when the log grows
/// from `old_size` to `new_size`, in the same order (entry bundles first,
/// then hash tiles by level).
///
/// Those are the tiles that became full and, at each level where the number
/// of hashes changed, the new partial tile. Returns an empty list when
/// `old_size >= new_size`. Unlike Go's `tlog.NewTiles`, intermediate partial
/// widths are not listed: tlog-tiles only requires partial tiles for tree
/// sizes that have a checkpoint.
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    if old_size >= new_size {
        return out;
    }
    push_level(&mut out, 0, true, old_size / TILE_WIDTH, new_size, true);
    for level in 0..=MAX_PATH_LEVEL {
        let old_n = hashes_at_tile_level(old_size, level);
        let new_n = hashes_at_tile_level(new_size, level);
        if new_n == 0 {
            break;
        }
        push_level(
            &mut out,
            level,
            false,
            old_n / TILE_WIDTH,
            new_n,
            old_n != new_n,
        );
    }
    out
}

/// Returns the contents of hash tile `t`: its `width` hashes at tree level
/// `8 * t.level`, starting at index `256 * t.index`, concatenated
/// (`32 * width` bytes).
///
/// It reads exactly those `width` hashes, `NodeId { level: 8 * t.level,
/// index: 256 * t.index + i }` for `i` in `0..width`, in one call. It fails
/// with [`TlogError::InvalidInput`] for entry bundles and for levels above 7.
pub fn read_tile_data(t: &Tile, r: &impl HashReader) -> Result<Vec<u8>, TlogError> {
    if t.data {
        return Err(TlogError::InvalidInput(
            "entry bundles hold entries, not hashes",
        ));
    }
    let level = t
        .hash_level()
        .ok_or(TlogError::InvalidInput("tile level too high"))?;
    if t.width == 0 || u64::from(t.width) > TILE_WIDTH {
        return Err(TlogError::InvalidInput("tile width not in 1..=256"));
    }
    let start = t
        .index
        .checked_mul(TILE_WIDTH)
        .and_then(|s| s.checked_add(u64::from(t.width)))
        .and_then(|end| end.checked_sub(u64::from(t.width)))
        .ok_or(TlogError::InvalidInput("tile index too large"))?;
    let ids: Vec<NodeId> = (0..u64::from(t.width))
        .map(|i| NodeId::new(level, start + i))
        .collect();
    let hashes = read_checked(r, &ids)?;
    Ok(hashes.concat())
}

/// Returns the Merkle Tree Hash of the hashes in tile data, treating them as
/// the leaves' hashes of a subtree (RFC 9162 Section 2.1.1 with the tile's
/// hashes in place of leaf hashes).
///
/// For a full tile at level `L` and index `N` this is the stored hash
/// `NodeId { level: 8 * (L + 1), index: N }`. It fails if `data` is empty or
/// not a multiple of 32 bytes.
pub fn tile_hash_of_data(data: &[u8]) -> Result<Hash, TlogError> {
    if data.is_empty() || !data.len().is_multiple_of(HASH_SIZE) {
        return Err(TlogError::InvalidInput("tile data is not a list of hashes"));
    }
    Ok(mth_of_hashes(data))
}

/// MTH over a non-empty, 32-byte aligned list of hashes.
fn mth_of_hashes(data: &[u8]) -> Hash {
    let n = (data.len() / HASH_SIZE) as u64;
    if n <= 1 {
        let mut h = [0u8; HASH_SIZE];
        if let Some(src) = data.get(..HASH_SIZE) {
            h.copy_from_slice(src);
        }
        return h;
    }
    let (k, _) = max_pow2_lt(n);
    let (left, right) = data.split_at(k as usize * HASH_SIZE);
    node_hash(&mth_of_hashes(left), &mth_of_hashes(right))
}

/// Encodes entries as a tlog-tiles entry bundle: each entry as its length in
/// a big-endian `u16` followed by its bytes.
///
/// A bundle holds 1 to 256 entries of at most 65535 bytes each; anything else
/// is an error.
pub fn encode_bundle(entries: &[&[u8]]) -> Result<Vec<u8>, TlogError> {
    if entries.is_empty() {
        return Err(TlogError::MalformedBundle("no entries"));
    }
    if entries.len() as u64 > TILE_WIDTH {
        return Err(TlogError::MalformedBundle("more than 256 entries"));
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| TlogError::EntryTooLarge(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Parses a tlog-tiles entry bundle into its entries, borrowing from `b`.
///
/// It fails on a truncated length prefix or entry, and on bundles with no
/// entries or more than 256. The caller should also check that the number
/// of entries equals the bundle's width.
pub fn parse_bundle(b: &[u8]) -> Result<Vec<&[u8]>, TlogError> {
    let mut out = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        if out.len() as u64 == TILE_WIDTH {
            return Err(TlogError::MalformedBundle("more than 256 entries"));
        }
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(TlogError::MalformedBundle("truncated length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TlogError::MalformedBundle("truncated entry"));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    if out.is_empty() {
        return Err(TlogError::MalformedBundle("no entries"));
    }
    Ok(out)
}

/// A source of published tiles, such as a directory of tiles or an HTTP
/// mirror. Tiles are identified by [`Tile`]; see [`Tile::path`].
pub trait TileSource {
    /// Returns the contents of hash tile `t` (`32 * t.width` bytes).
    /// Implementations report missing or unreadable tiles as
    /// [`TlogError::Storage`].
    fn read_tile(&self, t: &Tile) -> Result<Vec<u8>, TlogError>;
}

impl<T: TileSource + ?Sized> TileSource for &T {
    fn read_tile(&self, t: &Tile) -> Result<Vec<u8>, TlogError> {
        (**self).read_tile(t)
    }
}

impl TileSource for HashMap<Tile, Vec<u8>> {
    fn read_tile(&self, t: &Tile) -> Result<Vec<u8>, TlogError> {
        self.get(t)
            .cloned()
            .ok_or_else(|| TlogError::Storage(format!("tile {} not found", t.path())))
    }
}

/// Returns the tile holding stored hash `id` with the least width that
/// contains it, and the byte range within the tile data whose hashes
/// combine to `id` (Go's `tileForIndex`).
fn tile_for_node(id: NodeId) -> Result<(Tile, usize, usize), TlogError> {
    let level = id.level / TILE_HEIGHT;
    let k = id.level % TILE_HEIGHT;
    // Index, at tree level 8 * level, of the first hash under id.
    let pos = id
        .index
        .checked_mul(1u64 << k)
        .ok_or(TlogError::InvalidInput("hash index too large"))?;
    let index = pos / TILE_WIDTH;
    let within = pos % TILE_WIDTH;
    let width = within + (1u64 << k);
    let t = Tile {
        level,
        index,
        width: width as u16,
        data: false,
    };
    Ok((t, within as usize * HASH_SIZE, width as usize * HASH_SIZE))
}

/// Returns the `k`-th ancestor of tile `t` as it appears in a tree of `size`
/// leaves (full, or partial at the right edge), or `None` if that tree has
/// no such tile (Go's `tileParent`).
fn tile_parent(t: Tile, k: u8, size: u64) -> Option<Tile> {
    let level = t.level.checked_add(k)?;
    let shift = u32::from(k) * u32::from(TILE_HEIGHT);
    let index = t.index.checked_shr(shift).unwrap_or(0);
    let max = hashes_at_tile_level(size, level);
    let start = index.checked_mul(TILE_WIDTH)?;
    if start >= max {
        return None;
    }
    let width = (max - start).min(TILE_WIDTH) as u16;
    Some(Tile {
        level,
        index,
        width,
        data: false,
    })
}

/// Returns stored hash `id` from the data of tile `t`, which must be the
/// tile holding `id` (at least as wide as needed) (Go's `HashFromTile`).
fn hash_from_tile(t: &Tile, data: &[u8], id: NodeId) -> Result<Hash, TlogError> {
    let (t1, start, end) = tile_for_node(id)?;
    if t.level != t1.level || t.index != t1.index || t.width < t1.width {
        return Err(TlogError::InvalidInput("hash is not in tile"));
    }
    let part = data
        .get(start..end)
        .ok_or_else(|| TlogError::MalformedTile {
            path: t.path(),
            reason: "too short",
        })?;
    tile_hash_of_data(part)
}

/// A [`HashReader`] that serves the stored hashes of a tree of known size and
/// root from published tiles, authenticating every tile it uses.
///
/// This is a port of Go's `tlog.TileHashReader`. For each
/// [`HashReader::read_hashes`] call it fetches the right-edge tiles needed to
/// recompute the root (one per tile level with a partial tile) plus the
/// tiles holding the requested hashes and their ancestors, recomputes the
/// root from the right-edge tiles and checks it against the trusted root,
/// then checks every other tile against the hash stored for it in its
/// (already authenticated) parent tile. Any mismatch is reported as
/// [`TlogError::InconsistentTile`], and a tile of the wrong length as
/// [`TlogError::MalformedTile`], so hashes it returns are proven to belong to
/// the tree. Tiles are fetched again for every call; a caching
/// [`TileSource`] avoids repeated reads.
///
/// Unlike the Go original (as of x/mod v0.7.0), every tile that is not a
/// right-edge tile is checked against its parent, even when several
/// right-edge hashes share one tile.
#[derive(Clone, Debug)]
pub struct TileHashReader<S: TileSource> {
    size: u64,
    root: Hash,
    source: S,
}

impl<S: TileSource> TileHashReader<S> {
    /// Returns a reader for the tree with `size` leaves and root `root`
    /// (taken from a verified checkpoint), reading tiles from `source`.
    pub fn new(size: u64, root: Hash, source: S) -> Self {
        Self { size, root, source }
    }

    /// Returns the tree size this reader authenticates against.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the root this reader authenticates against.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// Returns the tile source.
    pub fn source(&self) -> &S {
        &self.source
    }
}

impl<S: TileSource> HashReader for TileHashReader<S> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.size;
        let lost = TlogError::InvalidInput("tile math failed");

        // Plan to fetch the tiles needed to recompute the tree hash. If it
        // matches the trusted root, those tiles are authenticated.
        let mut tiles: Vec<Tile> = Vec::new();
        let mut order: HashMap<Tile, usize> = HashMap::new();
        let stx = tree_hash_ids(size);
        let mut stx_tile = Vec::with_capacity(stx.len());
        for x in &stx {
            let (t, _, _) = tile_for_node(*x)?;
            let t = tile_parent(t, 0, size).ok_or(lost.clone())?;
            let j = *order.entry(t).or_insert_with(|| {
                tiles.push(t);
                tiles.len() - 1
            });
            stx_tile.push(j);
        }
        let edge_tiles = tiles.len();

        // Plan to fetch the tiles holding the requested hashes, along with
        // the ancestors needed to authenticate them, parents before children.
        let mut id_tile = Vec::with_capacity(ids.len());
        for id in ids {
            if !id.is_stored_in(size) {
                return Err(TlogError::InvalidInput("hash not in tree"));
            }
            let (t, _, _) = tile_for_node(*id)?;
            let mut k = 0u8;
            loop {
                if k > TILE_HEIGHT {
                    return Err(lost);
                }
                let p = tile_parent(t, k, size).ok_or(lost.clone())?;
                if let Some(&j) = order.get(&p) {
                    if k == 0 {
                        id_tile.push(j);
                    }
                    break;
                }
                k += 1;
            }
            for kk in (0..k).rev() {
                let p = tile_parent(t, kk, size).ok_or(lost.clone())?;
                if !p.is_full() {
                    // Only full tiles have parents.
                    return Err(lost);
                }
                order.insert(p, tiles.len());
                if kk == 0 {
                    id_tile.push(tiles.len());
                }
                tiles.push(p);
            }
        }

        // Fetch all the tile data.
        let mut data = Vec::with_capacity(tiles.len());
        for t in &tiles {
            let d = self.source.read_tile(t)?;
            if d.len() != usize::from(t.width) * HASH_SIZE {
                return Err(TlogError::MalformedTile {
                    path: t.path(),
                    reason: "wrong length",
                });
            }
            data.push(d);
        }
        let tile_data = |j: usize| -> Result<(&Tile, &[u8]), TlogError> {
            match (tiles.get(j), data.get(j)) {
                (Some(t), Some(d)) => Ok((t, d.as_slice())),
                _ => Err(TlogError::InvalidInput("tile math failed")),
            }
        };

        // Authenticate the right-edge tiles against the tree hash.
        let mut th: Option<Hash> = None;
        for (x, &j) in stx.iter().zip(&stx_tile).rev() {
            let (t, d) = tile_data(j)?;
            let h = hash_from_tile(t, d, *x)?;
            th = Some(match th {
                None => h,
                Some(right) => node_hash(&h, &right),
            });
        }
        if th != Some(self.root) {
            let paths: Vec<String> = tiles.iter().take(edge_tiles).map(Tile::path).collect();
            return Err(TlogError::InconsistentTile(paths.join(", ")));
        }

        // Authenticate every other tile against its parent, which comes
        // earlier in the list and so is already authenticated.
        for i in edge_tiles..tiles.len() {
            let (t, d) = tile_data(i)?;
            let p = tile_parent(*t, 1, size).ok_or(lost.clone())?;
            let j = *order.get(&p).ok_or(lost.clone())?;
            if j >= i {
                return Err(lost);
            }
            let (pt, pd) = tile_data(j)?;
            let hash_level = p.hash_level().ok_or(lost.clone())?;
            let want = hash_from_tile(pt, pd, NodeId::new(hash_level, t.index))?;
            if want != tile_hash_of_data(d)? {
                return Err(TlogError::InconsistentTile(t.path()));
            }
        }

        // Pull out the requested hashes.
        ids.iter()
            .zip(&id_tile)
            .map(|(id, &j)| {
                let (t, d) = tile_data(j)?;
                hash_from_tile(t, d, *id)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::{MemoryHashes, leaf_hash, tree_hash};
    use super::super::proof::{prove_consistency, prove_inclusion};
    use super::*;

    #[test]
    fn index_paths() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(67), "067");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(index_path(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    }

    #[test]
    fn tile_paths_from_spec() {
        let t = Tile::new(0, 1234067, 256).unwrap();
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        let t = Tile::new(0, 1234067, 8).unwrap();
        assert_eq!(t.path(), "tile/0/x001/x234/067.p/8");
        let t = Tile::new(2, 0, 1).unwrap();
        assert_eq!(t.path(), "tile/2/000.p/1");
        let t = Tile::entry_bundle(1234067, 256).unwrap();
        assert_eq!(t.path(), "tile/entries/x001/x234/067");
        let t = Tile::entry_bundle(5, 112).unwrap();
        assert_eq!(t.path(), "tile/entries/005.p/112");
        assert!(Tile::new(64, 0, 1).is_err());
        assert!(Tile::new(0, 0, 0).is_err());
        assert!(Tile::new(0, 0, 257).is_err());
    }

    #[test]
    fn parse_path_round_trips() {
        for p in [
            "tile/0/000",
            "tile/0/000.p/1",
            "tile/0/x001/x234/067",
            "tile/0/x001/x234/067.p/8",
            "tile/63/999.p/255",
            "tile/5/x999/999",
            "tile/entries/000.p/7",
            "tile/entries/x001/x234/067",
            "tile/0/x018/x446/x744/x073/x709/x551/615",
        ] {
            let t = Tile::parse_path(p).unwrap();
            assert_eq!(t.path(), p);
        }
        let t = Tile::parse_path("tile/entries/x001/x234/067.p/8").unwrap();
        assert_eq!(
            t,
            Tile {
                level: 0,
                index: 1234067,
                width: 8,
                data: true
            }
        );
    }

    #[test]
    fn parse_path_rejects_malformed() {
        for p in [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "/tile/0/000",
            "tiles/0/000",
            "tile/8/0/000",
            "tile/0/x1000",
            "tile/0/1000",
            "tile/0/x001/1000",
            "tile/0/x01/000",
            "tile/0/01",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/x001",
            "tile/0/001/002",
            "tile/0/x001/x002",
            "tile/0/xx01/000",
            "tile/0/+01",
            "tile/0/-01",
            "tile/0/ 01",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/257",
            "tile/0/000.p/08",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/000.p/8/",
            "tile/0/000.p/8/9",
            "tile/0/x001.p/8/000",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/256/000",
            "tile/-1/000",
            "tile/data/000",
            "tile/entries/000.p/0",
            "tile/../000",
            "tile/0/../000",
            "tile/0/x001/../000",
            "tile/0/./000",
            "tile/0//000",
            "tile/0/000/",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/0/٠٠٠",
        ] {
            assert!(Tile::parse_path(p).is_err(), "{p:?} accepted");
        }
    }

    #[test]
    fn tiles_for_size_follows_spec_examples() {
        let tiles = tiles_for_size(70_000);
        let count = |level: u8, data: bool, full: bool| {
            tiles
                .iter()
                .filter(|t| t.level == level && t.data == data && t.is_full() == full)
                .count()
        };
        assert_eq!(count(0, false, true), 273);
        assert_eq!(count(0, false, false), 1);
        assert_eq!(count(1, false, true), 1);
        assert_eq!(count(1, false, false), 1);
        assert_eq!(count(2, false, false), 1);
        assert_eq!(count(0, true, true), 273);
        assert_eq!(count(0, true, false), 1);
        assert_eq!(tiles.len(), 273 * 2 + 2 + 2 + 1);
        let partial = |level| {
            tiles
                .iter()
                .find(|t| t.level == level && !t.data && !t.is_full())
                .map(|t| (t.index, t.width))
        };
        assert_eq!(partial(0), Some((273, 112)));
        assert_eq!(partial(1), Some((1, 17)));
        assert_eq!(partial(2), Some((0, 1)));

        // "a tree of size 256 will be represented by a full level 0 tile and a
        // partial level 1 tile of width 1" (plus its full entry bundle).
        assert_eq!(
            tiles_for_size(256),
            vec![
                Tile::entry_bundle(0, 256).unwrap(),
                Tile::new(0, 0, 256).unwrap(),
                Tile::new(1, 0, 1).unwrap(),
            ]
        );
        assert_eq!(tiles_for_size(0), vec![]);
        assert_eq!(
            tiles_for_size(1),
            vec![
                Tile::entry_bundle(0, 1).unwrap(),
                Tile::new(0, 0, 1).unwrap()
            ]
        );
        // Completing a 2^56 subtree fills one tile per level below level 7.
        assert_eq!(new_tiles((1 << 56) - 1, 1 << 56).len(), 9);
        assert_eq!(new_tiles(u64::MAX - 1, u64::MAX).len(), 2);
    }

    #[test]
    fn new_tiles_is_set_difference() {
        let sizes = [
            0u64, 1, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, 70000, 131072,
        ];
        for &old in &sizes {
            for &new in &sizes {
                let got = new_tiles(old, new);
                let before = tiles_for_size(old);
                let want: Vec<Tile> = if old >= new {
                    vec![]
                } else {
                    tiles_for_size(new)
                        .into_iter()
                        .filter(|t| !before.contains(t))
                        .collect()
                };
                assert_eq!(got, want, "{old} -> {new}");
            }
        }
    }

    #[test]
    fn right_edge_is_the_partial_tiles_of_a_size() {
        for size in [0u64, 1, 255, 256, 257, 65535, 65536, 70000, 16_777_217] {
            let want: Vec<Tile> = tiles_for_size(size)
                .into_iter()
                .filter(|t| !t.is_full())
                .collect();
            assert_eq!(right_edge(size), want, "{size}");
        }
    }

    #[test]
    fn partial_tiles_to_serve_keeps_every_checkpoints_right_edge() {
        // The spec's example: a tree of 70,000 has a 112-wide level-0 tile.
        // Checkpoints at 69,900 and 70,000 share level-0 tile 273 and level-1
        // tile 1; one at 69,000 has level-0 tile 269, full by 70,000.
        let got = partial_tiles_to_serve(70_000, [69_000, 69_900, 70_000]);
        let want = vec![
            Tile::new(0, 273, 12).unwrap(),
            Tile::entry_bundle(273, 12).unwrap(),
            Tile::new(0, 273, 112).unwrap(),
            Tile::entry_bundle(273, 112).unwrap(),
            Tile::new(1, 1, 13).unwrap(),
            Tile::new(1, 1, 17).unwrap(),
            Tile::new(2, 0, 1).unwrap(),
        ];
        assert_eq!(got, want);
        // Once the full tile exists, its partials may go.
        assert!(full_tile_available(
            &Tile::new(0, 269, 144).unwrap(),
            70_000
        ));
        assert!(!full_tile_available(
            &Tile::new(0, 273, 12).unwrap(),
            70_000
        ));
        assert!(full_tile_available(&Tile::entry_bundle(0, 1).unwrap(), 256));
        assert!(!full_tile_available(&Tile::new(1, 0, 1).unwrap(), 256));
        // One checkpoint per entry: every width of the open tile is served.
        let all = partial_tiles_to_serve(600, 1..=600);
        let level0: Vec<u16> = all
            .iter()
            .filter(|t| t.level == 0 && !t.data)
            .map(|t| t.width)
            .collect();
        assert_eq!(level0, (1..=88).collect::<Vec<u16>>());
        assert!(all.iter().all(|t| !full_tile_available(t, 600)));
    }

    #[test]
    fn bundles_round_trip() {
        let entries: Vec<&[u8]> = vec![b"", b"a", b"hello", &[0u8; 300]];
        let b = encode_bundle(&entries).unwrap();
        assert_eq!(&b[..8], &[0, 0, 0, 1, b'a', 0, 5, b'h']);
        assert_eq!(parse_bundle(&b).unwrap(), entries);
        let big = vec![0u8; 65536];
        assert_eq!(encode_bundle(&[&big]), Err(TlogError::EntryTooLarge(65536)));
        assert!(encode_bundle(&[&big[..65535]]).is_ok());
        assert!(encode_bundle(&[]).is_err());
        let many = vec![&b"x"[..]; 257];
        assert!(encode_bundle(&many).is_err());
        assert_eq!(
            parse_bundle(&encode_bundle(&many[..256]).unwrap())
                .unwrap()
                .len(),
            256
        );
        assert!(parse_bundle(&[]).is_err());
        assert!(parse_bundle(&[0]).is_err());
        assert!(parse_bundle(&[0, 2, b'a']).is_err());
        let mut too_many = encode_bundle(&many[..256]).unwrap();
        too_many.extend_from_slice(&[0, 0]);
        assert!(parse_bundle(&too_many).is_err());
    }

    fn tree(n: u64) -> (MemoryHashes, HashMap<Tile, Vec<u8>>) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let m = MemoryHashes::from_leaf_hashes(&leaves).unwrap();
        let tiles = tiles_for_size(n)
            .into_iter()
            .filter(|t| !t.data)
            .map(|t| {
                let d = read_tile_data(&t, &m).unwrap();
                (t, d)
            })
            .collect();
        (m, tiles)
    }

    #[test]
    fn full_tile_hash_is_stored_hash() {
        let (m, tiles) = tree(600);
        let t = Tile::new(0, 1, 256).unwrap();
        assert_eq!(
            tile_hash_of_data(&tiles[&t]).unwrap(),
            *m.get(NodeId::new(8, 1)).unwrap()
        );
        // The partial level-0 tile of width 88 hashes like a tree of 88 leaves.
        let t = Tile::new(0, 2, 88).unwrap();
        let sub: Vec<Hash> = (512..600u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let sub = MemoryHashes::from_leaf_hashes(&sub).unwrap();
        assert_eq!(
            tile_hash_of_data(&tiles[&t]).unwrap(),
            tree_hash(88, &sub).unwrap()
        );
        assert!(tile_hash_of_data(&[]).is_err());
        assert!(tile_hash_of_data(&[0; 33]).is_err());
        assert!(read_tile_data(&Tile::entry_bundle(0, 1).unwrap(), &m).is_err());
        assert!(read_tile_data(&Tile::new(8, 0, 1).unwrap(), &m).is_err());
        assert!(matches!(
            read_tile_data(&Tile::new(0, 3, 1).unwrap(), &m),
            Err(TlogError::MissingHash { .. })
        ));
    }

    #[test]
    fn tile_reader_serves_proofs() {
        for n in [1u64, 2, 3, 255, 256, 257, 259, 511, 512, 600, 65536 + 300] {
            let (m, tiles) = tree(n);
            let root = tree_hash(n, &m).unwrap();
            let r = TileHashReader::new(n, root, &tiles);
            assert_eq!(tree_hash(n, &r).unwrap(), root);
            for index in [0, n / 3, n / 2, n - 1] {
                assert_eq!(
                    prove_inclusion(n, index, &r).unwrap(),
                    prove_inclusion(n, index, &m).unwrap()
                );
            }
            for old in [1, n / 2, n - 1, n] {
                if old >= 1 {
                    assert_eq!(
                        prove_consistency(n, old, &r).unwrap(),
                        prove_consistency(n, old, &m).unwrap()
                    );
                }
            }
            assert!(r.read_hashes(&[NodeId::new(0, n)]).is_err());
        }
    }

    #[test]
    fn tile_reader_detects_tampering_of_shared_edge_tile_children() {
        // In a tree of 259 leaves two right-edge hashes, (1, 128) and
        // (0, 258), share the partial tile tile/0/001.p/3. Go's
        // TileHashReader then skips authenticating the full tile
        // tile/0/000; this port must not.
        let (m, mut tiles) = tree(259);
        let root = tree_hash(259, &m).unwrap();
        let full = Tile::new(0, 0, 256).unwrap();
        tiles.get_mut(&full).unwrap()[5 * 32] ^= 1;
        let r = TileHashReader::new(259, root, &tiles);
        assert_eq!(
            r.read_hashes(&[NodeId::new(0, 5)]),
            Err(TlogError::InconsistentTile("tile/0/000".into()))
        );
        // Hashes that only need untouched tiles are still served.
        assert_eq!(
            r.read_hashes(&[NodeId::new(0, 258)]).unwrap(),
            vec![*m.get(NodeId::new(0, 258)).unwrap()]
        );
    }

    #[test]
    fn tile_reader_rejects_bad_tiles() {
        let (m, tiles) = tree(70_000);
        let root = tree_hash(70_000, &m).unwrap();
        // Flip one bit in each tile in turn; any hash read through that tile
        // must fail.
        for t in [
            Tile::new(0, 7, 256).unwrap(),
            Tile::new(0, 273, 112).unwrap(),
            Tile::new(1, 0, 256).unwrap(),
            Tile::new(1, 1, 17).unwrap(),
            Tile::new(2, 0, 1).unwrap(),
        ] {
            let mut bad = tiles.clone();
            bad.get_mut(&t).unwrap()[0] ^= 0x80;
            let r = TileHashReader::new(70_000, root, &bad);
            let id = NodeId::new(t.level * 8, t.index * 256);
            assert!(
                matches!(r.read_hashes(&[id]), Err(TlogError::InconsistentTile(_))),
                "{}",
                t.path()
            );
        }
        // Truncated tile.
        let mut bad = tiles.clone();
        bad.get_mut(&Tile::new(0, 7, 256).unwrap()).unwrap().pop();
        let r = TileHashReader::new(70_000, root, &bad);
        assert!(matches!(
            r.read_hashes(&[NodeId::new(0, 7 * 256)]),
            Err(TlogError::MalformedTile { .. })
        ));
        // Missing tile.
        let mut bad = tiles.clone();
        bad.remove(&Tile::new(0, 7, 256).unwrap());
        let r = TileHashReader::new(70_000, root, &bad);
        assert!(matches!(
            r.read_hashes(&[NodeId::new(0, 7 * 256)]),
            Err(TlogError::Storage(_))
        ));
        // Wrong root.
        let r = TileHashReader::new(70_000, [0; 32], &tiles);
        assert!(matches!(
            tree_hash(70_000, &r),
            Err(TlogError::InconsistentTile(_))
        ));
        // Empty tree.
        let r = TileHashReader::new(0, root, &tiles);
        assert!(r.read_hashes(&[NodeId::new(0, 0)]).is_err());
    }
}
