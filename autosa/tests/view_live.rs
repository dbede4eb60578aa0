//! The whole path on this machine: read /proc twice, derive, render.

use std::time::{Duration, Instant};

use autosa::collect::procfs::ProcfsReader;
use autosa::model::metrics::{DeriveOptions, derive};
use autosa::model::sample::RawSample;
use autosa::view::render_text;

#[test]
fn live_proc_renders() {
    let reader = ProcfsReader::default();
    let start = Instant::now();
    let take = |r: &ProcfsReader| {
        let read = r.read();
        RawSample {
            monotonic_ns: start.elapsed().as_nanos() as u64 + 1,
            time_unix_ms: 1_700_000_000_000,
            procfs: read.raw,
            bpf: None,
            sources: read.sources,
        }
    };
    let a = take(&reader);
    std::thread::sleep(Duration::from_millis(50));
    let b = take(&reader);
    let snap = derive(&a, &b, &DeriveOptions::default()).unwrap();
    let text = render_text(&snap);
    assert!(
        text.contains(&format!("CPU ({})", snap.cpu.nr_cpus)),
        "{text}"
    );
    assert!(text.contains("Memory   total"), "{text}");
    assert_eq!(text.contains("Pressure"), snap.psi.is_some(), "{text}");
    assert_eq!(text.contains("Device"), !snap.disks.is_empty(), "{text}");
    // No eBPF here: no scheduler section.
    assert!(!text.contains("Run-queue latency"), "{text}");
}
