//! Checkpoints: the note text of a transparency log tree head (C2SP
//! tlog-checkpoint, "Note text").

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::tlog::Hash;

use super::*;

/// A transparency log checkpoint: the note text of a signed tree head
/// (C2SP tlog-checkpoint, "Note text").
///
/// Its text is the origin line, the tree size in decimal, the root hash in
/// base64 and any extension lines, each ending in a newline:
///
/// ```text
/// example.com/behind-the-sofa
/// 20852163
/// CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin, a unique identifier such as `example.com/log42`.
    pub origin: String,
    /// Number of entries in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree.
    pub root: Hash,
    /// Opaque extension lines, each non-empty (use is not recommended).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Returns the checkpoint's note text. The result is only well-formed if
    /// [`Checkpoint::validate`] succeeds.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Checks that the origin and extension lines are non-empty and contain
    /// no control characters (in particular no newlines).
    pub fn validate(&self) -> Result<(), NoteError> {
        let bad = NoteError::MalformedCheckpoint;
        let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c < ' ');
        if !clean(&self.origin) {
            return Err(bad("empty origin or control character in origin"));
        }
        if !self.extensions.iter().all(|e| clean(e)) {
            return Err(bad("empty extension line or control character"));
        }
        Ok(())
    }

    /// Parses checkpoint note text (the text of an opened note, without
    /// signatures).
    ///
    /// It fails unless the text ends in a newline, is at most
    /// [`MAX_CHECKPOINT_SIZE`] bytes without control characters other than
    /// newline, and has a non-empty origin, a size in decimal without
    /// leading zeros, a root of exactly 32 bytes in canonical padded base64
    /// and only non-empty extension lines.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = NoteError::MalformedCheckpoint;
        if text.len() > MAX_CHECKPOINT_SIZE {
            return Err(bad("too large"));
        }
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad("control character"));
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(bad("does not end in newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("empty origin"));
        }
        let size_str = lines.next().ok_or(bad("missing size"))?;
        let size = parse_canonical_u64(size_str).ok_or(bad("malformed size"))?;
        let root_str = lines.next().ok_or(bad("missing root hash"))?;
        let root: Hash = STANDARD
            .decode(root_str)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(bad("malformed root hash"))?;
        let mut extensions = Vec::new();
        for e in lines {
            if e.is_empty() {
                return Err(bad("empty extension line"));
            }
            extensions.push(e.to_string());
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

/// Parses a decimal `u64` with no sign and no leading zeros.
pub(super) fn parse_canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Signs a checkpoint with `signers` (see [`sign_note`]) after checking it
/// with [`Checkpoint::validate`].
pub fn sign_checkpoint(cp: &Checkpoint, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    cp.validate()?;
    sign_note(&cp.to_text(), signers)
}

/// Opens a signed checkpoint: verifies the note with [`open_note`], parses
/// its text with [`Checkpoint::parse`] and checks that its origin is
/// `origin`.
pub fn open_checkpoint(
    bytes: &[u8],
    origin: &str,
    verifiers: &[VerifierKey],
) -> Result<(Checkpoint, Note, Vec<VerifiedSig>), NoteError> {
    let (note, sigs) = open_note(bytes, verifiers)?;
    let cp = Checkpoint::parse(&note.text)?;
    if cp.origin != origin {
        return Err(NoteError::OriginMismatch {
            got: cp.origin,
            want: origin.to_string(),
        });
    }
    Ok((cp, note, sigs))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::note::test_vectors::*;

    #[test]
    fn checkpoint_example_and_round_trip() {
        // tlog-checkpoint.md example.
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse(text).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert_eq!(hex::encode(&cp.root[..4]), "0ac5186a");
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_text(), text);

        let with_ext = format!("{text}ext one\nsecond\n");
        let cp = Checkpoint::parse(&with_ext).unwrap();
        assert_eq!(cp.extensions, vec!["ext one", "second"]);
        assert_eq!(cp.to_text(), with_ext);

        let r = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        for bad in [
            String::new(),
            "\n".to_string(),
            format!("o\n1\n{r}"),
            format!("\n1\n{r}\n"),
            format!("o\n\n{r}\n"),
            format!("o\n01\n{r}\n"),
            format!("o\n+1\n{r}\n"),
            format!("o\n-1\n{r}\n"),
            format!("o\n 1\n{r}\n"),
            format!("o\n18446744073709551616\n{r}\n"),
            "o\n1\n".to_string(),
            "o\n1\nAAAA\n".to_string(),
            format!("o\n1\n{}\n", &r[..43]),
            format!("o\n1\n{}\n", r.replace('=', "")),
            format!("o\n1\n{r}\n\n"),
            format!("o\n1\n{r}\next\n\n"),
            format!("o\n1\n{r}\r\n"),
            format!("o\t\n1\n{r}\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(Checkpoint::parse(&format!("o\n0\n{r}\n")).unwrap().size, 0);
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{r}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
    }

    #[test]
    fn checkpoint_sign_and_open() {
        let log = NoteSigner::generate("example.com/log").unwrap();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 7,
            root: [9; 32],
            extensions: vec![],
        };
        let signed = sign_checkpoint(&cp, &[&log]).unwrap();
        let (got, _, sigs) =
            open_checkpoint(signed.as_bytes(), "example.com/log", &[log.verifier_key()]).unwrap();
        assert_eq!(got, cp);
        assert_eq!(sigs.len(), 1);
        assert!(matches!(
            open_checkpoint(
                signed.as_bytes(),
                "example.com/other",
                &[log.verifier_key()]
            ),
            Err(NoteError::OriginMismatch { .. })
        ));
        let bad = Checkpoint {
            origin: "a\nb".into(),
            ..cp.clone()
        };
        assert!(sign_checkpoint(&bad, &[&log]).is_err());
        let bad = Checkpoint {
            extensions: vec![String::new()],
            ..cp
        };
        assert!(sign_checkpoint(&bad, &[&log]).is_err());
    }
}
