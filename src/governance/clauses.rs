//! Splits a Markdown spec into clauses (sections) with stable ids and digests.
//!
//! A heading with an explicit anchor, `## Do not lie {#do_not_lie authority=user}`
//! (the OpenAI Model Spec form), gives the clause id `do_not_lie` and the
//! attribute `authority=user`; any other heading gets a slug of its title.
//! A clause's text is the Markdown between its heading and the next heading of
//! any level; its digest is SHA-256 of that text with surrounding blank lines
//! trimmed, so a clause that is only renamed keeps its digest.

use std::collections::BTreeMap;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use crate::ledger::entry::sha256;

/// Most clauses one spec may have.
pub const MAX_CLAUSES: usize = 20_000;

/// One clause of a spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clause {
    pub id: String,
    pub title: String,
    pub level: u8,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    /// Hex SHA-256 of the clause text.
    pub sha256: String,
    /// Byte range of the whole clause (heading included) in the spec text.
    pub start: usize,
    pub end: usize,
}

impl Clause {
    /// The clause's body text within `spec`, heading excluded.
    pub fn body<'a>(&self, spec: &'a str) -> &'a str {
        let s = spec.get(self.start..self.end).unwrap_or("");
        match s.find('\n') {
            Some(i) => s[i + 1..].trim_matches('\n'),
            None => "",
        }
    }
}

/// Why a spec could not be split into clauses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClauseError {
    #[error("spec has {0} clauses, over the limit of {MAX_CLAUSES}")]
    TooMany(usize),
}

/// Makes a clause id from a title: lowercase ASCII letters and digits, runs of
/// anything else as one `_`.
pub fn slug(title: &str) -> String {
    let mut s = String::new();
    let mut gap = false;
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !s.is_empty() {
                s.push('_');
            }
            gap = false;
            s.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
        if s.len() >= 64 {
            break;
        }
    }
    if s.is_empty() { "section".into() } else { s }
}

/// True if `id` is a well-formed clause id: 1-128 of `[A-Za-z0-9_.-]`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.')
}

fn level_num(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Markdown options used everywhere speclog reads spec text.
pub fn markdown_options() -> Options {
    Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
}

/// Splits `spec` into clauses, in document order. Text before the first heading
/// is not a clause. A repeated id gets `-2`, `-3`, ... appended.
pub fn parse(spec: &str) -> Result<Vec<Clause>, ClauseError> {
    split(spec, &mut |_| {})
}

/// [`parse`], calling `explicit` with each heading's explicit `{#id}`.
fn split(spec: &str, explicit: &mut dyn FnMut(&str)) -> Result<Vec<Clause>, ClauseError> {
    struct Open {
        id: Option<String>,
        attrs: BTreeMap<String, String>,
        level: u8,
        start: usize,
        title: String,
    }
    let mut heads: Vec<(Open, usize)> = Vec::new();
    let mut cur: Option<Open> = None;
    for (ev, range) in Parser::new_ext(spec, markdown_options()).into_offset_iter() {
        match ev {
            Event::Start(Tag::Heading {
                level, id, attrs, ..
            }) => {
                if let Some(id) = &id {
                    explicit(id);
                }
                let mut a = BTreeMap::new();
                for (k, v) in attrs {
                    a.insert(k.to_string(), v.map(|v| v.to_string()).unwrap_or_default());
                }
                cur = Some(Open {
                    id: id.map(|i| i.to_string()),
                    attrs: a,
                    level: level_num(level),
                    start: range.start,
                    title: String::new(),
                });
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(o) = cur.as_mut() {
                    o.title.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(o) = cur.take() {
                    heads.push((o, range.end));
                    if heads.len() > MAX_CLAUSES {
                        return Err(ClauseError::TooMany(heads.len()));
                    }
                }
            }
            _ => {}
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(heads.len());
    for i in 0..heads.len() {
        let end = heads.get(i + 1).map(|(h, _)| h.start).unwrap_or(spec.len());
        let (h, _) = &heads[i];
        let base = match &h.id {
            Some(id) if valid_id(id) => id.clone(),
            _ => slug(&h.title),
        };
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let id = if *n == 1 { base } else { format!("{base}-{n}") };
        let mut c = Clause {
            id,
            title: h.title.trim().to_string(),
            level: h.level,
            attrs: h.attrs.clone(),
            sha256: String::new(),
            start: h.start,
            end,
        };
        c.sha256 = hex::encode(sha256(c.body(spec).as_bytes()));
        out.push(c);
    }
    Ok(out)
}

/// A problem a new release is refused for, though [`parse`] copes with it:
/// (what is wrong, how to fix it).
pub type Problem = (String, &'static str);

/// Problems a new release is refused for, though [`parse`] copes with them:
/// a byte order mark (it hides a first heading), and clause ids that are
/// malformed (then [`parse`] uses the title's slug) or repeat (then it
/// numbers them, and a number can meet an explicit id: `# A`, `# A`,
/// `# B {#a-2}` gives a, a-2, a-2). Returns the first one.
pub fn lint(spec: &str) -> Result<(), Problem> {
    match parse_checked(spec) {
        Ok((_, Some(p))) => Err(p),
        _ => Ok(()),
    }
}

/// [`parse`], and the first problem [`lint`] reports, in one pass over the
/// Markdown (a release parses a spec of hundreds of KB once).
pub fn parse_checked(spec: &str) -> Result<(Vec<Clause>, Option<Problem>), ClauseError> {
    let mut problem: Option<Problem> = None;
    if spec.starts_with('\u{feff}') {
        problem = Some((
            "the text starts with a byte order mark, which hides its first heading".into(),
            "save the file as UTF-8 without a byte order mark",
        ));
    }
    let mut explicit = std::collections::HashSet::new();
    let clauses = split(spec, &mut |id: &str| {
        if problem.is_some() {
            return;
        }
        if !valid_id(id) {
            problem = Some((
                format!("clause id {{#{id}}} is not 1-128 of A-Z a-z 0-9 _ . -"),
                "change the id in the heading's {#id} to letters, digits, '_', '.' or '-'",
            ));
        } else if !explicit.insert(id.to_string()) {
            problem = Some((
                format!("clause id {{#{id}}} is given to two headings"),
                "give each clause its own {#id}",
            ));
        }
    })?;
    if problem.is_none() {
        let mut ids = std::collections::HashSet::new();
        if let Some(c) = clauses.iter().find(|c| !ids.insert(c.id.as_str())) {
            problem = Some((
                format!(
                    "clause id {} is given to two headings (one numbered for a repeated title)",
                    c.id
                ),
                "give the headings explicit {#id}s, or another title",
            ));
        }
    }
    Ok((clauses, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_refuses_what_parse_papers_over() {
        assert!(lint("# A {#a}\n\n# B {#b}\n").is_ok());
        assert!(
            lint("# A\n\n# A\n").is_ok(),
            "repeated titles get numbered slugs"
        );
        let (m, _) = lint("# A {#a}\n\n# B {#a}\n").unwrap_err();
        assert!(m.contains("{#a} is given to two headings"), "{m}");
        let (m, _) = lint("# A {#Bad-ID!}\n").unwrap_err();
        assert!(m.contains("{#Bad-ID!}"), "{m}");
        let (m, _) = lint("# A\n\n# A\n\n# B {#a-2}\n").unwrap_err();
        assert!(m.contains("clause id a-2 is given to two headings"), "{m}");
        let (m, _) = lint("\u{feff}# A\n").unwrap_err();
        assert!(m.contains("byte order mark"), "{m}");
        // What parse makes of them.
        assert_eq!(parse("\u{feff}# A\n").unwrap().len(), 0);
        let ids: Vec<String> = parse("# A {#a}\n\n# B {#a}\n")
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["a", "a-2"]);
    }

    #[test]
    fn explicit_ids_attrs_and_slugs() {
        let md = "intro\n\n# Overview {#overview}\n\ntext\n\n## Do not lie {#do_not_lie authority=user}\n\nNever lie.\n\n```\n# not a heading\n```\n\n## Be *kind*!\n\nok\n\n## Be kind\n";
        let c = parse(md).unwrap();
        let ids: Vec<_> = c.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["overview", "do_not_lie", "be_kind", "be_kind-2"]);
        assert_eq!(
            c[1].attrs.get("authority").map(String::as_str),
            Some("user")
        );
        assert_eq!(c[1].title, "Do not lie");
        assert!(c[1].body(md).starts_with("Never lie."));
        assert!(c[1].body(md).contains("# not a heading"));
        assert_eq!(c[2].title, "Be kind!");
    }

    #[test]
    fn rename_keeps_digest() {
        let a = parse("## A {#old}\n\nsame text\n").unwrap();
        let b = parse("## A renamed {#new}\n\nsame text\n").unwrap();
        assert_eq!(a[0].sha256, b[0].sha256);
        assert_ne!(a[0].id, b[0].id);
    }

    #[test]
    fn too_many_clauses() {
        let md = "# h\n".repeat(MAX_CLAUSES + 1);
        assert_eq!(parse(&md), Err(ClauseError::TooMany(MAX_CLAUSES + 1)));
    }
}
