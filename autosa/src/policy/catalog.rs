//! The one table of sched_ext schedulers autosa knows: what each is for and
//! which arguments we accept for it. Nothing else in autosa lists schedulers.
//!
//! Arguments are checked here because catalogues from peers (schedcp) are not
//! always right. We list only arguments we have seen accepted by the
//! scheduler (scx_loader's shipped modes, the schedulers' `--help`); anything
//! else is refused rather than passed to a scheduler that would exit on it.

use thiserror::Error;

use super::plan::{ScxChoice, WorkloadClass};

/// What value an argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgValue {
    /// A flag without a value.
    Flag,
    /// An unsigned integer within `[min, max]`.
    UInt { min: u64, max: u64 },
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// One accepted argument; `names` are its spellings (`-s`, `--slice-us`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    pub names: &'static [&'static str],
    pub value: ArgValue,
    pub help: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerInfo {
    pub name: &'static str,
    pub production_ready: bool,
    /// What it is for, from its own documentation.
    pub purpose: &'static str,
    /// Classes it suits.
    pub suits: &'static [WorkloadClass],
    pub args: &'static [ArgSpec],
}

use WorkloadClass as C;

const SLICE_US: ArgValue = ArgValue::UInt {
    min: 100,
    max: 1_000_000,
};

pub static SCHEDULERS: &[SchedulerInfo] = &[
    SchedulerInfo {
        name: "scx_bpfland",
        production_ready: true,
        purpose: "prioritises interactive tasks (frequent sleepers) over background CPU load",
        suits: &[C::Mixed, C::LatencySensitive],
        args: &[
            ArgSpec {
                names: &["-s", "--slice-us"],
                value: SLICE_US,
                help: "maximum time slice (µs)",
            },
            ArgSpec {
                names: &["-m", "--primary-domain"],
                value: ArgValue::OneOf(&["auto", "all", "performance", "powersave"]),
                help: "CPUs tried first",
            },
            ArgSpec {
                names: &["-w", "--no-wake-sync"],
                value: ArgValue::Flag,
                help: "ignore synchronous wakeup hints",
            },
            ArgSpec {
                names: &["-S"],
                value: ArgValue::Flag,
                help: "server mode of scx_loader (with -s 20000)",
            },
            ArgSpec {
                names: &["-I", "--idle-resume-us"],
                value: ArgValue::UInt {
                    min: 0,
                    max: 1_000_000,
                },
                help: "idle resume latency (µs)",
            },
            ArgSpec {
                names: &["-t", "--throttle-us"],
                value: ArgValue::UInt {
                    min: 0,
                    max: 1_000_000,
                },
                help: "throttle the idle CPUs (µs)",
            },
        ],
    },
    SchedulerInfo {
        name: "scx_flash",
        production_ready: true,
        purpose: "predictable latency for audio and media work (EDF-like deadlines)",
        suits: &[C::LatencySensitive],
        args: &[ArgSpec {
            names: &["-s", "--slice-us"],
            value: SLICE_US,
            help: "maximum time slice (µs)",
        }],
    },
    SchedulerInfo {
        name: "scx_flatcg",
        production_ready: true,
        purpose: "cgroup-aware vtime scheduling with the hierarchy flattened",
        suits: &[],
        args: &[ArgSpec {
            names: &["-s"],
            value: SLICE_US,
            help: "time slice (µs)",
        }],
    },
    SchedulerInfo {
        name: "scx_lavd",
        production_ready: true,
        purpose: "interactive and gaming: schedules by each task's latency criticality",
        suits: &[C::LatencySensitive, C::Mixed],
        args: &[
            ArgSpec {
                names: &["--autopilot"],
                value: ArgValue::Flag,
                help: "pick the power mode from the load",
            },
            ArgSpec {
                names: &["--performance"],
                value: ArgValue::Flag,
                help: "performance mode",
            },
            ArgSpec {
                names: &["--powersave"],
                value: ArgValue::Flag,
                help: "power-save mode",
            },
            ArgSpec {
                names: &["--slice-min-us"],
                value: SLICE_US,
                help: "minimum time slice (µs)",
            },
            ArgSpec {
                names: &["--slice-max-us"],
                value: SLICE_US,
                help: "maximum time slice (µs)",
            },
            ArgSpec {
                names: &["--pinned-slice-us"],
                value: SLICE_US,
                help: "slice for pinned tasks (µs)",
            },
        ],
    },
    SchedulerInfo {
        name: "scx_layered",
        production_ready: true,
        purpose: "per-application layers, each with its own policy (needs a layer spec)",
        suits: &[],
        args: &[],
    },
    SchedulerInfo {
        name: "scx_nest",
        production_ready: true,
        purpose: "keeps work on a warm nest of cores (frequency boost on few cores)",
        suits: &[],
        args: &[],
    },
    SchedulerInfo {
        name: "scx_p2dq",
        production_ready: true,
        purpose: "general purpose, pick-two load balancing aware of LLC domains",
        suits: &[C::CpuBound, C::Mixed],
        args: &[
            ArgSpec {
                names: &["--sched-mode"],
                value: ArgValue::OneOf(&["default", "performance", "efficiency"]),
                help: "scheduling mode",
            },
            ArgSpec {
                names: &["--task-slice"],
                value: ArgValue::OneOf(&["true", "false"]),
                help: "slices per task",
            },
            ArgSpec {
                names: &["-f"],
                value: ArgValue::Flag,
                help: "scx_loader's gaming/low-latency flag",
            },
            ArgSpec {
                names: &["-y"],
                value: ArgValue::Flag,
                help: "scx_loader's low-latency flag",
            },
            ArgSpec {
                names: &["--keep-running"],
                value: ArgValue::Flag,
                help: "let a task keep its CPU while nothing else waits",
            },
        ],
    },
    SchedulerInfo {
        name: "scx_rustland",
        production_ready: true,
        purpose: "user-space scheduling decisions favouring interactive tasks",
        suits: &[C::LatencySensitive],
        args: &[],
    },
    SchedulerInfo {
        name: "scx_rusty",
        production_ready: true,
        purpose: "general purpose, load balancing per LLC domain, throughput",
        suits: &[C::CpuBound],
        args: &[
            ArgSpec {
                names: &["-u", "--slice-us-underutil"],
                value: SLICE_US,
                help: "slice when the machine is under-utilised (µs)",
            },
            ArgSpec {
                names: &["-o", "--slice-us-overutil"],
                value: SLICE_US,
                help: "slice when the machine is over-utilised (µs)",
            },
        ],
    },
    SchedulerInfo {
        name: "scx_simple",
        production_ready: true,
        purpose: "minimal global vtime (or FIFO) scheduler",
        suits: &[],
        args: &[ArgSpec {
            names: &["-f"],
            value: ArgValue::Flag,
            help: "FIFO instead of weighted vtime",
        }],
    },
];

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("unknown sched_ext scheduler {0:?}; known: {known}", known = known_names())]
    UnknownScheduler(String),
    #[error("{scheduler}: argument {arg:?} is not one autosa accepts; accepted: {accepted}")]
    UnknownArgument {
        scheduler: String,
        arg: String,
        accepted: String,
    },
    #[error("{scheduler}: {arg} needs a value ({expected})")]
    MissingValue {
        scheduler: String,
        arg: String,
        expected: String,
    },
    #[error("{scheduler}: {arg} {value:?} is not valid ({expected})")]
    BadValue {
        scheduler: String,
        arg: String,
        value: String,
        expected: String,
    },
}

fn known_names() -> String {
    SCHEDULERS
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The catalogue entry for a scheduler name (exact binary name, `scx_…`).
pub fn lookup(name: &str) -> Option<&'static SchedulerInfo> {
    SCHEDULERS.iter().find(|s| s.name == name)
}

impl ArgValue {
    fn describe(&self) -> String {
        match self {
            ArgValue::Flag => "no value".to_string(),
            ArgValue::UInt { min, max } => format!("an integer from {min} to {max}"),
            ArgValue::OneOf(words) => format!("one of {}", words.join(", ")),
        }
    }

    fn accepts(&self, v: &str) -> bool {
        match self {
            ArgValue::Flag => false,
            ArgValue::UInt { min, max } => {
                v.parse::<u64>().is_ok_and(|n| (*min..=*max).contains(&n))
            }
            ArgValue::OneOf(words) => words.contains(&v),
        }
    }
}

/// Check a scheduler choice against the catalogue: known name, known
/// arguments, values in range. Accepts `--flag value` and `--flag=value`.
pub fn validate(choice: &ScxChoice) -> Result<(), CatalogError> {
    let info = lookup(&choice.scheduler)
        .ok_or_else(|| CatalogError::UnknownScheduler(choice.scheduler.clone()))?;
    let accepted = || {
        let names: Vec<&str> = info
            .args
            .iter()
            .flat_map(|a| a.names.iter().copied())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let mut args = choice.args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg.as_str(), None),
        };
        let spec = info
            .args
            .iter()
            .find(|a| a.names.contains(&name))
            .ok_or_else(|| CatalogError::UnknownArgument {
                scheduler: info.name.to_string(),
                arg: arg.clone(),
                accepted: accepted(),
            })?;
        if spec.value == ArgValue::Flag {
            if let Some(v) = inline {
                return Err(CatalogError::BadValue {
                    scheduler: info.name.to_string(),
                    arg: name.to_string(),
                    value: v.to_string(),
                    expected: spec.value.describe(),
                });
            }
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .map(String::as_str)
                .ok_or_else(|| CatalogError::MissingValue {
                    scheduler: info.name.to_string(),
                    arg: name.to_string(),
                    expected: spec.value.describe(),
                })?,
        };
        if !spec.value.accepts(value) {
            return Err(CatalogError::BadValue {
                scheduler: info.name.to_string(),
                arg: name.to_string(),
                value: value.to_string(),
                expected: spec.value.describe(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(name: &str, args: &[&str]) -> ScxChoice {
        ScxChoice {
            scheduler: name.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_ten_production_schedulers_are_listed_once() {
        let mut names: Vec<&str> = SCHEDULERS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 10);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 10);
        assert!(SCHEDULERS.iter().all(|s| s.production_ready));
    }

    #[test]
    fn scx_loader_modes_validate() {
        validate(&choice(
            "scx_bpfland",
            &["-s", "20000", "-m", "powersave", "-I", "100", "-t", "100"],
        ))
        .unwrap();
        validate(&choice("scx_bpfland", &["-m", "performance", "-w"])).unwrap();
        validate(&choice(
            "scx_lavd",
            &["--performance", "--pinned-slice-us", "500"],
        ))
        .unwrap();
        validate(&choice("scx_lavd", &["--slice-max-us=10000"])).unwrap();
        validate(&choice(
            "scx_p2dq",
            &["--task-slice", "true", "-f", "--sched-mode", "performance"],
        ))
        .unwrap();
        validate(&choice("scx_rusty", &[])).unwrap();
    }

    #[test]
    fn bad_arguments_are_refused_with_what_is_allowed() {
        let e = validate(&choice("scx_lavd", &["--turbo"])).unwrap_err();
        assert!(matches!(e, CatalogError::UnknownArgument { .. }));
        assert!(e.to_string().contains("--performance"), "{e}");

        let e = validate(&choice("scx_bpfland", &["-s"])).unwrap_err();
        assert!(matches!(e, CatalogError::MissingValue { .. }), "{e}");

        let e = validate(&choice("scx_bpfland", &["-s", "abc"])).unwrap_err();
        assert!(matches!(e, CatalogError::BadValue { .. }), "{e}");

        let e = validate(&choice("scx_bpfland", &["-m", "turbo"])).unwrap_err();
        assert!(e.to_string().contains("one of auto"), "{e}");

        let e = validate(&choice("scx_lavd", &["--performance=1"])).unwrap_err();
        assert!(matches!(e, CatalogError::BadValue { .. }), "{e}");

        let e = validate(&choice("scx_layered", &["--x"])).unwrap_err();
        assert!(e.to_string().contains("accepted: none"), "{e}");

        let e = validate(&choice("scx_nope", &[])).unwrap_err();
        assert!(e.to_string().contains("scx_bpfland"), "{e}");
    }
}
