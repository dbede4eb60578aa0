//! Global knobs in a plan: written where the kernel allows, journaled first,
//! put back when the plan stops naming them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::backend::journal::Entry;
use crate::backend::{Applied, BackendError, Change, Target};
use crate::policy::plan::Plan;

use super::EevdfBackend;
use super::knobs;
use super::sched_attr::TaskSched;

impl<S: TaskSched> EevdfBackend<S> {
    pub(super) fn restore_knob(&self, entry: &Entry, out: &mut Applied) {
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

    pub(super) fn apply_knobs(
        &mut self,
        plan: &Plan,
        out: &mut Applied,
    ) -> Result<(), BackendError> {
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
}
