use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::tui::{DaemonSource, Source, StandaloneSource, TopModel};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Time between updates [default: collect.interval from the config, 1s].
    #[arg(long, value_parser = humantime::parse_duration)]
    interval: Option<Duration>,
    /// Do not ask the daemon: collect and classify in this process (a
    /// `--socket` is then not used).
    #[arg(long)]
    standalone: bool,
    /// Standalone: do not load the eBPF programs (procfs only).
    #[arg(long)]
    no_bpf: bool,
}

/// `socket`: the global `--socket` (or AUTOSA_SOCKET); without it the
/// config's control socket, and standalone when no daemon answers there.
pub fn run(args: Args, config_path: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "autosa top needs a terminal; in scripts use `autosa snapshot --json` or `autosa status --json`"
        );
    }
    let mut config = super::load_config(config_path)?;
    if let Some(i) = args.interval {
        config.collect.interval = i;
    }
    if args.no_bpf {
        config.collect.bpf = false;
    }
    config
        .validate()
        .map_err(|(k, m)| anyhow::anyhow!("--interval: {k}: {m}"))?;
    let interval = config.collect.interval;
    let interval_ms = interval.as_millis() as u64;

    let mut note = None;
    if !args.standalone {
        let explicit = socket.is_some();
        let path = socket.map_or_else(|| config.control.socket.clone(), Path::to_path_buf);
        let daemon = DaemonSource::new(&path, interval);
        match daemon.status() {
            Ok(status) => {
                // Unless told otherwise, ask as often as the daemon samples.
                let interval = match args.interval {
                    Some(i) => i,
                    None => Duration::from_millis(status.interval_ms.max(1)),
                };
                let daemon = DaemonSource::new(&path, interval);
                let label = format!("daemon {}", path.display());
                let model = TopModel::new(label, None, interval.as_millis() as u64);
                return run_tui(Box::new(daemon), model);
            }
            // The user named this daemon: say why it cannot be used.
            Err(e) if explicit => anyhow::bail!("{e}"),
            Err(e) => {
                tracing::debug!(error = %e, "no daemon: running standalone");
                note = Some(format!("no daemon at {}", path.display()));
            }
        }
    }
    let source = StandaloneSource::new(&config.collect, config.policy.clone())
        .context("the policy configuration")?;
    let label = match source.bpf_off_reason() {
        None => "standalone · eBPF".to_owned(),
        Some(why) => {
            tracing::info!("eBPF off: {why}");
            "standalone · procfs only".to_owned()
        }
    };
    run_tui(Box::new(source), TopModel::new(label, note, interval_ms))
}

fn run_tui(source: Box<dyn Source>, model: TopModel) -> anyhow::Result<()> {
    crate::tui::run(source, model).context("drawing the terminal view")
}
