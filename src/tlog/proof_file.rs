//! Proof files: C2SP tlog-proof (`c2sp.org/tlog-proof@v1`) for inclusion
//! proofs, and speclog's own consistency-proof file.
//!
//! Both are text files of newline-terminated lines, with hashes in standard,
//! padded base64 (RFC 4648 Section 4), ending with a signed checkpoint
//! included verbatim. This module only checks their syntax; the caller
//! verifies the checkpoint's signatures (see `note::open_note` and
//! `note::Checkpoint`) and then the proof.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::TlogError;
use super::hash::Hash;

/// First line of a C2SP tlog-proof file.
pub const INCLUSION_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// First line of a speclog consistency-proof file.
pub const CONSISTENCY_PROOF_HEADER: &str = "speclog.dev/consistency-proof@v1";

/// Most hashes in an inclusion proof: the audit path of a tree with fewer
/// than 2^64 leaves has at most 64 hashes.
const MAX_INCLUSION_HASHES: usize = 64;

/// Most hashes in a consistency proof, as in tlog-witness (`add-checkpoint`:
/// "MUST NOT send more than 63 consistency proof lines").
const MAX_CONSISTENCY_HASHES: usize = 63;

/// A C2SP tlog-proof file: an inclusion proof for one entry together with the
/// signed checkpoint it leads to.
///
/// The format (c2sp.org/tlog-proof, "Format") is, line by line:
///
/// ```text
/// c2sp.org/tlog-proof@v1
/// extra <base64 extra data>        (only if extra is Some)
/// index <decimal index>
/// <base64 hash>                    (zero or more: the audit path, leaf's
/// ...                               sibling first, root's child last)
///                                  (an empty line)
/// <signed checkpoint, verbatim>
/// ```
///
/// Numbers are ASCII decimal without leading zeros. [`InclusionProofFile::parse`]
/// accepts exactly what [`InclusionProofFile::format`] produces, so a parsed
/// file formats back to the same bytes. Files should use the extension
/// `.tlog-proof`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProofFile {
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// Optional opaque, unauthenticated application data.
    pub extra: Option<Vec<u8>>,
    /// The inclusion proof, as returned by `prove_inclusion`.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint (a signed note), ending in a newline.
    pub checkpoint_text: String,
}

impl InclusionProofFile {
    /// Returns the file's text.
    pub fn format(&self) -> String {
        let mut s = String::new();
        s.push_str(INCLUSION_PROOF_HEADER);
        s.push('\n');
        if let Some(extra) = &self.extra {
            s.push_str("extra ");
            s.push_str(&STANDARD.encode(extra));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        push_hashes(&mut s, &self.hashes);
        s.push('\n');
        s.push_str(&self.checkpoint_text);
        s
    }

    /// Parses a tlog-proof file.
    ///
    /// It fails with [`TlogError::MalformedProofFile`] unless the file is
    /// UTF-8 with the exact header line, an optional well-formed `extra`
    /// line, a canonical `index` line, at most 64 hash lines of exactly 32
    /// bytes each, an empty line and a non-empty checkpoint ending in a
    /// newline.
    pub fn parse(b: &[u8]) -> Result<Self, TlogError> {
        let text = std::str::from_utf8(b).map_err(|_| malformed("not UTF-8"))?;
        let rest = strip_line(text, INCLUSION_PROOF_HEADER).ok_or(malformed("missing header"))?;
        let (mut line, mut rest) = next_line(rest)?;
        let mut extra = None;
        if let Some(e) = line.strip_prefix("extra ") {
            extra = Some(
                STANDARD
                    .decode(e)
                    .map_err(|_| malformed("extra data is not base64"))?,
            );
            (line, rest) = next_line(rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_u64)
            .ok_or(malformed("missing or malformed index line"))?;
        let (hashes, rest) = parse_hashes(rest, MAX_INCLUSION_HASHES)?;
        Ok(Self {
            index,
            extra,
            hashes,
            checkpoint_text: parse_checkpoint(rest)?,
        })
    }
}

/// A speclog consistency-proof file: a consistency proof from an older tree
/// size to the tree of a signed checkpoint.
///
/// C2SP defines no file format for consistency proofs, so this one follows
/// tlog-proof's style: a header line, then exactly the request body of the
/// C2SP tlog-witness `add-checkpoint` call (see
/// [`ConsistencyProofFile::add_checkpoint_body`]):
///
/// ```text
/// speclog.dev/consistency-proof@v1
/// old <decimal old tree size>
/// <base64 hash>                    (zero to 63: the consistency proof)
/// ...
///                                  (an empty line)
/// <signed checkpoint of the new tree, verbatim>
/// ```
///
/// The proof must be empty when the old size is 0 or equal to the new size.
/// The verifier is expected to already trust a checkpoint of the old size,
/// whose root it passes to `verify_consistency`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProofFile {
    /// Size of the older tree.
    pub old_size: u64,
    /// The consistency proof, as returned by `prove_consistency`.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint of the newer tree, ending in a newline.
    pub checkpoint_text: String,
}

impl ConsistencyProofFile {
    /// Returns the file's text: the header line followed by
    /// [`ConsistencyProofFile::add_checkpoint_body`].
    pub fn format(&self) -> String {
        format!("{CONSISTENCY_PROOF_HEADER}\n{}", self.add_checkpoint_body())
    }

    /// Returns the body of a C2SP tlog-witness `add-checkpoint` request for
    /// this proof: the `old` line, the proof lines, an empty line and the
    /// checkpoint.
    pub fn add_checkpoint_body(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        push_hashes(&mut s, &self.hashes);
        s.push('\n');
        s.push_str(&self.checkpoint_text);
        s
    }

    /// Parses a consistency-proof file, as strictly as
    /// [`InclusionProofFile::parse`] (at most 63 hashes).
    pub fn parse(b: &[u8]) -> Result<Self, TlogError> {
        let text = std::str::from_utf8(b).map_err(|_| malformed("not UTF-8"))?;
        let rest = strip_line(text, CONSISTENCY_PROOF_HEADER).ok_or(malformed("missing header"))?;
        let (line, rest) = next_line(rest)?;
        let old_size = line
            .strip_prefix("old ")
            .and_then(parse_canonical_u64)
            .ok_or(malformed("missing or malformed old line"))?;
        let (hashes, rest) = parse_hashes(rest, MAX_CONSISTENCY_HASHES)?;
        Ok(Self {
            old_size,
            hashes,
            checkpoint_text: parse_checkpoint(rest)?,
        })
    }
}

fn malformed(reason: &'static str) -> TlogError {
    TlogError::MalformedProofFile(reason)
}

fn push_hashes(s: &mut String, hashes: &[Hash]) {
    for h in hashes {
        s.push_str(&STANDARD.encode(h));
        s.push('\n');
    }
}

/// Strips `line` followed by a newline from the start of `text`.
fn strip_line<'a>(text: &'a str, line: &str) -> Option<&'a str> {
    text.strip_prefix(line)?.strip_prefix('\n')
}

/// Splits off the first newline-terminated line.
fn next_line(text: &str) -> Result<(&str, &str), TlogError> {
    text.split_once('\n').ok_or(malformed("truncated"))
}

/// Parses a decimal `u64` with no sign and no leading zeros.
fn parse_canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parses hash lines up to and including the empty line that ends them.
fn parse_hashes(mut rest: &str, max: usize) -> Result<(Vec<Hash>, &str), TlogError> {
    let mut hashes = Vec::new();
    loop {
        let (line, tail) = next_line(rest)?;
        rest = tail;
        if line.is_empty() {
            return Ok((hashes, rest));
        }
        if hashes.len() == max {
            return Err(malformed("too many hashes"));
        }
        let bytes = STANDARD
            .decode(line)
            .map_err(|_| malformed("hash is not base64"))?;
        let h: Hash = bytes
            .try_into()
            .map_err(|_| malformed("hash is not 32 bytes"))?;
        hashes.push(h);
    }
}

fn parse_checkpoint(rest: &str) -> Result<String, TlogError> {
    if rest.is_empty() || !rest.ends_with('\n') {
        return Err(malformed("missing checkpoint"));
    }
    Ok(rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKPOINT: &str = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— example.com/fancylog hI2DJwAAAAA=\n";

    fn hash(b: u8) -> Hash {
        [b; 32]
    }

    #[test]
    fn inclusion_file_matches_spec_layout() {
        let f = InclusionProofFile {
            index: 73894,
            extra: Some(b"age-v1.2.1-darwin-arm64.tar.gz".to_vec()),
            hashes: vec![hash(1), hash(2)],
            checkpoint_text: CHECKPOINT.to_string(),
        };
        let text = f.format();
        assert_eq!(
            text,
            format!(
                "c2sp.org/tlog-proof@v1\n\
                 extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6\n\
                 index 73894\n\
                 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\
                 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n\
                 \n{CHECKPOINT}"
            )
        );
        assert_eq!(InclusionProofFile::parse(text.as_bytes()).unwrap(), f);

        let g = InclusionProofFile {
            index: 0,
            extra: None,
            hashes: vec![],
            checkpoint_text: CHECKPOINT.to_string(),
        };
        let text = g.format();
        assert_eq!(
            text,
            format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{CHECKPOINT}")
        );
        assert_eq!(InclusionProofFile::parse(text.as_bytes()).unwrap(), g);

        let e = InclusionProofFile {
            extra: Some(vec![]),
            ..g
        };
        assert_eq!(InclusionProofFile::parse(e.format().as_bytes()).unwrap(), e);
    }

    #[test]
    fn inclusion_file_rejects_malformed() {
        let h = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let ok = format!("c2sp.org/tlog-proof@v1\nindex 5\n{h}\n\n{CHECKPOINT}");
        InclusionProofFile::parse(ok.as_bytes()).unwrap();
        let long = vec![h; 65].join("\n");
        for bad in [
            String::new(),
            "c2sp.org/tlog-proof@v1\n".to_string(),
            format!("c2sp.org/tlog-proof@v2\nindex 5\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\r\nindex 5\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex 05\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex -5\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex +5\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex  5\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 5\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex 5\nextra AA==\n{h}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex 5\n{h}x\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex 5\nAQE=\n\n{CHECKPOINT}"),
            format!(
                "c2sp.org/tlog-proof@v1\nindex 5\n{}\n\n{CHECKPOINT}",
                &h[..43]
            ),
            format!("c2sp.org/tlog-proof@v1\nindex 5\n{long}\n\n{CHECKPOINT}"),
            format!("c2sp.org/tlog-proof@v1\nindex 5\n{h}\n"),
            format!("c2sp.org/tlog-proof@v1\nindex 5\n{h}\n\n"),
            format!("c2sp.org/tlog-proof@v1\nindex 5\n{h}\n\nno newline"),
            format!("c2sp.org/tlog-proof@v1\nindex 5\n{h}"),
        ] {
            assert!(
                InclusionProofFile::parse(bad.as_bytes()).is_err(),
                "{bad:?}"
            );
        }
        assert!(InclusionProofFile::parse(b"c2sp.org/tlog-proof@v1\nindex 5\n\n\xff\n").is_err());
    }

    #[test]
    fn consistency_file_round_trips() {
        let f = ConsistencyProofFile {
            old_size: 20852014,
            hashes: vec![hash(1), hash(2)],
            checkpoint_text: CHECKPOINT.to_string(),
        };
        let text = f.format();
        assert_eq!(
            text,
            format!(
                "speclog.dev/consistency-proof@v1\n\
                 old 20852014\n\
                 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\
                 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n\
                 \n{CHECKPOINT}"
            )
        );
        assert!(text.ends_with(&f.add_checkpoint_body()));
        assert_eq!(ConsistencyProofFile::parse(text.as_bytes()).unwrap(), f);
        let too_many = ConsistencyProofFile {
            hashes: vec![hash(3); 64],
            ..f.clone()
        };
        assert!(ConsistencyProofFile::parse(too_many.format().as_bytes()).is_err());
        assert!(ConsistencyProofFile::parse(f.add_checkpoint_body().as_bytes()).is_err());
        assert!(
            ConsistencyProofFile::parse(
                format!("speclog.dev/consistency-proof@v1\nold 01\n\n{CHECKPOINT}").as_bytes()
            )
            .is_err()
        );
    }
}
