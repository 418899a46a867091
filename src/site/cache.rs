//! The site model kept between builds, so that an incremental build reads
//! only the entries appended since the last one ([`SiteData::extend`]).
//!
//! A build writes the model it rendered from to [`MODEL`] in the output
//! directory, headed by what the model is a function of: the speclog build
//! that made it and the tree it was read from (size and root). The model
//! depends on nothing else (the site's title and URL are set after), so the
//! next build may use it whenever it builds on that same tree with the same
//! speclog build, which it has already checked against the ledger; otherwise,
//! or if the file does not decode, it reads the whole ledger as before. The file
//! is derived data and never published: deleting it only costs time.
//!
//! The per-entry lists (entries and evaluations, most of the model) are in a
//! plain binary form, since parsing them as JSON would take about as long as
//! reading the ledger; the short lists (releases, pre-registrations,
//! incidents, approvals) are JSON. All integers are little-endian:
//!
//! ```text
//! "speclog site model 1\n"
//! u32 header length, header text (see `super::model_header`)
//! u64 JSON length, JSON {releases, preregs, incidents, approvals}
//! u64 entries, u64 text length, the text of every entry's fields, then
//!     u64 the end of each field in the text (`model::Items`), then a u8 per
//!     entry: 1 if it has an about page
//! u64 evaluations, then per evaluation: seq, time, signer, release, prereg,
//!     and the compact record (see `put_eval`)
//! "end\n"
//! ```
//!
//! A string is a u32 length and UTF-8 bytes; an optional index is a u64 with
//! `u64::MAX` for none.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::governance::eval::{Comparator, EvalRecord, Model, Outcome, Relationship, Suite};
use crate::governance::{ContentRef, EntryRef, SpecLink};

use super::SiteError;
use super::model::{Approval, Eval, ITEM_FIELDS, Incident, Items, Prereg, Release, SiteData};

/// Name of the model file in the output directory. Not a page.
pub const MODEL: &str = ".speclog-site-model";

const MAGIC: &[u8] = b"speclog site model 1\n";
const END: &[u8] = b"end\n";
const NONE: u64 = u64::MAX;
/// Bytes of the entries part per entry, at least: its field ends and flag.
const ITEM_BYTES: usize = ITEM_FIELDS * 8 + 1;

#[derive(serde::Serialize)]
struct ShortRef<'a> {
    releases: &'a [Release],
    preregs: &'a [Prereg],
    incidents: &'a [Incident],
    approvals: &'a [Approval],
}

#[derive(serde::Deserialize)]
struct Short {
    releases: Vec<Release>,
    preregs: Vec<Prereg>,
    incidents: Vec<Incident>,
    approvals: Vec<Approval>,
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: p.to_path_buf(),
        source,
    }
}

/// Writes `d` to [`MODEL`] in `out`, headed by `header`.
/// The file is replaced whole (written beside, then renamed over), so a
/// reader sees the old file or the new one.
pub fn write(d: &SiteData, out: &Path, header: &[u8]) -> Result<(), SiteError> {
    let tmp = out.join(format!("{MODEL}.tmp"));
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&tmp)(e)),
        _ => {}
    }
    // New-only: a link planted at the temporary name is not followed.
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    encode(d, header, &mut w).map_err(io(&tmp))?;
    // Not synced: a file lost to a crash only makes the next build read the
    // whole ledger (a torn one does not decode, or fails its header).
    w.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
    let path = out.join(MODEL);
    fs::rename(&tmp, &path).map_err(io(&path))
}

/// The model in [`MODEL`] in `out`, if the file is there, is headed by
/// exactly `header`, and decodes whole; None otherwise.
pub fn read(out: &Path, header: &[u8]) -> Option<SiteData> {
    let path = out.join(MODEL);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        _ => return None,
    }
    let bytes = fs::read(&path).ok()?;
    decode(&bytes, header)
}

fn encode(d: &SiteData, header: &[u8], w: &mut impl Write) -> std::io::Result<()> {
    let mut e = Enc { w };
    e.bytes(MAGIC)?;
    e.u32(header.len() as u32)?;
    e.bytes(header)?;
    let short = serde_json::to_vec(&ShortRef {
        releases: &d.releases,
        preregs: &d.preregs,
        incidents: &d.incidents,
        approvals: &d.approvals,
    })?;
    e.u64(short.len() as u64)?;
    e.bytes(&short)?;
    let (text, ends, about) = d.items.parts();
    e.u64(about.len() as u64)?;
    e.u64(text.len() as u64)?;
    e.bytes(text.as_bytes())?;
    for end in ends {
        e.u64(*end as u64)?;
    }
    for a in about {
        e.u8(u8::from(*a))?;
    }
    e.u64(d.evals.len() as u64)?;
    for ev in &d.evals {
        put_eval(&mut e, ev)?;
    }
    e.bytes(END)
}

/// One evaluation: the fields [`super::model`] keeps of its record (the
/// others are blank there and read again from the ledger by its page).
fn put_eval<W: Write>(e: &mut Enc<W>, ev: &Eval) -> std::io::Result<()> {
    let Eval {
        seq,
        time,
        signer,
        rec,
        release,
        prereg,
    } = ev;
    e.u64(*seq)?;
    e.str(time)?;
    e.str(signer)?;
    e.index(*release)?;
    e.index(*prereg)?;
    // Listed whole, so that a field added to the record fails to compile here.
    let EvalRecord {
        id,
        spec,
        model,
        suite,
        evaluator,
        relationship,
        date,
        results,
        outcomes,
        pass,
        preregistration: _,
    } = rec;
    e.str(id)?;
    e.u64(spec.release.seq)?;
    e.str(&model.id)?;
    e.str(&suite.name)?;
    e.str(&suite.version)?;
    e.str(evaluator)?;
    e.u8(match relationship {
        Relationship::FirstParty => 0,
        Relationship::ThirdParty => 1,
    })?;
    e.str(date)?;
    e.u64(results.size)?;
    e.u64(outcomes.len() as u64)?;
    for o in outcomes {
        let Outcome {
            clauses,
            metric,
            value,
            comparator,
            threshold,
            pass,
        } = o;
        e.u64(clauses.len() as u64)?;
        for c in clauses {
            e.str(c)?;
        }
        e.str(metric)?;
        e.u64(value.to_bits())?;
        let c = Comparator::ALL
            .iter()
            .position(|x| x == comparator)
            .expect("every comparator is in ALL");
        e.u8(c as u8)?;
        match threshold {
            Some(t) => {
                e.u8(1)?;
                e.u64(t.to_bits())?;
            }
            None => e.u8(0)?,
        }
        e.u8(opt_bool(*pass))?;
    }
    e.u8(opt_bool(*pass))
}

fn opt_bool(b: Option<bool>) -> u8 {
    match b {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }
}

struct Enc<'w, W: Write> {
    w: &'w mut W,
}

impl<W: Write> Enc<'_, W> {
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.w.write_all(b)
    }
    fn u8(&mut self, v: u8) -> std::io::Result<()> {
        self.w.write_all(&[v])
    }
    fn u32(&mut self, v: u32) -> std::io::Result<()> {
        self.w.write_all(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.w.write_all(&v.to_le_bytes())
    }
    fn index(&mut self, v: Option<usize>) -> std::io::Result<()> {
        self.u64(v.map_or(NONE, |i| i as u64))
    }
    fn str(&mut self, s: &str) -> std::io::Result<()> {
        let n = u32::try_from(s.len()).map_err(std::io::Error::other)?;
        self.u32(n)?;
        self.bytes(s.as_bytes())
    }
}

/// Reads a model file; None if anything is out of place: the header, a
/// length, a string's UTF-8, an index out of its list, trailing bytes.
fn decode(b: &[u8], header: &[u8]) -> Option<SiteData> {
    let mut r = Dec { b };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let n = r.u32()? as usize;
    if r.take(n)? != header {
        return None;
    }
    let n = usize::try_from(r.u64()?).ok()?;
    let short: Short = serde_json::from_slice(r.take(n)?).ok()?;
    let mut d = SiteData {
        releases: short.releases,
        preregs: short.preregs,
        incidents: short.incidents,
        approvals: short.approvals,
        ..SiteData::default()
    };
    let n = r.count(ITEM_BYTES)?;
    let len = usize::try_from(r.u64()?).ok()?;
    let text = std::str::from_utf8(r.take(len)?).ok()?.to_string();
    let mut ends = Vec::with_capacity(n * ITEM_FIELDS);
    for _ in 0..n * ITEM_FIELDS {
        ends.push(usize::try_from(r.u64()?).ok()?);
    }
    let about = r.take(n)?.iter().map(|&b| b == 1).collect();
    d.items = Items::from_parts(text, ends, about)?;
    let n = r.count(60)?;
    d.evals.reserve_exact(n);
    for _ in 0..n {
        d.evals.push(get_eval(&mut r)?);
    }
    if r.take(END.len())? != END || !r.b.is_empty() {
        return None;
    }
    check_links(&d).then_some(d)
}

fn get_eval(r: &mut Dec<'_>) -> Option<Eval> {
    let seq = r.u64()?;
    let time = r.string()?;
    let signer = r.string()?;
    let release = r.index()?;
    let prereg = r.index()?;
    let id = r.string()?;
    let spec = SpecLink {
        label: String::new(),
        release: EntryRef {
            seq: r.u64()?,
            hash: String::new(),
        },
    };
    let model = Model {
        id: r.string()?,
        digest: None,
    };
    let suite = Suite {
        name: r.string()?,
        version: r.string()?,
    };
    let evaluator = r.string()?;
    let relationship = match r.u8()? {
        0 => Relationship::FirstParty,
        1 => Relationship::ThirdParty,
        _ => return None,
    };
    let date = r.string()?;
    let results = ContentRef {
        sha256: String::new(),
        size: r.u64()?,
        media_type: String::new(),
    };
    let n = r.count(22)?;
    let mut outcomes = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.count(4)?;
        let mut clauses = Vec::with_capacity(k);
        for _ in 0..k {
            clauses.push(r.string()?);
        }
        let metric = r.string()?;
        let value = f64::from_bits(r.u64()?);
        let comparator = *Comparator::ALL.get(r.u8()? as usize)?;
        let threshold = match r.u8()? {
            0 => None,
            1 => Some(f64::from_bits(r.u64()?)),
            _ => return None,
        };
        let pass = r.opt_bool()?;
        outcomes.push(Outcome {
            clauses,
            metric,
            value,
            comparator,
            threshold,
            pass,
        });
    }
    let pass = r.opt_bool()?;
    Some(Eval {
        seq,
        time,
        signer,
        release,
        prereg,
        rec: EvalRecord {
            id,
            spec,
            model,
            suite,
            evaluator,
            relationship,
            date,
            results,
            outcomes,
            pass,
            preregistration: None,
        },
    })
}

/// Every index the model holds points into its list, and the releases'
/// positions are their own: a model that passes cannot make a page panic.
fn check_links(d: &SiteData) -> bool {
    let rel = |i: Option<usize>| i.is_none_or(|i| i < d.releases.len());
    let releases = d.releases.iter().enumerate().all(|(i, r)| {
        r.idx == i
            && rel(r.prev)
            && rel(r.supersedes)
            && rel(r.superseded_by)
            && r.prev.is_none_or(|p| p < i)
            && (r.prev.is_none() || r.diff.is_some())
    });
    releases
        && d.preregs.iter().all(|p| rel(p.release))
        && d.incidents
            .iter()
            .all(|x| rel(x.release) && rel(x.fixed_by))
        && d.approvals.iter().all(|a| rel(a.release))
        && d.evals
            .iter()
            .all(|e| rel(e.release) && e.prereg.is_none_or(|p| p < d.preregs.len()) && e.seq < NONE)
}

struct Dec<'a> {
    b: &'a [u8],
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count of items of at least `min` bytes each, checked against the
    /// bytes left so that a bad count cannot reserve memory.
    fn count(&mut self, min: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n <= self.b.len() / min).then_some(n)
    }
    fn index(&mut self) -> Option<Option<usize>> {
        match self.u64()? {
            NONE => Some(None),
            i => usize::try_from(i).ok().map(Some),
        }
    }
    fn opt_bool(&mut self) -> Option<Option<bool>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(false)),
            2 => Some(Some(true)),
            _ => None,
        }
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        std::str::from_utf8(b).ok().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cannot_exceed_the_bytes_left() {
        let mut b = Vec::new();
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&[0u8; 100]);
        assert_eq!(Dec { b: &b }.count(1), None);
        let mut b = 3u64.to_le_bytes().to_vec();
        b.extend_from_slice(&[0u8; 12]);
        assert_eq!(Dec { b: &b }.count(4), Some(3));
        assert_eq!(Dec { b: &b }.count(5), None);
    }

    #[test]
    fn an_empty_model_round_trips_and_a_wrong_header_is_refused() {
        let d = SiteData::default();
        let mut b = Vec::new();
        encode(&d, b"state", &mut b).unwrap();
        assert!(decode(&b, b"state").is_some());
        assert!(decode(&b, b"other").is_none());
        assert!(decode(&b[..b.len() - 1], b"state").is_none());
        let mut extra = b.clone();
        extra.push(0);
        assert!(decode(&extra, b"state").is_none());
    }
}
