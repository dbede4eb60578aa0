//! The writer: appends records, rotates segments, applies retention.
//! Records that must survive a crash are fsync'd at once; metrics points are
//! written at once (readers see them) but synced in batches.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::HistoryConfig;
use super::line;
use super::record::Entry;
use super::segment::{self, Segment};

const DAY_MS: u64 = 24 * 3600 * 1000;
/// Metrics points written between two fsyncs.
const SYNC_EVERY: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "history store {path}: {source} (check daemon.state_dir, or set history.enabled = false)"
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Limits of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    pub max_age: Duration,
    pub max_bytes: u64,
    /// A segment is closed at this size (or when the UTC day changes).
    pub segment_bytes: u64,
}

impl StoreOptions {
    pub fn from_config(c: &HistoryConfig) -> Self {
        StoreOptions {
            max_age: c.max_age,
            max_bytes: c.max_bytes,
            // At least eight segments within the size limit, at most 4 MiB each.
            segment_bytes: (c.max_bytes / 8).clamp(4096, 4 << 20),
        }
    }
}

#[derive(Debug)]
struct Open {
    file: File,
    start_unix_ms: u64,
    bytes: u64,
}

#[derive(Debug)]
pub struct HistoryStore {
    dir: PathBuf,
    options: StoreOptions,
    current: Option<Open>,
    unsynced: u32,
}

impl HistoryStore {
    /// Opens (creating) the store in `dir`. The newest segment is checked: a
    /// torn or corrupt tail is cut back to the last good record, so that the
    /// next append starts on a clean line.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<HistoryStore, HistoryError> {
        let io = |source| HistoryError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut store = HistoryStore {
            dir: dir.to_owned(),
            options,
            current: None,
            unsynced: 0,
        };
        if let Some(last) = segment::list(dir).map_err(io)?.pop() {
            store.current = Some(store.repair_and_open(&last)?);
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn repair_and_open(&self, seg: &Segment) -> Result<Open, HistoryError> {
        let io = |source| HistoryError::Io {
            path: seg.path.clone(),
            source,
        };
        let data = std::fs::read(&seg.path).map_err(io)?;
        let scan = segment::scan_logged(&seg.path, &data);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&seg.path)
            .map_err(io)?;
        if scan.good_len < data.len() as u64 {
            tracing::warn!(
                segment = %seg.path.display(),
                "dropping {} bytes of a torn or corrupt last history record",
                data.len() as u64 - scan.good_len
            );
            file.set_len(scan.good_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(Open {
            file,
            start_unix_ms: seg.start_unix_ms,
            bytes: scan.good_len,
        })
    }

    /// Appends one record; important ones are on disk when this returns.
    pub fn append(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        self.append_all(std::slice::from_ref(entry))
    }

    /// Appends records with at most one fsync (the changes of one apply).
    pub fn append_all(&mut self, entries: &[Entry]) -> Result<(), HistoryError> {
        let mut important = false;
        for entry in entries {
            self.write(entry)?;
            important |= entry.record.is_important();
        }
        if important || self.unsynced >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    fn write(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        let payload = serde_json::to_vec(entry).expect("history records always serialise");
        let line = line::encode(&payload);
        let t = entry.time_unix_ms;
        let rotate = match &self.current {
            None => true,
            Some(o) => {
                o.bytes > 0
                    && (o.bytes + line.len() as u64 > self.options.segment_bytes
                        || t / DAY_MS != o.start_unix_ms / DAY_MS)
            }
        };
        if rotate {
            self.rotate(t)?;
        }
        let o = self
            .current
            .as_mut()
            .expect("a segment is open after rotate");
        o.file.write_all(&line).map_err(|source| HistoryError::Io {
            path: self.dir.join(segment::file_name(o.start_unix_ms)),
            source,
        })?;
        o.bytes += line.len() as u64;
        self.unsynced += 1;
        Ok(())
    }

    /// Syncs batched records (on shutdown).
    pub fn sync(&mut self) -> Result<(), HistoryError> {
        if let Some(o) = &self.current {
            o.file.sync_data().map_err(|source| HistoryError::Io {
                path: self.dir.clone(),
                source,
            })?;
        }
        self.unsynced = 0;
        Ok(())
    }

    /// Closes the current segment, starts one at `now_unix_ms`, then deletes
    /// what retention allows.
    fn rotate(&mut self, now_unix_ms: u64) -> Result<(), HistoryError> {
        self.sync()?;
        let io = |source| HistoryError::Io {
            path: self.dir.clone(),
            source,
        };
        // A clock that went backwards must not reorder segments.
        let mut start = now_unix_ms;
        if let Some(o) = &self.current {
            start = start.max(o.start_unix_ms + 1);
        }
        let path = self.dir.join(segment::file_name(start));
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        // The new file's name must be durable before records in it count.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        self.current = Some(Open {
            file,
            start_unix_ms: start,
            bytes: 0,
        });
        self.retain(now_unix_ms)
    }

    /// Deletes whole segments older than `max_age` (a segment ends where
    /// the next one starts), then the oldest while over `max_bytes`. The
    /// segment being written is never deleted.
    pub fn retain(&mut self, now_unix_ms: u64) -> Result<(), HistoryError> {
        let io = |source| HistoryError::Io {
            path: self.dir.clone(),
            source,
        };
        let segs = segment::list(&self.dir).map_err(io)?;
        let horizon = now_unix_ms.saturating_sub(self.options.max_age.as_millis() as u64);
        let mut total: u64 = segs.iter().map(|s| s.bytes).sum();
        for (i, seg) in segs.iter().enumerate() {
            let Some(next) = segs.get(i + 1) else { break };
            let too_old = next.start_unix_ms < horizon;
            if !too_old && total <= self.options.max_bytes {
                break;
            }
            std::fs::remove_file(&seg.path).map_err(io)?;
            total -= seg.bytes;
            tracing::debug!(segment = %seg.path.display(), "history segment deleted by retention");
        }
        Ok(())
    }
}
