use std::path::Path;

use super::control_call::{ask, print_json, print_text, unexpected};
use crate::control::{Request, Response};
use crate::view::control::render_status;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the status as JSON (stable field names).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, config: &Path, socket: Option<&Path>) -> anyhow::Result<()> {
    ask(config, socket, &Request::Status, |answer| match answer {
        Response::Status(s) if args.json => print_json(&s),
        Response::Status(s) => print_text(&render_status(&s, crate::model::unix_ms_now())),
        other => Err(unexpected(&other)),
    })
}
