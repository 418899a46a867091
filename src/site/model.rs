//! The site's data model: the ledger read once into memory, with everything
//! the pages need already decoded, linked and diffed. Every list is in ledger
//! order or sorted, so the output is deterministic.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::governance::clauses::{self, Clause};
use crate::governance::diff::{self, ClauseDiff};
use crate::governance::eval::{
    self, Comparator, EvalRecord, Preregistration, Relationship, ResultsFile,
};
use crate::governance::ids::Manifest;
use crate::governance::incident::{Severity, Status};
use crate::governance::{ContentRef, GitSource, KeyState, Payload, Policy, SpecRelease};
use crate::ledger::Ledger;
use crate::ledger::entry::{self, Entry};
use crate::tlog::{self, InclusionProofFile};

use super::SiteError;
use crate::layout as paths;

/// One ledger entry, as lists show it. The entry's own page decodes it again
/// from the ledger when it is written, so a build holds only this much per
/// entry, in [`Items`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'a> {
    pub seq: u64,
    pub time: &'a str,
    pub kind: &'a str,
    pub signer: &'a str,
    /// Entry hash, lowercase hex.
    pub hash: &'a str,
    /// One line saying what the entry does, in words.
    pub summary: &'a str,
    /// The page the entry is about (root-relative), with a link text.
    pub about: Option<(&'a str, &'a str)>,
}

/// Fields of an [`Item`] kept as text, in order.
pub(crate) const ITEM_FIELDS: usize = 7;

/// Every entry's [`Item`], in ledger order (item `i` is entry `i`), kept in
/// one string with the end of each field: a model of a million entries is a
/// few allocations, not seven million, and is read back from the kept model
/// ([`super::cache`]) in one piece.
#[derive(Clone, Debug, Default)]
pub struct Items {
    text: String,
    /// The end in `text` of each field, [`ITEM_FIELDS`] per item: time, kind,
    /// signer, hash, summary, about's page and about's link text.
    ends: Vec<usize>,
    /// Whether each item has an `about`.
    about: Vec<bool>,
}

impl Items {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.about.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.about.is_empty()
    }

    /// Appends the item of the next entry (its `seq` is its position).
    pub fn push(&mut self, it: Item<'_>) {
        let (page, text) = it.about.unwrap_or(("", ""));
        for f in [it.time, it.kind, it.signer, it.hash, it.summary, page, text] {
            self.text.push_str(f);
            self.ends.push(self.text.len());
        }
        self.about.push(it.about.is_some());
    }

    /// Item `seq`, if there.
    pub fn get(&self, seq: usize) -> Option<Item<'_>> {
        let has_about = *self.about.get(seq)?;
        let base = seq * ITEM_FIELDS;
        let mut start = if seq == 0 { 0 } else { self.ends[base - 1] };
        let mut f = [""; ITEM_FIELDS];
        for (k, end) in self.ends[base..base + ITEM_FIELDS].iter().enumerate() {
            f[k] = &self.text[start..*end];
            start = *end;
        }
        Some(Item {
            seq: seq as u64,
            time: f[0],
            kind: f[1],
            signer: f[2],
            hash: f[3],
            summary: f[4],
            about: has_about.then_some((f[5], f[6])),
        })
    }

    /// The first item.
    pub fn first(&self) -> Option<Item<'_>> {
        self.get(0)
    }

    /// The last item.
    pub fn last(&self) -> Option<Item<'_>> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// Items `range`, in order (clamped to the items there are).
    pub fn range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl DoubleEndedIterator<Item = Item<'_>> + '_ {
        let end = range.end.min(self.len());
        (range.start.min(end)..end).filter_map(|i| self.get(i))
    }

    /// Every item, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Item<'_>> + '_ {
        self.range(0..self.len())
    }

    /// The parts, for [`super::cache`]: the text, the field ends, the about flags.
    pub(crate) fn parts(&self) -> (&str, &[usize], &[bool]) {
        (&self.text, &self.ends, &self.about)
    }

    /// Items from their parts, if they fit together: [`ITEM_FIELDS`] ends per
    /// item, in order, each within the text and on a character boundary.
    pub(crate) fn from_parts(text: String, ends: Vec<usize>, about: Vec<bool>) -> Option<Items> {
        let fits = ends.len() == about.len().checked_mul(ITEM_FIELDS)?
            && ends.windows(2).all(|w| w[0] <= w[1])
            && ends.last().is_none_or(|&e| e == text.len())
            && ends.iter().all(|&e| text.is_char_boundary(e));
        fits.then_some(Items { text, ends, about })
    }
}

/// One spec release.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Release {
    /// Position in [`SiteData::releases`].
    pub idx: usize,
    pub seq: u64,
    pub hash: String,
    pub time: String,
    pub signer: String,
    pub label: String,
    /// 1 for the first release of the label, 2 for its first revision, ...
    pub rev: u32,
    /// Page directory, root-relative.
    pub dir: String,
    pub text: String,
    pub clauses: Vec<Clause>,
    pub notes: Option<String>,
    pub content: ContentRef,
    pub manifest: ContentRef,
    /// Index of the release this one supersedes (a re-release of the same label).
    pub supersedes: Option<usize>,
    /// Index of the release that superseded this one.
    pub superseded_by: Option<usize>,
    pub fixes: Vec<String>,
    pub source: Option<GitSource>,
    /// Index of the release before this one in the ledger: the diff base.
    pub prev: Option<usize>,
    /// The clause diff against `prev`.
    pub diff: Option<ClauseDiff>,
}

impl Release {
    /// "2025-12-18" or "2025-12-18 (revision 2)".
    pub fn name(&self) -> String {
        if self.rev > 1 {
            format!("{} (revision {})", self.label, self.rev)
        } else {
            self.label.clone()
        }
    }

    /// The clause with `id`, if this release has it.
    pub fn clause(&self, id: &str) -> Option<&Clause> {
        self.clauses.iter().find(|c| c.id == id)
    }
}

/// An `eval.record` entry (its results file is read when its page is written).
#[derive(Clone, Debug)]
pub struct Eval {
    pub seq: u64,
    pub time: String,
    pub signer: Arc<str>,
    pub rec: EvalSummary,
    /// The release it was run against (index into `releases`).
    pub release: Option<usize>,
    /// The pre-registration it applied (index into `preregs`).
    pub prereg: Option<usize>,
}

/// What lists, charts and the build plan show of an evaluation record; its
/// own page reads the whole record again from the ledger. A build holds one
/// per evaluation, so the strings that repeat across evaluations (model,
/// suite, evaluator, date, metric, clause sets) are shared, not copied: at
/// 100k entries this is a third of the memory and a fifth of the allocations
/// of a compact [`EvalRecord`].
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSummary {
    /// `EVAL-<n>`.
    pub id: String,
    /// The model's id.
    pub model: Arc<str>,
    /// The suite's name and version, as "name version".
    pub suite: Arc<str>,
    pub evaluator: Arc<str>,
    pub relationship: Relationship,
    pub date: Arc<str>,
    /// All thresholded outcomes pass; None when no outcome has a threshold.
    pub pass: Option<bool>,
    pub outcomes: Box<[OutcomeSummary]>,
}

/// One outcome of an [`EvalSummary`], as in [`eval::Outcome`].
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeSummary {
    pub clauses: Arc<[String]>,
    pub metric: Arc<str>,
    pub value: f64,
    pub comparator: Comparator,
    pub threshold: Option<f64>,
    pub pass: Option<bool>,
}

/// Shares equal strings and clause sets among the evaluations of a model.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    strings: HashSet<Arc<str>>,
    sets: HashSet<Arc<[String]>>,
}

impl Interner {
    pub(crate) fn str(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(a.clone());
        a
    }

    pub(crate) fn set(&mut self, s: &[String]) -> Arc<[String]> {
        if let Some(a) = self.sets.get(s) {
            return a.clone();
        }
        let a: Arc<[String]> = Arc::from(s);
        self.sets.insert(a.clone());
        a
    }

    /// The summary of `p`.
    pub(crate) fn summary(&mut self, p: &EvalRecord) -> EvalSummary {
        EvalSummary {
            id: p.id.clone(),
            model: self.str(&p.model.id),
            suite: self.str(&format!("{} {}", p.suite.name, p.suite.version)),
            evaluator: self.str(&p.evaluator),
            relationship: p.relationship,
            date: self.str(&p.date),
            pass: p.pass,
            outcomes: p
                .outcomes
                .iter()
                .map(|o| OutcomeSummary {
                    clauses: self.set(&o.clauses),
                    metric: self.str(&o.metric),
                    value: o.value,
                    comparator: o.comparator,
                    threshold: o.threshold,
                    pass: o.pass,
                })
                .collect(),
        }
    }
}

/// An `eval.preregister` entry.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Prereg {
    pub seq: u64,
    pub time: String,
    pub signer: String,
    pub p: Preregistration,
    pub release: Option<usize>,
}

/// One step of an incident's timeline.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct IncidentEvent {
    pub seq: u64,
    pub time: String,
    pub signer: String,
    /// "opened", "investigating", "mitigated", "monitoring", "resolved" or "disclosed".
    pub what: String,
    pub text: Option<String>,
}

/// An incident, folded over its entries.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub opened: u64,
    pub opened_time: String,
    pub aware_at: String,
    pub reporter: Option<String>,
    /// The release in force when it happened (index into `releases`).
    pub release: Option<usize>,
    pub clauses: Vec<String>,
    /// The public summary, or the disclosed one.
    pub summary: Option<String>,
    /// Commitment to a confidential summary.
    pub commitment: Option<String>,
    pub disclosed: Option<u64>,
    pub resolved: Option<u64>,
    pub resolution: Option<String>,
    /// The release that fixed it (index into `releases`).
    pub fixed_by: Option<usize>,
    pub events: Vec<IncidentEvent>,
}

/// A `spec.approve` entry.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Approval {
    pub seq: u64,
    pub time: String,
    pub signer: String,
    pub role: String,
    pub release: Option<usize>,
}

/// The log's latest signed checkpoint.
#[derive(Clone, Debug, Default)]
pub struct CheckpointInfo {
    pub text: String,
    pub origin: String,
    pub size: u64,
    pub root_hex: String,
    pub root_b64: String,
    /// Names on the signature lines, in order.
    pub signers: Vec<String>,
}

/// Everything the site shows.
#[derive(Clone, Debug, Default)]
pub struct SiteData {
    /// The site's name, shown in every page header and the feed title.
    pub site_title: String,
    pub origin: String,
    pub log_key: String,
    pub checkpoint: CheckpointInfo,
    pub items: Items,
    pub releases: Vec<Release>,
    pub keys: Vec<KeyState>,
    pub policy: Policy,
    pub evals: Vec<Eval>,
    pub preregs: Vec<Prereg>,
    pub incidents: Vec<Incident>,
    pub approvals: Vec<Approval>,
    /// Position in `incidents` of each incident id (the first with that id).
    pub(crate) incident_index: HashMap<String, usize>,
}

fn data_err(e: impl std::fmt::Display) -> SiteError {
    SiteError::Data(e.to_string())
}

/// Parses the signature lines of a signed note: `— NAME BASE64`.
pub fn note_signers(note: &str) -> Vec<String> {
    let body_end = note.find("\n\n").map(|i| i + 2).unwrap_or(note.len());
    note[body_end..]
        .lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

impl SiteData {
    /// Reads the whole ledger.
    pub fn load(ledger: &Ledger) -> Result<SiteData, SiteError> {
        SiteData::extend(ledger, SiteData::default())
    }

    /// Brings `d`, the model of the ledger's first `d.items.len()` entries as
    /// [`SiteData::load`] or an earlier `extend` made it, up to the ledger's
    /// head: it reads only the entries after those, and gives the same model
    /// as loading the whole ledger. The caller vouches that the ledger still
    /// holds the entries `d` was made from (a build checks the tree's root).
    pub fn extend(ledger: &Ledger, mut d: SiteData) -> Result<SiteData, SiteError> {
        let reader = ledger.reader();
        let head = reader.head()?;
        let from = d.items.len() as u64;
        if from > head.size {
            return Err(data_err(format!(
                "the model holds {from} entries, the ledger only {}",
                head.size
            )));
        }
        let checkpoint_text = ledger.checkpoint()?;
        let authority = ledger.authority()?;
        d.site_title = super::DEFAULT_TITLE.to_string();
        d.origin = ledger.origin()?;
        d.log_key = authority.log_key.clone();
        d.keys = authority.keys.clone();
        d.policy = authority.policy.clone();
        d.incident_index.clear();
        for (i, inc) in d.incidents.iter().enumerate() {
            d.incident_index.entry(inc.id.clone()).or_insert(i);
        }
        d.checkpoint = CheckpointInfo {
            signers: note_signers(&checkpoint_text),
            text: checkpoint_text,
            origin: d.origin.clone(),
            size: head.size,
            root_hex: hex::encode(head.root),
            root_b64: B64.encode(head.root),
        };
        let mut by_label: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for r in &d.releases {
            by_label.entry(r.label.clone()).or_default().push(r.idx);
        }
        let mut shared = Interner::default();
        reader.for_each_entry::<SiteError>(from, head.size, |row| {
            // The payload's JSON is parsed by its decode; appends checked it.
            let e = Entry::decode_fields(row.data).map_err(data_err)?;
            let payload = Payload::decode(&e.kind, &e.payload).map_err(data_err)?;
            let (summary, about) = match &payload {
                Payload::SpecRelease(p) => {
                    let r = d.release_of(ledger, &e, row.data, p, &mut by_label)?;
                    let s = match r.supersedes {
                        Some(o) => format!(
                            "Re-released version {} with new content (revision {}, supersedes entry {})",
                            r.label, r.rev, d.releases[o].seq
                        ),
                        None => format!("Released spec version {}", r.label),
                    };
                    let about = Some((r.dir.clone(), format!("Version {}", r.name())));
                    d.releases.push(r);
                    (s, about)
                }
                Payload::EvalPreregister(p) => {
                    let release = d.release_by_seq(p.spec.release.seq);
                    let s = format!(
                        "Pre-registered thresholds {} for {} {} on version {}",
                        p.id, p.suite.name, p.suite.version, p.spec.label
                    );
                    d.preregs.push(Prereg {
                        seq: e.seq,
                        time: e.time.clone(),
                        signer: e.signer.clone(),
                        p: p.clone(),
                        release,
                    });
                    (s, Some((paths::EVALS.to_string(), "Evaluations".into())))
                }
                Payload::EvalRecord(p) => {
                    let verdict = match p.pass {
                        Some(true) => "pass",
                        Some(false) => "fail",
                        None => "no thresholds",
                    };
                    let s = format!(
                        "Evaluation {} of {} with {} {} on version {}: {verdict}",
                        p.id, p.model.id, p.suite.name, p.suite.version, p.spec.label
                    );
                    d.evals.push(Eval {
                        seq: e.seq,
                        time: e.time.clone(),
                        signer: shared.str(&e.signer),
                        release: d.release_by_seq(p.spec.release.seq),
                        prereg: p
                            .preregistration
                            .as_ref()
                            .and_then(|r| d.preregs.binary_search_by_key(&r.seq, |x| x.seq).ok()),
                        rec: shared.summary(p),
                    });
                    (s, Some((paths::eval(&p.id), format!("Evaluation {}", p.id))))
                }
                Payload::IncidentOpen(o) => {
                    let s = format!(
                        "Incident {} opened ({}): {}",
                        o.id,
                        o.severity.as_str(),
                        o.title
                    );
                    d.incident_index
                        .entry(o.id.clone())
                        .or_insert(d.incidents.len());
                    d.incidents.push(Incident {
                        id: o.id.clone(),
                        title: o.title.clone(),
                        severity: o.severity,
                        status: Status::Open,
                        opened: e.seq,
                        opened_time: e.time.clone(),
                        aware_at: o.aware_at.clone(),
                        reporter: o.reporter.clone(),
                        release: d.release_by_seq(o.spec.release.seq),
                        clauses: o.clauses.clone(),
                        summary: o.summary.clone(),
                        commitment: o.commitment.clone(),
                        disclosed: None,
                        resolved: None,
                        resolution: None,
                        fixed_by: None,
                        events: vec![IncidentEvent {
                            seq: e.seq,
                            time: e.time.clone(),
                            signer: e.signer.clone(),
                            what: "opened".into(),
                            text: None,
                        }],
                    });
                    (s, Some((paths::incident(&o.id), format!("Incident {}", o.id))))
                }
                Payload::IncidentUpdate(u) => {
                    let s = format!("Incident {} is {}", u.id, u.status.as_str());
                    d.incident_event(&e, &u.id, u.status.as_str(), Some(u.note.clone()), |i| {
                        i.status = u.status;
                    });
                    (s, Some((paths::incident(&u.id), format!("Incident {}", u.id))))
                }
                Payload::IncidentResolve(r) => {
                    let s = match &r.fixed_by {
                        Some(f) => format!("Incident {} resolved by version {}", r.id, f.label),
                        None => format!("Incident {} resolved", r.id),
                    };
                    let fixed = r
                        .fixed_by
                        .as_ref()
                        .and_then(|f| d.release_by_seq(f.release.seq));
                    d.incident_event(&e, &r.id, "resolved", Some(r.resolution.clone()), |i| {
                        i.status = Status::Resolved;
                        i.resolved = Some(e.seq);
                        i.resolution = Some(r.resolution.clone());
                        i.fixed_by = fixed;
                    });
                    (s, Some((paths::incident(&r.id), format!("Incident {}", r.id))))
                }
                Payload::IncidentDisclose(x) => {
                    let s = format!("Incident {} details disclosed", x.id);
                    d.incident_event(&e, &x.id, "disclosed", None, |i| {
                        i.disclosed = Some(e.seq);
                        i.summary = Some(x.summary.clone());
                    });
                    (s, Some((paths::incident(&x.id), format!("Incident {}", x.id))))
                }
                Payload::SpecApprove(a) => {
                    let release = d.release_by_seq(a.release.seq);
                    d.approvals.push(Approval {
                        seq: e.seq,
                        time: e.time.clone(),
                        signer: e.signer.clone(),
                        role: a.role.clone(),
                        release,
                    });
                    let about = release.map(|i| {
                        let r = &d.releases[i];
                        (r.dir.clone(), format!("Version {}", r.name()))
                    });
                    (
                        format!(
                            "Version {} approved by {} as {}",
                            a.label, e.signer, a.role
                        ),
                        about,
                    )
                }
                other => summarize(&e, other),
            };
            d.items.push(Item {
                seq: e.seq,
                // The stored hash, which appends computed and verify checks.
                hash: &hex::encode(row.hash),
                time: &e.time,
                kind: &e.kind,
                signer: &e.signer,
                summary: &summary,
                about: about.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
            });
            Ok(())
        })?;
        d.link();
        for i in 0..d.releases.len() {
            if let (Some(p), None) = (d.releases[i].prev, &d.releases[i].diff) {
                let (old, new) = (&d.releases[p], &d.releases[i]);
                let cd = diff::diff(&old.text, &old.clauses, &new.text, &new.clauses);
                d.releases[i].diff = Some(cd);
            }
        }
        Ok(d)
    }

    /// Index of the release at entry `seq`.
    pub fn release_by_seq(&self, seq: u64) -> Option<usize> {
        // Releases are in ledger order.
        self.releases.binary_search_by_key(&seq, |r| r.seq).ok()
    }

    /// The incident with `id`.
    pub fn incident(&self, id: &str) -> Option<&Incident> {
        self.incident_index.get(id).map(|&i| &self.incidents[i])
    }

    fn incident_event(
        &mut self,
        e: &Entry,
        id: &str,
        what: &str,
        text: Option<String>,
        f: impl FnOnce(&mut Incident),
    ) {
        if let Some(&i) = self.incident_index.get(id) {
            let i = &mut self.incidents[i];
            i.events.push(IncidentEvent {
                seq: e.seq,
                time: e.time.clone(),
                signer: e.signer.clone(),
                what: what.to_string(),
                text,
            });
            f(i);
        }
    }

    /// The full record of the evaluation at entry `seq`, read again from the
    /// ledger ([`Eval::rec`] keeps only what lists and charts show).
    pub fn eval_record(ledger: &Ledger, seq: u64) -> Result<EvalRecord, SiteError> {
        let e = ledger.entry(seq)?;
        match Payload::decode(&e.kind, &e.payload).map_err(data_err)? {
            Payload::EvalRecord(p) => Ok(p),
            _ => Err(data_err(format!("entry {seq} is not an evaluation"))),
        }
    }

    /// The results file of an evaluation: its exact bytes (empty if the blob is
    /// missing) and the file parsed (None if it does not parse).
    pub fn results(&self, ledger: &Ledger, rec: &EvalRecord) -> (Vec<u8>, Option<ResultsFile>) {
        let bytes = self.blob(ledger, &rec.results).unwrap_or_default();
        let parsed = eval::parse_results(&bytes).ok();
        (bytes, parsed)
    }

    /// The C2SP tlog-proof file of entry `seq` (encoded as `data`), as
    /// `speclog prove inclusion` writes it, against the first signed checkpoint
    /// whose tree holds it. That checkpoint never changes, so neither does the
    /// file once written. `cache` keeps the last checkpoint looked up: (the
    /// entry it was looked up for, its size, its text); no checkpoint lies
    /// between those two.
    pub fn proof(
        ledger: &Ledger,
        seq: u64,
        data: &[u8],
        cache: &mut Option<(u64, u64, String)>,
    ) -> Result<String, SiteError> {
        let reader = ledger.reader();
        let hit = cache
            .as_ref()
            .is_some_and(|(lo, size, _)| *lo <= seq && seq < *size);
        if !hit {
            let size = reader
                .first_checkpoint_covering(seq)?
                .ok_or_else(|| data_err(format!("no signed checkpoint holds entry {seq}")))?;
            let text = ledger
                .checkpoint_text_at(size)?
                .ok_or_else(|| data_err(format!("checkpoint {size} vanished")))?;
            *cache = Some((seq, size, text));
        }
        let (_, size, checkpoint_text) = cache.as_ref().expect("set above");
        let hashes = tlog::prove_inclusion(*size, seq, &reader)?;
        // The encoded entry rides in `extra`, so the file alone proves what the entry says.
        Ok(InclusionProofFile {
            index: seq,
            extra: Some(data.to_vec()),
            hashes,
            checkpoint_text: checkpoint_text.clone(),
        }
        .format())
    }

    fn blob(&self, ledger: &Ledger, r: &ContentRef) -> Result<Vec<u8>, SiteError> {
        let dg = r
            .digest()
            .ok_or_else(|| data_err(format!("bad digest {}", r.sha256)))?;
        ledger
            .reader()
            .blob(&dg)?
            .ok_or_else(|| data_err(format!("blob {} is missing", r.sha256)))
    }

    fn release_of(
        &self,
        ledger: &Ledger,
        e: &Entry,
        bytes: &[u8],
        p: &SpecRelease,
        by_label: &mut BTreeMap<String, Vec<usize>>,
    ) -> Result<Release, SiteError> {
        let blob = |r: &ContentRef| self.blob(ledger, r);
        let text = String::from_utf8(blob(&p.content)?).map_err(data_err)?;
        let clauses: Vec<Clause> = match Manifest::decode(&blob(&p.clauses)?) {
            Ok(m) => m.clauses,
            Err(_) => clauses::parse(&text).map_err(data_err)?,
        };
        let notes = match &p.notes {
            Some(r) => Some(String::from_utf8_lossy(&blob(r)?).into_owned()),
            None => None,
        };
        let idx = self.releases.len();
        let same = by_label.entry(p.label.clone()).or_default();
        let supersedes = p
            .supersedes
            .as_ref()
            .and_then(|s| self.release_by_seq(s.seq));
        same.push(idx);
        let rev = same.len() as u32;
        Ok(Release {
            idx,
            seq: e.seq,
            hash: hex::encode(entry::entry_hash(bytes)),
            time: e.time.clone(),
            signer: e.signer.clone(),
            label: p.label.clone(),
            rev,
            dir: paths::release(&p.label, rev),
            text,
            clauses,
            notes,
            content: p.content.clone(),
            manifest: p.clauses.clone(),
            supersedes,
            superseded_by: None,
            fixes: p.fixes.clone(),
            source: p.source.clone(),
            prev: idx.checked_sub(1),
            diff: None,
        })
    }

    /// Links superseded releases forward.
    fn link(&mut self) {
        for i in 0..self.releases.len() {
            if let Some(o) = self.releases[i].supersedes {
                self.releases[o].superseded_by = Some(i);
            }
        }
    }

    /// The latest release, if any.
    pub fn current(&self) -> Option<&Release> {
        self.releases.last()
    }

    /// Every clause id of every release, each with the releases that have it
    /// (index into `releases`, clause), in release order.
    pub fn clause_history(&self) -> BTreeMap<&str, Vec<(usize, &Clause)>> {
        let mut m: BTreeMap<&str, Vec<(usize, &Clause)>> = BTreeMap::new();
        for r in &self.releases {
            for c in &r.clauses {
                m.entry(c.id.as_str()).or_default().push((r.idx, c));
            }
        }
        m
    }
}

/// What a non-release entry does, in words, and the page it is about.
fn summarize(e: &Entry, p: &Payload) -> (String, Option<(String, String)>) {
    let keys = || Some((paths::KEYS.to_string(), "Keys and roles".to_string()));
    match p {
        Payload::LogInit(i) => (
            format!("Log created for origin {}", i.origin),
            Some((paths::VERIFY.to_string(), "How to verify".into())),
        ),
        Payload::KeyAdd(k) => match &k.replaces {
            Some(_) => (
                format!("Key {} rotated (roles: {})", k.name, k.roles.join(", ")),
                keys(),
            ),
            None => (
                format!("Key {} registered (roles: {})", k.name, k.roles.join(", ")),
                keys(),
            ),
        },
        Payload::KeyRevoke(k) => (
            match &k.reason {
                Some(r) => format!("Key {} revoked: {r}", k.name),
                None => format!("Key {} revoked", k.name),
            },
            keys(),
        ),
        Payload::PolicySet(_) => ("Signing policy changed".into(), keys()),
        _ => {
            let subject = p.subject();
            let s = if subject.is_empty() {
                e.kind.clone()
            } else {
                format!("{} {subject}", e.kind)
            };
            (s, None)
        }
    }
}

/// The approval requirement, in words.
pub fn approvals_text(p: &Policy) -> Option<String> {
    p.release_approvals
        .as_ref()
        .map(|a| format!("{} of: {}", a.quorum, a.roles.join(", ")))
}

/// Kinds the policy names, with their roles, sorted by kind.
pub fn policy_rows(p: &Policy) -> Vec<(String, String)> {
    p.kinds
        .iter()
        .map(|(k, r)| (k.clone(), r.join(", ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(seq: u64, summary: &'a str, about: Option<(&'a str, &'a str)>) -> Item<'a> {
        Item {
            seq,
            time: "2025-01-01T00:00:00Z",
            kind: "eval.record",
            signer: "évaluateur",
            hash: "ab",
            summary,
            about,
        }
    }

    #[test]
    fn items_give_back_what_was_pushed() {
        let mut items = Items::default();
        assert!(items.is_empty() && items.first().is_none() && items.last().is_none());
        let summaries: Vec<String> = (0..5).map(|i| format!("entry {i} ✓")).collect();
        for (i, s) in summaries.iter().enumerate() {
            let about = (i % 2 == 0).then_some(("evals/", ""));
            items.push(item(i as u64, s, about));
        }
        assert_eq!(items.len(), 5);
        for (i, s) in summaries.iter().enumerate() {
            let about = (i % 2 == 0).then_some(("evals/", ""));
            assert_eq!(items.get(i), Some(item(i as u64, s, about)));
        }
        assert_eq!(items.get(5), None);
        let seqs: Vec<u64> = items.range(3..99).map(|i| i.seq).collect();
        assert_eq!(seqs, [3, 4]);
        assert_eq!(items.iter().next_back().map(|i| i.seq), Some(4));
        assert_eq!(items.range(7..9).count(), 0);
        let (text, ends, about) = items.parts();
        let back = Items::from_parts(text.to_string(), ends.to_vec(), about.to_vec()).unwrap();
        assert_eq!(back.get(3), items.get(3));
    }

    #[test]
    fn items_from_parts_refuse_what_does_not_fit() {
        let mut items = Items::default();
        items.push(item(0, "é", None));
        let (text, ends, about) = items.parts();
        let (text, ends, about) = (text.to_string(), ends.to_vec(), about.to_vec());
        let ok = |t: &str, e: &[usize], a: &[bool]| {
            Items::from_parts(t.to_string(), e.to_vec(), a.to_vec()).is_some()
        };
        assert!(ok(&text, &ends, &about));
        // One end too few, an end past the text, ends out of order.
        assert!(!ok(&text, &ends[1..], &about));
        let mut past = ends.clone();
        *past.last_mut().unwrap() += 1;
        assert!(!ok(&text, &past, &about));
        let mut swapped = ends.clone();
        swapped.swap(0, 1);
        assert!(!ok(&text, &swapped, &about));
        // An end inside the two bytes of "é".
        let split: Vec<usize> = ends
            .iter()
            .map(|&e| if text[..e].ends_with('é') { e - 1 } else { e })
            .collect();
        assert!(!ok(&text, &split, &about));
    }
}
