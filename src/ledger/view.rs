//! An entry decoded for display and JSON output (`speclog show`, `log`, the site).

use serde::Serialize;

use super::entry::{Entry, EntryError, entry_hash};
use crate::governance::Payload;

/// An entry decoded for display and JSON output.
#[derive(Clone, Debug, Serialize)]
pub struct EntryView {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub subject: String,
    pub signer: String,
    pub signer_key: String,
    pub hash: String,
    pub prev: String,
    pub payload: serde_json::Value,
    pub signature: String,
    pub size: usize,
}

impl EntryView {
    /// Builds the view of an encoded entry.
    pub fn from_bytes(bytes: &[u8]) -> Result<EntryView, EntryError> {
        let e = Entry::decode(bytes)?;
        let subject = Payload::decode(&e.kind, &e.payload)
            .map(|p| p.subject())
            .unwrap_or_default();
        Ok(EntryView {
            seq: e.seq,
            time: e.time.clone(),
            kind: e.kind.clone(),
            subject,
            signer: e.signer.clone(),
            signer_key: hex::encode(e.signer_key),
            hash: hex::encode(entry_hash(bytes)),
            prev: hex::encode(e.prev),
            payload: e.payload_json(),
            signature: hex::encode(e.signature),
            size: bytes.len(),
        })
    }
}
