//! Page rendering: building the whole static site of a 2k-entry ledger (every
//! page, proof file, tile and blob), from scratch and again with nothing changed.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use speclog::site::{self, BuildOptions};

fn site_build(c: &mut Criterion) {
    let f = common::Fixture::new(2_000);
    let ledger = f.ledger();
    let out = f.scratch("site");
    let first = site::build(&ledger, &out, &BuildOptions::default()).unwrap();
    let mut g = c.benchmark_group("site");
    g.sample_size(10);
    g.throughput(Throughput::Elements(first.pages));
    g.bench_function("build from scratch, 2k entries", |b| {
        b.iter(|| {
            let dir = f.scratch("fresh");
            site::build(&ledger, &dir, &BuildOptions::default()).unwrap()
        })
    });
    g.bench_function("rebuild, nothing changed", |b| {
        b.iter(|| site::build(&ledger, &out, &BuildOptions::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, site_build);
criterion_main!(benches);
