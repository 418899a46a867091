//! Shared setup of the benchmarks: a generated ledger (see `speclog::app::bench::synth`
//! for the mix of entries), built once per benchmark process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use speclog::app::Workspace;
use speclog::app::bench::{Generated, generate};
use speclog::ledger::Ledger;

/// A generated ledger of `size` entries in a temporary directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub generated: Generated,
}

impl Fixture {
    pub fn new(size: u64) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let generated = generate(dir.path(), size, &|_, _| {}).expect("generated ledger");
        Fixture { dir, generated }
    }

    pub fn ledger(&self) -> Ledger {
        Ledger::open(&self.generated.ledger, Default::default()).expect("ledger opens")
    }

    pub fn workspace(&self) -> Workspace {
        Workspace::new(&self.generated.ledger, &self.generated.keys)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The encoded entries `from..to`.
    pub fn entries(&self, from: u64, to: u64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.ledger()
            .reader()
            .for_each_entry::<speclog::Error>(from, to, |r| {
                out.push(r.data.to_vec());
                Ok(())
            })
            .expect("entries");
        out
    }

    /// A fresh directory beside the ledger.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        let _ = std::fs::remove_dir_all(&p);
        p
    }
}
