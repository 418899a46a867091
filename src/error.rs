//! The library's top-level error, with a hint for humans and an exit code.

use thiserror::Error;

use crate::base::FieldError;
use crate::governance::GovError;
use crate::keys::KeyError;
use crate::ledger::entry::EntryError;
use crate::ledger::verify::VerifyError;
use crate::ledger::{LedgerError, StoreError};
use crate::site::SiteError;
use crate::witness::WitnessError;
use crate::witness::store::WitnessStoreError;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code when verification found a problem.
pub const EXIT_VERIFY: i32 = 1;
/// Exit code for usage or input errors.
pub const EXIT_INPUT: i32 = 2;

/// Any error a speclog operation can return.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("verification failed: {0}")]
    Verify(#[from] VerifyError),
    #[error("{msg}")]
    Input { msg: String, hint: Option<String> },
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("site: {0}")]
    Site(#[from] SiteError),
    #[error(transparent)]
    Witness(#[from] WitnessError),
}

impl From<GovError> for Error {
    fn from(e: GovError) -> Self {
        Error::Ledger(LedgerError::Gov(e))
    }
}

impl From<EntryError> for Error {
    fn from(e: EntryError) -> Self {
        Error::Ledger(LedgerError::Entry(e))
    }
}

impl From<WitnessStoreError> for Error {
    fn from(e: WitnessStoreError) -> Self {
        match e {
            WitnessStoreError::Io(what, e) => Error::Io(what, e),
            WitnessStoreError::Key(k) => Error::Key(k),
            WitnessStoreError::Witness(w) => Error::Witness(w),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Ledger(LedgerError::Store(e))
    }
}

impl Error {
    /// An input error with a hint.
    pub fn input(msg: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Input {
            msg: msg.into(),
            hint: Some(hint.into()),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Verify(_) => EXIT_VERIFY,
            Error::Witness(w) if w.is_verification_failure() => EXIT_VERIFY,
            Error::Ledger(LedgerError::Store(StoreError::Corrupt(_))) => EXIT_VERIFY,
            _ => EXIT_INPUT,
        }
    }

    /// Whether the operation failed because the disk (or a quota) is full.
    pub fn disk_full(&self) -> bool {
        let io = match self {
            Error::Io(_, e) | Error::Key(KeyError::Io(_, e)) => Some(e),
            Error::Site(SiteError::Io { source, .. }) => Some(source),
            _ => None,
        };
        if io.is_some_and(crate::fsx::is_disk_full) {
            return true;
        }
        match self {
            Error::Ledger(LedgerError::Store(StoreError::DiskFull(_))) => return true,
            Error::Ledger(LedgerError::Store(StoreError::Sqlite(e)))
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) =>
            {
                return true;
            }
            _ => {}
        }
        // Errors that carry their cause as text (SQLite's and the OS's words).
        let text = self.to_string();
        text.contains("No space left on device")
            || text.contains("database or disk is full")
            || text.contains("Disk quota exceeded")
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        if self.disk_full() {
            return Some(
                "the disk is full: free some space on it (or raise the quota) and run the command again; nothing partial was kept".into(),
            );
        }
        Some(match self {
            Error::Input { hint, .. } => return hint.clone(),
            Error::Witness(w) => return w.hint(),
            Error::Verify(v) => {
                let p = v.place.as_str();
                if p.starts_with("proof") || p == "entry" {
                    "check that --key is this log's verifier key and that the proof file is intact".into()
                } else if malformed_since(v) {
                    "give the file `speclog checkpoint` printed (a signed note: origin, size, root, a blank line, signatures), unchanged".into()
                } else if p.starts_with("--since") {
                    "the older checkpoint must be signed by the same log key; if it is, the log forked or was rolled back: keep both checkpoints as evidence".into()
                } else if p == "witnesses" {
                    "the checkpoint lacks the witness cosignatures the policy requires: have the witnesses cosign it (`speclog witness cosign`), add their lines with `speclog checkpoint add-cosignature`, and rebuild the site".into()
                } else if p.starts_with("log/") {
                    "the published site is damaged or was changed; fetch it again or rebuild it from the ledger".into()
                } else {
                    match v.seq {
                        Some(s) => format!(
                            "the ledger was changed outside speclog at entry {s}; restore it from a backup or a published copy and run `speclog verify` again"
                        ),
                        None => "the ledger was changed outside speclog; restore it from a backup or a published copy".into(),
                    }
                }
            }
            Error::Key(k) => match k {
                KeyError::Name(_) => "key names become file names: use letters, digits, '.', '_' and '-'".into(),
                KeyError::Missing(p) if p.file_name().is_some_and(|f| f == "admin.key") => {
                    "the admin (log) key signs key and policy changes; point --keys at the directory `speclog init` wrote admin.key to".into()
                }
                KeyError::Missing(p) => format!(
                    "create it with `speclog key generate NAME`, or point --keys at the directory holding {}",
                    p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
                ),
                KeyError::Exists(_) => "choose another name, or move the old file away first; speclog never overwrites keys".into(),
                KeyError::Permissions { path, .. } => format!("run `chmod 600 {}`", path.display()),
                KeyError::NeedPassphrase(_) => "give --passphrase-file FILE or set SPECLOG_PASSPHRASE, or run on a terminal to be asked".into(),
                KeyError::WrongPassphrase(_) => "check the passphrase (file, SPECLOG_PASSPHRASE or prompt) and try again".into(),
                KeyError::EmptyPassphrase => "use a non-empty passphrase, or none at all for an unencrypted key".into(),
                KeyError::Malformed(..) => "the key file is damaged; restore it from a backup".into(),
                KeyError::BadPublic(..) => "a public key file holds one line: name+hexkeyid+base64key".into(),
                KeyError::Io(..) => "check the file: its path, permissions and contents".into(),
                _ => return None,
            },
            Error::Ledger(l) => match l {
                LedgerError::Store(s) => match s {
                    StoreError::NotInitialised(_) => "run `speclog init --origin example.org/model-spec` first, or point --ledger (SPECLOG_LEDGER) at an existing ledger directory".into(),
                    StoreError::AlreadyInitialised(_) => "this directory already holds a ledger; use another --ledger directory".into(),
                    StoreError::NotALedger(..) => "the file is not a speclog ledger or is damaged; run `speclog verify` on a backup, or point --ledger elsewhere".into(),
                    StoreError::NoShm(_) => "copy the ledger directory somewhere you can write (cp -r) and read the copy, or mount it read-only".into(),
                    StoreError::ReadOnly(_) => "writing needs write access to the ledger file and its directory (SQLite keeps ledger.sqlite-wal and -shm beside it); reading works without".into(),
                    StoreError::Busy(_) => "another speclog process is writing; retry, or raise --lock-timeout".into(),
                    StoreError::Corrupt(_) => "run `speclog verify` to find the damaged entry".into(),
                    StoreError::Conflict => "another writer appended at the same time; run the command again".into(),
                    _ => return None,
                },
                LedgerError::Gov(g) => match g {
                    GovError::UnknownSigner(n) => format!(
                        "register the key first: `speclog key generate {n}` (or `speclog key register {n} --public FILE`)"
                    ),
                    GovError::Revoked(_) => "a revoked key can sign nothing; use another registered key".into(),
                    GovError::Unauthorised { .. } => "use a key with that role, or have the admin register one with `speclog key generate NAME --role ROLE`".into(),
                    GovError::WrongKey { .. } => "the private key file does not match the key registered under that name".into(),
                    GovError::Unknown { .. } => "check the name with `speclog log`".into(),
                    GovError::Rule(m) if m.contains("already released (entry") => {
                        "to re-release a label with new content on purpose, add --revision; otherwise choose a new --version".into()
                    }
                    GovError::Rule(m) if m.contains("invalid version label") => "example: --version 2025-09-12".into(),
                    GovError::Rule(m) if m.contains("is already released with this content") => {
                        "nothing to do: the ledger already holds this text under that label; to release it under another, choose a new --version".into()
                    }
                    GovError::Rule(m) if m == "the admin key cannot be revoked" => {
                        "the admin key is the log's own key; revoke other keys by name (see `speclog key list`)".into()
                    }
                    GovError::Rule(m) if m.contains("a resolved incident is closed") => {
                        "open a new incident with `speclog incident open` to revisit it".into()
                    }
                    GovError::Rule(m) if m.ends_with("contains a control character") => {
                        "remove the control characters (tabs, newlines, escapes) from the text".into()
                    }
                    GovError::Rule(m) if m.starts_with("invalid role") => {
                        "roles are words like spec-owner, evaluator, incident-responder or safety".into()
                    }
                    _ => return None,
                },
                LedgerError::Origin(_) => "example: --origin example.org/model-spec".into(),
                LedgerError::Entry(EntryError::Field(FieldError::Time(_))) => {
                    "give --time (SPECLOG_TIME) as RFC 3339 UTC, e.g. 2025-09-12T17:00:00Z, or omit it".into()
                }
                LedgerError::NoEntry(_) => "give a sequence number or at least 4 hex digits of an entry hash (see `speclog log`)".into(),
                LedgerError::Ambiguous(_) => "give more hex digits of the hash".into(),
                LedgerError::TimeBackwards(..) => "entry times never go backwards; give a later --time or none".into(),
                _ => return None,
            },
            Error::Io(..) => return None,
            Error::Site(s) => match s {
                SiteError::Ledger(_) => "run `speclog verify` to check the ledger".into(),
                SiteError::Path(_) | SiteError::Symlink(_) => {
                    "build into a fresh directory with --out DIR".into()
                }
                SiteError::Serve(_) => "choose another port with --port, or 0 for any free port".into(),
                SiteError::NotASite(_) => "build into a new or empty directory with --out DIR; or give --force to build into this one anyway (files of the same names, such as index.html and style.css, are overwritten; no other file is removed)".into(),
                _ => return None,
            },
        })
    }
}

/// Whether a verification failed because the `--since` file is not a
/// checkpoint at all (rather than one that disagrees with the log).
fn malformed_since(v: &crate::ledger::verify::VerifyError) -> bool {
    v.place.starts_with("--since") && v.what.starts_with("malformed")
}
