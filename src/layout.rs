//! Every published path: the site's URL scheme and the `log/` files, shared
//! by the site writer and the site verifier ([`crate::published`]). Pure.
//!
//! Every page is a directory with `index.html` and `index.json`; links
//! between pages are relative, so the site works from any sub-path and from
//! `file://`. The log lives under [`LOG_DIR`], laid out per C2SP tlog-tiles.
//!
//! Labels, clause ids and incident ids come from the ledger and are hostile
//! input even though the rules restrict them: [`seg`] maps any string to one
//! safe path segment, injectively.

/// Where the log lives inside the site.
pub const LOG_DIR: &str = "log";
/// Where content blobs are published, by lowercase hex SHA-256.
pub const BLOBS_DIR: &str = "log/blobs";
/// The latest checkpoint, with any witness cosignatures (C2SP tlog-tiles).
pub const CHECKPOINT: &str = "log/checkpoint";
/// The log's verifier key, one line (C2SP signed-note).
pub const VERIFIER_KEY: &str = "log/verifier-key.txt";
/// The witness policy, verbatim (C2SP tlog-policy), if the ledger has one.
pub const WITNESSES: &str = "log/witnesses.txt";

/// What a site records it was built with beyond its log (JSON, see
/// [`crate::published::BuildInfo`]), beside the Verify page.
pub const BUILD_INFO: &str = "verify/build.json";

/// Entries shown on one log page.
pub const LOG_PAGE_SIZE: u64 = 100;

/// Encodes `s` as one path segment that is also a safe URL path segment:
/// `A-Z a-z 0-9 _ -` stay, `.` and `+` stay unless the segment would start
/// with `.`, and every other byte becomes `~XX` (upper-case hex). Distinct
/// inputs give distinct segments; the empty string becomes `~`.
pub fn seg(s: &str) -> String {
    if s.is_empty() {
        return "~".into();
    }
    // A page directory must not take the name of a page file beside it.
    let reserved = s.len() > 6 && s.as_bytes()[..6].eq_ignore_ascii_case(b"index.");
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        let keep = !(i == 0 && reserved) && b.is_ascii_alphanumeric()
            || b == b'_'
            || b == b'-'
            || (i > 0 && (b == b'.' || b == b'+'));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("~{b:02X}"));
        }
    }
    out
}

/// The relative prefix from a page directory `dir` (like `versions/1.0/`) back to the root.
pub fn root_from(dir: &str) -> String {
    "../".repeat(dir.split('/').filter(|p| !p.is_empty()).count())
}

/// Directory of the versions list.
pub const VERSIONS: &str = "versions/";
/// Directory of the clause index.
pub const CLAUSES: &str = "clauses/";
/// Directory of the evaluations list.
pub const EVALS: &str = "evaluations/";
/// Directory of the incidents list.
pub const INCIDENTS: &str = "incidents/";
/// Directory of the first log page.
pub const ENTRIES: &str = "entries/";
/// Directory of the keys page.
pub const KEYS: &str = "keys/";
/// Directory of the verification page.
pub const VERIFY: &str = "verify/";

/// Page of the `rev`th release (1-based) of `label`: the first release of a
/// label lives at `versions/LABEL/`, later revisions at `versions/LABEL/rN/`.
pub fn release(label: &str, rev: u32) -> String {
    if rev <= 1 {
        format!("versions/{}/", seg(label))
    } else {
        format!("versions/{}/r{rev}/", seg(label))
    }
}

/// The clause diff page of a release page directory.
pub fn diff_of(release_dir: &str) -> String {
    format!("{release_dir}diff/")
}

/// Page of a clause.
pub fn clause(id: &str) -> String {
    format!("clauses/{}/", seg(id))
}

/// Page of an evaluation.
pub fn eval(id: &str) -> String {
    format!("evaluations/{}/", seg(id))
}

/// Page of an incident.
pub fn incident(id: &str) -> String {
    format!("incidents/{}/", seg(id))
}

/// Page of an entry.
pub fn entry(seq: u64) -> String {
    format!("entries/{seq}/")
}

/// The inclusion proof file of an entry.
pub fn proof(seq: u64) -> String {
    format!("entries/{seq}/inclusion.tlog-proof")
}

/// The log page (1-based) holding entry `seq`.
pub fn log_page_of(seq: u64) -> u64 {
    seq / LOG_PAGE_SIZE + 1
}

/// Directory of log page `n` (1-based).
pub fn log_page(n: u64) -> String {
    if n <= 1 {
        ENTRIES.to_string()
    } else {
        format!("entries/page/{n}/")
    }
}

/// Evaluations shown on the evaluations page, and on each page of their archive.
pub const EVALS_PAGE_SIZE: usize = 100;

/// Directory of page `n` (1-based) of the evaluations archive, which lists
/// every evaluation in ledger order (an evaluation id `page` has its page at
/// `evaluations/page/`, beside these directories, never in the way of one).
pub fn evals_page(n: usize) -> String {
    format!("evaluations/page/{n}/")
}

/// A fragment id for `s` (clause ids are already safe; this is for anything else).
pub fn anchor(s: &str) -> String {
    let mut a = seg(s);
    if !a.starts_with(|c: char| c.is_ascii_alphabetic()) {
        a.insert(0, 'x');
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_safe_and_injective() {
        assert_eq!(seg("2025-12-18"), "2025-12-18");
        assert_eq!(seg("v1.0+build"), "v1.0+build");
        assert_eq!(seg(".."), "~2E.");
        assert_eq!(seg("."), "~2E");
        assert_eq!(seg("a/b"), "a~2Fb");
        assert_eq!(seg("~"), "~7E");
        assert_eq!(seg("<script>"), "~3Cscript~3E");
        assert_eq!(seg(""), "~");
        assert_eq!(seg("index.html"), "~69ndex.html");
        assert_eq!(seg("INDEX.json"), "~49NDEX.json");
        assert_eq!(seg("indexes"), "indexes");
        let inputs = ["a~2Fb", "a/b", "~", "", "~7E", ".a", "~2Ea"];
        let mut out: Vec<_> = inputs.iter().map(|s| seg(s)).collect();
        out.sort();
        out.dedup();
        assert_eq!(out.len(), inputs.len());
    }

    #[test]
    fn urls() {
        assert_eq!(release("1.0", 1), "versions/1.0/");
        assert_eq!(release("1.0", 2), "versions/1.0/r2/");
        assert_eq!(root_from("versions/1.0/r2/"), "../../../");
        assert_eq!(root_from(""), "");
        assert_eq!(log_page(1), "entries/");
        assert_eq!(log_page(3), "entries/page/3/");
        assert_eq!(log_page_of(99), 1);
        assert_eq!(log_page_of(100), 2);
    }
}
