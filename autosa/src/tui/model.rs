//! What `autosa top` shows, as plain data: the screen is a pure function of
//! a [`TopModel`] and the [`UiState`](super::state::UiState), so it is tested
//! without a terminal. Sources fill it through [`Feed`]s.

use crate::control::protocol::{DaemonStatus, TimedDecision};
use crate::model::Snapshot;
use crate::model::snapshot::TaskView;
use crate::policy::Decision as PolicyDecision;
use crate::policy::plan::WorkloadClass;
use crate::switching::decision::{Action, class_name};

/// Timeline entries kept (the pane shows the newest that fit).
pub const TIMELINE_LEN: usize = 64;

/// The class and why, from the daemon or the local policy engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassInfo {
    pub class: WorkloadClass,
    /// In `[0, 1]`.
    pub confidence: f64,
    /// Most important first.
    pub reasons: Vec<String>,
    /// What is applied or would be (scheduler, plan lines).
    pub details: Vec<String>,
}

/// One line of the switch timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub time_unix_ms: u64,
    /// `switch`, `rollback`, `restore`, `back-off`, `hold` or `class`.
    pub kind: &'static str,
    /// What changed, e.g. `default → mixed`.
    pub what: String,
    pub why: String,
}

/// One update from a source: everything it knows now (it replaces the last one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Feed {
    pub snapshot: Option<Snapshot>,
    pub class: Option<ClassInfo>,
    /// Oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// Everything drawn on screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopModel {
    /// Where the data comes from, e.g. `daemon /run/autosa/autosa.sock`.
    pub source: String,
    /// Said in the title bar (e.g. why the daemon was not used).
    pub note: Option<String>,
    /// Configured interval, milliseconds.
    pub interval_ms: u64,
    pub feed: Feed,
    /// The source's last error, cleared by the next good update.
    pub error: Option<String>,
    /// Good updates received.
    pub updates: u64,
}

impl TopModel {
    pub fn new(source: impl Into<String>, note: Option<String>, interval_ms: u64) -> TopModel {
        TopModel {
            source: source.into(),
            note,
            interval_ms,
            ..TopModel::default()
        }
    }

    /// Takes a source's update or error. An error keeps the last data on
    /// screen, so a daemon restart does not blank it.
    pub fn apply(&mut self, update: Result<Feed, String>) {
        match update {
            Ok(feed) => {
                self.feed = feed;
                self.error = None;
                self.updates += 1;
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// How the process table is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskSort {
    /// Total run-queue wait this interval.
    #[default]
    Wait,
    /// Longest single run-queue wait.
    MaxWait,
    Cpu,
    Wakeups,
}

impl TaskSort {
    pub const ALL: [TaskSort; 4] = [
        TaskSort::Wait,
        TaskSort::MaxWait,
        TaskSort::Cpu,
        TaskSort::Wakeups,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TaskSort::Wait => "run-queue wait",
            TaskSort::MaxWait => "max wait",
            TaskSort::Cpu => "CPU",
            TaskSort::Wakeups => "wakeups",
        }
    }
}

/// The tasks sorted by `sort`, largest first (ties by tgid for a stable screen).
pub fn sorted_tasks(tasks: &[TaskView], sort: TaskSort) -> Vec<&TaskView> {
    let mut v: Vec<&TaskView> = tasks.iter().collect();
    v.sort_by(|a, b| {
        let ord = match sort {
            TaskSort::Wait => b.runq_delay_total_ns.cmp(&a.runq_delay_total_ns),
            TaskSort::MaxWait => b.runq_delay_max_ns.cmp(&a.runq_delay_max_ns),
            TaskSort::Cpu => b.cpu_fraction.total_cmp(&a.cpu_fraction),
            TaskSort::Wakeups => b.wakeups_per_sec.total_cmp(&a.wakeups_per_sec),
        };
        ord.then(a.tgid.cmp(&b.tgid))
    });
    v
}

/// The daemon's status and latest snapshot as a feed.
pub fn feed_from_daemon(status: &DaemonStatus, snapshot: Option<Snapshot>) -> Feed {
    let mut details = vec![format!(
        "scheduler {} · backend {}{}",
        if status.scheduler.is_empty() {
            "?"
        } else {
            &status.scheduler
        },
        status.backend,
        if status.dry_run { " (dry run)" } else { "" }
    )];
    details.push(format!("applied: {}", class_name(status.switching.active)));
    if let Some(m) = &status.manual {
        details.push(format!("manual choice: {m}"));
    } else if status.paused_until_unix_ms.is_some() {
        details.push("automatic switching paused".to_owned());
    }
    for s in status.sources.iter().filter(|s| !s.ok) {
        details.push(format!("{} off: {}", s.name, s.detail));
    }
    if status.dropped_intervals > 0 {
        details.push(format!(
            "{} intervals dropped (daemon behind)",
            status.dropped_intervals
        ));
    }
    let class = status.class.map(|class| ClassInfo {
        class,
        confidence: status.confidence,
        reasons: status.reasons.clone(),
        details,
    });
    Feed {
        snapshot,
        class,
        timeline: status.recent.iter().map(timeline_entry).collect(),
    }
}

fn timeline_entry(d: &TimedDecision) -> TimelineEntry {
    let (kind, what) = match &d.decision.action {
        Action::Switch { from, to } => ("switch", format!("{} → {to}", class_name(*from))),
        Action::Rollback { from, to } => ("rollback", format!("{from} → {}", class_name(*to))),
        Action::Restore => ("restore", "→ default".to_owned()),
        Action::Hold { wanted } => ("hold", format!("wanted {}", class_name(*wanted))),
        Action::BackOff { target } => ("back-off", target.to_string()),
    };
    TimelineEntry {
        time_unix_ms: d.time_unix_ms,
        kind,
        what,
        why: d.decision.why.clone(),
    }
}

/// Builds feeds from the local policy engine's decisions (standalone mode):
/// the timeline records each change of class, since nothing is switched.
#[derive(Debug, Default)]
pub struct EngineFeed {
    last_class: Option<WorkloadClass>,
    timeline: Vec<TimelineEntry>,
}

impl EngineFeed {
    pub fn push(&mut self, snapshot: Snapshot, d: &PolicyDecision) -> Feed {
        let c = &d.classification;
        if self.last_class != Some(c.class) {
            let what = match self.last_class {
                Some(prev) => format!("{prev} → {}", c.class),
                None => c.class.to_string(),
            };
            self.timeline.push(TimelineEntry {
                time_unix_ms: d.time_unix_ms,
                kind: "class",
                what,
                why: c.reasons.first().cloned().unwrap_or_default(),
            });
            if self.timeline.len() > TIMELINE_LEN {
                self.timeline.remove(0);
            }
            self.last_class = Some(c.class);
        }
        let mut details = Vec::new();
        if let Some(scx) = &d.recommendation.plan.scx {
            details.push(format!("would run {}", scx.scheduler));
        }
        details.extend(d.recommendation.what_it_would_change.iter().cloned());
        Feed {
            snapshot: Some(snapshot),
            class: Some(ClassInfo {
                class: c.class,
                confidence: c.confidence,
                reasons: c.reasons.clone(),
                details,
            }),
            timeline: self.timeline.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Engine, PolicyConfig};

    fn task(tgid: u32, wait: u64, max: u64, cpu: f64, wake: f64) -> TaskView {
        TaskView {
            tgid,
            comm: format!("t{tgid}"),
            cpu_fraction: cpu,
            runq_delay_total_ns: wait,
            runq_delay_max_ns: max,
            wakeups_per_sec: wake,
            ..TaskView::default()
        }
    }

    #[test]
    fn tasks_sort_by_the_chosen_key_largest_first() {
        let t = [
            task(1, 10, 90, 0.1, 5.0),
            task(2, 30, 10, 0.9, 1.0),
            task(3, 20, 50, 0.5, 9.0),
        ];
        let ids = |s| {
            sorted_tasks(&t, s)
                .iter()
                .map(|t| t.tgid)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(TaskSort::Wait), [2, 3, 1]);
        assert_eq!(ids(TaskSort::MaxWait), [1, 3, 2]);
        assert_eq!(ids(TaskSort::Cpu), [2, 3, 1]);
        assert_eq!(ids(TaskSort::Wakeups), [3, 1, 2]);
    }

    #[test]
    fn an_error_keeps_the_last_data() {
        let mut m = TopModel::new("test", None, 1000);
        let feed = Feed {
            snapshot: Some(Snapshot::default()),
            ..Feed::default()
        };
        m.apply(Ok(feed.clone()));
        m.apply(Err("gone".into()));
        assert_eq!(m.feed, feed);
        assert_eq!(m.error.as_deref(), Some("gone"));
        assert_eq!(m.updates, 1);
        m.apply(Ok(Feed::default()));
        assert_eq!(m.error, None);
    }

    fn status() -> DaemonStatus {
        use crate::control::protocol::SourceHealth;
        use crate::switching::{Decision, SwitchingStatus};
        DaemonStatus {
            protocol: 1,
            version: "t".into(),
            pid: 1,
            started_unix_ms: 0,
            backend: "eevdf".into(),
            dry_run: false,
            interval_ms: 1000,
            class: Some(WorkloadClass::CpuBound),
            confidence: 0.5,
            reasons: vec!["hogs".into()],
            scheduler: "eevdf".into(),
            since_unix_ms: 0,
            switching: SwitchingStatus {
                active: Some(WorkloadClass::CpuBound),
                judging: None,
                blocked: Vec::new(),
                blocked_schedulers: Vec::new(),
                backed_off: Vec::new(),
                cooldown_left_secs: 0,
                switches_last_hour: 0,
            },
            paused: true,
            paused_until_unix_ms: Some(9),
            manual: None,
            recent: vec![
                TimedDecision {
                    time_unix_ms: 1,
                    decision: Decision::new(
                        std::time::Duration::ZERO,
                        Action::Rollback {
                            from: WorkloadClass::CpuBound,
                            to: None,
                        },
                        "p99 worse",
                    ),
                },
                TimedDecision {
                    time_unix_ms: 2,
                    decision: Decision::new(std::time::Duration::ZERO, Action::Restore, "stop"),
                },
            ],
            sources: vec![SourceHealth {
                name: "bpf".into(),
                ok: false,
                detail: "not root".into(),
            }],
            dropped_intervals: 3,
            probe_losses: Default::default(),
        }
    }

    #[test]
    fn daemon_status_becomes_class_details_and_timeline() {
        let f = feed_from_daemon(&status(), None);
        let c = f.class.unwrap();
        assert_eq!((c.class, c.confidence), (WorkloadClass::CpuBound, 0.5));
        assert_eq!(c.reasons, ["hogs"]);
        assert_eq!(
            c.details,
            [
                "scheduler eevdf · backend eevdf",
                "applied: cpu_bound",
                "automatic switching paused",
                "bpf off: not root",
                "3 intervals dropped (daemon behind)",
            ]
        );
        let t: Vec<_> = f
            .timeline
            .iter()
            .map(|e| (e.kind, e.what.as_str()))
            .collect();
        assert_eq!(
            t,
            [
                ("rollback", "cpu_bound → default"),
                ("restore", "→ default")
            ]
        );
        assert_eq!(f.timeline[0].why, "p99 worse");

        let mut before_first = status();
        before_first.class = None;
        assert_eq!(feed_from_daemon(&before_first, None).class, None);
    }

    #[test]
    fn engine_feed_records_class_changes_only() {
        let mut engine = Engine::new(PolicyConfig::default()).unwrap();
        let mut ef = EngineFeed::default();
        let snap = Snapshot {
            time_unix_ms: 5,
            ..Snapshot::default()
        };
        let d = engine.push(&snap);
        let f1 = ef.push(snap.clone(), &d);
        let f2 = ef.push(snap.clone(), &d);
        assert_eq!(f1.timeline.len(), 1);
        assert_eq!(f2.timeline.len(), 1, "same class: no new entry");
        assert_eq!(f1.timeline[0].kind, "class");
        assert_eq!(f1.timeline[0].what, d.classification.class.to_string());
        assert_eq!(f1.class.unwrap().class, d.classification.class);

        let mut other = d.clone();
        other.classification.class = if d.classification.class == WorkloadClass::Mixed {
            WorkloadClass::Idle
        } else {
            WorkloadClass::Mixed
        };
        let f3 = ef.push(snap, &other);
        assert_eq!(f3.timeline.len(), 2);
        assert_eq!(
            f3.timeline[1].what,
            format!(
                "{} → {}",
                d.classification.class, other.classification.class
            )
        );
    }
}
