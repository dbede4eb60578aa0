//! autosa's configuration: TOML with a default for every key.
//!
//! Unknown keys are rejected (a typo must not silently become a default), and
//! every error names the file, the line and the key so the user can fix it.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where `autosa run` and the CLI look for the configuration by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/autosa/autosa.toml";

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub collect: CollectConfig,
    /// Classification thresholds and the class → scheduler mapping.
    pub policy: crate::policy::PolicyConfig,
    /// When to switch, when to roll back, when to leave things alone.
    pub switching: crate::switching::config::SwitchingConfig,
    /// The EEVDF backend: which processes it may touch and how.
    pub eevdf: crate::backend::eevdf::config::EevdfConfig,
    /// The sched_ext backend: where scheduler binaries may come from, timeouts.
    pub scx: crate::backend::scx::ScxConfig,
    /// The schedcp MCP server autosa drives with the mcp backend.
    pub mcp: crate::backend::mcp::McpConfig,
    /// The control socket (`autosa status`, `switch`, `pause`, …).
    pub control: crate::control::config::ControlConfig,
    /// What the history store keeps (`autosa history`).
    pub history: crate::history::HistoryConfig,
    /// The optional OpenMetrics (Prometheus) endpoint.
    pub metrics: MetricsConfig,
}

/// The OpenMetrics endpoint (`GET /metrics`), off by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve the metrics (off by default).
    pub enabled: bool,
    /// `address:port`. Loopback unless `allow_remote` says otherwise: the
    /// metrics tell what runs on the machine.
    pub listen: String,
    /// Allow a listen address other than loopback (e.g. `0.0.0.0:9477`).
    pub allow_remote: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: "127.0.0.1:9477".into(),
            allow_remote: false,
        }
    }
}

impl MetricsConfig {
    /// The listen address, checked: it parses, and it is loopback unless
    /// remote access was asked for.
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, String> {
        let addr: std::net::SocketAddr = self.listen.parse().map_err(|_| {
            format!(
                "{:?} is not an address:port (e.g. 127.0.0.1:9477 or [::1]:9477)",
                self.listen
            )
        })?;
        if !addr.ip().is_loopback() && !self.allow_remote {
            return Err(format!(
                "{addr} is not a loopback address: set metrics.allow_remote = true to serve \
                 metrics beyond this machine"
            ));
        }
        Ok(addr)
    }
}

/// Which backend acts, and where the daemon keeps its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// `auto` picks the best one this host offers; `none` decides and logs only.
    pub backend: BackendKind,
    /// Decide and log, change nothing (same as `--dry-run`).
    pub dry_run: bool,
    /// Journal of original values (for restore after a crash) and history.
    pub state_dir: PathBuf,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Auto,
            dry_run: false,
            state_dir: PathBuf::from("/var/lib/autosa"),
        }
    }
}

/// The ways autosa can act on the scheduler.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// sched_ext when the kernel has it and schedulers are installed, else eevdf.
    Auto,
    /// schedcp's MCP server.
    Mcp,
    /// sched_ext schedulers run directly.
    Scx,
    /// Per-task EEVDF tuning (and global knobs where the kernel allows).
    Eevdf,
    /// Decide and log only.
    None,
}

/// How telemetry is gathered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CollectConfig {
    /// Time between snapshots.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub interval: Duration,
    /// Load the eBPF programs (run-queue, slice and block latency, per-process
    /// view). Without them autosa runs on procfs alone.
    pub bpf: bool,
    /// Attach the block I/O latency programs.
    pub block_latency: bool,
    /// Run-queue delays above this are reported one by one as events.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub event_threshold: Duration,
    /// Processes kept in each snapshot's per-process table.
    pub top_tasks: usize,
    /// Where procfs is mounted (tests point it at fixtures).
    pub proc_root: PathBuf,
    /// Where sysfs is mounted.
    pub sys_root: PathBuf,
}

impl Default for CollectConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            bpf: true,
            block_latency: true,
            event_threshold: Duration::from_millis(20),
            top_tasks: 20,
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A value serde accepted but validation did not; `line` is where the
    /// key is written (none when it is not in the file, e.g. a relation
    /// between a written key and a default).
    #[error("{}: `{key}`: {message}", located(path, *line))]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        key: String,
        message: String,
    },
    /// The daemon runs the programs this file names as root: only a file
    /// root alone can change may name them.
    #[error(
        "{path}: refusing this configuration: {reason}; autosa runs the programs it names \
         as root, so the file must be owned by root and writable only by root, and so must \
         every directory above it (chown root FILE; chmod go-w FILE)"
    )]
    Untrusted { path: PathBuf, reason: String },
}

fn located(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses and validates the bytes of a config file; `path` is only used
    /// in messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, ConfigError> {
        // Say where the bad byte is, not only "stream did not contain valid UTF-8".
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let n = e.valid_up_to();
            // Valid up to there by definition.
            let valid = std::str::from_utf8(&bytes[..n]).unwrap_or_default();
            let (line, column) = line_column(valid, Some(n..n));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: format!(
                    "invalid UTF-8 (byte 0x{:02x}): the configuration must be UTF-8 text",
                    bytes[e.valid_up_to()]
                ),
            }
        })?;
        Self::parse(text, path)
    }

    /// Checks that only root (or autosa's own user) can change the file at
    /// `path` or any directory above it (see [`crate::trust::check`]); the
    /// daemon refuses any other configuration.
    pub fn check_trusted_file(path: &Path) -> Result<(), ConfigError> {
        use crate::trust::{Kind, TrustError, check};
        match check(path, Kind::Config) {
            Ok(_) => Ok(()),
            Err(TrustError::Insecure { path: what, reason }) => Err(ConfigError::Untrusted {
                path: path.to_owned(),
                // The file itself, or the directory above it that failed.
                reason: if std::fs::canonicalize(path).is_ok_and(|p| p == what) {
                    reason
                } else {
                    format!("{}: {reason}", what.display())
                },
            }),
            Err(TrustError::Io { path: what, source }) => {
                Err(ConfigError::Read { path: what, source })
            }
        }
    }

    /// Reads the file if it exists, the defaults if it does not. Used for the
    /// default path, which a fresh install need not have.
    pub fn load_or_default(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            _ => Self::load(path),
        }
    }

    /// Parses and validates TOML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        check_tables(text).map_err(|(key, message)| ConfigError::Invalid {
            path: path.to_owned(),
            line: key_line(text, &key),
            key,
            message,
        })?;
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = line_column(text, e.span());
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid {
                path: path.to_owned(),
                line: key_line(text, &key),
                key,
                message,
            })?;
        Ok(config)
    }

    /// Checks values serde cannot: ranges and relations between keys.
    /// Returns the offending key and what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !self.daemon.state_dir.is_absolute() {
            return Err((
                "daemon.state_dir".into(),
                format!(
                    "{} is not an absolute path",
                    self.daemon.state_dir.display()
                ),
            ));
        }
        let c = &self.collect;
        if c.interval < Duration::from_millis(50) || c.interval > Duration::from_secs(60) {
            return Err((
                "collect.interval".into(),
                format!(
                    "{} is out of range: use 50ms to 60s",
                    humantime::format_duration(c.interval)
                ),
            ));
        }
        if c.top_tasks == 0 || c.top_tasks > 1000 {
            return Err((
                "collect.top_tasks".into(),
                format!("{} is out of range: use 1 to 1000", c.top_tasks),
            ));
        }
        for (key, root) in [
            ("collect.proc_root", &c.proc_root),
            ("collect.sys_root", &c.sys_root),
        ] {
            if !root.is_absolute() {
                return Err((
                    key.into(),
                    format!("{} is not an absolute path", root.display()),
                ));
            }
        }
        // Each section validates itself; the full dotted key is kept so the
        // message can point at its line.
        use crate::policy::config::ConfigError as Policy;
        use crate::switching::config::ConfigError as Switching;
        self.policy.validate().map_err(|e| {
            let key = match &e {
                Policy::Invalid { key, .. } => format!("policy.{key}"),
                Policy::Scheduler { class, .. } => format!("policy.plans.{class}.scx"),
            };
            (key, e.to_string())
        })?;
        self.switching.validate().map_err(|e| {
            let Switching::Invalid { key, .. } = &e;
            (format!("switching.{key}"), e.to_string())
        })?;
        self.eevdf
            .validate()
            .map_err(|e| (format!("eevdf.{}", e.key), e.to_string()))?;
        self.scx
            .validate()
            .map_err(|e| (format!("scx.{}", e.key), e.to_string()))?;
        self.metrics
            .listen_addr()
            .map_err(|m| ("metrics.listen".to_owned(), m))?;
        self.control
            .validate()
            .map_err(|e| ("control".to_owned(), e))?;
        self.history
            .validate()
            .map_err(|e| ("history".to_owned(), e))?;
        Ok(())
    }

    /// The default configuration as commented TOML, for `autosa config default`.
    pub fn default_toml() -> String {
        let body = toml::to_string_pretty(&Config::default()).expect("default config serialises");
        format!(
            "# autosa configuration ({DEFAULT_CONFIG_PATH}).\n\
             # Every key is optional; these are the defaults. Unknown keys are errors.\n\n{body}"
        )
    }
}

/// 1-based line and column of the start of `span` in `text`.
fn line_column(text: &str, span: Option<Range<usize>>) -> (usize, usize) {
    let Some(span) = span else { return (1, 1) };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// serde fills a struct from an array by position, so `collect = [1, 2]`
/// would read as `interval = 1` and fail with "expected a duration": refuse
/// anything but a table where the configuration has a table, by name.
fn check_tables(text: &str) -> Result<(), (String, String)> {
    fn walk(key: &str, want: &toml::Table, have: &toml::Table) -> Result<(), (String, String)> {
        for (name, default) in want {
            let (toml::Value::Table(want), Some(value)) = (default, have.get(name)) else {
                continue;
            };
            let full = if key.is_empty() {
                name.clone()
            } else {
                format!("{key}.{name}")
            };
            match value {
                toml::Value::Table(have) => walk(&full, want, have)?,
                // Only arrays: a string may be a valid short form (a class
                // plan's `scx = "none"`), and serde names other types itself.
                other @ toml::Value::Array(_) => {
                    return Err((
                        full.clone(),
                        format!(
                            "{} given where a table is needed: write it as [{full}] or {{ key = value, … }}",
                            other.type_str()
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
    // Text that does not parse as TOML is left to the typed parse, which
    // says where.
    let Ok(have) = toml::from_str::<toml::Table>(text) else {
        return Ok(());
    };
    let Ok(toml::Value::Table(want)) = toml::Value::try_from(Config::default()) else {
        return Ok(());
    };
    walk("", &want, &have)
}

/// The 1-based line where the dotted `key` (`collect.interval`) is written:
/// a `key = …` line under its table header, a dotted key, or the key's own
/// `[table]` header. A line scan, not a TOML parser: it runs only on text
/// that already parsed, to point at a value validation refused.
fn key_line(text: &str, key: &str) -> Option<usize> {
    fn path(dotted: &str) -> Vec<String> {
        dotted
            .split('.')
            .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
            .collect()
    }
    let want = path(key);
    // `a.b` names `a.b.c`'s value too (inline tables), and `a.b.c = …` is
    // part of the value of `a.b`.
    let hits = |have: &[String]| {
        let n = have.len().min(want.len());
        n > 0 && have[..n] == want[..n]
    };
    let mut table: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let Some(end) = header.find(']') else {
                continue;
            };
            table = path(&header[..end]);
            if table.len() >= want.len() && hits(&table) {
                return Some(i + 1);
            }
            continue;
        }
        let Some(eq) = line.find('=') else { continue };
        let mut full = table.clone();
        full.extend(path(&line[..eq]));
        if hits(&full) {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/autosa/autosa.toml"))
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn default_toml_round_trips() {
        assert_eq!(parse(&Config::default_toml()).unwrap(), Config::default());
    }

    #[test]
    fn a_class_plan_may_ask_for_no_scheduler_in_short_form() {
        // The VM suite writes this; a check for arrays-as-tables once
        // refused it.
        let c = parse("[policy.plans.cpu_bound]\nscx = \"none\"\n").unwrap();
        assert_eq!(c.policy.plans.cpu_bound.scx, None);
        let err = parse("[policy.plans]\ncpu_bound = [1, 2]\n").unwrap_err();
        assert!(err.to_string().contains("table is needed"), "{err}");
    }

    #[test]
    fn durations_are_human() {
        let c = parse("[collect]\ninterval = \"250ms\"\nevent_threshold = \"5ms\"\n").unwrap();
        assert_eq!(c.collect.interval, Duration::from_millis(250));
        assert_eq!(c.collect.event_threshold, Duration::from_millis(5));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("[collect]\ninterval = \"1s\"\nintervall = \"2s\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/autosa/autosa.toml:3:"), "{msg}");
        assert!(msg.contains("intervall"), "{msg}");
    }

    #[test]
    fn unknown_section_is_rejected() {
        let msg = parse("[colect]\n").unwrap_err().to_string();
        assert!(msg.contains(":1:") && msg.contains("colect"), "{msg}");
    }

    #[test]
    fn bad_type_is_rejected_with_line() {
        let msg = parse("[collect]\n\nbpf = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains(":3:"), "{msg}");
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let msg = parse("[collect]\ninterval = \"1ms\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("collect.interval") && msg.contains("50ms"),
            "{msg}"
        );
        let msg = parse("[collect]\ntop_tasks = 0\n").unwrap_err().to_string();
        assert!(msg.contains("collect.top_tasks"), "{msg}");
    }

    #[test]
    fn metrics_listen_must_parse_and_be_loopback_unless_allowed() {
        let c = parse("[metrics]\nenabled = true\nlisten = \"[::1]:9000\"\n").unwrap();
        assert_eq!(c.metrics.listen_addr().unwrap().port(), 9000);
        let msg = parse("[metrics]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("metrics.listen"), "{msg}");
        let msg = parse("[metrics]\nlisten = \"0.0.0.0:9477\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("allow_remote"), "{msg}");
        parse("[metrics]\nlisten = \"0.0.0.0:9477\"\nallow_remote = true\n").unwrap();
    }

    #[test]
    fn missing_default_path_gives_defaults_but_missing_explicit_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("autosa.toml");
        assert_eq!(Config::load_or_default(&path).unwrap(), Config::default());
        assert!(matches!(Config::load(&path), Err(ConfigError::Read { .. })));
    }
}
