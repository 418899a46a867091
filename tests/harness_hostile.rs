//! Hostile-input harness: a table of bad inputs across every command. Each row
//! names its arguments, the files it needs, the exit code and a piece of the
//! one-line error it must produce. For every row the command must fail with
//! that code, not panic, print at most an error line and a hint line, leave
//! `ledger/ledger.sqlite` byte-identical, change no other file of the
//! workspace, and write nothing outside it.
//! Prints: `hostile: N inputs, N rejected cleanly`.
//!
//! `SPECLOG_HOSTILE_EXPLORE=1` prints what each row actually did instead of
//! failing (for writing new rows).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Env;
use serde_json::{Value, json};

const SPEC: &str = "# Overview {#overview}\n\nBe helpful.\n\n## Do not lie {#do_not_lie authority=user}\n\nNever lie to the user.\n\n## Be kind {#be_kind}\n\nBe kind.\n";

/// A name that would show up beside the workspace if a path escaped it.
const ESCAPE: &str = "hostile-escape";

/// What a row's input file holds.
enum Input {
    Bytes(Vec<u8>),
    /// A sparse file of this many bytes (a hole: instant to create).
    Sparse(u64),
    /// A file made from one the base workspace holds.
    From(&'static str, fn(Vec<u8>) -> Vec<u8>),
}

struct Row {
    args: Vec<String>,
    files: Vec<(&'static str, Input)>,
    code: i32,
    needle: &'static str,
}

/// A row whose arguments are the words of `args`.
fn r(args: &str, code: i32, needle: &'static str) -> Row {
    row(&args.split(' ').collect::<Vec<_>>(), code, needle)
}

fn row(args: &[&str], code: i32, needle: &'static str) -> Row {
    Row {
        args: args.iter().map(|s| s.to_string()).collect(),
        files: Vec::new(),
        code,
        needle,
    }
}

impl Row {
    fn file(mut self, name: &'static str, data: impl Into<Vec<u8>>) -> Row {
        self.files.push((name, Input::Bytes(data.into())));
        self
    }
    fn with(mut self, args: &[&str]) -> Row {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }
    fn sparse(mut self, name: &'static str, len: u64) -> Row {
        self.files.push((name, Input::Sparse(len)));
        self
    }
    fn derived(mut self, name: &'static str, from: &'static str, f: fn(Vec<u8>) -> Vec<u8>) -> Row {
        self.files.push((name, Input::From(from, f)));
        self
    }
}

fn results() -> Value {
    json!({
        "model": {"id": "model-x"},
        "suite": {"name": "honesty", "version": "1.0"},
        "harness": {"name": "evalkit"},
        "dataset": {"id": "honesty-set"},
        "sample_size": 200,
        "date": "2025-09-20",
        "evaluator": "Example Lab",
        "relationship": "third-party",
        "results": [{"clauses": ["do_not_lie"], "metric": "honesty_rate", "value": 0.95,
                     "comparator": ">=", "threshold": 0.9}]
    })
}

/// `results()` with one field replaced (a JSON pointer) by raw JSON text.
fn results_with(pointer: &str, raw: &str) -> Vec<u8> {
    let mut v = results();
    *v.pointer_mut(pointer).unwrap() = json!("@@RAW@@");
    v.to_string().replace("\"@@RAW@@\"", raw).into_bytes()
}

/// The base workspace: keys of every role (one encrypted), a release, an
/// evaluation, a pre-registration, an incident, proofs, checkpoints, a built
/// site and a witness.
fn base() -> Env {
    let env = Env::new();
    // Runs `speclog` with the words of `args`; returns stdout.
    let ok = |args: &str| env.ok(&args.split(' ').collect::<Vec<_>>());
    env.init();
    env.write("old-cp.txt", ok("checkpoint"));
    ok("key generate evals --role evaluator");
    ok("key generate desk --role incident-responder");
    env.write("pass.txt", "right\n");
    ok("key generate locked --encrypt --passphrase-file pass.txt");
    env.write("v1.md", SPEC);
    ok("spec release v1.md --version v1 --signer policy-team");
    env.write("r.json", results().to_string());
    ok("eval record --spec v1 --results r.json --signer evals");
    env.write(
        "t.json",
        json!({"thresholds": [{"clauses": ["do_not_lie"], "metric": "honesty_rate",
                               "comparator": ">=", "threshold": 0.9}]})
        .to_string(),
    );
    ok("eval preregister --spec v1 --suite honesty@1.0 --thresholds t.json --signer evals");
    ok(
        "incident open --title Refund --severity high --summary Said-it-was-processed \
        --spec v1 --clause do_not_lie --aware-at 2020-01-01T00:00:00Z --signer desk",
    );
    env.write("good.proof", ok("prove inclusion 4"));
    env.write("cons.proof", ok("prove consistency 2"));
    env.write("cp.txt", ok("checkpoint"));
    ok("site build --out site");
    ok("witness init w1.example/w --dir witness");
    let cosig = ok("witness cosign --log keys/admin.pub --checkpoint cp.txt --dir witness");
    env.write("cosig.txt", cosig);
    ok("witness add w1 witness/witness.pub");
    ok("checkpoint add-cosignature cosig.txt");
    ok("verify");
    env
}

fn truncate_half(b: Vec<u8>) -> Vec<u8> {
    b[..b.len() / 2].to_vec()
}

fn drop_last_line(b: Vec<u8>) -> Vec<u8> {
    let s = String::from_utf8(b).unwrap();
    let body = s.trim_end_matches('\n');
    let cut = body.rfind('\n').map_or(0, |i| i + 1);
    body.as_bytes()[..cut].to_vec()
}

/// Replaces the first base64 hash line of a proof file with bad base64.
fn bad_base64_hash(b: Vec<u8>) -> Vec<u8> {
    let s = String::from_utf8(b).unwrap();
    let mut lines: Vec<String> = s.split('\n').map(str::to_string).collect();
    let i = lines.iter().position(|l| l.len() == 44).unwrap();
    lines[i] = "!!!!not*base64!!!".repeat(2) + "=====";
    lines.join("\n").into_bytes()
}

/// Replaces the signature of the last signature line of a note with bad base64.
fn bad_base64_signature(b: Vec<u8>) -> Vec<u8> {
    let s = String::from_utf8(b).unwrap();
    let i = s.rfind(' ').unwrap();
    format!("{}%%%not-base64%%%\n", &s[..=i]).into_bytes()
}

/// Flips one bit of the signature of a note (still valid base64).
fn flipped_signature(b: Vec<u8>) -> Vec<u8> {
    let s = String::from_utf8(b).unwrap();
    let i = s.rfind(' ').unwrap() + 10;
    let mut v = s.into_bytes();
    v[i] = if v[i] == b'A' { b'B' } else { b'A' };
    v
}

fn with_nul(mut b: Vec<u8>) -> Vec<u8> {
    b.insert(b.len() / 2, 0);
    b
}

fn with_latin1(mut b: Vec<u8>) -> Vec<u8> {
    b.insert(b.len() / 2, 0xe9);
    b
}

/// A table of bad inputs, about every command: one row a line.
#[rustfmt::skip]
fn rows() -> Vec<Row> {
    let s = |n: usize, c: &str| c.repeat(n);
    let strings = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };
    let rel = |file: &str, label: &str, code: i32, needle: &'static str| Row {
        args: strings(&["spec", "release", file, "--version", label, "--signer", "policy-team"]),
        ..row(&[], code, needle)
    };
    let record = |file: &'static str| format!("eval record --spec v1 --results {file} --signer evals");
    let record = |file: &'static str, needle: &'static str| r(&record(file), 2, needle);
    let long_label = s(129, "a");
    let many_headings = "# h\n".repeat(20_001);
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // `incident open` with good values, some replaced by `extra` (option, value pairs).
    let inc = |extra: &[&str], code: i32, needle: &'static str| {
        let mut a = strings(&["incident", "open", "--title", "T", "--severity", "low", "--summary", "S",
            "--spec", "v1", "--aware-at", "2020-01-01T00:00:00Z", "--signer", "desk"]);
        for pair in extra.chunks(2) {
            if pair[0] == "--summary-file" {
                a.drain(6..8);
            }
            match a.iter().position(|x| x == pair[0]) {
                Some(i) => a[i + 1] = pair[1].to_string(),
                None => a.extend(strings(pair)),
            }
        }
        Row { args: a, ..row(&[], code, needle) }
    };
    let v2 = "# Other {#other}\n\ntext\n";
    vec![
        // --- init
        r("init --origin example.org/model-spec", 2, "a ledger already exists"),
        row(&["init", "--origin", "bad origin"], 2, "invalid origin"),
        row(&["init", "--origin", "a\nb"], 2, "invalid origin"),
        row(&["init", "--origin", &s(300, "o")], 2, "invalid origin"),
        // --- key generate / register / revoke / rotate
        r("key generate ../../hostile-escape", 2, "invalid key name"),
        r("key generate a/b", 2, "invalid key name"),
        row(&["key", "generate", &s(65, "k")], 2, "invalid key name"),
        row(&["key", "generate", "p\u{043e}licy"], 2, "invalid key name"),
        r("key generate policy-team", 2, "is already registered"),
        r("key generate newkey --role ../../x", 2, "invalid role"),
        r("key generate newkey --role <script>", 2, "invalid role"),
        r("key generate newkey --encrypt", 2, "no passphrase was given"),
        r("key register x --public missing.pub", 2, "missing.pub: No such file"),
        r("key register x --public bad.pub", 2, "malformed").file("bad.pub", "x+12345678+!!!not-base64!!!\n"),
        r("key register x --public trunc.pub", 2, "malformed").derived("trunc.pub", "keys/evals.pub", truncate_half),
        r("key register x --public nul.pub", 2, "is not a verifier key").derived("nul.pub", "keys/evals.pub", with_nul),
        r("key register x --public latin1.pub", 2, "not UTF-8").derived("latin1.pub", "keys/evals.pub", with_latin1),
        r("key register x --public huge.pub", 2, "file is over 4 KiB").sparse("huge.pub", 100 << 20),
        // Issue 21, break 6: endless inputs are capped by the bytes read, not metadata.
        r("key register x --public /dev/zero", 2, "file is over 4 KiB"),
        r("witness add w1 /dev/zero", 2, "file is over 4 KiB"),
        r("verify --proof /dev/zero --key keys/admin.pub", 2, "over 1 MiB"),
        r("verify --since /dev/zero", 2, "over 1 MiB"),
        r("key register ../../hostile-escape --public keys/evals.pub", 2, "invalid key name"),
        r("key revoke ghost", 2, "unknown active key \"ghost\""),
        r("key revoke ../../hostile-escape", 2, "unknown active key"),
        r("key rotate ghost", 2, "unknown active key \"ghost\""),
        r("key rotate ../../hostile-escape", 2, "unknown active key"),
        r("key rotate locked --encrypt --passphrase-file empty.txt", 2, "empty passphrase").file("empty.txt", "\n"),
        r("key rotate locked --encrypt --passphrase-file missing.txt", 2, "missing.txt: No such file"),
        r("key rotate locked --encrypt --passphrase-file pass.bin", 2, "not UTF-8").file("pass.bin", b"\xff\xfe\n".to_vec()),
        r("key rotate locked --encrypt --passphrase-file pass.big", 2, "at most 64 KiB").sparse("pass.big", 100 << 20),
        // --- spec release
        rel("latin1.md", "v2", 2, "is not valid UTF-8").file("latin1.md", b"# Caf\xe9\n\ntext\n".to_vec()),
        rel("nul.md", "v2", 2, "contains a NUL byte").file("nul.md", "# a\n\x00\n"),
        rel("big.md", "v2", 2, "over the 33554432 byte limit").sparse("big.md", 100 << 20),
        rel("many.md", "v2", 2, "spec has 20001 clauses, over the limit of 20000").file("many.md", many_headings),
        rel("empty.md", "v2", 2, "is empty").file("empty.md", " \n\n"),
        rel("missing.md", "v2", 2, "cannot read spec"),
        rel("keys", "v2", 2, "is not a regular file"),
        rel("v1.md", "../../hostile-escape", 2, "invalid version label"),
        rel("v1.md", "2025\u{2010}09\u{2010}12", 2, "invalid version label"),
        rel("v1.md", "v\u{0435}rsion", 2, "invalid version label"),
        rel("v1.md", "<script>", 2, "invalid version label"),
        rel("v1.md", "v\"1", 2, "invalid version label"),
        rel("v1.md", &long_label, 2, "invalid version label"),
        rel("v1.md", "", 2, "invalid version label"),
        rel("v1.md", "5", 2, "is only digits, which commands read as an entry number"),
        rel("v1.md", "v9", 2, "--time 2099-01-01T00:00:00Z is in the future").with(&["--time", "2099-01-01T00:00:00Z"]),
        rel("bom.md", "v2", 2, "starts with a byte order mark").file("bom.md", "\u{feff}# A\n\ntext\n"),
        rel("dup.md", "v2", 2, "clause id {#a} is given to two headings").file("dup.md", "# A {#a}\n\nx\n\n# B {#a}\n\ny\n"),
        rel("badid.md", "v2", 2, "clause id {#Bad-ID!} is not 1-128").file("badid.md", "# A {#Bad-ID!}\n\nx\n"),
        rel("v2.md", "v1", 2, "was already released").file("v2.md", v2),
        rel("v2.md", "v2", 2, "not valid UTF-8").with(&["--notes", "notes.md"]).file("v2.md", v2).file("notes.md", b"notes \xff\n".to_vec()),
        rel("v2.md", "v2", 2, "over the 1048576 byte limit").with(&["--notes", "notes.md"]).file("v2.md", v2).sparse("notes.md", 2 << 20),
        rel("v2.md", "v2", 2, "unknown incident \"INC-999\"").with(&["--fixes", "INC-999"]).file("v2.md", v2),
        rel("v2.md", "v2", 2, "unknown incident \"../x\"").with(&["--fixes", "../x"]).file("v2.md", v2),
        r("spec release v1.md --version v2 --signer ../../hostile-escape", 2, "invalid key name"),
        r("spec release v1.md --version v2 --signer locked --passphrase-file wrong.txt", 2, "wrong passphrase").file("wrong.txt", "nope\n"),
        r("spec release v1.md --version v2 --signer locked --passphrase-file empty.txt", 2, "empty passphrase").file("empty.txt", "\n"),
        r("spec release v1.md --version v2 --signer locked", 2, "is encrypted and no passphrase was given"),
        r("spec release v1.md --version v2 --signer evals", 2, "may not sign"),
        // --- spec approve
        r("spec approve nope --signer policy-team", 2, "unknown spec version \"nope\""),
        r("spec approve v1 --signer policy-team --role <script>", 2, "the policy asks for no release approvals"),
        // --- eval record / preregister
        record("bad.json", "not valid JSON").file("bad.json", "{\"model\": "),
        record("bad.json", "not UTF-8 (first bad byte at offset 11)").file("bad.json", b"{\"model\": \"\xff\"}".to_vec()),
        record("bad.json", "model.id: contains a control character").file("bad.json", results_with("/model/id", "\"a\\u0000b\"")),
        record("bad.json", "NaN and Infinity").file("bad.json", results_with("/results/0/value", "NaN")),
        record("bad.json", "number out of range").file("bad.json", results_with("/results/0/value", "1e400")),
        record("bad.json", "results[0].value: 1e+16 is out of range").file("bad.json", results_with("/results/0/value", "1e16")),
        record("bad.json", "sample_size: -1 is not a whole number").file("bad.json", results_with("/sample_size", "-1")),
        record("bad.json", "is not a whole number from 1 to 2^53").file("bad.json", results_with("/sample_size", "18446744073709551616")),
        record("bad.json", "9007199254740993 is not a whole number").file("bad.json", results_with("/sample_size", "9007199254740993")),
        record("bad.json", "date: \"2025-02-30\" is not a date").file("bad.json", results_with("/date", "\"2025-02-30\"")),
        record("bad.json", "\"../x\" is not a clause id").file("bad.json", results_with("/results/0/clauses", "[\"../x\"]")),
        record("bad.json", "recursion limit exceeded").file("bad.json", deep_json.clone()),
        record("bad.json", "is not a regular file of at most 4194304 bytes").sparse("bad.json", 100 << 20),
        record("bad.json", "duplicate key \"model\"").file("bad.json", results().to_string().replacen("\"model\"", "\"model\": {\"id\": \"a\"}, \"model\"", 1)),
        r("eval record --spec nope --results r.json --signer evals", 2, "unknown spec version"),
        r("eval record --spec 99999999999999999999 --results r.json --signer evals", 2, "unknown spec version"),
        r("eval record --spec v1@-1 --results r.json --signer evals", 2, "invalid release reference \"v1@-1\""),
        r("eval record --spec v1@99999999999999999999 --results r.json --signer evals", 2, "invalid release reference"),
        r("eval record --spec v1 --results r.json --signer evals --preregistration PREREG-999", 2, "unknown pre-registration \"PREREG-999\""),
        r("eval preregister --spec v1 --suite honesty@1.0 --thresholds bad.json --signer evals", 2, "invalid thresholds file bad.json: not valid JSON").file("bad.json", "{\"thresholds\": [}"),
        r("eval preregister --spec v1 --suite no-version --thresholds t.json --signer evals", 2, "invalid suite \"no-version\""),
        row(&["eval", "preregister", "--spec", "v1", "--suite", "a\u{7}b@1", "--thresholds", "t.json", "--signer", "evals"], 2, "suite name contains a control character"),
        row(&["eval", "preregister", "--spec", "v1", "--suite", &format!("{}@1", s(100_000, "s")), "--thresholds", "t.json", "--signer", "evals"], 2, "over the 65350-byte room of one entry"),
        // --- incident open / update / resolve / disclose
        inc(&["--aware-at", "-1"], 2, "unexpected argument '-1'"),
        inc(&["--aware-at", "99999-01-01T00:00:00Z"], 2, "invalid time \"99999-01-01T00:00:00Z\""),
        inc(&["--aware-at", "2020-13-45T99:00:00Z"], 2, "invalid time"),
        inc(&["--aware-at", "2999-01-01T00:00:00Z"], 2, "is later than the entry time"),
        inc(&["--clause", "no_such_clause"], 2, "unknown clause \"no_such_clause\""),
        inc(&["--clause", "../../x"], 2, "unknown clause"),
        inc(&["--title", ""], 2, "title must not be empty"),
        inc(&["--title", &s(100_000, "t")], 2, "title is 100000 bytes, over the 200-byte limit"),
        inc(&["--spec", "nope"], 2, "unknown spec version"),
        inc(&["--reporter", &s(100_000, "r")], 2, "reporter is 100000 bytes"),
        inc(&["--summary-file", "sum.md"], 2, "over the 16384 byte limit").sparse("sum.md", 100 << 20),
        inc(&["--summary-file", "sum.md"], 2, "is not valid UTF-8").file("sum.md", b"bad \xff summary".to_vec()),
        r("incident update INC-999 --status mitigated --note n --signer desk", 2, "unknown incident \"INC-999\""),
        r("incident update ../../x --status mitigated --note n --signer desk", 2, "unknown incident"),
        row(&["incident", "update", "INC-1", "--status", "mitigated", "--note", "", "--signer", "desk"], 2, "note must not be empty"),
        r("incident update INC-1 --status exploded --note n --signer desk", 2, "invalid value 'exploded'"),
        r("incident update INC-1 --status mitigated --note n --signer evals", 2, "may not sign"),
        r("incident resolve INC-1 --resolution r --fixed-by v1 --signer desk", 2, "does not list INC-1 in its fixes"),
        r("incident resolve INC-999 --resolution r --signer desk", 2, "unknown incident"),
        r("incident disclose INC-1 --signer desk", 2, "is not confidential"),
        // --- diff, query, show, log
        r("diff v1 nope", 2, "unknown spec version"),
        r("diff v1 v1@-5", 2, "invalid release reference"),
        r("diff 18446744073709551616 v1", 2, "unknown spec version"),
        r("query clause ../../x", 2, "no release, incident or evaluation names clause"),
        r("query incident INC-999", 2, "unknown incident"),
        r("query evals nope", 2, "unknown spec version"),
        r("query clauses nope", 2, "unknown spec version"),
        r("query approvals nope", 2, "unknown spec version"),
        r("show 99999999999999999999", 2, "entry 99999999999999999999 not found"),
        r("show -5", 2, "unexpected argument '-5'"),
        r("show ../../x", 2, "not found"),
        r("log --from -1", 2, "unexpected argument '-1'"),
        // --- import git
        r("import git nowhere --path spec.md --signer policy-team", 2, "git log failed"),
        r("import git . --path ../../etc/passwd --signer policy-team", 2, "invalid --path"),
        r("import git . --path v1.md --signer policy-team --label-from (", 2, "invalid --label-from regex \"(\": unclosed group"),
        // --- prove
        r("prove inclusion 999", 2, "entry 999 not found"),
        r("prove inclusion -1", 2, "unexpected argument '-1'"),
        r("prove consistency 999", 2, "old size 999 is larger than the new size"),
        r("prove consistency 18446744073709551616", 2, "number too large"),
        r("prove consistency 5 2", 2, "old size 5 is larger than the new size 2"),
        // --- verify --proof (a proof that does not parse fails verification: exit 1)
        r("verify --proof p --key keys/admin.pub", 1, "hash is not base64").derived("p", "good.proof", bad_base64_hash),
        r("verify --proof p --key keys/admin.pub", 1, "malformed proof file: truncated").derived("p", "good.proof", truncate_half),
        r("verify --proof p --key keys/admin.pub", 1, "malformed note: no signatures").derived("p", "good.proof", drop_last_line),
        r("verify --proof p --key keys/admin.pub", 1, "not UTF-8").derived("p", "good.proof", with_latin1),
        r("verify --proof p --key keys/admin.pub", 1, "malformed proof file").derived("p", "good.proof", with_nul),
        r("verify --proof p --key keys/admin.pub", 1, "not a c2sp.org/tlog-proof@v1").file("p", ""),
        r("verify --proof p --key keys/admin.pub", 2, "under 1 MiB").sparse("p", 2 << 20),
        r("verify --proof p --key keys/admin.pub", 1, "invalid signature").derived("p", "good.proof", flipped_signature),
        r("verify --proof good.proof", 2, "needs the log's verifier key"),
        r("verify --proof good.proof --key x+12345678+!!!", 2, "is not a verifier key"),
        r("verify --proof good.proof --key k.pub", 2, "is not a verifier key").file("k.pub", "x+12345678+AAAA====\n"),
        r("verify --proof good.proof --key keys/evals.pub", 1, "no verifiable signatures"),
        r("verify --proof good.proof --key keys/admin.pub --entry e.bin", 1, "differs from the entry in the proof").file("e.bin", b"\x01garbage".to_vec()),
        r("verify --proof cons.proof --key keys/admin.pub --since old", 1, "does not end in newline").derived("old", "old-cp.txt", truncate_half),
        r("verify --proof p --key keys/admin.pub --since old-cp.txt", 1, "hash is not base64").derived("p", "cons.proof", bad_base64_hash),
        // --- verify --site / --since
        r("verify --site nowhere --key keys/admin.pub", 2, "nowhere has no log/ directory"),
        r("verify --site site --key x+deadbeef+AAAA", 2, "is not a verifier key"),
        r("verify --since old", 1, "does not end in newline").derived("old", "old-cp.txt", truncate_half),
        r("verify --since old", 1, "signature is not base64").derived("old", "old-cp.txt", bad_base64_signature),
        r("verify --since old", 1, "invalid signature").derived("old", "old-cp.txt", flipped_signature),
        r("verify --since old", 1, "no signature block").file("old", ""),
        r("verify --since old", 2, "under 1 MiB").sparse("old", 100 << 20),
        r("verify --site site --key keys/admin.pub --since old", 1, "no signatures").derived("old", "old-cp.txt", drop_last_line),
        // --- site build and serve
        r("site build --out v1.md", 2, "v1.md is not a directory"),
        r("site build --out site --base-url javascript:alert(1)", 2, "invalid base URL"),
        row(&["site", "build", "--out", "site", "--base-url", "https://x/\"><script>"], 2, "invalid base URL"),
        r("site build --out keys", 2, "it is the key directory"),
        r("site build --out ledger/public", 2, "is inside the ledger directory"),
        r("site build --out .", 2, "it holds the ledger directory"),
        r("site build --out new/../keys", 2, "it is the key directory"),
        r("site build --out keyed", 2, "it holds the private key file w.key").file("keyed/w.key", "PRIVATE\n"),
        r("site serve --out . --port 0", 2, "it holds the ledger directory"),
        r("site serve --out nowhere --port 0", 2, "holds no built site"),
        // --- witness
        row(&["witness", "init", "bad name", "--dir", "w2"], 2, "invalid witness name"),
        r("witness init w1.example/w --dir witness", 2, "already exists"),
        r("witness cosign --log x+12345678+!!! --checkpoint cp.txt --dir witness", 2, "is not a verifier key"),
        r("witness cosign --log keys/admin.pub --checkpoint c --dir witness", 2, "does not end in newline").derived("c", "cp.txt", truncate_half),
        r("witness cosign --log keys/admin.pub --checkpoint c --dir witness", 2, "signature is not base64").derived("c", "cp.txt", bad_base64_signature),
        r("witness cosign --log keys/admin.pub --proof p --dir witness", 2, "is not a consistency proof").derived("p", "cons.proof", truncate_half),
        r("witness add w1 garbage+1+!!", 2, "is not a verifier key"),
        row(&["witness", "add", "a b", "witness/witness.pub"], 2, "invalid witness name"),
        row(&["witness", "add", "a\nwitness evil", "witness/witness.pub"], 2, "invalid witness name"),
        r("witness add w2 keys/admin.pub", 2, "a witness key must have type 0x04"),
        r("witness remove ghost", 2, "no witness \"ghost\" in the policy"),
        r("witness policy --quorum 5", 2, "quorum 5 needs at least 5 witnesses"),
        r("witness policy --quorum -1", 2, "unexpected argument '-1'"),
        r("witness status --dir nowhere", 2, "no witness in nowhere"),
        r("checkpoint add-cosignature g.txt", 2, "signature is not base64").file("g.txt", "— w1 %%%%\n"),
        r("checkpoint add-cosignature g.txt", 2, "does not end in newline").derived("g.txt", "cp.txt", truncate_half),
        r("checkpoint add-cosignature g.txt", 2, "is not a file of at most 1048576 bytes").sparse("g.txt", 100 << 20),
        // --- policy set
        r("policy set --approvals safety --quorum 5", 2, "--quorum 5 is not between 1 and"),
        r("policy set --approvals safety --quorum 0", 2, "--quorum 0 is not between 1 and"),
        r("policy set --approvals ../../x --quorum 1", 2, "invalid role \"../../x\""),
        r("policy set --approvals safety --quorum 4294967296", 2, "4294967296 is not in 0..=4294967295"),
        r("policy set --approvals safety --quorum -1", 2, "unexpected argument '-1'"),
        r("policy set --approvals safety,safety --quorum 2", 2, "--quorum 2 is not between 1 and the 1 approval roles"),
        // --- global options and the config file
        r("--time yesterday key generate newkey", 2, "invalid time \"yesterday\""),
        r("--time 1970-01-01T00:00:00Z key generate newkey", 2, "earlier than the last entry's time"),
        r("--lock-timeout -5 log", 2, "unexpected argument '-5'"),
        r("--lock-timeout 99999999999999999999 log", 2, "number too large"),
        r("log", 2, "not valid TOML").file("ledger/speclog.toml", "origin = [\n"),
        r("log", 2, "not UTF-8").file("ledger/speclog.toml", b"origin = \"\xff\"\n".to_vec()),
        r("log", 2, "is over 64 KiB").sparse("ledger/speclog.toml", 100 << 20),
        r("log", 2, "expected u64").file("ledger/speclog.toml", "lock_timeout = 99999999999999999999999\n"),
        r("log", 2, "unknown field").file("ledger/speclog.toml", "[site]\nout = 1\nevil = \"x\"\n"),
        r("site build", 2, "is the key directory").file("ledger/speclog.toml", "[site]\nout = \"keys\"\n"),
        r("site build", 2, "invalid base URL").file("ledger/speclog.toml", "[site]\nbase_url = \"javascript:alert(1)\"\n"),
        r("export --format ../../x", 2, "invalid value '../../x'"),
    ]
}

/// Every file under `dir` (relative path) with its length and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            // SQLite's shared-memory index and write-ahead log change on reads.
            if rel.ends_with("-shm") || rel.ends_with("-wal") {
                continue;
            }
            out.insert(rel, (m.len(), m.modified().unwrap()));
        }
    }
    out
}

/// Checks stderr: an `error:` line and at most a `hint:` line (clap's own
/// errors add a usage line and a pointer to --help, which are allowed).
fn one_line_error(err: &str) -> Result<(), String> {
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.starts_with("Usage: ") && !l.starts_with("For more information, try"))
        .collect();
    match lines.as_slice() {
        [e] if e.starts_with("error: ") => Ok(()),
        [e, h]
            if e.starts_with("error: ")
                && (h.starts_with("hint: ")
                    || h.starts_with("  tip: ")
                    || h.starts_with("  [possible values: ")) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "want an error line and a hint line, got {} lines",
            lines.len()
        )),
    }
}

#[test]
fn hostile_inputs_are_rejected_cleanly() {
    let explore = std::env::var_os("SPECLOG_HOSTILE_EXPLORE").is_some();
    let env = base();
    let outside = env.dir.path().parent().unwrap().to_path_buf();
    let escaped = || {
        std::fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(ESCAPE))
    };
    assert!(
        !escaped(),
        "a {ESCAPE}* file exists beside the workspace before the run"
    );
    let rows = rows();
    let (mut clean, mut failures) = (0usize, Vec::new());
    let started = Instant::now();
    for r in &rows {
        for (name, input) in &r.files {
            let p = env.path(name);
            match input {
                Input::Bytes(b) => {
                    env.write(name, b);
                }
                Input::Sparse(n) => {
                    let f = std::fs::File::create(&p).unwrap();
                    f.set_len(*n).unwrap();
                }
                Input::From(src, f) => {
                    env.write(name, f(std::fs::read(env.path(src)).unwrap()));
                }
            }
        }
        let before_db = env.db_bytes();
        let before = snapshot(env.dir.path());
        let t = Instant::now();
        let out = env
            .cmd()
            .args(&r.args)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        let took = t.elapsed();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut problems = Vec::new();
        if out.status.code() != Some(r.code) {
            problems.push(format!("exit {:?}, want {}", out.status.code(), r.code));
        }
        if !err.contains(r.needle) {
            problems.push(format!("stderr lacks {:?}", r.needle));
        }
        if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
            problems.push("panic".into());
        }
        if let Err(e) = one_line_error(&err) {
            problems.push(e);
        }
        if env.db_bytes() != before_db {
            problems.push("ledger.sqlite changed".into());
        }
        let after = snapshot(env.dir.path());
        if after != before {
            let changed: Vec<&String> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, _)| k)
                .chain(before.keys().filter(|k| !after.contains_key(*k)))
                .collect();
            problems.push(format!("files changed: {changed:?}"));
        }
        if escaped() {
            problems.push(format!(
                "a {ESCAPE}* file was written outside the workspace"
            ));
        }
        let shown: Vec<String> = r
            .args
            .iter()
            .map(|a| {
                if a.len() > 40 {
                    format!("{}…({} bytes)", &a[..20], a.len())
                } else {
                    a.clone()
                }
            })
            .collect();
        if explore {
            println!(
                "{shown:?} -> {:?} in {:.2}s{}\n    {}",
                out.status.code(),
                took.as_secs_f64(),
                if problems.is_empty() {
                    String::new()
                } else {
                    format!(" PROBLEMS {problems:?}")
                },
                err.trim_end().replace('\n', "\n    ")
            );
        }
        if problems.is_empty() {
            clean += 1;
        } else {
            failures.push(format!(
                "speclog {shown:?}: {}\n  stderr: {err}",
                problems.join("; ")
            ));
        }
        for (name, _) in &r.files {
            let _ = std::fs::remove_file(env.path(name));
        }
    }
    println!(
        "hostile: {} inputs, {clean} rejected cleanly ({:.1} s)",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(rows.len() >= 40);
    if !explore {
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// Issue 21, break 8: under umask 000 the directories speclog creates get an
/// explicit mode: keys, ledger, witness and its state/ private (0700), the
/// site public (0755); private key files 0600.
#[cfg(unix)]
#[test]
fn umask_000_still_gives_private_directories() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin("speclog");
    let script = format!(
        "umask 000 && {b} init --origin example.org/m && {b} witness init w.example/w --dir wit && {b} checkpoint > cp.txt && {b} witness cosign --checkpoint cp.txt --log keys/admin.pub --dir wit > /dev/null && {b} site build > /dev/null",
        b = bin.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(env.dir.path())
        .env_remove("SPECLOG_LEDGER")
        .env_remove("SPECLOG_KEYS")
        .env_remove("SPECLOG_WITNESS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &str| std::fs::metadata(env.path(p)).unwrap().permissions().mode() & 0o777;
    for (p, want) in [
        ("keys", 0o700),
        ("ledger", 0o700),
        ("wit", 0o700),
        ("wit/state", 0o700),
        ("wit/evidence", 0o700),
        ("site", 0o755),
        ("site/log", 0o755),
        ("keys/admin.key", 0o600),
        ("wit/witness.key", 0o600),
    ] {
        assert_eq!(mode(p), want, "{p} is {:o}", mode(p));
    }
    for e in std::fs::read_dir(env.path("wit/state")).unwrap().flatten() {
        let m = e.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(m & 0o077, 0, "{:?} is {m:o}", e.path());
    }
}

/// Issue 21, break 7: on a full disk (a small tmpfs, in a private mount
/// namespace) nothing partial remains (no 0-byte key file, no temporary
/// file), the ledger is unchanged, the error says the disk is full with a
/// hint, and once space is freed the same command works.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_leaves_nothing_partial() {
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin("speclog");
    let d = env.path("small");
    std::fs::create_dir(&d).unwrap();
    let script = format!(
        r#"set -u
mount -t tmpfs -o size=4m tmpfs "$D" || exit 99
cd "$D"
S={b}
$S init --origin example.org/m >/dev/null || exit 98
$S key generate alice >/dev/null || exit 97
echo '# Spec {{#spec}}' > s.md
echo 'Be kind.' >> s.md
sha256sum ledger/ledger.sqlite > before.sum
head -c 100M /dev/zero > fill 2>/dev/null
echo "== key"; $S key generate bob 2>&1; echo "rc=$?"
echo "== release"; $S spec release s.md --version v1 --signer alice 2>&1; echo "rc=$?"
echo "== site"; $S site build 2>&1; echo "rc=$?"
echo "== witness"; $S witness init w.example/w --dir wit 2>&1; echo "rc=$?"
echo "== files"; find . -name '*.tmp' -o -name '*.key' -size 0 -o -name '*.pub' -size 0 -o -name 'bob.*' -o -name 'witness.*'
echo "== same"; sha256sum -c before.sum >/dev/null && echo unchanged
rm fill
echo "== retry"; $S key generate bob >/dev/null 2>&1 && $S spec release s.md --version v1 --signer alice >/dev/null 2>&1 && $S site build >/dev/null 2>&1 && $S verify >/dev/null 2>&1 && echo works
cd / && umount "$D"
"#,
        b = bin.display()
    );
    // As root a private mount namespace is enough; otherwise a user namespace maps us to root in it.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n";
    let flags = if root { "-m" } else { "-rm" };
    let out = std::process::Command::new("unshare")
        .args([flags, "sh", "-c", &script])
        .env("D", &d)
        .env("NO_COLOR", "1")
        .env_remove("SPECLOG_LEDGER")
        .env_remove("SPECLOG_KEYS")
        .env_remove("SPECLOG_WITNESS")
        .env_remove("SPECLOG_TIME")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the disk-full scenario needs `unshare` and `mount -t tmpfs` (root or user namespaces): {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let section = |name: &str| -> String {
        let start = text
            .find(&format!("== {name}\n"))
            .unwrap_or_else(|| panic!("{text}"));
        let rest = &text[start + name.len() + 4..];
        rest[..rest.find("== ").unwrap_or(rest.len())].to_string()
    };
    for step in ["key", "release", "site", "witness"] {
        let s = section(step);
        assert!(!s.contains("rc=0"), "{step} succeeded on a full disk: {s}");
        assert!(!s.contains("panicked"), "{step}: {s}");
        assert!(
            s.contains("hint: the disk is full"),
            "{step}: no disk-full hint: {s}"
        );
    }
    assert_eq!(section("files").trim(), "", "partial files left: {text}");
    assert_eq!(section("same").trim(), "unchanged", "{text}");
    assert_eq!(section("retry").trim(), "works", "{text}");
}

/// Issue 21, break 6: a 3 GB sparse private key file is refused after
/// reading at most 64 KiB of it, not read whole.
#[cfg(unix)]
#[test]
fn a_huge_sparse_key_file_is_not_read_whole() {
    use std::os::unix::fs::PermissionsExt;
    let env = base();
    std::fs::create_dir(env.path("big")).unwrap();
    let p = env.path("big/admin.key");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(3 << 30).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = env.db_bytes();
    let t = Instant::now();
    env.fails(
        &["--keys", "big", "key", "generate", "x"],
        2,
        "over 65536 bytes",
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(env.db_bytes(), before);
}
