//! Command-line interface: clap definitions and one short function per
//! subcommand. The logic lives in the library modules they call.

mod config_cmd;
mod control_call;
mod doctor_cmd;
mod history_cmd;
mod install_cmd;
mod mcp_cmd;
mod recommend_cmd;
mod record_cmd;
mod replay_cmd;
mod run_cmd;
mod schedulers_cmd;
mod snapshot_cmd;
mod status_cmd;
mod switch_cmd;
mod top_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, DEFAULT_CONFIG_PATH};

#[derive(Debug, Parser)]
#[command(
    name = "autosa",
    version,
    about = "Automatic scheduler adjustment for Linux"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "AUTOSA_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// Log filter (tracing syntax), e.g. `debug` or `autosa=trace`.
    #[arg(long, global = true, env = "AUTOSA_LOG", default_value = "info")]
    pub log: String,
    /// The daemon's control socket [default: control.socket from the config].
    #[arg(long, global = true, env = "AUTOSA_SOCKET")]
    pub socket: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: watch, classify, switch the scheduler, prove it helped,
    /// roll back when it did not. Restores everything on SIGTERM/SIGINT.
    Run(run_cmd::Args),
    /// Print what the machine is doing: CPU, PSI, load, memory, disks and,
    /// with eBPF, run-queue/slice/block latency histograms and the busiest processes.
    Snapshot(snapshot_cmd::Args),
    /// Watch for a while, then say what the workload is, why, and which
    /// scheduler each backend would use. Changes nothing.
    Recommend(recommend_cmd::Args),
    /// Write snapshots to a file (JSON Lines) for replay and offline tests.
    Record(record_cmd::Args),
    /// Run the policy engine over a recording and print its decisions over time.
    Replay(replay_cmd::Args),
    /// Check every kernel feature autosa uses and say what to do about what is missing.
    Doctor(doctor_cmd::Args),
    /// A live view: run-queue latency, CPU, pressure, the processes waiting
    /// longest, the class and why, and the switch timeline.
    Top(top_cmd::Args),
    /// What the daemon sees and does now: class, scheduler, switches, pauses.
    Status(status_cmd::Args),
    /// What the daemon's backend offers (schedulers or per-task actions).
    Schedulers(schedulers_cmd::Args),
    /// Choose by hand: a workload class or a scheduler; automatic switching
    /// pauses (for --for, or until `autosa resume`).
    Switch(switch_cmd::SwitchArgs),
    /// Pause automatic switching; what is applied stays.
    Pause(switch_cmd::PauseArgs),
    /// End a pause, a manual choice and every manual back-off.
    Resume,
    /// Decisions, switches, rollbacks, commands and metrics the daemon recorded.
    History(history_cmd::Args),
    /// Check or print the configuration.
    #[command(subcommand)]
    Config(config_cmd::Command),
    /// Install the binary, the systemd unit and a default configuration
    /// (an existing one is kept).
    Install(install_cmd::Args),
    /// Serve autosa to an LLM agent over MCP (stdio): status, metrics,
    /// recommendations, history, and switch/pause/resume requests to the daemon.
    Mcp(mcp_cmd::Args),
}

pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    match cli.command {
        Command::Run(args) => run_cmd::run(args, &cli.config),
        Command::Snapshot(args) => snapshot_cmd::run(args, &cli.config),
        Command::Recommend(args) => recommend_cmd::run(args, &cli.config),
        Command::Record(args) => record_cmd::run(args, &cli.config),
        Command::Replay(args) => replay_cmd::run(args, &cli.config),
        Command::Doctor(args) => doctor_cmd::run(args),
        Command::Top(args) => top_cmd::run(args, &cli.config, cli.socket.as_deref()),
        Command::Config(cmd) => config_cmd::run(cmd, &cli.config),
        Command::Status(args) => status_cmd::run(args, &cli.config, cli.socket.as_deref()),
        Command::Schedulers(args) => schedulers_cmd::run(args, &cli.config, cli.socket.as_deref()),
        Command::Switch(args) => switch_cmd::switch(args, &cli.config, cli.socket.as_deref()),
        Command::Pause(args) => switch_cmd::pause(args, &cli.config, cli.socket.as_deref()),
        Command::Resume => switch_cmd::resume(&cli.config, cli.socket.as_deref()),
        Command::History(args) => history_cmd::run(args, &cli.config, cli.socket.as_deref()),
        Command::Install(args) => install_cmd::run(args),
        Command::Mcp(args) => mcp_cmd::run(args, &cli.config, cli.socket.as_deref()),
    }
}

/// The error and its causes on one line, each cause once: many library
/// errors already name their cause in their own message.
pub fn describe(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::tui::terminal::log_writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Loads the config: the default path may be absent (defaults), a path the
/// user named must exist.
pub(crate) fn load_config(path: &std::path::Path) -> anyhow::Result<Config> {
    let config = if path == std::path::Path::new(DEFAULT_CONFIG_PATH) {
        Config::load_or_default(path)?
    } else {
        Config::load(path)?
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let err = anyhow::Error::new(io).context("cannot read x: entity not found");
        assert_eq!(describe(&err), "cannot read x: entity not found");
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&err), "outer: inner");
    }
}
