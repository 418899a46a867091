//! The key commands (generate, register, revoke, rotate, list), wherever the
//! private key lives: a key file, a PKCS#11 token or ssh-agent.

use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Serialize;

use super::Workspace;
use crate::error::Error;
use crate::governance::{self, KeyAdd, KeyRevoke, kinds, policy};
use crate::keys::{self, ADMIN, KeyDir, KeyError, KeyRef, Location, Passphrase, Pkcs11Uri};
use crate::ledger::{Appended, Draft, Ledger, entry};
use crate::note;
use crate::sign::Ed25519Signer;

/// What `key generate` / `key register` / `key rotate` did.
#[derive(Clone, Debug, Serialize)]
pub struct KeyResult {
    pub name: String,
    pub roles: Vec<String>,
    pub public_key: String,
    /// The private key file, or the key reference file (`NAME.key.ref`).
    pub private_file: Option<PathBuf>,
    pub public_file: Option<PathBuf>,
    /// Where the private key lives: `file`, `pkcs11 URI` or `ssh-agent SHA256:...`.
    pub location: String,
    pub seq: u64,
}

/// Where a key's private half is made or found.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A new key file, encrypted with the passphrase when `encrypt`.
    File { encrypt: bool },
    /// A PKCS#11 key named by an RFC 7512 URI: `init`, `key generate` and
    /// `key rotate` create it inside the token; `key register` finds an
    /// existing one.
    Pkcs11(String),
    /// An Ed25519 key ssh-agent already holds, by fingerprint (`SHA256:...`)
    /// or comment.
    Agent(String),
}

impl KeySource {
    /// A new unencrypted key file.
    pub const FILE: KeySource = KeySource::File { encrypt: false };
}

/// A key just made or found, before its files are written.
pub(super) enum NewKey {
    File(SigningKey, Passphrase),
    Ref(KeyRef, Box<dyn Ed25519Signer>),
}

impl NewKey {
    pub(super) fn signer(&self) -> &dyn Ed25519Signer {
        match self {
            NewKey::File(k, _) => k,
            NewKey::Ref(_, s) => s.as_ref(),
        }
    }

    fn verifying_key(&self) -> VerifyingKey {
        self.signer().verifying_key()
    }

    /// Where it lives, for people.
    fn location(&self, private: &Path) -> String {
        match self {
            NewKey::File(..) => Location::File(private.into()),
            NewKey::Ref(r, _) => Location::Ref(private.into(), r.clone()),
        }
        .to_string()
    }

    /// Writes its files under NAME (the public key named `note_name`);
    /// returns the paths of the private key (or reference) and public key.
    pub(super) fn write(
        &self,
        dir: &KeyDir,
        name: &str,
        note_name: &str,
    ) -> Result<(PathBuf, PathBuf), Error> {
        Ok(match self {
            NewKey::File(k, pass) => dir.write(name, note_name, k, pass)?,
            NewKey::Ref(r, s) => dir.write_ref(name, note_name, r, &s.verifying_key())?,
        })
    }
}

impl Workspace {
    /// Makes NAME's new key where `source` says (a token key is created
    /// inside the token; an ssh-agent key must already be there).
    pub(super) fn new_key(&self, name: &str, source: &KeySource) -> Result<NewKey, Error> {
        match source {
            KeySource::File { encrypt } => {
                let pass = if *encrypt {
                    self.passphrase.clone()
                } else {
                    Passphrase::None
                };
                if *encrypt && matches!(pass, Passphrase::None) {
                    return Err(KeyError::NeedPassphrase(self.keys.private_path(name)?).into());
                }
                Ok(NewKey::File(keys::generate()?, pass))
            }
            KeySource::Pkcs11(u) => {
                let uri = Pkcs11Uri::parse(u)?;
                let (exact, key) = keys::pkcs11::generate(&uri, &self.pkcs11_opts())?;
                Ok(NewKey::Ref(KeyRef::Pkcs11(exact.redacted()), Box::new(key)))
            }
            KeySource::Agent(_) => self.existing_key(source),
        }
    }

    /// Opens an existing token or ssh-agent key.
    fn existing_key(&self, source: &KeySource) -> Result<NewKey, Error> {
        match source {
            KeySource::Pkcs11(u) => {
                let uri = Pkcs11Uri::parse(u)?;
                let key = keys::pkcs11::open(&uri, &self.pkcs11_opts())?;
                Ok(NewKey::Ref(KeyRef::Pkcs11(uri.redacted()), Box::new(key)))
            }
            KeySource::Agent(id) => {
                let key = keys::agent::AgentKey::open(id)?;
                Ok(NewKey::Ref(KeyRef::Agent(key.fingerprint()), Box::new(key)))
            }
            KeySource::File { .. } => Err(Error::input(
                "a key file is registered from its public half",
                "give --public FILE, --pkcs11 URI or --ssh-agent FINGERPRINT",
            )),
        }
    }

    /// Generates a key under NAME where `source` says and registers it with
    /// `roles` (all author roles if empty).
    pub fn key_generate(
        &self,
        name: &str,
        roles: &[String],
        source: &KeySource,
    ) -> Result<KeyResult, Error> {
        let roles = default_roles(roles)?;
        let mut ledger = self.open_free(name)?;
        let key = self.new_key(name, source)?;
        self.register_new(&mut ledger, name, roles, &key)
    }

    /// Opens the ledger for writing, refusing a NAME that is registered or
    /// whose files exist already (checked before a token key is made).
    fn open_free(&self, name: &str) -> Result<Ledger, Error> {
        let ledger = self.open_write()?;
        if ledger.authority()?.active(name).is_some() {
            return Err(Error::input(
                format!("key {name:?} is already registered"),
                "choose another name, or `speclog key rotate NAME` to replace it",
            ));
        }
        for p in [
            self.keys.private_path(name)?,
            self.keys.ref_path(name)?,
            self.keys.public_path(name)?,
        ] {
            if p.exists() {
                return Err(KeyError::Exists(p).into());
            }
        }
        Ok(ledger)
    }

    /// Writes `key`'s files and appends its `key.add`; the files go again if
    /// the append fails.
    fn register_new(
        &self,
        ledger: &mut Ledger,
        name: &str,
        roles: Vec<String>,
        key: &NewKey,
    ) -> Result<KeyResult, Error> {
        let public_key = note::verifier_key_string(name, &key.verifying_key());
        let (priv_path, pub_path) = key.write(&self.keys, name, name)?;
        let add = KeyAdd {
            name: name.to_string(),
            public_key: public_key.clone(),
            roles: roles.clone(),
            replaces: None,
        };
        match self.append(ledger, ADMIN, vec![Draft::new(kinds::KEY_ADD, &add)]) {
            Ok(a) => Ok(KeyResult {
                name: name.into(),
                roles,
                public_key,
                location: key.location(&priv_path),
                private_file: Some(priv_path),
                public_file: Some(pub_path),
                seq: a.entries[0].0,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(priv_path);
                let _ = std::fs::remove_file(pub_path);
                Err(e)
            }
        }
    }

    /// Registers an existing key held by a token or ssh-agent under NAME:
    /// writes `NAME.key.ref` and `NAME.pub` and appends its `key.add`.
    pub fn key_register_held(
        &self,
        name: &str,
        source: &KeySource,
        roles: &[String],
    ) -> Result<KeyResult, Error> {
        entry::check_name(name).map_err(|_| KeyError::Name(name.into()))?;
        let roles = default_roles(roles)?;
        let mut ledger = self.open_free(name)?;
        let key = self.existing_key(source)?;
        self.register_new(&mut ledger, name, roles, &key)
    }

    /// Registers an existing public key (a `.pub` verifier-key file) under NAME.
    pub fn key_register(
        &self,
        name: &str,
        public_file: &Path,
        roles: &[String],
    ) -> Result<KeyResult, Error> {
        entry::check_name(name).map_err(|_| KeyError::Name(name.into()))?;
        let roles = default_roles(roles)?;
        let vk = keys::read_verifier_key(public_file)?;
        if vk.alg() != note::ALG_ED25519 {
            return Err(Error::input(
                format!("{} is not an Ed25519 signing key", public_file.display()),
                "register the .pub file written by `speclog key generate`",
            ));
        }
        let public_key = note::verifier_key_string(name, vk.verifying_key());
        let mut ledger = self.open_write()?;
        let add = KeyAdd {
            name: name.to_string(),
            public_key: public_key.clone(),
            roles: roles.clone(),
            replaces: None,
        };
        let a = self.append(&mut ledger, ADMIN, vec![Draft::new(kinds::KEY_ADD, &add)])?;
        Ok(KeyResult {
            name: name.into(),
            roles,
            public_key,
            private_file: None,
            public_file: Some(public_file.to_path_buf()),
            location: Location::Elsewhere.to_string(),
            seq: a.entries[0].0,
        })
    }

    /// Revokes NAME's active key.
    pub fn key_revoke(&self, name: &str, reason: Option<&str>) -> Result<Appended, Error> {
        let mut ledger = self.open_write()?;
        let auth = ledger.authority()?;
        let k = auth.active(name).ok_or_else(|| {
            Error::from(governance::GovError::Unknown {
                what: "active key",
                name: name.into(),
            })
        })?;
        let rev = KeyRevoke {
            name: name.into(),
            public_key: k.verifier.clone(),
            reason: reason.map(str::to_string),
        };
        self.append(
            &mut ledger,
            ADMIN,
            vec![Draft::new(kinds::KEY_REVOKE, &rev)],
        )
    }

    /// Where NAME's private key lives, for `key list`.
    pub fn key_location(&self, name: &str) -> Result<Location, Error> {
        Ok(self.keys.location(name)?)
    }

    /// Replaces NAME's active key with a new one (same roles) placed where
    /// `source` says: a new key file, a new key inside a token, or a key
    /// ssh-agent holds. So a signer can move from a file to a token. The
    /// replaced files are renamed `NAME.key.seqN` (or `NAME.key.ref.seqN`) /
    /// `NAME.pub.seqN`, so nothing is overwritten.
    ///
    /// Crash-safe: the new key is first staged beside the old one as
    /// `NAME.key.next` (or `NAME.key.ref.next`) / `NAME.pub.next` (new-only,
    /// complete or absent), then the `key.add` entry is appended, then the
    /// files are swapped (private key first, public key last). A process
    /// killed at any point leaves either the old key in force (no entry: the
    /// staged files are discarded) or the new one (entry committed: the swap
    /// is finished by the next command that signs as NAME, or by the retry,
    /// see [`Workspace::finish_rotation`]).
    pub fn key_rotate(&self, name: &str, source: &KeySource) -> Result<KeyResult, Error> {
        if name == ADMIN {
            return Err(Error::input(
                "the admin key is the log key and cannot be rotated in place",
                "start a new log with a new origin, or keep the admin key offline",
            ));
        }
        let mut ledger = self.open_write()?;
        // A rotation a killed run committed is finished, and is the result.
        if let Some(done) = self.finish_rotation(&ledger, name)? {
            return Ok(done);
        }
        let auth = ledger.authority()?;
        let old = auth
            .active(name)
            .ok_or_else(|| {
                Error::from(governance::GovError::Unknown {
                    what: "active key",
                    name: name.into(),
                })
            })?
            .clone();
        let key = self.new_key(name, source)?;
        let public_key = note::verifier_key_string(name, &key.verifying_key());
        let add = KeyAdd {
            name: name.to_string(),
            public_key: public_key.clone(),
            roles: old.roles.clone(),
            replaces: Some(old.verifier.clone()),
        };
        let files = self.rotation_files(name, old.added, matches!(key, NewKey::Ref(..)))?;
        let remove_staged = || {
            let _ = std::fs::remove_file(&files.key.1);
            let _ = std::fs::remove_file(&files.public.1);
        };
        match &key {
            NewKey::File(k, pass) => keys::write_private(&files.key.1, k, pass)?,
            NewKey::Ref(r, _) => keys::write_ref(&files.key.1, r)?,
        }
        if let Err(e) =
            keys::write_new(&files.public.1, format!("{public_key}\n").as_bytes(), 0o644)
        {
            remove_staged();
            return Err(e.into());
        }
        crate::fsx::crash_point("rotate.staged");
        let a = match self.append(&mut ledger, ADMIN, vec![Draft::new(kinds::KEY_ADD, &add)]) {
            Ok(a) => a,
            Err(e) => {
                remove_staged();
                return Err(e);
            }
        };
        crate::fsx::crash_point("rotate.committed");
        files.swap()?;
        Ok(KeyResult {
            name: name.into(),
            roles: old.roles,
            public_key,
            location: key.location(&files.key.0),
            private_file: Some(files.key.0),
            public_file: Some(files.public.0),
            seq: a.entries[0].0,
        })
    }

    /// The files of a rotation of NAME whose replaced key was added in entry
    /// `old_added`; `to_ref` when the new private key is a reference.
    fn rotation_files(
        &self,
        name: &str,
        old_added: u64,
        to_ref: bool,
    ) -> Result<RotationFiles, Error> {
        let (f, r, p) = (
            self.keys.private_path(name)?,
            self.keys.ref_path(name)?,
            self.keys.public_path(name)?,
        );
        let triple = |p: &Path, ext: &str| {
            (
                p.to_path_buf(),
                p.with_extension(format!("{ext}.next")),
                p.with_extension(format!("{ext}.seq{old_added}")),
            )
        };
        let (file, reference) = (triple(&f, "key"), triple(&r, "ref"));
        let (key, other) = if to_ref {
            (reference, file)
        } else {
            (file, reference)
        };
        Ok(RotationFiles {
            key,
            other: (other.0, other.2),
            public: triple(&p, "pub"),
        })
    }

    /// Finishes or discards a rotation of NAME that a killed process left
    /// staged (`NAME.pub.next` present). If the ledger holds its `key.add`
    /// (the staged public key is NAME's active key), the files are swapped
    /// into place and the rotation returned; otherwise the staged files are
    /// removed (the old key stays in force) and None returned.
    pub fn finish_rotation(&self, ledger: &Ledger, name: &str) -> Result<Option<KeyResult>, Error> {
        let Ok(staged_pub) = self
            .keys
            .public_path(name)
            .map(|p| p.with_extension("pub.next"))
        else {
            return Ok(None);
        };
        if !staged_pub.exists() {
            return Ok(None);
        }
        let staged_ref = self.keys.ref_path(name)?.with_extension("ref.next");
        let staged_file = self.keys.private_path(name)?.with_extension("key.next");
        let auth = ledger.authority()?;
        let staged = keys::read_verifier_key(&staged_pub).ok();
        let active = auth.active(name);
        let committed = match (&staged, active) {
            (Some(vk), Some(a)) => a.public == vk.verifying_key().to_bytes(),
            _ => false,
        };
        if !committed {
            let _ = std::fs::remove_file(&staged_file);
            let _ = std::fs::remove_file(&staged_ref);
            let _ = std::fs::remove_file(&staged_pub);
            return Ok(None);
        }
        let active = active.expect("committed implies active").clone();
        let replaced = auth
            .keys
            .iter()
            .find(|k| k.name == name && k.revoked == Some(active.added))
            .map_or(active.added, |k| k.added);
        // Which form the new key has: its staged file, or (the private
        // step done already) the form now in force.
        let to_ref =
            staged_ref.exists() || (!staged_file.exists() && self.keys.ref_path(name)?.exists());
        let files = self.rotation_files(name, replaced, to_ref)?;
        files.swap()?;
        let location = self.keys.location(name)?.to_string();
        Ok(Some(KeyResult {
            name: name.into(),
            roles: active.roles.clone(),
            public_key: active.verifier.clone(),
            private_file: Some(files.key.0),
            public_file: Some(files.public.0),
            location,
            seq: active.added,
        }))
    }
}

/// The files of a key rotation: for the private and the public key, (in
/// force, staged new, archive of the replaced one); and the replaced private
/// key of the other form (a key file replaced by a token reference, or the
/// reverse), (in force, archive).
struct RotationFiles {
    key: (PathBuf, PathBuf, PathBuf),
    other: (PathBuf, PathBuf),
    public: (PathBuf, PathBuf, PathBuf),
}

impl RotationFiles {
    /// Puts the staged files in force, archiving the replaced ones; each step
    /// is a rename that never overwrites, and the whole can be redone after
    /// a kill at any point (the private key goes first, the staged public key
    /// is the marker of an unfinished swap and goes last).
    fn swap(&self) -> Result<(), Error> {
        for (i, (cur, next, archive)) in [&self.key, &self.public].into_iter().enumerate() {
            if !next.exists() {
                continue;
            }
            archive_file(cur, archive)?;
            if i == 0 {
                archive_file(&self.other.0, &self.other.1)?;
            }
            crate::fsx::crash_point(if i == 0 {
                "rotate.archived-key"
            } else {
                "rotate.archived-pub"
            });
            rename_new(next, cur).map_err(io(next))?;
        }
        Ok(())
    }
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> Error {
    let p = p.display().to_string();
    move |e| Error::Io(p.clone(), e)
}

/// Renames `cur` (if present) to `archive`; a killed earlier try may have
/// archived it already, and then `cur` must be its copy.
fn archive_file(cur: &Path, archive: &Path) -> Result<(), Error> {
    if !cur.exists() {
        return Ok(());
    }
    if archive.exists() {
        if std::fs::read(cur).ok() != std::fs::read(archive).ok() {
            return Err(KeyError::Exists(archive.to_path_buf()).into());
        }
        return std::fs::remove_file(cur).map_err(io(cur));
    }
    rename_new(cur, archive).map_err(io(cur))
}

/// Renames `from` to `to` in the same directory, never replacing `to`.
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    let dir = from
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_string);
    let (Some(a), Some(b)) = (name(from), name(to)) else {
        return Err(std::io::Error::other("not a UTF-8 file name"));
    };
    let d = crate::fsx::Dir::open(dir)?;
    d.rename(&a, &b, crate::fsx::Replace::Never)?;
    d.sync()
}

pub(super) fn default_roles(roles: &[String]) -> Result<Vec<String>, Error> {
    let roles: Vec<String> = if roles.is_empty() {
        policy::AUTHOR_ROLES.iter().map(|s| s.to_string()).collect()
    } else {
        roles.to_vec()
    };
    for r in &roles {
        policy::check_role(r)?;
    }
    Ok(roles)
}
