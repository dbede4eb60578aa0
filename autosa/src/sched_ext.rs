//! What the kernel says is running: `<sys>/kernel/sched_ext/state` and
//! `<sys>/kernel/sched_ext/root/ops`. The one reader of these files: the
//! collector, `auto` backend choice, the scx and mcp backends and `doctor` all
//! trust only this, never what autosa or a peer asked for.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The value of `kernel/sched_ext/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScxState {
    Enabled,
    Disabled,
    Enabling,
    Disabling,
    /// The kernel has no sched_ext (`kernel/sched_ext` is missing).
    Unsupported,
    /// Anything else, kept verbatim (also an empty read).
    Other(String),
}

impl ScxState {
    pub fn parse(text: &str) -> Self {
        match text.trim() {
            "enabled" => ScxState::Enabled,
            "disabled" => ScxState::Disabled,
            "enabling" => ScxState::Enabling,
            "disabling" => ScxState::Disabling,
            other => ScxState::Other(other.to_string()),
        }
    }

    /// The word as sysfs writes it (`unsupported` when there is no sched_ext).
    pub fn as_str(&self) -> &str {
        match self {
            ScxState::Enabled => "enabled",
            ScxState::Disabled => "disabled",
            ScxState::Enabling => "enabling",
            ScxState::Disabling => "disabling",
            ScxState::Unsupported => "unsupported",
            ScxState::Other(s) => s,
        }
    }
}

impl std::fmt::Display for ScxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScxState::Other(s) => write!(f, "{s:?}"),
            known => f.write_str(known.as_str()),
        }
    }
}

/// One reading of sched_ext's sysfs files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedExtView {
    pub state: ScxState,
    /// `root/ops`, e.g. `bpfland_1.1.4_x86_64_unknown_linux_gnu`; absent
    /// while no scheduler is loaded.
    pub ops: Option<String>,
}

impl SchedExtView {
    /// True when sched_ext runs no scheduler (or the kernel has none).
    pub fn is_disabled(&self) -> bool {
        matches!(self.state, ScxState::Disabled | ScxState::Unsupported)
    }

    /// `scheduler` is surely gone: sched_ext is disabled, or runs another
    /// scheduler (not a transient state with the ops file missing).
    pub fn no_longer_runs(&self, scheduler: &str) -> bool {
        self.is_disabled()
            || (self.state == ScxState::Enabled
                && self
                    .ops
                    .as_deref()
                    .is_some_and(|ops| !ops_matches(ops, scheduler)))
    }

    /// What runs, as every backend reports it in `status`: `eevdf` when
    /// sched_ext runs nothing, `sched_ext:<ops>` when a scheduler is enabled,
    /// else `sched_ext:<state>` (one loading or unloading).
    pub fn scheduler_name(&self) -> String {
        match (&self.state, &self.ops) {
            (ScxState::Enabled, Some(ops)) => format!("sched_ext:{ops}"),
            (ScxState::Disabled | ScxState::Unsupported, _) => "eevdf".to_owned(),
            (state, _) => format!("sched_ext:{}", state.as_str()),
        }
    }

    /// True when `scheduler` (e.g. `scx_bpfland`) is loaded and enabled.
    pub fn runs(&self, scheduler: &str) -> bool {
        self.state == ScxState::Enabled
            && self
                .ops
                .as_deref()
                .is_some_and(|ops| ops_matches(ops, scheduler))
    }
}

impl std::fmt::Display for SchedExtView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            ScxState::Unsupported => "no sched_ext",
            other => other.as_str(),
        };
        match &self.ops {
            Some(ops) => write!(f, "state {state}, ops {ops}"),
            None => write!(f, "state {state}"),
        }
    }
}

/// The `root/ops` prefix a scheduler binary registers under: `scx_bpfland` →
/// `bpfland`.
pub fn ops_prefix(scheduler: &str) -> &str {
    scheduler.strip_prefix("scx_").unwrap_or(scheduler)
}

/// Whether `ops` (maybe with a version suffix, `lavd_1.1.4_x86_64…`) belongs
/// to `scheduler` (`scx_lavd`). The prefix must end at `_`, `.` or the end,
/// so `scx_lav` does not match `lavd_…`.
pub fn ops_matches(ops: &str, scheduler: &str) -> bool {
    let prefix = ops_prefix(scheduler);
    match ops.strip_prefix(prefix) {
        Some(rest) => {
            !prefix.is_empty()
                && (rest.is_empty() || rest.starts_with('_') || rest.starts_with('.'))
        }
        None => false,
    }
}

/// The scheduler binary an ops name came from: `bpfland_1.1.4_x86_64…` →
/// `scx_bpfland`. The version starts at the first `_` followed by a digit;
/// C schedulers register without one (`simple`).
pub fn scheduler_of_ops(ops: &str) -> String {
    let bytes = ops.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| bytes[i] == b'_' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        .unwrap_or(bytes.len());
    format!("scx_{}", &ops[..end])
}

/// Reads state and ops under `sys_root`. A kernel without sched_ext (no
/// `kernel/sched_ext`) is `Unsupported`, not an error.
pub fn read_sched_ext(sys_root: &Path) -> io::Result<SchedExtView> {
    let dir = sys_root.join("kernel/sched_ext");
    let state = match std::fs::read_to_string(dir.join("state")) {
        Ok(text) => ScxState::parse(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.exists() => {
            return Ok(SchedExtView {
                state: ScxState::Unsupported,
                ops: None,
            });
        }
        Err(e) => return Err(e),
    };
    let ops = match std::fs::read_to_string(dir.join("root/ops")) {
        Ok(text) => Some(text.trim().to_string()).filter(|s| !s.is_empty()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(SchedExtView { state, ops })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_is_named_alike_for_every_backend() {
        let view = |state: ScxState, ops: Option<&str>| SchedExtView {
            state,
            ops: ops.map(str::to_owned),
        };
        let name = |v: SchedExtView| v.scheduler_name();
        assert_eq!(
            name(view(ScxState::Enabled, Some("lavd_1.1.4"))),
            "sched_ext:lavd_1.1.4"
        );
        assert_eq!(name(view(ScxState::Disabled, None)), "eevdf");
        assert_eq!(name(view(ScxState::Unsupported, None)), "eevdf");
        assert_eq!(name(view(ScxState::Enabled, None)), "sched_ext:enabled");
        assert_eq!(name(view(ScxState::Enabling, None)), "sched_ext:enabling");
        assert_eq!(
            name(view(ScxState::Other("odd".into()), None)),
            "sched_ext:odd"
        );
    }

    #[test]
    fn ops_match_by_prefix_at_word_end() {
        assert!(ops_matches(
            "bpfland_1.1.4_x86_64_unknown_linux_gnu",
            "scx_bpfland"
        ));
        assert!(ops_matches("simple", "scx_simple"));
        assert!(ops_matches("lavd_1.1.4_x86_64", "lavd"));
        assert!(!ops_matches("lavd_1.1.4", "scx_lav"));
        assert!(!ops_matches("bpfland_1.1.4", "scx_lavd"));
        assert!(!ops_matches("", "scx_"));
        assert!(!ops_matches("simplex", "scx_simple"));
        assert!(ops_matches("rusty.1", "scx_rusty"));
    }

    #[test]
    fn scheduler_names_from_ops() {
        assert_eq!(
            scheduler_of_ops("bpfland_1.1.4_x86_64_unknown_linux_gnu"),
            "scx_bpfland"
        );
        assert_eq!(scheduler_of_ops("lavd_1.1.4_x86_64"), "scx_lavd");
        assert_eq!(scheduler_of_ops("simple"), "scx_simple");
        assert_eq!(scheduler_of_ops("p2dq_1.0.0"), "scx_p2dq");
        assert_eq!(scheduler_of_ops("my_sched_2"), "scx_my_sched");
        for ops in ["bpfland_1.1.4_x86_64", "simple", "p2dq_1.0.0"] {
            assert!(ops_matches(ops, &scheduler_of_ops(ops)), "{ops}");
        }
    }

    #[test]
    fn state_parsing_keeps_unknown_values() {
        assert_eq!(ScxState::parse("enabled\n"), ScxState::Enabled);
        assert_eq!(ScxState::parse("disabling\n"), ScxState::Disabling);
        assert_eq!(ScxState::parse(""), ScxState::Other(String::new()));
    }

    #[test]
    fn reads_fake_tree() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            read_sched_ext(tmp.path()).unwrap().state,
            ScxState::Unsupported
        );
        let dir = tmp.path().join("kernel/sched_ext");
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::write(dir.join("state"), "disabled\n").unwrap();
        let view = read_sched_ext(tmp.path()).unwrap();
        assert_eq!(view.state, ScxState::Disabled);
        assert_eq!(view.ops, None);
        std::fs::write(dir.join("state"), "enabled\n").unwrap();
        std::fs::write(dir.join("root/ops"), "lavd_1.1.4_x86_64\n").unwrap();
        let view = read_sched_ext(tmp.path()).unwrap();
        assert!(view.runs("scx_lavd"));
        assert!(!view.runs("scx_bpfland"));
    }
}
