//! The bottom layer: SHA-256 and the checks of the text fields that end up in
//! signed bytes or file names (times, kinds, key names), and which characters
//! of hostile text must be shown rather than obeyed ([`hidden_char`], used by
//! the CLI's output and the site's pages alike). Pure; every other
//! module may use it, and it uses nothing of the crate.

use sha2::{Digest, Sha256};
use thiserror::Error;

/// A text field that is not in the one form speclog writes.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FieldError {
    #[error("invalid time {0:?}: want RFC 3339 UTC like 2025-01-31T12:00:00Z")]
    Time(String),
    #[error("invalid kind {0:?}: want lowercase letters, digits, '.' and '-'")]
    Kind(String),
    #[error(
        "invalid key name {0:?}: want 1-64 of A-Z a-z 0-9 . _ - (not starting with '.' or '-')"
    )]
    Name(String),
}

/// Whether `c` must be shown, not passed through, where people read text
/// from a ledger (hostile text):
///
/// - a control character other than newline, tab and carriage return;
/// - a Unicode bidirectional control: embeddings and overrides
///   (U+202A-U+202E), isolates (U+2066-U+2069) and marks (U+200E, U+200F,
///   U+061C), which reorder what is shown (the "Trojan Source" trick,
///   CVE-2021-42574);
/// - a zero-width or otherwise invisible format character, which hides or
///   splits text: U+200B-U+200D, U+2060-U+206F (word joiner, invisible
///   operators, deprecated format controls), U+FEFF, U+00AD, U+034F,
///   U+180B-U+180F, U+FFF9-U+FFFB, the Hangul fillers, the line and paragraph
///   separators, and the tag characters U+E0000-U+E007F (invisible copies of
///   ASCII: text hidden from readers but not from models) with the
///   variation selectors supplement U+E0100-U+E01EF.
///
/// The emoji variation selectors U+FE00-U+FE0F pass: they only choose a glyph.
pub fn hidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        || matches!(
            c,
            '\u{00ad}'
                | '\u{034f}'
                | '\u{061c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e007f}'
                | '\u{e0100}'..='\u{e01ef}'
        )
}

/// `s` with every character `hide` picks shown as `\u{..}` (its code point
/// in lowercase hex), as plain ASCII text anyone can see and that means
/// nothing to a terminal, a browser or an XML parser. Borrowed when nothing
/// is hidden.
pub fn inert_with(s: &str, hide: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write;
    let Some(first) = s.char_indices().find(|(_, c)| hide(*c)).map(|(i, _)| i) else {
        return std::borrow::Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if hide(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `s` with every [`hidden_char`] shown as `\u{..}`.
pub fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    inert_with(s, hidden_char)
}

/// SHA-256 of arbitrary bytes (FIPS 180-4).
pub fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Checks an RFC 3339 UTC time in the one form speclog writes: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn check_time(t: &str) -> Result<(), FieldError> {
    let b = t.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok || t.parse::<jiff::Timestamp>().is_err() {
        return Err(FieldError::Time(t.to_string()));
    }
    Ok(())
}

/// Checks an entry kind: 1-64 bytes of `[a-z0-9.-]`, starting with a letter.
pub fn check_kind(k: &str) -> Result<(), FieldError> {
    let ok = !k.is_empty()
        && k.len() <= 64
        && k.as_bytes()[0].is_ascii_lowercase()
        && k.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::Kind(k.to_string()))
    }
}

/// Checks a key name: 1-64 bytes of `[A-Za-z0-9._-]`, not starting with `.` or `-`.
/// Names become file names, so this also rules out path traversal.
pub fn check_name(n: &str) -> Result<(), FieldError> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::Name(n.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_shown_as_code_points() {
        assert_eq!(
            inert("plain\ttext\r\n é → “q” ❤\u{fe0f}"),
            "plain\ttext\r\n é → “q” ❤\u{fe0f}"
        );
        assert!(matches!(inert("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(inert("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
        assert_eq!(
            inert("\u{200b}\u{200d}\u{2060}\u{feff}\u{061c}\u{200f}"),
            "\\u{200b}\\u{200d}\\u{2060}\\u{feff}\\u{61c}\\u{200f}"
        );
        assert_eq!(inert("\u{e0041}\u{e0049}"), "\\u{e0041}\\u{e0049}");
        assert_eq!(inert("x\u{1b}[2Jy\u{85}"), "x\\u{1b}[2Jy\\u{85}");
        // Every bidi control and zero-width character the issue names.
        for c in ('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200e}', '\u{200f}', '\u{061c}', '\u{2060}', '\u{feff}'])
            .chain('\u{200b}'..='\u{200d}')
        {
            assert!(hidden_char(c), "U+{:04X}", c as u32);
        }
    }
}
