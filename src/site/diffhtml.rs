//! HTML of clause text hunks: removed and inserted lines, with the changed
//! words marked by `<del>` and `<ins>`. Every piece of text is escaped here.

use crate::governance::diff::{Hunk, Line, LineOp};

use super::budget::{self, Budget, CONTEXT, LINE_TEXT};
use super::markdown::esc;

/// The marker put where part of a line is not shown.
fn elided(n: usize, what: &str) -> String {
    format!(
        "<span class=\"elided\">[… {} {what} bytes …]</span>",
        budget::bytes(n)
    )
}

/// `text` escaped, at most `max` bytes of it and what `b` allows, with a
/// marker for the rest.
fn capped(text: &str, max: usize, b: &mut Budget) -> String {
    let (shown, left) = b.take(text, max);
    let mut s = esc(shown);
    if left > 0 {
        s.push_str(&elided(left, "more"));
    }
    s
}

/// An unchanged span of a changed line: [`CONTEXT`] bytes kept next to each
/// change, the middle of a long one left out.
fn context(text: &str, first: bool, last: bool, b: &mut Budget) -> String {
    if text.len() <= 2 * CONTEXT + 64 {
        return capped(text, LINE_TEXT, b);
    }
    let head = if first {
        ""
    } else {
        budget::prefix(text, CONTEXT)
    };
    let tail = if last {
        ""
    } else {
        budget::suffix(text, CONTEXT)
    };
    let (h, _) = b.take(head, CONTEXT);
    let (t, _) = b.take(tail, CONTEXT);
    format!(
        "{}{}{}",
        esc(h),
        elided(text.len() - h.len() - t.len(), "unchanged"),
        esc(t)
    )
}

fn line(l: &Line, b: &mut Budget) -> String {
    let (class, sign, label) = match l.op {
        LineOp::Equal => ("eq", " ", ""),
        LineOp::Delete => ("del", "−", "Removed: "),
        LineOp::Insert => ("ins", "+", "Added: "),
    };
    let tag = match l.op {
        LineOp::Delete => "del",
        LineOp::Insert => "ins",
        LineOp::Equal => "",
    };
    let mut body = String::new();
    if l.spans.is_empty() || tag.is_empty() {
        if tag.is_empty() {
            body.push_str(&capped(&l.text, LINE_TEXT, b));
        } else {
            body.push_str(&format!("<{tag}>{}</{tag}>", capped(&l.text, LINE_TEXT, b)));
        }
    } else {
        let n = l.spans.len();
        for (i, s) in l.spans.iter().enumerate() {
            if s.changed {
                body.push_str(&format!(
                    "<{tag} class=\"word\">{}</{tag}>",
                    capped(&s.text, LINE_TEXT, b)
                ));
            } else {
                body.push_str(&context(&s.text, i == 0, i + 1 == n, b));
            }
        }
    }
    let hidden = if label.is_empty() {
        String::new()
    } else {
        format!("<span class=\"vh\">{label}</span>")
    };
    format!(
        "<div class=\"ln {class}\"><span class=\"sign\" aria-hidden=\"true\">{sign}</span><span class=\"txt\">{hidden}{body}</span></div>\n"
    )
}

/// The hunks of one clause as HTML, inlining no more text than `b` allows
/// (see [`super::budget`]): long lines keep the text around each change, and
/// once the page's budget is spent the lines left are replaced by a notice
/// linking to `whole`, where the whole text is.
pub fn hunks(hs: &[Hunk], b: &mut Budget, whole: &[(String, String)]) -> String {
    let mut s = String::new();
    if b.spent() && !hs.is_empty() {
        // The notice with the links is on the page already.
        s.push_str(
            "<p class=\"notice truncated\">Not shown: this page has reached its limit of \
             text; its first truncation notice links to the whole text.</p>\n",
        );
        return s;
    }
    let mut left_out = 0usize;
    for h in hs {
        if b.spent() {
            left_out += h.lines.len();
            continue;
        }
        s.push_str("<div class=\"hunk\">\n");
        s.push_str(&format!(
            "<div class=\"hunk-head\">Lines {}–{} → {}–{}</div>\n",
            h.old_start,
            h.old_start + h.old_lines.saturating_sub(1),
            h.new_start,
            h.new_start + h.new_lines.saturating_sub(1)
        ));
        for l in &h.lines {
            if b.spent() {
                left_out += 1;
            } else {
                s.push_str(&line(l, b));
            }
        }
        s.push_str("</div>\n");
    }
    if left_out > 0 {
        s.push_str(&budget::notice(
            &match left_out {
                1 => "1 more diff line".to_string(),
                n => format!("{} more diff lines", budget::bytes(n)),
            },
            whole,
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::diff;

    #[test]
    fn escapes_and_marks_words() {
        let h = diff::hunks("say <b>hi</b> now\n", "say <script>x</script> now\n");
        let html = hunks(&h, &mut Budget::default(), &[]);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("<del"), "{html}");
        assert!(html.contains("<ins"), "{html}");
    }

    /// A change deep inside a 2 MB line is shown with its context; the rest
    /// of the line is left out, and a page's budget stops further lines.
    #[test]
    fn long_lines_keep_the_change_and_the_page_stays_small() {
        let words = "alpha beta gamma delta ".repeat(100_000);
        let old = format!("{words}OLDWORD {words}\n");
        let new = format!("{words}NEWWORD {words}\n");
        let h = diff::hunks(&old, &new);
        let mut b = Budget::default();
        let html = hunks(&h, &mut b, &[]);
        assert!(html.len() < 8 * CONTEXT + 2000, "{} bytes", html.len());
        assert!(
            html.contains("OLDWORD") && html.contains("NEWWORD"),
            "{html}"
        );
        assert!(html.contains("unchanged bytes"), "{html}");
        // Lines deleted and inserted whole: each is cut at LINE_TEXT, and
        // the page budget ends the diff with a notice and its links.
        let old: String = (0..200)
            .map(|i| format!("{i} {}\n", "x".repeat(5000)))
            .collect();
        let h = diff::hunks(&old, "");
        let mut b = Budget::default();
        let whole = [("../spec.md".to_string(), "spec.md".to_string())];
        let html = hunks(&h, &mut b, &whole);
        assert!(b.spent());
        assert!(
            html.len() < budget::PAGE_TEXT + 200 * 200,
            "{} bytes",
            html.len()
        );
        assert!(
            html.contains("more diff lines") && html.contains("href=\"../spec.md\""),
            "{html}"
        );
    }
}
