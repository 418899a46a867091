//! Tamper-detection harness: change the stored ledger in every way we can think of
//! and check that `verify` catches each change (exit 1) and names the place;
//! then the same for a published site and `verify --site`.
//! Prints: cases tried, detected.

mod common;

use std::path::Path;

use common::Env;
use rusqlite::{Connection, params};

/// A ledger with keys, releases (one a revision), a rotation, an incident and
/// checkpoints, built once; every case starts from a fresh copy of its file.
fn base() -> Env {
    let env = Env::new();
    env.init();
    env.ok(&["key", "generate", "desk", "--role", "incident-responder"]);
    env.ok(&["key", "generate", "other", "--role", "spec-owner"]);
    env.write(
        "a.md",
        "# Spec {#spec}\n\n## Privacy {#protect_privacy}\n\nBe careful.\n",
    );
    env.write(
        "b.md",
        "# Spec {#spec}\n\n## Privacy {#protect_privacy}\n\nBe very careful.\n",
    );
    env.write(
        "c.md",
        "# Spec {#spec}\n\n## Privacy {#protect_privacy}\n\nBe careful, always.\n",
    );
    env.ok(&[
        "spec",
        "release",
        "a.md",
        "--version",
        "v1",
        "--signer",
        "policy-team",
    ]);
    env.ok(&[
        "spec",
        "release",
        "b.md",
        "--version",
        "v2",
        "--signer",
        "policy-team",
    ]);
    env.ok(&[
        "spec",
        "release",
        "c.md",
        "--version",
        "v2",
        "--signer",
        "other",
        "--revision",
    ]);
    env.ok(&[
        "incident",
        "open",
        "--title",
        "Leak",
        "--severity",
        "high",
        "--summary",
        "details",
        "--spec",
        "v2",
        "--clause",
        "protect_privacy",
        "--aware-at",
        "2025-01-01T00:00:00Z",
        "--signer",
        "desk",
    ]);
    env.ok(&[
        "incident",
        "open",
        "--title",
        "Withheld",
        "--severity",
        "low",
        "--summary",
        "secret details",
        "--spec",
        "v2",
        "--aware-at",
        "2025-01-02T00:00:00Z",
        "--confidential",
        "--signer",
        "desk",
    ]);
    env.ok(&["key", "rotate", "policy-team"]);
    env.ok(&[
        "spec",
        "release",
        "a.md",
        "--version",
        "v3",
        "--signer",
        "policy-team",
    ]);
    env.ok(&["verify"]);
    env
}

struct Tally {
    tried: u64,
    detected: u64,
    missed: Vec<String>,
}

impl Tally {
    fn check(&mut self, env: &Env, name: &str, args: &[&str]) {
        self.tried += 1;
        let out = env.cmd().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // Detected: exit 1 with a message naming a place, or a refusal to open a
        // damaged file (exit 2, "not a speclog ledger" / sqlite error); never a panic.
        let named = err.contains("verification failed: ")
            || err.contains("is not a speclog ledger")
            || err.contains("ledger is corrupt")
            || err.contains("sqlite");
        assert!(!err.contains("panicked"), "{name}: panic: {err}");
        if !out.status.success() && named {
            self.detected += 1;
        } else {
            self.missed
                .push(format!("{name}: exit {:?}: {err}", out.status.code()));
        }
    }
}

fn with_db(env: &Env, pristine: &[u8], f: impl FnOnce(&Connection)) {
    std::fs::write(env.db(), pristine).unwrap();
    let c = Connection::open(env.db()).unwrap();
    f(&c);
    drop(c);
}

fn flip_text(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8_lossy(&b).into_owned()
}

fn flip_blob(b: &[u8]) -> Vec<u8> {
    let mut b = b.to_vec();
    let i = b.len() / 2;
    b[i] ^= 0x01;
    b
}

/// Flip every column of every row of every table, one at a time.
fn column_cases(env: &Env, pristine: &[u8], t: &mut Tally) {
    let c = Connection::open(env.db()).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut cases = Vec::new();
    for table in &tables {
        let cols: Vec<(String, String)> = c
            .prepare(&format!(
                "SELECT name, type FROM pragma_table_info('{table}')"
            ))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        for col in &cols {
            // Up to 6 rows of each table, spread out.
            let step = (n / 6).max(1);
            let mut row = 0;
            while row < n {
                cases.push((table.clone(), col.clone(), row));
                row += step;
            }
        }
    }
    drop(c);
    for (table, (col, ty), row) in cases {
        let name = format!("{table}.{col} row {row}");
        let mut applied = true;
        with_db(env, pristine, |c| {
            let rowid: i64 = match c.query_row(
                &format!("SELECT rowid FROM {table} LIMIT 1 OFFSET {row}"),
                [],
                |r| r.get(0),
            ) {
                Ok(r) => r,
                Err(_) => {
                    // WITHOUT ROWID tables (tree): address by key.
                    applied = tamper_tree(c, &col, row);
                    return;
                }
            };
            let sql_get = format!("SELECT {col} FROM {table} WHERE rowid = ?1");
            let res = match ty.as_str() {
                "INTEGER" => {
                    let v: i64 = c.query_row(&sql_get, [rowid], |r| r.get(0)).unwrap();
                    c.execute(
                        &format!("UPDATE OR IGNORE {table} SET {col} = ?1 WHERE rowid = ?2"),
                        params![v + 1000, rowid],
                    )
                }
                "TEXT" => {
                    let v: String = c.query_row(&sql_get, [rowid], |r| r.get(0)).unwrap();
                    c.execute(
                        &format!("UPDATE OR IGNORE {table} SET {col} = ?1 WHERE rowid = ?2"),
                        params![flip_text(&v), rowid],
                    )
                }
                _ => {
                    let v: Vec<u8> = c.query_row(&sql_get, [rowid], |r| r.get(0)).unwrap();
                    c.execute(
                        &format!("UPDATE OR IGNORE {table} SET {col} = ?1 WHERE rowid = ?2"),
                        params![flip_blob(&v), rowid],
                    )
                }
            };
            applied = matches!(res, Ok(1));
        });
        if applied {
            t.check(env, &name, &["verify"]);
        }
    }
}

fn tamper_tree(c: &Connection, col: &str, row: i64) -> bool {
    let (level, idx, hash): (i64, i64, Vec<u8>) = match c.query_row(
        &format!("SELECT level, idx, hash FROM tree ORDER BY level, idx LIMIT 1 OFFSET {row}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    ) {
        Ok(v) => v,
        Err(_) => return false,
    };
    let sql = match col {
        "level" => "UPDATE OR IGNORE tree SET level = level + 1000 WHERE level = ?1 AND idx = ?2",
        "idx" => "UPDATE OR IGNORE tree SET idx = idx + 1000 WHERE level = ?1 AND idx = ?2",
        _ => {
            return c
                .execute(
                    "UPDATE tree SET hash = ?3 WHERE level = ?1 AND idx = ?2",
                    params![level, idx, flip_blob(&hash)],
                )
                .is_ok();
        }
    };
    matches!(c.execute(sql, params![level, idx]), Ok(1))
}

fn structural_cases(env: &Env, pristine: &[u8], t: &mut Tally) {
    let sqls: &[(&str, &str)] = &[
        (
            "delete the last entry",
            "DELETE FROM entries WHERE seq = (SELECT max(seq) FROM entries)",
        ),
        ("delete a middle entry", "DELETE FROM entries WHERE seq = 3"),
        (
            "delete last entry and move head back",
            "DELETE FROM entries WHERE seq = (SELECT max(seq) FROM entries); UPDATE head SET size = size - 1",
        ),
        (
            "swap two entries' data",
            "UPDATE entries SET data = CASE seq WHEN 3 THEN (SELECT data FROM entries WHERE seq = 4) ELSE (SELECT data FROM entries WHERE seq = 3) END WHERE seq IN (3, 4)",
        ),
        (
            "delete a blob",
            "DELETE FROM blobs WHERE rowid = (SELECT min(rowid) FROM blobs)",
        ),
        (
            "delete a tree hash",
            "DELETE FROM tree WHERE (level, idx) = (SELECT level, idx FROM tree LIMIT 1)",
        ),
        (
            "add a stray tree hash",
            "INSERT INTO tree VALUES (1, 999, zeroblob(32))",
        ),
        (
            "delete the latest checkpoint",
            "DELETE FROM checkpoints WHERE size = (SELECT max(size) FROM checkpoints)",
        ),
        (
            "delete the meta origin",
            "DELETE FROM meta WHERE key = 'origin'",
        ),
        ("delete the head", "DELETE FROM head"),
        (
            "extra entry row beyond the head",
            "INSERT INTO entries SELECT seq + 100, randomblob(32), kind, subject, data FROM entries WHERE seq = 2",
        ),
    ];
    for (name, sql) in sqls {
        let mut ok = true;
        with_db(env, pristine, |c| {
            if let Err(e) = c.execute_batch(sql) {
                eprintln!("{name}: not applicable ({e})");
                ok = false;
            }
        });
        if ok {
            t.check(env, name, &["verify"]);
        }
    }
    // Replace a blob's content with other content under the same digest.
    with_db(env, pristine, |c| {
        c.execute("UPDATE blobs SET data = CAST('replaced' AS BLOB) WHERE rowid = (SELECT max(rowid) FROM blobs)", [])
            .unwrap();
    });
    t.check(env, "replace a content blob", &["verify"]);
    // Truncate the database file.
    for frac in [2, 3, 10] {
        std::fs::write(env.db(), &pristine[..pristine.len() * (frac - 1) / frac]).unwrap();
        t.check(
            env,
            &format!("truncate the file to {}/{frac}", frac - 1),
            &["verify"],
        );
    }
    std::fs::write(env.db(), b"").unwrap();
    t.check(env, "empty the file", &["verify"]);
    // Garbage page in the middle (a whole page of the file's page size, from
    // its header: overwriting only part of a page may land in its free space).
    let mut g = pristine.to_vec();
    let page = match u16::from_be_bytes([g[16], g[17]]) {
        1 => 65536,
        n => n as usize,
    };
    let mid = g.len() / 2 / page * page;
    for b in &mut g[mid..mid + page] {
        *b = 0xA5;
    }
    std::fs::write(env.db(), &g).unwrap();
    t.check(env, "overwrite a page with garbage", &["verify"]);
}

/// Re-sign the last entry with another registered key (`other`, a spec-owner)
/// and store it as if it were genuine, fixing up the hash column and the head.
fn resign_case(env: &Env, pristine: &[u8], t: &mut Tally) {
    use speclog::ledger::entry::{Entry, UnsignedEntry, entry_hash};
    with_db(env, pristine, |c| {
        let (seq, data): (i64, Vec<u8>) = c
            .query_row(
                "SELECT seq, data FROM entries ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let e = Entry::decode(&data).unwrap();
        let key = speclog::keys::KeyDir::new(env.path("keys"))
            .load("other", &speclog::keys::Passphrase::None)
            .unwrap();
        let forged = UnsignedEntry {
            seq: e.seq,
            time: &e.time,
            kind: &e.kind,
            prev: e.prev,
            signer: &e.signer,
            signer_key: key.verifying_key().to_bytes(),
            payload: &e.payload,
        }
        .sign(&key)
        .unwrap();
        let h = entry_hash(&forged);
        c.execute(
            "UPDATE entries SET data = ?1, hash = ?2 WHERE seq = ?3",
            params![forged, &h[..], seq],
        )
        .unwrap();
        c.execute("UPDATE head SET hash = ?1", params![&h[..]])
            .unwrap();
    });
    t.check(
        env,
        "re-sign an entry with another registered key",
        &["verify"],
    );
}

/// Roll back to an older copy while the verifier keeps a newer checkpoint.
fn rollback_case(env: &Env, old_copy: &[u8], newer_checkpoint: &str, t: &mut Tally) {
    std::fs::write(env.db(), old_copy).unwrap();
    env.write("newer.cp", newer_checkpoint);
    t.check(
        env,
        "roll back to an older copy, keeping a newer checkpoint",
        &["verify", "--since", "newer.cp"],
    );
}

fn site_cases(env: &Env, pristine: &[u8], t: &mut Tally) {
    std::fs::write(env.db(), pristine).unwrap();
    env.ok(&["site", "build", "--out", "site"]);
    env.ok(&["verify", "--site", "site", "--key", "keys/admin.pub"]);
    let site = env.path("site");
    let snapshot = copy_tree(&site);
    let log = site.join("log");
    let mut files: Vec<String> = Vec::new();
    collect(&log, &log, &mut files);
    files.sort();
    for rel in &files {
        if rel == "verifier-key.txt" {
            continue; // the verifier passes its own key
        }
        restore_tree(&site, &snapshot);
        let p = log.join(rel);
        let mut b = std::fs::read(&p).unwrap();
        if b.is_empty() {
            continue;
        }
        let i = b.len() / 2;
        b[i] ^= 0x01;
        std::fs::write(&p, &b).unwrap();
        t.check(
            env,
            &format!("site: flip a byte in log/{rel}"),
            &["verify", "--site", "site", "--key", "keys/admin.pub"],
        );
        restore_tree(&site, &snapshot);
        std::fs::remove_file(&p).unwrap();
        t.check(
            env,
            &format!("site: delete log/{rel}"),
            &["verify", "--site", "site", "--key", "keys/admin.pub"],
        );
    }
    restore_tree(&site, &snapshot);
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

fn copy_tree(root: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    collect(root, root, &mut files);
    files
        .into_iter()
        .map(|f| {
            let p = root.join(&f);
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

fn restore_tree(_root: &Path, snap: &[(std::path::PathBuf, Vec<u8>)]) {
    for (p, b) in snap {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b).unwrap();
    }
}

#[test]
fn every_tampering_is_detected() {
    let env = base();
    let old_cp = env.ok(&["checkpoint"]);
    let old_copy = env.db_bytes();
    env.write(
        "d.md",
        "# Spec {#spec}\n\n## Privacy {#protect_privacy}\n\nNew.\n",
    );
    env.ok(&[
        "spec",
        "release",
        "d.md",
        "--version",
        "v4",
        "--signer",
        "policy-team",
    ]);
    let newer_cp = env.ok(&["checkpoint"]);
    let pristine = env.db_bytes();
    let _ = old_cp;

    let mut t = Tally {
        tried: 0,
        detected: 0,
        missed: Vec::new(),
    };
    column_cases(&env, &pristine, &mut t);
    structural_cases(&env, &pristine, &mut t);
    resign_case(&env, &pristine, &mut t);
    rollback_case(&env, &old_copy, &newer_cp, &mut t);
    site_cases(&env, &pristine, &mut t);
    println!("tamper: cases tried {}, detected {}", t.tried, t.detected);
    assert!(
        t.missed.is_empty(),
        "missed {} of {}:\n{}",
        t.missed.len(),
        t.tried,
        t.missed.join("\n")
    );
    assert!(t.tried >= 100, "only {} cases", t.tried);
}

/// The bytes of `pristine` with page `page` (1-based) zeroed, as a disk or
/// copy fault leaves them.
fn zero_page(pristine: &[u8], page: i64) -> Vec<u8> {
    let size = match u16::from_be_bytes([pristine[16], pristine[17]]) {
        1 => 65_536,
        n => n as usize,
    };
    let mut b = pristine.to_vec();
    let at = (page as usize - 1) * size;
    b[at..at + size].fill(0);
    b
}

/// Writes `bytes` as the whole ledger file (no write-ahead log beside it).
fn put_db(env: &Env, bytes: &[u8]) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", env.db().display()));
    }
    std::fs::write(env.db(), bytes).unwrap();
}

/// Break 4 of #21: a zeroed page of any table or index (the red team's were
/// the `entries_kind_subject` index and `cosignatures`) fails `verify`, and a
/// command that reads it (an append, `site build`) refuses with a hint that
/// leads to a backup, never back to `verify`; a refused append leaves the
/// file as it was.
#[test]
fn damaged_pages_fail_verify_and_the_commands_that_read_them() {
    let env = base();
    let pristine = env.db_bytes();
    let c = Connection::open(env.db()).unwrap();
    let roots: Vec<(String, i64)> = c
        .prepare("SELECT name, rootpage FROM sqlite_master WHERE rootpage > 0 ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(c);
    let names: Vec<&str> = roots.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "entries_kind_subject",
        "cosignatures",
        "sqlite_autoindex_cosignatures_1",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    let circle = "run `speclog verify`";
    for (name, root) in &roots {
        put_db(&env, &zero_page(&pristine, *root));
        let err = env.fails(&["verify"], 1, "damaged");
        assert!(
            err.contains("backup") && !err.contains(circle),
            "{name}: {err}"
        );
    }
    let page = |name: &str| roots.iter().find(|(n, _)| n == name).unwrap().1;

    // The index an append reads to find earlier releases.
    let damaged = zero_page(&pristine, page("entries_kind_subject"));
    put_db(&env, &damaged);
    let err = env.fails(
        &[
            "spec",
            "release",
            "a.md",
            "--version",
            "v9",
            "--signer",
            "policy-team",
        ],
        1,
        "the ledger file is damaged",
    );
    assert!(err.contains("backup") && !err.contains(circle), "{err}");
    assert!(
        env.db_bytes() == damaged,
        "a refused append changed the file"
    );
    let err = env.fails(&["site", "build", "--out", "site-a"], 1, "damaged");
    assert!(err.contains("backup") && !err.contains(circle), "{err}");

    // The cosignatures, which the site and `checkpoint` read.
    for name in ["cosignatures", "sqlite_autoindex_cosignatures_1"] {
        put_db(&env, &zero_page(&pristine, page(name)));
        let err = env.fails(&["site", "build", "--out", "site-c"], 1, "damaged");
        assert!(
            err.contains("backup") && !err.contains(circle),
            "{name}: {err}"
        );
    }
    // `checkpoint` reads the lines through their index.
    let err = env.fails(&["checkpoint"], 1, "the ledger file is damaged");
    assert!(err.contains("backup") && !err.contains(circle), "{err}");

    // The restored file works again.
    put_db(&env, &pristine);
    env.ok(&["verify"]);
}
