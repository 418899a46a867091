//! Keys, roles and the policy that maps roles to the entry kinds they may sign.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{GovError, Payload, kinds};
use crate::ledger::entry::Entry;
use crate::note::VerifierKey;

/// Role of the admin key.
pub const ROLE_ADMIN: &str = "admin";
/// The roles a key gets when `key generate` is given no `--role`.
pub const AUTHOR_ROLES: [&str; 3] = ["spec-owner", "evaluator", "incident-responder"];

/// Which roles may sign which entry kinds, and what a release needs to be approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Entry kind to the roles allowed to sign it.
    pub kinds: BTreeMap<String, Vec<String>>,
    /// Roles whose approval a release needs, and how many of them (M of N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_approvals: Option<Approvals>,
}

/// M-of-N approval requirement for releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approvals {
    pub roles: Vec<String>,
    pub quorum: u32,
}

impl Default for Policy {
    fn default() -> Self {
        let mut k = BTreeMap::new();
        let mut set = |kind: &str, roles: &[&str]| {
            k.insert(
                kind.to_string(),
                roles.iter().map(|r| r.to_string()).collect(),
            );
        };
        set(kinds::KEY_ADD, &[ROLE_ADMIN]);
        set(kinds::KEY_REVOKE, &[ROLE_ADMIN]);
        set(kinds::POLICY_SET, &[ROLE_ADMIN]);
        set(kinds::SPEC_RELEASE, &["spec-owner"]);
        set(kinds::EVAL_PREREGISTER, &["evaluator"]);
        set(kinds::EVAL_RECORD, &["evaluator"]);
        for kind in [
            kinds::INCIDENT_OPEN,
            kinds::INCIDENT_UPDATE,
            kinds::INCIDENT_RESOLVE,
            kinds::INCIDENT_DISCLOSE,
        ] {
            set(kind, &["incident-responder"]);
        }
        Policy {
            kinds: k,
            release_approvals: None,
        }
    }
}

/// A registered key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyState {
    pub name: String,
    pub public: [u8; 32],
    pub verifier: String,
    pub roles: Vec<String>,
    /// Entry that registered it.
    pub added: u64,
    /// Entry that revoked or replaced it.
    pub revoked: Option<u64>,
}

/// The keys and policy in force at a point of the ledger.
#[derive(Clone, Debug, Default)]
pub struct Authority {
    pub origin: String,
    pub log_key: String,
    pub policy: Policy,
    /// Every key ever registered, in order; a name may appear again after rotation.
    pub keys: Vec<KeyState>,
}

/// Checks a role name: 1-64 of `[a-z0-9-]`.
pub fn check_role(r: &str) -> Result<(), GovError> {
    if !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        Ok(())
    } else {
        Err(GovError::InvalidRole(r.to_string()))
    }
}

fn parse_vk(s: &str) -> Result<VerifierKey, GovError> {
    VerifierKey::parse(s).map_err(|e| GovError::Rule(format!("invalid public key {s:?}: {e}")))
}

impl Authority {
    /// The active (not revoked) key registered under `name`.
    pub fn active(&self, name: &str) -> Option<&KeyState> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.name == name && k.revoked.is_none())
    }

    /// The most recent key registered under `name`, active or not.
    pub fn latest(&self, name: &str) -> Option<&KeyState> {
        self.keys.iter().rev().find(|k| k.name == name)
    }

    /// Checks that `entry`'s signer is a registered, unrevoked key with a role
    /// the policy allows for the entry's kind. Entry 0 (`log.init`) is self-signed.
    pub fn authorize(&self, entry: &Entry, payload: &Payload) -> Result<(), GovError> {
        if entry.seq == 0 {
            let Payload::LogInit(p) = payload else {
                return Err(GovError::Rule("entry 0 must be log.init".into()));
            };
            let vk = parse_vk(&p.log_key)?;
            if vk.public() != entry.signer_key || entry.signer != super::super::keys::ADMIN {
                return Err(GovError::Rule(
                    "log.init must be signed by the admin log key".into(),
                ));
            }
            return Ok(());
        }
        let Some(k) = self.active(&entry.signer) else {
            return Err(match self.latest(&entry.signer) {
                Some(_) => GovError::Revoked(entry.signer.clone()),
                None => GovError::UnknownSigner(entry.signer.clone()),
            });
        };
        if k.public != entry.signer_key {
            // A revoked older key of the same name?
            if self
                .keys
                .iter()
                .any(|o| o.name == entry.signer && o.public == entry.signer_key)
            {
                return Err(GovError::Revoked(entry.signer.clone()));
            }
            return Err(GovError::WrongKey {
                name: entry.signer.clone(),
            });
        }
        let need = self.roles_for(&entry.kind, payload);
        if need.is_empty() {
            // Kinds the policy does not name may be signed by the admin only.
            if k.roles.iter().any(|r| r == ROLE_ADMIN) {
                return Ok(());
            }
        } else if k.roles.iter().any(|r| need.contains(r)) {
            return Ok(());
        }
        Err(GovError::Unauthorised {
            name: entry.signer.clone(),
            roles: k.roles.join(", "),
            kind: entry.kind.clone(),
            need: if need.is_empty() {
                ROLE_ADMIN.to_string()
            } else {
                need.join(", ")
            },
        })
    }

    /// The roles that may sign an entry of `kind`.
    pub fn roles_for(&self, kind: &str, _payload: &Payload) -> Vec<String> {
        if kind == kinds::SPEC_APPROVE
            && let Some(a) = &self.policy.release_approvals
        {
            return a.roles.clone();
        }
        self.policy.kinds.get(kind).cloned().unwrap_or_default()
    }

    /// Updates the state with an authorised entry.
    pub fn apply(&mut self, entry: &Entry, payload: &Payload) -> Result<(), GovError> {
        match payload {
            Payload::LogInit(p) => {
                let vk = parse_vk(&p.log_key)?;
                self.origin = p.origin.clone();
                self.log_key = p.log_key.clone();
                self.policy = p.policy.clone();
                self.keys.push(KeyState {
                    name: super::super::keys::ADMIN.to_string(),
                    public: vk.public(),
                    verifier: p.log_key.clone(),
                    roles: vec![ROLE_ADMIN.to_string()],
                    added: entry.seq,
                    revoked: None,
                });
            }
            Payload::KeyAdd(p) => {
                crate::base::check_name(&p.name).map_err(|e| GovError::Rule(e.to_string()))?;
                let vk = parse_vk(&p.public_key)?;
                if p.roles.is_empty() {
                    return Err(GovError::Rule(format!("key {:?} has no roles", p.name)));
                }
                for r in &p.roles {
                    check_role(r)?;
                }
                if self.keys.iter().any(|k| k.public == vk.public()) {
                    return Err(GovError::KeyRegistered(
                        self.keys
                            .iter()
                            .find(|k| k.public == vk.public())
                            .map(|k| k.name.clone())
                            .unwrap_or_default(),
                    ));
                }
                let seq = entry.seq;
                match (&p.replaces, self.active(&p.name).is_some()) {
                    (None, true) => {
                        return Err(GovError::Rule(format!(
                            "key {:?} is already registered; rotate it or revoke it first",
                            p.name
                        )));
                    }
                    (Some(old), _) => {
                        let k = self
                            .keys
                            .iter_mut()
                            .rev()
                            .find(|k| k.name == p.name && k.revoked.is_none() && &k.verifier == old)
                            .ok_or_else(|| {
                                GovError::Rule(format!(
                                    "key.add replaces a key that is not {:?}'s active key",
                                    p.name
                                ))
                            })?;
                        k.revoked = Some(seq);
                    }
                    (None, false) => {}
                }
                self.keys.push(KeyState {
                    name: p.name.clone(),
                    public: vk.public(),
                    verifier: p.public_key.clone(),
                    roles: p.roles.clone(),
                    added: seq,
                    revoked: None,
                });
            }
            Payload::KeyRevoke(p) => {
                if p.name == super::super::keys::ADMIN {
                    return Err(GovError::AdminNotRevocable);
                }
                let seq = entry.seq;
                let k = self
                    .keys
                    .iter_mut()
                    .rev()
                    .find(|k| k.name == p.name && k.revoked.is_none())
                    .ok_or_else(|| GovError::Unknown {
                        what: "active key",
                        name: p.name.clone(),
                    })?;
                if k.verifier != p.public_key {
                    return Err(GovError::Rule(format!(
                        "key.revoke names a public key that is not {:?}'s active key",
                        p.name
                    )));
                }
                k.revoked = Some(seq);
            }
            Payload::PolicySet(p) => {
                for roles in p.policy.kinds.values() {
                    for r in roles {
                        check_role(r)?;
                    }
                }
                self.policy = p.policy.clone();
            }
            _ => {}
        }
        Ok(())
    }
}
