//! The governance model: entry kinds, their payloads, who may sign them, and the
//! references between them.
//!
//! Every rule here is pure: it reads the ledger only through the [`Lookup`]
//! trait, which the store implements with indexed queries (at append time) and
//! [`State`] implements in memory (while `verify` replays the whole ledger), so
//! append and verify apply exactly the same rules.

pub mod anchor;
pub mod clauses;
pub mod diff;
pub mod eval;
pub mod ids;
pub mod incident;
pub mod policy;

use std::collections::{BTreeMap, BTreeSet};

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
    #[error(
        "invalid version label {0:?}: use 1-128 of A-Z a-z 0-9 . _ + - starting with a letter or digit"
    )]
    InvalidLabel(String),
    #[error("version {label:?} was already released (entry {seq}) with different content")]
    AlreadyReleased { label: String, seq: u64 },
    #[error("version {label:?} is already released with this content (entry {seq})")]
    SameContent { label: String, seq: u64 },
    #[error("re-release of {label:?} has the same content as entry {seq}")]
    ReReleaseSameContent { label: String, seq: u64 },
    #[error("the admin key cannot be revoked")]
    AdminNotRevocable,
    #[error(
        "incident {id} was resolved in entry {seq}; a resolved incident is closed (open a new incident to revisit it)"
    )]
    IncidentClosed { id: String, seq: u64 },
    #[error("{what} contains a control character")]
    ControlChar { what: String },
    #[error("invalid role {0:?}: use lowercase letters, digits and '-'")]
    InvalidRole(String),
    #[error("this public key is already registered (as {0:?})")]
    KeyRegistered(String),
    #[error("unknown {what} {name:?}")]
    Unknown { what: &'static str, name: String },
    #[error("lookup failed: {0}")]
    Lookup(String),
    /// The store met damaged pages while the rules read it (the store's
    /// `Damaged` error, carried up as text: the domain knows no store).
    #[error("the ledger file is damaged ({0})")]
    Damaged(String),
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
            sha256: hex::encode(crate::base::sha256(data)),
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

/// A link to one release of a spec version: the label and the release entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecLink {
    pub label: String,
    pub release: EntryRef,
}

/// `spec.approve`: a signer approves the latest release of a label in one of its roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecApprove {
    pub label: String,
    pub release: EntryRef,
    /// The approving role: one of the signer's roles and of the policy's approval roles.
    pub role: String,
}

/// A decoded payload.
#[derive(Clone, Debug)]
pub enum Payload {
    LogInit(LogInit),
    KeyAdd(KeyAdd),
    KeyRevoke(KeyRevoke),
    PolicySet(PolicySet),
    SpecRelease(SpecRelease),
    SpecApprove(SpecApprove),
    EvalPreregister(eval::Preregistration),
    EvalRecord(eval::EvalRecord),
    IncidentOpen(incident::Open),
    IncidentUpdate(incident::Update),
    IncidentResolve(incident::Resolve),
    IncidentDisclose(incident::Disclose),
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
            kinds::SPEC_APPROVE => Payload::SpecApprove(de(kind, b)?),
            kinds::EVAL_PREREGISTER => Payload::EvalPreregister(de(kind, b)?),
            kinds::EVAL_RECORD => Payload::EvalRecord(de(kind, b)?),
            kinds::INCIDENT_OPEN => Payload::IncidentOpen(de(kind, b)?),
            kinds::INCIDENT_UPDATE => Payload::IncidentUpdate(de(kind, b)?),
            kinds::INCIDENT_RESOLVE => Payload::IncidentResolve(de(kind, b)?),
            kinds::INCIDENT_DISCLOSE => Payload::IncidentDisclose(de(kind, b)?),
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
            Payload::SpecApprove(p) => p.label.clone(),
            Payload::EvalPreregister(p) => p.id.clone(),
            Payload::EvalRecord(p) => p.id.clone(),
            Payload::IncidentOpen(p) => p.id.clone(),
            Payload::IncidentUpdate(p) => p.id.clone(),
            Payload::IncidentResolve(p) => p.id.clone(),
            Payload::IncidentDisclose(p) => p.id.clone(),
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
            Payload::EvalRecord(p) => vec![&p.results],
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
    /// Its clause manifest.
    pub clauses: ContentRef,
}

/// What the rules need to know about one release entry beyond [`ReleaseRec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseInfo {
    pub seq: u64,
    pub hash: Hash,
    pub label: String,
    /// Incident ids the release says it fixes.
    pub fixes: Vec<String>,
}

/// One `spec.approve` of a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApprovalRec {
    pub seq: u64,
    pub time: String,
    pub signer: String,
    pub role: String,
    pub release: EntryRef,
}

impl ApprovalRec {
    /// The record of a `spec.approve` entry.
    pub fn of(entry: &Entry, p: &SpecApprove) -> ApprovalRec {
        ApprovalRec {
            seq: entry.seq,
            time: entry.time.clone(),
            signer: entry.signer.clone(),
            role: p.role.clone(),
            release: p.release.clone(),
        }
    }
}

/// The clause ids of one release, shared (a spec has hundreds of clauses and
/// every evaluation and incident against the release asks for them).
pub type ClauseIds = std::sync::Arc<BTreeSet<String>>;

/// Read access to what the rules need to know about earlier entries.
pub trait Lookup {
    /// Every release with `label`, in ledger order.
    fn releases(&self, label: &str) -> Result<Vec<ReleaseRec>, GovError>;
    /// The key and policy state as of the end of the ledger.
    fn authority(&self) -> Result<Authority, GovError>;
    /// Number of entries of `kind` (one of [`kinds`]).
    fn count(&self, kind: &str) -> Result<u64, GovError>;
    /// The release entry at `seq`, if that entry is a release.
    fn release_at(&self, seq: u64) -> Result<Option<ReleaseInfo>, GovError>;
    /// The clause ids of the release entry at `seq`, from its clause manifest.
    fn release_clauses(&self, seq: u64) -> Result<ClauseIds, GovError>;
    /// The latest release of any label (the document's previous release, for
    /// a release about to be appended).
    fn last_release(&self) -> Result<Option<ReleaseRec>, GovError>;
    /// Whether `label` has a release at all, and whether entry `seq` with
    /// hash `hash` (lowercase hex) is one of them.
    fn release_link(&self, label: &str, seq: u64, hash: &str) -> Result<(bool, bool), GovError> {
        Ok(link_in(&self.releases(label)?, seq, hash))
    }
    /// The incident `id`, folded over its entries.
    fn incident(&self, id: &str) -> Result<Option<incident::IncidentRec>, GovError>;
    /// The pre-registration entry at `seq`, if that entry is one.
    fn preregistration_at(&self, seq: u64) -> Result<Option<eval::PreregRec>, GovError>;
    /// The approvals of the latest release of `label`, in ledger order.
    fn approvals(&self, label: &str) -> Result<Vec<ApprovalRec>, GovError>;
}

/// A reference to a lookup is one (so `&dyn Store`-backed lookups, which are
/// unsized, can be passed as `&dyn Lookup`).
impl<L: Lookup + ?Sized> Lookup for &L {
    fn releases(&self, label: &str) -> Result<Vec<ReleaseRec>, GovError> {
        (**self).releases(label)
    }
    fn authority(&self) -> Result<Authority, GovError> {
        (**self).authority()
    }
    fn count(&self, kind: &str) -> Result<u64, GovError> {
        (**self).count(kind)
    }
    fn release_at(&self, seq: u64) -> Result<Option<ReleaseInfo>, GovError> {
        (**self).release_at(seq)
    }
    fn release_clauses(&self, seq: u64) -> Result<ClauseIds, GovError> {
        (**self).release_clauses(seq)
    }
    fn last_release(&self) -> Result<Option<ReleaseRec>, GovError> {
        (**self).last_release()
    }
    fn incident(&self, id: &str) -> Result<Option<incident::IncidentRec>, GovError> {
        (**self).incident(id)
    }
    fn preregistration_at(&self, seq: u64) -> Result<Option<eval::PreregRec>, GovError> {
        (**self).preregistration_at(seq)
    }
    fn approvals(&self, label: &str) -> Result<Vec<ApprovalRec>, GovError> {
        (**self).approvals(label)
    }
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
        Err(GovError::InvalidLabel(label.to_string()))
    }
}

/// Checks the references of a new or replayed entry against the ledger before it.
/// Authorisation is checked separately by [`Authority::authorize`].
pub fn check_references(entry: &Entry, payload: &Payload, l: &impl Lookup) -> Result<(), GovError> {
    match payload {
        Payload::LogInit(_) if entry.seq != 0 => {
            Err(GovError::Rule("log.init may only be entry 0".into()))
        }
        Payload::LogInit(p) => check_policy(&p.policy),
        _ if entry.seq == 0 => Err(GovError::Rule("entry 0 must be log.init".into())),
        Payload::PolicySet(p) => check_policy(&p.policy),
        Payload::SpecRelease(p) => {
            check_release(p, l)?;
            check_fixes(p, l)
        }
        Payload::SpecApprove(p) => check_approve(entry, p, l),
        Payload::EvalPreregister(p) => {
            check_id(&p.id, "PREREG", l.count(kinds::EVAL_PREREGISTER)?)?;
            check_spec_link(&p.spec, l)?;
            eval::check_thresholds(&p.thresholds).map_err(GovError::Rule)?;
            check_text_field("suite name", &p.suite.name)?;
            check_text_field("suite version", &p.suite.version)?;
            let ids: Vec<&String> = p.thresholds.iter().flat_map(|t| &t.clauses).collect();
            check_clauses_exist(&p.spec, ids, l)
        }
        Payload::EvalRecord(p) => check_eval(p, l),
        Payload::IncidentOpen(p) => {
            check_id(&p.id, "INC", l.count(kinds::INCIDENT_OPEN)?)?;
            incident::check_open_fields(p, &entry.time)?;
            check_spec_link(&p.spec, l)?;
            check_clauses_exist(&p.spec, p.clauses.iter(), l)
        }
        Payload::IncidentUpdate(p) => {
            open_incident(&p.id, l)?;
            if !matches!(
                p.status,
                incident::Status::Investigating
                    | incident::Status::Mitigated
                    | incident::Status::Monitoring
            ) {
                return Err(GovError::Rule(format!(
                    "an update sets status investigating, mitigated or monitoring, not {}",
                    p.status.as_str()
                )));
            }
            incident::check_text("note", &p.note, incident::MAX_TEXT)
        }
        Payload::IncidentResolve(p) => {
            open_incident(&p.id, l)?;
            incident::check_text("resolution", &p.resolution, incident::MAX_TEXT)?;
            if let Some(f) = &p.fixed_by {
                check_spec_link(f, l)?;
                let fixes = l
                    .release_at(f.release.seq)?
                    .map(|r| r.fixes)
                    .unwrap_or_default();
                if !fixes.contains(&p.id) {
                    return Err(GovError::Rule(format!(
                        "release {} (entry {}) does not list {} in its fixes",
                        f.label, f.release.seq, p.id
                    )));
                }
            }
            Ok(())
        }
        Payload::IncidentDisclose(p) => {
            let rec = l.incident(&p.id)?.ok_or_else(|| GovError::Unknown {
                what: "incident",
                name: p.id.clone(),
            })?;
            incident::check_disclosure(&rec, p)
        }
        Payload::KeyAdd(_) | Payload::KeyRevoke(_) | Payload::Other(_) => Ok(()),
    }
}

fn check_release(p: &SpecRelease, l: &impl Lookup) -> Result<(), GovError> {
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
                Err(GovError::SameContent {
                    label: p.label.clone(),
                    seq: last.seq,
                })
            } else {
                Err(GovError::AlreadyReleased {
                    label: p.label.clone(),
                    seq: last.seq,
                })
            }
        }
        (Some(last), Some(s)) => {
            if s.seq != last.seq || !hex_eq(&last.hash, &s.hash) {
                return Err(GovError::Rule(format!(
                    "release {:?} supersedes entry {}, but the latest release of that label is entry {}",
                    p.label, s.seq, last.seq
                )));
            }
            if last.content.sha256 == p.content.sha256 {
                return Err(GovError::ReReleaseSameContent {
                    label: p.label.clone(),
                    seq: last.seq,
                });
            }
            Ok(())
        }
    }
}

/// Checks a policy's approval rule: 1 to N distinct, well-formed roles and a quorum of 1 to N.
pub fn check_policy(p: &Policy) -> Result<(), GovError> {
    if let Some(a) = &p.release_approvals {
        for (i, r) in a.roles.iter().enumerate() {
            policy::check_role(r)?;
            if a.roles[..i].contains(r) {
                return Err(GovError::Rule(format!(
                    "approval role {r:?} is listed twice"
                )));
            }
        }
        if a.roles.is_empty() || a.quorum == 0 || a.quorum as usize > a.roles.len() {
            return Err(GovError::Rule(format!(
                "release approvals need 1 to {} of the {} roles, not {}",
                a.roles.len(),
                a.roles.len(),
                a.quorum
            )));
        }
    }
    Ok(())
}

fn check_text_field(what: &str, s: &str) -> Result<(), GovError> {
    incident::check_text(what, s, eval::MAX_FIELD)
}

/// Checks that a sequential id is the next one: `PREFIX-<earlier + 1>`.
fn check_id(id: &str, prefix: &str, earlier: u64) -> Result<(), GovError> {
    let want = format!("{prefix}-{}", earlier + 1);
    if id == want {
        Ok(())
    } else {
        Err(GovError::Rule(format!(
            "id {id:?} is out of sequence: the next {prefix} id is {want}"
        )))
    }
}

/// True if `hex` is `hash` in lowercase hex (as `hex::encode` writes it),
/// without allocating.
pub fn hex_eq(hash: &Hash, hex: &str) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let b = hex.as_bytes();
    b.len() == 2 * hash.len()
        && hash.iter().zip(b.chunks_exact(2)).all(|(x, pair)| {
            pair[0] == DIGITS[(x >> 4) as usize] && pair[1] == DIGITS[(x & 15) as usize]
        })
}

/// [`Lookup::release_link`] over a label's releases.
fn link_in(rels: &[ReleaseRec], seq: u64, hash: &str) -> (bool, bool) {
    let found = rels.iter().any(|r| r.seq == seq && hex_eq(&r.hash, hash));
    (!rels.is_empty(), found)
}

/// Checks that a link names a release of its label by sequence number and hash.
pub fn check_spec_link(s: &SpecLink, l: &impl Lookup) -> Result<(), GovError> {
    check_label(&s.label)?;
    let (any, found) = l.release_link(&s.label, s.release.seq, &s.release.hash)?;
    if !any {
        return Err(GovError::Unknown {
            what: "spec version",
            name: s.label.clone(),
        });
    }
    if found {
        Ok(())
    } else {
        Err(GovError::Rule(format!(
            "entry {} is not a release of {:?} (hash {})",
            s.release.seq, s.label, s.release.hash
        )))
    }
}

/// Checks that every clause id is in the clause manifest of the linked release.
fn check_clauses_exist<'a>(
    s: &SpecLink,
    ids: impl IntoIterator<Item = &'a String>,
    l: &impl Lookup,
) -> Result<(), GovError> {
    let mut ids = ids.into_iter().peekable();
    if ids.peek().is_none() {
        return Ok(());
    }
    let known = l.release_clauses(s.release.seq)?;
    for id in ids {
        if !known.contains(id) {
            return Err(GovError::Rule(format!(
                "unknown clause {id:?}: release {} (entry {}) has no clause with that id",
                s.label, s.release.seq
            )));
        }
    }
    Ok(())
}

/// The incident `id`, which must exist and not be resolved.
fn open_incident(id: &str, l: &impl Lookup) -> Result<incident::IncidentRec, GovError> {
    let rec = l.incident(id)?.ok_or_else(|| GovError::Unknown {
        what: "incident",
        name: id.to_string(),
    })?;
    if let Some(s) = rec.resolved {
        return Err(GovError::IncidentClosed {
            id: id.to_string(),
            seq: s,
        });
    }
    Ok(rec)
}

fn check_fixes(p: &SpecRelease, l: &impl Lookup) -> Result<(), GovError> {
    for (i, id) in p.fixes.iter().enumerate() {
        if p.fixes[..i].contains(id) {
            return Err(GovError::Rule(format!("fixes lists {id} twice")));
        }
        open_incident(id, l)?;
    }
    Ok(())
}

fn check_approve(entry: &Entry, p: &SpecApprove, l: &impl Lookup) -> Result<(), GovError> {
    check_label(&p.label)?;
    let rels = l.releases(&p.label)?;
    let last = rels.last().ok_or_else(|| GovError::Unknown {
        what: "spec version",
        name: p.label.clone(),
    })?;
    if p.release.seq != last.seq || !hex_eq(&last.hash, &p.release.hash) {
        return Err(GovError::Rule(format!(
            "approval names entry {}, but the latest release of {} is entry {}",
            p.release.seq, p.label, last.seq
        )));
    }
    let auth = l.authority()?;
    let Some(rule) = &auth.policy.release_approvals else {
        return Err(GovError::Rule(
            "the policy asks for no release approvals (set them with `speclog policy set --approvals`)"
                .into(),
        ));
    };
    if !rule.roles.contains(&p.role) {
        return Err(GovError::Rule(format!(
            "role {:?} is not an approval role (the policy names: {})",
            p.role,
            rule.roles.join(", ")
        )));
    }
    let holds = auth
        .active(&entry.signer)
        .is_some_and(|k| k.roles.contains(&p.role));
    if !holds {
        return Err(GovError::Rule(format!(
            "signer {:?} does not hold the role {:?}",
            entry.signer, p.role
        )));
    }
    if let Some(a) = l
        .approvals(&p.label)?
        .iter()
        .find(|a| a.signer == entry.signer)
    {
        return Err(GovError::Rule(format!(
            "{} already approved this release of {} (entry {})",
            entry.signer, p.label, a.seq
        )));
    }
    Ok(())
}

fn check_eval(p: &eval::EvalRecord, l: &impl Lookup) -> Result<(), GovError> {
    check_id(&p.id, "EVAL", l.count(kinds::EVAL_RECORD)?)?;
    check_spec_link(&p.spec, l)?;
    for (what, s) in [
        ("model id", &p.model.id),
        ("suite name", &p.suite.name),
        ("suite version", &p.suite.version),
        ("evaluator", &p.evaluator),
    ] {
        check_text_field(what, s)?;
    }
    if p.outcomes.is_empty() || p.outcomes.len() > eval::MAX_RESULTS {
        return Err(GovError::Rule(format!(
            "an evaluation records 1 to {} outcomes",
            eval::MAX_RESULTS
        )));
    }
    for o in &p.outcomes {
        let finite = o.value.is_finite() && o.threshold.is_none_or(f64::is_finite);
        let verdict = o.threshold.map(|t| o.comparator.holds(o.value, t));
        if !finite || o.pass != verdict {
            return Err(GovError::Rule(format!(
                "{}: outcome {:?} has a verdict that does not follow from its value and threshold",
                p.id, o.metric
            )));
        }
    }
    if p.pass != eval::overall(&p.outcomes) {
        return Err(GovError::Rule(format!(
            "{}: overall pass does not follow from the outcomes",
            p.id
        )));
    }
    let ids: Vec<&String> = p.outcomes.iter().flat_map(|o| &o.clauses).collect();
    check_clauses_exist(&p.spec, ids, l)?;
    if let Some(r) = &p.preregistration {
        let pre = l
            .preregistration_at(r.seq)?
            .filter(|x| x.hash == r.hash)
            .ok_or_else(|| GovError::Rule(format!("entry {} is not a pre-registration", r.seq)))?;
        if pre.prereg.spec.label != p.spec.label || pre.prereg.suite != p.suite {
            return Err(GovError::Rule(format!(
                "{} pre-registered suite {}@{} on {}, not {}@{} on {}",
                pre.prereg.id,
                pre.prereg.suite.name,
                pre.prereg.suite.version,
                pre.prereg.spec.label,
                p.suite.name,
                p.suite.version,
                p.spec.label
            )));
        }
    }
    Ok(())
}

/// Checks what a payload says about its content blobs, given a way to read
/// them: a release's clause manifest is the one derived from its text, and an
/// evaluation's outcomes are the ones recomputed from its results file (with
/// its pre-registered thresholds). Append and verify both call this.
///
/// For a release it returns the clause ids of the (checked) manifest, which
/// the caller records with [`State::set_release_clauses`].
pub fn check_content(
    payload: &Payload,
    blob: &dyn Fn(&ContentRef) -> Result<Vec<u8>, GovError>,
    l: &impl Lookup,
) -> Result<Option<BTreeSet<String>>, GovError> {
    match payload {
        Payload::SpecRelease(p) => {
            let prev = previous_release(l, blob)?;
            let prev = prev
                .as_ref()
                .map(|(text, manifest)| ids::Previous { text, manifest });
            check_release_text(p, &blob(&p.content)?, prev, Some(&blob(&p.clauses)?)).map(Some)
        }
        Payload::EvalRecord(p) => {
            check_results_type(p)?;
            let bytes = blob(&p.results)?;
            let pre = eval_preregistration(p, l)?;
            check_eval_results(p, &bytes, pre.as_ref())?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// The previous release of the document a release is appended to (the
/// latest release in `l`): its text and manifest, read through `blob`.
pub fn previous_release(
    l: &impl Lookup,
    blob: &dyn Fn(&ContentRef) -> Result<Vec<u8>, GovError>,
) -> Result<Option<(String, ids::Manifest)>, GovError> {
    let Some(r) = l.last_release()? else {
        return Ok(None);
    };
    let text = String::from_utf8(blob(&r.content)?)
        .map_err(|_| GovError::Rule(format!("content {} is not UTF-8", r.content.sha256)))?;
    let manifest = ids::Manifest::decode(&blob(&r.clauses)?)
        .map_err(|e| GovError::Rule(format!("previous release (entry {}): {e}", r.seq)))?;
    Ok(Some((text, manifest)))
}

/// The content check of a release (see [`check_content`]), given its text and
/// the document's previous release: the clause manifest it names is the one
/// derived from them (ids assigned against the previous release). When it is
/// not and the `stored` manifest is given, the error names the first clause
/// that differs. Returns the clause ids. Pure, so a verifier may run it on
/// another thread.
pub fn check_release_text(
    p: &SpecRelease,
    text: &[u8],
    prev: Option<ids::Previous<'_>>,
    stored: Option<&[u8]>,
) -> Result<BTreeSet<String>, GovError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| GovError::Rule(format!("content {} is not UTF-8", p.content.sha256)))?;
    let derived = ids::derive(text, prev).map_err(|e| GovError::Rule(e.to_string()))?;
    let want = ContentRef::of(&derived.encode(), MEDIA_CLAUSES);
    if want.sha256 != p.clauses.sha256 {
        let why = stored.map(|b| ids::first_difference(&derived, b));
        return Err(GovError::Rule(format!(
            "clause manifest does not match the one recomputed from the spec text and the previous release{}",
            why.map(|w| format!(": {w}")).unwrap_or_default()
        )));
    }
    Ok(derived.clauses.into_iter().map(|c| c.id).collect())
}

/// The media type of an evaluation's results file must be [`MEDIA_RESULTS`].
pub fn check_results_type(p: &eval::EvalRecord) -> Result<(), GovError> {
    if p.results.media_type != MEDIA_RESULTS {
        return Err(GovError::Rule(format!(
            "{}: results media type is {:?}, not {MEDIA_RESULTS:?}",
            p.id, p.results.media_type
        )));
    }
    Ok(())
}

/// The pre-registration an evaluation applied, if it names one.
pub fn eval_preregistration(
    p: &eval::EvalRecord,
    l: &impl Lookup,
) -> Result<Option<eval::PreregRec>, GovError> {
    match &p.preregistration {
        Some(r) => Ok(Some(l.preregistration_at(r.seq)?.ok_or_else(|| {
            GovError::Rule(format!("entry {} is not a pre-registration", r.seq))
        })?)),
        None => Ok(None),
    }
}

/// The content check of an evaluation (see [`check_content`]): its outcomes are
/// the ones recomputed from the results file `bytes` with the thresholds of its
/// pre-registration `pre`. Pure, so a verifier may run it on another thread.
pub fn check_eval_results(
    p: &eval::EvalRecord,
    bytes: &[u8],
    pre: Option<&eval::PreregRec>,
) -> Result<(), GovError> {
    let reg = pre.map(|x| (x.prereg.id.as_str(), x.prereg.thresholds.as_slice()));
    eval::check_against_results(p, bytes, reg).map_err(GovError::Rule)
}

/// In-memory state built by replaying the ledger in order (used by `verify`).
///
/// It holds one record per subject (release, incident, pre-registration,
/// approver of a label's latest release) and per-kind counts, never one per
/// entry, so its memory grows with the number of subjects.
#[derive(Default)]
pub struct State {
    pub authority: Authority,
    releases: BTreeMap<String, Vec<ReleaseRec>>,
    release_info: BTreeMap<u64, ReleaseInfo>,
    release_clauses: BTreeMap<u64, ClauseIds>,
    /// The latest release of any label.
    last_release: Option<ReleaseRec>,
    counts: BTreeMap<String, u64>,
    incidents: BTreeMap<String, incident::IncidentRec>,
    /// Resolved public incidents, by the number n of `INC-n`: the entry that
    /// resolved it (0 when incident n is not one). Nothing can change them any
    /// more and the rules only ask whether they were resolved, so a replay of a
    /// long ledger keeps 8 bytes per closed incident, not its record.
    closed: Vec<u64>,
    preregs: BTreeMap<u64, eval::PreregRec>,
    approvals: BTreeMap<String, Vec<ApprovalRec>>,
}

/// n of a canonical incident id `INC-n`.
fn incident_number(id: &str) -> Option<usize> {
    let n: usize = id.strip_prefix("INC-")?.parse().ok()?;
    (n > 0 && incident::next_id(n as u64 - 1) == id).then_some(n)
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
        match self.counts.get_mut(&entry.kind) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(entry.kind.clone(), 1);
            }
        }
        match payload {
            Payload::SpecRelease(p) => {
                self.releases
                    .entry(p.label.clone())
                    .or_default()
                    .push(ReleaseRec {
                        seq: entry.seq,
                        hash: *hash,
                        label: p.label.clone(),
                        content: p.content.clone(),
                        clauses: p.clauses.clone(),
                    });
                self.last_release = self.releases[&p.label].last().cloned();
                self.release_info.insert(
                    entry.seq,
                    ReleaseInfo {
                        seq: entry.seq,
                        hash: *hash,
                        label: p.label.clone(),
                        fixes: p.fixes.clone(),
                    },
                );
                // Approvals are of the latest release only.
                self.approvals.remove(&p.label);
            }
            Payload::SpecApprove(p) => {
                self.approvals
                    .entry(p.label.clone())
                    .or_default()
                    .push(ApprovalRec::of(entry, p));
            }
            Payload::EvalPreregister(p) => {
                self.preregs.insert(
                    entry.seq,
                    eval::PreregRec {
                        seq: entry.seq,
                        hash: hex::encode(hash),
                        prereg: p.clone(),
                    },
                );
            }
            Payload::IncidentOpen(p) => {
                self.incidents.insert(
                    p.id.clone(),
                    incident::IncidentRec::opened(entry.seq, &hex::encode(hash), p),
                );
            }
            Payload::IncidentUpdate(p) => {
                if let Some(r) = self.incidents.get_mut(&p.id) {
                    r.update(p);
                }
            }
            Payload::IncidentResolve(p) => {
                if let Some(r) = self.incidents.get_mut(&p.id) {
                    r.resolve(entry.seq, p);
                    if let (None, Some(n)) = (&r.commitment, incident_number(&p.id)) {
                        self.incidents.remove(&p.id);
                        if self.closed.len() <= n {
                            self.closed.resize(n + 1, 0);
                        }
                        self.closed[n] = entry.seq;
                    }
                }
            }
            Payload::IncidentDisclose(p) => {
                if let Some(r) = self.incidents.get_mut(&p.id) {
                    r.disclose(entry.seq);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Records the clause ids of the release at `seq` (from its verified manifest).
    pub fn set_release_clauses(&mut self, seq: u64, ids: BTreeSet<String>) {
        self.release_clauses.insert(seq, ClauseIds::new(ids));
    }

    /// The incidents recorded so far that are open or confidential, by id
    /// (resolved public ones are only known as resolved, see [`Lookup::incident`]).
    pub fn incidents(&self) -> &BTreeMap<String, incident::IncidentRec> {
        &self.incidents
    }
}

impl Lookup for State {
    fn releases(&self, label: &str) -> Result<Vec<ReleaseRec>, GovError> {
        Ok(self.releases.get(label).cloned().unwrap_or_default())
    }
    fn release_link(&self, label: &str, seq: u64, hash: &str) -> Result<(bool, bool), GovError> {
        // As the trait's, without copying the releases.
        let rels = self.releases.get(label).map(Vec::as_slice);
        Ok(link_in(rels.unwrap_or_default(), seq, hash))
    }
    fn authority(&self) -> Result<Authority, GovError> {
        Ok(self.authority.clone())
    }
    fn count(&self, kind: &str) -> Result<u64, GovError> {
        Ok(self.counts.get(kind).copied().unwrap_or(0))
    }
    fn release_at(&self, seq: u64) -> Result<Option<ReleaseInfo>, GovError> {
        Ok(self.release_info.get(&seq).cloned())
    }
    fn release_clauses(&self, seq: u64) -> Result<ClauseIds, GovError> {
        self.release_clauses.get(&seq).cloned().ok_or_else(|| {
            GovError::Lookup(format!("clause manifest of entry {seq} is not loaded"))
        })
    }
    fn last_release(&self) -> Result<Option<ReleaseRec>, GovError> {
        Ok(self.last_release.clone())
    }
    fn incident(&self, id: &str) -> Result<Option<incident::IncidentRec>, GovError> {
        if let Some(r) = self.incidents.get(id) {
            return Ok(Some(r.clone()));
        }
        // A resolved public incident: what the rules can still ask of it.
        Ok(incident_number(id)
            .and_then(|n| self.closed.get(n).copied())
            .filter(|seq| *seq > 0)
            .map(|seq| incident::IncidentRec {
                id: id.to_string(),
                opened: EntryRef {
                    seq: 0,
                    hash: String::new(),
                },
                title: String::new(),
                severity: incident::Severity::Low,
                spec: SpecLink {
                    label: String::new(),
                    release: EntryRef {
                        seq: 0,
                        hash: String::new(),
                    },
                },
                clauses: Vec::new(),
                status: incident::Status::Resolved,
                commitment: None,
                disclosed: None,
                resolved: Some(seq),
                fixed_by: None,
            }))
    }
    fn preregistration_at(&self, seq: u64) -> Result<Option<eval::PreregRec>, GovError> {
        Ok(self.preregs.get(&seq).cloned())
    }
    fn approvals(&self, label: &str) -> Result<Vec<ApprovalRec>, GovError> {
        Ok(self.approvals.get(label).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    //! The rules over an in-memory [`State`] (what `verify` uses); entries are
    //! unsigned here because the rules never look at signatures.

    use super::*;
    use crate::governance::incident::{Open, Resolve, Severity, Status, Update};

    #[test]
    fn hex_eq_is_lowercase_hex_equality() {
        for i in 0..64u8 {
            let h = crate::base::sha256(&[i]);
            let s = hex::encode(h);
            assert!(hex_eq(&h, &s));
            assert!(!hex_eq(&h, &s.to_uppercase()) || !s.bytes().any(|c| c.is_ascii_alphabetic()));
            assert!(!hex_eq(&h, &s[..62]));
            assert!(!hex_eq(&h, &format!("{s}0")));
            // Any other digit anywhere differs.
            for at in [0, 1, 31, 62, 63] {
                let mut b = s.clone().into_bytes();
                b[at] = if b[at] == b'0' { b'1' } else { b'0' };
                assert!(!hex_eq(&h, std::str::from_utf8(&b).unwrap()));
            }
        }
    }

    fn entry(seq: u64, kind: &str, signer: &str) -> Entry {
        Entry {
            seq,
            time: "2025-09-12T00:00:00Z".into(),
            kind: kind.into(),
            prev: [0; 32],
            signer: signer.into(),
            signer_key: [0; 32],
            payload: Vec::new(),
            signature: [0; 64],
        }
    }

    /// Checks and records `p` as entry `seq` of `state`.
    fn push(state: &mut State, seq: u64, kind: &str, p: Payload) -> Result<(), GovError> {
        let e = entry(seq, kind, "someone");
        check_references(&e, &p, state)?;
        state.record(&e, &[seq as u8; 32], &p)
    }

    fn release(label: &str, fixes: &[&str]) -> Payload {
        let c = ContentRef::of(label.as_bytes(), MEDIA_MARKDOWN);
        Payload::SpecRelease(SpecRelease {
            label: label.into(),
            content: c.clone(),
            clauses: c,
            notes: None,
            supersedes: None,
            fixes: fixes.iter().map(|s| s.to_string()).collect(),
            source: None,
        })
    }

    fn link(seq: u64) -> SpecLink {
        SpecLink {
            label: "v1".into(),
            release: EntryRef::new(seq, &[seq as u8; 32]),
        }
    }

    fn open(id: &str) -> Payload {
        Payload::IncidentOpen(Open {
            id: id.into(),
            title: "t".into(),
            severity: Severity::Low,
            spec: link(1),
            clauses: vec!["a".into()],
            aware_at: "2025-09-01T00:00:00Z".into(),
            reporter: None,
            summary: Some("s".into()),
            commitment: None,
        })
    }

    fn state_with_release() -> State {
        let mut s = State::default();
        push(&mut s, 1, kinds::SPEC_RELEASE, release("v1", &[])).unwrap();
        s.set_release_clauses(1, ["a".to_string()].into());
        s
    }

    #[test]
    fn incident_ids_lifecycle_and_fixes() {
        let mut s = state_with_release();
        let e = push(&mut s, 2, kinds::INCIDENT_OPEN, open("INC-2")).unwrap_err();
        assert!(e.to_string().contains("the next INC id is INC-1"), "{e}");
        push(&mut s, 2, kinds::INCIDENT_OPEN, open("INC-1")).unwrap();
        let mut bad = open("INC-2");
        if let Payload::IncidentOpen(o) = &mut bad {
            o.clauses = vec!["zz".into()];
        }
        assert!(push(&mut s, 3, kinds::INCIDENT_OPEN, bad).is_err());
        let e = push(&mut s, 3, kinds::SPEC_RELEASE, release("v2", &["INC-9"])).unwrap_err();
        assert!(
            matches!(
                e,
                GovError::Unknown {
                    what: "incident",
                    ..
                }
            ),
            "{e}"
        );
        push(&mut s, 3, kinds::SPEC_RELEASE, release("v2", &["INC-1"])).unwrap();
        let resolve = |seq: u64| {
            Payload::IncidentResolve(Resolve {
                id: "INC-1".into(),
                resolution: "done".into(),
                fixed_by: Some(SpecLink {
                    label: "v2".into(),
                    release: EntryRef::new(seq, &[seq as u8; 32]),
                }),
            })
        };
        // v1 (entry 1) does not list INC-1; v2 (entry 3) does.
        assert!(push(&mut s, 4, kinds::INCIDENT_RESOLVE, resolve(1)).is_err());
        push(&mut s, 4, kinds::INCIDENT_RESOLVE, resolve(3)).unwrap();
        assert_eq!(
            s.incident("INC-1").unwrap().unwrap().status,
            Status::Resolved
        );
        assert!(
            s.incidents().is_empty(),
            "a resolved public incident is closed"
        );
        let upd = Payload::IncidentUpdate(Update {
            id: "INC-1".into(),
            status: Status::Monitoring,
            note: "n".into(),
        });
        let e = push(&mut s, 5, kinds::INCIDENT_UPDATE, upd).unwrap_err();
        assert!(e.to_string().contains("was resolved in entry 4"), "{e}");
    }

    #[test]
    fn approvals_follow_the_latest_release() {
        let mut s = state_with_release();
        let approve = |seq: u64| {
            Payload::SpecApprove(SpecApprove {
                label: "v1".into(),
                release: EntryRef::new(seq, &[seq as u8; 32]),
                role: "safety".into(),
            })
        };
        // No approval rule in the policy yet.
        assert!(push(&mut s, 2, kinds::SPEC_APPROVE, approve(1)).is_err());
        s.authority.policy.release_approvals = Some(policy::Approvals {
            roles: vec!["safety".into(), "legal".into()],
            quorum: 2,
        });
        s.authority.keys.push(KeyState {
            name: "someone".into(),
            public: [0; 32],
            verifier: String::new(),
            roles: vec!["safety".into()],
            added: 0,
            revoked: None,
        });
        push(&mut s, 2, kinds::SPEC_APPROVE, approve(1)).unwrap();
        let e = push(&mut s, 3, kinds::SPEC_APPROVE, approve(1)).unwrap_err();
        assert!(e.to_string().contains("already approved"), "{e}");
        assert_eq!(s.approvals("v1").unwrap().len(), 1);
        let mut rev = release("v1", &[]);
        if let Payload::SpecRelease(r) = &mut rev {
            r.content = ContentRef::of(b"new", MEDIA_MARKDOWN);
            r.supersedes = Some(EntryRef::new(1, &[1; 32]));
        }
        push(&mut s, 3, kinds::SPEC_RELEASE, rev).unwrap();
        assert!(s.approvals("v1").unwrap().is_empty());
        // An approval of the superseded release is refused.
        assert!(push(&mut s, 4, kinds::SPEC_APPROVE, approve(1)).is_err());
    }

    #[test]
    fn policy_approval_rule_is_checked() {
        let mut p = Policy::default();
        check_policy(&p).unwrap();
        for (roles, quorum) in [
            (vec!["a", "b"], 3),
            (vec!["a", "a"], 1),
            (vec![], 0),
            (vec!["A"], 1),
        ] {
            p.release_approvals = Some(policy::Approvals {
                roles: roles.iter().map(|s| s.to_string()).collect(),
                quorum,
            });
            assert!(check_policy(&p).is_err(), "{roles:?} {quorum}");
        }
    }
}
