//! The EEVDF backend: per-task scheduling attributes for the processes a plan
//! names (every thread of each), and global knobs where the kernel allows.
//!
//! Hogs get nice, SCHED_BATCH or SCHED_IDLE; latency-sensitive tasks get a
//! shorter EEVDF slice (`sched_setattr` with SCHED_OTHER and `sched_runtime`,
//! Linux 6.6+). Each original value goes to the journal before the change.
//! `apply` reconciles: what the plan names is set (new threads included),
//! what it no longer names is put back.

pub mod config;
mod global;
pub mod knobs;
pub mod proc_tasks;
pub mod sched_attr;
pub mod scope;
mod tasks;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::policy::plan::Plan;

use super::journal::{Entry, Journal, TaskAttr};
use super::{Applied, Backend, BackendError, Capability, ForeignChange, Observed, Target};
pub use config::EevdfConfig;
use knobs::KnobAccess;
use proc_tasks::ProcRoot;
use sched_attr::{Syscalls, TaskSched};

/// Where `/proc` and `/sys` are (temp dirs in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub proc: PathBuf,
    pub sys: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
        }
    }
}

/// Notes remembered by [`EevdfBackend::say_once`] before they are forgotten.
const SAID_MAX: usize = 4096;

pub struct EevdfBackend<S: TaskSched = Syscalls> {
    config: EevdfConfig,
    proc: ProcRoot,
    sys_root: PathBuf,
    sched: S,
    journal: Journal,
    /// The slice the kernel reports for a task without a custom one; a
    /// runtime of 0 in a `TaskAttr` means this.
    default_slice_ns: u64,
    self_tgid: u32,
    knobs: Vec<KnobAccess>,
    hands_off: BTreeSet<Target>,
    said: BTreeSet<String>,
    recovered: Applied,
}

impl EevdfBackend<Syscalls> {
    /// The backend on the real `/proc` and `/sys`. If the journal holds
    /// entries (autosa did not exit cleanly), they are restored first.
    pub fn new(
        config: EevdfConfig,
        journal_path: impl Into<PathBuf>,
    ) -> Result<Self, BackendError> {
        Self::with_parts(config, Roots::default(), journal_path, Syscalls)
    }
}

impl<S: TaskSched> EevdfBackend<S> {
    pub fn with_parts(
        config: EevdfConfig,
        roots: Roots,
        journal_path: impl Into<PathBuf>,
        sched: S,
    ) -> Result<Self, BackendError> {
        let journal = Journal::open(journal_path)?;
        let knobs = knobs::probe_all(&roots.proc, &roots.sys);
        let mut backend = EevdfBackend {
            config,
            proc: ProcRoot::new(roots.proc),
            sys_root: roots.sys,
            sched,
            journal,
            default_slice_ns: 0,
            self_tgid: std::process::id(),
            knobs,
            hands_off: BTreeSet::new(),
            said: BTreeSet::new(),
            recovered: Applied::default(),
        };
        backend.refresh_default_slice();
        if let Some(locked) = backend
            .knobs
            .iter()
            .find(|k| !k.readable && k.detail.contains("locked down"))
        {
            tracing::warn!("{}", locked.detail);
        }
        if !backend.journal.is_empty() {
            tracing::warn!(
                journal = %backend.journal.path().display(),
                entries = backend.journal.entries().len(),
                "autosa did not exit cleanly last time: restoring the original values it journaled"
            );
            backend.recovered = backend.restore()?;
        }
        Ok(backend)
    }

    /// What was restored at start from a journal left by a crash.
    pub fn recovered(&self) -> &Applied {
        &self.recovered
    }

    pub fn knobs(&self) -> &[KnobAccess] {
        &self.knobs
    }

    pub fn journal_path(&self) -> &Path {
        self.journal.path()
    }

    /// The default slice is whatever autosa's own thread has: autosa never
    /// gives itself a custom slice.
    fn refresh_default_slice(&mut self) {
        let tid = nix::unistd::gettid().as_raw() as u32;
        if let Ok(attr) = self.sched.get(tid) {
            self.default_slice_ns = attr.runtime_ns;
        }
    }

    /// Runtime 0 stands for the default slice.
    fn normalize(&self, mut attr: TaskAttr) -> TaskAttr {
        if attr.runtime_ns == self.default_slice_ns {
            attr.runtime_ns = 0;
        }
        attr
    }

    /// `current` still shows what autosa applied. A default slice in
    /// `applied` matches any slice the kernel reports: the default moves when
    /// `base_slice_ns` is written.
    fn still_applied(&self, applied: &TaskAttr, current: &TaskAttr) -> bool {
        applied.policy == current.policy
            && applied.nice == current.nice
            && (applied.runtime_ns == 0 || applied.runtime_ns == current.runtime_ns)
    }

    /// Notes that would repeat every interval (a process out of scope, a
    /// knob the kernel refuses) are logged and returned once only.
    fn say_once(&mut self, notes: &mut Vec<String>, note: String) {
        // Notes name pids, so on a host with process churn the set would
        // grow forever: forget them all now and then (a note may repeat).
        if self.said.len() >= SAID_MAX {
            self.said.clear();
        }
        // The caller logs the notes it gets (the daemon with the change that made them).
        if self.said.insert(note.clone()) {
            notes.push(note);
        }
    }

    /// The thread still exists and is the same one (same start time).
    fn thread_alive(&self, tgid: u32, tid: u32, start_time: u64) -> bool {
        self.proc
            .thread_stat(tgid, tid)
            .is_ok_and(|s| s.start_time == start_time)
    }

    fn read_scheduler(&self) -> String {
        crate::sched_ext::read_sched_ext(&self.sys_root)
            .map_or_else(|_| "eevdf".to_owned(), |v| v.scheduler_name())
    }
}

impl<S: TaskSched> Backend for EevdfBackend<S> {
    fn name(&self) -> &'static str {
        "eevdf"
    }

    fn describe_capabilities(&self) -> Vec<Capability> {
        let tid = nix::unistd::gettid().as_raw() as u32;
        let per_task = self.sched.get(tid);
        let mut caps = vec![
            Capability {
                name: "per_task_policy".into(),
                available: per_task.is_ok(),
                detail: match &per_task {
                    Ok(_) => "nice, SCHED_BATCH and SCHED_IDLE per thread (sched_setattr)".into(),
                    Err(e) => format!("sched_getattr failed: {e}"),
                },
            },
            Capability {
                name: "custom_slice".into(),
                available: self.default_slice_ns > 0,
                detail: if self.default_slice_ns > 0 {
                    format!(
                        "EEVDF slice per thread (sched_setattr sched_runtime); default slice {} us",
                        self.default_slice_ns / 1000
                    )
                } else {
                    "the kernel reports no slice: custom slices need Linux 6.6+".into()
                },
            },
        ];
        caps.extend(self.knobs.iter().map(|k| Capability {
            name: format!("knob:{}", k.name),
            available: k.usable(),
            detail: k.detail.clone(),
        }));
        caps
    }

    fn observe(&mut self) -> Result<Observed, BackendError> {
        let mut foreign: Vec<ForeignChange> = Vec::new();
        for entry in self.journal.entries() {
            match entry {
                Entry::Task {
                    tgid,
                    tid,
                    process_start_time,
                    start_time,
                    comm,
                    applied,
                    ..
                } => {
                    if !self.thread_alive(*tgid, *tid, *start_time) {
                        continue;
                    }
                    let target = Target::Process {
                        tgid: *tgid,
                        start_time: *process_start_time,
                    };
                    if foreign.iter().any(|f| f.target == target) {
                        continue;
                    }
                    if let Ok(current) = self.sched.get(*tid)
                        && !self.still_applied(applied, &current)
                    {
                        foreign.push(ForeignChange {
                            target,
                            what: format!("thread {tid} of {tgid} ({comm}) scheduling"),
                            expected: applied.to_string(),
                            found: current.to_string(),
                        });
                    }
                }
                Entry::Knob {
                    name,
                    path,
                    applied,
                    ..
                } => {
                    if let Ok(current) = knobs::read(path)
                        && current != *applied
                    {
                        foreign.push(ForeignChange {
                            target: Target::Knob { name: name.clone() },
                            what: format!("knob {name} ({})", path.display()),
                            expected: applied.clone(),
                            found: current,
                        });
                    }
                }
            }
        }
        Ok(Observed {
            scheduler: self.read_scheduler(),
            foreign,
        })
    }

    fn apply(&mut self, plan: &Plan) -> Result<Applied, BackendError> {
        self.refresh_default_slice();
        let mut out = Applied::default();
        self.apply_tasks(plan, &mut out)?;
        self.apply_knobs(plan, &mut out)?;
        Ok(out)
    }

    fn restore(&mut self) -> Result<Applied, BackendError> {
        let mut out = Applied::default();
        for entry in self.journal.entries() {
            match entry {
                Entry::Task { .. } => self.restore_task(entry, &mut out),
                Entry::Knob { .. } => self.restore_knob(entry, &mut out),
            }
        }
        // Logged by the caller: the daemon at stop, `service::backends` at a recovery.
        self.journal.clear()?;
        Ok(out)
    }

    fn resume(&mut self, target: Option<&Target>) {
        match target {
            Some(t) => {
                self.hands_off.remove(t);
            }
            None => self.hands_off.clear(),
        }
    }
}
