//! The Merkle tree: stored-hash updates for an append, and inclusion and
//! consistency proofs, in memory and from the SQLite store of a 20k-entry ledger.

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use speclog::tlog::{self, Frontier, MemoryHashes};

fn tree(c: &mut Criterion) {
    let leaves: Vec<tlog::Hash> = (0..100_000u32)
        .map(|i| tlog::leaf_hash(&i.to_be_bytes()))
        .collect();
    let mem = MemoryHashes::from_leaf_hashes(&leaves).unwrap();
    let mut g = c.benchmark_group("tree");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("hash update, 10k leaves appended to 100k", |b| {
        b.iter_batched(
            || Frontier::read(leaves.len() as u64, &mem).unwrap(),
            |mut f| {
                let mut out = Vec::with_capacity(4);
                for l in &leaves[..10_000] {
                    out.clear();
                    f.push(*l, &mut out).unwrap();
                }
                f.root()
            },
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(1));
    let n = leaves.len() as u64;
    g.bench_function("inclusion proof, memory, n=100k", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7919) % n;
            tlog::prove_inclusion(n, i, &mem).unwrap()
        })
    });
    g.bench_function("consistency proof, memory, n=100k", |b| {
        let mut i = 1u64;
        b.iter(|| {
            i = 1 + (i + 7919) % (n - 1);
            tlog::prove_consistency(n, i, &mem).unwrap()
        })
    });
    let f = common::Fixture::new(20_000);
    let ledger = f.ledger();
    let r = ledger.reader();
    let size = r.head().unwrap().size;
    g.bench_function("inclusion proof, SQLite, n=20k", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7919) % size;
            tlog::prove_inclusion(size, i, &r).unwrap()
        })
    });
    g.bench_function("consistency proof, SQLite, n=20k", |b| {
        let mut i = 1u64;
        b.iter(|| {
            i = 1 + (i + 7919) % (size - 1);
            tlog::prove_consistency(size, i, &r).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, tree);
criterion_main!(benches);
