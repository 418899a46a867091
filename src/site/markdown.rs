//! Markdown to safe HTML.
//!
//! Spec text, release notes and incident details are hostile input. They are
//! rendered with pulldown-cmark using [`clauses::markdown_options`], with these
//! changes to the event stream before any HTML exists:
//!
//! - raw HTML (blocks and inline) is shown as source code, never interpreted;
//! - images become links to the image (the site loads nothing from elsewhere);
//! - headings move down one level (the page has its own `h1`), and a heading
//!   that starts a clause gets the clause id as its `id`, a permalink and its
//!   attributes as badges;
//! - a link whose text is `?` to a known clause gets the clause title as text
//!   (the OpenAI Model Spec writes cross-references that way).
//!
//! The HTML is then sanitised by ammonia with a small allow-list: no images,
//! no styles, no scripts, only `http`, `https` and `mailto` URLs.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::governance::clauses::{self, Clause};

use crate::layout as paths;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `page` (HTML or XML) with every hidden character
/// ([`crate::base::hidden_char`]: bidi controls, zero-width and invisible
/// format characters, control characters) shown as `\u{..}`, as the CLI
/// shows them. They never reach the browser raw, where an override would
/// reorder the text a reader sees and a zero-width character would hide some.
/// Every HTML page and the feed pass through here as a whole, so the rendered
/// Markdown, titles, names and attribute values are all covered. The marker is
/// plain ASCII, so it is safe in element text and attribute values alike.
/// `spec.md` and the JSON keep the signed bytes.
pub fn visible(page: String) -> String {
    match crate::base::inert(&page) {
        std::borrow::Cow::Borrowed(_) => page,
        std::borrow::Cow::Owned(s) => s,
    }
}

/// True for a link target the site may point at: a relative URL, or an
/// absolute one with the `http`, `https` or `mailto` scheme.
pub fn safe_url(u: &str) -> bool {
    let t: String = u
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    match t.find([':', '/', '?', '#']) {
        Some(i) if t[i..].starts_with(':') => {
            let scheme = t[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// How links to `#clause_id` are written.
#[derive(Clone, Copy, Debug)]
pub enum ClauseLinks<'a> {
    /// Keep `#id`: the clauses are on the same page.
    SamePage,
    /// Point at the clause pages, through this relative root prefix.
    ClausePages(&'a str),
}

/// Known clauses: id to title, for cross-references.
pub type Titles<'a> = HashMap<&'a str, &'a str>;

/// Builds the id-to-title map of a clause list.
pub fn titles(cl: &[Clause]) -> Titles<'_> {
    cl.iter()
        .map(|c| (c.id.as_str(), c.title.as_str()))
        .collect()
}

fn sanitizer() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::default();
    b.rm_tags(["img", "map", "area"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .add_tag_attributes("h4", ["id"])
        .add_tag_attributes("h5", ["id"])
        .add_tag_attributes("h6", ["id"])
        .add_tag_attributes("div", ["id"])
        .add_tag_attributes("a", ["aria-label"])
        .add_tag_attributes("ol", ["start"])
        .add_allowed_classes("a", ["anchor"])
        .add_allowed_classes("span", ["badge"])
        .add_allowed_classes("sup", ["footnote-reference", "footnote-definition-label"])
        .add_allowed_classes("div", ["footnote-definition"])
        .add_allowed_classes("section", ["footnotes"]);
    b
}

/// Sanitises HTML with the site's allow-list.
pub fn sanitize(html: &str) -> String {
    sanitizer().clean(html).to_string()
}

fn shift(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// Renders a whole spec: every clause heading gets its clause id, a permalink and badges.
pub fn render_spec(text: &str, cl: &[Clause]) -> String {
    let by_start: HashMap<usize, &Clause> = cl
        .iter()
        .filter(|c| c.kind.is_heading())
        .map(|c| (c.start, c))
        .collect();
    render(text, &by_start, &titles(cl), ClauseLinks::SamePage, false)
}

/// Renders a fragment (a clause body, notes, details). A fragment is placed
/// inside a page at any depth, so its headings become bold paragraphs: a
/// heading element there could skip levels of the page's outline (HTML's
/// heading-level rule, which the Nu HTML Checker enforces).
pub fn render_fragment(text: &str, known: &Titles<'_>, links: ClauseLinks<'_>) -> String {
    render(text, &HashMap::new(), known, links, true)
}

/// Deepest nesting of block quotes, lists and emphasis that is rendered as such; deeper
/// ones are flattened into their parent, their content kept. The sanitiser's time grows
/// with the square of the nesting depth: 100,000 nested `>` took minutes.
const MAX_NESTING: usize = 64;

/// Drops the start and end of block quotes, lists, items and emphasis nested deeper than
/// [`MAX_NESTING`] (an item goes with its list).
fn flatten_deep<'a>(
    events: impl Iterator<Item = (Event<'a>, Range<usize>)>,
) -> impl Iterator<Item = (Event<'a>, Range<usize>)> {
    let mut kept: Vec<bool> = Vec::new();
    events.filter(move |(ev, _)| match ev {
        Event::Start(t) => {
            let keep = match t {
                Tag::Item => kept.last() != Some(&false),
                Tag::BlockQuote(_)
                | Tag::List(_)
                | Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Superscript
                | Tag::Subscript => kept.len() < MAX_NESTING,
                _ => true,
            };
            kept.push(keep);
            keep
        }
        Event::End(_) => kept.pop().unwrap_or(true),
        _ => true,
    })
}

fn render(
    text: &str,
    by_start: &HashMap<usize, &Clause>,
    known: &Titles<'_>,
    links: ClauseLinks<'_>,
    fragment: bool,
) -> String {
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut heading: Option<&Clause> = None;
    // The clause a link being rendered points at, while its text is pending.
    let mut link_to: Option<&str> = None;
    // Depth of links and images being dropped for an unsafe URL (their text stays).
    let mut dropped = 0usize;
    let parser = Parser::new_ext(text, clauses::markdown_options()).into_offset_iter();
    for (ev, range) in flatten_deep(parser) {
        match ev {
            Event::Start(Tag::Heading { .. }) if fragment => {
                events.push(Event::Start(Tag::Paragraph));
                events.push(Event::Start(Tag::Strong));
            }
            Event::End(TagEnd::Heading(_)) if fragment => {
                events.push(Event::End(TagEnd::Strong));
                events.push(Event::End(TagEnd::Paragraph));
            }
            Event::Start(Tag::Heading { level, .. }) => {
                heading = by_start.get(&range.start).copied();
                events.push(Event::Start(Tag::Heading {
                    level: shift(level),
                    id: heading.map(|c| CowStr::from(c.id.clone())),
                    classes: Vec::new(),
                    attrs: Vec::new(),
                }));
            }
            Event::End(TagEnd::Heading(level)) => {
                if let Some(c) = heading.take() {
                    events.push(Event::InlineHtml(heading_extras(c).into()));
                }
                events.push(Event::End(TagEnd::Heading(shift(level))));
            }
            Event::Start(Tag::HtmlBlock) => {
                events.push(Event::Start(Tag::CodeBlock(CodeBlockKind::Indented)));
            }
            Event::End(TagEnd::HtmlBlock) => events.push(Event::End(TagEnd::CodeBlock)),
            Event::Html(s) => events.push(Event::Text(s)),
            Event::InlineHtml(s) => events.push(Event::Code(s)),
            Event::Start(Tag::Link { ref dest_url, .. } | Tag::Image { ref dest_url, .. })
                if dropped > 0 || !safe_url(dest_url) =>
            {
                dropped += 1;
            }
            Event::End(TagEnd::Link | TagEnd::Image) if dropped > 0 => dropped -= 1,
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => events.push(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })),
            Event::End(TagEnd::Image) => events.push(Event::End(TagEnd::Link)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let target = dest_url
                    .strip_prefix('#')
                    .and_then(|t| known.get_key_value(t).map(|(k, _)| *k));
                link_to = target;
                let dest_url = match (target, links) {
                    (Some(t), ClauseLinks::ClausePages(root)) => {
                        CowStr::from(format!("{root}{}", paths::clause(t)))
                    }
                    _ => dest_url,
                };
                events.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }));
            }
            Event::Text(t) if link_to.is_some() && t.trim() == "?" => {
                let title = link_to.and_then(|id| known.get(id)).copied().unwrap_or("?");
                events.push(Event::Text(CowStr::from(title.to_string())));
            }
            Event::End(TagEnd::Link) => {
                link_to = None;
                events.push(Event::End(TagEnd::Link));
            }
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    sanitize(&html)
}

/// The permalink and attribute badges appended inside a clause heading.
fn heading_extras(c: &Clause) -> String {
    let mut s = String::new();
    for (k, v) in &c.attrs {
        let label = if v.is_empty() {
            k.clone()
        } else {
            format!("{k}: {v}")
        };
        s.push_str(&format!(" <span class=\"badge\">{}</span>", esc(&label)));
    }
    s.push_str(&format!(
        " <a class=\"anchor\" href=\"#{id}\" aria-label=\"Permalink to clause {id}\">#</a>",
        id = esc(&c.id)
    ));
    s
}

/// Plain text of a Markdown fragment (for titles and summaries), at most `max` chars.
pub fn plain(text: &str, max: usize) -> String {
    let mut s = String::new();
    for ev in Parser::new_ext(text, clauses::markdown_options()) {
        match ev {
            Event::Text(t) | Event::Code(t) => s.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::End(_) if !s.ends_with(' ') => {
                s.push(' ');
            }
            _ => {}
        }
        if s.chars().count() > max {
            break;
        }
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > max {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBES: &str = r#"# Title <script>alert(1)</script> {#t1 authority="x><script>"}

<script>alert(2)</script>
<img src=x onerror=alert(3)>

[click](javascript:alert(4)) [data](data:text/html,<script>alert(5)</script>)
[JS](  JaVaScRiPt:alert(6)) <a href="javascript:alert(7)">raw</a>

![alt](http://evil.example/x.png) <iframe src="http://evil.example"></iframe>

<svg onload=alert(8)></svg> <style>body{}</style> "quoted" & <b onclick=x>b</b>
"#;

    #[test]
    fn hostile_markdown_is_inert() {
        let cl = clauses::parse(PROBES).unwrap();
        for html in [
            render_spec(PROBES, &cl),
            render_fragment(PROBES, &Titles::new(), ClauseLinks::SamePage),
        ] {
            // Look only inside tags: escaped text may mention anything.
            let mut rest = html.as_str();
            while let Some(i) = rest.find('<') {
                let end = rest[i..].find('>').map_or(rest.len(), |j| i + j + 1);
                let tag = rest[i..end].to_ascii_lowercase();
                rest = &rest[end..];
                for bad in [
                    "<script",
                    "<img",
                    "<iframe",
                    "<svg",
                    "<style",
                    " on",
                    "javascript:",
                    "data:",
                ] {
                    assert!(!tag.contains(bad), "{bad} in {tag}");
                }
            }
            assert!(html.contains("&lt;script&gt;"), "{html}");
        }
    }

    #[test]
    fn clause_headings_get_ids_and_cross_references_titles() {
        let md =
            "# Intro {#intro}\n\nSee [?](#rules).\n\n## The rules {#rules authority=root}\n\nx\n";
        let cl = clauses::parse(md).unwrap();
        let html = render_spec(md, &cl);
        assert!(html.contains("<h2 id=\"intro\">"), "{html}");
        assert!(html.contains("<h3 id=\"rules\">"), "{html}");
        assert!(
            html.contains("<span class=\"badge\">authority: root</span>"),
            "{html}"
        );
        assert!(html.contains(">The rules</a>"), "{html}");
        let t = titles(&cl);
        let frag = render_fragment("See [?](#rules).", &t, ClauseLinks::ClausePages("../../"));
        assert!(frag.contains("href=\"../../clauses/rules/\""), "{frag}");
    }

    #[test]
    fn unsafe_links_keep_only_their_text() {
        for bad in [
            "javascript:x",
            " JaVa\tScRiPt:x",
            "data:text/html,x",
            "vbscript:x",
            "file:///etc",
        ] {
            assert!(!safe_url(bad), "{bad}");
        }
        for good in [
            "https://a.b/",
            "#x",
            "../x",
            "mailto:a@b",
            "x/y:z",
            "?q=a:b",
        ] {
            assert!(safe_url(good), "{good}");
        }
        let html = render_fragment(
            "[click me](javascript:alert(1))",
            &Titles::new(),
            ClauseLinks::SamePage,
        );
        assert_eq!(html.trim(), "<p>click me</p>");
    }

    #[test]
    fn deep_nesting_is_flattened() {
        for md in [
            format!("{} deep\n", ">".repeat(100_000)),
            format!("{}deep\n", "- ".repeat(100_000)),
            format!("{}deep{}\n", "*_".repeat(50_000), "_*".repeat(50_000)),
        ] {
            let html = render_fragment(&md, &Titles::new(), ClauseLinks::SamePage);
            assert!(html.contains("deep"), "content kept");
            let depth = max_depth(&html);
            assert!(depth <= 2 * MAX_NESTING + 8, "nested {depth} deep");
        }
        let html = render_fragment(
            "> > a\n\n- b\n  - c\n",
            &Titles::new(),
            ClauseLinks::SamePage,
        );
        assert_eq!(html.matches("<blockquote>").count(), 2, "{html}");
        assert_eq!(html.matches("<li>").count(), 2, "{html}");
    }

    /// How deep the elements of `html` nest (void elements written `<x />`).
    fn max_depth(html: &str) -> usize {
        let (mut depth, mut max) = (0usize, 0usize);
        for (i, _) in html.match_indices('<') {
            let tag = &html[i..i + html[i..].find('>').unwrap_or(0)];
            if tag.starts_with("</") {
                depth = depth.saturating_sub(1);
            } else if !tag.ends_with('/') {
                depth += 1;
                max = max.max(depth);
            }
        }
        max
    }

    #[test]
    fn fragment_headings_are_bold_paragraphs() {
        let html = render_fragment(
            "#### Deep title\n\nBody.",
            &titles(&[]),
            ClauseLinks::SamePage,
        );
        assert!(!html.contains("<h"), "{html}");
        assert!(
            html.contains("<p><strong>Deep title</strong></p>"),
            "{html}"
        );
    }

    #[test]
    fn plain_text() {
        assert_eq!(plain("**a** `b`\n\nc", 100), "a b c");
        assert_eq!(plain("abcdef", 4), "abc…");
    }
}
