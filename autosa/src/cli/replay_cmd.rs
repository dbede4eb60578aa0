use std::path::{Path, PathBuf};

use crate::record::RecordingReader;
use crate::replay::{render_json, render_text, replay};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A recording made by `autosa record`.
    file: PathBuf,
    /// Print the decisions as a JSON array.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, config_path: &Path) -> anyhow::Result<()> {
    let config = super::load_config(config_path)?;
    let reader = RecordingReader::open(&args.file)?;
    let steps = replay(reader, &config.policy)?;
    if args.json {
        println!("{}", render_json(&steps));
    } else {
        print!("{}", render_text(&steps));
    }
    Ok(())
}
