//! Ed25519 keys held by ssh-agent, reached through `SSH_AUTH_SOCK`.
//!
//! The client speaks the agent protocol (draft-miller-ssh-agent, sections
//! 3 and 4.4-4.5): `SSH_AGENTC_REQUEST_IDENTITIES` to list the keys and
//! `SSH_AGENTC_SIGN_REQUEST` to sign. An `ssh-ed25519` signature (RFC 8709
//! section 6) is the plain RFC 8032 Ed25519 signature of the data, so the
//! agent signs exactly the bytes a key file would. A key is named by its
//! OpenSSH fingerprint (`SHA256:` and the unpadded base64 of the SHA-256 of
//! its public key blob, as `ssh-add -l` prints) or by its comment.
//!
//! Written here rather than taken from a crate: the protocol needs two
//! messages, and the client crates on crates.io bring `ssh-key` 0.6 with
//! ed25519-dalek 2, RSA and the NIST curves, a second copy of this crate's
//! cryptography.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::KeyError;
use crate::sign::{Ed25519Signer, SignError};

const FAILURE: u8 = 5;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
/// Largest agent reply read (a list of many RSA keys fits easily).
const MAX_REPLY: usize = 256 << 10;
/// How long one request may wait (an agent may ask its user to confirm).
const TIMEOUT: Duration = Duration::from_secs(120);

/// One identity the agent holds.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The SSH public key blob (`string algorithm, ...`).
    pub blob: Vec<u8>,
    pub comment: String,
}

impl Identity {
    /// The key's algorithm name (`ssh-ed25519`, `ssh-rsa`, ...).
    pub fn algorithm(&self) -> String {
        let mut r = Cursor(&self.blob);
        r.string()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_default()
    }

    /// The OpenSSH SHA-256 fingerprint, `SHA256:...`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.blob)
    }

    /// The Ed25519 public key, if this is an `ssh-ed25519` key.
    pub fn ed25519(&self) -> Option<VerifyingKey> {
        let mut r = Cursor(&self.blob);
        if r.string().ok()? != b"ssh-ed25519" {
            return None;
        }
        let pk: [u8; 32] = r.string().ok()?.try_into().ok()?;
        r.0.is_empty().then_some(())?;
        VerifyingKey::from_bytes(&pk).ok()
    }
}

/// The OpenSSH SHA-256 fingerprint of a public key blob.
pub fn fingerprint(blob: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(blob))
    )
}

/// The blob of an Ed25519 public key (RFC 8709 section 4).
pub fn ed25519_blob(vk: &VerifyingKey) -> Vec<u8> {
    let mut b = Vec::with_capacity(51);
    put_string(&mut b, b"ssh-ed25519");
    put_string(&mut b, vk.as_bytes());
    b
}

/// A connection to the agent.
pub struct Agent {
    sock: PathBuf,
    stream: UnixStream,
}

impl Agent {
    /// Connects to the agent at `SSH_AUTH_SOCK`.
    pub fn connect() -> Result<Agent, KeyError> {
        let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) else {
            return Err(KeyError::AgentNotRunning("SSH_AUTH_SOCK is not set".into()));
        };
        Agent::connect_to(Path::new(&sock))
    }

    /// Connects to the agent listening on `sock`.
    pub fn connect_to(sock: &Path) -> Result<Agent, KeyError> {
        let stream = UnixStream::connect(sock).map_err(|e| {
            KeyError::AgentNotRunning(format!("cannot connect to {}: {e}", sock.display()))
        })?;
        let _ = stream.set_read_timeout(Some(TIMEOUT));
        let _ = stream.set_write_timeout(Some(TIMEOUT));
        Ok(Agent {
            sock: sock.to_path_buf(),
            stream,
        })
    }

    fn lost(&self, e: impl std::fmt::Display) -> KeyError {
        KeyError::Agent(format!("{}: {e}", self.sock.display()))
    }

    /// Sends one request and reads its reply (type byte, contents).
    fn request(&mut self, msg: &[u8]) -> Result<(u8, Vec<u8>), KeyError> {
        let mut out = Vec::with_capacity(4 + msg.len());
        out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        out.extend_from_slice(msg);
        self.stream.write_all(&out).map_err(|e| self.lost(e))?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(|e| self.lost(e))?;
        let n = u32::from_be_bytes(len) as usize;
        if n == 0 || n > MAX_REPLY {
            return Err(self.lost(format!("reply of {n} bytes")));
        }
        let mut body = vec![0u8; n];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| self.lost(e))?;
        let t = body.remove(0);
        Ok((t, body))
    }

    /// The keys the agent holds (section 4.4).
    pub fn identities(&mut self) -> Result<Vec<Identity>, KeyError> {
        let (t, body) = self.request(&[REQUEST_IDENTITIES])?;
        if t != IDENTITIES_ANSWER {
            return Err(self.lost(format!("unexpected reply type {t} to a key list request")));
        }
        let mut r = Cursor(&body);
        let parse = |r: &mut Cursor| -> Option<Vec<Identity>> {
            let n = r.u32().ok()?;
            let mut v = Vec::new();
            for _ in 0..n {
                let blob = r.string().ok()?.to_vec();
                let comment = String::from_utf8_lossy(r.string().ok()?).into_owned();
                v.push(Identity { blob, comment });
            }
            Some(v)
        };
        parse(&mut r).ok_or_else(|| self.lost("malformed key list"))
    }

    /// Signs `data` with the key of `blob` (section 4.5); returns the raw
    /// 64-byte Ed25519 signature.
    fn sign(&mut self, blob: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
        let mut m = vec![SIGN_REQUEST];
        put_string(&mut m, blob);
        put_string(&mut m, data);
        m.extend_from_slice(&0u32.to_be_bytes());
        let (t, body) = self.request(&m).map_err(|e| e.to_string())?;
        match t {
            SIGN_RESPONSE => {}
            FAILURE => return Err("the agent refused to sign (was the key removed?)".into()),
            t => return Err(format!("unexpected reply type {t}")),
        }
        let mut r = Cursor(&body);
        let sig = r.string().map_err(|_| "malformed signature reply")?;
        let mut s = Cursor(sig);
        if s.string().map_err(|_| "malformed signature")? != b"ssh-ed25519" {
            return Err("the agent returned a signature of another type".into());
        }
        Ok(s.string().map_err(|_| "malformed signature")?.to_vec())
    }
}

/// Finds the agent's key named by `id` (a `SHA256:` fingerprint or a comment).
pub fn find(agent: &mut Agent, id: &str) -> Result<Identity, KeyError> {
    let all = agent.identities()?;
    let hits: Vec<&Identity> = all
        .iter()
        .filter(|k| {
            if id.starts_with("SHA256:") {
                k.fingerprint() == id
            } else {
                k.comment == id
            }
        })
        .collect();
    match hits[..] {
        [] => Err(KeyError::AgentNoKey(id.into())),
        [k] => Ok(k.clone()),
        _ => Err(KeyError::AgentAmbiguous(id.into(), hits.len())),
    }
}

/// An Ed25519 key in ssh-agent, with its connection.
pub struct AgentKey {
    agent: Mutex<Agent>,
    blob: Vec<u8>,
    vk: VerifyingKey,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey")
            .field("fingerprint", &fingerprint(&self.blob))
            .finish_non_exhaustive()
    }
}

impl AgentKey {
    /// Opens the agent's Ed25519 key named by `id`.
    pub fn open(id: &str) -> Result<AgentKey, KeyError> {
        let mut agent = Agent::connect()?;
        let k = find(&mut agent, id)?;
        let Some(vk) = k.ed25519() else {
            return Err(KeyError::WrongKeyType {
                what: format!("ssh-agent key {id}"),
                found: k.algorithm(),
            });
        };
        Ok(AgentKey {
            agent: Mutex::new(agent),
            blob: k.blob,
            vk,
        })
    }

    /// The key's fingerprint.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.blob)
    }
}

impl Ed25519Signer for AgentKey {
    fn verifying_key(&self) -> VerifyingKey {
        self.vk
    }

    fn sign_message(&self, msg: &[u8]) -> Result<Signature, SignError> {
        let mut a = self.agent.lock().unwrap_or_else(|p| p.into_inner());
        let sig = a
            .sign(&self.blob, msg)
            .map_err(|reason| SignError::Failed {
                backend: "ssh-agent",
                reason,
            })?;
        crate::sign::checked("ssh-agent", &self.vk, msg, &sig)
    }

    fn backend(&self) -> &'static str {
        "ssh-agent"
    }
}

fn put_string(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(&(s.len() as u32).to_be_bytes());
    b.extend_from_slice(s);
}

/// Reads the SSH wire types (RFC 4251 section 5) from a byte slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn u32(&mut self) -> Result<u32, ()> {
        let (h, t) = self.0.split_first_chunk::<4>().ok_or(())?;
        self.0 = t;
        Ok(u32::from_be_bytes(*h))
    }
    fn string(&mut self) -> Result<&'a [u8], ()> {
        let n = self.u32()? as usize;
        if self.0.len() < n {
            return Err(());
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_fingerprint_and_parse_round_trip() {
        let vk = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
        let id = Identity {
            blob: ed25519_blob(&vk),
            comment: "c".into(),
        };
        assert_eq!(id.algorithm(), "ssh-ed25519");
        assert_eq!(id.ed25519(), Some(vk));
        assert!(id.fingerprint().starts_with("SHA256:"));
        assert_eq!(id.fingerprint().len(), 7 + 43);
        let mut trailing = id.clone();
        trailing.blob.push(0);
        assert_eq!(trailing.ed25519(), None);
        let rsa = Identity {
            blob: b"\0\0\0\x07ssh-rsa\0\0\0\x01\x03".to_vec(),
            comment: String::new(),
        };
        assert_eq!(rsa.algorithm(), "ssh-rsa");
        assert_eq!(rsa.ed25519(), None);
    }
}
