//! Evaluations: the results file format, pre-registered thresholds, and the
//! `eval.preregister` / `eval.record` payloads.
//!
//! An `eval.record` entry carries a summary of a results file (model, suite,
//! per-metric outcomes with pass/fail) and a content reference to the whole
//! file. The outcomes are *derived*: [`derive_outcomes`] recomputes them from
//! the file (and the pre-registered thresholds, if any), and both append and
//! verify reject an entry whose outcomes differ ([`check_against_results`]).
//!
//! Parsing is strict: unknown fields, non-finite or out-of-range numbers,
//! oversized arrays and malformed dates are errors that name the JSON path.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ContentRef, EntryRef, SpecLink, clauses};

/// Most result rows in one results file.
pub const MAX_RESULTS: usize = 1000;
/// Most thresholds in one pre-registration.
pub const MAX_THRESHOLDS: usize = 1000;
/// Most clause ids one result row may name.
pub const MAX_ROW_CLAUSES: usize = 64;
/// Largest results or thresholds file, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Longest free-text field (names, versions, metric), in bytes.
pub const MAX_FIELD: usize = 256;
/// Largest accepted `sample_size`.
pub const MAX_SAMPLE_SIZE: u64 = 1 << 53;
/// Largest magnitude of a value, uncertainty or threshold.
pub const MAX_MAGNITUDE: f64 = 1e15;

/// The evaluated model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// The evaluation suite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    pub version: String,
}

/// The harness that ran the suite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Harness {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The dataset, with an optional revision and commitment (e.g. a hash of a private set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
}

/// Who ran the evaluation relative to the model developer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relationship {
    FirstParty,
    ThirdParty,
}

impl Relationship {
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::FirstParty => "first-party",
            Relationship::ThirdParty => "third-party",
        }
    }
}

/// How a value is compared with its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Comparator {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
}

impl Comparator {
    pub const ALL: [Comparator; 5] = [
        Comparator::Ge,
        Comparator::Gt,
        Comparator::Le,
        Comparator::Lt,
        Comparator::Eq,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Ge => ">=",
            Comparator::Gt => ">",
            Comparator::Le => "<=",
            Comparator::Lt => "<",
            Comparator::Eq => "==",
        }
    }

    pub fn parse(s: &str) -> Option<Comparator> {
        Comparator::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// True if `value <comparator> threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparator::Ge => value >= threshold,
            Comparator::Gt => value > threshold,
            Comparator::Le => value <= threshold,
            Comparator::Lt => value < threshold,
            Comparator::Eq => value == threshold,
        }
    }
}

/// One measured metric over one or more clauses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRow {
    pub clauses: Vec<String>,
    pub metric: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<f64>,
    pub comparator: Comparator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// A results file (see docs/results-format.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsFile {
    pub model: Model,
    pub suite: Suite,
    pub harness: Harness,
    pub dataset: Dataset,
    pub sample_size: u64,
    pub date: String,
    pub evaluator: String,
    pub relationship: Relationship,
    pub results: Vec<ResultRow>,
}

/// A pre-registered pass/fail rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub clauses: Vec<String>,
    pub metric: String,
    pub comparator: Comparator,
    pub threshold: f64,
}

/// A result row with its threshold and verdict, as recorded in the entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub clauses: Vec<String>,
    pub metric: String,
    pub value: f64,
    pub comparator: Comparator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// None when the row has no threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<bool>,
}

/// `eval.preregister`: thresholds fixed before the evaluation runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preregistration {
    /// `PREREG-<n>`, n = number of earlier pre-registrations + 1.
    pub id: String,
    pub spec: SpecLink,
    pub suite: Suite,
    pub thresholds: Vec<Threshold>,
}

/// `eval.record`: the summary of one results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalRecord {
    /// `EVAL-<n>`, n = number of earlier evaluation records + 1.
    pub id: String,
    pub spec: SpecLink,
    pub model: Model,
    pub suite: Suite,
    pub evaluator: String,
    pub relationship: Relationship,
    pub date: String,
    /// The whole results file, stored by digest.
    pub results: ContentRef,
    pub outcomes: Vec<Outcome>,
    /// All thresholded outcomes pass; None when no outcome has a threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<bool>,
    /// The `eval.preregister` entry whose thresholds were applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preregistration: Option<EntryRef>,
}

/// A pre-registration as the rules need it.
#[derive(Clone, Debug, PartialEq)]
pub struct PreregRec {
    pub seq: u64,
    pub hash: String,
    pub prereg: Preregistration,
}

// ---- strict JSON reading with paths ----

/// A JSON value as the strict reader keeps it: strings borrowed from the input
/// where they hold no escapes, an object's members in their order (keys are
/// unique, checked as it is read). Reading a results file this way allocates a
/// few vectors instead of a map node and a string per member.
enum J<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<J<'a>>),
    Object(Vec<(Cow<'a, str>, J<'a>)>),
}

impl J<'_> {
    fn is_null(&self) -> bool {
        matches!(self, J::Null)
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            J::String(s) => Some(s),
            _ => None,
        }
    }

    /// The same value as a `serde_json::Value` (for error messages).
    fn to_value(&self) -> Value {
        match self {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.clone()),
            J::String(s) => Value::String(s.to_string()),
            J::Array(a) => Value::Array(a.iter().map(J::to_value).collect()),
            J::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

impl std::fmt::Display for J<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_value().fmt(f)
    }
}

type Members<'a> = [(Cow<'a, str>, J<'a>)];

/// Where a value is in the file, for error messages: a key path, or the
/// `i`th item of an array (formatted only when an error names it).
#[derive(Clone, Copy)]
enum Path<'p> {
    Key(&'p str),
    Item(&'static str, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Key(k) => f.write_str(k),
            Path::Item(k, i) => write!(f, "{k}[{i}]"),
        }
    }
}

/// The most keys any object of these formats is asked for.
const MAX_KEYS: usize = 16;

struct Obj<'a, 'p> {
    path: Path<'p>,
    map: &'a Members<'a>,
    /// The keys asked for so far (`used[..n]`).
    used: [&'static str; MAX_KEYS],
    n: usize,
}

fn kind_of(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn obj<'a, 'p>(v: &'a J<'a>, path: Path<'p>) -> Result<Obj<'a, 'p>, String> {
    match v {
        J::Object(map) => Ok(Obj {
            path,
            map,
            used: [""; MAX_KEYS],
            n: 0,
        }),
        other => Err(format!(
            "{}: expected an object, got {}",
            match path {
                Path::Key("") => "(top level)".to_string(),
                p => p.to_string(),
            },
            kind_of(other)
        )),
    }
}

/// `path` names the value in an error; it is only formatted on one.
fn text(v: &J, path: &dyn Fn() -> String, max: usize) -> Result<String, String> {
    let J::String(s) = v else {
        return Err(format!("{}: expected a string, got {}", path(), kind_of(v)));
    };
    if s.trim().is_empty() {
        return Err(format!("{}: must not be empty", path()));
    }
    if s.len() > max {
        return Err(format!("{}: longer than {max} bytes", path()));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{}: contains a control character", path()));
    }
    Ok(s.to_string())
}

fn number(v: &J, path: &dyn Fn() -> String) -> Result<f64, String> {
    let J::Number(n) = v else {
        return Err(format!(
            "{}: expected a finite number, got {}",
            path(),
            kind_of(v)
        ));
    };
    match n.as_f64() {
        Some(x) if x.is_finite() && x.abs() <= MAX_MAGNITUDE => Ok(x),
        _ => Err(format!(
            "{}: {n} is out of range (finite numbers up to {MAX_MAGNITUDE:e} in magnitude)",
            path()
        )),
    }
}

impl<'a> Obj<'a, '_> {
    fn path(&self, key: &str) -> String {
        join(&self.path.to_string(), key)
    }

    fn used(&self) -> &[&'static str] {
        &self.used[..self.n]
    }

    fn opt(&mut self, key: &'static str) -> Option<&'a J<'a>> {
        // The keys asked for are this file's code, never its input.
        assert!(
            self.n < MAX_KEYS,
            "more than {MAX_KEYS} keys asked of one object"
        );
        self.used[self.n] = key;
        self.n += 1;
        let map: &'a Members<'a> = self.map;
        map.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    fn req(&mut self, key: &'static str) -> Result<&'a J<'a>, String> {
        self.opt(key)
            .ok_or_else(|| format!("{}: missing", self.path(key)))
    }

    fn text(&mut self, key: &'static str) -> Result<String, String> {
        let v = self.req(key)?;
        text(v, &|| self.path(key), MAX_FIELD)
    }

    fn opt_text(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.opt(key) {
            None => Ok(None),
            Some(v) => text(v, &|| self.path(key), MAX_FIELD).map(Some),
        }
    }

    fn number(&mut self, key: &'static str) -> Result<f64, String> {
        let v = self.req(key)?;
        number(v, &|| self.path(key))
    }

    fn opt_number(&mut self, key: &'static str) -> Result<Option<f64>, String> {
        match self.opt(key) {
            None => Ok(None),
            Some(v) => number(v, &|| self.path(key)).map(Some),
        }
    }

    fn array(&mut self, key: &'static str, max: usize) -> Result<&'a Vec<J<'a>>, String> {
        let v = self.req(key)?;
        let p = || self.path(key);
        match v {
            J::Array(a) if a.len() > max => Err(format!(
                "{}: {} items, over the limit of {max}",
                p(),
                a.len()
            )),
            J::Array(a) if a.is_empty() => Err(format!("{}: must not be empty", p())),
            J::Array(a) => Ok(a),
            other => Err(format!(
                "{}: expected an array, got {}",
                p(),
                kind_of(other)
            )),
        }
    }

    fn comparator(&mut self, key: &'static str) -> Result<Comparator, String> {
        let v = self.req(key)?;
        v.as_str().and_then(Comparator::parse).ok_or_else(|| {
            format!(
                "{}: expected one of \">=\", \">\", \"<=\", \"<\", \"==\", got {}",
                self.path(key),
                v
            )
        })
    }

    /// Rejects keys that were never asked for (the first in sorted order is named).
    fn finish(self) -> Result<(), String> {
        let unknown = self
            .map
            .iter()
            .map(|(k, _)| k.as_ref())
            .filter(|k| !self.used().contains(k))
            .min();
        match unknown {
            Some(k) => Err(format!(
                "{}: unknown field (expected one of: {})",
                join(&self.path.to_string(), k),
                self.used().join(", ")
            )),
            None => Ok(()),
        }
    }
}

/// A JSON value parsed without tolerating repeated object keys (serde_json's
/// `Value` silently keeps the last one, which would make a file ambiguous).
struct Strict<'a>(J<'a>);

impl<'de> Deserialize<'de> for Strict<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Strict<'de>, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

/// An object key, borrowed from the input where it holds no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Objects with more members than this check repeated keys with a set.
const LINEAR_KEYS: usize = 16;

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = J<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<J<'de>, E> {
        Ok(J::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<J<'de>, E> {
        Ok(J::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<J<'de>, E> {
        Ok(J::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<J<'de>, E> {
        // As `Value::from(f64)`: a non-finite number would be null.
        Ok(serde_json::Number::from_f64(v).map_or(J::Null, J::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<J<'de>, E> {
        Ok(J::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<J<'de>, E> {
        Ok(J::String(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<J<'de>, E> {
        Ok(J::String(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<J<'de>, A::Error> {
        let mut v = Vec::new();
        while let Some(Strict(x)) = seq.next_element()? {
            v.push(x);
        }
        Ok(J::Array(v))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<J<'de>, A::Error> {
        let mut m: Vec<(Cow<'de, str>, J<'de>)> = Vec::new();
        let mut seen: Option<std::collections::HashSet<String>> = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let repeated = match &mut seen {
                Some(set) => !set.insert(k.to_string()),
                None => m.iter().any(|(x, _)| *x == k),
            };
            if repeated {
                return Err(serde::de::Error::custom(format!("duplicate key {:?}", &*k)));
            }
            if seen.is_none() && m.len() >= LINEAR_KEYS {
                let mut set: std::collections::HashSet<String> =
                    m.iter().map(|(x, _)| x.to_string()).collect();
                set.insert(k.to_string());
                seen = Some(set);
            }
            let Strict(v) = map.next_value()?;
            m.push((k, v));
        }
        Ok(J::Object(m))
    }
}

fn parse_json(bytes: &[u8]) -> Result<J<'_>, String> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} bytes, over the limit of {MAX_FILE_BYTES}",
            bytes.len()
        ));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(format!(
            "not UTF-8 (first bad byte at offset {})",
            e.valid_up_to()
        ));
    }
    serde_json::from_slice::<Strict>(bytes)
        .map(|s| s.0)
        .map_err(|e| {
            // Where NaN or Infinity stand, the parser expected a value (or, after '-', a number).
            let m = e.to_string();
            let hint = if m.starts_with("expected value") || m.starts_with("invalid number") {
                " (NaN and Infinity are not JSON numbers; write finite numbers)"
            } else {
                ""
            };
            format!("not valid JSON: {e}{hint}")
        })
}

fn clause_list(v: &J, path: &dyn std::fmt::Display) -> Result<Vec<String>, String> {
    let J::Array(a) = v else {
        return Err(format!(
            "{path}: expected an array of clause ids, got {}",
            kind_of(v)
        ));
    };
    if a.is_empty() {
        return Err(format!("{path}: must name at least one clause"));
    }
    if a.len() > MAX_ROW_CLAUSES {
        return Err(format!(
            "{path}: {} clauses, over the limit of {MAX_ROW_CLAUSES}",
            a.len()
        ));
    }
    let mut out = Vec::with_capacity(a.len());
    for (i, c) in a.iter().enumerate() {
        let p = || format!("{path}[{i}]");
        let id = text(c, &p, 128)?;
        if !clauses::valid_id(&id) {
            return Err(format!(
                "{}: {id:?} is not a clause id (1-128 of A-Z a-z 0-9 _ . -)",
                p()
            ));
        }
        if out.contains(&id) {
            return Err(format!("{}: clause {id:?} is named twice", p()));
        }
        out.push(id);
    }
    Ok(out)
}

fn check_date(d: &str, path: &str) -> Result<(), String> {
    let shape = d.len() == 10
        && d.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shape || d.parse::<jiff::civil::Date>().is_err() {
        return Err(format!("{path}: {d:?} is not a date like 2025-09-12"));
    }
    Ok(())
}

/// The key a result row and a threshold are matched by: metric and clause set.
pub fn key(metric: &str, clauses: &[String]) -> (String, BTreeSet<String>) {
    (metric.to_string(), clauses.iter().cloned().collect())
}

/// Rows up to which repeats are found by comparing rows pairwise, without
/// building a [`key`] for each.
const FEW_ROWS: usize = 32;

/// True if two rows have the same [`key`]. Each clause list names distinct
/// clauses (as [`clause_list`] checks), so the sets are equal when the lists
/// are as long and one holds every clause of the other.
fn same_key(m1: &str, c1: &[String], m2: &str, c2: &[String]) -> bool {
    m1 == m2 && c1.len() == c2.len() && c1.iter().all(|c| c2.contains(c))
}

fn describe(metric: &str, clauses: &[String]) -> String {
    format!("metric {metric:?} on [{}]", clauses.join(", "))
}

/// Parses a results file strictly. Errors name the JSON path, e.g. `results[3].value`.
pub fn parse_results(bytes: &[u8]) -> Result<ResultsFile, String> {
    let v = parse_json(bytes)?;
    let mut top = obj(&v, Path::Key(""))?;
    let mut o = obj(top.req("model")?, Path::Key("model"))?;
    let model = Model {
        id: o.text("id")?,
        digest: o.opt_text("digest")?,
    };
    o.finish()?;
    let mut o = obj(top.req("suite")?, Path::Key("suite"))?;
    let suite = Suite {
        name: o.text("name")?,
        version: o.text("version")?,
    };
    o.finish()?;
    let mut o = obj(top.req("harness")?, Path::Key("harness"))?;
    let harness = Harness {
        name: o.text("name")?,
        version: o.opt_text("version")?,
    };
    o.finish()?;
    let mut o = obj(top.req("dataset")?, Path::Key("dataset"))?;
    let dataset = Dataset {
        id: o.text("id")?,
        revision: o.opt_text("revision")?,
        commitment: o.opt_text("commitment")?,
    };
    o.finish()?;
    let sample_size = match top.req("sample_size")? {
        J::Number(n) => n
            .as_u64()
            .filter(|n| (1..=MAX_SAMPLE_SIZE).contains(n))
            .ok_or_else(|| format!("sample_size: {n} is not a whole number from 1 to 2^53"))?,
        other => {
            return Err(format!(
                "sample_size: expected a whole number, got {}",
                kind_of(other)
            ));
        }
    };
    let date = top.text("date")?;
    check_date(&date, "date")?;
    let evaluator = top.text("evaluator")?;
    let relationship = match top.req("relationship")?.as_str() {
        Some("first-party") => Relationship::FirstParty,
        Some("third-party") => Relationship::ThirdParty,
        _ => return Err("relationship: expected \"first-party\" or \"third-party\"".into()),
    };
    let rows = top.array("results", MAX_RESULTS)?;
    let mut results: Vec<ResultRow> = Vec::with_capacity(rows.len());
    let mut seen = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let p = Path::Item("results", i);
        let mut o = obj(r, p)?;
        let clauses = clause_list(o.req("clauses")?, &format_args!("{p}.clauses"))?;
        let metric = o.text("metric")?;
        let value = o.number("value")?;
        let uncertainty = o.opt_number("uncertainty")?;
        if let Some(u) = uncertainty
            && u < 0.0
        {
            return Err(format!("{p}.uncertainty: must not be negative"));
        }
        let comparator = o.comparator("comparator")?;
        let threshold = o.opt_number("threshold")?;
        o.finish()?;
        // A few rows are compared with each other; many go through a map.
        let repeats = if rows.len() <= FEW_ROWS {
            results
                .iter()
                .position(|x| same_key(&x.metric, &x.clauses, &metric, &clauses))
        } else {
            seen.insert(key(&metric, &clauses), i)
        };
        if let Some(j) = repeats {
            return Err(format!(
                "{p}: {} repeats results[{j}]",
                describe(&metric, &clauses)
            ));
        }
        results.push(ResultRow {
            clauses,
            metric,
            value,
            uncertainty,
            comparator,
            threshold,
        });
    }
    top.finish()?;
    Ok(ResultsFile {
        model,
        suite,
        harness,
        dataset,
        sample_size,
        date,
        evaluator,
        relationship,
        results,
    })
}

/// Parses a thresholds file, `{"thresholds": [{"clauses", "metric", "comparator", "threshold"}]}`.
pub fn parse_thresholds(bytes: &[u8]) -> Result<Vec<Threshold>, String> {
    let v = parse_json(bytes)?;
    let mut top = obj(&v, Path::Key(""))?;
    let rows = top.array("thresholds", MAX_THRESHOLDS)?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let p = Path::Item("thresholds", i);
        let mut o = obj(r, p)?;
        let t = Threshold {
            clauses: clause_list(o.req("clauses")?, &format_args!("{p}.clauses"))?,
            metric: o.text("metric")?,
            comparator: o.comparator("comparator")?,
            threshold: o.number("threshold")?,
        };
        o.finish()?;
        out.push(t);
    }
    top.finish()?;
    check_thresholds(&out)?;
    Ok(out)
}

/// Checks a threshold list: non-empty, bounded, well-formed and without repeats.
pub fn check_thresholds(ts: &[Threshold]) -> Result<(), String> {
    if ts.is_empty() || ts.len() > MAX_THRESHOLDS {
        return Err(format!(
            "a pre-registration needs 1 to {MAX_THRESHOLDS} thresholds"
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, t) in ts.iter().enumerate() {
        if t.clauses.is_empty()
            || t.clauses.len() > MAX_ROW_CLAUSES
            || !t.clauses.iter().all(|c| clauses::valid_id(c))
            || t.metric.is_empty()
            || t.metric.len() > MAX_FIELD
            || !t.threshold.is_finite()
        {
            return Err(format!("thresholds[{i}]: malformed"));
        }
        if let Some(j) = seen.insert(key(&t.metric, &t.clauses), i) {
            return Err(format!(
                "thresholds[{i}]: {} repeats thresholds[{j}]",
                describe(&t.metric, &t.clauses)
            ));
        }
    }
    Ok(())
}

/// Computes the outcomes of a results file.
///
/// Without a pre-registration each row is judged by its own threshold (a row
/// without one has no verdict). With one, the rows must be exactly the
/// registered (metric, clause set) pairs: a row that was not registered, or a
/// registered pair without a row, is an error; a row's comparator must be the
/// registered one; a row's threshold, if given, must equal the registered one,
/// and a missing threshold is taken from the registration.
pub fn derive_outcomes(
    file: &ResultsFile,
    registered: Option<(&str, &[Threshold])>,
) -> Result<Vec<Outcome>, String> {
    derive(file.results.clone(), registered)
}

/// [`derive_outcomes`] from the rows themselves (their strings move into the outcomes).
fn derive(
    results: Vec<ResultRow>,
    registered: Option<(&str, &[Threshold])>,
) -> Result<Vec<Outcome>, String> {
    let reg: Option<(&str, BTreeMap<_, &Threshold>)> = registered.map(|(id, ts)| {
        (
            id,
            ts.iter()
                .map(|t| (key(&t.metric, &t.clauses), t))
                .collect::<BTreeMap<_, _>>(),
        )
    });
    // The keys of the rows, for the check after the loop (which moves them).
    let have: BTreeSet<_> = match &reg {
        Some(_) => results.iter().map(|r| key(&r.metric, &r.clauses)).collect(),
        None => BTreeSet::new(),
    };
    let mut out = Vec::with_capacity(results.len());
    for (i, r) in results.into_iter().enumerate() {
        let threshold = match &reg {
            None => r.threshold,
            Some((id, map)) => {
                let Some(t) = map.get(&key(&r.metric, &r.clauses)) else {
                    return Err(format!(
                        "results[{i}]: {} was not pre-registered in {id}",
                        describe(&r.metric, &r.clauses)
                    ));
                };
                if t.comparator != r.comparator {
                    return Err(format!(
                        "results[{i}]: comparator {} differs from the pre-registered {} in {id}",
                        r.comparator.as_str(),
                        t.comparator.as_str()
                    ));
                }
                if let Some(x) = r.threshold
                    && x != t.threshold
                {
                    return Err(format!(
                        "results[{i}]: threshold {x} differs from the pre-registered {} in {id}",
                        t.threshold
                    ));
                }
                Some(t.threshold)
            }
        };
        out.push(Outcome {
            pass: threshold.map(|t| r.comparator.holds(r.value, t)),
            clauses: r.clauses,
            metric: r.metric,
            value: r.value,
            comparator: r.comparator,
            threshold,
        });
    }
    if let Some((id, map)) = &reg
        && let Some((_, t)) = map.iter().find(|(k, _)| !have.contains(*k))
    {
        return Err(format!(
            "{} was pre-registered in {id} but has no result",
            describe(&t.metric, &t.clauses)
        ));
    }
    Ok(out)
}

/// The overall verdict: every thresholded outcome passes; None if none has a threshold.
pub fn overall(outcomes: &[Outcome]) -> Option<bool> {
    let mut any = false;
    for o in outcomes {
        if let Some(p) = o.pass {
            any = true;
            if !p {
                return Some(false);
            }
        }
    }
    any.then_some(true)
}

/// Checks an `eval.record` against its results file: the summary fields must
/// be the file's, and the outcomes and verdict must be the ones
/// [`derive_outcomes`] computes.
pub fn check_against_results(
    rec: &EvalRecord,
    results: &[u8],
    registered: Option<(&str, &[Threshold])>,
) -> Result<(), String> {
    let file = parse_results(results).map_err(|e| format!("results file: {e}"))?;
    let same = rec.model == file.model
        && rec.suite == file.suite
        && rec.evaluator == file.evaluator
        && rec.relationship == file.relationship
        && rec.date == file.date;
    if !same {
        return Err(format!(
            "{}: model, suite, evaluator, relationship or date differ from the results file",
            rec.id
        ));
    }
    let want = derive(file.results, registered)?;
    if rec.outcomes != want {
        return Err(format!(
            "{}: recorded outcomes differ from the ones recomputed from the results file",
            rec.id
        ));
    }
    if rec.pass != overall(&want) {
        return Err(format!(
            "{}: recorded overall pass {:?} differs from the recomputed {:?}",
            rec.id,
            rec.pass,
            overall(&want)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"{
      "model": {"id": "gpt-x-2025-09", "digest": "sha256:abcd"},
      "suite": {"name": "honesty", "version": "1.2"},
      "harness": {"name": "evalkit", "version": "0.9"},
      "dataset": {"id": "honesty-v1", "revision": "r3"},
      "sample_size": 500,
      "date": "2025-09-20",
      "evaluator": "Example Lab",
      "relationship": "third-party",
      "results": [
        {"clauses": ["do_not_lie"], "metric": "accuracy", "value": 0.93, "uncertainty": 0.01, "comparator": ">=", "threshold": 0.9},
        {"clauses": ["do_not_lie", "be_honest"], "metric": "refusal_rate", "value": 0.02, "comparator": "<="}
      ]
    }"#;

    fn with(f: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut v: Value = serde_json::from_str(SAMPLE).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn parses_sample_and_derives() {
        let f = parse_results(SAMPLE.as_bytes()).unwrap();
        assert_eq!(f.results.len(), 2);
        assert_eq!(f.relationship, Relationship::ThirdParty);
        let o = derive_outcomes(&f, None).unwrap();
        assert_eq!(o[0].pass, Some(true));
        assert_eq!(o[1].pass, None);
        assert_eq!(overall(&o), Some(true));
    }

    #[test]
    fn repeats_are_found_by_clause_set_in_short_and_long_files() {
        // Row `n` repeats row 3 with its clauses in the other order; the rows
        // between differ in metric or clause set only. Files of up to
        // FEW_ROWS rows compare rows pairwise, longer ones use a map.
        for n in [5usize, FEW_ROWS - 1, FEW_ROWS + 8] {
            let mut rows: Vec<Value> = (0..n)
                .map(|i| {
                    serde_json::json!({"clauses": ["a", format!("c{i}")], "metric": "m",
                        "value": 0.5, "comparator": ">="})
                })
                .collect();
            rows.push(serde_json::json!({"clauses": ["c3", "a"], "metric": "m",
                "value": 0.1, "comparator": ">="}));
            // Same clauses, other metric: not a repeat.
            rows.insert(
                1,
                serde_json::json!({"clauses": ["a", "c3"], "metric": "m2",
                "value": 0.1, "comparator": ">="}),
            );
            // A subset of row 3's clauses: not a repeat either.
            rows.insert(
                2,
                serde_json::json!({"clauses": ["c3"], "metric": "m",
                "value": 0.1, "comparator": ">="}),
            );
            let bytes = with(|v| v["results"] = Value::Array(rows));
            let e = parse_results(&bytes).unwrap_err();
            assert_eq!(
                e,
                format!(
                    "results[{}]: metric \"m\" on [c3, a] repeats results[5]",
                    n + 2
                ),
                "{n} rows"
            );
        }
    }

    #[test]
    fn errors_name_the_path() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                with(|v| v["results"][1]["value"] = "NaN".into()),
                "results[1].value: expected a finite number",
            ),
            (
                with(|v| v["results"][0]["extra"] = 1.into()),
                "results[0].extra: unknown field",
            ),
            (
                with(|v| v["surprise"] = 1.into()),
                "surprise: unknown field",
            ),
            (
                with(|v| {
                    v["model"]
                        .as_object_mut()
                        .unwrap()
                        .remove("id")
                        .map(|_| ())
                        .unwrap()
                }),
                "model.id: missing",
            ),
            (with(|v| v["date"] = "2025-02-30".into()), "date:"),
            (
                with(|v| v["results"][0]["comparator"] = "=>".into()),
                "results[0].comparator: expected one of",
            ),
            (
                with(|v| v["results"][0]["clauses"] = serde_json::json!([])),
                "results[0].clauses: must name at least one clause",
            ),
            (
                with(|v| v["results"][1] = v["results"][0].clone()),
                "results[1]: metric \"accuracy\" on [do_not_lie] repeats results[0]",
            ),
            (with(|v| v["sample_size"] = (-3).into()), "sample_size:"),
            (
                with(|v| v["results"][0]["value"] = serde_json::json!(1e300)),
                "results[0].value: 1e+300 is out of range",
            ),
            (
                b"{\"results\": [NaN]}".to_vec(),
                "NaN and Infinity are not JSON numbers",
            ),
            (b"[1]".to_vec(), "(top level): expected an object"),
            (
                SAMPLE
                    .replacen("\"value\": 0.93,", "\"value\": 0.93, \"value\": 0.99,", 1)
                    .into_bytes(),
                "not valid JSON: duplicate key \"value\" at line",
            ),
            (
                String::from_utf8(with(|_| ()))
                    .unwrap()
                    .replacen("0.93", "1e400", 1)
                    .into_bytes(),
                "not valid JSON: number out of range",
            ),
        ];
        for (bytes, want) in cases {
            let e = parse_results(&bytes).unwrap_err();
            assert!(e.contains(want), "want {want:?} in {e:?}");
        }
    }

    #[test]
    fn too_many_results() {
        let b = with(|v| {
            let row = v["results"][0].clone();
            v["results"] = Value::Array(
                (0..=MAX_RESULTS)
                    .map(|i| {
                        let mut r = row.clone();
                        r["metric"] = format!("m{i}").into();
                        r
                    })
                    .collect(),
            );
        });
        assert!(
            parse_results(&b)
                .unwrap_err()
                .contains("over the limit of 1000")
        );
    }

    fn t(clauses: &[&str], metric: &str, c: Comparator, x: f64) -> Threshold {
        Threshold {
            clauses: clauses.iter().map(|s| s.to_string()).collect(),
            metric: metric.into(),
            comparator: c,
            threshold: x,
        }
    }

    #[test]
    fn preregistered_thresholds() {
        let f = parse_results(SAMPLE.as_bytes()).unwrap();
        let reg = vec![
            t(&["do_not_lie"], "accuracy", Comparator::Ge, 0.9),
            // Clause order does not matter.
            t(
                &["be_honest", "do_not_lie"],
                "refusal_rate",
                Comparator::Le,
                0.01,
            ),
        ];
        let o = derive_outcomes(&f, Some(("PREREG-1", &reg))).unwrap();
        // The missing threshold is filled from the registration, and fails.
        assert_eq!(o[1].threshold, Some(0.01));
        assert_eq!(o[1].pass, Some(false));
        assert_eq!(overall(&o), Some(false));

        let mut other = reg.clone();
        other[0].threshold = 0.8;
        let e = derive_outcomes(&f, Some(("PREREG-1", &other))).unwrap_err();
        assert!(
            e.contains("threshold 0.9 differs from the pre-registered 0.8"),
            "{e}"
        );

        let mut cmp = reg.clone();
        cmp[1].comparator = Comparator::Lt;
        assert!(
            derive_outcomes(&f, Some(("PREREG-1", &cmp)))
                .unwrap_err()
                .contains("comparator <= differs")
        );

        let e = derive_outcomes(&f, Some(("PREREG-1", &reg[..1]))).unwrap_err();
        assert!(e.contains("was not pre-registered in PREREG-1"), "{e}");

        let mut more = reg.clone();
        more.push(t(&["x"], "y", Comparator::Ge, 1.0));
        let e = derive_outcomes(&f, Some(("PREREG-1", &more))).unwrap_err();
        assert!(
            e.contains("pre-registered in PREREG-1 but has no result"),
            "{e}"
        );
    }

    #[test]
    fn thresholds_file() {
        let ok =
            br#"{"thresholds":[{"clauses":["a"],"metric":"m","comparator":">","threshold":1}]}"#;
        assert_eq!(parse_thresholds(ok).unwrap().len(), 1);
        let dup = br#"{"thresholds":[{"clauses":["a"],"metric":"m","comparator":">","threshold":1},{"clauses":["a"],"metric":"m","comparator":"<","threshold":2}]}"#;
        assert!(parse_thresholds(dup).unwrap_err().contains("repeats"));
        let missing = br#"{"thresholds":[{"clauses":["a"],"metric":"m","comparator":">"}]}"#;
        assert!(
            parse_thresholds(missing)
                .unwrap_err()
                .contains("thresholds[0].threshold: missing")
        );
    }

    #[test]
    fn comparators() {
        assert!(Comparator::Ge.holds(1.0, 1.0));
        assert!(!Comparator::Gt.holds(1.0, 1.0));
        assert!(Comparator::Lt.holds(0.5, 1.0));
        assert!(Comparator::Eq.holds(2.0, 2.0));
        for c in Comparator::ALL {
            assert_eq!(Comparator::parse(c.as_str()), Some(c));
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(j, format!("\"{}\"", c.as_str()));
        }
    }
}
