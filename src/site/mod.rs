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

mod chart;
mod diffhtml;
pub mod feed;
pub mod markdown;
pub mod model;
mod pages;
pub mod paths;
pub mod serve;
pub mod tiles;
pub mod view;
mod writer;

use std::path::Path;

use thiserror::Error;

use crate::ledger::{Ledger, LedgerError, StoreError};
use crate::tlog::TlogError;

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
}

/// Renders the site for `ledger` into `out`.
pub fn build(ledger: &Ledger, out: &Path, opts: &BuildOptions) -> Result<BuildReport, SiteError> {
    let mut d = SiteData::load(ledger)?;
    d.site_title = opts
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TITLE.to_string());
    let mut w = Writer::new(out)?;
    pages::render_assets(&mut w)?;
    pages::render_home(&d, &mut w)?;
    pages::render_versions(&d, &mut w)?;
    pages::render_version_pages(&d, &mut w)?;
    pages::render_diff_pages(&d, &mut w)?;
    pages::render_clauses(&d, &mut w)?;
    pages::render_evals(&d, ledger, &mut w)?;
    pages::render_incidents(&d, &mut w)?;
    pages::render_log_pages(&d, 1, &mut w)?;
    pages::render_entry_pages(&d, ledger, 0, &mut w)?;
    pages::render_keys(&d, &mut w)?;
    pages::render_verify(&d, &mut w)?;
    pages::render_not_found(&d, &mut w)?;
    feed::render_feed(&d, ledger, opts, &mut w)?;
    let tiles = tiles::render_tiles(ledger, out, &mut w)?;
    let pages = w.files().iter().filter(|f| f.ends_with(".html")).count() as u64;
    let files = w.files().len() as u64;
    let stats = w.finish()?;
    Ok(BuildReport {
        entries: d.checkpoint.size,
        releases: d.releases.len(),
        pages,
        files,
        stats,
        tiles,
    })
}
