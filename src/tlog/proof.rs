//! Inclusion and consistency proofs (RFC 9162 Sections 2.1.3 and 2.1.4).
//!
//! Proofs are built from stored hashes of complete subtrees, so building one
//! reads O(log n) hashes in a single [`HashReader::read_hashes`] call. The
//! recursions follow the definitions of `PATH` and `SUBPROOF` in RFC 9162
//! and are a port of Go's `tlog.ProveRecord`, `tlog.CheckRecord`,
//! `tlog.ProveTree` and `tlog.CheckTree`. The verifiers accept exactly the
//! proofs that the RFC 9162 Section 2.1.3.2 and 2.1.4.2 algorithms accept:
//! a proof must have exactly the expected number of hashes.

use super::TlogError;
use super::hash::{
    EMPTY_ROOT, Hash, HashCursor, HashReader, NodeId, max_pow2_lt, node_hash, read_checked,
    sub_tree_ids,
};

/// Returns the ids that [`prove_inclusion`] reads for leaf `index` of the
/// tree with `size` leaves, in the order it reads them.
///
/// Walking from the root down to the leaf (RFC 9162 Section 2.1.3.1), each
/// step contributes the complete subtrees (largest first) that make up the
/// sibling range not taken; the lists for deeper steps come first. There are
/// at most 64 ids per step and O(log² size) in all, usually O(log size).
pub fn inclusion_proof_ids(size: u64, index: u64) -> Result<Vec<NodeId>, TlogError> {
    if index >= size {
        return Err(TlogError::InvalidInput("index not in tree"));
    }
    let mut need = Vec::new();
    leaf_proof_ids(0, size, index, &mut need)?;
    Ok(need)
}

/// Go's `leafProofIndex`: ids needed to prove leaf `n` in `[lo, hi)`.
fn leaf_proof_ids(lo: u64, hi: u64, n: u64, need: &mut Vec<NodeId>) -> Result<(), TlogError> {
    if !(lo <= n && n < hi) {
        return Err(TlogError::InvalidInput("leaf outside subtree"));
    }
    if lo + 1 == hi {
        return Ok(());
    }
    let (k, _) = max_pow2_lt(hi - lo);
    if n < lo + k {
        leaf_proof_ids(lo, lo + k, n, need)?;
        sub_tree_ids(lo + k, hi, need)
    } else {
        sub_tree_ids(lo, lo + k, need)?;
        leaf_proof_ids(lo + k, hi, n, need)
    }
}

/// Go's `leafProof`: builds the audit path for leaf `n` in `[lo, hi)`.
fn leaf_proof(
    lo: u64,
    hi: u64,
    n: u64,
    c: &mut HashCursor<'_>,
    out: &mut Vec<Hash>,
) -> Result<(), TlogError> {
    if !(lo <= n && n < hi) {
        return Err(TlogError::InvalidInput("leaf outside subtree"));
    }
    if lo + 1 == hi {
        // The verifier knows the leaf hash, so it is not part of the proof.
        return Ok(());
    }
    let (k, _) = max_pow2_lt(hi - lo);
    if n < lo + k {
        leaf_proof(lo, lo + k, n, c, out)?;
        out.push(c.sub_tree_hash(lo + k, hi)?);
    } else {
        let th = c.sub_tree_hash(lo, lo + k)?;
        leaf_proof(lo + k, hi, n, c, out)?;
        out.push(th);
    }
    Ok(())
}

/// Returns the inclusion proof (audit path) for leaf `index` in the tree with
/// `size` leaves (RFC 9162 Section 2.1.3.1), ordered from the leaf's sibling
/// up to the root's child.
///
/// It reads exactly the ids of [`inclusion_proof_ids`]`(size, index)` in one
/// [`HashReader::read_hashes`] call (none for a tree of size 1). It fails
/// with [`TlogError::InvalidInput`] if `index >= size`.
pub fn prove_inclusion(size: u64, index: u64, r: &impl HashReader) -> Result<Vec<Hash>, TlogError> {
    let ids = inclusion_proof_ids(size, index)?;
    let hashes = read_checked(r, &ids)?;
    let mut c = HashCursor::new(&hashes);
    let mut out = Vec::new();
    leaf_proof(0, size, index, &mut c, &mut out)?;
    if !c.is_empty() {
        return Err(TlogError::InvalidInput("unused hashes"));
    }
    Ok(out)
}

/// Verifies that `proof` shows that leaf `index`, with leaf hash `leaf`, is in
/// the tree with `size` leaves and root `root` (RFC 9162 Section 2.1.3.2).
///
/// It fails with [`TlogError::InvalidInput`] if `index >= size` and with
/// [`TlogError::InvalidProof`] if the proof has the wrong length or does not
/// lead to `root`.
pub fn verify_inclusion(
    proof: &[Hash],
    size: u64,
    root: &Hash,
    index: u64,
    leaf: &Hash,
) -> Result<(), TlogError> {
    if index >= size {
        return Err(TlogError::InvalidInput("index not in tree"));
    }
    if proof.len() > 64 {
        return Err(TlogError::InvalidProof);
    }
    let computed = run_inclusion_proof(proof, 0, size, index, leaf)?;
    if computed == *root {
        Ok(())
    } else {
        Err(TlogError::InvalidProof)
    }
}

/// Go's `runRecordProof`: the root of `[lo, hi)` implied by `proof` and the
/// leaf hash of leaf `n`. The last hash of `proof` is the one nearest the root.
fn run_inclusion_proof(
    proof: &[Hash],
    lo: u64,
    hi: u64,
    n: u64,
    leaf: &Hash,
) -> Result<Hash, TlogError> {
    if !(lo <= n && n < hi) {
        return Err(TlogError::InvalidProof);
    }
    if lo + 1 == hi {
        // Reached the leaf: the proof must not have unneeded hashes.
        return if proof.is_empty() {
            Ok(*leaf)
        } else {
            Err(TlogError::InvalidProof)
        };
    }
    let (last, rest) = proof.split_last().ok_or(TlogError::InvalidProof)?;
    let (k, _) = max_pow2_lt(hi - lo);
    if n < lo + k {
        let th = run_inclusion_proof(rest, lo, lo + k, n, leaf)?;
        Ok(node_hash(&th, last))
    } else {
        let th = run_inclusion_proof(rest, lo + k, hi, n, leaf)?;
        Ok(node_hash(last, &th))
    }
}

/// Returns the ids that [`prove_consistency`] reads to prove that the tree of
/// `old_size` leaves is a prefix of the tree of `new_size` leaves, in the
/// order it reads them (RFC 9162 Section 2.1.4.1, Go's `treeProofIndex`).
///
/// The list is empty when `old_size` is 0 or equal to `new_size`.
pub fn consistency_proof_ids(new_size: u64, old_size: u64) -> Result<Vec<NodeId>, TlogError> {
    if old_size > new_size {
        return Err(TlogError::InvalidInput("old size larger than new size"));
    }
    let mut need = Vec::new();
    if old_size == 0 {
        return Ok(need);
    }
    tree_proof_ids(0, new_size, old_size, &mut need)?;
    Ok(need)
}

/// Go's `treeProofIndex`: ids for the sub-proof of `[lo, hi)` against the old
/// tree of `n` leaves.
fn tree_proof_ids(lo: u64, hi: u64, n: u64, need: &mut Vec<NodeId>) -> Result<(), TlogError> {
    if !(lo < n && n <= hi) {
        return Err(TlogError::InvalidInput("old size outside subtree"));
    }
    if n == hi {
        if lo == 0 {
            return Ok(());
        }
        return sub_tree_ids(lo, hi, need);
    }
    let (k, _) = max_pow2_lt(hi - lo);
    if n <= lo + k {
        tree_proof_ids(lo, lo + k, n, need)?;
        sub_tree_ids(lo + k, hi, need)
    } else {
        sub_tree_ids(lo, lo + k, need)?;
        tree_proof_ids(lo + k, hi, n, need)
    }
}

/// Go's `treeProof`: builds `SUBPROOF(n, D[lo:hi], lo == 0)`.
fn tree_proof(
    lo: u64,
    hi: u64,
    n: u64,
    c: &mut HashCursor<'_>,
    out: &mut Vec<Hash>,
) -> Result<(), TlogError> {
    if !(lo < n && n <= hi) {
        return Err(TlogError::InvalidInput("old size outside subtree"));
    }
    if n == hi {
        if lo != 0 {
            // The old tree's part of this subtree is complete, but the
            // verifier does not know its hash.
            out.push(c.sub_tree_hash(lo, hi)?);
        }
        // Otherwise this subtree is exactly the old tree, whose hash the
        // verifier knows.
        return Ok(());
    }
    let (k, _) = max_pow2_lt(hi - lo);
    if n <= lo + k {
        tree_proof(lo, lo + k, n, c, out)?;
        out.push(c.sub_tree_hash(lo + k, hi)?);
    } else {
        let th = c.sub_tree_hash(lo, lo + k)?;
        tree_proof(lo + k, hi, n, c, out)?;
        out.push(th);
    }
    Ok(())
}

/// Returns the consistency proof that the tree of `old_size` leaves is a
/// prefix of the tree of `new_size` leaves (RFC 9162 Section 2.1.4.1).
///
/// The proof is empty when `old_size` is 0 or equal to `new_size`. It reads
/// exactly the ids of [`consistency_proof_ids`]`(new_size, old_size)` in one
/// [`HashReader::read_hashes`] call. It fails with
/// [`TlogError::InvalidInput`] if `old_size > new_size`.
pub fn prove_consistency(
    new_size: u64,
    old_size: u64,
    r: &impl HashReader,
) -> Result<Vec<Hash>, TlogError> {
    let ids = consistency_proof_ids(new_size, old_size)?;
    if old_size == 0 {
        return Ok(Vec::new());
    }
    let hashes = read_checked(r, &ids)?;
    let mut c = HashCursor::new(&hashes);
    let mut out = Vec::new();
    tree_proof(0, new_size, old_size, &mut c, &mut out)?;
    if !c.is_empty() {
        return Err(TlogError::InvalidInput("unused hashes"));
    }
    Ok(out)
}

/// Verifies that `proof` shows that the tree of `old_size` leaves with root
/// `old_root` is a prefix of the tree of `new_size` leaves with root
/// `new_root` (RFC 9162 Section 2.1.4.2).
///
/// Edge cases: for `old_size == 0` the proof must be empty and `old_root`
/// must be [`EMPTY_ROOT`] (any tree extends the empty tree); for
/// `old_size == new_size` the proof must be empty and the roots equal. It
/// fails with [`TlogError::InvalidInput`] if `old_size > new_size` and with
/// [`TlogError::InvalidProof`] otherwise.
pub fn verify_consistency(
    proof: &[Hash],
    new_size: u64,
    new_root: &Hash,
    old_size: u64,
    old_root: &Hash,
) -> Result<(), TlogError> {
    if old_size > new_size {
        return Err(TlogError::InvalidInput("old size larger than new size"));
    }
    if old_size == 0 {
        return if proof.is_empty() && *old_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(TlogError::InvalidProof)
        };
    }
    if proof.len() > 128 {
        return Err(TlogError::InvalidProof);
    }
    let (old, new) = run_consistency_proof(proof, 0, new_size, old_size, old_root)?;
    if old == *old_root && new == *new_root {
        Ok(())
    } else {
        Err(TlogError::InvalidProof)
    }
}

/// Go's `runTreeProof`: the hashes of `[lo, hi)` in the old and the new tree
/// implied by `proof`, where `old` is the old tree's root.
fn run_consistency_proof(
    proof: &[Hash],
    lo: u64,
    hi: u64,
    n: u64,
    old: &Hash,
) -> Result<(Hash, Hash), TlogError> {
    if !(lo < n && n <= hi) {
        return Err(TlogError::InvalidProof);
    }
    if n == hi {
        if lo == 0 {
            return if proof.is_empty() {
                Ok((*old, *old))
            } else {
                Err(TlogError::InvalidProof)
            };
        }
        return match proof {
            [h] => Ok((*h, *h)),
            _ => Err(TlogError::InvalidProof),
        };
    }
    let (last, rest) = proof.split_last().ok_or(TlogError::InvalidProof)?;
    let (k, _) = max_pow2_lt(hi - lo);
    if n <= lo + k {
        let (oh, th) = run_consistency_proof(rest, lo, lo + k, n, old)?;
        Ok((oh, node_hash(&th, last)))
    } else {
        let (oh, th) = run_consistency_proof(rest, lo + k, hi, n, old)?;
        Ok((node_hash(last, &oh), node_hash(last, &th)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::{MemoryHashes, leaf_hash, tree_hash};
    use super::*;

    fn tree(n: u32) -> (MemoryHashes, Vec<Hash>) {
        let leaves: Vec<Hash> = (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect();
        (MemoryHashes::from_leaf_hashes(&leaves).unwrap(), leaves)
    }

    #[test]
    fn inclusion_every_leaf_small_trees() {
        let (m, leaves) = tree(70);
        for size in 1..=70u64 {
            let root = tree_hash(size, &m).unwrap();
            for index in 0..size {
                let p = prove_inclusion(size, index, &m).unwrap();
                let leaf = &leaves[index as usize];
                verify_inclusion(&p, size, &root, index, leaf).unwrap();
                if index + 1 < size {
                    assert!(verify_inclusion(&p, size, &root, index + 1, leaf).is_err());
                }
            }
        }
    }

    #[test]
    fn consistency_every_pair_small_trees() {
        let (m, _) = tree(40);
        let roots: Vec<Hash> = (0..=40).map(|s| tree_hash(s, &m).unwrap()).collect();
        for new in 0..=40u64 {
            for old in 0..=new {
                let p = prove_consistency(new, old, &m).unwrap();
                verify_consistency(&p, new, &roots[new as usize], old, &roots[old as usize])
                    .unwrap();
                if old > 0 && old < new {
                    assert!(
                        verify_consistency(
                            &p,
                            new,
                            &roots[old as usize],
                            old,
                            &roots[old as usize]
                        )
                        .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (m, leaves) = tree(5);
        let root = tree_hash(5, &m).unwrap();
        assert!(prove_inclusion(5, 5, &m).is_err());
        assert!(prove_inclusion(0, 0, &m).is_err());
        assert!(prove_consistency(4, 5, &m).is_err());
        assert!(verify_inclusion(&[], 0, &root, 0, &leaves[0]).is_err());
        assert!(verify_consistency(&[], 4, &root, 5, &root).is_err());
        // Size 0 only matches the empty root, with an empty proof.
        verify_consistency(&[], 5, &root, 0, &EMPTY_ROOT).unwrap();
        assert!(verify_consistency(&[], 5, &root, 0, &root).is_err());
        assert!(verify_consistency(&[root], 5, &root, 0, &EMPTY_ROOT).is_err());
        // Equal sizes need equal roots and an empty proof.
        verify_consistency(&[], 5, &root, 5, &root).unwrap();
        assert!(verify_consistency(&[root], 5, &root, 5, &root).is_err());
        assert!(verify_consistency(&[], 5, &root, 5, &EMPTY_ROOT).is_err());
        // Overlong proofs are rejected without recursion.
        assert!(verify_inclusion(&[root; 65], 5, &root, 0, &leaves[0]).is_err());
        assert!(verify_consistency(&[root; 200], 5, &root, 3, &root).is_err());
        // Huge sizes do not overflow.
        assert!(verify_inclusion(&[root; 64], u64::MAX, &root, u64::MAX - 1, &root).is_err());
        assert!(verify_consistency(&[root; 64], u64::MAX, &root, u64::MAX - 1, &root).is_err());
    }

    #[test]
    fn proof_ids_are_logarithmic() {
        for (size, index) in [
            (1000u64, 0u64),
            (1000, 999),
            (1 << 20, 12345),
            (u64::MAX, 7),
        ] {
            let ids = inclusion_proof_ids(size, index).unwrap();
            assert!(ids.len() <= 64 * 2, "{size} {index}: {}", ids.len());
        }
        let ids = consistency_proof_ids(1_000_003, 999_999).unwrap();
        assert!(ids.len() <= 128);
        assert_eq!(inclusion_proof_ids(1, 0).unwrap(), vec![]);
        assert_eq!(
            inclusion_proof_ids(7, 0).unwrap(),
            vec![
                NodeId::new(0, 1),
                NodeId::new(1, 1),
                NodeId::new(1, 2),
                NodeId::new(0, 6)
            ]
        );
    }
}
