//! Cross-module tests: RFC 6962 test vectors, property tests against the
//! RFC 9162 reference verification algorithms, and tile-reader round trips.

use std::collections::HashMap;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// The 8 standard RFC 6962 test leaves (transparency-dev/merkle
/// testonly.LeafInputs).
fn rfc_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex::decode(s).unwrap())
    .collect()
}

/// Roots for sizes 0..=8 (transparency-dev/merkle testonly.RootHashes).
const RFC_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// Stored node hashes by level (transparency-dev/merkle testonly.NodeHashes).
const RFC_NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// Inclusion proofs (transparency-dev/merkle proof/verify_test.go
/// inclusionProofs), as (0-based index, size, proof).
fn rfc_inclusion_proofs() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (0, 1, vec![]),
        (
            0,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            5,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            3,
            vec![h(
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            )],
        ),
        (
            1,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// Consistency proofs (transparency-dev/merkle proof/verify_test.go
/// consistencyProofs), as (old size, new size, proof).
fn rfc_consistency_proofs() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

fn rfc_tree() -> MemoryHashes {
    let leaves: Vec<Hash> = rfc_leaves().iter().map(|l| leaf_hash(l)).collect();
    MemoryHashes::from_leaf_hashes(&leaves).unwrap()
}

#[test]
fn rfc6962_roots_and_nodes() {
    let leaves = rfc_leaves();
    let mut m = MemoryHashes::new();
    assert_eq!(tree_hash(0, &m).unwrap(), h(RFC_ROOTS[0]));
    for (i, leaf) in leaves.iter().enumerate() {
        m.append(leaf_hash(leaf)).unwrap();
        assert_eq!(
            tree_hash(i as u64 + 1, &m).unwrap(),
            h(RFC_ROOTS[i + 1]),
            "size {}",
            i + 1
        );
    }
    for (level, nodes) in RFC_NODES.iter().enumerate() {
        for (index, want) in nodes.iter().enumerate() {
            let id = NodeId::new(level as u8, index as u64);
            assert_eq!(m.get(id), Some(&h(want)), "{id:?}");
        }
    }
    assert_eq!(m.len(), 15);
}

#[test]
fn rfc6962_inclusion_vectors() {
    let m = rfc_tree();
    let leaves = rfc_leaves();
    for (index, size, proof) in rfc_inclusion_proofs() {
        assert_eq!(
            prove_inclusion(size, index, &m).unwrap(),
            proof,
            "{index} {size}"
        );
        let root = h(RFC_ROOTS[size as usize]);
        let leaf = leaf_hash(&leaves[index as usize]);
        verify_inclusion(&proof, size, &root, index, &leaf).unwrap();
        // The corruptions of transparency-dev's corruptInclusionProof.
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (index.wrapping_sub(1), size, root, leaf, proof.clone()),
            (index + 1, size, root, leaf, proof.clone()),
            (index ^ 2, size, root, leaf, proof.clone()),
            (index, size * 2, root, leaf, proof.clone()),
            (index, size / 2, root, leaf, proof.clone()),
            (index, size, root, leaf_hash(b"WrongLeaf"), proof.clone()),
            (index, size, EMPTY_ROOT, leaf, proof.clone()),
            (index, size, some, leaf, proof.clone()),
            (
                index,
                size,
                root,
                leaf,
                [proof.clone(), vec![root]].concat(),
            ),
            (
                index,
                size,
                root,
                leaf,
                [vec![root], proof.clone()].concat(),
            ),
        ];
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i][0] ^= 8;
            probes.push((index, size, root, leaf, p));
        }
        if !proof.is_empty() {
            probes.push((index, size, root, leaf, proof[..proof.len() - 1].to_vec()));
        }
        if proof.len() > 1 {
            let p = [vec![proof[0], some], proof[1..].to_vec()].concat();
            probes.push((index, size, root, leaf, p));
        }
        for (i, s, r, l, p) in probes {
            assert!(
                verify_inclusion(&p, s, &r, i, &l).is_err(),
                "probe {i} {s} accepted"
            );
        }
    }
}

#[test]
fn rfc6962_consistency_vectors() {
    let m = rfc_tree();
    for (old, new, proof) in rfc_consistency_proofs() {
        assert_eq!(
            prove_consistency(new, old, &m).unwrap(),
            proof,
            "{old} {new}"
        );
        let r1 = h(RFC_ROOTS[old as usize]);
        let r2 = h(RFC_ROOTS[new as usize]);
        verify_consistency(&proof, new, &r2, old, &r1).unwrap();
        if proof.is_empty() {
            continue;
        }
        let wrong = leaf_hash(b"WrongRoot");
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (old - 1, new, r1, r2, proof.clone()),
            (old + 1, new, r1, r2, proof.clone()),
            (old ^ 2, new, r1, r2, proof.clone()),
            (old, new * 2, r1, r2, proof.clone()),
            (old, new / 2, r1, r2, proof.clone()),
            (old, new, wrong, r2, proof.clone()),
            (old, new, r1, wrong, proof.clone()),
            (old, new, r2, r1, proof.clone()),
            (old, new, r1, r2, vec![]),
            (old, new, r1, r2, [proof.clone(), vec![r1]].concat()),
            (old, new, r1, r2, [proof.clone(), vec![r2]].concat()),
            (old, new, r1, r2, [vec![r1], proof.clone()].concat()),
            (old, new, r1, r2, [vec![r2], proof.clone()].concat()),
            (old, new, r1, r2, [vec![proof[0]], proof.clone()].concat()),
            (old, new, r1, r2, proof[..proof.len() - 1].to_vec()),
        ];
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i][0] ^= 16;
            probes.push((old, new, r1, r2, p));
        }
        for (o, n, a, b, p) in probes {
            assert!(
                verify_consistency(&p, n, &b, o, &a).is_err(),
                "probe {o} {n} accepted"
            );
        }
    }
}

/// RFC 9162 Section 2.1.3.2, transcribed literally, as an independent
/// reference for `verify_inclusion`.
fn rfc9162_verify_inclusion(
    proof: &[Hash],
    size: u64,
    root: &Hash,
    index: u64,
    leaf: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnn, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fnn & 1 == 1 || fnn == sn {
            r = node_hash(p, &r);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 Section 2.1.4.2, transcribed literally, for `0 < first < second`.
fn rfc9162_verify_consistency(
    proof: &[Hash],
    second: u64,
    second_hash: &Hash,
    first: u64,
    first_hash: &Hash,
) -> bool {
    if proof.is_empty() {
        return false;
    }
    let mut path = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_hash);
    }
    let (mut fnn, mut sn) = (first - 1, second - 1);
    while fnn & 1 == 1 {
        fnn >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fnn & 1 == 1 || fnn == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    fr == *first_hash && sr == *second_hash && sn == 0
}

const BIG: u64 = 3000;

/// A tree of BIG leaves and its roots at every size; smaller trees are its
/// prefixes, since stored hashes never change.
fn big_tree() -> &'static (MemoryHashes, Vec<Hash>, Vec<Hash>) {
    static TREE: OnceLock<(MemoryHashes, Vec<Hash>, Vec<Hash>)> = OnceLock::new();
    TREE.get_or_init(|| {
        let leaves: Vec<Hash> = (0..BIG)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect();
        let m = MemoryHashes::from_leaf_hashes(&leaves).unwrap();
        let roots = (0..=BIG).map(|s| tree_hash(s, &m).unwrap()).collect();
        (m, leaves, roots)
    })
}

fn flip(mut h: Hash, bit: usize) -> Hash {
    h[bit / 8 % 32] ^= 1 << (bit % 8);
    h
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_inclusion_proof_verifies(size in 1..=BIG) {
        let (m, leaves, roots) = big_tree();
        let root = roots[size as usize];
        for index in 0..size {
            let p = prove_inclusion(size, index, m).unwrap();
            prop_assert!(p.len() <= 12);
            prop_assert_eq!(
                verify_inclusion(&p, size, &root, index, &leaves[index as usize]),
                Ok(())
            );
        }
    }

    #[test]
    fn every_consistency_proof_verifies(new in 1..=BIG) {
        let (m, _, roots) = big_tree();
        for old in 0..=new {
            let p = prove_consistency(new, old, m).unwrap();
            prop_assert_eq!(
                verify_consistency(&p, new, &roots[new as usize], old, &roots[old as usize]),
                Ok(())
            );
            if 0 < old && old < new {
                prop_assert!(rfc9162_verify_consistency(
                    &p, new, &roots[new as usize], old, &roots[old as usize]
                ));
            }
        }
    }

    #[test]
    fn tampered_inclusion_proofs_fail(size in 1..=BIG, seed in any::<u64>(), bit in 0usize..256) {
        let (m, leaves, roots) = big_tree();
        let index = seed % size;
        let root = roots[size as usize];
        let leaf = leaves[index as usize];
        let p = prove_inclusion(size, index, m).unwrap();
        prop_assert!(rfc9162_verify_inclusion(&p, size, &root, index, &leaf));
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i] = flip(q[i], bit);
            prop_assert!(verify_inclusion(&q, size, &root, index, &leaf).is_err());
        }
        prop_assert!(verify_inclusion(&p, size, &flip(root, bit), index, &leaf).is_err());
        prop_assert!(verify_inclusion(&p, size, &root, index, &flip(leaf, bit)).is_err());
        prop_assert!(verify_inclusion(&[p.clone(), vec![root]].concat(), size, &root, index, &leaf).is_err());
        if !p.is_empty() {
            prop_assert!(verify_inclusion(&p[1..], size, &root, index, &leaf).is_err());
        }
        // Any other index in the same tree is rejected.
        for other in [index ^ 1, index.wrapping_sub(1), index + 1, index ^ ((seed >> 32) % size), seed % (size + 1)] {
            if other != index {
                prop_assert!(verify_inclusion(&p, size, &root, other, &leaf).is_err());
            }
        }
        // A wrong size is rejected unless the proof has the same shape in the
        // other size, exactly when RFC 9162's algorithm accepts it too.
        for other in [size + 1, size.saturating_sub(1), size * 2, size / 2, seed % (2 * BIG) + 1] {
            if other != size {
                let ours = verify_inclusion(&p, other, &root, index, &leaf).is_ok();
                prop_assert_eq!(ours, rfc9162_verify_inclusion(&p, other, &root, index, &leaf));
                if ours && other <= BIG {
                    prop_assert_eq!(prove_inclusion(other, index, m).unwrap().len(), p.len());
                }
            }
        }
    }

    #[test]
    fn tampered_consistency_proofs_fail(new in 2..=BIG, seed in any::<u64>(), bit in 0usize..256) {
        let (m, _, roots) = big_tree();
        let old = seed % (new - 1) + 1;
        let (r1, r2) = (roots[old as usize], roots[new as usize]);
        let p = prove_consistency(new, old, m).unwrap();
        prop_assert!(!p.is_empty());
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i] = flip(q[i], bit);
            prop_assert!(verify_consistency(&q, new, &r2, old, &r1).is_err());
        }
        prop_assert!(verify_consistency(&p, new, &flip(r2, bit), old, &r1).is_err());
        prop_assert!(verify_consistency(&p, new, &r2, old, &flip(r1, bit)).is_err());
        prop_assert!(verify_consistency(&p, new, &r1, old, &r2).is_err());
        prop_assert!(verify_consistency(&p[1..], new, &r2, old, &r1).is_err());
        prop_assert!(verify_consistency(&[p.clone(), vec![r1]].concat(), new, &r2, old, &r1).is_err());
        prop_assert!(verify_consistency(&[], new, &r2, old, &r1).is_err());
        // Wrong sizes: agree with RFC 9162's algorithm, which can only accept
        // when the proof has the same shape.
        for (o, n) in [(old + 1, new), (old - 1, new), (old, new + 1), (old, new - 1), (old, new * 2), (seed % BIG + 1, new)] {
            if (o, n) != (old, new) && 0 < o && o < n {
                let ours = verify_consistency(&p, n, &r2, o, &r1).is_ok();
                prop_assert_eq!(ours, rfc9162_verify_consistency(&p, n, &r2, o, &r1), "{} {}", o, n);
            }
        }
    }

    #[test]
    fn batch_append_equals_single_appends(splits in proptest::collection::vec(1usize..300, 1..12)) {
        let (m, leaves, _) = big_tree();
        let mut b = MemoryHashes::new();
        let mut off = 0usize;
        for s in splits {
            let end = (off + s).min(leaves.len());
            b.append_batch(&leaves[off..end]).unwrap();
            off = end;
        }
        for (id, hash) in b.iter() {
            prop_assert_eq!(m.get(*id), Some(hash));
        }
        prop_assert_eq!(b.len() as u64, stored_hash_count(off as u64));
    }

    #[test]
    fn tile_reader_matches_direct_reads(size in 1..=BIG, seed in any::<u64>()) {
        let (m, _, roots) = big_tree();
        let tiles: HashMap<Tile, Vec<u8>> = tiles_for_size(size)
            .into_iter()
            .filter(|t| !t.data)
            .map(|t| (t, read_tile_data(&t, m).unwrap()))
            .collect();
        let root = roots[size as usize];
        let r = TileHashReader::new(size, root, &tiles);
        prop_assert_eq!(tree_hash(size, &r).unwrap(), root);
        let index = seed % size;
        prop_assert_eq!(prove_inclusion(size, index, &r).unwrap(), prove_inclusion(size, index, m).unwrap());
        let old = (seed >> 20) % size + 1;
        prop_assert_eq!(prove_consistency(size, old, &r).unwrap(), prove_consistency(size, old, m).unwrap());

        // Corrupt one byte of one tile: anything read through that tile fails.
        let mut keys: Vec<&Tile> = tiles.keys().collect();
        keys.sort();
        let victim = *keys[(seed % keys.len() as u64) as usize];
        let mut bad = tiles.clone();
        let data = bad.get_mut(&victim).unwrap();
        let byte = (seed >> 8) as usize % data.len();
        data[byte] ^= 1 << ((seed >> 40) % 8);
        let hash_index = victim.index * 256 + (byte / 32) as u64;
        let id = NodeId::new(victim.level * 8, hash_index);
        let r = TileHashReader::new(size, root, &bad);
        prop_assert!(matches!(r.read_hashes(&[id]), Err(TlogError::InconsistentTile(_))));
    }
}
