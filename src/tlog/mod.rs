//! Merkle tree math for speclog's transparency log.
//!
//! This module implements the RFC 6962 / RFC 9162 Merkle tree (hashing,
//! tree heads, inclusion and consistency proofs), the C2SP `tlog-tiles` layout
//! (tile paths, tile contents, entry bundles and an authenticating tile
//! reader) and the C2SP `tlog-proof` file format.
//!
//! Everything here is pure computation: there is no I/O. Stored hashes are
//! obtained through the [`HashReader`] trait and published tiles through the
//! [`TileSource`] trait, so the caller decides where hashes live (a database,
//! a flat file, a directory of tiles or memory).
//!
//! The algorithms are a port of Go's `golang.org/x/mod/sumdb/tlog` package
//! (as are those of `cloudflare/azul`'s `tlog_tiles` crate), with stored hashes
//! addressed by [`NodeId`] (level, index) instead of Go's linear storage index.
//! [`stored_hash_index`] gives that linear index for callers that want a flat
//! hash file.
//!
//! All functions validate their inputs and report problems as [`TlogError`];
//! none of them panics on malformed or hostile input.

mod hash;
mod proof;
mod proof_file;
mod tile;

pub use hash::{
    EMPTY_ROOT, Frontier, HASH_SIZE, Hash, HashReader, MemoryHashes, NodeId, hashes_for_append,
    hashes_for_append_batch, leaf_hash, node_hash, split_stored_hash_index, stored_hash_count,
    stored_hash_index, tree_hash, tree_hash_ids,
};
pub use proof::{
    consistency_proof_ids, inclusion_proof_ids, prove_consistency, prove_inclusion,
    verify_consistency, verify_inclusion,
};
pub use proof_file::{
    CONSISTENCY_PROOF_HEADER, ConsistencyProofFile, INCLUSION_PROOF_HEADER, InclusionProofFile,
};
pub use tile::{
    MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, Tile, TileHashReader, TileSource, encode_bundle,
    full_tile_available, index_path, new_tiles, parse_bundle, partial_tiles_to_serve,
    read_tile_data, right_edge, tile_hash_of_data, tiles_for_size,
};

/// Errors reported by the Merkle tree, tile and proof-file functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogError {
    /// The arguments do not describe a valid request (for example an index
    /// outside the tree, or an old size larger than the new size).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// A proof did not verify against the given root(s).
    #[error("invalid proof")]
    InvalidProof,
    /// A [`HashReader`] did not have a hash that was asked for.
    #[error("missing hash at level {level} index {index}")]
    MissingHash {
        /// Level of the missing hash.
        level: u8,
        /// Index of the missing hash within its level.
        index: u64,
    },
    /// A [`HashReader`] returned the wrong number of hashes.
    #[error("hash reader returned {got} hashes, want {want}")]
    ReaderMismatch {
        /// Number of hashes returned.
        got: usize,
        /// Number of hashes requested.
        want: usize,
    },
    /// A storage backend (a [`HashReader`] or [`TileSource`]) failed.
    #[error("storage: {0}")]
    Storage(String),
    /// A tile path does not follow the C2SP tlog-tiles syntax.
    #[error("malformed tile path: {0:?}")]
    MalformedTilePath(String),
    /// Tile data has the wrong length for its tile.
    #[error("malformed tile {path}: {reason}")]
    MalformedTile {
        /// Path of the tile.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A published tile does not match the authenticated tree.
    #[error("inconsistent tile {0}: does not match the tree root")]
    InconsistentTile(String),
    /// An entry bundle is malformed.
    #[error("malformed entry bundle: {0}")]
    MalformedBundle(&'static str),
    /// An entry is longer than an entry bundle can hold.
    #[error("entry too large: {0} bytes (at most 65535)")]
    EntryTooLarge(usize),
    /// A proof file does not follow its format.
    #[error("malformed proof file: {0}")]
    MalformedProofFile(&'static str),
}

#[cfg(test)]
mod tests;
