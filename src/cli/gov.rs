//! Governance subcommands: evaluations, incidents, diffs, approvals and queries.
//! (Owned by the governance work; wired into `cli::Command` as `Eval`, `Incident`, `Diff`.)

use clap::Subcommand;
use speclog::Error;
use speclog::app::Workspace;

use super::output::Out;

/// Record evaluations of the spec.
#[derive(Subcommand, Debug)]
pub enum EvalCmd {}

/// Record incidents and their lifecycle.
#[derive(Subcommand, Debug)]
pub enum IncidentCmd {}

pub fn run_eval(_ws: &Workspace, cmd: EvalCmd, _out: &mut Out) -> Result<(), Error> {
    match cmd {}
}

pub fn run_incident(_ws: &Workspace, cmd: IncidentCmd, _out: &mut Out) -> Result<(), Error> {
    match cmd {}
}
