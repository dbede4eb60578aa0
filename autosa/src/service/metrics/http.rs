//! A deliberately small HTTP/1.1 server for `GET /metrics`: one request per
//! connection, read with a size and time limit, answered and closed.
//! Anything else gets 404 or 405. No framework: this is all it serves.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::render::{Format, render};
use super::totals::SharedTotals;
use crate::service::live::Live;

/// A request head larger than this is refused.
const MAX_HEAD: usize = 8 * 1024;
/// A client that has not sent its request by then is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the listener (before the daemon reports ready, so a taken port is a
/// start-up error, not a silent absence of metrics).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `cancel`; each connection on its own task.
pub async fn serve(
    listener: TcpListener,
    live: Live,
    totals: SharedTotals,
    cancel: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("metrics: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (live, totals) = (live.clone(), totals.clone());
        tokio::spawn(async move {
            if let Err(e) = handle(stream, &live, &totals).await {
                tracing::debug!(%peer, "metrics: {e}");
            }
        });
    }
}

async fn handle(mut stream: TcpStream, live: &Live, totals: &SharedTotals) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(r) => r?,
        Err(_) => return Ok(()),
    };
    let reply = match parse(&head) {
        Request::Metrics { format } => {
            let body = render(&live.get(), &totals.get(), format);
            response("200 OK", format.content_type(), &body)
        }
        Request::NotFound => response("404 Not Found", "text/plain", "only /metrics is served\n"),
        Request::BadMethod => response(
            "405 Method Not Allowed",
            "text/plain",
            "only GET is served\n",
        ),
        Request::Bad => response("400 Bad Request", "text/plain", "bad request\n"),
    };
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[derive(Debug, PartialEq)]
enum Request {
    Metrics { format: Format },
    NotFound,
    BadMethod,
    Bad,
}

/// Reads the request line and the `Accept` header. Pure.
fn parse(head: &str) -> Request {
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") {
        return Request::Bad;
    }
    if method != "GET" {
        return Request::BadMethod;
    }
    let path = target.split('?').next().unwrap_or("");
    if path != "/metrics" {
        return Request::NotFound;
    }
    let accept = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("accept")
            .then(|| value.trim())
    });
    Request::Metrics {
        format: Format::from_accept(accept),
    }
}

fn response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_metrics_with_the_format_the_client_accepts() {
        assert_eq!(
            parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Metrics {
                format: Format::PrometheusText
            }
        );
        assert_eq!(
            parse(
                "GET /metrics?x=1 HTTP/1.1\r\naccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n"
            ),
            Request::Metrics {
                format: Format::OpenMetrics
            }
        );
    }

    #[test]
    fn other_paths_methods_and_garbage_are_refused() {
        assert_eq!(parse("GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(parse("POST /metrics HTTP/1.1\r\n\r\n"), Request::BadMethod);
        assert_eq!(parse("hello\r\n\r\n"), Request::Bad);
        assert_eq!(parse(""), Request::Bad);
    }
}
