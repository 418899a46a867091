//! CLI tests of the governance model: evaluations, pre-registrations,
//! incidents, approvals, diffs and queries, on the real binary and a real
//! SQLite ledger. Every bad input must fail with exit code 2, a clear message,
//! and a byte-identical ledger.

mod common;

use common::Env;
use serde_json::{Value, json};

const SPEC_V1: &str = "# Overview {#overview}\n\nBe helpful.\n\n## Do not lie {#do_not_lie authority=user}\n\nNever lie to the user.\n\n## Be kind {#be_kind}\n\nBe kind to everyone you talk to, always.\n";
const SPEC_V2: &str = "# Overview {#overview}\n\nBe helpful.\n\n## Do not lie {#do_not_lie authority=user}\n\nNever lie to the user, not even a little.\n\n## Be kind {#be_kind}\n\nBe kind to everyone you talk to, always.\n";

fn results(value: f64, threshold: Option<f64>) -> Value {
    let mut row = json!({
        "clauses": ["do_not_lie"], "metric": "honesty_rate", "value": value, "comparator": ">="
    });
    if let Some(t) = threshold {
        row["threshold"] = json!(t);
    }
    json!({
        "model": {"id": "model-x", "digest": "sha256:00ff"},
        "suite": {"name": "honesty", "version": "1.0"},
        "harness": {"name": "evalkit", "version": "0.3"},
        "dataset": {"id": "honesty-set", "revision": "r1"},
        "sample_size": 200,
        "date": "2025-09-20",
        "evaluator": "Example Lab",
        "relationship": "third-party",
        "results": [row]
    })
}

/// init; keys policy-team (all author roles), evals (evaluator), desk
/// (incident-responder); release v1 (entry 4).
fn setup() -> Env {
    let env = Env::new();
    env.init();
    env.ok(&["key", "generate", "evals", "--role", "evaluator"]);
    env.ok(&["key", "generate", "desk", "--role", "incident-responder"]);
    env.write("v1.md", SPEC_V1);
    env.write("v2.md", SPEC_V2);
    env.ok(&[
        "spec",
        "release",
        "v1.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
    ]);
    env.write("r.json", results(0.95, Some(0.9)).to_string());
    env
}

/// Runs a failing command and checks exit code 2, the message, and that the ledger did not change.
fn refused(env: &Env, args: &[&str], needle: &str) -> String {
    let before = env.db_bytes();
    let err = env.fails(args, 2, needle);
    assert!(
        env.db_bytes() == before,
        "speclog {args:?} changed the ledger"
    );
    err
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

const RECORD: [&str; 8] = [
    "eval",
    "record",
    "--spec",
    "v1",
    "--results",
    "r.json",
    "--signer",
    "evals",
];

fn open_incident(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec![
        "incident",
        "open",
        "--title",
        "Lied about a refund",
        "--severity",
        "high",
        "--summary",
        "The model told a user a refund was processed when it was not.",
        "--spec",
        "v1",
        "--clause",
        "do_not_lie",
        "--aware-at",
        "2020-01-01T00:00:00Z",
        "--signer",
        "desk",
        "--json",
    ];
    args.extend_from_slice(extra);
    json_of(&env.ok(&args))
}

#[test]
fn eval_record_computes_pass_and_verifies() {
    let env = setup();
    let out = env.ok(&RECORD);
    assert!(
        out.contains("recorded EVAL-1 as entry 5 against v1 (entry 4)"),
        "{out}"
    );
    assert!(
        out.contains("PASS honesty_rate on [do_not_lie]: 0.95 >= 0.9"),
        "{out}"
    );

    env.write("r2.json", results(0.5, Some(0.9)).to_string());
    let mut args = RECORD.to_vec();
    args[5] = "r2.json";
    args.push("--json");
    let v = json_of(&env.ok(&args));
    assert_eq!(v["record"]["id"], "EVAL-2");
    assert_eq!(v["record"]["pass"], false);
    assert_eq!(v["record"]["outcomes"][0]["pass"], false);
    assert_eq!(
        v["record"]["results"]["media_type"],
        "application/vnd.speclog.eval-results+json"
    );
    assert_eq!(v["record"]["spec"]["release"]["seq"], 4);

    let shown = json_of(&env.ok(&["show", "6", "--json"]));
    assert_eq!(shown["subject"], "EVAL-2");
    assert!(env.ok(&["verify"]).starts_with("ok: 7 entries"));
    let evals = json_of(&env.ok(&["query", "evals", "v1", "--json"]));
    assert_eq!(evals["evaluations"].as_array().unwrap().len(), 2);
}

#[test]
fn eval_bad_inputs_are_refused() {
    let env = setup();
    refused(
        &env,
        &[
            "eval",
            "record",
            "--spec",
            "v9",
            "--results",
            "r.json",
            "--signer",
            "evals",
        ],
        "unknown spec version \"v9\"",
    );
    let mut bad = results(0.9, None);
    bad["results"][0]["clauses"] = json!(["do_not_exist"]);
    env.write("bad.json", bad.to_string());
    let mut args = RECORD.to_vec();
    args[5] = "bad.json";
    refused(
        &env,
        &args,
        "unknown clause \"do_not_exist\" in results[0].clauses: release v1 (entry 4) has no clause with that id",
    );
    env.write("bad.json", "{\"model\": ");
    refused(&env, &args, "invalid results file bad.json: not valid JSON");
    let nan = results(0.9, None).to_string().replace("0.9", "NaN");
    env.write("bad.json", nan);
    refused(&env, &args, "NaN and Infinity are not JSON numbers");
    let mut s = results(0.9, None);
    s["results"][0]["value"] = json!("NaN");
    env.write("bad.json", s.to_string());
    refused(
        &env,
        &args,
        "results[0].value: expected a finite number, got a string",
    );
    let mut extra = results(0.9, None);
    extra["model"]["weights"] = json!("x");
    env.write("bad.json", extra.to_string());
    refused(&env, &args, "model.weights: unknown field");
    let mut many = results(0.9, None);
    let row = many["results"][0].clone();
    many["results"] = Value::Array(
        (0..1001)
            .map(|i| {
                let mut r = row.clone();
                r["metric"] = json!(format!("m{i}"));
                r
            })
            .collect(),
    );
    env.write("bad.json", many.to_string());
    refused(&env, &args, "results: 1001 items, over the limit of 1000");
    // 1000 rows parse, but their summary does not fit in one entry.
    many["results"].as_array_mut().unwrap().pop();
    env.write("bad.json", many.to_string());
    refused(&env, &args, "the evaluation summary would be");
    // An incident responder cannot record evaluations.
    let mut args = RECORD.to_vec();
    args[7] = "desk";
    refused(&env, &args, "may not sign eval.record entries");
    assert!(env.ok(&["verify"]).starts_with("ok: 5 entries"));
}

#[test]
fn preregistration_fills_and_checks_thresholds() {
    let env = setup();
    env.write(
        "t.json",
        json!({"thresholds": [{"clauses": ["do_not_lie"], "metric": "honesty_rate", "comparator": ">=", "threshold": 0.97}]})
            .to_string(),
    );
    let out = env.ok(&[
        "eval",
        "preregister",
        "--spec",
        "v1",
        "--suite",
        "honesty@1.0",
        "--thresholds",
        "t.json",
        "--signer",
        "evals",
    ]);
    assert!(out.contains("pre-registered PREREG-1 as entry 5"), "{out}");

    // The results file's own threshold differs from the registered one: refused.
    let mut args = RECORD.to_vec();
    args.extend(["--preregistration", "PREREG-1"]);
    refused(
        &env,
        &args,
        "threshold 0.9 differs from the pre-registered 0.97 in PREREG-1",
    );
    refused(
        &env,
        &[
            "eval",
            "record",
            "--spec",
            "v1",
            "--results",
            "r.json",
            "--signer",
            "evals",
            "--preregistration",
            "PREREG-7",
        ],
        "unknown pre-registration \"PREREG-7\"",
    );
    // Without a threshold the registered one is used (and here fails).
    env.write("r.json", results(0.95, None).to_string());
    let out = env.ok(&args);
    assert!(
        out.contains("FAIL honesty_rate on [do_not_lie]: 0.95 >= 0.97"),
        "{out}"
    );
    assert!(
        out.contains("checked against pre-registration PREREG-1"),
        "{out}"
    );
    let v = json_of(&env.ok(&["show", "6", "--json"]));
    assert_eq!(v["payload"]["preregistration"]["seq"], 5);
    assert_eq!(v["payload"]["pass"], false);
    // A different suite cannot use the registration.
    let mut other = results(0.95, None);
    other["suite"]["version"] = json!("2.0");
    env.write("r.json", other.to_string());
    refused(
        &env,
        &args,
        "PREREG-1 pre-registered suite honesty@1.0 on v1",
    );
    assert!(env.ok(&["verify"]).starts_with("ok: 7 entries"));
}

#[test]
fn incident_lifecycle_and_rules() {
    let env = setup();
    let v = open_incident(&env, &[]);
    assert_eq!(v["id"], "INC-1");
    assert_eq!(v["payload"]["clauses"], json!(["do_not_lie"]));
    refused(
        &env,
        &[
            "incident",
            "update",
            "INC-9",
            "--status",
            "mitigated",
            "--note",
            "n",
            "--signer",
            "desk",
        ],
        "unknown incident \"INC-9\"",
    );
    // A release cannot fix an incident that does not exist.
    refused(
        &env,
        &[
            "spec",
            "release",
            "v2.md",
            "--version",
            "v2",
            "--fixes",
            "INC-4",
            "--signer",
            "policy-team",
        ],
        "unknown incident \"INC-4\"",
    );
    // --fixed-by must name a release that lists the incident.
    refused(
        &env,
        &[
            "incident",
            "resolve",
            "INC-1",
            "--resolution",
            "r",
            "--fixed-by",
            "v1",
            "--signer",
            "desk",
        ],
        "release v1 (entry 4) does not list INC-1 in its fixes",
    );
    env.ok(&[
        "incident",
        "update",
        "INC-1",
        "--status",
        "investigating",
        "--note",
        "looking",
        "--signer",
        "desk",
    ]);
    env.ok(&[
        "spec",
        "release",
        "v2.md",
        "--version",
        "v2",
        "--fixes",
        "INC-1",
        "--signer",
        "policy-team",
    ]);
    let out = env.ok(&[
        "incident",
        "resolve",
        "INC-1",
        "--resolution",
        "clarified",
        "--fixed-by",
        "v2",
        "--signer",
        "desk",
    ]);
    assert!(out.contains("resolved INC-1 in entry 8"), "{out}");
    refused(
        &env,
        &[
            "incident",
            "update",
            "INC-1",
            "--status",
            "monitoring",
            "--note",
            "n",
            "--signer",
            "desk",
        ],
        "incident INC-1 was resolved in entry 8; a resolved incident is closed",
    );
    refused(
        &env,
        &[
            "incident",
            "resolve",
            "INC-1",
            "--resolution",
            "again",
            "--signer",
            "desk",
        ],
        "was resolved in entry 8",
    );
    // A resolved incident cannot be listed as fixed again.
    env.write("v3.md", format!("{SPEC_V2}\n## New {{#new}}\n\nx\n"));
    refused(
        &env,
        &[
            "spec",
            "release",
            "v3.md",
            "--version",
            "v3",
            "--fixes",
            "INC-1",
            "--signer",
            "policy-team",
        ],
        "incident INC-1 was resolved in entry 8",
    );
    let q = json_of(&env.ok(&["query", "incident", "INC-1", "--json"]));
    assert_eq!(q["incident"]["status"], "resolved");
    assert_eq!(q["fix"]["release"]["label"], "v2");
    assert_eq!(q["fix"]["previous"]["label"], "v1");
    assert_eq!(q["fix"]["diff"]["changed"][0]["id"], "do_not_lie");
    assert_eq!(q["timeline"].as_array().unwrap().len(), 3);
    let c = json_of(&env.ok(&["query", "clause", "do_not_lie", "--json"]));
    assert_eq!(c["incidents"][0]["id"], "INC-1");
    assert_eq!(c["versions"][1]["changed"], true);
    assert!(env.ok(&["verify"]).starts_with("ok: 9 entries"));
}

#[test]
fn incident_bad_inputs_are_refused() {
    let env = setup();
    let base = [
        "incident",
        "open",
        "--title",
        "T",
        "--severity",
        "low",
        "--summary",
        "s",
        "--spec",
        "v1",
        "--aware-at",
        "2020-01-01T00:00:00Z",
    ];
    let with = |extra: &[&'static str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        a
    };
    refused(
        &env,
        &with(&["--clause", "nope", "--signer", "desk"]),
        "unknown clause \"nope\": release v1 (entry 4) has no clause with that id",
    );
    // A key with only the evaluator role cannot open incidents.
    refused(
        &env,
        &with(&["--signer", "evals"]),
        "signer \"evals\" (roles: evaluator) may not sign incident.open entries",
    );
    let mut a = base.to_vec();
    a[9] = "nope";
    a.extend(["--signer", "desk"]);
    refused(&env, &a, "unknown spec version \"nope\"");
    let mut a = base.to_vec();
    a[11] = "2999-01-01T00:00:00Z";
    a.extend(["--signer", "desk"]);
    refused(&env, &a, "is later than the entry time");
    let mut a = base.to_vec();
    a[11] = "yesterday";
    a.extend(["--signer", "desk"]);
    refused(&env, &a, "invalid time \"yesterday\"");
    let mut a = base.to_vec();
    a[7] = "  ";
    a.extend(["--signer", "desk"]);
    refused(&env, &a, "summary must not be empty");
    refused(
        &env,
        &["incident", "disclose", "INC-1", "--signer", "desk"],
        "unknown incident \"INC-1\"",
    );
    open_incident(&env, &[]);
    refused(
        &env,
        &["incident", "disclose", "INC-1", "--signer", "desk"],
        "incident INC-1 is not confidential",
    );
    refused(
        &env,
        &[
            "incident",
            "resolve",
            "INC-1",
            "--resolution",
            "r",
            "--fixed-by",
            "v7",
            "--signer",
            "desk",
        ],
        "unknown spec version \"v7\"",
    );
}

#[test]
fn confidential_incident_commits_then_discloses() {
    let env = setup();
    let v = open_incident(&env, &["--confidential"]);
    let commitment = v["payload"]["commitment"].as_str().unwrap().to_string();
    assert_eq!(commitment.len(), 64);
    assert!(v["payload"]["summary"].is_null());
    assert_eq!(v["private_row"], "incident/INC-1");
    // The summary is not in any published entry.
    let log = env.ok(&["log", "--json"]);
    assert!(!log.contains("refund was processed"));

    let d = json_of(&env.ok(&[
        "incident", "disclose", "INC-1", "--signer", "desk", "--json",
    ]));
    assert_eq!(d["kind"], "incident.disclose");
    let salt = hex::decode(d["payload"]["salt"].as_str().unwrap()).unwrap();
    let summary = d["payload"]["summary"].as_str().unwrap();
    // sha256("speclog/incident-details/v1\n" || salt || summary)
    let mut m = b"speclog/incident-details/v1\n".to_vec();
    m.extend_from_slice(&salt);
    m.extend_from_slice(summary.as_bytes());
    assert_eq!(hex::encode(speclog::ledger::entry::sha256(&m)), commitment);
    refused(
        &env,
        &["incident", "disclose", "INC-1", "--signer", "desk"],
        "was already disclosed in entry 6",
    );
    let q = json_of(&env.ok(&["query", "incident", "INC-1", "--json"]));
    assert_eq!(q["summary"], summary);
    assert!(env.ok(&["verify"]).starts_with("ok: 7 entries"));
}

#[test]
fn approvals_quorum() {
    let env = setup();
    let s = json_of(&env.ok(&["query", "approvals", "v1", "--json"]));
    assert_eq!(s["approved"], true);
    assert_eq!(s["quorum"], 0);
    refused(
        &env,
        &["spec", "approve", "v1", "--signer", "policy-team"],
        "the policy asks for no release approvals",
    );
    refused(
        &env,
        &[
            "policy",
            "set",
            "--approvals",
            "safety,legal",
            "--quorum",
            "3",
        ],
        "--quorum 3 is not between 1 and the 2 approval roles",
    );
    env.ok(&[
        "policy",
        "set",
        "--approvals",
        "safety,legal,product",
        "--quorum",
        "2",
    ]);
    env.ok(&["key", "generate", "safety-lead", "--role", "safety"]);
    env.ok(&["key", "generate", "legal-lead", "--role", "legal"]);
    refused(
        &env,
        &["spec", "approve", "v1", "--signer", "evals"],
        "signer \"evals\" holds none of the approval roles",
    );
    let a = json_of(&env.ok(&["spec", "approve", "v1", "--signer", "safety-lead", "--json"]));
    assert_eq!(a["approval"]["role"], "safety");
    assert_eq!(a["status"]["approved"], false);
    refused(
        &env,
        &["spec", "approve", "v1", "--signer", "safety-lead"],
        "safety-lead already approved this release of v1",
    );
    let out = env.ok(&["spec", "approve", "v1", "--signer", "legal-lead"]);
    assert!(out.contains("2 of 2 required roles: APPROVED"), "{out}");
    let s = json_of(&env.ok(&["query", "approvals", "v1", "--json"]));
    assert_eq!(s["approved"], true);
    assert_eq!(s["approvals"].as_array().unwrap().len(), 2);
    // A new release of the label needs new approvals.
    env.ok(&[
        "spec",
        "release",
        "v2.md",
        "--version",
        "v1",
        "--revision",
        "--signer",
        "policy-team",
    ]);
    let s = json_of(&env.ok(&["query", "approvals", "v1", "--json"]));
    assert_eq!(s["approved"], false);
    assert!(env.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn diff_and_release_references() {
    let env = setup();
    env.ok(&[
        "spec",
        "release",
        "v2.md",
        "--version",
        "v1",
        "--revision",
        "--signer",
        "policy-team",
    ]);
    let d = json_of(&env.ok(&["diff", "v1@4", "v1", "--clauses", "--json"]));
    assert_eq!(d["from"]["seq"], 4);
    assert_eq!(d["to"]["seq"], 5);
    assert_eq!(d["to"]["revision"], 2);
    assert_eq!(d["diff"]["changed"].as_array().unwrap().len(), 1);
    assert_eq!(d["diff"]["unchanged"], 2);
    let text = env.ok(&["diff", "4", "5", "--clauses"]);
    assert!(text.contains("~ do_not_lie"), "{text}");
    assert!(
        text.contains("{+not even a little.+}") || text.contains("{+"),
        "{text}"
    );
    refused(
        &env,
        &["diff", "v1", "nope"],
        "unknown spec version \"nope\"",
    );
    refused(
        &env,
        &["diff", "v1@2", "v1"],
        "entry 2 is not a release of v1",
    );
    let c = json_of(&env.ok(&["query", "clauses", "v1", "--json"]));
    assert_eq!(c["clauses"].as_array().unwrap().len(), 3);
}

/// An eval.record whose outcomes do not follow from its results file is caught
/// by verify even if it was written around speclog's checks.
#[test]
fn verify_recomputes_outcomes() {
    use speclog::governance::eval::EvalRecord;
    use speclog::ledger::entry::{Entry, UnsignedEntry, entry_hash};
    use speclog::ledger::{Batch, NewEntry, OpenOptions, SqliteStore, Store};

    let env = setup();
    env.ok(&RECORD);
    assert!(env.ok(&["verify"]).starts_with("ok:"));
    let db = env.db();
    let mut store = SqliteStore::open(
        &db,
        OpenOptions {
            write: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let keys = speclog::keys::KeyDir::new(env.path("keys"));
    let evals = keys
        .load("evals", &speclog::keys::Passphrase::None)
        .unwrap();
    let admin = keys
        .load("admin", &speclog::keys::Passphrase::None)
        .unwrap();
    let last = Entry::decode(&store.reader().entry(4).unwrap().unwrap()).unwrap();
    let mut forged: EvalRecord = serde_json::from_slice(
        &Entry::decode(&store.reader().entry(5).unwrap().unwrap())
            .unwrap()
            .payload,
    )
    .unwrap();
    forged.id = "EVAL-2".into();
    // Claims a pass on a value below the threshold: pass must be recomputed.
    forged.outcomes[0].value = 0.5;
    forged.outcomes[0].pass = Some(false);
    forged.pass = Some(false);
    let payload = serde_json::to_vec(&forged).unwrap();
    let origin = "example.org/model-spec".to_string();
    let head = store.reader().head().unwrap();
    store
        .append(
            &head,
            {
                let bytes = UnsignedEntry {
                    seq: head.size,
                    time: &last.time,
                    kind: "eval.record",
                    prev: head.hash,
                    signer: "evals",
                    signer_key: evals.verifying_key().to_bytes(),
                    payload: &payload,
                }
                .sign(&evals)
                .unwrap();
                Batch {
                    entries: vec![NewEntry {
                        hash: entry_hash(&bytes),
                        bytes,
                        kind: "eval.record".into(),
                        subject: "EVAL-2".into(),
                    }],
                    ..Batch::default()
                }
            },
            &|size, root| {
                let cp = speclog::note::Checkpoint {
                    origin: origin.clone(),
                    size,
                    root: *root,
                    extensions: Vec::new(),
                };
                let ns = speclog::note::NoteSigner::new(&origin, admin.clone())
                    .map_err(|e| e.to_string())?;
                speclog::note::sign_note(&cp.to_text(), &[&ns]).map_err(|e| e.to_string())
            },
        )
        .unwrap();
    drop(store);
    env.fails(
        &["verify"],
        1,
        "entry 6: EVAL-2: recorded outcomes differ from the ones recomputed from the results file",
    );
}
