//! Entry encoding and signing, decoding, payload decoding and leaf hashing, on
//! realistic entries (evaluation records and incident events of about 930 bytes).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use speclog::governance::Payload;
use speclog::ledger::entry::{Entry, UnsignedEntry, entry_hash};

fn entry(c: &mut Criterion) {
    let f = common::Fixture::new(2_000);
    let bytes = f.entries(1_000, 1_100);
    let decoded: Vec<Entry> = bytes.iter().map(|b| Entry::decode(b).unwrap()).collect();
    let key = f.workspace().load_key("lab-ops").unwrap();
    let mut g = c.benchmark_group("entry");
    g.throughput(Throughput::Elements(bytes.len() as u64));
    g.bench_function("encode+sign", |b| {
        b.iter(|| {
            for e in &decoded {
                let u = UnsignedEntry {
                    seq: e.seq,
                    time: &e.time,
                    kind: &e.kind,
                    prev: e.prev,
                    signer: &e.signer,
                    signer_key: e.signer_key,
                    payload: &e.payload,
                };
                std::hint::black_box(u.sign(&key).unwrap());
            }
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for x in &bytes {
                std::hint::black_box(Entry::decode(x).unwrap());
            }
        })
    });
    g.bench_function("payload decode", |b| {
        b.iter(|| {
            for e in &decoded {
                std::hint::black_box(Payload::decode(&e.kind, &e.payload).unwrap());
            }
        })
    });
    g.bench_function("leaf hash", |b| {
        b.iter(|| {
            for x in &bytes {
                std::hint::black_box(entry_hash(x));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, entry);
criterion_main!(benches);
