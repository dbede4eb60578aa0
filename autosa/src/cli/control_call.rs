//! What the control commands share: which socket, one call, exit codes
//! (0 done, 1 refused or failed: the message says why).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::control::{Client, Request, Response};

/// Asks the daemon and hands its answer to `show`; any error is printed and
/// exits with 1, so scripts tell a refusal (1) from a usage error (2).
pub(super) fn ask(
    config: &Path,
    socket: Option<&Path>,
    request: &Request,
    show: impl FnOnce(Response) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let result = socket_path(socket, config)
        .and_then(|socket| call(&socket, request))
        .and_then(show);
    if let Err(e) = result {
        eprintln!("autosa: error: {}", super::describe(&e));
        std::process::exit(1);
    }
    Ok(())
}

/// `--socket` (or `AUTOSA_SOCKET`), else `[control] socket` of the config.
fn socket_path(socket: Option<&Path>, config_path: &Path) -> anyhow::Result<PathBuf> {
    match socket {
        Some(p) => Ok(p.to_owned()),
        None => Ok(super::load_config(config_path)?.control.socket),
    }
}

/// Sends `request`; an `Error` answer becomes an error.
fn call(socket: &Path, request: &Request) -> anyhow::Result<Response> {
    // Starting a sched_ext scheduler may take many seconds.
    let client = Client::new(socket).with_timeout(Duration::from_secs(120));
    match client.call(request)? {
        Response::Error { message } => Err(anyhow::anyhow!(message)),
        other => Ok(other),
    }
}

pub(super) fn unexpected(response: &Response) -> anyhow::Error {
    anyhow::anyhow!("the daemon answered something unexpected: {response:?}")
}

pub(super) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print_text(&text)
}

/// Writes to stdout; a reader that went away (`| head`) is no error.
pub(super) fn print_text(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
