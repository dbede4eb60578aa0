//! Which processes the EEVDF backend may touch. autosa itself, pid 1 and
//! kernel threads are never touched, whatever this says.

use serde::{Deserialize, Serialize};

/// The kernel clamps a custom slice to 0.1 ms … 100 ms.
pub const MIN_SLICE_NS: u64 = 100_000;
pub const MAX_SLICE_NS: u64 = 100_000_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EevdfConfig {
    /// Processes of these users (real uid) are left alone.
    pub exclude_uids: Vec<u32>,
    /// Processes in cgroups under these paths (as in `/proc/<pid>/cgroup`,
    /// e.g. `/system.slice/sshd.service`) are left alone.
    pub exclude_cgroups: Vec<String>,
    /// Processes with these names (`comm`) are left alone.
    pub exclude_comms: Vec<String>,
    /// If not empty, only processes with these names may be touched.
    pub only_comms: Vec<String>,
    /// If not empty, only processes in cgroups under these paths may be touched.
    pub only_cgroups: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("eevdf.{key}: {problem}")]
pub struct EevdfConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl EevdfConfig {
    pub fn validate(&self) -> Result<(), EevdfConfigError> {
        for (key, list) in [
            ("exclude_cgroups", &self.exclude_cgroups),
            ("only_cgroups", &self.only_cgroups),
        ] {
            if let Some(bad) = list.iter().find(|p| !p.starts_with('/')) {
                return Err(EevdfConfigError {
                    key,
                    problem: format!(
                        "{bad:?} is not a cgroup path: write it as in /proc/<pid>/cgroup, starting with /"
                    ),
                });
            }
        }
        for (key, list) in [
            ("exclude_comms", &self.exclude_comms),
            ("only_comms", &self.only_comms),
        ] {
            if let Some(bad) = list.iter().find(|c| c.is_empty() || c.len() > 15) {
                return Err(EevdfConfigError {
                    key,
                    problem: format!(
                        "{bad:?} cannot be a process name: names (comm) are 1 to 15 bytes"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_rejects_bad_values() {
        let c: EevdfConfig = toml::from_str("").unwrap();
        c.validate().unwrap();
        assert!(toml::from_str::<EevdfConfig>("exclude_pids = [1]").is_err());
        let c: EevdfConfig = toml::from_str(r#"exclude_cgroups = ["system.slice"]"#).unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("starting with /")
        );
        let c: EevdfConfig =
            toml::from_str(r#"only_comms = ["a-very-long-process-name"]"#).unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("15 bytes"));
    }
}
