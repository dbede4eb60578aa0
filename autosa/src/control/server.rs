//! The control socket's server: one task accepts, one task per client reads
//! a request per line and answers. Status and snapshots are answered from
//! `Live`; commands that act (switch, pause, resume) and the backend's offers
//! go to the daemon loop, the only owner of the backend and switching policy.
//! A slow or silent client only ever holds its own task.

pub mod peer;
pub mod socket;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::unistd::Gid;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::config::ControlConfig;
use super::protocol::{Request, Response};
use crate::service::live::Live;
use peer::Peer;

/// Longest request line accepted.
pub const MAX_REQUEST_BYTES: u64 = 64 << 10;
/// A client has this long to send its next request and to take its answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a command may wait for the daemon loop (starting a sched_ext
/// scheduler can take many seconds).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// History records returned when the request names no limit.
const DEFAULT_HISTORY_LIMIT: usize = 1000;

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
        });
        tokio::spawn(self.run(shared, cancel))
    }

    async fn run(self, shared: Arc<Shared>, cancel: CancellationToken) {
        tracing::info!(socket = %self.path.display(), "control socket listening");
        let clients = Arc::new(Semaphore::new(self.max_clients));
        loop {
            // At the limit, new clients wait in the listen queue.
            let permit = tokio::select! {
                _ = cancel.cancelled() => break,
                p = clients.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let stream = tokio::select! {
                _ = cancel.cancelled() => break,
                r = self.listener.accept() => match r {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!("control socket accept failed: {e}");
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
                    _ = serve(stream, &shared) => {}
                }
                drop(permit);
            });
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The next request line; `Err(None)` when the client closed or went quiet,
/// `Err(Some(why))` when the line is too long.
async fn read_request(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
) -> Result<Vec<u8>, Option<String>> {
    let mut line = Vec::new();
    let mut bounded = reader.take(MAX_REQUEST_BYTES + 1);
    match tokio::time::timeout(CLIENT_TIMEOUT, bounded.read_until(b'\n', &mut line)).await {
        Err(_) | Ok(Err(_)) | Ok(Ok(0)) => return Err(None),
        Ok(Ok(_)) => {}
    }
    if line.last() == Some(&b'\n') {
        Ok(line)
    } else if line.len() as u64 > MAX_REQUEST_BYTES {
        Err(Some(format!(
            "request longer than {MAX_REQUEST_BYTES} bytes"
        )))
    } else {
        // The client closed mid-line.
        Err(None)
    }
}

/// One client: requests until it closes, errs, is refused or goes quiet.
async fn serve(stream: UnixStream, shared: &Shared) {
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
        let line = match read_request(&mut reader).await {
            Ok(line) => line,
            Err(Some(message)) => {
                let _ = send(&mut write, &Response::Error { message }).await;
                return;
            }
            Err(None) => return,
        };
        // The refused get their answer to their request, then the door.
        if let Some(message) = refused {
            let _ = send(&mut write, &Response::Error { message }).await;
            return;
        }
        let response = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => answer(request, shared).await,
            Err(e) => Response::Error {
                message: format!("unreadable request: {e}"),
            },
        };
        if send(&mut write, &response).await.is_err() {
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
        Request::Status => Response::Status(Box::new(shared.live.get().status)),
        Request::Snapshot => match shared.live.get().snapshot {
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
    let since_unix_ms =
        since_secs.map_or(0, |s| unix_ms_now().saturating_sub(s.saturating_mul(1000)));
    let limit = limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
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

fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
