//! Reads the /proc files autosa needs into raw cumulative counters.
//!
//! Parsing goes through `procfs-core` (`FromRead` types); this module only
//! reads the bytes (so every error names its file), picks the fields autosa
//! uses and keeps one broken source from hiding the others.

use std::io;
use std::path::{Path, PathBuf};

use procfs::prelude::*;
use procfs::{DiskStats, ExplicitSystemInfo, KernelStats, LoadAverage, Meminfo, ProcError, VmStat};

use crate::model::sample::{
    CpuTicks, DiskRaw, LoadavgRaw, MeminfoRaw, ProcfsRaw, PsiLineRaw, PsiRaw, PsiResourceRaw,
    StatRaw, VmstatRaw,
};
use crate::model::snapshot::SourceStatus;

/// Why one /proc file could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    #[error("{} does not exist: {hint}", path.display())]
    Missing { path: PathBuf, hint: &'static str },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot parse {}: {detail}", path.display())]
    Parse { path: PathBuf, detail: String },
}

/// Source names used in [`SourceStatus::name`].
pub mod source {
    pub const STAT: &str = "stat";
    pub const PSI: &str = "psi";
    pub const LOADAVG: &str = "loadavg";
    pub const VMSTAT: &str = "vmstat";
    pub const DISKSTATS: &str = "diskstats";
    pub const MEMINFO: &str = "meminfo";
}

const HINT_PROC: &str = "is procfs mounted there?";
const HINT_PSI: &str = "the kernel has no pressure stall information (CONFIG_PSI=n, or psi=0 on the kernel command line: boot with psi=1)";

/// What one [`ProcfsReader::read`] delivered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcfsRead {
    pub raw: ProcfsRaw,
    /// One entry per source, `ok: false` with the error when it failed.
    pub sources: Vec<SourceStatus>,
}

/// Reader of /proc under an injectable root, so tests can use a fake tree.
#[derive(Debug, Clone)]
pub struct ProcfsReader {
    root: PathBuf,
}

impl Default for ProcfsReader {
    fn default() -> Self {
        Self::new("/proc")
    }
}

impl ProcfsReader {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads every source; a failing one is reported in `sources`, the others are still read.
    pub fn read(&self) -> ProcfsRead {
        let mut sources = Vec::with_capacity(6);
        let raw = ProcfsRaw {
            stat: record(&mut sources, source::STAT, self.read_stat()),
            psi: record(&mut sources, source::PSI, self.read_psi()),
            loadavg: record(&mut sources, source::LOADAVG, self.read_loadavg()),
            vmstat: record(&mut sources, source::VMSTAT, self.read_vmstat()),
            diskstats: record(&mut sources, source::DISKSTATS, self.read_diskstats()),
            meminfo: record(&mut sources, source::MEMINFO, self.read_meminfo()),
        };
        ProcfsRead { raw, sources }
    }

    /// /proc/stat: per-CPU ticks, context switches, forks, running and blocked tasks.
    pub fn read_stat(&self) -> Result<StatRaw, ProcfsError> {
        let path = self.root.join("stat");
        let bytes = read_bytes(&path, HINT_PROC)?;
        // Only the tick counts are used, never the crate's ms conversions, so
        // the ticks-per-second given here does not matter.
        let info = ExplicitSystemInfo {
            boot_time_secs: 0,
            ticks_per_second: 100,
            page_size: 4096,
            is_little_endian: cfg!(target_endian = "little"),
        };
        let ks =
            KernelStats::from_read(bytes.as_slice(), &info).map_err(|e| parse_error(&path, e))?;
        Ok(StatRaw {
            total: ticks(&ks.total),
            per_cpu: ks.cpu_time.iter().map(ticks).collect(),
            ctxt: ks.ctxt,
            processes: ks.processes,
            procs_running: ks.procs_running.unwrap_or(0),
            procs_blocked: ks.procs_blocked.unwrap_or(0),
        })
    }

    /// /proc/pressure/{cpu,io,memory}; all three or an error.
    pub fn read_psi(&self) -> Result<PsiRaw, ProcfsError> {
        let dir = self.root.join("pressure");
        Ok(PsiRaw {
            cpu: read_pressure(&dir.join("cpu"))?,
            io: read_pressure(&dir.join("io"))?,
            memory: read_pressure(&dir.join("memory"))?,
        })
    }

    /// /proc/loadavg.
    pub fn read_loadavg(&self) -> Result<LoadavgRaw, ProcfsError> {
        let path = self.root.join("loadavg");
        let bytes = read_bytes(&path, HINT_PROC)?;
        let la = LoadAverage::from_read(bytes.as_slice()).map_err(|e| parse_error(&path, e))?;
        Ok(LoadavgRaw {
            load1: f64::from(la.one),
            load5: f64::from(la.five),
            load15: f64::from(la.fifteen),
            runnable: la.cur,
            total_tasks: la.max,
        })
    }

    /// /proc/vmstat: page faults and swap traffic.
    pub fn read_vmstat(&self) -> Result<VmstatRaw, ProcfsError> {
        let path = self.root.join("vmstat");
        let bytes = read_bytes(&path, HINT_PROC)?;
        let vm = VmStat::from_read(bytes.as_slice()).map_err(|e| parse_error(&path, e))?;
        let get = |key: &str| -> Result<u64, ProcfsError> {
            let v = vm.0.get(key).ok_or_else(|| ProcfsError::Parse {
                path: path.clone(),
                detail: format!("no `{key}` line"),
            })?;
            u64::try_from(*v).map_err(|_| ProcfsError::Parse {
                path: path.clone(),
                detail: format!("`{key}` is negative ({v})"),
            })
        };
        // Reclaim counters moved between kernels (workingset_refault split in
        // 5.9, pgscan_khugepaged added in 6.x): sum what this kernel has.
        let sum = |keys: &[&str]| -> u64 {
            keys.iter()
                .filter_map(|k| vm.0.get(*k))
                .map(|v| u64::try_from(*v).unwrap_or(0))
                .sum()
        };
        Ok(VmstatRaw {
            pgfault: get("pgfault")?,
            pgmajfault: get("pgmajfault")?,
            pswpin: get("pswpin")?,
            pswpout: get("pswpout")?,
            workingset_refault: sum(&[
                "workingset_refault_file",
                "workingset_refault_anon",
                "workingset_refault",
            ]),
            pgscan: sum(&["pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged"]),
            pgscan_direct: sum(&["pgscan_direct"]),
        })
    }

    /// /proc/diskstats, every line (loop and ram devices are filtered later).
    pub fn read_diskstats(&self) -> Result<Vec<DiskRaw>, ProcfsError> {
        let path = self.root.join("diskstats");
        let bytes = read_bytes(&path, HINT_PROC)?;
        let ds = DiskStats::from_read(bytes.as_slice()).map_err(|e| parse_error(&path, e))?;
        ds.0.into_iter()
            .map(|d| {
                let (Ok(major), Ok(minor)) = (u32::try_from(d.major), u32::try_from(d.minor))
                else {
                    return Err(ProcfsError::Parse {
                        path: path.clone(),
                        detail: format!(
                            "negative device number {}:{} for {}",
                            d.major, d.minor, d.name
                        ),
                    });
                };
                Ok(DiskRaw {
                    major,
                    minor,
                    name: d.name,
                    reads: d.reads,
                    writes: d.writes,
                    sectors_read: d.sectors_read,
                    sectors_written: d.sectors_written,
                    in_flight: d.in_progress,
                    io_ticks_ms: d.time_in_progress,
                    weighted_io_ticks_ms: d.weighted_time_in_progress,
                })
            })
            .collect()
    }

    /// /proc/meminfo, in bytes.
    pub fn read_meminfo(&self) -> Result<MeminfoRaw, ProcfsError> {
        let path = self.root.join("meminfo");
        let bytes = read_bytes(&path, HINT_PROC)?;
        check_meminfo(&bytes).map_err(|detail| ProcfsError::Parse {
            path: path.clone(),
            detail,
        })?;
        let mi = Meminfo::from_read(bytes.as_slice()).map_err(|e| parse_error(&path, e))?;
        Ok(MeminfoRaw {
            total_bytes: mi.mem_total,
            available_bytes: mi.mem_available.unwrap_or(mi.mem_free),
            free_bytes: mi.mem_free,
            cached_bytes: mi.cached,
            dirty_bytes: mi.dirty,
            swap_total_bytes: mi.swap_total,
            swap_free_bytes: mi.swap_free,
        })
    }

    /// `/proc/<pid>/comm` without the trailing newline.
    pub fn read_comm(&self, pid: u32) -> Result<String, ProcfsError> {
        let path = self.root.join(pid.to_string()).join("comm");
        let bytes = read_bytes(&path, "the process has exited")?;
        let comm = String::from_utf8_lossy(&bytes);
        Ok(comm.trim_end_matches('\n').to_owned())
    }
}

fn record<T>(sources: &mut Vec<SourceStatus>, name: &str, r: Result<T, ProcfsError>) -> Option<T> {
    match r {
        Ok(v) => {
            sources.push(SourceStatus {
                name: name.to_owned(),
                ok: true,
                detail: String::new(),
            });
            Some(v)
        }
        Err(e) => {
            tracing::debug!(source = name, error = %e, "procfs source unavailable");
            sources.push(SourceStatus {
                name: name.to_owned(),
                ok: false,
                detail: e.to_string(),
            });
            None
        }
    }
}

fn read_bytes(path: &Path, hint: &'static str) -> Result<Vec<u8>, ProcfsError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ProcfsError::Missing {
            path: path.to_owned(),
            hint,
        },
        _ => ProcfsError::Io {
            path: path.to_owned(),
            source,
        },
    })
}

/// The crate's internal errors say "please report this procfs bug"; for a
/// malformed file the fault is the file, so keep only what went wrong.
fn parse_error(path: &Path, e: ProcError) -> ProcfsError {
    let detail = match e {
        ProcError::InternalError(ie) => {
            let msg = ie.msg.trim_start_matches("Internal Unwrap Error: ");
            if msg.ends_with("NoneError") {
                "a required line or field is missing (file truncated?)".to_owned()
            } else {
                format!("unexpected content: {msg}")
            }
        }
        ProcError::Incomplete(_) => "incomplete or malformed content".to_owned(),
        ProcError::Io(inner, _) => format!("unexpected content: {inner}"),
        ProcError::Other(s) => s,
        ProcError::PermissionDenied(_) => "permission denied".to_owned(),
        ProcError::NotFound(_) => "not found".to_owned(),
    };
    ProcfsError::Parse {
        path: path.to_owned(),
        detail,
    }
}

/// The crate's meminfo parser slices field names by bytes and multiplies by
/// the unit unchecked; both panic on input the kernel never writes but a
/// corrupted or hand-edited file can hold. Reject such input first.
fn check_meminfo(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or_else(|| "not ASCII text".to_owned())?;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(_), Some(value), Some(unit)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        // The units the crate knows; it rejects the others itself.
        let scale: u64 = match unit.to_ascii_lowercase().as_str() {
            "kib" | "kb" => 1 << 10,
            "mib" | "mb" => 1 << 20,
            "gib" | "gb" => 1 << 30,
            _ => 1,
        };
        if let Ok(v) = value.parse::<u64>()
            && v.checked_mul(scale).is_none()
        {
            return Err(format!("value out of range in line {line:?}"));
        }
    }
    Ok(())
}

fn ticks(t: &procfs::CpuTime) -> CpuTicks {
    CpuTicks {
        user: t.user,
        nice: t.nice,
        system: t.system,
        idle: t.idle,
        iowait: t.iowait.unwrap_or(0),
        irq: t.irq.unwrap_or(0),
        softirq: t.softirq.unwrap_or(0),
        steal: t.steal.unwrap_or(0),
    }
}

/// One pressure file. Parsed line by line with the crate's record parser
/// because `cpu` has no `full` line before Linux 5.13.
fn read_pressure(path: &Path) -> Result<PsiResourceRaw, ProcfsError> {
    let bytes = read_bytes(path, HINT_PSI)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ProcfsError::Parse {
        path: path.to_owned(),
        detail: "not UTF-8".to_owned(),
    })?;
    let mut some = None;
    let mut full = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // The crate slices the line at byte 5, so check the prefix first.
        let slot = if line.starts_with("some ") {
            &mut some
        } else if line.starts_with("full ") {
            &mut full
        } else {
            return Err(ProcfsError::Parse {
                path: path.to_owned(),
                detail: format!("unexpected line {line:?}"),
            });
        };
        let rec = procfs::parse_pressure_record(line).map_err(|_| ProcfsError::Parse {
            path: path.to_owned(),
            detail: format!("malformed line {line:?}"),
        })?;
        if ![rec.avg10, rec.avg60, rec.avg300]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(ProcfsError::Parse {
                path: path.to_owned(),
                detail: format!("non-finite average in line {line:?}"),
            });
        }
        *slot = Some(PsiLineRaw {
            avg10: f64::from(rec.avg10),
            avg60: f64::from(rec.avg60),
            avg300: f64::from(rec.avg300),
            total_us: rec.total,
        });
    }
    let some = some.ok_or_else(|| ProcfsError::Parse {
        path: path.to_owned(),
        detail: "no `some` line (file empty or truncated?)".to_owned(),
    })?;
    Ok(PsiResourceRaw { some, full })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_line_too_short_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cpu");
        for content in ["some", "some\n", "full", "some avg10=1.00", "somé avg10"] {
            std::fs::write(&p, content).unwrap();
            let err = read_pressure(&p).unwrap_err();
            assert!(err.to_string().contains(&p.display().to_string()), "{err}");
        }
    }

    #[test]
    fn cpu_pressure_without_full_line_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cpu");
        std::fs::write(&p, "some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\n").unwrap();
        let r = read_pressure(&p).unwrap();
        assert_eq!(r.some.total_us, 12345);
        assert!((r.some.avg10 - 1.5).abs() < 1e-6);
        assert_eq!(r.full, None);
    }

    #[test]
    fn comm_is_read_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("42")).unwrap();
        std::fs::write(dir.path().join("42/comm"), "scx_bpfland\n").unwrap();
        let r = ProcfsReader::new(dir.path());
        assert_eq!(r.read_comm(42).unwrap(), "scx_bpfland");
        let err = r.read_comm(43).unwrap_err();
        assert!(err.to_string().contains("43/comm"), "{err}");
    }
}
