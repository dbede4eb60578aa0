//! `PolicyConfig`: the thresholds the classifier uses and the class → plan table.
//!
//! Every key has a default (tuned on real machines, checked on a 2-CPU VM);
//! unknown keys are rejected so a typo is an error, not a silent default.
//! Signals are "ramps": a value at or below `low` counts 0, at or above `high`
//! counts 1, linear between. That keeps every threshold a plain number a person
//! can read and change.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::catalog::{self, CatalogError};
use super::plan::{HogTreatment, ScxChoice, WorkloadClass};

#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("policy config: {key} = {value}: {why}")]
    Invalid {
        key: String,
        value: String,
        why: String,
    },
    #[error("policy config: plans.{class}.scx: {source}")]
    Scheduler {
        class: WorkloadClass,
        #[source]
        source: CatalogError,
    },
}

fn invalid(key: &str, value: impl std::fmt::Display, why: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        why: why.to_string(),
    }
}

/// A linear ramp from `low` (signal 0) to `high` (signal 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    /// At or below this the signal counts 0 (absent).
    pub low: f64,
    /// At or above this it counts 1 (certain); linear in between.
    pub high: f64,
}

impl Ramp {
    pub const fn new(low: f64, high: f64) -> Ramp {
        Ramp { low, high }
    }

    /// Where `x` sits on the ramp, in `[0, 1]`.
    pub fn at(&self, x: f64) -> f64 {
        if !x.is_finite() {
            return 0.0;
        }
        ((x - self.low) / (self.high - self.low)).clamp(0.0, 1.0)
    }

    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !(self.low.is_finite() && self.high.is_finite()) || self.low < 0.0 {
            return Err(invalid(
                key,
                format!("{{low = {}, high = {}}}", self.low, self.high),
                "both ends must be finite and not negative",
            ));
        }
        if self.high <= self.low {
            return Err(invalid(
                key,
                format!("{{low = {}, high = {}}}", self.low, self.high),
                "high must be greater than low",
            ));
        }
        Ok(())
    }
}

/// The whole policy configuration (`[policy]` in autosa.toml).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub smoothing: SmoothingConfig,
    pub thresholds: Thresholds,
    pub tasks: TaskThresholds,
    pub plans: PlanTable,
}

/// How fast the classifier follows the workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SmoothingConfig {
    /// EWMA window in intervals: weight of a new sample is 2 / (window + 1).
    pub window: u32,
    /// Median of the last 3 samples before the EWMA: removes single-interval
    /// outliers at the cost of one interval of delay.
    pub median_filter: bool,
    /// A new class must be the best for this many intervals in a row before
    /// it replaces the current one (hold-down against single outliers).
    pub hold_intervals: u32,
    /// …and must beat the current class's score by at least this much.
    pub min_margin: f64,
    /// Confidence is multiplied by this when eBPF is missing (procfs only:
    /// no run-queue latency, no per-process view).
    pub no_ebpf_confidence: f64,
}

impl Default for SmoothingConfig {
    fn default() -> Self {
        SmoothingConfig {
            window: 5,
            median_filter: true,
            hold_intervals: 2,
            min_margin: 0.1,
            no_ebpf_confidence: 0.7,
        }
    }
}

/// Machine-wide signal thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// CPU busy fraction (all CPUs) above which the machine is not idle.
    pub idle_busy: Ramp,
    /// CPU busy fraction that counts as saturated.
    pub cpu_busy: Ramp,
    /// Runnable tasks per CPU (procs_running / nr_cpus) that counts as contended.
    pub runnable_per_cpu: Ramp,
    /// Share of all CPUs the named hogs want together, CPU time plus
    /// run-queue wait (eBPF per-process view).
    pub hog_share: Ramp,
    /// Wakeups per second of the latency-sensitive tasks together (eBPF).
    pub latency_wakeups_per_sec: Ramp,
    /// Without eBPF: context switches per second per CPU (procfs), the only
    /// hint of frequent sleep/wake work.
    pub context_switches_per_cpu: Ramp,
    /// CPU busy fraction above which a latency-sensitive load is no longer
    /// "lightly loaded" (it then competes: Mixed).
    pub latency_busy: Ramp,
    /// System run-queue delay p99 (ns) that shows tasks waiting for a CPU.
    pub runq_p99_ns: Ramp,
    /// PSI io "some" stall fraction of the interval.
    pub psi_io_some: Ramp,
    /// iowait fraction of CPU time (used with or without PSI).
    pub iowait: Ramp,
    /// Tasks in uninterruptible sleep per CPU (procs_blocked / nr_cpus).
    pub blocked_per_cpu: Ramp,
    /// PSI memory "some" stall fraction of the interval.
    pub psi_memory_some: Ramp,
    /// Major page faults per second.
    pub major_faults_per_sec: Ramp,
    /// Swap-in + swap-out pages per second.
    pub swap_pages_per_sec: Ramp,
    /// Memory *used* fraction (1 − available/total); only very high counts.
    pub memory_used: Ramp,
    /// Refaults per second (pages evicted, then needed again): thrashing, the
    /// clearest sign that I/O is caused by too little memory.
    pub refaults_per_sec: Ramp,
    /// Direct-reclaim page scans per second.
    pub direct_reclaim_pages_per_sec: Ramp,
    /// Below this best score no class fits: the result is Idle (nothing to
    /// change), with the low confidence it deserves.
    pub min_class_score: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            // Up to ~15 % busy is background; by 60 % something real runs. Between,
            // with no other class matching, "idle" (nothing to tune) fades out.
            idle_busy: Ramp::new(0.15, 0.60),
            cpu_busy: Ramp::new(0.50, 0.90),
            runnable_per_cpu: Ramp::new(0.75, 1.5),
            hog_share: Ramp::new(0.25, 0.75),
            // A 1 ms sleeper wakes 1000/s alone, only ~570/s beside CPU hogs
            // (measured here: it waits ~1 ms per wakeup); the short, voluntary
            // sleepers of a quiet machine wake well under 150/s together.
            latency_wakeups_per_sec: Ramp::new(150.0, 550.0),
            // Idle to moderately busy machines switch 200–500/s per CPU; a 1 ms
            // sleeper adds ~1000 per CPU it runs on.
            context_switches_per_cpu: Ramp::new(600.0, 1500.0),
            latency_busy: Ramp::new(0.40, 0.85),
            runq_p99_ns: Ramp::new(500_000.0, 4_000_000.0),
            // Measured here: 2 fio psync readers gave 12–41 % io "some" (the low end
            // with the CPUs saturated by other work, when iowait reads 0 because
            // iowait only counts idle CPUs); a quiet machine shows under 2 %.
            psi_io_some: Ramp::new(0.03, 0.20),
            iowait: Ramp::new(0.05, 0.30),
            blocked_per_cpu: Ramp::new(0.25, 1.0),
            // Measured here: page-cache thrash beside an anonymous hog leaving 2 GiB
            // gave 6–8 % memory "some" (and 20 % io "some"); an unstressed machine
            // shows 0. 1 % is already reclaim others feel.
            psi_memory_some: Ramp::new(0.01, 0.06),
            major_faults_per_sec: Ramp::new(100.0, 2000.0),
            swap_pages_per_sec: Ramp::new(10.0, 1000.0),
            memory_used: Ramp::new(0.88, 0.97),
            // Measured here: page-cache thrash (a 4 GiB file read through mmap
            // with 3 GiB available) refaults 1-2.5k pages/s once established;
            // plain buffered or direct I/O refaults none; a machine with
            // 22 GiB free showed up to ~150/s from memory-limited cgroups.
            refaults_per_sec: Ramp::new(100.0, 1000.0),
            direct_reclaim_pages_per_sec: Ramp::new(1000.0, 20000.0),
            min_class_score: 0.1,
        }
    }
}

/// What makes one process a CPU hog or latency-sensitive (eBPF per-process view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TaskThresholds {
    /// A hog wants at least this fraction of one CPU: CPU time plus time
    /// spent runnable on a run queue. Measured here: with the CPUs shared by
    /// other load, `stress-ng --cpu 4` workers got only 0.11 CPU each but
    /// waited runnable the other 0.89; CPU time alone would miss them.
    pub hog_min_demand: f64,
    /// …is mostly preempted (involuntary share of its switches)…
    pub hog_min_involuntary_share: f64,
    /// …or runs at least this long per switch-in (ns).
    pub hog_min_slice_ns: u64,
    /// A latency-sensitive task uses at most this fraction of one CPU…
    pub latency_max_cpu: f64,
    /// …wakes at least this often…
    pub latency_min_wakeups_per_sec: f64,
    /// …runs at most this long per switch-in (ns)…
    pub latency_max_slice_ns: u64,
    /// …and mostly gives up the CPU itself (voluntary share of its switches).
    pub latency_min_voluntary_share: f64,
}

impl Default for TaskThresholds {
    fn default() -> Self {
        TaskThresholds {
            hog_min_demand: 0.5,
            hog_min_involuntary_share: 0.5,
            hog_min_slice_ns: 2_000_000,
            latency_max_cpu: 0.25,
            latency_min_wakeups_per_sec: 50.0,
            latency_max_slice_ns: 1_000_000,
            latency_min_voluntary_share: 0.7,
        }
    }
}

/// The plan wanted for one class.
///
/// In TOML a `[plans.<class>]` table changes only the keys it names; the
/// class's other defaults stay. `scx = "none"` asks for no sched_ext
/// scheduler, `latency_slice_ns = 0` for no slice change.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ClassPlan {
    /// sched_ext scheduler to run; `None` keeps the kernel's default.
    #[serde(serialize_with = "ser_scx")]
    pub scx: Option<ScxChoice>,
    /// What to do with the named CPU hogs on EEVDF.
    pub hogs: HogTreatment,
    /// EEVDF slice for the named latency-sensitive tasks (ns).
    #[serde(serialize_with = "ser_slice")]
    pub latency_slice_ns: Option<u64>,
    /// Global EEVDF knobs, e.g. `[["base_slice_ns", "3000000"]]`, written
    /// only where the kernel allows (not on locked-down kernels).
    pub global_knobs: Vec<(String, String)>,
}

impl Default for ClassPlan {
    fn default() -> Self {
        ClassPlan {
            scx: None,
            hogs: HogTreatment::Leave,
            latency_slice_ns: None,
            global_knobs: Vec::new(),
        }
    }
}

fn scx(name: &str) -> Option<ScxChoice> {
    Some(ScxChoice {
        scheduler: name.to_string(),
        args: Vec::new(),
    })
}

/// Measured on this VM (see /work/shared/README.md): an EEVDF slice of 0.3 ms
/// is accepted by `sched_setattr` and keeps a short runner's turns short.
const LATENCY_SLICE_NS: u64 = 300_000;

fn ser_scx<S: serde::Serializer>(v: &Option<ScxChoice>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(c) => c.serialize(s),
        None => s.serialize_str("none"),
    }
}

fn ser_slice<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.unwrap_or(0))
}

/// `scx` as written: a scheduler table or the word "none".
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum ScxSetting {
    Word(String),
    Choice(ScxChoice),
}

/// A `[plans.<class>]` table: only the keys given change the class's default.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ClassPlanPatch {
    scx: Option<ScxSetting>,
    hogs: Option<HogTreatment>,
    latency_slice_ns: Option<u64>,
    global_knobs: Option<Vec<(String, String)>>,
}

impl ClassPlanPatch {
    fn apply<E: serde::de::Error>(self, plan: &mut ClassPlan) -> Result<(), E> {
        match self.scx {
            None => {}
            Some(ScxSetting::Choice(c)) => plan.scx = Some(c),
            Some(ScxSetting::Word(w)) if w == "none" => plan.scx = None,
            Some(ScxSetting::Word(w)) => {
                return Err(E::custom(format!(
                    "scx = {w:?}: write \"none\" or a table {{ scheduler = \"scx_…\", args = [] }}"
                )));
            }
        }
        if let Some(h) = self.hogs {
            plan.hogs = h;
        }
        if let Some(ns) = self.latency_slice_ns {
            plan.latency_slice_ns = (ns != 0).then_some(ns);
        }
        if let Some(k) = self.global_knobs {
            plan.global_knobs = k;
        }
        Ok(())
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PlanTablePatch {
    idle: Option<ClassPlanPatch>,
    cpu_bound: Option<ClassPlanPatch>,
    latency_sensitive: Option<ClassPlanPatch>,
    io_bound: Option<ClassPlanPatch>,
    memory_bound: Option<ClassPlanPatch>,
    mixed: Option<ClassPlanPatch>,
}

impl<'de> Deserialize<'de> for PlanTable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let patch = PlanTablePatch::deserialize(d)?;
        let mut table = PlanTable::default();
        for (p, plan) in [
            (patch.idle, &mut table.idle),
            (patch.cpu_bound, &mut table.cpu_bound),
            (patch.latency_sensitive, &mut table.latency_sensitive),
            (patch.io_bound, &mut table.io_bound),
            (patch.memory_bound, &mut table.memory_bound),
            (patch.mixed, &mut table.mixed),
        ] {
            if let Some(p) = p {
                p.apply(plan)?;
            }
        }
        Ok(table)
    }
}

/// Class → plan. Why each default:
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PlanTable {
    /// Nothing to improve: the default scheduler, nothing touched.
    pub idle: ClassPlan,
    /// scx_rusty: general purpose, balances load per LLC domain, tuned for
    /// throughput. On EEVDF: hogs SCHED_BATCH (no wakeup preemption between
    /// them, fewer switches; nobody is waiting on latency).
    pub cpu_bound: ClassPlan,
    /// scx_lavd: built for interactive work, it measures each task's latency
    /// criticality from its wake/wait pattern. On EEVDF: a 0.3 ms slice for
    /// the latency-sensitive tasks.
    pub latency_sensitive: ClassPlan,
    /// No scheduler switch: the stall is in the block layer, not the CPU
    /// scheduler, and none of the catalogue's schedulers targets it.
    pub io_bound: ClassPlan,
    /// No scheduler switch: reclaim and faults are not the CPU scheduler's to
    /// fix, and a switch would only add churn while the machine is stressed.
    pub memory_bound: ClassPlan,
    /// scx_bpfland: made for interactive tasks beside background CPU load,
    /// exactly this case. On EEVDF: hogs at nice 19 (measured here: a 1 ms
    /// sleeper's p99 wakeup latency beside 4 hogs went from 5.6 ms to 40 µs;
    /// SCHED_IDLE gave 37 µs but can starve hogs entirely, SCHED_BATCH did
    /// not help) and a 0.3 ms slice for the latency-sensitive tasks.
    pub mixed: ClassPlan,
}

impl Default for PlanTable {
    fn default() -> Self {
        PlanTable {
            idle: ClassPlan::default(),
            cpu_bound: ClassPlan {
                scx: scx("scx_rusty"),
                hogs: HogTreatment::Batch,
                ..ClassPlan::default()
            },
            latency_sensitive: ClassPlan {
                scx: scx("scx_lavd"),
                latency_slice_ns: Some(LATENCY_SLICE_NS),
                ..ClassPlan::default()
            },
            io_bound: ClassPlan::default(),
            memory_bound: ClassPlan::default(),
            mixed: ClassPlan {
                scx: scx("scx_bpfland"),
                hogs: HogTreatment::Nice(19),
                latency_slice_ns: Some(LATENCY_SLICE_NS),
                ..ClassPlan::default()
            },
        }
    }
}

impl PlanTable {
    pub fn get(&self, class: WorkloadClass) -> &ClassPlan {
        match class {
            WorkloadClass::Idle => &self.idle,
            WorkloadClass::CpuBound => &self.cpu_bound,
            WorkloadClass::LatencySensitive => &self.latency_sensitive,
            WorkloadClass::IoBound => &self.io_bound,
            WorkloadClass::MemoryBound => &self.memory_bound,
            WorkloadClass::Mixed => &self.mixed,
        }
    }
}

/// EEVDF accepts slices from 0.1 ms to 100 ms (`sched_setattr` clamps outside).
const SLICE_MIN_NS: u64 = 100_000;
const SLICE_MAX_NS: u64 = 100_000_000;

impl PolicyConfig {
    /// Parse from TOML text (the `[policy]` table's content).
    pub fn from_toml(text: &str) -> Result<PolicyConfig, toml::de::Error> {
        toml::from_str(text)
    }

    /// Check every value; the error names the key and says what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.smoothing;
        if s.window == 0 || s.window > 600 {
            return Err(invalid(
                "smoothing.window",
                s.window,
                "use 1 (no smoothing) to 600 intervals",
            ));
        }
        if s.hold_intervals == 0 || s.hold_intervals > 600 {
            return Err(invalid(
                "smoothing.hold_intervals",
                s.hold_intervals,
                "use 1 (switch at once) to 600 intervals",
            ));
        }
        fraction("smoothing.min_margin", s.min_margin)?;
        fraction("smoothing.no_ebpf_confidence", s.no_ebpf_confidence)?;

        let t = &self.thresholds;
        for (key, ramp) in [
            ("thresholds.idle_busy", t.idle_busy),
            ("thresholds.cpu_busy", t.cpu_busy),
            ("thresholds.runnable_per_cpu", t.runnable_per_cpu),
            ("thresholds.hog_share", t.hog_share),
            (
                "thresholds.latency_wakeups_per_sec",
                t.latency_wakeups_per_sec,
            ),
            (
                "thresholds.context_switches_per_cpu",
                t.context_switches_per_cpu,
            ),
            ("thresholds.latency_busy", t.latency_busy),
            ("thresholds.runq_p99_ns", t.runq_p99_ns),
            ("thresholds.psi_io_some", t.psi_io_some),
            ("thresholds.iowait", t.iowait),
            ("thresholds.blocked_per_cpu", t.blocked_per_cpu),
            ("thresholds.psi_memory_some", t.psi_memory_some),
            ("thresholds.major_faults_per_sec", t.major_faults_per_sec),
            ("thresholds.swap_pages_per_sec", t.swap_pages_per_sec),
            ("thresholds.memory_used", t.memory_used),
            ("thresholds.refaults_per_sec", t.refaults_per_sec),
            (
                "thresholds.direct_reclaim_pages_per_sec",
                t.direct_reclaim_pages_per_sec,
            ),
        ] {
            ramp.validate(key)?;
        }
        for (key, ramp) in [
            ("thresholds.idle_busy", t.idle_busy),
            ("thresholds.cpu_busy", t.cpu_busy),
            ("thresholds.latency_busy", t.latency_busy),
            ("thresholds.psi_io_some", t.psi_io_some),
            ("thresholds.iowait", t.iowait),
            ("thresholds.psi_memory_some", t.psi_memory_some),
            ("thresholds.memory_used", t.memory_used),
        ] {
            if ramp.high > 1.0 {
                return Err(invalid(
                    key,
                    ramp.high,
                    "this is a fraction: high must be at most 1",
                ));
            }
        }

        fraction("thresholds.min_class_score", t.min_class_score)?;

        let k = &self.tasks;
        fraction(
            "tasks.hog_min_involuntary_share",
            k.hog_min_involuntary_share,
        )?;
        fraction(
            "tasks.latency_min_voluntary_share",
            k.latency_min_voluntary_share,
        )?;
        if !(k.hog_min_demand > 0.0 && k.hog_min_demand.is_finite()) {
            return Err(invalid(
                "tasks.hog_min_demand",
                k.hog_min_demand,
                "must be > 0 (fraction of one CPU)",
            ));
        }
        if !(k.latency_max_cpu > 0.0 && k.latency_max_cpu.is_finite()) {
            return Err(invalid(
                "tasks.latency_max_cpu",
                k.latency_max_cpu,
                "must be > 0 (fraction of one CPU)",
            ));
        }
        // Keep the two roles exclusive: a hog is mostly preempted or runs
        // long, a latency-sensitive task mostly sleeps and runs short.
        if k.hog_min_involuntary_share + k.latency_min_voluntary_share <= 1.0 {
            return Err(invalid(
                "tasks.latency_min_voluntary_share",
                k.latency_min_voluntary_share,
                "with tasks.hog_min_involuntary_share it must add up to more than 1, \
                 so no task is both a hog and latency-sensitive",
            ));
        }
        if k.latency_max_slice_ns >= k.hog_min_slice_ns {
            return Err(invalid(
                "tasks.latency_max_slice_ns",
                k.latency_max_slice_ns,
                "must be below tasks.hog_min_slice_ns, so no task is both",
            ));
        }
        if !(k.latency_min_wakeups_per_sec >= 0.0 && k.latency_min_wakeups_per_sec.is_finite()) {
            return Err(invalid(
                "tasks.latency_min_wakeups_per_sec",
                k.latency_min_wakeups_per_sec,
                "must be a finite number ≥ 0",
            ));
        }

        for class in WorkloadClass::ALL {
            let plan = self.plans.get(class);
            if let Some(choice) = &plan.scx {
                catalog::validate(choice)
                    .map_err(|source| ConfigError::Scheduler { class, source })?;
            }
            if let Some(ns) = plan.latency_slice_ns
                && !(SLICE_MIN_NS..=SLICE_MAX_NS).contains(&ns)
            {
                return Err(invalid(
                    &format!("plans.{class}.latency_slice_ns"),
                    ns,
                    "EEVDF takes slices from 100000 (0.1 ms) to 100000000 (100 ms)",
                ));
            }
            if let HogTreatment::Nice(n) = plan.hogs
                && !(-20..=19).contains(&n)
            {
                return Err(invalid(
                    &format!("plans.{class}.hogs"),
                    n,
                    "nice values go from -20 to 19",
                ));
            }
        }
        Ok(())
    }
}

fn fraction(key: &str, v: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(key, v, "must be between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        PolicyConfig::default().validate().unwrap();
    }

    #[test]
    fn empty_toml_is_the_default() {
        assert_eq!(
            PolicyConfig::from_toml("").unwrap(),
            PolicyConfig::default()
        );
    }

    #[test]
    fn partial_toml_keeps_other_defaults() {
        let c = PolicyConfig::from_toml(
            "[smoothing]\nwindow = 3\n[plans.mixed]\nhogs = { kind = \"idle\" }\n",
        )
        .unwrap();
        assert_eq!(c.smoothing.window, 3);
        assert_eq!(c.smoothing.hold_intervals, 2);
        assert_eq!(c.plans.mixed.hogs, HogTreatment::Idle);
        assert_eq!(c.plans.mixed.scx, scx("scx_bpfland"));
        c.validate().unwrap();
    }

    #[test]
    fn plans_can_be_switched_off_and_round_trip() {
        let c = PolicyConfig::from_toml(
            "[plans.mixed]\nscx = \"none\"\nlatency_slice_ns = 0\n\
             [plans.cpu_bound]\nscx = { scheduler = \"scx_p2dq\", args = [\"--sched-mode\", \"performance\"] }\n",
        )
        .unwrap();
        assert_eq!(c.plans.mixed.scx, None);
        assert_eq!(c.plans.mixed.latency_slice_ns, None);
        assert_eq!(c.plans.mixed.hogs, HogTreatment::Nice(19));
        assert_eq!(
            c.plans.cpu_bound.scx.as_ref().unwrap().scheduler,
            "scx_p2dq"
        );
        c.validate().unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(PolicyConfig::from_toml(&text).unwrap(), c);
        assert!(PolicyConfig::from_toml("[plans.mixed]\nscx = \"off\"\n").is_err());
        assert!(PolicyConfig::from_toml("[plans.mixed]\nhog = { kind = \"idle\" }\n").is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = PolicyConfig::from_toml("[smoothing]\nwindw = 3\n").unwrap_err();
        assert!(e.to_string().contains("windw"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut c = PolicyConfig::default();
        c.thresholds.cpu_busy = Ramp::new(0.9, 0.5);
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("thresholds.cpu_busy") && e.contains("greater"),
            "{e}"
        );

        let mut c = PolicyConfig::default();
        c.plans.mixed.latency_slice_ns = Some(10);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("plans.mixed.latency_slice_ns"), "{e}");

        let mut c = PolicyConfig::default();
        c.plans.cpu_bound.scx = scx("scx_nope");
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("plans.cpu_bound.scx") && e.contains("scx_nope"),
            "{e}"
        );

        let mut c = PolicyConfig::default();
        c.tasks.latency_min_voluntary_share = 0.4;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("both a hog and latency-sensitive"), "{e}");

        let mut c = PolicyConfig::default();
        c.tasks.latency_max_slice_ns = 5_000_000;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("tasks.latency_max_slice_ns"), "{e}");

        let mut c = PolicyConfig::default();
        c.smoothing.window = 0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("smoothing.window")
        );
    }

    #[test]
    fn ramp_clamps() {
        let r = Ramp::new(1.0, 3.0);
        assert_eq!(r.at(0.0), 0.0);
        assert_eq!(r.at(2.0), 0.5);
        assert_eq!(r.at(9.0), 1.0);
        assert_eq!(r.at(f64::NAN), 0.0);
    }
}
