//! `speclog import git`: records each commit that changed a spec file as a release.
//!
//! It drives the `git` command-line tool (present wherever a repository is, no
//! extra library, and it reads every repository format git itself reads):
//! `git log` lists the commits that touched the file, `git show COMMIT:PATH`
//! gives its content. All releases go into one append: one transaction, one
//! checkpoint, durable at the end.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use super::{Workspace, read_text_bytes};
use crate::error::Error;
use crate::governance::{GitSource, Lookup, Payload, kinds};
use crate::ledger::entry::Entry;

/// One commit considered by an import.
#[derive(Clone, Debug, Serialize)]
pub struct ImportedCommit {
    pub commit: String,
    pub label: String,
    /// "released", "revision", "unchanged" (same content as the label's latest
    /// release), or "already imported".
    pub action: String,
    pub seq: Option<u64>,
}

/// What an import did.
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub commits: Vec<ImportedCommit>,
    pub released: usize,
    pub revisions: usize,
    pub skipped: usize,
}

struct GitCommit {
    id: String,
    author_date: String,
    committer: String,
    subject: String,
}

fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| {
            Error::input(
                format!("cannot run git: {e}"),
                "install git (speclog import uses the git command-line tool)",
            )
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::input(
            format!(
                "git {} failed: {}",
                args.first().unwrap_or(&""),
                err.lines().next().unwrap_or("").trim()
            ),
            "check that REPO is a git repository and --path / --since name things in it",
        ));
    }
    Ok(out.stdout)
}

/// Derives a label from a commit: the first capture group (or whole match) of
/// `re` in the subject, else the first `YYYY-MM-DD` in the subject, else the
/// author date's day.
pub fn label_for(re: Option<&regex::Regex>, subject: &str, author_date: &str) -> Option<String> {
    if let Some(re) = re {
        let c = re.captures(subject)?;
        return Some(c.get(1).or_else(|| c.get(0))?.as_str().to_string());
    }
    let date = regex::Regex::new(r"\d{4}-\d{2}-\d{2}").expect("valid regex");
    if let Some(m) = date.find(subject) {
        return Some(m.as_str().to_string());
    }
    author_date.get(..10).map(str::to_string)
}

impl Workspace {
    /// Imports the history of `path` in the git repository `repo`.
    pub fn import_git(
        &self,
        repo: &Path,
        path: &str,
        signer: &str,
        label_from: Option<&str>,
        since: Option<&str>,
        progress: &dyn Fn(u64, u64),
    ) -> Result<ImportReport, Error> {
        let re = label_from
            .map(|r| {
                regex::Regex::new(r).map_err(|e| {
                    // A syntax error spans lines (the pattern, a caret, the reason): keep the reason.
                    let text = e.to_string();
                    let why = text
                        .lines()
                        .rev()
                        .find_map(|l| l.trim().strip_prefix("error: "))
                        .map_or_else(|| text.replace('\n', " "), str::to_string);
                    Error::input(
                        format!("invalid --label-from regex {r:?}: {why}"),
                        "example: --label-from 'Release (\\S+)'",
                    )
                })
            })
            .transpose()?;
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
            return Err(Error::input(
                format!("invalid --path {path:?}"),
                "give the file's path inside the repository, e.g. model_spec.md",
            ));
        }
        let range = since.map(|s| format!("{s}..HEAD"));
        let mut args = vec![
            "log",
            "--reverse",
            "--format=%H%x00%aI%x00%cn <%ce>%x00%s%x00",
        ];
        if let Some(r) = &range {
            args.push(r);
        }
        args.push("--");
        args.push(path);
        let out = git(repo, &args)?;
        let text = String::from_utf8_lossy(&out);
        let fields: Vec<&str> = text
            .split('\0')
            .map(|f| f.trim_start_matches('\n'))
            .collect();
        let commits: Vec<GitCommit> = fields
            .chunks(4)
            .filter(|c| c.len() == 4)
            .map(|c| GitCommit {
                id: c[0].to_string(),
                author_date: c[1].to_string(),
                committer: c[2].to_string(),
                subject: c[3].to_string(),
            })
            .collect();
        if commits.is_empty() {
            return Err(Error::input(
                format!("no commit in {} changed {path}", repo.display()),
                "check --path (relative to the repository root) and --since",
            ));
        }

        // Read every version first: input errors must come before any write.
        let mut texts = Vec::with_capacity(commits.len());
        for (i, c) in commits.iter().enumerate() {
            let bytes = git(repo, &["show", &format!("{}:{path}", c.id)])?;
            let text =
                read_text_bytes(bytes, &format!("{path} at {}", &c.id[..12.min(c.id.len())]))?;
            let label = label_for(re.as_ref(), &c.subject, &c.author_date).ok_or_else(|| {
                Error::input(
                    format!("commit {} ({:?}) gives no label", c.id, c.subject),
                    "adjust --label-from so that it matches every commit subject",
                )
            })?;
            texts.push((label, text));
            progress(i as u64 + 1, commits.len() as u64 * 2);
        }

        let mut ledger = self.open_write()?;
        let imported = imported_commits(&ledger)?;
        let mut report = ImportReport {
            commits: Vec::new(),
            released: 0,
            revisions: 0,
            skipped: 0,
        };
        let mut drafts = Vec::new();
        // Latest content digest per label, including this import's own releases.
        let mut latest: std::collections::BTreeMap<String, String> = Default::default();
        for (c, (label, text)) in commits.iter().zip(texts) {
            let digest = hex::encode(crate::base::sha256(text.as_bytes()));
            let prior = match latest.get(&label) {
                Some(d) => Some(d.clone()),
                None => ledger
                    .reader()
                    .releases(&label)?
                    .last()
                    .map(|r| r.content.sha256.clone()),
            };
            let action = if imported.contains(&c.id) {
                "already imported"
            } else if prior.as_deref() == Some(digest.as_str()) {
                "unchanged"
            } else if prior.is_some() {
                "revision"
            } else {
                "released"
            };
            report.commits.push(ImportedCommit {
                commit: c.id.clone(),
                label: label.clone(),
                action: action.into(),
                seq: None,
            });
            if action != "released" && action != "revision" {
                report.skipped += 1;
                continue;
            }
            latest.insert(label.clone(), digest);
            let source = GitSource {
                commit: c.id.clone(),
                path: path.to_string(),
                author_date: c.author_date.clone(),
                committer: c.committer.clone(),
                subject: c.subject.clone(),
            };
            drafts.push((label, text, action == "revision", source));
        }
        if drafts.is_empty() {
            return Ok(report);
        }
        // Build the drafts inside the write transaction, so each revision points
        // at the latest release of its label, including earlier ones of this batch.
        let n = drafts.len();
        let a = self.append_batch_releases(&mut ledger, signer, drafts)?;
        let mut seqs = a.entries.iter().map(|(s, _)| *s);
        for c in report.commits.iter_mut() {
            if c.action == "released" || c.action == "revision" {
                c.seq = seqs.next();
                if c.action == "released" {
                    report.released += 1;
                } else {
                    report.revisions += 1;
                }
            }
        }
        progress(n as u64 * 2, n as u64 * 2);
        Ok(report)
    }
}

/// Commits already recorded as release sources.
fn imported_commits(
    ledger: &crate::ledger::Ledger,
) -> Result<std::collections::BTreeSet<String>, Error> {
    let mut out = std::collections::BTreeSet::new();
    for row in ledger.reader().entries_of_kind(kinds::SPEC_RELEASE)? {
        let e = Entry::decode(&row.data).map_err(crate::ledger::LedgerError::from)?;
        if let Ok(Payload::SpecRelease(p)) = Payload::decode(&e.kind, &e.payload)
            && let Some(s) = p.source
        {
            out.insert(s.commit);
        }
    }
    Ok(out)
}
