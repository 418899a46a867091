//! The bottom layer: SHA-256 and the checks of the text fields that end up in
//! signed bytes or file names (times, kinds, key names). Pure; every other
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
