//! SIGHUP: re-read the configuration file and apply what can change without
//! a restart. The policy and switching settings and the sampling interval
//! take effect at once; anything that shapes what was loaded or built at
//! start (backend, state directory, eBPF programs, the metrics listener) is
//! kept and a restart is asked for. A file that does not load changes nothing.
//!
//! The split between the two is pure ([`split`]) and tested with plain values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError, DEFAULT_CONFIG_PATH};

/// Where the daemon's configuration came from, so SIGHUP can read it again.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSource {
    pub path: PathBuf,
}

impl ConfigSource {
    pub fn new(path: impl Into<PathBuf>) -> ConfigSource {
        ConfigSource { path: path.into() }
    }

    /// Loads the file by the rule the CLI uses: the default path may be absent
    /// (defaults), a path the user named must exist.
    pub fn load(&self) -> Result<Config, ConfigError> {
        load(&self.path)
    }
}

fn load(path: &Path) -> Result<Config, ConfigError> {
    // The daemon starts programs this file names, as root: refuse a file
    // someone else could have written (an absent default path is the defaults).
    if std::fs::symlink_metadata(path).is_ok() {
        Config::check_trusted_file(path)?;
    }
    if path == Path::new(DEFAULT_CONFIG_PATH) {
        Config::load_or_default(path)
    } else {
        Config::load(path)
    }
}

/// The daemon's running configuration and where to read the next one.
#[derive(Debug)]
pub struct Reloader {
    source: Option<ConfigSource>,
    current: Config,
}

/// What the daemon must do after an accepted reload, besides what
/// [`Reloader::reload`] did itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The sampling interval changed: restart the ticker.
    pub interval: Option<std::time::Duration>,
}

impl Reloader {
    /// `source` is `None` when the daemon was started without a file to re-read
    /// (a library caller): SIGHUP then only says so.
    pub fn new(source: Option<ConfigSource>, current: Config) -> Reloader {
        Reloader { source, current }
    }

    pub fn current(&self) -> &Config {
        &self.current
    }

    /// Re-reads the file and applies it to the policy engine and the switching
    /// policy. Logs what changed, what waits for a restart, or why the file
    /// was rejected (then nothing changes).
    pub fn reload(
        &mut self,
        engine: &mut crate::policy::Engine,
        switching: &mut crate::switching::SwitchingPolicy,
    ) -> Option<Applied> {
        let Some(source) = &self.source else {
            tracing::warn!("SIGHUP: no configuration file to re-read; nothing changed");
            return None;
        };
        let new = match source.load() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("SIGHUP: configuration rejected, the running one stays: {e}");
                return None;
            }
        };
        let plan = split(&self.current, &new);
        for c in &plan.need_restart {
            tracing::warn!(
                "SIGHUP: {c} needs a restart (systemctl restart autosa); keeping {}",
                c.old
            );
        }
        if plan.applied.is_empty() {
            tracing::info!(path = %source.path.display(), "SIGHUP: configuration reloaded, nothing to change");
            return None;
        }
        if plan.policy_changed(&self.current) {
            match crate::policy::Engine::new(plan.effective.policy.clone()) {
                Ok(e) => *engine = e,
                // Config::load validated the policy section already.
                Err(e) => {
                    tracing::error!(
                        "SIGHUP: policy configuration rejected, the running one stays: {e}"
                    );
                    return None;
                }
            }
        }
        if plan.switching_changed(&self.current) {
            switching.reconfigure(plan.effective.switching.clone());
        }
        let interval = plan
            .interval_changed(&self.current)
            .then_some(plan.effective.collect.interval);
        for c in &plan.applied {
            tracing::info!("SIGHUP: {c}");
        }
        tracing::info!(path = %source.path.display(), changed = plan.applied.len(), "SIGHUP: configuration reloaded");
        self.current = plan.effective;
        Some(Applied { interval })
    }
}

/// One key whose value differs, as `section.key`, old and new (TOML syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} → {}", self.key, self.old, self.new)
    }
}

/// What a reload does: the configuration to run with from now on, the
/// changes it makes and the changes it leaves for a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct Reload {
    pub effective: Config,
    pub applied: Vec<Change>,
    pub need_restart: Vec<Change>,
}

impl Reload {
    pub fn policy_changed(&self, old: &Config) -> bool {
        self.effective.policy != old.policy
    }
    pub fn switching_changed(&self, old: &Config) -> bool {
        self.effective.switching != old.switching
    }
    pub fn interval_changed(&self, old: &Config) -> bool {
        self.effective.collect.interval != old.collect.interval
    }
}

/// Splits `new` into what applies live and what needs a restart.
pub fn split(old: &Config, new: &Config) -> Reload {
    let mut effective = new.clone();
    // Built once at start: the backend (with its own sections), the state
    // directory (journal), the collector (eBPF programs, roots, table sizes)
    // and the metrics listener.
    effective.daemon = old.daemon.clone();
    effective.collect = crate::config::CollectConfig {
        interval: new.collect.interval,
        ..old.collect.clone()
    };
    effective.eevdf = old.eevdf.clone();
    effective.scx = old.scx.clone();
    effective.mcp = old.mcp.clone();
    effective.metrics = old.metrics.clone();
    Reload {
        applied: diff(old, &effective),
        need_restart: diff(&effective, new),
        effective,
    }
}

/// Every leaf key whose value differs between `a` and `b`, in key order.
pub fn diff(a: &Config, b: &Config) -> Vec<Change> {
    let (fa, fb) = (flatten(a), flatten(b));
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (old, new) = (fa.get(k), fb.get(k));
            (old != new).then(|| Change {
                key: k.clone(),
                old: old.cloned().unwrap_or_else(|| "(unset)".into()),
                new: new.cloned().unwrap_or_else(|| "(unset)".into()),
            })
        })
        .collect()
}

fn flatten(c: &Config) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match toml::Value::try_from(c) {
        Ok(v) => walk("", &v, &mut out),
        // Every Config serialises (`default_toml` relies on it too).
        Err(e) => {
            out.insert("(config)".into(), e.to_string());
        }
    }
    out
}

fn walk(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&key, v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("test.toml")).unwrap()
    }

    #[test]
    fn identical_configs_change_nothing() {
        let r = split(&Config::default(), &Config::default());
        assert!(r.applied.is_empty() && r.need_restart.is_empty());
        assert_eq!(r.effective, Config::default());
    }

    #[test]
    fn policy_switching_and_interval_apply_live() {
        let old = Config::default();
        let new = parse(
            "[collect]\ninterval = \"200ms\"\n[switching]\nhold_intervals = 5\n[policy.smoothing]\nwindow = 7\n",
        );
        let r = split(&old, &new);
        assert_eq!(r.effective, new);
        assert!(r.need_restart.is_empty(), "{:?}", r.need_restart);
        let keys: Vec<&str> = r.applied.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "collect.interval",
                "policy.smoothing.window",
                "switching.hold_intervals"
            ]
        );
        assert!(r.interval_changed(&old) && r.switching_changed(&old) && r.policy_changed(&old));
        let c = &r.applied[2];
        assert_eq!((c.old.as_str(), c.new.as_str()), ("3", "5"));
        assert_eq!(c.to_string(), "switching.hold_intervals: 3 → 5");
    }

    #[test]
    fn backend_state_dir_and_collector_keys_wait_for_a_restart() {
        let old = Config::default();
        let new = parse(
            "[daemon]\nbackend = \"none\"\nstate_dir = \"/tmp/x\"\n[collect]\nbpf = false\ninterval = \"2s\"\n",
        );
        let r = split(&old, &new);
        assert_eq!(r.effective.daemon, old.daemon);
        assert!(r.effective.collect.bpf);
        assert_eq!(r.effective.collect.interval, Duration::from_secs(2));
        let restart: Vec<&str> = r.need_restart.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            restart,
            ["collect.bpf", "daemon.backend", "daemon.state_dir"]
        );
        assert_eq!(r.applied.len(), 1);
    }

    #[test]
    fn reconfigured_switching_keeps_its_state() {
        use crate::backend::Observed;
        use crate::policy::plan::{EevdfPlan, HogTreatment, Plan, WorkloadClass};
        use crate::switching::{Command, Input, SwitchingConfig, SwitchingPolicy, TargetSample};
        let s = Duration::from_secs;
        let cfg = SwitchingConfig {
            hold_intervals: 1,
            cooldown_secs: 60,
            regression_min_samples: 1,
            ..SwitchingConfig::default()
        };
        let mut p = SwitchingPolicy::new(cfg.clone());
        let plan = Plan {
            class: WorkloadClass::CpuBound,
            scx: None,
            eevdf: EevdfPlan {
                hogs: HogTreatment::Batch,
                latency_slice_ns: None,
                hog_tgids: vec![100],
                latency_tgids: Vec::new(),
                global_knobs: Vec::new(),
            },
        };
        let metric = TargetSample {
            latency_p99_ns: None,
            throughput: Some(1.0),
        };
        let mut switched = false;
        for t in 0..5 {
            let out = p.step(Input {
                now: s(t),
                class: WorkloadClass::CpuBound,
                confidence: 0.9,
                plan: &plan,
                observed: &Observed::default(),
                metric,
            });
            switched |= matches!(out.command, Command::Apply(_));
        }
        assert!(switched && p.active() == Some(WorkloadClass::CpuBound));
        let before = p.status(s(10));
        p.reconfigure(SwitchingConfig {
            cooldown_secs: 120,
            hold_intervals: 4,
            ..cfg
        });
        let after = p.status(s(10));
        assert_eq!(after.active, Some(WorkloadClass::CpuBound));
        assert_eq!(after.switches_last_hour, before.switches_last_hour);
        // Same last switch, longer period.
        assert_eq!(after.cooldown_left_secs, before.cooldown_left_secs + 60);
    }

    #[test]
    fn a_missing_named_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ConfigSource::new(dir.path().join("nope.toml"))
            .load()
            .unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
    }

    #[test]
    fn a_bad_file_reports_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("autosa.toml");
        std::fs::write(&path, "[collect]\ninterval = \"1s\"\nintervall = 2\n").unwrap();
        let msg = ConfigSource::new(&path).load().unwrap_err().to_string();
        assert!(msg.starts_with(&format!("{}:3:", path.display())), "{msg}");
    }
}
