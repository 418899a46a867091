//! Splits a spec into a tree of clauses with stable ids and digests, whatever
//! its shape: Markdown headings, XML-like tagged sections, template blocks,
//! paragraphs, lists and sentences (see docs/FORMAT.md, "Clause manifest").
//!
//! A heading with an explicit anchor, `## Do not lie {#do_not_lie authority=user}`
//! (the OpenAI Model Spec form), gives the clause id `do_not_lie` and the
//! attribute `authority=user`; any other heading gets a slug of its title.
//! A heading clause's text is the Markdown between its heading and the next
//! heading of any level (or the end of the tagged section it lies in); its
//! digest is SHA-256 of that text without the heading line and with surrounding
//! blank lines trimmed, so a clause that is only renamed keeps its digest.
//! Every other clause's digest is SHA-256 of its exact bytes.
//!
//! Coverage: the leaves (clauses no other clause names as `parent`) cover
//! every byte of the text exactly once, in order. A clause of more than
//! [`LEAF_MAX`] bytes is cut into parts (paragraphs and lists, then list items
//! or lines, then sentences) unless it is one sentence.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use crate::base::sha256;

/// Most clauses one spec may have.
pub const MAX_CLAUSES: usize = 20_000;

/// Largest clause, in bytes, that is not cut into parts (a single sentence may be longer).
pub const LEAF_MAX: usize = 4096;

/// What a clause is, in the text's own structure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A Markdown (ATX or setext) heading and the text up to the next heading.
    #[default]
    Heading,
    /// An XML-like tagged section: a line `<name ...>` to its line `</name>`.
    Tag,
    /// A template block: a line `{% if ... %}` to its line `{% endif %}`.
    Template,
    /// Lines up to a blank line (a paragraph, a code block, a table).
    Paragraph,
    /// A paragraph that starts with a list marker (`-`, `*`, `+`, `1.`, `1)`).
    List,
    /// One item of a list cut into parts.
    Item,
    /// One line of a paragraph cut into parts.
    Line,
    /// One sentence of a line cut into parts.
    Sentence,
}

impl Kind {
    /// True for [`Kind::Heading`] (the default, left out of a manifest).
    pub fn is_heading(&self) -> bool {
        *self == Kind::Heading
    }

    /// The name used in manifests and output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Heading => "heading",
            Kind::Tag => "tag",
            Kind::Template => "template",
            Kind::Paragraph => "paragraph",
            Kind::List => "list",
            Kind::Item => "item",
            Kind::Line => "line",
            Kind::Sentence => "sentence",
        }
    }
}

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
    /// What the clause is; a heading when absent.
    #[serde(default, skip_serializing_if = "Kind::is_heading")]
    pub kind: Kind,
    /// The id of the clause this one is a part of, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl Clause {
    /// The clause's body text within `spec`: for a heading, the text under it
    /// (heading line and surrounding blank lines excluded); else the whole clause.
    pub fn body<'a>(&self, spec: &'a str) -> &'a str {
        let s = self.text(spec);
        if !self.kind.is_heading() {
            return s;
        }
        match s.find('\n') {
            Some(i) => s[i + 1..].trim_matches('\n'),
            None => "",
        }
    }

    /// The clause's exact bytes within `spec`.
    pub fn text<'a>(&self, spec: &'a str) -> &'a str {
        spec.get(self.start..self.end).unwrap_or("")
    }
}

/// The clauses of `all` that are leaves (no clause names them as parent), in order.
pub fn leaves(all: &[Clause]) -> impl Iterator<Item = &Clause> {
    let parents: std::collections::HashSet<&str> =
        all.iter().filter_map(|c| c.parent.as_deref()).collect();
    all.iter().filter(move |c| !parents.contains(c.id.as_str()))
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

/// Splits `spec` into clauses, in document order (a clause before its parts).
/// A repeated id gets `-2`, `-3`, ... appended.
pub fn parse(spec: &str) -> Result<Vec<Clause>, ClauseError> {
    split(spec, &mut |_| {})
}

/// A Markdown heading found by pulldown-cmark.
struct Head {
    id: Option<String>,
    attrs: BTreeMap<String, String>,
    level: u8,
    start: usize,
    title: String,
}

/// The headings of `spec` and the byte ranges of its fenced and indented code
/// blocks, calling `explicit` with each heading's explicit `{#id}`.
fn markdown_scan(
    spec: &str,
    explicit: &mut dyn FnMut(&str),
) -> Result<(Vec<Head>, Vec<Range<usize>>), ClauseError> {
    let mut heads: Vec<Head> = Vec::new();
    let mut code: Vec<Range<usize>> = Vec::new();
    let mut cur: Option<Head> = None;
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
                cur = Some(Head {
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
                    heads.push(o);
                    if heads.len() > MAX_CLAUSES {
                        return Err(ClauseError::TooMany(heads.len()));
                    }
                }
            }
            Event::Start(Tag::CodeBlock(_)) => code.push(range),
            _ => {}
        }
    }
    Ok((heads, code))
}

/// A tagged section or template block: `open` line start to `close` line end.
struct Section {
    kind: Kind,
    name: String,
    title: String,
    range: Range<usize>,
    /// The bytes between the opening and the closing line.
    inner: Range<usize>,
    children: Vec<Section>,
}

/// Template keywords that open a block closed by `end<keyword>`.
const TEMPLATE_BLOCKS: [&str; 7] = ["if", "for", "block", "macro", "call", "filter", "raw"];

/// Reads one line (without its newline) as the opening or closing line of a
/// section: `<name ...>`, `</name>`, `{% kw ... %}`, `{% endkw %}`, each alone
/// on its line but for blanks and a pair of backticks around a tag. Returns
/// (closing, kind, match key, name).
fn section_line(line: &str) -> Option<(bool, Kind, String, String)> {
    let t = line.trim();
    let t = t
        .strip_prefix('`')
        .and_then(|s| s.strip_suffix('`'))
        .unwrap_or(t);
    if let Some(inner) = t.strip_prefix("{%").and_then(|s| s.strip_suffix("%}")) {
        let inner = inner.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let mut words = inner.split_whitespace();
        let kw = words.next()?;
        if let Some(k) = kw.strip_prefix("end") {
            return TEMPLATE_BLOCKS
                .contains(&k)
                .then(|| (true, Kind::Template, format!("%{k}"), k.to_string()));
        }
        if !TEMPLATE_BLOCKS.contains(&kw) {
            return None;
        }
        let name = match kw {
            "block" | "macro" => words
                .next()
                .map(|w| w.split('(').next().unwrap_or(w).to_string())
                .unwrap_or_else(|| kw.to_string()),
            _ => kw.to_string(),
        };
        return Some((false, Kind::Template, format!("%{kw}"), name));
    }
    let body = t.strip_prefix('<')?.strip_suffix('>')?;
    if body.contains(['<', '>']) || body.ends_with('/') {
        return None;
    }
    let (close, body) = match body.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let name_len = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
    let name = &body[..name_len];
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        || (close && name_len != body.len())
    {
        return None;
    }
    Some((close, Kind::Tag, format!("<{name}"), name.to_string()))
}

/// Byte ranges of the lines of `spec[range]`, each with its newline.
fn lines_in(spec: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut s = range.start;
    while s < range.end {
        let e = spec[s..range.end]
            .find('\n')
            .map(|i| s + i + 1)
            .unwrap_or(range.end);
        out.push(s..e);
        s = e;
    }
    out
}

/// The tagged sections and template blocks of `spec`, nested, outside code
/// blocks. An opening line without its closing line is text.
fn sections(spec: &str, code: &[Range<usize>]) -> Vec<Section> {
    struct Open {
        key: String,
        sec: Section,
    }
    let in_code = |at: usize| {
        let i = code.partition_point(|r| r.end <= at);
        code.get(i).is_some_and(|r| r.start <= at)
    };
    let mut roots: Vec<Section> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    for l in lines_in(spec, 0..spec.len()) {
        let line = &spec[l.clone()];
        if !line.trim_start().starts_with(['<', '`', '{']) || in_code(l.start) {
            continue;
        }
        let Some((close, kind, key, name)) = section_line(line) else {
            continue;
        };
        if !close {
            stack.push(Open {
                key,
                sec: Section {
                    kind,
                    name,
                    title: line.trim().trim_matches('`').chars().take(80).collect(),
                    range: l.start..l.end,
                    inner: l.end..l.end,
                    children: Vec::new(),
                },
            });
            continue;
        }
        let Some(pos) = stack.iter().rposition(|o| o.key == key) else {
            continue;
        };
        // Opened above the match and never closed: their parts move up.
        while stack.len() > pos + 1 {
            let o = stack.pop().expect("non-empty");
            let up = &mut stack.last_mut().expect("pos is below").sec.children;
            up.extend(o.sec.children);
        }
        let mut o = stack.pop().expect("found").sec;
        o.inner = o.range.end..l.start;
        o.range.end = l.end;
        match stack.last_mut() {
            Some(p) => p.sec.children.push(o),
            None => roots.push(o),
        }
    }
    while let Some(o) = stack.pop() {
        match stack.last_mut() {
            Some(p) => p.sec.children.extend(o.sec.children),
            None => roots.extend(o.sec.children),
        }
    }
    roots.sort_by_key(|s| s.range.start);
    roots
}

/// A clause before ids are given: its kind, range, name and parts.
struct Piece<'h> {
    kind: Kind,
    range: Range<usize>,
    head: Option<&'h Head>,
    /// Tag or template name.
    name: String,
    title: String,
    parts: Vec<Piece<'h>>,
}

impl<'h> Piece<'h> {
    fn plain(kind: Kind, range: Range<usize>) -> Piece<'h> {
        Piece {
            kind,
            range,
            head: None,
            name: String::new(),
            title: String::new(),
            parts: Vec::new(),
        }
    }
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Joins pieces that are only blanks to the piece before them (or, first, after them).
fn absorb_blanks<'h>(spec: &str, pieces: Vec<Piece<'h>>) -> Vec<Piece<'h>> {
    let mut out: Vec<Piece<'h>> = Vec::with_capacity(pieces.len());
    let mut lead: Option<usize> = None;
    for mut p in pieces {
        if blank(&spec[p.range.clone()]) && p.parts.is_empty() && p.head.is_none() {
            match out.last_mut() {
                Some(last) => last.range.end = p.range.end,
                None => lead = Some(lead.unwrap_or(p.range.start)),
            }
            continue;
        }
        if let Some(s) = lead.take() {
            if p.head.is_some() {
                // A heading's clause starts at its heading: the blanks stay apart.
                out.push(Piece::plain(Kind::Paragraph, s..p.range.start));
            } else {
                p.range.start = s;
            }
        }
        out.push(p);
    }
    if let (Some(s), Some(first)) = (lead, out.first_mut()) {
        first.range.start = s;
    }
    out
}

/// True if `line` starts a list item: `-`, `*`, `+` or digits and `.`/`)`, then a blank.
fn list_marker(line: &str) -> bool {
    let t = line.trim_start();
    let rest = if let Some(r) = t.strip_prefix(['-', '*', '+']) {
        r
    } else {
        let d = t.bytes().take_while(u8::is_ascii_digit).count();
        if d == 0 || d > 9 {
            return false;
        }
        match t[d..].strip_prefix(['.', ')']) {
            Some(r) => r,
            None => return false,
        }
    };
    rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r'])
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Paragraphs of `spec[range]`: runs of lines up to a blank line outside a
/// code fence, each with the blank lines after it.
fn paragraphs(spec: &str, range: Range<usize>) -> Vec<Piece<'static>> {
    let mut out: Vec<Piece<'static>> = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut cur: Option<Range<usize>> = None;
    let mut cur_blank_tail = false;
    for l in lines_in(spec, range) {
        let line = &spec[l.clone()];
        let t = line.trim_start();
        let is_blank = blank(line);
        let was_fenced = fence.is_some();
        // Fences: ``` or ~~~, closed by the same character at least as long.
        let fc = t.chars().next().filter(|c| *c == '`' || *c == '~');
        if let Some(c) = fc {
            let n = t.chars().take_while(|x| *x == c).count();
            if n >= 3 {
                match fence {
                    None => fence = Some((c, n)),
                    Some((fch, fl)) if fch == c && n >= fl && t[n..].trim().is_empty() => {
                        fence = None
                    }
                    _ => {}
                }
            }
        }
        match cur.as_mut() {
            Some(r) if is_blank || !cur_blank_tail || was_fenced => {
                r.end = l.end;
            }
            _ => {
                if let Some(r) = cur.take() {
                    out.push(Piece::plain(kind_of(spec, &r), r));
                }
                cur = Some(l.clone());
            }
        }
        cur_blank_tail = is_blank && fence.is_none();
    }
    if let Some(r) = cur {
        out.push(Piece::plain(kind_of(spec, &r), r));
    }
    out
}

fn kind_of(spec: &str, r: &Range<usize>) -> Kind {
    let first = spec[r.clone()]
        .lines()
        .find(|l| !blank(l))
        .unwrap_or_default();
    if list_marker(first) {
        Kind::List
    } else {
        Kind::Paragraph
    }
}

/// Items of a list (a line with a marker no deeper than the first one starts
/// an item), or else lines; blank lines go with the piece before them.
fn items_or_lines(spec: &str, range: Range<usize>, list: bool) -> Vec<Piece<'static>> {
    let mut out: Vec<Piece<'static>> = Vec::new();
    let mut top: Option<usize> = None;
    for l in lines_in(spec, range) {
        let line = &spec[l.clone()];
        let starts = if list {
            let m = list_marker(line) && top.is_none_or(|t| indent(line) <= t);
            if m && top.is_none() {
                top = Some(indent(line));
            }
            m
        } else {
            !blank(line)
        };
        match out.last_mut() {
            Some(p) if !starts => p.range.end = l.end,
            _ => out.push(Piece::plain(
                if list { Kind::Item } else { Kind::Line },
                l.clone(),
            )),
        }
    }
    out
}

/// Sentences of `spec[range]`: each ends after `.`, `!` or `?` (and closing
/// quotes or brackets) and the blanks that follow, where a blank follows.
fn sentences(spec: &str, range: Range<usize>) -> Vec<Piece<'static>> {
    let s = &spec[range.clone()];
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b'.' | b'!' | b'?') {
            let mut j = i + 1;
            while j < b.len() && matches!(b[j], b'"' | b'\'' | b')' | b']' | b'*' | b'_') {
                j += 1;
            }
            if j < b.len() && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r') {
                while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r') {
                    j += 1;
                }
                if j < b.len() {
                    out.push(Piece::plain(
                        Kind::Sentence,
                        range.start + start..range.start + j,
                    ));
                    start = j;
                }
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.push(Piece::plain(Kind::Sentence, range.start + start..range.end));
    out
}

/// The parts a clause of more than [`LEAF_MAX`] bytes is cut into: the first
/// of paragraphs, items or lines, sentences that gives two parts or more;
/// none if it is one sentence. Parts over [`LEAF_MAX`] are cut again.
fn cut(spec: &str, kind: Kind, range: Range<usize>) -> Vec<Piece<'static>> {
    if range.len() <= LEAF_MAX {
        return Vec::new();
    }
    let mut parts = Vec::new();
    if matches!(kind, Kind::Heading | Kind::Tag | Kind::Template) {
        parts = absorb_blanks(spec, paragraphs(spec, range.clone()));
        if parts.len() == 1 {
            return cut(spec, parts[0].kind, range);
        }
    } else if matches!(kind, Kind::List | Kind::Paragraph) {
        parts = items_or_lines(spec, range.clone(), kind == Kind::List);
    }
    if parts.len() < 2 && kind != Kind::Sentence {
        parts = sentences(spec, range.clone());
    }
    if parts.len() < 2 {
        return Vec::new();
    }
    for p in &mut parts {
        if p.parts.is_empty() {
            p.parts = cut(spec, p.kind, p.range.clone());
        }
    }
    parts
}

/// The pieces of `spec[range]`, which holds the sections `secs` (in order):
/// the sections, and between them headings with their text and paragraphs.
fn region<'h>(
    spec: &str,
    range: Range<usize>,
    secs: &[Section],
    heads: &'h [Head],
) -> Vec<Piece<'h>> {
    let mut out: Vec<Piece<'h>> = Vec::new();
    let mut at = range.start;
    let gap = |a: usize, b: usize, out: &mut Vec<Piece<'h>>| {
        if a >= b {
            return;
        }
        let first = heads.partition_point(|h| h.start < a);
        let hs: Vec<&'h Head> = heads[first..].iter().take_while(|h| h.start < b).collect();
        let text_end = hs.first().map(|h| h.start).unwrap_or(b);
        for mut p in paragraphs(spec, a..text_end) {
            p.parts = cut(spec, p.kind, p.range.clone());
            out.push(p);
        }
        for (i, h) in hs.iter().enumerate() {
            let end = hs.get(i + 1).map(|n| n.start).unwrap_or(b);
            out.push(Piece {
                kind: Kind::Heading,
                range: h.start..end,
                head: Some(h),
                name: String::new(),
                title: h.title.trim().to_string(),
                parts: cut(spec, Kind::Heading, h.start..end),
            });
        }
    };
    for s in secs {
        gap(at, s.range.start, &mut out);
        let has_heads = heads
            .get(heads.partition_point(|h| h.start < s.inner.start))
            .is_some_and(|h| h.start < s.inner.end);
        let mut parts = if s.children.is_empty() && !has_heads && s.range.len() <= LEAF_MAX {
            Vec::new()
        } else {
            region(spec, s.inner.clone(), &s.children, heads)
        };
        // The opening and closing lines go with the first and last parts,
        // unless those are sections of their own: then they are lines.
        let own = |p: &Piece<'_>| matches!(p.kind, Kind::Heading | Kind::Tag | Kind::Template);
        match parts.first_mut() {
            Some(f) if !own(f) => f.range.start = s.range.start,
            Some(_) => parts.insert(0, Piece::plain(Kind::Line, s.range.start..s.inner.start)),
            None => {}
        }
        match parts.last_mut() {
            Some(l) if !own(l) => l.range.end = s.range.end,
            Some(_) => parts.push(Piece::plain(Kind::Line, s.inner.end..s.range.end)),
            None => {}
        }
        if parts.len() == 1 && parts[0].parts.is_empty() && parts[0].head.is_none() {
            parts.clear();
        }
        out.push(Piece {
            kind: s.kind,
            range: s.range.clone(),
            head: None,
            name: s.name.clone(),
            title: s.title.clone(),
            parts,
        });
        at = s.range.end;
    }
    gap(at, range.end, &mut out);
    absorb_blanks(spec, out)
}

/// Stretches the first and last parts of a piece (and theirs) to its own
/// start and end, so the blanks a piece absorbed belong to its parts too.
fn fit(p: &mut Piece<'_>) {
    let r = p.range.clone();
    if let Some(f) = p.parts.first_mut() {
        f.range.start = r.start;
    }
    if let Some(l) = p.parts.last_mut() {
        l.range.end = r.end;
    }
    for q in &mut p.parts {
        fit(q);
    }
}

/// The first words of a text, for the title of a clause without one.
pub fn first_words(s: &str) -> String {
    let mut t = String::new();
    for w in s.split_whitespace() {
        if !t.is_empty() {
            t.push(' ');
        }
        if t.len() + w.len() > 60 {
            let cut: String = w.chars().take(60usize.saturating_sub(t.len())).collect();
            t.push_str(&cut);
            t.push('…');
            break;
        }
        t.push_str(w);
    }
    t
}

/// A clause before it is named: everything of a [`Clause`] but its id, with
/// what the naming rule needs (see [`name`]).
#[derive(Clone, Debug)]
pub struct Proto {
    /// The clause, its `id` and `parent` still empty.
    pub clause: Clause,
    /// Index (in document order) of the clause this one is a part of.
    pub parent: Option<usize>,
    /// The heading's explicit `{#id}`, when it is a valid id.
    pub explicit: Option<String>,
    /// The base of a fresh id: a heading's explicit id or else its title's
    /// slug, a tag or template name's slug; `None` for a part named by its
    /// ordinal.
    pub base: Option<String>,
    /// 1-based position among the parent's (or the text's) unnamed parts.
    pub ordinal: usize,
}

/// Flattens pieces depth first into [`Proto`]s.
struct Flat<'a> {
    spec: &'a str,
    out: Vec<Proto>,
}

impl Flat<'_> {
    fn add(
        &mut self,
        p: &Piece<'_>,
        parent: Option<usize>,
        ordinal: usize,
        level: u8,
    ) -> Result<(), ClauseError> {
        if self.out.len() >= MAX_CLAUSES {
            return Err(ClauseError::TooMany(self.out.len() + 1));
        }
        let text = &self.spec[p.range.clone()];
        let (explicit, base, title, level, attrs) = match (p.kind, p.head) {
            (Kind::Heading, Some(h)) => (
                h.id.clone().filter(|id| valid_id(id)),
                // A repeated explicit id is the base of the later one's fresh id.
                Some(
                    h.id.clone()
                        .filter(|id| valid_id(id))
                        .unwrap_or_else(|| slug(&h.title)),
                ),
                p.title.clone(),
                h.level,
                h.attrs.clone(),
            ),
            (Kind::Tag | Kind::Template, _) => (
                None,
                Some(slug(&p.name)),
                p.title.clone(),
                level,
                BTreeMap::new(),
            ),
            _ => (None, None, first_words(text), level, BTreeMap::new()),
        };
        let mut c = Clause {
            id: String::new(),
            title,
            level,
            attrs,
            sha256: String::new(),
            start: p.range.start,
            end: p.range.end,
            kind: p.kind,
            parent: None,
        };
        c.sha256 = hex::encode(sha256(c.body(self.spec).as_bytes()));
        let me = self.out.len();
        self.out.push(Proto {
            clause: c,
            parent,
            explicit,
            base,
            ordinal,
        });
        let mut n = 0;
        for q in &p.parts {
            if !matches!(q.kind, Kind::Heading | Kind::Tag | Kind::Template) {
                n += 1;
            }
            self.add(q, Some(me), n, level.saturating_add(1))?;
        }
        Ok(())
    }
}

/// Names clauses (docs/FORMAT.md, "Clause ids"). In document order, a clause
/// gets: its explicit id, if no earlier clause has that explicit id; else
/// `kept[i]`, the id history gives it; else a fresh id that is not in `taken`
/// (ids in use in the document's history), not explicit or kept anywhere in
/// this text, and not given to an earlier clause: for a clause with a `base`,
/// `base`, then `base-2`, `base-3`, ...; for a part, `P.N` with `P` its
/// parent's id (`text` at the top) and `N` its ordinal, then `N+1`, ...
///
/// `kept` is empty or has one entry per proto; a kept id must not be explicit
/// in this text (the matching in [`super::ids`] sees to it).
pub fn name(protos: Vec<Proto>, kept: &[Option<String>], taken: &HashSet<String>) -> Vec<Clause> {
    let mut first_explicit: HashSet<usize> = HashSet::new();
    let mut reserved: HashSet<String> = HashSet::new();
    for (i, p) in protos.iter().enumerate() {
        if let Some(e) = &p.explicit
            && reserved.insert(e.clone())
        {
            first_explicit.insert(i);
        }
    }
    reserved.extend(kept.iter().flatten().cloned());
    let free = |id: &str, reserved: &HashSet<String>| !reserved.contains(id) && !taken.contains(id);
    let mut out: Vec<Clause> = Vec::with_capacity(protos.len());
    for (i, p) in protos.into_iter().enumerate() {
        let id = if first_explicit.contains(&i) {
            p.explicit.clone().expect("explicit")
        } else if let Some(Some(k)) = kept.get(i) {
            k.clone()
        } else {
            let id = match &p.base {
                Some(b) => {
                    let mut id = b.clone();
                    let mut n = 1;
                    while !free(&id, &reserved) {
                        n += 1;
                        id = format!("{b}-{n}");
                    }
                    id
                }
                None => {
                    let pre = p.parent.map_or("text", |q| out[q].id.as_str()).to_string();
                    let mut n = p.ordinal;
                    let mut id = format!("{pre}.{n}");
                    while !free(&id, &reserved) {
                        n += 1;
                        id = format!("{pre}.{n}");
                    }
                    id
                }
            };
            reserved.insert(id.clone());
            id
        };
        let mut c = p.clause;
        c.id = id;
        c.parent = p.parent.map(|q| out[q].id.clone());
        out.push(c);
    }
    out
}

/// Splits `spec` into unnamed clauses ([`Proto`]s), in document order, calling
/// `explicit` with each heading's explicit `{#id}`.
pub fn segment(spec: &str, explicit: &mut dyn FnMut(&str)) -> Result<Vec<Proto>, ClauseError> {
    let (heads, code) = markdown_scan(spec, explicit)?;
    let secs = sections(spec, &code);
    let mut pieces = region(spec, 0..spec.len(), &secs, &heads);
    if pieces.is_empty() && !spec.is_empty() {
        // Only blanks: one paragraph.
        pieces.push(Piece::plain(Kind::Paragraph, 0..spec.len()));
    }
    for p in &mut pieces {
        fit(p);
    }
    let mut flat = Flat {
        spec,
        out: Vec::with_capacity(heads.len() + 16),
    };
    let mut n = 0;
    for p in &pieces {
        if !matches!(p.kind, Kind::Heading | Kind::Tag | Kind::Template) {
            n += 1;
        }
        flat.add(p, None, n, 1)?;
    }
    Ok(flat.out)
}

/// [`parse`], calling `explicit` with each heading's explicit `{#id}`.
fn split(spec: &str, explicit: &mut dyn FnMut(&str)) -> Result<Vec<Clause>, ClauseError> {
    Ok(name(segment(spec, explicit)?, &[], &HashSet::new()))
}

/// The media type of a spec text, by its file's extension when it has a
/// telling one, else by its content: template blocks, Markdown headings,
/// tagged sections, or plain text.
pub fn media_type(text: &str, extension: Option<&str>) -> &'static str {
    match extension.map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("md" | "markdown") => return MEDIA_MARKDOWN,
        Some("txt" | "text") => return MEDIA_TEXT,
        Some("j2" | "jinja" | "jinja2") => return MEDIA_JINJA,
        Some("xml") => return MEDIA_XML,
        _ => {}
    }
    let lines = || text.lines().take(20_000);
    if lines().any(|l| section_line(l).is_some_and(|(_, k, ..)| k == Kind::Template)) {
        return MEDIA_JINJA;
    }
    if lines().any(|l| {
        let t = l.trim_start();
        t.starts_with('#') && t.trim_start_matches('#').starts_with(' ')
    }) {
        return MEDIA_MARKDOWN;
    }
    if lines().any(|l| section_line(l).is_some_and(|(c, k, ..)| c && k == Kind::Tag)) {
        return MEDIA_XML;
    }
    MEDIA_TEXT
}

/// Media type of a Markdown spec.
pub const MEDIA_MARKDOWN: &str = "text/markdown; charset=utf-8";
/// Media type of a plain-text spec.
pub const MEDIA_TEXT: &str = "text/plain; charset=utf-8";
/// Media type of a Jinja template spec.
pub const MEDIA_JINJA: &str = "text/x-jinja2; charset=utf-8";
/// Media type of a spec of XML-like tagged sections (not necessarily well-formed XML).
pub const MEDIA_XML: &str = "text/xml; charset=utf-8";

/// A problem a new release is refused for, though [`parse`] copes with it:
/// (what is wrong, how to fix it).
pub type Problem = (String, &'static str);

/// Problems a new release is refused for, though [`parse`] copes with them:
/// a byte order mark (it hides a first heading), and explicit clause ids
/// that are malformed (then [`parse`] uses the title's slug) or repeat (then
/// the later heading gets a fresh id). Returns the first one.
pub fn lint(spec: &str) -> Result<(), Problem> {
    match parse_checked(spec) {
        Ok((_, Some(p))) => Err(p),
        _ => Ok(()),
    }
}

/// [`parse`], and the first problem [`lint`] reports, in one pass over the
/// Markdown (a release parses a spec of hundreds of KB once).
pub fn parse_checked(spec: &str) -> Result<(Vec<Clause>, Option<Problem>), ClauseError> {
    let (protos, problem) = segment_checked(spec)?;
    Ok((name(protos, &[], &HashSet::new()), problem))
}

/// [`segment`], and the first problem [`lint`] reports.
pub fn segment_checked(spec: &str) -> Result<(Vec<Proto>, Option<Problem>), ClauseError> {
    let mut problem: Option<Problem> = None;
    if spec.starts_with('\u{feff}') {
        problem = Some((
            "the text starts with a byte order mark, which hides its first heading".into(),
            "save the file as UTF-8 without a byte order mark",
        ));
    }
    let mut explicit = HashSet::new();
    let protos = segment(spec, &mut |id: &str| {
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
    Ok((protos, problem))
}

#[cfg(test)]
pub(crate) mod tests {
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
        // An explicit id wins over a numbered slug: `# A`, `# A`, `# B {#a-2}`
        // once gave a, a-2, a-2 (refused here); now a, a-3, a-2.
        assert!(lint("# A\n\n# A\n\n# B {#a-2}\n").is_ok());
        let ids: Vec<String> = parse("# A\n\n# A\n\n# B {#a-2}\n")
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["a", "a-3", "a-2"]);
        let (m, _) = lint("\u{feff}# A\n").unwrap_err();
        assert!(m.contains("byte order mark"), "{m}");
        // What parse makes of them.
        // The byte order mark hides the heading, but the text is still covered.
        let bom = parse("\u{feff}# A\n").unwrap();
        assert_eq!(bom.len(), 1);
        assert_eq!(bom[0].kind, Kind::Paragraph);
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
        // The text before the first heading is a clause too.
        assert_eq!(
            ids,
            ["text.1", "overview", "do_not_lie", "be_kind", "be_kind-2"]
        );
        let c = &c[1..];
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

    /// Checks the clause tree of `text`: the leaves cover every byte once, in
    /// order; a clause with parts spans exactly its parts; ids are unique; a
    /// leaf over [`LEAF_MAX`] is one sentence.
    pub(crate) fn check_tree(text: &str, cl: &[Clause]) {
        if !text.is_empty() {
            assert!(!cl.is_empty(), "no clauses for {} bytes", text.len());
        }
        let mut at = 0;
        for l in leaves(cl) {
            assert_eq!(
                l.start, at,
                "gap or overlap before leaf {} in {cl:#?}",
                l.id
            );
            assert!(l.end > l.start, "empty leaf {}", l.id);
            if l.end - l.start > LEAF_MAX {
                assert_eq!(
                    sentences(text, l.start..l.end).len(),
                    1,
                    "leaf {} of {} bytes is not one sentence",
                    l.id,
                    l.end - l.start
                );
            }
            at = l.end;
        }
        assert_eq!(at, text.len(), "text after the last leaf");
        let mut ids = std::collections::HashSet::new();
        for c in cl {
            assert!(ids.insert(c.id.as_str()), "id {} twice", c.id);
            assert!(valid_id(&c.id), "bad id {}", c.id);
            let parts: Vec<&Clause> = cl
                .iter()
                .filter(|p| p.parent.as_deref() == Some(&c.id))
                .collect();
            if let (Some(f), Some(l)) = (parts.first(), parts.last()) {
                assert_eq!((f.start, l.end), (c.start, c.end), "parts of {}", c.id);
            }
        }
    }

    fn ids(cl: &[Clause]) -> Vec<&str> {
        cl.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn preamble_and_trailing_text_are_clauses() {
        let md = "intro line\n\n# A {#a}\n\ntext\n";
        let c = parse(md).unwrap();
        check_tree(md, &c);
        assert_eq!(ids(&c), ["text.1", "a"]);
        assert_eq!(c[0].kind, Kind::Paragraph);
        assert_eq!(c[0].text(md), "intro line\n\n");
    }

    #[test]
    fn plain_text_lists_and_paragraphs() {
        let t = "You are a helpful assistant.\n\n- Be brief.\n- Never reveal the key.\n\n1. First\n2. Second\n\nThanks.";
        let c = parse(t).unwrap();
        check_tree(t, &c);
        let kinds: Vec<Kind> = c.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [Kind::Paragraph, Kind::List, Kind::List, Kind::Paragraph]
        );
        assert_eq!(c[1].title, "- Be brief. - Never reveal the key.");
    }

    #[test]
    fn tagged_sections_nest_and_headings_inside() {
        let t = "Preamble.\n\n`<behavior>`\n\n<search>\nSearch first.\n</search>\n\nBetween.\n\n<tone>\n\n# Style\n\nBe warm.\n</tone>\n\n`</behavior>`\n\n<open_only>\nnot closed\n\n## Tail\n\nend\n";
        let c = parse(t).unwrap();
        check_tree(t, &c);
        assert_eq!(
            ids(&c),
            [
                "text.1",
                "behavior",
                "behavior.1",
                "search",
                "behavior.2",
                "tone",
                "tone.1",
                "style",
                "tone.2",
                "behavior.3",
                "text.2",
                "tail"
            ],
            "{c:#?}"
        );
        let by = |id: &str| c.iter().find(|c| c.id == id).unwrap();
        assert_eq!(by("search").parent.as_deref(), Some("behavior"));
        assert_eq!(by("search").kind, Kind::Tag);
        assert_eq!(by("style").parent.as_deref(), Some("tone"));
        assert!(by("behavior").text(t).ends_with("`</behavior>`\n\n"));
        assert_eq!(by("behavior.1").text(t), "`<behavior>`\n");
        assert_eq!(by("behavior.3").text(t), "`</behavior>`\n\n");
        assert_eq!(by("tone.1").text(t), "<tone>\n\n");
        // An unclosed tag is text.
        assert!(by("text.2").text(t).starts_with("<open_only>"));
    }

    #[test]
    fn tags_in_code_blocks_are_text() {
        let md = "# A {#a}\n\n~~~xml\n<user>\nhi\n</user>\n~~~\n";
        let c = parse(md).unwrap();
        check_tree(md, &c);
        assert_eq!(ids(&c), ["a"]);
    }

    #[test]
    fn template_blocks() {
        let t = "Hello.\n\n{% if tools %}\nUse tools.\n{% endif %}\n{%- block rules -%}\nRules.\n{% endblock %}\n";
        let c = parse(t).unwrap();
        check_tree(t, &c);
        assert_eq!(ids(&c), ["text.1", "if", "rules"]);
        assert_eq!(c[1].kind, Kind::Template);
        assert_eq!(media_type(t, None), MEDIA_JINJA);
    }

    #[test]
    fn long_single_line_is_cut_into_sentences() {
        let line: String = (0..400)
            .map(|i| format!("Sentence number {i} says something. "))
            .collect();
        let t = line.trim_end().to_string();
        let c = parse(&t).unwrap();
        check_tree(&t, &c);
        assert_eq!(c[0].id, "text.1");
        assert_eq!(c.len(), 401);
        assert!(c[1..].iter().all(|s| s.kind == Kind::Sentence));
        assert_eq!(c[2].id, "text.1.2");
        assert_eq!(c[2].text(&t), "Sentence number 1 says something. ");
    }

    #[test]
    fn large_sections_are_cut_into_parts() {
        let mut md = String::from("# Tools\n\n");
        for i in 0..300 {
            md.push_str(&format!("Tool {i} takes a query and returns results.\n\n"));
        }
        md.push_str("# Next\n\nx\n");
        let c = parse(&md).unwrap();
        check_tree(&md, &c);
        assert_eq!(c[0].id, "tools");
        assert!(
            c.iter()
                .filter(|c| c.parent.as_deref() == Some("tools"))
                .count()
                > 100
        );
        assert_eq!(c.last().unwrap().id, "next");
        // The heading clause keeps its digest of the whole section body.
        assert_eq!(c[0].sha256, hex::encode(sha256(c[0].body(&md).as_bytes())));
    }

    #[test]
    fn hostile_shapes_still_cover() {
        for t in [
            "",
            "\n\n\n",
            "x",
            "</a>\n<a>\n",
            "<a>\n<b>\n</a>\n</b>\n",
            "```\nunclosed fence\n\n# not heading\n",
            "# h\n<a>\n# h\n</a>\n# h\n",
            "\u{feff}# A\n",
            "<a>\n</a>",
            "a.b.c. d! e? \"f.\" g",
        ] {
            let c = parse(t).unwrap();
            check_tree(t, &c);
        }
        let big = "word ".repeat(5000);
        check_tree(&big, &parse(&big).unwrap());
    }

    #[test]
    fn media_types() {
        assert_eq!(media_type("# A\n\ntext", None), MEDIA_MARKDOWN);
        assert_eq!(media_type("<a>\nx\n</a>\n", None), MEDIA_XML);
        assert_eq!(media_type("just text", None), MEDIA_TEXT);
        assert_eq!(media_type("just text", Some("md")), MEDIA_MARKDOWN);
    }

    fn shared(name: &str) -> Option<String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/openai-model-spec/versions")
            .join(format!("{name}.md"));
        std::fs::read_to_string(p).ok()
    }

    /// The OpenAI Model Spec keeps exactly its heading clauses: one per
    /// heading, with the heading's explicit id, in order.
    #[test]
    fn openai_model_spec_keeps_its_ids() {
        for v in ["2025-02-12", "2025-04-11", "2025-09-12", "2025-12-18"] {
            let Some(t) = shared(v) else {
                eprintln!("skipped: ../shared data missing");
                return;
            };
            let c = parse(&t).unwrap();
            check_tree(&t, &c);
            let (heads, _) = markdown_scan(&t, &mut |_| {}).unwrap();
            let want: Vec<&str> = heads.iter().map(|h| h.id.as_deref().unwrap()).collect();
            let got: Vec<&str> = c
                .iter()
                .filter(|c| c.kind.is_heading())
                .map(|c| c.id.as_str())
                .collect();
            assert_eq!(got, want, "{v}");
            // Heading clauses span heading to next heading, as before.
            let hc: Vec<&Clause> = c.iter().filter(|c| c.kind.is_heading()).collect();
            for w in hc.windows(2) {
                assert_eq!(w[0].end, w[1].start, "{v} {}", w[0].id);
            }
        }
    }

    #[test]
    fn too_many_clauses() {
        let md = "# h\n".repeat(MAX_CLAUSES + 1);
        assert_eq!(parse(&md), Err(ClauseError::TooMany(MAX_CLAUSES + 1)));
    }
}
