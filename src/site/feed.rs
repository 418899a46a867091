//! The Atom 1.0 feed (RFC 4287) of the latest ledger entries, newest first.

use crate::ledger::Ledger;
use crate::ledger::view::EntryView;

use super::markdown::esc;
use super::model::SiteData;
use super::{BuildOptions, SiteError, Writer};
use crate::layout as paths;

/// Path of the feed in the site.
pub const FEED: &str = "feed.atom";

/// Entries in the feed: the latest ones, as feeds do (the log pages list them all).
pub const FEED_ENTRIES: u64 = 100;

/// Text safe for XML 1.0: escaped, and without the control characters XML forbids.
pub fn xml_text(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(c, '\u{FFFE}' | '\u{FFFF}')
            {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    esc(&clean)
}

/// A `tag:` URI (RFC 4151) naming something in this log: the authority is the
/// origin's host, the date that of the log's first entry.
pub fn tag_uri(d: &SiteData, what: &str) -> String {
    let (host, path) = d.origin.split_once('/').unwrap_or((&d.origin, ""));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let host = if host_ok { host } else { "speclog.invalid" };
    let date = d
        .items
        .first()
        .map(|i| i.time.get(..10).unwrap_or("2000-01-01").to_string())
        .unwrap_or_else(|| "2000-01-01".into());
    let mut specific = String::new();
    for b in format!("{path}/{what}").bytes() {
        if b.is_ascii_alphanumeric() || b"._~/-".contains(&b) {
            specific.push(b as char);
        } else {
            specific.push_str(&format!("%{b:02X}"));
        }
    }
    format!("tag:{host},{date}:{}", specific.trim_start_matches('/'))
}

/// Writes `feed.atom` with the latest [`FEED_ENTRIES`] entries.
pub fn render_feed(
    d: &SiteData,
    ledger: &Ledger,
    opts: &BuildOptions,
    w: &mut Writer,
) -> Result<(), SiteError> {
    let base = opts
        .base_url
        .as_deref()
        .map(|b| {
            if b.ends_with('/') {
                b.to_string()
            } else {
                format!("{b}/")
            }
        })
        .unwrap_or_default();
    let updated = d
        .items
        .last()
        .map(|i| i.time.to_string())
        .unwrap_or_else(|| "2000-01-01T00:00:00Z".into());
    let size = d.items.len() as u64;
    let mut latest = Vec::new();
    ledger.reader().for_each_entry::<SiteError>(
        size.saturating_sub(FEED_ENTRIES),
        size,
        |row| {
            latest
                .push(EntryView::from_bytes(row.data).map_err(|e| SiteError::Data(e.to_string()))?);
            Ok(())
        },
    )?;
    let mut x = String::with_capacity(1024 + latest.len() * 900);
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    x.push_str(&format!(
        "  <title>{}: {}</title>\n",
        xml_text(&d.site_title),
        xml_text(&d.origin)
    ));
    x.push_str(
        "  <subtitle>The latest signed entries of the ledger: releases, evaluations, incidents and key changes.</subtitle>\n",
    );
    x.push_str(&format!("  <id>{}</id>\n", xml_text(&tag_uri(d, "feed"))));
    x.push_str(&format!("  <updated>{}</updated>\n", xml_text(&updated)));
    x.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        xml_text(&format!("{base}{FEED}"))
    ));
    x.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        xml_text(&format!("{base}index.html"))
    ));
    x.push_str(&format!(
        "  <author><name>{}</name></author>\n",
        xml_text(&d.origin)
    ));
    x.push_str("  <generator>speclog</generator>\n");
    for v in latest.iter().rev() {
        let it = d
            .items
            .get(v.seq as usize)
            .ok_or_else(|| SiteError::Data(format!("entry {} is not in the model", v.seq)))?;
        let url = format!("{base}{}index.html", paths::entry(v.seq));
        let payload = serde_json::to_string_pretty(&v.payload)?;
        x.push_str("  <entry>\n");
        x.push_str(&format!(
            "    <title>Entry {}: {}</title>\n",
            v.seq,
            xml_text(it.summary)
        ));
        x.push_str(&format!(
            "    <id>{}</id>\n",
            xml_text(&tag_uri(d, &format!("entry/{}/{}", v.seq, v.hash)))
        ));
        x.push_str(&format!("    <updated>{}</updated>\n", xml_text(&v.time)));
        x.push_str(&format!(
            "    <published>{}</published>\n",
            xml_text(&v.time)
        ));
        x.push_str(&format!(
            "    <author><name>{}</name></author>\n",
            xml_text(&v.signer)
        ));
        x.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            xml_text(&url)
        ));
        x.push_str(&format!("    <category term=\"{}\"/>\n", xml_text(&v.kind)));
        x.push_str(&format!(
            "    <summary type=\"text\">{} (entry hash {}, signed by {})</summary>\n",
            xml_text(it.summary),
            xml_text(&v.hash),
            xml_text(&v.signer)
        ));
        x.push_str(&format!(
            "    <content type=\"text\">{}</content>\n",
            xml_text(&payload)
        ));
        x.push_str("  </entry>\n");
    }
    x.push_str("</feed>\n");
    w.write(FEED, super::markdown::visible(x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_escapes_and_drops_forbidden_characters() {
        assert_eq!(
            xml_text("a<b>&\"'\u{1}"),
            "a&lt;b&gt;&amp;&quot;&#39;\u{FFFD}"
        );
    }

    #[test]
    fn tag_uris() {
        let mut d = SiteData {
            origin: "example.org/model spec".into(),
            ..SiteData::default()
        };
        assert_eq!(
            tag_uri(&d, "entry/1"),
            "tag:example.org,2000-01-01:model%20spec/entry/1"
        );
        d.origin = "<x>".into();
        assert!(tag_uri(&d, "feed").starts_with("tag:speclog.invalid,"));
    }
}
