//! Witnesses: cosigning a log's checkpoints only when they extend what the
//! witness saw before (C2SP `tlog-witness`, `tlog-cosignature`), and witness
//! policies saying which cosignatures a checkpoint needs (C2SP `tlog-policy`).
//!
//! A log whose operator alone signs checkpoints can show different histories
//! to different readers (a split view). A witness remembers, per log origin,
//! the latest checkpoint it cosigned, and cosigns a new one only with a
//! consistency proof from that one. Readers who require cosignatures from a
//! quorum of independent witnesses then all see one history.
//!
//! This module is pure: [`add_checkpoint`] is the witness's state machine,
//! [`LogState`] its per-log state; the policy file ([`Policy`]) is parsed in
//! [`crate::policy`]. File I/O (the
//! witness directory, atomic state writes, evidence, the ledger's policy file)
//! lives in [`store`], and the `add-checkpoint` HTTP framing in [`http`].

pub mod http;
pub mod store;

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::note::{self, ALG_ED25519, Checkpoint, Note, NoteError, VerifierKey};
pub use crate::policy::{
    MANAGED_GROUP, MAX_POLICY_ITEMS, Policy, PolicyError, PolicyGroup, PolicyLog, PolicyWitness,
    Threshold,
};
use crate::tlog::{self, EMPTY_ROOT, Hash};

/// Format tag of a witness state file.
pub const STATE_FORMAT: &str = "speclog.dev/witness-state@v1";

/// Why a witness refused to cosign a checkpoint.
///
/// [`Refusal::is_conflict`] tells the refusals that involve two checkpoints
/// both signed by the log that cannot both be honest (or, for
/// [`Refusal::Inconsistent`], might not be): the witness keeps those as
/// evidence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The submission is not a signed checkpoint (or not a valid request).
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The checkpoint's origin is not a log the witness was told to trust.
    #[error(
        "unknown log: the checkpoint's origin is {origin:?}, the trusted log key is for {trusted}"
    )]
    UnknownLog {
        /// Origin line of the checkpoint.
        origin: String,
        /// The origin(s) the witness trusts.
        trusted: String,
    },
    /// The checkpoint is not validly signed by the trusted log key.
    #[error("the checkpoint's signature does not verify with the log key {key}: {why}")]
    BadSignature {
        /// `name+keyid` of the log key.
        key: String,
        /// What went wrong.
        why: String,
    },
    /// The witness already trusts another key for this origin.
    #[error("the witness trusts another key for {origin}: {pinned}")]
    LogKeyChanged {
        /// The log origin.
        origin: String,
        /// The key recorded in the witness state.
        pinned: String,
    },
    /// The request's old size exceeds the checkpoint's size.
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeTooLarge {
        /// Old size in the request.
        old: u64,
        /// Checkpoint size.
        size: u64,
    },
    /// The proof starts at another size than the latest cosigned checkpoint.
    #[error(
        "the consistency proof starts at size {got}, but the latest checkpoint this witness cosigned has size {have}"
    )]
    OldSizeMismatch {
        /// Size of the latest cosigned checkpoint (0 if none).
        have: u64,
        /// Old size of the proof.
        got: u64,
    },
    /// A larger checkpoint came without a consistency proof.
    #[error(
        "checkpoint {size} needs a consistency proof from size {have}, the latest this witness cosigned"
    )]
    ProofNeeded {
        /// Size of the latest cosigned checkpoint.
        have: u64,
        /// Size of the new checkpoint.
        size: u64,
    },
    /// The checkpoint is smaller than one the witness cosigned.
    #[error(
        "checkpoint {size} is smaller than checkpoint {have} this witness already cosigned (rollback)"
    )]
    Rollback {
        /// Size of the latest cosigned checkpoint.
        have: u64,
        /// Size of the new checkpoint.
        size: u64,
    },
    /// Same size, different root: the log signed two different trees.
    #[error("the log signed two different trees of size {size} (fork: split view)")]
    Fork {
        /// The tree size.
        size: u64,
    },
    /// The consistency proof does not show that the new tree extends the old.
    #[error(
        "the consistency proof from size {old} to {size} does not verify: the new tree may not extend the one this witness cosigned"
    )]
    Inconsistent {
        /// Size of the latest cosigned checkpoint.
        old: u64,
        /// Size of the new checkpoint.
        size: u64,
    },
}

impl Refusal {
    /// True for refusals where the log's signed checkpoints conflict (or may):
    /// rollback, fork and a failed consistency proof.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Refusal::Rollback { .. } | Refusal::Fork { .. } | Refusal::Inconsistent { .. }
        )
    }

    /// True when the refusal means the log (or its signature) failed
    /// verification, rather than the input being unusable.
    pub fn is_verification_failure(&self) -> bool {
        self.is_conflict() || matches!(self, Refusal::BadSignature { .. })
    }

    /// The tlog-witness `add-checkpoint` status code for this refusal.
    pub fn http_status(&self) -> u16 {
        match self {
            Refusal::UnknownLog { .. } => 404,
            Refusal::BadSignature { .. } | Refusal::LogKeyChanged { .. } => 403,
            Refusal::OldSizeMismatch { .. } | Refusal::Fork { .. } => 409,
            Refusal::Inconsistent { .. } => 422,
            Refusal::Malformed(_)
            | Refusal::OldSizeTooLarge { .. }
            | Refusal::ProofNeeded { .. }
            | Refusal::Rollback { .. } => 400,
        }
    }
}

/// Errors of witness operations that the CLI reports (see `crate::Error`).
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The witness refused to cosign; nothing changed.
    #[error("refused to cosign: {0}")]
    Refused(Refusal),
    /// The witness refused to cosign two conflicting checkpoints and kept
    /// both as evidence.
    #[error("refused to cosign: {refusal}; kept both signed checkpoints as evidence in {}", evidence.display())]
    Conflict {
        /// Why.
        refusal: Refusal,
        /// The evidence file.
        evidence: PathBuf,
    },
    /// A witness state file is damaged; it is never reset silently.
    #[error("witness state {} is corrupt: {why}", path.display())]
    CorruptState {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A witness policy file is malformed.
    #[error("witness policy {}: {err}", path.display())]
    Policy {
        /// The policy file.
        path: PathBuf,
        /// What is wrong.
        err: PolicyError,
    },
    /// A witness name that cannot be a verifier key name.
    #[error("invalid witness name {0:?}")]
    BadName(String),
    /// No witness was created in this directory.
    #[error("no witness in {}", .0.display())]
    NoWitness(PathBuf),
    /// A cosignature line does not verify against the checkpoint it was
    /// offered for.
    #[error("the cosignature by {witness} does not verify against checkpoint {size}: {why}")]
    BadCosignature {
        /// Policy name of the witness.
        witness: String,
        /// The checkpoint's size.
        size: u64,
        /// What went wrong.
        why: String,
    },
}

impl WitnessError {
    /// Whether verification failed (a bad signature, a split view) rather
    /// than the input being unusable; the CLI exits 1 for these, 2 otherwise.
    pub fn is_verification_failure(&self) -> bool {
        match self {
            WitnessError::Refused(r) => r.is_verification_failure(),
            WitnessError::Conflict { .. } | WitnessError::BadCosignature { .. } => true,
            _ => false,
        }
    }
}

/// A signed checkpoint as submitted, parsed but not verified.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The signed note.
    pub note: Note,
    /// Its checkpoint text, parsed.
    pub checkpoint: Checkpoint,
}

/// Parses a signed checkpoint without verifying it.
pub fn parse_submission(signed: &[u8]) -> Result<Submission, Refusal> {
    if signed.len() > note::MAX_CHECKPOINT_SIZE {
        return Err(Refusal::Malformed("larger than 1 MB".into()));
    }
    let n = Note::parse(signed).map_err(|e| Refusal::Malformed(e.to_string()))?;
    let cp = Checkpoint::parse(&n.text).map_err(|e| Refusal::Malformed(e.to_string()))?;
    Ok(Submission {
        note: n,
        checkpoint: cp,
    })
}

/// Returns the origin line of a signed checkpoint, if it has one, without
/// checking anything else (to find which log key and state apply).
pub fn peek_origin(signed: &[u8]) -> Option<&str> {
    let line = signed.split(|&b| b == b'\n').next()?;
    std::str::from_utf8(line).ok().filter(|s| !s.is_empty())
}

/// What a witness knows about one log: the latest checkpoint it cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogState {
    /// The log's origin.
    pub origin: String,
    /// The log's verifier key, trusted on first use and pinned after.
    pub log_key: String,
    /// Size of the latest cosigned checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The signed checkpoint as received, verbatim.
    pub checkpoint: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    origin: String,
    log_key: String,
    size: u64,
    root: String,
    checkpoint: String,
}

impl LogState {
    /// Serialises the state as JSON.
    pub fn to_json(&self) -> String {
        let f = StateFile {
            format: STATE_FORMAT.into(),
            origin: self.origin.clone(),
            log_key: self.log_key.clone(),
            size: self.size,
            root: STANDARD.encode(self.root),
            checkpoint: self.checkpoint.clone(),
        };
        let mut s = serde_json::to_string_pretty(&f).expect("state serialises");
        s.push('\n');
        s
    }

    /// Parses and checks a state file: the format tag, the log key, and that
    /// the stored checkpoint is signed by that key and has the stored
    /// origin, size and root. Any mismatch is an error, never a reset.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<LogState, String> {
        let f: StateFile =
            serde_json::from_slice(bytes).map_err(|e| format!("not a witness state file ({e})"))?;
        if f.format != STATE_FORMAT {
            return Err(format!("format {:?}, want {STATE_FORMAT:?}", f.format));
        }
        if f.origin != origin {
            return Err(format!(
                "it is the state of origin {:?}, not {origin:?}",
                f.origin
            ));
        }
        let key = VerifierKey::parse(&f.log_key).map_err(|e| format!("log key: {e}"))?;
        let root: Hash = STANDARD
            .decode(&f.root)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or("root is not 32 bytes of base64")?;
        let (cp, _, _) = note::open_checkpoint(f.checkpoint.as_bytes(), origin, &[key])
            .map_err(|e| format!("stored checkpoint: {e}"))?;
        if cp.size != f.size || cp.root != root {
            return Err(format!(
                "size {} and root {} differ from the stored checkpoint's ({}, {})",
                f.size,
                f.root,
                cp.size,
                STANDARD.encode(cp.root)
            ));
        }
        Ok(LogState {
            origin: f.origin,
            log_key: f.log_key,
            size: f.size,
            root,
            checkpoint: f.checkpoint,
        })
    }
}

/// How a submission says which earlier tree its checkpoint extends.
#[derive(Clone, Copy, Debug)]
pub enum Old<'a> {
    /// A tlog-witness `add-checkpoint` request: the old size and consistency
    /// proof exactly as sent. The old size must be the witness's size (0 if
    /// it has no state).
    Protocol {
        /// The request's old size.
        size: u64,
        /// The request's consistency proof.
        proof: &'a [Hash],
    },
    /// The command line: an optional consistency-proof file's old size and
    /// hashes. A first checkpoint needs none (trust on first use), an equal
    /// size needs none, a larger one needs a proof from the witness's size.
    Cli(Option<(u64, &'a [Hash])>),
}

/// What the witness accepted.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The checkpoint text to cosign.
    pub text: String,
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The state to persist before answering.
    pub state: LogState,
    /// The previous size, if the witness had seen this log.
    pub previous: Option<u64>,
    /// False when the checkpoint equals the latest cosigned one.
    pub changed: bool,
}

/// The witness's decision on a signed checkpoint of the log with key `log`,
/// given its current `state` for that log (C2SP tlog-witness
/// `add-checkpoint`).
///
/// It checks, in the protocol's order: the checkpoint's syntax, that its
/// origin is the log key's name, the log's signature (other signatures are
/// ignored), that the log key is the one pinned in the state, the old size
/// (see [`Old`]), and the consistency proof from the state's tree to the new
/// one; equal sizes need equal roots. On success it returns the new state,
/// which the caller must persist before handing out the cosignature.
pub fn add_checkpoint(
    state: Option<&LogState>,
    log: &VerifierKey,
    signed: &[u8],
    old: Old<'_>,
) -> Result<Accepted, Refusal> {
    let sub = parse_submission(signed)?;
    let cp = sub.checkpoint;
    if cp.origin != log.name() {
        return Err(Refusal::UnknownLog {
            origin: cp.origin,
            trusted: log.name().to_string(),
        });
    }
    let label = format!("{}+{}", log.name(), hex::encode(log.key_id()));
    if log.alg() != ALG_ED25519 {
        return Err(Refusal::BadSignature {
            key: label,
            why: "not an Ed25519 (type 0x01) log key".into(),
        });
    }
    note::open_checkpoint(signed, log.name(), std::slice::from_ref(log)).map_err(|e| {
        Refusal::BadSignature {
            key: label,
            why: match e {
                NoteError::Unverified => "it carries no signature by this key".into(),
                e => e.to_string(),
            },
        }
    })?;
    let log_key = log.to_string();
    if let Some(s) = state
        && s.log_key != log_key
    {
        return Err(Refusal::LogKeyChanged {
            origin: cp.origin,
            pinned: s.log_key.clone(),
        });
    }
    let (have, have_root) = state.map_or((0, EMPTY_ROOT), |s| (s.size, s.root));
    match old {
        Old::Protocol { size, proof } => {
            if size > cp.size {
                return Err(Refusal::OldSizeTooLarge {
                    old: size,
                    size: cp.size,
                });
            }
            if size != have {
                return Err(Refusal::OldSizeMismatch { have, got: size });
            }
            check_extends(have, &have_root, &cp, proof)?;
        }
        Old::Cli(_) if state.is_none() => {}
        Old::Cli(proof) => {
            if cp.size < have {
                return Err(Refusal::Rollback {
                    have,
                    size: cp.size,
                });
            }
            if cp.size == have {
                check_extends(have, &have_root, &cp, &[])?;
            } else {
                match proof {
                    Some((o, hashes)) if o == have => check_extends(have, &have_root, &cp, hashes)?,
                    Some((o, _)) => return Err(Refusal::OldSizeMismatch { have, got: o }),
                    None if have == 0 => check_extends(0, &have_root, &cp, &[])?,
                    None => {
                        return Err(Refusal::ProofNeeded {
                            have,
                            size: cp.size,
                        });
                    }
                }
            }
        }
    }
    let changed = state.is_none_or(|s| s.size != cp.size || s.root != cp.root);
    let new_state = match state {
        Some(s) if !changed => s.clone(),
        _ => LogState {
            origin: cp.origin.clone(),
            log_key,
            size: cp.size,
            root: cp.root,
            checkpoint: String::from_utf8_lossy(signed).into_owned(),
        },
    };
    Ok(Accepted {
        text: sub.note.text,
        checkpoint: cp,
        state: new_state,
        previous: state.map(|s| s.size),
        changed,
    })
}

/// Checks that `cp` extends the tree of `old` leaves with root `old_root`.
fn check_extends(
    old: u64,
    old_root: &Hash,
    cp: &Checkpoint,
    proof: &[Hash],
) -> Result<(), Refusal> {
    if old == cp.size {
        if cp.root != *old_root {
            return Err(Refusal::Fork { size: old });
        }
        if !proof.is_empty() {
            return Err(Refusal::Inconsistent { old, size: cp.size });
        }
        return Ok(());
    }
    tlog::verify_consistency(proof, cp.size, &cp.root, old, old_root)
        .map_err(|_| Refusal::Inconsistent { old, size: cp.size })
}

/// The text of an evidence file: why the witness refused, the checkpoint it
/// had cosigned and the conflicting one it refused (both signed by the log),
/// and the proof offered with it, each verbatim between marker lines.
pub fn evidence_text(
    refusal: &Refusal,
    origin: &str,
    kept: Option<&LogState>,
    refused: &[u8],
    proof: Option<&str>,
    recorded: &str,
) -> String {
    let mut s = format!(
        "# speclog witness evidence: the log {origin} signed checkpoints that conflict\n\
         # reason: {refusal}\n\
         # recorded: {recorded}\n\
         # Each block holds a signed note verbatim (C2SP signed-note); check the log's\n\
         # signature on both with its verifier key.\n"
    );
    if let Some(k) = kept {
        s.push_str(&format!(
            "-----BEGIN COSIGNED CHECKPOINT (size {})-----\n{}-----END COSIGNED CHECKPOINT-----\n",
            k.size, k.checkpoint
        ));
    }
    s.push_str(&format!(
        "-----BEGIN REFUSED CHECKPOINT-----\n{}-----END REFUSED CHECKPOINT-----\n",
        String::from_utf8_lossy(refused)
    ));
    if let Some(p) = proof {
        s.push_str(&format!(
            "-----BEGIN OFFERED CONSISTENCY PROOF-----\n{p}-----END OFFERED CONSISTENCY PROOF-----\n"
        ));
    }
    s
}

/// The refused checkpoint inside an evidence file (to avoid keeping the same
/// evidence twice).
pub fn evidence_refused_checkpoint(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN REFUSED CHECKPOINT-----\n")? + 35;
    let len = text[start..].find("-----END REFUSED CHECKPOINT-----")?;
    Some(&text[start..start + len])
}

/// A file name for `origin`: unchanged if it is made of `A-Z a-z 0-9 . _ -`,
/// does not start with '.' and is at most 100 bytes; otherwise those
/// characters (others become '_', at most 80) and 8 hex digits of its SHA-256.
pub fn origin_file_name(origin: &str) -> String {
    let clean: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == origin && !origin.starts_with('.') && !origin.is_empty() && origin.len() <= 100 {
        return clean;
    }
    let short: String = clean.chars().take(80).collect();
    let h = crate::base::sha256(origin.as_bytes());
    format!("{short}-{}", hex::encode(&h[..4]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;
    use crate::policy::tests::{log, signed};
    use ed25519_dalek::SigningKey;

    fn accept(state: Option<&LogState>, note: &str, old: Old<'_>) -> Result<Accepted, Refusal> {
        add_checkpoint(state, &log().verifier_key(), note.as_bytes(), old)
    }

    #[test]
    fn state_machine_cosigns_extensions_and_refuses_conflicts() {
        let (n3, _) = signed("a", 3);
        let first = accept(None, &n3, Old::Cli(None)).unwrap();
        assert!(first.changed);
        assert_eq!(first.previous, None);
        let s3 = first.state;
        assert_eq!((s3.size, s3.checkpoint.as_str()), (3, n3.as_str()));

        // Same checkpoint again: fine, unchanged.
        let again = accept(Some(&s3), &n3, Old::Cli(None)).unwrap();
        assert!(!again.changed);
        assert_eq!(again.state, s3);

        // Larger: needs a proof from 3.
        let (n7, m7) = signed("a", 7);
        assert_eq!(
            accept(Some(&s3), &n7, Old::Cli(None)).unwrap_err(),
            Refusal::ProofNeeded { have: 3, size: 7 }
        );
        let proof = tlog::prove_consistency(7, 3, &m7).unwrap();
        assert_eq!(
            accept(Some(&s3), &n7, Old::Cli(Some((2, &proof)))).unwrap_err(),
            Refusal::OldSizeMismatch { have: 3, got: 2 }
        );
        let s7 = accept(Some(&s3), &n7, Old::Cli(Some((3, &proof))))
            .unwrap()
            .state;
        assert_eq!(s7.size, 7);

        // Rollback, fork, and a fork's proof.
        assert_eq!(
            accept(Some(&s7), &n3, Old::Cli(None)).unwrap_err(),
            Refusal::Rollback { have: 7, size: 3 }
        );
        let (f7, _) = signed("b", 7);
        let e = accept(Some(&s7), &f7, Old::Cli(None)).unwrap_err();
        assert_eq!(e, Refusal::Fork { size: 7 });
        assert!(e.is_conflict());
        let (f9, mf9) = signed("b", 9);
        let fp = tlog::prove_consistency(9, 7, &mf9).unwrap();
        assert_eq!(
            accept(Some(&s7), &f9, Old::Cli(Some((7, &fp)))).unwrap_err(),
            Refusal::Inconsistent { old: 7, size: 9 }
        );

        // Protocol mode: status codes in the spec's order.
        let p = |size, proof: &[Hash], st: Option<&LogState>, n: &str| {
            accept(st, n, Old::Protocol { size, proof }).map_err(|e| e.http_status())
        };
        assert_eq!(p(0, &[], None, &n3).unwrap().state, s3);
        assert_eq!(p(3, &[], None, &n3).unwrap_err(), 409);
        assert_eq!(p(8, &[], Some(&s7), &n7).unwrap_err(), 400);
        assert_eq!(p(3, &[], Some(&s7), &n7).unwrap_err(), 409);
        assert_eq!(p(7, &[], Some(&s7), &f7).unwrap_err(), 409);
        assert_eq!(p(7, &fp, Some(&s7), &f9).unwrap_err(), 422);
        assert_eq!(p(3, &proof, Some(&s3), &n7).unwrap().state, s7);
        assert_eq!(p(3, &proof[1..], Some(&s3), &n7).unwrap_err(), 422);
        assert_eq!(p(0, &proof, None, &n7).unwrap_err(), 422);
    }

    #[test]
    fn signature_origin_and_key_pinning() {
        let (n3, _) = signed("a", 3);
        let other = NoteSigner::new("example.com/log", SigningKey::from_bytes(&[2; 32])).unwrap();
        let e =
            add_checkpoint(None, &other.verifier_key(), n3.as_bytes(), Old::Cli(None)).unwrap_err();
        assert!(matches!(e, Refusal::BadSignature { .. }), "{e}");
        assert_eq!(e.http_status(), 403);
        let elsewhere =
            NoteSigner::new("example.com/other", SigningKey::from_bytes(&[1; 32])).unwrap();
        let e = add_checkpoint(
            None,
            &elsewhere.verifier_key(),
            n3.as_bytes(),
            Old::Cli(None),
        )
        .unwrap_err();
        assert_eq!(e.http_status(), 404);
        // A cosigner key is not a log key.
        let cos =
            NoteSigner::new_cosigner("example.com/log", SigningKey::from_bytes(&[1; 32])).unwrap();
        let e =
            add_checkpoint(None, &cos.verifier_key(), n3.as_bytes(), Old::Cli(None)).unwrap_err();
        assert!(matches!(e, Refusal::BadSignature { .. }));

        let s = accept(None, &n3, Old::Cli(None)).unwrap().state;
        let mut pinned = s.clone();
        pinned.log_key = other.verifier_key().to_string();
        assert!(matches!(
            accept(Some(&pinned), &n3, Old::Cli(None)).unwrap_err(),
            Refusal::LogKeyChanged { .. }
        ));

        for bad in [
            "",
            "example.com/log\n3\n",
            "\u{0}",
            "example.com/log\n3\nAAAA\n\n— x AAAAAAA=\n",
        ] {
            assert!(
                matches!(
                    accept(None, bad, Old::Cli(None)).unwrap_err(),
                    Refusal::Malformed(_)
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            add_checkpoint(None, &log().verifier_key(), b"\xff\xfe", Old::Cli(None)).unwrap_err(),
            Refusal::Malformed(_)
        ));
    }

    #[test]
    fn state_file_round_trips_and_detects_damage() {
        let (n3, _) = signed("a", 3);
        let s = accept(None, &n3, Old::Cli(None)).unwrap().state;
        let json = s.to_json();
        assert_eq!(
            LogState::from_json(json.as_bytes(), "example.com/log").unwrap(),
            s
        );
        assert!(LogState::from_json(json.as_bytes(), "example.com/other").is_err());
        assert!(
            LogState::from_json(&json.as_bytes()[..json.len() / 2], "example.com/log").is_err()
        );
        let bumped = json.replace("\"size\": 3", "\"size\": 4");
        assert!(
            LogState::from_json(bumped.as_bytes(), "example.com/log")
                .unwrap_err()
                .contains("differ")
        );
        let (f3, _) = signed("b", 3);
        let swapped = s.to_json().replace(
            &serde_json::to_string(&n3).unwrap(),
            &serde_json::to_string(&f3).unwrap(),
        );
        assert!(LogState::from_json(swapped.as_bytes(), "example.com/log").is_err());
        assert!(LogState::from_json(b"", "example.com/log").is_err());
        assert!(LogState::from_json(b"{}", "example.com/log").is_err());
    }

    #[test]
    fn evidence_and_file_names() {
        let (n3, _) = signed("a", 3);
        let (f3, _) = signed("b", 3);
        let s = accept(None, &n3, Old::Cli(None)).unwrap().state;
        let t = evidence_text(
            &Refusal::Fork { size: 3 },
            "example.com/log",
            Some(&s),
            f3.as_bytes(),
            None,
            "2025-01-01T00:00:00Z",
        );
        assert!(t.contains(&n3) && t.contains(&f3), "{t}");
        assert_eq!(evidence_refused_checkpoint(&t), Some(f3.as_str()));
        assert_eq!(origin_file_name("example.org_x-1.2"), "example.org_x-1.2");
        let a = origin_file_name("example.org/model-spec");
        assert!(
            a.starts_with("example.org_model-spec-") && a.len() == 31,
            "{a}"
        );
        assert_ne!(a, origin_file_name("example.org_model-spec"));
        assert_ne!(origin_file_name(".."), "..");
        assert!(origin_file_name(&"x/".repeat(300)).len() <= 89);
    }
}
