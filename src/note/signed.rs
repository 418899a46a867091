//! Signed notes: text signed by one or more keys (C2SP signed-note, "Format"
//! and "Signatures").

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;

/// One signature line of a note: `— <name> <base64(key id || sig)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Name of the signing key.
    pub name: String,
    /// Key id of the signing key.
    pub key_id: [u8; 4],
    /// Signature bytes after the key id: 64 bytes for Ed25519, 72 (a
    /// big-endian `u64` timestamp and 64 bytes) for cosignatures.
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// Returns `base64(key id || sig)`.
    pub fn base64(&self) -> String {
        let mut b = Vec::with_capacity(4 + self.sig.len());
        b.extend_from_slice(&self.key_id);
        b.extend_from_slice(&self.sig);
        STANDARD.encode(b)
    }

    /// Returns the signature line, including the final newline.
    pub fn line(&self) -> String {
        format!("— {} {}\n", self.name, self.base64())
    }

    /// Parses a signature line without its final newline.
    ///
    /// The line must be an em dash (U+2014), a space, a valid key name, a
    /// space and canonical padded base64 of at least 5 bytes.
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        let bad = NoteError::MalformedNote;
        let rest = line
            .strip_prefix("— ")
            .ok_or(bad("signature line without em dash"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(bad("signature line without space"))?;
        if !is_valid_name(name) {
            return Err(bad("invalid key name in signature"));
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| bad("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature too short"));
        }
        let (id, sig) = raw.split_at(4);
        Ok(Self {
            name: name.to_string(),
            key_id: [id[0], id[1], id[2], id[3]],
            sig: sig.to_vec(),
        })
    }
}

/// A signature from a known key that verified, as returned by [`open_note`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSig {
    /// Name of the key.
    pub name: String,
    /// Key id of the key.
    pub key_id: [u8; 4],
    /// Signature type of the key (`0x01` or `0x04`).
    pub alg: u8,
    /// The cosignature's timestamp (seconds since the epoch), for `0x04`.
    pub timestamp: Option<u64>,
}

/// A signed note: text and the signatures on it (signed-note, "Format").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signatures, in the order of the note's signature lines.
    pub sigs: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note without verifying any signature.
    ///
    /// Per signed-note, the note must be UTF-8 without ASCII control
    /// characters other than newline; the text is everything up to and
    /// including the newline before the note's last empty line; what follows
    /// must be 1 to [`MAX_SIGNATURES`] signature lines (see
    /// [`NoteSignature::parse_line`]), each ending in a newline. All lines
    /// are kept, including duplicates, so [`Note::format`] reproduces the
    /// input exactly.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        let bad = NoteError::MalformedNote;
        let msg = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        if msg.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad("control character"));
        }
        let split = msg.rfind("\n\n").ok_or(bad("no signature block"))?;
        let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
        if sigs.is_empty() {
            return Err(bad("no signatures"));
        }
        let body = sigs
            .strip_suffix('\n')
            .ok_or(bad("signature block does not end in newline"))?;
        let mut out = Vec::new();
        for line in body.split('\n') {
            if out.len() == MAX_SIGNATURES {
                return Err(bad("too many signatures"));
            }
            out.push(NoteSignature::parse_line(line)?);
        }
        Ok(Note {
            text: text.to_string(),
            sigs: out,
        })
    }

    /// Returns the note in signed-note form: the text, an empty line and one
    /// line per signature. (A note without signatures formats to text that
    /// [`Note::parse`] rejects.)
    pub fn format(&self) -> String {
        let mut s = String::with_capacity(self.text.len() + 1 + 128 * self.sigs.len());
        s.push_str(&self.text);
        s.push('\n');
        for sig in &self.sigs {
            s.push_str(&sig.line());
        }
        s
    }

    /// Adds a signature, replacing any existing signature with the same name
    /// and key id (like Go's `note.Sign`).
    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.sigs
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.sigs.push(sig);
    }
}

/// Signs `text` with each of `signers` (Ed25519 `0x01` signers) and returns
/// the signed note.
///
/// It fails if `text` does not end in a newline or contains control
/// characters other than newline, if there are no signers, or if a signer is
/// a cosigner.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::MalformedNote("no signers"));
    }
    let mut note = Note {
        text: text.to_string(),
        sigs: Vec::with_capacity(signers.len()),
    };
    for s in signers {
        note.add_signature(s.sign(text)?);
    }
    Ok(note.format())
}

/// Signs `text` with one Ed25519 (`0x01`) key under `name`, the key held
/// anywhere (see [`crate::sign`]), and returns the signed note: the same
/// bytes as [`sign_note`] with a [`NoteSigner`] of that key.
pub fn sign_note_by(
    text: &str,
    name: &str,
    key: &dyn crate::sign::Ed25519Signer,
) -> Result<String, NoteError> {
    check_text(text)?;
    let vk = VerifierKey::new(name, ALG_ED25519, key.verifying_key())?;
    let mut note = Note {
        text: text.to_string(),
        sigs: Vec::with_capacity(1),
    };
    note.add_signature(NoteSignature {
        name: vk.name,
        key_id: vk.key_id,
        sig: key.sign_message(text.as_bytes())?.to_bytes().to_vec(),
    });
    Ok(note.format())
}

/// Parses a signed note and verifies its signatures against `verifiers`
/// (signed-note, "Signatures").
///
/// Signatures whose (name, key id) matches no verifier are ignored. Every
/// signature from a known key must verify, or the note is rejected with
/// [`NoteError::InvalidSignature`]; repeated signatures by the same key after
/// the first are ignored. `0x04` keys verify cosignatures over the note text
/// as a checkpoint (see [`verify_cosignature`]). If two different verifiers
/// share the name and key id of a signature, the result is
/// [`NoteError::AmbiguousKey`]. If no known key signed the note, the result
/// is [`NoteError::Unverified`].
///
/// Returns the note and the verified signatures, in note order.
pub fn open_note(
    bytes: &[u8],
    verifiers: &[VerifierKey],
) -> Result<(Note, Vec<VerifiedSig>), NoteError> {
    let note = Note::parse(bytes)?;
    let mut seen: HashSet<(&str, [u8; 4])> = HashSet::new();
    let mut verified = Vec::new();
    for sig in &note.sigs {
        let mut matches = verifiers
            .iter()
            .filter(|v| v.name == sig.name && v.key_id == sig.key_id);
        let Some(v) = matches.next() else {
            continue;
        };
        if matches.any(|other| other != v) {
            return Err(NoteError::AmbiguousKey(v.label()));
        }
        if !seen.insert((sig.name.as_str(), sig.key_id)) {
            continue;
        }
        let timestamp = match v.alg {
            ALG_COSIGNATURE_V1 => Some(
                verify_cosignature(v, &note.text, sig)
                    .map_err(|_| NoteError::InvalidSignature(v.label()))?,
            ),
            _ => {
                if !v.verify_ed25519(note.text.as_bytes(), &sig.sig) {
                    return Err(NoteError::InvalidSignature(v.label()));
                }
                None
            }
        };
        verified.push(VerifiedSig {
            name: sig.name.clone(),
            key_id: sig.key_id,
            alg: v.alg,
            timestamp,
        });
    }
    if verified.is_empty() {
        return Err(NoteError::Unverified);
    }
    Ok((note, verified))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::note::test_vectors::*;

    #[test]
    fn go_sign_vector() {
        let s = NoteSigner::from_private_key_string(PETER_SKEY).unwrap();
        let want = format!("{TEXT}\n{PETER_SIG}");
        assert_eq!(sign_note(TEXT, &[&s]).unwrap(), want);
        let sig = s.sign(TEXT).unwrap();
        assert_eq!(sig.line(), PETER_SIG);

        // Replacing an existing signature by the same key.
        let mut n = Note {
            text: TEXT.to_string(),
            sigs: vec![NoteSignature {
                name: "PeterNeumann".into(),
                key_id: [0xc7, 0x4f, 0x20, 0xa3],
                sig: vec![1, 2, 3],
            }],
        };
        n.add_signature(sig);
        assert_eq!(n.format(), want);

        assert!(matches!(
            sign_note("abc", &[&s]),
            Err(NoteError::MalformedNote(_))
        ));
        assert!(matches!(
            sign_note("a\x01b\n", &[&s]),
            Err(NoteError::MalformedNote(_))
        ));
        assert!(sign_note(TEXT, &[]).is_err());
        assert!(NoteSigner::with_signer("bad name", ALG_ED25519, s.key.clone()).is_err());
        assert!(NoteSigner::with_signer("a+b", ALG_ED25519, s.key.clone()).is_err());
        assert!(NoteSigner::with_signer("", ALG_ED25519, s.key.clone()).is_err());
    }

    #[test]
    fn go_open_vectors() {
        let peter_sig = NoteSignature::parse_line(PETER_SIG.trim_end()).unwrap();
        let enoch_sig = NoteSignature::parse_line(ENOCH_SIG.trim_end()).unwrap();
        assert_eq!(enoch_sig.key_id, [0xaf, 0x0c, 0xfe, 0x78]);

        // One signature verified, one unknown.
        let (n, v) = open_note(&msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG]), &[peter()]).unwrap();
        assert_eq!(n.text, TEXT);
        assert_eq!(n.sigs, vec![peter_sig.clone(), enoch_sig]);
        assert_eq!(
            v,
            vec![VerifiedSig {
                name: "PeterNeumann".into(),
                key_id: [0xc7, 0x4f, 0x20, 0xa3],
                alg: ALG_ED25519,
                timestamp: None
            }]
        );

        // Both verified.
        let (_, v) = open_note(
            &msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG]),
            &[peter(), enoch()],
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].name, "EnochRoot");

        // Neither known.
        assert_eq!(
            open_note(&msg(&[TEXT, "\n", PETER_SIG, ENOCH_SIG]), &[]),
            Err(NoteError::Unverified)
        );

        // Ambiguous verifiers, used or not.
        let mut evil = enoch();
        evil.key = peter().key;
        assert!(matches!(
            open_note(
                &msg(&[TEXT, "\n", ENOCH_SIG]),
                &[enoch(), peter(), evil.clone()]
            ),
            Err(NoteError::AmbiguousKey(_))
        ));
        open_note(&msg(&[TEXT, "\n", PETER_SIG]), &[enoch(), peter(), evil]).unwrap();
        // Identical duplicates are the same key, not ambiguous.
        open_note(&msg(&[TEXT, "\n", ENOCH_SIG]), &[enoch(), enoch()]).unwrap();

        // Too many signatures.
        let many = PETER_SIG.repeat(101);
        assert!(matches!(
            open_note(&msg(&[TEXT, "\n", &many]), &[peter()]),
            Err(NoteError::MalformedNote(_))
        ));
        let hundred = PETER_SIG.repeat(100);
        let (n, v) = open_note(&msg(&[TEXT, "\n", &hundred]), &[peter()]).unwrap();
        assert_eq!((n.sigs.len(), v.len()), (100, 1));

        // Invalid signature from a known key.
        let bad_peter = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert_eq!(
            open_note(&msg(&[TEXT, "\n", &bad_peter]), &[peter()]),
            Err(NoteError::InvalidSignature("PeterNeumann+c74f20a3".into()))
        );

        // Duplicated verified and unverified signatures.
        let bad_enoch = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
        let (n, v) = open_note(
            &msg(&[
                TEXT, "\n", PETER_SIG, PETER_SIG, ENOCH_SIG, ENOCH_SIG, &bad_enoch,
            ]),
            &[peter()],
        )
        .unwrap();
        assert_eq!(n.sigs.len(), 5);
        assert_eq!(v.len(), 1);

        // Invalid encodings.
        for bad in [
            msg(&[TEXT]),
            msg(&[TEXT, "\n"]),
            msg(&[TEXT, "\n", PETER_SIG.trim_end()]),
            msg(&["\x01", TEXT, "\n", PETER_SIG]),
            [b"\xff".as_slice(), msg(&[TEXT, "\n", PETER_SIG]).as_slice()].concat(),
            msg(&[
                TEXT,
                "\n",
                "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
            ]),
            msg(&[TEXT, "\n", PETER_SIG, "Unexpected line.\n"]),
        ] {
            assert!(
                matches!(
                    open_note(&bad, &[peter()]),
                    Err(NoteError::MalformedNote(_))
                ),
                "{:?}",
                String::from_utf8_lossy(&bad)
            );
        }
    }

    #[test]
    fn note_parse_is_strict_and_round_trips() {
        let good = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let n = Note::parse(good.as_bytes()).unwrap();
        assert_eq!(n.format(), good);
        let p = &PETER_SIG[..PETER_SIG.len() - 1];
        for bad in [
            format!("{TEXT}\n{p}\r\n"),
            format!("{TEXT}\n{}", p.replace('—', "-")),
            format!("{TEXT}\n— PeterNeumann  {}\n", &p[19..]),
            format!("{TEXT}\n—  PeterNeumann {}\n", &p[19..]),
            format!("{TEXT}\n— PeterNeumann\n"),
            format!("{TEXT}\n— PeterNeumann \n"),
            format!("{TEXT}\n— Peter+Neumann {}\n", &p[19..]),
            format!("{TEXT}\n— \u{a0}Peter {}\n", &p[19..]),
            format!("{TEXT}\n— PeterNeumann AAAAAA==\n"),
            format!("{TEXT}\n— PeterNeumann {}\n", p[19..].trim_end_matches('=')),
            format!("{TEXT}\n{PETER_SIG}\n"),
            format!("{TEXT}\n\t{PETER_SIG}"),
            format!("{TEXT}\n{PETER_SIG} "),
            String::new(),
            "\n\n".to_string(),
        ] {
            assert!(Note::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn c2sp_signed_note_example() {
        // signed-note.md: the text contains an empty line; the signature block
        // starts after the last one.
        let example = "Ognuno sta solo sul cuor della terra\n\
                       trafitto da un raggio di sole:\n\
                       \n\
                       ed è subito sera.\n\
                       \n\
                       — quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
        let n = Note::parse(example.as_bytes()).unwrap();
        assert_eq!(
            n.text,
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
        );
        assert_eq!(n.sigs.len(), 1);
        assert_eq!(n.sigs[0].name, "quasimodo.example/salvatore");
        assert_eq!(n.sigs[0].key_id, [0x36, 0x7b, 0xa0, 0x4b]);
        assert_eq!(n.sigs[0].sig.len(), 64);
        assert_eq!(n.format(), example);
        // The spec publishes no key for it, so it cannot be verified.
        assert_eq!(
            open_note(example.as_bytes(), &[peter()]),
            Err(NoteError::Unverified)
        );
    }
}
