//! A blocking client of the control socket: one request, one response.
//! Used by the CLI, `autosa top` and `autosa mcp`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{Request, Response};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the autosa daemon at {path}: {source} (is `autosa run` or the autosa service running? root or the control group only)"
    )]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to the autosa daemon at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the autosa daemon at {path} answered something unreadable: {source}")]
    Decode {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the autosa daemon at {path} closed the connection without answering")]
    Closed { path: PathBuf },
}

/// Longest answer read: a status or snapshot is well under 1 MiB; a peer
/// sending an endless line must not take the client's memory.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;

pub struct Client {
    path: PathBuf,
    timeout: Duration,
}

impl Client {
    pub fn new(path: impl Into<PathBuf>) -> Client {
        Client {
            path: path.into(),
            timeout: Duration::from_secs(5),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one request on a fresh connection and reads its response.
    pub fn call(&self, request: &Request) -> Result<Response, ClientError> {
        let io = |source| ClientError::Io {
            path: self.path.clone(),
            source,
        };
        let mut stream =
            UnixStream::connect(&self.path).map_err(|source| ClientError::Connect {
                path: self.path.clone(),
                source,
            })?;
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
        let mut line = serde_json::to_vec(request).expect("requests always serialise");
        line.push(b'\n');
        // A daemon that refuses the connection (too many clients) answers
        // and closes before reading: the write then fails, but its answer
        // is still there to read, and says more than "broken pipe".
        let written = stream.write_all(&line);
        let mut reader = BufReader::new(stream).take(MAX_RESPONSE_BYTES);
        let mut answer = String::new();
        let read = reader.read_line(&mut answer);
        if let Err(e) = written
            && !matches!(read, Ok(n) if n > 0 && answer.ends_with('\n'))
        {
            return Err(io(e));
        }
        if read.map_err(io)? == 0 {
            return Err(ClientError::Closed {
                path: self.path.clone(),
            });
        }
        serde_json::from_str(&answer).map_err(|source| ClientError::Decode {
            path: self.path.clone(),
            source,
        })
    }
}
