//! The EEVDF backend: per-task scheduling attributes for the processes a plan
//! names (every thread of each), and global knobs where the kernel allows.
//!
//! Hogs get nice, SCHED_BATCH or SCHED_IDLE; latency-sensitive tasks get a
//! shorter EEVDF slice (`sched_setattr` with SCHED_OTHER and `sched_runtime`,
//! Linux 6.6+). Each original value goes to the journal before the change.
//! `apply` reconciles: what the plan names is set (new threads included),
//! what it no longer names is put back.

pub mod config;
pub mod knobs;
pub mod proc_tasks;
pub mod sched_attr;
pub mod scope;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::policy::plan::{HogTreatment, Plan};

use super::journal::{Entry, Journal, TaskAttr};
use super::{Applied, Backend, BackendError, Capability, Change, ForeignChange, Observed, Target};
pub use config::EevdfConfig;
use knobs::KnobAccess;
use proc_tasks::ProcRoot;
use sched_attr::{SCHED_BATCH, SCHED_IDLE, SCHED_OTHER, Syscalls, TaskSched, is_fair};
use scope::Scope;

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

/// What a plan asks for one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Hog(HogTreatment),
    Latency { slice_ns: u64 },
}

impl Role {
    /// The attributes wanted, derived from the thread's original ones.
    fn desired(self, original: TaskAttr) -> TaskAttr {
        match self {
            Role::Hog(HogTreatment::Leave) => original,
            Role::Hog(HogTreatment::Nice(n)) => TaskAttr {
                nice: n.clamp(-20, 19),
                ..original
            },
            Role::Hog(HogTreatment::Batch) => TaskAttr {
                policy: SCHED_BATCH,
                ..original
            },
            Role::Hog(HogTreatment::Idle) => TaskAttr {
                policy: SCHED_IDLE,
                ..original
            },
            Role::Latency { slice_ns } => TaskAttr {
                policy: SCHED_OTHER,
                runtime_ns: slice_ns.clamp(config::MIN_SLICE_NS, config::MAX_SLICE_NS),
                ..original
            },
        }
    }
}

/// One thread the plan wants set.
struct Want {
    tgid: u32,
    tid: u32,
    process_start_time: u64,
    start_time: u64,
    comm: String,
    current: TaskAttr,
    original: TaskAttr,
    desired: TaskAttr,
    journaled: Option<TaskAttr>,
}

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
        if self.said.insert(note.clone()) {
            tracing::info!("{note}");
            notes.push(note);
        }
    }

    /// The thread still exists and is the same one (same start time).
    fn thread_alive(&self, tgid: u32, tid: u32, start_time: u64) -> bool {
        self.proc
            .thread_stat(tgid, tid)
            .is_ok_and(|s| s.start_time == start_time)
    }

    fn collect(&mut self, tgid: u32, role: Role, wants: &mut Vec<Want>, notes: &mut Vec<String>) {
        let scope = Scope {
            config: &self.config,
            proc: &self.proc,
            self_tgid: self.self_tgid,
        };
        let stat = match scope.check(tgid) {
            Ok(stat) => stat,
            Err(why) => {
                self.say_once(notes, format!("process {tgid} left alone: it {why}"));
                return;
            }
        };
        let process = Target::Process {
            tgid,
            start_time: stat.start_time,
        };
        if self.hands_off.contains(&process) {
            return;
        }
        let Ok(tids) = self.proc.threads(tgid) else {
            return;
        };
        let mut found = Vec::new();
        for tid in tids {
            let Ok(tstat) = self.proc.thread_stat(tgid, tid) else {
                continue; // exited meanwhile
            };
            if !is_fair(tstat.policy) {
                self.say_once(
                    notes,
                    format!(
                        "thread {tid} of {tgid} ({}) left alone: it has a real-time or deadline policy",
                        stat.comm
                    ),
                );
                continue;
            }
            let Ok(current) = self.sched.get(tid) else {
                continue;
            };
            let journaled = self.journal.entries().iter().find_map(|e| match e {
                Entry::Task {
                    tid: t,
                    start_time,
                    original,
                    applied,
                    ..
                } if *t == tid && *start_time == tstat.start_time => Some((*original, *applied)),
                _ => None,
            });
            if let Some((_, applied)) = journaled
                && !self.still_applied(&applied, &current)
            {
                self.back_off_process(
                    tgid,
                    stat.start_time,
                    notes,
                    &stat.comm,
                    tid,
                    applied,
                    current,
                );
                return;
            }
            let original = match journaled {
                Some((o, _)) => o,
                None => self
                    .inherited_original(tgid, stat.start_time, stat.ppid, &current)
                    .unwrap_or_else(|| self.normalize(current)),
            };
            found.push(Want {
                tgid,
                tid,
                process_start_time: stat.start_time,
                start_time: tstat.start_time,
                comm: stat.comm.clone(),
                current,
                original,
                desired: role.desired(original),
                journaled: journaled.map(|(_, a)| a),
            });
        }
        wants.extend(found);
    }

    /// A thread or process autosa has not seen yet that was created by one it
    /// changed inherits autosa's values (policy and nice are inherited on
    /// fork): its true original is its creator's. `None` when it shows
    /// anything else.
    fn inherited_original(
        &self,
        tgid: u32,
        process_start_time: u64,
        ppid: u32,
        current: &TaskAttr,
    ) -> Option<TaskAttr> {
        let parent_start = self.proc.process_stat(ppid).ok().map(|s| s.start_time);
        let sources = [(tgid, Some(process_start_time)), (ppid, parent_start)];
        for (owner, owner_start) in sources {
            let Some(owner_start) = owner_start else {
                continue;
            };
            let mut best: Option<(bool, TaskAttr, TaskAttr)> = None;
            for e in self.journal.entries() {
                if let Entry::Task {
                    tgid: g,
                    tid,
                    process_start_time: s,
                    original,
                    applied,
                    ..
                } = e
                    && *g == owner
                    && *s == owner_start
                {
                    let main = *tid == owner;
                    if best.is_none_or(|(m, _, _)| main && !m) {
                        best = Some((main, *original, *applied));
                    }
                }
            }
            if let Some((_, original, applied)) = best {
                return self.still_applied(&applied, current).then_some(original);
            }
        }
        None
    }

    /// Someone else changed a thread autosa had set: let go of the whole
    /// process until `resume`; their value wins.
    #[allow(clippy::too_many_arguments)]
    fn back_off_process(
        &mut self,
        tgid: u32,
        process_start_time: u64,
        notes: &mut Vec<String>,
        comm: &str,
        tid: u32,
        applied: TaskAttr,
        current: TaskAttr,
    ) {
        let note = format!(
            "thread {tid} of {tgid} ({comm}) was changed by someone else (autosa set {applied}, \
             now {current}): autosa leaves process {tgid} alone until `autosa resume`"
        );
        tracing::warn!("{note}");
        notes.push(note);
        self.hands_off.insert(Target::Process {
            tgid,
            start_time: process_start_time,
        });
        // Its other threads go back to their originals (their change is
        // autosa's and uncontested); the changed one keeps its new value.
        let of_process = |e: &Entry| {
            matches!(e, Entry::Task { tgid: g, process_start_time: s, .. }
                if *g == tgid && *s == process_start_time)
        };
        let owned: Vec<Entry> = self
            .journal
            .entries()
            .iter()
            .filter(|e| of_process(e))
            .cloned()
            .collect();
        let mut undone = Applied::default();
        for entry in &owned {
            self.restore_task(entry, &mut undone);
        }
        notes.extend(undone.notes);
        if let Err(e) = self.journal.forget(of_process) {
            tracing::warn!("{e}");
        }
    }

    /// Put one thread back, if it is still the same thread and still shows
    /// what autosa set.
    fn restore_task(&self, entry: &Entry, out: &mut Applied) {
        let Entry::Task {
            tgid,
            tid,
            start_time,
            comm,
            original,
            applied,
            ..
        } = entry
        else {
            return;
        };
        let what = format!("thread {tid} of {tgid} ({comm})");
        if !self.thread_alive(*tgid, *tid, *start_time) {
            return; // exited: nothing to put back
        }
        let current = match self.sched.get(*tid) {
            Ok(c) => c,
            Err(e) => {
                out.notes
                    .push(format!("{what}: cannot read its attributes: {e}"));
                return;
            }
        };
        if !self.still_applied(applied, &current) {
            out.notes.push(format!(
                "{what} was changed by someone else since autosa set it ({current}): left as is"
            ));
            return;
        }
        match self.sched.set(*tid, original) {
            Ok(()) => out.changes.push(Change {
                what,
                from: self.normalize(current).to_string(),
                to: original.to_string(),
            }),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => out
                .notes
                .push(format!("{what}: cannot restore {original}: {e}")),
        }
    }

    fn restore_knob(&self, entry: &Entry, out: &mut Applied) {
        let Entry::Knob {
            name,
            path,
            original,
            applied,
        } = entry
        else {
            return;
        };
        match knobs::read(path) {
            Ok(current) if current == *applied => match knobs::write(path, original) {
                Ok(()) => out.changes.push(Change {
                    what: format!("knob {name}"),
                    from: current,
                    to: original.clone(),
                }),
                Err(e) => out.notes.push(format!(
                    "cannot restore {} to {original}: {e}",
                    path.display()
                )),
            },
            Ok(current) => out.notes.push(format!(
                "knob {name} was changed by someone else since autosa set it ({current}): left as is"
            )),
            Err(e) => out
                .notes
                .push(format!("cannot read {}: {e}", path.display())),
        }
    }

    fn apply_tasks(&mut self, plan: &Plan, out: &mut Applied) -> Result<(), BackendError> {
        let e = &plan.eevdf;
        let mut roles: BTreeMap<u32, Role> = BTreeMap::new();
        if let Some(slice_ns) = e.latency_slice_ns {
            for &tgid in &e.latency_tgids {
                roles.insert(tgid, Role::Latency { slice_ns });
            }
        }
        if e.hogs != HogTreatment::Leave {
            // A process named both ways is treated as a hog: protecting the
            // others matters more than its own latency.
            for &tgid in &e.hog_tgids {
                roles.insert(tgid, Role::Hog(e.hogs));
            }
        }
        let mut wants = Vec::new();
        for (tgid, role) in roles {
            self.collect(tgid, role, &mut wants, &mut out.notes);
        }

        // Journal first, change after.
        let default = self.default_slice_ns;
        let to_set: Vec<&Want> = wants
            .iter()
            .filter(|w| {
                let same_runtime = w.desired.runtime_ns == w.current.runtime_ns
                    || (w.desired.runtime_ns == 0 && w.current.runtime_ns == default);
                !(w.desired.policy == w.current.policy
                    && w.desired.nice == w.current.nice
                    && same_runtime)
            })
            .collect();
        // Inherited values need an entry too (to be put back), even when
        // nothing is to be set.
        let entries: Vec<Entry> = wants
            .iter()
            .filter(|w| {
                let needs_set = to_set.iter().any(|t| std::ptr::eq(*t, *w));
                let inherited = w.journaled.is_none() && w.original != self.normalize(w.current);
                (needs_set || inherited) && w.journaled != Some(w.desired)
            })
            .map(|w| Entry::Task {
                tgid: w.tgid,
                tid: w.tid,
                process_start_time: w.process_start_time,
                start_time: w.start_time,
                comm: w.comm.clone(),
                original: w.original,
                applied: w.desired,
            })
            .collect();
        self.journal.record(entries)?;

        let mut failed: Vec<(u32, u64)> = Vec::new();
        for w in &to_set {
            let what = format!("thread {} of {} ({})", w.tid, w.tgid, w.comm);
            match self.sched.set(w.tid, &w.desired) {
                Ok(()) => out.changes.push(Change {
                    what,
                    from: self.normalize(w.current).to_string(),
                    to: w.desired.to_string(),
                }),
                Err(err) => {
                    if err.raw_os_error() != Some(libc::ESRCH) {
                        out.notes
                            .push(format!("{what}: cannot set {}: {err}", w.desired));
                    }
                    failed.push((w.tid, w.start_time));
                }
            }
        }

        // Put back what the plan no longer names (and forget failed sets).
        let wanted: BTreeSet<(u32, u64)> = wants
            .iter()
            .map(|w| (w.tid, w.start_time))
            .filter(|k| !failed.contains(k))
            .collect();
        let stale: Vec<Entry> = self
            .journal
            .entries()
            .iter()
            .filter(|e| match e {
                Entry::Task {
                    tid, start_time, ..
                } => !wanted.contains(&(*tid, *start_time)),
                Entry::Knob { .. } => false,
            })
            .cloned()
            .collect();
        for entry in &stale {
            if !failed.iter().any(|k| entry_key(entry) == Some(*k)) {
                self.restore_task(entry, out);
            }
        }
        self.journal.forget(|e| stale.contains(e))?;
        Ok(())
    }

    fn apply_knobs(&mut self, plan: &Plan, out: &mut Applied) -> Result<(), BackendError> {
        let mut wanted: BTreeSet<PathBuf> = BTreeSet::new();
        for (name, value) in &plan.eevdf.global_knobs {
            let Some(access) = self.knobs.iter().find(|k| k.name == name).cloned() else {
                self.say_once(
                    &mut out.notes,
                    format!(
                        "unknown knob {name} in the plan, ignored (known: {})",
                        knobs::KNOWN.map(|k| k.0).join(", ")
                    ),
                );
                continue;
            };
            if !access.usable() {
                self.say_once(
                    &mut out.notes,
                    format!("knob {name} not set: {}", access.detail),
                );
                continue;
            }
            let target = Target::Knob { name: name.clone() };
            if self.hands_off.contains(&target) {
                continue;
            }
            let current = knobs::read(&access.path).map_err(|source| BackendError::Read {
                path: access.path.clone(),
                source,
            })?;
            let journaled = self.journal.entries().iter().find_map(|e| match e {
                Entry::Knob {
                    path,
                    original,
                    applied,
                    ..
                } if *path == access.path => Some((original.clone(), applied.clone())),
                _ => None,
            });
            if let Some((_, applied)) = &journaled
                && current != *applied
            {
                let note = format!(
                    "knob {name} was changed by someone else (autosa set {applied}, now {current}): \
                     autosa leaves it alone until `autosa resume`"
                );
                tracing::warn!("{note}");
                out.notes.push(note);
                self.hands_off.insert(target);
                let path = access.path.clone();
                self.journal
                    .forget(|e| matches!(e, Entry::Knob { path: p, .. } if *p == path))?;
                continue;
            }
            wanted.insert(access.path.clone());
            if current == *value {
                continue;
            }
            let original = journaled.map_or_else(|| current.clone(), |(o, _)| o);
            self.journal.record(vec![Entry::Knob {
                name: name.clone(),
                path: access.path.clone(),
                original,
                applied: value.clone(),
            }])?;
            match knobs::write(&access.path, value) {
                Ok(()) => out.changes.push(Change {
                    what: format!("knob {name}"),
                    from: current,
                    to: value.clone(),
                }),
                Err(e) => {
                    out.notes.push(format!(
                        "cannot write {value} to {}: {e}",
                        access.path.display()
                    ));
                    wanted.remove(&access.path);
                }
            }
        }
        let stale: Vec<Entry> = self
            .journal
            .entries()
            .iter()
            .filter(|e| matches!(e, Entry::Knob { path, .. } if !wanted.contains(path)))
            .cloned()
            .collect();
        for entry in &stale {
            self.restore_knob(entry, out);
        }
        self.journal.forget(|e| stale.contains(e))?;
        Ok(())
    }

    fn read_scheduler(&self) -> String {
        let ext = self.sys_root.join("kernel/sched_ext");
        match knobs::read(&ext.join("state")) {
            Ok(state) if state == "enabled" => {
                let ops = knobs::read(&ext.join("root/ops")).unwrap_or_default();
                format!("sched_ext:{ops}")
            }
            _ => "eevdf".to_string(),
        }
    }
}

fn entry_key(entry: &Entry) -> Option<(u32, u64)> {
    match entry {
        Entry::Task {
            tid, start_time, ..
        } => Some((*tid, *start_time)),
        Entry::Knob { .. } => None,
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
        for c in &out.changes {
            tracing::info!(what = %c.what, from = %c.from, to = %c.to, "restored");
        }
        for n in &out.notes {
            tracing::warn!("{n}");
        }
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
