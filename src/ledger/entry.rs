//! The ledger entry: its deterministic binary encoding and its Ed25519 signature.
//!
//! An encoded entry is exactly the byte string that becomes a leaf of the
//! transparency log (RFC 9162 section 2.1.1: leaf hash = SHA-256(0x00 || entry)),
//! so the entry hash, the chain link and the Merkle leaf are one and the same
//! value. The layout, all integers big-endian:
//!
//! ```text
//! u8      version          = 0x01
//! u64     seq              0-based position in the log
//! u8+n    time             RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ" (20 bytes)
//! u8+n    kind             [a-z0-9.-], e.g. "spec.release"
//! [32]    prev             leaf hash of entry seq-1 (32 zero bytes for seq 0)
//! u8+n    signer           key name, [A-Za-z0-9._-]
//! [32]    signer_key       Ed25519 public key of the signer
//! u32+n   payload          UTF-8 JSON object, kind-specific
//! [64]    signature        Ed25519 over "speclog/entry/v1\n" || all bytes above
//! ```
//!
//! The encoding is produced once, signed, and stored; decoding never
//! re-serialises, so the signature is always checked over the stored bytes.

use thiserror::Error;

pub use crate::base::{FieldError, check_kind, check_name, check_time, sha256};
use crate::tlog::{Hash, leaf_hash};

/// The only entry format version this code writes or reads.
pub const ENTRY_VERSION: u8 = 1;
/// Domain separation prefix of the signed message.
pub const SIGNATURE_CONTEXT: &[u8] = b"speclog/entry/v1\n";
/// Largest encoded entry: the C2SP tlog-tiles entry bundle length prefix is a uint16.
pub const MAX_ENTRY_SIZE: usize = 65_535;
/// Fixed overhead of an encoding besides the variable strings and payload.
const FIXED: usize = 1 + 8 + 1 + 1 + 32 + 1 + 32 + 4 + 64;

/// Errors from encoding, decoding or checking one entry.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EntryError {
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    #[error("entry is truncated")]
    Truncated,
    #[error("entry has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("unsupported entry version {0}")]
    Version(u8),
    #[error("entry is {0} bytes, over the 65535-byte limit")]
    TooLarge(usize),
    /// A time, kind or signer name not in the one form speclog writes.
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("payload is not a JSON object: {0}")]
    Payload(String),
    #[error("signer public key is not a valid Ed25519 point")]
    PublicKey,
    #[error("signature does not verify")]
    Signature,
}

/// One ledger entry, decoded. `payload` holds the JSON bytes exactly as signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub prev: Hash,
    pub signer: String,
    pub signer_key: [u8; 32],
    pub payload: Vec<u8>,
    pub signature: [u8; 64],
}

/// An entry before signing: everything except the signature.
#[derive(Clone, Debug)]
pub struct UnsignedEntry<'a> {
    pub seq: u64,
    pub time: &'a str,
    pub kind: &'a str,
    pub prev: Hash,
    pub signer: &'a str,
    pub signer_key: [u8; 32],
    pub payload: &'a [u8],
}

/// Checks that the payload is one JSON object, accepting exactly what
/// `serde_json::Value` accepts (numbers in range, valid escapes and UTF-8, no
/// trailing bytes) but without building the value.
pub fn check_payload(p: &[u8]) -> Result<(), EntryError> {
    match serde_json::from_slice::<Top>(p) {
        Ok(Top::Object) => Ok(()),
        Ok(Top::Other) => Err(EntryError::Payload("not an object".into())),
        Err(e) => Err(EntryError::Payload(e.to_string())),
    }
}

/// Any JSON value, checked and dropped as it is read.
struct JsonAny;

impl<'de> serde::Deserialize<'de> for Top {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

/// What the top-level value was.
enum Top {
    Object,
    Other,
}

/// Visits any JSON value the way `serde_json::Value` does, keeping nothing.
struct AnyVisitor;

impl<'de> serde::de::Visitor<'de> for AnyVisitor {
    type Value = Top;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_none<E>(self) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_unit<E>(self) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Top, A::Error> {
        while s.next_element::<JsonAny>()?.is_some() {}
        Ok(Top::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Top, A::Error> {
        while m.next_key::<JsonAny>()?.is_some() {
            m.next_value::<JsonAny>()?;
        }
        Ok(Top::Object)
    }
}

impl<'de> serde::Deserialize<'de> for JsonAny {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor).map(|_| JsonAny)
    }
}

/// A signer prepared for signing many entries. A key held in memory has its
/// expanded secret (the SHA-512 of the seed that `SigningKey::sign`
/// recomputes for every signature) derived once; a key held elsewhere (a
/// PKCS#11 token, ssh-agent) is asked for each signature over the whole
/// message. Signatures are the same bytes `SigningKey::sign` makes.
pub struct EntrySigner<'a> {
    how: HowSigned<'a>,
    vk: ed25519_dalek::VerifyingKey,
}

enum HowSigned<'a> {
    Expanded(ed25519_dalek::hazmat::ExpandedSecretKey),
    External(&'a dyn crate::sign::Ed25519Signer),
}

impl<'a> EntrySigner<'a> {
    pub fn new(key: &'a dyn crate::sign::Ed25519Signer) -> EntrySigner<'a> {
        let how = match key.in_memory() {
            Some(k) => {
                HowSigned::Expanded(ed25519_dalek::hazmat::ExpandedSecretKey::from(k.as_bytes()))
            }
            None => HowSigned::External(key),
        };
        EntrySigner {
            how,
            vk: key.verifying_key(),
        }
    }

    /// The public key, as entries carry it.
    pub fn public(&self) -> [u8; 32] {
        self.vk.to_bytes()
    }

    /// Signs `SIGNATURE_CONTEXT || tbs` (without copying them together when
    /// the key is in memory).
    fn sign_tbs(&self, tbs: &[u8]) -> Result<[u8; 64], EntryError> {
        match &self.how {
            HowSigned::Expanded(esk) => {
                Ok(ed25519_dalek::hazmat::raw_sign_byupdate::<sha2::Sha512, _>(
                    esk,
                    |h| {
                        sha2::Digest::update(h, SIGNATURE_CONTEXT);
                        sha2::Digest::update(h, tbs);
                        Ok(())
                    },
                    &self.vk,
                )
                .expect("hashing cannot fail")
                .to_bytes())
            }
            HowSigned::External(k) => Ok(k.sign_message(&signed_message(tbs))?.to_bytes()),
        }
    }
}

impl UnsignedEntry<'_> {
    /// Validates the fields and returns the to-be-signed bytes (the encoding without the signature).
    pub fn tbs(&self) -> Result<Vec<u8>, EntryError> {
        check_payload(self.payload)?;
        self.tbs_unchecked_payload()
    }

    /// Like [`UnsignedEntry::tbs`], but leaves the check that the payload is one
    /// JSON object to the caller ([`check_payload`]).
    fn tbs_unchecked_payload(&self) -> Result<Vec<u8>, EntryError> {
        check_time(self.time)?;
        check_kind(self.kind)?;
        check_name(self.signer)?;
        let total =
            FIXED + self.time.len() + self.kind.len() + self.signer.len() + self.payload.len();
        if total > MAX_ENTRY_SIZE {
            return Err(EntryError::TooLarge(total));
        }
        let mut b = Vec::with_capacity(total);
        b.push(ENTRY_VERSION);
        b.extend_from_slice(&self.seq.to_be_bytes());
        put_short(&mut b, self.time.as_bytes());
        put_short(&mut b, self.kind.as_bytes());
        b.extend_from_slice(&self.prev);
        put_short(&mut b, self.signer.as_bytes());
        b.extend_from_slice(&self.signer_key);
        b.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        b.extend_from_slice(self.payload);
        Ok(b)
    }

    /// Encodes and signs the entry with `key`, whose public half must be `signer_key`.
    /// Returns the complete encoded entry.
    pub fn sign(&self, key: &dyn crate::sign::Ed25519Signer) -> Result<Vec<u8>, EntryError> {
        if key.verifying_key().to_bytes() != self.signer_key {
            return Err(EntryError::PublicKey);
        }
        let mut b = self.tbs()?;
        let sig = key.sign_message(&signed_message(&b))?;
        b.extend_from_slice(&sig.to_bytes());
        Ok(b)
    }

    /// Encodes and signs the entry with a prepared signer, checking every field
    /// except the payload's JSON: the caller must check it with
    /// [`check_payload`] before the entry is stored (bulk appends do that on
    /// another thread, off the sequential signing chain).
    pub fn sign_prepared(&self, key: &EntrySigner) -> Result<Vec<u8>, EntryError> {
        if key.public() != self.signer_key {
            return Err(EntryError::PublicKey);
        }
        let mut b = self.tbs_unchecked_payload()?;
        let sig = key.sign_tbs(&b)?;
        b.extend_from_slice(&sig);
        Ok(b)
    }
}

fn put_short(b: &mut Vec<u8>, s: &[u8]) {
    debug_assert!(s.len() <= 255);
    b.push(s.len() as u8);
    b.extend_from_slice(s);
}

/// The message an entry signature covers: the context string and the to-be-signed bytes.
pub fn signed_message(tbs: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + tbs.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(tbs);
    m
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EntryError> {
        if self.b.len() < n {
            return Err(EntryError::Truncated);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.take(1)?[0])
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn short_str(&mut self) -> Result<String, EntryError> {
        let n = self.u8()? as usize;
        let s = self.take(n)?;
        // Validated by the field checks; invalid UTF-8 maps to an invalid value.
        Ok(String::from_utf8_lossy(s).into_owned())
    }
}

impl Entry {
    /// Decodes an entry from its bytes, checking the structure and every field's form.
    /// It does not check the signature; see [`Entry::verify_signature`].
    pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
        let e = Entry::decode_fields(bytes)?;
        check_payload(&e.payload)?;
        Ok(e)
    }

    /// Like [`Entry::decode`] but leaves the payload's JSON unchecked, for a
    /// caller that parses it anyway; [`Entry::check_payload`] is the check.
    pub fn decode_fields(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let mut r = Reader { b: bytes };
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(EntryError::Version(version));
        }
        let seq = u64::from_be_bytes(r.arr()?);
        let time = r.short_str()?;
        check_time(&time)?;
        let kind = r.short_str()?;
        check_kind(&kind)?;
        let prev = r.arr()?;
        let signer = r.short_str()?;
        check_name(&signer)?;
        let signer_key = r.arr()?;
        let plen = u32::from_be_bytes(r.arr()?) as usize;
        let payload = r.take(plen)?.to_vec();
        let signature = r.arr()?;
        if !r.b.is_empty() {
            return Err(EntryError::TrailingBytes(r.b.len()));
        }
        Ok(Entry {
            seq,
            time,
            kind,
            prev,
            signer,
            signer_key,
            payload,
            signature,
        })
    }

    /// Checks that the payload is a JSON object (what [`Entry::decode`] checks
    /// beyond [`Entry::decode_fields`]).
    pub fn check_payload(&self) -> Result<(), EntryError> {
        check_payload(&self.payload)
    }

    /// Reads only the sequence number and the chain link of an encoded entry,
    /// checking nothing else (for the store's re-check of what it is given).
    pub fn seq_and_prev(bytes: &[u8]) -> Result<(u64, Hash), EntryError> {
        let mut r = Reader { b: bytes };
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(EntryError::Version(version));
        }
        let seq = u64::from_be_bytes(r.arr()?);
        for _ in 0..2 {
            let n = r.u8()? as usize;
            r.take(n)?;
        }
        Ok((seq, r.arr()?))
    }

    /// Re-encodes the entry. For a decoded entry this returns the original bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.unsigned().tbs().unwrap_or_default();
        b.extend_from_slice(&self.signature);
        b
    }

    fn unsigned(&self) -> UnsignedEntry<'_> {
        UnsignedEntry {
            seq: self.seq,
            time: &self.time,
            kind: &self.kind,
            prev: self.prev,
            signer: &self.signer,
            signer_key: self.signer_key,
            payload: &self.payload,
        }
    }

    /// The message the signature covers.
    pub fn signed_message(bytes: &[u8]) -> &[u8] {
        &bytes[..bytes.len().saturating_sub(64)]
    }

    /// Checks the Ed25519 signature (strict verification) against `signer_key`.
    pub fn verify_signature(&self) -> Result<(), EntryError> {
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&self.signer_key)
            .map_err(|_| EntryError::PublicKey)?;
        let tbs = self.unsigned().tbs()?;
        let sig = ed25519_dalek::Signature::from_bytes(&self.signature);
        vk.verify_strict(&signed_message(&tbs), &sig)
            .map_err(|_| EntryError::Signature)
    }

    /// The payload parsed as JSON.
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// The hash of an encoded entry: its RFC 9162 leaf hash. It links the chain and is the Merkle leaf.
pub fn entry_hash(encoded: &[u8]) -> Hash {
    leaf_hash(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn sample<'a>(payload: &'a [u8], k: &SigningKey) -> UnsignedEntry<'a> {
        UnsignedEntry {
            seq: 3,
            time: "2025-09-12T17:17:28Z",
            kind: "spec.release",
            prev: [9u8; 32],
            signer: "policy-team",
            signer_key: k.verifying_key().to_bytes(),
            payload,
        }
    }

    #[test]
    fn round_trip_and_verify() {
        let k = key();
        let bytes = sample(br#"{"label":"v1"}"#, &k).sign(&k).unwrap();
        let e = Entry::decode(&bytes).unwrap();
        assert_eq!(e.seq, 3);
        assert_eq!(e.kind, "spec.release");
        assert_eq!(e.encode(), bytes);
        e.verify_signature().unwrap();
        // Deterministic: Ed25519 signatures are deterministic, so same entry, same bytes.
        assert_eq!(sample(br#"{"label":"v1"}"#, &k).sign(&k).unwrap(), bytes);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let k = key();
        let bytes = sample(br#"{"label":"v1"}"#, &k).sign(&k).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let ok = Entry::decode(&b).and_then(|e| e.verify_signature());
            assert!(ok.is_err(), "flip at byte {i} not caught");
        }
    }

    #[test]
    fn truncation_and_trailing_bytes_rejected() {
        let k = key();
        let bytes = sample(b"{}", &k).sign(&k).unwrap();
        for n in 0..bytes.len() {
            assert!(Entry::decode(&bytes[..n]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Entry::decode(&long), Err(EntryError::TrailingBytes(1)));
    }

    #[test]
    fn field_checks() {
        assert!(check_time("2025-09-12T17:17:28Z").is_ok());
        for bad in [
            "2025-09-12 17:17:28Z",
            "2025-13-12T17:17:28Z",
            "2025-09-12T17:17:28+00:00",
            "",
        ] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
        assert!(check_kind("spec.release").is_ok());
        assert!(check_kind("Spec").is_err());
        assert!(check_name("policy-team").is_ok());
        for bad in ["../x", "", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn payload_check_accepts_what_serde_json_value_accepts() {
        let cases: &[&str] = &[
            "{}",
            " {\"a\": [1, 2.5, -3e2, true, null, {\"b\": \"\\u00e9\\n\"}]} ",
            "{\"a\": 1, \"a\": 2}",
            "{\"x\": 1e400}",
            "{\"x\": -1e400}",
            "{\"x\": 123456789012345678901234567890}",
            "{\"s\": \"\\ud800\"}",
            "{\"s\": \"\\ud83d\\ude00\"}",
            "{\"s\": \"\\x\"}",
            "{\"s\": \"tab\there\"}",
            "[]",
            "[1]",
            "1",
            "\"s\"",
            "null",
            "{} {}",
            "{},",
            "{\"a\":}",
            "{\"a\" 1}",
            "{1: 2}",
            "",
            "   ",
            "{\"a\": [1, 2,]}",
            "{\"a\": 01}",
            "{\"a\": NaN}",
        ];
        let mut deep = String::new();
        for _ in 0..200 {
            deep.push_str("{\"a\":");
        }
        deep.push('1');
        for _ in 0..200 {
            deep.push('}');
        }
        for c in cases.iter().copied().chain([deep.as_str()]) {
            let want = matches!(
                serde_json::from_slice::<serde_json::Value>(c.as_bytes()),
                Ok(serde_json::Value::Object(_))
            );
            assert_eq!(check_payload(c.as_bytes()).is_ok(), want, "{c:?}");
        }
        assert!(check_payload(b"{\"s\": \"\xff\"}").is_err());
    }

    #[test]
    fn prepared_signer_makes_the_same_bytes() {
        let k = key();
        let s = EntrySigner::new(&k);
        for p in [&b"{}"[..], br#"{"label":"v1"}"#] {
            assert_eq!(
                sample(p, &k).sign_prepared(&s).unwrap(),
                sample(p, &k).sign(&k).unwrap()
            );
        }
        // The JSON check is the caller's.
        assert!(sample(b"[1]", &k).sign(&k).is_err());
        assert!(sample(b"[1]", &k).sign_prepared(&s).is_ok());
        assert!(check_payload(b"[1]").is_err());
    }

    #[test]
    fn size_limit() {
        let k = key();
        let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_ENTRY_SIZE));
        assert!(matches!(
            sample(big.as_bytes(), &k).sign(&k),
            Err(EntryError::TooLarge(_))
        ));
    }

    #[test]
    fn wrong_key_cannot_sign() {
        let k = key();
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert_eq!(sample(b"{}", &k).sign(&other), Err(EntryError::PublicKey));
        assert_eq!(
            sample(b"{}", &k).sign_prepared(&EntrySigner::new(&other)),
            Err(EntryError::PublicKey)
        );
    }
}
