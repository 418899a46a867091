//! Hashing, stored-hash addressing, appends and tree heads
//! (RFC 9162 Section 2.1.1).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::TlogError;

/// Size in bytes of a SHA-256 hash.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; HASH_SIZE];

/// The root of the empty tree, `SHA-256("")` (RFC 9162 Section 2.1.1:
/// `MTH({}) = HASH()`).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Returns the leaf hash of an entry, `SHA-256(0x00 || entry)`
/// (RFC 9162 Section 2.1.1: `MTH({d[0]}) = HASH(0x00 || d[0])`).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// Returns the hash of an interior node, `SHA-256(0x01 || left || right)`
/// (RFC 9162 Section 2.1.1: `MTH(D_n) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    buf[0] = 0x01;
    buf[1..1 + HASH_SIZE].copy_from_slice(left);
    buf[1 + HASH_SIZE..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// Position of a stored hash in the tree.
///
/// Level 0 holds the leaf hashes. The hash `(level, index)` is the Merkle
/// Tree Hash of the complete subtree covering leaves
/// `[index << level, (index + 1) << level)`. Only hashes of complete
/// subtrees are ever stored; the hashes of the ragged right edge of a tree are
/// recomputed from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height of the subtree: 0 for leaves.
    pub level: u8,
    /// Index of the subtree among the subtrees of the same level, from the left.
    pub index: u64,
}

impl NodeId {
    /// Returns the node at `level` and `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// Returns the half-open range of leaves `[start, end)` covered by this
    /// node, or `None` if the range does not fit in a `u64`.
    pub fn leaf_range(&self) -> Option<(u64, u64)> {
        if self.level >= 64 {
            return None;
        }
        let start = self.index.checked_mul(1u64 << self.level)?;
        let end = self.index.checked_add(1)?.checked_mul(1u64 << self.level)?;
        Some((start, end))
    }

    /// Reports whether this node is a complete subtree of the tree with
    /// `size` leaves (and therefore a hash that is stored for that tree).
    pub fn is_stored_in(&self, size: u64) -> bool {
        matches!(self.leaf_range(), Some((_, end)) if end <= size)
    }
}

/// A source of stored hashes, typically backed by a database, a flat file or
/// memory.
///
/// The functions of this module ask for hashes in batches, in the order in
/// which they use them. Implementations must return exactly one hash per
/// requested id, in the same order, or an error (for example
/// [`TlogError::MissingHash`] or [`TlogError::Storage`]). The same id may be
/// requested more than once in a batch.
pub trait HashReader {
    /// Returns the hashes stored at `ids`, in the same order.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError>;
}

impl<T: HashReader + ?Sized> HashReader for &T {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
        (**self).read_hashes(ids)
    }
}

impl<T: HashReader + ?Sized> HashReader for Box<T> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
        (**self).read_hashes(ids)
    }
}

/// Reads `ids` from `r` and checks that it returned one hash per id.
pub(crate) fn read_checked(r: &impl HashReader, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = r.read_hashes(ids)?;
    if hashes.len() != ids.len() {
        return Err(TlogError::ReaderMismatch {
            got: hashes.len(),
            want: ids.len(),
        });
    }
    Ok(hashes)
}

/// An in-memory store of the hashes of a growing tree, for tests and small
/// logs.
///
/// It keeps every stored hash (about two per leaf) in a `BTreeMap` and tracks
/// the tree size, so [`MemoryHashes::append`] can extend it leaf by leaf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryHashes {
    hashes: BTreeMap<NodeId, Hash>,
    size: u64,
}

impl MemoryHashes {
    /// Returns an empty store (a tree of size 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns a store holding the tree whose leaf hashes are `leaves`.
    pub fn from_leaf_hashes(leaves: &[Hash]) -> Result<Self, TlogError> {
        let mut m = Self::new();
        m.append_batch(leaves)?;
        Ok(m)
    }

    /// Returns the number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the number of stored hashes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Reports whether the store holds no hashes.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Returns the hash stored at `id`, if any.
    pub fn get(&self, id: NodeId) -> Option<&Hash> {
        self.hashes.get(&id)
    }

    /// Stores `hash` at `id`, replacing any previous value, without changing
    /// the tree size. Meant for tests that tamper with a tree.
    pub fn insert(&mut self, id: NodeId, hash: Hash) {
        self.hashes.insert(id, hash);
    }

    /// Appends one leaf (given as its leaf hash) and stores the hashes it
    /// completes.
    pub fn append(&mut self, leaf: Hash) -> Result<(), TlogError> {
        let new = hashes_for_append(self.size, leaf, &*self)?;
        self.hashes.extend(new);
        self.size += 1;
        Ok(())
    }

    /// Appends many leaves (given as leaf hashes) and stores the hashes they
    /// complete.
    pub fn append_batch(&mut self, leaves: &[Hash]) -> Result<(), TlogError> {
        let new = hashes_for_append_batch(self.size, leaves, &*self)?;
        self.hashes.extend(new);
        self.size += leaves.len() as u64;
        Ok(())
    }

    /// Iterates over all stored hashes in `NodeId` order.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &Hash)> {
        self.hashes.iter()
    }
}

impl HashReader for MemoryHashes {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
        ids.iter()
            .map(|id| {
                self.hashes.get(id).copied().ok_or(TlogError::MissingHash {
                    level: id.level,
                    index: id.index,
                })
            })
            .collect()
    }
}

/// Returns the hashes that become stored when the leaf with leaf hash `leaf`
/// is appended as leaf number `n` (0-based) to a tree of size `n`.
///
/// The result starts with `(NodeId { level: 0, index: n }, leaf)` followed by
/// the parent `(l, n >> l)` of every subtree completed by the append, for
/// `l = 1..=m` where `m` is the number of trailing one bits of `n`.
///
/// It reads exactly the `m` left siblings `(l, (n >> l) - 1)` for
/// `l = m-1, ..., 0` (highest level first) in one [`HashReader::read_hashes`]
/// call, and makes no call when `m == 0`. This is Go's
/// `tlog.StoredHashesForRecordHash`.
pub fn hashes_for_append(
    n: u64,
    leaf: Hash,
    r: &impl HashReader,
) -> Result<Vec<(NodeId, Hash)>, TlogError> {
    if n == u64::MAX {
        return Err(TlogError::InvalidInput("tree is full"));
    }
    let m = n.trailing_ones() as u8;
    let ids: Vec<NodeId> = (0..m).rev().map(|l| NodeId::new(l, (n >> l) - 1)).collect();
    let old = read_checked(r, &ids)?;
    let mut out = Vec::with_capacity(1 + usize::from(m));
    let mut h = leaf;
    out.push((NodeId::new(0, n), h));
    // old is ordered highest level first, so walk it backwards.
    for (l, left) in (1..=m).zip(old.iter().rev()) {
        h = node_hash(left, &h);
        out.push((NodeId::new(l, n >> l), h));
    }
    Ok(out)
}

/// Returns the hashes that become stored when the leaves with leaf hashes
/// `leaves` are appended, in order, to a tree of size `n`.
///
/// The result is the concatenation of what [`hashes_for_append`] would return
/// for each leaf in turn. Instead of reading siblings for every leaf, this
/// reads the right edge of the tree of size `n` once — exactly the ids of
/// [`tree_hash_ids`]`(n)`, in one call — and keeps that edge in memory while
/// appending (see [`Frontier`]), so the total work is O(`leaves.len()` + log `n`).
pub fn hashes_for_append_batch(
    n: u64,
    leaves: &[Hash],
    r: &impl HashReader,
) -> Result<Vec<(NodeId, Hash)>, TlogError> {
    if leaves.is_empty() {
        return Ok(Vec::new());
    }
    let count =
        u64::try_from(leaves.len()).map_err(|_| TlogError::InvalidInput("too many leaves"))?;
    if n.checked_add(count).is_none() {
        return Err(TlogError::InvalidInput("tree is full"));
    }
    let mut f = Frontier::read(n, r)?;
    let mut out = Vec::with_capacity(leaves.len() * 2 + 64);
    for leaf in leaves {
        f.push(*leaf, &mut out)?;
    }
    Ok(out)
}

/// The right edge ("frontier") of a growing tree: one complete subtree per set
/// bit `l` of its size, stored at `(l, (size >> l) - 1)`. Appending a leaf
/// completes the subtrees of its trailing one bits; [`Frontier::push`] returns
/// their hashes as they become stored, for streaming appends.
#[derive(Clone, Debug)]
pub struct Frontier {
    size: u64,
    edge: [Option<Hash>; 64],
}

impl Frontier {
    /// The frontier of the tree of `size` leaves, read from `r` in one call
    /// (the ids of [`tree_hash_ids`]`(size)`).
    pub fn read(size: u64, r: &impl HashReader) -> Result<Frontier, TlogError> {
        let ids = tree_hash_ids(size);
        let hashes = read_checked(r, &ids)?;
        let mut edge: [Option<Hash>; 64] = [None; 64];
        for (id, h) in ids.iter().zip(hashes) {
            if let Some(slot) = edge.get_mut(usize::from(id.level)) {
                *slot = Some(h);
            }
        }
        Ok(Frontier { size, edge })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf with hash `leaf` and adds what becomes stored to `out`:
    /// the leaf `(0, size)`, then the parent of every subtree it completes.
    pub fn push(&mut self, leaf: Hash, out: &mut Vec<(NodeId, Hash)>) -> Result<(), TlogError> {
        let i = self.size;
        if i == u64::MAX {
            return Err(TlogError::InvalidInput("tree is full"));
        }
        let mut h = leaf;
        out.push((NodeId::new(0, i), h));
        let m = i.trailing_ones() as u8;
        for l in 0..m {
            let left = self
                .edge
                .get_mut(usize::from(l))
                .and_then(Option::take)
                .ok_or(TlogError::InvalidInput("inconsistent right edge"))?;
            h = node_hash(&left, &h);
            out.push((NodeId::new(l + 1, i >> (l + 1)), h));
        }
        let slot = self
            .edge
            .get_mut(usize::from(m))
            .ok_or(TlogError::InvalidInput("tree is full"))?;
        *slot = Some(h);
        self.size += 1;
        Ok(())
    }

    /// The Merkle Tree Hash of the tree ([`EMPTY_ROOT`] if empty).
    pub fn root(&self) -> Hash {
        self.edge
            .iter()
            .flatten()
            .fold(None::<Hash>, |acc, h| match acc {
                None => Some(*h),
                Some(right) => Some(node_hash(h, &right)),
            })
            .unwrap_or(EMPTY_ROOT)
    }
}

/// Returns the largest power of two `k <= x` and its logarithm, for `x >= 1`.
fn max_pow2_le(x: u64) -> (u64, u8) {
    let l = 63u32.saturating_sub(x.leading_zeros()) as u8;
    (1u64 << l, l)
}

/// Returns the largest power of two `k < x` and its logarithm, for `x >= 2`
/// (RFC 9162 Section 2.1.1: "the largest power of two smaller than n").
/// Like Go's `maxpow2`, it returns `(1, 0)` for `x <= 1`.
pub(crate) fn max_pow2_lt(x: u64) -> (u64, u8) {
    if x <= 1 {
        return (1, 0);
    }
    max_pow2_le(x - 1)
}

/// Appends to `need` the ids of the complete subtrees that make up the leaf
/// range `[lo, hi)`, largest first (Go's `subTreeIndex`). `lo` must be a
/// multiple of the first subtree's size, which holds for every range produced
/// by the RFC 9162 recursion.
pub(crate) fn sub_tree_ids(mut lo: u64, hi: u64, need: &mut Vec<NodeId>) -> Result<(), TlogError> {
    while lo < hi {
        let (k, level) = max_pow2_le(hi - lo);
        if lo & (k - 1) != 0 {
            return Err(TlogError::InvalidInput("unaligned subtree"));
        }
        need.push(NodeId::new(level, lo >> level));
        lo += k;
    }
    Ok(())
}

/// A cursor over hashes read from a [`HashReader`], consumed in order.
pub(crate) struct HashCursor<'a> {
    hashes: &'a [Hash],
}

impl<'a> HashCursor<'a> {
    pub(crate) fn new(hashes: &'a [Hash]) -> Self {
        Self { hashes }
    }

    fn take(&mut self) -> Result<Hash, TlogError> {
        let (first, rest) = self
            .hashes
            .split_first()
            .ok_or(TlogError::InvalidInput("ran out of hashes"))?;
        self.hashes = rest;
        Ok(*first)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Computes the hash of the leaf range `[lo, hi)` from the hashes of its
    /// complete subtrees, as listed by [`sub_tree_ids`] (Go's `subTreeHash`).
    pub(crate) fn sub_tree_hash(&mut self, lo: u64, hi: u64) -> Result<Hash, TlogError> {
        let mut parts = Vec::new();
        let mut l = lo;
        while l < hi {
            let (k, _) = max_pow2_le(hi - l);
            parts.push(self.take()?);
            l += k;
        }
        let mut iter = parts.into_iter().rev();
        let mut h = iter
            .next()
            .ok_or(TlogError::InvalidInput("empty subtree range"))?;
        for left in iter {
            h = node_hash(&left, &h);
        }
        Ok(h)
    }
}

/// Returns the ids that [`tree_hash`] reads for a tree of `size` leaves: one
/// complete subtree `(l, (size >> l) - 1)` per set bit `l` of `size`, highest
/// level first. This is also the right edge of the tree.
pub fn tree_hash_ids(size: u64) -> Vec<NodeId> {
    (0..64u8)
        .rev()
        .filter(|l| size >> l & 1 == 1)
        .map(|l| NodeId::new(l, (size >> l) - 1))
        .collect()
}

/// Returns the Merkle Tree Hash of the tree with `size` leaves
/// (RFC 9162 Section 2.1.1), or [`EMPTY_ROOT`] for size 0.
///
/// It reads exactly the ids of [`tree_hash_ids`]`(size)` (at most 64, one per
/// set bit of `size`) in one [`HashReader::read_hashes`] call, and folds them
/// right to left with [`node_hash`]. This is Go's `tlog.TreeHash`, except
/// that the empty tree hashes to `SHA-256("")` as RFC 9162 requires.
pub fn tree_hash(size: u64, r: &impl HashReader) -> Result<Hash, TlogError> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let ids = tree_hash_ids(size);
    let hashes = read_checked(r, &ids)?;
    let mut c = HashCursor::new(&hashes);
    let h = c.sub_tree_hash(0, size)?;
    if !c.is_empty() {
        return Err(TlogError::InvalidInput("unused hashes"));
    }
    Ok(h)
}

/// Maps a stored hash position to a dense linear index, the storage order of
/// Go's `tlog.StoredHashIndex`: the hashes are laid out in the order in which
/// appends produce them, so a flat file of hashes only ever grows at the end.
///
/// The mapping is defined for nodes of trees with fewer than 2^62 leaves;
/// outside that range the result wraps and is meaningless.
pub fn stored_hash_index(id: NodeId) -> u64 {
    // Level L's n'th hash is written right after level L+1's 2n+1'th hash.
    let mut n = id.index;
    for _ in 0..id.level {
        n = n.wrapping_mul(2).wrapping_add(1);
    }
    // Level 0's n'th hash is written at n + n/2 + n/4 + ...
    let mut i = 0u64;
    while n > 0 {
        i = i.wrapping_add(n);
        n >>= 1;
    }
    i.wrapping_add(u64::from(id.level))
}

/// Inverse of [`stored_hash_index`] (Go's `tlog.SplitStoredHashIndex`).
pub fn split_stored_hash_index(index: u64) -> NodeId {
    // stored_hash_index(0, n) < 2n, so the record n we want is in
    // [index/2, index/2 + log2(index)].
    let mut n = index / 2;
    let mut index_n = stored_hash_index(NodeId::new(0, n));
    while index_n > index && n > 0 {
        // Cannot happen for valid inputs; keeps the search total.
        n -= 1;
        index_n = stored_hash_index(NodeId::new(0, n));
    }
    loop {
        // Each new record n adds 1 + trailing_zeros(n+1) hashes.
        let x = index_n
            .wrapping_add(1)
            .wrapping_add(u64::from(n.wrapping_add(1).trailing_zeros()));
        if x > index || x <= index_n {
            break;
        }
        n += 1;
        index_n = x;
    }
    let level = (index - index_n) as u8;
    NodeId::new(level, n >> level.min(63))
}

/// Returns the number of stored hashes of a tree with `size` leaves
/// (Go's `tlog.StoredHashCount`).
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let last = size - 1;
    stored_hash_index(NodeId::new(0, last)) + 1 + u64::from(last.trailing_ones())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hash {
        let v = hex::decode(s).unwrap();
        v.try_into().unwrap()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(tree_hash(0, &MemoryHashes::new()).unwrap(), EMPTY_ROOT);
    }

    #[test]
    fn leaf_and_node_hash_vectors() {
        // RFC 6962 leaf hash of the empty entry (transparency-dev/merkle
        // testonly NodeHashes()[0][0]) and of entry 0x00.
        assert_eq!(
            leaf_hash(b""),
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        );
        assert_eq!(
            leaf_hash(&[0x00]),
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")
        );
        assert_eq!(
            node_hash(&leaf_hash(b""), &leaf_hash(&[0x00])),
            h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")
        );
    }

    #[test]
    fn append_matches_batch_and_stored_count() {
        let leaves: Vec<Hash> = (0..300u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut one = MemoryHashes::new();
        for (i, l) in leaves.iter().enumerate() {
            one.append(*l).unwrap();
            assert_eq!(one.len() as u64, stored_hash_count(i as u64 + 1));
        }
        // Batches of assorted sizes starting at assorted offsets.
        let mut many = MemoryHashes::new();
        let mut off = 0;
        for chunk in [1usize, 2, 3, 5, 8, 13, 21, 34, 55, 89, 69] {
            many.append_batch(&leaves[off..off + chunk]).unwrap();
            off += chunk;
        }
        assert_eq!(off, 300);
        assert_eq!(one, many);
    }

    #[test]
    fn frontier_root_is_the_tree_hash() {
        let leaves: Vec<Hash> = (0..300u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut out = Vec::new();
        for start in [0usize, 1, 7, 64, 255, 256] {
            let mut mem = MemoryHashes::from_leaf_hashes(&leaves[..start]).unwrap();
            let mut f = Frontier::read(start as u64, &mem).unwrap();
            for (i, l) in leaves.iter().enumerate().skip(start) {
                out.clear();
                f.push(*l, &mut out).unwrap();
                assert_eq!(out, hashes_for_append(i as u64, *l, &mem).unwrap());
                mem.append(*l).unwrap();
                assert_eq!(f.root(), tree_hash(i as u64 + 1, &mem).unwrap());
            }
            assert_eq!(f.size(), 300);
        }
    }

    #[test]
    fn append_reads_only_left_siblings() {
        struct Logging(MemoryHashes, std::cell::RefCell<Vec<NodeId>>);
        impl HashReader for Logging {
            fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
                self.1.borrow_mut().extend_from_slice(ids);
                self.0.read_hashes(ids)
            }
        }
        let leaves: Vec<Hash> = (0..7u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let r = Logging(
            MemoryHashes::from_leaf_hashes(&leaves).unwrap(),
            Default::default(),
        );
        let out = hashes_for_append(7, leaf_hash(b"x"), &r).unwrap();
        assert_eq!(
            *r.1.borrow(),
            vec![NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]
        );
        let ids: Vec<NodeId> = out.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            vec![
                NodeId::new(0, 7),
                NodeId::new(1, 3),
                NodeId::new(2, 1),
                NodeId::new(3, 0)
            ]
        );
        r.1.borrow_mut().clear();
        tree_hash(7, &r).unwrap();
        assert_eq!(
            *r.1.borrow(),
            vec![NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]
        );
    }

    #[test]
    fn append_rejects_short_reader_and_full_tree() {
        struct Short;
        impl HashReader for Short {
            fn read_hashes(&self, _: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
                Ok(vec![])
            }
        }
        assert_eq!(
            hashes_for_append(1, [0; 32], &Short),
            Err(TlogError::ReaderMismatch { got: 0, want: 1 })
        );
        assert!(hashes_for_append(u64::MAX, [0; 32], &Short).is_err());
        assert!(hashes_for_append_batch(u64::MAX, &[[0; 32]], &Short).is_err());
        assert!(tree_hash(3, &Short).is_err());
        assert!(matches!(
            tree_hash(3, &MemoryHashes::new()),
            Err(TlogError::MissingHash { .. })
        ));
    }

    #[test]
    fn stored_hash_index_round_trip() {
        // Go's TestSplitStoredHashIndex, on the first hashes.
        let mut next = 0u64;
        for n in 0..2000u64 {
            for l in 0..=n.trailing_ones() as u8 {
                let id = NodeId::new(l, n >> l);
                assert_eq!(stored_hash_index(id), next, "{id:?}");
                assert_eq!(split_stored_hash_index(next), id);
                next += 1;
            }
        }
        assert_eq!(stored_hash_count(2000), next);
    }

    #[test]
    fn node_leaf_range() {
        assert_eq!(NodeId::new(3, 2).leaf_range(), Some((16, 24)));
        assert!(NodeId::new(3, 2).is_stored_in(24));
        assert!(!NodeId::new(3, 2).is_stored_in(23));
        assert_eq!(NodeId::new(64, 0).leaf_range(), None);
        assert_eq!(NodeId::new(1, u64::MAX).leaf_range(), None);
    }
}
