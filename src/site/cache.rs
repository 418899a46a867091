//! The site model kept between builds, so that an incremental build reads
//! only the entries appended since the last one ([`SiteData::extend`]).
//!
//! A build writes the model it rendered from to [`MODEL`] in the output
//! directory (an incremental build only when enough was added since the kept
//! one, see [`super::model_refresh`]), headed by what the model is a function
//! of: the speclog build that made it and the tree it was read from (size
//! and root). The model depends on nothing else (the site's title and URL
//! are set after), so a later build of the same speclog build may start from
//! it whenever the ledger extends that tree, which it checks first; otherwise,
//! or if the file does not decode, it reads the whole ledger as before. The
//! file is derived data and not a page: deleting it only costs time.
//!
//! The per-entry lists (entries and evaluations, most of the model) are in a
//! plain binary form, since parsing them as JSON would take about as long as
//! reading the ledger; the short lists (releases, pre-registrations,
//! incidents, approvals) are JSON. All integers are little-endian:
//!
//! ```text
//! "speclog site model 1\n"
//! u32 header length, header text (see `super::model_header`)
//! entries: u64 count, u64 text length, the text of every entry's fields,
//!     u64 the end of each field in the text (`model::Items`), a u8 per
//!     entry: 1 if it has an about page
//! evaluations: u64 count, then per evaluation: seq, time, signer, release,
//!     prereg, and the compact record (see `put_eval`)
//! the short lists: JSON {releases, preregs, incidents, approvals}
//! shared strings: u64 count, each a string
//! u64 × 4: where the evaluations, their second half (evaluation count / 2),
//!     the short lists and the shared strings start
//! u64 checksum of all the bytes before it (`Sum`)
//! "end\n"
//! ```
//!
//! A string is a u32 length and UTF-8 bytes, or for the fields that repeat
//! across evaluations (signer, model, suite, evaluator, date, metric, clause
//! ids) a u32 position in the table of shared strings; an optional index is a
//! u64 with `u64::MAX` for none.

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use crate::governance::eval::{Comparator, Relationship};

use super::SiteError;
use super::model::{
    Approval, Eval, EvalSummary, ITEM_FIELDS, Incident, Items, OutcomeSummary, Prereg, Release,
    SiteData,
};

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
    let path = out.join(MODEL);
    let dir = crate::fsx::Dir::open(out).map_err(io(out))?;
    // New-only, relative to the directory: a link planted at the temporary
    // name is not followed (see crate::fsx).
    let mut tmp = dir
        .temp(MODEL, crate::fsx::FILE_PUBLIC)
        .map_err(io(&path))?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp.file());
    encode(d, header, &mut w).map_err(io(&path))?;
    w.into_inner().map_err(|e| io(&path)(e.into_error()))?;
    // Not synced: a file lost to a crash only makes the next build read the
    // whole ledger (a torn one fails its checksum or does not decode).
    let opts = crate::fsx::Opts {
        replace: crate::fsx::Replace::Over,
        ..crate::fsx::Opts::SITE
    };
    tmp.commit(MODEL, opts).map_err(io(&path))
}

/// The header of [`MODEL`] in `out`, if the file is there and starts as one:
/// read first, so that a build can check it against the ledger before it
/// reads the whole file.
pub fn header(out: &Path) -> Option<String> {
    use std::io::Read;
    let mut f = fs::File::open(model_file(out)?).ok()?;
    let mut start = [0u8; MAGIC.len() + 4];
    f.read_exact(&mut start).ok()?;
    let n = u32::from_le_bytes(start[MAGIC.len()..].try_into().ok()?);
    if &start[..MAGIC.len()] != MAGIC || n > 4096 {
        return None;
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).ok()?;
    String::from_utf8(header).ok()
}

/// The model in [`MODEL`] in `out`, if the file is there, is headed by
/// exactly `header`, and decodes whole; None otherwise.
pub fn read(out: &Path, header: &[u8]) -> Option<SiteData> {
    decode(fs::read(model_file(out)?).ok()?, header)
}

/// The path of [`MODEL`] in `out`, if it is a regular file (not a link).
fn model_file(out: &Path) -> Option<std::path::PathBuf> {
    let path = out.join(MODEL);
    let m = fs::symlink_metadata(&path).ok()?;
    m.is_file().then_some(path)
}

fn encode(d: &SiteData, header: &[u8], w: &mut impl Write) -> std::io::Result<()> {
    let mut e = Enc {
        w,
        pos: 0,
        strings: Vec::new(),
        index: HashMap::new(),
        sum: Sum::default(),
    };
    e.bytes(MAGIC)?;
    e.u32(header.len() as u32)?;
    e.bytes(header)?;
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
    let evals_at = e.pos;
    e.u64(d.evals.len() as u64)?;
    let half = d.evals.len() / 2;
    let mut mid_at = e.pos;
    for (i, ev) in d.evals.iter().enumerate() {
        if i == half {
            mid_at = e.pos;
        }
        put_eval(&mut e, ev)?;
    }
    let short_at = e.pos;
    serde_json::to_writer(
        &mut e,
        &ShortRef {
            releases: &d.releases,
            preregs: &d.preregs,
            incidents: &d.incidents,
            approvals: &d.approvals,
        },
    )?;
    let table_at = e.pos;
    let shared = std::mem::take(&mut e.strings);
    e.u64(shared.len() as u64)?;
    for s in shared {
        e.str(s)?;
    }
    for at in [evals_at, mid_at, short_at, table_at] {
        e.u64(at)?;
    }
    let sum = std::mem::take(&mut e.sum).finish();
    e.u64(sum)?;
    e.bytes(END)
}

/// One evaluation, as the model keeps it.
fn put_eval<'d, W: Write>(e: &mut Enc<'_, 'd, W>, ev: &'d Eval) -> std::io::Result<()> {
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
    e.shared(signer)?;
    e.index(*release)?;
    e.index(*prereg)?;
    // Listed whole, so that a field added to the summary fails to compile here.
    let EvalSummary {
        id,
        model,
        suite,
        evaluator,
        relationship,
        date,
        pass,
        outcomes,
    } = rec;
    e.str(id)?;
    e.shared(model)?;
    e.shared(suite)?;
    e.shared(evaluator)?;
    e.u8(match relationship {
        Relationship::FirstParty => 0,
        Relationship::ThirdParty => 1,
    })?;
    e.shared(date)?;
    e.u8(opt_bool(*pass))?;
    e.u64(outcomes.len() as u64)?;
    for o in outcomes {
        let OutcomeSummary {
            clauses,
            metric,
            value,
            comparator,
            threshold,
            pass,
        } = o;
        e.u64(clauses.len() as u64)?;
        for c in clauses.iter() {
            e.shared(c)?;
        }
        e.shared(metric)?;
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
    Ok(())
}

fn opt_bool(b: Option<bool>) -> u8 {
    match b {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }
}

struct Enc<'w, 'd, W: Write> {
    w: &'w mut W,
    /// Bytes written so far.
    pos: u64,
    /// The shared strings, in the order first written, and their positions.
    strings: Vec<&'d str>,
    index: HashMap<&'d str, u32>,
    /// Of the bytes written so far.
    sum: Sum,
}

impl<W: Write> Write for Enc<'_, '_, W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.bytes(b)?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

impl<'d, W: Write> Enc<'_, 'd, W> {
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.pos += b.len() as u64;
        self.sum.update(b);
        self.w.write_all(b)
    }
    fn u8(&mut self, v: u8) -> std::io::Result<()> {
        self.bytes(&[v])
    }
    fn u32(&mut self, v: u32) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn index(&mut self, v: Option<usize>) -> std::io::Result<()> {
        self.u64(v.map_or(NONE, |i| i as u64))
    }
    fn str(&mut self, s: &str) -> std::io::Result<()> {
        let n = u32::try_from(s.len()).map_err(std::io::Error::other)?;
        self.u32(n)?;
        self.bytes(s.as_bytes())
    }
    /// A string many evaluations have (a signer, a model, a clause id): its
    /// position in the table of shared strings.
    fn shared(&mut self, s: &'d str) -> std::io::Result<()> {
        let next = u32::try_from(self.strings.len()).map_err(std::io::Error::other)?;
        let i = *self.index.entry(s).or_insert(next);
        if i == next {
            self.strings.push(s);
        }
        self.u32(i)
    }
}

/// Reads a model file; None if anything is out of place: the header, a
/// length, a string's UTF-8, an index out of its list, trailing bytes.
/// Decodes a model file. The entries' text becomes the file's own buffer, cut
/// down to it, so the largest part of the model is not copied (nor its
/// memory allocated twice).
fn decode(file: Vec<u8>, header: &[u8]) -> Option<SiteData> {
    let body = file.strip_suffix(END)?;
    let (b, sum) = body.split_at_checked(body.len().checked_sub(8)?)?;
    let mut check = Sum::default();
    check.update(b);
    if check.finish() != u64::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let (b, trailer) = b.split_at_checked(b.len().checked_sub(32)?)?;
    let mut t = Dec::new(trailer);
    let mut at = [0usize; 4];
    for a in &mut at {
        *a = usize::try_from(t.u64()?).ok()?;
    }
    let mut r = Dec::new(b);
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let n = r.u32()? as usize;
    if r.take(n)? != header {
        return None;
    }
    // The sections, each where the trailer says, in order.
    let items_at = b.len() - r.b.len();
    let [evals_at, mid_at, short_at, table_at] = at;
    let in_order = items_at <= evals_at
        && evals_at.checked_add(8)? <= mid_at
        && mid_at <= short_at
        && short_at <= table_at
        && table_at <= b.len();
    if !in_order {
        return None;
    }
    let n = usize::try_from(Dec::new(&b[evals_at..]).u64()?).ok()?;
    let (first, second) = (&b[evals_at + 8..mid_at], &b[mid_at..short_at]);
    let (short, table) = (&b[short_at..table_at], &b[table_at..]);
    let shared = get_table(table)?;
    // Two halves: the short lists (JSON) and the second half of the
    // evaluations on another core, the entries and the first half here.
    let (text, ends, about, short, evals) = std::thread::scope(|s| {
        let other = s.spawn(|| {
            let short = serde_json::from_slice::<Short>(short).ok();
            let evals = get_evals(second, &shared, n - n / 2);
            short.zip(evals)
        });
        let items = get_items(&b[items_at..evals_at]);
        let evals = get_evals(first, &shared, n / 2);
        let (short, second) = other.join().ok()??;
        let (text, ends, about) = items?;
        let mut evals = evals?;
        evals.extend(second);
        Some((text, ends, about, short, evals))
    })?;
    // The text's place in the file, then the file cut down to it.
    let text = (items_at + text.start)..(items_at + text.end);
    let mut file = file;
    file.truncate(text.end);
    file.drain(..text.start);
    file.shrink_to_fit();
    let text = String::from_utf8(file).ok()?;
    let d = SiteData {
        releases: short.releases,
        preregs: short.preregs,
        incidents: short.incidents,
        approvals: short.approvals,
        items: Items::from_parts(text, ends, about)?,
        evals,
        ..SiteData::default()
    };
    check_links(&d).then_some(d)
}

/// The entries' section: where in it their text is, and the field ends and
/// about flags.
fn get_items(b: &[u8]) -> Option<(std::ops::Range<usize>, Vec<usize>, Vec<bool>)> {
    let mut r = Dec::new(b);
    let n = r.count(ITEM_BYTES)?;
    let len = usize::try_from(r.u64()?).ok()?;
    let start = b.len() - r.b.len();
    r.take(len)?;
    let mut ends = Vec::with_capacity(n * ITEM_FIELDS);
    for _ in 0..n * ITEM_FIELDS {
        ends.push(usize::try_from(r.u64()?).ok()?);
    }
    let about = r.take(n)?.iter().map(|&b| b == 1).collect();
    r.b.is_empty().then_some((start..start + len, ends, about))
}

/// The table of shared strings.
fn get_table(b: &[u8]) -> Option<Vec<&str>> {
    let mut t = Dec::new(b);
    let n = t.count(4)?;
    let mut shared = Vec::with_capacity(n);
    for _ in 0..n {
        let len = t.u32()? as usize;
        shared.push(std::str::from_utf8(t.take(len)?).ok()?);
    }
    t.b.is_empty().then_some(shared)
}

/// Exactly `n` evaluations, filling `b`.
fn get_evals(b: &[u8], shared: &[&str], n: usize) -> Option<Vec<Eval>> {
    let mut r = Dec { b, shared };
    if n > b.len() / 40 {
        return None;
    }
    // Each thread shares its own copies, so that the reference counts of
    // the strings every evaluation names are not contended between cores.
    let mut own = Own {
        strs: vec![None; shared.len()],
        sets: HashMap::new(),
        ids: Vec::new(),
    };
    let mut evals = Vec::with_capacity(n);
    for _ in 0..n {
        evals.push(get_eval(&mut r, &mut own)?);
    }
    r.b.is_empty().then_some(evals)
}

/// A decoding thread's shared strings and clause sets.
struct Own {
    strs: Vec<Option<Arc<str>>>,
    sets: HashMap<Box<[u32]>, Arc<[String]>>,
    /// The positions of the clause set being read.
    ids: Vec<u32>,
}

impl Own {
    fn str(&mut self, r: &mut Dec<'_>) -> Option<Arc<str>> {
        let i = r.u32()? as usize;
        let s = self.strs.get_mut(i)?;
        Some(s.get_or_insert_with(|| Arc::from(r.shared[i])).clone())
    }

    fn set(&mut self, r: &mut Dec<'_>) -> Option<Arc<[String]>> {
        let k = r.count(4)?;
        self.ids.clear();
        for _ in 0..k {
            let i = r.u32()?;
            r.shared.get(i as usize)?;
            self.ids.push(i);
        }
        if let Some(set) = self.sets.get(&self.ids[..]) {
            return Some(set.clone());
        }
        let set: Arc<[String]> = self
            .ids
            .iter()
            .map(|&i| r.shared[i as usize].to_string())
            .collect();
        self.sets.insert(self.ids.clone().into(), set.clone());
        Some(set)
    }
}

fn get_eval(r: &mut Dec<'_>, own: &mut Own) -> Option<Eval> {
    let seq = r.u64()?;
    let time = r.string()?;
    let signer = own.str(r)?;
    let release = r.index()?;
    let prereg = r.index()?;
    let id = r.string()?;
    let model = own.str(r)?;
    let suite = own.str(r)?;
    let evaluator = own.str(r)?;
    let relationship = match r.u8()? {
        0 => Relationship::FirstParty,
        1 => Relationship::ThirdParty,
        _ => return None,
    };
    let date = own.str(r)?;
    let pass = r.opt_bool()?;
    let n = r.count(22)?;
    let mut outcomes = Vec::with_capacity(n);
    for _ in 0..n {
        let clauses = own.set(r)?;
        let metric = own.str(r)?;
        let value = f64::from_bits(r.u64()?);
        let comparator = *Comparator::ALL.get(r.u8()? as usize)?;
        let threshold = match r.u8()? {
            0 => None,
            1 => Some(f64::from_bits(r.u64()?)),
            _ => return None,
        };
        let pass = r.opt_bool()?;
        outcomes.push(OutcomeSummary {
            clauses,
            metric,
            value,
            comparator,
            threshold,
            pass,
        });
    }
    Some(Eval {
        seq,
        time,
        signer,
        release,
        prereg,
        rec: EvalSummary {
            id,
            model,
            suite,
            evaluator,
            relationship,
            date,
            pass,
            outcomes: outcomes.into(),
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
            .all(|e| rel(e.release) && e.prereg.is_none_or(|p| p < d.preregs.len()))
}

/// A 64-bit checksum of a stream of bytes, eight at a time. It catches a
/// damaged file (a flipped bit, a lost block), not a forged one: the model is
/// the build's own derived data, as trusted as the pages beside it.
#[derive(Default)]
struct Sum {
    h: u64,
    /// Bytes not yet summed (fewer than eight), and how many.
    tail: [u8; 8],
    n: usize,
    len: u64,
}

impl Sum {
    fn update(&mut self, mut b: &[u8]) {
        self.len += b.len() as u64;
        if self.n > 0 {
            let k = (8 - self.n).min(b.len());
            self.tail[self.n..self.n + k].copy_from_slice(&b[..k]);
            self.n += k;
            b = &b[k..];
            if self.n < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.tail));
            self.n = 0;
        }
        let mut words = b.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().expect("eight bytes")));
        }
        let rest = words.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.n = rest.len();
    }

    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    fn finish(mut self) -> u64 {
        let mut last = [0u8; 8];
        last[..self.n].copy_from_slice(&self.tail[..self.n]);
        self.word(u64::from_le_bytes(last));
        self.word(self.len);
        self.h
    }
}

struct Dec<'a> {
    b: &'a [u8],
    /// The table of shared strings.
    shared: &'a [&'a str],
}

impl<'a> Dec<'a> {
    fn new(b: &'a [u8]) -> Dec<'a> {
        Dec { b, shared: &[] }
    }
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
        assert_eq!(Dec::new(&b).count(1), None);
        let mut b = 3u64.to_le_bytes().to_vec();
        b.extend_from_slice(&[0u8; 12]);
        assert_eq!(Dec::new(&b).count(4), Some(3));
        assert_eq!(Dec::new(&b).count(5), None);
    }

    #[test]
    fn an_empty_model_round_trips_and_a_wrong_header_is_refused() {
        let d = SiteData::default();
        let mut b = Vec::new();
        encode(&d, b"state", &mut b).unwrap();
        assert!(decode(b.clone(), b"state").is_some());
        assert!(decode(b.clone(), b"other").is_none());
        assert!(decode(b[..b.len() - 1].to_vec(), b"state").is_none());
        let mut extra = b.clone();
        extra.push(0);
        assert!(decode(extra, b"state").is_none());
        // Every byte is covered by the checksum or checked against the format.
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x01;
            assert!(decode(bad, b"state").is_none(), "byte {i} flipped");
        }
    }

    #[test]
    fn the_checksum_does_not_depend_on_how_the_bytes_arrive() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut whole = Sum::default();
        whole.update(&data);
        let whole = whole.finish();
        for step in [1, 3, 7, 8, 9, 64, 999] {
            let mut s = Sum::default();
            for c in data.chunks(step) {
                s.update(c);
            }
            assert_eq!(s.finish(), whole, "pieces of {step}");
        }
        // Length counts: trailing zero bytes change the sum.
        let mut longer = Sum::default();
        longer.update(&data);
        longer.update(&[0]);
        assert_ne!(longer.finish(), whole);
    }
}
