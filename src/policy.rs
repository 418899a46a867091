//! C2SP tlog-policy: which logs a reader trusts and which witness
//! cosignatures a checkpoint needs (<https://c2sp.org/tlog-policy>). Pure:
//! parsing, formatting and checking a checkpoint's cosignatures; the files
//! live in [`crate::witness::store`].

use std::collections::BTreeSet;

use crate::note::{self, ALG_COSIGNATURE_V1, ALG_ED25519, Note, NoteError, VerifierKey};

/// Name of the group `speclog witness policy --quorum N` maintains: N of all
/// the policy's witnesses.
pub const MANAGED_GROUP: &str = "speclog-quorum";

/// Most logs, witnesses or groups in a policy (tlog-policy asks for at least 32).
pub const MAX_POLICY_ITEMS: usize = 256;

/// How many of a group's members must have witnessed a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threshold {
    /// Every member.
    All,
    /// At least one member.
    Any,
    /// At least k members.
    AtLeast(usize),
}

/// A log in a policy: `log <vkey> [<url>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// The log's verifier key; its name is the log's origin.
    pub key: VerifierKey,
    /// Optional URL.
    pub url: Option<String>,
}

/// A witness in a policy: `witness <name> <vkey> [<url>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// The name used by groups and the quorum (local to the policy).
    pub name: String,
    /// The witness's cosignature (type `0x04`) verifier key.
    pub key: VerifierKey,
    /// Optional URL (the witness's submission prefix).
    pub url: Option<String>,
}

/// A group in a policy: `group <name> all|any|<k> <member>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// The group's name.
    pub name: String,
    /// How many members must have witnessed.
    pub threshold: Threshold,
    /// Names of witnesses or earlier groups.
    pub members: Vec<String>,
}

impl PolicyGroup {
    /// The number of members that must have witnessed.
    pub fn k(&self) -> usize {
        match self.threshold {
            Threshold::All => self.members.len(),
            Threshold::Any => 1,
            Threshold::AtLeast(k) => k,
        }
    }
}

/// A malformed policy file: the line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct PolicyError {
    /// 1-based line number (0 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// A C2SP tlog-policy: known logs, known witnesses, groups and the quorum.
///
/// A checkpoint satisfies the policy if a listed log signed it and the
/// witnesses whose cosignatures verify satisfy the quorum. speclog keeps a
/// ledger's policy in `<ledger>/witnesses.txt` and publishes it as
/// `log/witnesses.txt`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Logs, by verifier key.
    pub logs: Vec<PolicyLog>,
    /// Witnesses.
    pub witnesses: Vec<PolicyWitness>,
    /// Groups, each referring only to earlier names.
    pub groups: Vec<PolicyGroup>,
    /// The quorum: a witness or group name, or `None` for `quorum none`.
    pub quorum: Option<String>,
}

fn perr(line: usize, msg: impl Into<String>) -> PolicyError {
    PolicyError {
        line,
        msg: msg.into(),
    }
}

impl Policy {
    /// Parses a policy file strictly per tlog-policy: lines of tokens
    /// separated by spaces and tabs; empty and `#` comment lines ignored;
    /// `log`, `witness`, `group` and exactly one `quorum` line, in any order
    /// except that names are defined once, before use; no duplicate keys; witness keys of type `0x04`, log
    /// keys of type `0x01`; group thresholds `all`, `any` or 1 ≤ k ≤ n; each
    /// name a group member at most once. The file must be UTF-8 without
    /// control characters other than tab and newline.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            perr(
                bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1,
                "not UTF-8",
            )
        })?;
        let mut p = Policy::default();
        let mut quorum_seen = false;
        let mut members_used: BTreeSet<String> = BTreeSet::new();
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            if raw.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err(perr(n, "control character"));
            }
            let toks: Vec<&str> = raw.split([' ', '\t']).filter(|t| !t.is_empty()).collect();
            let Some(&kw) = toks.first() else { continue };
            if kw.starts_with('#') {
                continue;
            }
            // tlog-policy: "exactly one quorum line", naming something defined
            // on preceding lines; log and witness lines "can appear in any
            // order", so they (and groups) may follow it.
            if quorum_seen && kw == "quorum" {
                return Err(perr(n, "a policy has exactly one quorum line"));
            }
            match kw {
                "log" => {
                    let (key, url) = match toks[1..] {
                        [k] => (k, None),
                        [k, u] => (k, Some(u.to_string())),
                        _ => return Err(perr(n, "want `log <vkey> [<url>]`")),
                    };
                    let key = VerifierKey::parse(key).map_err(|e| perr(n, e.to_string()))?;
                    if key.alg() != ALG_ED25519 {
                        return Err(perr(n, "a log key must have type 0x01 (Ed25519)"));
                    }
                    if p.logs.iter().any(|l| l.key.public() == key.public()) {
                        return Err(perr(n, "duplicate log key"));
                    }
                    p.logs.push(PolicyLog { key, url });
                }
                "witness" => {
                    let (name, key, url) = match toks[1..] {
                        [name, k] => (name, k, None),
                        [name, k, u] => (name, k, Some(u.to_string())),
                        _ => return Err(perr(n, "want `witness <name> <vkey> [<url>]`")),
                    };
                    p.check_new_name(name).map_err(|m| perr(n, m))?;
                    let key = VerifierKey::parse(key).map_err(|e| perr(n, e.to_string()))?;
                    if key.alg() != ALG_COSIGNATURE_V1 {
                        return Err(perr(
                            n,
                            "a witness key must have type 0x04 (cosignature/v1)",
                        ));
                    }
                    if p.witnesses.iter().any(|w| w.key.public() == key.public()) {
                        return Err(perr(n, "duplicate witness key"));
                    }
                    p.witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url,
                    });
                }
                "group" => {
                    let [name, th, ref members @ ..] = toks[1..] else {
                        return Err(perr(n, "want `group <name> all|any|<k> <member>...`"));
                    };
                    p.check_new_name(name).map_err(|m| perr(n, m))?;
                    if members.is_empty() {
                        return Err(perr(n, "a group needs at least one member"));
                    }
                    for m in members {
                        if !p.is_defined(m) {
                            return Err(perr(
                                n,
                                format!("{m:?} is not a witness or group defined above"),
                            ));
                        }
                        if !members_used.insert(m.to_string()) {
                            return Err(perr(n, format!("{m:?} is already a group member")));
                        }
                    }
                    let threshold = match th {
                        "all" => Threshold::All,
                        "any" => Threshold::Any,
                        k => {
                            let k = parse_decimal(k)
                                .ok_or_else(|| perr(n, "threshold must be all, any or a number"))?;
                            if k == 0 || k > members.len() {
                                return Err(perr(
                                    n,
                                    format!("threshold {k} is not between 1 and {}", members.len()),
                                ));
                            }
                            Threshold::AtLeast(k)
                        }
                    };
                    p.groups.push(PolicyGroup {
                        name: name.to_string(),
                        threshold,
                        members: members.iter().map(|m| m.to_string()).collect(),
                    });
                }
                "quorum" => {
                    let [name] = toks[1..] else {
                        return Err(perr(n, "want `quorum <name>` or `quorum none`"));
                    };
                    p.quorum = match name {
                        "none" => None,
                        q if p.is_defined(q) => Some(q.to_string()),
                        q => {
                            return Err(perr(
                                n,
                                format!("{q:?} is not a witness or group defined above"),
                            ));
                        }
                    };
                    quorum_seen = true;
                }
                other => return Err(perr(n, format!("unknown keyword {other:?}"))),
            }
            if p.logs.len().max(p.witnesses.len()).max(p.groups.len()) > MAX_POLICY_ITEMS {
                return Err(perr(
                    n,
                    format!("more than {MAX_POLICY_ITEMS} logs, witnesses or groups"),
                ));
            }
        }
        if !quorum_seen {
            return Err(perr(
                0,
                "no quorum line (write `quorum none` to require no cosignatures)",
            ));
        }
        Ok(p)
    }

    fn is_defined(&self, name: &str) -> bool {
        self.witnesses.iter().any(|w| w.name == name) || self.groups.iter().any(|g| g.name == name)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("the name `none` is reserved".into());
        }
        if self.is_defined(name) {
            return Err(format!("{name:?} is already defined"));
        }
        Ok(())
    }

    /// The policy file text (comments are not kept).
    pub fn format(&self) -> String {
        let mut s = String::from(
            "# Witness policy (C2SP tlog-policy). `speclog witness add|remove|policy` rewrite\n\
             # this file; comments are not kept.\n",
        );
        let url = |u: &Option<String>| u.as_ref().map(|u| format!(" {u}")).unwrap_or_default();
        for l in &self.logs {
            s.push_str(&format!("log {}{}\n", l.key, url(&l.url)));
        }
        for w in &self.witnesses {
            s.push_str(&format!("witness {} {}{}\n", w.name, w.key, url(&w.url)));
        }
        for g in &self.groups {
            let th = match g.threshold {
                Threshold::All => "all".to_string(),
                Threshold::Any => "any".to_string(),
                Threshold::AtLeast(k) => k.to_string(),
            };
            s.push_str(&format!("group {} {th} {}\n", g.name, g.members.join(" ")));
        }
        s.push_str(&format!(
            "quorum {}\n",
            self.quorum.as_deref().unwrap_or("none")
        ));
        s
    }

    /// Reports whether `name` (a witness or group) has witnessed, given the
    /// witnesses whose cosignatures verified.
    fn witnessed(&self, name: &str, cosigned: &BTreeSet<String>, depth: usize) -> bool {
        if let Some(g) = self.groups.iter().find(|g| g.name == name) {
            // Groups only refer to earlier names, so depth is bounded by their count.
            if depth > self.groups.len() {
                return false;
            }
            let n = g
                .members
                .iter()
                .filter(|m| self.witnessed(m, cosigned, depth + 1))
                .count();
            return n >= g.k();
        }
        cosigned.contains(name)
    }

    /// Reports whether the witnesses named in `cosigned` satisfy the quorum.
    pub fn quorum_met(&self, cosigned: &BTreeSet<String>) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => self.witnessed(q, cosigned, 0),
        }
    }

    /// Describes the quorum, e.g. `2 of w1, w2, w3` or `none`.
    pub fn quorum_description(&self) -> String {
        let Some(q) = &self.quorum else {
            return "none (no cosignatures required)".into();
        };
        self.describe(q, 0)
    }

    fn describe(&self, name: &str, depth: usize) -> String {
        match self.groups.iter().find(|g| g.name == name) {
            Some(g) if depth <= self.groups.len() => {
                let inner: Vec<String> = g
                    .members
                    .iter()
                    .map(|m| {
                        let d = self.describe(m, depth + 1);
                        if d.contains(' ') { format!("({d})") } else { d }
                    })
                    .collect();
                format!("{} of {}", g.k(), inner.join(", "))
            }
            _ => name.to_string(),
        }
    }

    /// The witness whose key made the signature line `sig` (same key name
    /// and key ID), if the policy lists one.
    pub fn witness_for(&self, sig: &crate::note::NoteSignature) -> Option<&PolicyWitness> {
        self.witnesses
            .iter()
            .find(|w| w.key.name() == sig.name && w.key.key_id() == sig.key_id)
    }

    /// The policy names of the witnesses whose cosignatures on `note`
    /// verify, in note order. A cosignature line from a listed witness's key
    /// that does not verify is an error (as in signed-note); lines from
    /// unknown keys are ignored, and repeated ones after the first.
    pub fn cosigners(&self, note: &Note) -> Result<Vec<String>, (String, NoteError)> {
        let mut out: Vec<String> = Vec::new();
        for sig in &note.sigs {
            let Some(w) = self.witness_for(sig) else {
                continue;
            };
            if out.contains(&w.name) {
                continue;
            }
            note::verify_cosignature(&w.key, &note.text, sig).map_err(|e| (w.name.clone(), e))?;
            out.push(w.name.clone());
        }
        Ok(out)
    }

    /// If the policy lists logs, checks that one of them with the
    /// checkpoint's origin as its name signed `signed`, and returns that
    /// log's key name; `Ok(None)` when the policy lists no logs.
    pub fn check_log(&self, signed: &[u8], origin: &str) -> Result<Option<String>, NoteError> {
        if self.logs.is_empty() {
            return Ok(None);
        }
        let keys: Vec<VerifierKey> = self
            .logs
            .iter()
            .filter(|l| l.key.name() == origin)
            .map(|l| l.key.clone())
            .collect();
        note::open_checkpoint(signed, origin, &keys)?;
        Ok(Some(origin.to_string()))
    }

    /// Makes sure `key` is among the logs (speclog writes its ledger's log
    /// key into the policy it publishes).
    pub fn ensure_log(&mut self, key: &VerifierKey) {
        if !self.logs.iter().any(|l| l.key == *key) {
            self.logs.push(PolicyLog {
                key: key.clone(),
                url: None,
            });
        }
    }

    /// Adds a witness. If the quorum is the managed "N of all witnesses"
    /// group, the new witness joins it (N stays).
    pub fn add_witness(&mut self, name: &str, key: VerifierKey) -> Result<(), String> {
        if !note::is_valid_name(name) || name == MANAGED_GROUP {
            return Err(format!(
                "invalid witness name {name:?}: use a name without spaces or '+' (and not {MANAGED_GROUP:?})"
            ));
        }
        self.check_new_name(name)?;
        if key.alg() != ALG_COSIGNATURE_V1 {
            return Err("a witness key must have type 0x04 (cosignature/v1): use the key `speclog witness init` printed".into());
        }
        if let Some(w) = self
            .witnesses
            .iter()
            .find(|w| w.key.public() == key.public())
        {
            return Err(format!(
                "this key is already in the policy as witness {:?}",
                w.name
            ));
        }
        if self.witnesses.len() >= MAX_POLICY_ITEMS {
            return Err(format!(
                "a policy holds at most {MAX_POLICY_ITEMS} witnesses"
            ));
        }
        self.witnesses.push(PolicyWitness {
            name: name.to_string(),
            key,
            url: None,
        });
        if let Some(g) = self.managed_group_mut() {
            g.members.push(name.to_string());
        }
        Ok(())
    }

    /// Removes a witness. Fails if a group other than the managed one names
    /// it, if it is the quorum itself, or if the managed quorum would need
    /// more witnesses than remain.
    pub fn remove_witness(&mut self, name: &str) -> Result<(), String> {
        let Some(i) = self.witnesses.iter().position(|w| w.name == name) else {
            return Err(format!("no witness {name:?} in the policy"));
        };
        if self.quorum.as_deref() == Some(name) {
            return Err(format!(
                "{name:?} is the quorum; set another with `speclog witness policy --quorum N` first"
            ));
        }
        if let Some(g) = self
            .groups
            .iter()
            .find(|g| g.name != MANAGED_GROUP && g.members.iter().any(|m| m == name))
        {
            return Err(format!(
                "group {:?} names {name:?}; edit the policy file",
                g.name
            ));
        }
        if let Some(g) = self.managed_group_mut() {
            g.members.retain(|m| m != name);
            if g.members.len() < g.k() || g.members.is_empty() {
                return Err(format!(
                    "the quorum needs {} witnesses; lower it first with `speclog witness policy --quorum N`",
                    g.k()
                ));
            }
        }
        self.witnesses.remove(i);
        Ok(())
    }

    /// Sets the quorum to `n` of all witnesses (`quorum none` for 0),
    /// replacing any groups.
    pub fn set_quorum(&mut self, n: usize) -> Result<(), String> {
        if n > self.witnesses.len() {
            return Err(format!(
                "quorum {n} needs at least {n} witnesses, the policy has {}",
                self.witnesses.len()
            ));
        }
        self.groups.clear();
        if n == 0 {
            self.quorum = None;
            return Ok(());
        }
        self.groups.push(PolicyGroup {
            name: MANAGED_GROUP.into(),
            threshold: Threshold::AtLeast(n),
            members: self.witnesses.iter().map(|w| w.name.clone()).collect(),
        });
        self.quorum = Some(MANAGED_GROUP.into());
        Ok(())
    }

    fn managed_group_mut(&mut self) -> Option<&mut PolicyGroup> {
        if self.quorum.as_deref() != Some(MANAGED_GROUP) {
            return None;
        }
        self.groups.iter_mut().find(|g| g.name == MANAGED_GROUP)
    }
}

fn parse_decimal(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::note::{Checkpoint, NoteSigner, cosign, sign_checkpoint};
    use crate::tlog::{self, Hash};
    use ed25519_dalek::SigningKey;

    pub(crate) fn log() -> NoteSigner {
        NoteSigner::new("example.com/log", SigningKey::from_bytes(&[1; 32])).unwrap()
    }

    pub(crate) fn wit(i: u8) -> NoteSigner {
        NoteSigner::new_cosigner(
            &format!("w{i}.example"),
            SigningKey::from_bytes(&[10 + i; 32]),
        )
        .unwrap()
    }

    /// A signed checkpoint of a tree of `n` leaves `leaf-<tag>-<i>`.
    pub(crate) fn signed(tag: &str, n: u64) -> (String, tlog::MemoryHashes) {
        let leaves: Vec<Hash> = (0..n)
            .map(|i| tlog::leaf_hash(format!("leaf-{tag}-{i}").as_bytes()))
            .collect();
        let m = tlog::MemoryHashes::from_leaf_hashes(&leaves).unwrap();
        let root = tlog::tree_hash(n, &m).unwrap();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: n,
            root,
            extensions: vec![],
        };
        (sign_checkpoint(&cp, &[&log()]).unwrap(), m)
    }

    fn policy_with(ws: &[u8], k: usize) -> Policy {
        let mut p = Policy::default();
        p.ensure_log(&log().verifier_key());
        for &i in ws {
            p.add_witness(&format!("w{i}"), wit(i).verifier_key())
                .unwrap();
        }
        p.set_quorum(k).unwrap();
        p
    }

    #[test]
    fn policy_round_trip_quorum_and_cosigners() {
        let p = policy_with(&[1, 2, 3], 2);
        let text = p.format();
        assert!(
            text.contains("group speclog-quorum 2 w1 w2 w3\nquorum speclog-quorum\n"),
            "{text}"
        );
        assert_eq!(Policy::parse(text.as_bytes()).unwrap(), p);
        assert_eq!(p.quorum_description(), "2 of w1, w2, w3");

        let (n3, _) = signed("a", 3);
        let body = Note::parse(n3.as_bytes()).unwrap().text;
        let mut note = Note::parse(n3.as_bytes()).unwrap();
        note.add_signature(cosign(&wit(1), &body, 1).unwrap());
        let one = p.cosigners(&note).unwrap();
        assert_eq!(one, vec!["w1"]);
        assert!(!p.quorum_met(&one.into_iter().collect()));
        note.add_signature(cosign(&wit(3), &body, 2).unwrap());
        note.add_signature(cosign(&wit(9), &body, 2).unwrap()); // unknown: ignored
        let two = p.cosigners(&note).unwrap();
        assert_eq!(two, vec!["w1", "w3"]);
        assert!(p.quorum_met(&two.into_iter().collect()));
        assert_eq!(
            p.check_log(n3.as_bytes(), "example.com/log")
                .unwrap()
                .as_deref(),
            Some("example.com/log")
        );

        // A cosignature for another checkpoint, from a listed witness, is an error.
        let (n4, _) = signed("a", 4);
        let other_body = Note::parse(n4.as_bytes()).unwrap().text;
        note.add_signature(cosign(&wit(2), &other_body, 3).unwrap());
        assert_eq!(p.cosigners(&note).unwrap_err().0, "w2");

        // Managed group edits.
        let mut q = p.clone();
        q.add_witness("w4", wit(4).verifier_key()).unwrap();
        assert_eq!(q.quorum_description(), "2 of w1, w2, w3, w4");
        assert!(
            q.add_witness("w5", wit(4).verifier_key())
                .unwrap_err()
                .contains("already")
        );
        assert!(q.add_witness("w4", wit(5).verifier_key()).is_err());
        assert!(q.add_witness("none", wit(5).verifier_key()).is_err());
        assert!(q.add_witness("bad name", wit(5).verifier_key()).is_err());
        assert!(q.add_witness("w5", log().verifier_key()).is_err());
        q.remove_witness("w4").unwrap();
        q.remove_witness("w3").unwrap();
        assert!(
            q.remove_witness("w2")
                .unwrap_err()
                .contains("lower it first")
        );
        assert!(q.set_quorum(3).is_err());
        q.set_quorum(0).unwrap();
        assert_eq!(q.quorum_description(), "none (no cosignatures required)");
        assert!(q.quorum_met(&BTreeSet::new()));
        assert!(
            Policy::parse(q.format().as_bytes())
                .unwrap()
                .quorum
                .is_none()
        );
    }

    #[test]
    fn policy_parse_follows_tlog_policy() {
        let k = |i: u8| wit(i).verifier_key().to_string();
        let l = log().verifier_key().to_string();
        // The spec's two-level example, with comments, tabs and URLs.
        let text = format!(
            "# comment\n  log {l} https://log.example\n\n\
             witness X1 {}\nwitness X2 {}\nwitness X3 {}\ngroup X-witnesses 2 X1 X2 X3\n\
             witness Y1 {}\t\nwitness Y2 {} https://w.example/\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\
             group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n  # trailing comment",
            k(1),
            k(2),
            k(3),
            k(4),
            k(5),
            k(6)
        );
        let p = Policy::parse(text.as_bytes()).unwrap();
        assert_eq!(
            p.quorum_description(),
            "2 of (2 of X1, X2, X3), (1 of Y1, Y2, Y3)"
        );
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert!(p.quorum_met(&set(&["X1", "X3", "Y2"])));
        assert!(!p.quorum_met(&set(&["X1", "Y2", "Y3"])));
        assert!(!p.quorum_met(&set(&["X1", "X2", "X3"])));
        assert_eq!(Policy::parse(p.format().as_bytes()).unwrap(), p);

        let w1 = format!("witness w1 {}\n", k(1));
        for (bad, want) in [
            (String::new(), "no quorum"),
            (format!("{w1}quorum w2\n"), "not a witness or group"),
            (
                format!("{w1}quorum w1\nquorum w1\n"),
                "exactly one quorum line",
            ),
            (
                format!("quorum w1\n{w1}"),
                "\"w1\" is not a witness or group defined above",
            ),
            (
                format!("{w1}witness w1 {}\nquorum none\n", k(2)),
                "already defined",
            ),
            (
                format!("{w1}witness w2 {}\nquorum none\n", k(1)),
                "duplicate witness key",
            ),
            (format!("witness w1 {l}\nquorum none\n"), "type 0x04"),
            (format!("log {}\nquorum none\n", k(1)), "type 0x01"),
            (
                format!("{w1}group g 2 w1\nquorum g\n"),
                "not between 1 and 1",
            ),
            (format!("{w1}group g 0 w1\nquorum g\n"), "not between"),
            (format!("{w1}group g 01 w1\nquorum g\n"), "threshold"),
            (
                format!("{w1}group g any\nquorum g\n"),
                "at least one member",
            ),
            (
                format!("{w1}group g any w1\ngroup h any w1\nquorum h\n"),
                "already a group member",
            ),
            (
                format!("{w1}group g any g\nquorum g\n"),
                "not a witness or group",
            ),
            (
                format!("{w1}witness none {}\nquorum none\n", k(2)),
                "reserved",
            ),
            (format!("{w1}quorum\n"), "want `quorum"),
            (format!("{w1}cosigner x\nquorum none\n"), "unknown keyword"),
            (format!("{w1}quorum none\r\n"), "control character"),
            (
                "witness w1 w1+00000000+BAAA\nquorum none\n".to_string(),
                "verifier key",
            ),
        ] {
            let e = Policy::parse(bad.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(want), "{bad:?}: {e}");
        }
        assert_eq!(Policy::parse(b"quorum none\n\xff\n").unwrap_err().line, 2);
        // Lines after the quorum line are allowed (only the quorum must name
        // what precedes it).
        let after = format!("{w1}quorum w1\nlog {l}\nwitness w2 {}\n", k(2));
        let p = Policy::parse(after.as_bytes()).unwrap();
        assert_eq!((p.logs.len(), p.witnesses.len()), (1, 2));
        assert_eq!(Policy::parse(p.format().as_bytes()).unwrap(), p);
    }
}
