//! `speclog bench`: builds a synthetic ledger of a given size (see [`synth`] for
//! the entry mix), measures speclog's hot paths on it, measures the raw limits
//! of the machine in the same run (Ed25519 signing on one core, batch
//! verification on all cores, SHA-256 of the same entries, SQLite inserts in one
//! transaction) and peers (git, Hugo), and compares each figure with its goal.
//! docs/PERFORMANCE.md describes the goals and shows a measured table.

pub mod proc;
pub mod synth;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ed25519_dalek::{Signer as _, SigningKey};
use rayon::prelude::*;
use serde::Serialize;

use super::{KeySource, Workspace};
use crate::error::Error;
use crate::keys::ADMIN;
use crate::ledger::entry::{self, Entry};
use crate::ledger::{Draft, Ledger, Signer};
use crate::tlog::{self, Hash, HashReader, NodeId, TlogError};
use proc::{ChildStats, run_child, run_measured};
use synth::{ReleaseRef, Synth};

/// Origin of generated ledgers.
pub const ORIGIN: &str = "bench.speclog.example/model-spec";
/// Entries per append in the bulk part (one transaction and one checkpoint each;
/// larger batches amortise the pages of the random-key indexes each one dirties).
pub const BATCH: usize = 50_000;
/// Largest ledger whose full site is built (goal 6 is defined at 100k entries).
pub const SITE_MAX: u64 = 100_000;
/// Entries the primitive limits are measured on.
const SAMPLE: usize = 16_384;
/// Most Markdown pages Hugo builds (its memory grows by about 100 KB a page).
pub const HUGO_MAX: u64 = 50_000;
/// Commits in the git repository that `spec release` is compared with.
pub const GIT_COMMITS: usize = 300;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Entries in the generated ledger.
    pub size: u64,
    /// Work directory (created; must not hold an earlier run).
    pub dir: PathBuf,
    /// The speclog executable, for the measurements of whole processes.
    pub exe: PathBuf,
    /// Timed runs of `spec release`, `git add`+`git commit` and each `prove` command.
    pub runs: usize,
}

/// One line of the result table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub figure: String,
    pub value: f64,
    pub unit: String,
    /// The limit or peer the value is compared with, and what it is.
    pub limit: Option<f64>,
    pub limit_of: String,
    /// value / limit (or limit / value where the goal says so).
    pub ratio: Option<f64>,
    pub goal: String,
    /// None for an informational row.
    pub pass: Option<bool>,
    /// The ledger size the issue sets this goal at (None: every size).
    pub goal_size: Option<u64>,
    /// Whether this row decides the exit status: a goal is judged only at
    /// (or above) its size. Below it, fixed costs that the goal's size
    /// amortises dominate, and the row is shown for the record only.
    pub binding: bool,
}

/// Sizes on disk.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sizes {
    pub ledger_bytes: u64,
    pub ledger_bytes_per_entry: f64,
    pub site_files: u64,
    pub site_bytes: u64,
    pub site_bytes_per_entry: f64,
    pub site_entries: u64,
    pub git_repo_bytes: u64,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub size: u64,
    pub rows: Vec<Row>,
    pub sizes: Sizes,
    pub seconds: f64,
    /// Figures that missed their goal.
    pub missed: Vec<String>,
    pub pass: bool,
}

impl Report {
    /// The table, one row per figure, aligned for a terminal or Markdown.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str("| figure | value | limit or peer | ratio | goal | result |\n");
        out.push_str("|---|---:|---|---:|---|---|\n");
        for r in &self.rows {
            let limit = match r.limit {
                Some(l) => format!("{} {} ({})", num(l), r.unit, r.limit_of),
                None => r.limit_of.clone(),
            };
            // A skipped figure has no value: say so rather than print NaN.
            let value = if r.value.is_nan() {
                "not run".to_string()
            } else {
                format!("{} {}", num(r.value), r.unit)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.figure,
                value,
                limit,
                r.ratio.map(|x| format!("{x:.3}")).unwrap_or_default(),
                r.goal,
                result(r)
            ));
        }
        out
    }
}

/// The size goal 2 is set at ("a 1M-entry ledger"): its throughput ratio is
/// judged only there. Goal 6's rebuild ratio is judged only at [`SITE_MAX`].
const GOAL_2_SIZE: u64 = 1_000_000;

/// The result column: "pass" or "MISS" for a goal judged at this size, and
/// for one set at a larger size the result with that size, in lower case.
fn result(r: &Row) -> String {
    match (r.pass, r.binding) {
        (None, _) => String::new(),
        (Some(true), true) => "pass".into(),
        (Some(false), true) => "MISS".into(),
        (Some(p), false) => format!(
            "{} (goal set at {})",
            if p { "pass" } else { "below" },
            short(r.goal_size.unwrap_or(0))
        ),
    }
}

/// 1000000 as "1M", 100000 as "100k".
fn short(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// A number with at most 3 significant decimals and thousands separators.
fn num(x: f64) -> String {
    if x.abs() >= 1000.0 {
        let s = format!("{:.0}", x);
        let (sign, digits) = s.split_at(if s.starts_with('-') { 1 } else { 0 });
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

fn err(what: impl std::fmt::Display) -> Error {
    Error::input(format!("bench: {what}"), "see docs/PERFORMANCE.md")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Io(path.display().to_string(), e)
}

struct Table {
    rows: Vec<Row>,
    /// The size of the generated ledger.
    size: u64,
}

impl Table {
    fn info(&mut self, figure: &str, value: f64, unit: &str) {
        self.rows.push(Row {
            figure: figure.into(),
            value,
            unit: unit.into(),
            limit: None,
            limit_of: String::new(),
            ratio: None,
            goal: String::new(),
            pass: None,
            goal_size: None,
            binding: false,
        });
    }
    /// A figure that must be at least `min` times its limit.
    fn at_least(&mut self, figure: &str, value: f64, unit: &str, limit: f64, of: &str, min: f64) {
        self.compare(figure, value, unit, limit, of, format!(">= {min}"), |r| {
            r >= min
        });
    }
    /// A figure that must be at most `max` times its limit.
    fn at_most(&mut self, figure: &str, value: f64, unit: &str, limit: f64, of: &str, max: f64) {
        self.compare(figure, value, unit, limit, of, format!("<= {max}"), |r| {
            r <= max
        });
    }
    #[allow(clippy::too_many_arguments)]
    fn compare(
        &mut self,
        figure: &str,
        value: f64,
        unit: &str,
        limit: f64,
        of: &str,
        goal: String,
        met: impl Fn(f64) -> bool,
    ) {
        let ratio = value / limit;
        self.rows.push(Row {
            figure: figure.into(),
            value,
            unit: unit.into(),
            limit: Some(limit),
            limit_of: of.into(),
            ratio: Some(ratio),
            goal,
            pass: Some(met(ratio)),
            goal_size: None,
            binding: true,
        });
    }
    /// Judges the last row only at `size` entries or more. For the ratios
    /// whose fixed costs a small ledger does not amortise (verify's start-up
    /// against a pure signature rate, a rebuild against a short full build).
    fn set_at(&mut self, size: u64) {
        let last = self.rows.last_mut().expect("a row to set");
        last.goal_size = Some(size);
        last.binding = self.size >= size;
    }
    fn skipped(&mut self, figure: &str, why: &str) {
        self.rows.push(Row {
            figure: figure.into(),
            value: f64::NAN,
            unit: String::new(),
            limit: None,
            limit_of: why.into(),
            ratio: None,
            goal: String::new(),
            pass: None,
            goal_size: None,
            binding: false,
        });
    }
}

/// What [`generate`] built.
#[derive(Clone, Debug)]
pub struct Generated {
    pub ledger: PathBuf,
    pub keys: PathBuf,
    /// Entries appended in bulk batches, and the seconds the appends took.
    pub bulk_entries: u64,
    pub bulk_secs: f64,
    /// Seconds the release appends took (one transaction each).
    pub release_secs: Vec<f64>,
    pub size: u64,
}

/// Time of the generated entry number `i` of a batch sequence.
fn time_at(step: u64) -> String {
    let t = jiff::Timestamp::from_second(1_735_689_600 + step as i64 * 60).expect("valid time");
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Builds a ledger of `size` entries (at least 10) in `dir`/ledger with keys in
/// `dir`/keys: see [`synth`] for the mix. Bulk entries go in with
/// [`Ledger::append`] in batches of [`BATCH`]; each batch is one durable
/// transaction. Only the appends are timed, not building the drafts.
pub fn generate(dir: &Path, size: u64, progress: &dyn Fn(u64, u64)) -> Result<Generated, Error> {
    let size = size.max(10);
    let mut ws = Workspace::new(dir.join("ledger"), dir.join("keys"));
    ws.time = Some(time_at(0));
    ws.init(ORIGIN, &KeySource::FILE)?;
    ws.key_generate("policy-team", &["spec-owner".into()], &KeySource::FILE)?;
    ws.key_generate(
        "lab-ops",
        &["evaluator".into(), "incident-responder".into()],
        &KeySource::FILE,
    )?;
    let admin = ws.load_key(ADMIN)?;
    let policy = ws.load_key("policy-team")?;
    let ops = ws.load_key("lab-ops")?;
    let mut ledger = ws.open_write()?;
    let start = ledger.reader().head()?.size;
    let mut synth = Synth::new();
    let mut rel: Option<ReleaseRef> = None;
    let mut releases = 0usize;
    let mut step = 1u64;
    let (mut bulk_entries, mut bulk_secs, mut release_secs) = (0u64, 0f64, Vec::new());
    let per_release = (size - start).div_ceil(synth::RELEASES as u64);
    let mut seq = start;
    while seq < size {
        let time = time_at(step);
        step += 1;
        if releases < synth::RELEASES && seq >= start + releases as u64 * per_release {
            let label = format!("2025-{:02}-01", releases + 1);
            let text = synth::spec_text(releases);
            let mut prev = ws.previous_release(&ledger)?;
            let d = ws.release_draft(
                &ledger,
                text,
                &label,
                None,
                false,
                vec![],
                None,
                None,
                &mut prev,
            )?;
            // The ids the release was given (assigned against the one before).
            let ids: Vec<String> = prev
                .iter()
                .flat_map(|(_, m)| m.clauses.iter().map(|c| c.id.clone()))
                .collect();
            let t = Instant::now();
            let a = ledger.append(
                &Signer {
                    name: "policy-team",
                    key: &policy,
                },
                &admin,
                vec![d],
                Some(&time),
            )?;
            release_secs.push(t.elapsed().as_secs_f64());
            let (s, h) = a.entries[0];
            rel = Some(ReleaseRef {
                link: synth::link(&label, s, &h),
                clauses: ids,
            });
            releases += 1;
            seq += 1;
            continue;
        }
        let next_release = if releases < synth::RELEASES {
            start + releases as u64 * per_release
        } else {
            size
        };
        let n = (next_release.min(size) - seq).min(BATCH as u64) as usize;
        let r = rel.as_ref().expect("a release comes first");
        let drafts: Vec<Draft> = (0..n).map(|_| synth.next(r, &time)).collect();
        let t = Instant::now();
        ledger.append(
            &Signer {
                name: "lab-ops",
                key: &ops,
            },
            &admin,
            drafts,
            Some(&time),
        )?;
        bulk_secs += t.elapsed().as_secs_f64();
        bulk_entries += n as u64;
        seq += n as u64;
        progress(seq, size);
    }
    ledger.store().flush()?;
    Ok(Generated {
        ledger: ws.ledger_dir.clone(),
        keys: dir.join("keys"),
        bulk_entries,
        bulk_secs,
        release_secs,
        size,
    })
}

/// Raw rates of the primitives on the same entries, measured now.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Primitives {
    pub entries: usize,
    pub mean_entry_bytes: f64,
    /// Ed25519 signatures per second on one core.
    pub sign_per_s: f64,
    /// Entries per second through SHA-256 (the leaf hash) on one core.
    pub sha256_per_s: f64,
    pub sha256_mb_per_s: f64,
    /// Entries per second through sign + SHA-256 on one core.
    pub sign_sha_per_s: f64,
    /// Signatures per second through `verify_batch` of 64 on all cores, best
    /// of three runs over the sample (shown for reference).
    pub batch_verify_per_s: f64,
    /// Signatures per second through `verify_batch` of 64 on all cores over
    /// every signature of the ledger, once (goal 2's limit: see
    /// [`batch_verify_all`]).
    pub batch_verify_all_per_s: f64,
    pub cores: usize,
    /// Rows per second inserting the same entries into SQLite (WAL,
    /// synchronous=FULL) in one transaction, commit included.
    pub sqlite_rows_per_s: f64,
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("n > 0"))
}

/// Measures the primitives on (up to [`SAMPLE`]) last entries of the ledger,
/// signing with `key`. Each is the best of three runs.
pub fn primitives(ledger: &Ledger, key: &SigningKey, tmp: &Path) -> Result<Primitives, Error> {
    let size = ledger.reader().head()?.size;
    let from = size.saturating_sub(SAMPLE as u64);
    let mut entries: Vec<Vec<u8>> = Vec::new();
    ledger.reader().for_each_entry::<Error>(from, size, |r| {
        entries.push(r.data.to_vec());
        Ok(())
    })?;
    let n = entries.len();
    let bytes: usize = entries.iter().map(Vec::len).sum();
    let msgs: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| entry::signed_message(Entry::signed_message(e)))
        .collect();
    let (sign_s, sigs) = best_of(3, || msgs.iter().map(|m| key.sign(m)).collect::<Vec<_>>());
    let (sha_s, _) = best_of(3, || {
        entries
            .iter()
            .map(|e| tlog::leaf_hash(e))
            .fold(0u8, |a, h| a ^ h[0])
    });
    let keys = vec![key.verifying_key(); n];
    let (ver_s, ok) = best_of(3, || verify_batches(&msgs, &sigs, &keys));
    if !ok {
        return Err(err("batch verification of the sample failed"));
    }
    let sqlite_s = sqlite_inserts(&entries, tmp)?;
    drop((entries, msgs, sigs));
    let batch_verify_all_per_s = batch_verify_all(ledger)?;
    Ok(Primitives {
        entries: n,
        mean_entry_bytes: bytes as f64 / n as f64,
        sign_per_s: n as f64 / sign_s,
        sha256_per_s: n as f64 / sha_s,
        sha256_mb_per_s: bytes as f64 / sha_s / 1e6,
        sign_sha_per_s: n as f64 / (sign_s + sha_s),
        batch_verify_per_s: n as f64 / ver_s,
        batch_verify_all_per_s,
        cores: rayon::current_num_threads(),
        sqlite_rows_per_s: n as f64 / sqlite_s,
    })
}

/// `verify_batch` of 64 signatures at a time, on all cores: true if all verify.
fn verify_batches(
    msgs: &[Vec<u8>],
    sigs: &[ed25519_dalek::Signature],
    keys: &[ed25519_dalek::VerifyingKey],
) -> bool {
    msgs.par_chunks(64)
        .zip(sigs.par_chunks(64))
        .zip(keys.par_chunks(64))
        .all(|((m, s), k)| {
            let m: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
            ed25519_dalek::verify_batch(&m, s, k).is_ok()
        })
}

/// The rate of `verify_batch` of 64 on all cores over every signature in the
/// ledger, with the entries' own keys: goal 2 compares `speclog verify` with
/// "the batch-verify rate of both cores for the same number of signatures".
/// Entries are read and decoded in chunks of [`SAMPLE`], untimed; only the
/// verification is timed. One pass takes about as long as the verify it is
/// compared with, so both see the same machine (a best of three over a 0.1 s
/// sample catches the machine at its fastest).
fn batch_verify_all(ledger: &Ledger) -> Result<f64, Error> {
    let size = ledger.reader().head()?.size;
    let mut keys: std::collections::HashMap<[u8; 32], ed25519_dalek::VerifyingKey> =
        Default::default();
    let mut secs = 0.0;
    let mut from = 0;
    while from < size {
        let to = (from + SAMPLE as u64).min(size);
        let (mut msgs, mut sigs, mut vks) = (Vec::new(), Vec::new(), Vec::new());
        ledger.reader().for_each_entry::<Error>(from, to, |r| {
            let e =
                Entry::decode_fields(r.data).map_err(|e| err(format!("entry {}: {e}", r.seq)))?;
            let vk = match keys.get(&e.signer_key) {
                Some(k) => *k,
                None => {
                    let k = ed25519_dalek::VerifyingKey::from_bytes(&e.signer_key)
                        .map_err(|e| err(format!("entry {}: {e}", r.seq)))?;
                    keys.insert(e.signer_key, k);
                    k
                }
            };
            msgs.push(entry::signed_message(Entry::signed_message(r.data)));
            sigs.push(ed25519_dalek::Signature::from_bytes(&e.signature));
            vks.push(vk);
            Ok(())
        })?;
        let t = Instant::now();
        let ok = verify_batches(&msgs, &sigs, &vks);
        secs += t.elapsed().as_secs_f64();
        if !ok {
            return Err(err(format!(
                "batch verification of entries {from}..{to} failed"
            )));
        }
        from = to;
    }
    Ok(size as f64 / secs)
}

fn sqlite_inserts(entries: &[Vec<u8>], tmp: &Path) -> Result<f64, Error> {
    let mut best = f64::INFINITY;
    for i in 0..3 {
        let path = tmp.join(format!("sqlite-limit-{i}.db"));
        let secs = crate::ledger::store::sqlite::raw_insert_secs(entries, &path)
            .map_err(|e| err(format!("sqlite: {e}")))?;
        best = best.min(secs);
        for s in ["", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{s}", path.display()));
        }
    }
    Ok(best)
}

/// A [`HashReader`] that counts the stored hashes read.
struct Counting<'a, R> {
    inner: &'a R,
    reads: std::cell::Cell<usize>,
}

impl<R: HashReader> HashReader for Counting<'_, R> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TlogError> {
        self.reads.set(self.reads.get() + ids.len());
        self.inner.read_hashes(ids)
    }
}

/// Runs of `verify` and of `verify --site` whose medians goals 2 and 3 are
/// (fewer if `--runs` asks for fewer).
const VERIFY_ROUNDS: usize = 3;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn speclog(o: &Options, g: &Generated) -> Command {
    let mut c = Command::new(&o.exe);
    c.arg("--ledger")
        .arg(&g.ledger)
        .arg("--keys")
        .arg(&g.keys)
        .env_remove("SPECLOG_TIME")
        .env_remove("SPECLOG_PASSPHRASE");
    c
}

fn checked(what: &str, s: ChildStats) -> Result<ChildStats, Error> {
    if s.code != 0 {
        return Err(err(format!(
            "{what} exited with {}: {}",
            s.code,
            String::from_utf8_lossy(&s.stderr).trim()
        )));
    }
    Ok(s)
}

/// Total size of the regular files under `dir`, and their number.
pub fn tree_size(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    (bytes, files)
}

/// Runs the whole benchmark. `say` reports progress (one line per step).
pub fn run(o: &Options, say: &dyn Fn(&str)) -> Result<Report, Error> {
    let started = Instant::now();
    if o.dir.exists() && fs::read_dir(&o.dir).map_err(io(&o.dir))?.next().is_some() {
        return Err(Error::input(
            format!("bench directory {} is not empty", o.dir.display()),
            "give a new --dir, or remove the old one",
        ));
    }
    fs::create_dir_all(&o.dir).map_err(io(&o.dir))?;
    let mut t = Table {
        rows: Vec::new(),
        size: 0,
    };
    let mut sizes = Sizes::default();

    say(&format!("generating a ledger of {} entries", o.size));
    let g = generate(&o.dir, o.size, &|_, _| {})?;
    let n = g.size;
    t.size = n;
    let ledger = Ledger::open(&g.ledger, Default::default())?;
    let ops = Workspace::new(&g.ledger, &g.keys).load_key("lab-ops")?;
    sizes.ledger_bytes = fs::metadata(Ledger::db_path(&g.ledger))
        .map_err(io(&g.ledger))?
        .len();
    sizes.ledger_bytes_per_entry = sizes.ledger_bytes as f64 / n as f64;

    say("measuring the primitives on the same entries");
    let p = primitives(&ledger, &ops, &o.dir)?;
    t.info("Ed25519 sign, 1 core", p.sign_per_s, "sig/s");
    t.info("SHA-256 of the entries, 1 core", p.sha256_mb_per_s, "MB/s");
    t.info(
        &format!(
            "Ed25519 verify_batch(64), {} cores, best of 3 on {} entries",
            p.cores, p.entries
        ),
        p.batch_verify_per_s,
        "sig/s",
    );
    t.info(
        &format!(
            "Ed25519 verify_batch(64), {} cores, all {n} signatures",
            p.cores
        ),
        p.batch_verify_all_per_s,
        "sig/s",
    );
    t.info(
        "SQLite rows in one transaction",
        p.sqlite_rows_per_s,
        "rows/s",
    );
    t.info("mean entry size", p.mean_entry_bytes, "bytes");

    // Goal 1: bulk append.
    let bulk = g.bulk_entries as f64 / g.bulk_secs;
    t.at_least(
        "1. bulk append, signed and durable",
        bulk,
        "entries/s",
        p.sign_sha_per_s,
        "sign + SHA-256 of the same entries, 1 core",
        0.5,
    );

    // Goal 6 (full build) and the site that goal 3 verifies.
    let site = o.dir.join("site");
    let mut full_build = None;
    if n <= SITE_MAX {
        say("speclog site build (from scratch)");
        settle();
        let b = checked(
            "speclog site build",
            run_measured(speclog(o, &g).args(["site", "build", "--out"]).arg(&site))?,
        )?;
        let pages = parse_pages(&b.stdout)?;
        full_build = Some((b, pages));
    } else {
        say("publishing log/ (tiles, bundles, blobs) for verify --site");
        let mut w = crate::site::Writer::new(&site)?;
        crate::site::tiles::render_tiles(&ledger, &site, &mut w, None)?;
        w.finish()?;
    }
    let (site_bytes, site_files) = tree_size(&site);
    sizes.site_bytes = site_bytes;
    sizes.site_files = site_files;
    sizes.site_entries = n;
    sizes.site_bytes_per_entry = site_bytes as f64 / n as f64;

    // Goals 2 and 3: verify and verify --site of the same ledger, in turns
    // (so both see the machine in the same state), VERIFY_ROUNDS times each,
    // once the site just built is on disk (not while the kernel writes it
    // back). Each figure is the median of its runs; the peak RSS is the
    // largest of verify's.
    let rounds = o.runs.clamp(1, VERIFY_ROUNDS);
    let (mut v_secs, mut vs_secs, mut v_rss) = (Vec::new(), Vec::new(), 0f64);
    for round in 1..=rounds {
        say(&format!(
            "speclog verify and verify --site ({round} of {rounds})"
        ));
        settle();
        let v = checked(
            "speclog verify",
            run_measured(speclog(o, &g).args(["verify", "--json"]))?,
        )?;
        v_secs.push(v.secs);
        v_rss = v_rss.max(v.maxrss_mib);
        settle();
        let vs = checked(
            "speclog verify --site",
            run_child(
                speclog(o, &g)
                    .args(["verify", "--json", "--log-only", "--site"])
                    .arg(&site)
                    .arg("--key")
                    .arg(g.keys.join("admin.pub")),
            )?,
        )?;
        vs_secs.push(vs.secs);
    }
    let (v_secs, vs_secs) = (median(&mut v_secs), median(&mut vs_secs));
    let verify_rate = n as f64 / v_secs;
    t.at_least(
        "2. verify",
        verify_rate,
        "entries/s",
        p.batch_verify_all_per_s,
        "verify_batch(64) of the same signatures, all cores",
        0.7,
    );
    t.set_at(GOAL_2_SIZE);
    t.at_most("2. verify peak RSS", v_rss, "MiB", 64.0, "goal", 1.0);
    t.at_most(
        "3. verify --site --log-only",
        vs_secs,
        "s",
        v_secs,
        "time of goal 2",
        1.5,
    );
    // Goal 3, every page: the full check rebuilds the site from the
    // verified log and compares every file, against the from-scratch build
    // of the same ledger (once: it takes about as long as that build).
    if let Some((b, _)) = &full_build {
        say("speclog verify --site, every file compared");
        settle();
        let full = checked(
            "speclog verify --site",
            run_measured(
                speclog(o, &g)
                    .args(["verify", "--json", "--site"])
                    .arg(&site)
                    .arg("--key")
                    .arg(g.keys.join("admin.pub")),
            )?,
        )?;
        t.at_most(
            "3. verify --site, every file compared",
            full.secs,
            "s",
            b.secs,
            "site build from scratch",
            1.5,
        );
        t.at_most(
            "3. verify --site (every file) peak RSS",
            full.maxrss_mib,
            "MiB",
            256.0,
            "goal, as the site build's",
            1.0,
        );
    }

    // Goal 5: proofs.
    say("inclusion and consistency proofs");
    proofs(o, &g, &ledger, &mut t)?;

    // Goal 4: one spec release as a process, against git add + git commit.
    say("speclog spec release, and git add + git commit");
    let texts: Vec<String> = (0..o.runs)
        .map(|j| synth::spec_text(synth::RELEASES + j))
        .collect();
    let spec_file = o.dir.join("spec.md");
    let mut rel_ms = Vec::new();
    let mut incremental = None;
    for (j, text) in texts.iter().enumerate() {
        fs::write(&spec_file, text).map_err(io(&spec_file))?;
        let s = checked(
            "speclog spec release",
            run_child(
                speclog(o, &g)
                    .args(["spec", "release"])
                    .arg(&spec_file)
                    .args([
                        "--version",
                        &format!("bench-{j}"),
                        "--signer",
                        "policy-team",
                    ]),
            )?,
        )?;
        rel_ms.push(s.secs * 1e3);
        if j == 0 && full_build.is_some() {
            say("speclog site build (after one append)");
            settle();
            incremental = Some(checked(
                "speclog site build",
                run_measured(speclog(o, &g).args(["site", "build", "--out"]).arg(&site))?,
            )?);
        }
    }
    let git_ms = git_peer(&o.dir.join("git"), &texts, &mut sizes)?;
    let rel = median(&mut rel_ms);
    t.at_most(
        "4. spec release, one process, median",
        rel,
        "ms",
        10.0,
        "goal",
        1.0,
    );
    t.at_most(
        "4. spec release vs git add + git commit",
        rel,
        "ms",
        git_ms,
        &format!("git, {GIT_COMMITS}-commit repo, median"),
        1.0,
    );

    // Goal 6: the site against Hugo.
    match (full_build, incremental) {
        (Some((b, pages)), Some(inc)) => {
            // Hugo holds every page in memory (about 100 KB each): above
            // HUGO_MAX pages it builds HUGO_MAX, and its rate is compared.
            let hugo_pages = pages.min(HUGO_MAX);
            say(&format!("hugo, {hugo_pages} Markdown pages"));
            let hugo = hugo_peer(&o.dir.join("hugo"), hugo_pages, &ledger, &settle)?;
            t.at_least(
                &format!("6. site build from scratch, {pages} pages"),
                pages as f64 / b.secs,
                "pages/s",
                hugo_pages as f64 / hugo.secs,
                &format!("Hugo, {hugo_pages} Markdown pages"),
                1.0,
            );
            t.at_most(
                "6. site rebuild after one append",
                inc.secs,
                "s",
                b.secs,
                "full build time",
                0.02,
            );
            t.set_at(SITE_MAX);
            t.at_most(
                "6. site build peak RSS",
                b.maxrss_mib,
                "MiB",
                256.0,
                "goal",
                1.0,
            );
            t.info("Hugo peak RSS", hugo.maxrss_mib, "MiB");
        }
        _ => t.skipped(
            "6. site build",
            &format!("not run above {SITE_MAX} entries (the goal is defined at 100k)"),
        ),
    }

    let missed = missed(&t.rows);
    Ok(Report {
        size: n,
        pass: missed.is_empty(),
        missed,
        rows: t.rows,
        sizes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The figures that decide the exit status and missed their goal.
fn missed(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.binding && r.pass == Some(false))
        .map(|r| r.figure.clone())
        .collect()
}

/// Flushes dirty pages to disk before a timed step, so the write-back of the
/// step before (a ledger of hundreds of MB, a site of many files) does not land
/// in its time. Both speclog's steps and the peers' get this.
fn settle() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

fn parse_pages(stdout: &[u8]) -> Result<u64, Error> {
    // "built DIR from N entries (R releases): P pages, F files, X MiB"
    let s = String::from_utf8_lossy(stdout);
    s.split("): ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| err(format!("cannot read the page count from {s:?}")))
}

fn proofs(o: &Options, g: &Generated, ledger: &Ledger, t: &mut Table) -> Result<(), Error> {
    let reader = ledger.reader();
    let size = reader.head()?.size;
    let counting = Counting {
        inner: &reader,
        reads: std::cell::Cell::new(0),
    };
    let mut rng = synth::Rng::new(7);
    let log2 = 64 - (size - 1).leading_zeros() as u64;
    let (mut inc_us, mut con_us) = (Vec::new(), Vec::new());
    let (mut inc_reads, mut con_reads) = (0usize, 0usize);
    for i in 0..400 {
        let seq = rng.below(size);
        counting.reads.set(0);
        let t0 = Instant::now();
        let proof = tlog::prove_inclusion(size, seq, &counting).map_err(err)?;
        let us = t0.elapsed().as_secs_f64() * 1e6;
        inc_reads = inc_reads.max(counting.reads.get());
        std::hint::black_box(proof);
        let old = 1 + rng.below(size - 1);
        counting.reads.set(0);
        let t0 = Instant::now();
        let proof = tlog::prove_consistency(size, old, &counting).map_err(err)?;
        let cus = t0.elapsed().as_secs_f64() * 1e6;
        con_reads = con_reads.max(counting.reads.get());
        std::hint::black_box(proof);
        if i > 0 {
            inc_us.push(us);
            con_us.push(cus);
        }
    }
    let bound = (2 * log2 + 2) as f64;
    t.at_most(
        "5. inclusion proof, stored hashes read (max)",
        inc_reads as f64,
        "reads",
        bound,
        "2 log2(n) + 2",
        1.0,
    );
    t.at_most(
        "5. consistency proof, stored hashes read (max)",
        con_reads as f64,
        "reads",
        bound,
        "2 log2(n) + 2",
        1.0,
    );
    let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    for (what, v) in [("inclusion", &mut inc_us), ("consistency", &mut con_us)] {
        let worst = max(v);
        t.at_most(
            &format!("5. {what} proof in-process, median of 399"),
            median(v),
            "us",
            1000.0,
            "goal",
            1.0,
        );
        t.info(
            &format!("5. {what} proof in-process, slowest of 399"),
            worst,
            "us",
        );
    }
    let (mut pi, mut pc) = (Vec::new(), Vec::new());
    for _ in 0..o.runs.max(3) {
        let seq = rng.below(size).to_string();
        let s = checked(
            "speclog prove inclusion",
            run_child(speclog(o, g).args(["prove", "inclusion", &seq]))?,
        )?;
        pi.push(s.secs * 1e3);
        let old = (1 + rng.below(size - 1)).to_string();
        let s = checked(
            "speclog prove consistency",
            run_child(speclog(o, g).args(["prove", "consistency", &old]))?,
        )?;
        pc.push(s.secs * 1e3);
    }
    t.at_most(
        "5. prove inclusion, one process, median",
        median(&mut pi),
        "ms",
        10.0,
        "goal",
        1.0,
    );
    t.at_most(
        "5. prove consistency, one process, median",
        median(&mut pc),
        "ms",
        10.0,
        "goal",
        1.0,
    );
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.org")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.org")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir);
    c
}

/// Builds a git repository with [`GIT_COMMITS`] commits of a spec file (each
/// revising it), then times `git add` + `git commit` of each of `texts`;
/// returns the median milliseconds.
fn git_peer(dir: &Path, texts: &[String], sizes: &mut Sizes) -> Result<f64, Error> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    checked("git init", run_child(&mut git(dir, &["init", "-q"]))?)?;
    // The history, through fast-import: one commit per revision of the spec.
    let mut stream = Vec::new();
    let base = synth::spec_text(0);
    for i in 0..GIT_COMMITS {
        let text = format!("{base}\nRevision {i}.\n");
        let msg = format!("Release r{i}");
        stream.extend_from_slice(
            format!(
                "commit refs/heads/main\ncommitter bench <bench@example.org> {} +0000\ndata {}\n{msg}\n",
                1_735_689_600 + i * 3600,
                msg.len(),
            )
            .as_bytes(),
        );
        stream.extend_from_slice(format!("M 644 inline spec.md\ndata {}\n", text.len()).as_bytes());
        stream.extend_from_slice(text.as_bytes());
        stream.extend_from_slice(b"\n");
    }
    let input = dir.join("history.fi");
    fs::write(&input, &stream).map_err(io(&input))?;
    let mut fi = git(dir, &["fast-import", "--quiet"]);
    fi.stdin(fs::File::open(&input).map_err(io(&input))?);
    checked("git fast-import", run_child(&mut fi)?)?;
    fs::remove_file(&input).map_err(io(&input))?;
    checked(
        "git checkout",
        run_child(&mut git(dir, &["checkout", "-q", "-f", "main"]))?,
    )?;
    checked("git gc", run_child(&mut git(dir, &["gc", "-q"]))?)?;
    let mut ms = Vec::new();
    for (j, text) in texts.iter().enumerate() {
        let f = dir.join("spec.md");
        fs::write(&f, text).map_err(io(&f))?;
        let a = checked("git add", run_child(&mut git(dir, &["add", "spec.md"]))?)?;
        let c = checked(
            "git commit",
            run_child(&mut git(
                dir,
                &["commit", "-q", "-m", &format!("Release bench-{j}")],
            ))?,
        )?;
        ms.push((a.secs + c.secs) * 1e3);
    }
    sizes.git_repo_bytes = tree_size(&dir.join(".git")).0;
    Ok(median(&mut ms))
}

/// Writes a Hugo site of `pages` Markdown pages made from the ledger's entries
/// (title, summary, a field table and the payload as a JSON code block, like an
/// entry page) and times `hugo` building it (default configuration, except that
/// code blocks are not syntax-highlighted, as speclog's are not).
fn hugo_peer(
    dir: &Path,
    pages: u64,
    ledger: &Ledger,
    settle: &dyn Fn(),
) -> Result<ChildStats, Error> {
    let content = dir.join("content").join("entries");
    let layouts = dir.join("layouts").join("_default");
    fs::create_dir_all(&content).map_err(io(&content))?;
    fs::create_dir_all(&layouts).map_err(io(&layouts))?;
    let cfg = dir.join("config.toml");
    // Code blocks as plain <pre><code>, like the JSON on speclog's entry pages
    // (Hugo would otherwise colour them, work speclog does not do).
    fs::write(
        &cfg,
        "baseURL = \"https://example.org/\"\ntitle = \"bench\"\n[markup.highlight]\ncodeFences = false\n",
    )
    .map_err(io(&cfg))?;
    let page = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title></head>\
<body><header><nav><a href=\"/\">Home</a> <a href=\"/entries/\">Log</a></nav></header>\
<main><h1>{{ .Title }}</h1><p>{{ .Date.Format \"2006-01-02T15:04:05Z\" }}</p>{{ .Content }}</main></body></html>\n";
    let list = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{{ .Title }}</title></head>\
<body><main><h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul></main></body></html>\n";
    for (name, body) in [("single.html", page), ("list.html", list)] {
        let p = layouts.join(name);
        fs::write(&p, body).map_err(io(&p))?;
    }
    let size = ledger.reader().head()?.size;
    let mut written = 0u64;
    while written < pages {
        let mut err_out = None;
        ledger
            .reader()
            .for_each_entry::<Error>(0, size.min(pages - written), |row| {
                let v = super::EntryView::from_bytes(row.data)?;
                let md = format!(
                    "---\ntitle: \"Entry {n}\"\ndate: {time}\n---\n\n{kind} {subject}, signed by {signer}.\n\n\
| field | value |\n|---|---|\n| seq | {seq} |\n| hash | `{hash}` |\n| prev | `{prev}` |\n| signer key | `{key}` |\n\n\
```json\n{payload}\n```\n",
                    n = written,
                    time = v.time,
                    kind = v.kind,
                    subject = v.subject,
                    signer = v.signer,
                    seq = v.seq,
                    hash = v.hash,
                    prev = v.prev,
                    key = v.signer_key,
                    payload = serde_json::to_string_pretty(&v.payload).unwrap_or_default()
                );
                let p = content.join(format!("e{written}.md"));
                if let Err(e) = fs::write(&p, md) {
                    err_out = Some(Error::Io(p.display().to_string(), e));
                }
                written += 1;
                Ok(())
            })?;
        if let Some(e) = err_out {
            return Err(e);
        }
    }
    settle();
    let hugo = run_measured(
        Command::new("hugo")
            .args(["--quiet", "--source"])
            .arg(dir)
            .arg("--destination")
            .arg(dir.join("public")),
    )
    .map_err(|_| {
        Error::input(
            "bench: cannot run hugo, the peer of goal 6",
            "install it: apt-get install -y hugo (scripts/bench does)",
        )
    })?;
    checked("hugo", hugo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::{Lookup, kinds};

    #[test]
    fn generated_ledger_has_the_mix_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), 1_500, &|_, _| {}).unwrap();
        assert_eq!(g.size, 1_500);
        assert_eq!(g.release_secs.len(), synth::RELEASES);
        let l = Ledger::open(&g.ledger, Default::default()).unwrap();
        let r = l.reader();
        assert_eq!(r.head().unwrap().size, 1_500);
        let evals = Lookup::count(&*r, kinds::EVAL_RECORD).unwrap();
        let incidents = r.count_of_kind("incident.").unwrap();
        assert!((1_150..1_250).contains(&evals), "{evals}");
        assert!((280..310).contains(&incidents), "{incidents}");
        drop(r);
        // Batches signed on a thread of their own verify like any other entries.
        let rep = crate::ledger::verify::verify(&l, &|_, _| {}).unwrap();
        assert_eq!(rep.entries, 1_500);
        assert_eq!(rep.signatures, 1_500);

        // Goal 2's limit verifies every signature, the last chunk's included:
        // one flipped bit in the last entry's signature fails it.
        let rate = batch_verify_all(&l).unwrap();
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
        drop(l);
        let db = Ledger::db_path(&g.ledger);
        let c = rusqlite::Connection::open(&db).unwrap();
        let data: Vec<u8> = c
            .query_row("SELECT data FROM entries WHERE seq = 1499", [], |r| {
                r.get(0)
            })
            .unwrap();
        let mut bad = data.clone();
        *bad.last_mut().unwrap() ^= 1;
        c.execute(
            "UPDATE entries SET data = ?1 WHERE seq = 1499",
            rusqlite::params![bad],
        )
        .unwrap();
        drop(c);
        let l = Ledger::open(&g.ledger, Default::default()).unwrap();
        let e = batch_verify_all(&l).unwrap_err().to_string();
        assert!(e.contains("entries 0..1500"), "{e}");
    }

    #[test]
    fn table_and_numbers() {
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(-1234.0), "-1,234");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(0.5), "0.500");
        assert_eq!(short(1_000_000), "1M");
        assert_eq!(short(100_000), "100k");
        assert_eq!(short(12_345), "12345");
        let mut t = Table {
            rows: Vec::new(),
            size: 10_000,
        };
        t.at_least("a", 60.0, "x/s", 100.0, "limit", 0.5);
        t.at_most("b", 3.0, "ms", 2.0, "peer", 1.0);
        t.skipped("c", "too big");
        // Set at a larger size: shown, but not judged at 10k.
        t.at_least("d", 1.0, "x/s", 2.0, "limit", 0.7);
        t.set_at(1_000_000);
        t.at_least("e", 2.0, "x/s", 2.0, "limit", 0.7);
        t.set_at(1_000_000);
        // Set at this size: judged.
        t.at_least("f", 1.0, "x/s", 2.0, "limit", 0.7);
        t.set_at(10_000);
        assert_eq!(t.rows[0].pass, Some(true));
        assert_eq!(t.rows[1].pass, Some(false));
        assert!(t.rows[0].binding && t.rows[1].binding && !t.rows[2].binding);
        assert!(!t.rows[3].binding && !t.rows[4].binding && t.rows[5].binding);
        assert_eq!(missed(&t.rows), ["b", "f"]);
        let r = Report {
            size: 1,
            rows: t.rows,
            sizes: Sizes::default(),
            seconds: 0.0,
            missed: vec!["b".into()],
            pass: false,
        };
        let table = r.table();
        assert!(
            table.contains("| a | 60.0 x/s | 100.0 x/s (limit) | 0.600 | >= 0.5 | pass |"),
            "{table}"
        );
        assert!(table.contains("MISS"));
        assert!(
            table.contains("| c | not run | too big |  |  |  |"),
            "{table}"
        );
        assert!(!table.contains("NaN"), "{table}");
        assert!(
            table.contains("| 0.500 | >= 0.7 | below (goal set at 1M) |"),
            "{table}"
        );
        assert!(
            table.contains("| 1.000 | >= 0.7 | pass (goal set at 1M) |"),
            "{table}"
        );
        assert!(
            table.contains("| f | 1.000 x/s | 2.000 x/s (limit) | 0.500 | >= 0.7 | MISS |"),
            "{table}"
        );
    }
}
