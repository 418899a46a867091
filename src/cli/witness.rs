//! `speclog witness …` (a witness's commands, and the ledger's witness policy)
//! and `speclog checkpoint [show|add-cosignature]`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use speclog::Error;
use speclog::app::Workspace;
use speclog::app::witness::PolicyView;

use super::JsonFlag;
use super::output::Out;

/// The witness directory option.
#[derive(Args, Debug, Clone)]
pub struct DirArg {
    /// The witness directory (witness.key, witness.pub, state/, evidence/).
    #[arg(
        long,
        env = "SPECLOG_WITNESS",
        default_value = "witness",
        value_name = "DIR"
    )]
    dir: PathBuf,
}

/// Run a witness, or manage this ledger's witness policy.
#[derive(Subcommand, Debug)]
pub enum WitnessCmd {
    /// Create a witness: a new cosigning key (C2SP tlog-cosignature, type 0x04) and empty state.
    #[command(after_help = "Example:\n  speclog witness init witness.example.org/w1 --dir witness")]
    Init {
        /// The witness's name, ideally a URL without scheme (it appears in every cosignature).
        name: String,
        #[command(flatten)]
        dir: DirArg,
        /// Encrypt the private key with the passphrase.
        #[arg(long)]
        encrypt: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Cosign a log's checkpoint if it extends the last one this witness cosigned.
    #[command(after_help = "\
The first checkpoint of a log is trusted as seen. After that, a larger checkpoint
needs a consistency proof from the size this witness cosigned last
(`speclog prove consistency OLD_SIZE` on the log's side); a smaller one, or one of
the same size with another root, or one whose proof fails, is refused (exit 1)
and kept with the conflicting checkpoint under DIR/evidence/.

Examples:
  speclog witness cosign --log keys/admin.pub --checkpoint cp.txt
  speclog witness cosign --log keys/admin.pub --proof since-5.proof > cosig.txt")]
    Cosign {
        /// The log's verifier key (a .pub file or the key itself).
        #[arg(long, value_name = "VERIFIER_KEY")]
        log: String,
        /// The signed checkpoint (default: the one in --proof).
        #[arg(long, value_name = "FILE", required_unless_present = "proof")]
        checkpoint: Option<PathBuf>,
        /// A consistency proof from the size this witness cosigned last.
        #[arg(long, value_name = "FILE")]
        proof: Option<PathBuf>,
        #[command(flatten)]
        dir: DirArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Serve C2SP tlog-witness `POST /add-checkpoint` on localhost until stopped.
    #[command(
        after_help = "Example:\n  speclog witness serve --addr 127.0.0.1:7380 --log keys/admin.pub"
    )]
    Serve {
        /// Loopback address and port (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:7380")]
        addr: String,
        /// Verifier key of a log to witness (repeatable).
        #[arg(long = "log", value_name = "VERIFIER_KEY", required = true)]
        logs: Vec<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Show the witness's key, the logs it follows and any evidence it kept.
    Status {
        #[command(flatten)]
        dir: DirArg,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Add a witness to this ledger's witness policy (ledger/witnesses.txt).
    #[command(
        after_help = "Example:\n  speclog witness add w1 witness.example.org/w1+4ad1e2b0+BM1c…\n  speclog witness add w2 witness2/witness.pub"
    )]
    Add {
        /// The witness's name in the policy.
        name: String,
        /// Its cosignature verifier key (witness.pub, or the key itself).
        verifier_key: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Remove a witness from this ledger's witness policy.
    Remove {
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show this ledger's witness policy, or set its quorum.
    #[command(
        after_help = "Example:\n  speclog witness policy --quorum 2   # 2 of the listed witnesses\n  speclog witness policy --quorum 0   # none required"
    )]
    Policy {
        /// Require cosignatures from N of the listed witnesses (0: none).
        #[arg(long, value_name = "N")]
        quorum: Option<usize>,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// `speclog checkpoint`: print the latest checkpoint, or add cosignatures.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CheckpointArgs {
    #[command(subcommand)]
    cmd: Option<CheckpointCmd>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Subcommand, Debug)]
enum CheckpointCmd {
    /// Print the latest signed checkpoint with its witness cosignatures (the default).
    Show {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Add witness cosignatures to a checkpoint, each verified against the witness policy.
    #[command(after_help = "\
FILE holds cosignature lines (`— NAME BASE64`, as `speclog witness cosign` prints
them) or a whole cosigned checkpoint. They are checked against the checkpoint the
file carries, else --size, else the latest; nothing is stored unless all verify.

Example:
  speclog witness cosign --log keys/admin.pub --checkpoint cp.txt > cosig.txt
  speclog checkpoint add-cosignature cosig.txt")]
    AddCosignature {
        file: PathBuf,
        /// The size of the checkpoint the lines cosign (default: the latest).
        #[arg(long)]
        size: Option<u64>,
        #[command(flatten)]
        json: JsonFlag,
    },
}

pub fn run_checkpoint(ws: &Workspace, a: CheckpointArgs, out: &mut Out) -> Result<(), Error> {
    match a.cmd {
        None => show_checkpoint(ws, a.json.json, out),
        Some(CheckpointCmd::Show { json }) => show_checkpoint(ws, json.json || a.json.json, out),
        Some(CheckpointCmd::AddCosignature { file, size, json }) => {
            let r = ws.add_cosignatures(&file, size)?;
            if json.json {
                return out.json(&r);
            }
            if !r.added.is_empty() {
                out.line(&format!(
                    "added cosignatures by {} to checkpoint {}",
                    r.added.join(", "),
                    r.size
                ));
            }
            if !r.already.is_empty() {
                out.line(&format!(
                    "checkpoint {} already had cosignatures by {}; kept those",
                    r.size,
                    r.already.join(", ")
                ));
            }
            let by = if r.cosigned_by.is_empty() {
                "none".to_string()
            } else {
                r.cosigned_by.join(", ")
            };
            out.line(&format!(
                "cosigned by {by}; quorum {}: {}",
                r.quorum,
                if r.quorum_met { "met" } else { "not met" }
            ));
            if !r.latest {
                out.line("note: this is not the latest checkpoint; `speclog checkpoint` shows the latest");
            }
            Ok(())
        }
    }
}

fn show_checkpoint(ws: &Workspace, json: bool, out: &mut Out) -> Result<(), Error> {
    let cp = ws.checkpoint()?;
    if json {
        out.json(&serde_json::json!({ "checkpoint": cp }))
    } else {
        out.raw(&cp)
    }
}

fn policy_result(
    out: &mut Out,
    p: &PolicyView,
    json: bool,
    what: Option<String>,
) -> Result<(), Error> {
    if json {
        return out.json(p);
    }
    if let Some(w) = what {
        out.line(&w);
    }
    out.line(&format!("policy {}:", p.file.display()));
    out.raw(&p.text)?;
    out.line(&format!("quorum: {}", p.quorum));
    Ok(())
}

pub fn run_witness(ws: &Workspace, cmd: WitnessCmd, out: &mut Out) -> Result<(), Error> {
    match cmd {
        WitnessCmd::Init {
            name,
            dir,
            encrypt,
            json,
        } => {
            let r = ws.witness_init(&dir.dir, &name, encrypt)?;
            if json.json {
                return out.json(&r);
            }
            out.line(&format!(
                "created witness {} in {}",
                r.name,
                r.dir.display()
            ));
            out.line(&format!(
                "private: {} (mode 0600; never share it)",
                r.private_file.display()
            ));
            out.line(&format!("public:  {}", r.public_file.display()));
            out.line(&format!("verifier key: {}", r.verifier_key));
            out.line(
                "next: give the verifier key to the log operator (`speclog witness add NAME KEY`)",
            );
            Ok(())
        }
        WitnessCmd::Cosign {
            log,
            checkpoint,
            proof,
            dir,
            json,
        } => {
            let r = ws.witness_cosign(&dir.dir, &log, checkpoint.as_deref(), proof.as_deref())?;
            if json.json {
                return out.json(&r);
            }
            out.raw(&r.cosignature)
        }
        WitnessCmd::Serve { addr, logs, dir } => ws.witness_serve(
            &dir.dir,
            &addr,
            &logs,
            |w, a| {
                out.line(&format!(
                    "witness {} listening on http://{a}{}",
                    w.name,
                    speclog::witness::http::ENDPOINT
                ));
            },
            |line| {
                // Request lines come from the network.
                let _ = writeln!(std::io::stderr().lock(), "{}", super::output::inert(line));
            },
        ),
        WitnessCmd::Status { dir, json } => {
            let s = ws.witness_status(&dir.dir)?;
            if json.json {
                return out.json(&s);
            }
            out.line(&format!(
                "witness {} in {}",
                s.witness.name,
                s.witness.dir.display()
            ));
            out.line(&format!("verifier key: {}", s.witness.verifier_key));
            if s.logs.is_empty() {
                out.line("logs: none cosigned yet");
            }
            for l in &s.logs {
                out.line(&format!(
                    "log {}: size {}, root {}",
                    l.origin, l.size, l.root
                ));
            }
            for e in &s.evidence {
                out.line(&format!("evidence: {}", e.display()));
            }
            Ok(())
        }
        WitnessCmd::Add {
            name,
            verifier_key,
            json,
        } => {
            let p = ws.witness_add(&name, &verifier_key)?;
            policy_result(out, &p, json.json, Some(format!("added witness {name}")))
        }
        WitnessCmd::Remove { name, json } => {
            let p = ws.witness_remove(&name)?;
            policy_result(out, &p, json.json, Some(format!("removed witness {name}")))
        }
        WitnessCmd::Policy { quorum, json } => {
            let p = ws.witness_policy(quorum)?;
            policy_result(out, &p, json.json, None)
        }
    }
}
