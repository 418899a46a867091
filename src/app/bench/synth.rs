//! Synthetic but realistic ledger content for `speclog bench`.
//!
//! The mix, by entry count (see docs/PERFORMANCE.md):
//! - entry 0 `log.init`, then two `key.add` (policy-team, lab-ops);
//! - [`RELEASES`] `spec.release` entries of a real-size spec (about 250 KB of
//!   Markdown, 360+ clauses, like the OpenAI Model Spec), spread evenly over
//!   the ledger, each revising a few clauses and adding one;
//! - between them, in every 10 entries: 8 `eval.record` (each with its own
//!   results file of about 900 bytes, three metrics over clauses of the
//!   current release) and 2 incident events (each incident is opened, updated
//!   twice and resolved, about three in flight at a time).
//!
//! Everything is deterministic (a fixed-seed xorshift generator), so two runs
//! of the same size build byte-identical payloads.

use std::collections::VecDeque;

use crate::governance::eval::{self, EvalRecord, ResultsFile};
use crate::governance::incident::{self, Severity, Status};
use crate::governance::{self, ContentRef, EntryRef, SpecLink, kinds};
use crate::ledger::Draft;

/// Spec releases in a generated ledger.
pub const RELEASES: usize = 5;

/// A small fast deterministic generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const WORDS: &[&str] = &[
    "assistant",
    "user",
    "developer",
    "platform",
    "instruction",
    "request",
    "answer",
    "honest",
    "harm",
    "safety",
    "privacy",
    "context",
    "intent",
    "should",
    "must",
    "never",
    "always",
    "explain",
    "refuse",
    "comply",
    "clarify",
    "uncertain",
    "evidence",
    "source",
    "tool",
    "data",
    "policy",
    "conflict",
    "authority",
    "follow",
    "respect",
    "protect",
    "avoid",
    "provide",
    "consider",
    "helpful",
    "accurate",
    "calibrated",
    "transparent",
    "autonomy",
    "wellbeing",
    "creative",
    "factual",
    "sensitive",
    "content",
    "minor",
    "medical",
    "legal",
    "financial",
    "advice",
    "risk",
    "benefit",
    "balance",
    "default",
    "override",
    "guideline",
    "example",
    "response",
    "tone",
    "style",
    "format",
    "length",
    "language",
    "translation",
    "summary",
    "reasoning",
    "chain",
    "command",
    "untrusted",
    "input",
    "output",
    "agent",
    "action",
    "confirm",
    "irreversible",
    "side",
    "effect",
    "scope",
    "task",
    "goal",
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "that",
    "it",
    "is",
    "for",
    "with",
    "as",
    "on",
    "when",
    "unless",
    "because",
    "while",
    "without",
    "by",
    "from",
    "this",
    "each",
    "any",
    "more",
];

fn words(rng: &mut Rng, n: usize, out: &mut String) {
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
}

/// Chapters (`#` headings) and sections per chapter (`##` headings) of the spec.
const CHAPTERS: usize = 36;
const SECTIONS: usize = 9;

/// The text of release `k` (0-based) of the synthetic spec: about 250 KB of
/// Markdown. Each release rewords a few clauses of the one before and adds one.
pub fn spec_text(k: usize) -> String {
    let mut s = String::with_capacity(280_000);
    for c in 0..CHAPTERS {
        let mut rng = Rng::new(1000 + c as u64);
        let mut title = String::new();
        words(&mut rng, 3, &mut title);
        s.push_str(&format!("# Chapter {c}: {title} {{#chapter_{c}}}\n\n"));
        words(&mut rng, 40, &mut s);
        s.push_str(".\n\n");
        let extra = if c == CHAPTERS - 1 { k } else { 0 };
        for n in 0..SECTIONS + extra {
            let i = c * SECTIONS + n;
            let mut rng = Rng::new(i as u64 + 7);
            let mut t = String::new();
            words(&mut rng, 4, &mut t);
            let auth = ["platform", "developer", "user", "guideline"][i % 4];
            s.push_str(&format!("## {t} {{#c{c}_{n} authority={auth}}}\n\n"));
            for _ in 0..4 {
                words(&mut rng, 26, &mut s);
                s.push_str(".\n\n");
            }
            for r in 1..=k {
                if (i + 3 * r).is_multiple_of(41) {
                    s.push_str(&format!("Revised in release {r}: "));
                    words(&mut rng, 12, &mut s);
                    s.push_str(".\n\n");
                }
            }
        }
    }
    s
}

/// The latest release, as the generated entries refer to it.
#[derive(Clone, Debug)]
pub struct ReleaseRef {
    pub link: SpecLink,
    pub clauses: Vec<String>,
}

/// Generates the eval and incident drafts of the bulk part, in order.
pub struct Synth {
    rng: Rng,
    evals: u64,
    incidents: u64,
    /// Open incidents: (id, updates so far).
    open: VecDeque<(String, u8)>,
    slot: u64,
}

impl Default for Synth {
    fn default() -> Self {
        Synth::new()
    }
}

impl Synth {
    pub fn new() -> Synth {
        Synth {
            rng: Rng::new(42),
            evals: 0,
            incidents: 0,
            open: VecDeque::new(),
            slot: 0,
        }
    }

    /// The next draft of the bulk mix against release `rel`, entry time `time`.
    pub fn next(&mut self, rel: &ReleaseRef, time: &str) -> Draft {
        let slot = self.slot;
        self.slot += 1;
        if slot % 10 < 8 {
            self.eval(rel)
        } else {
            self.incident(rel, time)
        }
    }

    fn clause(&mut self, rel: &ReleaseRef) -> String {
        rel.clauses[self.rng.below(rel.clauses.len() as u64) as usize].clone()
    }

    fn eval(&mut self, rel: &ReleaseRef) -> Draft {
        self.evals += 1;
        let n = self.evals;
        let rng = &mut self.rng;
        let (c1, c2, c3) = (
            rel.clauses[rng.below(rel.clauses.len() as u64) as usize].clone(),
            rel.clauses[rng.below(rel.clauses.len() as u64) as usize].clone(),
            rel.clauses[rng.below(rel.clauses.len() as u64) as usize].clone(),
        );
        let (v1, v2, v3) = (
            0.80 + 0.2 * rng.unit(),
            0.1 * rng.unit(),
            0.5 + 0.5 * rng.unit(),
        );
        let suite = ["honesty", "sycophancy", "refusals", "privacy"][(n % 4) as usize];
        let file = serde_json::json!({
            "model": {"id": format!("example-model-{}", n % 7), "digest": format!("sha256:{:016x}", rng.next_u64())},
            "suite": {"name": suite, "version": format!("1.{}", n % 3)},
            "harness": {"name": "evalkit", "version": "0.9.2"},
            "dataset": {"id": format!("probes-{}", n % 11), "revision": "2025-06"},
            "sample_size": 500 + rng.below(4500),
            "date": "2025-06-30",
            "evaluator": "Example Lab evaluation team",
            "relationship": if n.is_multiple_of(5) { "third-party" } else { "first-party" },
            "results": [
                {"clauses": [c1], "metric": "compliance_rate", "value": v1, "uncertainty": 0.01,
                 "comparator": ">=", "threshold": 0.9},
                {"clauses": [c2], "metric": "violation_rate", "value": v2, "uncertainty": 0.005,
                 "comparator": "<=", "threshold": 0.05},
                {"clauses": [c3], "metric": "helpfulness", "value": v3, "comparator": ">="}
            ]
        })
        .to_string()
        .into_bytes();
        let parsed: ResultsFile = eval::parse_results(&file).expect("synthetic results parse");
        let outcomes = eval::derive_outcomes(&parsed, None).expect("synthetic outcomes");
        let rec = EvalRecord {
            id: format!("EVAL-{n}"),
            spec: rel.link.clone(),
            model: parsed.model,
            suite: parsed.suite,
            evaluator: parsed.evaluator,
            relationship: parsed.relationship,
            date: parsed.date,
            results: ContentRef::of(&file, governance::MEDIA_RESULTS),
            pass: eval::overall(&outcomes),
            outcomes,
            preregistration: None,
        };
        let mut d = Draft::new(kinds::EVAL_RECORD, &rec);
        d.blobs = vec![file];
        d
    }

    fn incident(&mut self, rel: &ReleaseRef, time: &str) -> Draft {
        if self.open.len() < 3 {
            self.incidents += 1;
            let id = incident::next_id(self.incidents - 1);
            let clauses = {
                let a = self.clause(rel);
                let b = self.clause(rel);
                if a == b { vec![a] } else { vec![a, b] }
            };
            let mut title = String::from("Model ");
            words(&mut self.rng, 6, &mut title);
            let mut summary = String::new();
            words(&mut self.rng, 40, &mut summary);
            let o = incident::Open {
                id: id.clone(),
                title,
                severity: [Severity::Low, Severity::Medium, Severity::High]
                    [(self.incidents % 3) as usize],
                spec: rel.link.clone(),
                clauses,
                aware_at: time.to_string(),
                reporter: Some("external researcher".into()),
                summary: Some(summary),
                commitment: None,
            };
            self.open.push_back((id, 0));
            return Draft::new(kinds::INCIDENT_OPEN, &o);
        }
        let (id, updates) = self.open.pop_front().expect("an open incident");
        let mut note = String::new();
        words(&mut self.rng, 20, &mut note);
        if updates < 2 {
            self.open.push_back((id.clone(), updates + 1));
            let u = incident::Update {
                id,
                status: [Status::Investigating, Status::Mitigated][updates as usize],
                note,
            };
            Draft::new(kinds::INCIDENT_UPDATE, &u)
        } else {
            let r = incident::Resolve {
                id,
                resolution: note,
                fixed_by: None,
            };
            Draft::new(kinds::INCIDENT_RESOLVE, &r)
        }
    }
}

/// The link to a release entry.
pub fn link(label: &str, seq: u64, hash: &crate::tlog::Hash) -> SpecLink {
    SpecLink {
        label: label.to_string(),
        release: EntryRef::new(seq, hash),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::clauses;

    #[test]
    fn spec_is_real_size_and_releases_differ() {
        let a = spec_text(0);
        let b = spec_text(1);
        assert!((200_000..320_000).contains(&a.len()), "{}", a.len());
        let (ca, cb) = (clauses::parse(&a).unwrap(), clauses::parse(&b).unwrap());
        assert!(ca.len() > 350);
        assert_eq!(cb.len(), ca.len() + 1);
        assert_ne!(a, b);
    }
}
