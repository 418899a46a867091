//! Signed notes, verifier keys, checkpoints and cosignatures.
//!
//! This module implements C2SP `signed-note` (text signed by one or more
//! Ed25519 keys), its verifier-key encoding (`<name>+<key id>+<key>`, as in
//! Go's `golang.org/x/mod/sumdb/note`), C2SP `tlog-checkpoint` (the note
//! text of a transparency log tree head) and C2SP `tlog-cosignature`
//! (timestamped Ed25519 witness cosignatures, signature type `0x04`).
//!
//! All parsing is strict and returns [`NoteError`] on malformed input; no
//! function panics on untrusted data. Signatures are verified with
//! [`VerifyingKey::verify_strict`], which, beyond RFC 8032, rejects
//! non-canonical signatures and small-order (weak) public keys and `R`
//! values; honest Go and Rust signers never produce those.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SECRET_KEY_LENGTH, Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::tlog::Hash;

/// Signature type of plain Ed25519 note signatures (signed-note, "Signature
/// types").
pub const ALG_ED25519: u8 = 0x01;

/// Signature type of timestamped Ed25519 witness cosignatures
/// (tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Most signature lines accepted in a note. The spec requires accepting at
/// least 16; like Go's `note.Open`, we reject more than 100.
pub const MAX_SIGNATURES: usize = 100;

/// Largest checkpoint text accepted by [`Checkpoint::parse`].
pub const MAX_CHECKPOINT_SIZE: usize = 1_000_000;

/// Header line of the message signed by a cosignature (tlog-cosignature,
/// "Ed25519 signed message").
const COSIGNATURE_HEADER: &str = "cosignature/v1\n";

/// Errors reported by the note, checkpoint and cosignature functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A signed note does not follow the signed-note format.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A verifier key string is malformed or its key id does not match.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// A private key string is malformed or its key id does not match.
    #[error("malformed signer key: {0}")]
    MalformedSignerKey(&'static str),
    /// A key name is empty or contains whitespace, `+` or control characters.
    #[error("invalid key name {0:?}")]
    InvalidName(String),
    /// A key uses a signature type this module does not implement.
    #[error("unsupported signature type {0:#04x}")]
    UnsupportedAlgorithm(u8),
    /// A key of the wrong signature type was used (for example a cosigner key
    /// to sign a plain note).
    #[error("wrong key type: {0}")]
    WrongKeyType(&'static str),
    /// A signature from a known key did not verify.
    #[error("invalid signature for key {0}")]
    InvalidSignature(String),
    /// No signature from a known key was found.
    #[error("note has no verifiable signatures")]
    Unverified,
    /// Two different known keys share a name and key id.
    #[error("ambiguous key {0}")]
    AmbiguousKey(String),
    /// A checkpoint does not follow the tlog-checkpoint format.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A checkpoint's origin is not the expected one.
    #[error("checkpoint origin {got:?}, want {want:?}")]
    OriginMismatch {
        /// Origin found in the checkpoint.
        got: String,
        /// Origin expected by the caller.
        want: String,
    },
    /// A cosignature does not follow the tlog-cosignature format.
    #[error("malformed cosignature: {0}")]
    MalformedCosignature(&'static str),
    /// The system random number generator failed.
    #[error("random number generator failed: {0}")]
    Rng(String),
}

/// Reports whether `name` is a valid key name: non-empty, without Unicode
/// whitespace, `+` (signed-note, "Format") or control characters.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidName(name.to_string()))
    }
}

/// Returns the key id `SHA-256(name || 0x0A || alg || public)[:4]`
/// (signed-note, "Signatures").
pub fn key_id(name: &str, alg: u8, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let sum: [u8; 32] = h.finalize().into();
    [sum[0], sum[1], sum[2], sum[3]]
}

/// Returns the Ed25519 (`0x01`) verifier key string
/// `<name>+<hex key id>+<base64(0x01 || public key)>` for `vk`, as Go's
/// `note.NewEd25519VerifierKey` does. The name is not checked; use
/// [`VerifierKey::ed25519`] for a checked key.
pub fn verifier_key_string(name: &str, vk: &VerifyingKey) -> String {
    format_key_string(name, ALG_ED25519, vk.as_bytes())
}

fn format_key_string(name: &str, alg: u8, key: &[u8]) -> String {
    let mut blob = Vec::with_capacity(1 + key.len());
    blob.push(alg);
    blob.extend_from_slice(key);
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, alg, key)),
        STANDARD.encode(blob)
    )
}

/// A public key that verifies note signatures: a name, a signature type
/// (`0x01` Ed25519 or `0x04` cosignature/v1) and an Ed25519 public key.
///
/// Its text form is `<name>+<key id as 8 hex digits>+<base64(type || public
/// key)>`, for example
/// `PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: [u8; 4],
    alg: u8,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Returns the verifier key of type `alg` for `key` under `name`. It
    /// fails for invalid names and types other than `0x01` and `0x04`.
    pub fn new(name: &str, alg: u8, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(NoteError::UnsupportedAlgorithm(alg));
        }
        Ok(Self {
            name: name.to_string(),
            key_id: key_id(name, alg, key.as_bytes()),
            alg,
            key,
        })
    }

    /// Returns the Ed25519 (`0x01`) verifier key for `key` under `name`.
    pub fn ed25519(name: &str, key: &VerifyingKey) -> Result<Self, NoteError> {
        Self::new(name, ALG_ED25519, *key)
    }

    /// Returns the cosignature/v1 (`0x04`) verifier key for `key` under `name`.
    pub fn cosignature(name: &str, key: &VerifyingKey) -> Result<Self, NoteError> {
        Self::new(name, ALG_COSIGNATURE_V1, *key)
    }

    /// Parses a verifier key string.
    ///
    /// It fails unless the name is valid, the key id is exactly 8 hex digits
    /// equal to the computed key id, the key decodes from canonical padded
    /// base64 to a type byte of `0x01` or `0x04` followed by a valid 32-byte
    /// Ed25519 public key.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let bad = NoteError::MalformedVerifierKey;
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("want <name>+<key id>+<key>"));
        };
        let (alg, public) = parse_key_blob(name, id_hex, key64).map_err(bad)?;
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("invalid Ed25519 public key"))?;
        Self::new(name, alg, key)
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// Returns the signature type (`0x01` or `0x04`).
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// Returns the 32-byte Ed25519 public key.
    pub fn public(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Returns the Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Reports whether `sig` (without the key id) is a valid Ed25519
    /// signature of `msg` by this key (strict verification).
    fn verify_ed25519(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(&bytes))
            .is_ok()
    }

    /// Returns `name+keyid` for error messages.
    fn label(&self) -> String {
        format!("{}+{}", self.name, hex::encode(self.key_id))
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_key_string(
            &self.name,
            self.alg,
            self.key.as_bytes(),
        ))
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, NoteError> {
        Self::parse(s)
    }
}

/// Decodes `<hex key id>` and `<base64(alg || 32 bytes)>` and checks the key
/// id against `name`. Returns the type and the 32 key bytes.
fn parse_key_blob(name: &str, id_hex: &str, key64: &str) -> Result<(u8, [u8; 32]), &'static str> {
    if !is_valid_name(name) {
        return Err("invalid name");
    }
    if id_hex.len() != 8 {
        return Err("key id is not 8 hex digits");
    }
    let id: [u8; 4] = hex::decode(id_hex)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or("key id is not 8 hex digits")?;
    let blob = STANDARD.decode(key64).map_err(|_| "key is not base64")?;
    let (alg, key) = blob.split_first().ok_or("empty key")?;
    if key_id(name, *alg, key) != id {
        return Err("key id does not match key");
    }
    if *alg != ALG_ED25519 && *alg != ALG_COSIGNATURE_V1 {
        return Err("unsupported signature type");
    }
    let key: [u8; 32] = key.try_into().map_err(|_| "key is not 32 bytes")?;
    Ok((*alg, key))
}

/// A private key that signs notes (`0x01`) or cosigns checkpoints (`0x04`).
///
/// The secret is an Ed25519 seed, wiped from memory when the signer is
/// dropped. `Debug` output does not include it.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    alg: u8,
    key_id: [u8; 4],
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("alg", &self.alg)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    fn with_alg(name: &str, alg: u8, key: SigningKey) -> Result<Self, NoteError> {
        let vk = VerifierKey::new(name, alg, key.verifying_key())?;
        Ok(Self {
            name: vk.name,
            alg,
            key_id: vk.key_id,
            key,
        })
    }

    /// Returns an Ed25519 (`0x01`) note signer for `key` under `name`.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        Self::with_alg(name, ALG_ED25519, key)
    }

    /// Returns a cosignature/v1 (`0x04`) cosigner for `key` under `name`.
    pub fn new_cosigner(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        Self::with_alg(name, ALG_COSIGNATURE_V1, key)
    }

    /// Generates a new Ed25519 note signer from the system random number
    /// generator.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        Self::new(name, random_signing_key()?)
    }

    /// Generates a new cosigner from the system random number generator.
    pub fn generate_cosigner(name: &str) -> Result<Self, NoteError> {
        Self::new_cosigner(name, random_signing_key()?)
    }

    /// Parses a private key string
    /// `PRIVATE+KEY+<name>+<hex key id>+<base64(type || 32-byte seed)>`, the
    /// format of Go's `note.NewSigner` (which only defines type `0x01`; type
    /// `0x04` is accepted here for cosigners). The key id must match the
    /// public key derived from the seed.
    pub fn from_private_key_string(s: &str) -> Result<Self, NoteError> {
        let bad = NoteError::MalformedSignerKey;
        let mut parts = s.splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY"), Some(name), Some(id_hex), Some(key64)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad("want PRIVATE+KEY+<name>+<key id>+<key>"));
        };
        if !is_valid_name(name) {
            return Err(bad("invalid name"));
        }
        if id_hex.len() != 8 {
            return Err(bad("key id is not 8 hex digits"));
        }
        let id: [u8; 4] = hex::decode(id_hex)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(bad("key id is not 8 hex digits"))?;
        let blob = STANDARD
            .decode(key64)
            .map_err(|_| bad("key is not base64"))?;
        let (alg, seed) = blob.split_first().ok_or(bad("empty key"))?;
        if *alg != ALG_ED25519 && *alg != ALG_COSIGNATURE_V1 {
            return Err(bad("unsupported signature type"));
        }
        let seed: &[u8; SECRET_KEY_LENGTH] =
            seed.try_into().map_err(|_| bad("seed is not 32 bytes"))?;
        let signer = Self::with_alg(name, *alg, SigningKey::from_bytes(seed))?;
        if signer.key_id != id {
            return Err(bad("key id does not match key"));
        }
        Ok(signer)
    }

    /// Returns the private key string (see
    /// [`NoteSigner::from_private_key_string`]). It contains the secret seed.
    pub fn private_key_string(&self) -> String {
        let mut blob = Vec::with_capacity(1 + SECRET_KEY_LENGTH);
        blob.push(self.alg);
        blob.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(blob)
        )
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the signature type (`0x01` or `0x04`).
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// Returns the 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// Returns the matching verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            alg: self.alg,
            key: self.key.verifying_key(),
        }
    }

    /// Signs note text with an Ed25519 (`0x01`) signer and returns the
    /// signature, ready to be appended to a [`Note`].
    ///
    /// It fails if this is a cosigner (use [`cosign`]) or if `text` is not
    /// valid note text (see [`sign_note`]).
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteError> {
        if self.alg != ALG_ED25519 {
            return Err(NoteError::WrongKeyType(
                "cosigners sign checkpoints with cosign",
            ));
        }
        check_text(text)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            sig: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }
}

fn random_signing_key() -> Result<SigningKey, NoteError> {
    let mut seed = [0u8; SECRET_KEY_LENGTH];
    getrandom::fill(&mut seed).map_err(|e| NoteError::Rng(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

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

/// Checks that `text` is valid note text: non-empty, ending in a newline,
/// and free of control characters other than newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::MalformedNote("text does not end in newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::MalformedNote("control character"));
    }
    Ok(())
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
fn parse_canonical_u64(s: &str) -> Option<u64> {
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

/// Returns the message signed by a cosignature/v1: `cosignature/v1\n`,
/// `time <timestamp>\n`, then the checkpoint text (tlog-cosignature,
/// "Ed25519 signed message").
pub fn cosignature_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}")
}

/// Cosigns a checkpoint with a cosigner (`0x04`) key at `timestamp` (seconds
/// since the epoch) and returns the note signature.
///
/// The signature bytes after the key id are the `timestamped_signature`
/// structure of tlog-cosignature: the timestamp as a big-endian `u64`
/// followed by the 64-byte Ed25519 signature of [`cosignature_message`]. It
/// fails if the signer is not a cosigner, if `timestamp` exceeds 2^63 - 1 or
/// if `checkpoint_text` is not a valid checkpoint.
pub fn cosign(
    signer: &NoteSigner,
    checkpoint_text: &str,
    timestamp: u64,
) -> Result<NoteSignature, NoteError> {
    if signer.alg != ALG_COSIGNATURE_V1 {
        return Err(NoteError::WrongKeyType("cosigning needs a cosigner key"));
    }
    if timestamp > i64::MAX as u64 {
        return Err(NoteError::MalformedCosignature("timestamp above 2^63-1"));
    }
    Checkpoint::parse(checkpoint_text)?;
    let msg = cosignature_message(checkpoint_text, timestamp);
    let mut sig = Vec::with_capacity(8 + 64);
    sig.extend_from_slice(&timestamp.to_be_bytes());
    sig.extend_from_slice(&signer.key.sign(msg.as_bytes()).to_bytes());
    Ok(NoteSignature {
        name: signer.name.clone(),
        key_id: signer.key_id,
        sig,
    })
}

/// Returns the timestamp of a cosignature without verifying it. It fails
/// unless the signature bytes are exactly 72 bytes with a timestamp of at
/// most 2^63 - 1.
pub fn cosignature_timestamp(sig: &NoteSignature) -> Result<u64, NoteError> {
    let bad = NoteError::MalformedCosignature;
    let (ts, rest) = sig.sig.split_first_chunk::<8>().ok_or(bad("too short"))?;
    if rest.len() != 64 {
        return Err(bad("signature is not 64 bytes"));
    }
    let ts = u64::from_be_bytes(*ts);
    if ts > i64::MAX as u64 {
        return Err(bad("timestamp above 2^63-1"));
    }
    Ok(ts)
}

/// Verifies a cosignature/v1 by `vk` on `checkpoint_text` and returns its
/// timestamp.
///
/// It fails with [`NoteError::WrongKeyType`] unless `vk` is a `0x04` key,
/// [`NoteError::InvalidSignature`] if the signature's name or key id is not
/// `vk`'s or the Ed25519 signature does not verify (strictly),
/// [`NoteError::MalformedCosignature`] if the signature bytes are malformed,
/// and [`NoteError::MalformedCheckpoint`] if the text is not a checkpoint.
pub fn verify_cosignature(
    vk: &VerifierKey,
    checkpoint_text: &str,
    sig: &NoteSignature,
) -> Result<u64, NoteError> {
    if vk.alg != ALG_COSIGNATURE_V1 {
        return Err(NoteError::WrongKeyType("not a cosigner key"));
    }
    if sig.name != vk.name || sig.key_id != vk.key_id {
        return Err(NoteError::InvalidSignature(vk.label()));
    }
    let ts = cosignature_timestamp(sig)?;
    Checkpoint::parse(checkpoint_text)?;
    let msg = cosignature_message(checkpoint_text, ts);
    match sig.sig.get(8..) {
        Some(ed) if vk.verify_ed25519(msg.as_bytes(), ed) => Ok(ts),
        _ => Err(NoteError::InvalidSignature(vk.label())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors from Go's golang.org/x/mod/sumdb/note (note.go, note_test.go).
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> VerifierKey {
        VerifierKey::parse(PETER_VKEY).unwrap()
    }

    fn enoch() -> VerifierKey {
        VerifierKey::parse(ENOCH_VKEY).unwrap()
    }

    fn msg(parts: &[&str]) -> Vec<u8> {
        parts.concat().into_bytes()
    }

    #[test]
    fn go_verifier_key_vector() {
        let v = peter();
        assert_eq!(v.name(), "PeterNeumann");
        assert_eq!(v.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
        assert_eq!(v.alg(), ALG_ED25519);
        assert_eq!(v.to_string(), PETER_VKEY);
        assert_eq!(
            verifier_key_string("PeterNeumann", v.verifying_key()),
            PETER_VKEY
        );
        assert_eq!(PETER_VKEY.parse::<VerifierKey>().unwrap(), v);

        // Go's TestNewVerifier: every proper substring and every single-byte
        // increment must be rejected.
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let s = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(VerifierKey::parse(s).is_err(), "{s}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let s = String::from_utf8(m).unwrap();
            assert!(VerifierKey::parse(&s).is_err(), "{s}");
        }
        // Wrong length key and unknown algorithm, both with adjusted key ids.
        assert!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        assert!(
            VerifierKey::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )
            .is_err()
        );
    }

    #[test]
    fn go_signer_key_vector() {
        let s = NoteSigner::from_private_key_string(PETER_SKEY).unwrap();
        assert_eq!(s.name(), "PeterNeumann");
        assert_eq!(s.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
        assert_eq!(s.verifier_key().to_string(), PETER_VKEY);
        assert_eq!(s.private_key_string(), PETER_SKEY);
        assert!(!format!("{s:?}").contains("AYEK"));

        // Go's TestNewSigner manglings.
        let b = PETER_SKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let m = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(NoteSigner::from_private_key_string(m).is_err(), "{m}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let m = String::from_utf8(m).unwrap();
            assert!(NoteSigner::from_private_key_string(&m).is_err(), "{m}");
        }
    }

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
        assert!(NoteSigner::new("bad name", s.key.clone()).is_err());
        assert!(NoteSigner::new("a+b", s.key.clone()).is_err());
        assert!(NoteSigner::new("", s.key.clone()).is_err());
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

    #[test]
    fn cosignature_spec_example() {
        // tlog-cosignature.md: a log signature and a witness cosignature. The
        // spec publishes neither public key, so only the structure is checked.
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
                    — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
                    — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let n = Note::parse(note.as_bytes()).unwrap();
        let w = &n.sigs[1];
        assert_eq!(w.name, "witness.example.com/w1");
        assert_eq!(w.key_id, [0x8d, 0x66, 0xcf, 0x3f]);
        assert_eq!(cosignature_timestamp(w).unwrap(), 1679315147);
        // The spec's example signed message.
        assert_eq!(
            cosignature_message(&n.text, 1679315147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        assert!(cosignature_timestamp(&n.sigs[0]).is_err());
    }

    #[test]
    fn cosign_fixed_vector_and_verify() {
        // A fixed-seed vector (Ed25519 is deterministic), also cross-checked
        // against an independent Go implementation in tests/interop_go.rs.
        let key = SigningKey::from_bytes(&[7; 32]);
        let w = NoteSigner::new_cosigner("witness.example/w1", key.clone()).unwrap();
        let vk = w.verifier_key();
        assert_eq!(vk.alg(), ALG_COSIGNATURE_V1);
        assert_eq!(
            vk.key_id(),
            key_id("witness.example/w1", 0x04, key.verifying_key().as_bytes())
        );
        assert_ne!(
            vk.key_id(),
            VerifierKey::ed25519("witness.example/w1", &key.verifying_key())
                .unwrap()
                .key_id()
        );
        let cp = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let sig = cosign(&w, cp, 1_700_000_000).unwrap();
        assert_eq!(sig.sig.len(), 72);
        assert_eq!(&sig.sig[..8], &1_700_000_000u64.to_be_bytes());
        assert_eq!(verify_cosignature(&vk, cp, &sig), Ok(1_700_000_000));
        assert_eq!(VerifierKey::parse(&vk.to_string()).unwrap(), vk);

        // Tampering with the timestamp, signature or text is detected.
        let mut t = sig.clone();
        t.sig[7] ^= 1;
        assert!(verify_cosignature(&vk, cp, &t).is_err());
        let mut t = sig.clone();
        t.sig[20] ^= 1;
        assert!(verify_cosignature(&vk, cp, &t).is_err());
        assert!(verify_cosignature(&vk, &cp.replace("\n3\n", "\n4\n"), &sig).is_err());
        let mut t = sig.clone();
        t.sig.push(0);
        assert!(verify_cosignature(&vk, cp, &t).is_err());

        // Wrong key types and inputs.
        let log = NoteSigner::new("example.com/log", key).unwrap();
        assert!(cosign(&log, cp, 1).is_err());
        assert!(w.sign(cp).is_err());
        assert!(sign_note(cp, &[&w]).is_err());
        assert!(cosign(&w, cp, 1 << 63).is_err());
        assert!(cosign(&w, "not a checkpoint\n", 1).is_err());
        assert!(verify_cosignature(&log.verifier_key(), cp, &sig).is_err());

        // Through open_note: log signature plus cosignature.
        let mut n = Note::parse(sign_note(cp, &[&log]).unwrap().as_bytes()).unwrap();
        n.add_signature(sig.clone());
        let (_, v) = open_note(n.format().as_bytes(), &[log.verifier_key(), vk.clone()]).unwrap();
        assert_eq!(v[1].timestamp, Some(1_700_000_000));
        assert_eq!(v[1].alg, ALG_COSIGNATURE_V1);
        let (_, v) = open_note(n.format().as_bytes(), std::slice::from_ref(&vk)).unwrap();
        assert_eq!(v.len(), 1);
        n.sigs[1].sig[30] ^= 1;
        assert!(matches!(
            open_note(n.format().as_bytes(), &[vk]),
            Err(NoteError::InvalidSignature(_))
        ));
    }

    #[test]
    fn generated_keys_round_trip() {
        let a = NoteSigner::generate("example.com/a").unwrap();
        let b = NoteSigner::generate("example.com/a").unwrap();
        assert_ne!(a.key_id(), b.key_id());
        let again = NoteSigner::from_private_key_string(&a.private_key_string()).unwrap();
        assert_eq!(again.verifier_key(), a.verifier_key());
        let c = NoteSigner::generate_cosigner("w").unwrap();
        let again = NoteSigner::from_private_key_string(&c.private_key_string()).unwrap();
        assert_eq!(again.alg(), ALG_COSIGNATURE_V1);
        assert_eq!(again.verifier_key(), c.verifier_key());
        let text = "hello\n";
        let signed = sign_note(text, &[&a, &b]).unwrap();
        let (_, v) = open_note(signed.as_bytes(), &[b.verifier_key()]).unwrap();
        assert_eq!(v[0].key_id, b.key_id());
    }

    #[test]
    fn names() {
        for good in ["a", "example.com/log42", "oid/1.3.6.1", "é"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{85}b",
            "a\x01b",
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }
}
