//! Keys: where each signer's private key lives, and how to reach it.
//!
//! - Key files: Ed25519 private keys as PKCS#8 PEM (optionally
//!   passphrase-encrypted with PBES2 scrypt + AES-256-CBC), `NAME.key`.
//! - Keys that never touch the disk: a PKCS#11 token ([`pkcs11`], named by an
//!   RFC 7512 URI, [`uri`]) or ssh-agent ([`agent`]). For these the key
//!   directory holds `NAME.key.ref`, one line naming the key (no secret:
//!   never a PIN), see [`KeyRef`].
//!
//! Public keys are in the C2SP signed-note verifier-key form
//! `name+hexkeyid+base64(0x01||pubkey)`, `NAME.pub`, whichever holds the
//! private key. Every backend makes the same Ed25519 signatures (see
//! [`crate::sign`]), so nothing that verifies needs the token or the agent.
//!
//! Private key files are created new-only with mode 0600 and refused when
//! readable by group or others. Secret bytes live in zeroising buffers.

pub mod agent;
pub mod pkcs11;
pub mod uri;

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{SigningKey, VerifyingKey};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::base::check_name;
use crate::note::{self, VerifierKey};
use crate::sign::Ed25519Signer;
pub use pkcs11::Pkcs11Opts;
pub use uri::Pkcs11Uri;

/// Name of the ledger's admin key, which also signs the log's checkpoints.
pub const ADMIN: &str = "admin";

/// Errors reading or writing key files.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("invalid key name {0:?}: use 1-64 of A-Z a-z 0-9 . _ - (not starting with '.' or '-')")]
    Name(String),
    #[error("no private key {0}")]
    Missing(PathBuf),
    #[error("key file {0} already exists")]
    Exists(PathBuf),
    #[error("key file {path} is readable by group or others (mode {mode:o})")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("key file {0} is encrypted and no passphrase was given")]
    NeedPassphrase(PathBuf),
    #[error("wrong passphrase for {0}")]
    WrongPassphrase(PathBuf),
    #[error("empty passphrase")]
    EmptyPassphrase,
    #[error("key file {0} is not a PKCS#8 Ed25519 private key: {1}")]
    Malformed(PathBuf, String),
    #[error("public key file {0} is not a verifier key: {1}")]
    BadPublic(PathBuf, String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("random number generator failed: {0}")]
    Rng(String),
    #[error("key reference {0} is malformed: {1}")]
    BadRef(PathBuf, String),
    #[error("both {0} and {1} exist: a key lives in one place")]
    BothForms(PathBuf, PathBuf),
    #[error("invalid PKCS#11 URI {uri}: {why}")]
    BadUri { uri: String, why: String },
    #[error("no PKCS#11 module is configured for {0}")]
    NoModule(String),
    #[error("cannot load the PKCS#11 module {module}: {reason}")]
    Pkcs11Module { module: PathBuf, reason: String },
    #[error("no token matches {0}")]
    TokenAbsent(String),
    #[error("the user PIN of token {0} is locked")]
    TokenLocked(String),
    #[error("wrong PIN for token {0}")]
    WrongPin(String),
    #[error("token {0} needs its user PIN and none was given")]
    NeedPin(String),
    #[error("no key matches {0}")]
    ObjectAbsent(String),
    #[error("{0} matches {1} keys")]
    ObjectAmbiguous(String, usize),
    #[error("the token already holds {0}")]
    ObjectExists(String),
    #[error("{what} is a {found} key, not Ed25519")]
    WrongKeyType { what: String, found: String },
    #[error("PKCS#11 {op} failed: {reason}")]
    Pkcs11 { op: String, reason: String },
    #[error("ssh-agent is not running or not reachable: {0}")]
    AgentNotRunning(String),
    #[error("ssh-agent holds no key {0}")]
    AgentNoKey(String),
    #[error("ssh-agent holds {1} keys named {0}")]
    AgentAmbiguous(String, usize),
    #[error("ssh-agent failed: {0}")]
    Agent(String),
}

/// Where a private key lives when it is not in a key file: the one line of
/// `NAME.key.ref` (docs/HOWTO.md, "Keys in a token or in ssh-agent").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    /// In a PKCS#11 token: an RFC 7512 URI (written without any `pin-value`).
    Pkcs11(String),
    /// In ssh-agent: the key's OpenSSH fingerprint, `SHA256:...`.
    Agent(String),
}

/// Prefix of an ssh-agent key reference line.
pub const AGENT_REF: &str = "ssh-agent:";

impl KeyRef {
    /// Parses the line of a key reference file.
    pub fn parse(line: &str, path: &Path) -> Result<KeyRef, KeyError> {
        let line = line.trim();
        if line.starts_with("pkcs11:") {
            Pkcs11Uri::parse(line)?;
            Ok(KeyRef::Pkcs11(line.to_string()))
        } else if let Some(fp) = line.strip_prefix(AGENT_REF) {
            if !fp.starts_with("SHA256:") || fp.len() != 50 {
                return Err(KeyError::BadRef(
                    path.into(),
                    "want ssh-agent:SHA256:<43 base64 characters>".into(),
                ));
            }
            Ok(KeyRef::Agent(fp.to_string()))
        } else {
            Err(KeyError::BadRef(
                path.into(),
                "want one line, pkcs11:URI or ssh-agent:SHA256:FINGERPRINT".into(),
            ))
        }
    }

    /// The line stored (a PKCS#11 URI loses any `pin-value`).
    pub fn line(&self) -> String {
        match self {
            KeyRef::Pkcs11(u) => Pkcs11Uri::parse(u)
                .map(|u| u.redacted())
                .unwrap_or_else(|_| uri::redact(u)),
            KeyRef::Agent(fp) => format!("{AGENT_REF}{fp}"),
        }
    }

    /// Opens the key for signing.
    pub fn open(&self, opts: &Pkcs11Opts) -> Result<Box<dyn Ed25519Signer>, KeyError> {
        Ok(match self {
            KeyRef::Pkcs11(u) => Box::new(pkcs11::open(&Pkcs11Uri::parse(u)?, opts)?),
            KeyRef::Agent(fp) => Box::new(agent::AgentKey::open(fp)?),
        })
    }
}

/// Where NAME's private key lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A key file.
    File(PathBuf),
    /// A token or ssh-agent, named by the reference file.
    Ref(PathBuf, KeyRef),
    /// Not in this key directory (registered from a `.pub` file).
    Elsewhere,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "file {}", p.display()),
            Location::Ref(_, KeyRef::Pkcs11(u)) => write!(f, "PKCS#11 token {u}"),
            Location::Ref(_, KeyRef::Agent(fp)) => write!(f, "ssh-agent {fp}"),
            Location::Elsewhere => write!(f, "not in this key directory"),
        }
    }
}

/// Everything opening a signer may need besides the key's name.
pub struct Unlock<'a> {
    pub passphrase: &'a Passphrase,
    pub pkcs11: Pkcs11Opts<'a>,
}

/// Where a passphrase comes from, in the order the CLI tries them.
#[derive(Clone, Debug, Default)]
pub enum Passphrase {
    /// No passphrase: keys are stored unencrypted; encrypted keys are refused.
    #[default]
    None,
    /// The passphrase itself (from a file, the environment or a prompt).
    Given(Zeroizing<String>),
}

impl Passphrase {
    /// Reads a passphrase from the first line of a file.
    pub fn from_file(path: &Path) -> Result<Passphrase, KeyError> {
        use std::io::Read;
        // Bounded: the first line is all we use, and /dev/zero has no end.
        const MAX: u64 = 64 * 1024;
        let bad = |why: &str| KeyError::Io(path.into(), std::io::Error::other(why));
        let mut b = Zeroizing::new(Vec::new());
        fs::File::open(path)
            .and_then(|f| f.take(MAX + 1).read_to_end(&mut b))
            .map_err(|e| KeyError::Io(path.into(), e))?;
        if b.len() as u64 > MAX {
            return Err(bad("a passphrase file is at most 64 KiB"));
        }
        let s = std::str::from_utf8(&b).map_err(|_| bad("the passphrase file is not UTF-8"))?;
        Passphrase::given(s.lines().next().unwrap_or("").to_string())
    }

    /// Wraps a passphrase, refusing an empty one.
    pub fn given(s: String) -> Result<Passphrase, KeyError> {
        if s.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        Ok(Passphrase::Given(Zeroizing::new(s)))
    }
}

/// Generates a new Ed25519 key from the operating system's random source.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut seed[..]).map_err(|e| KeyError::Rng(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The directory of key files.
#[derive(Clone, Debug)]
pub struct KeyDir {
    pub dir: PathBuf,
}

impl KeyDir {
    pub fn new(dir: impl Into<PathBuf>) -> KeyDir {
        KeyDir { dir: dir.into() }
    }

    /// Path of NAME's private key file.
    pub fn private_path(&self, name: &str) -> Result<PathBuf, KeyError> {
        check_name(name).map_err(|_| KeyError::Name(name.into()))?;
        Ok(self.dir.join(format!("{name}.key")))
    }

    /// Path of NAME's public key file.
    pub fn public_path(&self, name: &str) -> Result<PathBuf, KeyError> {
        check_name(name).map_err(|_| KeyError::Name(name.into()))?;
        Ok(self.dir.join(format!("{name}.pub")))
    }

    /// Writes NAME's key pair: the private key (new file only, mode 0600,
    /// encrypted when a passphrase is given) and the public verifier key under
    /// `note_name` (the log origin for the admin key, NAME otherwise).
    /// Returns the two paths.
    pub fn write(
        &self,
        name: &str,
        note_name: &str,
        key: &SigningKey,
        pass: &Passphrase,
    ) -> Result<(PathBuf, PathBuf), KeyError> {
        let priv_path = self.private_path(name)?;
        let pub_path = self.public_path(name)?;
        for p in [&priv_path, &pub_path] {
            if p.exists() {
                return Err(KeyError::Exists(p.clone()));
            }
        }
        crate::fsx::create_dir_all(&self.dir, crate::fsx::DIR_PRIVATE)
            .map_err(|e| KeyError::Io(self.dir.clone(), e))?;
        write_private(&priv_path, key, pass)?;
        let line = format!(
            "{}\n",
            note::verifier_key_string(note_name, &key.verifying_key())
        );
        if let Err(e) = write_new(&pub_path, line.as_bytes(), 0o644) {
            let _ = fs::remove_file(&priv_path);
            return Err(e);
        }
        Ok((priv_path, pub_path))
    }

    /// Loads NAME's private key, checking permissions and decrypting when needed.
    pub fn load(&self, name: &str, pass: &Passphrase) -> Result<SigningKey, KeyError> {
        let path = self.private_path(name)?;
        load_private(&path, pass)
    }

    /// Reads NAME's public verifier key.
    pub fn load_public(&self, name: &str) -> Result<VerifierKey, KeyError> {
        let path = self.public_path(name)?;
        read_verifier_key(&path)
    }

    /// True if NAME has a private key file or key reference here.
    pub fn has_private(&self, name: &str) -> bool {
        !matches!(self.location(name), Ok(Location::Elsewhere))
    }

    /// Path of NAME's key reference file (a key in a token or ssh-agent).
    pub fn ref_path(&self, name: &str) -> Result<PathBuf, KeyError> {
        check_name(name).map_err(|_| KeyError::Name(name.into()))?;
        Ok(self.dir.join(format!("{name}.key.ref")))
    }

    /// Where NAME's private key lives.
    pub fn location(&self, name: &str) -> Result<Location, KeyError> {
        let (file, rf) = (self.private_path(name)?, self.ref_path(name)?);
        match (file.exists(), rf.exists()) {
            (true, true) => Err(KeyError::BothForms(file, rf)),
            (true, false) => Ok(Location::File(file)),
            (false, true) => {
                let r = read_ref(&rf)?;
                Ok(Location::Ref(rf, r))
            }
            (false, false) => Ok(Location::Elsewhere),
        }
    }

    /// Writes NAME's key reference and public key (both new files only);
    /// returns their paths.
    pub fn write_ref(
        &self,
        name: &str,
        note_name: &str,
        r: &KeyRef,
        vk: &VerifyingKey,
    ) -> Result<(PathBuf, PathBuf), KeyError> {
        let (ref_path, pub_path) = (self.ref_path(name)?, self.public_path(name)?);
        for p in [self.private_path(name)?, ref_path.clone(), pub_path.clone()] {
            if p.exists() {
                return Err(KeyError::Exists(p));
            }
        }
        crate::fsx::create_dir_all(&self.dir, crate::fsx::DIR_PRIVATE)
            .map_err(|e| KeyError::Io(self.dir.clone(), e))?;
        write_ref(&ref_path, r)?;
        let line = format!("{}\n", note::verifier_key_string(note_name, vk));
        if let Err(e) = write_new(&pub_path, line.as_bytes(), 0o644) {
            let _ = fs::remove_file(&ref_path);
            return Err(e);
        }
        Ok((ref_path, pub_path))
    }

    /// Opens NAME's private key for signing, wherever it lives.
    pub fn open_signer(
        &self,
        name: &str,
        unlock: &Unlock,
    ) -> Result<Box<dyn Ed25519Signer>, KeyError> {
        match self.location(name)? {
            Location::Ref(_, r) => r.open(&unlock.pkcs11),
            Location::File(p) => Ok(Box::new(load_private(&p, unlock.passphrase)?)),
            Location::Elsewhere => Err(KeyError::Missing(self.private_path(name)?)),
        }
    }
}

/// Largest key reference file read (one URI line).
const MAX_REF_FILE: u64 = 8 << 10;

/// Reads a key reference file.
pub fn read_ref(path: &Path) -> Result<KeyRef, KeyError> {
    let b = crate::fsx::read_file_capped(path, MAX_REF_FILE).map_err(|e| {
        if crate::fsx::is_too_large(&e) {
            KeyError::BadRef(
                path.into(),
                format!("the file is over {MAX_REF_FILE} bytes"),
            )
        } else {
            KeyError::Io(path.into(), e)
        }
    })?;
    let text =
        String::from_utf8(b).map_err(|_| KeyError::BadRef(path.into(), "not UTF-8".into()))?;
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    KeyRef::parse(line, path)
}

/// Writes a new key reference file (mode 0600, never overwriting).
pub fn write_ref(path: &Path, r: &KeyRef) -> Result<(), KeyError> {
    write_new(path, format!("{}\n", r.line()).as_bytes(), 0o600)
}

/// Writes `key` to a new private key file (mode 0600, never overwriting) as
/// PKCS#8 v1 PEM (no public key inside, the form OpenSSL 3.0 reads),
/// encrypted when a passphrase is given.
pub fn write_private(path: &Path, key: &SigningKey, pass: &Passphrase) -> Result<(), KeyError> {
    let kp = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let pem: Zeroizing<String> = match pass {
        Passphrase::None => kp.to_pkcs8_pem(pkcs8::LineEnding::LF),
        Passphrase::Given(p) => kp.to_pkcs8_encrypted_pem(p.as_bytes(), pkcs8::LineEnding::LF),
    }
    .map_err(|e| KeyError::Malformed(path.into(), e.to_string()))?;
    write_new(path, pem.as_bytes(), 0o600)
}

/// Largest private key file read (an encrypted PKCS#8 PEM is under 1 KiB).
const MAX_KEY_FILE: u64 = 64 << 10;

fn too_large_or_io(path: &Path, e: std::io::Error) -> KeyError {
    if crate::fsx::is_too_large(&e) {
        KeyError::Malformed(
            path.into(),
            format!("the file is over {} bytes", MAX_KEY_FILE),
        )
    } else {
        KeyError::Io(path.into(), e)
    }
}

/// Loads a private key file, checking its permissions first.
pub fn load_private(path: &Path, pass: &Passphrase) -> Result<SigningKey, KeyError> {
    let meta = fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            KeyError::Missing(path.into())
        } else {
            KeyError::Io(path.into(), e)
        }
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.into(),
                mode,
            });
        }
    }
    // A key file is a few hundred bytes: capped by the bytes read (a sparse
    // or endless file costs at most the cap).
    let bytes = Zeroizing::new(
        crate::fsx::read_file_capped(path, MAX_KEY_FILE).map_err(|e| too_large_or_io(path, e))?,
    );
    let text = Zeroizing::new(
        std::str::from_utf8(&bytes)
            .map_err(|_| KeyError::Malformed(path.into(), "not UTF-8 text".into()))?
            .to_string(),
    );
    let bad = |e: String| KeyError::Malformed(path.into(), e);
    let kp = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let Passphrase::Given(p) = pass else {
            return Err(KeyError::NeedPassphrase(path.into()));
        };
        KeypairBytes::from_pkcs8_encrypted_pem(&text, p.as_bytes())
            .map_err(|_| KeyError::WrongPassphrase(path.into()))?
    } else {
        KeypairBytes::from_pkcs8_pem(&text).map_err(|e| bad(e.to_string()))?
    };
    let key = SigningKey::from_bytes(&kp.secret_key);
    if let Some(pk) = &kp.public_key
        && pk.to_bytes() != key.verifying_key().to_bytes()
    {
        return Err(bad("public key does not match the private key".into()));
    }
    Ok(key)
}

/// Reads a verifier key (first non-empty line) from a file.
pub fn read_verifier_key(path: &Path) -> Result<VerifierKey, KeyError> {
    let over = || KeyError::BadPublic(path.into(), "file is over 4 KiB".into());
    let meta = fs::metadata(path).map_err(|e| KeyError::Io(path.into(), e))?;
    if meta.len() > 4096 {
        return Err(over());
    }
    // Capped by the bytes read: /dev/zero and pipes report no size.
    let text = crate::fsx::read_file_capped(path, 4096).map_err(|e| {
        if crate::fsx::is_too_large(&e) {
            over()
        } else {
            KeyError::Io(path.into(), e)
        }
    })?;
    let text = String::from_utf8(text)
        .map_err(|_| KeyError::BadPublic(path.into(), "not UTF-8".into()))?;
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    VerifierKey::parse(line.trim()).map_err(|e| KeyError::BadPublic(path.into(), e.to_string()))
}

/// Creates `path` with `mode`, failing if it exists, and writes `data`
/// durably: through a temporary file that takes the name only when complete
/// (see [`crate::fsx`]), so a full disk or a crash never leaves a partial
/// (or empty) key file behind.
pub fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    let opts = crate::fsx::Opts {
        mode,
        ..crate::fsx::Opts::KEY
    };
    crate::fsx::write(path, data, opts).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.into())
        } else {
            KeyError::Io(path.into(), e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_and_load_plain_and_encrypted() {
        let d = tempfile::tempdir().unwrap();
        let kd = KeyDir::new(d.path());
        let k = generate().unwrap();
        kd.write("alice", "alice", &k, &Passphrase::None).unwrap();
        assert_eq!(
            kd.load("alice", &Passphrase::None).unwrap().to_bytes(),
            k.to_bytes()
        );
        let vk = kd.load_public("alice").unwrap();
        assert_eq!(vk.name(), "alice");

        let pass = Passphrase::given("correct horse".into()).unwrap();
        kd.write("bob", "bob", &k, &pass).unwrap();
        assert!(matches!(
            kd.load("bob", &Passphrase::None),
            Err(KeyError::NeedPassphrase(_))
        ));
        assert!(matches!(
            kd.load("bob", &Passphrase::given("wrong".into()).unwrap()),
            Err(KeyError::WrongPassphrase(_))
        ));
        assert_eq!(kd.load("bob", &pass).unwrap().to_bytes(), k.to_bytes());
    }

    #[test]
    fn refuses_overwrite_traversal_and_loose_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let kd = KeyDir::new(d.path());
        let k = generate().unwrap();
        kd.write("a", "a", &k, &Passphrase::None).unwrap();
        assert!(matches!(
            kd.write("a", "a", &k, &Passphrase::None),
            Err(KeyError::Exists(_))
        ));
        assert!(matches!(
            kd.write("../x", "x", &k, &Passphrase::None),
            Err(KeyError::Name(_))
        ));
        let p = kd.private_path("a").unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            kd.load("a", &Passphrase::None),
            Err(KeyError::Permissions { .. })
        ));
        assert!(matches!(
            Passphrase::given(String::new()),
            Err(KeyError::EmptyPassphrase)
        ));
    }
}
