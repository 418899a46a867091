//! Ed25519 signers, wherever their private key lives.
//!
//! Every signature speclog makes (entries, checkpoints, cosignatures) is a
//! plain RFC 8032 Ed25519 signature over a message. [`Ed25519Signer`] is the
//! one interface those callers use, so the key may be held in this process
//! (a [`SigningKey`] read from a key file), in a PKCS#11 token (`CKM_EDDSA`)
//! or by ssh-agent: the signature bytes are the same whichever holds it, and
//! verifying them needs only the public key.

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use thiserror::Error;

/// A signature that could not be made (the device or agent failed after it was opened).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SignError {
    /// The backend (`pkcs11`, `ssh-agent`) refused or failed to sign.
    #[error("signing through {backend} failed: {reason}")]
    Failed {
        backend: &'static str,
        reason: String,
    },
    /// The backend returned bytes that are not a valid signature by its public key.
    #[error("{backend} returned a signature that does not verify under its public key")]
    BadSignature { backend: &'static str },
}

/// Something that makes Ed25519 signatures (RFC 8032, section 5.1.6) with one key.
///
/// Implementations are `Send + Sync` so a bulk append can sign on a thread
/// of its own; hardware backends serialise their calls internally.
pub trait Ed25519Signer: Send + Sync {
    /// The public key.
    fn verifying_key(&self) -> VerifyingKey;

    /// Signs `msg` (the whole message: Ed25519 hashes it itself).
    fn sign_message(&self, msg: &[u8]) -> Result<Signature, SignError>;

    /// The key itself when it is held in this process's memory (a key file),
    /// so hot paths can precompute its expanded secret; None for tokens and
    /// agents.
    fn in_memory(&self) -> Option<&SigningKey> {
        None
    }

    /// Where the private key lives, for people (`file`, `pkcs11`, `ssh-agent`).
    fn backend(&self) -> &'static str;
}

impl Ed25519Signer for SigningKey {
    fn verifying_key(&self) -> VerifyingKey {
        SigningKey::verifying_key(self)
    }

    fn sign_message(&self, msg: &[u8]) -> Result<Signature, SignError> {
        Ok(ed25519_dalek::Signer::sign(self, msg))
    }

    fn in_memory(&self) -> Option<&SigningKey> {
        Some(self)
    }

    fn backend(&self) -> &'static str {
        "file"
    }
}

/// Checks a signature an outside signer returned against its public key
/// (strictly, as verifiers will), so a faulty device cannot put a signature
/// that will not verify into the ledger.
pub fn checked(
    backend: &'static str,
    vk: &VerifyingKey,
    msg: &[u8],
    sig: &[u8],
) -> Result<Signature, SignError> {
    let sig = Signature::from_slice(sig).map_err(|_| SignError::BadSignature { backend })?;
    vk.verify_strict(msg, &sig)
        .map_err(|_| SignError::BadSignature { backend })?;
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_sign_like_dalek_and_checked_catches_bad_bytes() {
        let k = SigningKey::from_bytes(&[9; 32]);
        let s: &dyn Ed25519Signer = &k;
        let sig = s.sign_message(b"m").unwrap();
        assert_eq!(sig, ed25519_dalek::Signer::sign(&k, b"m"));
        assert!(checked("x", &k.verifying_key(), b"m", &sig.to_bytes()).is_ok());
        let mut bad = sig.to_bytes();
        bad[3] ^= 1;
        assert!(checked("x", &k.verifying_key(), b"m", &bad).is_err());
        assert!(checked("x", &k.verifying_key(), b"m", &bad[..10]).is_err());
        assert_eq!(s.backend(), "file");
        assert!(s.in_memory().is_some());
    }
}
