//! Verifier keys and note signers (C2SP signed-note, "Verifier keys" and
//! "Signatures"; the `<name>+<key id>+<key>` encoding of Go's
//! `golang.org/x/mod/sumdb/note`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SECRET_KEY_LENGTH, Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::*;
use crate::sign::Ed25519Signer;

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

pub(super) fn format_key_string(name: &str, alg: u8, key: &[u8]) -> String {
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
    pub(super) name: String,
    pub(super) key_id: [u8; 4],
    pub(super) alg: u8,
    pub(super) key: VerifyingKey,
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
    pub(super) fn verify_ed25519(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(&bytes))
            .is_ok()
    }

    /// Returns `name+keyid` for error messages.
    pub(super) fn label(&self) -> String {
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
pub(super) fn parse_key_blob(
    name: &str,
    id_hex: &str,
    key64: &str,
) -> Result<(u8, [u8; 32]), &'static str> {
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
    pub(super) name: String,
    pub(super) alg: u8,
    pub(super) key_id: [u8; 4],
    /// Any Ed25519 signer: a seed in memory, a PKCS#11 token, ssh-agent.
    pub(super) key: Arc<dyn Ed25519Signer>,
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
    pub(super) fn with_alg(name: &str, alg: u8, key: SigningKey) -> Result<Self, NoteError> {
        Self::with_signer(name, alg, Arc::new(key))
    }

    /// A signer of type `alg` (`0x01` or `0x04`) whose key may live outside
    /// this process (see [`crate::sign`]).
    pub fn with_signer(
        name: &str,
        alg: u8,
        key: Arc<dyn Ed25519Signer>,
    ) -> Result<Self, NoteError> {
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
    /// [`NoteSigner::from_private_key_string`]). It contains the secret seed;
    /// None when the key is held outside this process (a token, an agent).
    pub fn private_key_string(&self) -> Option<String> {
        let mut blob = Vec::with_capacity(1 + SECRET_KEY_LENGTH);
        blob.push(self.alg);
        blob.extend_from_slice(self.key.in_memory()?.as_bytes());
        Some(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(blob)
        ))
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
            sig: self.key.sign_message(text.as_bytes())?.to_bytes().to_vec(),
        })
    }
}

pub(super) fn random_signing_key() -> Result<SigningKey, NoteError> {
    let mut seed = [0u8; SECRET_KEY_LENGTH];
    getrandom::fill(&mut seed).map_err(|e| NoteError::Rng(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::note::test_vectors::*;

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
        assert_eq!(s.private_key_string().as_deref(), Some(PETER_SKEY));
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
    fn generated_keys_round_trip() {
        let a = NoteSigner::generate("example.com/a").unwrap();
        let b = NoteSigner::generate("example.com/a").unwrap();
        assert_ne!(a.key_id(), b.key_id());
        let again = NoteSigner::from_private_key_string(&a.private_key_string().unwrap()).unwrap();
        assert_eq!(again.verifier_key(), a.verifier_key());
        let c = NoteSigner::generate_cosigner("w").unwrap();
        let again = NoteSigner::from_private_key_string(&c.private_key_string().unwrap()).unwrap();
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
