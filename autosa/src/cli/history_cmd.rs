use std::path::Path;
use std::time::Duration;

use super::control_call::{ask, print_json, print_text, unexpected};
use crate::control::{Request, Response};
use crate::view::control::render_history;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only records this recent (e.g. 1h, 2days).
    #[arg(long, value_parser = humantime::parse_duration)]
    since: Option<Duration>,
    /// At most this many of the newest records.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print as JSON (an array of records).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, config: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    let request = Request::History {
        since_secs: args.since.map(|d| d.as_secs()),
        limit: Some(args.limit),
    };
    ask(config, socket, &request, |answer| match answer {
        Response::History(h) if args.json => print_json(&h),
        Response::History(h) => print_text(&render_history(&h)),
        other => Err(unexpected(&other)),
    })
}
