use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rmcp::ServiceExt;

use crate::agent::AutosaMcp;
use crate::agent::daemon::DaemonLink;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to wait for the daemon's answer to a question (status, metrics, …).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// How long to wait for the daemon's answer to switch, pause or resume
    /// (starting a sched_ext scheduler can take many seconds).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    switch_timeout: Duration,
}

/// Serves MCP on stdin/stdout until the client closes stdin. Logs go to
/// stderr: stdout carries only the protocol.
pub fn run(args: Args, config_path: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    let config = super::load_config(config_path)?;
    // `--socket` (global, or AUTOSA_SOCKET), else the config's control socket.
    let socket = socket.map_or_else(|| config.control.socket.clone(), Path::to_path_buf);
    tracing::info!(socket = %socket.display(), "serving MCP on stdio");
    let server = AutosaMcp::new(
        DaemonLink::new(socket, args.timeout, args.switch_timeout),
        config,
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async move {
            let service = server
                .serve(rmcp::transport::stdio())
                .await
                .context("MCP handshake on stdio failed")?;
            service.waiting().await.context("MCP session failed")?;
            anyhow::Ok(())
        })
}
