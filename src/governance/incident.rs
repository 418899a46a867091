//! Incidents: `incident.open`, `incident.update`, `incident.resolve` and
//! `incident.disclose`, and the lifecycle rules over them.
//!
//! Lifecycle: an incident is opened (status `open`), may be updated any number
//! of times to `investigating`, `mitigated` or `monitoring`, and is resolved
//! once. Resolution is final: no update or second resolve follows it (open a
//! new incident to revisit one). A confidential incident may be disclosed once,
//! before or after it is resolved.
//!
//! A confidential incident's entry carries only a commitment to its summary,
//! [`commitment`] = hex SHA-256(`"speclog/incident-details/v1\n"` || salt (32
//! bytes) || summary (UTF-8)); the summary and salt stay in the store's
//! private table until `incident.disclose` publishes them, and the rules check
//! them against the commitment.

use serde::{Deserialize, Serialize};

use super::{EntryRef, GovError, SpecLink};
use crate::base::sha256;

/// Domain separation prefix of the confidential-summary commitment.
pub const COMMITMENT_CONTEXT: &[u8] = b"speclog/incident-details/v1\n";
/// Longest title, in bytes.
pub const MAX_TITLE: usize = 200;
/// Longest summary, note or resolution, in bytes.
pub const MAX_TEXT: usize = 16 * 1024;
/// Most clauses an incident may name.
pub const MAX_CLAUSES: usize = 64;

/// How bad an incident is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Where an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Investigating,
    Mitigated,
    Monitoring,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Investigating => "investigating",
            Status::Mitigated => "mitigated",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
        }
    }
}

/// `incident.open`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open {
    /// `INC-<n>`, n = number of earlier incidents + 1.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// The spec release in force when the incident happened.
    pub spec: SpecLink,
    /// Clauses the incident touched (each in the release's clause manifest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clauses: Vec<String>,
    /// When the organisation became aware of it (RFC 3339 UTC, not after the entry time).
    pub aware_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    /// The public summary; absent for a confidential incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Hex commitment to a confidential summary; see [`commitment`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
}

/// `incident.update`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub id: String,
    /// `investigating`, `mitigated` or `monitoring`.
    pub status: Status,
    pub note: String,
}

/// `incident.resolve`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    pub id: String,
    pub resolution: String,
    /// The release that fixed it; it must list the incident in its `fixes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_by: Option<SpecLink>,
}

/// `incident.disclose`: publishes a confidential incident's summary and salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclose {
    pub id: String,
    pub summary: String,
    /// Hex of the 32-byte salt.
    pub salt: String,
}

/// What the store keeps privately for a confidential incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateDetails {
    pub summary: String,
    pub salt: String,
}

/// Name of an incident's row in the store's private table.
pub fn private_name(id: &str) -> String {
    format!("incident/{id}")
}

/// The commitment to a confidential summary: hex SHA-256 of the context, the salt and the summary.
pub fn commitment(salt: &[u8; 32], summary: &str) -> String {
    let mut m = Vec::with_capacity(COMMITMENT_CONTEXT.len() + 32 + summary.len());
    m.extend_from_slice(COMMITMENT_CONTEXT);
    m.extend_from_slice(salt);
    m.extend_from_slice(summary.as_bytes());
    hex::encode(sha256(&m))
}

/// An incident as the rules need it: its open entry folded with its later entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncidentRec {
    pub id: String,
    pub opened: EntryRef,
    pub title: String,
    pub severity: Severity,
    pub spec: SpecLink,
    pub clauses: Vec<String>,
    pub status: Status,
    pub commitment: Option<String>,
    pub disclosed: Option<u64>,
    pub resolved: Option<u64>,
    pub fixed_by: Option<SpecLink>,
}

impl IncidentRec {
    /// The record of a just-opened incident.
    pub fn opened(seq: u64, hash: &str, o: &Open) -> IncidentRec {
        IncidentRec {
            id: o.id.clone(),
            opened: EntryRef {
                seq,
                hash: hash.to_string(),
            },
            title: o.title.clone(),
            severity: o.severity,
            spec: o.spec.clone(),
            clauses: o.clauses.clone(),
            status: Status::Open,
            commitment: o.commitment.clone(),
            disclosed: None,
            resolved: None,
            fixed_by: None,
        }
    }

    pub fn update(&mut self, u: &Update) {
        self.status = u.status;
    }

    pub fn resolve(&mut self, seq: u64, r: &Resolve) {
        self.status = Status::Resolved;
        self.resolved = Some(seq);
        self.fixed_by = r.fixed_by.clone();
    }

    pub fn disclose(&mut self, seq: u64) {
        self.disclosed = Some(seq);
    }
}

fn rule(m: String) -> GovError {
    GovError::Rule(m)
}

/// Checks free text: non-blank, at most `max` bytes, no control characters but newlines and tabs.
pub fn check_text(what: &str, s: &str, max: usize) -> Result<(), GovError> {
    if s.trim().is_empty() {
        return Err(rule(format!("{what} must not be empty")));
    }
    if s.len() > max {
        return Err(rule(format!(
            "{what} is {} bytes, over the {max}-byte limit",
            s.len()
        )));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(GovError::ControlChar {
            what: what.to_string(),
        });
    }
    Ok(())
}

/// Checks the parts of an `incident.open` that need no other entry.
pub fn check_open_fields(o: &Open, entry_time: &str) -> Result<(), GovError> {
    check_text("incident title", &o.title, MAX_TITLE)?;
    if o.title.contains('\n') {
        return Err(rule("incident title must be one line".into()));
    }
    if let Some(r) = &o.reporter {
        check_text("reporter", r, MAX_TITLE)?;
    }
    crate::base::check_time(&o.aware_at).map_err(|_| {
        rule(format!(
            "aware_at {:?} is not an RFC 3339 UTC time",
            o.aware_at
        ))
    })?;
    if o.aware_at.as_str() > entry_time {
        return Err(rule(format!(
            "aware_at {} is later than the entry time {entry_time}",
            o.aware_at
        )));
    }
    if o.clauses.len() > MAX_CLAUSES {
        return Err(rule(format!(
            "an incident may name at most {MAX_CLAUSES} clauses"
        )));
    }
    for (i, c) in o.clauses.iter().enumerate() {
        if o.clauses[..i].contains(c) {
            return Err(rule(format!("clause {c:?} is named twice")));
        }
    }
    match (&o.summary, &o.commitment) {
        (Some(s), None) => check_text("summary", s, MAX_TEXT),
        (None, Some(c)) if is_hex32(c) => Ok(()),
        (None, Some(c)) => Err(rule(format!(
            "commitment {c:?} is not 64 lowercase hex digits"
        ))),
        _ => Err(rule(
            "an incident has either a public summary or a commitment to a confidential one".into(),
        )),
    }
}

/// True for 64 lowercase hex digits.
pub fn is_hex32(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Checks a disclosure against the incident's commitment.
pub fn check_disclosure(rec: &IncidentRec, d: &Disclose) -> Result<(), GovError> {
    let Some(c) = &rec.commitment else {
        return Err(rule(format!(
            "incident {} is not confidential: its summary is already public",
            rec.id
        )));
    };
    if let Some(s) = rec.disclosed {
        return Err(rule(format!(
            "incident {} was already disclosed (entry {s})",
            rec.id
        )));
    }
    check_text("summary", &d.summary, MAX_TEXT)?;
    let salt: [u8; 32] = hex::decode(&d.salt)
        .ok()
        .filter(|_| is_hex32(&d.salt))
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| rule("disclosure salt is not 64 lowercase hex digits".into()))?;
    if &commitment(&salt, &d.summary) != c {
        return Err(rule(format!(
            "disclosed summary and salt of {} do not match its commitment",
            rec.id
        )));
    }
    Ok(())
}

/// The next incident's id given how many were opened before.
pub fn next_id(opened: u64) -> String {
    format!("INC-{}", opened + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(summary: Option<&str>, commitment: Option<String>) -> Open {
        Open {
            id: "INC-1".into(),
            title: "Over-refusal".into(),
            severity: Severity::High,
            spec: SpecLink {
                label: "v1".into(),
                release: EntryRef {
                    seq: 2,
                    hash: "00".repeat(32),
                },
            },
            clauses: vec!["a".into()],
            aware_at: "2025-09-01T00:00:00Z".into(),
            reporter: None,
            summary: summary.map(str::to_string),
            commitment,
        }
    }

    #[test]
    fn commitment_and_disclosure() {
        let salt = [7u8; 32];
        let c = commitment(&salt, "details");
        assert!(is_hex32(&c));
        // Known answer: the formula is part of the format.
        let mut m = b"speclog/incident-details/v1\n".to_vec();
        m.extend_from_slice(&salt);
        m.extend_from_slice(b"details");
        assert_eq!(c, hex::encode(sha256(&m)));

        let o = open(None, Some(c));
        check_open_fields(&o, "2025-09-02T00:00:00Z").unwrap();
        let mut rec = IncidentRec::opened(5, &"11".repeat(32), &o);
        let good = Disclose {
            id: "INC-1".into(),
            summary: "details".into(),
            salt: hex::encode(salt),
        };
        check_disclosure(&rec, &good).unwrap();
        let mut bad = good.clone();
        bad.summary = "other".into();
        assert!(check_disclosure(&rec, &bad).is_err());
        rec.disclose(9);
        assert!(
            check_disclosure(&rec, &good)
                .unwrap_err()
                .to_string()
                .contains("already disclosed")
        );
    }

    #[test]
    fn open_fields() {
        check_open_fields(&open(Some("s"), None), "2025-09-02T00:00:00Z").unwrap();
        let e = check_open_fields(&open(Some("s"), None), "2025-08-01T00:00:00Z").unwrap_err();
        assert!(e.to_string().contains("later than the entry time"));
        assert!(check_open_fields(&open(None, None), "2025-09-02T00:00:00Z").is_err());
        assert!(
            check_open_fields(&open(Some("s"), Some("ab".into())), "2025-09-02T00:00:00Z").is_err()
        );
        let mut o = open(Some("s"), None);
        o.clauses = vec!["a".into(), "a".into()];
        assert!(check_open_fields(&o, "2025-09-02T00:00:00Z").is_err());
    }

    #[test]
    fn statuses_serialise_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Mitigated).unwrap(),
            "\"mitigated\""
        );
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            "\"critical\""
        );
    }
}
