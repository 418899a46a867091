//! What each fuzz target checks, beyond "does not panic, does not hang, does
//! not blow the stack". Each function takes the fuzzer's bytes; the targets in
//! `fuzz_targets/` are one line each.
//!
//! Parsers that have a formatter must round-trip: whatever they accept formats
//! back to exactly the input bytes (so two different byte strings never mean
//! the same thing to a verifier).

use std::sync::OnceLock;

use speclog::governance::{self, clauses, eval};
use speclog::ledger::entry::Entry;
use speclog::note::{self, Checkpoint, Note, VerifierKey};
use speclog::site::markdown::{self, ClauseLinks};
use speclog::tlog::{self, ConsistencyProofFile, InclusionProofFile, Tile};

/// The log key signed notes and proofs are opened with: the verifier key in
/// `SPECLOG_FUZZ_LOG_KEY` (a `.pub` line; scripts/fuzz-ci sets the demo
/// ledger's, so its checkpoints and proofs verify), else a fixed key (a test
/// vector of Go's signed-note package).
pub fn log_key() -> &'static VerifierKey {
    static KEY: OnceLock<VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| {
        std::env::var("SPECLOG_FUZZ_LOG_KEY")
            .ok()
            .and_then(|k| VerifierKey::parse(k.trim()).ok())
            .unwrap_or_else(|| {
                VerifierKey::parse(
                    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                )
                .expect("a valid fixed key")
            })
    })
}

/// `ledger::entry::Entry::decode`: accepted entries re-encode to the same bytes;
/// their payload decodes or fails cleanly; signature checks do not panic.
pub fn entry(data: &[u8]) {
    let Ok(e) = Entry::decode(data) else { return };
    assert_eq!(e.encode(), data, "decode/encode round trip");
    let _ = e.verify_signature();
    let _ = governance::Payload::decode(&e.kind, &e.payload);
    let _ = speclog::app::EntryView::from_bytes(data);
}

/// `note::Note::parse` (and verifier keys): accepted notes format back to the input.
pub fn note(data: &[u8]) {
    if let Ok(n) = Note::parse(data) {
        assert_eq!(n.format().as_bytes(), data, "note round trip");
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = VerifierKey::parse(s) {
            assert_eq!(k.to_string(), s, "verifier key round trip");
        }
        for line in s.lines().take(4) {
            let _ = note::NoteSignature::parse_line(line);
        }
    }
    let _ = note::open_note(data, std::slice::from_ref(log_key()));
}

/// `note::Checkpoint::parse` and `note::open_checkpoint`: accepted checkpoint
/// text formats back to the input.
pub fn checkpoint(data: &[u8]) {
    let text = match Note::parse(data) {
        Ok(n) => n.text,
        Err(_) => match std::str::from_utf8(data) {
            Ok(s) => s.to_string(),
            Err(_) => return,
        },
    };
    if let Ok(cp) = Checkpoint::parse(&text) {
        assert_eq!(cp.to_text(), text, "checkpoint round trip");
        assert!(cp.validate().is_ok(), "a parsed checkpoint validates");
    }
    let origin = text.lines().next().unwrap_or("");
    let _ = note::open_checkpoint(data, origin, std::slice::from_ref(log_key()));
    let _ = speclog::published::open_checkpoint(data, std::slice::from_ref(log_key()), "fuzz");
}

/// `tlog::InclusionProofFile::parse` and `ConsistencyProofFile::parse` round
/// trip; a whole offline verification (`speclog verify --proof`) does not panic.
pub fn proof_file(data: &[u8]) {
    if let Ok(p) = InclusionProofFile::parse(data) {
        assert_eq!(p.format().as_bytes(), data, "inclusion proof round trip");
    }
    if let Ok(p) = ConsistencyProofFile::parse(data) {
        assert_eq!(p.format().as_bytes(), data, "consistency proof round trip");
    }
    let _ = speclog::app::proofs::verify_proof(data, None, None, log_key());
}

/// `tlog::Tile::parse_path`: accepted paths are canonical.
pub fn tile_path(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = Tile::parse_path(s) {
        assert_eq!(t.path(), s, "tile path round trip");
    }
}

/// `tlog::parse_bundle`: accepted bundles re-encode to the same bytes, and each
/// entry in them decodes or fails cleanly.
pub fn bundle(data: &[u8]) {
    let Ok(entries) = tlog::parse_bundle(data) else {
        return;
    };
    assert_eq!(
        tlog::encode_bundle(&entries).unwrap(),
        data,
        "bundle round trip"
    );
    for e in entries {
        entry(e);
    }
}

/// `governance::eval::parse_results` and `parse_thresholds`: what is accepted
/// is accepted again after writing it out as JSON.
pub fn eval_results(data: &[u8]) {
    if let Ok(r) = eval::parse_results(data) {
        let again = serde_json::to_vec(&r).unwrap();
        assert!(
            eval::parse_results(&again).is_ok(),
            "re-parse of accepted results"
        );
    }
    if let Ok(t) = eval::parse_thresholds(data) {
        let again = serde_json::to_vec(&serde_json::json!({ "thresholds": t })).unwrap();
        assert!(
            eval::parse_thresholds(&again).is_ok(),
            "re-parse of accepted thresholds"
        );
    }
}

/// `governance::clauses::parse`: ids are unique and well-formed, byte ranges
/// are in order, inside the text and on character boundaries.
pub fn clauses(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cl) = clauses::parse(s) else { return };
    assert!(cl.len() <= clauses::MAX_CLAUSES);
    // Clauses form a tree (module docs of governance::clauses): each lies
    // inside its parent, and the leaves cover every byte once, in order.
    let mut ids = std::collections::HashMap::new();
    for c in &cl {
        assert!(clauses::valid_id(&c.id), "clause id {:?}", c.id);
        assert!(
            ids.insert(c.id.as_str(), c).is_none(),
            "duplicate id {:?}",
            c.id
        );
        assert!(c.start < c.end && c.end <= s.len());
        assert!(s.is_char_boundary(c.start) && s.is_char_boundary(c.end));
        assert!((1..=6).contains(&c.level));
        if let Some(p) = &c.parent {
            let p = ids
                .get(p.as_str())
                .expect("a parent comes before its children");
            assert!(
                p.start <= c.start && c.end <= p.end,
                "clause {:?} outside its parent",
                c.id
            );
        }
        let _ = c.body(s);
    }
    let mut covered = 0;
    for leaf in clauses::leaves(&cl) {
        assert_eq!(
            leaf.start, covered,
            "leaf {:?} leaves a gap or overlaps",
            leaf.id
        );
        covered = leaf.end;
    }
    assert_eq!(
        covered,
        s.len(),
        "the leaves do not reach the end of the text"
    );
}

/// The site's Markdown renderer: whatever the text, no tag of the output is a
/// script, an embed or an image, carries an event handler or a `javascript:`
/// or `data:` URL.
pub fn markdown(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let cl = clauses::parse(s).unwrap_or_default();
    let titles = markdown::titles(&cl);
    for html in [
        markdown::render_spec(s, &cl),
        markdown::render_fragment(s, &titles, ClauseLinks::ClausePages("../../")),
    ] {
        assert_inert(&html);
    }
    let _ = markdown::plain(s, 200);
}

/// Panics if a tag of `html` could run script or load something.
pub fn assert_inert(html: &str) {
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        // The tag ends at the first '>' outside a quoted attribute value.
        let mut quoted = false;
        let end = rest[i..]
            .char_indices()
            .find(|&(_, c)| {
                quoted ^= c == '"';
                c == '>' && !quoted
            })
            .map_or(rest.len(), |(j, _)| i + j + 1);
        let tag = rest[i..end].to_ascii_lowercase();
        rest = &rest[end..];
        let name: String = tag[1..]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            ![
                "script", "img", "iframe", "svg", "style", "object", "embed", "form", "input",
                "base", "meta", "link", "math",
            ]
            .contains(&name.as_str()),
            "<{name}> in output: {tag}"
        );
        for (attr, value) in attributes(&tag[1 + name.len()..]) {
            assert!(
                !attr.starts_with("on") && attr != "style",
                "attribute {attr} in {tag}"
            );
            if attr == "href" || attr == "src" {
                let v: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                assert!(
                    !["javascript:", "data:", "vbscript:"]
                        .iter()
                        .any(|b| v.starts_with(b)),
                    "unsafe URL in {tag}"
                );
            }
        }
    }
}

/// The (name, value) pairs of a tag's attribute text, values unquoted.
fn attributes(mut s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '/' || c == '>');
        if s.is_empty() {
            return out;
        }
        let n = s
            .find(|c: char| c == '=' || c.is_whitespace() || c == '>')
            .unwrap_or(s.len());
        let name = &s[..n];
        s = &s[n..];
        let Some(v) = s.strip_prefix('=') else {
            out.push((name, ""));
            continue;
        };
        let (value, after) = match v.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let end = v[1..].find(q).map_or(v.len(), |e| e + 1);
                (&v[1..end], v.get(end + 1..).unwrap_or(""))
            }
            _ => {
                let end = v
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(v.len());
                (&v[..end], &v[end..])
            }
        };
        out.push((name, value));
        s = after;
    }
}
