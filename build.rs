//! Fingerprints the source the binary is built from, so that a site built by
//! another build of speclog is rebuilt in full rather than incrementally (see
//! `STATE` in `src/site/mod.rs`): any change to the code, templates or locked
//! dependency versions could change what a page renders to.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let mut all = Vec::new();
    for d in ["src", "templates"] {
        println!("cargo:rerun-if-changed={d}");
        files(Path::new(d), &mut all);
    }
    println!("cargo:rerun-if-changed=Cargo.lock");
    all.push(PathBuf::from("Cargo.lock"));
    all.sort();
    let mut h = DefaultHasher::new();
    for p in &all {
        let bytes = std::fs::read(p).unwrap_or_default();
        h.write(p.to_string_lossy().as_bytes());
        h.write_u64(bytes.len() as u64);
        h.write(&bytes);
    }
    println!("cargo:rustc-env=SPECLOG_SOURCE_HASH={:016x}", h.finish());
}
