//! The journal of original values: before autosa changes anything, the thing
//! and its original value are written here (fsync'd, atomically replaced), so
//! that a clean exit, and the next start after a crash, can put them back.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the journal lives unless configured otherwise.
pub const DEFAULT_JOURNAL_PATH: &str = "/var/lib/autosa/journal.json";

/// Scheduling attributes of one thread, as `sched_getattr` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskAttr {
    /// SCHED_OTHER 0, SCHED_BATCH 3, SCHED_IDLE 5.
    pub policy: u32,
    pub nice: i32,
    /// EEVDF slice in ns; 0 stands for the kernel's default slice.
    pub runtime_ns: u64,
    /// `sched_flags` (only SCHED_FLAG_RESET_ON_FORK matters here).
    pub flags: u64,
}

impl std::fmt::Display for TaskAttr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let policy = match self.policy {
            0 => "SCHED_OTHER",
            3 => "SCHED_BATCH",
            5 => "SCHED_IDLE",
            1 => "SCHED_FIFO",
            2 => "SCHED_RR",
            6 => "SCHED_DEADLINE",
            _ => "policy?",
        };
        match self.runtime_ns {
            0 => write!(f, "{policy} nice {} default slice", self.nice),
            ns => write!(f, "{policy} nice {} slice {} us", self.nice, ns / 1000),
        }
    }
}

/// One thing autosa changed, with its original value and the value autosa set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Entry {
    /// A thread's scheduling attributes. `start_time` (field 22 of its
    /// `stat`) makes sure a recycled tid is never touched.
    Task {
        tgid: u32,
        tid: u32,
        /// Start time of the process (tgid), for back-off targets.
        process_start_time: u64,
        /// Start time of the thread (tid).
        start_time: u64,
        comm: String,
        original: TaskAttr,
        applied: TaskAttr,
    },
    /// A global knob file (sysctl, debugfs).
    Knob {
        name: String,
        path: PathBuf,
        original: String,
        applied: String,
    },
}

impl Entry {
    /// Two entries about the same thing (one replaces the other).
    pub fn same_subject(&self, other: &Entry) -> bool {
        match (self, other) {
            (
                Entry::Task {
                    tid: a,
                    start_time: sa,
                    ..
                },
                Entry::Task {
                    tid: b,
                    start_time: sb,
                    ..
                },
            ) => a == b && sa == sb,
            (Entry::Knob { path: a, .. }, Entry::Knob { path: b, .. }) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JournalFile {
    version: u32,
    entries: Vec<Entry>,
}

const JOURNAL_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read the journal {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the journal {path} is not valid ({source}); it holds the original values \
         of settings autosa changed: inspect it, put them back by hand, then delete it"
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "cannot write the journal {path}: {source}; autosa changes nothing it cannot \
         journal (check that the state directory exists and is writable)"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The journal file and its entries in memory.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl Journal {
    /// Load the journal at `path`; a missing file is an empty journal.
    pub fn open(path: impl Into<PathBuf>) -> Result<Journal, JournalError> {
        let path = path.into();
        let entries = match fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Vec::new(),
            Ok(bytes) => {
                let file: JournalFile =
                    serde_json::from_slice(&bytes).map_err(|source| JournalError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                file.entries
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(JournalError::Read { path, source }),
        };
        Ok(Journal { path, entries })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add entries (replacing any about the same thing) and persist them.
    /// Call before making the changes they describe.
    pub fn record(&mut self, new: Vec<Entry>) -> Result<(), JournalError> {
        if new.is_empty() {
            return Ok(());
        }
        for entry in new {
            if let Some(old) = self.entries.iter_mut().find(|e| e.same_subject(&entry)) {
                *old = entry;
            } else {
                self.entries.push(entry);
            }
        }
        self.save()
    }

    /// Drop entries (after their change was undone or abandoned) and persist.
    pub fn forget(&mut self, mut drop: impl FnMut(&Entry) -> bool) -> Result<(), JournalError> {
        let before = self.entries.len();
        self.entries.retain(|e| !drop(e));
        if self.entries.len() == before {
            return Ok(());
        }
        self.save()
    }

    /// Everything was restored: remove the file.
    pub fn clear(&mut self) -> Result<(), JournalError> {
        self.entries.clear();
        match fs::remove_file(&self.path) {
            Ok(()) => sync_dir(&self.path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(self.write_error(source)),
        }
    }

    fn write_error(&self, source: std::io::Error) -> JournalError {
        JournalError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Write to a temporary file, fsync it, rename it over the journal, fsync
    /// the directory: after a crash the journal is either the old or the new.
    fn save(&self) -> Result<(), JournalError> {
        if self.entries.is_empty() {
            // Nothing left to undo; an absent file says that best.
            return match fs::remove_file(&self.path) {
                Ok(()) => sync_dir(&self.path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(self.write_error(source)),
            };
        }
        let dir = parent(&self.path);
        fs::create_dir_all(dir).map_err(|e| self.write_error(e))?;
        let file = JournalFile {
            version: JOURNAL_VERSION,
            entries: self.entries.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).expect("journal entries serialise");
        bytes.push(b'\n');
        let tmp = self.path.with_extension("json.tmp");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| self.write_error(e))?;
        f.write_all(&bytes).map_err(|e| self.write_error(e))?;
        f.sync_all().map_err(|e| self.write_error(e))?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(|e| self.write_error(e))?;
        sync_dir(&self.path)
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(path: &Path) -> Result<(), JournalError> {
    File::open(parent(path))
        .and_then(|d| d.sync_all())
        .map_err(|source| JournalError::Write {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(tid: u32, start: u64, nice: i32) -> Entry {
        let attr = |nice| TaskAttr {
            policy: 0,
            nice,
            runtime_ns: 0,
            flags: 0,
        };
        Entry::Task {
            tgid: tid,
            tid,
            process_start_time: start,
            start_time: start,
            comm: "hog".into(),
            original: attr(0),
            applied: attr(nice),
        }
    }

    #[test]
    fn survives_reopen_replaces_same_subject_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/journal.json");
        let mut j = Journal::open(&path).unwrap();
        assert!(j.is_empty());
        j.record(vec![task(10, 5, 19), task(11, 5, 19)]).unwrap();
        j.record(vec![task(10, 5, 10)]).unwrap();
        // Same tid, other start time: a recycled tid is another subject.
        j.record(vec![task(10, 6, 19)]).unwrap();
        let again = Journal::open(&path).unwrap();
        assert_eq!(again.entries().len(), 3);
        assert_eq!(again.entries()[0], task(10, 5, 10));
        assert!(!path.with_extension("json.tmp").exists());

        let mut j = again;
        j.forget(|e| matches!(e, Entry::Task { tid: 11, .. }))
            .unwrap();
        assert_eq!(Journal::open(&path).unwrap().entries().len(), 2);
        j.clear().unwrap();
        assert!(!path.exists());
        assert!(Journal::open(&path).unwrap().is_empty());
    }

    #[test]
    fn knob_entries_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.json");
        let mut j = Journal::open(&path).unwrap();
        let e = Entry::Knob {
            name: "sched_autogroup_enabled".into(),
            path: "/proc/sys/kernel/sched_autogroup_enabled".into(),
            original: "1".into(),
            applied: "0".into(),
        };
        j.record(vec![e.clone()]).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"kind\": \"knob\""), "{text}");
        assert_eq!(Journal::open(&path).unwrap().entries(), &[e]);
    }

    #[test]
    fn a_corrupt_journal_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.json");
        fs::write(&path, "{ not json").unwrap();
        let err = Journal::open(&path).unwrap_err();
        assert!(matches!(err, JournalError::Corrupt { .. }));
        assert!(err.to_string().contains("put them back by hand"), "{err}");
    }
}
