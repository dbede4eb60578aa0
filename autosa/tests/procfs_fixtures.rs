//! The procfs reader against copies of real /proc files and broken variants:
//! every variant gives the right values or an error naming the file, never a panic.

use std::path::PathBuf;

use autosa::collect::procfs::{ProcfsError, ProcfsReader, source};
use autosa::model::sample::CpuTicks;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(name)
}

fn reader(name: &str) -> ProcfsReader {
    ProcfsReader::new(fixture(name))
}

/// The error's message names the file it came from.
fn assert_names(err: &ProcfsError, variant: &str, file: &str) {
    let msg = err.to_string();
    let want = fixture(variant).join(file).display().to_string();
    assert!(msg.contains(&want), "message {msg:?} does not name {want}");
}

#[test]
fn host_stat_is_read_exactly() {
    let st = reader("host-6.18").read_stat().unwrap();
    assert_eq!(
        st.total,
        CpuTicks {
            user: 33649,
            nice: 15744,
            system: 15687,
            idle: 61754,
            iowait: 786,
            irq: 0,
            softirq: 413,
            steal: 159
        }
    );
    assert_eq!(st.per_cpu.len(), 2);
    assert_eq!(st.per_cpu[1].system, 8643);
    assert_eq!(st.per_cpu[1].steal, 80);
    assert_eq!(
        (st.ctxt, st.processes, st.procs_running, st.procs_blocked),
        (1826594, 19622, 6, 0)
    );
}

#[test]
fn host_psi_loadavg_vmstat_meminfo_diskstats() {
    let r = reader("host-6.18");
    let psi = r.read_psi().unwrap();
    assert_eq!(psi.cpu.some.total_us, 159483786);
    assert!((psi.cpu.some.avg10 - 94.14).abs() < 1e-4);
    assert_eq!(psi.cpu.full.unwrap().total_us, 0);
    assert_eq!(psi.io.full.unwrap().total_us, 5494922);
    assert!((psi.io.some.avg60 - 4.15).abs() < 1e-4);

    let la = r.read_loadavg().unwrap();
    assert!((la.load1 - 5.03).abs() < 1e-4 && (la.load15 - 1.24).abs() < 1e-4);
    assert_eq!((la.runnable, la.total_tasks), (6, 146));

    let vm = r.read_vmstat().unwrap();
    assert_eq!(
        (vm.pgfault, vm.pgmajfault, vm.pswpin, vm.pswpout),
        (33294490, 106633, 0, 0)
    );

    let mi = r.read_meminfo().unwrap();
    assert_eq!(mi.total_bytes, 24684084 * 1024);
    assert_eq!(mi.available_bytes, 15257552 * 1024);
    assert_eq!(mi.free_bytes, 10950792 * 1024);
    assert_eq!(mi.cached_bytes, 4415044 * 1024);
    assert_eq!(mi.dirty_bytes, 204224 * 1024);
    assert_eq!((mi.swap_total_bytes, mi.swap_free_bytes), (0, 0));

    let disks = r.read_diskstats().unwrap();
    assert_eq!(disks.len(), 10);
    let vda = disks.iter().find(|d| d.name == "vda").unwrap();
    assert_eq!((vda.major, vda.minor), (254, 0));
    assert_eq!(
        (vda.reads, vda.sectors_read, vda.writes, vda.sectors_written),
        (693591, 10300146, 298944, 22981112)
    );
    assert_eq!(
        (vda.in_flight, vda.io_ticks_ms, vda.weighted_io_ticks_ms),
        (0, 35276, 233831)
    );
}

#[test]
fn host_read_all_sources_ok() {
    let out = reader("host-6.18").read();
    let names: Vec<&str> = out.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            source::STAT,
            source::PSI,
            source::LOADAVG,
            source::VMSTAT,
            source::DISKSTATS,
            source::MEMINFO
        ]
    );
    assert!(
        out.sources.iter().all(|s| s.ok && s.detail.is_empty()),
        "{:?}",
        out.sources
    );
    let raw = out.raw;
    assert!(raw.stat.is_some() && raw.psi.is_some() && raw.loadavg.is_some());
    assert!(raw.vmstat.is_some() && raw.diskstats.is_some() && raw.meminfo.is_some());
}

#[test]
fn missing_pressure_dir_fails_psi_only() {
    let out = reader("no-pressure").read();
    let psi = out.sources.iter().find(|s| s.name == source::PSI).unwrap();
    assert!(!psi.ok);
    assert!(
        psi.detail.contains("pressure/cpu") && psi.detail.contains("pressure stall"),
        "{}",
        psi.detail
    );
    assert!(
        out.sources
            .iter()
            .filter(|s| s.name != source::PSI)
            .all(|s| s.ok),
        "{:?}",
        out.sources
    );
    assert!(out.raw.psi.is_none());
    assert_eq!(out.raw.stat.unwrap().ctxt, 1826594);
    let err = reader("no-pressure").read_psi().unwrap_err();
    assert!(matches!(err, ProcfsError::Missing { .. }));
    assert_names(&err, "no-pressure", "pressure/cpu");
}

#[test]
fn old_kernel_without_steal_guest_or_cpu_full() {
    let r = reader("old-kernel");
    let st = r.read_stat().unwrap();
    assert_eq!(st.per_cpu.len(), 4);
    assert_eq!(
        st.total,
        CpuTicks {
            user: 4705,
            nice: 356,
            system: 584,
            idle: 3699,
            iowait: 23,
            irq: 23,
            softirq: 0,
            steal: 0
        }
    );
    assert_eq!(st.per_cpu[3].idle, 1964);
    let psi = r.read_psi().unwrap();
    assert_eq!(psi.cpu.some.total_us, 123456);
    assert!(psi.cpu.full.is_none());
    assert!(psi.io.full.is_some());
    // diskstats before 4.18: 14 fields, no discard or flush columns.
    let disks = r.read_diskstats().unwrap();
    assert_eq!(disks.len(), 3);
    assert_eq!(
        (
            disks[1].name.as_str(),
            disks[1].writes,
            disks[1].weighted_io_ticks_ms
        ),
        ("sda1", 1900, 1300)
    );
}

#[test]
fn malformed_files_give_values_or_errors_naming_the_file() {
    let r = reader("malformed");
    // A garbage line that is not a cpu/ctxt line is ignored: correct values.
    let st = r.read_stat().unwrap();
    assert_eq!(st.per_cpu.len(), 2);
    assert_eq!(st.ctxt, 1826594);

    for (err, file) in [
        (r.read_loadavg().unwrap_err(), "loadavg"),
        (r.read_vmstat().unwrap_err(), "vmstat"),
        (r.read_diskstats().unwrap_err(), "diskstats"),
        (r.read_meminfo().unwrap_err(), "meminfo"),
        (r.read_psi().unwrap_err(), "pressure/cpu"),
    ] {
        assert!(matches!(err, ProcfsError::Parse { .. }), "{err}");
        assert_names(&err, "malformed", file);
        assert!(!err.to_string().contains("report this procfs bug"), "{err}");
    }
    let out = r.read();
    assert_eq!(out.sources.iter().filter(|s| s.ok).count(), 1);

    let err = reader("malformed-cpu-line").read_stat().unwrap_err();
    assert_names(&err, "malformed-cpu-line", "stat");
}

#[test]
fn truncated_files_are_errors_naming_the_file() {
    let r = reader("truncated");
    let errs = [
        (r.read_stat().map(|_| ()), "stat"),
        (r.read_loadavg().map(|_| ()), "loadavg"),
        (r.read_vmstat().map(|_| ()), "vmstat"),
        (r.read_diskstats().map(|_| ()), "diskstats"),
        (r.read_meminfo().map(|_| ()), "meminfo"),
        (r.read_psi().map(|_| ()), "pressure/cpu"),
    ];
    for (res, file) in errs {
        let err = res.expect_err(file);
        assert_names(&err, "truncated", file);
    }
    let out = r.read();
    assert!(out.sources.iter().all(|s| !s.ok), "{:?}", out.sources);
}

#[test]
fn empty_files_are_errors_except_an_empty_disk_list() {
    let r = reader("empty");
    for (res, file) in [
        (r.read_stat().map(|_| ()), "stat"),
        (r.read_loadavg().map(|_| ()), "loadavg"),
        (r.read_vmstat().map(|_| ()), "vmstat"),
        (r.read_meminfo().map(|_| ()), "meminfo"),
        (r.read_psi().map(|_| ()), "pressure/cpu"),
    ] {
        let err = res.expect_err(file);
        assert_names(&err, "empty", file);
    }
    // A machine (or container) with no block devices has an empty diskstats.
    assert_eq!(r.read_diskstats().unwrap(), vec![]);
}

#[test]
fn nonexistent_root_reports_every_source_missing() {
    let out = ProcfsReader::new("/nonexistent/autosa-proc").read();
    assert_eq!(out.sources.len(), 6);
    for s in &out.sources {
        assert!(!s.ok);
        assert!(
            s.detail.contains("/nonexistent/autosa-proc/"),
            "{}",
            s.detail
        );
        assert!(s.detail.contains("does not exist"), "{}", s.detail);
    }
    assert_eq!(out.raw, Default::default());
}

#[test]
fn permission_denied_is_an_io_error_with_the_path() {
    // Root reads everything regardless of mode, so use a directory in place of a file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stat")).unwrap();
    let err = ProcfsReader::new(dir.path()).read_stat().unwrap_err();
    assert!(matches!(err, ProcfsError::Io { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&dir.path().join("stat").display().to_string())
    );
}

#[test]
fn hostile_content_never_panics() {
    // Overflowing numbers, invalid UTF-8, non-finite floats, non-ASCII names.
    let r = reader("hostile");
    for (res, file) in [
        (r.read_stat().map(|_| ()), "stat"),
        (r.read_loadavg().map(|_| ()), "loadavg"),
        (r.read_meminfo().map(|_| ()), "meminfo"),
        (r.read_psi().map(|_| ()), "pressure/cpu"),
    ] {
        let err = res.expect_err(file);
        assert_names(&err, "hostile", file);
    }
    // A line with a strange name is just one more key or device.
    assert_eq!(r.read_vmstat().unwrap().pgfault, 33294490);
    assert_eq!(r.read_diskstats().unwrap()[0].name, "vé");
    let err = reader("hostile-meminfo-utf8").read_meminfo().unwrap_err();
    assert_names(&err, "hostile-meminfo-utf8", "meminfo");
}

#[test]
fn derive_works_with_a_source_missing() {
    use autosa::model::metrics::{DeriveOptions, derive};
    use autosa::model::sample::RawSample;
    let read = reader("no-pressure").read();
    let mut a = RawSample {
        monotonic_ns: 1_000_000_000,
        procfs: read.raw.clone(),
        sources: read.sources.clone(),
        ..RawSample::default()
    };
    let mut b = RawSample {
        monotonic_ns: 2_000_000_000,
        procfs: read.raw,
        sources: read.sources,
        ..RawSample::default()
    };
    // One second later: 1000 more context switches on the same counters.
    a.procfs.stat.as_mut().unwrap().ctxt -= 1000;
    b.time_unix_ms = 1_700_000_000_000;
    let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
    assert!(s.psi.is_none());
    assert_eq!(s.cpu.nr_cpus, 2);
    assert!((s.cpu.context_switches_per_sec - 1000.0).abs() < 1e-9);
    assert_eq!(
        s.disks.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["vda"]
    );
    assert!(s.sources.iter().any(|x| x.name == "psi" && !x.ok));
}
