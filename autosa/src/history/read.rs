//! Reading the history: by time and count, newest last. Safe beside the
//! writer: a record being written (no newline yet, or a bad CRC) is skipped.

use std::path::Path;

use super::record::Entry;
use super::segment;

/// Records at or after `since_unix_ms`, at most the `limit` newest, oldest
/// first. A missing directory is an empty history.
pub fn read(dir: &Path, since_unix_ms: u64, limit: usize) -> std::io::Result<Vec<Entry>> {
    let segs = match segment::list(dir) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    // Newest segment first, so that a small limit reads little.
    let mut newest_first: Vec<Vec<Entry>> = Vec::new();
    let mut have = 0;
    for (i, seg) in segs.iter().enumerate().rev() {
        if have >= limit {
            break;
        }
        // Every record of this segment is older than the next one's start.
        if segs
            .get(i + 1)
            .is_some_and(|next| next.start_unix_ms < since_unix_ms)
        {
            break;
        }
        let data = match std::fs::read(&seg.path) {
            Ok(d) => d,
            // Deleted by retention meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let scan = segment::scan_logged(&seg.path, &data);
        let entries: Vec<Entry> = scan
            .payloads
            .iter()
            .filter_map(|p| match serde_json::from_slice::<Entry>(p) {
                Ok(e) => Some(e),
                // A record type from a newer autosa: skipped, not fatal.
                Err(e) => {
                    tracing::debug!("unreadable history record skipped: {e}");
                    None
                }
            })
            .filter(|e| e.time_unix_ms >= since_unix_ms)
            .collect();
        have += entries.len();
        newest_first.push(entries);
    }
    let mut out: Vec<Entry> = newest_first.into_iter().rev().flatten().collect();
    let excess = out.len().saturating_sub(limit);
    out.drain(..excess);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::record::{MetricsPoint, Record};
    use super::super::store::{HistoryStore, StoreOptions};
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    fn opts() -> StoreOptions {
        StoreOptions {
            max_age: Duration::from_secs(3600),
            max_bytes: 1 << 20,
            segment_bytes: 1 << 16,
        }
    }

    fn stop(t: u64, reason: &str) -> Entry {
        Entry {
            time_unix_ms: t,
            record: Record::Stop {
                reason: reason.into(),
            },
        }
    }

    fn metrics(t: u64) -> Entry {
        Entry {
            time_unix_ms: t,
            record: Record::Metrics(MetricsPoint {
                class: None,
                confidence: 0.5,
                cpu_busy: 0.25,
                runq_p50_ns: 1000.0,
                runq_p99_ns: 9000.0,
                psi_cpu: 0.0,
                psi_io: 0.1,
                psi_memory: 0.0,
                switches: 3,
            }),
        }
    }

    #[test]
    fn append_then_read_by_time_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = HistoryStore::open(dir.path(), opts()).unwrap();
        for i in 0..10 {
            s.append(&stop(T0 + i * 1000, &format!("r{i}"))).unwrap();
            s.append(&metrics(T0 + i * 1000 + 500)).unwrap();
        }
        let all = read(dir.path(), 0, usize::MAX).unwrap();
        assert_eq!(all.len(), 20);
        assert_eq!(all[0], stop(T0, "r0"));
        assert_eq!(all[1], metrics(T0 + 500));
        let since = read(dir.path(), T0 + 8000, usize::MAX).unwrap();
        assert_eq!(since.len(), 4);
        assert_eq!(since[0], stop(T0 + 8000, "r8"));
        let last = read(dir.path(), 0, 3).unwrap();
        assert_eq!(last.len(), 3);
        assert_eq!(last[2], metrics(T0 + 9500));
        assert_eq!(last[1], stop(T0 + 9000, "r9"));
        // Reopening appends after what is there.
        drop(s);
        let mut s = HistoryStore::open(dir.path(), opts()).unwrap();
        s.append(&stop(T0 + 20_000, "again")).unwrap();
        assert_eq!(read(dir.path(), 0, usize::MAX).unwrap().len(), 21);
    }

    #[test]
    fn a_batch_is_written_in_order_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            segment_bytes: 600,
            ..opts()
        };
        let mut s = HistoryStore::open(dir.path(), options).unwrap();
        let batch: Vec<Entry> = (0..10).map(|i| stop(T0 + i, &format!("b{i}"))).collect();
        s.append_all(&batch).unwrap();
        assert!(segment::list(dir.path()).unwrap().len() > 1);
        assert_eq!(read(dir.path(), 0, usize::MAX).unwrap(), batch);
    }

    #[test]
    fn missing_directory_is_an_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("none"), 0, 10).unwrap().is_empty());
    }

    #[test]
    fn segments_rotate_by_size_and_by_day_and_retention_deletes_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            max_age: Duration::from_secs(2 * 24 * 3600),
            max_bytes: 20_000,
            segment_bytes: 4096,
        };
        let mut s = HistoryStore::open(dir.path(), options).unwrap();
        // About 250 bytes per record: ~16 per segment, 8 segments over the limit.
        for i in 0..200 {
            s.append(&metrics(T0 + i)).unwrap();
        }
        let segs = segment::list(dir.path()).unwrap();
        let total: u64 = segs.iter().map(|s| s.bytes).sum();
        assert!(segs.len() > 2, "{segs:?}");
        assert!(segs.iter().all(|s| s.bytes <= 4096), "{segs:?}");
        assert!(total <= 20_000 + 4096, "total {total}");
        let kept = read(dir.path(), 0, usize::MAX).unwrap();
        // The newest records are kept, in order, without a gap.
        assert_eq!(kept.last().unwrap().time_unix_ms, T0 + 199);
        for w in kept.windows(2) {
            assert_eq!(w[1].time_unix_ms, w[0].time_unix_ms + 1);
        }
        assert!(kept.len() < 200);
        // A limit larger than a segment reaches back across segments.
        let last = read(dir.path(), 0, 40).unwrap();
        assert_eq!(last.as_slice(), &kept[kept.len() - 40..]);
        let since = read(dir.path(), T0 + 190, 1000).unwrap();
        assert_eq!(since.as_slice(), &kept[kept.len() - 10..]);

        // A new day starts a new segment; three days later the old ones go.
        let day = 24 * 3600 * 1000;
        s.append(&stop(T0 + day, "next day")).unwrap();
        let before = segment::list(dir.path()).unwrap();
        assert_eq!(before.last().unwrap().start_unix_ms, T0 + day);
        s.append(&stop(T0 + 4 * day, "later")).unwrap();
        let after = segment::list(dir.path()).unwrap();
        assert_eq!(after.len(), 2, "{after:?}");
        let kept = read(dir.path(), 0, usize::MAX).unwrap();
        assert_eq!(
            kept,
            vec![stop(T0 + day, "next day"), stop(T0 + 4 * day, "later")]
        );
    }

    #[test]
    fn torn_tail_and_garbage_lose_at_most_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = HistoryStore::open(dir.path(), opts()).unwrap();
        for i in 0..5 {
            s.append(&stop(T0 + i, &format!("r{i}"))).unwrap();
        }
        drop(s);
        let seg = segment::list(dir.path()).unwrap().pop().unwrap();
        let len = std::fs::metadata(&seg.path).unwrap().len();
        // Cut the last record in the middle.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&seg.path)
            .unwrap();
        f.set_len(len - 20).unwrap();
        drop(f);
        assert_eq!(read(dir.path(), 0, usize::MAX).unwrap().len(), 4);
        let mut s = HistoryStore::open(dir.path(), opts()).unwrap();
        s.append(&stop(T0 + 10, "after tear")).unwrap();
        let got = read(dir.path(), 0, usize::MAX).unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(got[3], stop(T0 + 3, "r3"));
        assert_eq!(got[4], stop(T0 + 10, "after tear"));
        drop(s);

        // Garbage appended (a half-written line, then a bad CRC line).
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&seg.path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"crc\":1,\"rec\":{}}\n{\"crc\":12").unwrap();
        drop(f);
        let mut s = HistoryStore::open(dir.path(), opts()).unwrap();
        s.append(&stop(T0 + 11, "after garbage")).unwrap();
        let got = read(dir.path(), 0, usize::MAX).unwrap();
        assert_eq!(got.len(), 6);
        assert_eq!(got[5], stop(T0 + 11, "after garbage"));
    }

    #[test]
    fn a_corrupt_middle_record_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = HistoryStore::open(dir.path(), opts()).unwrap();
        for i in 0..3 {
            s.append(&stop(T0 + i, &format!("r{i}"))).unwrap();
        }
        drop(s);
        let seg = segment::list(dir.path()).unwrap().pop().unwrap();
        let mut data = std::fs::read(&seg.path).unwrap();
        let second = data.iter().position(|&b| b == b'\n').unwrap() + 40;
        data[second] ^= 0x01;
        std::fs::write(&seg.path, &data).unwrap();
        let got = read(dir.path(), 0, usize::MAX).unwrap();
        assert_eq!(got, vec![stop(T0, "r0"), stop(T0 + 2, "r2")]);
        // Opening keeps the good last record (only a bad tail is cut).
        let _s = HistoryStore::open(dir.path(), opts()).unwrap();
        assert_eq!(std::fs::read(&seg.path).unwrap().len(), data.len());
    }
}
