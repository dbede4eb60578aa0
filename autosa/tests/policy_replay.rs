//! Record → read back → replay, through files, as `autosa replay` does.

use std::io::Write;

use autosa::model::Snapshot;
use autosa::model::snapshot::{CpuTimes, PsiLine, PsiResource, PsiView, SNAPSHOT_VERSION};
use autosa::policy::{PolicyConfig, WorkloadClass};
use autosa::record::{RecordingHeader, RecordingReader, RecordingWriter};
use autosa::replay::{ReplayError, render_json, render_text, replay, replay_snapshots};

/// A procfs-only interval: `busy` CPU, `io` PSI io stall.
fn snap(i: u64, busy: f64, io: f64) -> Snapshot {
    let mut s = Snapshot {
        version: SNAPSHOT_VERSION,
        time_unix_ms: 1_795_632_000_000 + 1000 * i,
        interval_ms: 1000,
        ..Snapshot::default()
    };
    s.cpu.nr_cpus = 2;
    s.cpu.total = CpuTimes {
        user: busy,
        iowait: io,
        idle: 1.0 - busy - io,
        ..CpuTimes::default()
    };
    s.cpu.context_switches_per_sec = 300.0;
    s.load.procs_running = if busy > 0.5 { 5 } else { 1 };
    s.memory.total_bytes = 24 << 30;
    s.memory.available_bytes = 22 << 30;
    s.psi = Some(PsiView {
        io: PsiResource {
            some: PsiLine {
                stall_fraction: io,
                ..PsiLine::default()
            },
            full: None,
        },
        ..PsiView::default()
    });
    s
}

#[test]
fn a_recording_replays_to_one_line_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    let mut w = RecordingWriter::create(
        &path,
        &RecordingHeader::new("test", "6.18", 1_795_632_000_000),
    )
    .unwrap();
    for i in 0..6 {
        w.write(&snap(i, 1.0, 0.0)).unwrap();
    }
    for i in 6..14 {
        w.write(&snap(i, 0.1, 0.4)).unwrap();
    }
    drop(w);
    // A recorder killed mid-line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"version\":1,\"time_unix_ms\":17956")
        .unwrap();
    drop(f);

    let mut reader = RecordingReader::open(&path).unwrap();
    assert_eq!(reader.header().kernel, "6.18");
    let snaps: Vec<Snapshot> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(snaps.len(), 14);
    assert_eq!(reader.truncated_line(), Some(16));

    let steps = replay(
        RecordingReader::open(&path).unwrap(),
        &PolicyConfig::default(),
    )
    .unwrap();
    assert_eq!(steps.len(), 14);
    assert_eq!(steps[5].class, WorkloadClass::CpuBound);
    assert_eq!(steps[13].class, WorkloadClass::IoBound);
    assert_eq!(
        steps,
        replay_snapshots(&snaps, &PolicyConfig::default()).unwrap()
    );

    let text = render_text(&steps);
    assert_eq!(text.lines().count(), 14);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("2026-11-25T18:40:00.000Z  cpu_bound "),
        "{first}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.contains("io_bound") && last.contains("PSI io some"),
        "{last}"
    );

    let json: serde_json::Value = serde_json::from_str(&render_json(&steps)).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 14);
    assert_eq!(json[13]["class"], "io_bound");
    assert_eq!(json[13]["plan"]["class"], "io_bound");
}

#[test]
fn a_bad_line_stops_the_replay_with_its_line_number() {
    let mut w = RecordingWriter::new(Vec::new(), &RecordingHeader::new("h", "k", 0)).unwrap();
    w.write(&snap(0, 0.0, 0.0)).unwrap();
    let mut bytes = w.into_inner();
    bytes.extend_from_slice(b"{\"cpu\": 7}\n");
    let e = replay(
        RecordingReader::new(&bytes[..]).unwrap(),
        &PolicyConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ReplayError::Recording(_)));
    assert!(e.to_string().starts_with("recording line 3:"), "{e}");
}
