//! Governance subcommands: evaluations, incidents, diffs, approvals, policy and queries.
//! (Wired into `cli::Command` as `Eval`, `Incident`, `Diff`, `Query`, `Policy`
//! and `spec approve`.)

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use speclog::Error;
use speclog::app::{IncidentResult, NewIncident, Workspace};
use speclog::governance::diff::{ClauseDiff, Hunk, LineOp};
use speclog::governance::eval::Outcome;
use speclog::governance::incident::{Severity, Status};

use super::JsonFlag;
use super::output::Out;

/// Record evaluations of the spec.
#[derive(Subcommand, Debug)]
pub enum EvalCmd {
    /// Record an evaluation of a spec release from a results file (see docs/results-format.md).
    #[command(after_help = "\
Pass/fail is computed from each result's value, comparator and threshold and
stored with the entry; `speclog verify` recomputes it from the stored file.
With --preregistration the results must be exactly the registered metrics;
a missing threshold is taken from the registration and a different one is an error.

Examples:
  speclog eval record --spec 2025-09-12 --results results.json --signer evals-team
  speclog eval record --spec 2025-12-18@9 --results r.json --signer evals-team --preregistration PREREG-1")]
    Record {
        /// The release: LABEL (latest revision), LABEL@SEQ or a release's entry number.
        #[arg(long)]
        spec: String,
        /// The results file (JSON).
        #[arg(long)]
        results: PathBuf,
        /// Name of the signing key (role evaluator).
        #[arg(long, env = "SPECLOG_SIGNER")]
        signer: String,
        /// Check the results against this pre-registration, e.g. PREREG-1.
        #[arg(long)]
        preregistration: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Pre-register pass/fail thresholds before running an evaluation.
    #[command(after_help = "\
The thresholds file: {\"thresholds\": [{\"clauses\": [\"do_not_lie\"], \"metric\": \"accuracy\",
\"comparator\": \">=\", \"threshold\": 0.9}]}

Example:
  speclog eval preregister --spec 2025-09-12 --suite honesty@1.2 --thresholds t.json --signer evals-team")]
    Preregister {
        /// The release: LABEL, LABEL@SEQ or a release's entry number.
        #[arg(long)]
        spec: String,
        /// The suite, NAME@VERSION.
        #[arg(long)]
        suite: String,
        /// The thresholds file (JSON).
        #[arg(long)]
        thresholds: PathBuf,
        /// Name of the signing key (role evaluator).
        #[arg(long, env = "SPECLOG_SIGNER")]
        signer: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SeverityArg {
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StatusArg {
    Investigating,
    Mitigated,
    Monitoring,
}

impl From<StatusArg> for Status {
    fn from(s: StatusArg) -> Status {
        match s {
            StatusArg::Investigating => Status::Investigating,
            StatusArg::Mitigated => Status::Mitigated,
            StatusArg::Monitoring => Status::Monitoring,
        }
    }
}

/// Record incidents and their lifecycle.
#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// Open an incident against a spec release (id INC-<n>).
    #[command(after_help = "\
With --confidential the entry holds only a commitment to the summary,
sha256(\"speclog/incident-details/v1\\n\" || salt || summary); the summary and salt
stay in the ledger's private table until `speclog incident disclose`.

Examples:
  speclog incident open --title \"Over-optimistic medical answers\" --severity high \\
      --summary \"...\" --spec 2025-12-18 --clause be_rationally_optimistic \\
      --aware-at 2025-12-18T09:00:00Z --signer incident-desk
  speclog incident open --title \"Spin on bad news\" --severity medium --summary \"...\" \\
      --spec 2025-12-18 --quote \"put a cheerful spin on things\" \\
      --aware-at 2025-12-18T09:00:00Z --signer incident-desk
  speclog incident open --title T --severity low --summary-file s.md --spec 2025-12-18 \\
      --aware-at 2025-12-18T09:00:00-08:00 --confidential --signer incident-desk

--clause takes any clause id of the release, a section or any part of one
(`speclog query clauses LABEL` lists them). --quote takes words of the
release's text, exactly as written, and names the smallest clause holding
them; a quote found in several clauses, or not found, is refused with the
candidates.")]
    Open {
        #[arg(long)]
        title: String,
        #[arg(long, value_enum)]
        severity: SeverityArg,
        /// The summary text.
        #[arg(long, conflicts_with = "summary_file")]
        summary: Option<String>,
        /// Read the summary from a file.
        #[arg(long, value_name = "FILE")]
        summary_file: Option<PathBuf>,
        /// The release in force: LABEL, LABEL@SEQ or a release's entry number.
        #[arg(long)]
        spec: String,
        /// A clause the incident touched (repeatable).
        #[arg(long = "clause", value_name = "ID")]
        clauses: Vec<String>,
        /// Exact words of the release's text; names the clause holding them (repeatable).
        #[arg(long = "quote", value_name = "TEXT")]
        quotes: Vec<String>,
        /// When the organisation became aware of it (RFC 3339).
        #[arg(long, value_name = "TIME")]
        aware_at: String,
        #[arg(long)]
        reporter: Option<String>,
        /// Publish only a commitment to the summary.
        #[arg(long)]
        confidential: bool,
        /// Name of the signing key (role incident-responder).
        #[arg(long, env = "SPECLOG_SIGNER")]
        signer: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Record a status change of an open incident.
    #[command(
        after_help = "Example:\n  speclog incident update INC-1 --status mitigated --note \"rolled back the prompt\" --signer incident-desk"
    )]
    Update {
        id: String,
        #[arg(long, value_enum)]
        status: StatusArg,
        #[arg(long)]
        note: String,
        #[arg(long, env = "SPECLOG_SIGNER")]
        signer: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Resolve an incident (final: a resolved incident takes no more updates).
    #[command(after_help = "\
--fixed-by must name a release whose --fixes lists the incident.

Examples:
  speclog incident resolve INC-1 --resolution \"clarified the clause\" --fixed-by 2025-12-18 --signer incident-desk
  speclog incident resolve INC-2 --resolution \"not a spec issue\" --signer incident-desk")]
    Resolve {
        id: String,
        #[arg(long)]
        resolution: String,
        /// The release that fixed it: LABEL, LABEL@SEQ or a release's entry number.
        #[arg(long, value_name = "RELEASE")]
        fixed_by: Option<String>,
        #[arg(long, env = "SPECLOG_SIGNER")]
        signer: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Publish a confidential incident's summary and salt; verify checks them against the commitment.
    #[command(after_help = "Example:\n  speclog incident disclose INC-3 --signer incident-desk")]
    Disclose {
        id: String,
        #[arg(long, env = "SPECLOG_SIGNER")]
        signer: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// `speclog diff`.
#[derive(Args, Debug)]
#[command(after_help = "\
A release is LABEL (its latest revision), LABEL@SEQ or a release's entry number.
Renamed clauses keep their text (or most of it) under a new id.

Examples:
  speclog diff 2025-04-11 2025-09-12
  speclog diff 2025-12-18@9 2025-12-18 --clauses
  speclog diff 2025-10-27 2025-12-18 --json | jq .diff.renamed")]
pub struct DiffArgs {
    /// The old release.
    pub from: String,
    /// The new release.
    pub to: String,
    /// Show the text changes of each changed or renamed clause.
    #[arg(long)]
    pub clauses: bool,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `speclog query ...`.
#[derive(Subcommand, Debug)]
pub enum QueryCmd {
    /// A clause: the releases that carried it, incidents that touched it, evaluations that measured it.
    #[command(after_help = "Example:\n  speclog query clause be_rationally_optimistic")]
    Clause {
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// An incident: its timeline, the release that fixed it, what that release changed, and the evaluations before and after.
    #[command(after_help = "Example:\n  speclog query incident INC-1 --json")]
    Incident {
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// The evaluations of every release of a label.
    #[command(after_help = "Example:\n  speclog query evals 2025-12-18")]
    Evals {
        label: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Every clause of a release: id, kind, and the first words of its text.
    #[command(
        after_help = "Examples:\n  speclog query clauses 2025-12-18\n  speclog query clauses 2025-12-18@9"
    )]
    Clauses {
        release: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Whether the latest release of a label has the approvals the policy asks for.
    #[command(after_help = "Example:\n  speclog query approvals 2025-12-18")]
    Approvals {
        label: String,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// `speclog policy ...`.
#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Change the release approval rule (an admin-signed policy.set).
    #[command(after_help = "\
M distinct roles of the list must approve a release (each signer approves once).

Examples:
  speclog policy set --approvals safety,legal,product --quorum 2
  speclog policy set --clear-approvals")]
    Set {
        /// Approval roles, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            required_unless_present = "clear_approvals"
        )]
        approvals: Vec<String>,
        /// How many of the roles must approve.
        #[arg(long, required_unless_present = "clear_approvals")]
        quorum: Option<u32>,
        /// Remove the approval rule.
        #[arg(long, conflicts_with_all = ["approvals", "quorum"])]
        clear_approvals: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Print the policy in force.
    #[command(after_help = "Examples:\n  speclog policy show\n  speclog policy show --json")]
    Show {
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// `speclog spec approve`.
#[derive(Args, Debug)]
#[command(after_help = "\
Approves the latest release of LABEL in one of the policy's approval roles.

Example:
  speclog spec approve 2025-12-18 --signer legal-lead
  speclog spec approve 2025-12-18 --signer cto --role product")]
pub struct ApproveArgs {
    pub label: String,
    #[arg(long, env = "SPECLOG_SIGNER")]
    pub signer: String,
    /// The approving role, if the signer holds several approval roles.
    #[arg(long)]
    pub role: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}

fn verdict(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "n/a ",
    }
}

fn outcome_line(o: &Outcome) -> String {
    let rule = match o.threshold {
        Some(t) => format!("{} {} {t}", o.value, o.comparator.as_str()),
        None => format!("{} (no threshold)", o.value),
    };
    format!(
        "  {} {} on [{}]: {rule}",
        verdict(o.pass),
        o.metric,
        o.clauses.join(", ")
    )
}

pub fn run_eval(ws: &Workspace, cmd: EvalCmd, out: &mut Out) -> Result<(), Error> {
    match cmd {
        EvalCmd::Record {
            spec,
            results,
            signer,
            preregistration,
            json,
        } => {
            let r = ws.eval_record(&spec, &results, &signer, preregistration.as_deref())?;
            if json.json {
                return out.json(&r);
            }
            out.line(&format!(
                "recorded {} as entry {} against {} (entry {}): {} outcomes, overall {}",
                r.record.id,
                r.seq,
                r.release.label,
                r.release.seq,
                r.record.outcomes.len(),
                verdict(r.record.pass).trim()
            ));
            for o in &r.record.outcomes {
                out.line(&outcome_line(o));
            }
            if let Some(p) = &r.checked_against {
                out.line(&format!(
                    "checked against pre-registration {p}: every registered metric reported, thresholds as registered"
                ));
            }
            Ok(())
        }
        EvalCmd::Preregister {
            spec,
            suite,
            thresholds,
            signer,
            json,
        } => {
            let r = ws.eval_preregister(&spec, &suite, &thresholds, &signer)?;
            if json.json {
                return out.json(&r);
            }
            out.line(&format!(
                "pre-registered {} as entry {}: {} thresholds for {}@{} on {}",
                r.preregistration.id,
                r.seq,
                r.preregistration.thresholds.len(),
                r.preregistration.suite.name,
                r.preregistration.suite.version,
                r.release.label
            ));
            Ok(())
        }
    }
}

fn incident_out(out: &mut Out, r: &IncidentResult, json: bool, verb: &str) -> Result<(), Error> {
    if json {
        return out.json(r);
    }
    out.line(&format!(
        "{verb} {} in entry {} (status {})",
        r.id,
        r.seq,
        r.status.as_str()
    ));
    if let Some(p) = &r.private_row {
        out.line(&format!(
            "the summary is confidential: the entry holds commitment {}; summary and salt are in private row {p}",
            r.payload["commitment"].as_str().unwrap_or("")
        ));
    }
    Ok(())
}

pub fn run_incident(ws: &Workspace, cmd: IncidentCmd, out: &mut Out) -> Result<(), Error> {
    match cmd {
        IncidentCmd::Open {
            title,
            severity,
            summary,
            summary_file,
            spec,
            mut clauses,
            quotes,
            aware_at,
            reporter,
            confidential,
            signer,
            json,
        } => {
            let summary = Workspace::summary_text(summary, summary_file.as_deref())?;
            let mut found = Vec::new();
            for (i, q) in quotes.iter().enumerate() {
                let place = if quotes.len() > 1 {
                    format!(" {}", i + 1)
                } else {
                    String::new()
                };
                let c = ws.clause_of_quote(&spec, q, &place)?;
                found.push(format!(
                    "quote{place} found in clause {} ({}: {})",
                    c.id,
                    c.kind.as_str(),
                    c.title
                ));
                if !clauses.contains(&c.id) {
                    clauses.push(c.id);
                }
            }
            let n = NewIncident {
                title,
                severity: severity.into(),
                summary,
                spec,
                clauses,
                aware_at,
                reporter,
                confidential,
            };
            let r = ws.incident_open(&n, &signer)?;
            incident_out(out, &r, json.json, "opened")?;
            if !json.json {
                for f in &found {
                    out.line(&format!("  {f}"));
                }
            }
            Ok(())
        }
        IncidentCmd::Update {
            id,
            status,
            note,
            signer,
            json,
        } => {
            let r = ws.incident_update(&id, status.into(), &note, &signer)?;
            incident_out(out, &r, json.json, "updated")
        }
        IncidentCmd::Resolve {
            id,
            resolution,
            fixed_by,
            signer,
            json,
        } => {
            let r = ws.incident_resolve(&id, &resolution, fixed_by.as_deref(), &signer)?;
            incident_out(out, &r, json.json, "resolved")
        }
        IncidentCmd::Disclose { id, signer, json } => {
            let r = ws.incident_disclose(&id, &signer)?;
            incident_out(out, &r, json.json, "disclosed")
        }
    }
}

fn hunk_lines(out: &mut Out, indent: &str, hunks: &[Hunk]) {
    for h in hunks {
        out.line(&format!(
            "{indent}    @@ -{},{} +{},{} @@",
            h.old_start, h.old_lines, h.new_start, h.new_lines
        ));
        for l in &h.lines {
            let mark = match l.op {
                LineOp::Equal => ' ',
                LineOp::Delete => '-',
                LineOp::Insert => '+',
            };
            let text = if l.spans.is_empty() {
                l.text.clone()
            } else {
                // Changed words in [-...-] / {+...+}, like `git diff --word-diff`.
                l.spans
                    .iter()
                    .map(|s| match (s.changed, l.op) {
                        (true, LineOp::Delete) => format!("[-{}-]", s.text),
                        (true, _) => format!("{{+{}+}}", s.text),
                        (false, _) => s.text.clone(),
                    })
                    .collect()
            };
            out.line(&format!("{indent}    {mark}{text}"));
        }
    }
}

pub fn run_diff(ws: &Workspace, a: DiffArgs, out: &mut Out) -> Result<(), Error> {
    let r = ws.diff(&a.from, &a.to, a.clauses)?;
    if a.json.json {
        return out.json(&r);
    }
    let d = &r.diff;
    out.line(&format!(
        "{} (entry {}) -> {} (entry {}): {} changed, {} renamed, {} added, {} removed, {} unchanged",
        r.from.label,
        r.from.seq,
        r.to.label,
        r.to.seq,
        d.changed.len(),
        d.renamed.len(),
        d.added.len(),
        d.removed.len(),
        d.unchanged
    ));
    clause_changes(out, d, "", a.clauses);
    Ok(())
}

/// The clauses of a diff, one line each after `indent`; with `text`, the
/// changed lines of each, and the whole text of each added or removed leaf.
fn clause_changes(out: &mut Out, d: &ClauseDiff, indent: &str, text: bool) {
    let hunks = |out: &mut Out, h: &[Hunk]| {
        if text {
            hunk_lines(out, indent, h);
        }
    };
    for c in &d.changed {
        out.line(&format!(
            "{indent}~ {}  {} (similarity {:.2})",
            c.id, c.title, c.similarity
        ));
        hunks(out, &c.hunks);
    }
    for c in &d.renamed {
        let how = if c.same_text {
            "same text".to_string()
        } else {
            format!("similarity {:.2}", c.similarity)
        };
        out.line(&format!(
            "{indent}> {} -> {}  {} ({how})",
            c.from, c.to, c.title
        ));
        hunks(out, &c.hunks);
    }
    for c in &d.added {
        out.line(&format!("{indent}+ {}  {}", c.id, c.title));
        hunks(out, &c.hunks);
    }
    for c in &d.removed {
        out.line(&format!("{indent}- {}  {}", c.id, c.title));
        hunks(out, &c.hunks);
    }
    for c in &d.moved {
        out.line(&format!(
            "{indent}^ {}  {} (moved, same text)",
            c.id, c.title
        ));
    }
}

pub fn run_query(ws: &Workspace, cmd: QueryCmd, out: &mut Out) -> Result<(), Error> {
    match cmd {
        QueryCmd::Clause { id, json } => {
            let r = ws.query_clause(&id)?;
            if json.json {
                return out.json(&r);
            }
            out.line(&format!("clause {}", r.id));
            if !r.aliases.is_empty() {
                out.line(&format!("  also named {}", r.aliases.join(", ")));
            }
            if r.titles.len() > 1 {
                out.line(&format!(
                    "  titles: {}",
                    r.titles
                        .iter()
                        .map(|t| format!("{t:?}"))
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ));
            }
            let mut shown: Option<&str> = None;
            for v in &r.versions {
                out.line(&format!(
                    "  in {:<20} entry {:>5}  {}{}{}  {}",
                    v.label,
                    v.seq,
                    &v.sha256[..12],
                    if v.changed { "  (text changed)" } else { "" },
                    if v.id != r.id {
                        format!("  (as {})", v.id)
                    } else {
                        String::new()
                    },
                    v.title
                ));
                // The text, unless the release before showed the same bytes.
                match shown {
                    Some(prev) if prev == v.text => out.line("      (same text as above)"),
                    _ => {
                        for line in v.text.trim_end_matches('\n').lines() {
                            out.line(&format!("      | {line}"));
                        }
                    }
                }
                shown = Some(&v.text);
            }
            for i in &r.incidents {
                out.line(&format!(
                    "  incident {} [{} {}] {}",
                    i.id,
                    i.severity.as_str(),
                    i.status.as_str(),
                    i.title
                ));
            }
            for e in &r.evaluations {
                for o in &e.on_clause {
                    out.line(&format!(
                        "  eval {} on {} ({}){}",
                        e.id,
                        e.spec.label,
                        e.model,
                        outcome_line(o)
                    ));
                }
            }
            Ok(())
        }
        QueryCmd::Incident { id, json } => {
            let r = ws.query_incident(&id)?;
            if json.json {
                return out.json(&r);
            }
            let i = &r.incident;
            out.line(&format!(
                "{} [{} {}] {}",
                i.id,
                i.severity.as_str(),
                i.status.as_str(),
                i.title
            ));
            out.line(&format!(
                "  against {} (entry {}), clauses: {}, aware at {}",
                i.spec.label,
                i.spec.release.seq,
                if i.clauses.is_empty() {
                    "-".to_string()
                } else {
                    i.clauses.join(", ")
                },
                r.aware_at
            ));
            if let Some(s) = &r.summary {
                out.line(&format!("  summary: {s}"));
            } else if r.confidential {
                out.line("  summary: confidential (not disclosed)");
            }
            for s in &r.timeline {
                out.line(&format!(
                    "  {:>5}  {}  {}  {}",
                    s.seq, s.time, s.signer, s.text
                ));
            }
            if let Some(f) = &r.fix {
                out.line(&format!(
                    "  fixed by {} (entry {}, revision {})",
                    f.release.label, f.release.seq, f.release.revision
                ));
                if let (Some(p), Some(d)) = (&f.previous, &f.diff) {
                    let mut ids: Vec<String> = d.changed.iter().map(|c| c.id.clone()).collect();
                    ids.extend(d.renamed.iter().map(|c| format!("{}->{}", c.from, c.to)));
                    ids.extend(d.added.iter().map(|c| format!("+{}", c.id)));
                    ids.extend(d.removed.iter().map(|c| format!("-{}", c.id)));
                    ids.extend(d.moved.iter().map(|c| format!("^{}", c.id)));
                    out.line(&format!(
                        "  changed against {} (entry {}): {}",
                        p.label,
                        p.seq,
                        if d.is_empty() {
                            "no change (the two texts are byte-identical)".into()
                        } else {
                            ids.join(", ")
                        }
                    ));
                    clause_changes(out, d, "    ", true);
                }
                for (when, list) in [
                    ("before", &f.evaluations_before),
                    ("after", &f.evaluations_after),
                ] {
                    for e in list {
                        out.line(&format!(
                            "  eval {when}: {} on {} (entry {}) {} {}",
                            e.id,
                            e.spec.label,
                            e.spec.release.seq,
                            e.model,
                            verdict(e.pass).trim()
                        ));
                    }
                }
            }
            Ok(())
        }
        QueryCmd::Evals { label, json } => {
            let r = ws.query_evals(&label)?;
            if json.json {
                return out.json(&r);
            }
            for e in &r.evaluations {
                out.line(&format!(
                    "{:<8} entry {:>5}  {} (entry {})  {}  {}  {}  {}",
                    e.id,
                    e.seq,
                    e.spec.label,
                    e.spec.release.seq,
                    e.model,
                    e.suite,
                    e.evaluator,
                    verdict(e.pass).trim()
                ));
            }
            if r.evaluations.is_empty() {
                out.line(&format!("no evaluations of {label}"));
            }
            Ok(())
        }
        QueryCmd::Clauses { release, json } => {
            let list = ws.clauses(&release)?;
            if json.json {
                return out.json(&list);
            }
            let v = &list.release;
            out.line(&format!(
                "{} (entry {}): {} clauses ({} leaves) over {} bytes, media type {}",
                v.label,
                v.seq,
                list.clauses.len(),
                list.leaves,
                list.bytes,
                list.media_type
            ));
            if list.clauses.is_empty() {
                out.line("  no clauses: the text is empty");
            }
            let width = list
                .clauses
                .iter()
                .map(|c| 2 * c.depth + c.clause.id.chars().count())
                .max()
                .unwrap_or(0)
                .min(48);
            for c in &list.clauses {
                let id = format!("{}{}", "  ".repeat(c.depth), c.clause.id);
                let words = if c.clause.kind.is_heading() {
                    format!("{} | {}", c.clause.title, c.first_words)
                } else {
                    c.first_words.clone()
                };
                out.line(&format!(
                    "{id:<width$}  {:<9} {}",
                    c.clause.kind.as_str(),
                    words.trim_end_matches(" | ")
                ));
            }
            Ok(())
        }
        QueryCmd::Approvals { label, json } => {
            let s = ws.approval_status(&label)?;
            if json.json {
                return out.json(&s);
            }
            if s.required.is_empty() {
                out.line("the policy asks for no release approvals");
            } else {
                out.line(&format!(
                    "{} (entry {}): {} of {} required roles ({}) approved: {}",
                    s.label,
                    s.release.seq,
                    s.approved_roles.len(),
                    s.quorum,
                    s.required.join(", "),
                    if s.approved {
                        "APPROVED"
                    } else {
                        "not yet approved"
                    }
                ));
            }
            for a in &s.approvals {
                out.line(&format!(
                    "  entry {:>5}  {}  {} as {}",
                    a.seq, a.time, a.signer, a.role
                ));
            }
            Ok(())
        }
    }
}

pub fn run_policy(ws: &Workspace, cmd: PolicyCmd, out: &mut Out) -> Result<(), Error> {
    match cmd {
        PolicyCmd::Set {
            approvals,
            quorum,
            clear_approvals,
            json,
        } => {
            let roles = if clear_approvals {
                Vec::new()
            } else {
                approvals
            };
            let (seq, policy) = ws.policy_set_approvals(&roles, quorum.unwrap_or(0))?;
            if json.json {
                return out.json(&serde_json::json!({ "seq": seq, "policy": policy }));
            }
            match &policy.release_approvals {
                Some(a) => out.line(&format!(
                    "policy set in entry {seq}: releases need {} of {} approvals",
                    a.quorum,
                    a.roles.join(", ")
                )),
                None => out.line(&format!(
                    "policy set in entry {seq}: releases need no approvals"
                )),
            }
            Ok(())
        }
        PolicyCmd::Show { json } => {
            let policy = ws.open()?.authority()?.policy;
            if json.json {
                return out.json(&policy);
            }
            for (kind, roles) in &policy.kinds {
                out.line(&format!("{kind:<20} {}", roles.join(", ")));
            }
            match &policy.release_approvals {
                Some(a) => out.line(&format!(
                    "release approvals: {} of {}",
                    a.quorum,
                    a.roles.join(", ")
                )),
                None => out.line("release approvals: none"),
            }
            Ok(())
        }
    }
}

pub fn run_approve(ws: &Workspace, a: ApproveArgs, out: &mut Out) -> Result<(), Error> {
    let r = ws.spec_approve(&a.label, &a.signer, a.role.as_deref())?;
    if a.json.json {
        return out.json(&r);
    }
    let s = &r.status;
    out.line(&format!(
        "{} approved {} (entry {}) as {} in entry {}; {} of {} required roles: {}",
        a.signer,
        a.label,
        r.approval.release.seq,
        r.approval.role,
        r.seq,
        s.approved_roles.len(),
        s.quorum,
        if s.approved {
            "APPROVED"
        } else {
            "not yet approved"
        }
    ));
    Ok(())
}
