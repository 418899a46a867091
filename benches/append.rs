//! Appending: a batch of 1,000 realistic entries (signed, checked against the
//! policy and the ledger, stored with their tree hashes, one durable
//! transaction), and one entry on its own.

mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use speclog::app::bench::synth::{ReleaseRef, Synth, link};
use speclog::governance::{Lookup, Payload};
use speclog::ledger::entry::Entry;
use speclog::ledger::{Draft, Signer};

fn append(c: &mut Criterion) {
    let f = common::Fixture::new(5_000);
    let ws = f.workspace();
    let (admin, ops) = (
        ws.load_key("admin").unwrap(),
        ws.load_key("lab-ops").unwrap(),
    );
    let mut ledger = ws.open_write().unwrap();
    // The latest release, for the drafts to refer to.
    let rel = {
        let r = ledger.reader();
        let last = r
            .entries_of_kind("spec.release")
            .unwrap()
            .pop()
            .expect("a release");
        let e = Entry::decode(&last.data).unwrap();
        let Payload::SpecRelease(p) = Payload::decode(&e.kind, &e.payload).unwrap() else {
            unreachable!()
        };
        ReleaseRef {
            link: link(&p.label, last.seq, &last.hash.clone().try_into().unwrap()),
            clauses: r
                .release_clauses(last.seq)
                .unwrap()
                .iter()
                .cloned()
                .collect(),
        }
    };
    let time = "2030-01-01T00:00:00Z";
    // Continue the generated sequence of ids.
    let mut synth = Synth::new();
    let releases = ledger
        .reader()
        .entries_of_kind("spec.release")
        .unwrap()
        .len() as u64;
    for _ in 0..ledger.reader().head().unwrap().size - 3 - releases {
        synth.next(&rel, time);
    }
    let signer = Signer {
        name: "lab-ops",
        key: &ops,
    };
    let mut g = c.benchmark_group("append");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("batch of 1000", |b| {
        b.iter_batched(
            || {
                (0..1_000)
                    .map(|_| synth.next(&rel, time))
                    .collect::<Vec<Draft>>()
            },
            |drafts| ledger.append(&signer, &admin, drafts, Some(time)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("one entry", |b| {
        b.iter_batched(
            || vec![synth.next(&rel, time)],
            |drafts| ledger.append(&signer, &admin, drafts, Some(time)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
