//! `speclog site build|serve`: parse, call [`speclog::site`], print.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Subcommand;
use speclog::Error;
use speclog::app::Workspace;
use speclog::site::{self, BuildOptions};

use super::JsonFlag;
use super::output::Out;

/// Build or preview the public transparency site.
#[derive(Subcommand, Debug)]
pub enum SiteCmd {
    /// Render the static site from the ledger (only files whose bytes changed are written).
    #[command(
        after_help = "Examples:\n  speclog site build\n  speclog site build --out public --base-url https://example.org/spec/\n  speclog -v site build   # list every file written"
    )]
    Build {
        /// Output directory.
        #[arg(long, default_value = "site", env = "SPECLOG_SITE_OUT")]
        out: PathBuf,
        /// Absolute URL the site is published at, for the Atom feed's links.
        #[arg(long, value_name = "URL", env = "SPECLOG_BASE_URL")]
        base_url: Option<String>,
        /// The site's name, shown in every page header.
        #[arg(long, env = "SPECLOG_SITE_TITLE")]
        title: Option<String>,
        /// Build into a non-empty directory that speclog did not build
        /// (files of the same names are overwritten; no other is removed).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Preview a built site on http://127.0.0.1:PORT/ (files from the output directory only).
    #[command(
        after_help = "Examples:\n  speclog site serve\n  speclog site serve --port 0   # any free port"
    )]
    Serve {
        /// Directory of the built site.
        #[arg(long, default_value = "site")]
        out: PathBuf,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Stop after this many requests (for scripts).
        #[arg(long, value_name = "N")]
        max_requests: Option<u64>,
    },
}

pub fn run_site(ws: &Workspace, cmd: SiteCmd, out: &mut Out, verbose: bool) -> Result<(), Error> {
    match cmd {
        SiteCmd::Build {
            out: dir,
            base_url,
            title,
            force,
            json,
        } => {
            let started = Instant::now();
            ws.check_site_dir(&dir)?;
            if let Some(b) = &base_url {
                speclog::app::check_base_url(b)?;
            }
            let ledger = ws.open()?;
            let r = site::build(
                &ledger,
                &dir,
                &BuildOptions {
                    base_url,
                    title,
                    force,
                    ..BuildOptions::default()
                },
            )?;
            if json.json {
                return out.json(&r);
            }
            if verbose {
                for f in &r.stats.written {
                    out.line(&format!("wrote {}", dir.join(f).display()));
                }
                for f in &r.stats.removed {
                    out.line(&format!("removed {}", dir.join(f).display()));
                }
            }
            out.line(&format!(
                "built {} from {} entries ({} releases): {} pages, {} files, {:.1} MiB",
                dir.display(),
                r.entries,
                r.releases,
                r.pages,
                r.files,
                r.stats.bytes as f64 / (1024.0 * 1024.0)
            ));
            out.line(&format!(
                "{} written, {} unchanged, {} removed in {:.2} s",
                r.stats.written.len(),
                r.stats.unchanged,
                r.stats.removed.len(),
                started.elapsed().as_secs_f64()
            ));
            out.line(&format!(
                "preview: speclog site serve --out {}",
                dir.display()
            ));
            Ok(())
        }
        SiteCmd::Serve {
            out: dir,
            port,
            max_requests,
        } => {
            ws.check_site_dir(&dir)?;
            if !dir.join("index.html").is_file() {
                return Err(Error::input(
                    format!("{} holds no built site", dir.display()),
                    "run `speclog site build --out DIR` first",
                ));
            }
            let listener = site::serve::bind(port)?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::Io("listener".into(), e))?;
            out.line(&format!(
                "serving {} at http://{addr}/ (Ctrl-C to stop)",
                dir.display()
            ));
            let log: Arc<dyn Fn(&str) + Send + Sync> = if verbose {
                Arc::new(|l: &str| eprintln!("{l}"))
            } else {
                Arc::new(|_: &str| {})
            };
            site::serve::serve(&dir, listener, max_requests, log)?;
            Ok(())
        }
    }
}
