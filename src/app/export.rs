//! `speclog export`: entries for other tools, as JSON Lines or in-toto Statements.

use serde_json::json;

use super::{EntryView, Workspace};
use crate::error::Error;
use crate::governance::kinds;

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Every entry, decoded, one JSON object a line (the `log --json` objects).
    Jsonl,
    /// Each spec release and evaluation as an in-toto Statement v1, one a line.
    Intoto,
}

/// The in-toto statement type.
pub const INTOTO_STATEMENT: &str = "https://in-toto.io/Statement/v1";
/// Predicate type of a spec release statement.
pub const PREDICATE_RELEASE: &str = "https://speclog.dev/predicate/spec-release/v1";
/// Predicate type of an evaluation statement.
pub const PREDICATE_EVAL: &str = "https://speclog.dev/predicate/evaluation/v1";

/// The in-toto Statement v1 for an entry, if it is a release or an evaluation.
/// The subject is the content the entry is about (the spec text, or the results
/// file); the predicate is the signed payload with where it sits in the log.
pub fn intoto_statement(v: &EntryView, origin: &str) -> Option<serde_json::Value> {
    let p = &v.payload;
    let (subject, predicate_type) = match v.kind.as_str() {
        kinds::SPEC_RELEASE => (
            json!({"name": format!("model-spec@{}", p["label"].as_str()?), "digest": {"sha256": p["content"]["sha256"].as_str()?}}),
            PREDICATE_RELEASE,
        ),
        kinds::EVAL_RECORD => (
            json!({"name": format!("eval-results/{}.json", p["id"].as_str()?), "digest": {"sha256": p["results"]["sha256"].as_str()?}}),
            PREDICATE_EVAL,
        ),
        _ => return None,
    };
    Some(json!({
        "_type": INTOTO_STATEMENT,
        "subject": [subject],
        "predicateType": predicate_type,
        "predicate": {
            "log": {"origin": origin, "index": v.seq, "entry_hash": v.hash},
            "time": v.time,
            "signer": {"name": v.signer, "public_key": v.signer_key},
            "entry": p,
        }
    }))
}

impl Workspace {
    /// Writes every entry in `format`, one line at a time, to `out`.
    pub fn export(&self, format: Format, out: &mut dyn FnMut(String)) -> Result<(), Error> {
        let origin = self.open()?.origin()?;
        self.for_each_entry(0, |v| {
            let line = match format {
                Format::Jsonl => {
                    Some(serde_json::to_value(&v).map_err(|e| Error::Io("json".into(), e.into()))?)
                }
                Format::Intoto => intoto_statement(&v, &origin),
            };
            if let Some(l) = line {
                out(format!("{l}\n"));
            }
            Ok(())
        })
    }
}
