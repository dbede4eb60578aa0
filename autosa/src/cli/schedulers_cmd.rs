use std::path::Path;

use super::control_call::{ask, print_json, print_text, unexpected};
use crate::control::{Request, Response};
use crate::view::control::render_schedulers;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, config: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    ask(
        config,
        socket,
        &Request::Schedulers,
        |answer| match answer {
            Response::Schedulers(o) if args.json => print_json(&o),
            Response::Schedulers(o) => print_text(&render_schedulers(&o)),
            other => Err(unexpected(&other)),
        },
    )
}
