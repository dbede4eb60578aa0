//! Segment files: `<dir>/<first record's unix ms, 20 digits>.jsonl`, so that
//! names sort by time and a segment's span ends where the next one starts.

use std::path::{Path, PathBuf};

use super::line;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub path: PathBuf,
    /// Time of its first record.
    pub start_unix_ms: u64,
    pub bytes: u64,
}

pub fn file_name(start_unix_ms: u64) -> String {
    format!("{start_unix_ms:020}.jsonl")
}

/// The segments in `dir`, oldest first; other files are ignored.
pub fn list(dir: &Path) -> std::io::Result<Vec<Segment>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(start) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push(Segment {
            path: entry.path(),
            start_unix_ms: start,
            bytes: entry.metadata()?.len(),
        });
    }
    out.sort_by_key(|s| s.start_unix_ms);
    Ok(out)
}

/// What scanning a segment found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan<'a> {
    /// Payloads of the good records, in order (borrowed from the data).
    pub payloads: Vec<&'a [u8]>,
    /// Bad lines followed by good ones (skipped).
    pub corrupt_middle: usize,
    /// Bytes after the last good record: a torn or corrupt tail.
    pub good_len: u64,
}

/// Splits `data` into good records, counting the bad lines between them.
pub fn scan(data: &[u8]) -> Scan<'_> {
    let mut scan = Scan::default();
    let mut bad_since_good = 0;
    let mut offset = 0;
    while offset < data.len() {
        let (body, next) = match data[offset..].iter().position(|&b| b == b'\n') {
            Some(n) => (&data[offset..offset + n], offset + n + 1),
            // No newline: a torn last write.
            None => (&data[offset..], data.len()),
        };
        let complete = next <= data.len() && data.get(next - 1) == Some(&b'\n');
        match line::decode(body) {
            Some(payload) if complete => {
                scan.payloads.push(payload);
                scan.corrupt_middle += bad_since_good;
                bad_since_good = 0;
                scan.good_len = next as u64;
            }
            _ => bad_since_good += 1,
        }
        offset = next;
    }
    scan
}

/// `scan`, with a warning when bad records were skipped (the daemon's
/// start and every reader say it alike).
pub fn scan_logged<'a>(path: &Path, data: &'a [u8]) -> Scan<'a> {
    let scan = scan(data);
    if scan.corrupt_middle > 0 {
        tracing::warn!(
            segment = %path.display(),
            "{} corrupt history record(s) skipped",
            scan.corrupt_middle
        );
    }
    scan
}
