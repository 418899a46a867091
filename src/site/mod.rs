//! The public transparency site: a static site rendered from the ledger.
//!
//! In the spirit of zola, [`build`] loads the ledger into a [`SiteData`] model
//! once, then runs a flat list of `render_*` steps, one per kind of artifact.
//! Each writes through the [`Writer`], which keeps every path inside the output
//! directory and writes a file only when its bytes changed. The output is a
//! pure function of the ledger: no build times, sorted iteration everywhere,
//! so building the same ledger twice gives byte-identical files.
//!
//! Only this module touches templates (askama, in `templates/`).

mod budget;
mod cache;
mod chart;
pub mod check;
mod diffhtml;
pub mod feed;
pub mod markdown;
pub mod model;
mod pages;
/// The URL scheme moved to [`crate::layout`], shared with the site verifier.
pub use crate::layout as paths;
mod plan;
pub mod serve;
pub mod tiles;
pub mod view;
mod writer;

use std::path::Path;

use thiserror::Error;

use crate::ledger::{Ledger, LedgerError, StoreError};
use crate::tlog::{self, TlogError};

pub use cache::MODEL;
pub use check::{CheckStats, Difference};
pub use model::SiteData;
pub use tiles::TilesReport;
pub use writer::{MANIFEST, WriteStats, Writer};

/// Errors from building or serving the site.
#[derive(Debug, Error)]
pub enum SiteError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("refusing output path {0:?}: it would leave the output directory")]
    Path(String),
    #[error("refusing to write through the symbolic link {0}")]
    Symlink(std::path::PathBuf),
    #[error("two pages want the same path {0:?}")]
    Duplicate(String),
    #[error("rendering {0} failed: {1}")]
    Render(String, String),
    #[error("ledger data cannot be shown: {0}")]
    Data(String),
    #[error("merkle proof: {0}")]
    Tlog(#[from] TlogError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("server: {0}")]
    Serve(String),
    #[error(
        "refusing to build into {0}: it is not empty and no speclog build wrote it (no {MANIFEST} file)"
    )]
    NotASite(std::path::PathBuf),
}

impl From<StoreError> for SiteError {
    fn from(e: StoreError) -> Self {
        SiteError::Ledger(LedgerError::Store(e))
    }
}

/// The site's name when none is configured.
pub const DEFAULT_TITLE: &str = "Model spec transparency log";

/// Options of a build.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The site's name (default: "Model spec transparency log").
    pub title: Option<String>,
    /// Absolute URL the site will be published at (e.g. `https://example.org/spec/`),
    /// used for the Atom feed's links; without it they are relative.
    pub base_url: Option<String>,
    /// How many entries an incremental build may add to the kept model
    /// ([`MODEL`]) it started from before it writes the model again. None:
    /// the default, [`model_refresh`] of the model's size.
    pub model_refresh: Option<u64>,
    /// Build into a non-empty directory that no speclog build wrote (its
    /// files that the site also has are overwritten; no other is removed).
    pub force: bool,
}

/// The default [`BuildOptions::model_refresh`] for a model of `size`
/// entries: a 64th of it, at least 1. Writing the model costs about as much
/// as reading it, while adding an entry to it costs a few microseconds, so
/// most rebuilds of a large site only read it: at 100k entries a model is
/// written again after 1,562 new entries.
pub fn model_refresh(size: u64) -> u64 {
    (size / 64).max(1)
}

/// What a build did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BuildReport {
    /// Entries in the ledger the site shows.
    pub entries: u64,
    /// Spec releases.
    pub releases: usize,
    /// HTML pages in the site.
    pub pages: u64,
    /// Files in the site.
    pub files: u64,
    #[serde(flatten)]
    pub stats: WriteStats,
    pub tiles: TilesReport,
    /// Whether this was an incremental build on top of the last one.
    #[serde(skip)]
    pub incremental: bool,
    /// Whether it started from the last build's model ([`MODEL`]) instead of
    /// reading the whole ledger.
    #[serde(skip)]
    pub kept_model: bool,
}

pub use crate::layout::BUILD_INFO;
use crate::published::BuildInfo;

/// The title a build with `opts` shows.
fn title_of(opts: &BuildOptions) -> String {
    opts.title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TITLE.to_string())
}

/// Builds the site of `ledger` with the options `info` records in memory and
/// compares every file with the site in `dir`, changing nothing there: the
/// result lists each file that differs from what the build gives, is
/// missing, or is there although the build does not write it. A build from
/// scratch, so every file is rendered and compared.
pub fn check(ledger: &Ledger, dir: &Path, info: &BuildInfo) -> Result<CheckStats, SiteError> {
    let opts = &BuildOptions {
        title: Some(info.title.clone()),
        base_url: info.base_url.clone(),
        ..BuildOptions::default()
    };
    let mut w = Writer::checking(dir)?;
    let mut d = SiteData::load(ledger)?;
    d.site_title = title_of(opts);
    render_pages(&d, ledger, &plan::Plan::full(), opts, &mut w)?;
    drop(d);
    tiles::render_tiles(ledger, dir, &mut w, None)?;
    w.finish_check()
}

/// Name of the file in the output directory recording what the last build
/// was built from, so the next one can be incremental. Not a page.
pub const STATE: &str = ".speclog-site-state";

/// Bumped when the state file's own format changes.
const STATE_FORMAT: u32 = 2;

/// A fingerprint of the source, templates and locked dependencies the binary
/// was built from (`build.rs`): a site built by any other build is redone in
/// full, since a change to the rendering code may change any page.
fn source_fingerprint() -> String {
    env!("SPECLOG_SOURCE_HASH").to_string()
}

/// What a build was built from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct State {
    format: u32,
    speclog: String,
    /// [`source_fingerprint`] of the build that rendered the site.
    source: String,
    title: String,
    base_url: Option<String>,
    origin: String,
    log_key: String,
    /// Stored witness cosignature lines (they are part of published checkpoints).
    cosignatures: u64,
    /// The tree the site shows: its size and root (lowercase hex).
    size: u64,
    root: String,
    /// [`TilesReport::blob_rowid`] of the build.
    blob_rowid: i64,
}

impl State {
    /// Everything but the tree (size, root and the last blob published).
    fn same_options(&self, o: &State) -> bool {
        let same_tree = State {
            size: o.size,
            root: o.root.clone(),
            blob_rowid: o.blob_rowid,
            ..self.clone()
        };
        same_tree == *o
    }
}

/// What the model kept in [`MODEL`] is a function of: the speclog build and
/// the tree it was read from.
fn model_header(size: u64, root: &str) -> String {
    format!("{}size {size} root {root}", model_header_prefix())
}

/// What [`model_header`] says of the speclog build.
fn model_header_prefix() -> String {
    format!("format {STATE_FORMAT} source {} ", source_fingerprint())
}

/// The header of the model kept in `out` and the number of entries it holds,
/// if it was made by this speclog build from a tree of at most `size`
/// entries that the ledger extends (the same root at that size).
fn kept_header(ledger: &Ledger, out: &Path, size: u64) -> Result<Option<(u64, String)>, SiteError> {
    let Some(header) = cache::header(out) else {
        return Ok(None);
    };
    let kept = header
        .strip_prefix(&model_header_prefix())
        .and_then(|rest| rest.strip_prefix("size "))
        .and_then(|rest| rest.split_once(" root "))
        .and_then(|(n, _)| n.parse::<u64>().ok());
    let Some(kept) = kept.filter(|&k| k <= size) else {
        return Ok(None);
    };
    let root = hex::encode(tlog::tree_hash(kept, &ledger.reader())?);
    Ok((header == model_header(kept, &root)).then_some((kept, header)))
}

/// What the last build in `out` published, if it can be built on: same
/// options, and the ledger now extends the tree that build showed.
fn last_build(
    ledger: &Ledger,
    out: &std::path::Path,
    now: &State,
) -> Result<Option<State>, SiteError> {
    let Some(old) =
        writer::read_meta(out, STATE).and_then(|t| serde_json::from_str::<State>(&t).ok())
    else {
        return Ok(None);
    };
    if !old.same_options(now) || old.size == 0 || old.size > now.size {
        return Ok(None);
    }
    let root = tlog::tree_hash(old.size, &ledger.reader())?;
    Ok((hex::encode(root) == old.root).then_some(old))
}

/// Whether `out` is a non-empty directory without the manifest a build
/// leaves (then its files are someone else's).
fn foreign(out: &Path) -> bool {
    let Ok(mut rd) = std::fs::read_dir(out) else {
        return false;
    };
    rd.next().is_some() && !std::fs::symlink_metadata(out.join(MANIFEST)).is_ok_and(|m| m.is_file())
}

/// Renders the site for `ledger` into `out`: incrementally if `out` holds a
/// build of the same options whose tree the ledger extends, else in full.
/// Either way the files are the same.
pub fn build(ledger: &Ledger, out: &Path, opts: &BuildOptions) -> Result<BuildReport, SiteError> {
    let title = title_of(opts);
    let head = ledger.reader().head()?;
    let now = State {
        format: STATE_FORMAT,
        speclog: env!("CARGO_PKG_VERSION").to_string(),
        source: source_fingerprint(),
        title: title.clone(),
        base_url: opts.base_url.clone(),
        origin: ledger.origin()?,
        log_key: ledger.authority()?.log_key,
        cosignatures: ledger.reader().count_cosignatures()?,
        size: head.size,
        root: hex::encode(head.root),
        blob_rowid: 0,
    };
    if !opts.force && foreign(out) {
        return Err(SiteError::NotASite(out.to_path_buf()));
    }
    let mut w = Writer::new(out)?;
    let last = last_build(ledger, out, &now)?;
    // A build that stops half-way leaves no state, so the next one is full.
    writer::write_meta(out, STATE, None)?;
    // An incremental build trusts the last build's manifest, and starts from
    // the model kept by it or an earlier build (read meanwhile on another
    // core), if the ledger extends the tree that model was read from; else
    // the whole ledger is read.
    let header = last
        .as_ref()
        .map(|l| kept_header(ledger, out, l.size))
        .transpose()?
        .flatten();
    let (trusted, kept) = std::thread::scope(|s| {
        let reader = header.as_ref().map(|(size, header)| {
            s.spawn(move || {
                cache::read(out, header.as_bytes()).filter(|m| m.items.len() as u64 == *size)
            })
        });
        let trusted = last.is_some() && w.trust_manifest()?;
        let kept = reader.and_then(|r| r.join().ok().flatten());
        Ok::<_, SiteError>((trusted, kept.filter(|_| trusted)))
    })?;
    let last = last.filter(|_| trusted);
    let last = last.map(|l| tiles::Published {
        size: l.size,
        blob_rowid: l.blob_rowid,
    });
    let kept_model = kept.is_some();
    let refresh = match &kept {
        Some(m) => {
            let size = m.items.len() as u64;
            head.size - size >= opts.model_refresh.unwrap_or_else(|| model_refresh(size))
        }
        None => true,
    };
    let mut d = match kept {
        Some(m) => SiteData::extend(ledger, m)?,
        None => SiteData::load(ledger)?,
    };
    d.site_title = title;
    let plan = match last {
        Some(l) => plan::Plan::incremental(&d, l.size),
        None => plan::Plan::full(),
    };
    // The model is kept for the next builds, if due, by another thread while
    // the pages are rendered from it.
    let header = model_header(now.size, &now.root);
    std::thread::scope(|s| {
        let keeper = refresh.then(|| s.spawn(|| cache::write(&d, out, header.as_bytes())));
        let rendered = render_pages(&d, ledger, &plan, opts, &mut w);
        let kept = match keeper.map(|k| k.join()) {
            Some(Ok(kept)) => kept,
            Some(Err(_)) => Err(SiteError::Data(
                "the thread keeping the model panicked".into(),
            )),
            None => Ok(()),
        };
        rendered.and(kept)
    })?;
    // The model is not needed to write the tiles and the manifest.
    let (entries, releases) = (d.checkpoint.size, d.releases.len());
    if plan.is_full() {
        // Freed first, so that a full build's peak memory is the larger of
        // the model and the writer's list of every file, not their sum.
        drop(d);
    } else {
        // Freeing a model of 100k entries takes a fifth of a rebuild: there
        // another thread does it while the log is written, and the build
        // does not wait for it (a process that exits next need not free it).
        std::thread::spawn(move || drop(d));
    }
    let tiles = tiles::render_tiles(ledger, out, &mut w, last)?;
    let stats = w.finish()?;
    let (pages, files) = (stats.pages, stats.files);
    let now = State {
        blob_rowid: tiles.blob_rowid,
        ..now
    };
    let mut state = serde_json::to_vec_pretty(&now)?;
    state.push(b'\n');
    writer::write_meta(out, STATE, Some(&state))?;
    Ok(BuildReport {
        incremental: last.is_some(),
        kept_model,
        entries,
        releases,
        pages,
        files,
        stats,
        tiles,
    })
}

/// Renders every page of `plan` from `d`: one step per kind of page.
fn render_pages(
    d: &SiteData,
    ledger: &Ledger,
    plan: &plan::Plan,
    opts: &BuildOptions,
    w: &mut Writer,
) -> Result<(), SiteError> {
    pages::render_assets(w)?;
    pages::render_home(d, w)?;
    pages::render_versions(d, w)?;
    pages::render_version_pages(d, plan, w)?;
    pages::render_diff_pages(d, plan, w)?;
    pages::render_clauses(d, plan, w)?;
    pages::render_evals(d, ledger, plan, w)?;
    pages::render_incidents(d, plan, w)?;
    pages::render_log_pages(d, plan, w)?;
    pages::render_entry_pages(d, ledger, plan, w)?;
    pages::render_keys(d, w)?;
    let info = BuildInfo::new(&d.site_title, opts.base_url.as_deref());
    pages::render_verify(d, &info, w)?;
    pages::json(w, BUILD_INFO, &info)?;
    pages::render_not_found(d, w)?;
    feed::render_feed(d, ledger, opts, w)
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_segments_are_valid_output_paths() {
        for s in ["a~2Fb", "a/b", "~", "", "~7E", ".a", "~2Ea"] {
            let s = crate::layout::seg(s);
            assert!(super::writer::check_rel(&s).is_ok(), "{s}");
        }
    }

    #[test]
    fn the_source_fingerprint_is_set_by_build_rs() {
        let f = super::source_fingerprint();
        assert_eq!(f.len(), 16, "{f}");
        assert!(f.bytes().all(|b| b.is_ascii_hexdigit()), "{f}");
    }
}
