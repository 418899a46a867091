//! `speclog bench`: the performance benchmark (see docs/PERFORMANCE.md).

use std::path::PathBuf;

use clap::Args;
use speclog::Error;
use speclog::app::bench::{self, Options};

use super::output::Out;

#[derive(Args, Debug)]
#[command(
    after_help = "Generates a synthetic ledger of SIZE entries, measures append, verify, verify --site,\n\
spec release, proofs and the site build, measures the machine's raw limits (Ed25519, SHA-256,\n\
SQLite) and peers (git, Hugo) in the same run, and prints one table.\n\n\
Goal 2's verify rate is judged only at 1M entries and goal 6's rebuild ratio only at 100k, the\n\
sizes they are set at; below that their rows are shown for the record. Exits 1 if a goal judged\n\
at SIZE is missed.\n\n\
Examples:\n  speclog bench --size 10000\n  speclog bench --size 100000 --json > bench.json"
)]
pub struct BenchArgs {
    /// Entries in the generated ledger.
    #[arg(long, default_value_t = 10_000)]
    size: u64,
    /// Work directory, kept afterwards (default: a new temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Timed runs of each per-process measurement (medians are reported).
    #[arg(long, default_value_t = 11)]
    runs: usize,
    /// Machine-readable JSON output.
    #[arg(long)]
    json: bool,
}

pub fn run_bench(a: BenchArgs, out: &mut Out) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|e| Error::Io("current executable".into(), e))?;
    let (dir, remove) = match a.dir {
        Some(d) => (d, false),
        None => (
            std::env::temp_dir().join(format!("speclog-bench-{}", std::process::id())),
            true,
        ),
    };
    let opts = Options {
        size: a.size,
        dir,
        exe,
        runs: a.runs.max(1),
    };
    let r = bench::run(&opts, &|s| eprintln!("bench: {s}"));
    if remove {
        let _ = std::fs::remove_dir_all(&opts.dir);
    }
    let r = r?;
    if a.json {
        out.json(&r)?;
    } else {
        out.raw(&r.table())?;
        let s = &r.sizes;
        out.line(&format!(
            "\nledger: {} bytes for {} entries ({:.0} bytes/entry); site: {} files, {} bytes ({:.0} bytes/entry)",
            s.ledger_bytes, r.size, s.ledger_bytes_per_entry, s.site_files, s.site_bytes, s.site_bytes_per_entry
        ));
        out.line(&format!("{:.1} s in all", r.seconds));
    }
    if !r.pass {
        eprintln!("bench: missed: {}", r.missed.join("; "));
        drop(std::mem::replace(out, Out::stdout()));
        std::process::exit(super::hints::EXIT_VERIFY);
    }
    Ok(())
}
