//! Inline SVG line charts of each evaluation metric across spec versions.
//! No script: lines, dots with `<title>` tooltips, and a data table beside
//! every chart for screen readers and for print. All text is escaped here.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::markdown::esc;
use super::model::SiteData;

const W: f64 = 640.0;
const H: f64 = 250.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;
/// Series drawn with their own colour; more share the last one.
const COLOURS: usize = 6;

/// One point of a series: a release and a value.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    pub version: String,
    pub value: f64,
    pub eval: String,
}

/// A line: one model on one set of clauses.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

/// The chart of one metric.
#[derive(Clone, Debug, Serialize)]
pub struct Chart {
    pub metric: String,
    /// Release names along the x axis, in ledger order.
    pub versions: Vec<String>,
    pub series: Vec<Series>,
    /// The threshold, when every thresholded outcome of the metric uses the same one.
    pub threshold: Option<f64>,
    #[serde(skip)]
    pub svg: String,
}

/// A number for labels: up to 4 significant digits, no trailing zeros.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let digits = (4 - x.abs().log10().floor() as i32 - 1).clamp(0, 10) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Builds one chart per metric from every evaluation record.
pub fn charts(d: &SiteData) -> Vec<Chart> {
    // metric -> clause set -> release index -> (value, index of the eval);
    // later evals win. Names and labels are made once per point shown, not
    // per outcome read (a ledger holds far more outcomes than points).
    type Cells<'a> = HashMap<&'a [String], BTreeMap<usize, (f64, usize)>>;
    let mut by_set: BTreeMap<&str, Cells> = BTreeMap::new();
    let mut thresholds: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (ei, e) in d.evals.iter().enumerate() {
        let Some(ri) = e.release else { continue };
        for o in &e.rec.outcomes {
            by_set
                .entry(&o.metric)
                .or_default()
                .entry(&o.clauses[..])
                .or_default()
                .insert(ri, (o.value, ei));
            if let Some(t) = o.threshold {
                thresholds.entry(&o.metric).or_default().push(t);
            }
        }
    }
    // One line per clause set, across versions; the model is named per point.
    // Clause sets that read the same are one line, the later eval winning.
    type Lines = BTreeMap<String, BTreeMap<usize, (f64, usize)>>;
    let by_metric: BTreeMap<&str, Lines> = by_set
        .into_iter()
        .map(|(metric, sets)| {
            let mut lines: Lines = BTreeMap::new();
            for (set, pts) in sets {
                let name = if set.is_empty() {
                    "all clauses".to_string()
                } else {
                    set.join(", ")
                };
                let line = lines.entry(name).or_default();
                for (ri, (v, ei)) in pts {
                    if line.get(&ri).is_none_or(|&(_, old)| old < ei) {
                        line.insert(ri, (v, ei));
                    }
                }
            }
            (metric, lines)
        })
        .collect();
    let label = |ei: usize| {
        let r = &d.evals[ei].rec;
        format!("{}, {}", r.id, r.model)
    };
    let mut out = Vec::new();
    for (i, (metric, series)) in by_metric.into_iter().enumerate() {
        let mut cols: Vec<usize> = series.values().flat_map(|m| m.keys().copied()).collect();
        cols.sort_unstable();
        cols.dedup();
        let names: Vec<String> = cols.iter().map(|&c| short_name(d, c)).collect();
        let threshold = thresholds.get(metric).and_then(|ts| {
            let first = *ts.first()?;
            ts.iter().all(|t| *t == first).then_some(first)
        });
        let series: Vec<Series> = series
            .into_iter()
            .map(|(name, pts)| Series {
                name,
                points: pts
                    .into_iter()
                    .map(|(ri, (value, ei))| Point {
                        version: short_name(d, ri),
                        value,
                        eval: label(ei),
                    })
                    .collect(),
            })
            .collect();
        let mut c = Chart {
            metric: metric.to_string(),
            versions: names,
            series,
            threshold,
            svg: String::new(),
        };
        c.svg = svg(&c, i);
        out.push(c);
    }
    out
}

fn short_name(d: &SiteData, ri: usize) -> String {
    let r = &d.releases[ri];
    if r.rev > 1 {
        format!("{} r{}", r.label, r.rev)
    } else {
        r.label.clone()
    }
}

fn svg(c: &Chart, n: usize) -> String {
    let mut vals: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.value))
        .collect();
    vals.extend(c.threshold);
    let (mut lo, mut hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    // Pad the data range; rates (all values in 0..=1) stay within 0..=1.
    let unit = lo >= 0.0 && hi <= 1.0;
    let pad = ((hi - lo) * 0.15).max(if unit { 0.02 } else { 1e-9 });
    (lo, hi) = (lo - pad, hi + pad);
    if (hi - lo).abs() < 1e-9 {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    if unit {
        (lo, hi) = (lo.max(0.0), hi.min(1.0));
    }
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let ncol = c.versions.len().max(1);
    // Inset the first and last columns so their labels fit.
    let inset = 44.0;
    let x = |i: usize| {
        if ncol == 1 {
            LEFT + pw / 2.0
        } else {
            LEFT + inset + (pw - 2.0 * inset) * i as f64 / (ncol - 1) as f64
        }
    };
    let y = |v: f64| TOP + ph * (1.0 - (v - lo) / (hi - lo));
    let col = |name: &str| c.versions.iter().position(|v| v == name).unwrap_or(0);
    let mut s = format!(
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart-{n}-t\" xmlns=\"http://www.w3.org/2000/svg\">\n<title id=\"chart-{n}-t\">{} across spec versions</title>\n",
        esc(&c.metric)
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let yy = y(v);
        s.push_str(&format!(
            "<line class=\"grid-line\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\"/>\n<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            esc(&num(v))
        ));
    }
    for (i, v) in c.versions.iter().enumerate() {
        s.push_str(&format!(
            "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            x(i),
            H - BOTTOM + 18.0,
            esc(v)
        ));
    }
    if let Some(t) = c.threshold {
        s.push_str(&format!(
            "<line class=\"threshold\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"><title>threshold {}</title></line>\n",
            y(t),
            W - RIGHT,
            y(t),
            esc(&num(t))
        ));
    }
    for (si, ser) in c.series.iter().enumerate() {
        let k = si.min(COLOURS - 1);
        let pts: Vec<String> = ser
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(col(&p.version)), y(p.value)))
            .collect();
        if pts.len() > 1 {
            s.push_str(&format!(
                "<polyline class=\"series s{k}\" points=\"{}\"/>\n",
                pts.join(" ")
            ));
        }
        for p in &ser.points {
            s.push_str(&format!(
                "<circle class=\"dot d{k}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\"><title>{}: {} on {} ({})</title></circle>\n",
                x(col(&p.version)),
                y(p.value),
                esc(&ser.name),
                esc(&num(p.value)),
                esc(&p.version),
                esc(&p.eval)
            ));
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(0.93456), "0.9346");
        assert_eq!(num(1234.6), "1235");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-2.5), "-2.5");
    }
}
