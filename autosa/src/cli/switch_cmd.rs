//! `autosa switch NAME`, `autosa pause`, `autosa resume`.

use std::path::Path;
use std::time::Duration;

use super::control_call::{ask, print_text, unexpected};
use crate::control::{Request, Response};

#[derive(Debug, clap::Args)]
pub struct SwitchArgs {
    /// A workload class (latency_sensitive, cpu_bound, …; idle restores the
    /// defaults) or a scheduler the backend offers (see `autosa schedulers`).
    name: String,
    /// Pause automatic switching this long (e.g. 10m), then resume it
    /// [default: until `autosa resume`].
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    for_: Option<Duration>,
}

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Resume by itself after this long (e.g. 10m) [default: at `autosa resume`].
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    for_: Option<Duration>,
}

pub fn switch(args: SwitchArgs, config: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    command(
        Request::Switch {
            name: args.name,
            for_secs: args.for_.map(|d| d.as_secs().max(1)),
        },
        config,
        socket,
    )
}

pub fn pause(args: PauseArgs, config: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    command(
        Request::Pause {
            for_secs: args.for_.map(|d| d.as_secs().max(1)),
        },
        config,
        socket,
    )
}

pub fn resume(config: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    command(Request::Resume, config, socket)
}

fn command(request: Request, config: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    ask(config, socket, &request, |answer| match answer {
        Response::Accepted { message } => print_text(&format!("{message}\n")),
        other => Err(unexpected(&other)),
    })
}
