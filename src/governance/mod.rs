//! The governance model: entry kinds, their payloads, who may sign them, and the
//! references between them.
//!
//! Every rule here is pure: it reads the ledger only through the [`Lookup`]
//! trait, which the store implements with indexed queries (at append time) and
//! [`State`] implements in memory (while `verify` replays the whole ledger), so
//! append and verify apply exactly the same rules.

pub mod clauses;
pub mod diff;
pub mod policy;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ledger::entry::Entry;
use crate::tlog::Hash;

pub use policy::{Authority, KeyState, Policy};

/// Entry kinds written by this version. Unknown kinds decode as [`Payload::Other`].
pub mod kinds {
    pub const LOG_INIT: &str = "log.init";
    pub const KEY_ADD: &str = "key.add";
    pub const KEY_REVOKE: &str = "key.revoke";
    pub const POLICY_SET: &str = "policy.set";
    pub const SPEC_RELEASE: &str = "spec.release";
    pub const SPEC_APPROVE: &str = "spec.approve";
    pub const EVAL_PREREGISTER: &str = "eval.preregister";
    pub const EVAL_RECORD: &str = "eval.record";
    pub const INCIDENT_OPEN: &str = "incident.open";
    pub const INCIDENT_UPDATE: &str = "incident.update";
    pub const INCIDENT_RESOLVE: &str = "incident.resolve";
    pub const INCIDENT_DISCLOSE: &str = "incident.disclose";
}

/// Media type of spec text.
pub const MEDIA_MARKDOWN: &str = "text/markdown; charset=utf-8";
/// Media type of a clause manifest.
pub const MEDIA_CLAUSES: &str = "application/vnd.speclog.clauses+json";
/// Media type of an evaluation results file.
pub const MEDIA_RESULTS: &str = "application/vnd.speclog.eval-results+json";

/// Errors from the governance rules.
#[derive(Debug, Error)]
pub enum GovError {
    #[error("payload of {kind} entry is malformed: {why}")]
    Payload { kind: String, why: String },
    #[error("unknown signer {0:?}")]
    UnknownSigner(String),
    #[error("signer {name:?} used a key that is not the one registered for it")]
    WrongKey { name: String },
    #[error("key {0:?} is revoked")]
    Revoked(String),
    #[error("signer {name:?} (roles: {roles}) may not sign {kind} entries (needs one of: {need})")]
    Unauthorised {
        name: String,
        roles: String,
        kind: String,
        need: String,
    },
    #[error("{0}")]
    Rule(String),
    #[error("unknown {what} {name:?}")]
    Unknown { what: &'static str, name: String },
    #[error("lookup failed: {0}")]
    Lookup(String),
}

/// A SHA-256 content reference: the entry carries this, the bytes live in the blob store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentRef {
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
}

impl ContentRef {
    /// Makes the reference for `data`.
    pub fn of(data: &[u8], media_type: &str) -> ContentRef {
        ContentRef {
            sha256: hex::encode(crate::ledger::entry::sha256(data)),
            size: data.len() as u64,
            media_type: media_type.to_string(),
        }
    }

    /// The digest as bytes, if well-formed.
    pub fn digest(&self) -> Option<Hash> {
        let v = hex::decode(&self.sha256).ok()?;
        v.try_into().ok()
    }
}

/// A reference to an earlier entry by sequence number and leaf hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRef {
    pub seq: u64,
    pub hash: String,
}

impl EntryRef {
    pub fn new(seq: u64, hash: &Hash) -> EntryRef {
        EntryRef {
            seq,
            hash: hex::encode(hash),
        }
    }
}

/// `log.init`: the first entry, signed by the admin key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogInit {
    /// The log origin, the first line of every checkpoint.
    pub origin: String,
    /// The log's verifier key (signed-note form), which signs checkpoints.
    pub log_key: String,
    pub policy: Policy,
}

/// `key.add`: registers a key under a name with roles; `replaces` rotates an active key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAdd {
    pub name: String,
    /// Verifier key (signed-note form) of the key.
    pub public_key: String,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// `key.revoke`: the key can sign nothing after this entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevoke {
    pub name: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `policy.set`: replaces the policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    pub policy: Policy,
}

/// Where an imported release came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSource {
    pub commit: String,
    pub path: String,
    pub author_date: String,
    pub committer: String,
    pub subject: String,
}

/// `spec.release`: a version of the spec bound to its content digest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRelease {
    pub label: String,
    pub content: ContentRef,
    /// The clause manifest (a JSON array of [`clauses::Clause`]) derived from the content.
    pub clauses: ContentRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<ContentRef>,
    /// Set on a deliberate re-release of a label: the release it supersedes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<EntryRef>,
    /// Incident ids this release fixes (a post-incident revision).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<GitSource>,
}

/// A decoded payload.
#[derive(Clone, Debug)]
pub enum Payload {
    LogInit(LogInit),
    KeyAdd(KeyAdd),
    KeyRevoke(KeyRevoke),
    PolicySet(PolicySet),
    SpecRelease(SpecRelease),
    /// A kind this version does not interpret; its signature and chain are still checked.
    Other(serde_json::Value),
}

fn de<T: serde::de::DeserializeOwned>(kind: &str, b: &[u8]) -> Result<T, GovError> {
    serde_json::from_slice(b).map_err(|e| GovError::Payload {
        kind: kind.to_string(),
        why: e.to_string(),
    })
}

impl Payload {
    /// Decodes the payload of an entry of `kind`.
    pub fn decode(kind: &str, b: &[u8]) -> Result<Payload, GovError> {
        Ok(match kind {
            kinds::LOG_INIT => Payload::LogInit(de(kind, b)?),
            kinds::KEY_ADD => Payload::KeyAdd(de(kind, b)?),
            kinds::KEY_REVOKE => Payload::KeyRevoke(de(kind, b)?),
            kinds::POLICY_SET => Payload::PolicySet(de(kind, b)?),
            kinds::SPEC_RELEASE => Payload::SpecRelease(de(kind, b)?),
            _ => Payload::Other(de(kind, b)?),
        })
    }

    /// The subject an entry is indexed by (a label, an incident id, a key name), or "".
    pub fn subject(&self) -> String {
        match self {
            Payload::LogInit(p) => p.origin.clone(),
            Payload::KeyAdd(p) => p.name.clone(),
            Payload::KeyRevoke(p) => p.name.clone(),
            Payload::PolicySet(_) => String::new(),
            Payload::SpecRelease(p) => p.label.clone(),
            Payload::Other(v) => ["id", "label", "name"]
                .iter()
                .find_map(|k| v.get(k).and_then(|s| s.as_str()))
                .unwrap_or("")
                .to_string(),
        }
    }

    /// Content blobs the payload references.
    pub fn content_refs(&self) -> Vec<&ContentRef> {
        match self {
            Payload::SpecRelease(p) => {
                let mut v = vec![&p.content, &p.clauses];
                v.extend(p.notes.as_ref());
                v
            }
            _ => Vec::new(),
        }
    }
}

/// Serialises a payload struct to the JSON bytes that get signed.
pub fn to_payload<T: Serialize>(p: &T) -> Vec<u8> {
    serde_json::to_vec(p).expect("payload structs always serialise")
}

/// A spec release as the rules need it.
#[derive(Clone, Debug)]
pub struct ReleaseRec {
    pub seq: u64,
    pub hash: Hash,
    pub label: String,
    pub content: ContentRef,
}

/// Read access to what the rules need to know about earlier entries.
pub trait Lookup {
    /// Every release with `label`, in ledger order.
    fn releases(&self, label: &str) -> Result<Vec<ReleaseRec>, GovError>;
    /// The key and policy state as of the end of the ledger.
    fn authority(&self) -> Result<Authority, GovError>;
}

/// Checks a label: 1-128 of `[A-Za-z0-9._+-]`, starting with a letter or digit.
/// Labels appear in URLs and file names, so nothing else is allowed.
pub fn check_label(label: &str) -> Result<(), GovError> {
    let ok = !label.is_empty()
        && label.len() <= 128
        && label.as_bytes()[0].is_ascii_alphanumeric()
        && label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(GovError::Rule(format!(
            "invalid version label {label:?}: use 1-128 of A-Z a-z 0-9 . _ + - starting with a letter or digit"
        )))
    }
}

/// Checks the references of a new or replayed entry against the ledger before it.
/// Authorisation is checked separately by [`Authority::authorize`].
pub fn check_references(entry: &Entry, payload: &Payload, l: &impl Lookup) -> Result<(), GovError> {
    match payload {
        Payload::SpecRelease(p) => {
            check_label(&p.label)?;
            let prior = l.releases(&p.label)?;
            match (prior.last(), &p.supersedes) {
                (None, None) => Ok(()),
                (None, Some(_)) => Err(GovError::Rule(format!(
                    "release {:?} says it supersedes an earlier release, but the label was never released",
                    p.label
                ))),
                (Some(last), None) => {
                    if last.content.sha256 == p.content.sha256 {
                        Err(GovError::Rule(format!(
                            "version {:?} is already released with this content (entry {})",
                            p.label, last.seq
                        )))
                    } else {
                        Err(GovError::Rule(format!(
                            "version {:?} was already released (entry {}) with different content",
                            p.label, last.seq
                        )))
                    }
                }
                (Some(last), Some(s)) => {
                    if s.seq != last.seq || s.hash != hex::encode(last.hash) {
                        return Err(GovError::Rule(format!(
                            "release {:?} supersedes entry {}, but the latest release of that label is entry {}",
                            p.label, s.seq, last.seq
                        )));
                    }
                    if last.content.sha256 == p.content.sha256 {
                        return Err(GovError::Rule(format!(
                            "re-release of {:?} has the same content as entry {}",
                            p.label, last.seq
                        )));
                    }
                    Ok(())
                }
            }
        }
        Payload::LogInit(_) if entry.seq != 0 => {
            Err(GovError::Rule("log.init may only be entry 0".into()))
        }
        Payload::LogInit(_) => Ok(()),
        _ if entry.seq == 0 => Err(GovError::Rule("entry 0 must be log.init".into())),
        _ => Ok(()),
    }
}

/// In-memory state built by replaying the ledger in order (used by `verify`).
#[derive(Default)]
pub struct State {
    pub authority: Authority,
    releases: BTreeMap<String, Vec<ReleaseRec>>,
}

impl State {
    /// Applies an entry that already passed [`check_references`] and authorisation.
    pub fn apply(&mut self, entry: &Entry, hash: &Hash, payload: &Payload) -> Result<(), GovError> {
        self.authority.apply(entry, payload)?;
        self.record(entry, hash, payload)
    }

    /// Records what the entry adds to the indexes (releases, incidents, ...), leaving
    /// the authority alone.
    pub fn record(
        &mut self,
        entry: &Entry,
        hash: &Hash,
        payload: &Payload,
    ) -> Result<(), GovError> {
        if let Payload::SpecRelease(p) = payload {
            self.releases
                .entry(p.label.clone())
                .or_default()
                .push(ReleaseRec {
                    seq: entry.seq,
                    hash: *hash,
                    label: p.label.clone(),
                    content: p.content.clone(),
                });
        }
        Ok(())
    }
}

impl Lookup for State {
    fn releases(&self, label: &str) -> Result<Vec<ReleaseRec>, GovError> {
        Ok(self.releases.get(label).cloned().unwrap_or_default())
    }
    fn authority(&self) -> Result<Authority, GovError> {
        Ok(self.authority.clone())
    }
}
