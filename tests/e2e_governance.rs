//! End to end on the real OpenAI Model Spec history (../shared, CC0), read at
//! test time: release every version at its real commit time, evaluate two
//! versions, open an incident on `be_rationally_optimistic`, release the
//! 2025-12-18 revision that fixes it, resolve it with --fixed-by, and check
//! every link, query and diff, then `speclog verify`.

mod common;

use std::collections::BTreeMap;

use common::{Env, shared_releases, shared_versions};
use serde_json::{Value, json};

const CLAUSE: &str = "be_rationally_optimistic";

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

/// INDEX.tsv: version file name -> commit time in UTC (`YYYY-MM-DDTHH:MM:SSZ`).
fn release_times() -> BTreeMap<String, String> {
    let index = std::fs::read_to_string(shared_versions().join("INDEX.tsv")).unwrap();
    index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let ts: jiff::Timestamp = f[2].parse().unwrap();
            (
                f[0].to_string(),
                ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            )
        })
        .collect()
}

fn results(model: &str, value: f64, date: &str) -> String {
    json!({
        "model": {"id": model},
        "suite": {"name": "optimism-calibration", "version": "2.1"},
        "harness": {"name": "evalkit", "version": "0.9.1"},
        "dataset": {"id": "grounded-optimism", "revision": "2025-12", "commitment": "sha256:4f1c0a"},
        "sample_size": 1200,
        "date": date,
        "evaluator": "Independent Evals Ltd",
        "relationship": "third-party",
        "results": [
            {"clauses": [CLAUSE], "metric": "calibrated_optimism_rate", "value": value,
             "uncertainty": 0.012, "comparator": ">=", "threshold": 0.9},
            {"clauses": [CLAUSE, "do_not_lie"], "metric": "false_reassurance_rate",
             "value": 0.01, "comparator": "<=", "threshold": 0.02}
        ]
    })
    .to_string()
}

fn record(env: &Env, spec: &str, file: &str, time: &str) -> Value {
    json_of(&env.ok(&[
        "eval",
        "record",
        "--spec",
        spec,
        "--results",
        file,
        "--signer",
        "evals",
        "--time",
        time,
        "--json",
    ]))
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn governance_on_the_real_history() {
    let env = Env::new();
    let times = release_times();
    env.init_at("2025-02-01T00:00:00Z");
    for (name, role) in [("evals", "evaluator"), ("desk", "incident-responder")] {
        env.ok(&[
            "key",
            "generate",
            name,
            "--role",
            role,
            "--time",
            "2025-02-01T00:00:00Z",
        ]);
    }

    // Every version but the revision, at its commit time.
    let mut seq_of = BTreeMap::new();
    let mut revision = None;
    for (label, file, rev) in shared_releases() {
        if rev {
            revision = Some((label, file));
            continue;
        }
        let v = json_of(&env.ok(&[
            "spec",
            "release",
            file.to_str().unwrap(),
            "--version",
            &label,
            "--signer",
            "policy-team",
            "--time",
            &times[&label],
            "--json",
        ]));
        seq_of.insert(label, v["seq"].as_u64().unwrap());
    }
    let (rev_label, rev_file) = revision.expect("INDEX.tsv lists a -rev2 revision");
    assert_eq!(rev_label, "2025-12-18");
    let first_1218 = seq_of["2025-12-18"];

    // Evaluations of two versions: 2025-10-27 passes, 2025-12-18 fails on the clause.
    env.write(
        "r-1027.json",
        results("model-a-2025-11", 0.93, "2025-12-18"),
    );
    env.write(
        "r-1218.json",
        results("model-a-2025-11", 0.81, "2025-12-18"),
    );
    let e1 = record(&env, "2025-10-27", "r-1027.json", "2025-12-18T10:00:00Z");
    assert_eq!(
        (e1["record"]["id"].as_str(), e1["record"]["pass"].as_bool()),
        (Some("EVAL-1"), Some(true))
    );
    let e2 = record(&env, "2025-12-18", "r-1218.json", "2025-12-18T10:05:00Z");
    assert_eq!(e2["record"]["id"], "EVAL-2");
    assert_eq!(e2["record"]["pass"], false);
    assert_eq!(e2["release"]["seq"], first_1218);

    // The incident, on the clause of the 2025-12-18 release.
    let inc = json_of(&env.ok(&[
        "incident",
        "open",
        "--title",
        "Unwarranted reassurance in risky situations",
        "--severity",
        "medium",
        "--summary",
        "Optimism was applied where the facts did not support it.",
        "--spec",
        "2025-12-18",
        "--clause",
        CLAUSE,
        "--aware-at",
        "2025-12-18T08:30:00-08:00",
        "--reporter",
        "evals",
        "--signer",
        "desk",
        "--time",
        "2025-12-18T17:00:00Z",
        "--json",
    ]));
    assert_eq!(inc["id"], "INC-1");
    assert_eq!(inc["payload"]["aware_at"], "2025-12-18T16:30:00Z");
    assert_eq!(inc["payload"]["spec"]["release"]["seq"], first_1218);

    // The revision that fixes it.
    let rel = json_of(&env.ok(&[
        "spec",
        "release",
        rev_file.to_str().unwrap(),
        "--version",
        "2025-12-18",
        "--revision",
        "--fixes",
        "INC-1",
        "--signer",
        "policy-team",
        "--time",
        &times["2025-12-18-rev2"],
        "--json",
    ]));
    let rev_seq = rel["seq"].as_u64().unwrap();
    assert_eq!(rel["payload"]["fixes"], json!(["INC-1"]));
    assert_eq!(rel["payload"]["supersedes"]["seq"], first_1218);

    env.write(
        "r-rev2.json",
        results("model-a-2025-11", 0.94, "2025-12-19"),
    );
    let e3 = record(&env, "2025-12-18", "r-rev2.json", "2025-12-19T09:00:00Z");
    assert_eq!(e3["record"]["id"], "EVAL-3");
    assert_eq!(e3["record"]["pass"], true);
    assert_eq!(e3["release"]["seq"], rev_seq);
    assert_eq!(e3["release"]["revision"], 2);

    env.ok(&[
        "incident",
        "update",
        "INC-1",
        "--status",
        "monitoring",
        "--note",
        "revision 2 released; watching the follow-up evaluation",
        "--signer",
        "desk",
        "--time",
        "2025-12-19T09:30:00Z",
    ]);
    let res = json_of(&env.ok(&[
        "incident",
        "resolve",
        "INC-1",
        "--resolution",
        "clarified be_rationally_optimistic; EVAL-3 passes",
        "--fixed-by",
        "2025-12-18",
        "--signer",
        "desk",
        "--time",
        "2025-12-19T10:00:00Z",
        "--json",
    ]));
    assert_eq!(res["payload"]["fixed_by"]["release"]["seq"], rev_seq);

    // Diffs on the real texts.
    let d = json_of(&env.ok(&["diff", "2025-04-11", "2025-09-12", "--json"]));
    let renamed: Vec<(String, String)> = d["diff"]["renamed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap().into(),
                r["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        renamed.contains(&(
            "protect_privileged_messages".into(),
            "protect_privileged_information".into()
        )),
        "{renamed:?}"
    );
    let d = json_of(&env.ok(&[
        "diff",
        &format!("2025-12-18@{first_1218}"),
        "2025-12-18",
        "--clauses",
        "--json",
    ]));
    assert_eq!(ids(&d["diff"]["changed"]), [CLAUSE]);
    for k in ["added", "removed", "renamed"] {
        assert!(
            d["diff"][k].as_array().unwrap().is_empty(),
            "{k}: {}",
            d["diff"][k]
        );
    }
    assert!(
        !d["diff"]["changed"][0]["hunks"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Which release fixed INC-1, what it changed, and the evaluations before and after.
    let q = json_of(&env.ok(&["query", "incident", "INC-1", "--json"]));
    assert_eq!(q["incident"]["status"], "resolved");
    assert_eq!(q["incident"]["fixed_by"]["release"]["seq"], rev_seq);
    assert_eq!(q["fix"]["release"]["seq"], rev_seq);
    assert_eq!(q["fix"]["previous"]["seq"], first_1218);
    assert_eq!(ids(&q["fix"]["diff"]["changed"]), [CLAUSE]);
    assert_eq!(ids(&q["fix"]["evaluations_before"]), ["EVAL-2"]);
    assert_eq!(ids(&q["fix"]["evaluations_after"]), ["EVAL-3"]);
    assert_eq!(q["timeline"].as_array().unwrap().len(), 3);
    let text = env.ok(&["query", "incident", "INC-1"]);
    assert!(
        text.contains(&format!(
            "changed against 2025-12-18 (entry {first_1218}): {CLAUSE}"
        )),
        "{text}"
    );

    // Which incidents touched the clause, and how its text moved.
    let c = json_of(&env.ok(&["query", "clause", CLAUSE, "--json"]));
    assert_eq!(ids(&c["incidents"]), ["INC-1"]);
    assert_eq!(ids(&c["evaluations"]), ["EVAL-1", "EVAL-2", "EVAL-3"]);
    let last = c["versions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["seq"].as_u64(), last["changed"].as_bool()),
        (Some(rev_seq), Some(true))
    );

    // A clause renamed between releases is followed under both names: the
    // 2025-09-12 release renamed protect_privileged_messages.
    let r = json_of(&env.ok(&[
        "query",
        "clause",
        "protect_privileged_information",
        "--json",
    ]));
    assert_eq!(
        r["aliases"],
        serde_json::json!(["protect_privileged_messages"])
    );
    let named: Vec<(String, String)> = r["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["label"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        named.contains(&("2025-04-11".into(), "protect_privileged_messages".into()))
            && named.contains(&("2025-09-12".into(), "protect_privileged_information".into())),
        "{named:?}"
    );
    let old = json_of(&env.ok(&["query", "clause", "protect_privileged_messages", "--json"]));
    assert_eq!(old["versions"], r["versions"]);
    let text = env.ok(&["query", "clause", "protect_privileged_information"]);
    assert!(
        text.contains("also named protect_privileged_messages")
            && text.contains("(as protect_privileged_messages)"),
        "{text}"
    );

    // Evaluations per label.
    let q = json_of(&env.ok(&["query", "evals", "2025-12-18", "--json"]));
    assert_eq!(ids(&q["evaluations"]), ["EVAL-2", "EVAL-3"]);
    assert_eq!(q["releases"].as_array().unwrap().len(), 2);
    let q = json_of(&env.ok(&["query", "evals", "2025-10-27", "--json"]));
    assert_eq!(ids(&q["evaluations"]), ["EVAL-1"]);

    let v = json_of(&env.ok(&["verify", "--json"]));
    // 3 key entries + 1 init, 6 releases, 3 evaluations, 3 incident entries.
    assert_eq!(v["entries"], 16);
    let log = env.ok(&["log", "--kind", "incident."]);
    assert_eq!(log.lines().count(), 3, "{log}");
}
