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
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
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
