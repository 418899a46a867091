//! Keys that never touch the disk: a real SoftHSM2 token (PKCS#11) initialised
//! in a temporary directory, and a real ssh-agent started by the test with keys
//! made by `ssh-keygen -t ed25519`. Releases signed through each verify like any
//! other; revocation and rotation work; every failure has its one-line error and
//! hint and leaves the ledger byte-for-byte unchanged.
//!
//! These tests need Debian's `softhsm2`, `opensc` (pkcs11-tool) and
//! `openssh-client`; `.ci/run` installs them. Without them the tests fail, with
//! the package to install: they never skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};

use common::Env;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "4921";
const SO_PIN: &str = "7719";
const TOKEN: &str = "speclog-test";

fn need(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install Debian's {package} (`apt-get install {package}`); .ci/run does"
    );
}

/// A workspace with its own SoftHSM2 token directory and its own ssh-agent.
struct Hw {
    env: Env,
    conf: PathBuf,
    sock: PathBuf,
    agent: Option<Child>,
}

impl Drop for Hw {
    fn drop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
}

impl Hw {
    fn new() -> Hw {
        need(MODULE, "softhsm2");
        need("/usr/bin/softhsm2-util", "softhsm2");
        let env = Env::new();
        let tokens = env.path("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = env.write(
            "softhsm2.conf",
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        );
        let hw = Hw {
            sock: env.path("agent.sock"),
            env,
            conf,
            agent: None,
        };
        hw.tool(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                TOKEN,
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ],
        );
        hw
    }

    /// Starts a real ssh-agent on this workspace's socket.
    fn with_agent(mut self) -> Hw {
        need("/usr/bin/ssh-agent", "openssh-client");
        let child = Proc::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&self.sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent runs");
        self.agent = Some(child);
        for _ in 0..200 {
            if self.sock.exists() {
                return self;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("ssh-agent did not create {}", self.sock.display());
    }

    /// Makes an SSH key (`ssh-keygen -t TYPE`) and adds it to the agent; returns its fingerprint.
    fn agent_key(&self, file: &str, kind: &str, comment: &str) -> String {
        let path = self.env.path(file);
        self.tool(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                kind,
                "-N",
                "",
                "-C",
                comment,
                "-f",
                path.to_str().unwrap(),
            ],
        );
        self.tool("ssh-add", &["-q", path.to_str().unwrap()]);
        let out = self.tool("ssh-keygen", &["-l", "-f", path.to_str().unwrap()]);
        out.split_whitespace().nth(1).unwrap().to_string()
    }

    /// Runs an outside tool with this workspace's token and agent; asserts success.
    fn tool(&self, prog: &str, args: &[&str]) -> String {
        let out = Proc::new(prog)
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .env("SSH_AUTH_SOCK", &self.sock)
            .output()
            .unwrap_or_else(|e| {
                panic!("{prog} cannot run ({e}): install softhsm2, opensc and openssh-client")
            });
        assert!(
            out.status.success(),
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// pkcs11-tool on this workspace's token, logged in.
    fn pkcs11_tool(&self, args: &[&str]) -> String {
        let mut all = vec![
            "--module",
            MODULE,
            "--token-label",
            TOKEN,
            "--login",
            "--pin",
            PIN,
        ];
        all.extend_from_slice(args);
        self.tool("pkcs11-tool", &all)
    }

    /// speclog with the token's module and PIN and the agent's socket.
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.env.cmd();
        c.env("SOFTHSM2_CONF", &self.conf)
            .env("SPECLOG_PKCS11_MODULE", MODULE)
            .env("SPECLOG_PKCS11_PIN", PIN)
            .env("SSH_AUTH_SOCK", &self.sock);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        run_ok(self.cmd(), args)
    }

    /// Asserts a failure with exit 2, `error` and `hint` in its two lines, the
    /// ledger unchanged, and no PIN in the output.
    fn fails(&self, mut c: assert_cmd::Command, args: &[&str], error: &str, hint: &str) {
        let before = std::fs::read(self.env.db()).ok();
        let out = c.args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "speclog {args:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "one error line and one hint: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(error),
            "speclog {args:?}: want {error:?} in {err:?}"
        );
        assert!(
            lines[1].starts_with("hint: ") && lines[1].contains(hint),
            "speclog {args:?}: want hint {hint:?} in {err:?}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        for secret in [PIN, "0000", "topsecret"] {
            assert!(
                !err.contains(secret) && !stdout.contains(secret),
                "a PIN was printed: {err}"
            );
        }
        assert_eq!(
            std::fs::read(self.env.db()).ok(),
            before,
            "speclog {args:?} changed the ledger"
        );
    }

    fn uri(&self, object: &str) -> String {
        format!("pkcs11:token={TOKEN};object={object}")
    }

    fn release(&self, signer: &str, version: &str, text: &str) -> String {
        let f = self
            .env
            .write(&format!("{version}.md"), format!("# Spec\n\n{text}\n"));
        self.ok(&[
            "spec",
            "release",
            f.to_str().unwrap(),
            "--version",
            version,
            "--signer",
            signer,
        ])
    }

    /// `verify` with no token and no agent reachable: verifying needs neither.
    fn verify_offline(&self) -> String {
        let mut c = self.env.cmd();
        c.env_remove("SSH_AUTH_SOCK")
            .env_remove("SPECLOG_PKCS11_MODULE")
            .env("SOFTHSM2_CONF", "/nonexistent/softhsm2.conf");
        run_ok(c, &["verify"])
    }
}

fn run_ok(mut c: assert_cmd::Command, args: &[&str]) -> String {
    let out = c.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "speclog {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The public key (base64 after the last '+') of a `.pub` file.
fn public_of(env: &Env, name: &str) -> String {
    let s = std::fs::read_to_string(env.path(&format!("keys/{name}.pub"))).unwrap();
    s.trim().splitn(3, '+').nth(2).unwrap().to_string()
}

/// The signer and public key of entry `seq`, from `speclog show --json`.
fn signer_of(hw: &Hw, seq: u64) -> (String, String) {
    let v: serde_json::Value =
        serde_json::from_str(&hw.ok(&["show", &seq.to_string(), "--json"])).unwrap();
    (
        v["signer"].as_str().unwrap().to_string(),
        v["signer_key"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn softhsm_signs_the_log_and_a_release_verify_rotate_revoke() {
    let hw = Hw::new();
    // The log (admin) key is created inside the token.
    let out = hw.ok(&[
        "init",
        "--origin",
        "example.org/hsm",
        "--pkcs11",
        &hw.uri("admin"),
    ]);
    assert!(
        out.contains("admin key: in PKCS#11 token pkcs11:token=speclog-test;object=admin;id="),
        "{out}"
    );
    assert!(
        !hw.env.path("keys/admin.key").exists(),
        "no private key file"
    );
    let r = std::fs::read_to_string(hw.env.path("keys/admin.key.ref")).unwrap();
    assert!(
        r.starts_with("pkcs11:token=speclog-test;object=admin;id=%"),
        "{r}"
    );

    // An author key inside the token, with the PIN from a file this time.
    let pin_file = hw.env.write("pin.txt", format!("{PIN}\n"));
    let mut c = hw.cmd();
    c.env_remove("SPECLOG_PKCS11_PIN");
    let out = run_ok(
        c,
        &[
            "key",
            "generate",
            "alice",
            "--pkcs11",
            &hw.uri("alice"),
            "--pin-file",
            pin_file.to_str().unwrap(),
        ],
    );
    assert!(out.contains("private: in PKCS#11 token"), "{out}");
    assert!(!hw.env.path("keys/alice.key").exists());
    // The token holds both keys, non-extractable.
    let objs = hw.pkcs11_tool(&["--list-objects", "--type", "privkey"]);
    assert!(
        objs.contains("label:      alice") && objs.contains("label:      admin"),
        "{objs}"
    );
    assert!(objs.contains("never extractable"), "{objs}");

    hw.release("alice", "v1", "Be honest.");
    let v = hw.verify_offline();
    assert!(v.starts_with("ok: 3 entries, 3 signatures"), "{v}");
    let (signer, key) = signer_of(&hw, 2);
    assert_eq!(signer, "alice");
    let alice_pub = base64_decode(&public_of(&hw.env, "alice"));
    assert_eq!(
        key,
        hex::encode(&alice_pub[1..]),
        "signed by the token's key"
    );

    // A file key moves into the token by rotation; the old file is archived.
    hw.ok(&["key", "generate", "bob", "--role", "spec-owner"]);
    hw.release("bob", "v2", "Be kind.");
    let out = hw.ok(&["key", "rotate", "bob", "--pkcs11", &hw.uri("bob-2026")]);
    assert!(out.contains("rotated key bob"), "{out}");
    assert!(!hw.env.path("keys/bob.key").exists());
    assert!(
        hw.env.path("keys/bob.key.seq3").exists(),
        "the file key is archived"
    );
    assert!(hw.env.path("keys/bob.key.ref").exists());
    hw.release("bob", "v3", "Be kind and brief.");
    let list = hw.ok(&["key", "list"]);
    assert!(
        list.contains("private key: PKCS#11 token pkcs11:token=speclog-test;object=bob-2026"),
        "{list}"
    );
    assert!(!list.contains("private key: file"), "{list}");
    let v: serde_json::Value = serde_json::from_str(&hw.ok(&["key", "list", "--json"])).unwrap();
    let bob_active = v
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "bob" && k["revoked"].is_null())
        .unwrap();
    assert!(
        bob_active["private_key"]
            .as_str()
            .unwrap()
            .starts_with("PKCS#11 token")
    );

    // Revocation: alice signs nothing more, and the history still verifies.
    hw.ok(&["key", "revoke", "alice", "--reason", "rotated out"]);
    let f = hw.env.write("v4.md", "# Spec\n\nMore.\n");
    hw.fails(
        hw.cmd(),
        &[
            "spec",
            "release",
            f.to_str().unwrap(),
            "--version",
            "v4",
            "--signer",
            "alice",
        ],
        "revoked",
        "a revoked key can sign nothing",
    );
    let v = hw.verify_offline();
    assert!(v.starts_with("ok: 8 entries, 8 signatures"), "{v}");
}

#[test]
fn ssh_agent_signs_a_release_verify_rotate_revoke() {
    let hw = Hw::new().with_agent();
    hw.ok(&["init", "--origin", "example.org/agent"]);
    let fp = hw.agent_key("ops_ed25519", "ed25519", "ops@lab");
    // Registered by comment; stored by fingerprint.
    let out = hw.ok(&[
        "key",
        "register",
        "ops",
        "--ssh-agent",
        "ops@lab",
        "--role",
        "spec-owner",
    ]);
    assert!(
        out.contains(&format!("private: in ssh-agent {fp}")),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(hw.env.path("keys/ops.key.ref")).unwrap(),
        format!("ssh-agent:{fp}\n")
    );
    hw.release("ops", "v1", "Be honest.");
    assert!(hw.verify_offline().starts_with("ok: 3 entries"));
    // The ledger's key is the agent's key: the public key in ops.pub is the
    // one in the SSH public key file.
    let ssh_pub = std::fs::read_to_string(hw.env.path("ops_ed25519.pub")).unwrap();
    let blob = base64_decode(ssh_pub.split_whitespace().nth(1).unwrap());
    let raw = &blob[blob.len() - 32..];
    let ours = base64_decode(&public_of(&hw.env, "ops"));
    assert_eq!(&ours[1..], raw, "0x01 || the agent key's 32 bytes");

    // Rotation to a second agent key, by fingerprint.
    let fp2 = hw.agent_key("ops2_ed25519", "ed25519", "ops-2027@lab");
    hw.ok(&["key", "rotate", "ops", "--ssh-agent", &fp2]);
    assert!(hw.env.path("keys/ops.key.ref.seq1").exists());
    hw.release("ops", "v2", "Be brief.");
    let list = hw.ok(&["key", "list"]);
    assert!(
        list.contains(&format!("private key: ssh-agent {fp2}")),
        "{list}"
    );
    hw.ok(&["key", "revoke", "ops"]);
    let f = hw.env.write("v3.md", "# Spec\n\nMore.\n");
    hw.fails(
        hw.cmd(),
        &[
            "spec",
            "release",
            f.to_str().unwrap(),
            "--version",
            "v3",
            "--signer",
            "ops",
        ],
        "revoked",
        "a revoked key can sign nothing",
    );
    assert!(hw.verify_offline().starts_with("ok: 6 entries"));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn pkcs11_errors_are_one_line_with_a_hint_and_change_nothing() {
    let hw = Hw::new();
    hw.ok(&["init", "--origin", "example.org/hsm-errors"]);
    hw.ok(&["key", "generate", "alice", "--pkcs11", &hw.uri("alice")]);
    let alice = hw.uri("alice");
    let reg = |uri: &str| -> Vec<String> {
        ["key", "register", "zed", "--pkcs11", uri]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let args = reg(&alice);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Missing module: none configured, and one that is not there.
    let mut c = hw.cmd();
    c.env_remove("SPECLOG_PKCS11_MODULE");
    hw.fails(
        c,
        &args,
        "no PKCS#11 module is configured",
        "--pkcs11-module",
    );
    let mut c = hw.cmd();
    c.env(
        "SPECLOG_PKCS11_MODULE",
        "/usr/lib/nonexistent/libvendor-pkcs11.so",
    );
    hw.fails(
        c,
        &args,
        "cannot load the PKCS#11 module",
        "install the token's PKCS#11 module",
    );

    // Absent token.
    let absent = reg("pkcs11:token=not-plugged-in;object=alice");
    let absent: Vec<&str> = absent.iter().map(String::as_str).collect();
    hw.fails(
        hw.cmd(),
        &absent,
        "no token matches pkcs11:token=not-plugged-in",
        "plug the token in",
    );

    // Wrong PIN, and no PIN at all (no terminal to ask on).
    let mut c = hw.cmd();
    c.env("SPECLOG_PKCS11_PIN", "0000");
    hw.fails(
        c,
        &args,
        "wrong PIN for token speclog-test",
        "check the PIN",
    );
    let mut c = hw.cmd();
    c.env_remove("SPECLOG_PKCS11_PIN");
    hw.fails(c, &args, "needs its user PIN", "SPECLOG_PKCS11_PIN");
    // A wrong PIN in the URI: refused, and not echoed.
    let mut c2 = hw.cmd();
    c2.env_remove("SPECLOG_PKCS11_PIN");
    let bad_pin_uri = format!("{}?pin-value=topsecret", hw.uri("alice"));
    let bad = reg(&bad_pin_uri);
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    hw.fails(
        c2,
        &bad,
        "wrong PIN for token speclog-test",
        "check the PIN",
    );

    // A key of the wrong type: an EC P-256 key made by pkcs11-tool.
    hw.pkcs11_tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "p256",
    ]);
    let wrong = reg(&hw.uri("p256"));
    let wrong: Vec<&str> = wrong.iter().map(String::as_str).collect();
    hw.fails(
        hw.cmd(),
        &wrong,
        "is a CKK_EC key, not Ed25519",
        "Ed25519 only",
    );
    // No such object; a new key under a label that is taken.
    let none = reg(&hw.uri("nobody"));
    let none: Vec<&str> = none.iter().map(String::as_str).collect();
    hw.fails(hw.cmd(), &none, "no key matches", "pkcs11-tool");
    hw.fails(
        hw.cmd(),
        &["key", "generate", "carol", "--pkcs11", &hw.uri("alice")],
        "the token already holds object=alice",
        "choose another object= label",
    );
    // A malformed URI never echoes its PIN.
    hw.fails(
        hw.cmd(),
        &[
            "key",
            "register",
            "zed",
            "--pkcs11",
            "pkcs11:frobnicate=1?pin-value=topsecret",
        ],
        "invalid PKCS#11 URI",
        "RFC 7512",
    );

    // Signing as alice works with the URI's pin-value and no other PIN.
    let f = hw.env.write("v1.md", "# Spec\n\nBe honest.\n");
    let rf = hw.env.path("keys/alice.key.ref");
    let stored = std::fs::read_to_string(&rf).unwrap();
    assert!(!stored.contains("pin"), "{stored}");
    std::fs::write(&rf, format!("{}?pin-value={PIN}\n", stored.trim())).unwrap();
    let mut c = hw.cmd();
    c.env_remove("SPECLOG_PKCS11_PIN");
    // The admin key is a file: only alice's token login needs the PIN.
    run_ok(
        c,
        &[
            "spec",
            "release",
            f.to_str().unwrap(),
            "--version",
            "v1",
            "--signer",
            "alice",
        ],
    );
    std::fs::write(&rf, &stored).unwrap();

    // A locked token. SoftHSM2 2.6 counts wrong PINs (CKF_USER_PIN_COUNT_LOW)
    // but never locks by itself, so the test sets CKF_USER_PIN_LOCKED in the
    // token's stored flags (its object store, CKA_OS_TOKENFLAGS); the real
    // module then reports the token locked.
    lock_token(&hw.env.path("tokens"));
    let info = hw.tool("pkcs11-tool", &["--module", MODULE, "--list-token-slots"]);
    assert!(info.contains("user PIN locked"), "{info}");
    let f = hw.env.write("v2.md", "# Spec\n\nBe kind.\n");
    hw.fails(
        hw.cmd(),
        &[
            "spec",
            "release",
            f.to_str().unwrap(),
            "--version",
            "v2",
            "--signer",
            "alice",
        ],
        "the user PIN of token speclog-test is locked",
        "security officer",
    );
    hw.fails(hw.cmd(), &args, "is locked", "security officer");
}

/// Sets `CKF_USER_PIN_LOCKED` in the stored token flags of every SoftHSM2
/// token under `dir` (attribute `CKA_OS_TOKENFLAGS`, vendor type
/// 0x8000534b, stored as a big-endian u64 after its type and kind).
fn lock_token(dir: &Path) {
    const CKF_USER_PIN_LOCKED: u64 = 0x0004_0000;
    let mut done = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path().join("token.object");
        let Ok(mut b) = std::fs::read(&p) else {
            continue;
        };
        let tag: [u8; 16] = [0, 0, 0, 0, 0x80, 0, 0x53, 0x4b, 0, 0, 0, 0, 0, 0, 0, 2];
        let i = b
            .windows(16)
            .position(|w| w == tag)
            .expect("CKA_OS_TOKENFLAGS in token.object")
            + 16;
        let mut v = u64::from_be_bytes(b[i..i + 8].try_into().unwrap());
        v |= CKF_USER_PIN_LOCKED;
        b[i..i + 8].copy_from_slice(&v.to_be_bytes());
        std::fs::write(&p, b).unwrap();
        done += 1;
    }
    assert_eq!(done, 1, "one token under {}", dir.display());
}

#[test]
fn ssh_agent_errors_are_one_line_with_a_hint_and_change_nothing() {
    let hw = Hw::new().with_agent();
    hw.ok(&["init", "--origin", "example.org/agent-errors"]);
    let fp = hw.agent_key("ops_ed25519", "ed25519", "ops@lab");
    hw.ok(&["key", "register", "ops", "--ssh-agent", &fp]);
    let f = hw.env.write("v1.md", "# Spec\n\nBe honest.\n");
    let release = [
        "spec",
        "release",
        f.to_str().unwrap(),
        "--version",
        "v1",
        "--signer",
        "ops",
    ];

    // No agent: SSH_AUTH_SOCK unset, and a socket nobody listens on.
    let mut c = hw.cmd();
    c.env_remove("SSH_AUTH_SOCK");
    hw.fails(c, &release, "SSH_AUTH_SOCK is not set", "ssh-agent");
    let mut c = hw.cmd();
    c.env("SSH_AUTH_SOCK", hw.env.path("no-agent.sock"));
    hw.fails(
        c,
        &release,
        "ssh-agent is not running or not reachable",
        "ssh-add",
    );

    // The agent does not hold the key (it was removed from it).
    hw.tool(
        "ssh-add",
        &["-d", hw.env.path("ops_ed25519").to_str().unwrap()],
    );
    hw.fails(
        hw.cmd(),
        &release,
        &format!("ssh-agent holds no key {fp}"),
        "ssh-add",
    );
    hw.fails(
        hw.cmd(),
        &["key", "register", "x", "--ssh-agent", "nobody@nowhere"],
        "ssh-agent holds no key nobody@nowhere",
        "ssh-add -l",
    );

    // A key of the wrong type.
    hw.agent_key("ec_key", "ecdsa", "ec@lab");
    hw.fails(
        hw.cmd(),
        &["key", "register", "x", "--ssh-agent", "ec@lab"],
        "is a ecdsa-sha2-nistp256 key, not Ed25519",
        "Ed25519 only",
    );
    // Put back, it signs.
    hw.tool(
        "ssh-add",
        &["-q", hw.env.path("ops_ed25519").to_str().unwrap()],
    );
    hw.ok(&release);
    assert!(hw.verify_offline().starts_with("ok: 3 entries"));
}
