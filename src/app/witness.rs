//! Witness operations: a witness's own commands (`witness init|cosign|serve|status`)
//! over its directory, and the log's side over the ledger: the witness policy
//! (`witness add|remove|policy`), storing cosignatures (`checkpoint
//! add-cosignature`) and enforcing the quorum when verifying a published site.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Workspace;
use super::proofs::load_verifier_key;
use crate::error::Error;
use crate::keys::{self, KeyError, Passphrase};
use crate::ledger::Ledger;
use crate::note::{self, ALG_ED25519, Checkpoint, Note, NoteSignature, NoteSigner, VerifierKey};
use crate::published::{self, SiteReport};
use crate::tlog::{self, ConsistencyProofFile, Hash};
use crate::witness::http::{self, Response};
use crate::witness::store::{self, WitnessDir, WitnessStoreError};
use crate::witness::{self, Old, Policy, Refusal, WitnessError};

/// A signature line and its line number in its file (0 inside a note).
type Numbered = (usize, NoteSignature);

/// Largest checkpoint, proof or cosignature file read.
const MAX_INPUT: u64 = 1 << 20;

/// A witness's identity.
#[derive(Clone, Debug, Serialize)]
pub struct WitnessInfo {
    pub name: String,
    /// The cosigning verifier key (type 0x04), for log operators' policies.
    pub verifier_key: String,
    pub dir: PathBuf,
    pub private_file: PathBuf,
    pub public_file: PathBuf,
}

/// One log a witness follows.
#[derive(Clone, Debug, Serialize)]
pub struct LogView {
    pub origin: String,
    pub log_key: String,
    pub size: u64,
    pub root: String,
}

/// `witness status`.
#[derive(Clone, Debug, Serialize)]
pub struct WitnessStatus {
    #[serde(flatten)]
    pub witness: WitnessInfo,
    pub logs: Vec<LogView>,
    pub evidence: Vec<PathBuf>,
}

/// What a witness cosigned.
#[derive(Clone, Debug, Serialize)]
pub struct Cosigned {
    pub witness: String,
    pub origin: String,
    pub size: u64,
    /// Root hash, base64 as in the checkpoint.
    pub root: String,
    /// The size it had cosigned before, if any.
    pub previous_size: Option<u64>,
    pub timestamp: u64,
    /// The C2SP cosignature line, with its final newline.
    pub cosignature: String,
}

/// The ledger's witness policy.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyView {
    pub file: PathBuf,
    pub witnesses: Vec<PolicyWitnessView>,
    pub quorum: String,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyWitnessView {
    pub name: String,
    pub verifier_key: String,
}

/// What `checkpoint add-cosignature` did.
#[derive(Clone, Debug, Serialize)]
pub struct CosignaturesAdded {
    pub size: u64,
    /// False if the checkpoint is older than the latest.
    pub latest: bool,
    pub added: Vec<String>,
    /// Witnesses that had already cosigned this checkpoint (their new line was not stored).
    pub already: Vec<String>,
    /// All policy witnesses that have now cosigned it.
    pub cosigned_by: Vec<String>,
    pub quorum: String,
    pub quorum_met: bool,
}

/// Reads a small input file: present, regular, at most 1 MiB.
fn read_input(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    let m = std::fs::metadata(path).map_err(|e| {
        Error::input(
            format!("cannot read {what} {}: {e}", path.display()),
            "check the path",
        )
    })?;
    if !m.is_file() || m.len() > MAX_INPUT {
        return Err(Error::input(
            format!(
                "{what} {} is not a file of at most {MAX_INPUT} bytes",
                path.display()
            ),
            format!("give the {what} itself; they are small text files"),
        ));
    }
    crate::fsx::read_file_capped(path, MAX_INPUT)
        .map_err(|e| Error::Io(path.display().to_string(), e))
}

fn utf8<'a>(b: &'a [u8], what: &str, path: &Path, hint: &str) -> Result<&'a str, Error> {
    std::str::from_utf8(b).map_err(|e| {
        Error::input(
            format!(
                "{what} {} is not UTF-8 (first bad byte at offset {})",
                path.display(),
                e.valid_up_to()
            ),
            hint,
        )
    })
}

/// The cosignature timestamp: `--time` if given, else now.
fn timestamp(time: Option<&str>) -> Result<u64, Error> {
    match time {
        Some(t) => t
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| u64::try_from(t.as_second()).ok())
            .ok_or_else(|| {
                Error::input(
                    format!("invalid time {t:?}"),
                    "example: --time 2025-09-12T17:00:00Z",
                )
            }),
        None => Ok(jiff::Timestamp::now().as_second().max(0) as u64),
    }
}

/// Loads a log's verifier key: an Ed25519 (type 0x01) key, from a file or given inline.
fn log_key(arg: &str) -> Result<VerifierKey, Error> {
    let k = load_verifier_key(arg)?;
    if k.alg() != ALG_ED25519 {
        return Err(Error::input(
            format!("{} is a witness (cosignature) key, not a log key", k.name()),
            "give --log the log's verifier key, e.g. keys/admin.pub of its ledger",
        ));
    }
    Ok(k)
}

impl Workspace {
    fn witness_signer(&self, w: &WitnessDir) -> Result<NoteSigner, Error> {
        match w.signer(&self.passphrase) {
            Err(WitnessStoreError::Key(KeyError::NeedPassphrase(p))) => {
                let ask = self
                    .prompt
                    .as_ref()
                    .ok_or_else(|| KeyError::NeedPassphrase(p.clone()))?;
                let pw = ask(&format!("Passphrase for {}: ", p.display()))
                    .ok_or(KeyError::NeedPassphrase(p))?;
                Ok(w.signer(&Passphrase::given(pw)?)?)
            }
            r => Ok(r?),
        }
    }

    /// Creates a witness in `dir`: a cosigning key named `name` and empty state.
    pub fn witness_init(
        &self,
        dir: &Path,
        name: &str,
        encrypt: bool,
    ) -> Result<WitnessInfo, Error> {
        let w = WitnessDir::new(dir);
        let pass = if encrypt {
            if matches!(self.passphrase, Passphrase::None) {
                return Err(KeyError::NeedPassphrase(w.key_path()).into());
            }
            self.passphrase.clone()
        } else {
            Passphrase::None
        };
        let key = keys::generate()?;
        let vk = w.create(name, &key, &pass)?;
        Ok(info(&w, &vk))
    }

    /// The witness's key and the logs it follows.
    pub fn witness_status(&self, dir: &Path) -> Result<WitnessStatus, Error> {
        let w = WitnessDir::new(dir);
        let vk = w.public()?;
        let logs = w
            .states()?
            .into_iter()
            .map(|s| LogView {
                origin: s.origin,
                log_key: s.log_key,
                size: s.size,
                root: base64_root(&s.root),
            })
            .collect();
        let mut evidence: Vec<PathBuf> = match std::fs::read_dir(w.evidence_dir()) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => Vec::new(),
        };
        evidence.sort();
        Ok(WitnessStatus {
            witness: info(&w, &vk),
            logs,
            evidence,
        })
    }

    /// Cosigns a signed checkpoint of the log with key `log` (a verifier key
    /// or its file) if it extends what this witness cosigned before; the
    /// checkpoint comes from `checkpoint` or, if absent, from the `proof` file.
    /// Refusing a conflicting checkpoint keeps both as evidence.
    pub fn witness_cosign(
        &self,
        dir: &Path,
        log: &str,
        checkpoint: Option<&Path>,
        proof: Option<&Path>,
    ) -> Result<Cosigned, Error> {
        let log = log_key(log)?;
        let ts = timestamp(self.time.as_deref())?;
        let proof_hint = "give the file `speclog prove consistency OLD_SIZE` wrote";
        let proof = match proof {
            Some(p) => {
                let b = read_input(p, "proof")?;
                let f = ConsistencyProofFile::parse(&b).map_err(|e| {
                    Error::input(
                        format!("proof {} is not a consistency proof: {e}", p.display()),
                        proof_hint,
                    )
                })?;
                Some((p, f, String::from_utf8_lossy(&b).into_owned()))
            }
            None => None,
        };
        let signed = match (checkpoint, &proof) {
            (Some(p), _) => {
                let b = read_input(p, "checkpoint")?;
                utf8(
                    &b,
                    "checkpoint",
                    p,
                    "give the signed checkpoint as `speclog checkpoint` prints it",
                )?;
                b
            }
            (None, Some((_, f, _))) => f.checkpoint_text.clone().into_bytes(),
            (None, None) => {
                return Err(Error::input(
                    "no checkpoint to cosign",
                    "give --checkpoint FILE (and --proof FILE)",
                ));
            }
        };
        if let (Some(cp_path), Some((pp, f, _))) = (checkpoint, &proof) {
            let a = Note::parse(&signed).map(|n| n.text);
            let b = Note::parse(f.checkpoint_text.as_bytes()).map(|n| n.text);
            if let (Ok(a), Ok(b)) = (a, b)
                && a != b
            {
                return Err(Error::input(
                    format!(
                        "the proof {} leads to another checkpoint than {}",
                        pp.display(),
                        cp_path.display()
                    ),
                    "produce the proof and the checkpoint from the log at the same time, or give only --proof (it carries the checkpoint)",
                ));
            }
        }
        let w = WitnessDir::new(dir);
        let signer = self.witness_signer(&w)?;
        let old = Old::Cli(
            proof
                .as_ref()
                .map(|(_, f, _)| (f.old_size, f.hashes.as_slice())),
        );
        let proof_text = proof.as_ref().map(|(_, _, t)| t.as_str());
        witness_step(&w, &signer, &log, &signed, old, proof_text, ts)
    }

    /// Serves C2SP tlog-witness `add-checkpoint` on `addr` (loopback only)
    /// for the logs with keys `logs`, until killed. `ready` is called with
    /// the bound address before the first request; `log` gets one line per request.
    pub fn witness_serve(
        &self,
        dir: &Path,
        addr: &str,
        logs: &[String],
        ready: impl FnOnce(&WitnessInfo, SocketAddr),
        log: impl FnMut(&str),
    ) -> Result<(), Error> {
        let addr: SocketAddr = addr.parse().map_err(|_| {
            Error::input(
                format!("invalid address {addr:?}"),
                "give IP:PORT, e.g. --addr 127.0.0.1:7380 (port 0 picks a free one)",
            )
        })?;
        http::check_loopback(&addr).map_err(|e| {
            Error::input(
                format!("refusing to listen on {e}"),
                "the witness serves on localhost only; put a reverse proxy or a C2SP https-bastion in front of it",
            )
        })?;
        let mut keys = Vec::new();
        for l in logs {
            let k = log_key(l)?;
            if keys.iter().any(|o: &VerifierKey| o.name() == k.name()) {
                return Err(Error::input(
                    format!("two --log keys for origin {}", k.name()),
                    "give one key per log",
                ));
            }
            keys.push(k);
        }
        if keys.is_empty() {
            return Err(Error::input(
                "no log to witness",
                "give --log VERIFIER_KEY for each log",
            ));
        }
        let w = WitnessDir::new(dir);
        let signer = self.witness_signer(&w)?;
        let listener = TcpListener::bind(addr).map_err(|e| Error::Io(addr.to_string(), e))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Io(addr.to_string(), e))?;
        ready(&info(&w, &signer.verifier_key()), bound);
        let time = self.time.clone();
        http::serve(
            &listener,
            |body| add_checkpoint_http(&w, &signer, &keys, body, time.as_deref()),
            log,
            None,
        );
        Ok(())
    }

    fn policy_file(&self) -> PathBuf {
        store::policy_path(&self.ledger_dir)
    }

    /// The ledger's witness policy (an empty one with `quorum none` if it has none).
    fn load_policy(&self, l: &Ledger) -> Result<Policy, Error> {
        let mut p = match store::read_policy(&self.policy_file())? {
            Some((_, p)) => p,
            None => Policy::default(),
        };
        let vk = VerifierKey::parse(&l.authority()?.log_key)
            .map_err(|e| crate::ledger::StoreError::Corrupt(format!("log key: {e}")))?;
        p.ensure_log(&vk);
        Ok(p)
    }

    fn save_policy(&self, p: &Policy) -> Result<PolicyView, Error> {
        store::write_policy(&self.policy_file(), p)?;
        Ok(self.policy_view(p))
    }

    fn policy_view(&self, p: &Policy) -> PolicyView {
        PolicyView {
            file: self.policy_file(),
            witnesses: p
                .witnesses
                .iter()
                .map(|w| PolicyWitnessView {
                    name: w.name.clone(),
                    verifier_key: w.key.to_string(),
                })
                .collect(),
            quorum: p.quorum_description(),
            text: p.format(),
        }
    }

    /// Adds a witness to the ledger's policy.
    pub fn witness_add(&self, name: &str, key: &str) -> Result<PolicyView, Error> {
        let l = self.open()?;
        let key = load_verifier_key(key)?;
        let mut p = self.load_policy(&l)?;
        p.add_witness(name, key).map_err(|m| {
            Error::input(
                m,
                "the key is the one line `speclog witness init` printed (or its witness.pub)",
            )
        })?;
        self.save_policy(&p)
    }

    /// Removes a witness from the ledger's policy.
    pub fn witness_remove(&self, name: &str) -> Result<PolicyView, Error> {
        let l = self.open()?;
        let mut p = self.load_policy(&l)?;
        p.remove_witness(name)
            .map_err(|m| Error::input(m, "see the policy with `speclog witness policy`"))?;
        self.save_policy(&p)
    }

    /// Shows the ledger's witness policy, or sets its quorum to `n` of all witnesses.
    pub fn witness_policy(&self, quorum: Option<usize>) -> Result<PolicyView, Error> {
        let l = self.open()?;
        let mut p = self.load_policy(&l)?;
        match quorum {
            Some(n) => {
                p.set_quorum(n).map_err(|m| {
                    Error::input(
                        m,
                        "add witnesses first with `speclog witness add NAME VERIFIER_KEY`",
                    )
                })?;
                self.save_policy(&p)
            }
            None => Ok(self.policy_view(&p)),
        }
    }

    /// Verifies witness cosignature lines (or a cosigned checkpoint) from
    /// `file` against the checkpoint of `size` (default: the one the file
    /// carries, else the latest) and the witness policy, and stores them.
    /// Nothing is stored unless every line verifies.
    pub fn add_cosignatures(
        &self,
        file: &Path,
        size: Option<u64>,
    ) -> Result<CosignaturesAdded, Error> {
        let hint =
            "a cosignature file holds the lines `speclog witness cosign` prints: `— NAME BASE64`";
        let bytes = read_input(file, "cosignature file")?;
        let text = utf8(&bytes, "cosignature file", file, hint)?;
        let Some((_, policy)) = store::read_policy(&self.policy_file())? else {
            return Err(Error::input(
                format!(
                    "the ledger has no witness policy ({} is missing)",
                    self.policy_file().display()
                ),
                "add the witness first: `speclog witness add NAME VERIFIER_KEY`",
            ));
        };
        let l = self.open_write()?;
        let origin = l.origin()?;
        // A whole cosigned checkpoint, or bare signature lines.
        let first = text.lines().find(|l| !l.trim().is_empty());
        let is_note = first.is_some_and(|l| !l.starts_with('—'));
        let (sigs, note): (Vec<Numbered>, Option<(u64, String)>) = if is_note {
            let n = Note::parse(&bytes)
                .map_err(|e| Error::input(format!("{}: {e}", file.display()), hint))?;
            let cp = Checkpoint::parse(&n.text)
                .map_err(|e| Error::input(format!("{}: {e}", file.display()), hint))?;
            if cp.origin != origin {
                return Err(Error::input(
                    format!(
                        "{} is a checkpoint of {}, this ledger's origin is {origin}",
                        file.display(),
                        cp.origin
                    ),
                    "add cosignatures to the ledger of that log (--ledger)",
                ));
            }
            let sigs = n
                .sigs
                .into_iter()
                .filter(|s| s.name != origin)
                .map(|s| (0, s))
                .collect();
            (sigs, Some((cp.size, n.text)))
        } else {
            let mut v = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let s = NoteSignature::parse_line(line).map_err(|e| {
                    Error::input(format!("{} line {}: {e}", file.display(), i + 1), hint)
                })?;
                v.push((i + 1, s));
            }
            (v, None)
        };
        if sigs.is_empty() {
            return Err(Error::input(
                format!("{} holds no cosignature lines", file.display()),
                hint,
            ));
        }
        let latest = l
            .reader()
            .latest_checkpoint()?
            .map(|(s, _)| s)
            .ok_or_else(|| crate::ledger::StoreError::Corrupt("no checkpoint".into()))?;
        let note_size = note.as_ref().map(|(s, _)| *s);
        if let (Some(a), Some(b)) = (size, note_size)
            && a != b
        {
            return Err(Error::input(
                format!("--size {a}, but {} holds checkpoint {b}", file.display()),
                "drop --size; a cosigned checkpoint says its size",
            ));
        }
        let size = size.or(note_size).unwrap_or(latest);
        let stored = l.reader().checkpoint_at(size)?.ok_or_else(|| {
            Error::input(
                format!("the log never signed a checkpoint of size {size}"),
                "use a size `speclog log` shows after an append, or omit --size for the latest",
            )
        })?;
        let body = Note::parse(stored.as_bytes())
            .map_err(|e| crate::ledger::StoreError::Corrupt(format!("checkpoint {size}: {e}")))?
            .text;
        if note.as_ref().is_some_and(|(_, t)| *t != body) {
            return Err(Error::input(
                format!(
                    "{} is not the checkpoint this log signed for size {size}",
                    file.display()
                ),
                "the witness cosigned another tree: check it with `speclog witness cosign`, which keeps evidence",
            ));
        }
        let mut verified: Vec<(String, NoteSignature)> = Vec::new();
        for (line, sig) in sigs {
            let at = if line > 0 {
                format!(" line {line}")
            } else {
                String::new()
            };
            let w = policy.witness_for(&sig).ok_or_else(|| {
                Error::input(
                    format!(
                        "{}{at}: {}+{} is not a witness in {}",
                        file.display(),
                        sig.name,
                        hex::encode(sig.key_id),
                        self.policy_file().display()
                    ),
                    "add it first: `speclog witness add NAME VERIFIER_KEY`",
                )
            })?;
            note::verify_cosignature(&w.key, &body, &sig).map_err(|e| {
                Error::Witness(WitnessError::BadCosignature {
                    witness: w.name.clone(),
                    size,
                    why: e.to_string(),
                })
            })?;
            if !verified.iter().any(|(n, _)| *n == w.name) {
                verified.push((w.name.clone(), sig));
            }
        }
        let existing: Vec<NoteSignature> = l
            .reader()
            .cosignatures(size)?
            .iter()
            .filter_map(|s| NoteSignature::parse_line(s).ok())
            .collect();
        let (mut added, mut already) = (Vec::new(), Vec::new());
        for (name, sig) in verified {
            if existing
                .iter()
                .any(|e| e.name == sig.name && e.key_id == sig.key_id)
            {
                already.push(name);
                continue;
            }
            l.store()
                .add_cosignature(size, sig.line().trim_end_matches('\n'))?;
            added.push(name);
        }
        let mut full = stored;
        for line in l.reader().cosignatures(size)? {
            full.push_str(&line);
            full.push('\n');
        }
        let note = Note::parse(full.as_bytes()).map_err(|e| {
            crate::ledger::StoreError::Corrupt(format!("checkpoint {size} with cosignatures: {e}"))
        })?;
        let cosigned_by = policy.cosigners(&note).unwrap_or_default();
        let set: BTreeSet<String> = cosigned_by.iter().cloned().collect();
        Ok(CosignaturesAdded {
            size,
            latest: size == latest,
            added,
            already,
            quorum_met: policy.quorum_met(&set),
            cosigned_by,
            quorum: policy.quorum_description(),
        })
    }
}

/// What `verify` found of the witness cosignatures stored in the ledger.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CosignaturesChecked {
    /// Stored cosignature lines that verified against the checkpoint the log
    /// signed for their size and a witness key in the ledger's witness policy.
    pub verified: u64,
    /// Stored lines of witnesses no longer in the policy (`name+keyid`), which
    /// cannot be checked without their key.
    pub unchecked: Vec<String>,
}

impl Workspace {
    /// Re-checks every stored witness cosignature: each must be a well-formed
    /// signature line on a checkpoint the log signed, and each from a witness
    /// in the ledger's policy must verify against that witness's key.
    /// `add_cosignatures` checked them when they were stored; this catches a
    /// ledger whose cosignature rows were edited since.
    pub fn verify_cosignatures(&self) -> Result<CosignaturesChecked, Error> {
        use crate::ledger::verify::fail;
        let l = self.open()?;
        let rows = l.reader().all_cosignatures()?;
        let mut out = CosignaturesChecked::default();
        if rows.is_empty() {
            return Ok(out);
        }
        let policy = store::read_policy(&self.policy_file())?
            .map(|(_, p)| p)
            .unwrap_or_default();
        let mut body: Option<(u64, String)> = None;
        for (size, line) in rows {
            let place = format!("cosignature on checkpoint {size}");
            let sig = NoteSignature::parse_line(&line)
                .map_err(|e| fail(&place, format!("{line:?}: {e}")))?;
            if body.as_ref().is_none_or(|(s, _)| *s != size) {
                let stored = l.reader().checkpoint_at(size)?.ok_or_else(|| {
                    fail(&place, "the log never signed a checkpoint of that size")
                })?;
                let text = Note::parse(stored.as_bytes())
                    .map_err(|e| fail(format!("checkpoint {size}"), e.to_string()))?
                    .text;
                body = Some((size, text));
            }
            let text = &body.as_ref().expect("set above").1;
            match policy.witness_for(&sig) {
                Some(w) => {
                    note::verify_cosignature(&w.key, text, &sig).map_err(|e| {
                        fail(
                            &place,
                            format!("witness {}'s cosignature does not verify: {e}", w.name),
                        )
                    })?;
                    out.verified += 1;
                }
                None => {
                    let who = format!("{}+{}", sig.name, hex::encode(sig.key_id));
                    if !out.unchecked.contains(&who) {
                        out.unchecked.push(who);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn info(w: &WitnessDir, vk: &VerifierKey) -> WitnessInfo {
    WitnessInfo {
        name: vk.name().to_string(),
        verifier_key: vk.to_string(),
        dir: w.root.clone(),
        private_file: w.key_path(),
        public_file: w.pub_path(),
    }
}

fn base64_root(h: &Hash) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// One witness decision under the witness's lock: check, keep evidence of a
/// conflict, persist the new state, and only then cosign.
fn witness_step(
    w: &WitnessDir,
    signer: &NoteSigner,
    log: &VerifierKey,
    signed: &[u8],
    old: Old<'_>,
    proof_text: Option<&str>,
    ts: u64,
) -> Result<Cosigned, Error> {
    let origin = witness::peek_origin(signed).unwrap_or_default().to_string();
    let _lock = w.lock()?;
    // A checkpoint for another log never touches that log's state.
    let state = if origin == log.name() {
        w.load_state(&origin)?
    } else {
        None
    };
    let acc = match witness::add_checkpoint(state.as_ref(), log, signed, old) {
        Ok(a) => a,
        // A conflict with a checkpoint this witness cosigned is evidence; a
        // bad proof for a log it never saw is only the submitter's mistake.
        Err(r) if r.is_conflict() && state.is_some() => {
            let size = witness::parse_submission(signed)
                .map(|s| s.checkpoint.size)
                .unwrap_or_default();
            let refused = String::from_utf8_lossy(signed);
            let text = witness::evidence_text(
                &r,
                &origin,
                state.as_ref(),
                signed,
                proof_text,
                &crate::ledger::now(),
            );
            let evidence = w.save_evidence(&origin, size, &text, &refused)?;
            return Err(WitnessError::Conflict {
                refusal: r,
                evidence,
            }
            .into());
        }
        Err(r) => return Err(WitnessError::Refused(r).into()),
    };
    if acc.changed {
        w.save_state(&acc.state)?;
    }
    let sig = note::cosign(signer, &acc.text, ts).map_err(|e| {
        Error::input(
            format!("cannot cosign: {e}"),
            "the timestamp must be at most 2^63-1 seconds",
        )
    })?;
    Ok(Cosigned {
        witness: signer.name().to_string(),
        origin: acc.checkpoint.origin,
        size: acc.checkpoint.size,
        root: base64_root(&acc.checkpoint.root),
        previous_size: acc.previous,
        timestamp: ts,
        cosignature: sig.line(),
    })
}

/// The `add-checkpoint` handler: the body is an old size line, proof lines,
/// an empty line and the signed checkpoint.
fn add_checkpoint_http(
    w: &WitnessDir,
    signer: &NoteSigner,
    logs: &[VerifierKey],
    body: &[u8],
    time: Option<&str>,
) -> Response {
    let framed = [tlog::CONSISTENCY_PROOF_HEADER.as_bytes(), b"\n", body].concat();
    let req = match ConsistencyProofFile::parse(&framed) {
        Ok(r) => r,
        Err(e) => return Response::text(400, format!("malformed request body: {e}")),
    };
    let signed = req.checkpoint_text.as_bytes();
    let origin = witness::peek_origin(signed).unwrap_or_default();
    let Some(key) = logs.iter().find(|k| k.name() == origin) else {
        return Response::text(404, format!("unknown log origin {origin:?}"));
    };
    let ts = match timestamp(time) {
        Ok(t) => t,
        Err(e) => return Response::text(500, e.to_string()),
    };
    let old = Old::Protocol {
        size: req.old_size,
        proof: &req.hashes,
    };
    let body_text = String::from_utf8_lossy(body);
    match witness_step(w, signer, key, signed, old, Some(&body_text), ts) {
        Ok(c) => Response {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: c.cosignature.clone().into_bytes(),
            log: format!("cosigned {} size {}", c.origin, c.size),
        },
        Err(Error::Witness(WitnessError::Refused(Refusal::OldSizeMismatch { have, got }))) => {
            Response {
                status: 409,
                content_type: "text/x.tlog.size",
                body: format!("{have}\n").into_bytes(),
                log: format!("old size {got}, witness has {have}"),
            }
        }
        Err(Error::Witness(WitnessError::Refused(r))) => {
            Response::text(r.http_status(), r.to_string())
        }
        Err(Error::Witness(e @ WitnessError::Conflict { .. })) => {
            let WitnessError::Conflict { refusal, .. } = &e else {
                unreachable!()
            };
            Response::text(refusal.http_status(), e.to_string())
        }
        Err(e) => Response::text(500, e.to_string()),
    }
}

/// Verifies a published site offline (see [`super::proofs::verify_site`]) and
/// its witness cosignatures: against the policy file `witnesses` if given
/// (whose single `log` line also serves as the log key when `key` is not
/// given), else against the site's own `log/witnesses.txt` if it has one.
/// Fails if the cosignatures do not satisfy the policy's quorum.
pub fn verify_site(
    dir: &Path,
    key: Option<&VerifierKey>,
    since: Option<published::Since<'_>>,
    witnesses: Option<&Path>,
    pages: bool,
    progress: &dyn Fn(u64, u64),
) -> Result<SiteReport, Error> {
    let given = match witnesses {
        Some(p) => Some(store::read_policy(p)?.ok_or_else(|| {
            Error::input(
                format!("no witness policy at {}", p.display()),
                "give the policy file, e.g. the site's log/witnesses.txt",
            )
        })?),
        None => None,
    };
    let policy_key = match (&given, key) {
        (Some((_, p)), None) if p.logs.len() == 1 => Some(p.logs[0].key.clone()),
        _ => None,
    };
    let key = key.or(policy_key.as_ref());
    let mut rep = super::proofs::verify_site(dir, key, since, pages, progress)?;
    if policy_key.is_some() {
        rep.key_source = "policy".into();
    }
    let published_path = dir.join("log").join(store::POLICY_FILE);
    let (policy, source) = match given {
        Some((_, p)) => (p, "given"),
        None => match store::read_policy(&published_path) {
            Ok(Some((_, p))) => (p, "published"),
            Ok(None) => return Ok(rep),
            Err(e) => {
                return Err(Error::SiteVerify(crate::ledger::verify::fail(
                    "log/witnesses.txt",
                    e.to_string(),
                )));
            }
        },
    };
    let cp = read_input(&dir.join("log").join("checkpoint"), "checkpoint")?;
    let names = published::check_witnesses(&cp, &policy).map_err(Error::SiteVerify)?;
    for n in &names {
        if let Some(w) = policy.witnesses.iter().find(|w| &w.name == n) {
            rep.signers.push(w.key.name().to_string());
        }
    }
    rep.witnesses = names;
    rep.quorum = Some(policy.quorum_description());
    rep.witness_policy = Some(source.into());
    Ok(rep)
}
