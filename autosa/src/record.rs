//! Recordings: JSON Lines. The first line is a [`RecordingHeader`]
//! (`{"autosa_recording": 1, "snapshot_version": N, "host": …, "kernel": …,
//! "started_unix_ms": …}`), then one [`Snapshot`] per line.
//!
//! The writer flushes every line so a killed recorder leaves at most one
//! partial line; the reader skips such a truncated last line (and says so)
//! instead of failing, and names the line of any other error.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::Snapshot;
use crate::model::snapshot::SNAPSHOT_VERSION;

/// Version of the recording format (the header and the line framing).
pub const RECORDING_FORMAT: u32 = 1;

/// Longest line the reader accepts. A snapshot autosa writes is at most a
/// few MiB (1000 tasks, 8192 events); a longer line is not a recording, and
/// reading it whole would let a file take all memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// Recording format version, [`RECORDING_FORMAT`].
    pub autosa_recording: u32,
    /// Snapshot schema version of the lines that follow.
    pub snapshot_version: u32,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub kernel: String,
    #[serde(default)]
    pub started_unix_ms: u64,
}

impl RecordingHeader {
    /// A header for a recording written by this build.
    pub fn new(host: impl Into<String>, kernel: impl Into<String>, started_unix_ms: u64) -> Self {
        RecordingHeader {
            autosa_recording: RECORDING_FORMAT,
            snapshot_version: SNAPSHOT_VERSION,
            host: host.into(),
            kernel: kernel.into(),
            started_unix_ms,
        }
    }
}

impl RecordingHeader {
    /// A header for this machine: host name and kernel release from
    /// `<proc_root>/sys/kernel/{hostname,osrelease}` ("unknown" when unreadable).
    pub fn for_host(proc_root: &Path, started_unix_ms: u64) -> Self {
        let read = |name: &str| {
            std::fs::read_to_string(proc_root.join("sys/kernel").join(name))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".to_string())
        };
        RecordingHeader::new(read("hostname"), read("osrelease"), started_unix_ms)
    }
}

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("recording line {line}: {source}")]
    Io {
        line: u64,
        #[source]
        source: io::Error,
    },
    #[error("the recording is empty: it has no header line")]
    Empty,
    #[error(
        "recording line 1 is not an autosa recording header ({detail}); \
         record with `autosa record --out FILE`"
    )]
    NotARecording { detail: String },
    #[error(
        "recording format {found} is newer than this autosa reads ({supported}): \
         replay it with a newer autosa"
    )]
    NewerFormat { found: u32, supported: u32 },
    #[error(
        "recording holds snapshot version {found}, newer than this autosa reads ({supported}): \
         replay it with a newer autosa"
    )]
    NewerSnapshot { found: u32, supported: u32 },
    #[error("recording line {line}: not a valid snapshot: {source}")]
    BadLine {
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "recording line {line} is longer than {max} bytes: this is not a recording autosa wrote"
    )]
    LineTooLong { line: u64, max: usize },
    #[error("could not write the recording: {0}")]
    Write(#[source] io::Error),
}

/// Writes a recording, one flushed line per snapshot.
pub struct RecordingWriter<W: Write> {
    out: W,
    snapshots: u64,
}

impl RecordingWriter<BufWriter<File>> {
    /// Create (or truncate) `path` and write the header.
    pub fn create(path: &Path, header: &RecordingHeader) -> Result<Self, RecordError> {
        let file = File::create(path).map_err(|source| RecordError::Open {
            path: path.display().to_string(),
            source,
        })?;
        RecordingWriter::new(BufWriter::new(file), header)
    }
}

impl<W: Write> RecordingWriter<W> {
    /// Start a recording on `out`: the header line is written and flushed.
    pub fn new(out: W, header: &RecordingHeader) -> Result<Self, RecordError> {
        let mut w = RecordingWriter { out, snapshots: 0 };
        w.line(header)?;
        Ok(w)
    }

    /// Append one snapshot and flush.
    pub fn write(&mut self, snapshot: &Snapshot) -> Result<(), RecordError> {
        self.line(snapshot)?;
        self.snapshots += 1;
        Ok(())
    }

    /// Snapshots written so far.
    pub fn snapshots(&self) -> u64 {
        self.snapshots
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn line<T: Serialize>(&mut self, value: &T) -> Result<(), RecordError> {
        let mut buf = serde_json::to_vec(value).map_err(|e| RecordError::Write(e.into()))?;
        buf.push(b'\n');
        self.out.write_all(&buf).map_err(RecordError::Write)?;
        self.out.flush().map_err(RecordError::Write)
    }
}

/// Reads a recording: the header at once, then snapshots as an iterator.
pub struct RecordingReader<R: BufRead> {
    input: R,
    header: RecordingHeader,
    line: u64,
    truncated_line: Option<u64>,
    done: bool,
    max_line: usize,
}

/// Reads one line of at most `max` bytes into `text`; `Ok(None)` when longer.
fn read_bounded<R: BufRead>(
    input: &mut R,
    text: &mut String,
    max: usize,
) -> io::Result<Option<usize>> {
    let n = Read::take(input, max as u64 + 1).read_line(text)?;
    Ok((n <= max).then_some(n))
}

impl RecordingReader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, RecordError> {
        let file = File::open(path).map_err(|source| RecordError::Open {
            path: path.display().to_string(),
            source,
        })?;
        RecordingReader::new(BufReader::new(file))
    }
}

impl<R: BufRead> RecordingReader<R> {
    /// Read and check the header.
    pub fn new(input: R) -> Result<Self, RecordError> {
        Self::with_max_line(input, MAX_LINE_BYTES)
    }

    /// Like [`RecordingReader::new`] with another line limit (tests).
    pub fn with_max_line(mut input: R, max_line: usize) -> Result<Self, RecordError> {
        let mut first = String::new();
        let n = read_bounded(&mut input, &mut first, max_line)
            .map_err(|source| RecordError::Io { line: 1, source })?
            .ok_or(RecordError::LineTooLong {
                line: 1,
                max: max_line,
            })?;
        if n == 0 {
            return Err(RecordError::Empty);
        }
        let value: serde_json::Value =
            serde_json::from_str(first.trim()).map_err(|e| RecordError::NotARecording {
                detail: e.to_string(),
            })?;
        if value.get("autosa_recording").is_none() {
            return Err(RecordError::NotARecording {
                detail: "no \"autosa_recording\" key".to_string(),
            });
        }
        let header: RecordingHeader =
            serde_json::from_value(value).map_err(|e| RecordError::NotARecording {
                detail: e.to_string(),
            })?;
        if header.autosa_recording > RECORDING_FORMAT {
            return Err(RecordError::NewerFormat {
                found: header.autosa_recording,
                supported: RECORDING_FORMAT,
            });
        }
        if header.snapshot_version > SNAPSHOT_VERSION {
            return Err(RecordError::NewerSnapshot {
                found: header.snapshot_version,
                supported: SNAPSHOT_VERSION,
            });
        }
        Ok(RecordingReader {
            input,
            header,
            line: 1,
            truncated_line: None,
            done: false,
            max_line,
        })
    }

    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// The line number of a truncated last line that was skipped (a recorder
    /// killed mid-write), once the iterator has reached it.
    pub fn truncated_line(&self) -> Option<u64> {
        self.truncated_line
    }
}

impl<R: BufRead> Iterator for RecordingReader<R> {
    type Item = Result<Snapshot, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let mut text = String::new();
            self.line += 1;
            let line = self.line;
            match read_bounded(&mut self.input, &mut text, self.max_line) {
                Ok(None) => {
                    self.done = true;
                    return Some(Err(RecordError::LineTooLong {
                        line,
                        max: self.max_line,
                    }));
                }
                Ok(Some(0)) => self.done = true,
                Ok(Some(_)) => {
                    let complete = text.ends_with('\n');
                    if text.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Snapshot>(text.trim_end()) {
                        Ok(s) if s.version > SNAPSHOT_VERSION => {
                            self.done = true;
                            return Some(Err(RecordError::NewerSnapshot {
                                found: s.version,
                                supported: SNAPSHOT_VERSION,
                            }));
                        }
                        Ok(s) => return Some(Ok(s)),
                        Err(_) if !complete => {
                            tracing::warn!(
                                line,
                                "recording ends with a truncated line (recorder stopped mid-write); skipped"
                            );
                            self.truncated_line = Some(line);
                            self.done = true;
                        }
                        Err(source) => {
                            self.done = true;
                            return Some(Err(RecordError::BadLine { line, source }));
                        }
                    }
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(RecordError::Io { line, source }));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(t: u64) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            time_unix_ms: t,
            interval_ms: 1000,
            ..Snapshot::default()
        }
    }

    fn recording(n: u64) -> Vec<u8> {
        let mut w =
            RecordingWriter::new(Vec::new(), &RecordingHeader::new("h", "6.18", 5)).unwrap();
        for i in 0..n {
            w.write(&snap(1000 * i)).unwrap();
        }
        assert_eq!(w.snapshots(), n);
        w.into_inner()
    }

    #[test]
    fn header_for_a_fake_proc_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sys/kernel")).unwrap();
        std::fs::write(dir.path().join("sys/kernel/hostname"), "box\n").unwrap();
        std::fs::write(dir.path().join("sys/kernel/osrelease"), "6.18.0\n").unwrap();
        let h = RecordingHeader::for_host(dir.path(), 42);
        assert_eq!((h.host.as_str(), h.kernel.as_str()), ("box", "6.18.0"));
        assert_eq!(h.started_unix_ms, 42);
        let h = RecordingHeader::for_host(&dir.path().join("missing"), 0);
        assert_eq!(h.host, "unknown");
    }

    #[test]
    fn round_trip() {
        let bytes = recording(3);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"autosa_recording\":1,\"snapshot_version\":1,"));
        assert_eq!(text.lines().count(), 4);
        let r = RecordingReader::new(&bytes[..]).unwrap();
        assert_eq!(r.header().host, "h");
        let got: Vec<Snapshot> = r.map(Result::unwrap).collect();
        assert_eq!(got, vec![snap(0), snap(1000), snap(2000)]);
    }

    #[test]
    fn truncated_last_line_is_skipped_and_reported() {
        let mut bytes = recording(2);
        bytes.extend_from_slice(b"{\"version\":1,\"time_unix_ms\":99");
        let mut r = RecordingReader::new(&bytes[..]).unwrap();
        assert_eq!(r.next().unwrap().unwrap(), snap(0));
        assert_eq!(r.next().unwrap().unwrap(), snap(1000));
        assert!(r.next().is_none());
        assert_eq!(r.truncated_line(), Some(4));
    }

    #[test]
    fn bad_line_in_the_middle_names_its_line() {
        let mut bytes = recording(1);
        bytes.extend_from_slice(b"not json\n");
        bytes.extend(recording(1).split(|&b| b == b'\n').nth(1).unwrap());
        let mut r = RecordingReader::new(&bytes[..]).unwrap();
        assert!(r.next().unwrap().is_ok());
        let e = r.next().unwrap().unwrap_err();
        assert!(e.to_string().starts_with("recording line 3:"), "{e}");
        assert!(r.next().is_none());
    }

    #[test]
    fn newer_versions_are_clear_errors() {
        let e = RecordingReader::new(&b"{\"autosa_recording\":2,\"snapshot_version\":1}\n"[..])
            .err()
            .unwrap();
        assert!(
            matches!(
                e,
                RecordError::NewerFormat {
                    found: 2,
                    supported: 1
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("newer autosa"));

        let e = RecordingReader::new(&b"{\"autosa_recording\":1,\"snapshot_version\":9}\n"[..])
            .err()
            .unwrap();
        assert!(
            matches!(e, RecordError::NewerSnapshot { found: 9, .. }),
            "{e}"
        );
    }

    #[test]
    fn not_a_recording() {
        assert!(matches!(
            RecordingReader::new(&b""[..]).err().unwrap(),
            RecordError::Empty
        ));
        let e = RecordingReader::new(&b"{\"version\":1}\n"[..])
            .err()
            .unwrap();
        assert!(matches!(e, RecordError::NotARecording { .. }), "{e}");
        assert!(e.to_string().contains("autosa record"));
    }
}
