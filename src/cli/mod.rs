//! Command-line parsing and output. Each subcommand parses, calls
//! [`speclog::app::Workspace`], prints the result, and explains errors.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use speclog::Error;
use speclog::app::{KeySource, Workspace};
use speclog::keys::Passphrase;

mod bench;
mod gov;
mod hints;
mod output;
mod site;
mod witness;

use output::Out;

const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 verification failed; 2 usage or input error.

Examples:
  speclog init --origin example.org/model-spec
  speclog key generate policy-team
  speclog spec release spec.md --version 2025-09-12 --signer policy-team
  speclog log
  speclog verify";

/// A signed, hash-chained, transparency-logged history of an AI model spec.
#[derive(Parser, Debug)]
#[command(name = "speclog", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Ledger directory (holds ledger.sqlite).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SPECLOG_LEDGER",
        default_value = "ledger"
    )]
    ledger: PathBuf,
    /// Key directory (NAME.key private, NAME.pub public).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SPECLOG_KEYS",
        default_value = "keys"
    )]
    keys: PathBuf,
    /// Read the key passphrase from the first line of FILE (else SPECLOG_PASSPHRASE, else a prompt).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    passphrase_file: Option<PathBuf>,
    /// The PKCS#11 module (the token vendor's .so) for pkcs11: URIs without module-path.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SPECLOG_PKCS11_MODULE",
        value_name = "FILE"
    )]
    pkcs11_module: Option<PathBuf>,
    /// Read the token's user PIN from the first line of FILE (else the URI's pin-value, SPECLOG_PKCS11_PIN, or a prompt).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE"
    )]
    pin_file: Option<PathBuf>,
    /// Record entries with this time (RFC 3339 UTC, e.g. 2025-09-12T17:00:00Z) instead of now.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SPECLOG_TIME",
        value_name = "TIME"
    )]
    time: Option<String>,
    /// Seconds to wait for another writer's lock before giving up.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "SPECLOG_LOCK_TIMEOUT",
        default_value_t = 30
    )]
    lock_timeout: u64,
    /// Show the cause chain of errors.
    #[arg(short, long, global = true, help_heading = "Global options")]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a ledger and its admin key (which also signs the log's checkpoints).
    #[command(after_help = "Example:\n  speclog init --origin example.org/model-spec")]
    Init {
        /// The log origin: the first line of every checkpoint, e.g. example.org/model-spec.
        #[arg(long, env = "SPECLOG_ORIGIN")]
        origin: String,
        /// Encrypt the admin key with the passphrase.
        #[arg(long)]
        encrypt: bool,
        #[command(flatten)]
        place: KeyPlace,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Manage signing keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Sign spec releases.
    #[command(subcommand)]
    Spec(SpecCmd),
    /// Record evaluations against spec versions and clauses.
    #[command(subcommand)]
    Eval(gov::EvalCmd),
    /// Record incidents: open, update, resolve, disclose.
    #[command(subcommand)]
    Incident(gov::IncidentCmd),
    /// Compare two releases clause by clause: changed, renamed, added, removed.
    Diff(gov::DiffArgs),
    /// Ask the ledger about a clause, an incident, evaluations or approvals.
    #[command(subcommand)]
    Query(gov::QueryCmd),
    /// Show or change the policy (release approvals).
    #[command(subcommand)]
    Policy(gov::PolicyCmd),
    /// Build or preview the public transparency site.
    #[command(subcommand)]
    Site(site::SiteCmd),
    /// List entries, one line each: seq, time, kind, subject, signer, hash.
    #[command(
        after_help = "Examples:\n  speclog log\n  speclog log --kind spec.release\n  speclog log --json | jq .payload"
    )]
    Log {
        /// Only entries of this kind (a trailing '.' matches a family, e.g. `incident.`).
        #[arg(long)]
        kind: Option<String>,
        /// Start at this sequence number.
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show one entry, decoded: by sequence number or hash prefix.
    #[command(after_help = "Examples:\n  speclog show 3\n  speclog show 9f2c41")]
    Show {
        /// Sequence number, or at least 4 hex digits of the entry hash.
        reference: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Re-check every signature, chain link, content digest, tree hash and checkpoint
    /// of the ledger; or, offline, a published site or a proof file.
    #[command(
        after_help = "Examples:\n  speclog verify\n  speclog verify --site site --key keys/admin.pub --since old-checkpoint\n  speclog verify --proof entry-3.proof --key keys/admin.pub"
    )]
    Verify {
        /// Verify the published site in DIR instead of the ledger: its log/ directory,
        /// then every file against a build of that log.
        #[arg(long, value_name = "DIR", conflicts_with = "proof")]
        site: Option<PathBuf>,
        /// With --site: check only log/ (checkpoint, tiles, entries, blobs), not the pages.
        #[arg(long, requires = "site")]
        log_only: bool,
        /// Verify a proof file (inclusion or consistency) instead of the ledger.
        #[arg(long, value_name = "FILE")]
        proof: Option<PathBuf>,
        /// The encoded entry an inclusion proof is about (default: the one the proof carries).
        #[arg(long, value_name = "FILE", requires = "proof")]
        entry: Option<PathBuf>,
        /// The trusted log verifier key (a .pub file or the key itself).
        #[arg(long, value_name = "VERIFIER_KEY")]
        key: Option<String>,
        /// An older signed checkpoint that the log must extend. With --site it may also be
        /// an older copy of the site (its directory): then a rewrite is named by its first
        /// rewritten entry.
        #[arg(long, value_name = "OLD_CHECKPOINT_FILE")]
        since: Option<PathBuf>,
        /// With --site: a witness policy (C2SP tlog-policy) whose quorum must have cosigned
        /// the checkpoint (default: the site's own log/witnesses.txt, if any).
        #[arg(long, value_name = "POLICY_FILE", requires = "site")]
        witnesses: Option<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Import history from elsewhere.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Produce inclusion and consistency proofs.
    #[command(subcommand)]
    Prove(ProveCmd),
    /// Print the latest signed checkpoint (C2SP tlog-checkpoint as a signed note), or add
    /// witness cosignatures to it.
    Checkpoint(witness::CheckpointArgs),
    /// Run a witness that cosigns checkpoints (C2SP tlog-witness), or manage this ledger's
    /// witness policy.
    #[command(subcommand)]
    Witness(witness::WitnessCmd),
    /// Build a realistic example ledger (and its site), verify it, and show where to look.
    #[command(after_help = "Example:\n  speclog demo --out speclog-demo")]
    Demo {
        /// Directory to create (must not exist or be empty).
        #[arg(long, default_value = "speclog-demo")]
        out: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show the effective configuration and where each value comes from.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Export entries for other tools.
    #[command(
        after_help = "Examples:\n  speclog export --format jsonl > entries.jsonl\n  speclog export --format intoto > statements.jsonl"
    )]
    Export {
        /// jsonl: every entry, decoded, one JSON object a line; intoto: each release and
        /// evaluation as an in-toto Statement v1 with the content digest as subject.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: speclog::app::export::Format,
    },
    /// Measure speclog against the machine's limits and peers on a generated ledger.
    Bench(bench::BenchArgs),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
}

#[derive(Args, Debug, Clone, Copy)]
struct JsonFlag {
    /// Machine-readable JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Print the effective settings: flag or environment variable, `speclog.toml`
    /// beside the ledger, or the default.
    #[command(
        after_help = "The file (LEDGER/speclog.toml), every key optional:\n  origin = \"example.org/model-spec\"   # SPECLOG_ORIGIN\n  signer = \"policy-team\"              # SPECLOG_SIGNER\n  lock_timeout = 30                   # SPECLOG_LOCK_TIMEOUT\n  [site]\n  base_url = \"https://example.org/spec/\"  # SPECLOG_BASE_URL\n  out = \"site\"                        # SPECLOG_SITE_OUT\n  title = \"Example Lab model spec\"   # SPECLOG_SITE_TITLE"
    )]
    Show {
        #[command(flatten)]
        json: JsonFlag,
    },
}

// The arguments of `spec release` (the variant's doc comment is its help).
#[derive(Args, Debug)]
struct ReleaseArgs {
    /// The spec text (Markdown, UTF-8).
    file: PathBuf,
    /// The version label, e.g. 2025-09-12.
    #[arg(long = "version")]
    label: String,
    /// Name of the signing key.
    #[arg(long, env = "SPECLOG_SIGNER")]
    signer: String,
    /// Release notes (Markdown file).
    #[arg(long)]
    notes: Option<PathBuf>,
    /// A deliberate re-release of an existing label with new content.
    #[arg(long)]
    revision: bool,
    /// Incident id(s) this release fixes.
    #[arg(long = "fixes")]
    fixes: Vec<String>,
    #[command(flatten)]
    json: JsonFlag,
}

// The arguments of `import git` (the variant's doc comment is its help).
#[derive(Args, Debug)]
struct ImportGitArgs {
    /// The repository (a working tree or bare repository).
    repo: PathBuf,
    /// The spec file's path inside the repository.
    #[arg(long)]
    path: String,
    /// Name of the signing key.
    #[arg(long, env = "SPECLOG_SIGNER")]
    signer: String,
    /// Regex over the commit subject; its first group (or whole match) is the label.
    #[arg(long, value_name = "REGEX")]
    label_from: Option<String>,
    /// Only commits after this revision.
    #[arg(long, value_name = "REV")]
    since: Option<String>,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Subcommand, Debug)]
enum ImportCmd {
    /// Record each commit that changed a spec file in a git repository as a release.
    /// Labels come from the commit subject (or date); a label re-used for new content
    /// becomes a revision; unchanged re-commits and already imported commits are
    /// skipped, so re-running is idempotent. Uses the git command-line tool.
    #[command(
        after_help = "Examples:\n  speclog import git ../model_spec --path model_spec.md --signer policy-team\n  speclog import git repo --path spec.md --signer policy-team --label-from 'Release (\\S+)' --since v1.0"
    )]
    Git(ImportGitArgs),
}

#[derive(Subcommand, Debug)]
enum ProveCmd {
    /// A c2sp.org/tlog-proof@v1 inclusion proof of one entry in the latest checkpoint
    /// (the entry itself travels as the proof's extra data).
    #[command(
        after_help = "Example:\n  speclog prove inclusion 3 > entry-3.proof\n  speclog verify --proof entry-3.proof --key keys/admin.pub"
    )]
    Inclusion {
        /// Sequence number or hash prefix of the entry.
        reference: String,
    },
    /// A consistency proof that the log of OLD_SIZE entries is a prefix of NEW_SIZE.
    #[command(
        after_help = "Example:\n  speclog prove consistency 5 > since-5.proof\n  speclog verify --proof since-5.proof --since checkpoint-5 --key keys/admin.pub"
    )]
    Consistency {
        old_size: u64,
        /// Default: the latest checkpoint.
        new_size: Option<u64>,
    },
}

/// Where a new signing key goes, when not in a key file.
#[derive(clap::Args, Debug)]
struct KeyPlace {
    /// Create the key inside a PKCS#11 token, named by an RFC 7512 URI
    /// (pkcs11:token=LABEL;object=NAME); it never leaves the token.
    #[arg(long, value_name = "URI", conflicts_with_all = ["encrypt", "ssh_agent"])]
    pkcs11: Option<String>,
    /// Use an Ed25519 key ssh-agent holds: its SHA256: fingerprint (`ssh-add -l`) or its comment.
    #[arg(long, value_name = "FINGERPRINT|COMMENT", conflicts_with = "encrypt")]
    ssh_agent: Option<String>,
}

impl KeyPlace {
    fn source(self, encrypt: bool) -> KeySource {
        match (self.pkcs11, self.ssh_agent) {
            (Some(u), _) => KeySource::Pkcs11(u),
            (None, Some(a)) => KeySource::Agent(a),
            (None, None) => KeySource::File { encrypt },
        }
    }
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Generate a key pair in the key directory and register it in the ledger.
    #[command(
        after_help = "Examples:\n  speclog key generate policy-team\n  speclog key generate evals --role evaluator"
    )]
    Generate {
        name: String,
        /// Role(s) of the key; default: spec-owner, evaluator, incident-responder.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Encrypt the private key with the passphrase.
        #[arg(long)]
        encrypt: bool,
        /// Create the key inside a PKCS#11 token instead, named by an RFC 7512
        /// URI (pkcs11:token=LABEL;object=NAME); it never leaves the token.
        #[arg(long, value_name = "URI", conflicts_with = "encrypt")]
        pkcs11: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Register an existing key: a public key (a .pub file from another
    /// machine), a key in a PKCS#11 token, or a key ssh-agent holds.
    #[command(
        after_help = "Examples:\n  speclog key register auditor --public auditor.pub --role auditor\n  speclog key register release --pkcs11 'pkcs11:token=lab;object=release'\n  speclog key register ops --ssh-agent SHA256:yOmR0PqRN0Fw3fG2ZbF6cFf3H5zJ1V2sbEeGj7Gqvxc"
    )]
    #[command(group(clap::ArgGroup::new("held").required(true).args(["public", "pkcs11", "ssh_agent"])))]
    Register {
        name: String,
        /// The verifier-key file (name+hexkeyid+base64key).
        #[arg(long)]
        public: Option<PathBuf>,
        /// An Ed25519 key in a PKCS#11 token, named by an RFC 7512 URI.
        #[arg(long, value_name = "URI")]
        pkcs11: Option<String>,
        /// An Ed25519 key ssh-agent holds: its SHA256: fingerprint (`ssh-add -l`) or its comment.
        #[arg(long, value_name = "FINGERPRINT|COMMENT")]
        ssh_agent: Option<String>,
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Revoke a key: it can sign nothing after this.
    #[command(after_help = "Example:\n  speclog key revoke policy-team --reason \"laptop lost\"")]
    Revoke {
        name: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Replace a key with a new one with the same roles; older entries stay verifiable.
    #[command(after_help = "Example:\n  speclog key rotate policy-team")]
    Rotate {
        name: String,
        #[arg(long)]
        encrypt: bool,
        #[command(flatten)]
        place: KeyPlace,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List registered keys, their roles and where each private key lives.
    List {
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
enum SpecCmd {
    /// Sign a spec text into the ledger as a release of a version label.
    #[command(
        after_help = "Examples:\n  speclog spec release spec.md --version 2025-09-12 --signer policy-team\n  speclog spec release spec.md --version 2025-09-12 --revision --signer policy-team --notes why.md"
    )]
    Release(ReleaseArgs),
    /// Approve the latest release of a label (multi-party approval).
    Approve(gov::ApproveArgs),
}

/// The ledger directory the command line names: a lenient first parse
/// (missing arguments may still come from `speclog.toml`), else
/// `SPECLOG_LEDGER`, else `ledger`.
fn ledger_dir_from_args(argv: &[OsString]) -> PathBuf {
    Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(argv)
        .ok()
        .and_then(|m| m.get_one::<PathBuf>("ledger").cloned())
        .or_else(|| std::env::var_os("SPECLOG_LEDGER").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("ledger"))
}

/// The settings of `speclog.toml` beside the ledger, as (environment
/// variable, value) pairs, leaving out those the environment sets.
fn file_settings(argv: &[OsString]) -> Result<Vec<(&'static str, String)>, Error> {
    let dir = ledger_dir_from_args(argv);
    if dir.is_file() {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
            _ => ".".to_string(),
        };
        return Err(Error::input(
            format!(
                "--ledger {} is a file; it takes the ledger's directory",
                dir.display()
            ),
            format!("pass the directory that holds ledger.sqlite: --ledger {parent}"),
        ));
    }
    let Some(cfg) = speclog::config::Config::load(&dir).map_err(|e| {
        Error::input(
            e.to_string(),
            "fix the file (see `speclog config show --help` for the settings) or move it away",
        )
    })?
    else {
        return Ok(Vec::new());
    };
    Ok(cfg
        .env_pairs()
        .into_iter()
        .filter(|(k, _)| std::env::var_os(k).is_none())
        .collect())
}

/// `cmd` with each argument whose environment variable `speclog.toml` sets
/// defaulting to the file's value, in every subcommand. Clap then gives
/// flag > environment > file > built-in default, with no change to the
/// process environment.
fn with_file_defaults(mut cmd: clap::Command, file: &[(&'static str, String)]) -> clap::Command {
    let ids: Vec<(clap::Id, &'static str)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?;
            let (_, v) = file.iter().find(|(k, _)| env == *k)?;
            // Leaked once per setting, at start-up: clap keeps defaults as &'static str.
            Some((a.get_id().clone(), &*Box::leak(v.clone().into_boxed_str())))
        })
        .collect();
    for (id, v) in ids {
        // A default satisfies the argument, so it is no longer required.
        cmd = cmd.mut_arg(id, |a| a.default_value(v).required(false));
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name, |c| with_file_defaults(c, file));
    }
    cmd
}

/// Runs the CLI and returns the exit code.
pub fn main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let file = match file_settings(&argv) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", output::inert(&e.to_string()));
            eprintln!("hint: {}", output::inert(&hints::hint(&e)));
            return hints::exit_code(&e);
        }
    };
    let mut cmd = with_file_defaults(Cli::command(), &file);
    let matches = cmd.clone().get_matches_from(&argv);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cmd).exit());
    let verbose = cli.verbose;
    let mut out = Out::stdout();
    match run(cli, &file, &mut out) {
        Ok(()) => 0,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {}", output::inert(&e.to_string()));
            let _ = writeln!(err, "hint: {}", output::inert(&hints::hint(&e)));
            if verbose {
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    let _ = writeln!(err, "  caused by: {s}");
                    src = s.source();
                }
            }
            hints::exit_code(&e)
        }
    }
}

fn workspace(cli: &Cli) -> Result<Workspace, Error> {
    let mut ws = Workspace::new(&cli.ledger, &cli.keys);
    ws.passphrase = match &cli.passphrase_file {
        Some(p) => Passphrase::from_file(p)?,
        None => match std::env::var("SPECLOG_PASSPHRASE") {
            Ok(s) => Passphrase::given(s)?,
            Err(_) => Passphrase::None,
        },
    };
    ws.pkcs11_module = cli
        .pkcs11_module
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    ws.pin = match &cli.pin_file {
        Some(p) => match Passphrase::from_file(p)? {
            Passphrase::Given(pin) => Some(pin),
            Passphrase::None => None,
        },
        None => std::env::var("SPECLOG_PKCS11_PIN")
            .ok()
            .filter(|p| !p.is_empty())
            .map(zeroize::Zeroizing::new),
    };
    // An empty SPECLOG_TIME is unset. A future time is refused: entry times
    // never go back, so one would hold every later entry at that time.
    ws.time = cli.time.clone().filter(|t| !t.is_empty());
    if let Some(t) = &ws.time
        && let Ok(ts) = t.parse::<jiff::Timestamp>()
        && ts > jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5)
    {
        return Err(Error::input(
            format!(
                "--time {t} is in the future (now is {})",
                speclog::ledger::now()
            ),
            "give the time the event happened, at most now; later entries can never be earlier than it",
        ));
    }
    ws.lock_timeout = Duration::from_secs(cli.lock_timeout);
    if std::io::stdin().is_terminal() {
        ws.prompt = Some(Box::new(|msg: &str| rpassword::prompt_password(msg).ok()));
    }
    Ok(ws)
}

fn run(cli: Cli, file_settings: &[(&str, String)], out: &mut Out) -> Result<(), Error> {
    let ws = workspace(&cli)?;
    match cli.command {
        Command::Init {
            origin,
            encrypt,
            place,
            json,
        } => init(&ws, origin, place.source(encrypt), json, out),
        Command::Key(k) => run_key(&ws, k, out),
        Command::Eval(c) => gov::run_eval(&ws, c, out),
        Command::Incident(c) => gov::run_incident(&ws, c, out),
        Command::Diff(a) => gov::run_diff(&ws, a, out),
        Command::Query(c) => gov::run_query(&ws, c, out),
        Command::Policy(c) => gov::run_policy(&ws, c, out),
        Command::Spec(SpecCmd::Approve(a)) => gov::run_approve(&ws, a, out),
        Command::Site(c) => site::run_site(&ws, c, out, cli.verbose),
        Command::Spec(SpecCmd::Release(a)) => spec_release(&ws, a, out),
        Command::Log { kind, from, json } => log(&ws, kind, from, json, out),
        Command::Show { reference, json } => show(&ws, reference, json, out),
        Command::Verify {
            site: Some(dir),
            log_only,
            key,
            since,
            witnesses,
            json,
            ..
        } => verify_site(dir, key, since, witnesses, !log_only, json, out),
        Command::Verify {
            proof: Some(proof),
            entry,
            key,
            since,
            json,
            ..
        } => verify_proof(proof, entry, key, since, json, out),
        Command::Import(ImportCmd::Git(a)) => import_git(&ws, a, out),
        Command::Prove(ProveCmd::Inclusion { reference }) => {
            out.raw(&ws.prove_inclusion(&reference)?)
        }
        Command::Prove(ProveCmd::Consistency { old_size, new_size }) => {
            out.raw(&ws.prove_consistency(old_size, new_size)?)
        }
        Command::Verify { json, since, .. } => verify_ledger(&ws, json, since, out),
        Command::Checkpoint(a) => witness::run_checkpoint(&ws, a, out),
        Command::Witness(c) => witness::run_witness(&ws, c, out),
        Command::Demo { out: dir, json } => demo(dir, json, out),
        Command::Config(ConfigCmd::Show { json }) => config_show(&ws, json, file_settings, out),
        Command::Export { format } => export(&ws, format, out),
        Command::Bench(a) => bench::run_bench(a, out),
        Command::Completions { shell } => completions(shell, out),
        Command::Man => man(out),
    }
}

fn init(
    ws: &Workspace,
    origin: String,
    source: KeySource,
    json: JsonFlag,
    out: &mut Out,
) -> Result<(), Error> {
    let a = ws.init(&origin, &source)?;
    let location = ws.key_location("admin")?;
    if json.json {
        let admin_key = match &location {
            speclog::keys::Location::Ref(p, _) => p.clone(),
            _ => ws.keys.private_path("admin")?,
        };
        out.json(&serde_json::json!({
            "origin": origin,
            "ledger": speclog::ledger::Ledger::db_path(&ws.ledger_dir),
            "admin_key": admin_key,
            "admin_key_location": location.to_string(),
            "checkpoint": a.checkpoint,
        }))
    } else {
        out.line(&format!(
            "created ledger {} for origin {origin}",
            speclog::ledger::Ledger::db_path(&ws.ledger_dir).display()
        ));
        match &location {
            speclog::keys::Location::Ref(..) => out.line(&format!(
                "admin key: in {location} ({} is public)",
                ws.keys.public_path("admin")?.display()
            )),
            _ => out.line(&format!(
                "admin key: {} (keep it private; {} is public)",
                ws.keys.private_path("admin")?.display(),
                ws.keys.public_path("admin")?.display()
            )),
        }
        out.line("next: speclog key generate NAME");
        Ok(())
    }
}

fn spec_release(ws: &Workspace, a: ReleaseArgs, out: &mut Out) -> Result<(), Error> {
    let ReleaseArgs {
        file,
        label,
        signer,
        notes,
        revision,
        fixes,
        json,
    } = a;
    let a = ws.release_spec(&file, &label, &signer, notes.as_deref(), revision, fixes)?;
    let (seq, hash) = a.entries[0];
    let v = ws.show(&seq.to_string())?;
    if json.json {
        // The entry, plus the checkpoint the append produced.
        let mut j = serde_json::to_value(&v).map_err(|e| Error::Io("json".into(), e.into()))?;
        j["checkpoint"] = a.checkpoint.clone().into();
        out.json(&j)
    } else {
        out.line(&format!(
            "released {label} as entry {seq} ({}), content sha256 {}",
            &hex::encode(hash)[..16],
            v.payload["content"]["sha256"].as_str().unwrap_or("")
        ));
        let cl = ws.clauses(&format!("{label}@{seq}"))?;
        out.line(&format!(
            "{} clauses ({} leaves), media type {}",
            cl.clauses.len(),
            cl.leaves,
            cl.media_type
        ));
        if let Some(s) = v.payload.get("supersedes") {
            out.line(&format!(
                "this is a revision: it supersedes entry {}",
                s["seq"]
            ));
        }
        out.line(&format!(
            "log size {}, root {}",
            a.head.size,
            hex::encode(a.head.root)
        ));
        Ok(())
    }
}

fn log(
    ws: &Workspace,
    kind: Option<String>,
    from: u64,
    json: JsonFlag,
    out: &mut Out,
) -> Result<(), Error> {
    let mut err = None;
    ws.for_each_entry(from, |v| {
        if let Some(k) = &kind {
            let hit = match k.strip_suffix('.') {
                Some(p) => v.kind.starts_with(&format!("{p}.")),
                None => &v.kind == k,
            };
            if !hit {
                return Ok(());
            }
        }
        let r = if json.json {
            out.json_line(&v)
        } else {
            out.line(&output::log_line(&v));
            Ok(())
        };
        if let Err(e) = r {
            err = Some(e);
        }
        Ok(())
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn show(ws: &Workspace, reference: String, json: JsonFlag, out: &mut Out) -> Result<(), Error> {
    let v = ws.show(&reference)?;
    if json.json {
        out.json(&v)
    } else {
        out.line(&output::show_text(&v));
        Ok(())
    }
}

fn verify_site(
    dir: PathBuf,
    key: Option<String>,
    since: Option<PathBuf>,
    witnesses: Option<PathBuf>,
    pages: bool,
    json: JsonFlag,
    out: &mut Out,
) -> Result<(), Error> {
    let key = key
        .map(|k| speclog::app::proofs::load_verifier_key(&k))
        .transpose()?;
    // An older copy of the site stands for its checkpoint.
    let old_site = since.as_ref().filter(|p| p.is_dir());
    let since = since
        .as_ref()
        .map(|p| match old_site {
            Some(d) => read_input(&d.join("log").join("checkpoint")),
            None => read_input(p),
        })
        .transpose()?;
    let pb = output::progress("verifying site");
    let r = speclog::app::witness::verify_site(
        &dir,
        key.as_ref(),
        since.as_deref().map(|c| speclog::published::Since {
            checkpoint: c,
            site: old_site.map(PathBuf::as_path),
        }),
        witnesses.as_deref(),
        pages,
        &|d, t| {
            pb.set_length(t);
            pb.set_position(d);
        },
    );
    pb.finish_and_clear();
    let r = r?;
    if json.json {
        return out.json(&r);
    }
    out.line(&format!(
        "ok: {} entries, {} signatures, {} hash tiles, {} entry bundles, {} blobs verified",
        r.entries, r.signatures, r.tiles, r.bundles, r.blobs
    ));
    out.line(&format!(
        "origin {}\nsize {}\nroot {}",
        r.origin, r.size, r.root
    ));
    out.line(&format!("checkpoint signed by: {}", r.signers.join(", ")));
    if let Some(o) = r.extends {
        out.line(&format!(
            "extends the older checkpoint of size {o}: append-only"
        ));
    }
    if let Some(q) = &r.quorum {
        let by = if r.witnesses.is_empty() {
            "no witness".to_string()
        } else {
            r.witnesses.join(", ")
        };
        out.line(&format!("witnesses: cosigned by {by}; quorum {q}: met"));
        if r.witness_policy.as_deref() == Some("published") {
            out.line("warning: checked against the site's own log/witnesses.txt; pass --witnesses with a policy you obtained independently");
        }
    }
    if r.key_source == "published" {
        out.line("warning: checked against the site's own log/verifier-key.txt; pass --key with a key you obtained independently");
    }
    match &r.pages {
        Some(p) => {
            out.line(&format!(
                "pages: all {} files ({:.1} MiB) are byte for byte what a build of this log gives, and there are no others",
                p.files,
                p.bytes as f64 / (1024.0 * 1024.0)
            ));
            out.line(&format!(
                "built with: title {:?}, base URL {}, by speclog {} (source {}), as verify/build.json records",
                p.build.title,
                p.build
                    .base_url
                    .as_deref()
                    .map_or("none".to_string(), |u| format!("{u:?}")),
                p.build.speclog,
                p.build.source
            ));
        }
        None => out.line("note: only log/ is verified (--log-only); the HTML and JSON pages and spec.md files are not compared with it"),
    }
    Ok(())
}

fn verify_proof(
    proof: PathBuf,
    entry: Option<PathBuf>,
    key: Option<String>,
    since: Option<PathBuf>,
    json: JsonFlag,
    out: &mut Out,
) -> Result<(), Error> {
    let Some(key) = key else {
        return Err(Error::input(
            "verifying a proof needs the log's verifier key",
            "give --key keys/admin.pub (or the key line itself)",
        ));
    };
    let key = speclog::app::proofs::load_verifier_key(&key)?;
    let p = read_input(&proof)?;
    let e = entry.map(|p| read_input(&p)).transpose()?;
    let s = since.map(|p| read_input(&p)).transpose()?;
    let r = speclog::app::proofs::verify_proof(&p, e.as_deref(), s.as_deref(), &key)?;
    if json.json {
        return out.json(&r);
    }
    match r.kind {
        "inclusion" => out.line(&format!(
            "ok: entry {} ({}, hash {}) is in the log {} of size {} with root {}",
            r.index.unwrap_or(0),
            r.entry_kind.as_deref().unwrap_or(""),
            r.entry_hash.as_deref().unwrap_or(""),
            r.origin,
            r.size,
            r.root
        )),
        _ => out.line(&format!(
            "ok: the log {} of size {} extends its checkpoint of size {}",
            r.origin,
            r.size,
            r.old_size.unwrap_or(0)
        )),
    }
    Ok(())
}

fn import_git(ws: &Workspace, a: ImportGitArgs, out: &mut Out) -> Result<(), Error> {
    let ImportGitArgs {
        repo,
        path,
        signer,
        label_from,
        since,
        json,
    } = a;
    let pb = output::progress("importing");
    let r = ws.import_git(
        &repo,
        &path,
        &signer,
        label_from.as_deref(),
        since.as_deref(),
        &|d, t| {
            pb.set_length(t);
            pb.set_position(d);
        },
    );
    pb.finish_and_clear();
    let r = r?;
    if json.json {
        return out.json(&r);
    }
    for c in &r.commits {
        let seq = c.seq.map(|s| format!("entry {s}")).unwrap_or_default();
        out.line(&format!(
            "{:.12}  {:<24} {:<17} {seq}",
            c.commit, c.label, c.action
        ));
    }
    out.line(&format!(
        "imported {} releases and {} revisions; skipped {}",
        r.released, r.revisions, r.skipped
    ));
    Ok(())
}

fn verify_ledger(
    ws: &Workspace,
    json: JsonFlag,
    since: Option<PathBuf>,
    out: &mut Out,
) -> Result<(), Error> {
    let since = since.map(|p| read_input(&p)).transpose()?;
    let pb = output::progress("verifying");
    let report = ws.verify(&|done, total| {
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    let report = report?;
    let cosigs = ws.verify_cosignatures()?;
    if let Some(cp) = since {
        let size = ws.verify_extends(&cp)?;
        if !json.json {
            out.line(&format!(
                "extends the given checkpoint of size {size}: append-only"
            ));
        }
    }
    if json.json {
        #[derive(serde::Serialize)]
        struct Full<'a> {
            #[serde(flatten)]
            report: &'a speclog::ledger::verify::Report,
            cosignatures: &'a speclog::app::witness::CosignaturesChecked,
        }
        out.json(&Full {
            report: &report,
            cosignatures: &cosigs,
        })
    } else {
        out.line(&format!(
            "ok: {} entries, {} signatures, {} tree hashes, {} blobs, {} checkpoints verified",
            report.entries, report.signatures, report.tree_hashes, report.blobs, report.checkpoints
        ));
        out.line(&format!("origin {}\nroot {}", report.origin, report.root));
        if cosigs.verified > 0 {
            out.line(&format!(
                "{} witness cosignatures verified",
                cosigs.verified
            ));
        }
        if !cosigs.unchecked.is_empty() {
            out.line(&format!(
                "note: cosignatures of {} not checked: not in the witness policy (ledger/witnesses.txt)",
                cosigs.unchecked.join(", ")
            ));
        }
        Ok(())
    }
}

fn demo(dir: PathBuf, json: JsonFlag, out: &mut Out) -> Result<(), Error> {
    let r = speclog::app::demo::run(&dir)?;
    if json.json {
        return out.json(&r);
    }
    out.line(&format!(
        "speclog demo: built an example ledger in {}\n",
        r.dir.display()
    ));
    for s in &r.steps {
        out.line(&format!("  entry {:>3}  {}  {}", s.seq, s.time, s.what));
    }
    out.line(&format!(
        "\nverified: {} entries, {} signatures, {} tree hashes, {} checkpoints; root {}",
        r.verify.entries,
        r.verify.signatures,
        r.verify.tree_hashes,
        r.verify.checkpoints,
        r.verify.root
    ));
    out.line("\nwhere to look:");
    out.line(&format!("  ledger   {}/ledger.sqlite", r.ledger.display()));
    out.line(&format!(
        "  keys     {}  (private keys are mode 0600)",
        r.keys.display()
    ));
    if let Some(site) = &r.site {
        out.line(&format!("  site     {}/index.html", site.display()));
    }
    out.line(&format!(
        "  try      speclog --ledger {} --keys {} log",
        r.ledger.display(),
        r.keys.display()
    ));
    Ok(())
}

fn config_show(
    ws: &Workspace,
    json: JsonFlag,
    file_settings: &[(&str, String)],
    out: &mut Out,
) -> Result<(), Error> {
    let file = ws.ledger_dir.join(speclog::config::CONFIG_FILE);
    let row = |name: &str, var: &'static str, default: &str| {
        let (value, source) = match std::env::var(var) {
            Ok(v) => (v, format!("environment ({var})")),
            Err(_) => match file_settings.iter().find(|(k, _)| *k == var) {
                Some((_, v)) => (v.clone(), "speclog.toml".to_string()),
                None => (default.to_string(), "default".to_string()),
            },
        };
        (name.to_string(), value, source)
    };
    let rows = vec![
        (
            "ledger".to_string(),
            ws.ledger_dir.display().to_string(),
            "flag, SPECLOG_LEDGER or default".to_string(),
        ),
        (
            "keys".to_string(),
            ws.keys.dir.display().to_string(),
            "flag, SPECLOG_KEYS or default".to_string(),
        ),
        // Once the ledger exists its origin is fixed: show that one,
        // and say so if speclog.toml or the environment names another.
        match ws.open().ok().and_then(|l| l.origin().ok()) {
            Some(o) => {
                let set = row("", "SPECLOG_ORIGIN", "").1;
                let source = if set.is_empty() || set == o {
                    "the ledger".to_string()
                } else {
                    format!("the ledger (ignoring {set}, which is only used by init)")
                };
                ("origin".to_string(), o, source)
            }
            None => row("origin", "SPECLOG_ORIGIN", ""),
        },
        row("signer", "SPECLOG_SIGNER", ""),
        {
            // The flag wins over the environment and the file.
            let (_, env, source) = row("", "SPECLOG_LOCK_TIMEOUT", "30");
            let secs = ws.lock_timeout.as_secs().to_string();
            let source = if env == secs {
                source
            } else {
                "flag (--lock-timeout)".to_string()
            };
            ("lock_timeout".to_string(), secs, source)
        },
        row("site.out", "SPECLOG_SITE_OUT", "site"),
        row("site.base_url", "SPECLOG_BASE_URL", ""),
        row("site.title", "SPECLOG_SITE_TITLE", ""),
    ];
    if json.json {
        let m: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(k, v, s)| (k.clone(), serde_json::json!({"value": v, "source": s})))
            .collect();
        return out
            .json(&serde_json::json!({"file": file, "file_exists": file.exists(), "settings": m}));
    }
    out.line(&format!(
        "config file: {} ({})",
        file.display(),
        if file.exists() { "read" } else { "absent" }
    ));
    for (k, v, src) in rows {
        out.line(&format!(
            "{k:<14} {:<40} {src}",
            if v.is_empty() { "-" } else { &v }
        ));
    }
    Ok(())
}

fn export(
    ws: &Workspace,
    format: speclog::app::export::Format,
    out: &mut Out,
) -> Result<(), Error> {
    let mut err = None;
    ws.export(format, &mut |line| {
        if err.is_none()
            && let Err(e) = out.raw(&line)
        {
            err = Some(e);
        }
    })?;
    err.map_or(Ok(()), Err)
}

fn completions(shell: clap_complete::Shell, out: &mut Out) -> Result<(), Error> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "speclog", &mut buf);
    out.raw(&String::from_utf8_lossy(&buf))
}

fn man(out: &mut Out) -> Result<(), Error> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| Error::Io("man page".into(), e))?;
    out.raw(&String::from_utf8_lossy(&buf))
}

/// Reads a small input file (proof, entry, checkpoint), at most 1 MiB.
fn read_input(p: &std::path::Path) -> Result<Vec<u8>, Error> {
    let m = std::fs::metadata(p).map_err(|e| {
        Error::input(
            format!("cannot read {}: {e}", p.display()),
            "check the path",
        )
    })?;
    if m.len() > 1 << 20 {
        return Err(Error::input(
            format!(
                "{} is {} bytes; proofs, entries and checkpoints are under 1 MiB",
                p.display(),
                m.len()
            ),
            "give the right file",
        ));
    }
    // Capped by the bytes read: /dev/zero or a pipe has no size to check.
    speclog::fsx::read_file_capped(p, 1 << 20).map_err(|e| {
        if speclog::fsx::is_too_large(&e) {
            Error::input(
                format!(
                    "{} is over 1 MiB; proofs, entries and checkpoints are under 1 MiB",
                    p.display()
                ),
                "give the right file",
            )
        } else {
            Error::Io(p.display().to_string(), e)
        }
    })
}

fn run_key(ws: &Workspace, k: KeyCmd, out: &mut Out) -> Result<(), Error> {
    match k {
        KeyCmd::Generate {
            name,
            roles,
            encrypt,
            pkcs11,
            json,
        } => {
            let source = KeyPlace {
                pkcs11,
                ssh_agent: None,
            }
            .source(encrypt);
            let r = ws.key_generate(&name, &roles, &source)?;
            key_result(out, &r, json.json, "generated")
        }
        KeyCmd::Register {
            name,
            public,
            pkcs11,
            ssh_agent,
            roles,
            json,
        } => {
            let r = match public {
                Some(p) => ws.key_register(&name, &p, &roles)?,
                None => {
                    let source = KeyPlace { pkcs11, ssh_agent }.source(false);
                    ws.key_register_held(&name, &source, &roles)?
                }
            };
            key_result(out, &r, json.json, "registered")
        }
        KeyCmd::Rotate {
            name,
            encrypt,
            place,
            json,
        } => {
            let r = ws.key_rotate(&name, &place.source(encrypt))?;
            key_result(out, &r, json.json, "rotated")
        }
        KeyCmd::Revoke { name, reason, json } => {
            let a = ws.key_revoke(&name, reason.as_deref())?;
            if json.json {
                out.json(&serde_json::json!({"name": name, "seq": a.entries[0].0}))
            } else {
                out.line(&format!("revoked {name} in entry {}", a.entries[0].0));
                Ok(())
            }
        }
        KeyCmd::List { json } => {
            let auth = ws.open()?.authority()?;
            // Where the private key of each active key lives (revoked keys sign nothing).
            let location = |k: &speclog::governance::KeyState| -> Option<String> {
                if k.revoked.is_some() {
                    return None;
                }
                Some(match ws.key_location(&k.name) {
                    Ok(l) => l.to_string(),
                    Err(e) => format!("unknown ({e})"),
                })
            };
            let rows: Vec<_> = auth
                .keys
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "name": k.name, "roles": k.roles, "public_key": k.verifier,
                        "added": k.added, "revoked": k.revoked, "private_key": location(k),
                    })
                })
                .collect();
            if json.json {
                out.json(&rows)
            } else {
                for k in &auth.keys {
                    let status = match k.revoked {
                        Some(s) => format!("revoked at entry {s}"),
                        None => "active".into(),
                    };
                    out.line(&format!(
                        "{:<20} {:<40} added at entry {}, {status}\n    {}",
                        k.name,
                        k.roles.join(","),
                        k.added,
                        k.verifier
                    ));
                    if let Some(l) = location(k) {
                        out.line(&format!("    private key: {l}"));
                    }
                }
                Ok(())
            }
        }
    }
}

fn key_result(
    out: &mut Out,
    r: &speclog::app::KeyResult,
    json: bool,
    verb: &str,
) -> Result<(), Error> {
    if json {
        return out.json(r);
    }
    out.line(&format!(
        "{verb} key {} with roles {} (entry {})",
        r.name,
        r.roles.join(", "),
        r.seq
    ));
    match &r.private_file {
        Some(p) if r.location.starts_with("file") => out.line(&format!(
            "private: {} (mode 0600; never commit it)",
            p.display()
        )),
        Some(p) => out.line(&format!(
            "private: in {} (reference {}; no secret in it)",
            r.location,
            p.display()
        )),
        None => {}
    }
    if let Some(p) = &r.public_file {
        out.line(&format!("public:  {}", p.display()));
    }
    out.line(&format!("verifier key: {}", r.public_key));
    Ok(())
}
