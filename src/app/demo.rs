//! `speclog demo`: builds a realistic example ledger from the project's own
//! example spec (embedded in the binary), verifies it, and reports what it did.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Workspace;
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
    let a = ws.init(DEMO_ORIGIN, false)?;
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
        let r = ws.key_generate(name, &[role.to_string()], false)?;
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

    ws.time = t("2025-03-20T15:30:00Z");
    let a = ws.release_spec(&v2, "2025-03-20", "policy-team", Some(&n2), false, vec![])?;
    step(
        "2025-03-20T15:30:00Z",
        a.entries[0].0,
        "released spec version 2025-03-20 with notes".into(),
    );

    ws.time = t("2025-04-01T08:00:00Z");
    let r = ws.key_rotate("policy-team", false)?;
    step(
        "2025-04-01T08:00:00Z",
        r.seq,
        "rotated the policy-team key (older releases stay verifiable)".into(),
    );

    ws.time = t("2025-05-02T12:00:00Z");
    let a = ws.release_spec(&v3, "2025-05-02", "policy-team", None, false, vec![])?;
    step(
        "2025-05-02T12:00:00Z",
        a.entries[0].0,
        "released spec version 2025-05-02".into(),
    );

    let verify = ws.verify(&|_, _| {})?;
    Ok(DemoReport {
        dir: out.to_path_buf(),
        ledger: ws.ledger_dir.clone(),
        keys: ws.keys.dir.clone(),
        site: None,
        steps,
        verify,
    })
}
