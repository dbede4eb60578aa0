//! The control protocol: newline-delimited JSON, one `Request` in, one
//! `Response` out. Field names are a public interface (scripts use
//! `autosa status --json`): add fields, never rename them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::Snapshot;
use crate::model::snapshot::ProbeDrops;
use crate::policy::plan::WorkloadClass;
use crate::switching::SwitchingStatus;
use crate::switching::decision::Decision;

/// Bumped when a change would break an older client.
pub const PROTOCOL_VERSION: u32 = 1;

/// Where the daemon listens unless configured otherwise (systemd's
/// RuntimeDirectory=autosa).
pub fn default_socket_path() -> PathBuf {
    PathBuf::from("/run/autosa/autosa.sock")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// What the daemon sees and does now.
    Status,
    /// The latest snapshot (what `autosa snapshot --json` prints).
    Snapshot,
    /// What each backend offers (schedulers, per-task actions).
    Schedulers,
    /// A manual choice: `name` is a workload class (`latency_sensitive`) or
    /// a scheduler the backend offers (`scx_lavd`). Automatic switching
    /// pauses for `for_secs` (until `resume` when absent). It still goes
    /// through the backend's safety rules (scope, journal, trusted paths).
    Switch {
        name: String,
        #[serde(default)]
        for_secs: Option<u64>,
    },
    /// Stop automatic switching (for `for_secs`, or until `resume`).
    Pause {
        #[serde(default)]
        for_secs: Option<u64>,
    },
    /// End a pause, a manual choice and every back-off.
    Resume,
    /// Decisions, switches, rollbacks and metrics from the history store:
    /// at most `limit` (1000 when absent, never more than 10,000) of the
    /// newest, oldest first.
    History {
        #[serde(default)]
        since_secs: Option<u64>,
        #[serde(default)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Response {
    Status(Box<DaemonStatus>),
    Snapshot(Box<Snapshot>),
    Schedulers(Vec<BackendOffer>),
    /// A command was taken; the message says what will happen.
    Accepted {
        message: String,
    },
    /// Records of the history store, oldest first: `history::Entry` as JSON
    /// (`time_unix_ms`, `type` and the record's fields).
    History(Vec<serde_json::Value>),
    /// The request was refused or failed; the message says why and what to do.
    Error {
        message: String,
    },
}

impl Response {
    /// The answer's `type` on the wire, to name it in an error.
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Status(_) => "status",
            Response::Snapshot(_) => "snapshot",
            Response::Schedulers(_) => "schedulers",
            Response::Accepted { .. } => "accepted",
            Response::History(_) => "history",
            Response::Error { .. } => "error",
        }
    }
}

/// What the daemon sees and does now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub protocol: u32,
    pub version: String,
    pub pid: u32,
    pub started_unix_ms: u64,
    pub backend: String,
    pub dry_run: bool,
    pub interval_ms: u64,
    /// The latest classification, `None` before the first interval.
    pub class: Option<WorkloadClass>,
    pub confidence: f64,
    /// For people, most important first.
    pub reasons: Vec<String>,
    /// The scheduler the backend observes (`eevdf`, `scx_lavd`, …).
    pub scheduler: String,
    /// When the current state began (last switch, or start).
    pub since_unix_ms: u64,
    pub switching: SwitchingStatus,
    /// Automatic switching paused until then (manual choice or `pause`).
    pub paused_until_unix_ms: Option<u64>,
    /// Automatic switching is paused (until `paused_until_unix_ms`, or until
    /// `autosa resume` when that is `None`).
    #[serde(default)]
    pub paused: bool,
    /// The manual choice in force, if any.
    pub manual: Option<String>,
    /// Latest decisions that changed something (switch, rollback, restore,
    /// back-off), oldest first, with wall-clock times.
    pub recent: Vec<TimedDecision>,
    /// Health of each data source.
    pub sources: Vec<SourceHealth>,
    /// Intervals dropped because the daemon was behind.
    pub dropped_intervals: u64,
    /// What the eBPF side could not record since the daemon started (ring
    /// buffer full, maps full); zero without eBPF.
    #[serde(default)]
    pub probe_losses: ProbeDrops,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedDecision {
    pub time_unix_ms: u64,
    #[serde(flatten)]
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// What one backend can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendOffer {
    pub backend: String,
    pub available: bool,
    /// Schedulers (scx, mcp) or actions (eevdf) it offers.
    pub offers: Vec<String>,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_wire_form() {
        let r: Request =
            serde_json::from_str(r#"{"cmd":"switch","name":"scx_lavd","for_secs":60}"#).unwrap();
        assert_eq!(
            r,
            Request::Switch {
                name: "scx_lavd".into(),
                for_secs: Some(60)
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Status).unwrap(),
            r#"{"cmd":"status"}"#
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"rm -rf"}"#).is_err());
        let e = Response::Error {
            message: "no".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"error","data":{"message":"no"}}"#
        );
    }

    #[test]
    fn a_responses_kind_is_its_wire_type() {
        let all = [
            Response::Snapshot(Box::default()),
            Response::Schedulers(vec![]),
            Response::Accepted {
                message: String::new(),
            },
            Response::History(vec![]),
            Response::Error {
                message: String::new(),
            },
        ];
        for r in all {
            let wire = serde_json::to_value(&r).unwrap();
            assert_eq!(wire["type"], r.kind(), "{wire}");
        }
    }
}
