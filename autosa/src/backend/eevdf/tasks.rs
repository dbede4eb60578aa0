//! Per-thread attributes: which threads a plan asks for, their originals
//! (journaled, or inherited from their creator), setting and putting back.

use std::collections::{BTreeMap, BTreeSet};

use crate::backend::journal::{Entry, TaskAttr};
use crate::backend::{Applied, BackendError, Change, Target};
use crate::policy::plan::{HogTreatment, Plan};

use super::EevdfBackend;
use super::config;
use super::sched_attr::{SCHED_BATCH, SCHED_IDLE, SCHED_OTHER, TaskSched, is_fair};
use super::scope::Scope;

/// What a plan asks for one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
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

impl<S: TaskSched> EevdfBackend<S> {
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
    pub(super) fn restore_task(&self, entry: &Entry, out: &mut Applied) {
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
            Err(e) => out.notes.push(format!(
                "{what}: cannot restore {original}: {}",
                why_not(&e)
            )),
        }
    }

    pub(super) fn apply_tasks(
        &mut self,
        plan: &Plan,
        out: &mut Applied,
    ) -> Result<(), BackendError> {
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

        // A failed set leaves the thread as it was: a new entry is dropped, a
        // replaced one gets its previous applied value back.
        let mut failed: Vec<(u32, u64)> = Vec::new();
        let mut unchanged: Vec<Entry> = Vec::new();
        for w in &to_set {
            let what = format!("thread {} of {} ({})", w.tid, w.tgid, w.comm);
            match self.sched.set(w.tid, &w.desired) {
                Ok(()) => out.changes.push(Change {
                    what,
                    from: self.normalize(w.current).to_string(),
                    to: w.desired.to_string(),
                }),
                Err(err) => {
                    let gone = err.raw_os_error() == Some(libc::ESRCH);
                    if !gone {
                        self.say_once(
                            &mut out.notes,
                            format!("{what}: cannot set {}: {}", w.desired, why_not(&err)),
                        );
                    }
                    match w.journaled {
                        Some(applied) if !gone => unchanged.push(Entry::Task {
                            tgid: w.tgid,
                            tid: w.tid,
                            process_start_time: w.process_start_time,
                            start_time: w.start_time,
                            comm: w.comm.clone(),
                            original: w.original,
                            applied,
                        }),
                        _ => failed.push((w.tid, w.start_time)),
                    }
                }
            }
        }
        self.journal.record(unchanged)?;

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
}

fn entry_key(entry: &Entry) -> Option<(u32, u64)> {
    match entry {
        Entry::Task {
            tid, start_time, ..
        } => Some((*tid, *start_time)),
        Entry::Knob { .. } => None,
    }
}

/// A failed `sched_setattr`, with what to do when it is the missing
/// capability: without CAP_SYS_NICE only a process's own user may lower
/// its priority, and nobody may raise it back.
fn why_not(err: &std::io::Error) -> String {
    if err.raw_os_error() == Some(libc::EPERM) {
        format!(
            "{err}: changing the scheduling of other processes needs CAP_SYS_NICE (run autosa \
             as root with CAP_SYS_NICE in its capability bounding set, as \
             contrib/autosa.service does)"
        )
    } else {
        err.to_string()
    }
}
