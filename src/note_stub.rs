//! TEMPORARY stand-in until note.rs lands.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::tlog::Hash;

#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("malformed: {0}")]
    Malformed(String),
}

fn key_id(name: &str, alg: u8, pk: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(pk);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

pub fn verifier_key_string(name: &str, vk: &VerifyingKey) -> String {
    let pk = vk.to_bytes();
    let mut b = vec![1u8];
    b.extend_from_slice(&pk);
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, 1, &pk)),
        B64.encode(b)
    )
}

#[derive(Clone, Debug)]
pub struct VerifierKey {
    name: String,
    public: [u8; 32],
}
impl VerifierKey {
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let mut p = s.splitn(3, '+');
        let (n, _id, k) = (
            p.next().unwrap_or(""),
            p.next().unwrap_or(""),
            p.next().unwrap_or(""),
        );
        let b = B64
            .decode(k)
            .map_err(|e| NoteError::Malformed(e.to_string()))?;
        if b.len() != 33 || b[0] != 1 {
            return Err(NoteError::Malformed("bad key".into()));
        }
        Ok(VerifierKey {
            name: n.into(),
            public: b[1..].try_into().unwrap(),
        })
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }
    pub fn verifying_key(&self) -> Result<VerifyingKey, NoteError> {
        VerifyingKey::from_bytes(&self.public).map_err(|e| NoteError::Malformed(e.to_string()))
    }
}
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}
impl NoteSigner {
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        Ok(NoteSigner {
            name: name.into(),
            key,
        })
    }
}
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    let mut out = format!("{text}\n");
    for s in signers {
        let sig = s.key.sign(text.as_bytes());
        let mut b = key_id(&s.name, 1, &s.key.verifying_key().to_bytes()).to_vec();
        b.extend_from_slice(&sig.to_bytes());
        out.push_str(&format!("\u{2014} {} {}\n", s.name, B64.encode(b)));
    }
    Ok(out)
}
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}
impl Checkpoint {
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }
}
pub fn open_checkpoint(
    text: &[u8],
    origin: &str,
    _vk: &VerifierKey,
) -> Result<Checkpoint, NoteError> {
    let s = std::str::from_utf8(text).map_err(|e| NoteError::Malformed(e.to_string()))?;
    let l: Vec<&str> = s.lines().collect();
    if l.len() < 3 || l[0] != origin {
        return Err(NoteError::Malformed("bad".into()));
    }
    let root: Hash = B64
        .decode(l[2])
        .map_err(|e| NoteError::Malformed(e.to_string()))?
        .try_into()
        .map_err(|_| NoteError::Malformed("root".into()))?;
    Ok(Checkpoint {
        origin: origin.into(),
        size: l[1]
            .parse()
            .map_err(|_| NoteError::Malformed("size".into()))?,
        root,
        extensions: vec![],
    })
}
