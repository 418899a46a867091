//! `speclog demo`: builds a realistic example ledger from the project's own
//! example spec (embedded in the binary), verifies it, and reports what it did.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{KeySource, Workspace};
use crate::error::Error;
use crate::ledger::verify::Report;

/// The embedded example spec, three versions.
pub const SPEC_V1: &str = include_str!("../../examples/spec/v1.md");
pub const SPEC_V2: &str = include_str!("../../examples/spec/v2.md");
pub const SPEC_V3: &str = include_str!("../../examples/spec/v3.md");

/// The demo ledger's origin.
pub const DEMO_ORIGIN: &str = "demo.speclog.example/model-spec";

/// One thing the demo did.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub seq: u64,
    pub time: String,
    pub what: String,
}

/// What the demo built.
#[derive(Clone, Debug, Serialize)]
pub struct DemoReport {
    pub dir: PathBuf,
    pub ledger: PathBuf,
    pub keys: PathBuf,
    pub site: Option<PathBuf>,
    pub steps: Vec<Step>,
    pub verify: Report,
}

fn write_tmp(dir: &Path, name: &str, text: &str) -> Result<PathBuf, Error> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| Error::Io(p.display().to_string(), e))?;
    Ok(p)
}

/// An evaluation results file of the demo's honesty suite.
fn results(date: &str, honesty: f64, sycophancy: f64) -> String {
    serde_json::json!({
        "model": {"id": "example-assistant-1", "digest": "sha256:3b1f0c9a"},
        "suite": {"name": "honesty-and-sycophancy", "version": "1.0"},
        "harness": {"name": "evalkit", "version": "0.9"},
        "dataset": {"id": "honesty-probes", "revision": "2025-01"},
        "sample_size": 1500,
        "date": date,
        "evaluator": "Example Lab evals team",
        "relationship": "first-party",
        "results": [
            {"clauses": ["do_not_lie"], "metric": "truthful_rate", "value": honesty,
             "uncertainty": 0.008, "comparator": ">=", "threshold": 0.9},
            {"clauses": ["do_not_lie", "express_uncertainty"], "metric": "sycophantic_flip_rate",
             "value": sycophancy, "uncertainty": 0.006, "comparator": "<=", "threshold": 0.05}
        ]
    })
    .to_string()
}

/// Builds the demo in `out` (which must not exist or be empty).
pub fn run(out: &Path) -> Result<DemoReport, Error> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| Error::Io(out.display().to_string(), e))?
            .next()
            .is_some()
    {
        return Err(Error::input(
            format!(
                "demo directory {} already exists and is not empty",
                out.display()
            ),
            "give another --out directory, or remove this one",
        ));
    }
    let work = out.join("inputs");
    std::fs::create_dir_all(&work).map_err(|e| Error::Io(work.display().to_string(), e))?;
    let mut ws = Workspace::new(out.join("ledger"), out.join("keys"));
    let mut steps = Vec::new();
    let mut step = |time: &str, seq: u64, what: String| {
        steps.push(Step {
            seq,
            time: time.to_string(),
            what,
        })
    };

    let t = |s: &str| Some(s.to_string());
    ws.time = t("2025-01-10T09:00:00Z");
    let a = ws.init(DEMO_ORIGIN, &KeySource::FILE)?;
    step(
        "2025-01-10T09:00:00Z",
        a.entries[0].0,
        format!("created the ledger for {DEMO_ORIGIN} with its admin (log) key"),
    );
    for (name, role) in [
        ("policy-team", "spec-owner"),
        ("evals-team", "evaluator"),
        ("incident-desk", "incident-responder"),
    ] {
        let r = ws.key_generate(name, &[role.to_string()], &KeySource::FILE)?;
        step(
            "2025-01-10T09:00:00Z",
            r.seq,
            format!("registered key {name} with role {role}"),
        );
    }

    let v1 = write_tmp(&work, "spec-v1.md", SPEC_V1)?;
    let v2 = write_tmp(&work, "spec-v2.md", SPEC_V2)?;
    let v3 = write_tmp(&work, "spec-v3.md", SPEC_V3)?;
    let n2 = write_tmp(
        &work,
        "notes-2025-03-20.md",
        "Adds *Do not flatter*, asks for calibrated estimates, and renames the untrusted-data clause.\n",
    )?;

    ws.time = t("2025-01-15T16:00:00Z");
    let a = ws.release_spec(&v1, "2025-01-15", "policy-team", None, false, vec![])?;
    step(
        "2025-01-15T16:00:00Z",
        a.entries[0].0,
        "released spec version 2025-01-15".into(),
    );

    ws.time = t("2025-02-03T10:00:00Z");
    let r1 = write_tmp(
        &work,
        "eval-2025-01-15.json",
        &results("2025-02-03", 0.91, 0.07),
    )?;
    let e = ws.eval_record("2025-01-15", &r1, "evals-team", None)?;
    step(
        "2025-02-03T10:00:00Z",
        e.seq,
        format!(
            "recorded evaluation {} against 2025-01-15 (honesty suite; sycophancy rate 0.07 misses its 0.05 threshold)",
            e.record.id
        ),
    );

    ws.time = t("2025-03-20T15:30:00Z");
    let a = ws.release_spec(&v2, "2025-03-20", "policy-team", Some(&n2), false, vec![])?;
    step(
        "2025-03-20T15:30:00Z",
        a.entries[0].0,
        "released spec version 2025-03-20 with notes (adds avoid_sycophancy, renames a clause)"
            .into(),
    );

    ws.time = t("2025-03-28T09:00:00Z");
    let r2 = write_tmp(
        &work,
        "eval-2025-03-20.json",
        &results("2025-03-28", 0.94, 0.03),
    )?;
    let e = ws.eval_record("2025-03-20", &r2, "evals-team", None)?;
    step(
        "2025-03-28T09:00:00Z",
        e.seq,
        format!(
            "recorded evaluation {} against 2025-03-20 (all thresholds met)",
            e.record.id
        ),
    );

    ws.time = t("2025-04-01T08:00:00Z");
    let r = ws.key_rotate("policy-team", &KeySource::FILE)?;
    step(
        "2025-04-01T08:00:00Z",
        r.seq,
        "rotated the policy-team key (older releases stay verifiable)".into(),
    );

    ws.time = t("2025-04-14T18:20:00Z");
    let inc = ws.incident_open(
        &super::NewIncident {
            title: "Assistant repeated a home address found in a retrieved web page".into(),
            severity: crate::governance::incident::Severity::High,
            summary: "A user asked for a summary of search results about a private person. The assistant included the person's home address, which appeared in one retrieved page. The privacy clause did not say that it applies to retrieved documents.".into(),
            spec: "2025-03-20".into(),
            clauses: vec!["protect_privacy".into()],
            aware_at: "2025-04-14T17:55:00Z".into(),
            reporter: Some("external researcher".into()),
            confidential: false,
        },
        "incident-desk",
    )?;
    step(
        "2025-04-14T18:20:00Z",
        inc.seq,
        format!("opened incident {} on clause protect_privacy", inc.id),
    );
    ws.time = t("2025-04-16T11:00:00Z");
    let u = ws.incident_update(
        &inc.id,
        crate::governance::incident::Status::Mitigated,
        "Retrieval results are now filtered for addresses while the spec is revised.",
        "incident-desk",
    )?;
    step(
        "2025-04-16T11:00:00Z",
        u.seq,
        format!("updated {}: mitigated", inc.id),
    );

    ws.time = t("2025-05-02T12:00:00Z");
    let a = ws.release_spec(
        &v3,
        "2025-05-02",
        "policy-team",
        None,
        false,
        vec![inc.id.clone()],
    )?;
    step(
        "2025-05-02T12:00:00Z",
        a.entries[0].0,
        format!(
            "released spec version 2025-05-02, the post-incident revision that fixes {}",
            inc.id
        ),
    );
    ws.time = t("2025-05-03T09:00:00Z");
    let res = ws.incident_resolve(
        &inc.id,
        "The privacy clause now covers tool results and retrieved documents.",
        Some("2025-05-02"),
        "incident-desk",
    )?;
    step(
        "2025-05-03T09:00:00Z",
        res.seq,
        format!("resolved {} as fixed by 2025-05-02", inc.id),
    );

    let verify = ws.verify(&|_, _| {})?;
    let site = out.join("site");
    let ledger = ws.open()?;
    crate::site::build(&ledger, &site, &crate::site::BuildOptions::default())?;
    Ok(DemoReport {
        dir: out.to_path_buf(),
        ledger: ws.ledger_dir.clone(),
        keys: ws.keys.dir.clone(),
        site: Some(site),
        steps,
        verify,
    })
}
