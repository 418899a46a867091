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

//!
//! One file per format: [`key`] (verifier keys and signers), [`signed`]
//! (signed notes), [`checkpoint`] (tlog-checkpoint) and [`cosignature`]
//! (tlog-cosignature). Everything is re-exported here, so `crate::note::X`
//! names every item.

pub mod checkpoint;
pub mod cosignature;
pub mod key;
pub mod signed;

pub use checkpoint::*;
pub use cosignature::*;
pub use key::*;
pub use signed::*;

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
    /// The signer (a token or an agent) failed to sign.
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
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

pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidName(name.to_string()))
    }
}

/// Checks that `text` is valid note text: non-empty, ending in a newline,
/// and free of control characters other than newline.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::MalformedNote("text does not end in newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::MalformedNote("control character"));
    }
    Ok(())
}

/// Go's test vectors (golang.org/x/mod/sumdb/note), shared by the format's tests.
#[cfg(test)]
pub(crate) mod test_vectors {
    use super::*;

    // Test vectors from Go's golang.org/x/mod/sumdb/note (note.go, note_test.go).
    pub(crate) const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    pub(crate) const PETER_VKEY: &str =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    pub(crate) const ENOCH_VKEY: &str =
        "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    pub(crate) const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    pub(crate) const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    pub(crate) const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    pub(crate) fn peter() -> VerifierKey {
        VerifierKey::parse(PETER_VKEY).unwrap()
    }

    pub(crate) fn enoch() -> VerifierKey {
        VerifierKey::parse(ENOCH_VKEY).unwrap()
    }

    pub(crate) fn msg(parts: &[&str]) -> Vec<u8> {
        parts.concat().into_bytes()
    }
}
