//! Errors of the eBPF collector, each saying what the user can do about it.

use std::path::PathBuf;

use thiserror::Error;

use super::tp_format::FormatError;

#[derive(Debug, Error)]
pub enum BpfError {
    #[error(
        "not allowed to load eBPF programs ({detail}): run autosa as root, or give it \
         CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8); also check \
         kernel.unprivileged_bpf_disabled and lockdown"
    )]
    Permission { detail: String },

    #[error(
        "the kernel refused to lock memory for the eBPF maps ({detail}): kernels before 5.11 \
         charge them to RLIMIT_MEMLOCK; raise it (`ulimit -l unlimited`, or \
         LimitMEMLOCK=infinity in the systemd unit)"
    )]
    Memlock { detail: String },

    #[error(
        "tracefs is not available (tried /sys/kernel/tracing and /sys/kernel/debug/tracing; \
         mounting failed: {detail}): mount it with `mount -t tracefs none /sys/kernel/tracing` \
         (needs CONFIG_FTRACE/CONFIG_TRACING)"
    )]
    TracefsMissing { detail: String },

    #[error(
        "tracepoint {category}:{name} does not exist on this kernel ({path} missing): \
         autosa needs the classic scheduler tracepoints (CONFIG_TRACEPOINTS); no BTF is needed"
    )]
    TracepointMissing {
        category: String,
        name: String,
        path: PathBuf,
    },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("unsupported tracepoint layout in {path}: {source}; please report the kernel version")]
    Layout {
        path: PathBuf,
        #[source]
        source: FormatError,
    },

    #[error("the kernel rejected eBPF program {program} (verifier or load failure): {detail}")]
    ProgramLoad { program: String, detail: String },

    #[error("attaching {program} to tracepoint {category}:{name} failed: {detail}")]
    Attach {
        program: String,
        category: String,
        name: String,
        detail: String,
    },

    #[error("loading the embedded eBPF object failed: {detail}")]
    Object { detail: String },

    #[error("eBPF map {map}: {detail}")]
    Map { map: &'static str, detail: String },
}

/// The first OS error in an error's source chain.
pub(crate) fn os_error(err: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(code) = io.raw_os_error()
        {
            return Some(code);
        }
        cur = e.source();
    }
    None
}

/// Full text of an error and its sources, for `detail` fields.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

/// Maps a permission-style errno to the error that tells the user what to do;
/// `otherwise` builds the error for everything else.
pub(crate) fn classify(
    err: &(dyn std::error::Error + 'static),
    memlock_bumped: bool,
    otherwise: impl FnOnce(String) -> BpfError,
) -> BpfError {
    let detail = chain(err);
    match os_error(err) {
        Some(libc::EPERM) | Some(libc::EACCES) if !memlock_bumped && may_use_bpf() => {
            BpfError::Memlock { detail }
        }
        Some(libc::EPERM) | Some(libc::EACCES) => BpfError::Permission { detail },
        _ => otherwise(detail),
    }
}

/// Whether the process holds what loading tracing programs takes, CAP_BPF
/// with CAP_PERFMON, or CAP_SYS_ADMIN: only then can an EPERM be the memlock
/// limit. Root without them (a reduced bounding set, a container) is refused
/// for want of a capability, and must be told so (measured: CAP_BPF alone
/// fails BPF_PROG_LOAD with EPERM).
fn may_use_bpf() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return nix::unistd::geteuid().is_root();
    };
    cap_eff(&status).map_or_else(|| nix::unistd::geteuid().is_root(), caps_load_tracing)
}

/// CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON, in an effective mask.
fn caps_load_tracing(caps: u64) -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let both = 1 << CAP_BPF | 1 << CAP_PERFMON;
    caps & (1 << CAP_SYS_ADMIN) != 0 || caps & both == both
}

/// The `CapEff:` mask of a `/proc/<pid>/status` text.
fn cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_capabilities_are_read() {
        let status = "Name:\tautosa\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(cap_eff(status), Some(0x1ff_ffff_ffff));
        // Root with bpf, perfmon and sys_admin dropped.
        let dropped = 0x1ff_ffff_ffffu64 & !(1 << 21 | 1 << 38 | 1 << 39);
        let caps = cap_eff(&format!("CapEff:\t{dropped:016x}\n")).unwrap();
        assert_eq!(caps & (1 << 21 | 1 << 39), 0);
        assert_eq!(cap_eff("Name: x\n"), None);
        assert!(!caps_load_tracing(dropped));
        assert!(caps_load_tracing(dropped | 1 << 21));
        assert!(caps_load_tracing(dropped | 1 << 38 | 1 << 39));
        // CAP_BPF without CAP_PERFMON, or the reverse, cannot load them.
        assert!(!caps_load_tracing(dropped | 1 << 39));
        assert!(!caps_load_tracing(dropped | 1 << 38));
    }
}
