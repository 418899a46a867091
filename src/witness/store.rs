//! Witness file I/O: the witness directory, atomic state writes, evidence
//! files, and a ledger's witness policy file.
//!
//! A witness directory holds:
//!
//! | path | content |
//! |---|---|
//! | `witness.key` | the cosigning key: Ed25519, PKCS#8 PEM like every speclog key (optionally passphrase-encrypted), created new-only with mode 0600 |
//! | `witness.pub` | its verifier key, type `0x04` (C2SP tlog-cosignature), one line; its name is the witness's name |
//! | `state/<origin>.json` | per log: the latest cosigned checkpoint (see [`LogState`]) |
//! | `evidence/<origin>-<size>-<n>.txt` | conflicting signed checkpoints the witness refused, never overwritten |
//! | `lock` | held while a checkpoint is checked and the state updated |
//!
//! State files are replaced atomically (write a temporary file, fsync it,
//! rename it over the old one, fsync the directory), so a crash leaves either
//! the old or the new state, and a cosignature is only handed out after its
//! state is durable. A state file that does not parse and verify is an
//! error, never a fresh start.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use super::{LogState, Policy, PolicyError, WitnessError, origin_file_name};
use crate::fsx;
use crate::keys::{self, KeyError, Passphrase};
use crate::note::{ALG_COSIGNATURE_V1, NoteSigner, VerifierKey};

/// Name of the witness policy file in a ledger directory (and of its
/// published copy under `log/`).
pub const POLICY_FILE: &str = "witnesses.txt";
/// Largest policy file read.
pub const MAX_POLICY_BYTES: u64 = 64 << 10;
/// Largest state file read (a checkpoint is at most 1 MB).
const MAX_STATE_BYTES: u64 = 4 << 20;
/// Largest evidence file compared when looking for an identical one.
const MAX_EVIDENCE_BYTES: u64 = 8 << 20;

/// Errors of the witness's files and the policy file.
#[derive(Debug, thiserror::Error)]
pub enum WitnessStoreError {
    /// Reading or writing the file or directory named failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// A key file.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A refusal, a damaged state or a malformed policy.
    #[error(transparent)]
    Witness(#[from] WitnessError),
}

/// Replaces `path` with `data` atomically and durably: a temporary file in
/// the same directory, fsync, rename, fsync of the directory.
/// The temporary file is created new-only relative to the directory (see
/// [`crate::fsx`]), and removed on any error.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    fsx::write(path, data, fsx::Opts::STATE)
}

fn io_err(p: &Path) -> impl Fn(std::io::Error) -> WitnessStoreError + '_ {
    move |e| WitnessStoreError::Io(p.display().to_string(), e)
}

/// Reads at most `max` bytes of a regular file; `Ok(None)` if it does not exist.
fn read_bounded(
    path: &Path,
    max: u64,
) -> Result<Option<Vec<u8>>, Result<WitnessStoreError, String>> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Ok(WitnessStoreError::Io(path.display().to_string(), e))),
    };
    if !meta.is_file() {
        return Err(Err("not a regular file".into()));
    }
    if meta.len() > max {
        return Err(Err(format!(
            "{} bytes, over the {max} byte limit",
            meta.len()
        )));
    }
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut buf))
        .map_err(|e| Ok(WitnessStoreError::Io(path.display().to_string(), e)))?;
    if buf.len() as u64 > max {
        return Err(Err("grew past the size limit while being read".into()));
    }
    Ok(Some(buf))
}

/// A witness's directory.
#[derive(Clone, Debug)]
pub struct WitnessDir {
    /// The directory.
    pub root: PathBuf,
}

impl WitnessDir {
    /// The witness directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> WitnessDir {
        WitnessDir { root: root.into() }
    }

    /// The private key file.
    pub fn key_path(&self) -> PathBuf {
        self.root.join("witness.key")
    }

    /// The verifier key file.
    pub fn pub_path(&self) -> PathBuf {
        self.root.join("witness.pub")
    }

    /// The state file of `origin`.
    pub fn state_path(&self, origin: &str) -> PathBuf {
        self.root
            .join("state")
            .join(format!("{}.json", origin_file_name(origin)))
    }

    /// The evidence directory.
    pub fn evidence_dir(&self) -> PathBuf {
        self.root.join("evidence")
    }

    /// Creates the witness: a new cosigning key for `name` (encrypted when
    /// `pass` is given) and the empty state and evidence directories.
    /// Refuses if a key file exists. Returns the verifier key.
    pub fn create(
        &self,
        name: &str,
        key: &SigningKey,
        pass: &Passphrase,
    ) -> Result<VerifierKey, WitnessStoreError> {
        let vk = VerifierKey::cosignature(name, &key.verifying_key())
            .map_err(|_| WitnessError::BadName(name.to_string()))?;
        for p in [self.key_path(), self.pub_path()] {
            if p.exists() {
                return Err(KeyError::Exists(p).into());
            }
        }
        for d in [
            self.root.clone(),
            self.root.join("state"),
            self.evidence_dir(),
        ] {
            fsx::create_dir_all(&d, fsx::DIR_PRIVATE).map_err(io_err(&d))?;
        }
        keys::write_private(&self.key_path(), key, pass)?;
        if let Err(e) = keys::write_new(&self.pub_path(), format!("{vk}\n").as_bytes(), 0o644) {
            let _ = fs::remove_file(self.key_path());
            return Err(e.into());
        }
        Ok(vk)
    }

    /// Reports whether a witness was created here.
    pub fn exists(&self) -> bool {
        self.key_path().exists() || self.pub_path().exists()
    }

    fn require(&self) -> Result<(), WitnessStoreError> {
        if self.exists() {
            Ok(())
        } else {
            Err(WitnessError::NoWitness(self.root.clone()).into())
        }
    }

    /// The witness's verifier key (type `0x04`).
    pub fn public(&self) -> Result<VerifierKey, WitnessStoreError> {
        self.require()?;
        let vk = keys::read_verifier_key(&self.pub_path())?;
        if vk.alg() != ALG_COSIGNATURE_V1 {
            return Err(KeyError::BadPublic(
                self.pub_path(),
                "not a cosignature (type 0x04) key".into(),
            )
            .into());
        }
        Ok(vk)
    }

    /// Loads the cosigner, checking that the private key matches
    /// `witness.pub`. `KeyError::NeedPassphrase` means it is encrypted.
    pub fn signer(&self, pass: &Passphrase) -> Result<NoteSigner, WitnessStoreError> {
        let vk = self.public()?;
        let key = keys::load_private(&self.key_path(), pass)?;
        if key.verifying_key() != *vk.verifying_key() {
            return Err(KeyError::Malformed(
                self.key_path(),
                "it does not match witness.pub".into(),
            )
            .into());
        }
        NoteSigner::new_cosigner(vk.name(), key)
            .map_err(|e| KeyError::Malformed(self.key_path(), e.to_string()).into())
    }

    /// Takes the witness's lock (blocking), held until the file is dropped.
    pub fn lock(&self) -> Result<File, WitnessStoreError> {
        let p = self.root.join("lock");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io_err(&p))?;
        f.lock().map_err(io_err(&p))?;
        Ok(f)
    }

    /// The state of `origin`, or `None` if the witness never cosigned it.
    pub fn load_state(&self, origin: &str) -> Result<Option<LogState>, WitnessStoreError> {
        let path = self.state_path(origin);
        let corrupt = |why: String| {
            WitnessStoreError::Witness(WitnessError::CorruptState {
                path: path.clone(),
                why,
            })
        };
        let bytes = match read_bounded(&path, MAX_STATE_BYTES) {
            Ok(None) => return Ok(None),
            Ok(Some(b)) => b,
            Err(Ok(e)) => return Err(e),
            Err(Err(why)) => return Err(corrupt(why)),
        };
        LogState::from_json(&bytes, origin)
            .map(Some)
            .map_err(corrupt)
    }

    /// Persists `state` atomically and durably.
    pub fn save_state(&self, state: &LogState) -> Result<(), WitnessStoreError> {
        let path = self.state_path(&state.origin);
        if let Some(d) = path.parent() {
            fsx::create_dir_all(d, fsx::DIR_PRIVATE).map_err(io_err(d))?;
        }
        write_atomic(&path, state.to_json().as_bytes()).map_err(io_err(&path))
    }

    /// Every log state, by origin (for `witness status`).
    pub fn states(&self) -> Result<Vec<LogState>, WitnessStoreError> {
        let dir = self.root.join("state");
        let mut out = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(WitnessStoreError::Io(dir.display().to_string(), e)),
        };
        for e in rd {
            let e = e.map_err(io_err(&dir))?;
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let corrupt = |why: String| {
                WitnessStoreError::Witness(WitnessError::CorruptState {
                    path: p.clone(),
                    why,
                })
            };
            let bytes = match read_bounded(&p, MAX_STATE_BYTES) {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(Ok(e)) => return Err(e),
                Err(Err(why)) => return Err(corrupt(why)),
            };
            let origin = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["origin"].as_str().map(str::to_string))
                .ok_or_else(|| corrupt("not a witness state file".into()))?;
            if self.state_path(&origin) != p {
                return Err(corrupt(format!(
                    "it holds origin {origin:?}, which belongs in another file"
                )));
            }
            out.push(LogState::from_json(&bytes, &origin).map_err(corrupt)?);
        }
        out.sort_by(|a, b| a.origin.cmp(&b.origin));
        Ok(out)
    }

    /// Keeps an evidence file `evidence/<origin>-<size>-<n>.txt` with the
    /// first unused `n`, never overwriting one. If a file for this origin and
    /// size already holds the same refused checkpoint, returns it instead of
    /// writing another (so replaying a request cannot fill the disk).
    pub fn save_evidence(
        &self,
        origin: &str,
        size: u64,
        text: &str,
        refused: &str,
    ) -> Result<PathBuf, WitnessStoreError> {
        let dir = self.evidence_dir();
        fsx::create_dir_all(&dir, fsx::DIR_PRIVATE).map_err(io_err(&dir))?;
        let prefix = format!("{}-{size}-", origin_file_name(origin));
        for e in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let p = e.map_err(io_err(&dir))?.path();
            let same_prefix = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".txt"));
            if !same_prefix {
                continue;
            }
            if let Ok(Some(b)) = read_bounded(&p, MAX_EVIDENCE_BYTES) {
                let old = String::from_utf8_lossy(&b);
                if super::evidence_refused_checkpoint(&old) == Some(refused) {
                    return Ok(p);
                }
            }
        }
        for n in 1u32.. {
            let p = dir.join(format!("{prefix}{n}.txt"));
            match keys::write_new(&p, text.as_bytes(), 0o644) {
                Ok(()) => {
                    #[cfg(unix)]
                    File::open(&dir)
                        .and_then(|d| d.sync_all())
                        .map_err(io_err(&dir))?;
                    return Ok(p);
                }
                Err(KeyError::Exists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("u32 evidence numbers exhausted")
    }
}

/// The witness policy file of the ledger in `ledger_dir`.
pub fn policy_path(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join(POLICY_FILE)
}

/// Reads and parses a policy file; `Ok(None)` if it does not exist.
pub fn read_policy(path: &Path) -> Result<Option<(Vec<u8>, Policy)>, WitnessStoreError> {
    let bad = |err: PolicyError| {
        WitnessStoreError::Witness(WitnessError::Policy {
            path: path.to_path_buf(),
            err,
        })
    };
    let bytes = match read_bounded(path, MAX_POLICY_BYTES) {
        Ok(None) => return Ok(None),
        Ok(Some(b)) => b,
        Err(Ok(e)) => return Err(e),
        Err(Err(why)) => return Err(bad(PolicyError { line: 0, msg: why })),
    };
    let p = Policy::parse(&bytes).map_err(bad)?;
    Ok(Some((bytes, p)))
}

/// Writes a policy file atomically.
pub fn write_policy(path: &Path, policy: &Policy) -> Result<(), WitnessStoreError> {
    write_atomic(path, policy.format().as_bytes()).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn witness_dir_key_and_evidence() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let w = WitnessDir::new(d.path().join("w"));
        assert!(w.signer(&Passphrase::None).is_err());
        let k = keys::generate().unwrap();
        let vk = w
            .create("witness.example/w1", &k, &Passphrase::None)
            .unwrap();
        assert_eq!(vk.alg(), ALG_COSIGNATURE_V1);
        assert_eq!(
            fs::metadata(w.key_path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(matches!(
            w.create("witness.example/w1", &k, &Passphrase::None),
            Err(WitnessStoreError::Key(KeyError::Exists(_)))
        ));
        let s = w.signer(&Passphrase::None).unwrap();
        assert_eq!(s.verifier_key(), vk);
        assert!(w.create("bad name", &k, &Passphrase::None).is_err());

        let a = w
            .save_evidence(
                "o/x",
                5,
                "x\n-----BEGIN REFUSED CHECKPOINT-----\nA\n-----END REFUSED CHECKPOINT-----\n",
                "A\n",
            )
            .unwrap();
        let b = w
            .save_evidence(
                "o/x",
                5,
                "x\n-----BEGIN REFUSED CHECKPOINT-----\nA\n-----END REFUSED CHECKPOINT-----\n",
                "A\n",
            )
            .unwrap();
        assert_eq!(a, b);
        let c = w
            .save_evidence(
                "o/x",
                5,
                "-----BEGIN REFUSED CHECKPOINT-----\nB\n-----END REFUSED CHECKPOINT-----\n",
                "B\n",
            )
            .unwrap();
        assert_ne!(a, c);
        assert!(c.to_string_lossy().ends_with("-5-2.txt"), "{}", c.display());
        let _l = w.lock().unwrap();
    }
}
