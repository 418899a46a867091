//! speclog: a signed, hash-chained, transparency-logged history of an AI model spec.
//!
//! The library holds all logic; the `speclog` binary only parses arguments,
//! calls [`app::Workspace`] and explains errors.
//!
//! - [`ledger`]: the entry encoding, the SQLite store, append and verify.
//! - [`tlog`]: RFC 6962/9162 Merkle math, proofs and C2SP tlog-tiles (pure).
//! - [`note`]: C2SP signed notes, checkpoints and cosignatures (pure).
//! - [`keys`]: key files.
//! - [`fsx`]: safe file creation (new-only temporary files relative to a directory handle) and capped reads.
//! - [`governance`]: entry kinds, policy, clauses and references.
//! - [`site`]: the public transparency site (static pages, feed, preview server).
//! - [`witness`]: witness cosigning and witness policies (C2SP tlog-witness, tlog-policy).
//! - [`app`]: the operations behind each command.

pub mod app;
pub mod base;
pub mod config;
pub mod error;
pub mod fsx;
pub mod governance;
pub mod keys;
pub mod layout;
pub mod ledger;
pub mod note;
pub mod policy;
pub mod published;
pub mod site;
pub mod tlog;
pub mod witness;

pub use error::Error;
