use crate::doctor::{self, BpfProbe, Roots, Status};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let checks = doctor::run(&Roots::default(), &BpfProbe::run());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        print!("{}", doctor::render(&checks));
    }
    // Non-zero only when something autosa needs is missing, so scripts can gate on it.
    if checks.iter().any(|c| c.status == Status::Missing) {
        std::process::exit(1);
    }
    Ok(())
}
