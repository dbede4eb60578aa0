//! Settings of the sched_ext backend: where scheduler binaries may come from
//! and how long starting, stopping and watching may take.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[scx]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ScxConfig {
    /// Directories searched, in order, for `scx_*` binaries. A directory or
    /// binary that is not owned by root (or by autosa's own user) or that is
    /// group/world-writable is refused: autosa runs what it finds as root.
    pub search_dirs: Vec<PathBuf>,
    /// Also search `$PATH` after `search_dirs` (same checks). Off by default:
    /// a daemon's PATH is whatever started it.
    pub search_path: bool,
    /// How long a scheduler may take from spawn to `state` = `enabled` with
    /// its `root/ops`. scx_lavd took ~24 s under CPU emulation.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub start_timeout: Duration,
    /// How long a scheduler gets to exit after SIGINT before SIGKILL; also
    /// the bound on waiting for `state` = `disabled` afterwards.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub stop_timeout: Duration,
    /// Watchdog period while a scheduler runs: a death, an ejection or a
    /// replacement is noticed within one period.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
    /// Polling period while confirming a start or a stop through sysfs.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub confirm_poll_interval: Duration,
    /// Output lines of the scheduler kept for error messages.
    pub output_lines: usize,
    /// The `root/ops` name of schedulers that register under another name
    /// than their binary's, e.g. `{ scx_rlfifo = "rustland" }`. Without an
    /// entry `scx_<name>` is expected to register as `<name>` (with or
    /// without a version suffix).
    pub ops_names: BTreeMap<String, String>,
    /// Where sysfs is mounted (tests point it at a fake tree).
    pub sys_root: PathBuf,
    /// Where procfs is mounted (tests point it at a fake tree).
    pub proc_root: PathBuf,
}

impl Default for ScxConfig {
    fn default() -> Self {
        Self {
            search_dirs: vec![
                PathBuf::from("/usr/local/bin"),
                PathBuf::from("/usr/bin"),
                // `cargo install scx_*` as root lands here.
                PathBuf::from("/root/.cargo/bin"),
            ],
            search_path: false,
            start_timeout: Duration::from_secs(30),
            stop_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            confirm_poll_interval: Duration::from_millis(50),
            output_lines: 20,
            ops_names: BTreeMap::new(),
            sys_root: PathBuf::from("/sys"),
            proc_root: PathBuf::from("/proc"),
        }
    }
}

/// A value in `[scx]` that cannot work; `key` names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scx.{key}: {message}")]
pub struct InvalidScxConfig {
    pub key: &'static str,
    pub message: String,
}

impl ScxConfig {
    /// The `root/ops` prefix `scheduler` registers under.
    pub fn ops_prefix_of<'a>(&'a self, scheduler: &'a str) -> &'a str {
        match self.ops_names.get(scheduler) {
            Some(ops) => ops,
            None => crate::sched_ext::ops_prefix(scheduler),
        }
    }

    /// Checks what serde cannot: non-zero periods, absolute directories.
    pub fn validate(&self) -> Result<(), InvalidScxConfig> {
        let durations = [
            ("start_timeout", self.start_timeout),
            ("stop_timeout", self.stop_timeout),
            ("poll_interval", self.poll_interval),
            ("confirm_poll_interval", self.confirm_poll_interval),
        ];
        for (key, value) in durations {
            if value.is_zero() {
                return Err(InvalidScxConfig {
                    key,
                    message: "must be longer than zero, e.g. \"1s\"".into(),
                });
            }
        }
        for dir in &self.search_dirs {
            if !dir.is_absolute() {
                return Err(InvalidScxConfig {
                    key: "search_dirs",
                    message: format!("{} is not an absolute path", dir.display()),
                });
            }
        }
        if self.search_dirs.is_empty() && !self.search_path {
            return Err(InvalidScxConfig {
                key: "search_dirs",
                message: "is empty and search_path is off: no scheduler could be found".into(),
            });
        }
        for (key, root) in [("sys_root", &self.sys_root), ("proc_root", &self.proc_root)] {
            if !root.is_absolute() {
                return Err(InvalidScxConfig {
                    key,
                    message: format!("{} is not an absolute path", root.display()),
                });
            }
        }
        for (scheduler, ops) in &self.ops_names {
            if let Err(e) = super::resolve::validate_name(scheduler) {
                return Err(InvalidScxConfig {
                    key: "ops_names",
                    message: e.to_string(),
                });
            }
            let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
            if ops.is_empty() || !ops.bytes().all(plain) {
                return Err(InvalidScxConfig {
                    key: "ops_names",
                    message: format!(
                        "{scheduler} = {ops:?}: an ops name is lowercase letters, digits and `_`"
                    ),
                });
            }
        }
        if self.output_lines == 0 {
            return Err(InvalidScxConfig {
                key: "output_lines",
                message: "must be at least 1 so failures can show the scheduler's output".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gives_defaults() {
        let parsed: ScxConfig = toml::from_str("").unwrap();
        assert_eq!(parsed, ScxConfig::default());
        assert_eq!(parsed.start_timeout, Duration::from_secs(30));
        assert!(parsed.validate().is_ok());
    }

    #[test]
    fn durations_are_human_readable() {
        let parsed: ScxConfig =
            toml::from_str("start_timeout = \"45s\"\npoll_interval = \"250ms\"").unwrap();
        assert_eq!(parsed.start_timeout, Duration::from_secs(45));
        assert_eq!(parsed.poll_interval, Duration::from_millis(250));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<ScxConfig>("start_timout = \"1s\"").unwrap_err();
        assert!(err.to_string().contains("start_timout"), "{err}");
    }

    #[test]
    fn ops_names_override_the_binary_name() {
        let cfg: ScxConfig = toml::from_str("[ops_names]\nscx_rlfifo = \"rustland\"").unwrap();
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.ops_prefix_of("scx_rlfifo"), "rustland");
        assert_eq!(cfg.ops_prefix_of("scx_lavd"), "lavd");
        let bad: ScxConfig = toml::from_str("[ops_names]\nscx_x = \"Bad Name\"").unwrap();
        assert_eq!(bad.validate().unwrap_err().key, "ops_names");
        let bad: ScxConfig = toml::from_str("[ops_names]\nrlfifo = \"rustland\"").unwrap();
        assert_eq!(bad.validate().unwrap_err().key, "ops_names");
    }

    #[test]
    fn zero_period_and_relative_dir_are_invalid() {
        let cfg = ScxConfig {
            poll_interval: Duration::ZERO,
            ..ScxConfig::default()
        };
        assert_eq!(cfg.validate().unwrap_err().key, "poll_interval");
        let cfg = ScxConfig {
            search_dirs: vec![PathBuf::from("bin")],
            ..ScxConfig::default()
        };
        assert_eq!(cfg.validate().unwrap_err().key, "search_dirs");
    }
}
