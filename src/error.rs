//! The library's top-level error: every error an operation can return, with
//! its data. The CLI (`src/cli/hints.rs`) alone maps it to a hint and an exit code.

use thiserror::Error;

use crate::governance::GovError;
use crate::keys::KeyError;
use crate::ledger::entry::EntryError;
use crate::ledger::verify::VerifyError;
use crate::ledger::{LedgerError, StoreError};
use crate::site::SiteError;
use crate::witness::WitnessError;
use crate::witness::store::WitnessStoreError;

/// Any error a speclog operation can return.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("verification failed: {0}")]
    Verify(#[from] VerifyError),
    /// A published site (`verify --site`) failed: its hint speaks to a
    /// reader of the site, who holds a copy, not the ledger.
    #[error("verification failed: {0}")]
    SiteVerify(VerifyError),
    /// Bad input, with the hint the operation that refused it knows.
    #[error("{msg}")]
    Input { msg: String, hint: String },
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
            hint: hint.into(),
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
}
