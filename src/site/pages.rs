//! The HTML pages: one `render_*` function per kind of page, each reading the
//! [`SiteData`] and writing `index.html` and `index.json` through the [`Writer`].

use std::collections::HashMap;

use askama::Template;
use serde::Serialize;

use crate::governance::diff::ClauseDiff;
use crate::ledger::Ledger;
use crate::ledger::view::EntryView;

use super::budget::{self, Budget};
use super::markdown::{self, ClauseLinks};
use super::model::{self, SiteData};
use super::plan::{Plan, page_files};
use super::view::{
    CheckpointView, ClauseLink, DiffSummary, EntryRow, EvalRow, IncidentRow, Link, RelRef, RelView,
    Time,
};
use super::{SiteError, Writer, chart, diffhtml};
use crate::layout as paths;

/// The site's stylesheet.
pub const STYLE: &str = include_str!("../../templates/static/style.css");

/// Top-level sections: nav label, directory.
const NAV: [(&str, &str); 8] = [
    ("Overview", ""),
    ("Versions", paths::VERSIONS),
    ("Clauses", paths::CLAUSES),
    ("Evaluations", paths::EVALS),
    ("Incidents", paths::INCIDENTS),
    ("Log", paths::ENTRIES),
    ("Keys", paths::KEYS),
    ("Verify", paths::VERIFY),
];

/// What every page shows around its content.
#[derive(Clone, Debug)]
pub struct Base {
    pub site: String,
    pub title: String,
    pub description: String,
    pub origin: String,
    pub root: String,
    pub nav: Vec<(&'static str, &'static str, bool)>,
    /// Breadcrumb trail between Home and this page: (text, directory).
    pub crumbs: Vec<(String, String)>,
}

impl Base {
    fn new(d: &SiteData, dir: &str, section: &str, title: impl Into<String>) -> Base {
        Base {
            site: d.site_title.clone(),
            title: title.into(),
            description: format!(
                "Signed, verifiable history of the model spec published by {}",
                d.origin
            ),
            origin: d.origin.clone(),
            root: paths::root_from(dir),
            nav: NAV.iter().map(|(l, s)| (*l, *s, *s == section)).collect(),
            crumbs: Vec::new(),
        }
    }

    fn crumb(mut self, text: impl Into<String>, dir: impl Into<String>) -> Base {
        self.crumbs.push((text.into(), dir.into()));
        self
    }
}

/// Renders `t` to `DIR/index.html` and `data` to `DIR/index.json`.
fn page<T: Template, D: Serialize + ?Sized>(
    w: &mut Writer,
    dir: &str,
    t: &T,
    data: &D,
) -> Result<(), SiteError> {
    let html = t
        .render()
        .map_err(|e| SiteError::Render(dir.to_string(), e.to_string()))?;
    w.write(&format!("{dir}index.html"), markdown::visible(html))?;
    json(w, &format!("{dir}index.json"), data)
}

/// Writes pretty JSON with a final newline.
pub fn json<D: Serialize + ?Sized>(w: &mut Writer, path: &str, data: &D) -> Result<(), SiteError> {
    let mut j = serde_json::to_vec_pretty(data)?;
    j.push(b'\n');
    w.write(path, j)?;
    Ok(())
}

/// Writes the stylesheet.
pub fn render_assets(w: &mut Writer) -> Result<(), SiteError> {
    w.write("style.css", STYLE.as_bytes())?;
    Ok(())
}

// ---------------------------------------------------------------- home

#[derive(Serialize)]
struct Counts {
    entries: u64,
    releases: usize,
    labels: usize,
    clauses: usize,
    keys: usize,
    evaluations: usize,
    incidents: usize,
    open_incidents: usize,
}

#[derive(Serialize)]
struct HomeData {
    origin: String,
    current: Option<RelView>,
    diff: Option<DiffSummary>,
    checkpoint: CheckpointView,
    counts: Counts,
    open_incidents: Vec<IncidentRow>,
    latest_evals: Vec<EvalRow>,
    recent: Vec<EntryRow>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeT<'a> {
    base: Base,
    d: &'a HomeData,
}

/// The home page.
pub fn render_home(d: &SiteData, w: &mut Writer) -> Result<(), SiteError> {
    let labels: std::collections::BTreeSet<&str> =
        d.releases.iter().map(|r| r.label.as_str()).collect();
    let data = HomeData {
        origin: d.origin.clone(),
        current: d.current().map(|r| RelView::of(d, r)),
        diff: d.current().and_then(|r| DiffSummary::of(d, r)),
        checkpoint: CheckpointView::of(d),
        counts: Counts {
            entries: d.checkpoint.size,
            releases: d.releases.len(),
            labels: labels.len(),
            clauses: d.clause_history().len(),
            keys: d.keys.len(),
            evaluations: d.evals.len(),
            incidents: d.incidents.len(),
            open_incidents: d.incidents.iter().filter(|i| i.resolved.is_none()).count(),
        },
        open_incidents: d
            .incidents
            .iter()
            .rev()
            .filter(|i| i.resolved.is_none())
            .map(|i| IncidentRow::of(d, i))
            .collect(),
        latest_evals: d
            .evals
            .iter()
            .rev()
            .take(6)
            .map(|e| EvalRow::of(d, e))
            .collect(),
        recent: d.items.iter().rev().take(8).map(EntryRow::of).collect(),
    };
    let t = HomeT {
        base: Base::new(d, "", "", "Overview"),
        d: &data,
    };
    page(w, "", &t, &data)
}

// ---------------------------------------------------------------- versions

#[derive(Serialize)]
struct VersionsData {
    versions: Vec<VersionRow>,
}

#[derive(Serialize)]
struct VersionRow {
    #[serde(flatten)]
    rel: RelView,
    added: usize,
    removed: usize,
    changed: usize,
    renamed: usize,
}

#[derive(Template)]
#[template(path = "versions.html")]
struct VersionsT<'a> {
    base: Base,
    d: &'a VersionsData,
}

/// The list of releases, newest first.
pub fn render_versions(d: &SiteData, w: &mut Writer) -> Result<(), SiteError> {
    let data = VersionsData {
        versions: d
            .releases
            .iter()
            .rev()
            .map(|r| {
                let s = DiffSummary::of(d, r);
                let n = |f: fn(&DiffSummary) -> usize| s.as_ref().map(f).unwrap_or(0);
                VersionRow {
                    rel: RelView::of(d, r),
                    added: n(|s| s.added.len()),
                    removed: n(|s| s.removed.len()),
                    changed: n(|s| s.changed.len()),
                    renamed: n(|s| s.renamed.len()),
                }
            })
            .collect(),
    };
    let t = VersionsT {
        base: Base::new(d, paths::VERSIONS, paths::VERSIONS, "Versions"),
        d: &data,
    };
    page(w, paths::VERSIONS, &t, &data)
}

#[derive(Serialize)]
struct TocItem {
    id: String,
    title: String,
    level: u8,
}

#[derive(Serialize)]
struct VersionData {
    version: RelView,
    diff: Option<DiffSummary>,
    notes: Option<String>,
    clauses: Vec<TocItem>,
    /// Evaluations against this release: the latest [`paths::EVALS_PAGE_SIZE`], in ledger order.
    evaluations: Vec<EvalRow>,
    /// How many there are in all, when that is more than `evaluations` shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluations_total: Option<usize>,
    /// Incidents this release says it fixes.
    fixes: Vec<IncidentRow>,
    /// Incidents opened against this release.
    incidents: Vec<IncidentRow>,
    approvals: Vec<ApprovalRow>,
}

#[derive(Serialize)]
struct ApprovalRow {
    seq: u64,
    url: String,
    time: Time,
    signer: String,
    role: String,
}

#[derive(Template)]
#[template(path = "version.html")]
struct VersionT<'a> {
    base: Base,
    d: &'a VersionData,
    notes_html: String,
    spec_html: String,
}

/// The latest [`paths::EVALS_PAGE_SIZE`] of `all` (in ledger order), and how
/// many there are if that is more: a page lists the latest evaluations, the
/// evaluations archive all of them.
fn latest<T>(all: &[T]) -> (&[T], Option<usize>) {
    let skip = all.len().saturating_sub(paths::EVALS_PAGE_SIZE);
    (&all[skip..], (skip > 0).then_some(all.len()))
}

/// One page per release, with its exact text as `spec.md` beside it.
pub fn render_version_pages(d: &SiteData, plan: &Plan, w: &mut Writer) -> Result<(), SiteError> {
    for r in &d.releases {
        if !plan.release(r.idx) {
            continue;
        }
        let evals: Vec<&model::Eval> = d
            .evals
            .iter()
            .filter(|e| e.release == Some(r.idx))
            .collect();
        let (shown, total) = latest(&evals);
        let data = VersionData {
            version: RelView::of(d, r),
            diff: DiffSummary::of(d, r),
            notes: r.notes.clone(),
            clauses: r
                .clauses
                .iter()
                .map(|c| TocItem {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    level: c.level,
                })
                .collect(),
            evaluations: shown.iter().map(|e| EvalRow::of(d, e)).collect(),
            evaluations_total: total,
            fixes: r
                .fixes
                .iter()
                .filter_map(|id| d.incident(id))
                .map(|i| IncidentRow::of(d, i))
                .collect(),
            incidents: d
                .incidents
                .iter()
                .filter(|i| i.release == Some(r.idx))
                .map(|i| IncidentRow::of(d, i))
                .collect(),
            approvals: d
                .approvals
                .iter()
                .filter(|a| a.release == Some(r.idx))
                .map(|a| ApprovalRow {
                    seq: a.seq,
                    url: paths::entry(a.seq),
                    time: Time::new(&a.time),
                    signer: a.signer.clone(),
                    role: a.role.clone(),
                })
                .collect(),
        };
        let titles = markdown::titles(&r.clauses);
        // The page inlines at most budget::PAGE_TEXT bytes of notes and spec
        // text; spec.md beside it holds every byte.
        let mut b = Budget::default();
        let whole = [(
            "spec.md".to_string(),
            "spec.md (the exact signed text)".to_string(),
        )];
        let notes_html = match r.notes.as_deref() {
            Some(n) => {
                let (shown, left) = b.take(n, budget::PAGE_TEXT / 4);
                let mut h = markdown::render_fragment(shown, &titles, ClauseLinks::SamePage);
                if left > 0 {
                    h.push_str(&budget::text_notice(
                        left,
                        &[(
                            "index.json".to_string(),
                            "the notes in index.json".to_string(),
                        )],
                    ));
                }
                h
            }
            None => String::new(),
        };
        let (shown, left) = b.take(&r.text, budget::PAGE_TEXT);
        let mut spec_html = markdown::render_spec(shown, &r.clauses);
        if left > 0 {
            spec_html.push_str(&budget::text_notice(left, &whole));
        }
        let t = VersionT {
            base: Base::new(d, &r.dir, paths::VERSIONS, format!("Version {}", r.name()))
                .crumb("Versions", paths::VERSIONS),
            d: &data,
            notes_html,
            spec_html,
        };
        page(w, &r.dir, &t, &data)?;
        w.write(&format!("{}spec.md", r.dir), r.text.as_bytes())?;
    }
    Ok(())
}

// ---------------------------------------------------------------- diffs

#[derive(Serialize)]
struct DiffData<'a> {
    summary: DiffSummary,
    diff: &'a ClauseDiff,
}

/// A changed or edited-renamed clause with its hunks as HTML.
struct ChangedHtml {
    link: ClauseLink,
    old: Option<ClauseLink>,
    old_title: Option<String>,
    similarity: String,
    html: String,
}

#[derive(Template)]
#[template(path = "diff.html")]
struct DiffT<'a> {
    base: Base,
    d: &'a DiffData<'a>,
    new_url: String,
    old_url: String,
    changed: Vec<ChangedHtml>,
    renamed: Vec<ChangedHtml>,
}

fn pct(x: f32) -> String {
    format!("{:.0}%", (x * 100.0).clamp(0.0, 100.0))
}

/// One clause diff page per release that has a previous release.
pub fn render_diff_pages(d: &SiteData, plan: &Plan, w: &mut Writer) -> Result<(), SiteError> {
    for r in &d.releases {
        let (Some(p), Some(cd), Some(summary)) = (r.prev, r.diff.as_ref(), DiffSummary::of(d, r))
        else {
            continue;
        };
        let old = &d.releases[p];
        let dir = paths::diff_of(&r.dir);
        if !plan.diff(r.idx) {
            continue;
        }
        // The page inlines at most budget::PAGE_TEXT bytes of changed text;
        // past that, each clause's hunks give way to links to both texts and
        // the whole diff.
        let mut b = Budget::default();
        let root = paths::root_from(&dir);
        let whole = [
            (
                format!("{root}{}spec.md", old.dir),
                format!("{} spec.md", old.name()),
            ),
            (
                format!("{root}{}spec.md", r.dir),
                format!("{} spec.md", r.name()),
            ),
            (
                "index.json".to_string(),
                "the whole diff in index.json".to_string(),
            ),
        ];
        let changed = cd
            .changed
            .iter()
            .map(|c| ChangedHtml {
                link: ClauseLink::new(&c.id, &c.title),
                old: None,
                old_title: c.old_title.clone(),
                similarity: pct(c.similarity),
                html: diffhtml::hunks(&c.hunks, &mut b, &whole),
            })
            .collect();
        let renamed = cd
            .renamed
            .iter()
            .map(|c| ChangedHtml {
                link: ClauseLink::new(&c.to, &c.title),
                old: Some(ClauseLink::new(
                    &c.from,
                    c.old_title.as_deref().unwrap_or(&c.title),
                )),
                old_title: c.old_title.clone(),
                similarity: pct(c.similarity),
                html: diffhtml::hunks(&c.hunks, &mut b, &whole),
            })
            .collect();
        let data = DiffData { summary, diff: cd };
        let t = DiffT {
            base: Base::new(
                d,
                &dir,
                paths::VERSIONS,
                format!("Changes in {} since {}", r.name(), old.name()),
            )
            .crumb("Versions", paths::VERSIONS)
            .crumb(r.name(), r.dir.clone()),
            d: &data,
            new_url: r.dir.clone(),
            old_url: old.dir.clone(),
            changed,
            renamed,
        };
        page(w, &dir, &t, &data)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- clauses

#[derive(Serialize)]
struct ClauseRow {
    id: String,
    title: String,
    url: String,
    first: RelRef,
    last: RelRef,
    in_current: bool,
    versions: usize,
    texts: usize,
}

#[derive(Serialize)]
struct ClausesData {
    current: Option<RelRef>,
    clauses: Vec<ClauseRow>,
}

#[derive(Template)]
#[template(path = "clauses.html")]
struct ClausesT<'a> {
    base: Base,
    d: &'a ClausesData,
}

/// One stretch of a clause's history: consecutive releases with the same text.
#[derive(Serialize)]
struct Stretch {
    versions: Vec<RelRef>,
    title: String,
    sha256: String,
    level: u8,
    attrs: Vec<String>,
    /// "initial" (there since the first release), "added", "changed" or "returned" (added again after a removal).
    how: &'static str,
    /// The clause's text in these releases (Markdown).
    text: String,
    /// Set on the release after the stretch when the clause is gone there.
    removed_in: Option<RelRef>,
    #[serde(skip)]
    body_html: String,
    #[serde(skip)]
    changes_html: String,
}

#[derive(Serialize)]
struct ClauseData<'r> {
    id: String,
    title: String,
    in_current: bool,
    history: Vec<Stretch>,
    /// (old id, its page, the release that renamed it).
    renamed_from: Vec<(String, String, RelRef)>,
    /// (new id, its page, the release that renamed it).
    renamed_to: Vec<(String, String, RelRef)>,
    /// Evaluations with an outcome on this clause: the latest
    /// [`paths::EVALS_PAGE_SIZE`], in ledger order.
    evaluations: Vec<&'r EvalRow>,
    /// How many there are in all, when that is more than `evaluations` shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluations_total: Option<usize>,
    /// Incidents naming this clause.
    incidents: Vec<&'r IncidentRow>,
}

#[derive(Template)]
#[template(path = "clause.html")]
struct ClauseT<'a> {
    base: Base,
    d: &'a ClauseData<'a>,
}

/// The clause index and one page per clause id across all releases.
pub fn render_clauses(d: &SiteData, plan: &Plan, w: &mut Writer) -> Result<(), SiteError> {
    let hist = d.clause_history();
    let cur = d.current().map(|r| r.idx);
    let mut rows = Vec::new();
    for (id, occ) in &hist {
        let (first, last) = (occ[0].0, occ[occ.len() - 1].0);
        let mut texts: Vec<&str> = occ.iter().map(|(_, c)| c.sha256.as_str()).collect();
        texts.dedup();
        rows.push(ClauseRow {
            id: id.to_string(),
            title: occ[occ.len() - 1].1.title.clone(),
            url: paths::clause(id),
            first: RelRef::of(&d.releases[first]),
            last: RelRef::of(&d.releases[last]),
            in_current: Some(last) == cur,
            versions: occ.len(),
            texts: texts.len(),
        });
    }
    // Current clauses first, in document order; then the rest by id.
    let order: std::collections::HashMap<&str, usize> = d
        .current()
        .map(|r| {
            r.clauses
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.as_str(), i))
                .collect()
        })
        .unwrap_or_default();
    rows.sort_by_key(|r| {
        (
            !r.in_current,
            order.get(r.id.as_str()).copied().unwrap_or(usize::MAX),
            r.id.clone(),
        )
    });
    let data = ClausesData {
        current: d.current().map(RelRef::of),
        clauses: rows,
    };
    let t = ClausesT {
        base: Base::new(d, paths::CLAUSES, paths::CLAUSES, "Clauses"),
        d: &data,
    };
    page(w, paths::CLAUSES, &t, &data)?;

    // Renames, from the diffs: (release index, from, to).
    let mut renames: Vec<(usize, &str, &str)> = Vec::new();
    for r in &d.releases {
        if let Some(cd) = &r.diff {
            for x in &cd.renamed {
                renames.push((r.idx, &x.from, &x.to));
            }
        }
    }
    // Evaluations and incidents naming each clause, in ledger order.
    let mut named: HashMap<&str, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, e) in d.evals.iter().enumerate() {
        for c in e.rec.outcomes.iter().flat_map(|o| o.clauses.iter()) {
            let v = &mut named.entry(c.as_str()).or_default().0;
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    for (i, inc) in d.incidents.iter().enumerate() {
        for c in &inc.clauses {
            let v = &mut named.entry(c.as_str()).or_default().1;
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    let none = (Vec::new(), Vec::new());
    // An evaluation or incident shows on the page of each clause it names:
    // its row is made once.
    let mut rows: HashMap<usize, EvalRow> = HashMap::new();
    let mut incident_rows: HashMap<usize, IncidentRow> = HashMap::new();
    for (id, _) in hist.iter().filter(|(id, _)| plan.clause(id)) {
        let (evals, incidents) = named.get(id).unwrap_or(&none);
        for &i in latest(evals).0 {
            rows.entry(i).or_insert_with(|| EvalRow::of(d, &d.evals[i]));
        }
        for &i in incidents {
            incident_rows
                .entry(i)
                .or_insert_with(|| IncidentRow::of(d, &d.incidents[i]));
        }
    }
    for (id, occ) in &hist {
        if !plan.clause(id) {
            continue;
        }
        let (evals, incidents) = named.get(id).unwrap_or(&none);
        let (shown, total) = latest(evals);
        let shown = (shown.iter().map(|i| &rows[i]).collect(), total);
        let incidents = incidents.iter().map(|i| &incident_rows[i]).collect();
        render_clause(d, w, id, occ, &renames, shown, incidents)?;
    }
    Ok(())
}

fn render_clause(
    d: &SiteData,
    w: &mut Writer,
    id: &str,
    occ: &[(usize, &crate::governance::clauses::Clause)],
    renames: &[(usize, &str, &str)],
    (evaluations, evaluations_total): (Vec<&EvalRow>, Option<usize>),
    incidents: Vec<&IncidentRow>,
) -> Result<(), SiteError> {
    let dir = paths::clause(id);
    let root = paths::root_from(&dir);
    let mut history: Vec<Stretch> = Vec::new();
    let mut prev_idx: Option<usize> = None;
    let mut prev_text: Option<String> = None;
    // Per stretch: its first release, and the text before it with the
    // release that had it (for the changes).
    let mut sources: Vec<(usize, Option<(String, usize)>)> = Vec::new();
    for &(ri, c) in occ {
        let r = &d.releases[ri];
        let contiguous = prev_idx.is_some_and(|p| p + 1 == ri);
        if let (true, Some(s)) = (contiguous, history.last_mut())
            && s.sha256 == c.sha256
            && s.title == c.title
        {
            s.versions.push(RelRef::of(r));
            prev_idx = Some(ri);
            continue;
        }
        if let (false, Some(p), Some(s)) = (contiguous, prev_idx, history.last_mut()) {
            s.removed_in = d.releases.get(p + 1).map(RelRef::of);
        }
        let body = c.body(&r.text).to_string();
        let how = match (&prev_text, contiguous) {
            (None, _) if ri == 0 => "initial",
            (None, _) => "added",
            (Some(_), false) => "returned",
            (Some(_), true) => "changed",
        };
        let old = match (&prev_text, prev_idx, how) {
            (Some(old), Some(p), "changed" | "returned") => Some((old.clone(), p)),
            _ => None,
        };
        sources.push((ri, old));
        history.push(Stretch {
            body_html: String::new(),
            changes_html: String::new(),
            versions: vec![RelRef::of(r)],
            title: c.title.clone(),
            sha256: c.sha256.clone(),
            level: c.level,
            attrs: c
                .attrs
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}: {v}")
                    }
                })
                .collect(),
            how,
            text: body.clone(),
            removed_in: None,
        });
        prev_idx = Some(ri);
        prev_text = Some(body);
    }
    if let (Some(p), Some(s)) = (prev_idx, history.last_mut()) {
        s.removed_in = d.releases.get(p + 1).map(RelRef::of);
    }
    // The page inlines at most budget::PAGE_TEXT bytes of clause text and
    // changes, the latest stretch first and its changes before its text;
    // each version's spec.md holds the rest.
    let mut b = Budget::default();
    for (s, (ri, old)) in history.iter_mut().zip(sources).rev() {
        let r = &d.releases[ri];
        let here = (
            format!("{root}{}spec.md", r.dir),
            format!("{} spec.md", r.name()),
        );
        if let Some((old, p)) = old {
            let p = &d.releases[p];
            let whole = [
                (
                    format!("{root}{}spec.md", p.dir),
                    format!("{} spec.md", p.name()),
                ),
                here.clone(),
            ];
            s.changes_html = diffhtml::hunks(
                &crate::governance::diff::hunks(&old, &s.text),
                &mut b,
                &whole,
            );
        }
        let (shown, left) = b.take(&s.text, budget::PAGE_TEXT);
        let titles = markdown::titles(&r.clauses);
        s.body_html = markdown::render_fragment(shown, &titles, ClauseLinks::ClausePages(&root));
        if left > 0 {
            s.body_html.push_str(&budget::text_notice(left, &[here]));
        }
    }
    let last = occ[occ.len() - 1];
    let data = ClauseData {
        id: id.to_string(),
        title: last.1.title.clone(),
        in_current: d.current().map(|r| r.idx) == Some(last.0),
        history,
        renamed_from: renames
            .iter()
            .filter(|(_, _, to)| *to == id)
            .map(|(ri, from, _)| {
                (
                    from.to_string(),
                    paths::clause(from),
                    RelRef::of(&d.releases[*ri]),
                )
            })
            .collect(),
        renamed_to: renames
            .iter()
            .filter(|(_, from, _)| *from == id)
            .map(|(ri, _, to)| {
                (
                    to.to_string(),
                    paths::clause(to),
                    RelRef::of(&d.releases[*ri]),
                )
            })
            .collect(),
        evaluations,
        evaluations_total,
        incidents,
    };
    let t = ClauseT {
        base: Base::new(d, &dir, paths::CLAUSES, data.title.clone())
            .crumb("Clauses", paths::CLAUSES),
        d: &data,
    };
    page(w, &dir, &t, &data)
}

// ---------------------------------------------------------------- log

/// A log page shows only its own entries and its neighbours, so a page never
/// changes once the page after it exists.
#[derive(Serialize)]
struct LogData {
    page: u64,
    first: u64,
    last: u64,
    prev: Option<String>,
    next: Option<String>,
    entries: Vec<EntryRow>,
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogT<'a> {
    base: Base,
    d: &'a LogData,
    first_url: &'static str,
}

/// The log, newest entries on the last page, 100 entries a page; pages from
/// `from` (1-based) on.
pub fn render_log_pages(d: &SiteData, plan: &Plan, w: &mut Writer) -> Result<(), SiteError> {
    let size = d.items.len() as u64;
    let pages = size.div_ceil(paths::LOG_PAGE_SIZE).max(1);
    let mut from = plan.log_from().min(pages);
    // The pages before `from` are the last build's (checked on the last of them).
    if from > 1 && !w.carry(&page_files(&paths::log_page(from - 1), &[])) {
        from = 1;
    }
    for n in from..=pages {
        let dir = paths::log_page(n);
        let lo = (n - 1) * paths::LOG_PAGE_SIZE;
        let hi = (lo + paths::LOG_PAGE_SIZE).min(size);
        let data = LogData {
            page: n,
            first: lo,
            last: hi.saturating_sub(1),
            prev: (n > 1).then(|| paths::log_page(n - 1)),
            next: (n < pages).then(|| paths::log_page(n + 1)),
            entries: d
                .items
                .range(lo as usize..hi as usize)
                .map(EntryRow::of)
                .collect(),
        };
        let title = if n > 1 {
            format!("Log, page {n}")
        } else {
            "Log".to_string()
        };
        let mut base = Base::new(d, &dir, paths::ENTRIES, title);
        if n > 1 {
            base = base.crumb("Log", paths::ENTRIES);
        }
        let t = LogT {
            base,
            d: &data,
            first_url: paths::ENTRIES,
        };
        page(w, &dir, &t, &data)?;
    }
    Ok(())
}

#[derive(Serialize)]
struct EntryData<'a> {
    entry: &'a EntryView,
    log_key: &'a str,
    summary: &'a str,
    about: Option<Link>,
    proof: String,
    log_page: String,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "entry.html")]
struct EntryT<'a> {
    base: Base,
    d: &'a EntryData<'a>,
    time: Time,
    payload: String,
}

/// One page per entry, with its inclusion proof file; each entry is decoded
/// again from the ledger as its page is written.
pub fn render_entry_pages(
    d: &SiteData,
    ledger: &Ledger,
    plan: &Plan,
    w: &mut Writer,
) -> Result<(), SiteError> {
    let n = d.items.len() as u64;
    let mut from = plan.entries_from().min(n);
    // The pages before `from` are the last build's (checked on the last of them).
    if from > 0
        && !w.carry(&page_files(
            &paths::entry(from - 1),
            &["inclusion.tlog-proof"],
        ))
    {
        from = 0;
    }
    let mut cache = None;
    ledger.reader().for_each_entry::<SiteError>(from, n, |row| {
        let view = EntryView::from_bytes(row.data).map_err(|e| SiteError::Data(e.to_string()))?;
        let seq = view.seq;
        let it = d
            .items
            .get(seq as usize)
            .ok_or_else(|| SiteError::Data(format!("entry {seq} is not in the model")))?;
        let dir = paths::entry(seq);
        let data = EntryData {
            entry: &view,
            log_key: &d.log_key,
            summary: it.summary,
            about: it.about.map(|(u, t)| Link::new(t, u)),
            proof: paths::proof(seq),
            log_page: paths::log_page(paths::log_page_of(seq)),
            prev: (seq > 0).then(|| paths::entry(seq - 1)),
            next: (seq + 1 < n).then(|| paths::entry(seq + 1)),
        };
        let t = EntryT {
            base: Base::new(d, &dir, paths::ENTRIES, format!("Entry {seq}"))
                .crumb("Log", data.log_page.clone()),
            time: Time::new(&view.time),
            payload: serde_json::to_string_pretty(&view.payload)?,
            d: &data,
        };
        page(w, &dir, &t, &data)?;
        let proof = SiteData::proof(ledger, seq, row.data, &mut cache)?;
        w.write(&paths::proof(seq), proof.as_bytes())?;
        Ok(())
    })
}

// ---------------------------------------------------------------- keys

#[derive(Serialize)]
struct KeyRow {
    name: String,
    roles: Vec<String>,
    verifier: String,
    added: u64,
    revoked: Option<u64>,
    active: bool,
}

#[derive(Serialize)]
struct KeysData {
    origin: String,
    log_key: String,
    keys: Vec<KeyRow>,
    policy: Vec<(String, String)>,
    approvals: Option<String>,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysT<'a> {
    base: Base,
    d: &'a KeysData,
}

/// Keys, roles and the signing policy.
pub fn render_keys(d: &SiteData, w: &mut Writer) -> Result<(), SiteError> {
    let data = KeysData {
        origin: d.origin.clone(),
        log_key: d.log_key.clone(),
        keys: d
            .keys
            .iter()
            .map(|k| KeyRow {
                name: k.name.clone(),
                roles: k.roles.clone(),
                verifier: k.verifier.clone(),
                added: k.added,
                revoked: k.revoked,
                active: k.revoked.is_none(),
            })
            .collect(),
        policy: model::policy_rows(&d.policy),
        approvals: model::approvals_text(&d.policy),
    };
    let t = KeysT {
        base: Base::new(d, paths::KEYS, paths::KEYS, "Keys and roles"),
        d: &data,
    };
    page(w, paths::KEYS, &t, &data)
}

// ---------------------------------------------------------------- verify

#[derive(Serialize)]
struct VerifyData {
    checkpoint: CheckpointView,
    example: Option<RelRef>,
    example_sha256: String,
    last_seq: u64,
    /// What the site records it was built with (also `verify/build.json`).
    build: crate::published::BuildInfo,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyT<'a> {
    base: Base,
    d: &'a VerifyData,
}

/// How to check the site offline.
pub fn render_verify(
    d: &SiteData,
    build: &crate::published::BuildInfo,
    w: &mut Writer,
) -> Result<(), SiteError> {
    let data = VerifyData {
        checkpoint: CheckpointView::of(d),
        example: d.current().map(RelRef::of),
        example_sha256: d
            .current()
            .map(|r| r.content.sha256.clone())
            .unwrap_or_default(),
        last_seq: d.checkpoint.size.saturating_sub(1),
        build: build.clone(),
    };
    let t = VerifyT {
        base: Base::new(d, paths::VERIFY, paths::VERIFY, "Verify this site"),
        d: &data,
    };
    page(w, paths::VERIFY, &t, &data)
}

// ---------------------------------------------------------------- 404

#[derive(Template)]
#[template(path = "notfound.html")]
struct NotFoundT {
    base: Base,
}

/// `404.html`, with absolute links since it is served at any path.
pub fn render_not_found(d: &SiteData, w: &mut Writer) -> Result<(), SiteError> {
    let mut base = Base::new(d, "", "", "Page not found");
    base.root = "/".into();
    let html = NotFoundT { base }
        .render()
        .map_err(|e| SiteError::Render("404.html".into(), e.to_string()))?;
    w.write("404.html", markdown::visible(html))?;
    Ok(())
}

// ---------------------------------------------------------------- evaluations

#[derive(Serialize)]
struct PreregRow {
    id: String,
    anchor: String,
    seq: u64,
    time: Time,
    signer: String,
    version: Option<RelRef>,
    suite: String,
    thresholds: Vec<ThresholdRow>,
}

#[derive(Serialize)]
struct ThresholdRow {
    metric: String,
    clauses: Vec<ClauseLink>,
    rule: String,
}

fn prereg_row(d: &SiteData, p: &model::Prereg) -> PreregRow {
    PreregRow {
        id: p.p.id.clone(),
        anchor: paths::anchor(&p.p.id),
        seq: p.seq,
        time: Time::new(&p.time),
        signer: p.signer.clone(),
        version: p.release.map(|i| RelRef::of(&d.releases[i])),
        suite: format!("{} {}", p.p.suite.name, p.p.suite.version),
        thresholds: p
            .p
            .thresholds
            .iter()
            .map(|t| ThresholdRow {
                metric: t.metric.clone(),
                clauses: clause_links(d, &t.clauses),
                rule: format!("{} {}", t.comparator.as_str(), chart::num(t.threshold)),
            })
            .collect(),
    }
}

/// Links to clauses by id, titled from the latest release that has them.
fn clause_links(d: &SiteData, ids: &[String]) -> Vec<ClauseLink> {
    ids.iter()
        .map(|id| {
            let title = d
                .releases
                .iter()
                .rev()
                .find_map(|r| r.clause(id))
                .map(|c| c.title.clone())
                .unwrap_or_else(|| id.clone());
            ClauseLink::new(id, &title)
        })
        .collect()
}

#[derive(Serialize)]
struct EvalsData {
    /// The latest evaluations, newest first; all of them unless `archive` is set.
    evaluations: Vec<EvalRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<ArchiveLinks>,
    preregistrations: Vec<PreregRow>,
    charts: Vec<chart::Chart>,
}

/// Where the evaluations archive is, when there are more evaluations than one page shows.
#[derive(Serialize)]
struct ArchiveLinks {
    total: usize,
    pages: usize,
    first: String,
    last: String,
}

/// One page of the evaluations archive: evaluations in ledger order.
#[derive(Serialize)]
struct EvalsPageData {
    page: usize,
    /// Positions (0-based, in ledger order) of the first and last evaluation on the page.
    first: usize,
    last: usize,
    prev: Option<String>,
    next: Option<String>,
    evaluations: Vec<EvalRow>,
}

#[derive(Template)]
#[template(path = "evals_page.html")]
struct EvalsPageT<'a> {
    base: Base,
    d: &'a EvalsPageData,
}

/// The pages of the evaluations archive, if there are more evaluations than
/// the evaluations page shows. A page never changes once the page after it
/// exists, so only pages from `from` (1-based) on are rendered if the others
/// are already there.
fn render_evals_archive(d: &SiteData, from: usize, w: &mut Writer) -> Result<(), SiteError> {
    let total = d.evals.len();
    if total <= paths::EVALS_PAGE_SIZE {
        return Ok(());
    }
    let pages = total.div_ceil(paths::EVALS_PAGE_SIZE);
    let mut from = from.clamp(1, pages);
    // The pages before `from` are the last build's (checked on the last of them).
    if from > 1 && !w.carry(&page_files(&paths::evals_page(from - 1), &[])) {
        from = 1;
    }
    for n in from..=pages {
        let dir = paths::evals_page(n);
        let lo = (n - 1) * paths::EVALS_PAGE_SIZE;
        let hi = (lo + paths::EVALS_PAGE_SIZE).min(total);
        let data = EvalsPageData {
            page: n,
            first: lo,
            last: hi - 1,
            prev: (n > 1).then(|| paths::evals_page(n - 1)),
            next: (n < pages).then(|| paths::evals_page(n + 1)),
            evaluations: d.evals[lo..hi].iter().map(|e| EvalRow::of(d, e)).collect(),
        };
        let t = EvalsPageT {
            base: Base::new(d, &dir, paths::EVALS, format!("Evaluations, page {n}"))
                .crumb("Evaluations", paths::EVALS),
            d: &data,
        };
        page(w, &dir, &t, &data)?;
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "evals.html")]
struct EvalsT<'a> {
    base: Base,
    d: &'a EvalsData,
}

#[derive(Serialize)]
struct OutcomeRow {
    metric: String,
    clauses: Vec<ClauseLink>,
    value: String,
    uncertainty: Option<String>,
    rule: Option<String>,
    verdict: String,
}

#[derive(Serialize)]
struct EvalData {
    evaluation: EvalRow,
    signer: String,
    model_digest: Option<String>,
    outcomes: Vec<OutcomeRow>,
    results_sha256: String,
    results_size: u64,
    results_url: String,
    harness: Option<String>,
    dataset: Option<String>,
    dataset_commitment: Option<String>,
    sample_size: Option<u64>,
    preregistration: Option<PreregRow>,
    /// True when the pre-registration entry precedes the evaluation in the log.
    preregistered_before: bool,
}

#[derive(Template)]
#[template(path = "eval.html")]
struct EvalT<'a> {
    base: Base,
    d: &'a EvalData,
}

/// The evaluations list with one chart per metric, and one page per evaluation.
pub fn render_evals(
    d: &SiteData,
    ledger: &Ledger,
    plan: &Plan,
    w: &mut Writer,
) -> Result<(), SiteError> {
    let total = d.evals.len();
    let pages = total.div_ceil(paths::EVALS_PAGE_SIZE);
    let data = EvalsData {
        evaluations: d
            .evals
            .iter()
            .rev()
            .take(paths::EVALS_PAGE_SIZE)
            .map(|e| EvalRow::of(d, e))
            .collect(),
        archive: (pages > 1).then(|| ArchiveLinks {
            total,
            pages,
            first: paths::evals_page(1),
            last: paths::evals_page(pages),
        }),
        preregistrations: d.preregs.iter().map(|p| prereg_row(d, p)).collect(),
        charts: chart::charts(d),
    };
    let t = EvalsT {
        base: Base::new(d, paths::EVALS, paths::EVALS, "Evaluations"),
        d: &data,
    };
    page(w, paths::EVALS, &t, &data)?;
    render_evals_archive(d, plan.evals_page_from(), w)?;
    for (i, e) in d.evals.iter().enumerate() {
        let dir = paths::eval(&e.rec.id);
        if !plan.eval(i) {
            continue;
        }
        let prereg = e.prereg.map(|i| &d.preregs[i]);
        let rec = SiteData::eval_record(ledger, e.seq)?;
        let (results_bytes, results) = d.results(ledger, &rec);
        let res = results.as_ref();
        let data = EvalData {
            evaluation: EvalRow::of(d, e),
            signer: e.signer.to_string(),
            model_digest: rec.model.digest.clone(),
            outcomes: e
                .rec
                .outcomes
                .iter()
                .map(|o| {
                    let unc = res.and_then(|r| {
                        r.results
                            .iter()
                            .find(|x| *x.metric == *o.metric && x.clauses[..] == o.clauses[..])
                            .and_then(|x| x.uncertainty)
                    });
                    OutcomeRow {
                        metric: o.metric.to_string(),
                        clauses: clause_links(d, &o.clauses),
                        value: chart::num(o.value),
                        uncertainty: unc.map(chart::num),
                        rule: o
                            .threshold
                            .map(|t| format!("{} {}", o.comparator.as_str(), chart::num(t))),
                        verdict: match o.pass {
                            Some(true) => "pass",
                            Some(false) => "fail",
                            None => "no threshold",
                        }
                        .into(),
                    }
                })
                .collect(),
            results_sha256: rec.results.sha256.clone(),
            results_size: rec.results.size,
            results_url: format!("{dir}results.json"),
            harness: res.map(|r| match &r.harness.version {
                Some(v) => format!("{} {v}", r.harness.name),
                None => r.harness.name.clone(),
            }),
            dataset: res.map(|r| match &r.dataset.revision {
                Some(v) => format!("{} (revision {v})", r.dataset.id),
                None => r.dataset.id.clone(),
            }),
            dataset_commitment: res.and_then(|r| r.dataset.commitment.clone()),
            sample_size: res.map(|r| r.sample_size),
            preregistered_before: prereg.is_some_and(|p| p.seq < e.seq),
            preregistration: prereg.map(|p| prereg_row(d, p)),
        };
        let t = EvalT {
            base: Base::new(d, &dir, paths::EVALS, format!("Evaluation {}", e.rec.id))
                .crumb("Evaluations", paths::EVALS),
            d: &data,
        };
        page(w, &dir, &t, &data)?;
        w.write(&format!("{dir}results.json"), results_bytes)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- incidents

#[derive(Serialize)]
struct IncidentsData {
    open: Vec<IncidentRow>,
    resolved: Vec<IncidentRow>,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsT<'a> {
    base: Base,
    d: &'a IncidentsData,
}

#[derive(Serialize)]
struct EventRow {
    seq: u64,
    url: String,
    time: Time,
    signer: String,
    what: String,
    text: Option<String>,
    #[serde(skip)]
    html: String,
}

#[derive(Serialize)]
struct IncidentData {
    incident: IncidentRow,
    aware_at: Time,
    reporter: Option<String>,
    clauses: Vec<ClauseLink>,
    summary: Option<String>,
    commitment: Option<String>,
    disclosed_in: Option<u64>,
    events: Vec<EventRow>,
    fix_diff: Option<String>,
    /// Releases that list this incident in their `fixes`.
    fixed_in: Vec<RelRef>,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentT<'a> {
    base: Base,
    d: &'a IncidentData,
    summary_html: String,
}

/// The incidents list and one page per incident.
pub fn render_incidents(d: &SiteData, plan: &Plan, w: &mut Writer) -> Result<(), SiteError> {
    let rows = |resolved: bool| -> Vec<IncidentRow> {
        d.incidents
            .iter()
            .rev()
            .filter(|i| i.resolved.is_some() == resolved)
            .map(|i| IncidentRow::of(d, i))
            .collect()
    };
    let data = IncidentsData {
        open: rows(false),
        resolved: rows(true),
    };
    let t = IncidentsT {
        base: Base::new(d, paths::INCIDENTS, paths::INCIDENTS, "Incidents"),
        d: &data,
    };
    page(w, paths::INCIDENTS, &t, &data)?;
    for i in &d.incidents {
        let dir = paths::incident(&i.id);
        if !plan.incident(&i.id) {
            continue;
        }
        let root = paths::root_from(&dir);
        let titles = i
            .release
            .map(|r| markdown::titles(&d.releases[r].clauses))
            .unwrap_or_default();
        let frag = |t: &str| markdown::render_fragment(t, &titles, ClauseLinks::ClausePages(&root));
        let data = IncidentData {
            incident: IncidentRow::of(d, i),
            aware_at: Time::new(&i.aware_at),
            reporter: i.reporter.clone(),
            clauses: clause_links(d, &i.clauses),
            summary: i.summary.clone(),
            commitment: i.commitment.clone(),
            disclosed_in: i.disclosed,
            events: i
                .events
                .iter()
                .map(|ev| EventRow {
                    seq: ev.seq,
                    url: paths::entry(ev.seq),
                    time: Time::new(&ev.time),
                    signer: ev.signer.clone(),
                    what: ev.what.clone(),
                    html: ev.text.as_deref().map(frag).unwrap_or_default(),
                    text: ev.text.clone(),
                })
                .collect(),
            fix_diff: i
                .fixed_by
                .filter(|r| d.releases[*r].prev.is_some())
                .map(|r| paths::diff_of(&d.releases[r].dir)),
            fixed_in: d
                .releases
                .iter()
                .filter(|r| r.fixes.contains(&i.id))
                .map(RelRef::of)
                .collect(),
        };
        let t = IncidentT {
            base: Base::new(d, &dir, paths::INCIDENTS, format!("Incident {}", i.id))
                .crumb("Incidents", paths::INCIDENTS),
            summary_html: i.summary.as_deref().map(frag).unwrap_or_default(),
            d: &data,
        };
        page(w, &dir, &t, &data)?;
    }
    Ok(())
}
