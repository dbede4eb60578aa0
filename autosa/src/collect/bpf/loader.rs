//! Loading the embedded eBPF object and attaching its programs.

use std::path::PathBuf;

use autosa_common::{
    config::{PROBE_CONFIG_SYMBOL, ProbeConfig, RuntimeConfig},
    maps as names,
};
use aya::maps::{Array, MapData};
use aya::{Ebpf, EbpfLoader, programs::TracePoint};

use super::{
    error::{self, BpfError, classify},
    layout::{
        self, ALL, BLOCK_RQ_COMPLETE, BLOCK_RQ_ISSUE, BlockFormats, SchedFormats, Tracepoint,
    },
    tracefs,
};

/// The kernel programs, built by `cargo xtask build-ebpf` and committed, so
/// building autosa needs no BPF toolchain.
pub static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/autosa.bpf.o"));

/// What to load and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpfSettings {
    /// Process left out of every statistic: the daemon itself.
    pub self_tgid: u32,
    /// Run-queue delays at or above this go to the ring buffer (`u64::MAX`: none).
    pub event_threshold_ns: u64,
    /// Attach the block I/O probes (skipped with a warning when unavailable).
    pub block: bool,
    /// tracefs to read tracepoint formats from; `None` finds or mounts it.
    pub tracefs: Option<PathBuf>,
    /// Read record fields with direct loads when the kernel's layout is the
    /// known one (cheapest); `false` always uses the helper-read programs.
    pub direct_reads: bool,
}

impl Default for BpfSettings {
    fn default() -> Self {
        Self {
            self_tgid: std::process::id(),
            // Well above a healthy wakeup latency (tens of µs), below a
            // noticeable stall: rare enough to be cheap, useful to explain.
            event_threshold_ns: 20_000_000,
            block: true,
            tracefs: None,
            direct_reads: true,
        }
    }
}

/// Loaded programs with the probes that are attached and those skipped (and why).
pub struct Loaded {
    pub ebpf: Ebpf,
    pub config: ProbeConfig,
    pub attached: Vec<Tracepoint>,
    /// Names of the programs attached (which variant of each probe).
    pub programs: Vec<&'static str>,
    pub skipped: Vec<(Tracepoint, String)>,
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; raising it is
/// harmless on newer ones. Returns whether the limit is now unlimited.
fn bump_memlock() -> bool {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
    if getrlimit(Resource::RLIMIT_MEMLOCK).is_ok_and(|(soft, _)| soft == RLIM_INFINITY) {
        return true;
    }
    match setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "could not raise RLIMIT_MEMLOCK");
            false
        }
    }
}

/// Reads the tracepoint layouts, loads the object with them and attaches
/// every program. Required probes fail the load; optional ones warn.
pub fn load(settings: &BpfSettings) -> Result<Loaded, BpfError> {
    let memlock_ok = bump_memlock();
    let tfs = match &settings.tracefs {
        Some(p) => p.clone(),
        None => tracefs::ensure_mounted()?,
    };
    let switch = tracefs::read_format(&tfs, &layout::SCHED_SWITCH)?;
    let wakeup = tracefs::read_format(&tfs, &layout::SCHED_WAKEUP)?;
    let wakeup_new = tracefs::read_format(&tfs, &layout::SCHED_WAKEUP_NEW)?;
    let mut config = layout::sched_config(
        &SchedFormats {
            switch: &switch,
            wakeup: &wakeup,
            wakeup_new: &wakeup_new,
        },
        settings.self_tgid,
    )
    .map_err(|source| BpfError::Layout {
        path: layout::SCHED_SWITCH.format_path(&tfs),
        source,
    })?;

    let mut skipped = Vec::new();
    let block_ok = if settings.block {
        match block_config(&tfs, config) {
            Ok(c) => {
                config = c;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "block I/O latency unavailable; continuing without it");
                let why = e.to_string();
                skipped.push((BLOCK_RQ_ISSUE, why.clone()));
                skipped.push((BLOCK_RQ_COMPLETE, why));
                false
            }
        }
    } else {
        skipped.push((BLOCK_RQ_ISSUE, "disabled in settings".into()));
        skipped.push((BLOCK_RQ_COMPLETE, "disabled in settings".into()));
        false
    };

    let mut ebpf = EbpfLoader::new()
        .override_global(PROBE_CONFIG_SYMBOL, &config, true)
        .load(OBJECT)
        .map_err(|e| classify(&e, memlock_ok, |detail| BpfError::Object { detail }))?;

    // Before any program runs: a zeroed entry would mean "threshold 0".
    write_runtime(&mut ebpf, &initial_runtime(settings))?;

    let mut attached = Vec::new();
    let mut programs = Vec::new();
    for tp in ALL {
        let is_block = tp == BLOCK_RQ_ISSUE || tp == BLOCK_RQ_COMPLETE;
        if is_block && !block_ok {
            continue;
        }
        let program = tp.program_for(settings.direct_reads && tp.direct_ok(&config));
        match attach(&mut ebpf, &tp, program, memlock_ok) {
            Ok(()) => {
                attached.push(tp);
                programs.push(program);
            }
            Err(e) if tp.optional => {
                tracing::warn!(error = %e, "optional probe skipped");
                skipped.push((tp, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    // A block pair is useful only whole: issue without complete fills the map.
    if block_ok && !(attached.contains(&BLOCK_RQ_ISSUE) && attached.contains(&BLOCK_RQ_COMPLETE)) {
        tracing::warn!("only one of the block probes attached; block latency will be empty");
    }
    tracing::debug!(?programs, "eBPF programs attached");
    Ok(Loaded {
        ebpf,
        config,
        attached,
        programs,
        skipped,
    })
}

/// Epoch 0 is what a zeroed per-task entry holds: start at 1.
pub fn initial_runtime(settings: &BpfSettings) -> RuntimeConfig {
    RuntimeConfig {
        event_threshold_ns: settings.event_threshold_ns,
        epoch: 1,
    }
}

/// Writes the runtime values the programs read on every switch.
pub fn write_runtime(ebpf: &mut Ebpf, rt: &RuntimeConfig) -> Result<(), BpfError> {
    let map = ebpf.map_mut(names::RUNTIME).ok_or(BpfError::Map {
        map: names::RUNTIME,
        detail: "missing from the object".into(),
    })?;
    let mut arr: Array<&mut MapData, RuntimeConfig> =
        Array::try_from(map).map_err(|e| BpfError::Map {
            map: names::RUNTIME,
            detail: error::chain(&e),
        })?;
    arr.set(0, *rt, 0).map_err(|e| BpfError::Map {
        map: names::RUNTIME,
        detail: error::chain(&e),
    })
}

fn block_config(tfs: &std::path::Path, config: ProbeConfig) -> Result<ProbeConfig, BpfError> {
    let issue = tracefs::read_format(tfs, &BLOCK_RQ_ISSUE)?;
    let complete = tracefs::read_format(tfs, &BLOCK_RQ_COMPLETE)?;
    layout::with_block(
        config,
        &BlockFormats {
            issue: &issue,
            complete: &complete,
        },
    )
    .map_err(|source| BpfError::Layout {
        path: BLOCK_RQ_ISSUE.format_path(tfs),
        source,
    })
}

fn attach(
    ebpf: &mut Ebpf,
    tp: &Tracepoint,
    program: &'static str,
    memlock_ok: bool,
) -> Result<(), BpfError> {
    let object_err = |detail: String| BpfError::Object { detail };
    let prog: &mut TracePoint = ebpf
        .program_mut(program)
        .ok_or_else(|| object_err(format!("program {program} is missing from the object")))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| object_err(e.to_string()))?;
    prog.load().map_err(|e| {
        classify(&e, memlock_ok, |detail| BpfError::ProgramLoad {
            program: program.into(),
            detail,
        })
    })?;
    prog.attach(tp.category, tp.name).map_err(|e| {
        classify(&e, memlock_ok, |detail| BpfError::Attach {
            program: program.into(),
            category: tp.category.into(),
            name: tp.name.into(),
            detail,
        })
    })?;
    Ok(())
}
