//! The sched_ext scheduler autosa runs, recorded in the state directory
//! before the daemon relies on it, so that the next start can stop a
//! scheduler left behind by an autosa that was SIGKILLed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::time::Duration;

use super::scx::{find_scheduler_processes, stop_orphan};
use super::{Applied, BackendError, Change};
use crate::sched_ext::read_sched_ext;

/// What runs: enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningRecord {
    pub scheduler: String,
    pub args: Vec<String>,
    /// The scheduler's pid when autosa started it directly; `None` when a
    /// server started it (the pid is then found by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// One small JSON file, replaced atomically.
#[derive(Debug, Clone)]
pub struct RunningFile {
    path: PathBuf,
}

impl RunningFile {
    pub fn new(state_dir: &Path, name: &str) -> Self {
        Self {
            path: state_dir.join(name),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: std::io::Error) -> BackendError {
        BackendError::State {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes the record durably (temp file, fsync, rename).
    pub fn write(&self, record: &RunningRecord) -> Result<(), BackendError> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec(record).expect("plain data serialises");
        std::fs::write(&tmp, text).map_err(|e| self.err(e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e))
    }

    /// Nothing runs any more.
    pub fn clear(&self) -> Result<(), BackendError> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.err(e)),
            _ => Ok(()),
        }
    }

    /// The record a previous run left, if any. An unreadable file is
    /// reported in `notes` and treated as none.
    pub fn read(&self, notes: &mut Vec<String>) -> Result<Option<RunningRecord>, BackendError> {
        let text = match std::fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(BackendError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        match serde_json::from_slice(&text) {
            Ok(r) => Ok(Some(r)),
            Err(e) => {
                notes.push(format!(
                    "{} is unreadable ({e}); ignored",
                    self.path.display()
                ));
                Ok(None)
            }
        }
    }
}

/// Stops the scheduler a previous run recorded, when sysfs still shows it
/// loaded, then forgets the record. With a recorded pid only that process is
/// signalled; without one, every process running that scheduler.
pub async fn recover(
    file: &RunningFile,
    sys_root: &Path,
    proc_root: &Path,
    timeout: Duration,
) -> Result<Applied, BackendError> {
    let mut applied = Applied::default();
    let Some(prev) = file.read(&mut applied.notes)? else {
        file.clear()?;
        return Ok(applied);
    };
    let view = read_sched_ext(sys_root).map_err(|source| BackendError::Read {
        path: sys_root.to_owned(),
        source,
    })?;
    if view.runs(&prev.scheduler) {
        let procs = find_scheduler_processes(proc_root, &prev.scheduler).map_err(|source| {
            BackendError::Read {
                path: proc_root.to_owned(),
                source,
            }
        })?;
        for p in procs
            .iter()
            .filter(|p| prev.pid.is_none_or(|pid| p.pid == pid as i32))
        {
            match stop_orphan(proc_root, p.pid, timeout).await {
                Ok(how) => {
                    tracing::warn!(
                        scheduler = %prev.scheduler, pid = p.pid, ?how,
                        "stopped a scheduler left running by a previous autosa"
                    );
                    applied.changes.push(Change {
                        what: "sched_ext scheduler".into(),
                        from: format!("{} (pid {}, left by a previous run)", prev.scheduler, p.pid),
                        to: "eevdf (kernel default)".into(),
                    });
                }
                Err(e) => applied
                    .notes
                    .push(format!("could not stop {}: {e}", prev.scheduler)),
            }
        }
    }
    file.clear()?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_clear() {
        let dir = tempfile::tempdir().unwrap();
        let f = RunningFile::new(dir.path(), "scx-running.json");
        let mut notes = Vec::new();
        assert_eq!(f.read(&mut notes).unwrap(), None);
        let rec = RunningRecord {
            scheduler: "scx_lavd".into(),
            args: vec!["--performance".into()],
            pid: Some(42),
        };
        f.write(&rec).unwrap();
        assert_eq!(f.read(&mut notes).unwrap(), Some(rec));
        f.clear().unwrap();
        f.clear().unwrap();
        assert_eq!(f.read(&mut notes).unwrap(), None);
        assert!(notes.is_empty());
    }

    #[test]
    fn garbage_is_reported_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let f = RunningFile::new(dir.path(), "x.json");
        std::fs::write(f.path(), b"{not json").unwrap();
        let mut notes = Vec::new();
        assert_eq!(f.read(&mut notes).unwrap(), None);
        assert_eq!(notes.len(), 1);
    }
}
