//! Cross-checks the `tlog` and `note` modules against Go's reference
//! implementation, `golang.org/x/mod/sumdb/{tlog,note}`, through the helper
//! program in `tests/interop/go/main.go`.
//!
//! The helper is built with the Debian packages `golang-go` and
//! `golang-golang-x-mod-dev` (`GO111MODULE=off`, `GOPATH=/usr/share/gocode`
//! unless `GOPATH` is set). If `go` is not on `PATH`, these tests fail when
//! the `CI` environment variable is set and are skipped (with a message)
//! otherwise. `SPECLOG_INTEROP_GO_DIR` overrides the helper's directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use speclog::note::{
    Checkpoint, NoteSigner, VerifierKey, cosign, open_note, sign_note, verify_cosignature,
};
use speclog::tlog::{
    Hash, MemoryHashes, Tile, leaf_hash, new_tiles, prove_consistency, prove_inclusion,
    read_tile_data, tiles_for_size, tree_hash, verify_consistency, verify_inclusion,
};

/// A small deterministic random number generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for chunk in b.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        b
    }
}

/// Builds the helper once per test run; `None` means "skip".
fn helper_binary() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let go_ok = Command::new("go")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !go_ok {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "Go cross-check: `go` is not on PATH but CI is set; install the Debian \
                     packages golang-go and golang-golang-x-mod-dev"
                );
            }
            // Written to the real stderr so the harness does not capture it.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED Go cross-check: `go` is not on PATH (install golang-go and \
                 golang-golang-x-mod-dev to run it)"
            );
            return None;
        }
        let src = std::env::var_os("SPECLOG_INTEROP_GO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/go"));
        let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop-go");
        std::fs::create_dir_all(&out_dir).unwrap();
        let bin = out_dir.join("interop");
        let gopath = std::env::var("GOPATH")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/usr/share/gocode".to_string());
        let mut cmd = Command::new("go");
        cmd.arg("build")
            .arg("-o")
            .arg(&bin)
            .arg("main.go")
            .current_dir(&src)
            .env("GO111MODULE", "off")
            .env("GOPATH", gopath);
        if std::env::var_os("GOCACHE").is_none()
            && std::env::var_os("HOME").is_none()
            && std::env::var_os("XDG_CACHE_HOME").is_none()
        {
            cmd.env("GOCACHE", out_dir.join("gocache"));
        }
        let out = cmd.output().expect("running go build");
        assert!(
            out.status.success(),
            "go build of {} failed:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(bin)
    })
    .clone()
}

/// A running helper process.
struct Go {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Go {
    fn start() -> Option<Go> {
        let bin = helper_binary()?;
        let mut child = Command::new(bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the Go helper");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Go {
            child,
            stdin,
            stdout,
        })
    }

    /// Sends one request and returns the response line, which may start
    /// with "err ".
    fn try_ask(&mut self, req: &str) -> String {
        writeln!(self.stdin, "{req}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(line.ends_with('\n'), "Go helper died on {req:?}");
        line.trim_end().to_string()
    }

    /// Sends one request that must succeed.
    fn ask(&mut self, req: &str) -> String {
        let resp = self.try_ask(req);
        assert!(!resp.starts_with("err "), "{req:?}: {resp}");
        resp
    }
}

impl Drop for Go {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

fn hex_list(hs: &[Hash]) -> String {
    if hs.is_empty() {
        return "-".to_string();
    }
    hs.iter().map(hex::encode).collect::<Vec<_>>().join(",")
}

fn parse_hex_list(s: &str) -> Vec<Hash> {
    if s == "-" {
        return vec![];
    }
    s.split(',')
        .map(|h| hex::decode(h).unwrap().try_into().unwrap())
        .collect()
}

fn build_tree(seed: &str, n: u64, batch: bool) -> MemoryHashes {
    let leaves: Vec<Hash> = (0..n)
        .map(|i| leaf_hash(format!("{seed}/{i}").as_bytes()))
        .collect();
    if batch {
        return MemoryHashes::from_leaf_hashes(&leaves).unwrap();
    }
    let mut m = MemoryHashes::new();
    for l in leaves {
        m.append(l).unwrap();
    }
    m
}

#[test]
fn trees_and_proofs_match_go() {
    let Some(mut go) = Go::start() else { return };
    let mut rng = Rng(20240601);
    let mut sizes = vec![1u64, 2, 3, 7, 8, 255, 256, 257, 511, 512, 513];
    for _ in 0..6 {
        sizes.push(1 + rng.below(2000));
    }
    for (k, &n) in sizes.iter().enumerate() {
        let seed = format!("seed{k}");
        assert_eq!(go.ask(&format!("tree {n} {seed}")), "ok");
        let m = build_tree(&seed, n, k % 2 == 0);

        // Tree hashes for every size.
        let roots: Vec<Hash> = (1..=n).map(|s| tree_hash(s, &m).unwrap()).collect();
        assert_eq!(parse_hex_list(&go.ask("roots")), roots, "roots of {seed}");

        for _ in 0..60 {
            // Inclusion proofs, and Go's verdict on ours and on tampered ones.
            let size = 1 + rng.below(n);
            let index = rng.below(size);
            let p = prove_inclusion(size, index, &m).unwrap();
            assert_eq!(go.ask(&format!("incl {size} {index}")), hex_list(&p));
            let root = roots[size as usize - 1];
            let leaf = *m.get(speclog::tlog::NodeId::new(0, index)).unwrap();
            let mut probes = vec![(size, index, root, leaf, p.clone())];
            if !p.is_empty() {
                let mut q = p.clone();
                let i = rng.below(q.len() as u64) as usize;
                q[i][rng.below(32) as usize] ^= 1 << rng.below(8);
                probes.push((size, index, root, leaf, q));
            }
            probes.push((size, (index + 1) % size, root, leaf, p.clone()));
            probes.push((size + 1, index, root, leaf, p.clone()));
            probes.push((size * 2, index, root, leaf, p.clone()));
            for (s, i, r, l, q) in probes {
                let ours = verify_inclusion(&q, s, &r, i, &l).is_ok();
                let req = format!(
                    "checkincl {s} {i} {} {} {}",
                    hex::encode(r),
                    hex::encode(l),
                    hex_list(&q)
                );
                let theirs = go.try_ask(&req) == "ok";
                assert_eq!(ours, theirs, "{req}");
            }

            // Consistency proofs likewise (Go requires old >= 1).
            let new = 1 + rng.below(n);
            let old = 1 + rng.below(new);
            let p = prove_consistency(new, old, &m).unwrap();
            assert_eq!(go.ask(&format!("cons {new} {old}")), hex_list(&p));
            let (r1, r2) = (roots[old as usize - 1], roots[new as usize - 1]);
            let mut probes = vec![(new, r2, old, r1, p.clone())];
            if !p.is_empty() {
                let mut q = p.clone();
                let i = rng.below(q.len() as u64) as usize;
                q[i][rng.below(32) as usize] ^= 1 << rng.below(8);
                probes.push((new, r2, old, r1, q));
                probes.push((new, r1, old, r2, p.clone()));
            }
            if old > 1 {
                probes.push((new, r2, old - 1, r1, p.clone()));
            }
            probes.push((new + 1, r2, old, r1, p.clone()));
            for (nn, nr, oo, or, q) in probes {
                let ours = verify_consistency(&q, nn, &nr, oo, &or).is_ok();
                let req = format!(
                    "checkcons {nn} {} {oo} {} {}",
                    hex::encode(nr),
                    hex::encode(or),
                    hex_list(&q)
                );
                let theirs = go.try_ask(&req) == "ok";
                assert_eq!(ours, theirs, "{req}");
            }
        }

        // Tile contents (Go paths have a height element, so compare data).
        for t in tiles_for_size(n).into_iter().filter(|t| !t.data) {
            let ours = hex::encode(read_tile_data(&t, &m).unwrap());
            let theirs = go.ask(&format!("tile {} {} {}", t.level, t.index, t.width));
            assert_eq!(ours, theirs, "{}", t.path());
        }
    }
}

#[test]
fn tile_lists_and_paths_match_go() {
    let Some(mut go) = Go::start() else { return };
    let mut rng = Rng(7);
    let mut pairs = vec![(0u64, 1u64), (0, 256), (255, 256), (256, 257), (1, 70_000)];
    for _ in 0..40 {
        let a = rng.below(200_000);
        let span = if rng.below(2) == 0 { 300 } else { 100_000 };
        let b = a + 1 + rng.below(span);
        pairs.push((a, b));
    }
    for (old, new) in pairs {
        // Go lists every intermediate partial width and also unchanged
        // partial tiles; keep the widest partial per tile and drop tiles that
        // already existed at the old size.
        let before = tiles_for_size(old);
        let mut widest: BTreeMap<(u8, u64), u16> = BTreeMap::new();
        let mut order = Vec::new();
        for item in go.ask(&format!("newtiles {old} {new}")).split(',') {
            if item == "-" {
                continue;
            }
            let f: Vec<u64> = item.split('/').map(|x| x.parse().unwrap()).collect();
            let key = (f[0] as u8, f[1]);
            if !widest.contains_key(&key) {
                order.push(key);
            }
            let w = widest.entry(key).or_insert(0);
            *w = (*w).max(f[2] as u16);
        }
        let theirs: Vec<Tile> = order
            .into_iter()
            .map(|(l, i)| Tile::new(l, i, widest[&(l, i)]).unwrap())
            .filter(|t| !before.contains(t))
            .collect();
        let ours: Vec<Tile> = new_tiles(old, new)
            .into_iter()
            .filter(|t| !t.data)
            .collect();
        assert_eq!(ours, theirs, "{old} -> {new}");
    }

    // Paths: Go's "tile/8/L/..." is our "tile/L/...", "tile/8/data/..." is
    // our "tile/entries/...".
    for _ in 0..300 {
        let digits = rng.below(19) as u32;
        let index = rng.next() % 10u64.pow(digits).max(1);
        let width = 1 + rng.below(256) as u16;
        let level = rng.below(8) as u8;
        let t = Tile::new(level, index, width).unwrap();
        let theirs = go.ask(&format!("tilepath {level} {index} {width}"));
        assert_eq!(theirs.replacen("tile/8/", "tile/", 1), t.path());
        assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
        let b = Tile::entry_bundle(index, width).unwrap();
        let theirs = go.ask(&format!("tilepath -1 {index} {width}"));
        assert_eq!(
            theirs.replacen("tile/8/data/", "tile/entries/", 1),
            b.path()
        );
    }
}

fn random_text(rng: &mut Rng) -> String {
    const WORDS: [&str; 8] = [
        "model",
        "spec",
        "v1.2",
        "é",
        "—",
        "release:",
        "sha256=abc",
        "\u{1F600}",
    ];
    let lines = 1 + rng.below(5);
    let mut s = String::new();
    for _ in 0..lines {
        for _ in 0..rng.below(6) {
            s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
            s.push(' ');
        }
        s.push_str("end\n");
        if rng.below(4) == 0 {
            s.push('\n');
        }
    }
    s
}

#[test]
fn signed_notes_match_go() {
    let Some(mut go) = Go::start() else { return };
    let mut rng = Rng(99);
    // Go's PeterNeumann key: the seed inside its private key string.
    let peter_seed = STANDARD
        .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
        .unwrap()[1..]
        .to_vec();
    let mut cases: Vec<(String, [u8; 32], String)> = vec![(
        "PeterNeumann".into(),
        peter_seed.try_into().unwrap(),
        "If you think cryptography is the answer to your problem,\n\
         then you don't know what your problem is.\n"
            .into(),
    )];
    let names = ["example.com/log", "speclog.dev/x", "ünïcode.example/ß", "a"];
    for _ in 0..40 {
        let name = names[rng.below(names.len() as u64) as usize].to_string();
        cases.push((name, rng.bytes32(), random_text(&mut rng)));
    }
    for (name, seed, text) in cases {
        let signer = NoteSigner::new(&name, SigningKey::from_bytes(&seed)).unwrap();
        let resp = go.ask(&format!(
            "sign {name} {} {}",
            hex::encode(seed),
            STANDARD.encode(&text)
        ));
        let (go_vkey, go_note) = resp.split_once(' ').unwrap();
        let go_note = STANDARD.decode(go_note).unwrap();
        assert_eq!(signer.verifier_key().to_string(), go_vkey);
        let ours = sign_note(&text, &[&signer]).unwrap();
        assert_eq!(ours.as_bytes(), go_note.as_slice(), "{name}");

        // Each side opens the other's note.
        let vk = VerifierKey::parse(go_vkey).unwrap();
        let (n, sigs) = open_note(&go_note, std::slice::from_ref(&vk)).unwrap();
        assert_eq!((n.text.as_str(), sigs.len()), (text.as_str(), 1));
        let resp = go.ask(&format!("open {go_vkey} {}", STANDARD.encode(&ours)));
        assert_eq!(
            resp,
            format!(
                "ok {name} {} {}",
                hex::encode(signer.key_id()),
                STANDARD.encode(&text)
            )
        );

        // Both reject a tampered note.
        let tampered = format!("X{ours}");
        assert!(open_note(tampered.as_bytes(), std::slice::from_ref(&vk)).is_err());
        let resp = go.try_ask(&format!("open {go_vkey} {}", STANDARD.encode(&tampered)));
        assert!(resp.starts_with("err "), "{resp}");
    }
}

#[test]
fn cosignatures_match_go() {
    let Some(mut go) = Go::start() else { return };
    let mut rng = Rng(4242);
    for i in 0..30 {
        let cp = Checkpoint {
            origin: format!("example.com/log{i}"),
            size: rng.next() >> (rng.below(64) as u32),
            root: rng.bytes32(),
            extensions: if i % 5 == 0 {
                vec!["ext line".into()]
            } else {
                vec![]
            },
        };
        let text = cp.to_text();
        let seed = rng.bytes32();
        let name = format!("witness{i}.example");
        let ts = rng.next() >> 1;
        let resp = go.ask(&format!(
            "cosign {name} {} {ts} {}",
            hex::encode(seed),
            STANDARD.encode(&text)
        ));
        let (go_vkey, go_sig) = resp.split_once(' ').unwrap();
        let w = NoteSigner::new_cosigner(&name, SigningKey::from_bytes(&seed)).unwrap();
        assert_eq!(w.verifier_key().to_string(), go_vkey);
        let sig = cosign(&w, &text, ts).unwrap();
        assert_eq!(sig.base64(), go_sig);
        let vk = VerifierKey::parse(go_vkey).unwrap();
        let line = format!("— {name} {go_sig}");
        let parsed = speclog::note::NoteSignature::parse_line(&line).unwrap();
        assert_eq!(verify_cosignature(&vk, &text, &parsed), Ok(ts));
    }
}
