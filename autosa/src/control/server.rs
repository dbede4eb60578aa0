//! The control socket's server: one task accepts, one task per client reads
//! a request per line and answers. Status and snapshots are answered from
//! `Live`; commands that act (switch, pause, resume) and the backend's offers
//! go to the daemon loop, the only owner of the backend and switching policy.
//! A slow or silent client only ever holds its own task and, for a bounded
//! time, its own slot (`slots`); what is refused or cut off is logged, at
//! most one line per kind per `LOG_EVERY` (`log_every`).

pub mod log_every;
pub mod peer;
pub mod slots;
pub mod socket;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::unistd::Gid;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::config::ControlConfig;
use super::protocol::{Request, Response};
use crate::service::live::Live;
use log_every::LogEvery;
use peer::Peer;
use slots::{Refusal, Slot, Slots};

/// Longest request line accepted.
pub const MAX_REQUEST_BYTES: u64 = 64 << 10;
/// A client has this long to send its next request and to take its answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a command may wait for the daemon loop (starting a sched_ext
/// scheduler can take many seconds).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// History records returned when the request names no limit.
const DEFAULT_HISTORY_LIMIT: usize = 1000;
/// Most history records one answer carries (the newest; a larger `limit` is
/// cut to this): well under the client's 16 MiB answer limit, and a bound on
/// what one request makes the daemon hold.
pub const MAX_HISTORY_LIMIT: usize = 10_000;
/// History reads at once (each reads files and holds its answer in memory).
const HISTORY_READS: usize = 2;
/// At most one log line per kind of client trouble this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "another autosa daemon (or another program) listens on {path}: stop it first \
         (systemctl stop autosa), or set [control] socket to another path"
    )]
    AlreadyRunning { path: PathBuf },
    #[error(
        "{path} exists and is not a socket: remove it, or set [control] socket to another path"
    )]
    NotASocket { path: PathBuf },
    #[error(
        "cannot create the control socket {path}: {source} (run as root, or set [control] socket)"
    )]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "[control] group = \"{group}\": no such group (create it, or leave group empty for root only)"
    )]
    UnknownGroup { group: String },
}

/// File descriptors the daemon needs besides its clients (eBPF maps and
/// programs, procfs, the history, the journal).
const FDS_BESIDE: usize = 256;

/// Raises the soft RLIMIT_NOFILE to `needed` (within the hard limit) when it
/// is lower, so that a full queue of clients does not make `accept` fail
/// (systemd's default soft limit is 1024).
fn raise_fd_limit(needed: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let Some(want) = soft_fd_limit(soft, hard, needed as u64) else {
        return;
    };
    match setrlimit(Resource::RLIMIT_NOFILE, want, hard) {
        Ok(()) if want >= needed as u64 => {}
        Ok(()) | Err(_) => tracing::warn!(
            "the open-file limit is {} (hard {hard}); [control] max_clients needs about \
             {needed}: lower max_clients, or raise LimitNOFILE",
            want.max(soft)
        ),
    }
}

/// The soft limit to set, if it must change: `needed`, at most `hard`.
fn soft_fd_limit(soft: u64, hard: u64, needed: u64) -> Option<u64> {
    (soft < needed).then(|| needed.min(hard))
}

/// A request for the daemon loop, with where to send its answer.
#[derive(Debug)]
pub struct ControlCommand {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

/// What the connection tasks share.
struct Shared {
    live: Live,
    commands: mpsc::Sender<ControlCommand>,
    /// `None`: history disabled.
    history_dir: Option<PathBuf>,
    group: Option<(Gid, String)>,
    proc_root: PathBuf,
    slots: Arc<Slots>,
    history_reads: Semaphore,
    log: Mutex<ClientLog>,
}

/// Rate limits of the log lines about clients.
struct ClientLog {
    refused: LogEvery,
    evicted: LogEvery,
    timed_out: LogEvery,
    too_long: LogEvery,
    accept_failed: LogEvery,
}

impl Shared {
    /// Logs through `kind`'s limiter: `line(n)` with `n` events since the
    /// last line of that kind.
    fn note(&self, kind: fn(&mut ClientLog) -> &mut LogEvery, line: impl FnOnce(u64)) {
        let due = {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            kind(&mut log).hit(Instant::now())
        };
        if let Some(n) = due {
            line(n);
        }
    }
}

/// The bound socket, before the daemon's state exists.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    group: Option<(Gid, String)>,
    max_clients: usize,
}

impl Server {
    /// Binds the socket (see `socket::bind`). Called first thing, before the
    /// backend restores or changes anything, so that a second daemon is
    /// refused before it touches the machine.
    pub fn bind(config: &ControlConfig) -> Result<Server, ServerError> {
        let gid = socket::resolve_group(&config.group)?;
        let listener = socket::bind(&config.socket, gid)?;
        raise_fd_limit(config.max_clients + Slots::max_waiting(config.max_clients) + FDS_BESIDE);
        Ok(Server {
            listener,
            path: config.socket.clone(),
            group: gid.map(|g| (g, config.group.clone())),
            max_clients: config.max_clients,
        })
    }

    /// Serves in a task until `cancel`, then removes the socket.
    pub fn start(
        self,
        live: Live,
        commands: mpsc::Sender<ControlCommand>,
        history_dir: Option<PathBuf>,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let shared = Arc::new(Shared {
            live,
            commands,
            history_dir,
            group: self.group.clone(),
            proc_root: PathBuf::from("/proc"),
            slots: Slots::new(self.max_clients),
            history_reads: Semaphore::new(HISTORY_READS),
            log: Mutex::new(ClientLog {
                refused: LogEvery::new(LOG_EVERY),
                evicted: LogEvery::new(LOG_EVERY),
                timed_out: LogEvery::new(LOG_EVERY),
                too_long: LogEvery::new(LOG_EVERY),
                accept_failed: LogEvery::new(LOG_EVERY),
            }),
        });
        tokio::spawn(self.run(shared, cancel))
    }

    async fn run(self, shared: Arc<Shared>, cancel: CancellationToken) {
        tracing::info!(
            socket = %self.path.display(),
            max_clients = self.max_clients,
            "control socket listening"
        );
        loop {
            // Always accepting: a connection over the limit is queued or
            // refused by its own task (`slots`), never left in the kernel's
            // listen queue where nobody would tell it why it waits.
            let stream = tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.listener.accept() => match r {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, typically: wait for some
                        // to be closed rather than spin.
                        shared.note(|l| &mut l.accept_failed, |n| {
                            tracing::warn!(
                                "control socket: accepting a client failed ({n} times in the \
                                 last {} s): {e}",
                                LOG_EVERY.as_secs()
                            );
                        });
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let shared = shared.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = admit_and_serve(stream, &shared) => {}
                }
            });
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Waits for a slot (or refuses the client, saying why), then serves.
async fn admit_and_serve(stream: UnixStream, shared: &Shared) {
    let slot = match shared.slots.acquire().await {
        Ok(slot) => slot,
        Err(refusal) => {
            refuse(&stream, shared, refusal);
            return;
        }
    };
    if slot.took_from_idle {
        shared.note(
            |l| &mut l.evicted,
            |n| {
                tracing::info!(
                    "control socket: closed {n} connection(s) in the last {} s that kept the \
                     server waiting (no request within {} ms of connecting, or idle or not \
                     reading for {} s) to serve waiting ones: all [control] max_clients slots \
                     were taken",
                    LOG_EVERY.as_secs(),
                    slots::FIRST_REQUEST_WITHIN.as_millis(),
                    slots::EVICT_AFTER.as_secs()
                )
            },
        );
    }
    let evicted = slot.evicted.clone();
    tokio::select! {
        _ = evicted.cancelled() => {}
        _ = serve(stream, shared, &slot) => {}
    }
}

/// Tells a client without a slot why, without waiting on it: the line fits
/// in a fresh socket's buffer, and a client that does not read loses it.
fn refuse(stream: &UnixStream, shared: &Shared, refusal: Refusal) {
    let message = refusal.message();
    let mut line = serde_json::to_vec(&Response::Error {
        message: message.clone(),
    })
    .expect("responses always serialise");
    line.push(b'\n');
    let _ = stream.try_write(&line);
    shared.note(
        |l| &mut l.refused,
        |n| {
            let pid = stream.peer_cred().ok().and_then(|c| c.pid());
            tracing::warn!(
                ?pid,
                "control socket: refused {n} client(s) in the last {} s: {message}",
                LOG_EVERY.as_secs()
            )
        },
    );
}

/// How reading a request ended when no request came.
enum NoRequest {
    Closed,
    TimedOut,
    TooLong,
}

/// The next request line.
async fn read_request(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
) -> Result<Vec<u8>, NoRequest> {
    let mut line = Vec::new();
    let mut bounded = reader.take(MAX_REQUEST_BYTES + 1);
    match tokio::time::timeout(CLIENT_TIMEOUT, bounded.read_until(b'\n', &mut line)).await {
        Err(_) => return Err(NoRequest::TimedOut),
        Ok(Err(_)) | Ok(Ok(0)) => return Err(NoRequest::Closed),
        Ok(Ok(_)) => {}
    }
    if line.last() == Some(&b'\n') {
        Ok(line)
    } else if line.len() as u64 > MAX_REQUEST_BYTES {
        Err(NoRequest::TooLong)
    } else {
        // The client closed mid-line.
        Err(NoRequest::Closed)
    }
}

/// One client: requests until it closes, errs, is refused or goes quiet.
async fn serve(stream: UnixStream, shared: &Shared, slot: &Slot) {
    let peer = match stream.peer_cred() {
        Ok(c) => Peer {
            uid: c.uid(),
            gid: c.gid(),
            pid: c.pid(),
        },
        Err(e) => {
            tracing::warn!("control socket: no peer credentials: {e}");
            return;
        }
    };
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let group = shared.group.as_ref().map(|(g, n)| (*g, n.as_str()));
    let refused = peer::authorize(&peer, group, &shared.proc_root).err();
    if let Some(message) = &refused {
        tracing::warn!(uid = peer.uid, pid = ?peer.pid, "control socket: {message}");
    }
    loop {
        slot.waiting_on_client();
        let line = match read_request(&mut reader).await {
            Ok(line) => line,
            Err(NoRequest::TooLong) => {
                shared.note(
                    |l| &mut l.too_long,
                    |n| {
                        tracing::warn!(
                            pid = ?peer.pid,
                            "control socket: refused {n} request(s) in the last {} s longer \
                             than {MAX_REQUEST_BYTES} bytes, and closed their connections",
                            LOG_EVERY.as_secs()
                        )
                    },
                );
                let message = format!("request longer than {MAX_REQUEST_BYTES} bytes");
                let _ = send(&mut write, &Response::Error { message }).await;
                return;
            }
            Err(NoRequest::TimedOut) => {
                shared.note(
                    |l| &mut l.timed_out,
                    |n| {
                        tracing::info!(
                            pid = ?peer.pid,
                            "control socket: closed {n} connection(s) in the last {} s that \
                             sent no complete request within {} s",
                            LOG_EVERY.as_secs(),
                            CLIENT_TIMEOUT.as_secs()
                        )
                    },
                );
                return;
            }
            Err(NoRequest::Closed) => return,
        };
        if !slot.working() {
            // Closed for a waiting client just as this request came in.
            return;
        }
        // The refused get their answer to their request, then the door.
        if let Some(message) = refused {
            slot.waiting_on_client();
            let _ = send(&mut write, &Response::Error { message }).await;
            return;
        }
        let response = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => answer(request, shared).await,
            Err(e) => Response::Error {
                message: format!("unreadable request: {e}"),
            },
        };
        slot.waiting_on_client();
        if let Err(e) = send(&mut write, &response).await {
            if e.kind() == std::io::ErrorKind::TimedOut {
                shared.note(
                    |l| &mut l.timed_out,
                    |n| {
                        tracing::info!(
                            pid = ?peer.pid,
                            "control socket: closed {n} connection(s) in the last {} s that \
                             did not take their answer within {} s",
                            LOG_EVERY.as_secs(),
                            CLIENT_TIMEOUT.as_secs()
                        )
                    },
                );
            }
            return;
        }
    }
}

async fn send(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    response: &Response,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(response).expect("responses always serialise");
    line.push(b'\n');
    match tokio::time::timeout(CLIENT_TIMEOUT, write.write_all(&line)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

async fn answer(request: Request, shared: &Shared) -> Response {
    match request {
        // Only what is asked is copied under the lock the daemon loop writes.
        Request::Status => Response::Status(Box::new(shared.live.read(|l| l.status.clone()))),
        Request::Snapshot => match shared.live.read(|l| l.snapshot.clone()) {
            Some(s) => Response::Snapshot(Box::new(s)),
            None => Response::Error {
                message: "no snapshot yet: the first interval has not ended, try again shortly"
                    .into(),
            },
        },
        Request::History { since_secs, limit } => history(shared, since_secs, limit).await,
        request @ (Request::Schedulers
        | Request::Switch { .. }
        | Request::Pause { .. }
        | Request::Resume) => to_daemon(request, shared).await,
    }
}

async fn to_daemon(request: Request, shared: &Shared) -> Response {
    let (reply, answer) = oneshot::channel();
    let stopping = || Response::Error {
        message: "the daemon is shutting down".into(),
    };
    if shared
        .commands
        .send(ControlCommand { request, reply })
        .await
        .is_err()
    {
        return stopping();
    }
    match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => stopping(),
        Err(_) => Response::Error {
            message: format!(
                "the daemon did not answer within {} s; see its log (journalctl -u autosa)",
                COMMAND_TIMEOUT.as_secs()
            ),
        },
    }
}

async fn history(shared: &Shared, since_secs: Option<u64>, limit: Option<usize>) -> Response {
    let Some(dir) = shared.history_dir.clone() else {
        return Response::Error {
            message: "the history is disabled (set [history] enabled = true)".into(),
        };
    };
    let since_unix_ms = since_secs.map_or(0, |s| {
        crate::model::unix_ms_now().saturating_sub(s.saturating_mul(1000))
    });
    let limit = limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
    // "At most `limit` of the newest": a larger limit gets the newest
    // MAX_HISTORY_LIMIT, which `--since` narrows further back.
    let limit = limit.min(MAX_HISTORY_LIMIT);
    let Ok(_reading) = shared.history_reads.acquire().await else {
        return Response::Error {
            message: "the daemon is shutting down".into(),
        };
    };
    let read =
        tokio::task::spawn_blocking(move || crate::history::read(&dir, since_unix_ms, limit)).await;
    match read {
        Ok(Ok(entries)) => Response::History(
            entries
                .iter()
                .map(|e| serde_json::to_value(e).expect("history entries serialise"))
                .collect(),
        ),
        Ok(Err(e)) => Response::Error {
            message: format!("reading the history failed: {e}"),
        },
        Err(e) => Response::Error {
            message: format!("reading the history failed: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fd_limit_is_raised_only_when_short_and_never_past_the_hard_limit() {
        assert_eq!(soft_fd_limit(1024, 524_288, 1800), Some(1800));
        assert_eq!(soft_fd_limit(4096, 524_288, 1800), None);
        assert_eq!(soft_fd_limit(1024, 1500, 1800), Some(1500));
        assert_eq!(soft_fd_limit(1024, 1024, 1800), Some(1024));
    }
}
