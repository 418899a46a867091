//! What a build renders. A full build renders every page. An incremental build,
//! after entries were appended to the ledger the last build showed, renders
//! the pages whose inputs the new entries changed and keeps every other page
//! as the last build wrote it (the [`Writer`](super::Writer) keeps them from
//! its manifest without looking at them): the site's aggregate pages (home, lists, keys,
//! verify, feed, the log's right edge) always, and of the per-object pages:
//!
//! - a new entry's page, and the page of the entry before it (its "next" link);
//! - a new release: its version and diff pages, the version page of the
//!   release that was current (no longer current) and of any release it
//!   supersedes, the clause pages of its clauses and of the previous current
//!   release's (history, "removed in", "in current"), the incidents it says it
//!   fixes, and the evaluation and incident pages that name a clause whose
//!   latest title it changed;
//! - a new evaluation: its page, its release's page and the pages of the
//!   clauses its outcomes name;
//! - an approval: its release's page;
//! - a new incident event: the incident's page, and every page that shows the
//!   incident's row (its release's, the releases that list it as fixed, its
//!   clauses').
//!
//! Every other page of the site depends only on entries that were already
//! there. `tests/site_incremental.rs` checks the result byte for byte against
//! a build from scratch after each kind of entry.

use std::collections::{BTreeMap, BTreeSet};

use super::model::SiteData;
use crate::layout as paths;

/// The pages a build renders.
#[derive(Debug, Default)]
pub struct Plan {
    /// Entries the last build showed, in an incremental build.
    old: Option<u64>,
    releases: BTreeSet<usize>,
    diffs: BTreeSet<usize>,
    clauses: BTreeSet<String>,
    evals: BTreeSet<usize>,
    incidents: BTreeSet<String>,
    /// The first page of the evaluations archive that changes.
    evals_page: usize,
}

impl Plan {
    /// Every page.
    pub fn full() -> Plan {
        Plan::default()
    }

    /// The pages that entries `old..` of `d` change.
    pub fn incremental(d: &SiteData, old: u64) -> Plan {
        let mut p = Plan {
            old: Some(old),
            ..Plan::default()
        };
        let new = |seq: u64| seq >= old;
        let added: Vec<usize> = d
            .releases
            .iter()
            .filter(|r| new(r.seq))
            .map(|r| r.idx)
            .collect();
        if !added.is_empty() {
            let mut before: BTreeMap<&str, &str> = BTreeMap::new();
            for r in d.releases.iter().filter(|r| !new(r.seq)) {
                for c in &r.clauses {
                    before.insert(&c.id, &c.title);
                }
            }
            if let Some(cur) = d.releases.iter().rev().find(|r| !new(r.seq)) {
                p.releases.insert(cur.idx);
                p.clauses.extend(cur.clauses.iter().map(|c| c.id.clone()));
            }
            let mut after = before.clone();
            for &i in &added {
                let r = &d.releases[i];
                p.releases.insert(i);
                p.diffs.insert(i);
                p.releases.extend(r.supersedes);
                for c in &r.clauses {
                    p.clauses.insert(c.id.clone());
                    after.insert(&c.id, &c.title);
                }
                p.incidents.extend(r.fixes.iter().cloned());
            }
            // Links to clauses are titled from the latest release that has them.
            let retitled: BTreeSet<&str> = after
                .iter()
                .filter(|(id, t)| before.get(*id) != Some(*t))
                .map(|(id, _)| *id)
                .collect();
            if !retitled.is_empty() {
                let names = |ids: &[String]| ids.iter().any(|c| retitled.contains(c.as_str()));
                for (i, e) in d.evals.iter().enumerate() {
                    let prereg = e.prereg.is_some_and(|k| {
                        d.preregs[k].p.thresholds.iter().any(|t| names(&t.clauses))
                    });
                    if prereg || e.rec.outcomes.iter().any(|o| names(&o.clauses)) {
                        p.evals.insert(i);
                    }
                }
                for inc in d.incidents.iter().filter(|i| names(&i.clauses)) {
                    p.incidents.insert(inc.id.clone());
                }
            }
        }
        // The archive page of the first new evaluation changes, and the page
        // before it if the new one starts a page (its "next" link).
        p.evals_page = d
            .evals
            .iter()
            .position(|e| new(e.seq))
            .map(|i| i.saturating_sub(1) / paths::EVALS_PAGE_SIZE + 1)
            .unwrap_or(usize::MAX);
        for (i, e) in d.evals.iter().enumerate().filter(|(_, e)| new(e.seq)) {
            p.evals.insert(i);
            p.releases.extend(e.release);
            for o in &e.rec.outcomes {
                p.clauses.extend(o.clauses.iter().cloned());
            }
        }
        for a in d.approvals.iter().filter(|a| new(a.seq)) {
            p.releases.extend(a.release);
        }
        for inc in &d.incidents {
            if inc.events.iter().any(|e| new(e.seq)) {
                p.incidents.insert(inc.id.clone());
                // Its row (status, fix) shows on these pages.
                p.releases.extend(inc.release);
                p.clauses.extend(inc.clauses.iter().cloned());
                for r in d.releases.iter().filter(|r| r.fixes.contains(&inc.id)) {
                    p.releases.insert(r.idx);
                }
            }
        }
        p
    }

    /// Whether this build renders every page.
    pub fn is_full(&self) -> bool {
        self.old.is_none()
    }

    /// Whether the page of release `idx` is rendered.
    pub fn release(&self, idx: usize) -> bool {
        self.is_full() || self.releases.contains(&idx)
    }

    /// Whether the diff page of release `idx` is rendered.
    pub fn diff(&self, idx: usize) -> bool {
        self.is_full() || self.diffs.contains(&idx)
    }

    /// Whether the page of clause `id` is rendered.
    pub fn clause(&self, id: &str) -> bool {
        self.is_full() || self.clauses.contains(id)
    }

    /// Whether the page of evaluation `idx` (index into `evals`) is rendered.
    pub fn eval(&self, idx: usize) -> bool {
        self.is_full() || self.evals.contains(&idx)
    }

    /// Whether the page of incident `id` is rendered.
    pub fn incident(&self, id: &str) -> bool {
        self.is_full() || self.incidents.contains(id)
    }

    /// The first entry whose page is rendered.
    pub fn entries_from(&self) -> u64 {
        self.old.map(|o| o.saturating_sub(1)).unwrap_or(0)
    }

    /// The first page (1-based) of the evaluations archive rendered.
    pub fn evals_page_from(&self) -> usize {
        if self.is_full() { 1 } else { self.evals_page }
    }

    /// The first log page (1-based) rendered.
    pub fn log_from(&self) -> u64 {
        self.old
            .map(|o| paths::log_page_of(o.saturating_sub(1)))
            .unwrap_or(1)
    }
}

/// The files of a page directory: `index.html`, `index.json` and `extra` files in it.
pub fn page_files(dir: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![format!("{dir}index.html"), format!("{dir}index.json")];
    v.extend(extra.iter().map(|f| format!("{dir}{f}")));
    v
}
