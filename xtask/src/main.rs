//! Project tooling: `cargo xtask <command>`.
//!
//! Each command lives in its own module; this file only parses and dispatches.

mod bench;
mod bench_benefit;
mod bench_control;
mod bench_footprint;
mod build_ebpf;
mod chaos;
mod docs;
mod eval;
mod host;
mod install;
mod plot;
mod soak;
mod toolchain;
mod vm;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "autosa project tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rebuild the committed eBPF object from source (needs `install-toolchain`).
    BuildEbpf(build_ebpf::Args),
    /// Install the Debian toolchain that builds the eBPF object (Debian/Ubuntu, root).
    InstallToolchain(toolchain::Args),
    /// Benchmarks: accuracy, overhead, …
    Bench(bench::Args),
    /// Classification accuracy on labelled real workloads.
    Eval(eval::Args),
    /// The sched_ext test VM.
    Vm(vm::Args),
    /// Regenerate the config reference in README.md, completions and man pages.
    Docs(docs::Args),
    /// Build autosa (release) and install it: binary, systemd unit, default config.
    Install(install::Args),
    /// Fault injection: 100 SIGKILLs of the daemon mid-switch, then the chaos tests.
    Chaos(chaos::Args),
    /// Long run under a changing load: memory slope, fds, dropped intervals.
    Soak(soak::Args),
}

fn main() {
    // One readable line on failure, not a Debug dump with a backtrace.
    if let Err(e) = dispatch() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn dispatch() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::BuildEbpf(args) => build_ebpf::run(args),
        Command::InstallToolchain(args) => toolchain::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Vm(args) => vm::run(args),
        Command::Docs(args) => docs::run(args),
        Command::Install(args) => install::run(args),
        Command::Chaos(args) => chaos::run(args),
        Command::Soak(args) => soak::run(args),
    }
}
