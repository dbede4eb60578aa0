//! A scheduler's stdout and stderr: every line goes to tracing with the
//! scheduler's name, and the last few are kept for error messages.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::task::JoinHandle;

/// Longest line kept in the ring (the log gets the whole line).
const MAX_KEPT_LINE: usize = 500;
/// Output without a newline is cut into lines of this size, so a scheduler
/// that never prints one cannot grow autosa's memory.
const MAX_LINE: usize = 64 * 1024;
/// How long the readers may take to hand over what is left once the
/// process is gone.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

type Ring = Arc<Mutex<VecDeque<String>>>;

/// The readers of one child's output and the ring they fill.
pub(super) struct Output {
    ring: Ring,
    readers: Vec<JoinHandle<()>>,
}

impl Output {
    /// Takes the child's piped stdout and stderr.
    pub(super) fn capture(child: &mut Child, scheduler: &str, keep: usize) -> Self {
        let ring: Ring = Arc::new(Mutex::new(VecDeque::with_capacity(keep)));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(pump(
                out,
                scheduler.to_string(),
                "stdout",
                ring.clone(),
                keep,
            )));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(pump(
                err,
                scheduler.to_string(),
                "stderr",
                ring.clone(),
                keep,
            )));
        }
        Self { ring, readers }
    }

    /// The kept lines, oldest first.
    pub(super) fn last_lines(&self) -> Vec<String> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }

    /// Once the process has ended: lets the readers reach end of file so the
    /// last lines are complete, then returns them. Bounded: a grandchild
    /// holding the pipe open must not block the supervisor.
    pub(super) async fn finish(&mut self) -> Vec<String> {
        let readers = &mut self.readers;
        let all = async {
            for reader in readers.iter_mut() {
                let _ = reader.await;
            }
        };
        // On timeout the readers still left are aborted when `self` drops.
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, all).await;
        self.last_lines()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    scheduler: String,
    stream: &'static str,
    ring: Ring,
    keep: usize,
) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    while read_line_bounded(&mut reader, &mut buf).await {
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches('\r');
        tracing::info!(target: "autosa::scx::output", scheduler = %scheduler, stream, "{line}");
        let mut kept: String = line.chars().take(MAX_KEPT_LINE).collect();
        if kept.len() < line.len() {
            kept.push('…');
        }
        let mut ring = ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == keep {
            ring.pop_front();
        }
        ring.push_back(kept);
    }
}

/// Reads one line (newline excluded) into `buf`, at most [`MAX_LINE`] bytes.
/// False at end of file with nothing read, or on a read error.
async fn read_line_bounded<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
) -> bool {
    buf.clear();
    loop {
        let chunk = match reader.fill_buf().await {
            Ok(chunk) => chunk,
            Err(_) => return !buf.is_empty(),
        };
        if chunk.is_empty() {
            return !buf.is_empty();
        }
        let room = MAX_LINE - buf.len();
        let (used, done) = match chunk.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => {
                buf.extend_from_slice(&chunk[..i]);
                (i + 1, true)
            }
            None => {
                let n = chunk.len().min(room);
                buf.extend_from_slice(&chunk[..n]);
                (n, buf.len() == MAX_LINE)
            }
        };
        reader.consume(used);
        if done {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = BufReader::new(input);
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while read_line_bounded(&mut reader, &mut buf).await {
            lines.push(buf.clone());
        }
        lines
    }

    #[tokio::test]
    async fn lines_are_split_and_bounded() {
        assert_eq!(
            lines_of(b"a\nbc\n\nd").await,
            vec![b"a".to_vec(), b"bc".to_vec(), vec![], b"d".to_vec()]
        );
        let long = vec![b'x'; MAX_LINE * 2 + 3];
        let lines = lines_of(&long).await;
        let sizes: Vec<usize> = lines.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![MAX_LINE, MAX_LINE, 3]);
    }
}
