//! View models: the data of each page, as serialised into its `index.json` and
//! read by its template. URLs in them are root-relative directories.

use serde::Serialize;

use crate::governance::GitSource;
use crate::governance::diff::ClauseDiff;

use super::model::{Eval, Incident, Item, Release, SiteData};
use crate::layout as paths;

/// A link: text and a root-relative URL.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub text: String,
    pub url: String,
}

impl Link {
    pub fn new(text: impl Into<String>, url: impl Into<String>) -> Link {
        Link {
            text: text.into(),
            url: url.into(),
        }
    }
}

/// "2025-09-12T17:17:28Z" as "2025-09-12 17:17 UTC".
pub fn human_time(t: &str) -> String {
    if t.len() == 20 && t.ends_with('Z') {
        format!("{} {} UTC", &t[..10], &t[11..16])
    } else {
        t.to_string()
    }
}

/// A time for display: machine form for `<time datetime>`, human form as text.
#[derive(Clone, Debug, Serialize)]
pub struct Time {
    pub iso: String,
    pub human: String,
}

impl Time {
    pub fn new(t: &str) -> Time {
        Time {
            iso: t.to_string(),
            human: human_time(t),
        }
    }
}

/// First 12 hex digits of a hash, for tables.
pub fn short(h: &str) -> String {
    h.chars().take(12).collect()
}

/// A release named in another page.
#[derive(Clone, Debug, Serialize)]
pub struct RelRef {
    pub name: String,
    pub label: String,
    pub rev: u32,
    pub seq: u64,
    pub url: String,
}

impl RelRef {
    pub fn of(r: &Release) -> RelRef {
        RelRef {
            name: r.name(),
            label: r.label.clone(),
            rev: r.rev,
            seq: r.seq,
            url: r.dir.clone(),
        }
    }
}

/// A release with everything shown about it in lists and headers.
#[derive(Clone, Debug, Serialize)]
pub struct RelView {
    pub name: String,
    pub label: String,
    pub rev: u32,
    pub seq: u64,
    pub entry_url: String,
    pub hash: String,
    pub time: Time,
    pub signer: String,
    pub url: String,
    /// The exact signed text, for `sha256sum`.
    pub spec_url: String,
    pub sha256: String,
    pub size: u64,
    pub manifest_sha256: String,
    pub clause_count: usize,
    pub current: bool,
    pub supersedes: Option<RelRef>,
    pub superseded_by: Option<RelRef>,
    pub prev: Option<RelRef>,
    pub diff_url: Option<String>,
    pub fixes: Vec<Link>,
    pub source: Option<GitSource>,
    pub has_notes: bool,
}

impl RelView {
    pub fn of(d: &SiteData, r: &Release) -> RelView {
        RelView {
            name: r.name(),
            label: r.label.clone(),
            rev: r.rev,
            seq: r.seq,
            entry_url: paths::entry(r.seq),
            hash: r.hash.clone(),
            time: Time::new(&r.time),
            signer: r.signer.clone(),
            url: r.dir.clone(),
            spec_url: format!("{}spec.md", r.dir),
            sha256: r.content.sha256.clone(),
            size: r.content.size,
            manifest_sha256: r.manifest.sha256.clone(),
            clause_count: r.clauses.len(),
            current: d.releases.last().map(|c| c.idx) == Some(r.idx),
            supersedes: r.supersedes.map(|i| RelRef::of(&d.releases[i])),
            superseded_by: r.superseded_by.map(|i| RelRef::of(&d.releases[i])),
            prev: r.prev.map(|i| RelRef::of(&d.releases[i])),
            diff_url: r.prev.map(|_| paths::diff_of(&r.dir)),
            fixes: r
                .fixes
                .iter()
                .map(|id| Link::new(id.clone(), paths::incident(id)))
                .collect(),
            source: r.source.clone(),
            has_notes: r.notes.is_some(),
        }
    }
}

/// A clause named in a list.
#[derive(Clone, Debug, Serialize)]
pub struct ClauseLink {
    pub id: String,
    pub title: String,
    /// The clause page.
    pub url: String,
}

impl ClauseLink {
    pub fn new(id: &str, title: &str) -> ClauseLink {
        ClauseLink {
            id: id.to_string(),
            title: title.to_string(),
            url: paths::clause(id),
        }
    }
}

/// A rename in a diff summary.
#[derive(Clone, Debug, Serialize)]
pub struct Renamed {
    pub from: ClauseLink,
    pub to: ClauseLink,
    pub same_text: bool,
}

/// A clause diff without text: which clauses were added, removed, changed, renamed.
#[derive(Clone, Debug, Serialize)]
pub struct DiffSummary {
    pub from: RelRef,
    pub to: RelRef,
    pub url: String,
    pub added: Vec<ClauseLink>,
    pub removed: Vec<ClauseLink>,
    pub changed: Vec<ClauseLink>,
    pub renamed: Vec<Renamed>,
    pub unchanged: usize,
    pub is_empty: bool,
}

impl DiffSummary {
    /// The summary of release `r`'s diff against its previous release, if it has one.
    pub fn of(d: &SiteData, r: &Release) -> Option<DiffSummary> {
        let (p, cd) = (r.prev?, r.diff.as_ref()?);
        Some(summary(&d.releases[p], r, cd))
    }

    /// Total clauses that differ.
    pub fn total(&self) -> usize {
        self.added.len() + self.removed.len() + self.changed.len() + self.renamed.len()
    }
}

fn summary(old: &Release, new: &Release, cd: &ClauseDiff) -> DiffSummary {
    let title_in =
        |r: &Release, id: &str| r.clause(id).map(|c| c.title.clone()).unwrap_or_default();
    DiffSummary {
        from: RelRef::of(old),
        to: RelRef::of(new),
        url: paths::diff_of(&new.dir),
        added: cd
            .added
            .iter()
            .map(|c| ClauseLink::new(&c.id, &c.title))
            .collect(),
        removed: cd
            .removed
            .iter()
            .map(|c| ClauseLink::new(&c.id, &c.title))
            .collect(),
        changed: cd
            .changed
            .iter()
            .map(|c| ClauseLink::new(&c.id, &c.title))
            .collect(),
        renamed: cd
            .renamed
            .iter()
            .map(|r| Renamed {
                from: ClauseLink::new(&r.from, &title_in(old, &r.from)),
                to: ClauseLink::new(&r.to, &r.title),
                same_text: r.same_text,
            })
            .collect(),
        unchanged: cd.unchanged,
        is_empty: cd.is_empty(),
    }
}

/// A ledger entry in a list.
#[derive(Clone, Debug, Serialize)]
pub struct EntryRow {
    pub seq: u64,
    pub time: Time,
    pub kind: String,
    pub summary: String,
    pub signer: String,
    pub hash: String,
    pub short: String,
    pub url: String,
    pub about: Option<Link>,
}

impl EntryRow {
    pub fn of(i: Item<'_>) -> EntryRow {
        EntryRow {
            seq: i.seq,
            time: Time::new(i.time),
            kind: i.kind.to_string(),
            summary: i.summary.to_string(),
            signer: i.signer.to_string(),
            hash: i.hash.to_string(),
            short: short(i.hash),
            url: paths::entry(i.seq),
            about: i
                .about
                .map(|(u, t)| Link::new(t.to_string(), u.to_string())),
        }
    }
}

/// The signed checkpoint, for display.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointView {
    pub text: String,
    pub origin: String,
    pub size: u64,
    pub root_hex: String,
    pub root_b64: String,
    pub signers: Vec<String>,
    pub log_key: String,
}

impl CheckpointView {
    pub fn of(d: &SiteData) -> CheckpointView {
        let c = &d.checkpoint;
        CheckpointView {
            text: c.text.clone(),
            origin: c.origin.clone(),
            size: c.size,
            root_hex: c.root_hex.clone(),
            root_b64: c.root_b64.clone(),
            signers: c.signers.clone(),
            log_key: d.log_key.clone(),
        }
    }
}

/// An evaluation in a list.
#[derive(Clone, Debug, Serialize)]
pub struct EvalRow {
    pub id: String,
    pub url: String,
    pub seq: u64,
    pub time: Time,
    pub version: Option<RelRef>,
    pub model: String,
    pub suite: String,
    pub evaluator: String,
    pub relationship: String,
    pub date: String,
    pub pass: Option<bool>,
    /// "pass", "fail" or "no thresholds".
    pub verdict: String,
    pub preregistered: bool,
}

impl EvalRow {
    pub fn of(d: &SiteData, e: &Eval) -> EvalRow {
        EvalRow {
            id: e.rec.id.clone(),
            url: paths::eval(&e.rec.id),
            seq: e.seq,
            time: Time::new(&e.time),
            version: e.release.map(|i| RelRef::of(&d.releases[i])),
            model: e.rec.model.to_string(),
            suite: e.rec.suite.to_string(),
            evaluator: e.rec.evaluator.to_string(),
            relationship: e.rec.relationship.as_str().to_string(),
            date: e.rec.date.to_string(),
            pass: e.rec.pass,
            verdict: match e.rec.pass {
                Some(true) => "pass",
                Some(false) => "fail",
                None => "no thresholds",
            }
            .to_string(),
            preregistered: e.prereg.is_some(),
        }
    }
}

/// An incident in a list.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentRow {
    pub id: String,
    pub url: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub opened: Time,
    pub version: Option<RelRef>,
    pub fixed_by: Option<RelRef>,
    pub resolved: bool,
    pub confidential: bool,
}

impl IncidentRow {
    pub fn of(d: &SiteData, i: &Incident) -> IncidentRow {
        IncidentRow {
            id: i.id.clone(),
            url: paths::incident(&i.id),
            title: i.title.clone(),
            severity: i.severity.as_str().to_string(),
            status: i.status.as_str().to_string(),
            opened: Time::new(&i.opened_time),
            version: i.release.map(|r| RelRef::of(&d.releases[r])),
            fixed_by: i.fixed_by.map(|r| RelRef::of(&d.releases[r])),
            resolved: i.resolved.is_some(),
            confidential: i.commitment.is_some() && i.disclosed.is_none(),
        }
    }
}
