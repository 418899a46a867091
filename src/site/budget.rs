//! How much text one page inlines.
//!
//! A spec may hold 32 MiB, all of it on one line, and a browser takes minutes
//! to lay out a page built from that (a 10 MB one-line spec made 39 MB clause
//! pages and 19 MB diff pages). So each page shows at most [`PAGE_TEXT`]
//! bytes of hostile text (spec and clause text, diff lines); what is left out
//! is replaced by a note saying how many bytes are not shown and linking to
//! where the whole text is: the version's `spec.md` (the exact signed bytes),
//! or the page of the clause. Inside a long diff line only [`CONTEXT`] bytes
//! of unchanged text are kept on each side of a change, so the change itself
//! is shown however far into the line it is.
//!
//! The cut depends only on the text, so a rebuild makes the same bytes and
//! `verify --site` still compares every page.

use super::markdown::esc;

/// Most bytes of text one page inlines.
pub const PAGE_TEXT: usize = 256 * 1024;

/// Most bytes of one diff line shown (a line deleted or inserted whole, or an
/// unchanged context line).
pub const LINE_TEXT: usize = 8 * 1024;

/// Unchanged bytes kept on each side of a change inside a long diff line.
pub const CONTEXT: usize = 200;

/// What is left of one page's allowance of text.
#[derive(Debug)]
pub struct Budget {
    left: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(PAGE_TEXT)
    }
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Budget {
        Budget { left: bytes }
    }

    /// True once nothing more may be shown.
    pub fn spent(&self) -> bool {
        self.left == 0
    }

    /// The part of `text` this page still shows (at most `max` bytes and what
    /// is left, see [`prefix`]) and the number of bytes left out; the part
    /// shown is charged.
    pub fn take<'a>(&mut self, text: &'a str, max: usize) -> (&'a str, usize) {
        let shown = prefix(text, max.min(self.left));
        self.left -= shown.len();
        (shown, text.len() - shown.len())
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary, cut after the last line break (or else space) in its
/// last quarter when there is one, so a cut rarely splits a word or a
/// Markdown line. All of `text` when it fits.
pub fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    let floor = end - end / 4;
    for sep in ['\n', ' '] {
        if let Some(i) = head.rfind(sep)
            && i + 1 >= floor
        {
            return &text[..i + 1];
        }
    }
    head
}

/// The longest suffix of `text` of at most `max` bytes that starts on a
/// character boundary (after a space in its first quarter when there is one).
pub fn suffix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    match tail.find(' ') {
        Some(i) if i < tail.len() / 4 => &tail[i + 1..],
        _ => tail,
    }
}

/// `n` with thousands separators: 9,988,265.
pub fn bytes(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The note put where text was left out: `what` ("9,731,000 more bytes",
/// "12 more diff lines") and links (`href`, already relative and safe; text)
/// to where the whole of it is.
pub fn notice(what: &str, links: &[(String, String)]) -> String {
    let mut s = format!(
        "<p class=\"notice truncated\">Truncated: {} are not shown on this page, which shows \
         at most {} bytes of text. The whole text:",
        esc(what),
        bytes(PAGE_TEXT)
    );
    for (i, (href, text)) in links.iter().enumerate() {
        s.push_str(if i == 0 { " " } else { ", " });
        s.push_str(&format!("<a href=\"{}\">{}</a>", esc(href), esc(text)));
    }
    s.push_str(".</p>\n");
    s
}

/// [`notice`] for text cut by [`Budget::take`]: `left_out` bytes.
pub fn text_notice(left_out: usize, links: &[(String, String)]) -> String {
    notice(&format!("{} more bytes", bytes(left_out)), links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_boundaries_and_charges_the_page() {
        assert_eq!(prefix("short", 10), "short");
        assert_eq!(prefix("one two three", 9), "one two ");
        assert_eq!(prefix("ééé", 3), "é");
        assert_eq!(prefix("abcdefghij", 4), "abcd");
        assert_eq!(suffix("one two three", 9), "two three");
        assert_eq!(suffix("one two three", 12), "two three");
        assert_eq!(suffix("ééé", 3), "é");
        let mut b = Budget::new(10);
        let (s, left) = b.take("0123456789abcdef", 100);
        assert_eq!((s, left), ("0123456789", 6));
        assert!(b.spent());
        assert_eq!(b.take("more", 100), ("", 4));
        assert_eq!(bytes(9_988_265), "9,988,265");
        assert_eq!(bytes(999), "999");
        let n = text_notice(1234, &[("../spec.md".into(), "spec.md".into())]);
        assert!(
            n.contains("1,234 more bytes") && n.contains("href=\"../spec.md\""),
            "{n}"
        );
    }
}
