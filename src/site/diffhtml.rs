//! HTML of clause text hunks: removed and inserted lines, with the changed
//! words marked by `<del>` and `<ins>`. Every piece of text is escaped here.

use crate::governance::diff::{Hunk, Line, LineOp};

use super::markdown::esc;

fn line(l: &Line) -> String {
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
            body.push_str(&esc(&l.text));
        } else {
            body.push_str(&format!("<{tag}>{}</{tag}>", esc(&l.text)));
        }
    } else {
        for s in &l.spans {
            if s.changed {
                body.push_str(&format!("<{tag} class=\"word\">{}</{tag}>", esc(&s.text)));
            } else {
                body.push_str(&esc(&s.text));
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

/// The hunks of one clause as HTML.
pub fn hunks(hs: &[Hunk]) -> String {
    let mut s = String::new();
    for h in hs {
        s.push_str("<div class=\"hunk\">\n");
        s.push_str(&format!(
            "<div class=\"hunk-head\">Lines {}–{} → {}–{}</div>\n",
            h.old_start,
            h.old_start + h.old_lines.saturating_sub(1),
            h.new_start,
            h.new_start + h.new_lines.saturating_sub(1)
        ));
        for l in &h.lines {
            s.push_str(&line(l));
        }
        s.push_str("</div>\n");
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
        let html = hunks(&h);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("<del"), "{html}");
        assert!(html.contains("<ins"), "{html}");
    }
}
