//! Governance operations: clause diffs, evaluations, incidents, release
//! approvals and the queries that link them.
//!
//! Every write validates its input (files, labels, clause ids, lifecycle)
//! against the ledger before appending, and the same rules run again inside
//! the append transaction, where sequential ids (`EVAL-<n>`, `INC-<n>`, ...)
//! are assigned; a failed command writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use super::{Workspace, read_text};
use crate::error::Error;
use crate::governance::anchor::{self, AnchorError};
use crate::governance::clauses::{self, Clause};
use crate::governance::diff::{self, ClauseDiff};
use crate::governance::eval::{self, EvalRecord, PreregRec, Preregistration, Suite};
use crate::governance::ids::Manifest;
use crate::governance::incident::{self, IncidentRec, Severity, Status};
use crate::governance::policy::Approvals;
use crate::governance::{
    self, ApprovalRec, ContentRef, EntryRef, GovError, Lookup, Payload, PolicySet, SpecApprove,
    SpecLink, SpecRelease, kinds,
};
use crate::keys::ADMIN;
use crate::ledger::entry::{self, Entry, MAX_ENTRY_SIZE};
use crate::ledger::{Draft, Ledger, LedgerError};

/// Bytes of an encoded entry besides its time, kind, signer and payload.
const ENTRY_OVERHEAD: usize = 1 + 8 + 1 + 1 + 32 + 1 + 32 + 4 + 64 + 20;
/// Longest id a sequential counter can produce (`PREFIX-` and 20 digits).
const MAX_ID_DIGITS: usize = 20;

// ---- releases ----

/// A release entry, for display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseView {
    pub label: String,
    pub seq: u64,
    pub hash: String,
    pub time: String,
    /// 1 for the first release of the label, 2 for its first revision, ...
    pub revision: usize,
    pub content_sha256: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<String>,
}

impl ReleaseView {
    /// The link an entry uses to name this release.
    pub fn link(&self) -> SpecLink {
        SpecLink {
            label: self.label.clone(),
            release: EntryRef {
                seq: self.seq,
                hash: self.hash.clone(),
            },
        }
    }
}

/// A release with its decoded payload.
#[derive(Clone, Debug)]
struct Release {
    view: ReleaseView,
    payload: SpecRelease,
    supersedes: Option<u64>,
}

fn decode(data: &[u8]) -> Result<(Entry, Payload), Error> {
    let e = Entry::decode(data).map_err(LedgerError::from)?;
    let p = Payload::decode(&e.kind, &e.payload)?;
    Ok((e, p))
}

/// The release entry at `seq`, or None if that entry is not a release.
fn release_at(l: &Ledger, seq: u64) -> Result<Option<Release>, Error> {
    let Some(data) = l.reader().entry(seq)? else {
        return Ok(None);
    };
    let (e, p) = decode(&data)?;
    let Payload::SpecRelease(r) = p else {
        return Ok(None);
    };
    let revision = l
        .reader()
        .releases(&r.label)?
        .iter()
        .position(|x| x.seq == seq)
        .map_or(1, |i| i + 1);
    Ok(Some(Release {
        view: ReleaseView {
            label: r.label.clone(),
            seq,
            hash: hex::encode(entry::entry_hash(&data)),
            time: e.time,
            revision,
            content_sha256: r.content.sha256.clone(),
            fixes: r.fixes.clone(),
        },
        supersedes: r.supersedes.as_ref().map(|s| s.seq),
        payload: r,
    }))
}

fn unknown_release(r: &str) -> Error {
    Error::input(
        format!("unknown spec version {r:?}"),
        "name a released label (see `speclog log --kind spec.release`), LABEL@SEQ for one release of it, or a release's entry number",
    )
}

/// Resolves a release reference: `LABEL` (its latest release), `LABEL@SEQ`
/// (that release of the label) or `SEQ` (the release entry with that number).
fn resolve_release(l: &Ledger, r: &str) -> Result<Release, Error> {
    let (label, seq) = match r.rsplit_once('@') {
        Some((label, seq)) => {
            let seq = seq.parse::<u64>().map_err(|_| {
                Error::input(
                    format!("invalid release reference {r:?}"),
                    "write LABEL@SEQ with SEQ the release's entry number, e.g. 2025-12-18@9",
                )
            })?;
            (Some(label), Some(seq))
        }
        None => (Some(r), None),
    };
    let label = label.filter(|x| governance::check_label(x).is_ok());
    if let Some(label) = label {
        let rels = l.reader().releases(label)?;
        let pick = match seq {
            None => rels.last(),
            Some(s) => rels.iter().find(|x| x.seq == s),
        };
        if let Some(x) = pick {
            return release_at(l, x.seq)?.ok_or_else(|| unknown_release(r));
        }
        if let (Some(s), false) = (seq, rels.is_empty()) {
            return Err(Error::input(
                format!("entry {s} is not a release of {label}"),
                format!(
                    "releases of {label} are entries {}",
                    rels.iter()
                        .map(|x| x.seq.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if seq.is_none()
        && let Ok(n) = r.parse::<u64>()
        && let Some(rel) = release_at(l, n)?
    {
        return Ok(rel);
    }
    Err(unknown_release(r))
}

fn blob(l: &Ledger, c: &ContentRef) -> Result<Vec<u8>, Error> {
    let dg = c
        .digest()
        .ok_or_else(|| LedgerError::MissingBlob(c.sha256.clone()))?;
    Ok(l.reader()
        .blob(&dg)?
        .ok_or_else(|| LedgerError::MissingBlob(c.sha256.clone()))?)
}

/// A release's text and clause manifest.
fn release_clauses(l: &Ledger, r: &Release) -> Result<(String, Vec<Clause>), Error> {
    let text = String::from_utf8(blob(l, &r.payload.content)?)
        .map_err(|_| GovError::Rule(format!("content {} is not UTF-8", r.view.content_sha256)))?;
    let m = Manifest::decode(&blob(l, &r.payload.clauses)?)
        .map_err(|e| GovError::Rule(format!("clause manifest of entry {}: {e}", r.view.seq)))?;
    Ok((text, m.clauses))
}

/// The release a release follows: the one it supersedes (a revision), else
/// the release just before it in the ledger.
fn previous_release(l: &Ledger, r: &Release) -> Result<Option<Release>, Error> {
    if let Some(s) = r.supersedes {
        return release_at(l, s);
    }
    let rows = l.reader().entries_of_kind(kinds::SPEC_RELEASE)?;
    match rows.iter().rev().find(|x| x.seq < r.view.seq) {
        Some(x) => release_at(l, x.seq),
        None => Ok(None),
    }
}

fn clause_diff(l: &Ledger, a: &Release, b: &Release) -> Result<ClauseDiff, Error> {
    let (ta, ca) = release_clauses(l, a)?;
    let (tb, cb) = release_clauses(l, b)?;
    Ok(diff::diff(&ta, &ca, &tb, &cb))
}

fn check_clause_ids<'a>(
    l: &Ledger,
    r: &Release,
    ids: impl IntoIterator<Item = (&'a String, String)>,
) -> Result<(), Error> {
    let (_, clauses) = release_clauses(l, r)?;
    let known: BTreeSet<&str> = clauses.iter().map(|c| c.id.as_str()).collect();
    for (id, place) in ids {
        if !known.contains(id.as_str()) {
            return Err(Error::input(
                format!(
                    "unknown clause {id:?}{place}: release {} (entry {}) has no clause with that id",
                    r.view.label, r.view.seq
                ),
                format!(
                    "list the clause ids with `speclog query clauses {}`",
                    r.view.label
                ),
            ));
        }
    }
    Ok(())
}

/// Reads a small file for parsing, with a size limit.
fn read_bytes(path: &Path, what: &str, max: u64) -> Result<Vec<u8>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::input(
            format!("cannot read {what} {}: {e}", path.display()),
            "check the path",
        )
    })?;
    if !meta.is_file() || meta.len() > max {
        return Err(Error::input(
            format!(
                "{what} {} is not a regular file of at most {max} bytes",
                path.display()
            ),
            "give the path of a JSON file",
        ));
    }
    crate::fsx::read_file_capped(path, max).map_err(|e| Error::Io(path.display().to_string(), e))
}

/// The largest payload an entry of `kind` signed by `signer` can carry.
fn payload_room(kind: &str, signer: &str) -> usize {
    MAX_ENTRY_SIZE - ENTRY_OVERHEAD - kind.len() - signer.len()
}

fn check_room(kind: &str, signer: &str, payload_len: usize, what: &str) -> Result<(), Error> {
    // Sequential ids are assigned in the transaction; leave room for the longest.
    let need = payload_len + MAX_ID_DIGITS;
    let room = payload_room(kind, signer);
    if need > room {
        return Err(Error::input(
            format!("{what} would be {need} bytes, over the {room}-byte room of one entry"),
            "split it into several smaller ones (fewer results, or fewer clauses per result)",
        ));
    }
    Ok(())
}

fn entry_time(ws: &Workspace) -> String {
    ws.time.clone().unwrap_or_else(crate::ledger::now)
}

/// Clause diff between two releases.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub from: ReleaseView,
    pub to: ReleaseView,
    pub diff: ClauseDiff,
}

impl Workspace {
    /// The clause diff from release `a` to release `b` (references as for `LABEL`,
    /// `LABEL@SEQ` or `SEQ`); without `hunks` only the clause lists.
    pub fn diff(&self, a: &str, b: &str, hunks: bool) -> Result<DiffReport, Error> {
        let l = self.open()?;
        let (ra, rb) = (resolve_release(&l, a)?, resolve_release(&l, b)?);
        let d = clause_diff(&l, &ra, &rb)?;
        Ok(DiffReport {
            from: ra.view,
            to: rb.view,
            diff: if hunks { d } else { d.without_hunks() },
        })
    }

    /// The clauses of a release, each with its depth in the clause tree and
    /// the first words of its text.
    pub fn clauses(&self, r: &str) -> Result<ClauseList, Error> {
        let l = self.open()?;
        let rel = resolve_release(&l, r)?;
        let (text, all) = release_clauses(&l, &rel)?;
        let leaves = clauses::leaves(&all).count();
        let depth_of: BTreeMap<&str, &Option<String>> =
            all.iter().map(|c| (c.id.as_str(), &c.parent)).collect();
        let depth = |c: &Clause| {
            let mut d = 0;
            let mut p = &c.parent;
            // Bounded by the clause count, so a cyclic manifest cannot loop.
            while let Some(id) = p
                && d < all.len()
            {
                d += 1;
                p = depth_of.get(id.as_str()).copied().unwrap_or(&None);
            }
            d
        };
        let rows = all
            .iter()
            .map(|c| ClauseRow {
                depth: depth(c),
                first_words: clauses::first_words(c.body(&text)),
                clause: c.clone(),
            })
            .collect();
        Ok(ClauseList {
            media_type: rel.payload.content.media_type.clone(),
            bytes: text.len(),
            leaves,
            release: rel.view,
            clauses: rows,
        })
    }

    /// The clause of release `r` holding the exact text `quote` (see
    /// [`anchor::locate`]); `place` says where the quote was given.
    pub fn clause_of_quote(&self, r: &str, quote: &str, place: &str) -> Result<Clause, Error> {
        let l = self.open()?;
        let rel = resolve_release(&l, r)?;
        quote_clause(&l, &rel, quote, place)
    }
}

/// One clause of a [`ClauseList`].
#[derive(Clone, Debug, Serialize)]
pub struct ClauseRow {
    #[serde(flatten)]
    pub clause: Clause,
    /// How many clauses it lies inside (0 for a top-level clause).
    pub depth: usize,
    /// The first words of its text (for a heading, of the text under it).
    pub first_words: String,
}

/// The clauses of one release, in manifest order.
#[derive(Clone, Debug, Serialize)]
pub struct ClauseList {
    pub release: ReleaseView,
    pub media_type: String,
    /// Length of the text in bytes.
    pub bytes: usize,
    pub leaves: usize,
    pub clauses: Vec<ClauseRow>,
}

/// The clause of `rel` that holds `quote`, or an error naming candidates.
fn quote_clause(l: &Ledger, rel: &Release, quote: &str, place: &str) -> Result<Clause, Error> {
    let (text, all) = release_clauses(l, rel)?;
    let list = format!("`speclog query clauses {}`", rel.view.label);
    let (v, seq) = (&rel.view.label, rel.view.seq);
    anchor::locate(&text, &all, quote).cloned().map_err(|e| match e {
        AnchorError::Absent { near } if !near.is_empty() => Error::input(
            format!("quote{place} does not occur in release {v} (entry {seq}) exactly as given"),
            format!(
                "it does up to case or spacing, or in part, in {}: copy the exact text (see {list} and `speclog query clause ID`)",
                anchor::shown(&near)
            ),
        ),
        AnchorError::Absent { .. } => Error::input(
            format!("quote{place} does not occur in release {v} (entry {seq})"),
            format!("quote words of the release's text exactly, or name a clause with --clause (see {list})"),
        ),
        AnchorError::Across { ids } => Error::input(
            format!(
                "quote{place} runs across clauses {} of release {v} (entry {seq}), which no one clause holds",
                anchor::shown(&ids)
            ),
            "quote words from one clause, or name each with --clause",
        ),
        AnchorError::Ambiguous { ids } => Error::input(
            format!("quote{place} occurs in {} clauses of release {v} (entry {seq})", ids.len()),
            format!(
                "quote more of the text so it occurs in one clause, or name one of {} with --clause",
                anchor::shown(&ids)
            ),
        ),
        e @ (AnchorError::Empty | AnchorError::TooLong(_)) => Error::input(
            format!("--quote{place}: {e}"),
            format!("quote a few words of one clause of {v} (at most {} bytes)", anchor::MAX_QUOTE),
        ),
    })
}

// ---- evaluations ----

/// What `eval record` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct EvalResult {
    pub seq: u64,
    pub hash: String,
    pub release: ReleaseView,
    pub record: EvalRecord,
    /// The pre-registration the outcomes were checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_against: Option<String>,
}

/// What `eval preregister` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct PreregResult {
    pub seq: u64,
    pub hash: String,
    pub release: ReleaseView,
    pub preregistration: Preregistration,
}

fn results_error(path: &Path, e: String) -> Error {
    Error::input(
        format!("invalid results file {}: {e}", path.display()),
        "see docs/results-format.md for the format and an example",
    )
}

/// Finds a pre-registration by id.
fn find_prereg(l: &Ledger, id: &str) -> Result<PreregRec, Error> {
    let rows = l.reader().entries_about(kinds::EVAL_PREREGISTER, id)?;
    let Some(row) = rows.first() else {
        return Err(Error::input(
            format!("unknown pre-registration {id:?}"),
            "list them with `speclog log --kind eval.preregister`",
        ));
    };
    match decode(&row.data)?.1 {
        Payload::EvalPreregister(p) => Ok(PreregRec {
            seq: row.seq,
            hash: hex::encode(entry::entry_hash(&row.data)),
            prereg: p,
        }),
        _ => Err(GovError::Lookup(format!("entry {} is not a pre-registration", row.seq)).into()),
    }
}

/// Parses `NAME@VERSION`.
pub fn parse_suite(s: &str) -> Result<Suite, Error> {
    match s.rsplit_once('@') {
        Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => Ok(Suite {
            name: n.to_string(),
            version: v.to_string(),
        }),
        _ => Err(Error::input(
            format!("invalid suite {s:?}"),
            "write NAME@VERSION, e.g. --suite honesty@1.2",
        )),
    }
}

impl Workspace {
    /// Records an evaluation of release `spec` from a results file.
    pub fn eval_record(
        &self,
        spec: &str,
        results: &Path,
        signer: &str,
        preregistration: Option<&str>,
    ) -> Result<EvalResult, Error> {
        let bytes = read_bytes(results, "results file", eval::MAX_FILE_BYTES)?;
        let file = eval::parse_results(&bytes).map_err(|e| results_error(results, e))?;
        let mut l = self.open_write()?;
        let rel = resolve_release(&l, spec)?;
        check_clause_ids(
            &l,
            &rel,
            file.results.iter().enumerate().flat_map(|(i, r)| {
                r.clauses
                    .iter()
                    .map(move |c| (c, format!(" in results[{i}].clauses")))
            }),
        )?;
        let pre = preregistration.map(|id| find_prereg(&l, id)).transpose()?;
        if let Some(p) = &pre {
            let reg = &p.prereg;
            if reg.spec.label != rel.view.label || reg.suite != file.suite {
                return Err(Error::input(
                    format!(
                        "{} pre-registered suite {}@{} on {}, but the results are of {}@{} on {}",
                        reg.id,
                        reg.suite.name,
                        reg.suite.version,
                        reg.spec.label,
                        file.suite.name,
                        file.suite.version,
                        rel.view.label
                    ),
                    "record against the pre-registered spec and suite, or drop --preregistration",
                ));
            }
        }
        let reg = pre
            .as_ref()
            .map(|p| (p.prereg.id.as_str(), p.prereg.thresholds.as_slice()));
        let outcomes = eval::derive_outcomes(&file, reg).map_err(|e| results_error(results, e))?;
        let results_ref = ContentRef::of(&bytes, governance::MEDIA_RESULTS);
        let mut record = EvalRecord {
            id: String::new(),
            spec: rel.view.link(),
            model: file.model.clone(),
            suite: file.suite.clone(),
            evaluator: file.evaluator.clone(),
            relationship: file.relationship,
            date: file.date.clone(),
            results: results_ref,
            pass: eval::overall(&outcomes),
            outcomes,
            preregistration: pre.as_ref().map(|p| EntryRef {
                seq: p.seq,
                hash: p.hash.clone(),
            }),
        };
        check_room(
            kinds::EVAL_RECORD,
            signer,
            governance::to_payload(&record).len(),
            "the evaluation summary",
        )?;
        let mut built = record.clone();
        let a = self.append_with(&mut l, signer, |lk| {
            built.id = format!("EVAL-{}", lk.count(kinds::EVAL_RECORD)? + 1);
            let mut d = Draft::new(kinds::EVAL_RECORD, &built);
            d.blobs = vec![bytes];
            Ok(vec![d])
        })?;
        let (seq, hash) = a.entries[0];
        record.id = id_of(&l, seq)?;
        Ok(EvalResult {
            seq,
            hash: hex::encode(hash),
            release: rel.view,
            record,
            checked_against: pre.map(|p| p.prereg.id),
        })
    }

    /// Pre-registers pass/fail thresholds for a suite on release `spec`.
    pub fn eval_preregister(
        &self,
        spec: &str,
        suite: &str,
        thresholds: &Path,
        signer: &str,
    ) -> Result<PreregResult, Error> {
        let suite = parse_suite(suite)?;
        let bytes = read_bytes(thresholds, "thresholds file", eval::MAX_FILE_BYTES)?;
        let ts = eval::parse_thresholds(&bytes).map_err(|e| {
            Error::input(
                format!("invalid thresholds file {}: {e}", thresholds.display()),
                "see docs/results-format.md: {\"thresholds\": [{\"clauses\": [...], \"metric\": ..., \"comparator\": \">=\", \"threshold\": 0.9}]}",
            )
        })?;
        let mut l = self.open_write()?;
        let rel = resolve_release(&l, spec)?;
        check_clause_ids(
            &l,
            &rel,
            ts.iter().enumerate().flat_map(|(i, t)| {
                t.clauses
                    .iter()
                    .map(move |c| (c, format!(" in thresholds[{i}].clauses")))
            }),
        )?;
        let mut p = Preregistration {
            id: String::new(),
            spec: rel.view.link(),
            suite,
            thresholds: ts,
        };
        check_room(
            kinds::EVAL_PREREGISTER,
            signer,
            governance::to_payload(&p).len(),
            "the pre-registration",
        )?;
        let mut built = p.clone();
        let a = self.append_with(&mut l, signer, |lk| {
            built.id = format!("PREREG-{}", lk.count(kinds::EVAL_PREREGISTER)? + 1);
            Ok(vec![Draft::new(kinds::EVAL_PREREGISTER, &built)])
        })?;
        let (seq, hash) = a.entries[0];
        p.id = id_of(&l, seq)?;
        Ok(PreregResult {
            seq,
            hash: hex::encode(hash),
            release: rel.view,
            preregistration: p,
        })
    }
}

/// The id (subject) of the entry at `seq`.
fn id_of(l: &Ledger, seq: u64) -> Result<String, Error> {
    let data = l
        .reader()
        .entry(seq)?
        .ok_or_else(|| LedgerError::NoEntry(seq.to_string()))?;
    Ok(decode(&data)?.1.subject())
}

// ---- incidents ----

/// The inputs of `incident open`.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub summary: String,
    pub spec: String,
    pub clauses: Vec<String>,
    /// RFC 3339 with any offset; stored in UTC.
    pub aware_at: String,
    pub reporter: Option<String>,
    pub confidential: bool,
}

/// What an incident command wrote.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentResult {
    pub seq: u64,
    pub hash: String,
    pub id: String,
    pub kind: String,
    pub status: Status,
    /// For a confidential incident: where its summary is kept (never published).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_row: Option<String>,
    /// The payload as signed.
    pub payload: serde_json::Value,
}

/// Normalises an RFC 3339 time with any offset to `YYYY-MM-DDTHH:MM:SSZ`.
pub fn normalise_time(t: &str) -> Result<String, Error> {
    let ts: jiff::Timestamp = t.parse().map_err(|_| {
        Error::input(
            format!("invalid time {t:?}"),
            "give an RFC 3339 time, e.g. 2025-12-17T09:30:00Z or 2025-12-17T01:30:00-08:00",
        )
    })?;
    Ok(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn text_input(what: &str, s: &str, max: usize) -> Result<(), Error> {
    incident::check_text(what, s, max)
        .map_err(|e| Error::input(e.to_string(), format!("give a non-empty {what}")))
}

fn find_incident(l: &Ledger, id: &str) -> Result<IncidentRec, Error> {
    l.reader().incident(id)?.ok_or_else(|| {
        Error::input(
            format!("unknown incident {id:?}"),
            "list incidents with `speclog log --kind incident.open`",
        )
    })
}

fn open_incident(l: &Ledger, id: &str) -> Result<IncidentRec, Error> {
    let rec = find_incident(l, id)?;
    if let Some(s) = rec.resolved {
        return Err(Error::input(
            format!("incident {id} was resolved in entry {s}; a resolved incident is closed"),
            "open a new incident to revisit it (speclog never reopens one)",
        ));
    }
    Ok(rec)
}

impl Workspace {
    fn incident_append(
        &self,
        l: &mut Ledger,
        signer: &str,
        kind: &str,
        status: Status,
        payload: &impl Serialize,
    ) -> Result<IncidentResult, Error> {
        let d = Draft::new(kind, payload);
        check_room(kind, signer, d.payload.len(), "the incident entry")?;
        let a = self.append(l, signer, vec![d])?;
        incident_result(l, a.entries[0].0, status, None)
    }

    /// Opens an incident.
    pub fn incident_open(&self, n: &NewIncident, signer: &str) -> Result<IncidentResult, Error> {
        text_input("title", &n.title, incident::MAX_TITLE)?;
        if n.title.contains('\n') {
            return Err(Error::input(
                "the title must be one line",
                "shorten the title",
            ));
        }
        text_input("summary", &n.summary, incident::MAX_TEXT)?;
        if let Some(r) = &n.reporter {
            text_input("reporter", r, incident::MAX_TITLE)?;
        }
        let aware_at = normalise_time(&n.aware_at)?;
        let now = entry_time(self);
        if aware_at > now {
            return Err(Error::input(
                format!("--aware-at {aware_at} is later than the entry time {now}"),
                "the organisation cannot have become aware of an incident in the future",
            ));
        }
        let mut l = self.open_write()?;
        let rel = resolve_release(&l, &n.spec)?;
        check_clause_ids(&l, &rel, n.clauses.iter().map(|c| (c, String::new())))?;
        let (summary, commitment, private) = if n.confidential {
            let mut salt = [0u8; 32];
            getrandom::fill(&mut salt)
                .map_err(|e| Error::Io("random salt".into(), std::io::Error::other(e)))?;
            let c = incident::commitment(&salt, &n.summary);
            let details = incident::PrivateDetails {
                summary: n.summary.clone(),
                salt: hex::encode(salt),
            };
            (None, Some(c), Some(governance::to_payload(&details)))
        } else {
            (Some(n.summary.clone()), None, None)
        };
        let mut open = incident::Open {
            id: String::new(),
            title: n.title.clone(),
            severity: n.severity,
            spec: rel.view.link(),
            clauses: n.clauses.clone(),
            aware_at,
            reporter: n.reporter.clone(),
            summary,
            commitment,
        };
        check_room(
            kinds::INCIDENT_OPEN,
            signer,
            governance::to_payload(&open).len(),
            "the incident entry",
        )?;
        let a = self.append_with(&mut l, signer, |lk| {
            open.id = incident::next_id(lk.count(kinds::INCIDENT_OPEN)?);
            let mut d = Draft::new(kinds::INCIDENT_OPEN, &open);
            if let Some(p) = private {
                d.private = vec![(incident::private_name(&open.id), p)];
            }
            Ok(vec![d])
        })?;
        let seq = a.entries[0].0;
        let id = id_of(&l, seq)?;
        let private_row = n.confidential.then(|| incident::private_name(&id));
        incident_result(&l, seq, Status::Open, private_row)
    }

    /// Records a status change of an open incident.
    pub fn incident_update(
        &self,
        id: &str,
        status: Status,
        note: &str,
        signer: &str,
    ) -> Result<IncidentResult, Error> {
        if !matches!(
            status,
            Status::Investigating | Status::Mitigated | Status::Monitoring
        ) {
            return Err(Error::input(
                format!("--status {} is not an update", status.as_str()),
                "use investigating, mitigated or monitoring; `speclog incident resolve` closes an incident",
            ));
        }
        text_input("note", note, incident::MAX_TEXT)?;
        let mut l = self.open_write()?;
        open_incident(&l, id)?;
        let u = incident::Update {
            id: id.to_string(),
            status,
            note: note.to_string(),
        };
        self.incident_append(&mut l, signer, kinds::INCIDENT_UPDATE, status, &u)
    }

    /// Resolves an open incident, optionally naming the release that fixed it
    /// (which must list the incident in its `fixes`).
    pub fn incident_resolve(
        &self,
        id: &str,
        resolution: &str,
        fixed_by: Option<&str>,
        signer: &str,
    ) -> Result<IncidentResult, Error> {
        text_input("resolution", resolution, incident::MAX_TEXT)?;
        let mut l = self.open_write()?;
        open_incident(&l, id)?;
        let fixed_by = match fixed_by {
            None => None,
            Some(r) => {
                let rel = resolve_release(&l, r)?;
                if !rel.view.fixes.iter().any(|f| f == id) {
                    return Err(Error::input(
                        format!(
                            "release {} (entry {}) does not list {id} in its fixes",
                            rel.view.label, rel.view.seq
                        ),
                        format!(
                            "release the fix with `speclog spec release FILE --version LABEL --fixes {id}` first, or name that release"
                        ),
                    ));
                }
                Some(rel.view.link())
            }
        };
        let r = incident::Resolve {
            id: id.to_string(),
            resolution: resolution.to_string(),
            fixed_by,
        };
        self.incident_append(
            &mut l,
            signer,
            kinds::INCIDENT_RESOLVE,
            Status::Resolved,
            &r,
        )
    }

    /// Publishes a confidential incident's summary and salt from the private table.
    pub fn incident_disclose(&self, id: &str, signer: &str) -> Result<IncidentResult, Error> {
        let mut l = self.open_write()?;
        let rec = find_incident(&l, id)?;
        if rec.commitment.is_none() {
            return Err(Error::input(
                format!("incident {id} is not confidential: its summary is already public"),
                "only incidents opened with --confidential can be disclosed",
            ));
        }
        if let Some(s) = rec.disclosed {
            return Err(Error::input(
                format!("incident {id} was already disclosed in entry {s}"),
                format!("see it with `speclog show {s}`"),
            ));
        }
        let name = incident::private_name(id);
        let details: incident::PrivateDetails = l
            .reader()
            .private(&name)?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                Error::input(
                    format!("the confidential summary of {id} is not in this ledger's private table"),
                    "disclose from the ledger copy the incident was opened in (private rows are never published)",
                )
            })?;
        let d = incident::Disclose {
            id: id.to_string(),
            summary: details.summary,
            salt: details.salt,
        };
        incident::check_disclosure(&rec, &d)?;
        self.incident_append(&mut l, signer, kinds::INCIDENT_DISCLOSE, rec.status, &d)
    }
}

fn incident_result(
    l: &Ledger,
    seq: u64,
    status: Status,
    private_row: Option<String>,
) -> Result<IncidentResult, Error> {
    let data = l
        .reader()
        .entry(seq)?
        .ok_or_else(|| LedgerError::NoEntry(seq.to_string()))?;
    let (e, p) = decode(&data)?;
    Ok(IncidentResult {
        seq,
        hash: hex::encode(entry::entry_hash(&data)),
        id: p.subject(),
        kind: e.kind.clone(),
        status,
        private_row,
        payload: e.payload_json(),
    })
}

// ---- approvals and policy ----

/// Where a label's latest release stands against the policy's approval rule.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalStatus {
    pub label: String,
    pub release: EntryRef,
    /// Roles whose approval counts (empty: the policy asks for none).
    pub required: Vec<String>,
    pub quorum: u32,
    pub approvals: Vec<ApprovalRec>,
    /// Distinct required roles that approved.
    pub approved_roles: Vec<String>,
    pub approved: bool,
}

/// What `spec approve` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ApproveResult {
    pub seq: u64,
    pub hash: String,
    pub approval: SpecApprove,
    pub status: ApprovalStatus,
}

fn approval_status_in(l: &Ledger, label: &str) -> Result<ApprovalStatus, Error> {
    let rels = l.reader().releases(label)?;
    let last = rels.last().ok_or_else(|| unknown_release(label))?;
    let policy = l.authority()?.policy;
    let (required, quorum) = match &policy.release_approvals {
        Some(a) => (a.roles.clone(), a.quorum),
        None => (Vec::new(), 0),
    };
    let approvals = l.reader().approvals(label)?;
    // Each signer approves once (a rule), so distinct roles are distinct people.
    let approved_roles: Vec<String> = approvals
        .iter()
        .map(|a| a.role.clone())
        .filter(|r| required.contains(r))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(ApprovalStatus {
        label: label.to_string(),
        release: EntryRef::new(last.seq, &last.hash),
        approved: approved_roles.len() as u64 >= u64::from(quorum),
        required,
        quorum,
        approvals,
        approved_roles,
    })
}

impl Workspace {
    /// The approval status of the latest release of `label`.
    pub fn approval_status(&self, label: &str) -> Result<ApprovalStatus, Error> {
        approval_status_in(&self.open()?, label)
    }

    /// Approves the latest release of `label` in `role` (default: the signer's
    /// only approval role).
    pub fn spec_approve(
        &self,
        label: &str,
        signer: &str,
        role: Option<&str>,
    ) -> Result<ApproveResult, Error> {
        let mut l = self.open_write()?;
        let rels = l.reader().releases(label)?;
        let last = rels.last().ok_or_else(|| unknown_release(label))?;
        let auth = l.authority()?;
        let Some(rule) = &auth.policy.release_approvals else {
            return Err(Error::input(
                "the policy asks for no release approvals",
                "set them first: `speclog policy set --approvals ROLE,ROLE --quorum M`",
            ));
        };
        let held: Vec<&String> = auth
            .active(signer)
            .map(|k| k.roles.iter().filter(|r| rule.roles.contains(r)).collect())
            .unwrap_or_default();
        let role = match (role, held.as_slice()) {
            (Some(r), _) => r.to_string(),
            (None, [one]) => (*one).clone(),
            (None, []) => {
                return Err(Error::input(
                    format!(
                        "signer {signer:?} holds none of the approval roles ({})",
                        rule.roles.join(", ")
                    ),
                    "approve with a key that has one of those roles",
                ));
            }
            (None, many) => {
                return Err(Error::input(
                    format!(
                        "signer {signer:?} holds several approval roles ({})",
                        many.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "choose one with --role",
                ));
            }
        };
        let p = SpecApprove {
            label: label.to_string(),
            release: EntryRef::new(last.seq, &last.hash),
            role,
        };
        let a = self.append(&mut l, signer, vec![Draft::new(kinds::SPEC_APPROVE, &p)])?;
        let (seq, hash) = a.entries[0];
        Ok(ApproveResult {
            seq,
            hash: hex::encode(hash),
            approval: p,
            status: approval_status_in(&l, label)?,
        })
    }

    /// Sets (or with `roles` empty, clears) the release approval rule: `quorum`
    /// distinct roles of `roles` must approve a release. Signed by the admin.
    pub fn policy_set_approvals(
        &self,
        roles: &[String],
        quorum: u32,
    ) -> Result<(u64, governance::Policy), Error> {
        let mut roles_d: Vec<String> = Vec::new();
        for r in roles.iter().flat_map(|r| r.split(',')).map(str::trim) {
            if r.is_empty() {
                continue;
            }
            governance::policy::check_role(r)?;
            if !roles_d.iter().any(|x| x == r) {
                roles_d.push(r.to_string());
            }
        }
        if !roles_d.is_empty() && (quorum == 0 || quorum as usize > roles_d.len()) {
            return Err(Error::input(
                format!(
                    "--quorum {quorum} is not between 1 and the {} approval roles",
                    roles_d.len()
                ),
                "example: --approvals safety,legal,product --quorum 2",
            ));
        }
        let mut l = self.open_write()?;
        let mut policy = l.authority()?.policy;
        policy.release_approvals = (!roles_d.is_empty()).then_some(Approvals {
            roles: roles_d,
            quorum,
        });
        let a = self.append(
            &mut l,
            ADMIN,
            vec![Draft::new(
                kinds::POLICY_SET,
                &PolicySet {
                    policy: policy.clone(),
                },
            )],
        )?;
        Ok((a.entries[0].0, policy))
    }
}

// ---- queries ----

/// An evaluation, summarised for queries.
#[derive(Clone, Debug, Serialize)]
pub struct EvalSummary {
    pub id: String,
    pub seq: u64,
    pub time: String,
    pub spec: SpecLink,
    pub model: String,
    pub suite: String,
    pub evaluator: String,
    pub relationship: String,
    pub pass: Option<bool>,
    pub outcomes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preregistration: Option<u64>,
    /// For a clause query: the outcomes on that clause.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on_clause: Vec<eval::Outcome>,
}

/// An incident, summarised for queries.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentSummary {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub opened: u64,
    pub spec: SpecLink,
    pub clauses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_by: Option<SpecLink>,
}

/// One release's version of a clause.
#[derive(Clone, Debug, Serialize)]
pub struct ClauseVersion {
    pub label: String,
    pub seq: u64,
    /// The clause's id in this release (another name if it was renamed).
    pub id: String,
    pub title: String,
    pub sha256: String,
    /// The text differs from the previous release that had the clause.
    pub changed: bool,
    /// The clause's exact bytes in this release (heading line included).
    pub text: String,
}

/// Everything the ledger says about one clause id.
#[derive(Clone, Debug, Serialize)]
pub struct ClauseReport {
    pub id: String,
    /// The ids the clause had before or after a rename (see [`diff::renames`]),
    /// sorted; the versions, incidents and evaluations under those names are
    /// included.
    pub aliases: Vec<String>,
    /// Every title the clause had, in the order of the releases first giving it.
    pub titles: Vec<String>,
    pub versions: Vec<ClauseVersion>,
    pub incidents: Vec<IncidentSummary>,
    pub evaluations: Vec<EvalSummary>,
}

/// A step of an incident's life.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentStep {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub signer: String,
    pub text: String,
}

/// The release that fixed an incident and what it changed.
#[derive(Clone, Debug, Serialize)]
pub struct Fix {
    pub release: ReleaseView,
    pub previous: Option<ReleaseView>,
    /// Clauses the fix changed against `previous`, with the changed,
    /// added and removed text; empty exactly when the texts are identical.
    pub diff: Option<ClauseDiff>,
    /// Evaluations of `previous` and of the fixing release.
    pub evaluations_before: Vec<EvalSummary>,
    pub evaluations_after: Vec<EvalSummary>,
}

/// Everything the ledger says about one incident.
#[derive(Clone, Debug, Serialize)]
pub struct IncidentReport {
    pub incident: IncidentSummary,
    pub confidential: bool,
    /// The public or disclosed summary.
    pub summary: Option<String>,
    pub aware_at: String,
    pub timeline: Vec<IncidentStep>,
    /// Releases that list the incident in their `fixes`.
    pub fixing_releases: Vec<ReleaseView>,
    /// The release named by the resolution, else the latest fixing release.
    pub fix: Option<Fix>,
}

/// Evaluations of every release of a label.
#[derive(Clone, Debug, Serialize)]
pub struct EvalsReport {
    pub label: String,
    pub releases: Vec<ReleaseView>,
    pub evaluations: Vec<EvalSummary>,
}

fn all_evals(l: &Ledger) -> Result<Vec<(Entry, EvalRecord)>, Error> {
    let mut out = Vec::new();
    for row in l.reader().entries_of_kind(kinds::EVAL_RECORD)? {
        if let (e, Payload::EvalRecord(r)) = decode(&row.data)? {
            out.push((e, r));
        }
    }
    Ok(out)
}

/// `clause`: the names of one clause, whose outcomes go in `on_clause`.
fn eval_summary(e: &Entry, r: &EvalRecord, clause: Option<&BTreeSet<String>>) -> EvalSummary {
    EvalSummary {
        id: r.id.clone(),
        seq: e.seq,
        time: e.time.clone(),
        spec: r.spec.clone(),
        model: r.model.id.clone(),
        suite: format!("{}@{}", r.suite.name, r.suite.version),
        evaluator: r.evaluator.clone(),
        relationship: r.relationship.as_str().to_string(),
        pass: r.pass,
        outcomes: r.outcomes.len(),
        preregistration: r.preregistration.as_ref().map(|p| p.seq),
        on_clause: clause
            .map(|c| {
                r.outcomes
                    .iter()
                    .filter(|o| o.clauses.iter().any(|x| c.contains(x)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn evals_of_release(evals: &[(Entry, EvalRecord)], seq: u64) -> Vec<EvalSummary> {
    evals
        .iter()
        .filter(|(_, r)| r.spec.release.seq == seq)
        .map(|(e, r)| eval_summary(e, r, None))
        .collect()
}

fn incident_summary(r: &IncidentRec) -> IncidentSummary {
    IncidentSummary {
        id: r.id.clone(),
        title: r.title.clone(),
        severity: r.severity,
        status: r.status,
        opened: r.opened.seq,
        spec: r.spec.clone(),
        clauses: r.clauses.clone(),
        fixed_by: r.fixed_by.clone(),
    }
}

impl Workspace {
    /// Which releases carried clause `id` (and whether its text changed), which
    /// incidents touched it and which evaluations measured it.
    pub fn query_clause(&self, id: &str) -> Result<ClauseReport, Error> {
        let l = self.open()?;
        // Every release in ledger order, with its clauses, and the renames
        // between each release and the one before it.
        let mut releases: Vec<(Release, String, Vec<Clause>)> = Vec::new();
        for row in l.reader().entries_of_kind(kinds::SPEC_RELEASE)? {
            if let Some(rel) = release_at(&l, row.seq)? {
                let (text, clauses) = release_clauses(&l, &rel)?;
                releases.push((rel, text, clauses));
            }
        }
        let renames: Vec<Vec<(String, String)>> = releases
            .iter()
            .enumerate()
            .map(|(i, (_, text, clauses))| match i.checked_sub(1) {
                Some(p) => diff::renames(&releases[p].1, &releases[p].2, text, clauses),
                None => Vec::new(),
            })
            .collect();
        // The clause's names: `id`, and every id it was renamed from or to.
        let mut names: BTreeSet<String> = BTreeSet::from([id.to_string()]);
        loop {
            let before = names.len();
            for (from, to) in renames.iter().flatten() {
                if names.contains(from) || names.contains(to) {
                    names.insert(from.clone());
                    names.insert(to.clone());
                }
            }
            if names.len() == before {
                break;
            }
        }
        let mut versions: Vec<ClauseVersion> = Vec::new();
        let mut titles: Vec<String> = Vec::new();
        for (rel, text, clauses) in &releases {
            if let Some(c) = clauses.iter().find(|c| names.contains(&c.id)) {
                let changed = versions.last().is_some_and(|v| v.sha256 != c.sha256);
                if !titles.contains(&c.title) {
                    titles.push(c.title.clone());
                }
                versions.push(ClauseVersion {
                    label: rel.view.label.clone(),
                    seq: rel.view.seq,
                    id: c.id.clone(),
                    title: c.title.clone(),
                    sha256: c.sha256.clone(),
                    changed,
                    text: c.text(text).to_string(),
                });
            }
        }
        let mut incidents = Vec::new();
        for row in l.reader().entries_of_kind(kinds::INCIDENT_OPEN)? {
            if let (_, Payload::IncidentOpen(o)) = decode(&row.data)?
                && o.clauses.iter().any(|c| names.contains(c))
                && let Some(rec) = l.reader().incident(&o.id)?
            {
                incidents.push(incident_summary(&rec));
            }
        }
        let evaluations: Vec<EvalSummary> = all_evals(&l)?
            .iter()
            .filter(|(_, r)| {
                r.outcomes
                    .iter()
                    .any(|o| o.clauses.iter().any(|c| names.contains(c)))
            })
            .map(|(e, r)| eval_summary(e, r, Some(&names)))
            .collect();
        if versions.is_empty() && incidents.is_empty() && evaluations.is_empty() {
            return Err(Error::input(
                format!("no release, incident or evaluation names clause {id:?}"),
                "list a release's clause ids with `speclog query clauses LABEL`",
            ));
        }
        names.remove(id);
        Ok(ClauseReport {
            id: id.to_string(),
            aliases: names.into_iter().collect(),
            titles,
            versions,
            incidents,
            evaluations,
        })
    }

    /// An incident's life, the release that fixed it, the clauses that release
    /// changed, and the evaluations before and after the fix.
    pub fn query_incident(&self, id: &str) -> Result<IncidentReport, Error> {
        let l = self.open()?;
        let rec = find_incident(&l, id)?;
        let mut timeline = Vec::new();
        let (mut summary, mut aware_at) = (None, String::new());
        for row in l.reader().entries_about("incident.", id)? {
            let (e, p) = decode(&row.data)?;
            let text = match p {
                Payload::IncidentOpen(o) => {
                    summary = o.summary.clone();
                    aware_at = o.aware_at.clone();
                    format!("opened: {} ({})", o.title, o.severity.as_str())
                }
                Payload::IncidentUpdate(u) => format!("{}: {}", u.status.as_str(), u.note),
                Payload::IncidentResolve(r) => format!("resolved: {}", r.resolution),
                Payload::IncidentDisclose(d) => {
                    summary = Some(d.summary.clone());
                    "disclosed the confidential summary".to_string()
                }
                _ => continue,
            };
            timeline.push(IncidentStep {
                seq: e.seq,
                time: e.time,
                kind: e.kind,
                signer: e.signer,
                text,
            });
        }
        let mut fixing = Vec::new();
        for row in l.reader().entries_of_kind(kinds::SPEC_RELEASE)? {
            if let Some(rel) = release_at(&l, row.seq)?
                && rel.view.fixes.iter().any(|f| f == id)
            {
                fixing.push(rel);
            }
        }
        let chosen = match &rec.fixed_by {
            Some(f) => release_at(&l, f.release.seq)?,
            None => fixing.last().cloned(),
        };
        let fix = match chosen {
            None => None,
            Some(rel) => {
                let evals = all_evals(&l)?;
                // The version in force before the fix: the release the fix
                // follows, else (a fix under a new label, first of the
                // ledger) the release the incident was opened against.
                let prev = match previous_release(&l, &rel)? {
                    Some(p) => Some(p),
                    None if rec.spec.release.seq != rel.view.seq => {
                        release_at(&l, rec.spec.release.seq)?
                    }
                    None => None,
                };
                let diff = match &prev {
                    Some(p) => Some(clause_diff(&l, p, &rel)?),
                    None => None,
                };
                Some(Fix {
                    evaluations_before: prev
                        .as_ref()
                        .map(|p| evals_of_release(&evals, p.view.seq))
                        .unwrap_or_default(),
                    evaluations_after: evals_of_release(&evals, rel.view.seq),
                    release: rel.view,
                    previous: prev.map(|p| p.view),
                    diff,
                })
            }
        };
        Ok(IncidentReport {
            incident: incident_summary(&rec),
            confidential: rec.commitment.is_some(),
            summary,
            aware_at,
            timeline,
            fixing_releases: fixing.into_iter().map(|r| r.view).collect(),
            fix,
        })
    }

    /// The evaluations of every release of `label`.
    pub fn query_evals(&self, label: &str) -> Result<EvalsReport, Error> {
        let l = self.open()?;
        let rels = l.reader().releases(label)?;
        if rels.is_empty() {
            return Err(unknown_release(label));
        }
        let mut releases = Vec::new();
        for r in &rels {
            releases.extend(release_at(&l, r.seq)?.map(|x| x.view));
        }
        let seqs: BTreeMap<u64, ()> = rels.iter().map(|r| (r.seq, ())).collect();
        let evaluations = all_evals(&l)?
            .iter()
            .filter(|(_, r)| seqs.contains_key(&r.spec.release.seq))
            .map(|(e, r)| eval_summary(e, r, None))
            .collect();
        Ok(EvalsReport {
            label: label.to_string(),
            releases,
            evaluations,
        })
    }

    /// Reads an incident summary from `--summary` or `--summary-file`.
    pub fn summary_text(summary: Option<String>, file: Option<&Path>) -> Result<String, Error> {
        match (summary, file) {
            (Some(s), None) => Ok(s),
            (None, Some(p)) => read_text(p, "summary file", incident::MAX_TEXT as u64),
            _ => Err(Error::input(
                "give the summary with --summary TEXT or --summary-file FILE",
                "example: --summary \"The model refused benign medical questions\"",
            )),
        }
    }
}
