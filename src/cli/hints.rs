//! What the CLI says about an error: the only place that maps an error
//! variant to a `hint:` line and an exit code. Every match here is
//! exhaustive (no `_` arm), so a new variant without a hint does not compile;
//! the test below walks one value of every variant and checks its hint.

use speclog::Error;
use speclog::base::FieldError;
use speclog::governance::GovError;
use speclog::keys::KeyError;
use speclog::ledger::entry::EntryError;
use speclog::ledger::verify::VerifyError;
use speclog::ledger::{LedgerError, StoreError};
use speclog::site::SiteError;
use speclog::tlog::TlogError;
use speclog::witness::{Refusal, WitnessError};

/// Exit code when verification found a problem.
pub const EXIT_VERIFY: i32 = 1;
/// Exit code for usage or input errors.
pub const EXIT_INPUT: i32 = 2;

/// The process exit code for `e`: 1 when verification failed, 2 otherwise.
pub fn exit_code(e: &Error) -> i32 {
    match e {
        Error::Verify(_) | Error::SiteVerify(_) => EXIT_VERIFY,
        Error::Witness(w) if w.is_verification_failure() => EXIT_VERIFY,
        Error::Ledger(LedgerError::Store(StoreError::Corrupt(_))) => EXIT_VERIFY,
        Error::Ledger(l) | Error::Site(SiteError::Ledger(l)) if damaged(l) => EXIT_VERIFY,
        _ => EXIT_INPUT,
    }
}

/// Whether the ledger file's pages are damaged (found by the store, or met
/// by a rule's read).
fn damaged(l: &LedgerError) -> bool {
    matches!(
        l,
        LedgerError::Store(StoreError::Damaged(_)) | LedgerError::Gov(GovError::Damaged(_))
    )
}

/// What the user can do about `e`.
pub fn hint(e: &Error) -> String {
    if e.disk_full() {
        return "the disk is full: free some space on it (or raise the quota) and run the command again; nothing partial was kept".into();
    }
    match e {
        Error::Input { hint, .. } => hint.clone(),
        Error::Witness(w) => witness(w),
        Error::Verify(v) => verify(v),
        Error::SiteVerify(v) => site_verify(v),
        Error::Key(k) => key(k),
        Error::Ledger(l) => ledger(l),
        Error::Io(..) => "check the path: that it exists, is the file you meant, and that you may read (or write) it".into(),
        Error::Site(s) => site(s),
    }
}

/// The hint for a ledger file with unreadable pages (never "run verify":
/// verify reports the same damage).
const DAMAGED: &str = "the ledger file's pages are damaged (disk or copy fault, not a change to its entries): stop writing to it, keep it as evidence, and restore ledger.sqlite from your last backup (docs/HOWTO.md, \"A damaged ledger file\")";

fn verify(v: &VerifyError) -> String {
    // The place names the part of the ledger or site that failed to verify.
    let p = v.place.as_str();
    if p == "ledger file" {
        DAMAGED.into()
    } else if p.starts_with("proof") || p == "entry" {
        "check that --key is this log's verifier key and that the proof file is intact".into()
    } else if p.starts_with("--since") && v.what.starts_with("malformed") {
        "give the file `speclog checkpoint` printed (a signed note: origin, size, root, a blank line, signatures), unchanged".into()
    } else if p.starts_with("--since") {
        "the older checkpoint must be signed by the same log key; if it is, the log forked or was rolled back: keep both checkpoints as evidence".into()
    } else if p == "witnesses" {
        "the checkpoint lacks the witness cosignatures the policy requires: have the witnesses cosign it (`speclog witness cosign`), add their lines with `speclog checkpoint add-cosignature`, and rebuild the site".into()
    } else if p.starts_with("log/") {
        "the published site is damaged or was changed; fetch it again or rebuild it from the ledger"
            .into()
    } else {
        match v.seq {
            Some(s) => format!(
                "the ledger was changed outside speclog at entry {s}; restore it from a backup or a published copy and run `speclog verify` again"
            ),
            None => "the ledger was changed outside speclog; restore it from a backup or a published copy".into(),
        }
    }
}

/// The hint of a failed `verify --site`, for someone who holds a copy of
/// the site and wants to know whether to trust it (never the operator's
/// "restore the ledger").
fn site_verify(v: &VerifyError) -> String {
    let p = v.place.as_str();
    let get = "get the site again from its publisher (or another mirror) and verify that copy; keep this one as evidence";
    if p.starts_with("--since") && v.what.starts_with("malformed") {
        "give the checkpoint file you kept from an earlier verification (a signed note: origin, size, root, a blank line, signatures), unchanged".into()
    } else if p.starts_with("--since") || v.what.contains("history was rewritten") {
        format!(
            "the log now shows a different history than the one you verified before: do not trust this copy, and keep both checkpoints as evidence of the rewrite; {get}"
        )
    } else if p == "witnesses" {
        "the checkpoint lacks the witness cosignatures the policy requires: do not trust it until a copy carries them; ask the publisher for a cosigned checkpoint".into()
    } else if p == "log/checkpoint" && v.what.contains("signature") {
        "check that --key is the log's verifier key, from a source you trust; if it is, this copy was not signed by the log: do not trust it".into()
    } else if p == speclog::layout::BUILD_INFO {
        format!(
            "the site does not say how it was built, so its pages cannot be checked: do not trust them; {get}, or check only its log with --log-only"
        )
    } else if p == "scratch ledger" {
        "the check needs a writable temporary directory (TMPDIR) with room for a copy of the log"
            .into()
    } else {
        format!("do not trust this copy of the site: it is not what its signed log gives; {get}")
    }
}

fn key(k: &KeyError) -> String {
    match k {
        KeyError::Name(_) => "key names become file names: use letters, digits, '.', '_' and '-'".into(),
        KeyError::Missing(p) if p.file_name().is_some_and(|f| f == "admin.key") => {
            "the admin (log) key signs key and policy changes; point --keys at the directory `speclog init` wrote admin.key to".into()
        }
        KeyError::Missing(p) => format!(
            "create it with `speclog key generate NAME`, or point --keys at the directory holding {}",
            p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
        ),
        KeyError::Exists(_) => "choose another name, or move the old file away first; speclog never overwrites keys".into(),
        KeyError::Permissions { path, .. } => format!("run `chmod 600 {}`", path.display()),
        KeyError::NeedPassphrase(_) => "give --passphrase-file FILE or set SPECLOG_PASSPHRASE, or run on a terminal to be asked".into(),
        KeyError::WrongPassphrase(_) => "check the passphrase (file, SPECLOG_PASSPHRASE or prompt) and try again".into(),
        KeyError::EmptyPassphrase => "use a non-empty passphrase, or none at all for an unencrypted key".into(),
        KeyError::Malformed(..) => "the key file is damaged; restore it from a backup".into(),
        KeyError::BadPublic(..) => "a public key file holds one line: name+hexkeyid+base64key".into(),
        KeyError::Io(..) => "check the file: its path, permissions and contents".into(),
        KeyError::Rng(_) => "the system's random number generator failed; retry, and check the machine's entropy source".into(),
        KeyError::BadRef(p, _) => format!(
            "{} holds one line, pkcs11:URI or ssh-agent:SHA256:FINGERPRINT; re-create it with `speclog key register NAME --pkcs11 URI` (or --ssh-agent) after moving it away",
            p.display()
        ),
        KeyError::BothForms(_, r) => format!(
            "keep the one that holds the registered key (see `speclog key list`) and move the other away, e.g. `mv {} {}.old`",
            r.display(),
            r.display()
        ),
        KeyError::BadUri { .. } => "write it as in RFC 7512, e.g. 'pkcs11:token=LABEL;object=NAME' (quote it in the shell; percent-encode spaces as %20)".into(),
        KeyError::NoModule(_) => "give the token's PKCS#11 module: --pkcs11-module FILE, SPECLOG_PKCS11_MODULE, pkcs11_module in speclog.toml, or module-path= in the URI (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)".into(),
        KeyError::Pkcs11Module { .. } => "install the token's PKCS#11 module (e.g. `apt-get install softhsm2` or the vendor's package) and point --pkcs11-module or SPECLOG_PKCS11_MODULE at its .so file".into(),
        KeyError::TokenAbsent(_) => "plug the token in, and check its label in the URI's token= against `pkcs11-tool --module MODULE --list-tokens` (SoftHSM2: `softhsm2-util --show-slots`)".into(),
        KeyError::TokenLocked(_) => "too many wrong PINs locked the token's user PIN: have its security officer unlock it (e.g. `pkcs11-tool --login --login-type so --init-pin`); speclog tries the PIN once per command".into(),
        KeyError::WrongPin(_) => "check the PIN (--pin-file, SPECLOG_PKCS11_PIN, the URI's pin-value, or the prompt); after a few wrong tries the token locks itself".into(),
        KeyError::NeedPin(_) => "give the token's user PIN with --pin-file FILE or SPECLOG_PKCS11_PIN, or run on a terminal to be asked".into(),
        KeyError::ObjectAbsent(_) => "list the token's keys with `pkcs11-tool --module MODULE --login --list-objects --type privkey` and name one with object= (or id=), or create one with `speclog key generate NAME --pkcs11 URI`".into(),
        KeyError::ObjectAmbiguous(..) => "name one key: add id=%.. (see `pkcs11-tool --list-objects`) or a unique object= label to the URI".into(),
        KeyError::ObjectExists(_) => "choose another object= label for the new key, or register the existing one with `speclog key register NAME --pkcs11 URI`".into(),
        KeyError::WrongKeyType { .. } => "speclog signs with Ed25519 only: make an Ed25519 key (`speclog key generate NAME --pkcs11 URI`, or `ssh-keygen -t ed25519` then `ssh-add`) and name that one".into(),
        KeyError::Pkcs11 { .. } => "the token refused the operation named above; check that it is plugged in and initialised, and run with the same URI again".into(),
        KeyError::AgentNotRunning(_) => "start an agent and load the key: `eval \"$(ssh-agent)\"` then `ssh-add KEYFILE` (SSH_AUTH_SOCK must name its socket)".into(),
        KeyError::AgentNoKey(_) => "load the key into the agent with `ssh-add KEYFILE`, and check its fingerprint or comment with `ssh-add -l`".into(),
        KeyError::AgentAmbiguous(..) => "several agent keys have that comment: name the key by its SHA256: fingerprint (`ssh-add -l`)".into(),
        KeyError::Agent(_) => "the agent stopped answering or sent a malformed reply; restart it (`eval \"$(ssh-agent)\"`, `ssh-add KEYFILE`) and run the command again".into(),
    }
}

fn ledger(l: &LedgerError) -> String {
    match l {
        LedgerError::Store(s) => store(s),
        LedgerError::Gov(g) => gov(g),
        LedgerError::Entry(e) => entry(e),
        LedgerError::Origin(_) => "example: --origin example.org/model-spec".into(),
        LedgerError::NoEntry(_) => "give a sequence number or at least 4 hex digits of an entry hash (see `speclog log`)".into(),
        LedgerError::Ambiguous(_) => "give more hex digits of the hash".into(),
        LedgerError::TimeBackwards(..) => "entry times never go backwards; give a later --time or none".into(),
        LedgerError::MissingBlob(_) => "the ledger lost a content blob; run `speclog verify` and restore the ledger from a backup".into(),
        LedgerError::Io(_) => "check the ledger directory and the files in it: paths, permissions and free space".into(),
    }
}

fn store(s: &StoreError) -> String {
    match s {
        StoreError::NotInitialised(_) => "run `speclog init --origin example.org/model-spec` first, or point --ledger (SPECLOG_LEDGER) at an existing ledger directory".into(),
        StoreError::AlreadyInitialised(_) => "this directory already holds a ledger; use another --ledger directory".into(),
        StoreError::NotALedger(..) => "the file is not a speclog ledger or is damaged; run `speclog verify` on a backup, or point --ledger elsewhere".into(),
        StoreError::NoShm(_) => "copy the ledger directory somewhere you can write (cp -r) and read the copy, or mount it read-only".into(),
        StoreError::ReadOnly(_) => "writing needs write access to the ledger file and its directory (SQLite keeps ledger.sqlite-wal and -shm beside it); reading works without".into(),
        StoreError::Busy(_) => "another speclog process is writing; retry, or raise --lock-timeout".into(),
        StoreError::Corrupt(_) => "run `speclog verify` to find the damaged entry".into(),
        StoreError::DiskFull(_) => "the disk is full: free some space on it (or raise the quota) and run the command again; nothing partial was kept".into(),
        StoreError::Conflict | StoreError::HeadMoved { .. } => "another writer appended at the same time; run the command again".into(),
        StoreError::Stopped => "this is a bug in speclog (an internal store callback stopped without its error); please report it".into(),
        StoreError::Checkpoint(_) => "the ledger's tree does not match its entries; run `speclog verify` to find the damage".into(),
        StoreError::Damaged(_) => DAMAGED.into(),
        StoreError::Sqlite(_) => "the ledger file could not be read or written; check free space and permissions, then run `speclog verify`".into(),
        StoreError::Tlog(t) => tlog(t),
    }
}

fn tlog(t: &TlogError) -> String {
    match t {
        TlogError::InvalidInput(_) => "give sizes and indexes inside the log (see `speclog checkpoint` for its size)".into(),
        TlogError::InvalidProof
        | TlogError::MissingHash { .. }
        | TlogError::ReaderMismatch { .. }
        | TlogError::Storage(_)
        | TlogError::MalformedTilePath(_)
        | TlogError::MalformedTile { .. }
        | TlogError::InconsistentTile(_)
        | TlogError::MalformedBundle(_)
        | TlogError::EntryTooLarge(_) => "the log's tree data is damaged or incomplete; run `speclog verify` (or fetch the site again)".into(),
        TlogError::MalformedProofFile(_) => "give the proof file `speclog prove` wrote, unchanged".into(),
    }
}

fn entry(e: &EntryError) -> String {
    match e {
        EntryError::Field(FieldError::Time(_)) => {
            "give --time (SPECLOG_TIME) as RFC 3339 UTC, e.g. 2025-09-12T17:00:00Z, or omit it"
                .into()
        }
        EntryError::Field(FieldError::Name(_)) => {
            "key names become file names: use letters, digits, '.', '_' and '-'".into()
        }
        EntryError::Field(FieldError::Kind(_)) => {
            "entry kinds are lowercase words joined by '.', like spec.release".into()
        }
        EntryError::TooLarge(_) => {
            "an entry holds at most 65535 bytes: shorten the notes or titles it carries".into()
        }
        EntryError::Sign(_) => "the token or ssh-agent stopped signing part-way (unplugged, locked or restarted); nothing was written: reconnect it and run the command again".into(),
        EntryError::Truncated
        | EntryError::TrailingBytes(_)
        | EntryError::Version(_)
        | EntryError::Payload(_)
        | EntryError::PublicKey
        | EntryError::Signature => {
            "the entry is damaged; run `speclog verify` and restore the ledger from a backup".into()
        }
    }
}

fn gov(g: &GovError) -> String {
    match g {
        GovError::UnknownSigner(n) => format!(
            "register the key first: `speclog key generate {n}` (or `speclog key register {n} --public FILE`)"
        ),
        GovError::Revoked(_) => "a revoked key can sign nothing; use another registered key".into(),
        GovError::Unauthorised { .. } => "use a key with that role, or have the admin register one with `speclog key generate NAME --role ROLE`".into(),
        GovError::WrongKey { .. } => "the private key file does not match the key registered under that name".into(),
        GovError::Unknown { .. } => "check the name with `speclog log`".into(),
        GovError::AlreadyReleased { .. } => {
            "to re-release a label with new content on purpose, add --revision; otherwise choose a new --version".into()
        }
        GovError::InvalidLabel(_) => "example: --version 2025-09-12".into(),
        GovError::SameContent { .. } => {
            "nothing to do: the ledger already holds this text under that label; to release it under another, choose a new --version".into()
        }
        GovError::ReReleaseSameContent { seq, .. } => format!(
            "a revision must change the text: the release in entry {seq} already holds it; edit the spec file, or drop --revision"
        ),
        GovError::AdminNotRevocable => {
            "the admin key is the log's own key; revoke other keys by name (see `speclog key list`)".into()
        }
        GovError::IncidentClosed { .. } => "open a new incident with `speclog incident open` to revisit it".into(),
        GovError::ControlChar { .. } => "remove the control characters (tabs, newlines, escapes) from the text".into(),
        GovError::InvalidRole(_) => "roles are words like spec-owner, evaluator, incident-responder or safety".into(),
        GovError::KeyRegistered(name) => format!(
            "a key pair registers under one name only, and it is {name:?}'s: sign as {name:?}, or generate a new key with `speclog key generate NAME`"
        ),
        GovError::Payload { .. } => "the entry's payload is damaged or was written by another tool; run `speclog verify`".into(),
        GovError::Damaged(_) => DAMAGED.into(),
        GovError::Lookup(_) => "the ledger could not be read while checking references; run `speclog verify`".into(),
        GovError::Rule(_) => "the entry breaks a ledger rule named in the message; fix what it names and run the command again".into(),
    }
}

fn site(s: &SiteError) -> String {
    match s {
        SiteError::Ledger(l) if damaged(l) => DAMAGED.into(),
        SiteError::Ledger(_) => "run `speclog verify` to check the ledger".into(),
        SiteError::Path(_) | SiteError::Symlink(_) => {
            "build into a fresh directory with --out DIR".into()
        }
        SiteError::NotASite(_) => "build into a new or empty directory with --out DIR; or give --force to build into this one anyway (files of the same names, such as index.html and style.css, are overwritten; no other file is removed)".into(),
        SiteError::Serve(_) => "choose another port with --port, or 0 for any free port".into(),
        SiteError::Io { .. } => {
            "check the output directory: its path, permissions and free space".into()
        }
        SiteError::Duplicate(_) | SiteError::Render(..) | SiteError::Json(_) => {
            "this is a bug in the site renderer; report it with the ledger's `speclog log` output"
                .into()
        }
        SiteError::Data(_) | SiteError::Tlog(_) => {
            "run `speclog verify` to check the ledger, then build again".into()
        }
    }
}

fn witness(w: &WitnessError) -> String {
    match w {
        WitnessError::Refused(r) => match r {
            Refusal::Malformed(_) => "give the signed checkpoint as `speclog checkpoint` prints it".into(),
            Refusal::UnknownLog { .. } => "give --log the verifier key of the log that signed this checkpoint (its name is the origin)".into(),
            Refusal::BadSignature { .. } => "check that --log is this log's key (keys/admin.pub); a checkpoint that does not verify is never cosigned".into(),
            Refusal::LogKeyChanged { .. } => "a log's key never changes; if this is really a new log under the same origin, move its state file out of the witness's state/ directory".into(),
            Refusal::OldSizeMismatch { have, .. } => format!("produce the proof from the witness's size: `speclog prove consistency {have}`"),
            Refusal::ProofNeeded { have, .. } => format!("give --proof FILE from `speclog prove consistency {have}`"),
            Refusal::OldSizeTooLarge { .. } => "the old size comes from an earlier checkpoint, so it is at most the new one".into(),
            Refusal::Rollback { .. } | Refusal::Fork { .. } | Refusal::Inconsistent { .. } => {
                "the log showed this witness two histories that cannot both be true: keep both checkpoints and stop trusting the log until its operator explains".into()
            }
        },
        WitnessError::Conflict { refusal: Refusal::Rollback { .. }, .. } => "a stale checkpoint may just be a late retry; but if the log now serves it as its latest, it rolled back: publish the evidence file".into(),
        WitnessError::Conflict { refusal: Refusal::Inconsistent { .. }, .. } => "either the proof is wrong (produce it with `speclog prove consistency` from the log itself) or the log rewrote history; the evidence file keeps both checkpoints and the proof".into(),
        WitnessError::Conflict { .. } => "the log showed this witness two histories that cannot both be true: publish the evidence file and stop trusting the log until its operator explains".into(),
        WitnessError::CorruptState { .. } => "restore the file from a backup; the witness never starts over on its own, since that would let a log roll back".into(),
        WitnessError::Policy { .. } => "lines are `log VKEY`, `witness NAME VKEY`, `group NAME all|any|K MEMBER...` and one `quorum NAME|none` (C2SP tlog-policy); `speclog witness add` and `speclog witness policy --quorum N` write it".into(),
        WitnessError::BadName(_) => "use a name without spaces or '+', ideally a URL without scheme, e.g. witness.example.org/w1".into(),
        WitnessError::NoWitness(_) => "create one with `speclog witness init NAME`, or point --dir (SPECLOG_WITNESS) at its directory".into(),
        WitnessError::BadCosignature { .. } => "the witness cosigned another checkpoint (give --size N for an older one) or the line was damaged; ask the witness again".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    /// One value of every leaf variant of the error kinds `hint` matches.
    fn samples() -> Vec<Error> {
        let p = || PathBuf::from("x");
        let s = || "x".to_string();
        let io = || std::io::Error::other("x");
        let refusals = || {
            vec![
                Refusal::Malformed(s()),
                Refusal::UnknownLog {
                    origin: s(),
                    trusted: s(),
                },
                Refusal::BadSignature { key: s(), why: s() },
                Refusal::LogKeyChanged {
                    origin: s(),
                    pinned: s(),
                },
                Refusal::OldSizeTooLarge { old: 2, size: 1 },
                Refusal::OldSizeMismatch { have: 1, got: 2 },
                Refusal::ProofNeeded { have: 1, size: 2 },
                Refusal::Rollback { have: 2, size: 1 },
                Refusal::Fork { size: 1 },
                Refusal::Inconsistent { old: 1, size: 2 },
            ]
        };
        let mut out: Vec<Error> = vec![
            Error::input("x", "give the path of a Markdown file"),
            Error::Io(s(), io()),
            Error::Verify(speclog::ledger::verify::fail("entry", "x")),
        ];
        for place in [
            "proof",
            "--since",
            "witnesses",
            "log/checkpoint",
            "ledger",
            "ledger file",
        ] {
            out.push(Error::Verify(speclog::ledger::verify::fail(place, "x")));
            out.push(Error::SiteVerify(speclog::ledger::verify::fail(place, "x")));
        }
        out.push(Error::Verify(speclog::ledger::verify::fail(
            "--since",
            "malformed",
        )));
        let keys = vec![
            KeyError::Name(s()),
            KeyError::Missing(p()),
            KeyError::Missing(PathBuf::from("k/admin.key")),
            KeyError::Exists(p()),
            KeyError::Permissions {
                path: p(),
                mode: 0o644,
            },
            KeyError::NeedPassphrase(p()),
            KeyError::WrongPassphrase(p()),
            KeyError::EmptyPassphrase,
            KeyError::Malformed(p(), s()),
            KeyError::BadPublic(p(), s()),
            KeyError::Io(p(), io()),
            KeyError::Rng(s()),
            KeyError::BadRef(p(), s()),
            KeyError::BothForms(p(), p()),
            KeyError::BadUri { uri: s(), why: s() },
            KeyError::NoModule(s()),
            KeyError::Pkcs11Module {
                module: p(),
                reason: s(),
            },
            KeyError::TokenAbsent(s()),
            KeyError::TokenLocked(s()),
            KeyError::WrongPin(s()),
            KeyError::NeedPin(s()),
            KeyError::ObjectAbsent(s()),
            KeyError::ObjectAmbiguous(s(), 2),
            KeyError::ObjectExists(s()),
            KeyError::WrongKeyType {
                what: s(),
                found: s(),
            },
            KeyError::Pkcs11 {
                op: s(),
                reason: s(),
            },
            KeyError::AgentNotRunning(s()),
            KeyError::AgentNoKey(s()),
            KeyError::AgentAmbiguous(s(), 2),
            KeyError::Agent(s()),
        ];
        out.extend(keys.into_iter().map(Error::Key));
        let tlogs = vec![
            TlogError::InvalidInput("x"),
            TlogError::InvalidProof,
            TlogError::MissingHash { level: 0, index: 0 },
            TlogError::ReaderMismatch { got: 0, want: 1 },
            TlogError::Storage(s()),
            TlogError::MalformedTilePath(s()),
            TlogError::MalformedTile {
                path: s(),
                reason: "x",
            },
            TlogError::InconsistentTile(s()),
            TlogError::MalformedBundle("x"),
            TlogError::EntryTooLarge(1),
            TlogError::MalformedProofFile("x"),
        ];
        let mut stores = vec![
            StoreError::NotInitialised(p()),
            StoreError::AlreadyInitialised(p()),
            StoreError::NotALedger(p(), s()),
            StoreError::ReadOnly(p()),
            StoreError::NoShm(p()),
            StoreError::Busy(Duration::from_secs(1)),
            StoreError::Corrupt(s()),
            StoreError::Conflict,
            StoreError::HeadMoved {
                expected: 1,
                found: 2,
            },
            StoreError::Stopped,
            StoreError::DiskFull(p()),
            StoreError::Checkpoint(s()),
            StoreError::Damaged(s()),
            StoreError::Sqlite(rusqlite::Error::InvalidQuery),
        ];
        stores.extend(tlogs.clone().into_iter().map(StoreError::Tlog));
        let entries = vec![
            EntryError::Truncated,
            EntryError::TrailingBytes(1),
            EntryError::Version(2),
            EntryError::TooLarge(1 << 17),
            EntryError::Field(FieldError::Time(s())),
            EntryError::Field(FieldError::Kind(s())),
            EntryError::Field(FieldError::Name(s())),
            EntryError::Payload(s()),
            EntryError::PublicKey,
            EntryError::Sign(speclog::sign::SignError::Failed {
                backend: "pkcs11",
                reason: s(),
            }),
            EntryError::Sign(speclog::sign::SignError::BadSignature {
                backend: "ssh-agent",
            }),
            EntryError::Signature,
        ];
        let govs = vec![
            GovError::Payload {
                kind: s(),
                why: s(),
            },
            GovError::UnknownSigner(s()),
            GovError::WrongKey { name: s() },
            GovError::Revoked(s()),
            GovError::Unauthorised {
                name: s(),
                roles: s(),
                kind: s(),
                need: s(),
            },
            GovError::Rule(s()),
            GovError::InvalidLabel(s()),
            GovError::AlreadyReleased { label: s(), seq: 1 },
            GovError::SameContent { label: s(), seq: 1 },
            GovError::ReReleaseSameContent { label: s(), seq: 1 },
            GovError::AdminNotRevocable,
            GovError::IncidentClosed { id: s(), seq: 1 },
            GovError::ControlChar { what: s() },
            GovError::InvalidRole(s()),
            GovError::KeyRegistered(s()),
            GovError::Unknown {
                what: "x",
                name: s(),
            },
            GovError::Lookup(s()),
            GovError::Damaged(s()),
        ];
        let mut ledgers: Vec<LedgerError> = stores.into_iter().map(LedgerError::Store).collect();
        ledgers.extend(entries.into_iter().map(LedgerError::Entry));
        ledgers.extend(govs.into_iter().map(LedgerError::Gov));
        ledgers.extend([
            LedgerError::Origin(s()),
            LedgerError::TimeBackwards(s(), s()),
            LedgerError::NoEntry(s()),
            LedgerError::Ambiguous(s()),
            LedgerError::MissingBlob(s()),
            LedgerError::Io(s()),
        ]);
        let mut sites: Vec<SiteError> = vec![
            SiteError::Ledger(LedgerError::Io(s())),
            SiteError::Ledger(LedgerError::Store(StoreError::Damaged(s()))),
            SiteError::Ledger(LedgerError::Gov(GovError::Damaged(s()))),
            SiteError::Io {
                path: p(),
                source: io(),
            },
            SiteError::Path(s()),
            SiteError::Symlink(p()),
            SiteError::Duplicate(s()),
            SiteError::Render(s(), s()),
            SiteError::Data(s()),
            SiteError::Json(serde_json::from_str::<u8>("x").unwrap_err()),
            SiteError::Serve(s()),
            SiteError::NotASite(p()),
        ];
        sites.extend(tlogs.into_iter().map(SiteError::Tlog));
        let mut witnesses: Vec<WitnessError> =
            refusals().into_iter().map(WitnessError::Refused).collect();
        witnesses.extend(
            refusals()
                .into_iter()
                .map(|refusal| WitnessError::Conflict {
                    refusal,
                    evidence: p(),
                }),
        );
        witnesses.extend([
            WitnessError::CorruptState {
                path: p(),
                why: s(),
            },
            WitnessError::Policy {
                path: p(),
                err: speclog::policy::PolicyError { line: 1, msg: s() },
            },
            WitnessError::BadName(s()),
            WitnessError::NoWitness(p()),
            WitnessError::BadCosignature {
                witness: s(),
                size: 1,
                why: s(),
            },
        ]);
        out.extend(ledgers.into_iter().map(Error::Ledger));
        out.extend(sites.into_iter().map(Error::Site));
        out.extend(witnesses.into_iter().map(Error::Witness));
        out
    }

    /// The variant path of an error from its `Debug` form, e.g. `Ledger/Gov/Rule`.
    fn variant(e: &Error) -> String {
        let d = format!("{e:?}");
        let mut names = Vec::new();
        let mut rest = d.as_str();
        loop {
            let n: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
            if n.is_empty() {
                break;
            }
            rest = &rest[n.len()..];
            names.push(n);
            if let Some(r) = rest.strip_prefix('(') {
                rest = r;
            } else {
                break;
            }
        }
        names.join("/")
    }

    #[test]
    fn every_error_variant_has_a_hint_and_an_exit_code() {
        let all = samples();
        assert!(all.len() > 100, "{}", all.len());
        for e in &all {
            let h = hint(e);
            assert!(
                h.len() > 10 && !h.contains('\n'),
                "{} ({e}) has no usable hint: {h:?}",
                variant(e)
            );
            assert!(
                [EXIT_VERIFY, EXIT_INPUT].contains(&exit_code(e)),
                "{}",
                variant(e)
            );
        }
    }

    #[test]
    fn hints_follow_variants_not_message_text() {
        let gov = |g| Error::Ledger(LedgerError::Gov(g));
        // The two refusals that had no hint before.
        let h = hint(&gov(GovError::KeyRegistered("alice".into())));
        assert!(
            h.contains("\"alice\"") && h.contains("speclog key generate"),
            "{h}"
        );
        let h = hint(&gov(GovError::ReReleaseSameContent {
            label: "1.0".into(),
            seq: 4,
        }));
        assert!(h.contains("entry 4") && h.contains("--revision"), "{h}");
        // A generic rule whose text happens to match an old message gets the
        // generic hint, not the specific one.
        let h = hint(&gov(GovError::Rule(
            "version \"1\" was already released (entry 3)".into(),
        )));
        assert!(!h.contains("--revision"), "{h}");
        assert!(
            hint(&gov(GovError::AlreadyReleased {
                label: "1".into(),
                seq: 3
            }))
            .contains("--revision")
        );
        assert_eq!(
            exit_code(&Error::Verify(speclog::ledger::verify::fail("entry", "x"))),
            EXIT_VERIFY
        );
        assert_eq!(exit_code(&gov(GovError::AdminNotRevocable)), EXIT_INPUT);
        assert_eq!(
            exit_code(&Error::Witness(WitnessError::Refused(Refusal::Fork {
                size: 1
            }))),
            EXIT_VERIFY
        );
    }
}
