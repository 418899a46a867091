//! Verification: the whole of a 10k-entry ledger (every check `speclog verify`
//! makes), and Ed25519 batch verification of the same entries' signatures
//! (dalek's `verify_batch` of 64, the limit the bench compares with, and the
//! key-grouped batches `verify` uses).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};
use speclog::ledger::batch::{self, Item};
use speclog::ledger::entry::{Entry, SIGNATURE_CONTEXT, signed_message};
use speclog::ledger::verify;

fn verify_ledger(c: &mut Criterion) {
    let f = common::Fixture::new(10_000);
    let ledger = f.ledger();
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("ledger of 10k entries", |b| {
        b.iter(|| verify::verify(&ledger, &|_, _| {}).unwrap())
    });
    let bytes = f.entries(5_000, 6_024);
    let tbs: Vec<&[u8]> = bytes.iter().map(|b| Entry::signed_message(b)).collect();
    let msgs: Vec<Vec<u8>> = tbs.iter().map(|t| signed_message(t)).collect();
    let decoded: Vec<Entry> = bytes.iter().map(|b| Entry::decode(b).unwrap()).collect();
    let sigs: Vec<Signature> = decoded
        .iter()
        .map(|e| Signature::from_bytes(&e.signature))
        .collect();
    let keys: Vec<VerifyingKey> = decoded
        .iter()
        .map(|e| VerifyingKey::from_bytes(&e.signer_key).unwrap())
        .collect();
    g.sample_size(20);
    g.throughput(Throughput::Elements(1_024));
    g.bench_function("dalek verify_batch(64), 1 core", |b| {
        b.iter(|| {
            for ((m, s), k) in msgs.chunks(64).zip(sigs.chunks(64)).zip(keys.chunks(64)) {
                let m: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
                ed25519_dalek::verify_batch(&m, s, k).unwrap();
            }
        })
    });
    let parts: Vec<[&[u8]; 2]> = tbs.iter().map(|t| [SIGNATURE_CONTEXT, *t]).collect();
    for size in [64usize, 512, 1024] {
        g.bench_function(format!("grouped batch({size}), 1 core"), |b| {
            b.iter(|| {
                for i in (0..parts.len()).step_by(size) {
                    let items: Vec<Item> = (i..(i + size).min(parts.len()))
                        .map(|j| Item {
                            msg: &parts[j],
                            sig: &sigs[j],
                            key: &keys[j],
                        })
                        .collect();
                    assert!(batch::verify(&items));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, verify_ledger);
criterion_main!(benches);
