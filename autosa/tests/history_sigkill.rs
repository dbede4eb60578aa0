//! A writer SIGKILLed in the middle of appending loses at most the record it
//! was writing: every record before it reads back intact, and the store opens
//! and appends again. The test re-executes itself as the writer.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use autosa::history::{Entry, HistoryStore, MetricsPoint, Record, StoreOptions, read};

const CHILD_ENV: &str = "AUTOSA_TEST_HISTORY_WRITER";
const T0: u64 = 1_800_000_000_000;

fn options() -> StoreOptions {
    // Small segments so the writer also rotates and runs retention while killed.
    StoreOptions {
        max_age: Duration::from_secs(3600),
        max_bytes: 1 << 30,
        segment_bytes: 16 << 10,
    }
}

fn entry(seq: u64) -> Entry {
    let record = if seq.is_multiple_of(3) {
        Record::Manual {
            command: format!("switch {seq}"),
            accepted: true,
            message: "x".repeat((seq % 200) as usize),
        }
    } else {
        Record::Metrics(MetricsPoint {
            class: None,
            confidence: 0.5,
            cpu_busy: 0.5,
            runq_p50_ns: 1.0,
            runq_p99_ns: 2.0,
            psi_cpu: 0.0,
            psi_io: 0.0,
            psi_memory: 0.0,
            switches: seq,
        })
    };
    Entry {
        time_unix_ms: T0 + seq,
        record,
    }
}

fn write_forever(dir: &str) -> ! {
    let mut store = HistoryStore::open(std::path::Path::new(dir), options()).unwrap();
    let mut seq = 0;
    loop {
        store.append(&entry(seq)).unwrap();
        seq += 1;
    }
}

#[test]
fn sigkill_while_writing_loses_at_most_the_last_record() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        write_forever(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut last_count = 0;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sigkill_while_writing_loses_at_most_the_last_record",
                "--nocapture",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it write until it has made progress past the previous round.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let n = read(dir.path(), 0, usize::MAX).unwrap().len();
            if n > last_count + 200 || Instant::now() > deadline {
                break;
            }
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();

        let got = read(dir.path(), 0, usize::MAX).unwrap();
        assert!(
            got.len() > last_count + 200,
            "round {round}: {} records",
            got.len()
        );
        // Each round's writer starts again at seq 0; the markers written
        // between rounds are left out.
        let mut expect_next = 0u64;
        let mut restarts = 0;
        for e in got
            .iter()
            .filter(|e| !matches!(e.record, Record::Stop { .. }))
        {
            let seq = e.time_unix_ms - T0;
            if seq == 0 && expect_next != 0 {
                restarts += 1;
            } else {
                assert_eq!(seq, expect_next, "round {round}: a record is missing");
            }
            assert_eq!(e, &entry(seq), "round {round}: a record is damaged");
            expect_next = seq + 1;
        }
        assert_eq!(restarts, round, "one writer run per round");

        // The store opens and appends after the kill.
        let mut store = HistoryStore::open(dir.path(), options()).unwrap();
        let marker = Entry {
            time_unix_ms: T0 + expect_next,
            record: Record::Stop {
                reason: "after kill".into(),
            },
        };
        store.append(&marker).unwrap();
        let after = read(dir.path(), 0, usize::MAX).unwrap();
        assert_eq!(after.len(), got.len() + 1);
        assert_eq!(after.last(), Some(&marker));
        last_count = after.len();
    }
}
