//! Clause manifests (format 2) and history-aware clause ids (docs/FORMAT.md,
//! "Clause manifest" and "Clause ids").
//!
//! A release's manifest is derived from its text and from the previous
//! release of the document (its text and manifest): a clause that is the same
//! clause as one of the previous release (unchanged, edited, with its heading
//! reworded, moved, or with neighbours inserted) keeps that clause's id. The
//! matching works like a diff tool's, in four passes over clauses not yet
//! matched: explicit `{#id}`s; identical content found once on each side;
//! position among the parts of matched parents (equal content, then the same
//! count of parts in place, then similar content); similar content anywhere.
//! Fresh ids never reuse an id of the document's history: the manifest
//! carries the ids retired so far. Pure: the same previous release and text
//! give the same manifest, byte for byte, so `verify` recomputes it.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::clauses::{self, Clause, ClauseError, Kind, Proto};

/// The manifest format this version writes and reads.
pub const FORMAT: u32 = 2;

/// Lowest word similarity (Dice, see [`similar`]) of two parts paired by
/// position: the same number of unmatched parts between the same matched
/// neighbours (numerator, denominator).
pub const SIMILAR_IN_PLACE: (u64, u64) = (1, 3);
/// Lowest word similarity of two clauses paired by content alone.
pub const SIMILAR_MOVED: (u64, u64) = (1, 2);
/// Most (new, old) pairs the last pass compares; above it that pass is skipped.
pub const MAX_MOVED_PAIRS: usize = 250_000;

/// A release's clause manifest, as signed: `{"format": 2, "clauses": [...], "retired": [...]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: u32,
    /// The clauses, in document order (a clause before its parts).
    pub clauses: Vec<Clause>,
    /// Ids used by earlier releases of the document and by no clause of this
    /// one, sorted by bytes: fresh ids avoid them.
    pub retired: Vec<String>,
}

/// Why a clause manifest could not be read or derived.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error(
        "clause manifest is format 1 (a bare JSON array), which this speclog no longer reads (it reads format {FORMAT})"
    )]
    Format1,
    #[error(
        "clause manifest is format {0}, which this speclog does not read (it reads format {FORMAT})"
    )]
    Format(u64),
    #[error("clause manifest is malformed: {0}")]
    Malformed(String),
    #[error(transparent)]
    Clauses(#[from] ClauseError),
}

impl Manifest {
    /// The signed bytes: compact JSON, fields in the order above.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifests serialise")
    }

    /// Reads a manifest, refusing other formats by name, malformed ids,
    /// repeated ids and parents that are not earlier clauses.
    pub fn decode(b: &[u8]) -> Result<Manifest, ManifestError> {
        if b.trim_ascii_start().first() == Some(&b'[') {
            return Err(ManifestError::Format1);
        }
        #[derive(Deserialize)]
        struct Head {
            format: Option<u64>,
        }
        let h: Head =
            serde_json::from_slice(b).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        match h.format {
            Some(f) if f == FORMAT as u64 => {}
            Some(f) => return Err(ManifestError::Format(f)),
            None => return Err(ManifestError::Malformed("no \"format\" field".into())),
        }
        let m: Manifest =
            serde_json::from_slice(b).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        let mut seen: HashSet<&str> = HashSet::new();
        for c in &m.clauses {
            if !clauses::valid_id(&c.id) {
                return Err(ManifestError::Malformed(format!("clause id {:?}", c.id)));
            }
            if let Some(p) = &c.parent
                && !seen.contains(p.as_str())
            {
                return Err(ManifestError::Malformed(format!(
                    "clause {} names parent {p}, not an earlier clause",
                    c.id
                )));
            }
            if !seen.insert(&c.id) {
                return Err(ManifestError::Malformed(format!(
                    "clause id {} twice",
                    c.id
                )));
            }
        }
        Ok(m)
    }
}

/// The previous release of a document: its text and its manifest.
#[derive(Clone, Copy, Debug)]
pub struct Previous<'a> {
    pub text: &'a str,
    pub manifest: &'a Manifest,
}

/// The manifest of `text`, its ids assigned against `prev` (none for a
/// document's first release).
pub fn derive(text: &str, prev: Option<Previous<'_>>) -> Result<Manifest, ClauseError> {
    let protos = clauses::segment(text, &mut |_| {})?;
    Ok(assign(text, protos, prev))
}

/// Names `protos` (segmented from `text`) against `prev`.
pub fn assign(text: &str, protos: Vec<Proto>, prev: Option<Previous<'_>>) -> Manifest {
    let Some(prev) = prev else {
        return Manifest {
            format: FORMAT,
            clauses: clauses::name(protos, &[], &HashSet::new()),
            retired: Vec::new(),
        };
    };
    let old = &prev.manifest.clauses;
    let matched = Matcher::new(prev.text, old, text, &protos).run();
    let kept: Vec<Option<String>> = matched
        .iter()
        .zip(first_explicit(&protos))
        .map(|(m, e)| match (m, e) {
            (Some(o), None) => Some(old[*o].id.clone()),
            _ => None,
        })
        .collect();
    let mut taken: HashSet<String> = prev.manifest.retired.iter().cloned().collect();
    taken.extend(old.iter().map(|c| c.id.clone()));
    let clauses = clauses::name(protos, &kept, &taken);
    let now: HashSet<&str> = clauses.iter().map(|c| c.id.as_str()).collect();
    let mut retired: Vec<String> = taken
        .into_iter()
        .filter(|id| !now.contains(id.as_str()))
        .collect();
    retired.sort();
    Manifest {
        format: FORMAT,
        clauses,
        retired,
    }
}

/// The class of a clause for matching: headings, sections (tags and
/// template blocks), and text (everything else) only match their own class.
fn class(k: Kind) -> u8 {
    match k {
        Kind::Heading => 0,
        Kind::Tag | Kind::Template => 1,
        _ => 2,
    }
}

/// A clause's [`key`]: class, digest, and title for an empty heading.
type Key<'a> = (u8, &'a str, &'a str);

/// What identical content means: the class and digest (the body digest of a
/// heading, so a reworded heading still matches), and for a heading with an
/// empty body its title too (every empty section has the same digest).
fn key(c: &Clause, body_empty: bool) -> Key<'_> {
    let t = if c.kind.is_heading() && body_empty {
        c.title.as_str()
    } else {
        ""
    };
    (class(c.kind), c.sha256.as_str(), t)
}

/// Word similarity of two word lists (each sorted): the Dice coefficient
/// `2·common / (a + b)`, where `common` counts words in both as a multiset;
/// as the fraction (numerator, denominator); two empty lists are alike (1/1).
pub fn similar(a: &[&str], b: &[&str]) -> (u64, u64) {
    if a.is_empty() && b.is_empty() {
        return (1, 1);
    }
    let (mut i, mut j, mut common) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (2 * common, (a.len() + b.len()) as u64)
}

/// `a >= b` for fractions.
fn at_least(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 as u128 * b.1 as u128 >= b.0 as u128 * a.1 as u128
}

/// One side of the matching: clauses, their bodies, tree and match.
struct Side<'a> {
    text: &'a str,
    clauses: Vec<&'a Clause>,
    /// Parts of each clause; the last entry is the top level.
    parts: Vec<Vec<usize>>,
    matched: Vec<Option<usize>>,
    words: Vec<Option<Vec<&'a str>>>,
}

impl<'a> Side<'a> {
    fn new(text: &'a str, clauses: Vec<&'a Clause>, parent: Vec<Option<usize>>) -> Side<'a> {
        let n = clauses.len();
        let mut parts = vec![Vec::new(); n + 1];
        for (i, p) in parent.iter().enumerate() {
            parts[p.unwrap_or(n)].push(i);
        }
        Side {
            text,
            clauses,
            parts,
            matched: vec![None; n],
            words: vec![None; n],
        }
    }

    fn body(&self, i: usize) -> &'a str {
        self.clauses[i].body(self.text)
    }

    fn words(&mut self, i: usize) -> &[&'a str] {
        if self.words[i].is_none() {
            let mut w: Vec<&'a str> = self.body(i).split_ascii_whitespace().collect();
            w.sort_unstable();
            self.words[i] = Some(w);
        }
        self.words[i].as_deref().expect("set")
    }

    fn key(&self, i: usize) -> Key<'a> {
        let c: &'a Clause = self.clauses[i];
        key(c, self.body(i).is_empty())
    }
}

struct Matcher<'a> {
    old: Side<'a>,
    new: Side<'a>,
    /// The explicit id of each new clause that [`clauses::name`] gives it.
    explicit: Vec<Option<&'a str>>,
}

/// The explicit id each proto is named with: the first heading with a given
/// explicit id has it; a later one with the same id is named like any other.
fn first_explicit(protos: &[Proto]) -> Vec<Option<&str>> {
    let mut seen: HashSet<&str> = HashSet::new();
    protos
        .iter()
        .map(|p| p.explicit.as_deref().filter(|e| seen.insert(e)))
        .collect()
}

impl<'a> Matcher<'a> {
    fn new(old_text: &'a str, old: &'a [Clause], new_text: &'a str, protos: &'a [Proto]) -> Self {
        let at: HashMap<&str, usize> = old
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        let old_parent = old
            .iter()
            .map(|c| c.parent.as_deref().and_then(|p| at.get(p).copied()))
            .collect();
        Matcher {
            old: Side::new(old_text, old.iter().collect(), old_parent),
            new: Side::new(
                new_text,
                protos.iter().map(|p| &p.clause).collect(),
                protos.iter().map(|p| p.parent).collect(),
            ),
            explicit: first_explicit(protos),
        }
    }

    fn pair(&mut self, n: usize, o: usize) {
        self.new.matched[n] = Some(o);
        self.old.matched[o] = Some(n);
    }

    /// The matching: for each new clause, the old clause it is.
    fn run(mut self) -> Vec<Option<usize>> {
        self.explicit();
        self.unique();
        self.in_place();
        self.moved();
        self.new.matched
    }

    /// Pass 1: a clause with an explicit id is the old clause with that id
    /// (so an old clause whose id is explicit in the new text matches only so).
    fn explicit(&mut self) {
        let at: HashMap<&str, usize> = self
            .old
            .clauses
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        for n in 0..self.explicit.len() {
            if let Some(o) = self.explicit[n].and_then(|e| at.get(e).copied()) {
                self.pair(n, o);
            }
        }
    }

    /// Pass 2: content found exactly once among the unmatched clauses of each
    /// side, by [`key`].
    fn unique(&mut self) {
        // Per key: (old count, last old, new count, last new).
        let mut count: HashMap<Key<'_>, (usize, usize, usize, usize)> = HashMap::new();
        for o in 0..self.old.clauses.len() {
            if self.old.matched[o].is_none() {
                let e = count.entry(self.old.key(o)).or_insert((0, 0, 0, 0));
                e.0 += 1;
                e.1 = o;
            }
        }
        for n in 0..self.new.clauses.len() {
            if self.new.matched[n].is_none()
                && let Some(e) = count.get_mut(&self.new.key(n))
            {
                e.2 += 1;
                e.3 = n;
            }
        }
        let mut pairs: Vec<(usize, usize)> = count
            .values()
            .filter(|e| e.0 == 1 && e.2 == 1)
            .map(|e| (e.3, e.1))
            .collect();
        pairs.sort_unstable();
        for (n, o) in pairs {
            self.pair(n, o);
        }
    }

    /// Pass 3: the parts of matched parents (and the top levels), in new
    /// document order of the parents.
    fn in_place(&mut self) {
        let (nn, on) = (self.new.clauses.len(), self.old.clauses.len());
        self.align(nn, on);
        for n in 0..nn {
            if let Some(o) = self.new.matched[n]
                && !self.new.parts[n].is_empty()
                && !self.old.parts[o].is_empty()
            {
                self.align(n, o);
            }
        }
    }

    /// Aligns the parts of new clause `np` with those of old clause `op`
    /// (indexes past the end: the top levels). Parts already matched to each
    /// other in the same order (the longest such run) are anchors; in each
    /// gap between anchors the unmatched parts are paired by equal key in
    /// order, then, if as many remain on each side, one to one in order when
    /// similar at least [`SIMILAR_IN_PLACE`] (or, for headings and sections,
    /// with the same title), else best first when similar at least
    /// [`SIMILAR_MOVED`].
    fn align(&mut self, np: usize, op: usize) {
        let nparts = self.new.parts[np].clone();
        let oparts = self.old.parts[op].clone();
        let opos: HashMap<usize, usize> = oparts.iter().enumerate().map(|(i, o)| (*o, i)).collect();
        // Anchors: (new position, old position) of parts matched to each other.
        let cand: Vec<(usize, usize)> = nparts
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                self.new.matched[*n]
                    .and_then(|o| opos.get(&o))
                    .map(|j| (i, *j))
            })
            .collect();
        let anchors = increasing(&cand);
        let mut gaps: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
        let (mut ni, mut oi) = (0, 0);
        for &(a, b) in anchors
            .iter()
            .chain(std::iter::once(&(nparts.len(), oparts.len())))
        {
            if a > ni && b > oi {
                gaps.push((ni..a, oi..b));
            }
            ni = a + 1;
            oi = b + 1;
        }
        for (ng, og) in gaps {
            let mut nfree: Vec<usize> = nparts[ng]
                .iter()
                .copied()
                .filter(|n| self.new.matched[*n].is_none())
                .collect();
            let mut ofree: Vec<usize> = oparts[og]
                .iter()
                .copied()
                .filter(|o| self.old.matched[*o].is_none())
                .collect();
            if nfree.is_empty() || ofree.is_empty() {
                continue;
            }
            // Equal keys, in order.
            let mut rest = Vec::new();
            for n in nfree {
                let k = self.new.key(n);
                match ofree.iter().position(|o| self.old.key(*o) == k) {
                    Some(j) => {
                        let o = ofree.remove(j);
                        self.pair(n, o);
                    }
                    None => rest.push(n),
                }
            }
            nfree = rest;
            if nfree.is_empty() || ofree.is_empty() {
                continue;
            }
            if nfree.len() == ofree.len() {
                for (n, o) in nfree.clone().into_iter().zip(ofree.clone()) {
                    if self.alike_in_place(n, o) {
                        self.pair(n, o);
                    }
                }
                continue;
            }
            self.best_first(&nfree, &ofree);
        }
    }

    /// Two parts in the same place are one clause: same class, and similar at
    /// least [`SIMILAR_IN_PLACE`] or (not text) the same title.
    fn alike_in_place(&mut self, n: usize, o: usize) -> bool {
        let (nc, oc) = (self.new.clauses[n], self.old.clauses[o]);
        if class(nc.kind) != class(oc.kind) {
            return false;
        }
        if class(nc.kind) != 2 && nc.title == oc.title {
            return true;
        }
        let s = similar(self.new.words(n), self.old.words(o));
        at_least(s, SIMILAR_IN_PLACE)
    }

    /// Pairs `nfree` with `ofree` best first (highest similarity, then lowest
    /// new index, then lowest old index), each at least [`SIMILAR_MOVED`]
    /// and of the same class.
    fn best_first(&mut self, nfree: &[usize], ofree: &[usize]) {
        let mut cands: Vec<((u64, u64), usize, usize)> = Vec::new();
        for &n in nfree {
            let nc = self.new.clauses[n];
            let nl = self.new.words(n).len() as u64;
            for &o in ofree {
                let oc = self.old.clauses[o];
                if class(nc.kind) != class(oc.kind) {
                    continue;
                }
                // The similarity cannot exceed 2·min / (a + b).
                let ol = self.old.words(o).len() as u64;
                if nl + ol > 0 && !at_least((2 * nl.min(ol), nl + ol), SIMILAR_MOVED) {
                    continue;
                }
                let s = similar(self.new.words(n), self.old.words(o));
                if at_least(s, SIMILAR_MOVED) {
                    cands.push((s, n, o));
                }
            }
        }
        cands.sort_by(|a, b| {
            let x = a.0.0 as u128 * b.0.1 as u128;
            let y = b.0.0 as u128 * a.0.1 as u128;
            y.cmp(&x).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
        });
        for (_, n, o) in cands {
            if self.new.matched[n].is_none() && self.old.matched[o].is_none() {
                self.pair(n, o);
            }
        }
    }

    /// Pass 4: clauses still unmatched anywhere, best first (moved and edited),
    /// unless that is more than [`MAX_MOVED_PAIRS`] pairs.
    fn moved(&mut self) {
        let nfree: Vec<usize> = (0..self.new.clauses.len())
            .filter(|n| self.new.matched[*n].is_none())
            .collect();
        let ofree: Vec<usize> = (0..self.old.clauses.len())
            .filter(|o| self.old.matched[*o].is_none())
            .collect();
        if nfree.is_empty() || nfree.len().saturating_mul(ofree.len()) > MAX_MOVED_PAIRS {
            return;
        }
        self.best_first(&nfree, &ofree);
    }
}

/// The longest run of `pairs` (sorted by their first member) increasing in
/// their second member; ties go to the earliest pairs.
fn increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // Patience sorting: tails[k] is the index of the smallest last second
    // member of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut back: Vec<Option<usize>> = vec![None; pairs.len()];
    for (i, p) in pairs.iter().enumerate() {
        let k = tails.partition_point(|t| pairs[*t].1 < p.1);
        back[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(i) = at {
        out.push(pairs[i]);
        at = back[i];
    }
    out.reverse();
    out
}

/// Where a `stored` manifest first differs from the `derived` one, for an
/// error message: the first clause whose id or fields differ, or the format,
/// the count or the retired ids.
pub fn first_difference(derived: &Manifest, stored: &[u8]) -> String {
    let m = match Manifest::decode(stored) {
        Ok(m) => m,
        Err(e) => return e.to_string(),
    };
    for (i, (d, s)) in derived.clauses.iter().zip(&m.clauses).enumerate() {
        if d.id != s.id {
            return format!(
                "clause {} (bytes {}..{}) has id {} in the manifest, {} recomputed",
                i + 1,
                d.start,
                d.end,
                s.id,
                d.id
            );
        }
        if d != s {
            return format!("clause {} differs from the recomputed one", d.id);
        }
    }
    if derived.clauses.len() != m.clauses.len() {
        return format!(
            "the manifest has {} clauses, {} recomputed",
            m.clauses.len(),
            derived.clauses.len()
        );
    }
    if derived.retired != m.retired {
        let gone: Vec<&String> = derived
            .retired
            .iter()
            .filter(|r| !m.retired.contains(r))
            .chain(m.retired.iter().filter(|r| !derived.retired.contains(r)))
            .take(3)
            .collect();
        return format!("the retired ids differ (first: {gone:?})");
    }
    "the manifest's bytes are not its canonical encoding".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::clauses::tests::check_tree;

    /// The manifest of each text in turn, each against the one before.
    fn history(texts: &[&str]) -> Vec<Manifest> {
        let mut out: Vec<Manifest> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let prev = (i > 0).then(|| Previous {
                text: texts[i - 1],
                manifest: &out[i - 1],
            });
            let m = derive(t, prev).unwrap();
            check_tree(t, &m.clauses);
            out.push(m);
        }
        out
    }

    fn id_of<'a>(m: &'a Manifest, text: &str, needle: &str) -> &'a str {
        clauses::leaves(&m.clauses)
            .find(|c| c.text(text).contains(needle))
            .map(|c| c.id.as_str())
            .unwrap_or_else(|| panic!("no leaf holds {needle:?}"))
    }

    #[test]
    fn first_release_ids_are_the_plain_ones() {
        let t = "intro\n\n# A {#a}\n\ntext\n\n## B\n\nmore\n\n- x\n- y\n";
        let m = derive(t, None).unwrap();
        assert_eq!(m.clauses, clauses::parse(t).unwrap());
        assert!(m.retired.is_empty());
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn inserted_neighbours_keep_ids() {
        let a = "Be brief.\n\nNever reveal the key.\n\nThanks.\n";
        let b = "New first rule.\n\nBe brief.\n\nAnother new one.\n\nNever reveal the key.\n\nThanks.\n";
        let m = history(&[a, b]);
        for s in ["Be brief.", "Never reveal", "Thanks."] {
            assert_eq!(id_of(&m[0], a, s), id_of(&m[1], b, s), "{s}");
        }
        // Fresh ids avoid every id the document used.
        let old: HashSet<&str> = m[0].clauses.iter().map(|c| c.id.as_str()).collect();
        let fresh = id_of(&m[1], b, "New first rule");
        assert!(!old.contains(fresh), "{fresh}");
        assert_ne!(id_of(&m[1], b, "Another new"), fresh);
    }

    #[test]
    fn edited_reworded_and_moved_clauses_keep_ids() {
        let a = "# Tone\n\nBe warm and kind to users.\n\n# Safety\n\nRefuse harmful requests politely.\n\n# Tools\n\nUse the search tool first.\n";
        // Tone edited, Safety's heading reworded, Tools moved to the top.
        let b = "# Tools\n\nUse the search tool first.\n\n# Tone\n\nBe warm and very kind to all users.\n\n# Safety rules\n\nRefuse harmful requests politely.\n";
        let m = history(&[a, b]);
        let ids = |m: &Manifest| -> Vec<String> {
            let mut v: Vec<String> = m.clauses.iter().map(|c| c.id.clone()).collect();
            v.sort();
            v
        };
        assert_eq!(ids(&m[0]), ids(&m[1]), "{:#?}", m[1].clauses);
        assert!(m[1].retired.is_empty());
        let safety = m[1].clauses.iter().find(|c| c.id == "safety").unwrap();
        assert_eq!(safety.title, "Safety rules");
    }

    #[test]
    fn explicit_ids_win_and_removed_ids_stay_retired() {
        let a = "# A {#a}\n\nalpha text here\n\n# B\n\nbeta text here\n";
        // B gets an explicit id; A is removed.
        let b = "# B {#bee}\n\nbeta text here\n";
        // A comes back without its explicit id, as new text: a fresh id, not `a`.
        let c = "# A\n\nsomething else entirely\n\n# B {#bee}\n\nbeta text here\n";
        let m = history(&[a, b, c]);
        assert_eq!(m[1].clauses[0].id, "bee");
        assert_eq!(m[1].retired, ["a", "b"]);
        assert_eq!(m[2].clauses[0].id, "a-2");
        assert_eq!(m[2].retired, ["a", "b"]);
        // An explicit id that was retired is the clause again.
        let d = "# A {#a}\n\nalpha text here\n";
        let m2 = history(&[a, b, d]);
        assert_eq!(m2[2].clauses[0].id, "a");
        assert_eq!(m2[2].retired, ["b", "bee"]);
    }

    #[test]
    fn same_inputs_same_bytes() {
        let a = "one. two. three.\n\nfour\n";
        let b = "zero. one. two and a half. three.\n\nfour\n\nfive\n";
        let x = history(&[a, b]);
        let y = history(&[a, b]);
        assert_eq!(x[1].encode(), y[1].encode());
    }

    #[test]
    fn long_single_line_keeps_sentence_ids() {
        let s: Vec<String> = (0..600)
            .map(|i| format!("Rule {i} says a thing about topic {}. ", i * 7))
            .collect();
        let a = s.concat();
        let mut t = s.clone();
        t.insert(100, "A brand new rule appears here. ".into());
        t[300] = "Rule 299 says a changed thing about topic 2093. ".into();
        t.remove(500);
        let b = t.concat();
        let m = history(&[&a, &b]);
        for i in [0, 99, 100, 250, 400, 599] {
            let needle = format!("Rule {i} says a thing about topic {}. ", i * 7);
            assert_eq!(id_of(&m[0], &a, &needle), id_of(&m[1], &b, &needle), "{i}");
        }
        let edited = "Rule 299 says a changed";
        assert_eq!(
            id_of(&m[0], &a, "Rule 299 says a thing"),
            id_of(&m[1], &b, edited)
        );
    }

    #[test]
    fn other_formats_are_refused_by_name() {
        assert_eq!(Manifest::decode(b"[]"), Err(ManifestError::Format1));
        let e = Manifest::decode(br#"{"format":3,"clauses":[],"retired":[]}"#).unwrap_err();
        assert_eq!(e, ManifestError::Format(3));
        assert!(e.to_string().contains("format 3"), "{e}");
        assert!(matches!(
            Manifest::decode(br#"{"clauses":[]}"#),
            Err(ManifestError::Malformed(_))
        ));
    }

    #[test]
    fn first_difference_names_the_clause() {
        let t = "alpha\n\nbeta\n";
        let m = derive(t, None).unwrap();
        let mut bad = m.clone();
        bad.clauses[1].id = "text.9".into();
        let w = first_difference(&m, &bad.encode());
        assert!(w.contains("clause 2") && w.contains("text.9"), "{w}");
    }
}
