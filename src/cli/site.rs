//! `speclog site build|serve`. (Owned by the site work.)

use clap::Subcommand;
use speclog::Error;
use speclog::app::Workspace;

use super::output::Out;

/// Build or preview the public transparency site.
#[derive(Subcommand, Debug)]
pub enum SiteCmd {}

pub fn run_site(_ws: &Workspace, cmd: SiteCmd, _out: &mut Out) -> Result<(), Error> {
    match cmd {}
}
