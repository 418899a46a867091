//! The optional `speclog.toml` beside the ledger database.
//!
//! Every setting is also a flag and an environment variable; precedence is
//! flag, then environment, then this file, then the built-in default. The CLI
//! applies the file after reading it by making each setting the default of
//! the arguments that read its environment variable, so clap gives the
//! precedence above; the process environment is never changed.
//!
//! ```toml
//! origin = "example.org/model-spec"   # SPECLOG_ORIGIN, `init --origin`
//! signer = "policy-team"              # SPECLOG_SIGNER, `--signer`
//! lock_timeout = 30                   # SPECLOG_LOCK_TIMEOUT, `--lock-timeout`
//! pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"  # SPECLOG_PKCS11_MODULE, `--pkcs11-module`
//!
//! [site]
//! title = "Example Lab model spec"    # SPECLOG_SITE_TITLE, `site build --title`
//! base_url = "https://example.org/spec/"  # SPECLOG_BASE_URL, `site build --base-url`
//! out = "site"                        # SPECLOG_SITE_OUT, `site build --out`
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// File name of the config file inside the ledger directory.
pub const CONFIG_FILE: &str = "speclog.toml";
/// Largest config file read.
const MAX_CONFIG: u64 = 64 * 1024;

/// Errors reading the config file.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} is over 64 KiB")]
    TooLarge(PathBuf),
    #[error("{0} is not valid TOML for speclog: {1}")]
    Parse(PathBuf, String),
}

/// The settings a `speclog.toml` may hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub origin: Option<String>,
    pub signer: Option<String>,
    pub lock_timeout: Option<u64>,
    pub pkcs11_module: Option<String>,
    #[serde(default)]
    pub site: SiteConfig,
}

/// The `[site]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub title: Option<String>,
    pub base_url: Option<String>,
    pub out: Option<String>,
}

impl Config {
    /// Parses config text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("").trim().to_string();
            let detail = msg.lines().last().unwrap_or("").trim().to_string();
            ConfigError::Parse(
                path.to_path_buf(),
                if first == detail {
                    first
                } else {
                    format!("{first}: {detail}")
                },
            )
        })
    }

    /// Reads `dir/speclog.toml` if it exists.
    pub fn load(dir: &Path) -> Result<Option<Config>, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ConfigError::Io(path, e)),
        };
        if meta.len() > MAX_CONFIG {
            return Err(ConfigError::TooLarge(path));
        }
        let bytes = crate::fsx::read_file_capped(&path, MAX_CONFIG).map_err(|e| {
            if crate::fsx::is_too_large(&e) {
                ConfigError::TooLarge(path.clone())
            } else {
                ConfigError::Io(path.clone(), e)
            }
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ConfigError::Parse(path.clone(), "not UTF-8".into()))?;
        Config::parse(&text, &path).map(Some)
    }

    /// The settings as (environment variable, value) pairs.
    pub fn env_pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        let mut put = |k: &'static str, x: &Option<String>| {
            if let Some(x) = x {
                v.push((k, x.clone()));
            }
        };
        put("SPECLOG_ORIGIN", &self.origin);
        put("SPECLOG_SIGNER", &self.signer);
        put(
            "SPECLOG_LOCK_TIMEOUT",
            &self.lock_timeout.map(|n| n.to_string()),
        );
        put("SPECLOG_PKCS11_MODULE", &self.pkcs11_module);
        put("SPECLOG_SITE_TITLE", &self.site.title);
        put("SPECLOG_BASE_URL", &self.site.base_url);
        put("SPECLOG_SITE_OUT", &self.site.out);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let p = Path::new("speclog.toml");
        let c = Config::parse(
            "origin = \"a.org/s\"\nsigner = \"pt\"\n[site]\ntitle = \"T\"\n",
            p,
        )
        .unwrap();
        assert_eq!(c.origin.as_deref(), Some("a.org/s"));
        assert_eq!(c.site.title.as_deref(), Some("T"));
        assert_eq!(c.env_pairs().len(), 3);
        assert!(matches!(
            Config::parse("unknown = 1\n", p),
            Err(ConfigError::Parse(..))
        ));
        assert!(matches!(
            Config::parse("origin = [\n", p),
            Err(ConfigError::Parse(..))
        ));
        assert!(matches!(
            Config::parse("lock_timeout = -1\n", p),
            Err(ConfigError::Parse(..))
        ));
    }
}
