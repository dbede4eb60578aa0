//! How to start schedcp's MCP server and how long to wait for things.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::backoff::BackoffConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// The server binary (schedcp): an absolute path to a file owned by root
    /// that only root can write, in directories only root can write (autosa
    /// runs it as root and never searches `$PATH`); anything else is refused.
    pub command: PathBuf,
    /// Arguments for the server.
    pub args: Vec<String>,
    /// schedcp runs `git rev-parse --show-toplevel`: point this inside a
    /// schedcp checkout.
    pub working_dir: Option<PathBuf>,
    /// Extra environment for the server. HOME is always set (schedcp keeps
    /// its binaries under `$HOME/.schedcp`).
    pub env: BTreeMap<String, String>,
    /// Every MCP call, the handshake included, fails after this.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub call_timeout: Duration,
    /// How long a started scheduler may take to show in sysfs (scx_lavd took
    /// about 24 s under emulation).
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub enable_timeout: Duration,
    /// How long a stopped scheduler may take to leave sysfs.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub disable_timeout: Duration,
    /// After the server claims a stop, how long before the old scheduler
    /// still in sysfs is treated as an orphan.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub orphan_grace: Duration,
    /// SIGINT to an orphan, then SIGKILL after this.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub kill_grace: Duration,
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    /// How often sysfs is read while waiting for a scheduler to show or leave.
    pub poll_interval: Duration,
    /// Restarts of a server that died, with exponential backoff.
    pub restart: BackoffConfig,
    /// Where sysfs is mounted (tests fake `/sys/kernel/sched_ext`).
    pub sys_root: PathBuf,
    /// Where procfs is mounted (to find orphaned schedulers).
    pub proc_root: PathBuf,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            command: PathBuf::from("schedcp"),
            args: Vec::new(),
            working_dir: None,
            env: BTreeMap::new(),
            call_timeout: Duration::from_secs(10),
            enable_timeout: Duration::from_secs(30),
            disable_timeout: Duration::from_secs(10),
            orphan_grace: Duration::from_secs(2),
            kill_grace: Duration::from_secs(3),
            poll_interval: Duration::from_millis(100),
            restart: BackoffConfig::default(),
            sys_root: PathBuf::from("/sys"),
            proc_root: PathBuf::from("/proc"),
        }
    }
}

impl McpConfig {
    /// The HOME the server gets: configured, else ours, else the passwd
    /// entry of our uid.
    pub fn child_home(&self) -> Option<PathBuf> {
        if let Some(home) = self.env.get("HOME") {
            return Some(PathBuf::from(home));
        }
        home_from(std::env::var_os("HOME").as_deref().map(Path::new), || {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
    }
}

fn home_from(
    inherited: Option<&Path>,
    passwd: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    match inherited {
        Some(home) if !home.as_os_str().is_empty() => Some(home.to_path_buf()),
        _ => passwd(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_partial_toml() {
        let c: McpConfig = toml::from_str("").unwrap();
        assert_eq!(c, McpConfig::default());
        assert_eq!(c.command, PathBuf::from("schedcp"));
        assert!(c.args.is_empty());
        assert_eq!(c.sys_root, PathBuf::from("/sys"));
        assert_eq!(c.proc_root, PathBuf::from("/proc"));

        let c: McpConfig = toml::from_str(
            r#"
            command = "/opt/schedcp/target/release/schedcp"
            working_dir = "/opt/schedcp"
            call_timeout = "3s"
            enable_timeout = "45s"
            env = { RUST_LOG = "warn" }
            [restart]
            initial = "250ms"
            "#,
        )
        .unwrap();
        assert_eq!(c.call_timeout, Duration::from_secs(3));
        assert_eq!(c.enable_timeout, Duration::from_secs(45));
        assert_eq!(c.restart.initial, Duration::from_millis(250));
        assert_eq!(c.restart.max, BackoffConfig::default().max);
        assert_eq!(c.env["RUST_LOG"], "warn");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<McpConfig>("comand = \"x\"").unwrap_err();
        assert!(err.to_string().contains("comand"), "{err}");
        assert!(toml::from_str::<McpConfig>("[restart]\nfactor = 3").is_err());
    }

    #[test]
    fn home_is_always_found() {
        let mut c = McpConfig::default();
        c.env.insert("HOME".into(), "/srv/home".into());
        assert_eq!(c.child_home(), Some(PathBuf::from("/srv/home")));

        let passwd = || Some(PathBuf::from("/root"));
        assert_eq!(
            home_from(Some(Path::new("/home/u")), passwd),
            Some(PathBuf::from("/home/u"))
        );
        assert_eq!(home_from(None, passwd), Some(PathBuf::from("/root")));
        assert_eq!(
            home_from(Some(Path::new("")), passwd),
            Some(PathBuf::from("/root"))
        );
    }
}
