//! speclog: a signed, hash-chained, transparency-logged history of an AI model spec.
//!
//! The library holds all logic; the `speclog` binary only parses arguments,
//! calls [`app::Workspace`] and explains errors.
//!
//! - [`ledger`]: the entry encoding, the SQLite store, append and verify.
//! - [`tlog`]: RFC 6962/9162 Merkle math, proofs and C2SP tlog-tiles (pure).
//! - [`base`]: SHA-256 and the checks of times, kinds and key names (pure, the bottom layer).
//! - [`note`]: C2SP signed notes, checkpoints and cosignatures, one file per format (pure).
//! - [`policy`]: C2SP tlog-policy witness policies (pure).
//! - [`layout`]: every published path, shared by the site writer and [`published`] (pure).
//! - [`sign`]: the Ed25519 signer interface every key backend implements (pure).
//! - [`keys`]: key files, PKCS#11 tokens and ssh-agent keys.
//! - [`fsx`]: safe file creation (new-only temporary files relative to a directory handle) and capped reads.
//! - [`governance`]: entry kinds, policy, clauses and references.
//! - [`site`]: the public transparency site (static pages, feed, preview server).
//! - [`witness`]: witness cosigning (C2SP tlog-witness): the state machine, its files, its HTTP framing.
//! - [`app`]: the operations behind each command, and [`error`], their error type.
//!
//! Layers (checked by `tests/layers.rs`): formats -> files -> domain -> I/O ->
//! site/HTTP -> app -> CLI, each importing only its own layer and those below.

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
pub mod sign;
pub mod site;
pub mod tlog;
pub mod witness;

pub use error::Error;
